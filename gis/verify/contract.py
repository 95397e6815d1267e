"""The field-record export contract (schema version 1) and a small JSON-Schema-like validator.

The offline map's verification form exports a GeoJSON FeatureCollection, one Feature per
record; ``linyuan verify import`` reads it. :data:`FEATURE_SCHEMA` (common part) and
:data:`LAYER_PROPERTIES` (verdict fields per layer) are the contract in code; the prose is
``docs/field-records.md``. The validator understands the JSON Schema keywords used here:
``type``, ``const``, ``enum``, ``pattern``, ``minLength``, ``maxLength``, ``minimum``,
``maximum``, ``required``, ``properties``, ``additionalProperties``, ``items``,
``minItems``, ``maxItems`` and ``format`` (``date-time-offset``, ``uuid4``).

Examples
--------
>>> validate({"type": "Feature"}, {"type": "object", "required": ["geometry"]})
['(root): required property geometry is missing']
>>> validate(3, {"type": "integer", "minimum": 1, "maximum": 2}, where="x")
['x: 3 is greater than the maximum 2']
>>> validate(True, {"type": "integer"}, where="x")
['x: true is not of type integer']
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

SCHEMA_VERSION = 1
"""The version of the export contract this code reads (``properties.schema_version``)."""

LAYERS = ("patches_checked", "discolored_points", "hotspots_checked")
"""Result layers a field record may be about."""

ID_FIELDS = {
    "patches_checked": "patch_id",
    "discolored_points": "point_id",
    "hotspots_checked": "hotspot_id",
}
"""Id column of each result layer; a record's ``feature_id`` is one of its values."""

OUTCOMES = ("confirmed_dead_pine", "other_cause", "not_found")
"""Field outcomes of a discolored point (codes of ``pest_points.status``)."""

LAB_OUTCOMES = ("lab_positive", "lab_negative")
"""Outcomes only a lab test gives (``linyuan verify lab``); never in a field export."""

PHOTO_MIMES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
"""Photo media types accepted and the suffix their files get in the photo folder."""

UUID4 = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
SHA256 = r"^[0-9a-f]{64}$"
_SURROGATE = re.compile("[\ud800-\udfff]")


class Reason(str):
    """Why a record breaks the contract: the English text (the string itself) and ``zh``.

    A plain ``str`` to every caller that compares or joins reasons; :func:`reason_zh` reads
    the Chinese one, so a rejection can be shown in the language of ``--lang``.

    Examples
    --------
    >>> r = Reason("x: must not be empty", "x：不能为空")
    >>> r == "x: must not be empty", reason_zh(r), reason_zh("plain")
    (True, 'x：不能为空', 'plain')
    """

    zh: str

    def __new__(cls, en: str, zh: str) -> Reason:
        """Make the reason: ``en`` is its text, ``zh`` the Chinese one."""
        self = super().__new__(cls, en)
        self.zh = zh
        return self


def reason_zh(reason: str) -> str:
    """Return the Chinese text of a :class:`Reason` (a plain string as it is)."""
    return getattr(reason, "zh", reason)


MAX_TEXT = 2000
"""Longest text property (characters)."""
MAX_PHOTOS = 20
"""Most photos per record."""
MAX_PHOTO_BYTES = 10 * 1024 * 1024
"""Largest photo (decoded bytes); the map downscales photos far below this."""
MAX_PHOTO_BASE64 = 4 * ((MAX_PHOTO_BYTES + 2) // 3)
"""Longest ``data`` text of a photo (base64 of :data:`MAX_PHOTO_BYTES`)."""
MAX_DEPTH = 16
"""Deepest nesting of arrays and objects in one Feature (a valid record needs 4)."""
MAX_GPS_ACCURACY_M = 100_000
"""Largest ``gps_accuracy_m`` (metres): beyond it a fix locates nothing."""
DEVICE_YEARS = (2000, 2099)
"""First and last year a ``device_time`` may fall in."""
MAX_BURNED_AREA_HA = 1_000_000
"""Largest ``burned_area_est_ha`` (hectares): more than any fire in the city's records could be."""


@functools.cache
def cause_codes() -> tuple[int, ...]:
    """Return the national 核实变化原因 codes (``verified_cause_code``) of the catalog."""
    from gis.layers import layer_kind

    codes = layer_kind("change_patches").fields["verified_cause_code"].codes or {}
    return tuple(sorted(int(c) for c in codes))


@functools.cache
def fire_types() -> tuple[str, ...]:
    """Return the 火情类型 codes (``fire_type``) of the catalog's hotspot feedback fields."""
    from gis.layers import layer_kind

    return tuple(layer_kind("hotspots").fields["fire_type"].codes or {})


def _text(*, nullable: bool = True, min_length: int = 0) -> dict[str, Any]:
    kinds = ["string", "null"] if nullable else ["string"]
    return {"type": kinds, "minLength": min_length, "maxLength": MAX_TEXT}


PHOTO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["mime", "sha256", "data"],
    "additionalProperties": False,
    "properties": {
        "mime": {"enum": list(PHOTO_MIMES)},
        "sha256": {"type": "string", "pattern": SHA256},
        "data": {"type": "string", "minLength": 1, "maxLength": MAX_PHOTO_BASE64},
    },
}

COMMON_PROPERTIES: dict[str, Any] = {
    "schema_version": {"const": SCHEMA_VERSION},
    "record_id": {"type": "string", "format": "uuid4"},
    "map_id": _text(nullable=False, min_length=1),
    "results_run_id": _text(nullable=False, min_length=1),
    "layer": {"enum": list(LAYERS)},
    "feature_id": _text(nullable=False, min_length=1),
    "inspector": _text(nullable=False, min_length=1),
    "device_time": {"type": "string", "format": "date-time-offset"},
    "gps_accuracy_m": {"type": ["number", "null"], "minimum": 0, "maximum": MAX_GPS_ACCURACY_M},
    "note": _text(),
    "photos": {"type": "array", "maxItems": MAX_PHOTOS, "items": PHOTO_SCHEMA},
}


def layer_properties() -> dict[str, dict[str, Any]]:
    """Return the verdict properties of each layer (JSON-Schema ``properties`` objects)."""
    return {
        "patches_checked": {
            "is_real_change": {"type": "boolean"},
            "verified_cause_code": {"type": ["integer", "null"], "enum": [*cause_codes(), None]},
            "permit_no": _text(),
        },
        "discolored_points": {
            "outcome": {"enum": list(OUTCOMES)},
            "sample_taken": {"type": "boolean"},
            "sample_id": _text(),
        },
        "hotspots_checked": {
            "is_fire": {"type": "boolean"},
            "fire_type": {"type": ["string", "null"], "enum": [*fire_types(), None]},
            "extinguished": {"type": ["boolean", "null"]},
            "burned_area_est_ha": {
                "type": ["number", "null"],
                "minimum": 0,
                "maximum": MAX_BURNED_AREA_HA,
            },
        },
    }


def properties_schema(layer: str) -> dict[str, Any]:
    """Return the schema of ``properties`` for records about ``layer``."""
    props = {**COMMON_PROPERTIES, **layer_properties()[layer]}
    return {
        "type": "object",
        "required": list(props),
        "properties": props,
        "additionalProperties": False,
        "patternProperties": "^x_",
    }


FEATURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"const": "Feature"},
        "geometry": {
            "type": ["object", "null"],
            "required": ["type", "coordinates"],
            "properties": {
                "type": {"const": "Point"},
                "coordinates": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 3,
                    "items": {"type": "number"},
                },
            },
        },
        "properties": {"type": "object", "required": ["layer"]},
    },
}


def contract_schema() -> dict[str, Any]:
    """Return the whole contract as one JSON-serialisable document (for docs and the map).

    Examples
    --------
    >>> doc = contract_schema()
    >>> doc["schema_version"], sorted(doc["layers"])
    (1, ['discolored_points', 'hotspots_checked', 'patches_checked'])
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "collection": {"type": "FeatureCollection", "features": "array of Feature"},
        "feature": FEATURE_SCHEMA,
        "layers": {layer: properties_schema(layer) for layer in LAYERS},
    }


def contract_json() -> str:
    """Return :func:`contract_schema` as indented JSON text."""
    return json.dumps(contract_schema(), ensure_ascii=False, indent=2)


# ------------------------------------------------------------------------------ validator

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def nesting_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Return how deep arrays and objects nest in ``value``, counting stops past ``limit``.

    Iterative, so a hostile document cannot exhaust the stack.

    Examples
    --------
    >>> nesting_depth({"a": [1, {"b": []}]}), nesting_depth([[[[[]]]]], limit=2)
    (4, 3)
    """
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
    return deepest


def device_time_problem(value: str) -> Reason | None:
    """Return why a valid-format ``device_time`` is out of the contract's range, else None.

    Examples
    --------
    >>> device_time_problem("0001-01-01T00:00:00+08:00")
    'device_time: 0001-01-01T00:00:00+08:00 is outside the years 2000 to 2099'
    >>> device_time_problem("2026-06-01T09:30:00+08:00") is None
    True
    """
    moment = parse_device_time(value)
    if moment is None or DEVICE_YEARS[0] <= moment.year <= DEVICE_YEARS[1]:
        return None
    return Reason(
        f"device_time: {value} is outside the years {DEVICE_YEARS[0]} to {DEVICE_YEARS[1]}",
        f"device_time：{value} 不在 {DEVICE_YEARS[0]} 至 {DEVICE_YEARS[1]} 年之间",
    )


def parse_device_time(value: str) -> datetime.datetime | None:
    """Return the aware datetime of an ISO 8601 text with a UTC offset, else None.

    Examples
    --------
    >>> parse_device_time("2026-06-01T09:30:00+08:00").isoformat()
    '2026-06-01T09:30:00+08:00'
    >>> parse_device_time("2026-06-01T09:30:00") is None
    True
    """
    if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None else None


_FORMATS: dict[str, tuple[Callable[[str], bool], str]] = {
    "uuid4": (lambda v: re.match(UUID4, v) is not None, "a lower-case UUID version 4"),
    "date-time-offset": (
        lambda v: parse_device_time(v) is not None,
        "an ISO 8601 date-time with a UTC offset, e.g. 2026-06-01T09:30:00+08:00",
    ),
}
_FORMATS_ZH = {
    "uuid4": "小写的第 4 版 UUID",
    "date-time-offset": "带时区偏移的 ISO 8601 日期时间（如 2026-06-01T09:30:00+08:00）",
}


def _check_type(value: Any, schema: Mapping[str, Any], where: str) -> list[str]:
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if any(_TYPES[k](value) for k in kinds):
        return []
    return [
        Reason(
            f"{where}: {_show(value)} is not of type {' or '.join(kinds)}",
            f"{where}：{_show(value)} 的类型不是 {' 或 '.join(kinds)}",
        )
    ]


def _check_scalar(value: Any, schema: Mapping[str, Any], where: str) -> list[str]:
    errors: list[str] = []
    if "const" in schema and value != schema["const"]:
        errors.append(
            Reason(
                f"{where}: {_show(value)} must be {_show(schema['const'])}",
                f"{where}：{_show(value)} 应为 {_show(schema['const'])}",
            )
        )
    enum = schema.get("enum")
    if enum is not None and (
        value not in enum or (isinstance(value, bool) and not any(e is value for e in enum))
    ):
        shown = ", ".join(_show(e) for e in enum if e is not None)
        errors.append(
            Reason(
                f"{where}: {_show(value)} is not one of {shown}",
                f"{where}：{_show(value)} 不在可选值 {shown} 之中",
            )
        )
    if isinstance(value, str):
        errors += _check_string(value, schema, where)
    elif isinstance(value, float) and not math.isfinite(value):
        errors.append(
            Reason(f"{where}: {value} is not a finite number", f"{where}：{value} 不是有限数值")
        )
    elif _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(
                Reason(
                    f"{where}: {value} is less than the minimum {schema['minimum']}",
                    f"{where}：{value} 小于最小值 {schema['minimum']}",
                )
            )
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(
                Reason(
                    f"{where}: {value} is greater than the maximum {schema['maximum']}",
                    f"{where}：{value} 大于最大值 {schema['maximum']}",
                )
            )
    return errors


def _check_string(value: str, schema: Mapping[str, Any], where: str) -> list[str]:
    errors: list[str] = []
    if _SURROGATE.search(value):
        return [
            Reason(
                f"{where}: holds a lone UTF-16 surrogate (\\ud800-\\udfff), not valid text",
                f"{where}：含有孤立的 UTF-16 代理字符（\\ud800-\\udfff），不是有效文本",
            )
        ]
    if len(value.strip()) < schema.get("minLength", 0):
        errors.append(Reason(f"{where}: must not be empty", f"{where}：不能为空"))
    if len(value) > schema.get("maxLength", len(value)):
        errors.append(
            Reason(
                f"{where}: longer than {schema['maxLength']} characters",
                f"{where}：超过 {schema['maxLength']} 个字符",
            )
        )
        return errors  # a pattern or format check of a huge text is wasted work
    if "pattern" in schema and not re.match(schema["pattern"], value):
        errors.append(
            Reason(
                f"{where}: {_show(value)} does not match {schema['pattern']}",
                f"{where}：{_show(value)} 不符合格式 {schema['pattern']}",
            )
        )
    if "format" in schema:
        check, what = _FORMATS[schema["format"]]
        if not check(value):
            errors.append(
                Reason(
                    f"{where}: {_show(value)} is not {what}",
                    f"{where}：{_show(value)} 不是{_FORMATS_ZH[schema['format']]}",
                )
            )
    return errors


def _check_object(value: dict[str, Any], schema: Mapping[str, Any], where: str) -> list[str]:
    errors: list[str] = []
    label = where or "(root)"
    props = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            errors.append(
                Reason(
                    f"{label}: required property {name} is missing",
                    f"{label}：缺少必填属性 {name}",
                )
            )
    extra_ok = schema.get("patternProperties")
    for name, item in value.items():
        if name in props:
            errors += validate(item, props[name], where=f"{where}.{name}" if where else name)
        elif schema.get("additionalProperties", True) is False and not (
            extra_ok and re.match(extra_ok, name)
        ):
            errors.append(
                Reason(
                    f"{label}: unknown property {name} (extensions start with x_)",
                    f"{label}：未知属性 {name}（扩展属性须以 x_ 开头）",
                )
            )
    return errors


def _check_array(value: list[Any], schema: Mapping[str, Any], where: str) -> list[str]:
    errors: list[str] = []
    if len(value) < schema.get("minItems", 0):
        errors.append(
            Reason(
                f"{where}: needs at least {schema['minItems']} items",
                f"{where}：至少需要 {schema['minItems']} 项",
            )
        )
    if len(value) > schema.get("maxItems", len(value)):
        errors.append(
            Reason(
                f"{where}: has more than {schema['maxItems']} items",
                f"{where}：超过 {schema['maxItems']} 项",
            )
        )
    if "items" in schema:
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], where=f"{where}[{i}]")
    return errors


def validate(value: Any, schema: Mapping[str, Any], *, where: str = "") -> list[str]:
    """Return the reasons ``value`` does not satisfy ``schema`` (empty when it does).

    Parameters
    ----------
    value : Any
        Parsed JSON.
    schema : Mapping
        A schema using the keywords listed in the module docstring.
    where : str
        Path of ``value`` in the document, used in the messages.

    Returns
    -------
    list of str
        One message per problem, each starting with the path.
    """
    label = where or "(root)"
    if "type" in schema:
        errors = _check_type(value, schema, label)
        if errors:
            return errors
    errors = _check_scalar(value, schema, label)
    if isinstance(value, dict):
        errors += _check_object(value, schema, where)
    elif isinstance(value, list):
        errors += _check_array(value, schema, label)
    return errors
