"""The layer catalog: layer kinds, canonical fields, Chinese/national aliases, code lists.

``layers/catalog.yaml`` is the contract between the bureau's files and the code. This module
reads it once (validating its structure), and offers what readers, checks and exchange writers
need: :func:`canonicalize` renames known aliases to canonical English names and coerces types,
:func:`label` gives Chinese or English headers, :func:`national_names` the national Chinese
column names for XLSX/Shapefile/KMZ exchange, :func:`code_meaning` the meaning of a code.

Examples
--------
>>> layer_kind("change_patches").fields["interp_cause"].codes[1]["zh"]
'采伐'
>>> label("area_ha"), label("area_ha", lang="en")
('面积（公顷）', 'Area (ha)')
>>> code_meaning("change_patches", "verified_cause_code", 42)
'未审批使用林地'
>>> is_forest_land("乔木林地"), is_forest_land("耕地")
(True, False)
>>> import geopandas as gpd, shapely
>>> raw = gpd.GeoDataFrame({"TBBH": [101.0], "判读变化原因": ["1"], "QQYXSJ": ["20230415"]},
...                        geometry=[shapely.box(0, 0, 1, 1)], crs=4551)
>>> out = canonicalize(raw, "change_patches")
>>> out.attrs["renamed"]["TBBH"], out.loc[0, "patch_id"], int(out.loc[0, "interp_cause"])
('patch_id', '101', 1)
>>> str(out.loc[0, "image_date_before"].date())
'2023-04-15'
"""

from __future__ import annotations

import datetime
import enum
import functools
import os
import re
import unicodedata
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
import yaml

from gis.errors import SchemaError
from gis.findings import Findings, Severity
from gis.resources import resource_path

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

CATALOG_PATH = resource_path("layers/catalog.yaml")
"""The catalog shipped with Linyuan (``layers/catalog.yaml``)."""

FrameT = TypeVar("FrameT", bound=pd.DataFrame)

SHAPEFILE_NAME_BYTES = 10
"""A DBF field name holds at most 10 bytes; longer names are cut on Shapefile export."""


class FieldType(enum.StrEnum):
    """Attribute types a catalog field may have."""

    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    DATE = "date"
    BOOL = "bool"


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
        return self.label_en if _lang(lang) == "en" else self.label_zh

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


# --------------------------------------------------------------------------- names


def normalize_name(name: Any) -> str:
    """Return a name as compared with aliases: NFKC (full→half width), trimmed, casefolded.

    Examples
    --------
    >>> normalize_name(" ＰＡＮ＿ＮＯ＿ＴＢ ")
    'pan_no_tb'
    """
    return unicodedata.normalize("NFKC", str(name)).strip().casefold()


def shapefile_cut(name: str, *, encoding: str = "gbk", limit: int = SHAPEFILE_NAME_BYTES) -> str:
    """Return ``name`` as a DBF would keep it: at most ``limit`` bytes, whole characters only.

    Examples
    --------
    >>> shapefile_cut("判读变化原因")
    '判读变化原'
    """
    out = ""
    for char in name:
        if len((out + char).encode(encoding, errors="replace")) > limit:
            break
        out += char
    return out


def _explicit_names(kind: LayerKind) -> dict[str, tuple[str, int]]:
    names: dict[str, tuple[str, int]] = {}
    for spec in kind.fields.values():
        ranked = [(spec.name, 0), (spec.label_zh, 1), (spec.label_en, 2)]
        for alias, rank in [*ranked, *((a, 3) for a in spec.aliases)]:
            names.setdefault(normalize_name(alias), (spec.name, rank))
    return names


def _lang(lang: str) -> str:
    if lang not in ("zh", "en"):
        raise ValueError(f"unknown language {lang!r}; valid values: zh, en")
    return lang


# --------------------------------------------------------------------------- loading


def _where(path: Path, key: str) -> str:
    return f"{path}: {key}"


def _need(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in raw:
        raise SchemaError(f"{where}.{key} is missing; add it to the catalog")
    value = raw[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise SchemaError(f"{where}.{key} should be a {names}, not {value!r}")
    return value


def _check_choice(value: Any, valid: tuple[str, ...], where: str) -> str:
    if value not in valid:
        raise SchemaError(f"{where} is {value!r}; valid values: {', '.join(valid)}")
    return str(value)


def _parse_codes(raw: Any, ftype: str, where: str) -> dict[Any, dict[str, Any]]:
    if not isinstance(raw, dict) or not raw:
        raise SchemaError(f"{where} should be a non-empty mapping of code → meaning")
    key_type: type = int if ftype == FieldType.INT else str
    codes: dict[Any, dict[str, Any]] = {}
    for code, meaning in raw.items():
        at = f"{where}.{code}"
        if not isinstance(code, key_type) or isinstance(code, bool):
            raise SchemaError(f"{at}: code should be {key_type.__name__} for a {ftype} field")
        if not isinstance(meaning, dict):
            raise SchemaError(f"{at} should be a mapping with zh and en")
        entry = dict(meaning)
        _need(meaning, "zh", str, at)
        _need(meaning, "en", str, at)
        entry["synonyms"] = tuple(str(s) for s in meaning.get("synonyms", ()))
        codes[code] = entry
    return codes


def _parse_field(name: str, raw: Any, units: Mapping[str, Any], where: str) -> FieldSpec:
    if not isinstance(raw, dict):
        raise SchemaError(f"{where} should be a mapping (type, label_zh, label_en …)")
    ftype = _check_choice(raw.get("type"), tuple(FieldType), f"{where}.type")
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise SchemaError(f"{where}.aliases should be a list of strings (quote YAML keywords)")
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
        raise SchemaError(f"{where} should be a mapping (label_zh, geometry, fields …)")
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
        raise SchemaError(f"{where}.id names {id_field!r}, which is not one of its fields")
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
                    "an alias must map to one field within a kind"
                )


def _parse_labels(raw: Any, where: str) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict):
        raise SchemaError(f"{where} should be a mapping of column → {{zh, en}}")
    for key, value in raw.items():
        if not isinstance(value, dict):
            raise SchemaError(f"{where}.{key} should be a mapping with zh and en")
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
        raise SchemaError(f"{path} should hold a mapping with units, labels and kinds")
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
        raise SchemaError(f"cannot read the layer catalog {p}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SchemaError(f"the layer catalog {p} is not valid YAML: {exc}") from exc
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
        raise SchemaError(f"unknown layer kind {kind!r}; valid kinds: {', '.join(kinds)}") from None


def _field(kind: str, name: str) -> FieldSpec:
    spec = layer_kind(kind)
    try:
        return spec.fields[name]
    except KeyError:
        raise SchemaError(
            f"layer kind {kind} has no field {name!r}; its fields: {', '.join(spec.fields)}"
        ) from None


# --------------------------------------------------------------------------- lookups


def label(field: str, *, kind: str | None = None, lang: str = "zh") -> str:
    """Return the Chinese (or English) header for a column; the name itself when unknown.

    Looks in the kind's fields first, then in the catalog's shared ``labels``, then in any
    kind that has the field.

    Examples
    --------
    >>> label("patch_id", kind="change_patches")
    '判读图斑编号'
    >>> label("no_such_column")
    'no_such_column'
    """
    lang = _lang(lang)
    cat = catalog()
    if kind is not None and field in layer_kind(kind).fields:
        return layer_kind(kind).fields[field].label(lang)
    if field in cat.labels:
        return cat.labels[field][lang]
    for spec in cat.kinds.values():
        if field in spec.fields:
            return spec.fields[field].label(lang)
    return field


def labels(kind: str | None = None, *, lang: str = "zh") -> dict[str, str]:
    """Return column → header for the shared labels and (optionally) one kind's fields."""
    out = {name: value[_lang(lang)] for name, value in catalog().labels.items()}
    if kind is not None:
        out.update({n: f.label(lang) for n, f in layer_kind(kind).fields.items()})
    return out


def national_names(kind: str) -> dict[str, str]:
    """Return canonical field → national Chinese column name, for exchange writers.

    Examples
    --------
    >>> national_names("change_patches")["interp_cause"]
    '判读变化原因'
    """
    return {name: spec.label_zh for name, spec in layer_kind(kind).fields.items()}


def _is_short_name(name: str) -> bool:
    """National pinyin short names: ASCII capitals, digits and ``_``, at most 10 bytes."""
    return re.fullmatch(r"[A-Z][A-Z0-9_]{0,9}", name) is not None


def shapefile_names(kind: str) -> dict[str, str]:
    """Return canonical field → the name it takes in a national Shapefile, where one fits.

    The national pinyin short name (``PAN_NO_TB``) when the catalog lists one, else the
    national Chinese name or the canonical name when it fits in 10 GBK bytes. Fields with no
    such name are left out (a writer must shorten them, e.g. with a field-name map).

    Examples
    --------
    >>> names = shapefile_names("change_patches")
    >>> names["patch_id"], names["interp_cause"], "valid_frac_before" in names
    ('TBBH', 'PAN_BHYY', False)
    """
    out: dict[str, str] = {}
    for name, spec in layer_kind(kind).fields.items():
        short = [a for a in spec.aliases if _is_short_name(a)]
        fits = [n for n in (spec.label_zh, name) if gbk_bytes(n) <= SHAPEFILE_NAME_BYTES]
        if short or fits:
            out[name] = (short or fits)[0]
    return out


def gbk_bytes(name: str) -> int:
    """Return the length of ``name`` in GBK bytes (what a Chinese DBF stores).

    Examples
    --------
    >>> gbk_bytes("判读图斑编号"), gbk_bytes("TBBH")
    (12, 4)
    """
    return len(name.encode("gbk", errors="replace"))


def code_meaning(kind: str, field: str, code: Any, *, lang: str = "zh") -> str | None:
    """Return the meaning of ``code`` in a field's code list, or ``None`` when not listed.

    Raises
    ------
    SchemaError
        When the kind or field is unknown.
    """
    spec = _field(kind, field)
    key = normalize_code(spec, code)
    if key is None or spec.codes is None or key not in spec.codes:
        return None
    return str(spec.codes[key][_lang(lang)])


def normalize_code(spec: FieldSpec, value: Any) -> Any:
    """Return the code ``value`` stands for (a code, meaning or synonym), else ``None``.

    Examples
    --------
    >>> normalize_code(layer_kind("parks").fields["category"], "口袋公园")
    '游园'
    """
    if _is_missing(value):
        return None
    if spec.codes and value in spec.codes:
        return value
    text = _as_text(value)
    return spec.code_lookup.get(normalize_name(text)) if text is not None else None


def _flagged(kind: str, field: str, flag: str) -> tuple[Any, ...]:
    return tuple(c for c, m in (_field(kind, field).codes or {}).items() if m.get(flag))


def host_species() -> tuple[str, ...]:
    """Return the pine wilt host species (codes of ``dominant_species`` flagged as hosts).

    Examples
    --------
    >>> "红松" in host_species(), "杨树" in host_species()
    (True, False)
    """
    return tuple(str(c) for c in _flagged("subcompartments", "dominant_species", "host_pine_wilt"))


def is_forest_land(land_class: Any) -> bool:
    """Return whether a 地类 value (code, name or synonym) is forest land; unknown → False."""
    spec = _field("subcompartments", "land_class")
    code = normalize_code(spec, land_class)
    return code is not None and bool((spec.codes or {})[code].get("is_forest_land"))


# --------------------------------------------------------------------------- coercion

_DATE_PATTERNS = (
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
    re.compile(r"^(?P<y>\d{4})[-./年](?P<m>\d{1,2})[-./月](?P<d>\d{1,2})日?(?:[T ].*)?$"),
    re.compile(r"^(?P<y>\d{4})[-./年](?P<m>\d{1,2})月?$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})$"),
)
_TRUE = frozenset({"1", "true", "t", "yes", "y", "是", "对", "√", "有"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "否", "不是", "×", "无"})


class _Unparsed:
    """Marker for a value that could not be converted."""


UNPARSED: Any = _Unparsed()


def _is_missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _as_text(value: Any) -> str | None:
    """Text of a value: integral floats lose their ``.0``; strings are NFKC-trimmed."""
    if _is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value).strip() or None
    return str(value)


def parse_date(value: Any) -> pd.Timestamp | None:
    """Parse a date from YYYYMMDD, YYYY-MM-DD, YYYY/MM/DD, YYYY.MM(.DD), YYYYMM or a date.

    Month-only values give the first of the month. Returns ``None`` for missing values and
    :data:`UNPARSED` for values that are not a date.

    Examples
    --------
    >>> str(parse_date("2023.10").date()), str(parse_date(20230415).date())
    ('2023-10-01', '2023-04-15')
    """
    if _is_missing(value):
        return None
    if isinstance(value, datetime.date | np.datetime64):
        return pd.Timestamp(value)
    # A DBF numeric 2023.10 arrives as the float 2023.1: keep two decimals for YYYY.MM.
    text = (
        f"{value:.2f}" if isinstance(value, float) and not value.is_integer() else _as_text(value)
    )
    if text is None:
        return None
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            parts = match.groupdict()
            try:
                return pd.Timestamp(int(parts["y"]), int(parts["m"]), int(parts.get("d") or 1))
            except ValueError:
                return UNPARSED
    return UNPARSED


def _parse_int(value: Any) -> Any:
    number = _parse_float(value)
    if number is UNPARSED or number is None:
        return number
    fits = float(number).is_integer() and abs(number) < 2**63
    return int(number) if fits else UNPARSED


def _parse_float(value: Any) -> Any:
    if isinstance(value, bool):
        return float(value)
    text = _as_text(value)
    if text is None or text == "":
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return UNPARSED


def _parse_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    text = _as_text(value)
    if text is None or text == "":
        return None
    key = normalize_name(text)
    return True if key in _TRUE else False if key in _FALSE else UNPARSED


_PARSERS: dict[str, Callable[[Any], Any]] = {
    FieldType.TEXT: _as_text,
    FieldType.INT: _parse_int,
    FieldType.FLOAT: _parse_float,
    FieldType.DATE: parse_date,
    FieldType.BOOL: _parse_bool,
}
_DTYPES: dict[str, Any] = {
    FieldType.TEXT: "str" if int(pd.__version__.split(".")[0]) >= 3 else object,
    FieldType.INT: "Int64",
    FieldType.FLOAT: "float64",
    FieldType.BOOL: "boolean",
}


def _already_typed(series: pd.Series, ftype: str) -> bool:
    checks: dict[str, Callable[[Any], bool]] = {
        FieldType.DATE: pd.api.types.is_datetime64_any_dtype,
        FieldType.FLOAT: pd.api.types.is_float_dtype,
        FieldType.INT: lambda d: str(d) == "Int64",
        FieldType.BOOL: lambda d: str(d) == "boolean",
    }
    check = checks.get(ftype)
    return bool(check and check(series.dtype))


def _map_unique(series: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    """Apply ``func`` once per distinct non-null value (fast on large layers)."""
    uniques = pd.unique(series.dropna())
    table: dict[Hashable, Any] = {u: func(u) for u in uniques}
    return series.map(table).astype(object)


def _with_codes(series: pd.Series, spec: FieldSpec) -> tuple[pd.Series, int]:
    """Replace meanings and synonyms by their codes; return the series and how many changed."""
    if not spec.codes:
        return series, 0

    def to_code(value: Any) -> Any:
        code = normalize_code(spec, value)
        return value if code is None else code

    mapped = _map_unique(series, to_code)
    changed = int((mapped.notna() & (mapped.astype(str) != series.astype(str))).sum())
    return mapped, changed


def coerce_field(series: pd.Series, spec: FieldSpec) -> tuple[pd.Series, pd.Series, int]:
    """Coerce a column to its catalog type.

    Returns
    -------
    tuple
        (coerced series, the original values that could not be parsed, number of values
        replaced by their code from a meaning or synonym).
    """
    if _already_typed(series, spec.type):
        return series, series.iloc[0:0], 0
    source = series
    if spec.type == FieldType.TEXT:
        series = _map_unique(series, _as_text)
    series, changed = _with_codes(series, spec)
    parsed = _map_unique(series, _PARSERS[spec.type])
    bad = parsed.map(lambda v: v is UNPARSED)
    parsed = parsed.mask(bad, None)
    if spec.type == FieldType.DATE:
        out = pd.to_datetime(parsed.astype(object).where(parsed.notna(), None))
    else:
        out = parsed.astype(object).where(parsed.notna(), None).astype(_DTYPES[spec.type])
    return out, source[bad], changed


# --------------------------------------------------------------------------- canonicalize

_MESSAGES = {
    "fields_renamed": {
        "zh": "字段已按图层目录改名为标准名：{mapping}",
        "en": "fields renamed to their canonical names: {mapping}",
    },
    "alias_conflict": {
        "zh": "字段 {column} 与 {other} 都对应标准字段 {field}，保留 {other}，{column} 原样保留",
        "en": "fields {column} and {other} both map to {field}; kept {other}, left {column} as is",
    },
    "unparsed_value": {
        "zh": "字段 {field} 有 {count} 个值无法解析为{type}（如 {examples}），已置为空；"
        "请在源数据中更正",
        "en": "field {field}: {count} value(s) could not be read as {type} (e.g. {examples}); "
        "set to null — correct them in the source",
    },
    "codes_normalized": {
        "zh": "字段 {field} 有 {count} 个值由名称或同义词换为代码",
        "en": "field {field}: {count} value(s) given as meaning or synonym replaced by the code",
    },
}


_TYPE_WORDS = {
    "zh": {"text": "文本", "int": "整数", "float": "数值", "date": "日期", "bool": "是/否"},
    "en": {
        "text": "text",
        "int": "an integer",
        "float": "a number",
        "date": "a date",
        "bool": "yes/no",
    },
}


def message(code: str, lang: str = "zh", **values: Any) -> str:
    """Return the message template ``code`` of this module in ``lang``, filled with values."""
    return _MESSAGES[code][_lang(lang)].format(**values)


def _rename_plan(
    columns: list[str], kind: LayerKind
) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Return (original → canonical, conflicts as (column, kept column, field)).

    When several columns name one field, the best-ranked name wins (the canonical name, then
    the national Chinese name, the English label, an alias, a cut name), then the first.
    """
    best: dict[str, tuple[int, int, str]] = {}
    matches: list[tuple[str, str]] = []
    for position, column in enumerate(columns):
        found = kind.alias_rank.get(normalize_name(column))
        if found is None:
            continue
        canonical, rank = found
        candidate = (-1 if column == canonical else rank, position, column)
        best[canonical] = min(best.get(canonical, candidate), candidate)
        matches.append((column, canonical))
    mapping = {c: k for c, k in matches if best[k][2] == c and c != k}
    conflicts = [(c, best[k][2], k) for c, k in matches if best[k][2] != c]
    return mapping, conflicts


def _examples(values: pd.Series, n: int = 3) -> str:
    shown = (v.item() if isinstance(v, np.generic) else v for v in pd.unique(values)[:n])
    return ", ".join(repr(v) for v in shown)


def _texts(code: str, **values: Any) -> dict[str, str]:
    """Return the message ``code`` as the English ``message`` and the Chinese ``zh``.

    A value given as a ``{"zh": …, "en": …}`` dict is taken in each language.
    """

    def pick(lang: str) -> dict[str, Any]:
        return {k: v[lang] if isinstance(v, dict) else v for k, v in values.items()}

    return {"message": message(code, "en", **pick("en")), "zh": message(code, "zh", **pick("zh"))}


def _coerce_all(frame: pd.DataFrame, kind: LayerKind, log: Findings, source: str | None) -> None:
    for name, spec in kind.fields.items():
        if name not in frame.columns:
            continue
        frame[name], bad, changed = coerce_field(frame[name], spec)
        if changed:
            texts = _texts("codes_normalized", field=name, count=changed)
            log.add("codes_normalized", **texts, severity=Severity.INFO, source=source, field=name)
        if len(bad):
            severe = spec.required or (spec.codes is not None and not spec.open_codes)
            texts = _texts(
                "unparsed_value",
                field=name,
                count=len(bad),
                type={lang: words[spec.type] for lang, words in _TYPE_WORDS.items()},
                examples=_examples(bad),
            )
            log.add(
                "unparsed_value",
                **texts,
                severity=Severity.ERROR if severe else Severity.WARNING,
                source=source,
                field=name,
                feature=", ".join(str(i) for i in bad.index[:5]),
            )


def canonicalize(
    frame: FrameT,
    kind: str,
    *,
    findings: Findings | None = None,
    source: str | None = None,
    lang: str = "zh",
) -> FrameT:
    """Rename known aliases to canonical names and coerce the catalog's types.

    Other fields are kept as they are. The renaming is recorded in ``attrs["renamed"]``
    (original → canonical) and as an ``info`` finding; values that cannot be parsed become
    null with one finding per field (an ``error`` for required or closed code-list fields).
    Values given as a code's meaning or synonym (``口袋公园``, ``"采伐"``) become the code.
    ``attrs["kind"]`` records the kind. Running it twice gives the same frame.

    Parameters
    ----------
    frame : GeoDataFrame or DataFrame
        The layer as read; not modified.
    kind : str
        Layer kind of the catalog, e.g. ``"change_patches"``.
    findings : Findings, optional
        Collector for the findings (a new one is used when omitted).
    source : str, optional
        File (and layer) name for the findings.
    lang : {"zh", "en"}
        Kept for callers that pass it; findings carry both languages
        (:meth:`gis.findings.Finding.text` picks one).

    Returns
    -------
    GeoDataFrame or DataFrame
        A new frame with canonical names and types.
    """
    _lang(lang)
    spec = layer_kind(kind)
    log = findings if findings is not None else Findings()
    columns = [str(c) for c in frame.columns]
    mapping, conflicts = _rename_plan(columns, spec)
    out = cast(FrameT, frame.rename(columns=mapping) if mapping else frame.copy())
    out.attrs["renamed"] = {**frame.attrs.get("renamed", {}), **mapping}
    out.attrs["kind"] = kind
    if mapping:
        shown = ", ".join(f"{k} → {v}" for k, v in mapping.items())
        texts = _texts("fields_renamed", mapping=shown)
        log.add("fields_renamed", **texts, severity=Severity.INFO, source=source)
    for column, other, canonical in conflicts:
        texts = _texts("alias_conflict", column=column, other=other, field=canonical)
        log.add("alias_conflict", **texts, source=source, field=column)
    _coerce_all(out, spec, log, source)
    return out
