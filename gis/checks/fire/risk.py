"""林火险等级 per subcompartment from data the bureau has (rules ``risk`` of ``fire.yaml``).

Points are added per factor and the class read from the total:

- fuel: 优势树种 (conifers high, mixed, broadleaf lower) or, for shrub and open forest land,
  the 地类 (grass and litter burn);
- slope: the mean slope of the subcompartment from the DEM (fire runs uphill);
- distance to the nearest road and village (people bring fire), when those layers are given.

A factor without data adds nothing, and the run table says which factors were used.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from numpy.typing import NDArray
from rasterio import features

from gis.checks.fire.rules import stepped_points
from gis.layers import is_forest_land


def fuel_points(subcompartments: pd.DataFrame, rules: dict[str, Any]) -> pd.Series:
    """Return the fuel points of each subcompartment (0 on non-forest land)."""
    risk = rules["risk"]
    pts = risk["fuel"]
    species = subcompartments.get("dominant_species", pd.Series(None, index=subcompartments.index))
    land = subcompartments.get("land_class", pd.Series(None, index=subcompartments.index))
    out = pd.Series(int(pts["broadleaf"]), index=subcompartments.index)
    out[species.isna()] = int(pts["other"])
    out[species.isin(risk["mixed_species"])] = int(pts["mixed"])
    out[species.isin(risk["conifer_species"])] = int(pts["conifer"])
    shrub = land.isin(risk["shrub_land_classes"]) & species.isna()
    out[shrub] = int(pts["shrub_or_open"])
    out[~land.map(is_forest_land).astype(bool)] = 0
    return out


def slope_degrees(elevation: NDArray[Any], transform: Affine) -> NDArray[np.float32]:
    """Return the slope in degrees of a DEM array (Horn-like central differences; NaN kept).

    Examples
    --------
    >>> z = np.array([[0, 10, 20]] * 3, dtype=float)
    >>> round(float(slope_degrees(z, Affine(10, 0, 0, 0, -10, 0))[1, 1]), 1)
    45.0
    """
    if elevation.shape[0] < 2 or elevation.shape[1] < 2:
        return np.full(elevation.shape, np.nan, dtype=np.float32)
    dy, dx = np.gradient(elevation.astype(np.float32), abs(transform.e), abs(transform.a))
    return np.degrees(np.arctan(np.hypot(dx, dy))).astype(np.float32)


def rasterize_ids(zones: gpd.GeoDataFrame, shape: tuple[int, int], transform: Affine) -> Any:
    """Return an int32 grid of 1-based zone positions (0 outside every zone).

    ``zones`` must be in the grid's CRS; a cell takes the zone under its centre (the last one
    where zones overlap).
    """
    pairs = [(g, i + 1) for i, g in enumerate(zones.geometry) if g is not None and not g.is_empty]
    if not pairs:
        return np.zeros(shape, dtype=np.int32)
    return features.rasterize(pairs, out_shape=shape, transform=transform, fill=0, dtype="int32")


def mean_slope(
    elevation: NDArray[Any], ids: NDArray[Any], n: int, transform: Affine, rows: int = 512
) -> NDArray[np.float64]:
    """Return the mean slope (degrees) per zone of :func:`rasterize_ids` (NaN: no cell).

    The slope is computed strip by strip (``rows`` rows and a one-row halo), so memory holds
    one strip of it, not a second DEM.
    """
    sums = np.zeros(n + 1)
    counts = np.zeros(n + 1)
    height = elevation.shape[0]
    for r0 in range(0, height, rows):
        r1 = min(r0 + rows, height)
        top, bottom = max(r0 - 1, 0), min(r1 + 1, height)
        slope = slope_degrees(elevation[top:bottom], transform)[r0 - top : r0 - top + r1 - r0]
        zone = ids[r0:r1]
        ok = ~np.isnan(slope)
        sums += np.bincount(zone[ok], weights=slope[ok], minlength=n + 1)
        counts += np.bincount(zone[ok], minlength=n + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((sums / counts)[1:], dtype=float)


def nearest_m(geoms: gpd.GeoDataFrame, layer: gpd.GeoDataFrame | None) -> pd.Series:
    """Return the distance (CRS units: metres) from each geometry to the nearest ``layer`` one."""
    if layer is None or layer.empty:
        return pd.Series(np.nan, index=geoms.index)
    near = gpd.sjoin_nearest(geoms[["geometry"]], layer[["geometry"]], how="left", distance_col="d")
    return near.groupby(level=0)["d"].min().reindex(geoms.index)


def risk_classes(
    subcompartments: gpd.GeoDataFrame,
    *,
    rules: dict[str, Any],
    mean_slope: NDArray[Any] | None = None,
    roads: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Return per subcompartment the points per factor, the total and the risk class.

    Columns ``fuel_points``, ``mean_slope_deg``, ``slope_points``, ``road_m``, ``road_points``,
    ``village_m``, ``village_points``, ``risk_points``, ``risk_class`` (1 low … 4 very high),
    ``risk_zh`` and ``risk_en``. Layers must share the subcompartments' CRS (metres).
    """
    risk = rules["risk"]
    out = pd.DataFrame(index=subcompartments.index)
    out["fuel_points"] = fuel_points(subcompartments, rules)
    slope = np.full(len(subcompartments), np.nan) if mean_slope is None else mean_slope
    out["mean_slope_deg"] = slope
    out["road_m"] = nearest_m(subcompartments, roads)
    out["village_m"] = nearest_m(subcompartments, villages)
    for col, steps, key in (("mean_slope_deg", risk["slope_deg"], "min"),
                            ("road_m", risk["road_m"], "max"),
                            ("village_m", risk["village_m"], "max")):  # fmt: skip
        name = col.split("_")[0] if col != "mean_slope_deg" else "slope"
        values = out[col].to_numpy(dtype=float)
        out[f"{name}_points"] = [
            0 if np.isnan(v) else stepped_points(float(v), steps, key) for v in values
        ]
    forest = out["fuel_points"] > 0
    total = out[["fuel_points", "slope_points", "road_points", "village_points"]].sum(axis=1)
    out["risk_points"] = total.where(forest, 0)
    classes = sorted(risk["classes"], key=lambda c: float(c["min_points"]))
    bounds = np.array([float(c["min_points"]) for c in classes])
    idx = np.searchsorted(bounds, out["risk_points"].to_numpy(dtype=float), side="right") - 1
    idx = np.clip(idx, 0, len(classes) - 1)
    out["risk_class"] = [int(classes[i]["code"]) for i in idx]
    out["risk_zh"] = [classes[i]["zh"] for i in idx]
    out["risk_en"] = [classes[i]["en"] for i in idx]
    return out
