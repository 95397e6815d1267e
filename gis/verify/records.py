"""Parse and validate field exports (the contract of :mod:`gis.verify.contract`).

:func:`parse_export` turns the bytes of one export file into :class:`FieldRecord` objects
(ready for the store) and :class:`Rejection` objects (file, index, reason). Nothing here
touches the field store.

Examples
--------
>>> import json
>>> feature = example_feature()
>>> data = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
>>> records, rejected = parse_export(data, source="phone.geojson")
>>> [(r.layer, r.feature_id, r.row["is_real_change"]) for r in records], rejected
([('patches_checked', '0001', True)], [])
>>> feature["properties"]["verified_cause_code"] = 43
>>> data = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
>>> parse_export(data, source="phone.geojson")[1][0].reason[:50]
'verified_cause_code: 43 is not one of 10, 11, 12, '
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from gis.verify.contract import (
    FEATURE_SCHEMA,
    LAYERS,
    MAX_DEPTH,
    MAX_PHOTO_BYTES,
    Reason,
    device_time_problem,
    nesting_depth,
    parse_device_time,
    properties_schema,
    reason_zh,
    validate,
)


@dataclass(frozen=True)
class Photo:
    """One photo of a record: media type, SHA-256 (hex, checked) and the bytes."""

    mime: str
    sha256: str
    data: bytes


@dataclass(frozen=True)
class Rejection:
    """A record (or a whole file, ``index`` None) that cannot be imported, and why."""

    source: str
    index: int | None
    reason: str
    record_id: str | None = None
    feature_id: str | None = None
    zh: str | None = None
    """The reason in Chinese, where one was written (:meth:`text` falls back to ``reason``)."""

    def text(self, lang: str = "zh") -> str:
        """Return the reason in ``lang`` (``zh`` or ``en``); English when no Chinese is given."""
        return self.zh if lang == "zh" and self.zh else self.reason

    def to_dict(self) -> dict[str, Any]:
        """Return the rejection as a plain dict."""
        return {
            "source": self.source,
            "index": self.index,
            "record_id": self.record_id,
            "feature_id": self.feature_id,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class FieldRecord:
    """One valid record: its log row (without import columns), photos and fingerprint.

    ``row`` holds the ``verification_log`` values taken from the record; ``lonlat`` is the
    GPS fix (WGS84) or None; ``record_sha256`` fingerprints the content (photos by digest)
    so a ``record_id`` reused for different content is caught.
    """

    source: str
    index: int
    row: dict[str, Any]
    lonlat: tuple[float, float] | None
    record_sha256: str
    photos: tuple[Photo, ...] = field(default=())

    @property
    def record_id(self) -> str:
        """The record's UUID."""
        return str(self.row["record_id"])

    @property
    def layer(self) -> str:
        """The result layer the record is about."""
        return str(self.row["layer"])

    @property
    def feature_id(self) -> str:
        """The patch or point id."""
        return str(self.row["feature_id"])


def utc_text(moment: datetime.datetime) -> str:
    """Return an aware datetime as GeoPackage DATETIME text (UTC, milliseconds, ``Z``).

    Examples
    --------
    >>> utc_text(datetime.datetime.fromisoformat("2026-06-01T09:30:00+08:00"))
    '2026-06-01T01:30:00.000Z'
    """
    utc = moment.astimezone(datetime.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def fingerprint(feature: dict[str, Any]) -> str:
    """Return the SHA-256 of a record's geometry and properties, photo bytes left out."""
    props = dict(feature.get("properties") or {})
    props["photos"] = [p.get("sha256") for p in props.get("photos") or []]
    text = json.dumps(
        {"geometry": feature.get("geometry"), "properties": props},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _photos(items: list[dict[str, Any]]) -> tuple[tuple[Photo, ...], list[str]]:
    photos: list[Photo] = []
    errors: list[str] = []
    for i, item in enumerate(items):
        try:
            data = base64.b64decode(item["data"], validate=True)
        except (binascii.Error, ValueError):
            errors.append(
                Reason(
                    f"photos[{i}].data: not valid base64", f"photos[{i}].data：不是有效的 base64"
                )
            )
            continue
        if len(data) > MAX_PHOTO_BYTES:
            errors.append(
                Reason(
                    f"photos[{i}]: {len(data)} bytes, more than the cap {MAX_PHOTO_BYTES}",
                    f"photos[{i}]：{len(data)} 字节，超过上限 {MAX_PHOTO_BYTES}",
                )
            )
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != item["sha256"]:
            errors.append(
                Reason(
                    f"photos[{i}].sha256: {item['sha256']} does not match the data ({digest}); "
                    "the photo was damaged or its digest computed on other bytes",
                    f"photos[{i}].sha256：{item['sha256']} 与照片数据（{digest}）不符；"
                    "照片已损坏，或摘要是按其他数据计算的",
                )
            )
            continue
        photos.append(Photo(item["mime"], digest, data))
    return tuple(photos), errors


def _cross_checks(geometry: Any, props: dict[str, Any]) -> list[str]:
    errors = [p for p in [device_time_problem(props["device_time"])] if p]
    accuracy = props.get("gps_accuracy_m")
    if geometry is None and accuracy is not None:
        errors.append(
            Reason(
                "gps_accuracy_m: must be null when there is no GPS fix (geometry null)",
                "gps_accuracy_m：没有 GPS 定位（geometry 为 null）时须为 null",
            )
        )
    if geometry is not None:
        lon, lat = geometry["coordinates"][:2]
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            errors.append(
                Reason(
                    f"geometry: ({lon}, {lat}) is not lon/lat in WGS84 degrees",
                    f"geometry：({lon}, {lat}) 不是 WGS84 经纬度（度）",
                )
            )
        if accuracy is None:
            errors.append(
                Reason(
                    "gps_accuracy_m: required with a GPS fix (metres, from the phone)",
                    "gps_accuracy_m：有 GPS 定位时必填（米，由手机给出）",
                )
            )
    return errors + VERDICT_CHECKS[props["layer"]](props)


def _patch_checks(props: dict[str, Any]) -> list[str]:
    if props.get("is_real_change") is True and props.get("verified_cause_code") is None:
        return [
            Reason(
                "verified_cause_code: required when is_real_change is true",
                "verified_cause_code：is_real_change 为 true 时必填",
            )
        ]
    return []


def _point_checks(props: dict[str, Any]) -> list[str]:
    if props.get("sample_taken") is True and not (props.get("sample_id") or "").strip():
        return [
            Reason(
                "sample_id: required when sample_taken is true",
                "sample_id：sample_taken 为 true 时必填",
            )
        ]
    if props.get("sample_taken") is False and (props.get("sample_id") or "").strip():
        return [
            Reason(
                "sample_id: given, but sample_taken is false",
                "sample_id：已填写，但 sample_taken 为 false",
            )
        ]
    return []


def _hotspot_checks(props: dict[str, Any]) -> list[str]:
    if props.get("is_fire") is True:
        needed = [n for n in ("fire_type", "extinguished") if props.get(n) is None]
        return [
            Reason(f"{name}: required when is_fire is true", f"{name}：is_fire 为 true 时必填")
            for name in needed
        ]
    errors: list[str] = []
    if props.get("extinguished") is not None:
        errors.append(
            Reason(
                "extinguished: given, but is_fire is false (no fire to put out)",
                "extinguished：已填写，但 is_fire 为 false（没有需要扑灭的火）",
            )
        )
    if props.get("burned_area_est_ha"):
        errors.append(
            Reason(
                "burned_area_est_ha: greater than 0, but is_fire is false",
                "burned_area_est_ha：大于 0，但 is_fire 为 false",
            )
        )
    return errors


VERDICT_CHECKS = {
    "patches_checked": _patch_checks,
    "discolored_points": _point_checks,
    "hotspots_checked": _hotspot_checks,
}
"""The rules between a layer's verdict properties that a schema cannot say."""


def _schema_errors(feature: Any) -> list[str]:
    depth = nesting_depth(feature)
    if depth > MAX_DEPTH:
        return [
            Reason(
                f"(root): nested deeper than {MAX_DEPTH} levels of arrays and objects",
                f"(root)：数组和对象嵌套超过 {MAX_DEPTH} 层",
            )
        ]
    errors = validate(feature, FEATURE_SCHEMA)
    if errors:
        return errors
    props = feature["properties"]
    layer = props["layer"]
    errors = validate(layer, {"enum": list(LAYERS)}, where="layer")
    if errors:
        return errors
    errors = validate(props, properties_schema(layer))
    return errors or _cross_checks(feature["geometry"], props)


def _row(props: dict[str, Any]) -> dict[str, Any]:
    moment = parse_device_time(props["device_time"])
    assert moment is not None  # validated
    row = {k: v for k, v in props.items() if k != "photos" and not k.startswith("x_")}
    for name in ("note", "permit_no", "sample_id"):
        if isinstance(row.get(name), str):
            row[name] = row[name].strip() or None
    row["feature_id"] = str(row["feature_id"]).strip()
    row["device_time_utc"] = utc_text(moment)
    row["kind"] = "field"
    return row


def parse_feature(feature: Any, *, source: str, index: int) -> FieldRecord | Rejection:
    """Validate one Feature of an export; return the record or the rejection."""
    props = feature.get("properties") if isinstance(feature, dict) else None
    ids = props if isinstance(props, dict) else {}
    record_id, feature_id = ids.get("record_id"), ids.get("feature_id")

    def rejected(reasons: list[str]) -> Rejection:
        ids = (_printable(_str(record_id)), _printable(_str(feature_id)))
        zh = _printable("；".join(reason_zh(r) for r in reasons))
        return Rejection(source, index, _printable("; ".join(reasons)) or "", *ids, zh=zh)

    errors = _schema_errors(feature)
    if errors:
        return rejected(errors)
    photos, errors = _photos(ids["photos"])
    if errors:
        return rejected(errors)
    geometry = feature["geometry"]
    lonlat = None if geometry is None else tuple(float(c) for c in geometry["coordinates"][:2])
    return FieldRecord(
        source=source,
        index=index,
        row=_row(ids),
        lonlat=lonlat,  # type: ignore[arg-type]
        record_sha256=fingerprint(feature),
        photos=photos,
    )


def _printable(text: str | None) -> str | None:
    """Return ``text`` with lone surrogates escaped, so a rejection can always be printed."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _collection(data: bytes, source: str) -> tuple[list[Any], Rejection | None]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [], Rejection(
            source,
            None,
            f"not a UTF-8 JSON file: {exc}; import the .geojson file the field map exports "
            "(Export GeoJSON / 导出 GeoJSON), unedited — a table saved from Excel cannot be "
            "imported (lab results: linyuan verify lab)",
            zh=f"不是 UTF-8 编码的 JSON 文件：{exc}；请导入外业地图“导出 GeoJSON”生成的 "
            ".geojson 文件（不要改动）——在 Excel 中另存的表格不能导入（检测结果请用 "
            "linyuan verify lab）",
        )
    except RecursionError:
        return [], Rejection(
            source,
            None,
            "arrays or objects nested too deep to read",
            zh="数组或对象嵌套过深，无法读取",
        )
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        return [], Rejection(
            source,
            None,
            "not a GeoJSON FeatureCollection (type is missing)",
            zh="不是 GeoJSON 要素集（缺少 type）",
        )
    features = doc.get("features")
    if not isinstance(features, list):
        return [], Rejection(source, None, "features is not a list", zh="features 不是列表")
    return features, None


def parse_export(data: bytes, *, source: str) -> tuple[list[FieldRecord], list[Rejection]]:
    """Parse one export file; return its valid records and its rejections.

    Parameters
    ----------
    data : bytes
        The file content (UTF-8 GeoJSON).
    source : str
        File name used in rejections.

    Returns
    -------
    records : list of FieldRecord
    rejections : list of Rejection
        A malformed file gives one rejection with ``index`` None.
    """
    features, problem = _collection(data, source)
    if problem is not None:
        return [], [problem]
    records: list[FieldRecord] = []
    rejections: list[Rejection] = []
    for index, feature in enumerate(features):
        parsed = parse_feature(feature, source=source, index=index)
        (records if isinstance(parsed, FieldRecord) else rejections).append(parsed)  # type: ignore[arg-type]
    return records, rejections


EXAMPLE_VERDICTS: dict[str, dict[str, Any]] = {
    "patches_checked": {"is_real_change": True, "verified_cause_code": 42, "permit_no": None},
    "discolored_points": {
        "outcome": "confirmed_dead_pine",
        "sample_taken": True,
        "sample_id": "S-001",
    },
    "hotspots_checked": {
        "is_fire": True,
        "fire_type": "agricultural_burning",
        "extinguished": True,
        "burned_area_est_ha": 0.3,
    },
}
"""A valid verdict of each layer (for :func:`example_feature`)."""


def example_feature(
    *,
    layer: str = "patches_checked",
    feature_id: str = "0001",
    record_id: str = "8f8e2a52-3b7c-4f7e-9a59-0c5c2f6d1e01",
    inspector: str = "王护林员",
    device_time: str = "2026-06-01T09:30:00+08:00",
) -> dict[str, Any]:
    """Return a valid example Feature of the contract (for docs, tests and the map's tests)."""
    verdict = dict(EXAMPLE_VERDICTS.get(layer, EXAMPLE_VERDICTS["discolored_points"]))
    props = {
        "schema_version": 1,
        "record_id": record_id,
        "map_id": "map-0123456789abcdef",
        "results_run_id": "run-0123456789abcdef",
        "layer": layer,
        "feature_id": feature_id,
        **verdict,
        "note": "现场有挖掘机",
        "inspector": inspector,
        "device_time": device_time,
        "gps_accuracy_m": 6.5,
        "photos": [],
    }
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [125.45, 43.79]},
            "properties": props}  # fmt: skip
