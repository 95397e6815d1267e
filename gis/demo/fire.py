"""Demo inputs of the fire checks, built beside a demo scene, with their truth.

- A 6-band (B,G,R,NIR,SWIR1,SWIR2) 20 m before/after pair over a planted fire: a disc of
  :data:`FIRE_RADIUS_M` centred in the largest forest subcompartment of the scene, burned
  hardest at its centre. Truth: 火场面积 (the disc) and 受害森林面积 (the disc on forest land).
- A 20 m DEM over the same window: a 150 m plain cut by a 400 m north-south wall east of the
  fire, and three lookout towers west of the wall, plus one off the DEM. Truth: the forest land
  of the window is seen where it lies within a tower's range and not behind the wall; the rest
  is blind.

Separate seeded generator: the scene's own files are untouched (their results stay equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from rasterio.transform import from_origin

from gis.io import read_layer, write_geotiff, write_layer
from gis.layers import is_forest_land
from gis.units import area_ha

FIRE_RADIUS_M = 400.0
"""Radius of the planted fire (≈ 50 ha)."""

RES_M = 20.0
HALF_M = 3000.0
"""The pair and the DEM cover ±3 km around the fire's centre."""

BANDS = ("B", "G", "R", "NIR", "SWIR1", "SWIR2")
"""Band order of the pair."""

WALL_OFFSET_M = 1000.0
"""The wall stands this far east of the fire's centre, 100 m wide."""


@dataclass
class FireDemo:
    """Files of the fire demo and their truth (areas in ha, working CRS)."""

    before: Path
    after: Path
    dem: Path
    towers: Path
    truth: dict[str, Any]


def _centre(subs: gpd.GeoDataFrame) -> shapely.Point:
    forest = subs[subs["land_class"].map(is_forest_land).astype(bool)]
    largest = forest.geometry.area.idxmax()
    return forest.geometry.loc[largest].representative_point()


def _pair(seed: int, x0: float, y0: float, n: int, centre: shapely.Point) -> Any:
    rows, cols = np.mgrid[0:n, 0:n]
    x, y = x0 + (cols + 0.5) * RES_M, y0 - (rows + 0.5) * RES_M
    r = np.hypot(x - centre.x, y - centre.y)
    depth = np.where(r <= FIRE_RADIUS_M, 1.0 - 0.8 * r / FIRE_RADIUS_M, 0.0)
    rng = np.random.default_rng(seed + 19)
    base = np.array([400, 600, 500, 3200, 1800, 900], dtype=float)[:, None, None]
    before = np.broadcast_to(base, (6, n, n)) + rng.normal(0, 25, (6, n, n))
    after = np.broadcast_to(base, (6, n, n)) + rng.normal(0, 25, (6, n, n))
    after[3] -= 2000 * depth
    after[5] += 1600 * depth
    return [np.clip(a, 1, 10000).astype("uint16") for a in (before, after)]


def build_fire_demo(scene: Any, *, overwrite: bool = False) -> FireDemo:
    """Write the fire demo inputs under ``scene.out_dir / "fire"`` and return them with truth."""
    out = Path(scene.out_dir) / "fire"
    subs = read_layer(scene.layers["subcompartments"], kind="subcompartments")
    centre = _centre(subs)
    n = int(2 * HALF_M / RES_M)
    x0, y0 = centre.x - HALF_M, centre.y + HALF_M
    transform, crs = from_origin(x0, y0, RES_M, RES_M), subs.crs
    paths = {k: out / f"{k}.tif" for k in ("before", "after", "dem")}
    for key, data in zip(("before", "after"), _pair(scene.seed, x0, y0, n, centre), strict=True):
        write_geotiff(
            paths[key], data, transform=transform, crs=crs, nodata=0, band_names=BANDS,
            overwrite=overwrite,
        )  # fmt: skip
    wall_x = centre.x + WALL_OFFSET_M
    z = np.full((n, n), 150.0, dtype=np.float32)
    c0 = int((wall_x - x0) / RES_M)
    z[:, c0 : c0 + 5] = 400.0
    write_geotiff(paths["dem"], z, transform=transform, crs=crs, nodata=-9999.0,
                  overwrite=overwrite)  # fmt: skip
    towers = gpd.GeoDataFrame(
        {"tower_id": ["L1", "L2", "L3", "L4"], "height_m": [25.0, 25.0, 25.0, 25.0],
         "range_m": [2500.0, 2500.0, 2500.0, 2500.0]},
        geometry=[shapely.Point(centre.x - 500, centre.y + dy) for dy in (-1500, 0, 1500)]
        + [shapely.Point(centre.x + 2 * HALF_M, centre.y)],  # off the DEM
        crs=crs,
    )  # fmt: skip
    towers_path = out / "towers.gpkg"
    write_layer(towers, towers_path, layer="towers", overwrite=overwrite)
    truth = _truth(subs, centre, x0, y0, c0, towers)
    return FireDemo(paths["before"], paths["after"], paths["dem"], towers_path, truth)


def _truth(
    subs: gpd.GeoDataFrame,
    centre: shapely.Point,
    x0: float,
    y0: float,
    c0: int,
    towers: gpd.GeoDataFrame,
) -> dict[str, Any]:
    disc = gpd.GeoSeries([centre.buffer(FIRE_RADIUS_M, 256)], crs=subs.crs)
    forest = subs[subs["land_class"].map(is_forest_land).astype(bool)]
    forest_union = forest.geometry.union_all()
    burned_forest = disc.intersection(forest_union)
    window = shapely.box(x0, y0 - 2 * HALF_M, x0 + 2 * HALF_M, y0)
    # seen: up to the wall's face (its first column); its flat top beyond is below the sight line
    front = shapely.box(x0, y0 - 2 * HALF_M, x0 + (c0 + 1) * RES_M, y0)
    on_dem = towers[towers.within(window)]
    reach = shapely.union_all(
        [p.buffer(r, 256) for p, r in zip(on_dem.geometry, on_dem["range_m"], strict=True)]
    )
    seen = reach.intersection(front)
    blind = gpd.GeoSeries([forest_union.intersection(window).difference(seen)], crs=subs.crs)
    return {
        "fire_area_ha": float(area_ha(disc)[0]),
        "forest_area_ha": float(area_ha(burned_forest)[0]),
        "blind_forest_ha": float(area_ha(blind)[0]),
        "towers_off_dem": ["L4"],
    }
