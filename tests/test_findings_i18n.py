"""Findings reach users in Chinese by default and in English on request, from one mechanism.

Every ``Findings.add`` call in ``gis/`` gives a Chinese text (checked on the source), every
finding of the demo run has one (checked on the results files), the results' ``findings``
tables keep the English in ``message_en``, and the reports and the CLI pick by ``--lang``.
"""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from report_helpers import demo_results

import gis
from gis.cli.logs import FindingFormatter, set_lang
from gis.cli.main import cli
from gis.findings import FINDING_COLUMNS, Finding, Findings, Severity, message_column

CJK = re.compile(r"[\u4e00-\u9fff]")
GIS = Path(gis.__file__).parent


def _has_chinese(text: str) -> bool:
    return bool(CJK.search(text))


def _needs_chinese(text: str) -> bool:
    """A message that is more than a path, a number or a list of them needs Chinese words."""
    return bool(re.search(r"[A-Za-z]{3,}", re.sub(r"\S*[/\\.]\S*", " ", text)))


# ---------------------------------------------------------------- the mechanism


def test_text_picks_the_language_and_falls_back_to_english() -> None:
    log = Findings()
    both = log.add("crs_guessed", "a.shp declares no CRS", source="a.shp", zh="a.shp 未声明坐标系")
    only_en = log.add("legacy", "written before zh existed")
    assert both.text() == both.text("zh") == "a.shp 未声明坐标系"
    assert both.text("en") == both.message == "a.shp declares no CRS"
    assert only_en.text("zh") == only_en.text("en") == "written before zh existed"
    with pytest.raises(gis.errors.GisError, match="valid values: zh, en"):
        both.text("fr")


def test_to_frame_writes_the_language_asked_and_english_always() -> None:
    log = Findings()
    log.add("a", "English A", zh="中文甲", severity="error", feature=3, field="f")
    log.add("b", "English B")
    zh, en = log.to_frame(), log.to_frame(lang="en")
    assert list(zh.columns) == list(en.columns) == list(FINDING_COLUMNS)
    assert zh["message"].tolist() == ["中文甲", "English B"]
    assert en["message"].tolist() == zh["message_en"].tolist() == ["English A", "English B"]
    assert zh.loc[0, "severity"] == "error" and zh.loc[0, "feature"] == "3"
    assert log[0].to_dict(lang="en")["message"] == "English A"
    assert message_column(zh, "en").tolist() == ["English A", "English B"]


def test_message_column_reads_files_written_before_message_en() -> None:
    old = pd.DataFrame({"severity": ["info"], "code": ["x"], "message": ["旧文件的说明"]})
    assert message_column(old, "en").tolist() == message_column(old, "zh").tolist()


def test_severity_labels() -> None:
    assert [s.label("zh") for s in Severity] == ["提示", "警告", "错误"]
    assert [s.label("en") for s in Severity] == ["info", "warning", "error"]


def test_cli_log_lines_follow_lang() -> None:
    finding = Finding("crs_guessed", "a.shp declares no CRS", zh="a.shp 未声明坐标系")
    record = logging.makeLogRecord(
        {"msg": "%s: %s", "args": ("crs_guessed", finding.message), "finding": finding}
    )
    plain = logging.makeLogRecord({"msg": "no finding here"})
    try:
        set_lang("zh")
        assert FindingFormatter().format(record) == "crs_guessed: a.shp 未声明坐标系"
        set_lang("en")
        assert FindingFormatter().format(record) == "crs_guessed: a.shp declares no CRS"
        assert FindingFormatter().format(plain) == "no finding here"
    finally:
        set_lang("zh")


# ---------------------------------------------------------------- every call site


def _finding_calls(tree: ast.AST) -> list[ast.Call]:
    """``x.add("code", message, ...)`` calls: a string code first, then the message."""
    calls = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        first = node.args[0] if node.args else None
        code = isinstance(first, ast.Constant) and isinstance(first.value, str)
        if node.func.attr == "add" and code and (len(node.args) >= 2 or node.keywords):
            calls.append(node)
    return calls


def test_every_finding_in_the_library_has_a_chinese_text() -> None:
    missing, seen = [], 0
    for path in sorted(GIS.rglob("*.py")):
        for call in _finding_calls(ast.parse(path.read_text(encoding="utf-8"))):
            seen += 1
            names = {k.arg for k in call.keywords}
            if "zh" not in names and None not in names:  # None: **texts from a zh/en table
                code = ast.literal_eval(call.args[0])
                missing.append(f"{path.relative_to(GIS.parent)}:{call.lineno} {code}")
    assert seen > 50
    assert not missing, "Findings.add without zh=: " + ", ".join(missing)


# ---------------------------------------------------------------- the demo run and its reports


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return demo_results(tmp_path_factory.getbasetemp())


def test_demo_results_findings_are_chinese_with_english_kept(demo: dict[str, Path]) -> None:
    frames = {
        name: pyogrio.read_dataframe(path, layer="findings", read_geometry=False)
        for name, path in demo.items()
    }
    found = pd.concat(frames.values(), ignore_index=True)
    assert len(found) >= 20 and {"raster_validity", "encoding_decided"} <= set(found["code"])
    assert list(found.columns) == list(FINDING_COLUMNS)
    english = [m for m in found["message"] if _needs_chinese(m) and not _has_chinese(m)]
    assert not english, english
    assert found["message_en"].str.len().gt(0).all()
    assert (found["message_en"] != found["message"]).all()
    decoys = found.set_index("code").loc["decoys_suppressed"]
    assert "个近红外未下降的黄色树冠" in decoys["message"]
    assert "yellow crown(s) with NIR kept" in decoys["message_en"]


def _findings_rows(html: str) -> list[list[str]]:
    m = re.search(r'<table data-key="findings">(.*?)</table>', html, flags=re.S)
    assert m, "no findings table"
    rows = re.findall(r"<tr>(.*?)</tr>", m.group(1), flags=re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S) for r in rows][1:]


def test_reports_show_findings_in_their_language(demo: dict[str, Path], tmp_path: Path) -> None:
    texts = {}
    for lang in ("zh", "en"):
        out = tmp_path / f"discolored_{lang}.html"
        result = CliRunner().invoke(
            cli,
            ["report", "discolored", str(demo["discolored"]), "--lang", lang, "--out", str(out)],
        )
        assert result.exit_code == 0, result.output
        texts[lang] = _findings_rows(out.read_text(encoding="utf-8"))
    assert len(texts["zh"]) == len(texts["en"]) >= 3
    assert all(_has_chinese(msg) for _, _, msg in texts["zh"])
    assert {sev for sev, _, _ in texts["zh"]} <= {"提示", "警告", "错误"}
    decoy_en = next(msg for _, code, msg in texts["en"] if code == "decoys_suppressed")
    assert "yellow crown(s) with NIR kept" in decoy_en and not _has_chinese(decoy_en)
    assert {sev for sev, _, _ in texts["en"]} <= {"info", "warning", "error"}


def test_validate_prints_findings_in_lang(tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    path = tmp_path / "patches.gpkg"
    frame = gpd.GeoDataFrame(
        {"TBBH": ["1", "1"], "XIAN": ["220112", "220112"], "PAN_BHYY": [1, 1]},
        geometry=[shapely.box(x, 4_860_000, x + 50, 4_860_050) for x in (500_000, 500_100)],
        crs=4551,
    )
    frame.to_file(path)
    args = ["validate", str(path), "--kind", "change_patches"]
    zh = CliRunner().invoke(cli, args)
    en = CliRunner().invoke(cli, [*args, "--lang", "en"])
    assert zh.exit_code == en.exit_code == 1
    assert "1 个重复值" in zh.output and "错误" in zh.output
    line = next(r for r in en.output.splitlines() if "duplicate_id" in r)
    assert "1 duplicated value(s)" in line and not _has_chinese(line), en.output
