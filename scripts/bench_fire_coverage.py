"""Benchmark ``linyuan fire coverage`` (issue 19: "Speed").

Generates once (cached in the bench folder) a 10 m DEM of 40 × 40 km (4000², float32, hills of
a few hundred metres), 50 towers (20-40 m, 10 km range), a subcompartment grid of 500 m squares
(conifer, broadleaf, shrub and cropland), five 防火重点区域 and a road network, all in the working
CRS; then runs :func:`gis.checks.fire.run.run_coverage` to a GeoPackage in a fresh process and
prints wall and CPU seconds, the peak RSS of the Python process and of the largest
``gdal_viewshed`` it ran. Goal: ≤ 60 s, peak memory ≤ 1 GB.

Usage::

    .venv/bin/python scripts/bench_fire_coverage.py
    .venv/bin/python scripts/bench_fire_coverage.py --size 2000 --towers 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np
from benchkit import bench_dir, cpu_seconds, peak_rss_mb

CRS = "EPSG:4551"
X0, Y0, RES = 500_000.0, 4_900_000.0, 10.0
CELL_M = 500.0


def _dem(d: Path, size: int) -> Path:
    import rasterio
    from rasterio.transform import from_origin
    from scipy.ndimage import gaussian_filter

    path = d / f"fire_dem_{size}.tif"
    if path.exists():
        return path
    rng = np.random.default_rng(7)
    hills = gaussian_filter(rng.normal(0, 1, (size, size)), 80)
    z = (200 + 300 * hills / hills.std()).astype("float32")
    tmp = path.with_suffix(".tmp.tif")
    with rasterio.open(
        tmp, "w", driver="GTiff", width=size, height=size, count=1, dtype="float32", crs=CRS,
        transform=from_origin(X0, Y0, RES, RES), tiled=True, blockxsize=256, blockysize=256,
        compress="deflate", predictor=3, nodata=-9999,
    ) as dst:  # fmt: skip
        dst.write(z, 1)
    os.replace(tmp, path)
    return path


def _layers(d: Path, size: int, n_towers: int) -> dict[str, Path]:
    import geopandas as gpd
    import shapely

    paths = {k: d / f"fire_{k}_{size}_{n_towers}.gpkg" for k in
             ("towers", "subcompartments", "fire_zones", "roads")}  # fmt: skip
    if all(p.exists() for p in paths.values()):
        return paths
    side = size * RES
    rng = np.random.default_rng(11)
    towers = gpd.GeoDataFrame(
        {
            "tower_id": [f"T{i + 1:02d}" for i in range(n_towers)],
            "height_m": rng.uniform(20, 40, n_towers).round(1),
            "range_m": np.full(n_towers, 10_000.0),
        },
        geometry=gpd.points_from_xy(
            X0 + rng.uniform(0, side, n_towers), Y0 - rng.uniform(0, side, n_towers)
        ),
        crs=CRS,
    )
    xs = np.arange(X0, X0 + side, CELL_M)
    ys = np.arange(Y0 - side, Y0, CELL_M)
    boxes = [shapely.box(x, y, x + CELL_M, y + CELL_M) for x in xs for y in ys]
    kinds = rng.choice(4, len(boxes), p=[0.4, 0.3, 0.1, 0.2])
    land = np.array(["乔木林地", "乔木林地", "其他灌木林地", "耕地"])[kinds]
    species = np.array(["落叶松", "蒙古栎", None, None], dtype=object)[kinds]
    subs = gpd.GeoDataFrame(
        {
            "stand_id": [f"S{i:06d}" for i in range(len(boxes))],
            "compartment": "1",
            "subcompartment_no": [str(i) for i in range(len(boxes))],
            "land_class": land,
            "dominant_species": species,
        },
        geometry=boxes,
        crs=CRS,
    )
    centres = rng.uniform(0.2, 0.8, (5, 2)) * side
    zones = gpd.GeoDataFrame(
        {"zone_id": [f"Z{i + 1}" for i in range(5)], "name": [f"重点区{i + 1}" for i in range(5)],
         "fire_level": [1, 2, 2, 3, 1]},
        geometry=[shapely.Point(X0 + cx, Y0 - cy).buffer(3000) for cx, cy in centres],
        crs=CRS,
    )  # fmt: skip
    roads = gpd.GeoDataFrame(
        geometry=[shapely.LineString([(X0, Y0 - t * side), (X0 + side, Y0 - t * side)])
                  for t in (0.25, 0.5, 0.75)],
        crs=CRS,
    )  # fmt: skip
    for key, frame in zip(paths, (towers, subs, zones, roads), strict=True):
        frame.to_file(paths[key])
    return paths


def _child(args: argparse.Namespace) -> None:
    from gis.checks.fire.run import run_coverage

    d = bench_dir(args.dir, "linyuan_bench")
    dem, layers = _dem(d, args.size), _layers(d, args.size, args.towers)
    out = d / "fire_coverage_out.gpkg"
    t, c = time.perf_counter(), cpu_seconds()
    run = run_coverage(dem=dem, out=out, overwrite=True, threads=args.threads, **layers)
    result = {"time": time.perf_counter() - t, "cpu": cpu_seconds() - c}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu_viewshed"] = children.ru_utime + children.ru_stime
    result["peak_rss_mb"] = peak_rss_mb()
    result["fork_peak_mb"] = children.ru_maxrss / 1024  # counts the forked Python's pages
    result["coverage"] = run.result.run["coverage"]
    print(json.dumps(result, default=float))


def _viewshed_rss_mb(d: Path, size: int) -> float:
    """Peak RSS of one 10 km gdal_viewshed on the DEM (``/usr/bin/time``; NaN without it).

    The children's ``ru_maxrss`` of the run is no measure: it counts the Python pages a fork
    maps before ``exec``.
    """
    if not Path("/usr/bin/time").exists():
        return float("nan")
    x, y = X0 + size * RES / 2, Y0 - size * RES / 2
    cmd = ["/usr/bin/time", "-f", "%M", "gdal_viewshed", "-q", "-md", "10000", "-cc", "0.85714"]
    cmd += ["-oz", "30", "-ox", str(x), "-oy", str(y), str(_dem(d, size)), str(d / "vs.tif")]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    """Parse options and print the benchmark lines."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", type=int, default=4000, help="DEM size (cells a side, 10 m)")
    ap.add_argument("--towers", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2, help="viewsheds at once")
    ap.add_argument("--dir", default=None, help="bench folder (default: $TMPDIR/linyuan_bench)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    d = bench_dir(args.dir, "linyuan_bench")
    _dem(d, args.size)
    _layers(d, args.size, args.towers)
    cmd = [sys.executable, __file__, "--child", "--size", str(args.size)]
    cmd += ["--towers", str(args.towers), "--threads", str(args.threads)]
    cmd += ["--dir", args.dir] if args.dir else []
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    km = args.size * RES / 1000
    print(f"{args.towers} towers, 10 km range, {km:.0f} x {km:.0f} km DEM at 10 m "
          f"({args.size}²), {args.threads} viewsheds at once:")  # fmt: skip
    print(f"  wall {r['time']:.1f} s (goal <= 60 s); CPU {r['cpu']:.1f} s in Python + "
          f"{r['cpu_viewshed']:.1f} s in gdal_viewshed")  # fmt: skip
    print(f"  peak RSS {r['peak_rss_mb']:.0f} MB (Python; goal <= 1 GB), one gdal_viewshed "
          f"{_viewshed_rss_mb(d, args.size):.0f} MB")  # fmt: skip
    cov = r["coverage"]
    print(f"  forest seen {cov['forest_seen_share']:.1%}, blind {cov['blind_ha']:.0f} ha, "
          f"{cov['listed']} blind areas listed")  # fmt: skip
    print(f"  load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
