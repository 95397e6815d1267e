"""Greenery checks: greening KPIs against targets, and park service coverage.

The work lives in two modules, re-exported here:

- :mod:`gis.checks.greenery_kpi` — :func:`greenery_kpi`: greenway km, parks by category,
  pocket parks, village greening, afforestation 亩, parks under construction and opened for
  sharing, per district and city, per year, against ``layers/targets.yaml``;
- :mod:`gis.checks.coverage` — :func:`park_coverage`: 公园绿地服务半径覆盖率 and the
  "300 米见绿，500 米见园" figures, straight-line or along the road network, with the
  underserved residential land ranked as candidate pocket-park sites.

This module also holds what both share: the geometry-type guard and the district join.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import assert_same_crs
from gis.errors import SchemaError
from gis.findings import Findings
from gis.io.outputs import run_table, sha256_of

PathLike = str | os.PathLike[str]

CITY = "全市"
"""The ``district`` value of the whole-city rows."""

OUTSIDE = "（区外）"
"""The ``district`` value given to features that lie in no district polygon."""

_GEOM_FAMILY = {
    "polygon": ("Polygon", "MultiPolygon"),
    "line": ("LineString", "MultiLineString", "LinearRing"),
    "point": ("Point", "MultiPoint"),
}

_LAZY = {
    "greenery_kpi": "gis.checks.greenery_kpi",
    "KpiResult": "gis.checks.greenery_kpi",
    "park_coverage": "gis.checks.coverage",
    "CoverageResult": "gis.checks.coverage",
    "RadiusClass": "gis.checks.coverage",
}


def __getattr__(name: str) -> Any:
    """Re-export the public API of the two greenery modules lazily (no import cycle)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def require_geometry(
    frame: gpd.GeoDataFrame, family: str | tuple[str, ...], *, what: str
) -> gpd.GeoDataFrame:
    """Return ``frame`` without empty geometries; raise when it holds the wrong geometry type.

    Parameters
    ----------
    frame : GeoDataFrame
        The layer.
    family : {"polygon", "line", "point"} or tuple of them
        Geometry family (or families) expected.
    what : str
        Name of the layer (file or option) used in the message.

    Raises
    ------
    gis.errors.SchemaError
        When any geometry is of another family (e.g. lines given where polygons are expected).

    Examples
    --------
    >>> import shapely
    >>> f = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 1)])], crs=4551)
    >>> require_geometry(f, "polygon", what="--parks")
    Traceback (most recent call last):
    gis.errors.SchemaError: --parks must hold polygon geometries but has LineString; ...
    """
    keep = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    families = (family,) if isinstance(family, str) else family
    allowed = {t for f in families for t in _GEOM_FAMILY[f]}
    wrong = sorted(set(keep.geom_type.unique()) - allowed)
    if wrong:
        expected = " or ".join(families)
        raise SchemaError(
            f"{what} must hold {expected} geometries but has {', '.join(wrong)}; "
            f"pass the {expected} layer (e.g. the park or residential-land polygons, not roads or "
            "centre points) or convert it first"
        )
    return keep


def district_names(districts: gpd.GeoDataFrame, *, field: str = "district") -> list[str]:
    """Return the district names in layer order (the ``district`` field must exist)."""
    if field not in districts.columns:
        raise SchemaError(
            f"the districts layer has no {field!r} field (fields: {', '.join(districts.columns)}); "
            "read it with kind='districts' so 名称/XZQMC become 'district', or rename the field"
        )
    return [str(v) for v in districts[field]]


def assign_districts(
    frame: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    *,
    what: str,
    findings: Findings | None = None,
    field: str = "district",
) -> pd.Series:
    """Return the district of each feature (by its representative point).

    Features in no district get :data:`OUTSIDE` and one ``outside_districts`` warning: the
    districts layer does not cover the layer, so district totals miss them (the city total
    keeps them).
    """
    names = np.asarray(district_names(districts, field=field), dtype=object)
    assert_same_crs(frame, districts, names=(what, "districts"))
    points = shapely.point_on_surface(np.asarray(frame.geometry.values))
    idx_pt, idx_d = districts.sindex.query(points, predicate="within")
    out = np.full(len(frame), OUTSIDE, dtype=object)
    first = pd.DataFrame({"pt": idx_pt, "d": idx_d}).sort_values(["pt", "d"])
    first = first.drop_duplicates("pt")  # on overlapping districts the first one wins
    out[first["pt"].to_numpy()] = names[first["d"].to_numpy()]
    missing = int((out == OUTSIDE).sum())
    if missing and findings is not None:
        findings.add(
            "outside_districts",
            f"{missing} of {len(frame)} features of {what} lie in no district polygon; they count "
            "in the city total only — check that the districts layer covers the whole study area "
            "and is in the same CRS",
            source=what,
            zh=f"{what} 的 {len(frame)} 个要素中有 {missing} 个不在任何区县多边形内；只计入全市"
            "合计——请检查区县图层是否覆盖整个研究区、坐标系是否一致",
        )
    return pd.Series(out, index=frame.index, name="district")


# --- the edge: read the layers, run, write the results (what the CLI and notebooks call) ---

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
    paths: Mapping[str, PathLike | None], kinds: Mapping[str, str | None], log: Findings
) -> dict[str, Any]:
    from gis.io import read_layer

    return {
        role: None if path is None else read_layer(path, kind=kinds.get(role), findings=log)
        for role, path in paths.items()
    }


def _run_meta(
    command: str, paths: Mapping[str, PathLike | None], params: Mapping[str, Any], log: Findings
) -> pd.DataFrame:
    from gis import __version__

    given = {k: v for k, v in paths.items() if v is not None}
    run = {
        "command": command,
        "linyuan": __version__,
        "finished": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "inputs": {k: str(v) for k, v in given.items()},
        "sha256": {k: sha256_of(v) for k, v in given.items()},
        "parameters": dict(params),
        "findings": {s: sum(f.severity == s for f in log) for s in ("error", "warning", "info")},
    }
    return run_table(run)


def _exchange_kpi(kpi: pd.DataFrame, lang: str) -> pd.DataFrame:
    from gis.targets import unit_label

    out = kpi.copy()
    out["unit"] = [unit_label(u, lang) for u in out["unit"]]
    out["rate"] = (out["rate"] * 100).round(1)
    return out


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
) -> GreeneryRun:
    """Read the layers, compute the KPIs and write ``out`` (layers kpi, findings, run).

    ``year`` defaults to the latest year of the targets file (``layers/targets.yaml`` unless
    ``targets`` is given). ``xlsx`` also writes the Chinese-headed exchange table (rate in %);
    ``charts`` a folder of PNG charts (:func:`write_kpi_charts`).
    Every table is computed before anything is written; each file is written atomically.
    """
    from gis.checks.greenery_kpi import greenery_kpi
    from gis.io import check_overwrite
    from gis.targets import DEFAULT_TARGETS, load_targets

    for path in (out, xlsx):
        if path is not None:
            check_overwrite(path, overwrite=overwrite)
    goals = load_targets(targets or DEFAULT_TARGETS)
    year = max(goals.years) if year is None else year
    goals.year(year)
    log = Findings()
    paths = {
        "greenways": greenways,
        "parks": parks,
        "villages": villages,
        "districts": districts,
        "afforestation": afforestation,
        "streets": streets,
    }
    frames = _read(paths, KINDS, log)
    result = greenery_kpi(**frames, targets=goals, year=year, lang=lang)
    log.extend(result.findings)
    run = _run_meta(
        "greenery kpi",
        {**paths, "targets": targets or DEFAULT_TARGETS},
        {"year": year, "lang": lang},
        log,
    )
    tables = {"kpi": result.kpi, "findings": log.to_frame(lang=lang), "run": run}
    outputs = {"gpkg": _write_gpkg(out, tables, overwrite=overwrite)}
    if xlsx is not None:
        outputs["xlsx"] = _write_kpi_xlsx(result.kpi, xlsx, overwrite=overwrite, lang=lang)
    if charts is not None:
        outputs |= write_kpi_charts(result.kpi, charts, overwrite=overwrite, lang=lang)
    return GreeneryRun(tables, log, outputs)


CHART_INDICATORS = (
    "greenway_km_new",
    "pocket_parks_new",
    "village_greening_done",
    "afforestation_mu",
)
"""Indicators drawn as a bar per district by :func:`write_kpi_charts`."""


def write_kpi_charts(
    kpi: pd.DataFrame, folder: PathLike, *, overwrite: bool = False, lang: str = "zh"
) -> dict[str, Path]:
    """Write ``kpi_<indicator>.png`` bars per district and ``kpi_progress.png`` gauges."""
    from gis.charts import district_bars, png_bytes, progress_gauges
    from gis.io import atomic_path

    figures = {
        f"kpi_{name}": district_bars(kpi, indicator=name, lang=lang)
        for name in CHART_INDICATORS
        if (kpi["indicator"] == name).any()
    }
    figures["kpi_progress"] = progress_gauges(kpi, district=CITY, lang=lang)
    written = {}
    for name, fig in figures.items():
        with atomic_path(Path(folder) / f"{name}.png", overwrite=overwrite) as tmp:
            tmp.write_bytes(png_bytes(fig))
        written[name] = Path(folder) / f"{name}.png"
    return written


def _write_kpi_xlsx(kpi: pd.DataFrame, path: PathLike, *, overwrite: bool, lang: str) -> Path:
    from gis.io import write_table

    sheet = "绿化指标" if lang == "zh" else "KPI"
    return write_table(
        _exchange_kpi(kpi, lang),
        path,
        headers=KPI_HEADERS[lang],
        sheet_name=sheet,
        overwrite=overwrite,
    )


def _write_gpkg(out: PathLike, tables: Mapping[str, pd.DataFrame], *, overwrite: bool) -> Path:
    from gis.io import write_layers

    return write_layers(out, dict(tables), overwrite=overwrite)


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
) -> GreeneryRun:
    """Read the layers, compute park service coverage and write ``out``.

    ``out`` gets the layers ``coverage`` (per district and city), ``underserved`` (the
    uncovered residential land, ranked: candidate pocket-park sites; a map layer),
    ``findings`` (``message`` in ``lang``, ``message_en`` English) and ``run``. ``options``
    is a :class:`gis.checks.coverage.CoverageOptions`.
    """
    from gis.checks.coverage import CoverageOptions, park_coverage
    from gis.io import check_overwrite

    check_overwrite(out, overwrite=overwrite)
    opts = options if options is not None else CoverageOptions()
    log = Findings()
    paths = {
        "parks": parks,
        "residential": residential,
        "districts": districts,
        "green_spaces": green_spaces,
        "roads": roads,
    }
    frames = _read(paths, KINDS, log)
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
    run = _run_meta("greenery coverage", paths, params, log)
    tables = {
        "coverage": result.coverage,
        "underserved": result.underserved,
        "findings": log.to_frame(lang=lang),
        "run": run,
    }
    return GreeneryRun(tables, log, {"gpkg": _write_gpkg(out, tables, overwrite=overwrite)})
