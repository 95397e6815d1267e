"""The edge of the greenery checks: read the layers, compute, write the results.

:func:`run_greenery_kpi` (``linyuan greenery kpi``) and :func:`run_park_coverage`
(``linyuan greenery coverage``) are what the CLI and notebooks call: they read the layers with
:func:`gis.io.read_layer`, run the pure :func:`~gis.checks.greenery.kpi.greenery_kpi` or
:func:`~gis.checks.greenery.coverage.park_coverage`, and write the results GeoPackage (and
the KPI exchange table and charts) through the one results edge of :mod:`gis.io.outputs`:
every table and chart is computed first, then all files are staged beside their targets and
renamed into place only when all were written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gis import __version__
from gis.checks.greenery.coverage import CoverageOptions, park_coverage
from gis.checks.greenery.districts import CITY
from gis.checks.greenery.kpi import greenery_kpi
from gis.distributed import cluster_info
from gis.findings import Findings
from gis.io import read_layer, write_layers, write_table
from gis.io.outputs import plan_outputs, record_engine, record_inputs, run_table, staged_outputs
from gis.targets import DEFAULT_TARGETS, load_targets, unit_label

PathLike = str | os.PathLike[str]

KPI_HEADERS = {
    "zh": {
        "district": "行政区",
        "indicator": "指标代码",
        "label": "指标",
        "item": "项目",
        "year": "年度",
        "target": "目标",
        "actual": "完成",
        "unit": "单位",
        "rate": "完成率",
        "met": "是否完成",
        "reported": "公报数",
    },
    "en": {
        "district": "District",
        "indicator": "Indicator code",
        "label": "Indicator",
        "item": "Item",
        "year": "Year",
        "target": "Target",
        "actual": "Actual",
        "unit": "Unit",
        "rate": "Rate",
        "met": "Met",
        "reported": "Reported",
    },
}
"""Headers of the KPI exchange table (XLSX)."""


KINDS = {
    "greenways": "greenways",
    "parks": "parks",
    "villages": "villages",
    "districts": "districts",
    "residential": "residential",
}
"""Input role → catalog layer kind (the other inputs are read as they are)."""


@dataclass
class GreeneryRun:
    """What a greenery run computed and the files it wrote."""

    tables: dict[str, pd.DataFrame]
    findings: Findings
    outputs: dict[str, Path] = field(default_factory=dict)


def _read(
    paths: Mapping[str, PathLike | None],
    kinds: Mapping[str, str | None],
    log: Findings,
    engine: str = "pyogrio",
) -> dict[str, Any]:
    return {
        role: None
        if path is None
        else read_layer(path, kind=kinds.get(role), findings=log, engine=engine)
        for role, path in paths.items()
    }


def _run_meta(
    command: str,
    paths: Mapping[str, PathLike | None],
    params: Mapping[str, Any],
    log: Findings,
    engine: str = "pyogrio",
) -> pd.DataFrame:
    run: dict[str, Any] = {
        "command": command,
        "linyuan": __version__,
        "finished": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }
    record_inputs(run, paths, engine=engine)
    run["parameters"] = dict(params)
    run["findings"] = {s: sum(f.severity == s for f in log) for s in ("error", "warning", "info")}
    record_engine(run, cluster_info(None))  # the greenery checks run in this process
    return run_table(run)


def _exchange_kpi(kpi: pd.DataFrame, lang: str) -> pd.DataFrame:
    out = kpi.copy()
    out["unit"] = [unit_label(u, lang) for u in out["unit"]]
    out["rate"] = (out["rate"] * 100).round(1)
    figures = [c for c in ("target", "actual", "reported") if c in out.columns]
    return out.round(dict.fromkeys(figures, 3))  # a table for people: 7.499, not 7.49900338…


def run_greenery_kpi(
    *,
    greenways: PathLike,
    parks: PathLike,
    villages: PathLike,
    out: PathLike,
    districts: PathLike | None = None,
    afforestation: PathLike | None = None,
    streets: PathLike | None = None,
    targets: PathLike | None = None,
    year: int | None = None,
    xlsx: PathLike | None = None,
    charts: PathLike | None = None,
    overwrite: bool = False,
    lang: str = "zh",
    engine: str = "pyogrio",
) -> GreeneryRun:
    """Read the layers, compute the KPIs and write ``out`` (layers kpi, findings, run).

    ``year`` defaults to the latest year of the targets file (``layers/targets.yaml`` unless
    ``targets`` is given). ``xlsx`` also writes the Chinese-headed exchange table (rate in %);
    ``charts`` a folder of PNG charts (:func:`write_kpi_charts`).
    Every table and chart is computed before anything is written; then all files are
    written, or none (:func:`gis.io.outputs.staged_outputs`).
    """
    paths = {
        "greenways": greenways,
        "parks": parks,
        "villages": villages,
        "districts": districts,
        "afforestation": afforestation,
        "streets": streets,
    }
    inputs = (*paths.values(), targets)
    outputs = plan_outputs({"gpkg": out, "xlsx": xlsx}, overwrite=overwrite, inputs=inputs)
    goals = load_targets(targets or DEFAULT_TARGETS)
    year = max(goals.years) if year is None else year
    goals.year(year)
    log = Findings()
    frames = _read(paths, KINDS, log, engine)
    result = greenery_kpi(**frames, targets=goals, year=year, lang=lang)
    log.extend(result.findings)
    run = _run_meta(
        "greenery kpi",
        {**paths, "targets": targets or DEFAULT_TARGETS},
        {"year": year, "lang": lang},
        log,
        engine,
    )
    tables = {"kpi": result.kpi, "findings": log.to_frame(lang=lang), "run": run}
    figures = {} if charts is None else kpi_charts(result.kpi, lang=lang)
    outputs |= _chart_paths(charts, figures)
    with staged_outputs(outputs, overwrite=overwrite, inputs=inputs) as stage:
        write_layers(stage["gpkg"], tables)
        if "xlsx" in stage:
            _write_kpi_xlsx(result.kpi, stage["xlsx"], lang=lang)
        _write_charts(figures, stage)
    return GreeneryRun(tables, log, outputs)


CHART_INDICATORS = (
    "greenway_km_new",
    "pocket_parks_new",
    "village_greening_done",
    "afforestation_mu",
)
"""Indicators drawn as a bar per district by :func:`write_kpi_charts`."""


def kpi_charts(kpi: pd.DataFrame, *, lang: str = "zh") -> dict[str, bytes]:
    """Return name → PNG bytes: ``kpi_<indicator>`` bars per district, ``kpi_progress`` gauges."""
    # matplotlib is imported only when charts are asked for (heavy, deferred on purpose)
    from gis.charts import district_bars, png_bytes, progress_gauges

    measured = kpi.loc[kpi["actual"].notna(), "indicator"]  # no layer, no figure: no chart
    figures = {
        f"kpi_{name}": district_bars(kpi, indicator=name, lang=lang)
        for name in CHART_INDICATORS
        if (measured == name).any()
    }
    figures["kpi_progress"] = progress_gauges(kpi, district=CITY, lang=lang)
    return {name: png_bytes(fig) for name, fig in figures.items()}


def _chart_paths(folder: PathLike | None, charts: Mapping[str, Any]) -> dict[str, Path]:
    return {} if folder is None else {name: Path(folder) / f"{name}.png" for name in charts}


def _write_charts(charts: Mapping[str, bytes], stage: Mapping[str, Path]) -> None:
    for name, png in charts.items():
        stage[name].write_bytes(png)


def write_kpi_charts(
    kpi: pd.DataFrame, folder: PathLike, *, overwrite: bool = False, lang: str = "zh"
) -> dict[str, Path]:
    """Write ``kpi_<indicator>.png`` bars per district and ``kpi_progress.png`` gauges.

    All charts or none: they are staged and renamed into place together.
    """
    charts = kpi_charts(kpi, lang=lang)
    outputs = _chart_paths(folder, charts)
    with staged_outputs(outputs, overwrite=overwrite) as stage:
        _write_charts(charts, stage)
    return outputs


def _write_kpi_xlsx(kpi: pd.DataFrame, path: Path, *, lang: str) -> Path:
    sheet = "绿化指标" if lang == "zh" else "KPI"
    return write_table(
        _exchange_kpi(kpi, lang), path, headers=KPI_HEADERS[lang], sheet_name=sheet, lang=lang
    )


def _renamed_field(frame: pd.DataFrame, name: str | None) -> str | None:
    """Return the canonical name the reader gave field ``name`` (人口, POP → population)."""
    if name is None or name in frame.columns:
        return name
    renamed = {str(k).casefold(): v for k, v in frame.attrs.get("renamed", {}).items()}
    return str(renamed.get(name.casefold(), name))


def run_park_coverage(
    *,
    parks: PathLike,
    residential: PathLike,
    out: PathLike,
    districts: PathLike | None = None,
    green_spaces: PathLike | None = None,
    roads: PathLike | None = None,
    population_field: str | None = None,
    options: Any = None,
    overwrite: bool = False,
    lang: str = "zh",
    engine: str = "pyogrio",
) -> GreeneryRun:
    """Read the layers, compute park service coverage and write ``out``.

    ``out`` gets the layers ``coverage`` (per district and city), ``underserved`` (the
    uncovered residential land, ranked: candidate pocket-park sites; a map layer),
    ``findings`` (``message`` in ``lang``, ``message_en`` English) and ``run``. ``options``
    is a :class:`gis.checks.greenery.coverage.CoverageOptions`.
    """
    paths = {
        "parks": parks,
        "residential": residential,
        "districts": districts,
        "green_spaces": green_spaces,
        "roads": roads,
    }
    outputs = plan_outputs({"gpkg": out}, overwrite=overwrite, inputs=paths.values())
    opts = options if options is not None else CoverageOptions()
    log = Findings()
    frames = _read(paths, KINDS, log, engine)
    residential_frame = frames.pop("residential")
    population_field = _renamed_field(residential_frame, population_field)
    result = park_coverage(
        frames.pop("parks"),
        residential_frame,
        **frames,
        population_field=population_field,
        options=opts,
    )
    log.extend(result.findings)
    params = {**asdict(opts), "population_field": population_field, "network": roads is not None}
    run = _run_meta("greenery coverage", paths, params, log, engine)
    tables = {
        "coverage": result.coverage,
        "underserved": result.underserved,
        "findings": log.to_frame(lang=lang),
        "run": run,
    }
    with staged_outputs(outputs, overwrite=overwrite) as stage:
        write_layers(stage["gpkg"], tables)
    return GreeneryRun(tables, log, outputs)
