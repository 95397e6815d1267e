"""Load results GeoPackages and the field store into tidy frames for the reports.

Each loader checks that the file is the results of the right check (its layers), that the
layers it needs are there and that the selected batch / district has features (an empty
results layer is valid: a run that checked no patch, found no point); otherwise it raises
:class:`ReportInputError` naming the file, what is wrong and the fix. Field records are read
through the field-store API of :mod:`gis.verify` (:func:`gis.verify.open_store`,
:func:`gis.verify.latest`), the only reader of the store; without a field store the reports
say that there are no field records yet.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass

import pandas as pd

from gis.errors import DataSourceError, NoGeometryError, SchemaError
from gis.findings import FINDING_COLUMNS, Findings
from gis.io import list_layers, read_layer, read_table
from gis.verify import latest, open_store

PathLike = str | os.PathLike[str]


class ReportInputError(SchemaError):
    """Results that cannot make a report: another check's file, a missing layer, no features."""


class ResultsKind(enum.StrEnum):
    """Which check wrote a results GeoPackage."""

    PATCHES = "patches"
    DISCOLORED = "discolored"
    KPI = "kpi"
    COVERAGE = "coverage"
    HOTSPOTS = "hotspots"
    BURNED = "burned"
    FIRE_COVERAGE = "fire_coverage"


LAYERS: dict[ResultsKind, tuple[str, ...]] = {
    ResultsKind.PATCHES: ("patches_checked", "findings", "run"),
    ResultsKind.DISCOLORED: ("discolored_points", "stand_summary", "findings", "run"),
    ResultsKind.KPI: ("kpi", "run"),
    ResultsKind.COVERAGE: ("coverage", "underserved", "run"),
    ResultsKind.HOTSPOTS: ("hotspots_checked", "fire_events", "run"),
    ResultsKind.BURNED: (
        "fire_report",
        "fire_scars",
        "burn_severity",
        "burned_by_district",
        "burned_by_forest_chief",
        "run",
    ),
    ResultsKind.FIRE_COVERAGE: ("coverage_summary", "fire_zone_coverage", "blind_areas", "run"),
}
"""Layers each report needs, the first one identifying the check."""

COMMANDS = {
    ResultsKind.PATCHES: "linyuan check patches",
    ResultsKind.DISCOLORED: "linyuan detect discolored",
    ResultsKind.KPI: "linyuan greenery kpi",
    ResultsKind.COVERAGE: "linyuan greenery coverage",
    ResultsKind.HOTSPOTS: "linyuan fire hotspots",
    ResultsKind.BURNED: "linyuan fire burned",
    ResultsKind.FIRE_COVERAGE: "linyuan fire coverage",
}


@dataclass(frozen=True)
class FieldRecords:
    """Field records of one results layer.

    ``latest`` is the latest record per feature of any kind, as the ``verification_latest``
    view holds them (one row per feature with any record: a feature counts as verified);
    ``field`` the latest field-visit record per feature and ``lab`` the latest lab result per
    feature (``outcome`` lab_positive / lab_negative); ``log`` every record, in import order.
    Each "latest" is :func:`gis.verify.latest`: device time, then the later import.
    """

    source: str
    latest: pd.DataFrame
    field: pd.DataFrame
    lab: pd.DataFrame
    log: pd.DataFrame


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows, already filtered to the batch and district asked for.

    ``main`` is the results layer (patches, points or KPI rows); ``extra`` holds the other
    layers by name; ``run`` the run table as ``{"section.key": value}``.
    """

    kind: ResultsKind
    source: str
    main: pd.DataFrame
    extra: dict[str, pd.DataFrame]
    run: dict[str, str]
    findings: pd.DataFrame
    field: FieldRecords | None = None
    batch: str | None = None
    district: str | None = None


def results_kind(path: PathLike) -> ResultsKind | None:
    """Return which check wrote ``path`` (by its layers), or None when none fits."""
    names = set(list_layers(path))
    for kind, layers in LAYERS.items():
        if layers[0] in names:
            return kind
    return None


def check_results(path: PathLike, kind: ResultsKind) -> None:
    """Raise :class:`ReportInputError` unless ``path`` holds ``kind`` results with all layers."""
    names = list_layers(path)
    if LAYERS[kind][0] not in names:
        other = results_kind(path)
        what = f"the results of `{COMMANDS[other]}`" if other else "no Linyuan results"
        what_zh = f"`{COMMANDS[other]}` 的结果" if other else "非 Linyuan 结果"
        raise ReportInputError(
            f"{path} holds {what} (layers: {', '.join(names)}), not those of "
            f"`{COMMANDS[kind]}` (layer {LAYERS[kind][0]}); pass the GeoPackage written by "
            f"`{COMMANDS[kind]} … --out FILE.gpkg`",
            zh=f"{path} 中是{what_zh}（图层：{', '.join(names)}），不是 `{COMMANDS[kind]}` 的结果"
            f"（图层 {LAYERS[kind][0]}）；请给出 `{COMMANDS[kind]} … --out FILE.gpkg` 写出的文件",
        )
    missing = [n for n in LAYERS[kind] if n not in names]
    if missing:
        raise ReportInputError(
            f"{path} lacks layer(s) {', '.join(missing)} that the report needs (it has "
            f"{', '.join(names)}); rerun `{COMMANDS[kind]}` with --overwrite to write a "
            "complete results file",
            zh=f"{path} 缺少报告需要的图层 {', '.join(missing)}（现有 {', '.join(names)}）；"
            f"请加 --overwrite 重新运行 `{COMMANDS[kind]}`，写出完整的结果文件",
        )


def _frame(path: PathLike, layer: str) -> pd.DataFrame:
    """Read a layer, spatial or not (the working CRS for spatial ones)."""
    try:
        return read_layer(path, layer=layer, findings=Findings())
    except NoGeometryError:
        return read_table(path, layer=layer)


def run_dict(run: pd.DataFrame) -> dict[str, str]:
    """Return a run table as ``{"section.key": value}`` (``section`` alone when no key).

    Examples
    --------
    >>> run = pd.DataFrame({"section": ["check", "counts"], "key": ["", "points"],
    ...                     "value": ["patches", "3"]})
    >>> run_dict(run)
    {'check': 'patches', 'counts.points': '3'}
    """
    out: dict[str, str] = {}
    for section, key, value in run[["section", "key", "value"]].itertuples(index=False):
        name = f"{section}.{key}" if isinstance(key, str) and key else str(section)
        out[name] = "" if value is None else str(value)
    return out


def _select(
    frame: pd.DataFrame, *, column: str, value: str | None, what: str, path: PathLike
) -> pd.DataFrame:
    """Keep rows where ``column == value``; raise naming the values present when none."""
    if value is None:
        return frame
    if column not in frame.columns:
        raise ReportInputError(
            f"{path} has no {column!r} column to select {what} {value!r}; drop the {what} filter",
            zh=f"{path} 没有 {column!r} 列，无法按 {value!r} 筛选；请去掉这个筛选条件",
        )
    kept = frame[frame[column].astype(str) == str(value)]
    if kept.empty:
        present = sorted(frame[column].dropna().astype(str).unique())
        raise ReportInputError(
            f"{path} has no features of {what} {value!r}; {what} values present: "
            f"{', '.join(present) or 'none'} — pass one of them",
            zh=f"{path} 中没有 {value!r} 的要素；现有的值：{'、'.join(present) or '无'}——请选其一",
        )
    return kept


def load_results(
    path: PathLike,
    kind: ResultsKind | str,
    *,
    batch: str | None = None,
    district: str | None = None,
) -> ReportData:
    """Read the results of one check, filtered to a batch and a district.

    Parameters
    ----------
    path : path-like
        Results GeoPackage.
    kind : {"patches", "discolored", "kpi", "coverage", "hotspots", "burned", "fire_coverage"}
        The check that should have written it.
    batch : str, optional
        Batch (期) to keep; patches only.
    district : str, optional
        District to keep (rows of other districts are dropped; KPI keeps the city rows too).

    Raises
    ------
    ReportInputError
        Another check's file, a missing layer, or a batch / district with no features. An
        empty layer is not an error: ``main`` is empty, and the report says there is nothing
        to report.
    """
    kind = ResultsKind(kind)
    check_results(path, kind)
    main_name, *others = LAYERS[kind]
    main = _frame(path, main_name)
    if not main.empty:  # an empty layer (no patch, no point) is a report saying so
        main = _select(main, column="batch", value=batch, what="batch", path=path)
        main = _select(main, column="district", value=district, what="district", path=path)
    extra = {n: _frame(path, n) for n in others if n not in ("run", "findings")}
    extra |= {n: _frame(path, n) for n in _optional_layers(path, kind)}
    return ReportData(
        kind=kind,
        source=str(path),
        main=main,
        extra=extra,
        run=run_dict(read_table(path, layer="run")),
        findings=_findings(path),
        batch=batch,
        district=district,
    )


def _optional_layers(path: PathLike, kind: ResultsKind) -> list[str]:
    wanted = {
        ResultsKind.DISCOLORED: ("verification",),
        ResultsKind.FIRE_COVERAGE: ("towers",),
    }.get(kind, ())
    return [n for n in wanted if n in list_layers(path)]


def _findings(path: PathLike) -> pd.DataFrame:
    if "findings" not in list_layers(path):
        return pd.DataFrame(columns=list(FINDING_COLUMNS))
    return read_table(path, layer="findings")


# ------------------------------------------------------------------------ field store


def load_field_records(path: PathLike, *, layer: str) -> FieldRecords:
    """Read a field store's records about one results layer.

    Parameters
    ----------
    path : path-like
        Field store GeoPackage written by ``linyuan verify import``.
    layer : {"patches_checked", "discolored_points"}
        Results layer whose features the records are about.

    Raises
    ------
    ReportInputError
        When the file does not exist or is not a field store.

    Notes
    -----
    Read through :func:`gis.verify.open_store`, without geometry (a record without a GPS
    fix still counts); "latest" is :func:`gis.verify.latest`.
    """
    try:
        log = open_store(path).log(layer=layer)
    except DataSourceError as exc:
        raise ReportInputError(str(exc), zh=exc.text("zh")) from exc
    is_lab = log["kind"] == "lab"
    return FieldRecords(
        source=str(path),
        latest=latest(log),
        field=latest(log[~is_lab]),
        lab=latest(log[is_lab]),
        log=log,
    )


def attach_field(data: ReportData, field: PathLike | None) -> ReportData:
    """Return ``data`` with the field records of its main layer (or unchanged without)."""
    if field is None:
        return data
    layer = LAYERS[data.kind][0]
    records = load_field_records(field, layer=layer)
    return ReportData(**{**data.__dict__, "field": records})
