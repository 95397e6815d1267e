"""CPU cost of the second pass-1 sweep on images without NIR (issue 16, canopy-only baselines).

Takes the scene of ``scripts/bench_discolored.py`` (``--size``² pixels at 0.5 m, built and
cached there), keeps its B, G, R bands in a second cached file, and runs
``detect_discolored`` on it alternately with the second sweep (the detector as it is) and
without it (``canopy_histograms`` replaced by the identity: the old baselines over every
pixel), one thread, in this process after a warm-up run. Prints CPU seconds (user + sys),
wall seconds, points and the load average.

Usage::

    .venv/bin/python scripts/bench_discolored_canopy_sweep.py             # 4000², 3 repeats
    .venv/bin/python scripts/bench_discolored_canopy_sweep.py --size 2000 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_discolored import _dir, _raster, _stands
from benchkit import cpu_seconds


def _rgb(path: Path) -> Path:
    import rasterio

    out = path.with_name(path.stem + "_rgb.tif")
    if out.exists():
        return out
    with rasterio.open(path) as src:
        profile = src.profile | {"count": 3}
        tmp = out.with_suffix(".tmp.tif")
        with rasterio.open(tmp, "w", **profile) as dst:
            for _, win in src.block_windows(1):
                dst.write(src.read([1, 2, 3], window=win), window=win)
    os.replace(tmp, out)
    return out


def _once(src: object, frame: object, sweep: bool) -> dict[str, float]:
    from gis.checks.discolored import detect_discolored, passes

    keep = passes.canopy_histograms
    if not sweep:
        passes.canopy_histograms = lambda plan, hists, run: hists  # the old baselines
    try:
        t, c = time.perf_counter(), cpu_seconds()
        res = detect_discolored(src, frame, image_date="2026-07-25")  # type: ignore[arg-type]
        return {"cpu": cpu_seconds() - c, "wall": time.perf_counter() - t,
                "points": len(res.points)}  # fmt: skip
    finally:
        passes.canopy_histograms = keep


def main() -> None:
    """Build (or reuse) the scene and time both variants."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir")
    args = ap.parse_args()
    from gis.io import read_layer
    from gis.raster import raster_source

    d = _dir(args.dir)
    path = _rgb(_raster(d, args.size))
    frame = read_layer(_stands(d, args.size), kind="subcompartments", working_crs=None)
    src = raster_source(path, bands="B,G,R")
    _once(src, frame, True)  # warm-up: page cache, compiled kernels
    runs: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for _ in range(args.repeats):
        for sweep in (False, True):
            runs[sweep].append(_once(src, frame, sweep))
    for sweep, label in ((False, "without second sweep (old)"), (True, "with second sweep")):
        r = runs[sweep]
        cpu = statistics.median(x["cpu"] for x in r)
        wall = statistics.median(x["wall"] for x in r)
        print(f"{label:28s} CPU {cpu:6.2f} s  wall {wall:6.2f} s  points {r[0]['points']}")
    print(f"load average {os.getloadavg()[0]:.1f}; {args.size}² px B,G,R, one thread")


if __name__ == "__main__":
    main()
