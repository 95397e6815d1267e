"""The layer catalog model: layer kinds, canonical fields, aliases and code lists.

``layers/catalog.yaml`` is the contract between the bureau's files and the code. This module
reads it once (validating its structure) into :class:`Catalog`, :class:`LayerKind` and
:class:`FieldSpec`, and answers lookups on it: :func:`layer_kind`, :func:`code_meaning` (the
meaning of a code), :func:`code_text` (a code as people read it), :func:`normalize_code`,
:func:`host_species`, :func:`is_forest_land`.

Examples
--------
>>> layer_kind("change_patches").fields["interp_cause"].codes[1]["zh"]
'采伐'
>>> code_meaning("change_patches", "verified_cause_code", 42)
'未审批使用林地'
>>> is_forest_land("乔木林地"), is_forest_land("耕地")
(True, False)
"""

from __future__ import annotations

import enum
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from gis.errors import SchemaError, os_reason, yaml_where_zh
from gis.layers.names import normalize_name, shapefile_cut
from gis.layers.values import FieldType, as_text, is_missing
from gis.resources import resource_path

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

CATALOG_PATH = resource_path("layers/catalog.yaml")
"""The catalog shipped with Linyuan (``layers/catalog.yaml``)."""


class GeometryKind(enum.StrEnum):
    """Geometry kinds of a layer, each accepting its single and multi part types."""

    POLYGON = "polygon"
    LINE = "line"
    POINT = "point"

    @property
    def geom_types(self) -> tuple[str, ...]:
        """Shapely geometry type names this kind accepts."""
        return {
            "polygon": ("Polygon", "MultiPolygon"),
            "line": ("LineString", "MultiLineString", "LinearRing"),
            "point": ("Point", "MultiPoint"),
        }[self.value]


@dataclass(frozen=True)
class FieldSpec:
    """One canonical field of a layer kind.

    Parameters
    ----------
    name : str
        Canonical English snake_case name (what results carry).
    type : str
        One of ``text``, ``int``, ``float``, ``date``, ``bool``.
    label_zh, label_en : str
        National Chinese column name (used on exchange) and English label.
    aliases : tuple of str
        Other names seen in deliveries (Chinese names, national pinyin short names).
    codes : dict, optional
        Code → meaning: ``{"zh": ..., "en": ..., "synonyms": (...), <flags>}``.
    required : bool
        Whether the field must be present and non-null.
    unit : str, optional
        Unit key of the catalog's ``units`` (``ha``, ``m2``, ``km``, ``pct`` …).
    open_codes : bool
        Values outside ``codes`` are warnings, not errors (e.g. tree species).
    pattern : str, optional
        Regular expression a text value must match (e.g. 6-digit county codes).
    """

    name: str
    type: str
    label_zh: str
    label_en: str
    aliases: tuple[str, ...] = ()
    codes: dict[Any, dict[str, Any]] | None = None
    required: bool = False
    unit: str | None = None
    open_codes: bool = False
    pattern: str | None = None

    def label(self, lang: str = "zh") -> str:
        """Return the Chinese (``zh``) or English (``en``) label."""
        return self.label_en if check_lang(lang) == "en" else self.label_zh

    @cached_property
    def code_lookup(self) -> dict[str, Any]:
        """Normalised code, meaning or synonym → code (empty without a code list)."""
        table: dict[str, Any] = {}
        for code, meaning in (self.codes or {}).items():
            for spelling in (meaning["zh"], meaning["en"], *meaning.get("synonyms", ())):
                table.setdefault(normalize_name(spelling), code)
        for code in self.codes or {}:
            table[normalize_name(code)] = code
        return table


@dataclass(frozen=True)
class LayerKind:
    """A kind of layer the bureau keeps (``change_patches``, ``subcompartments`` …)."""

    name: str
    label_zh: str
    label_en: str
    geometry: str
    fields: dict[str, FieldSpec]
    id_field: str | None = None
    also_geometry: tuple[str, ...] = ()

    @property
    def geom_types(self) -> tuple[str, ...]:
        """Shapely geometry type names accepted for this kind."""
        kinds = (self.geometry, *self.also_geometry)
        return tuple(t for k in kinds for t in GeometryKind(k).geom_types)

    @property
    def required_fields(self) -> tuple[str, ...]:
        """Names of the required fields."""
        return tuple(n for n, f in self.fields.items() if f.required)

    @cached_property
    def alias_rank(self) -> dict[str, tuple[str, int]]:
        """Normalised name → (canonical field, rank); a lower rank wins a conflict.

        Ranks: 0 the canonical name, 1 the national Chinese name, 2 the English label,
        3 an alias, 4 a name cut to 10 bytes by a Shapefile export (GBK or UTF-8), included
        only when the cut is unambiguous within the kind.
        """
        explicit = _explicit_names(self)
        cuts: dict[str, set[str]] = {}
        for key, (canonical, _) in explicit.items():
            for enc in ("gbk", "utf-8"):
                cut = normalize_name(shapefile_cut(key, encoding=enc))
                if cut != key:
                    cuts.setdefault(cut, set()).add(canonical)
        derived = {k: (v.pop(), 4) for k, v in cuts.items() if len(v) == 1 and k not in explicit}
        return {**derived, **explicit}

    @cached_property
    def alias_map(self) -> dict[str, str]:
        """Normalised name → canonical field (see :attr:`alias_rank` for what is included)."""
        return {key: canonical for key, (canonical, _) in self.alias_rank.items()}


@dataclass(frozen=True)
class Catalog:
    """All layer kinds, the shared column labels and the units of the catalog file."""

    kinds: dict[str, LayerKind]
    labels: dict[str, dict[str, str]]
    units: dict[str, dict[str, str]]
    path: Path = field(default=CATALOG_PATH)


def _explicit_names(kind: LayerKind) -> dict[str, tuple[str, int]]:
    names: dict[str, tuple[str, int]] = {}
    for spec in kind.fields.values():
        ranked = [(spec.name, 0), (spec.label_zh, 1), (spec.label_en, 2)]
        for alias, rank in [*ranked, *((a, 3) for a in spec.aliases)]:
            names.setdefault(normalize_name(alias), (spec.name, rank))
    return names


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is ``zh`` or ``en``; raise ValueError listing both otherwise."""
    if lang not in ("zh", "en"):
        raise ValueError(f"unknown language {lang!r}; valid values: zh, en")
    return lang


# --------------------------------------------------------------------------- loading


def _where(path: Path, key: str) -> str:
    return f"{path}: {key}"


def _need(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in raw:
        raise SchemaError(
            f"{where}.{key} is missing; add it to the catalog",
            zh=f"{where}.{key} 缺失；请在图层目录中补上",
        )
    value = raw[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise SchemaError(
            f"{where}.{key} should be a {names}, not {value!r}",
            zh=f"{where}.{key} 应为 {names} 类型，而不是 {value!r}",
        )
    return value


def _check_choice(value: Any, valid: tuple[str, ...], where: str) -> str:
    if value not in valid:
        raise SchemaError(
            f"{where} is {value!r}; valid values: {', '.join(valid)}",
            zh=f"{where} 的值 {value!r} 无效；有效值：{'、'.join(valid)}",
        )
    return str(value)


def _parse_codes(raw: Any, ftype: str, where: str) -> dict[Any, dict[str, Any]]:
    if not isinstance(raw, dict) or not raw:
        raise SchemaError(
            f"{where} should be a non-empty mapping of code → meaning",
            zh=f"{where} 应为非空的“代码 → 含义”映射",
        )
    key_type: type = int if ftype == FieldType.INT else str
    codes: dict[Any, dict[str, Any]] = {}
    for code, meaning in raw.items():
        at = f"{where}.{code}"
        if not isinstance(code, key_type) or isinstance(code, bool):
            raise SchemaError(
                f"{at}: code should be {key_type.__name__} for a {ftype} field",
                zh=f"{at}：{ftype} 类型字段的代码应为 {key_type.__name__}",
            )
        if not isinstance(meaning, dict):
            raise SchemaError(
                f"{at} should be a mapping with zh and en", zh=f"{at} 应为含 zh 和 en 的映射"
            )
        entry = dict(meaning)
        _need(meaning, "zh", str, at)
        _need(meaning, "en", str, at)
        entry["synonyms"] = tuple(str(s) for s in meaning.get("synonyms", ()))
        codes[code] = entry
    return codes


def _parse_field(name: str, raw: Any, units: Mapping[str, Any], where: str) -> FieldSpec:
    if not isinstance(raw, dict):
        raise SchemaError(
            f"{where} should be a mapping (type, label_zh, label_en …)",
            zh=f"{where} 应为映射（type、label_zh、label_en …）",
        )
    ftype = _check_choice(raw.get("type"), tuple(FieldType), f"{where}.type")
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise SchemaError(
            f"{where}.aliases should be a list of strings (quote YAML keywords)",
            zh=f"{where}.aliases 应为字符串列表（YAML 关键字请加引号）",
        )
    unit = raw.get("unit")
    if unit is not None:
        _check_choice(unit, tuple(units), f"{where}.unit")
    codes = _parse_codes(raw["codes"], ftype, f"{where}.codes") if "codes" in raw else None
    return FieldSpec(
        name=name,
        type=ftype,
        label_zh=_need(raw, "label_zh", str, where),
        label_en=_need(raw, "label_en", str, where),
        aliases=tuple(dict.fromkeys(aliases)),
        codes=codes,
        required=bool(raw.get("required", False)),
        unit=unit,
        open_codes=bool(raw.get("open_codes", False)),
        pattern=raw.get("pattern"),
    )


def _parse_kind(name: str, raw: Any, units: Mapping[str, Any], where: str) -> LayerKind:
    if not isinstance(raw, dict):
        raise SchemaError(
            f"{where} should be a mapping (label_zh, geometry, fields …)",
            zh=f"{where} 应为映射（label_zh、geometry、fields …）",
        )
    geometry = _check_choice(raw.get("geometry"), tuple(GeometryKind), f"{where}.geometry")
    also = tuple(raw.get("also_geometry", ()))
    for g in also:
        _check_choice(g, tuple(GeometryKind), f"{where}.also_geometry")
    raw_fields = _need(raw, "fields", dict, where)
    fields = {
        fname: _parse_field(fname, fraw, units, f"{where}.fields.{fname}")
        for fname, fraw in raw_fields.items()
    }
    id_field = raw.get("id")
    if id_field is not None and id_field not in fields:
        raise SchemaError(
            f"{where}.id names {id_field!r}, which is not one of its fields",
            zh=f"{where}.id 指定的 {id_field!r} 不是该图层的字段",
        )
    kind = LayerKind(
        name=name,
        label_zh=_need(raw, "label_zh", str, where),
        label_en=_need(raw, "label_en", str, where),
        geometry=geometry,
        fields=fields,
        id_field=id_field,
        also_geometry=also,
    )
    _check_unique_aliases(kind, where)
    return kind


def _check_unique_aliases(kind: LayerKind, where: str) -> None:
    seen: dict[str, str] = {}
    for spec in kind.fields.values():
        for alias in (spec.name, spec.label_zh, spec.label_en, *spec.aliases):
            key = normalize_name(alias)
            if seen.setdefault(key, spec.name) != spec.name:
                raise SchemaError(
                    f"{where}.fields: {alias!r} names both {seen[key]} and {spec.name}; "
                    "an alias must map to one field within a kind",
                    zh=f"{where}.fields：{alias!r} 同时指向 {seen[key]} 和 {spec.name}；"
                    "同一图层类型内一个别名只能对应一个字段",
                )


def _parse_labels(raw: Any, where: str) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict):
        raise SchemaError(
            f"{where} should be a mapping of column → {{zh, en}}",
            zh=f"{where} 应为“列名 → {{zh, en}}”映射",
        )
    for key, value in raw.items():
        if not isinstance(value, dict):
            raise SchemaError(
                f"{where}.{key} should be a mapping with zh and en",
                zh=f"{where}.{key} 应为含 zh 和 en 的映射",
            )
        _need(value, "zh", str, f"{where}.{key}")
        _need(value, "en", str, f"{where}.{key}")
    return {str(k): dict(v) for k, v in raw.items()}


def parse_catalog(raw: Any, *, path: Path = CATALOG_PATH) -> Catalog:
    """Build a :class:`Catalog` from the parsed YAML, raising on any malformed key.

    Raises
    ------
    SchemaError
        Naming the file and the key path (``kinds.parks.fields.status.type``) that is wrong.
    """
    if not isinstance(raw, dict):
        raise SchemaError(
            f"{path} should hold a mapping with units, labels and kinds",
            zh=f"{path} 应为含 units、labels 和 kinds 的映射",
        )
    units = _parse_labels(raw.get("units", {}), _where(path, "units"))
    labels = _parse_labels(raw.get("labels", {}), _where(path, "labels"))
    raw_kinds = _need(raw, "kinds", dict, str(path))
    kinds = {
        name: _parse_kind(name, value, units, _where(path, f"kinds.{name}"))
        for name, value in raw_kinds.items()
    }
    return Catalog(kinds=kinds, labels=labels, units=units, path=path)


def load_catalog(path: str | os.PathLike[str] = CATALOG_PATH) -> Catalog:
    """Read and validate a catalog file (uncached; :func:`catalog` caches the shipped one).

    Raises
    ------
    SchemaError
        When the file is missing, is not YAML, or has a malformed key.
    """
    p = Path(path)
    try:
        # libyaml's safe loader, where PyYAML was built with it: 10x faster on the catalog.
        raw = yaml.load(p.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except OSError as exc:
        raise SchemaError(
            f"cannot read the layer catalog {p}: {exc.strerror}",
            zh=f"无法读取图层目录 {p}：{os_reason(exc)[1]}",
        ) from exc
    except yaml.YAMLError as exc:
        raise SchemaError(
            f"the layer catalog {p} is not valid YAML: {exc}",
            zh=f"图层目录 {p} 不是有效的 YAML{yaml_where_zh(exc)}；请修正该文件",
        ) from exc
    return parse_catalog(raw, path=p)


@functools.cache
def catalog() -> Catalog:
    """Return the shipped catalog (``layers/catalog.yaml``), loaded and validated once."""
    return load_catalog(CATALOG_PATH)


def layer_kind(kind: str) -> LayerKind:
    """Return the :class:`LayerKind` named ``kind``.

    Raises
    ------
    SchemaError
        For an unknown kind; the message lists the valid kinds.
    """
    kinds = catalog().kinds
    try:
        return kinds[kind]
    except KeyError:
        raise SchemaError(
            f"unknown layer kind {kind!r}; valid kinds: {', '.join(kinds)}",
            zh=f"未知的图层类型 {kind!r}；有效类型：{'、'.join(kinds)}",
        ) from None


def field_spec(kind: str, name: str) -> FieldSpec:
    """Return the :class:`FieldSpec` of field ``name`` of layer kind ``kind``.

    Raises
    ------
    SchemaError
        For an unknown kind or field; the message lists the valid ones.
    """
    spec = layer_kind(kind)
    try:
        return spec.fields[name]
    except KeyError:
        raise SchemaError(
            f"layer kind {kind} has no field {name!r}; its fields: {', '.join(spec.fields)}",
            zh=f"图层类型 {kind} 没有字段 {name!r}；其字段：{'、'.join(spec.fields)}",
        ) from None


def code_meaning(kind: str, field: str, code: Any, *, lang: str = "zh") -> str | None:
    """Return the meaning of ``code`` in a field's code list, or ``None`` when not listed.

    Raises
    ------
    SchemaError
        When the kind or field is unknown.
    """
    spec = field_spec(kind, field)
    key = normalize_code(spec, code)
    if key is None or spec.codes is None or key not in spec.codes:
        return None
    return str(spec.codes[key][check_lang(lang)])


def code_text(kind: str, field: str, code: Any, *, lang: str = "zh") -> str:
    """Return a code as a person reads it: its meaning in ``lang``, never a bare code.

    The one rule every table, map, KMZ and report shows codes by: a text code is replaced by
    its meaning, a numeric code (national cause codes) keeps its number before the meaning
    (``3 毁林开垦``), a missing value is ``—`` and a value outside the list is shown as it is.

    Examples
    --------
    >>> code_text("change_patches", "interp_cause", 3.0), code_text("change_patches", "legality",
    ...     "permitted", lang="en")
    ('3 毁林开垦', 'permitted')
    >>> code_text("change_patches", "change_type", None), code_text("pest_points", "status", "x")
    ('—', 'x')
    """
    if is_missing(code):
        return "—"
    text = code_meaning(kind, field, code, lang=lang)
    shown = int(code) if isinstance(code, float) and code.is_integer() else code
    if text is None:
        return str(shown)
    return f"{shown} {text}" if isinstance(shown, int) and not isinstance(shown, bool) else text


def coded_fields(kind: str) -> tuple[str, ...]:
    """Return the fields of ``kind`` that have a code list (shown by :func:`code_text`).

    Examples
    --------
    >>> coded_fields("pest_points")
    ('status',)
    """
    return tuple(n for n, spec in layer_kind(kind).fields.items() if spec.codes)


def codes_as_text(frame: Any, kind: str, *, lang: str = "zh") -> Any:
    """Return a copy of ``frame`` with every coded field of ``kind`` shown by :func:`code_text`.

    The table for people (XLSX): codes read as their meaning in ``lang``; other columns and
    values outside the lists stay as they are.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"product": ["viirs"], "confidence_class": ["nominal"], "id": ["H1"]})
    >>> codes_as_text(t, "hotspots").iloc[0].tolist()
    ['VIIRS 火点（375 米）', '中', 'H1']
    """
    out = frame.copy()
    for col in [c for c in coded_fields(kind) if c in out.columns]:
        out[col] = out[col].map(lambda c, col=col: code_text(kind, col, c, lang=lang))
    return out


def normalize_code(spec: FieldSpec, value: Any) -> Any:
    """Return the code ``value`` stands for (a code, meaning or synonym), else ``None``.

    Examples
    --------
    >>> normalize_code(layer_kind("parks").fields["category"], "口袋公园")
    '游园'
    """
    if is_missing(value):
        return None
    if spec.codes and value in spec.codes:
        return value
    text = as_text(value)
    return spec.code_lookup.get(normalize_name(text)) if text is not None else None


def _flagged(kind: str, field: str, flag: str) -> tuple[Any, ...]:
    return tuple(c for c, m in (field_spec(kind, field).codes or {}).items() if m.get(flag))


def host_species() -> tuple[str, ...]:
    """Return the pine wilt host species (codes of ``dominant_species`` flagged as hosts).

    Examples
    --------
    >>> "红松" in host_species(), "杨树" in host_species()
    (True, False)
    """
    return tuple(str(c) for c in _flagged("subcompartments", "dominant_species", "host_pine_wilt"))


def leaf_habit(species: Any) -> str | None:
    """Return the leaf habit of a 优势树种 (``leaf_habit`` of its code), else ``None``.

    Stands of one habit leaf out, colour and drop their leaves together (larch apart from the
    evergreen conifers); a species the catalog does not list has none.

    Examples
    --------
    >>> leaf_habit("柞树"), leaf_habit("兴安落叶松"), leaf_habit("红松"), leaf_habit("银杏")
    ('deciduous_broadleaf', 'deciduous_conifer', 'evergreen_conifer', None)
    """
    spec = field_spec("subcompartments", "dominant_species")
    code = normalize_code(spec, species)
    habit = (spec.codes or {}).get(code, {}).get("leaf_habit") if code is not None else None
    return str(habit) if habit else None


def is_forest_land(land_class: Any) -> bool:
    """Return whether a 地类 value (code, name or synonym) is forest land; unknown → False."""
    spec = field_spec("subcompartments", "land_class")
    code = normalize_code(spec, land_class)
    return code is not None and bool((spec.codes or {})[code].get("is_forest_land"))
