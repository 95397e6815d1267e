"""Tests of gis.rules: loading, validating and evaluating decision tables."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from gis.errors import RulesError
from gis.rules import (
    RuleSchema,
    evaluate,
    load_rules,
    parse_rules,
    render,
    render_column,
    template_rows,
)

SCHEMA = RuleSchema(
    fields=frozenset({"x", "kind"}),
    stages={"first": frozenset({"y"}), "second": frozenset({"z"})},
    required_thresholds=("lim",),
    allowed_values={"y": ("big", "small", "odd")},
)


def _rules(**over):
    data = {
        "thresholds": {"lim": 1.5},
        "stages": {
            "first": [
                {
                    "id": "F1",
                    "when": ["x > lim"],
                    "set": {"y": "big"},
                    "reason": {"zh": "大 {x:.1f}"},
                },
                {"id": "F2", "when_any": ["kind in [a, b]", "x is null"], "set": {"y": "odd"}},
                {"id": "F3", "set": {"y": "small"}},
            ],
            "second": [
                {"id": "S1", "when": ["y == big"], "set": {"z": 1}},
                {"id": "S2", "set": {"z": 2}},
            ],
        },
    }
    data.update(over)
    return data


def test_first_match_wins_and_later_stages_see_outputs():
    rules = parse_rules(_rules(), schema=SCHEMA)
    frame = pd.DataFrame({"x": [2.0, 1.0, None, 1.0], "kind": ["a", "a", "c", "c"]})
    out = evaluate(rules, frame)
    assert out["y"].tolist() == ["big", "odd", "odd", "small"]
    assert out["z"].tolist() == [1, 2, 2, 2]
    assert out["rules_fired"].tolist() == ["F1; S1", "F2; S2", "F2; S2", "F3; S2"]
    assert out["fired_first"].tolist() == ["F1", "F2", "F2", "F3"]


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ("x < lim", [True, False, False]),
        ("x <= 2", [True, True, False]),
        ("x >= 2", [False, True, False]),
        ("x != 2", [True, False, False]),
        ("x == 2", [False, True, False]),
        ("x is null", [False, False, True]),
        ("x is not null", [True, True, False]),
        ("kind not in [a]", [False, True, False]),
    ],
)
def test_conditions_and_missing_values(cond, expected):
    data = _rules()
    data["stages"]["first"][0]["when"] = [cond]
    rules = parse_rules(data, schema=SCHEMA)
    frame = pd.DataFrame({"x": [1.0, 2.0, None], "kind": ["a", "b", None]})
    out = evaluate(rules, frame)
    assert (out["fired_first"] == "F1").tolist() == expected


def test_unknown_top_level_key_names_file_key_and_valid_keys(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_rules(stagez={})), encoding="utf-8")
    with pytest.raises(RulesError) as err:
        load_rules(path, schema=SCHEMA)
    msg = str(err.value)
    assert str(path) in msg and "'stagez'" in msg and "thresholds" in msg and "stages" in msg


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d["stages"]["first"][0].update(wen=["x > 1"]), ["'wen'", "when_any"]),
        (lambda d: d["stages"]["first"][0].update(when=["xx > 1"]), ["unknown field 'xx'", "kind"]),
        (lambda d: d["stages"]["first"][0].update(when=["x > limit"]), ["neither a number", "lim"]),
        (lambda d: d["stages"]["first"][0].update(when=["x >> 1"]), ["cannot read condition"]),
        (lambda d: d["stages"]["first"][0]["set"].update(w=1), ["'w'", "valid keys: y"]),
        (lambda d: d["stages"]["first"][0]["set"].update(y="huge"), ["'huge'", "big"]),
        (lambda d: d["stages"]["first"].pop(), ["must have no conditions"]),
        (lambda d: d["stages"].pop("second"), ["'second' is missing"]),
        (lambda d: d["thresholds"].update(lmi=2), ["'lmi'", "lim"]),
        (
            lambda d: (d["thresholds"].pop("lim"), d["stages"]["first"][0].update(when=["x > 1"])),
            ["required threshold 'lim'"],
        ),
        (lambda d: d["thresholds"].update(lim="x"), ["expected a number"]),
        (lambda d: d["stages"]["first"][1].pop("id"), ["needs an 'id'"]),
    ],
)
def test_schema_errors(mutate, words):
    data = _rules()
    mutate(data)
    with pytest.raises(RulesError) as err:
        parse_rules(data, schema=SCHEMA, source="my.yaml")
    msg = str(err.value)
    assert msg.startswith("my.yaml: ")
    for word in words:
        assert word in msg


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [", encoding="utf-8")
    with pytest.raises(RulesError, match="not valid YAML"):
        load_rules(bad, schema=SCHEMA)
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(tmp_path / "none.yaml", schema=SCHEMA)


def test_render_handles_missing_values():
    assert render("{a:.0%} {b:+.2f} {c}", {"a": 0.874, "b": float("nan")}) == "87% — —"
    assert render("{a:.2f}", {"a": "text"}) == "text"


@pytest.mark.parametrize(
    "template",
    [
        "{a:.0%} {b:+.2f} {c}",
        "{a:.2f} and {t:.2f}",  # text under a number format: printed as it is
        "{{literal}} {a!r} {b!s:>6}",  # conversions: rendered row by row
        "no fields at all",
        "{i} {flag} {t}",
        "",
    ],
)
def test_render_column_equals_render_of_each_row(template):
    frame = pd.DataFrame(
        {
            "a": [0.874, None, float("nan"), -1.5],
            "b": [1.0, 2.0, None, 0.0],
            "t": ["x", None, "yy", "z"],
            "i": pd.array([1, None, 3, 4], dtype="Int64"),
            "flag": pd.array([True, None, False, True], dtype="boolean"),
        }
    )
    expected = [render(template, row) for row in template_rows(frame)]
    assert render_column(template, frame) == expected
    assert render_column(template, frame.iloc[0:0]) == []


def test_a_stage_sees_earlier_outputs_and_its_first_match_decides():
    schema = RuleSchema(
        fields=frozenset({"x"}),
        stages={"s1": frozenset({"y"}), "s2": frozenset({"y", "z"})},
        required_thresholds=(),
    )
    data = {
        "stages": {
            "s1": [{"id": "A", "when": ["x > 1"], "set": {"y": 1}}, {"id": "B", "set": {"y": 0}}],
            "s2": [
                {"id": "C", "when": ["x > 2"], "set": {"y": 5}},
                {"id": "D", "when": ["y == 5"], "set": {"z": "never"}},
                {"id": "E", "when": ["y == 1"], "set": {"z": "one"}},
                {"id": "F", "set": {"z": None}},
            ],
        }
    }
    out = evaluate(parse_rules(data, schema=schema), pd.DataFrame({"x": [3.0, 2.0, 0.0]}))
    assert out["y"].tolist() == [5, 1, 0]
    assert out["z"].tolist() == [None, "one", None]  # C decided the first row: D never fires
    assert out["rules_fired"].tolist() == ["A; C", "A; E", "B; F"]
