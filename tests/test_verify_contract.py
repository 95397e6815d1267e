"""The field-record export contract: validator, rules, and the example in docs/field-records.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from verify_helpers import photo

from gis.cli.main import cli
from gis.layers import layer_kind
from gis.verify import contract_schema, example_feature, parse_export, validate
from gis.verify.contract import cause_codes, fire_types

H = "hotspots_checked"
DOC = Path(__file__).resolve().parents[1] / "docs" / "field-records.md"


def _parse(*features: Any) -> tuple[list[Any], list[Any]]:
    data = json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()
    return parse_export(data, source="x.geojson")


def _with(layer: str = "patches_checked", geometry: Any = "keep", **props: Any) -> dict[str, Any]:
    feature = example_feature(layer=layer)
    feature["properties"].update(props)
    if geometry != "keep":
        feature["geometry"] = geometry
    return feature


def test_doc_example_is_valid_and_complete() -> None:
    block = re.search(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block is not None
    records, rejected = parse_export(block.group(1).encode(), source=str(DOC))
    assert rejected == []
    assert [(r.layer, r.feature_id, r.lonlat) for r in records] == [
        ("patches_checked", "0001", (125.45, 43.79)),
        ("discolored_points", "DP0AB273E38E", None),
        ("hotspots_checked", "H20260402-003", (125.52, 43.76)),
    ]
    assert records[1].photos[0].mime == "image/png"
    # every property of the code's contract is documented in the tables
    text = DOC.read_text(encoding="utf-8")
    for layer_schema in contract_schema()["layers"].values():
        for name in layer_schema["properties"]:
            assert f"`{name}`" in text


def test_cause_codes_come_from_the_catalog() -> None:
    assert cause_codes()[:3] == (10, 11, 12)
    assert 42 in cause_codes() and 43 not in cause_codes()
    assert len(cause_codes()) == 20


@pytest.mark.parametrize(
    ("feature", "reason"),
    [
        (_with(schema_version=2), "schema_version: 2 must be 1"),
        (_with(record_id="not-a-uuid"), 'record_id: "not-a-uuid" is not a lower-case UUID'),
        (_with(record_id="8f8e2a52-3b7c-1f7e-9a59-0c5c2f6d1e01"), "UUID version 4"),
        (_with(layer_name="x"), "unknown property layer_name"),
        (_with(layer="parks"), 'layer: "parks" is not one of "patches_checked"'),
        (_with(feature_id=""), "feature_id: must not be empty"),
        (_with(feature_id=101), "feature_id: 101 is not of type string"),
        (_with(inspector=" "), "inspector: must not be empty"),
        (_with(device_time="2026-06-01T09:30:00"), 'device_time: "2026-06-01T09:30:00" is not'),
        (_with(device_time="yesterday"), "is not an ISO 8601 date-time"),
        (_with(gps_accuracy_m=-1), "gps_accuracy_m: -1 is less than the minimum 0"),
        (_with(gps_accuracy_m=None), "gps_accuracy_m: required with a GPS fix"),
        (_with(geometry=None), "gps_accuracy_m: must be null when there is no GPS fix"),
        (_with(geometry={"type": "Point", "coordinates": [500000, 4850000]}), "not lon/lat"),
        (_with(geometry={"type": "Polygon", "coordinates": []}), "geometry.type"),
        (_with(is_real_change="yes"), 'is_real_change: "yes" is not of type boolean'),
        (_with(is_real_change=1), "is_real_change: 1 is not of type boolean"),
        (_with(verified_cause_code=43), "verified_cause_code: 43 is not one of 10"),
        (_with(verified_cause_code=None), "verified_cause_code: required when is_real_change"),
        (_with(outcome="not_found"), "unknown property outcome"),
        (_with("discolored_points", outcome="lab_positive"), 'outcome: "lab_positive" is not'),
        (_with("discolored_points", sample_taken=True, sample_id=None), "sample_id: required"),
        (_with("discolored_points", sample_taken=False), "sample_id: given, but sample_taken"),
        (_with(H, is_fire="是"), 'is_fire: "是" is not of type boolean'),
        (_with(H, is_fire=None), "is_fire: null is not of type boolean"),
        (_with(H, fire_type="林火"), 'fire_type: "林火" is not one of "forest_fire"'),
        (_with(H, fire_type=None), "fire_type: required when is_fire is true"),
        (_with(H, extinguished=None), "extinguished: required when is_fire is true"),
        (_with(H, is_fire=False, extinguished=True), "extinguished: given, but is_fire is false"),
        (_with(H, is_fire=False, extinguished=None), "burned_area_est_ha: greater than 0, but"),
        (_with(H, burned_area_est_ha=-2), "burned_area_est_ha: -2 is less than the minimum 0"),
        (_with(H, burned_area_est_ha=2e6), "burned_area_est_ha: 2000000.0 is greater than"),
        (_with(H, burned_area_est_ha="2"), 'burned_area_est_ha: "2" is not of type number'),
        (_with(H, outcome="not_found"), "unknown property outcome"),
        (_with(photos=[{"mime": "image/gif", "sha256": "0" * 64, "data": "AA=="}]), "mime"),
        (_with(photos=[{"mime": "image/png", "sha256": "0" * 64, "data": "@@"}]), "base64"),
        (_with(photos=[{**photo("a")[0], "sha256": photo("b")[0]["sha256"]}]), "does not match"),
        ({"type": "Feature", "properties": {}}, "required property geometry is missing"),
    ],
)
def test_rule_violations_are_rejected_with_the_field_named(feature: Any, reason: str) -> None:
    records, rejected = _parse(feature)
    assert records == []
    assert len(rejected) == 1 and rejected[0].index == 0
    assert reason in rejected[0].reason
    said = rejected[0].text("zh")  # the same rule in Chinese: the field named, no English prose
    field = reason.split(":", maxsplit=1)[0] if ":" in reason else None
    assert re.search("[\u4e00-\u9fff]", said) and (field is None or f"{field}：" in said)


def test_optional_values_and_extensions_are_accepted() -> None:
    ok = [
        _with(is_real_change=False, verified_cause_code=None, note=None),
        _with(geometry=None, gps_accuracy_m=None, x_form_version="3"),
        _with("discolored_points", sample_taken=False, sample_id=None, outcome="not_found"),
        _with(device_time="2026-06-01T01:30:00Z", photos=[photo("a")[0]]),
        _with(geometry={"type": "Point", "coordinates": [125.4, 43.8, 210.5]}),
        _with(H, is_fire=False, fire_type="industrial", extinguished=None, burned_area_est_ha=0),
        _with(H, is_fire=False, fire_type=None, extinguished=None, burned_area_est_ha=None),
        _with(H, fire_type="forest_fire", extinguished=False, burned_area_est_ha=None),
    ]
    records, rejected = _parse(*ok)
    assert rejected == []
    assert records[1].lonlat is None and "x_form_version" not in records[1].row
    assert records[3].row["device_time_utc"] == "2026-06-01T01:30:00.000Z"
    assert records[3].photos[0].data == photo("a")[1]
    assert records[5].row["fire_type"] == "industrial" and records[5].row["is_fire"] is False
    assert records[7].row["extinguished"] is False


def test_fire_types_come_from_the_catalog() -> None:
    codes = layer_kind("hotspots").fields["fire_type"].codes or {}
    assert fire_types() == tuple(codes) and "agricultural_burning" in fire_types()
    schema = contract_schema()["layers"]["hotspots_checked"]["properties"]
    assert schema["fire_type"]["enum"] == [*fire_types(), None]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "not a UTF-8 JSON file"),
        (b"\xff\xfe", "not a UTF-8 JSON file"),
        (b'{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        (b'{"type": "FeatureCollection", "features": {}}', "features is not a list"),
    ],
)
def test_malformed_files_are_one_rejection_without_index(data: bytes, reason: str) -> None:
    records, rejected = parse_export(data, source="bad.geojson")
    assert records == [] and len(rejected) == 1
    assert rejected[0].index is None and reason in rejected[0].reason


def test_fingerprint_ignores_photo_bytes_but_not_verdicts() -> None:
    a = _with(photos=[photo("a")[0]])
    b = json.loads(json.dumps(a))
    c = _with(photos=[photo("a")[0]], note="other")
    (ra, rb, rc), _ = _parse(a, b, c)
    assert ra.record_sha256 == rb.record_sha256 != rc.record_sha256


def test_validator_keywords() -> None:
    assert validate([1, 2, 3], {"type": "array", "maxItems": 2}) == [
        "(root): has more than 2 items"
    ]
    assert validate({"a": 1}, {"type": "object", "additionalProperties": False}) == [
        "(root): unknown property a (extensions start with x_)"
    ]
    assert validate(None, {"type": ["string", "null"], "minLength": 1}) == []
    assert validate(False, {"enum": [0, 1]}) != []


def test_cli_prints_the_contract() -> None:
    result = CliRunner().invoke(cli, ["verify", "schema"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["schema_version"] == 1
    assert doc["layers"]["discolored_points"]["properties"]["outcome"]["enum"] == [
        "confirmed_dead_pine",
        "other_cause",
        "not_found",
    ]
