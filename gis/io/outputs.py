"""What every check's edge needs to write its results.

Checksums of the inputs, the run table, nullable dtypes made plain for exchange writers,
and all-or-nothing staging of several output files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from gis.io._atomic import check_overwrite

PathLike = str | os.PathLike[str]


def sha256_of(path: PathLike) -> str:
    """Return the SHA-256 of a file, or of the files of a folder or a list of scenes.

    A folder (a FileGDB, a Sentinel-2 ``.SAFE``) counts every file inside it, by name; a
    comma-separated list of scenes each file in the order given.
    """
    p = Path(path)
    digest = hashlib.sha256()
    if not p.exists() and "," in str(path):
        files = [Path(t.strip()) for t in str(path).split(",") if t.strip()]
    else:
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    for q in files:
        with q.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def run_table(run: Mapping[str, Any]) -> pd.DataFrame:
    """Return run metadata as a ``section, key, value`` table (values as text or JSON).

    Examples
    --------
    >>> run_table({"tool": "linyuan", "params": {"ring_m": 30}}).values.tolist()
    [['tool', '', 'linyuan'], ['params', 'ring_m', '30']]
    """
    rows = []
    for section, value in run.items():
        if isinstance(value, Mapping):
            for key, item in value.items():
                rows.append((section, str(key), _text(item)))
        else:
            rows.append((section, "", _text(value)))
    return pd.DataFrame(rows, columns=["section", "key", "value"])


def plain_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with nullable booleans/integers as objects/floats (for XLSX, KML).

    GeoPackages take the nullable dtypes as they are; this is for exchange writers.
    """
    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if isinstance(dtype, pd.BooleanDtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        elif isinstance(dtype, pd.Int64Dtype):
            out[col] = out[col].astype("float64")
    return out


@contextlib.contextmanager
def staged_outputs(outputs: Mapping[str, Path], *, overwrite: bool) -> Iterator[dict[str, Path]]:
    """Yield temporary paths for ``outputs``; rename them all into place on success.

    Existing outputs are refused before anything is computed into the stage (unless
    ``overwrite``); on any exception nothing is renamed and the stage is removed.
    """
    targets = {k: Path(v) for k, v in outputs.items()}
    for target in targets.values():
        check_overwrite(target, overwrite=overwrite)
    first = next(iter(targets.values()))
    first.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{first.name}.", dir=first.parent))
    try:
        stage = {k: tmpdir / f"{k}{v.suffix}" for k, v in targets.items()}
        yield stage
        for key, target in targets.items():
            check_overwrite(target, overwrite=overwrite)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage[key], target)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
