"""数据质检: check a layer against its catalog contract and report findings.

:func:`validate_frame` checks a frame against its layer kind (``layers/catalog.yaml``):
required fields present and filled, IDs unique, values inside code lists and patterns,
geometry of the right type, non-empty and valid, and field names that survive a Shapefile
export. :func:`gis.checks.quality.run.validate_file` (the edge) reads a file with
:func:`gis.io.read_layer` (which reports the encoding decided, the CRS guessed and the
geometries repaired) and then validates it.
Problems are :class:`~gis.findings.Findings`, never exceptions; a file that cannot be read at
all raises the reader's :class:`~gis.errors.GisError`.

Examples
--------
>>> import geopandas as gpd, shapely
>>> patches = gpd.GeoDataFrame(
...     {"TBBH": ["1", "1"], "XIAN": ["220112", "220112"], "PAN_BHYY": [1, 9]},
...     geometry=[shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)], crs=4551)
>>> log = validate_frame(patches, "change_patches", lang="en")
>>> sorted({f.code for f in log if f.severity == "error"})
['code_outside_list', 'duplicate_id']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gis.findings import Findings, Severity, geometry_reason_zh
from gis.geomtypes import geometry_types
from gis.layers import (
    SHAPEFILE_NAME_BYTES,
    FieldSpec,
    LayerKind,
    canonicalize,
    gbk_bytes,
    layer_kind,
    normalize_code,
    shapefile_names,
)

EXAMPLES = 5
"""How many example values or features a finding names."""

_MESSAGES: dict[str, dict[str, str]] = {
    "missing_field": {
        "zh": "缺少必填字段 {field}（{label}）；也接受这些名称：{aliases}",
        "en": "required field {field} ({label}) is missing; these names are also accepted: "
        "{aliases}",
    },
    "null_required": {
        "zh": "必填字段 {field} 有 {count} 个要素为空（如要素 {examples}）",
        "en": "required field {field} is empty in {count} feature(s) (e.g. {examples})",
    },
    "duplicate_id": {
        "zh": "编号字段 {field} 有 {count} 个重复值（如 {examples}），编号应唯一",
        "en": "ID field {field} has {count} duplicated value(s) (e.g. {examples}); IDs must "
        "be unique",
    },
    "code_outside_list": {
        "zh": "字段 {field} 有 {count} 个要素的值不在代码表中（如 {examples}）；有效值：{valid}",
        "en": "field {field}: {count} feature(s) have values outside the code list "
        "(e.g. {examples}); valid values: {valid}",
    },
    "pattern_mismatch": {
        "zh": "字段 {field} 有 {count} 个值不符合格式 {pattern}（如 {examples}）",
        "en": "field {field}: {count} value(s) do not match {pattern} (e.g. {examples})",
    },
    "wrong_geometry_type": {
        "zh": "{count} 个要素的几何类型为 {found}，{kind} 应为 {expected}（如要素 {examples}）",
        "en": "{count} feature(s) are {found}, but {kind} should be {expected} "
        "(e.g. features {examples})",
    },
    "no_geometry": {
        "zh": "图层没有几何字段；{kind} 需要{expected}几何",
        "en": "the layer has no geometry; {kind} needs {expected} geometries",
    },
    "empty_geometry": {
        "zh": "{count} 个要素几何为空（如要素 {examples}）",
        "en": "{count} feature(s) have empty or missing geometry (e.g. features {examples})",
    },
    "invalid_geometry": {
        "zh": "{count} 个要素几何无效（如要素 {examples}：{reason}）；读入时会自动修复",
        "en": "{count} feature(s) have invalid geometry (e.g. features {examples}: {reason}); "
        "gis.io.read_layer repairs them with make_valid on read",
    },
    "shapefile_field_name": {
        "zh": "字段名 {field} 在 GBK 下为 {nbytes} 字节，超过 Shapefile 的 10 字节上限，导出 "
        "Shapefile 时会被截断为 {cut}；请改用不超过 10 字节的名称",
        "en": "field name {field} is {nbytes} bytes in GBK, over the Shapefile limit of 10; it "
        "would be cut to {cut} on Shapefile export — use a name of at most 10 bytes",
    },
}


def _texts(code: str, **values: Any) -> dict[str, str]:
    """Return the message ``code`` as the English ``message`` and the Chinese ``zh``.

    A value given as a ``{"zh": …, "en": …}`` dict is taken in each language.
    """

    def fill(lang: str) -> str:
        own = {k: v[lang] if isinstance(v, dict) else v for k, v in values.items()}
        return _MESSAGES[code][lang].format(**own)

    return {"message": fill("en"), "zh": fill("zh")}


def _join(values: Iterable[Any], n: int = EXAMPLES) -> str:
    items = list(values)
    shown = ", ".join(str(v) for v in items[:n])
    return shown + (" …" if len(items) > n else "")


def _show(value: Any) -> str:
    """Show a value as a person reads it: strings quoted, numpy scalars as plain numbers."""
    value = value.item() if isinstance(value, np.generic) else value
    return repr(value) if isinstance(value, str) else str(value)


def _feature_ids(frame: pd.DataFrame, mask: Any, kind: LayerKind | None) -> list[str]:
    """Names of the masked features: their ID when the kind has one, else the row label."""
    rows = frame.loc[np.asarray(mask, dtype=bool)]
    if kind is not None and kind.id_field in frame.columns:
        ids = rows[kind.id_field]
        return [str(v) if pd.notna(v) else f"#{i}" for i, v in ids.items()]
    return [f"#{i}" for i in rows.index]


# --------------------------------------------------------------------------- attributes


def _check_required(
    frame: pd.DataFrame, kind: LayerKind, log: Findings, ctx: dict[str, Any]
) -> None:
    for name in kind.required_fields:
        spec = kind.fields[name]
        if name not in frame.columns:
            texts = _texts(
                "missing_field",
                field=name,
                label={"zh": spec.label("zh"), "en": spec.label("en")},
                aliases=_join(spec.aliases, n=8) or "-",
            )
            log.add(
                "missing_field", **texts, severity=Severity.ERROR, source=ctx["source"], field=name
            )
            continue
        empty = frame[name].isna() | (frame[name].astype(str).str.strip() == "")
        if empty.any():
            ids = _feature_ids(frame, empty, kind)
            texts = _texts("null_required", field=name, count=len(ids), examples=_join(ids))
            log.add(
                "null_required",
                **texts,
                severity=Severity.ERROR,
                source=ctx["source"],
                field=name,
                feature=_join(ids),
            )


def _check_ids(frame: pd.DataFrame, kind: LayerKind, log: Findings, ctx: dict[str, Any]) -> None:
    name = kind.id_field
    if name is None or name not in frame.columns:
        return
    values = frame[name].dropna()
    dupes = values[values.duplicated(keep=False)]
    if dupes.empty:
        return
    distinct = pd.unique(dupes)
    texts = _texts("duplicate_id", field=name, count=len(distinct), examples=_join(distinct))
    log.add(
        "duplicate_id",
        **texts,
        severity=Severity.ERROR,
        source=ctx["source"],
        field=name,
        feature=_join(distinct),
    )


def _outside_codes(series: pd.Series, spec: FieldSpec) -> pd.Series:
    values = series.dropna()
    uniques = pd.unique(values)
    bad = {u for u in uniques if normalize_code(spec, u) is None}
    return values[values.isin(bad)]


def _check_codes(frame: pd.DataFrame, kind: LayerKind, log: Findings, ctx: dict[str, Any]) -> None:
    for name, spec in kind.fields.items():
        if spec.codes is None or name not in frame.columns:
            continue
        outside = _outside_codes(frame[name], spec)
        if outside.empty:
            continue
        counts = outside.value_counts()
        examples = _join(f"{_show(v)}×{n}" for v, n in counts.items())
        texts = _texts(
            "code_outside_list",
            field=name,
            count=len(outside),
            examples=examples,
            valid=_join(spec.codes, n=25),
        )
        severity = Severity.WARNING if spec.open_codes else Severity.ERROR
        ids = _feature_ids(frame, frame.index.isin(outside.index), kind)
        log.add(
            "code_outside_list",
            **texts,
            severity=severity,
            source=ctx["source"],
            field=name,
            feature=_join(ids),
        )


def _check_patterns(
    frame: pd.DataFrame, kind: LayerKind, log: Findings, ctx: dict[str, Any]
) -> None:
    for name, spec in kind.fields.items():
        if spec.pattern is None or name not in frame.columns:
            continue
        values = frame[name].dropna().astype(str)
        bad = values[~values.str.fullmatch(spec.pattern)]
        if bad.empty:
            continue
        texts = _texts(
            "pattern_mismatch",
            field=name,
            count=len(bad),
            pattern=spec.pattern,
            examples=_join(_show(v) for v in pd.unique(bad)),
        )
        ids = _feature_ids(frame, frame.index.isin(bad.index), kind)
        log.add("pattern_mismatch", **texts, source=ctx["source"], field=name, feature=_join(ids))


def _check_field_names(
    frame: pd.DataFrame, kind: LayerKind | None, log: Findings, ctx: dict[str, Any]
) -> None:
    short = shapefile_names(kind.name) if kind is not None else {}
    geom = getattr(frame, "_geometry_column_name", None)
    for column in (str(c) for c in frame.columns if c != geom):
        name = short.get(column, column)
        nbytes = gbk_bytes(name)
        if nbytes <= SHAPEFILE_NAME_BYTES:
            continue
        cut = name.encode("gbk", errors="replace")[:SHAPEFILE_NAME_BYTES]
        texts = _texts(
            "shapefile_field_name",
            field=name,
            nbytes=nbytes,
            cut=cut.decode("gbk", errors="ignore"),
        )
        log.add("shapefile_field_name", **texts, source=ctx["source"], field=column)


# --------------------------------------------------------------------------- geometry


def _check_geometry(
    frame: pd.DataFrame, kind: LayerKind | None, log: Findings, ctx: dict[str, Any]
) -> None:
    source = ctx["source"]
    if getattr(frame, "_geometry_column_name", None) not in frame.columns:
        if kind is not None:
            texts = _texts("no_geometry", kind=kind.name, expected=kind.geometry)
            log.add("no_geometry", **texts, severity=Severity.ERROR, source=source)
        return
    geoms = np.asarray(frame.geometry.values)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        ids = _feature_ids(frame, empty, kind)
        texts = _texts("empty_geometry", count=len(ids), examples=_join(ids))
        log.add("empty_geometry", **texts, source=source, feature=_join(ids))
    _check_validity(frame, geoms, ~empty, kind, log, ctx)
    if kind is not None:
        _check_geom_type(frame, ~empty, kind, log, ctx)


def _check_validity(
    frame: pd.DataFrame,
    geoms: np.ndarray,
    present: np.ndarray,
    kind: LayerKind | None,
    log: Findings,
    ctx: dict[str, Any],
) -> None:
    invalid = present & ~shapely.is_valid(geoms)
    if not invalid.any():
        return
    ids = _feature_ids(frame, invalid, kind)
    reason = shapely.is_valid_reason(geoms[invalid][0])
    reasons = {"en": reason, "zh": geometry_reason_zh(reason)}
    texts = _texts("invalid_geometry", count=len(ids), examples=_join(ids), reason=reasons)
    log.add("invalid_geometry", **texts, source=ctx["source"], feature=_join(ids))


def _check_geom_type(
    frame: pd.DataFrame, present: np.ndarray, kind: LayerKind, log: Findings, ctx: dict[str, Any]
) -> None:
    names = geometry_types(np.asarray(frame.geometry.values), present)
    wrong = present & ~np.isin(names, kind.geom_types)
    if not wrong.any():
        return
    ids = _feature_ids(frame, wrong, kind)
    found = _join(f"{t}×{n}" for t, n in pd.Series(names[wrong]).value_counts().items())
    texts = _texts(
        "wrong_geometry_type",
        count=len(ids),
        found=found,
        kind=kind.name,
        expected="/".join(kind.geom_types),
        examples=_join(ids),
    )
    log.add(
        "wrong_geometry_type",
        **texts,
        severity=Severity.ERROR,
        source=ctx["source"],
        feature=_join(ids),
    )


# --------------------------------------------------------------------------- entry points


def validate_frame(
    frame: pd.DataFrame,
    kind: str | None,
    *,
    source: str | None = None,
    findings: Findings | None = None,
    lang: str = "zh",
) -> Findings:
    """Check a layer against its catalog contract; return the findings.

    Parameters
    ----------
    frame : GeoDataFrame or DataFrame
        The layer. Canonicalised first (:func:`gis.layers.canonicalize`) unless
        ``frame.attrs["kind"]`` says it already was.
    kind : str or None
        Layer kind of the catalog (``"change_patches"`` …); ``None`` runs only the checks that
        need no contract (geometry empty/valid, Shapefile field names).
    source : str, optional
        File (and layer) named in the findings.
    findings : Findings, optional
        Collector to append to (a new one when omitted); also returned.
    lang : {"zh", "en"}
        Kept for callers that pass it; findings carry both languages
        (:meth:`gis.findings.Finding.text` picks one).

    Returns
    -------
    Findings
        Errors: missing required field, empty required value, duplicate ID, value outside a
        closed code list, wrong geometry type, no geometry. Warnings: value outside an open
        code list, pattern mismatch, empty or invalid geometry, field name over 10 GBK bytes.

    Raises
    ------
    SchemaError
        For an unknown kind.
    """
    log = findings if findings is not None else Findings()
    ctx = {"source": source}
    spec = layer_kind(kind) if kind is not None else None
    if kind is not None and frame.attrs.get("kind") != kind:
        frame = canonicalize(frame, kind, findings=log, source=source, lang=lang)
    _check_geometry(frame, spec, log, ctx)
    if spec is not None:
        _check_required(frame, spec, log, ctx)
        _check_ids(frame, spec, log, ctx)
        _check_codes(frame, spec, log, ctx)
        _check_patterns(frame, spec, log, ctx)
    _check_field_names(frame, spec, log, ctx)
    return log
