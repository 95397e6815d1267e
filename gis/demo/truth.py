"""Truth for the greening layers of the demo: the KPI and coverage figures a check should get.

Definitions (so that a check can be compared exactly):

- greenway lengths in km on the ellipsoid (:func:`gis.units.length_km`), per status, city-wide;
- parks counted per category and district (district = the one holding the park's
  representative point); 游园 built in 2024 counted as new pocket parks;
- villages: ``已完成`` are done, every village listed is tasked;
- coverage: residential land within a straight-line distance of a park boundary — 300 m of any
  park ≥ 400 m² (``green_300m``), 500 m of any park ≥ 1 ha (``park_500m``), all parks whatever
  their status; as an area share (``*_area_share``: covered residential area / residential
  area) and as a population share (``*_pop_share``: population spread evenly over each
  residential polygon).

Examples
--------
>>> import geopandas as gpd, shapely
>>> homes = gpd.GeoDataFrame({"人口": [100, 100]}, geometry=[shapely.box(0, 0, 100, 100),
...     shapely.box(1000, 0, 1100, 100)], crs=4551)
>>> parks = gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.box(0, 200, 200, 300)], crs=4551)
>>> covered_shares(homes, parks, radius_m=500.0, min_area_m2=10_000.0)
(0.5, 0.5)
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.units import area_m2, length_km


def covered_shares(
    residential: gpd.GeoDataFrame,
    parks: gpd.GeoDataFrame,
    *,
    radius_m: float,
    min_area_m2: float,
) -> tuple[float, float]:
    """Return (area share, population share) of residential land within ``radius_m`` of a park.

    Parameters
    ----------
    residential : GeoDataFrame
        Residential polygons with a ``人口`` column, in the working CRS.
    parks : GeoDataFrame
        Park polygons, same CRS.
    radius_m : float
        Metres, straight line from the park boundary.
    min_area_m2 : float
        Parks smaller than this do not count.
    """
    big = parks.geometry[area_m2(parks) >= min_area_m2]
    reach = shapely.union_all(big.buffer(radius_m).to_numpy())
    geoms = residential.geometry.to_numpy()
    share = shapely.area(shapely.intersection(geoms, reach)) / shapely.area(geoms)
    pop = residential["人口"].to_numpy(dtype="f8")
    area_share = float(np.sum(shapely.area(geoms) * share) / np.sum(shapely.area(geoms)))
    return round(area_share, 6), round(float(np.sum(pop * share) / np.sum(pop)), 6)


def greenery_truth(
    greenways: gpd.GeoDataFrame,
    parks: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    residential: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Return the expected greening figures: one row per (indicator, district, value, unit)."""
    rows: list[tuple[str, str, float, str]] = []
    km = length_km(greenways)
    for status in ("已建成", "在建", "规划"):
        total = float(km[(greenways["建设状态"] == status).to_numpy()].sum())
        rows.append((f"greenway_km_{status}", "全市", round(total, 4), "km"))
    for (district, category), n in parks.groupby(["行政区", "公园类别"]).size().items():
        rows.append((f"parks_{category}", str(district), float(n), "count"))
    rows.append(
        ("parks_under_construction", "全市", float((parks["建设状态"] == "在建").sum()), "count")
    )
    rows.append(
        ("parks_open_for_sharing", "全市", float((parks["开放共享"] == "是").sum()), "count")
    )
    new_pocket = (parks["公园类别"] == "游园") & (parks["建成年份"] == 2024)
    rows.append(("pocket_parks_new_2024", "全市", float(new_pocket.sum()), "count"))
    rows.append(("villages_tasked", "全市", float(len(villages)), "count"))
    rows.append(("villages_done", "全市", float((villages["完成情况"] == "已完成").sum()), "count"))
    rows.append(
        ("villages_demonstration", "全市", float((villages["示范村屯"] == "是").sum()), "count")
    )
    for name, radius, size in (("green_300m", 300.0, 400.0), ("park_500m", 500.0, 10_000.0)):
        a, p = covered_shares(residential, parks, radius_m=radius, min_area_m2=size)
        rows.extend(
            [(f"{name}_area_share", "全市", a, "frac"), (f"{name}_pop_share", "全市", p, "frac")]
        )
    return pd.DataFrame(rows, columns=["indicator", "district", "value", "unit"])
