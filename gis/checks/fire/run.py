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
import pandas as pd

from gis.checks.fire.burned import trace_burned
from gis.checks.fire.damage import FireDamage, assess_damage
from gis.checks.fire.rules import load_fire_rules
from gis.findings import Findings
from gis.io import read_layer, write_layers, write_table
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
