"""Detected points of ``detect discolored`` on fixed scenes, to compare two checkouts (issue 17).

Speed work on the detector must leave its points equal, value for value. ``dump`` writes the
points of every scene (the bench scene of ``scripts/bench_discolored.py``, the demo's
``uav_current`` run as the demo runs it, and the robustness scenes of
:mod:`gis.demo.crown_suite` for some seeds, autumn ones also with ``--previous``) to one
Parquet file per scene; ``diff`` compares two such folders exactly (same rows, same columns,
same values; NaN equals NaN). Run ``dump`` once with the commit before the work on
``PYTHONPATH`` and once with the branch::

    git archive 8c6e1a2 | tar -x -C /tmp/ref
    PYTHONPATH=/tmp/ref .venv/bin/python scripts/compare_discolored_points.py dump /tmp/pts_ref
    .venv/bin/python scripts/compare_discolored_points.py dump /tmp/pts_new
    .venv/bin/python scripts/compare_discolored_points.py diff /tmp/pts_ref /tmp/pts_new

``--seeds`` (default 6) sets the robustness seeds, ``--no-bench`` / ``--no-demo`` skip the
bigger scenes; the bench scene is the cached one of ``bench_discolored.py`` (built if absent).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _save(points: Any, out: Path, name: str) -> None:
    frame = pd.DataFrame(points.drop(columns="geometry", errors="ignore"))
    if hasattr(points, "geometry"):
        frame["wkt"] = points.geometry.to_wkt().to_numpy()
    frame.to_parquet(out / f"{name}.parquet")
    print(f"{name}: {len(frame)} points", flush=True)


def _suite(out: Path, seeds: int) -> None:
    from gis.checks.discolored import detect_discolored
    from gis.demo.crown_suite import build_case, suite_cases
    from gis.findings import Findings
    from gis.raster import raster_source

    with tempfile.TemporaryDirectory(prefix="linyuan_cmp_") as tmp:
        for case in suite_cases(range(seeds)):
            built = build_case(case, Path(tmp))
            src = raster_source(built.image, bands=built.roles)
            for previous in (False, True) if case.season == "autumn" else (False,):
                prev = raster_source(built.previous, bands=built.roles) if previous else None
                res = detect_discolored(src, built.stands, previous=prev, findings=Findings())
                _save(res.points, out, f"suite_{case.name}{'_prev' if previous else ''}")


def _demo(out: Path) -> None:
    from gis.checks.discolored.run import run_discolored
    from gis.demo import build_demo
    from gis.findings import Findings

    with tempfile.TemporaryDirectory(prefix="linyuan_cmp_demo_") as tmp:
        scene = build_demo(Path(tmp))
        run: Any = run_discolored(
            scene.rasters["uav_current"], stands=scene.layers["subcompartments"],
            previous=scene.rasters["uav_previous"], bands="B,G,R,NIR",
            image_date=scene.meta["uav_date"], out=Path(tmp) / "discolored.gpkg",
            findings=Findings(),
        )  # fmt: skip
        _save(run.result.points, out, "demo")


def _bench(out: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_discolored as bench

    from gis.checks.discolored import detect_discolored
    from gis.io import read_layer
    from gis.raster import raster_source

    d = bench._dir(None)
    path, stands = bench._raster(d, 10_000), bench._stands(d, 10_000)
    frame = read_layer(stands, kind="subcompartments", working_crs=None)
    res = detect_discolored(raster_source(path, bands="B,G,R,NIR"), frame, threads=2)
    _save(res.points, out, "bench")


def _diff(a: Path, b: Path) -> int:
    names = sorted({p.stem for p in a.glob("*.parquet")} | {p.stem for p in b.glob("*.parquet")})
    bad = 0
    for name in names:
        pa, pb = a / f"{name}.parquet", b / f"{name}.parquet"
        if not (pa.exists() and pb.exists()):
            print(f"{name}: only in {'first' if pa.exists() else 'second'}")
            bad += 1
            continue
        fa, fb = pd.read_parquet(pa), pd.read_parquet(pb)
        try:
            pd.testing.assert_frame_equal(fa, fb, check_exact=True)
        except AssertionError as exc:
            print(f"{name}: DIFFERENT ({len(fa)} vs {len(fb)} rows)\n{exc}")
            bad += 1
            continue
        print(f"{name}: equal ({len(fa)} points)")
    print(f"{len(names) - bad} of {len(names)} scenes equal")
    return 1 if bad else 0


def main() -> None:
    """Dump the points of the scenes, or diff two dumps."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("dump", "diff"))
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--no-bench", action="store_true")
    ap.add_argument("--no-demo", action="store_true")
    args = ap.parse_args()
    if args.what == "diff":
        sys.exit(_diff(*args.folders[:2]))
    out = args.folders[0]
    out.mkdir(parents=True, exist_ok=True)
    import gis

    print(f"gis from {Path(gis.__file__).parent}", flush=True)
    np.seterr(all="ignore")
    _suite(out, args.seeds)
    if not args.no_demo:
        _demo(out)
    if not args.no_bench:
        _bench(out)


if __name__ == "__main__":
    main()
