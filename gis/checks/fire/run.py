"""The edge of the fire checks: read the inputs, run the pure cores, write the results.

Each command has its own block (``linyuan fire burned``: :func:`run_burned`; ``linyuan fire
coverage``: :func:`run_coverage`). Every frame is built before anything is written; the outputs
go through :mod:`gis.io.outputs` (staged, renamed into place only when all were written).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gis.checks.fire.burned import trace_burned
from gis.checks.fire.coverage import CoverageResult, assess_coverage
from gis.checks.fire.damage import FireDamage, assess_damage
from gis.checks.fire.rules import load_fire_rules
from gis.checks.fire.viewshed import Dem, viewshed_program
from gis.errors import RasterError
from gis.findings import Findings
from gis.io import open_raster, read_layer, write_layers, write_table
from gis.io.outputs import plain_dtypes, plan_outputs, record_inputs, run_table, staged_outputs
from gis.raster import raster_source

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


def _read_layers(
    paths: Mapping[str, PathLike | None], kinds: Mapping[str, str | None], log: Findings
) -> dict[str, gpd.GeoDataFrame | None]:
    frames: dict[str, gpd.GeoDataFrame | None] = {}
    for role, path in paths.items():
        frames[role] = None if path is None else read_layer(path, kind=kinds[role], findings=log)
    return frames


def _write(
    outputs: Mapping[str, Path],
    layers: Mapping[str, pd.DataFrame],
    sheets: Mapping[str, pd.DataFrame],
    headers: Mapping[str, str],
    *,
    overwrite: bool,
) -> dict[str, Path]:
    """Write the GeoPackage layers and, when asked, the XLSX sheets (first sheet is the main)."""
    with staged_outputs(outputs, overwrite=overwrite) as stage:
        write_layers(stage["gpkg"], layers)
        if "xlsx" in stage:
            (name, main), *rest = sheets.items()
            write_table(
                plain_dtypes(main),
                stage["xlsx"],
                headers=headers,
                sheet_name=name,
                summary={k: plain_dtypes(v) for k, v in rest},
            )
    return dict(outputs)


# ---------------------------------------------------------------------------------------------
# linyuan fire burned — 火场面积、受害森林面积与火灾等级 (issue 19, part 2)
# ---------------------------------------------------------------------------------------------

BURNED_KINDS = {
    "subcompartments": "subcompartments",
    "districts": "districts",
    "forest_chiefs": "forest_chief_zones",
}
"""Input role → catalog layer kind of ``fire burned``."""

BURNED_HEADERS = {
    "zh": {
        "item": "项目",
        "value": "数值",
        "unit": "单位",
        "note": "说明",
        "scar_id": "火场编号",
        "stand_id": "小班标识码",
        "district": "行政区",
        "township": "乡镇",
        "forest_chief": "林长",
        "land_class": "地类",
        "dominant_species": "优势树种",
        "is_forest_land": "是否林地",
        "fire_area_ha": "火场面积（公顷）",
        "fire_area_mu": "火场面积（亩）",
        "forest_area_ha": "受害森林面积（公顷）",
        "forest_area_mu": "受害森林面积（亩）",
        "grade_zh": "火灾等级",
        "grade_en": "火灾等级（英文）",
        **{f"severity{c}_ha": f"烈度{c}面积（公顷）" for c in range(2, 6)},
    },
    "en": {},
}
"""XLSX headers of the ``fire burned`` tables (English keeps the column names)."""


@dataclass
class BurnedRun:
    """What :func:`run_burned` did: the damage tables, run metadata and the files written."""

    damage: FireDamage
    run: dict[str, Any]
    findings: Findings
    outputs: dict[str, Path] = field(default_factory=dict)


def run_burned(
    *,
    before: PathLike,
    after: PathLike,
    out: PathLike,
    subcompartments: PathLike | None = None,
    districts: PathLike | None = None,
    forest_chiefs: PathLike | None = None,
    sensor: str = "generic",
    bands: str | None = None,
    before_mask: PathLike | None = None,
    after_mask: PathLike | None = None,
    rules: PathLike | None = None,
    xlsx: PathLike | None = None,
    overwrite: bool = False,
    lang: str = "zh",
    findings: Findings | None = None,
) -> BurnedRun:
    """Map the burned area of a before/after pair and write 火场面积, 受害森林面积 and the grade.

    Writes the GeoPackage layers ``fire_report`` (the 森林火灾 report table), ``fire_scars``,
    ``burn_severity``, ``burned_by_subcompartment``, ``burned_by_district``,
    ``burned_by_forest_chief``, ``findings`` and ``run``; the XLSX has the same tables.

    Raises
    ------
    gis.errors.GisError
        Unreadable input, rasters on different grids or without NIR/SWIR2, bad rules,
        existing output without ``overwrite``.
    """
    log = findings if findings is not None else Findings()
    outputs = plan_outputs({"gpkg": out, "xlsx": xlsx}, overwrite=overwrite)
    ruleset = load_fire_rules(rules)
    paths = {"subcompartments": subcompartments, "districts": districts}
    frames = _read_layers(paths | {"forest_chiefs": forest_chiefs}, BURNED_KINDS, log)
    pair = [
        raster_source(p, sensor=sensor, bands=bands, mask=m, findings=log)
        for p, m in ((before, before_mask), (after, after_mask))
    ]
    burned = trace_burned(*pair, min_pixels=int(ruleset["burned"]["min_pixels"]), findings=log)
    damage = assess_damage(burned, rules=ruleset, lang=lang, findings=log, **frames)
    run: dict[str, Any] = {"tool": "linyuan fire burned", "tallies": burned.tallies}
    run["grade"] = {k: v for k, v in damage.grade.items() if k in ("code", "zh", "en")}
    record_inputs(run, {**paths, "forest_chiefs": forest_chiefs, "before": before, "after": after,
                        "before_mask": before_mask, "after_mask": after_mask,
                        "rules": ruleset["source"]})  # fmt: skip
    layers = {
        "fire_report": damage.report,
        "fire_scars": damage.scars,
        "burn_severity": damage.severity,
        "burned_by_subcompartment": damage.by_subcompartment,
        "burned_by_district": damage.by_district,
        "burned_by_forest_chief": damage.by_forest_chief,
        "findings": log.to_frame(lang=lang),
        "run": run_table(run),
    }
    zh = lang == "zh"
    sheets = {
        ("森林火灾报告" if zh else "Fire report"): damage.report,
        ("火场" if zh else "Scars"): pd.DataFrame(damage.scars.drop(columns="geometry")),
        ("小班" if zh else "Subcompartments"): damage.by_subcompartment,
        ("行政区" if zh else "Districts"): damage.by_district,
        ("林长" if zh else "Forest chiefs"): damage.by_forest_chief,
    }
    written = _write(outputs, layers, sheets, BURNED_HEADERS[lang], overwrite=overwrite)
    return BurnedRun(damage, run, log, written)


# ---------------------------------------------------------------------------------------------
# linyuan fire coverage — 瞭望塔/视频监控覆盖、盲区与林火险等级 (issue 19, part 3)
# ---------------------------------------------------------------------------------------------

COVERAGE_KINDS: dict[str, str | None] = {
    "towers": None,
    "subcompartments": "subcompartments",
    "fire_zones": "fire_zones",
    "roads": None,
    "villages": "villages",
}
"""Input role → catalog layer kind of ``fire coverage`` (towers and roads: no kind yet)."""

COVERAGE_HEADERS = {
    "zh": {
        "item": "项目",
        "value": "数值",
        "rank": "排序",
        "blind_id": "盲区编号",
        "risk_class": "火险等级",
        "risk_zh": "火险等级名称",
        "area_ha": "面积（公顷）",
        "area_mu": "面积（亩）",
        "zone_id": "区域编号",
        "name": "区域名称",
        "fire_level": "防火等级",
        "seen_share": "可视比例",
        "forest_seen_share": "林地可视比例",
        "stand_id": "小班标识码",
        "fuel_points": "可燃物得分",
        "mean_slope_deg": "平均坡度（度）",
        "slope_points": "坡度得分",
        "road_m": "距道路（米）",
        "road_points": "道路得分",
        "village_m": "距村屯（米）",
        "village_points": "村屯得分",
        "risk_points": "火险总分",
        "tower_id": "塔号",
        "height_m": "架设高度（米）",
        "range_m": "监测半径（米）",
        "on_dem": "在DEM内",
        "ground_m": "地面高程（米）",
    },
    "en": {},
}
"""XLSX headers of the ``fire coverage`` tables."""


@dataclass
class CoverageRun:
    """What :func:`run_coverage` did: the result, its findings and the files written."""

    result: CoverageResult
    findings: Findings
    outputs: dict[str, Path] = field(default_factory=dict)


def read_dem(path: PathLike) -> tuple[Dem, NDArray[np.float32]]:
    """Open the DEM: its grid facts and its first band as float32 (NaN at nodata)."""
    with open_raster(path) as ds:
        if ds.crs is None:
            raise RasterError(
                f"DEM {path} has no CRS; set it with gdal_edit.py -a_srs EPSG:… (metres)"
            )
        band = ds.read(1, out_dtype="float32")
        invalid = ds.read_masks(1) == 0
        band[invalid] = np.nan
        del invalid
        dem = Dem(os.fspath(path), ds.crs.to_wkt(), ds.transform, ds.width, ds.height)
    return dem, band


def run_coverage(
    *,
    dem: PathLike,
    towers: PathLike,
    subcompartments: PathLike,
    out: PathLike,
    fire_zones: PathLike | None = None,
    roads: PathLike | None = None,
    villages: PathLike | None = None,
    rules: PathLike | None = None,
    xlsx: PathLike | None = None,
    threads: int = 2,
    overwrite: bool = False,
    lang: str = "zh",
    findings: Findings | None = None,
) -> CoverageRun:
    """Compute lookout coverage, blind areas and risk classes; write them.

    GeoPackage layers ``coverage_summary``, ``fire_zone_coverage``, ``blind_areas``,
    ``subcompartment_risk``, ``towers``, ``findings`` and ``run``.

    Raises
    ------
    gis.errors.GisError
        Unreadable input, DEM not in metres, ``gdal_viewshed`` missing, existing output.
    """
    log = findings if findings is not None else Findings()
    outputs = plan_outputs({"gpkg": out, "xlsx": xlsx}, overwrite=overwrite)
    ruleset = load_fire_rules(rules)
    viewshed_program()  # refuse at once, before reading anything, when GDAL's program is absent
    paths = {"towers": towers, "subcompartments": subcompartments, "fire_zones": fire_zones,
             "roads": roads, "villages": villages}  # fmt: skip
    frames = _read_layers(paths, COVERAGE_KINDS, log)
    grid, elevation = read_dem(dem)
    tower_frame, subs = frames.pop("towers"), frames.pop("subcompartments")
    assert tower_frame is not None and subs is not None
    result = assess_coverage(
        grid, elevation, tower_frame, subs, rules=ruleset, threads=threads, findings=log,
        **frames,
    )  # fmt: skip
    result.run["tool"] = "linyuan fire coverage"
    record_inputs(result.run, {**paths, "dem": dem, "rules": ruleset["source"]})
    layers = {
        "coverage_summary": result.summary,
        "fire_zone_coverage": result.zones,
        "blind_areas": result.blind,
        "subcompartment_risk": result.subcompartments,
        "towers": result.towers,
        "findings": log.to_frame(lang=lang),
        "run": run_table(result.run),
    }
    zh = lang == "zh"
    sheets = {
        ("覆盖汇总" if zh else "Summary"): result.summary,
        ("盲区" if zh else "Blind areas"): pd.DataFrame(result.blind.drop(columns="geometry")),
        ("防火重点区域" if zh else "Fire zones"): result.zones,
        ("小班火险" if zh else "Subcompartment risk"): pd.DataFrame(
            result.subcompartments.drop(columns="geometry")
        ),
        ("塔位" if zh else "Towers"): pd.DataFrame(result.towers.drop(columns="geometry")),
    }
    written = _write(outputs, layers, sheets, COVERAGE_HEADERS[lang], overwrite=overwrite)
    return CoverageRun(result, log, written)
