"""Satellite hotspots of the demo scene: a FIRMS VIIRS download, heat sources and their truth.

Planted, each where its kind is unmistakable (a 600 m box around it lies wholly on the land
that makes it that kind):

- a forest fire in the 净月潭 forest park (防火重点区域 一级), detected three times in 14 hours
  by S-NPP, NOAA-20 and NOAA-21 — one event;
- straw burning on cropland in the south, twice on one afternoon — one event;
- a brick kiln on built-up land (in ``heat_sources.gpkg``) seen on two days, 150 m off;
- a hotspot on built-up land with no known source (other);
- one hotspot 3 km east of the city (other, outside the area).

Times are spring 2026 (inside 吉林省's spring fire-prevention period), UTC as FIRMS writes
them. The truth names each row's kind and event (hotspot ids are ``H1`` … in file order:
FIRMS files carry none).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gis.crs import WORKING_CRS
from gis.demo.scene import BOUNDS, protected_polygon

HALF_BOX_M = 300.0
FIRMS_COLUMNS = (
    "latitude",
    "longitude",
    "bright_ti4",
    "scan",
    "track",
    "acq_date",
    "acq_time",
    "satellite",
    "instrument",
    "confidence",
    "version",
    "bright_ti5",
    "frp",
    "daynight",
)

# (truth kind, event, offset from the site in m, UTC time, satellite, frp MW)
PLAN: tuple[tuple[str, str, tuple[float, float], str, str, float], ...] = (
    ("forest_fire", "jingyue_fire", (0.0, 0.0), "2026-04-02 05:12", "N", 12.4),
    ("forest_fire", "jingyue_fire", (150.0, 80.0), "2026-04-02 06:01", "N20", 18.9),
    ("forest_fire", "jingyue_fire", (320.0, 120.0), "2026-04-02 18:40", "N21", 9.7),
    ("agricultural_burning", "straw", (0.0, 0.0), "2026-04-03 05:30", "N20", 4.2),
    ("agricultural_burning", "straw", (200.0, -100.0), "2026-04-03 06:20", "N", 3.1),
    ("industrial", "kiln_day1", (150.0, 0.0), "2026-04-02 05:12", "N", 6.0),
    ("industrial", "kiln_day3", (120.0, 40.0), "2026-04-04 05:05", "N21", 5.5),
    ("other", "built", (0.0, 0.0), "2026-04-05 05:40", "N20", 2.2),
    ("other", "outside", (0.0, 0.0), "2026-04-05 05:40", "N20", 7.5),
)


def _interior(land: Any, where: Any, rng: np.random.Generator) -> shapely.Point:
    """Return a point whose 600 m box lies inside ``land`` and whose centre is in ``where``."""
    inner = shapely.intersection(shapely.buffer(land, -HALF_BOX_M, join_style="mitre"), where)
    x0, y0, x1, y1 = shapely.bounds(inner)
    for _ in range(10_000):
        p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if inner.contains(p):
            return p
    raise ValueError("no interior point found: the demo scene changed")


def _sites(stands: gpd.GeoDataFrame, rng: np.random.Generator) -> dict[str, shapely.Point]:
    def union(*classes: str) -> Any:
        return shapely.union_all(stands.geometry[stands["地类"].isin(classes)].to_numpy())

    scene = shapely.box(*BOUNDS)
    built = union("建设用地")
    kiln = _interior(built, scene, rng)
    other = _interior(built.difference(kiln.buffer(3000.0)), scene, rng)
    return {
        "jingyue_fire": _interior(union("乔木林地"), protected_polygon(), rng),
        "straw": _interior(union("耕地"), scene, rng),
        "kiln_day1": kiln,
        "kiln_day3": kiln,
        "built": other,
        "outside": shapely.Point(BOUNDS[2] + 3000.0, (BOUNDS[1] + BOUNDS[3]) / 2),
    }


def make_hotspots(
    stands: gpd.GeoDataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    """Return the FIRMS VIIRS table, the heat sources and the truth (per hotspot, in order)."""
    sites = _sites(stands, rng)
    xy = np.array([(sites[e].x + dx, sites[e].y + dy) for _, e, (dx, dy), *_ in PLAN])
    lon, lat = Transformer.from_crs(WORKING_CRS, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
    when = pd.to_datetime([p[3] for p in PLAN])
    n = len(PLAN)
    firms = pd.DataFrame(
        {
            "latitude": np.round(lat, 5),
            "longitude": np.round(lon, 5),
            "bright_ti4": np.round(rng.uniform(330, 367, n), 2),
            "scan": np.round(rng.uniform(0.38, 0.5, n), 2),
            "track": np.round(rng.uniform(0.36, 0.45, n), 2),
            "acq_date": when.strftime("%Y-%m-%d"),
            "acq_time": when.strftime("%H%M"),
            "satellite": [p[4] for p in PLAN],
            "instrument": "VIIRS",
            "confidence": "n",
            "version": "2.0NRT",
            "bright_ti5": np.round(rng.uniform(285, 300, n), 2),
            "frp": [p[5] for p in PLAN],
            "daynight": np.where(when.hour < 12, "D", "N"),
        }
    )[list(FIRMS_COLUMNS)]
    sources = gpd.GeoDataFrame(
        {"热源编号": ["RY01"], "企业名称": ["玉潭红砖厂"], "类型": ["砖窑"]},
        geometry=[sites["kiln_day1"]],
        crs=WORKING_CRS,
    )
    truth = pd.DataFrame(
        {
            "hotspot_id": [f"H{i + 1}" for i in range(n)],
            "fire_kind": [p[0] for p in PLAN],
            "event": [p[1] for p in PLAN],  # the kiln's two days are two events (> 24 h)
            "x": xy[:, 0].round(1),
            "y": xy[:, 1].round(1),
        }
    )
    return firms, sources, truth
