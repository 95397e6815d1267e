"""Benchmark ``linyuan fire burned``'s pixel engine (issue 19: "Speed").

Generates once (cached in the bench folder) a 6-band (B,G,R,NIR,SWIR1,SWIR2) uint16 tiled
GeoTIFF pair of ``size``² pixels made like the patch benchmark's (blocky land cover, noise per
date, deflate, 256² tiles), the later date with planted fires (discs of 300 m to 3 km). Then,
each in a fresh process, best of ``--repeat``: a plain single-threaded full read of both rasters,
all bands (the floor), and :func:`gis.checks.fire.trace_burned` (dNBR, severity, sieve,
polygons, seam union); wall and CPU seconds and peak RSS are printed. The goal: linyuan ≤ 1.5×
the plain read.

Usage::

    .venv/bin/python scripts/bench_fire_burned.py                 # 10000² (the issue's run)
    .venv/bin/python scripts/bench_fire_burned.py --size 4000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np
from bench_patches import _field  # the patch benchmark's land cover
from benchkit import bench_dir, cpu_seconds, peak_rss_mb

CRS = "EPSG:32651"
X0, Y0, RES = 300_000.0, 4_900_000.0, 10.0
BLOCK = 256
BANDS = "B,G,R,NIR,SWIR1,SWIR2"
FIRES = ((0.3, 0.3, 3000.0), (0.7, 0.6, 1200.0), (0.5, 0.85, 300.0))
"""Planted fires: centre (fraction of the raster side) and radius in metres."""


def _burn(row: int, h: int, size: int) -> np.ndarray:
    """Burn depth 0..1 of rows ``row``..``row+h`` (1 at a fire's centre, 0.2 at its rim)."""
    y = (np.arange(row, row + h)[:, None] + 0.5) * RES
    x = (np.arange(size)[None, :] + 0.5) * RES
    depth = np.zeros((h, size))
    for fx, fy, radius in FIRES:
        r = np.hypot(x - fx * size * RES, y - fy * size * RES)
        depth = np.maximum(depth, np.where(r <= radius, 1.0 - 0.8 * r / radius, 0.0))
    return depth


def _write_pair(d: Path, size: int) -> tuple[Path, Path]:
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    paths = (d / f"fire_before_{size}.tif", d / f"fire_after_{size}.tif")
    if all(p.exists() for p in paths):
        return paths
    need = size * size * 6 * 2 * 2 * 0.6
    if shutil.disk_usage(d).free < need * 2:
        sys.exit(f"not enough free disk in {d} for {need / 1e9:.1f} GB of rasters")
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 6, "dtype": "uint16",
        "crs": CRS, "transform": from_origin(X0, Y0 + size * RES, RES, RES), "nodata": 0,
        "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "deflate",
        "predictor": 2,
    }  # fmt: skip
    for k, path in enumerate(paths):
        tmp = path.with_suffix(".tmp.tif")
        with rasterio.open(tmp, "w", **profile) as dst:
            for row in range(0, size, 1024):
                h = min(1024, size - row)
                forest = _field(np.random.default_rng(row), (h, size), 64)
                noise = np.random.default_rng(row + 1 + 7919 * k).normal(0, 60, (6, h, size))
                b, g = 300 + 200 * (1 - forest), 500 + 300 * (1 - forest)
                r, nir = 400 + 900 * (1 - forest), 2000 + 1800 * forest
                swir1, swir2 = 1500 + 900 * (1 - forest), 700 + 800 * (1 - forest)
                if k == 1:
                    depth = _burn(row, h, size)
                    nir, swir2 = nir - 1600 * depth, swir2 + 1500 * depth
                data = np.stack([b, g, r, nir, swir1, swir2]) + noise
                dst.write(np.clip(data, 1, 10000).astype("uint16"), window=Window(0, row, size, h))
        os.replace(tmp, path)
    return paths


def _plain(paths: tuple[Path, Path]) -> dict[str, float]:
    from gis.raster import raster_source

    t, c = time.perf_counter(), cpu_seconds()
    for p in paths:
        src = raster_source(p, bands=BANDS)
        with src.open() as reader:
            for win in src.block_windows(1024):
                reader.dataset.read(window=win)
    return {"time": time.perf_counter() - t, "cpu": cpu_seconds() - c}


def _linyuan(paths: tuple[Path, Path], threads: int) -> dict[str, float]:
    from gis.checks.fire import trace_burned
    from gis.raster import raster_source

    t, c = time.perf_counter(), cpu_seconds()
    pair = [raster_source(p, bands=BANDS) for p in paths]
    burned = trace_burned(*pair, threads=threads)
    out = {"time": time.perf_counter() - t, "cpu": cpu_seconds() - c}
    true_m2 = sum(np.pi * r**2 for _, _, r in FIRES)
    out["scars"] = len(burned.scars)
    out["area_error"] = float(burned.scars.area.sum() / true_m2 - 1)
    return out


def _child(args: argparse.Namespace) -> None:
    paths = _write_pair(bench_dir(args.dir, "linyuan_bench"), args.size)
    result = _plain(paths) if args.child == "plain" else _linyuan(paths, args.threads)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def _best(what: str, args: argparse.Namespace) -> dict[str, float]:
    runs = []
    for _ in range(args.repeat):
        cmd = [sys.executable, __file__, "--child", what, "--size", str(args.size)]
        cmd += ["--threads", str(args.threads)] + (["--dir", args.dir] if args.dir else [])
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda r: r["time"])


def main() -> None:
    """Parse options and print the benchmark lines."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", type=int, default=10000, help="raster size (pixels a side)")
    ap.add_argument("--threads", type=int, default=2, help="windows processed at once")
    ap.add_argument("--repeat", type=int, default=3, help="best of N")
    ap.add_argument("--dir", default=None, help="bench folder (default: $TMPDIR/linyuan_bench)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    t = time.perf_counter()
    _write_pair(bench_dir(args.dir, "linyuan_bench"), args.size)
    print(f"pair ready in {time.perf_counter() - t:.1f} s", flush=True)
    plain, ly = _best("plain", args), _best("linyuan", args)
    print(f"{args.size}² 6-band uint16 pair (deflate, 256² tiles); best of {args.repeat}")
    print(f"  plain full read, both rasters, 1 thread: {plain['time']:.2f} s "
          f"(CPU {plain['cpu']:.2f} s), peak {plain['peak_rss_mb']:.0f} MB")  # fmt: skip
    print(f"  linyuan trace_burned, {args.threads} threads: {ly['time']:.2f} s "
          f"(CPU {ly['cpu']:.2f} s), peak {ly['peak_rss_mb']:.0f} MB = "
          f"{ly['time'] / plain['time']:.2f}x the plain read (goal <= 1.5x)")  # fmt: skip
    print(f"  scars {ly['scars']}, burned area vs planted discs {ly['area_error']:+.2%}")
    print(f"  load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
