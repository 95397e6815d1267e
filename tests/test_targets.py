"""layers/targets.yaml and gis.targets: the committed defaults load; bad files say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gis.errors import RulesError
from gis.targets import DEFAULT_TARGETS, INDICATORS, load_targets, parse_targets


def test_default_targets_hold_2023_results_and_2024_plan() -> None:
    targets = load_targets()
    assert set(targets.years) >= {2023, 2024}
    y23, y24 = targets.year(2023), targets.year(2024)
    assert (y23.status, y24.status) == ("result", "plan")
    assert "2023" in y23.source and "2024" in y24.source
    # the report's rates: 51.3万亩 of 50万亩 = 102.6 %, 1373 of 367 villages = 374 %
    rate_aff = targets.reported(2023, "afforestation_mu") / targets.target(2023, "afforestation_mu")
    rate_vil = targets.reported(2023, "village_greening_done") / targets.target(
        2023, "village_greening_done"
    )
    assert round(rate_aff * 100, 1) == 102.6
    assert round(rate_vil * 100) == 374
    assert targets.target(2024, "greenway_km_new") == 50
    assert targets.target(2024, "pocket_parks_new") == 40
    assert targets.target(2024, "afforestation_mu") == 500_000


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _base() -> dict:
    return yaml.safe_load(DEFAULT_TARGETS.read_text(encoding="utf-8"))


def test_typo_in_indicator_names_file_key_and_valid_keys(tmp_path: Path) -> None:
    data = _base()
    data["years"][2024]["targets"]["pocket_park_new"] = 40  # typo: park, not parks
    path = _write(tmp_path, data)
    with pytest.raises(RulesError) as err:
        load_targets(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "'pocket_park_new'" in msg
    assert "years.2024.targets" in msg
    assert "pocket_parks_new" in msg  # the valid keys are listed


def test_typo_in_year_key_lists_valid_keys(tmp_path: Path) -> None:
    data = _base()
    data["years"][2024]["taregts"] = data["years"][2024].pop("targets")
    with pytest.raises(RulesError, match=r"unknown key 'taregts'.*valid keys: status, source"):
        load_targets(_write(tmp_path, data))


def test_missing_year_names_file_and_years(tmp_path: Path) -> None:
    path = _write(tmp_path, _base())
    targets = load_targets(path)
    with pytest.raises(RulesError) as err:
        targets.year(2025)
    assert str(path) in str(err.value)
    assert "2025" in str(err.value) and "2023, 2024" in str(err.value)


@pytest.mark.parametrize(
    ("patch", "pattern"),
    [
        ({"status": "done"}, r"status is 'done'; valid values: result, plan"),
        ({"targets": {"pocket_parks_new": "forty"}}, r"pocket_parks_new must be a number"),
        ({"targets": {"pocket_parks_new": True}}, r"must be a number"),
    ],
)
def test_bad_values(patch: dict, pattern: str) -> None:
    body = {"status": "plan", "source": "x", "targets": {}}
    body.update(patch)
    with pytest.raises(RulesError, match=pattern):
        parse_targets({"years": {2024: body}}, source="t.yaml")


def test_missing_required_year_key_and_bad_year() -> None:
    with pytest.raises(RulesError, match=r"years.2024 lacks the key 'source'"):
        parse_targets({"years": {2024: {"status": "plan", "targets": {}}}})
    with pytest.raises(RulesError, match=r"'twenty' under 'years' is not a year"):
        parse_targets({"years": {"twenty": {"status": "plan", "source": "x", "targets": {}}}})
    with pytest.raises(RulesError, match=r"top-level 'years:'"):
        parse_targets({"year": {}})


def test_district_targets_and_unreadable_file(tmp_path: Path) -> None:
    t = parse_targets(
        {
            "years": {
                2024: {
                    "status": "plan",
                    "source": "x",
                    "targets": {"pocket_parks_new": 40},
                    "districts": {"南关区": {"pocket_parks_new": 6}},
                }
            }
        }
    )
    assert t.target(2024, "pocket_parks_new", district="南关区") == 6
    assert t.target(2024, "pocket_parks_new", district="朝阳区") is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("years: [unclosed", encoding="utf-8")
    with pytest.raises(RulesError, match="cannot read targets file"):
        load_targets(bad)
    assert all(ind.unit for ind in INDICATORS.values())
