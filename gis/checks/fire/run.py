"""The edge of the fire checks: read the inputs, run the pure cores, write the results.

Each command has its own block: ``linyuan fire hotspots`` → :func:`run_hotspot_check`
(卫星热点核查); ``linyuan fire burned`` → :func:`run_burned`; ``linyuan fire coverage`` →
:func:`run_coverage`. Every frame is built before anything is written; the outputs go through
:mod:`gis.io.outputs` (staged beside each target, renamed into place only when all of them were
written, so a failed run leaves no partial output).
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
from gis.checks.fire.hotspots import HotspotCheckResult, check_hotspots
from gis.checks.fire.rules import load_fire_rules
from gis.checks.fire.seasons import load_seasons
from gis.checks.fire.triage import load_hotspot_rules
from gis.checks.fire.viewshed import Dem, viewshed_program
from gis.findings import Findings
from gis.io import distinct_headers, open_raster, read_layers, write_layers, write_table
from gis.io.outputs import plain_dtypes, plan_outputs, record_inputs, run_table, staged_outputs
from gis.layers import codes_as_text, label
from gis.maps.kml import export_results_kml
from gis.raster import image_specs
from gis.raster.source import raster_crs_wkt

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


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
        "burned_pixels": "过火像元数",
        "mean_dnbr": "平均dNBR",
        "mean_rdnbr": "平均RdNBR（相对dNBR）",
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
    sensor: str | None = None,
    bands: str | None = None,
    before_mask: PathLike | None = None,
    after_mask: PathLike | None = None,
    rules: PathLike | None = None,
    xlsx: PathLike | None = None,
    overwrite: bool = False,
    lang: str = "zh",
    findings: Findings | None = None,
    engine: str = "pyogrio",
    before_sensor: str | None = None,
    after_sensor: str | None = None,
    before_bands: str | None = None,
    after_bands: str | None = None,
) -> BurnedRun:
    """Map the burned area of a before/after pair and write 火场面积, 受害森林面积 and the grade.

    Writes the GeoPackage layers ``fire_report`` (the 森林火灾 report table), ``fire_scars``,
    ``burn_severity``, ``burned_by_subcompartment``, ``burned_by_district``,
    ``burned_by_forest_chief``, ``findings`` and ``run``; the XLSX has the same tables.

    ``sensor``/``bands`` name the bands of both images (default ``generic``);
    ``before_sensor``/``after_sensor`` and ``before_bands``/``after_bands`` those of one date
    when the dates come from different products (a Sentinel-2 before, a Landsat 8 after:
    :func:`gis.raster.image_specs`).

    Raises
    ------
    gis.errors.GisError
        Unreadable input, rasters without NIR/SWIR2 or not overlapping, bad rules, existing
        output without ``overwrite``, an option given both for both dates and for one
        (:class:`~gis.errors.ConflictingOptionsError`).
    """
    log = findings if findings is not None else Findings()
    specs = image_specs(
        {"sensor": sensor, "bands": bands},
        {"sensor": before_sensor, "bands": before_bands},
        {"sensor": after_sensor, "bands": after_bands},
    )
    inputs = (before, after, before_mask, after_mask, subcompartments, districts, forest_chiefs)
    outputs = plan_outputs(
        {"gpkg": out, "xlsx": xlsx}, overwrite=overwrite, inputs=(*inputs, rules)
    )
    ruleset = load_fire_rules(rules)
    paths = {"subcompartments": subcompartments, "districts": districts}
    frames = read_layers(
        paths | {"forest_chiefs": forest_chiefs},
        BURNED_KINDS,
        findings=log,
        engine=engine,
        stage_log=logger,
    )
    pair = [
        specs[role].source(p, mask=m, findings=log)
        for role, p, m in (("before", before, before_mask), ("after", after, after_mask))
    ]
    burned = trace_burned(*pair, min_pixels=int(ruleset["burned"]["min_pixels"]), findings=log)
    damage = assess_damage(burned, rules=ruleset, lang=lang, findings=log, **frames)
    run: dict[str, Any] = {"tool": "linyuan fire burned", "tallies": burned.tallies}
    run["grade"] = {k: v for k, v in damage.grade.items() if k in ("code", "zh", "en")}
    record_inputs(run, {**paths, "forest_chiefs": forest_chiefs, "before": before, "after": after,
                        "before_mask": before_mask, "after_mask": after_mask,
                        "rules": ruleset["source"]}, engine=engine)  # fmt: skip
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
    "towers": "lookout_towers",
    "subcompartments": "subcompartments",
    "fire_zones": "fire_zones",
    "roads": "roads",
    "villages": "villages",
}
"""Input role → catalog layer kind of ``fire coverage``."""

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


def read_dem(path: PathLike, findings: Findings | None = None) -> tuple[Dem, NDArray[np.float32]]:
    """Open the DEM: its grid facts and its first band as float32 (NaN at nodata).

    Its CRS is read as an image's is (:func:`gis.raster.source.raster_crs_wkt`): declared, else
    from a ``.prj`` beside it (finding ``crs_from_prj``), else refused naming both fixes.
    """
    p = os.fspath(path)
    with open_raster(p) as ds:
        wkt = raster_crs_wkt(ds, p, findings=findings, role="DEM")
        band = ds.read(1, out_dtype="float32")
        invalid = ds.read_masks(1) == 0
        band[invalid] = np.nan
        del invalid
        dem = Dem(p, wkt, ds.transform, ds.width, ds.height, crs_in_file=ds.crs is not None)
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
    engine: str = "pyogrio",
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
    inputs = (dem, towers, subcompartments, fire_zones, roads, villages, rules)
    outputs = plan_outputs({"gpkg": out, "xlsx": xlsx}, overwrite=overwrite, inputs=inputs)
    ruleset = load_fire_rules(rules)
    viewshed_program()  # refuse at once, before reading anything, when GDAL's program is absent
    paths = {"towers": towers, "subcompartments": subcompartments, "fire_zones": fire_zones,
             "roads": roads, "villages": villages}  # fmt: skip
    frames = read_layers(paths, COVERAGE_KINDS, findings=log, engine=engine, stage_log=logger)
    grid, elevation = read_dem(dem, log)
    tower_frame, subs = frames.pop("towers"), frames.pop("subcompartments")
    assert tower_frame is not None and subs is not None
    result = assess_coverage(
        grid, elevation, tower_frame, subs, rules=ruleset, threads=threads, findings=log,
        **frames,
    )  # fmt: skip
    result.run["tool"] = "linyuan fire coverage"
    record_inputs(result.run, {**paths, "dem": dem, "rules": ruleset["source"]}, engine=engine)
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


# --- fire hotspots (卫星热点核查) -----------------------------------------------------------

HOTSPOT_LAYER_KINDS = {
    "hotspots": "hotspots",
    "subcompartments": "subcompartments",
    "fire_zones": "fire_zones",
    "protected": "protected_areas",
    "districts": "districts",
    "forest_chiefs": "forest_chief_zones",
    "heat_sources": "heat_sources",
}
"""Input role → catalog layer kind."""

HOTSPOT_LONLAT = "EPSG:4326"
"""CRS of hotspot files that declare none (a FIRMS CSV): FIRMS coordinates are WGS84; the
provincial tables' CGCS2000 lon/lat differ from it by well under a metre, nothing beside a
375 m pixel. A file that declares its CRS (SHP with .prj, KML) keeps its own."""

HOTSPOT_HEADERS = {
    "zh": {
        "product": "数据产品",
        "detected_utc": "监测时间（UTC）",
        "detected_bjt": "监测时间（北京时）",
        "confidence_class": "置信度等级",
        "pixel_km_ew": "像元东西宽（千米）",
        "pixel_km_ns": "像元南北高（千米）",
        "fire_season": "防火期",
        "forest_share": "像元内林地比例",
        "grass_share": "像元内草地比例",
        "crop_share": "像元内耕地比例",
        "forest_distance_m": "距最近林地（米）",
        "land_class": "主要地类",
        "reported_class": "下发地类归类",
        "in_area": "是否在本市",
        "in_fire_zone": "是否在防火重点区域",
        "fire_zone": "防火重点区域",
        "fire_level": "防火等级",
        "in_protected": "是否在自然保护地",
        "protected_area": "自然保护地",
        "heat_source": "最近固定热源",
        "heat_source_distance_m": "距固定热源（米）",
        "event_id": "火情事件编号",
        "event_size": "事件热点数",
        "event_days": "事件持续天数",
        "event_first_utc": "事件首次监测（UTC）",
        "event_last_utc": "事件末次监测（UTC）",
        "in_fire_season": "是否防火期",
        "fire_kind": "热点类型",
        "field_priority": "核查优先级",
        "feedback_hours": "反馈时限（小时）",
        "feedback_due_utc": "反馈截止（UTC）",
        "rules_fired": "触发规则",
        "reasons": "判定依据",
        "n_hotspots": "热点数",
        "hotspot_ids": "所含热点编号",
    },
    "en": {
        "product": "Product",
        "detected_utc": "Detected (UTC)",
        "detected_bjt": "Detected (Beijing time)",
        "confidence_class": "Confidence class",
        "pixel_km_ew": "Pixel width E-W (km)",
        "pixel_km_ns": "Pixel height N-S (km)",
        "fire_season": "Fire-prevention period",
        "forest_share": "Forest share of pixel",
        "grass_share": "Grassland share of pixel",
        "crop_share": "Cropland share of pixel",
        "forest_distance_m": "Distance to forest (m)",
        "land_class": "Main land class",
        "reported_class": "Reported land (class)",
        "in_area": "In the city",
        "in_fire_zone": "In a fire-prevention key area",
        "fire_zone": "Fire-prevention key area",
        "fire_level": "Fire-prevention level",
        "in_protected": "In a protected area",
        "protected_area": "Protected area",
        "heat_source": "Nearest heat source",
        "heat_source_distance_m": "Distance to heat source (m)",
        "event_id": "Fire event",
        "event_size": "Hotspots in event",
        "event_days": "Event days",
        "event_first_utc": "Event first seen (UTC)",
        "event_last_utc": "Event last seen (UTC)",
        "in_fire_season": "In fire-prevention period",
        "fire_kind": "Hotspot verdict",
        "field_priority": "Field priority",
        "feedback_hours": "Feedback within (hours)",
        "feedback_due_utc": "Feedback due (UTC)",
        "rules_fired": "Rules fired",
        "reasons": "Reasons",
        "n_hotspots": "Hotspots",
        "hotspot_ids": "Hotspot IDs",
    },
}
"""Headers of the result columns (the catalog's labels are used for the input fields)."""


@dataclass
class HotspotRun:
    """What :func:`run_hotspot_check` did: the result and the files it wrote."""

    result: HotspotCheckResult
    outputs: dict[str, Path] = field(default_factory=dict)


def run_hotspot_check(
    hotspots: PathLike,
    *,
    out: PathLike,
    subcompartments: PathLike | None = None,
    fire_zones: PathLike | None = None,
    protected: PathLike | None = None,
    districts: PathLike | None = None,
    forest_chiefs: PathLike | None = None,
    heat_sources: PathLike | None = None,
    rules: PathLike | None = None,
    seasons: PathLike | None = None,
    province: str | None = None,
    event_distance_m: float | None = None,
    event_hours: float | None = None,
    xlsx: PathLike | None = None,
    kml: PathLike | None = None,
    overwrite: bool = False,
    lang: str = "zh",
    findings: Findings | None = None,
    engine: str = "pyogrio",
) -> HotspotRun:
    """Read the hotspots and layers, check every hotspot and write the results.

    Parameters
    ----------
    hotspots : path-like
        FIRMS VIIRS/MODIS download (CSV, SHP, KML) or a provincial hotspot table.
    out : path-like
        Results GeoPackage: layers ``hotspots_checked``, ``fire_events``, ``findings``, ``run``.
    subcompartments, fire_zones, protected, districts, forest_chiefs, heat_sources : optional
        Context layers (paths).
    rules, seasons : path-like, optional
        Rules YAML (default ``layers/rules/hotspots.yaml``) and fire-prevention periods
        (default ``layers/rules/fire_seasons.yaml``); ``province`` picks the periods.
    event_distance_m, event_hours : float, optional
        Event grouping (metres, hours); default the rules' thresholds.
    xlsx, kml : path-like, optional
        Also write the table (Chinese headers, events sheet) and a KMZ/KML.
    overwrite : bool
        Replace existing outputs.
    lang : {"zh", "en"}
        Language of reasons, headers and labels.
    findings : Findings, optional
        Receives the findings.

    Returns
    -------
    HotspotRun

    Raises
    ------
    gis.errors.GisError
        Unreadable input, bad rules, existing output without ``overwrite``.
    """
    log = findings if findings is not None else Findings()
    paths = {
        "hotspots": hotspots,
        "subcompartments": subcompartments,
        "fire_zones": fire_zones,
        "protected": protected,
        "districts": districts,
        "forest_chiefs": forest_chiefs,
        "heat_sources": heat_sources,
    }
    outputs = plan_outputs(
        {"gpkg": out, "xlsx": xlsx, "kml": kml},
        overwrite=overwrite,
        inputs=(*paths.values(), rules, seasons),
    )
    ruleset = load_hotspot_rules(rules)
    periods = load_seasons(seasons, province=province)
    frames = read_layers(
        paths,
        HOTSPOT_LAYER_KINDS,
        findings=log,
        engine=engine,
        crs={"hotspots": HOTSPOT_LONLAT},
        stage_log=logger,
    )
    points = frames.pop("hotspots")
    assert points is not None
    result = check_hotspots(
        points,
        rules=ruleset,
        seasons=periods,
        event_distance_m=event_distance_m,
        event_hours=event_hours,
        lang=lang,
        findings=log,
        **frames,
    )
    record_inputs(
        result.run, {**paths, "rules": ruleset.source, "seasons": periods.file}, engine=engine
    )
    written = write_hotspot_results(result, outputs, overwrite=overwrite, lang=lang)
    return HotspotRun(result, written)


def hotspot_headers(columns: Any, *, lang: str = "zh") -> dict[str, str]:
    """Return column → Chinese (or English) header for the hotspot tables."""
    own = HOTSPOT_HEADERS["en" if lang == "en" else "zh"]
    return distinct_headers(
        {c: own.get(c) or label(c, kind="hotspots", lang=lang) for c in columns}
    )


def exchange_hotspots(frame: gpd.GeoDataFrame, *, lang: str = "zh") -> gpd.GeoDataFrame:
    """Return a table for people: codes and fire kinds as words, times as text, shares rounded.

    Product, confidence class and fire-prevention period are shown by their catalog meaning
    (:func:`gis.layers.codes_as_text`), the verdict by the rules' names.
    """
    words = {
        k: load_hotspot_rules().label("fire_kind", k, lang)
        for k in frame["fire_kind"].dropna().unique()
    }
    out = codes_as_text(frame, "hotspots", lang=lang)
    out["fire_kind"] = out["fire_kind"].map(words)
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.strftime("%Y-%m-%d %H:%M").where(out[col].notna(), None)
    digits = {c: 3 for c in out.columns if out[c].dtype == "float64"}
    digits |= {"forest_distance_m": 0, "heat_source_distance_m": 0}
    return out.round({c: d for c, d in digits.items() if c in out})


def write_hotspot_results(
    result: HotspotCheckResult,
    outputs: Mapping[str, Path],
    *,
    overwrite: bool,
    lang: str = "zh",
) -> dict[str, Path]:
    """Write the results GeoPackage (and XLSX/KMZ when asked), all or nothing."""
    checked = result.hotspots_checked
    layers = {
        "hotspots_checked": checked,
        "fire_events": result.events,
        "findings": result.findings.to_frame(lang=lang),
        "run": run_table(result.run),
    }
    with staged_outputs(outputs, overwrite=overwrite) as stage:
        write_layers(stage["gpkg"], layers)
        if "xlsx" in stage:
            shown = exchange_hotspots(checked, lang=lang)
            events = pd.DataFrame(
                exchange_hotspots(result.events, lang=lang).drop(columns="geometry")
            )
            write_table(
                plain_dtypes(shown),
                stage["xlsx"],
                headers=hotspot_headers([*shown.columns, *events.columns], lang=lang),
                sheet_name="热点核查" if lang == "zh" else "Hotspots",
                summary={("火情事件" if lang == "zh" else "Events"): plain_dtypes(events)},
                lonlat=True,
            )
        if "kml" in stage:  # what the findings say is in the GeoPackage already
            export_results_kml(
                stage["gpkg"],
                stage["kml"],
                layer="hotspots_checked",
                lang=lang,
                findings=Findings(),
            )
    return dict(outputs)
