"""verify status: 核查率, outcome counts and conflicts — by hand on a small case and on the demo."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from verify_helpers import record, write_export, write_results

from gis.cli.main import cli
from gis.verify import import_exports, import_lab, read_log, read_results, verification_status
from gis.verify.results import results_run_id, run_id_of


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("status")
    results = write_results(folder)
    store = folder / "field.gpkg"
    dp = {"layer": "discolored_points"}
    records = [
        record("0001", inspector="王", device_time="2026-06-01T09:30:00+08:00"),
        record("0001", inspector="李", device_time="2026-06-01T10:00:00+08:00",
               verified_cause_code=20),
        record("0002", inspector="王", is_real_change=False, verified_cause_code=None),
        record("0004", inspector="王", device_time="2026-06-01T09:00:00+08:00"),
        record("0004", inspector="王", device_time="2026-06-01T11:00:00+08:00",
               is_real_change=False, verified_cause_code=None),
        record("DP1", **dp, sample_id="S-1"),
        record("DP3", **dp, outcome="not_found", sample_taken=False, sample_id=None),
    ]  # fmt: skip
    report = import_exports([write_export(folder / "a.geojson", records)], into=store,
                            results=read_results(results))  # fmt: skip
    assert report.committed
    import_exports([write_export(folder / "old.geojson", [record("9999")])], into=store)
    lab = folder / "lab.csv"
    lab.write_text("sample_id,result,tested_on\nS-1,阳性,2026-06-10\n", encoding="utf-8")
    assert import_lab(lab, into=store).imported == 1
    return store, results


def _status(case: tuple[Path, tuple[Path, Path]], by: str | None) -> pd.DataFrame:
    store, results = case
    table = verification_status(read_results(results).features, read_log(store), by=by)
    return table.set_index(["layer", "group"])


def test_status_by_district_by_hand(case: tuple[Path, tuple[Path, Path]]) -> None:
    t = _status(case, "district")
    p = "patches_checked"
    cols = ["features", "verified", "real_change", "no_change"]
    assert t.loc[(p, "南关区"), cols].tolist() == [3, 2, 1, 1]
    assert t.loc[(p, "净月区"), cols].tolist() == [2, 1, 0, 1]  # 0004 revised to no change
    assert t.loc[(p, "全部"), cols].tolist() == [5, 3, 1, 2]
    assert t.loc[(p, "南关区"), "verify_rate"] == pytest.approx(0.6667)
    assert t.loc[(p, "全部"), "verify_rate"] == pytest.approx(0.6)
    d = "discolored_points"
    cols = ["features", "verified", "confirmed_dead_pine", "not_found", "lab_positive"]
    assert t.loc[(d, "净月区"), cols].tolist() == [2, 1, 0, 0, 1]  # the lab result is latest
    assert t.loc[(d, "（未填）"), cols].tolist() == [1, 1, 0, 1, 0]
    assert t.loc[(d, "全部"), cols].tolist() == [3, 2, 0, 1, 1]
    assert list(t.index.get_level_values(0)) == [p, p, p, d, d, d]


def test_status_by_batch_and_forest_chief(case: tuple[Path, tuple[Path, Path]]) -> None:
    t = _status(case, "batch")
    p = "patches_checked"
    assert t.loc[(p, "2026年第1期"), ["features", "verified"]].tolist() == [2, 2]
    assert t.loc[(p, "2026年第2期"), ["features", "verified"]].tolist() == [3, 1]
    assert t.loc[("discolored_points", "（未填）"), "features"] == 3
    t = _status(case, "forest-chief")
    assert t.loc[(p, "张林长"), ["features", "verified"]].tolist() == [2, 2]
    assert t.loc[(p, "李林长"), ["features", "verified"]].tolist() == [2, 1]
    assert t.loc[(p, "（未填）"), ["features", "verified"]].tolist() == [1, 0]
    with pytest.raises(ValueError, match="valid values: district, township"):
        _status(case, "county")


def test_status_cli_json_lists_conflicts(case: tuple[Path, tuple[Path, Path]]) -> None:
    store, results = case
    args = ["verify", "status", str(store), "--results", str(results[0]), "--results",
            str(results[1]), "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [(c["feature_id"], c["inspectors"]) for c in out["conflicts"]] == [("0001", "李, 王")]
    assert out["records_not_in_results"] == 1  # 9999 was imported without --results
    overall = [r for r in out["status"] if r["group"] == "全部"]
    assert [(r["layer"], r["features"], r["verified"]) for r in overall] == [
        ("patches_checked", 5, 3),
        ("discolored_points", 3, 2),
    ]
    text = CliRunner().invoke(cli, [*args[:-1], "--by", "district"])
    assert text.exit_code == 0
    assert "[督查图斑]" in text.output and "66.7%" in text.output
    assert "冲突 督查图斑 0001: 李: 真实变化/20; 王: 真实变化/42" in text.output
    assert "非真实变化" in text.output and "no_change" not in text.output
    en = CliRunner().invoke(cli, [*args[:-1], "--lang", "en"])
    assert en.exit_code == 0
    assert "verify rate" in en.output and "all" in en.output and "(not filled)" not in en.output
    assert "conflict patches_checked 0001" in en.output


def test_run_id_is_stable_and_read_from_the_file(case: tuple[Path, tuple[Path, Path]]) -> None:
    _, results = case
    run = pyogrio.read_dataframe(results[0], layer="run")
    assert results_run_id(results[0]) == run_id_of(run)
    assert results_run_id(results[0]) != results_run_id(results[1])
    assert read_results(results).run_ids["patches_checked"] == {results_run_id(results[0])}


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from gis.demo import build_demo
    from gis.demo.run import check_patches, detect_discolored

    scene = build_demo(tmp_path_factory.mktemp("demo_verify") / "demo")
    patches = check_patches(scene)
    points = detect_discolored(scene)
    assert patches.status == "clean" and points.status == "clean"
    return patches.outputs[0], points.outputs[0]


def test_status_on_the_demo_results_equals_a_hand_count(
    demo_results: tuple[Path, Path], tmp_path: Path
) -> None:
    patches = pyogrio.read_dataframe(demo_results[0], layer="patches_checked", read_geometry=False)
    points = pyogrio.read_dataframe(demo_results[1], layer="discolored_points",
                                    read_geometry=False)  # fmt: skip
    run_p, run_d = results_run_id(demo_results[0]), results_run_id(demo_results[1])
    chosen = patches.iloc[::3]  # every third patch verified; the check's verdict as the field's
    feats = [
        record(row.patch_id, results_run_id=run_p, is_real_change=row.is_real_change == 1,
               verified_cause_code=int(row.verified_cause_code) if row.is_real_change == 1
               else None)
        for row in chosen.itertuples()
    ]  # fmt: skip
    feats += [
        record(pid, layer="discolored_points", results_run_id=run_d, outcome="other_cause",
               sample_taken=False, sample_id=None)
        for pid in points["point_id"].iloc[:10]
    ]  # fmt: skip
    store = tmp_path / "field.gpkg"
    report = import_exports([write_export(tmp_path / "demo.geojson", feats)], into=store,
                            results=read_results(demo_results))  # fmt: skip
    assert report.committed and report.other_run == 0 and report.rejected == []
    t = verification_status(read_results(demo_results).features, read_log(store), by="district")
    t = t.set_index(["layer", "group"])
    # by hand: per district, the chosen patches over all patches
    for district, group in patches.groupby("district"):
        row = t.loc[("patches_checked", district)]
        verified = group["patch_id"].isin(chosen["patch_id"])
        assert (row["features"], row["verified"]) == (len(group), verified.sum())
        real = group.loc[verified, "is_real_change"] == 1
        assert (row["real_change"], row["no_change"]) == (real.sum(), (~real).sum())
    total = t.loc[("patches_checked", "全部")]
    assert (total["features"], total["verified"]) == (71, 24)
    assert total["verify_rate"] == pytest.approx(round(24 / 71, 4))
    dp = t.loc[("discolored_points", "全部")]
    assert (dp["features"], dp["verified"], dp["other_cause"]) == (len(points), 10, 10)
