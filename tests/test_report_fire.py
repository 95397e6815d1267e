"""linyuan report fire: the notebook executed on the demo's fire results, numbers read back."""

from __future__ import annotations

import re
import shutil
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import docx
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from report_helpers import fire_results
from report_helpers import html_figure as _figure
from verify_helpers import record, write_export

from gis.charts import FontWarning
from gis.cli.main import cli
from gis.report.blocks import fmt_value
from gis.units import M2_PER_HA, M2_PER_MU
from gis.verify import import_exports, read_results, results_run_id


@pytest.fixture(scope="session")
def fire(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return fire_results(tmp_path_factory.getbasetemp())


def _run(*args: str) -> tuple[int, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", FontWarning)
        result = CliRunner().invoke(cli, ["report", "fire", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def _table(html: str, key: str) -> tuple[list[str], list[list[str]]]:
    m = re.search(rf'<table data-key="{key}">(.*?)</table>', html, flags=re.S)
    assert m, key
    rows = re.findall(r"<tr>(.*?)</tr>", m.group(1))
    head = re.findall(r"<th[^>]*>(.*?)</th>", rows[0])
    return head, [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows[1:]]


def _layer(path: Path, layer: str) -> pd.DataFrame:
    return pyogrio.read_dataframe(path, layer=layer, read_geometry=False)


@pytest.fixture(scope="module")
def html(fire: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("fire_report") / "fire.html"
    args = [f"--{k}={v}" for k, v in fire.items()]
    code, output = _run(*args, "--out", str(out))
    assert code == 0, output
    return out.read_text(encoding="utf-8")


def test_hotspots_by_verdict_priority_and_deadline(fire: dict[str, Path], html: str) -> None:
    spots = _layer(fire["hotspots"], "hotspots_checked")
    events = _layer(fire["hotspots"], "fire_events")
    assert _figure(html, "hotspots_n") == str(len(spots))
    assert _figure(html, "events_n") == str(len(events))
    assert _figure(html, "forest_fire_n") == str(int((spots["fire_kind"] == "forest_fire").sum()))
    head, rows = _table(html, "hotspot_verdicts")
    assert head == ["核查结论", "数量", "核查优先级"]
    counts = {r[0]: int(r[1]) for r in rows}
    assert counts["疑似林火"] == (spots["fire_kind"] == "forest_fire").sum()
    assert sum(counts.values()) == len(spots)
    head, rows = _table(html, "hotspots")
    assert head[:3] == ["热点编号", "核查结论", "核查优先级"] and "反馈截止（北京时间）" in head
    assert sorted(r[0] for r in rows) == sorted(spots["hotspot_id"])
    priorities = [int(r[2]) for r in rows]
    assert priorities == sorted(priorities)  # by priority, then deadline
    first = spots.set_index("hotspot_id").loc[rows[0][0]]
    due = pd.Timestamp(first["feedback_due_utc"]).tz_convert("Asia/Shanghai")
    assert rows[0][head.index("反馈截止（北京时间）")] == due.strftime("%Y-%m-%d %H:%M")
    head, rows = _table(html, "fire_events")
    assert head[0] == "火情事件编号"
    assert {r[0]: int(r[2]) for r in rows} == dict(
        zip(events["event_id"], events["n_hotspots"], strict=True)
    )


def test_burned_area_and_grade_equal_the_results(fire: dict[str, Path], html: str) -> None:
    scars = _layer(fire["burned"], "fire_scars")
    assert _figure(html, "forest_area_ha") == fmt_value(float(scars["forest_area_ha"].sum()))
    assert _figure(html, "forest_area_mu") == fmt_value(float(scars["forest_area_mu"].sum()))
    assert _figure(html, "grade") == scars["grade_zh"].iloc[0] == "较大森林火灾"
    report = _layer(fire["burned"], "fire_report")
    head, rows = _table(html, "fire_report")
    assert head == ["项目", "数值", "单位", "说明"]
    assert [r[0] for r in rows] == report["item"].tolist()
    for key, by in (("burned_by_district", "district"), ("burned_by_forest_chief", "forest_chief")):
        table = _layer(fire["burned"], key).set_index(by)
        head, rows = _table(html, key)
        assert head[1:] == [
            "火场面积（公顷）",
            "火场面积（亩）",
            "受害森林面积（公顷）",
            "受害森林面积（亩）",
        ]
        for row in rows:
            expected = table.loc[row[0]]
            assert row[1] == fmt_value(float(expected["fire_area_ha"]))
            assert row[4] == fmt_value(float(expected["forest_area_mu"]))
    head, rows = _table(html, "burn_severity")
    assert head == ["烈度等级", "面积（公顷）", "面积（亩）"]
    names = _layer(fire["burned"], "burn_severity")
    for row, code in zip(rows, names["severity"], strict=True):
        ha = float(scars[f"severity{code}_ha"].sum())
        assert row[1:] == [fmt_value(ha), fmt_value(ha * M2_PER_HA / M2_PER_MU)]
    items = dict(zip(report["item"] + report["unit"].fillna(""), report["value"], strict=False))
    severity_ha = {r[0]: r[1] for r in rows}
    assert severity_ha["重度"] == fmt_value(float(items["烈度：重度公顷"]))


def test_coverage_and_blind_areas_equal_the_results(fire: dict[str, Path], html: str) -> None:
    summary = _layer(fire["coverage"], "coverage_summary").set_index("item")["value"]
    assert _figure(html, "forest_seen_share") == f"{summary['forest_seen_share']:.2%}"
    assert _figure(html, "blind_ha") == fmt_value(float(summary["blind_ha"]))
    zones = _layer(fire["coverage"], "fire_zone_coverage")
    head, rows = _table(html, "fire_zones")
    assert head == ["区域名称", "防火等级", "面积（公顷）", "可视比例", "林地可视比例"]
    assert [r[0] for r in rows] == zones["name"].tolist()
    blind = _layer(fire["coverage"], "blind_areas").sort_values("rank")
    head, rows = _table(html, "blind_areas")
    assert head == ["排序", "盲区编号", "火险等级", "面积（公顷）", "面积（亩）"]
    assert [r[1] for r in rows] == blind["blind_id"].tolist()
    assert [r[4] for r in rows] == [fmt_value(float(v)) for v in blind["area_mu"]]


def test_charts_and_the_map_are_in_the_page(html: str) -> None:
    assert html.count("data:image/png;base64,") >= 4  # verdicts, severity, zones, static map
    assert "森林防火：热点、火场与监测盲区" in html  # the interactive map of gis.maps.build_map
    assert "疑似林火" in html and "工业热源" in html


def test_english_docx_with_one_input(fire: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "fire.docx"
    code, output = _run("--coverage", str(fire["coverage"]), "--out", str(out), "--lang", "en")
    assert code == 0, output
    doc = docx.Document(str(out))
    text = [p.text for p in doc.paragraphs]
    assert text[0] == "Forest fire prevention report"
    assert any("No hotspot results given" in t for t in text)
    assert any("No burned-area results given" in t for t in text)
    headers = {tuple(c.text for c in t.rows[0].cells) for t in doc.tables}
    assert (
        "Key area",
        "Fire-prevention level",
        "Area (ha)",
        "Seen share",
        "Forest seen share",
    ) in (headers)
    assert ("Rank", "Blind area", "Risk class", "Area (ha)", "Area (mu)") in headers
    assert not any(re.search(r"[\u4e00-\u9fff]", h) for row in headers for h in row)


def test_chinese_docx_and_no_input(fire: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "fire.docx"
    code, output = _run(
        "--hotspots", str(fire["hotspots"]), "--burned", str(fire["burned"]), "--out", str(out)
    )
    assert code == 0, output
    doc = docx.Document(str(out))
    assert doc.paragraphs[0].text == "森林防火报告"
    headers = {tuple(c.text for c in t.rows[0].cells) for t in doc.tables}
    assert ("核查结论", "数量", "核查优先级") in headers
    assert len(doc.inline_shapes) >= 3  # verdict and severity charts, the static map
    none = tmp_path / "none.html"
    code, output = _run("--out", str(none))
    assert code == 3
    assert "至少传入" in none.read_text(encoding="utf-8")


def test_hotspot_rate_and_feedback_with_a_field_store(
    fire: dict[str, Path], tmp_path: Path
) -> None:
    spots = _layer(fire["hotspots"], "hotspots_checked").sort_values("hotspot_id")
    dated = spots[spots["feedback_due_utc"].notna()]
    run = results_run_id(fire["hotspots"])

    def visit(row: Any, after: pd.Timedelta, **verdict: Any) -> dict[str, Any]:
        when = (row.detected_utc + after).tz_convert("Asia/Shanghai")
        return record(row.hotspot_id, layer="hotspots_checked", results_run_id=run,
                      device_time=when.strftime("%Y-%m-%dT%H:%M:%S+08:00"), **verdict)  # fmt: skip

    fire_verdict = {"is_fire": True, "fire_type": "forest_fire", "extinguished": True,
                    "burned_area_est_ha": 1.2}  # fmt: skip
    rows = list(dated.itertuples())
    feats = [visit(rows[0], pd.Timedelta(minutes=30), **fire_verdict)]
    feats += [visit(r, r.feedback_due_utc - r.detected_utc + pd.Timedelta(hours=2),
                    is_fire=False, fire_type="industrial", extinguished=None,
                    burned_area_est_ha=None) for r in rows[1:3]]  # fmt: skip
    field = tmp_path / "field.gpkg"
    report = import_exports([write_export(tmp_path / "phone.geojson", feats)], into=field,
                            results=read_results([fire["hotspots"]]))  # fmt: skip
    assert report.committed and report.imported == 3
    out = tmp_path / "fire.html"
    code, output = _run("--hotspots", str(fire["hotspots"]), "--field", str(field),
                        "--out", str(out))  # fmt: skip
    assert code == 0, output
    page = out.read_text(encoding="utf-8")
    # by hand: 3 of the hotspots visited; one before its deadline, two after
    assert _figure(page, "hotspot_rate") == f"{3 / len(spots):.1%}"
    assert (_figure(page, "on_time_n"), _figure(page, "late_n")) == ("1", "2")
    assert _figure(page, "missing_n") == str(len(dated) - 3)
    head, table = _table(page, "hotspots")
    assert {"现地：是否火情", "现地：火情类型", "反馈情况", "反馈用时（小时）"} <= set(head)
    by_id = {r[0]: r for r in table}
    first = by_id[rows[0].hotspot_id]
    assert first[head.index("反馈情况")] == "按时" and first[head.index("现地：是否火情")] == "是"
    assert first[head.index("反馈用时（小时）")] == fmt_value(0.5)
    assert by_id[rows[1].hotspot_id][head.index("反馈情况")] == "超时"
    assert by_id[rows[1].hotspot_id][head.index("现地：火情类型")] == "工业热源"
    head, rates = _table(page, "hotspot_rate")
    assert rates[0][head.index("已核查数")] == "3"


def test_no_hotspots_found_is_said_and_the_rest_reported(
    fire: dict[str, Path], tmp_path: Path
) -> None:
    """An empty hotspot run (none this period) beside burned results: exit 0, each said."""
    copy = tmp_path / "hotspots.gpkg"
    shutil.copy(fire["hotspots"], copy)
    with sqlite3.connect(copy) as con:
        con.execute("DELETE FROM hotspots_checked")
        con.execute("DELETE FROM fire_events")
    out = tmp_path / "fire.docx"
    code, output = _run("--hotspots", str(copy), "--burned", str(fire["burned"]), "--out", str(out))
    assert code == 0, output
    texts = [p.text for p in docx.Document(str(out)).paragraphs]
    assert "所给结果中没有卫星热点：本期未监测到热点。" in texts
    assert "森林火灾报告表" in texts  # the burned section is reported as usual
    alone = tmp_path / "alone.html"
    code, output = _run("--hotspots", str(copy), "--out", str(alone), "--lang", "en")
    assert code == 0, output
    page = alone.read_text(encoding="utf-8")
    assert "No fire results" in page and 'data-severity="error"' not in page
