"""Benchmark ``linyuan fire hotspots``: 100 000 hotspots against 200 000 subcompartments.

    .venv/bin/python scripts/bench_fire_hotspots.py                 # 100k hotspots, 200k stands
    .venv/bin/python scripts/bench_fire_hotspots.py --hotspots 10000 --stands 20000

Synthetic county in EPSG:4551 (no data is downloaded), cached in ``$TMPDIR/bench_fire``:
subcompartments of about 5 ha (a jittered 224 m grid over ~100 × 100 km; forest, cropland,
grassland, built-up), 9 districts, 400 fire-prevention key areas, 100 forest-chief zones,
100 heat sources, and a FIRMS VIIRS CSV of hotspots (half in clusters that repeat over
days, half scattered; 60 days of a spring season).

Prints the wall and CPU time of :func:`gis.checks.fire.run.run_hotspot_check` from the files
to the results GeoPackage (target ≤ 10 s), then of the same run also writing the XLSX and
the KMZ (their times reported beside it), the event count and the peak RSS.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from benchkit import bench_dir, cpu_seconds, peak_rss_mb
from pyproj import Transformer

from gis.checks.fire import check_hotspots
from gis.checks.fire.run import HOTSPOT_LAYER_KINDS, HOTSPOT_LONLAT, run_hotspot_check
from gis.crs import WORKING_CRS
from gis.findings import Findings
from gis.io import read_layer

X0, Y0 = 480_000.0, 4_800_000.0
LAND = np.array(["乔木林地", "耕地", "草地", "建设用地", "其他灌木林地"])
LAND_P = np.array([0.45, 0.3, 0.1, 0.1, 0.05])


def make_stands(n: int, seed: int) -> gpd.GeoDataFrame:
    """About-5-ha subcompartments: a 224 m grid with jittered inner corners (no overlaps)."""
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n)))
    k = np.arange(n)
    x, y = X0 + (k % cols) * 224.0, Y0 + (k // cols) * 224.0
    jitter = rng.uniform(-30, 30, size=(n, 2))
    geoms = shapely.polygons(
        np.stack(
            [
                np.c_[x, y],
                np.c_[x + 224, y],
                np.c_[x + 224 + 0 * jitter[:, 0], y + 224],
                np.c_[x + 112 + jitter[:, 0], y + 224],
                np.c_[x, y + 224],
                np.c_[x, y],
            ],
            axis=1,
        )
    )
    return gpd.GeoDataFrame(
        {
            "XBBM": [f"S{i}" for i in k],
            "LIN_BAN": (k // 100).astype(str),
            "XIAO_BAN": (k % 100).astype(str),
            "地类": rng.choice(LAND, size=n, p=LAND_P),
            "乡镇": [f"乡{i // (n // 30 + 1)}" for i in k],
        },
        geometry=geoms,
        crs=WORKING_CRS,
    )


def _tiles(bounds: tuple[float, ...], n: int) -> np.ndarray:
    side = int(np.ceil(np.sqrt(n)))
    w, h = (bounds[2] - bounds[0]) / side, (bounds[3] - bounds[1]) / side
    k = np.arange(side * side)[:n]
    x, y = bounds[0] + (k % side) * w, bounds[1] + (k // side) * h
    return shapely.box(x, y, x + w, y + h)


def make_context(bounds: tuple[float, ...], seed: int) -> dict[str, gpd.GeoDataFrame]:
    """Districts, fire-prevention key areas, forest-chief zones and heat sources."""
    rng = np.random.default_rng(seed)
    zx = rng.uniform(bounds[0], bounds[2] - 3000, 400)
    zy = rng.uniform(bounds[1], bounds[3] - 3000, 400)
    return {
        "districts": gpd.GeoDataFrame(
            {"XZQMC": [f"区{i}" for i in range(9)]}, geometry=_tiles(bounds, 9), crs=WORKING_CRS
        ),
        "fire_zones": gpd.GeoDataFrame(
            {"QYMC": [f"防火区{i}" for i in range(400)], "FHDJ": rng.integers(1, 4, 400)},
            geometry=shapely.box(zx, zy, zx + 3000, zy + 3000),
            crs=WORKING_CRS,
        ),
        "forest_chiefs": gpd.GeoDataFrame(
            {"forest_chief": [f"林长{i}" for i in range(100)], "level": ["乡"] * 100},
            geometry=_tiles(bounds, 100),
            crs=WORKING_CRS,
        ),
        "heat_sources": gpd.GeoDataFrame(
            {"企业名称": [f"热源{i}" for i in range(100)], "类型": ["工厂"] * 100},
            geometry=shapely.points(
                rng.uniform(bounds[0], bounds[2], 100), rng.uniform(bounds[1], bounds[3], 100)
            ),
            crs=WORKING_CRS,
        ),
    }


def make_hotspots(n: int, bounds: tuple[float, ...], seed: int) -> pd.DataFrame:
    """A FIRMS VIIRS CSV: half in 5 000 clusters repeating over days, half scattered."""
    rng = np.random.default_rng(seed)
    half = n // 2
    centres = rng.uniform([bounds[0], bounds[1]], [bounds[2], bounds[3]], size=(5000, 2))
    pick = rng.integers(0, 5000, half)
    clustered = centres[pick] + rng.normal(0, 300, size=(half, 2))
    scattered = rng.uniform([bounds[0], bounds[1]], [bounds[2], bounds[3]], size=(n - half, 2))
    xy = np.vstack([clustered, scattered])
    lon, lat = Transformer.from_crs(WORKING_CRS, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
    start = pd.Timestamp("2025-03-20")
    when = start + pd.to_timedelta(rng.uniform(0, 60 * 86400, n), unit="s")
    return pd.DataFrame(
        {
            "latitude": np.round(lat, 5),
            "longitude": np.round(lon, 5),
            "bright_ti4": rng.uniform(300, 367, n).round(2),
            "scan": rng.uniform(0.32, 0.8, n).round(2),
            "track": rng.uniform(0.36, 0.7, n).round(2),
            "acq_date": when.strftime("%Y-%m-%d"),
            "acq_time": when.strftime("%H%M"),
            "satellite": rng.choice(["N", "N20", "N21"], n),
            "instrument": "VIIRS",
            "confidence": rng.choice(["l", "n", "h"], n, p=[0.1, 0.8, 0.1]),
            "version": "2.0NRT",
            "bright_ti5": rng.uniform(270, 300, n).round(2),
            "frp": rng.gamma(1.5, 3.0, n).round(2),
            "daynight": rng.choice(["D", "N"], n),
        }
    )


def build(folder: Path, hotspots: int, stands: int, seed: int) -> dict[str, Path]:
    """Write (or reuse) the inputs; return their paths."""
    tag = f"{hotspots}_{stands}_{seed}"
    paths = {
        "subcompartments": folder / f"stands_{stands}_{seed}.gpkg",
        "hotspots": folder / f"firms_{tag}.csv",
        **{k: folder / f"{k}_{stands}_{seed}.gpkg" for k in ("districts", "fire_zones")},
        **{k: folder / f"{k}_{stands}_{seed}.gpkg" for k in ("forest_chiefs", "heat_sources")},
    }
    if all(p.exists() for p in paths.values()):
        return paths
    sub = make_stands(stands, seed)
    bounds = tuple(sub.total_bounds)
    sub.to_file(paths["subcompartments"])
    for name, frame in make_context(bounds, seed).items():
        frame.to_file(paths[name])
    make_hotspots(hotspots, bounds, seed).to_csv(paths["hotspots"], index=False)
    return paths


def phases(paths: dict[str, Path]) -> None:
    """Time the read of every input and the pure check apart (CPU and wall)."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    frames = {
        role: read_layer(
            path,
            kind=HOTSPOT_LAYER_KINDS[role],
            crs=HOTSPOT_LONLAT if role == "hotspots" else None,
            findings=Findings(),
        )
        for role, path in paths.items()
    }
    t1, c1 = time.perf_counter(), cpu_seconds()
    print(f"read inputs: {t1 - t0:.2f} s wall, {c1 - c0:.2f} s CPU")
    points = frames.pop("hotspots")
    check_hotspots(points, findings=Findings(), **frames)
    t2, c2 = time.perf_counter(), cpu_seconds()
    print(f"check (pure core): {t2 - t1:.2f} s wall, {c2 - c1:.2f} s CPU")


def timed(label: str, **kwargs: object) -> float:
    """Run the check once; print and return its wall seconds."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    run = run_hotspot_check(findings=Findings(), overwrite=True, **kwargs)  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    n, e = len(run.result.hotspots_checked), len(run.result.events)
    kinds = run.result.run["counts"]["fire_kind"]
    print(f"{label}: {wall:.2f} s wall, {cpu:.2f} s CPU — {n} hotspots, {e} events, {kinds}")
    print(f"  ({os.getloadavg()[0]:.1f} load average: wall = CPU only on an idle machine)")
    return wall


def main() -> None:
    """Build the inputs, run the check to the GeoPackage, then with XLSX and KMZ."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hotspots", type=int, default=100_000)
    parser.add_argument("--stands", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--dir", help="cache folder (default $TMPDIR/bench_fire)")
    parser.add_argument("--no-exports", action="store_true", help="skip the XLSX and KMZ runs")
    args = parser.parse_args()
    folder = bench_dir(args.dir, "bench_fire")
    t0 = time.perf_counter()
    paths = build(folder, args.hotspots, args.stands, args.seed)
    print(f"inputs ready in {time.perf_counter() - t0:.1f} s ({folder})")
    inputs = dict(paths)
    phases(paths)
    gpkg = timed("GeoPackage", out=folder / "hotspots.gpkg", **inputs)
    if not args.no_exports:
        xlsx = timed("+ XLSX", out=folder / "h2.gpkg", xlsx=folder / "hotspots.xlsx", **inputs)
        kmz = timed("+ KMZ", out=folder / "h3.gpkg", kml=folder / "hotspots.kmz", **inputs)
        print(f"XLSX adds {xlsx - gpkg:.1f} s, KMZ adds {kmz - gpkg:.1f} s (wall)")
    verdict = "OK" if gpkg <= 10 else "SLOWER than the 10 s target"
    print(f"to the results GeoPackage: {gpkg:.2f} s ({verdict}); peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
