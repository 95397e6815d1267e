"""Benchmark what alpha bands and GDAL masks cost the raster reader.

Builds once (cached in a bench folder) four 8-bit R,G,B orthomosaics of ``size``² pixels,
tiled 256, with the same pixels and a ragged flown-area edge: ``rgb`` (no mask, DEFLATE),
``rgba`` (PHOTOMETRIC=RGB + alpha band, DEFLATE, pixel-interleaved as exporters write it),
``mask`` (DEFLATE + internal GDAL mask) and ``jpeg_mask`` (JPEG-YCbCr + internal mask, the usual
orthophoto delivery). For each, in a fresh process after a warm-up run (page cache), it reads
R,G,B by ``window``² windows with :meth:`gis.raster.RasterReader.read_array` (reflectance +
invalid mask) and, as the floor, the same windows with a bare ``dataset.read`` of the bands
(alpha included for ``rgba``) — wall and CPU seconds, and the share of invalid pixels found.

Usage::

    .venv/bin/python scripts/bench_raster_masks.py              # 10000², 100 windows of 1024²
    .venv/bin/python scripts/bench_raster_masks.py --size 4096
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np
from benchkit import bench_dir, cpu_seconds

KINDS = ("rgb", "rgba", "mask", "jpeg_mask")
CRS = "EPSG:4551"
BLOCK = 256


def _dir(arg: str | None) -> Path:
    return bench_dir(arg, "linyuan_bench_raster_masks")


def _tile(row: int, col: int, h: int, w: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(3, h, w) uint8 canopy-like texture and the alpha (0 right of a ragged edge)."""
    rng = np.random.default_rng(row * 7919 + col)
    yy, xx = np.mgrid[row : row + h, col : col + w]
    base = 110 + 30 * np.sin(yy / 7.0) * np.cos(xx / 9.0)
    rgb = base[None] * np.array([0.8, 1.2, 0.6])[:, None, None]
    rgb = rgb + rng.normal(0, 6, (3, h, w))
    edge = 0.85 * size + 0.05 * size * np.sin(yy / 300.0)
    alpha = np.where(xx < edge, 255, 0).astype("uint8")
    return np.clip(rgb, 1, 254).astype("uint8"), alpha


def _build(d: Path, kind: str, size: int) -> Path:
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    path = d / f"{kind}_{size}.tif"
    if path.exists():
        return path
    profile = {"driver": "GTiff", "width": size, "height": size, "dtype": "uint8", "crs": CRS,
               "transform": from_origin(500_000, 4_850_000 + size * 0.05, 0.05, 0.05),
               "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK, "count": 3,
               "photometric": "RGB", "compress": "deflate"}  # fmt: skip
    if kind == "rgba":
        profile.update(count=4, alpha="YES")
    if kind == "jpeg_mask":
        profile.update(compress="JPEG", photometric="YCBCR")
    tmp = path.with_suffix(".tmp.tif")
    step = 1024
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(tmp, "w", **profile) as dst:
        for row in range(0, size, step):
            for col in range(0, size, step):
                h, w = min(step, size - row), min(step, size - col)
                rgb, alpha = _tile(row, col, h, w, size)
                win = Window(col, row, w, h)
                dst.write(np.concatenate([rgb, alpha[None]]) if kind == "rgba" else rgb, window=win)
                if kind in ("mask", "jpeg_mask"):
                    dst.write_mask(alpha, window=win)
    os.replace(tmp, path)
    return path


def _child(args: argparse.Namespace) -> None:
    from rasterio.windows import Window

    from gis.raster import raster_source

    path = _dir(args.dir) / f"{args.kind}_{args.size}.tif"
    src = raster_source(path, sensor="uav-rgb")
    windows = src.block_windows(args.window)
    with src.open() as reader:
        reader.read_array(Window(0, 0, 1, 1), ("R", "G", "B"))  # compiled kernel loaded: untimed
        t, c = time.perf_counter(), cpu_seconds()
        bad = 0
        for win in windows:
            if args.floor:
                reader.dataset.read(window=win)  # every band, alpha included
            else:
                bad += int(reader.read_array(win, ("R", "G", "B"))[1].sum())
    out = {"time": time.perf_counter() - t, "cpu": cpu_seconds() - c, "windows": len(windows),
           "invalid_share": bad / (src.width * src.height), "mask": str(src.dataset_mask),
           "mb": path.stat().st_size / 1e6}  # fmt: skip
    sys.stdout.write(json.dumps(out) + "\n")


def _run(args: argparse.Namespace, kind: str, floor: bool) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", "--kind", kind, "--size", str(args.size),
           "--window", str(args.window), "--dir", str(_dir(args.dir))]  # fmt: skip
    done = subprocess.run([*cmd, *(["--floor"] if floor else [])], capture_output=True,
                          text=True, check=False)  # fmt: skip
    if done.returncode:
        sys.exit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse arguments, build the files once, print the read timings."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=10_000)
    p.add_argument("--window", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=3, help="runs per measure; the best is shown")
    p.add_argument("--dir")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--kind", choices=KINDS, help=argparse.SUPPRESS)
    p.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    d, out = _dir(args.dir), sys.stdout
    t = time.perf_counter()
    for kind in KINDS:
        _build(d, kind, args.size)
    out.write(f"data in {d} ({time.perf_counter() - t:.0f} s to build or find)\n")
    base = None
    for kind in KINDS:
        _run(args, kind, True)  # warm the page cache
        floor = min((_run(args, kind, True) for _ in range(args.repeat)), key=lambda r: r["cpu"])
        read = min((_run(args, kind, False) for _ in range(args.repeat)), key=lambda r: r["cpu"])
        base = base or read
        out.write(
            f"{kind:9s} {read['mb']:7.1f} MB, mask {read['mask']:11s}: read_array "
            f"{read['time']:.2f} s wall / {read['cpu']:.2f} s CPU ({read['windows']} windows, "
            f"{100 * read['invalid_share']:.1f} % invalid); bare read {floor['time']:.2f} s / "
            f"{floor['cpu']:.2f} s CPU; CPU vs bare {read['cpu'] / floor['cpu']:.2f}x, "
            f"vs rgb read_array {read['cpu'] / base['cpu']:.2f}x\n"
        )


if __name__ == "__main__":
    main()
