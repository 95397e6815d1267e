"""Lookout and camera coverage for the fire-prevention plan (瞭望覆盖与盲区).

From a DEM, towers/cameras (height, range) and the subcompartments: the share of forest land and
of each 防火重点区域 seen by at least one tower (:func:`gis.checks.fire.viewshed.seen_count`,
GDAL's viewshed with curvature and refraction), the blind forest areas ranked by risk class and
size, and a risk class per subcompartment (:mod:`gis.checks.fire.risk`).

Everything is counted on the DEM's grid (cells whose centre lies in a polygon); areas shown in
ha are the polygons' own areas in the working CRS (:mod:`gis.units`), shares come from cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from rasterio import features
from scipy import ndimage

from gis.checks.fire.risk import mean_slope, rasterize_ids, risk_classes
from gis.checks.fire.viewshed import Dem, Tower, seen_count, to_cell
from gis.crs import crs_label
from gis.errors import RasterError
from gis.findings import Findings
from gis.layers import canonicalize, is_forest_land, label
from gis.progress import step
from gis.units import area_ha, area_mu

TOWER_FIELDS = ("tower_id", "height_m", "range_m")
"""Tower fields, canonical names of the catalog kind ``lookout_towers`` (its aliases: 塔高,
监控半径 …, renamed when the layer is read)."""

FOUR = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
"""4-connectivity (as :func:`rasterio.features.shapes` traces polygons)."""


@dataclass
class CoverageResult:
    """What :func:`assess_coverage` found (frames in the working CRS)."""

    towers: gpd.GeoDataFrame
    summary: pd.DataFrame
    zones: pd.DataFrame
    blind: gpd.GeoDataFrame
    subcompartments: gpd.GeoDataFrame
    run: dict[str, Any] = field(default_factory=dict)


def tower_table(towers: gpd.GeoDataFrame, rules: dict[str, Any], log: Findings) -> pd.DataFrame:
    """Return ``tower_id``, ``height_m``, ``range_m`` per tower (rules' defaults where missing)."""
    cov = rules["coverage"]
    defaults = {
        "height_m": float(cov["default_height_m"]),
        "range_m": float(cov["default_range_m"]),
    }
    towers = canonicalize(towers, "lookout_towers")  # read_layer did it already: a no-op then
    out = pd.DataFrame(index=towers.index)
    for name in TOWER_FIELDS:
        if name in towers:
            out[name] = (
                towers[name] if name == "tower_id" else pd.to_numeric(towers[name], "coerce")
            )
        elif name == "tower_id":
            out[name] = [f"T{i + 1}" for i in range(len(towers))]
        else:
            out[name] = np.nan
    for name, value in defaults.items():
        missing = out[name].isna() | (out[name] <= 0)
        heading = label(name, kind="lookout_towers")
        if missing.any():
            log.add(
                f"tower_{name}_default",
                f"{int(missing.sum())} tower(s) have no {name} ({heading}): {value:g} m from "
                "the rules is used",
                source="towers",
                field=name,
                zh=f"{int(missing.sum())} 座塔/摄像头缺少{name}字段：采用规则默认值 {value:g} 米",
            )
            out.loc[missing, name] = value
    out["tower_id"] = out["tower_id"].astype(str)
    return out


def _check_dem(dem: Dem) -> CRS:
    crs = CRS.from_wkt(dem.crs_wkt) if dem.crs_wkt else None
    if crs is None or not crs.is_projected:
        name = crs_label(crs, "en") if crs else "none"
        raise RasterError(
            f"DEM {dem.path} is not in a projected CRS in metres ({name}); "
            "the viewshed needs metres: gdalwarp -t_srs EPSG:4551 -tr 10 10 dem.tif dem_m.tif",
            zh=f"DEM {dem.path} 不是以米为单位的投影坐标系（{crs_label(crs) if crs else '无'}）；"
            "视域分析需要米制：`gdalwarp -t_srs EPSG:4551 -tr 10 10 dem.tif dem_m.tif`",
        )
    return crs


def place_towers(
    towers: gpd.GeoDataFrame,
    dem: Dem,
    elevation: NDArray[Any],
    rules: dict[str, Any],
    log: Findings,
) -> tuple[gpd.GeoDataFrame, list[Tower]]:
    """Take the towers into the DEM's CRS; exclude (with a finding) those off the DEM."""
    crs = _check_dem(dem)
    table = tower_table(towers, rules, log)
    if towers.crs is not None and not CRS(towers.crs).equals(crs):
        log.add(
            "towers_reprojected",
            f"the DEM is in {crs_label(crs, 'en')}, the towers in {crs_label(towers.crs, 'en')}: "
            "the towers are reprojected into the DEM's CRS (the DEM is never resampled)",
            severity="info",
            source=dem.path,
            zh=f"DEM 的坐标系为 {crs_label(crs)}，塔位为 {crs_label(towers.crs)}："
            "塔位已投影到 DEM 的坐标系（DEM 不重采样）",
        )
    pts = towers.geometry.to_crs(crs) if towers.crs is not None else towers.geometry
    xs, ys = pts.x.to_numpy(), pts.y.to_numpy()
    cols, rows = to_cell(dem.transform, xs, ys)
    rows, cols = np.floor(rows).astype(int), np.floor(cols).astype(int)
    inside = (rows >= 0) & (rows < dem.height) & (cols >= 0) & (cols < dem.width)
    ground = np.full(len(xs), np.nan)
    ground[inside] = elevation[rows[inside], cols[inside]]
    on_dem = inside & ~np.isnan(ground)
    for tid in table["tower_id"][~on_dem]:
        log.add(
            "tower_off_dem",
            f"tower {tid} lies outside the DEM (or on its nodata): it is left out of the coverage",
            source="towers",
            feature=tid,
            zh=f"塔/摄像头 {tid} 位于 DEM 范围之外（或无数据处）：不参与覆盖计算",
        )
    frame = gpd.GeoDataFrame(table.assign(on_dem=on_dem, ground_m=ground), geometry=towers.geometry)
    used = [
        Tower(str(tid), float(x), float(y), float(h), float(r))
        for tid, h, r, x, y, ok in zip(
            table["tower_id"], table["height_m"], table["range_m"], xs, ys, on_dem, strict=True
        )
        if ok
    ]
    return frame, used


def _shares(seen: NDArray[Any], mask: NDArray[np.bool_], ids: NDArray[Any], n: int) -> Any:
    """Per id (1..n): cells under ``mask`` and those seen."""
    cells = np.bincount(ids[mask], minlength=n + 1)[1:]
    seen_cells = np.bincount(ids[mask & (seen > 0)], minlength=n + 1)[1:]
    return cells, seen_cells


def _share(seen_cells: Any, cells: Any) -> Any:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cells > 0, seen_cells / np.maximum(cells, 1), np.nan)


def zone_coverage(
    zones: gpd.GeoDataFrame | None,
    seen: NDArray[Any],
    forest: NDArray[np.bool_],
    dem: Dem,
) -> pd.DataFrame:
    """Per 防火重点区域: share of its cells and of its forest cells seen by a tower."""
    cols = ["zone_id", "name", "fire_level", "area_ha", "seen_share", "forest_seen_share"]
    if zones is None or zones.empty:
        return pd.DataFrame(columns=cols)
    ids = rasterize_ids(zones.to_crs(CRS.from_wkt(dem.crs_wkt)), seen.shape, dem.transform)
    n = len(zones)
    cells, seen_cells = _shares(seen, ids > 0, ids, n)
    fcells, fseen = _shares(seen, forest & (ids > 0), ids, n)
    out = pd.DataFrame({c: zones[c].to_numpy() if c in zones else None for c in cols[:3]})
    out["area_ha"] = area_ha(zones)
    out["seen_share"] = _share(seen_cells, cells)
    out["forest_seen_share"] = _share(fseen, fcells)
    return out


def blind_areas(
    forest: NDArray[np.bool_],
    seen: NDArray[Any],
    stand_risk: NDArray[Any],
    dem: Dem,
    working_crs: Any,
    min_ha: float,
) -> tuple[gpd.GeoDataFrame, dict[str, float]]:
    """Blind forest areas (forest cells no tower sees), ranked by risk class then size.

    ``stand_risk`` is the risk class on the grid (0 outside forest). Areas under ``min_ha``
    are counted in the returned totals but not listed.
    """
    blind = forest & (seen == 0)
    labels, n = ndimage.label(blind, structure=FOUR)
    risk: Any = np.asarray(ndimage.maximum(stand_risk, labels, np.arange(1, n + 1))) if n else []
    pairs = features.shapes(labels, mask=blind, transform=dem.transform, connectivity=4)
    traced = [(shapely.geometry.shape(g), int(v)) for g, v in pairs]
    frame = gpd.GeoDataFrame(
        {"label": [v for _, v in traced]},
        geometry=[g for g, _ in traced],
        crs=CRS.from_wkt(dem.crs_wkt),
    ).to_crs(working_crs)
    frame["risk_class"] = [int(risk[i - 1]) for i in frame["label"]] if n else []
    frame["area_ha"] = area_ha(frame) if len(frame) else []
    frame["area_mu"] = area_mu(frame) if len(frame) else []
    totals = {"blind_ha": float(frame["area_ha"].sum()), "blind_areas": len(frame)}
    listed = frame[frame["area_ha"] >= min_ha]
    listed = listed.sort_values(["risk_class", "area_ha"], ascending=False, ignore_index=True)
    listed.insert(0, "rank", np.arange(1, len(listed) + 1))
    listed.insert(1, "blind_id", [f"B{i:04d}" for i in listed["rank"]])
    totals["listed"] = len(listed)
    return listed.drop(columns="label"), totals


def _empty_coverage(log: Findings, *, forest_cells: bool, towers_used: int) -> None:
    """Add the error findings of a coverage that cannot mean anything (nothing to see with)."""
    if not forest_cells:
        log.add("no_forest_cells", "no forest land lies on the DEM: the coverage is empty",
                severity="error", zh="DEM 范围内没有林地：覆盖率无法计算")  # fmt: skip
    if towers_used == 0:
        log.add(
            "no_tower_on_dem",
            "no tower or camera lies on the DEM, so nothing is seen: give the DEM that covers "
            "the towers (or the towers of the DEM's area)",
            severity="error",
            source="towers",
            zh="没有一座瞭望塔/摄像头位于 DEM 范围内，覆盖率为 0 没有意义：请提供覆盖塔位的 DEM",
        )


def assess_coverage(
    dem: Dem,
    elevation: NDArray[Any],
    towers: gpd.GeoDataFrame,
    subcompartments: gpd.GeoDataFrame,
    *,
    rules: dict[str, Any],
    fire_zones: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
    threads: int = 2,
    findings: Findings | None = None,
) -> CoverageResult:
    """Return the coverage of forest land and fire zones, blind areas and risk classes.

    ``elevation`` is the DEM's band (NaN at nodata); layers are in the working CRS.

    Raises
    ------
    gis.checks.fire.viewshed.ViewshedUnavailableError
        ``gdal_viewshed`` is not installed.
    gis.errors.RasterError
        The DEM is not in a projected CRS.
    """
    log = findings if findings is not None else Findings()
    cov = rules["coverage"]
    tower_frame, used = place_towers(towers, dem, elevation, rules, log)
    with step("lookout viewsheds", zh="瞭望塔视域") as progress:
        seen = seen_count(
            dem,
            used,
            curvature=float(cov["curvature_coefficient"]),
            target_height_m=float(cov["target_height_m"]),
            threads=threads,
            progress=progress,
        )
    dem_crs = CRS.from_wkt(dem.crs_wkt)
    subs_dem = subcompartments.to_crs(dem_crs)
    ids = rasterize_ids(subs_dem, seen.shape, dem.transform)
    n = len(subcompartments)
    forest_flag = subcompartments["land_class"].map(is_forest_land).astype(bool).to_numpy()
    forest = np.concatenate([[False], forest_flag])[ids]
    slope = mean_slope(elevation, ids, n, dem.transform)
    risk = risk_classes(subcompartments, rules=rules, mean_slope=slope, roads=roads,
                        villages=villages)  # fmt: skip
    cells, seen_cells = _shares(seen, ids > 0, ids, n)
    subs = subcompartments.join(risk)
    subs["seen_share"] = _share(seen_cells, cells)
    subs["is_forest_land"] = forest_flag
    lut = np.concatenate([[0], risk["risk_class"].to_numpy()]).astype(np.uint8)
    stand_risk = np.where(forest, lut[ids], np.uint8(0))
    blind, totals = blind_areas(
        forest, seen, stand_risk, dem, subcompartments.crs, float(cov["min_blind_ha"])
    )
    zones = zone_coverage(fire_zones, seen, forest, dem)
    share = float((forest & (seen > 0)).sum() / max(1, forest.sum()))
    forest_ha = float(area_ha(subcompartments[forest_flag]).sum()) if forest_flag.any() else 0.0
    summary = {
        "towers": len(tower_frame),
        "towers_used": len(used),
        "forest_area_ha": forest_ha,
        "forest_seen_share": share,
        "forest_seen_ha": share * forest_ha,
        **totals,
    }
    _empty_coverage(log, forest_cells=bool(forest.any()), towers_used=len(used))
    run = {"coverage": summary, "params": dict(cov)}
    table = pd.DataFrame([{"item": k, "value": v} for k, v in summary.items()])
    return CoverageResult(tower_frame, table, zones, blind, subs, run)
