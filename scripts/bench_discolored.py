"""Benchmark the discolored-tree detection (issue 4: "Speed and memory").

Builds once (cached in a bench folder) a 4-band (B, G, R, NIR) uint16 0.5 m GeoTIFF of
``size``² pixels (tiled 256, DEFLATE + predictor 2, as imagery is delivered) with crowns,
understory, soil and discolored crowns, and a stands layer of 250 m squares (pine, larch,
poplar); then prints, in one run, each in a fresh process: a plain single-threaded read of
the raster by 1024² windows (all bands: the floor), and the detection (reading the stands
layer, then :func:`gis.checks.discolored.detect_discolored`: both passes — stand baselines,
smoothing, labels, halos — and the points) with 1 and 2 threads — wall and CPU seconds, their
ratios to the plain read, and peak RSS (VmHWM) per window size. Imports and the parse of
``layers/catalog.yaml`` are start-up and not timed. On a shared machine wall times of the
2-thread runs need both cores idle; compare the CPU seconds too.

Usage::

    .venv/bin/python scripts/bench_discolored.py                 # 10000² (the issue's run)
    .venv/bin/python scripts/bench_discolored.py --size 4000 --windows 512,1024
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np
from benchkit import bench_dir, cpu_seconds, peak_rss_mb

CRS = "EPSG:4551"
X0, Y0, RES = 500_000.0, 4_850_000.0, 0.5
BLOCK = 256
STAND_M = 250.0
DIR_NAME = "linyuan_bench_discolored"


def _dir(arg: str | None) -> Path:
    return bench_dir(arg, DIR_NAME)


def _tile(rng: np.random.Generator, n: int) -> np.ndarray:
    """(4, n, n) reflectance×10000 of crowns (~5 m) on understory with some soil."""
    img = np.empty((4, n, n), dtype="f4")
    img[:] = np.array([350, 700, 550, 2600], "f4")[:, None, None]  # understory
    yy, xx = np.mgrid[0:n, 0:n]
    cell = 16
    for r in range(cell // 2, n, cell):
        for c in range(cell // 2, n, cell):
            rad = rng.uniform(3, 7)
            d = np.hypot(yy[r - 8 : r + 8, c - 8 : c + 8] - r, xx[r - 8 : r + 8, c - 8 : c + 8] - c)
            inside = d < rad
            look = np.array([250, 500, 300, 2800], "f4")
            if rng.random() < 0.01:  # discolored
                look = np.array([450, 650, 1400, 1400], "f4")
            for b in range(4):
                img[b, r - 8 : r + 8, c - 8 : c + 8][inside] = look[b]
    return img


def _raster(d: Path, size: int) -> Path:
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    path = d / f"scene_{size}.tif"
    if path.exists():
        return path
    if shutil.disk_usage(d).free < size * size * 8 * 2:
        sys.exit(f"not enough free disk in {d}")
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 4, "dtype": "uint16",
               "crs": CRS, "transform": from_origin(X0, Y0 + size * RES, RES, RES), "nodata": 0,
               "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "deflate",
               "predictor": 2}  # fmt: skip
    tmp = path.with_suffix(".tmp.tif")
    step = 1024
    with rasterio.open(tmp, "w", **profile) as dst:
        for row in range(0, size, step):
            for col in range(0, size, step):
                rng = np.random.default_rng(row * 7919 + col)
                h, w = min(step, size - row), min(step, size - col)
                img = _tile(rng, step)[:, :h, :w]
                img *= 1 + 0.04 * rng.standard_normal(img.shape, dtype="f4")
                dst.write(np.clip(img, 1, 10000).astype("uint16"), window=Window(col, row, w, h))
    os.replace(tmp, path)
    return path


def _stands(d: Path, size: int) -> Path:
    import geopandas as gpd
    import shapely

    from gis.io import write_layer

    path = d / f"stands_{size}.gpkg"
    if path.exists():
        return path
    n = int(np.ceil(size * RES / STAND_M))
    species = ("红松", "樟子松", "落叶松", "杨树")
    rows = [(f"S{i:03d}{j:03d}", species[(i + j) % 4],
             shapely.box(X0 + j * STAND_M, Y0 + i * STAND_M, X0 + (j + 1) * STAND_M,
                         Y0 + (i + 1) * STAND_M)) for i in range(n) for j in range(n)]  # fmt: skip
    frame = gpd.GeoDataFrame({"stand_id": [r[0] for r in rows],
                              "dominant_species": [r[1] for r in rows]},
                             geometry=[r[2] for r in rows], crs=CRS)  # fmt: skip
    write_layer(frame, path, overwrite=True)
    return path


def _plain(path: Path) -> None:
    from gis.raster import raster_source

    src = raster_source(path, bands="B,G,R,NIR")
    with src.open() as reader:
        for win in src.block_windows(1024):
            reader.dataset.read(window=win)


def _detect(path: Path, stands: Path, window: int, threads: int) -> dict[str, float]:
    from gis.checks.discolored import detect_discolored
    from gis.io import read_layer
    from gis.raster import raster_source

    t, c = time.perf_counter(), cpu_seconds()
    src = raster_source(path, bands="B,G,R,NIR")
    frame = read_layer(stands, kind="subcompartments", working_crs=None)
    read = {"stands_time": time.perf_counter() - t, "stands_cpu": cpu_seconds() - c}
    res = detect_discolored(src, frame, window_size=window, threads=threads)
    return {"points": len(res.points), "windows": int(res.run["parameters"]["windows"]), **read}


def _child(args: argparse.Namespace) -> None:
    d = _dir(args.dir)
    path, stands = _raster(d, args.size), _stands(d, args.size)
    import gis.checks.discolored
    import gis.io  # noqa: F401  (imports are not timed)
    from gis.layers import catalog

    catalog()  # parsing layers/catalog.yaml (pure-Python YAML, ~1 s) is start-up, like imports

    t, c = time.perf_counter(), cpu_seconds()
    extra = {} if args.child == "plain" else _detect(path, stands, args.window, args.threads)
    if args.child == "plain":
        _plain(path)
    cpu = cpu_seconds() - c
    out = {"time": time.perf_counter() - t, "cpu": cpu, "peak_rss_mb": peak_rss_mb(), **extra}
    sys.stdout.write(json.dumps(out) + "\n")


def _run(what: str, args: argparse.Namespace, window: int, threads: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", what, "--size", str(args.size), "--window",
           str(window), "--threads", str(threads), "--dir", str(_dir(args.dir))]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse arguments, build the data once, print the timings and memory."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=10_000)
    p.add_argument("--windows", default="512,1024,2048")
    p.add_argument("--dir")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--window", type=int, default=1024, help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    d = _dir(args.dir)
    t = time.perf_counter()
    _raster(d, args.size), _stands(d, args.size)
    out = sys.stdout
    out.write(f"data in {d} ({time.perf_counter() - t:.0f} s to build or find)\n")
    _run("plain", args, 1024, 1)  # warm the page cache
    plain = _run("plain", args, 1024, 1)
    out.write(f"plain read, 1 thread: {plain['time']:.2f} s wall, {plain['cpu']:.2f} s CPU, "
              f"peak RSS {plain['peak_rss_mb']:.0f} MB\n")  # fmt: skip
    ratios: dict[tuple[int, int], float] = {}
    for window in (int(w) for w in args.windows.split(",")):
        for threads in (1, 2):
            r = _run("detect", args, window, threads)
            ratios[window, threads] = r["time"] / plain["time"]
            out.write(
                f"detect window {window} threads {threads}: {r['time']:.2f} s wall "
                f"({r['time'] / plain['time']:.2f}x plain), {r['cpu']:.2f} s CPU "
                f"({r['cpu'] / plain['cpu']:.2f}x), peak RSS {r['peak_rss_mb']:.0f} MB, "
                f"{r['points']} points, {r['windows']} windows (of which reading the stands: "
                f"{r['stands_time']:.2f} s wall, {r['stands_cpu']:.2f} s CPU)\n"
            )
    _floor(out, ratios)


def _floor(out: Any, ratios: dict[tuple[int, int], float]) -> None:
    """Print the issue's floor: detection <= 2x the single-threaded plain read."""
    for (window, threads), ratio in sorted(ratios.items()):
        default = " (the CLI default: --threads 2, window 1024 at 0.5 m)"
        label = default if (window, threads) == (1024, 2) else ""
        verdict = "ok" if ratio <= 2.0 else "MISSED"
        out.write(f"floor <= 2x plain read, window {window}, {threads} thread(s): "
                  f"{ratio:.2f}x {verdict}{label}\n")  # fmt: skip


if __name__ == "__main__":
    main()
