"""Compare the result layers of two results GeoPackages value for value (issue 17).

Usage::

    .venv/bin/python scripts/compare_results.py BASE.gpkg NEW.gpkg [LAYER ...]

Compares ``patches_checked`` and ``findings`` by default (the ``run`` table holds times and
versions): same columns, dtypes and values (NaN equals NaN, geometries exactly). Paths of the
two runs' own inputs inside text values are not normalised: run both on the same inputs.
Exit status 1 on any difference, listing the first rows that differ per column.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pyogrio


def _diff(a: pd.DataFrame, b: pd.DataFrame, name: str) -> list[str]:
    out = []
    if list(a.columns) != list(b.columns):
        return [f"{name}: columns differ: {sorted(set(a.columns) ^ set(b.columns))}"]
    if len(a) != len(b):
        return [f"{name}: {len(a)} rows vs {len(b)}"]
    for col in a.columns:
        x, y = a[col], b[col]
        if col == "geometry":
            same = np.asarray(x.geom_equals_exact(y, 0.0)) | (x.isna() & y.isna()).to_numpy()
        else:
            same = (x == y).fillna(False).to_numpy(dtype=bool) | (x.isna() & y.isna()).to_numpy()
        if not same.all():
            rows = np.flatnonzero(~same)
            out.append(
                f"{name}.{col}: {len(rows)} rows differ, e.g. row {rows[0]}: "
                f"{x.iloc[rows[0]]!r} vs {y.iloc[rows[0]]!r}"
            )
    return out


def main() -> None:
    """Compare the layers; print what differs."""
    base, new, *layers = sys.argv[1:]
    bad = []
    for layer in layers or ["patches_checked", "findings"]:
        a = pyogrio.read_dataframe(base, layer=layer)
        b = pyogrio.read_dataframe(new, layer=layer)
        found = _diff(a, b, layer)
        bad += found
        print(f"{layer}: {len(a)} rows, " + ("equal" if not found else f"{len(found)} differences"))
    for line in bad:
        print("  " + line)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
