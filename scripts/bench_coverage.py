"""Benchmark park service coverage: Linyuan's way against the plain geopandas way.

    .venv/bin/python scripts/bench_coverage.py          # 200k parcels, 2k parks, 50k edges
    .venv/bin/python scripts/bench_coverage.py --parcels 20000 --parks 200 --edges 5000

Synthetic city in EPSG:4551 (no data is downloaded): residential parcels on a street grid, parks
of 400 m² to 9 ha at random places (seeded), a road grid of about ``--edges`` edges.

Prints, in one run:
1. Linyuan's straight-line service coverage (:func:`gis.checks.greenery.coverage.reach`, the service
   measure alone) and the full :func:`park_coverage` (three measures + underserved parts);
2. the plain way on the same data: buffer every park by its service radius, union, explode,
   ``geopandas.overlay`` with the parcels, sum the covered area;
3. both shares and their difference (floor: equal to 0.1 percentage point; Linyuan ≥ 5× faster);
4. network coverage (walking distance along the road graph) with few and with all parks, and
   the peak of Python/numpy memory of each (tracemalloc): it must not grow with the parks;
5. the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gis.checks.greenery.coverage import CoverageOptions, park_coverage, reach, service_radius
from gis.checks.greenery.network import network_sources, road_network
from gis.crs import WORKING_CRS

X0, Y0 = 440_000.0, 4_830_000.0
CELL, PARCEL = 60.0, 50.0  # 60 m grid, 50 m parcels, 10 m streets


def make_parcels(n: int) -> np.ndarray:
    cols = int(np.ceil(np.sqrt(n * 1.25)))
    k = np.arange(n)
    x = X0 + (k % cols) * CELL
    y = Y0 + (k // cols) * CELL
    return shapely.box(x, y, x + PARCEL, y + PARCEL)


def make_parks(n: int, bounds: tuple[float, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    side = np.sqrt(rng.uniform(400.0, 90_000.0, n) ** rng.uniform(0.6, 1.0, n) * 1.0)
    side = np.clip(side, 20.0, 300.0)
    x = rng.uniform(bounds[0], bounds[2] - side)
    y = rng.uniform(bounds[1], bounds[3] - side)
    return shapely.box(x, y, x + side, y + side * rng.uniform(0.6, 1.4, n))


def make_roads(edges: int, bounds: tuple[float, ...]) -> np.ndarray:
    width, height = bounds[2] - bounds[0], bounds[3] - bounds[1]
    nx_ = max(2, int(np.sqrt(edges / 2 * width / height)) + 1)
    ny_ = max(2, int(edges / 2 / nx_) + 1)
    xs = np.linspace(bounds[0], bounds[2], nx_)
    ys = np.linspace(bounds[1], bounds[3], ny_)
    lines = [shapely.LineString([(x, ys[j]), (x, ys[j + 1])]) for x in xs for j in range(ny_ - 1)]
    lines += [shapely.LineString([(xs[i], y), (xs[i + 1], y)]) for y in ys for i in range(nx_ - 1)]
    return np.array(lines, dtype=object)


def timed(label: str, func: Callable[[], Any], *, trace: bool = False) -> tuple[Any, float]:
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    out = func()
    dt = time.perf_counter() - t0
    peak = ""
    if trace:
        peak = f", Python/numpy peak {tracemalloc.get_traced_memory()[1] / 2**20:,.0f} MiB"
        tracemalloc.stop()
    print(f"{label:<52s} {dt:8.2f} s{peak}")
    return out, dt


def plain_share(parcels: np.ndarray, parks: np.ndarray, radii: np.ndarray) -> float:
    use = radii > 0
    buffers = gpd.GeoSeries(parks[use], crs=WORKING_CRS).buffer(radii[use])  # resolution 16
    union = gpd.GeoDataFrame(geometry=[buffers.union_all()], crs=WORKING_CRS).explode()
    homes = gpd.GeoDataFrame({"pid": np.arange(len(parcels))}, geometry=parcels, crs=WORKING_CRS)
    covered = gpd.overlay(homes, union, how="intersection")
    return float(covered.area.sum() / homes.area.sum())


def linyuan_share(parcels: np.ndarray, parks: np.ndarray, radii: np.ndarray) -> float:
    frac = reach(parcels, parks, radii).fraction
    area = shapely.area(parcels)
    return float((frac * area).sum() / area.sum())


def network_share(
    parcels: np.ndarray, parks: np.ndarray, radii: np.ndarray, roads: np.ndarray
) -> float:
    pts, left = network_sources(parks, radii, road_network(roads))
    return linyuan_share(parcels, pts, left)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parcels", type=int, default=200_000)
    ap.add_argument("--parks", type=int, default=2_000)
    ap.add_argument("--edges", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--skip-plain", action="store_true", help="Do not run the plain way.")
    args = ap.parse_args()

    parcels = make_parcels(args.parcels)
    bounds = tuple(shapely.total_bounds(parcels))
    parks = make_parks(args.parks, bounds, args.seed)
    radii = service_radius(shapely.area(parks), CoverageOptions().radius_classes)
    roads = make_roads(args.edges, bounds)
    print(
        f"{len(parcels):,} parcels, {len(parks):,} parks ({int((radii > 0).sum()):,} with a "
        f"service radius), {len(roads):,} road edges, extent "
        f"{(bounds[2] - bounds[0]) / 1000:.1f} × {(bounds[3] - bounds[1]) / 1000:.1f} km"
    )
    fast, t_fast = timed(
        "Linyuan reach (service measure)", lambda: linyuan_share(parcels, parks, radii)
    )
    homes = gpd.GeoDataFrame(geometry=parcels, crs=WORKING_CRS)
    greens = gpd.GeoDataFrame(geometry=parks, crs=WORKING_CRS)
    timed("Linyuan park_coverage (3 measures + underserved)", lambda: park_coverage(greens, homes))
    print(f"  share covered (Linyuan): {fast:.4%}")
    if not args.skip_plain:
        plain, t_plain = timed(
            "plain: buffer + union + explode + overlay", lambda: plain_share(parcels, parks, radii)
        )
        print(f"  share covered (plain):   {plain:.4%}")
        print(
            f"  difference {abs(fast - plain) * 100:.4f} percentage points; "
            f"speed-up {t_plain / t_fast:.1f}×"
        )
    few = parks[: max(1, len(parks) // 10)]
    few_r = radii[: len(few)]
    share_few, _ = timed(
        f"network coverage, {len(few):,} parks",
        lambda: network_share(parcels, few, few_r, roads),
        trace=True,
    )
    share_all, _ = timed(
        f"network coverage, {len(parks):,} parks",
        lambda: network_share(parcels, parks, radii, roads),
        trace=True,
    )
    print(
        f"  share covered along roads: {share_few:.4%} ({len(few):,} parks), {share_all:.4%} (all)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
