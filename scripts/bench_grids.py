"""Benchmark rasters as delivered (issue 15: "Speed and memory").

On the scene of ``bench_patches.py`` (a 4-band uint16 pair, random change patches; cached in
the same bench folder) it prints, each measured in a fresh process (wall, CPU seconds, peak
RSS):

- ``aligned``: ``change_stats`` on the pre-aligned pair (the reference);
- ``shifted``: the after date delivered on another grid of the same pixel size (EPSG:4551
  instead of EPSG:32651, origin shifted 3.7 m / 6.1 m), read through a WarpedVRT by window;
- ``prealigned``: the ``shifted`` file put on the before grid beforehand (whole, nearest, not
  timed) — the same pixels as the warped read, so ``shifted/prealigned`` is the warp's own
  cost with the data held equal;
- ``coarser``: the after date on EPSG:4551 with 12 m pixels (both dates on a 12 m analysis
  grid, the before date averaged);
- ``jp2-plain``: a plain GDAL read, by 1024² windows, of the JPEG 2000 band files of a
  ``.SAFE``-shaped product made from the after date (B02/B03/B04/B08 at 10 m; B05/B11/B12 and
  SCL at 20 m) — every file at its own resolution;
- ``safe``: the same product read through ``raster_source`` (VRT of the band files, 20 m
  bands to 10 m bilinear, SCL mask, reflectance), all roles, by the same windows.

``--inside`` measures ``change_stats`` with the inside pass, as ``check patches`` runs it
(windows grown by margins); without it the change sums only.

Usage::

    .venv/bin/python scripts/bench_grids.py                    # sizes 2000 and 4000
    .venv/bin/python scripts/bench_grids.py --sizes 2000 --patches 2000 --repeat 3
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
from bench_patches import _patches, _write_pair
from benchkit import bench_dir, cpu_seconds, peak_rss_mb

OTHER_CRS = "EPSG:4551"
SHIFT_M = (3.7, -6.1)
_CPU: list[float] = []
KINDS = ("aligned", "prealigned", "shifted", "coarser", "jp2-plain", "safe")


def _other_grid(d: Path, src_path: Path, res: float) -> Path:
    """Write the raster warped (bilinear, whole, not timed) to EPSG:4551 at ``res``; cached."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.transform import from_origin
    from rasterio.warp import calculate_default_transform, reproject

    out = d / f"other_{res:g}m_{src_path.name}"
    if out.exists():
        return out
    with rasterio.open(src_path) as src:
        t, w, h = calculate_default_transform(
            src.crs, OTHER_CRS, src.width, src.height, *src.bounds, resolution=res
        )
        t = from_origin(t.c + SHIFT_M[0], t.f + SHIFT_M[1], res, res)
        profile = src.profile | {"crs": OTHER_CRS, "transform": t, "width": w, "height": h}
        tmp = out.with_suffix(".tmp.tif")
        with rasterio.open(tmp, "w", **profile) as dst:
            for b in range(1, src.count + 1):
                reproject(
                    rasterio.band(src, b), rasterio.band(dst, b),
                    resampling=Resampling.average if res > 10 else Resampling.bilinear,
                    src_nodata=0, dst_nodata=0,
                )  # fmt: skip
    os.replace(tmp, out)
    return out


def _prealigned(d: Path, other: Path, grid_of: Path) -> Path:
    """Write ``other`` put on the grid of ``grid_of`` (whole, nearest, not timed); cached."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    out = d / f"prealigned_{other.name}"
    if out.exists():
        return out
    with rasterio.open(grid_of) as ref, rasterio.open(other) as src:
        tmp = out.with_suffix(".tmp.tif")
        with rasterio.open(tmp, "w", **ref.profile) as dst:
            for b in range(1, src.count + 1):
                reproject(rasterio.band(src, b), rasterio.band(dst, b), src_nodata=0,
                          dst_nodata=0, resampling=Resampling.nearest)  # fmt: skip
    os.replace(tmp, out)
    return out


def _safe(d: Path, src_path: Path, size: int) -> Path:
    """Write a .SAFE-shaped L2A product (JPEG 2000 bands, MTD_MSIL2A.xml) from a raster."""
    import rasterio
    from rasterio.enums import Resampling

    from gis.demo.delivered import mtd_xml, write_jp2

    safe = d / f"S2B_MSIL2A_20230601T025539_N0509_R032_T51TXM_{size}.SAFE"
    if (safe / "MTD_MSIL2A.xml").exists():
        return safe
    granule = "GRANULE/L2A_T51TXM_A032505_20230601T025539/IMG_DATA"
    files = []
    with rasterio.open(src_path) as src:
        bands = {"B02": 1, "B03": 2, "B04": 3, "B08": 4, "B05": 3, "B11": 3, "B12": 4, "SCL": 0}
        for name, index in bands.items():
            res = 10 if name in ("B02", "B03", "B04", "B08") else 20
            n = size * 10 // res
            if index:
                data = src.read(index, out_shape=(n, n), resampling=Resampling.average)
            else:
                data = np.full((n, n), 4, "uint16")
            rel = f"{granule}/R{res}m/T51TXM_20230601T025539_{name}_{res}m"
            t = src.transform * src.transform.scale(res / 10)
            write_jp2(safe / f"{rel}.jp2", data, crs=src.crs, transform=t)
            files.append(rel)
    xml = mtd_xml(safe.name, files, sensing="2023-06-01")
    (safe / "MTD_MSIL2A.xml").write_text(xml, encoding="utf-8")
    return safe


def _check(before: Path, after: Path, patches: Path, inside: bool) -> float:
    import geopandas as gpd

    from gis.raster import raster_source
    from gis.raster.analysis_grid import common_grid
    from gis.zonal import change_stats
    from gis.zonal.inside import InsideOptions

    zones = gpd.read_file(patches)
    b, a = (raster_source(p, bands="B,G,R,NIR") for p in (before, after))
    t, c = time.perf_counter(), cpu_seconds()
    change_stats(zones, b, a, inside=InsideOptions.of(*common_grid(b, a)) if inside else None)
    _CPU.append(cpu_seconds() - c)
    return time.perf_counter() - t


def _jp2_plain(safe: Path) -> float:
    import rasterio
    from rasterio.windows import Window

    t, c = time.perf_counter(), cpu_seconds()
    for jp2 in sorted(safe.rglob("*.jp2")):
        with rasterio.Env(GDAL_CACHEMAX=64 * 1024 * 1024), rasterio.open(jp2) as ds:
            step = 1024 if "_10m" in jp2.name else 512  # the same ground per window
            for r in range(0, ds.height, step):
                for col in range(0, ds.width, step):
                    ds.read(1, window=Window(col, r, step, step))
    _CPU.append(cpu_seconds() - c)
    return time.perf_counter() - t


def _safe_read(safe: Path) -> float:
    from gis.raster import raster_source

    t, c = time.perf_counter(), cpu_seconds()
    src = raster_source(safe)
    with src.open() as reader:
        for win in src.block_windows(1024):
            reader.read_array(win, src.roles)
    _CPU.append(cpu_seconds() - c)
    return time.perf_counter() - t


def _child(args: argparse.Namespace) -> None:
    d = bench_dir(args.dir, "linyuan_bench")
    before, after = _write_pair(d, args.size)
    patches = _patches(d, args.size, args.n)
    result: dict[str, float] = {}
    inside = bool(args.inside)
    if args.child == "aligned":
        result["time"] = _check(before, after, patches, inside)
    elif args.child == "prealigned":
        other = _other_grid(d, after, 10.0)
        result["time"] = _check(before, _prealigned(d, other, before), patches, inside)
    elif args.child == "shifted":
        result["time"] = _check(before, _other_grid(d, after, 10.0), patches, inside)
    elif args.child == "coarser":
        result["time"] = _check(before, _other_grid(d, after, 12.0), patches, inside)
    elif args.child == "jp2-plain":
        result["time"] = _jp2_plain(_safe(d, after, args.size))
    elif args.child == "safe":
        result["time"] = _safe_read(_safe(d, after, args.size))
    result["cpu"] = _CPU[-1]
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def _run(what: str, size: int, args: argparse.Namespace) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", what, "--size", str(size), "--n", str(args.n)]
    if args.dir:
        cmd += ["--dir", args.dir]
    if args.inside:
        cmd += ["--inside"]
    runs = []
    for _ in range(max(args.repeat, 1)):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return min(runs, key=lambda r: r["cpu"])


def main() -> None:
    """Parse the options; prepare the data once; run each measurement in a fresh process."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="2000,4000", help="raster sides in pixels")
    p.add_argument("--patches", type=int, default=5000, dest="n")
    p.add_argument("--repeat", type=int, default=2, help="keep the run with least CPU")
    p.add_argument("--dir", help="bench folder (default $TMPDIR/linyuan_bench)")
    p.add_argument("--kinds", default=",".join(KINDS), help="measurements to run (comma list)")
    p.add_argument("--inside", action="store_true", help="with the inside pass (check patches)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    load = os.getloadavg()
    print(f"load: {load[0]:.2f} {load[1]:.2f} (1, 5 min); cpus {os.cpu_count()}"
          + ("; with the inside pass" if args.inside else "; change sums only"))  # fmt: skip
    kinds = [k for k in KINDS if k in args.kinds.split(",")]
    for size in (int(s) for s in args.sizes.split(",")):
        rows = {w: _run(w, size, args) for w in kinds}
        for what, r in rows.items():
            print(f"{size}² {args.n} patches  {what:10s} wall {r['time']:7.2f} s  cpu "
                  f"{r['cpu']:7.2f} s  peak RSS {r['peak_rss_mb']:6.0f} MB")  # fmt: skip
        pairs = (("shifted", "aligned"), ("shifted", "prealigned"), ("coarser", "aligned"),
                 ("safe", "jp2-plain"))  # fmt: skip
        for num, den in pairs:
            if num not in rows or den not in rows:
                continue
            print(f"  {num}/{den}: cpu {rows[num]['cpu'] / rows[den]['cpu']:.2f}x, wall "
                  f"{rows[num]['time'] / rows[den]['time']:.2f}x")  # fmt: skip
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")


if __name__ == "__main__":
    main()
