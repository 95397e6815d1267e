"""linyuan report …: notebooks executed on the demo results, numbers checked against the files."""

from __future__ import annotations

import re
import shutil
import sqlite3
import warnings
from pathlib import Path

import docx
import pyogrio
import pytest
from click.testing import CliRunner
from report_helpers import demo_results, make_field_store, record
from report_helpers import html_figure as _figure

from gis.charts import FontWarning
from gis.cli.main import cli
from gis.report.blocks import fmt_value
from gis.units import M2_PER_HA, M2_PER_MU


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return demo_results(tmp_path_factory.getbasetemp())


def _run(*args: str) -> tuple[int, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", FontWarning)  # the kernel's font warnings are re-emitted
        result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def _table_rows(html: str, key: str) -> list[list[str]]:
    m = re.search(rf'<table data-key="{key}">(.*?)</table>', html, flags=re.S)
    assert m, key
    return [
        re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", m.group(1))
    ][1:]


@pytest.fixture(scope="module")
def patch_store(demo: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Field records on 30 of the patches (and one twice), the first one overturning the desk."""
    patches = pyogrio.read_dataframe(demo["patches"], layer="patches_checked", read_geometry=False)
    rows = [
        record(
            "patches_checked",
            pid,
            k,
            is_real_change=bool(real == 1),
            verified_cause_code=None if cause != cause else int(cause),
        )
        for k, (pid, real, cause) in enumerate(
            patches[["patch_id", "is_real_change", "verified_cause_code"]]
            .head(30)
            .itertuples(index=False)
        )
    ]
    rows.append(
        record(
            "patches_checked",
            rows[0]["feature_id"],
            59,
            is_real_change=not rows[0]["is_real_change"],
        )
    )
    return make_field_store(tmp_path_factory.mktemp("field") / "field.gpkg", rows)


def test_patch_report_html_without_field_records(demo: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "patches.html"
    code, output = _run("report", "patches", str(demo["patches"]), "--out", str(out))
    assert code == 0, output
    html = out.read_text(encoding="utf-8")
    raw = pyogrio.read_dataframe(demo["patches"], layer="patches_checked", read_geometry=False)
    illegal = raw[raw["legality"] == "suspected_illegal"]
    assert _figure(html, "illegal_n") == str(len(illegal))
    mu = illegal["area_ha"].sum() * M2_PER_HA / M2_PER_MU
    assert _figure(html, "illegal_mu") == fmt_value(float(mu))
    assert _figure(html, "patches_n") == str(len(raw))
    assert _figure(html, "total_mu") == fmt_value(float(raw["area_mu"].sum()))
    assert len(_table_rows(html, "suspected_illegal")) == len(illegal)
    assert "尚无外业核查记录" in html and _figure(html, "rate_all") == "0.0%"
    assert (
        "from gis import report" not in html and "report.patch_summary" not in html
    )  # code hidden
    assert html.count("data:image/png;base64,") >= 3  # legality chart, rate chart, map
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d（北京时间）", _figure(html, "generated"))


def test_patch_report_rate_equals_the_field_store(
    demo: dict[str, Path], patch_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "patches.html"
    code, output = _run(
        "report", "patches", str(demo["patches"]), "--field", str(patch_store), "--out", str(out)
    )
    assert code == 0, output
    html = out.read_text(encoding="utf-8")
    with sqlite3.connect(patch_store) as con:
        verified = con.execute(
            "SELECT COUNT(DISTINCT feature_id) FROM verification_log "
            "WHERE layer = 'patches_checked'"
        ).fetchone()[0]
    total = len(
        pyogrio.read_dataframe(demo["patches"], layer="patches_checked", read_geometry=False)
    )
    assert _figure(html, "rate_all") == f"{verified / total:.1%}"
    overall = _table_rows(html, "verification_rate")[0]
    assert overall[2:] == [str(total), str(verified), f"{verified / total:.1%}"]
    assert "尚无外业核查记录" not in html
    assert _figure(html, "compared") == str(verified)
    assert len(_table_rows(html, "disagree")) >= 1  # the overturned desk verdict


def test_patch_report_docx_opens_with_chinese_tables(
    demo: dict[str, Path], patch_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "patches.docx"
    code, output = _run(
        "report",
        "patches",
        str(demo["patches"]),
        "--field",
        str(patch_store),
        "--district",
        "净月区",
        "--out",
        str(out),
    )
    assert code == 0, output
    doc = docx.Document(str(out))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert "二、自查结果" in headings and "五、疑似违法图斑清单（按核查优先级）" in headings
    heads = [[c.text for c in t.rows[0].cells] for t in doc.tables]
    assert ["层级", "名称", "下发数", "已核查数", "核查率"] in heads
    raw = pyogrio.read_dataframe(demo["patches"], layer="patches_checked", read_geometry=False)
    illegal = raw[(raw["legality"] == "suspected_illegal") & (raw["district"] == "净月区")]
    listing = next(t for t in doc.tables if t.rows[0].cells[0].text == "判读图斑编号")
    assert len(listing.rows) - 1 == len(illegal)
    assert len(doc.inline_shapes) >= 2


def test_discolored_report_with_field_and_lab(demo: dict[str, Path], tmp_path: Path) -> None:
    points = pyogrio.read_dataframe(
        demo["discolored"], layer="discolored_points", read_geometry=False
    )
    ids = points["point_id"].tolist()
    rows = [
        record(
            "discolored_points",
            ids[0],
            1,
            outcome="confirmed_dead_pine",
            sample_taken=True,
            sample_id="S1",
        ),
        record("discolored_points", ids[1], 2, outcome="other_cause", sample_taken=False),
        record("discolored_points", ids[2], 3, outcome="not_found", sample_taken=False),
        record(
            "discolored_points",
            ids[3],
            4,
            outcome="confirmed_dead_pine",
            sample_taken=True,
            sample_id="S2",
        ),
        {
            **record("discolored_points", ids[0], 9, outcome="lab_positive", sample_id="S1"),
            "kind": "lab",
        },
    ]
    store = make_field_store(tmp_path / "field.gpkg", rows)
    out = tmp_path / "discolored.html"
    code, output = _run(
        "report", "discolored", str(demo["discolored"]), "--field", str(store), "--out", str(out)
    )
    assert code == 0, output
    html = out.read_text(encoding="utf-8")
    assert _figure(html, "points_n") == str(len(points))
    assert _table_rows(html, "point_rate")[0][2:] == [str(len(ids)), "4", f"{4 / len(ids):.1%}"]
    outcome = {r[0]: r[1] for r in _table_rows(html, "field_outcome")}
    assert outcome == {"确认为枯死松树": "2", "其他原因变色": "1", "现地未发现": "1"}
    assert (_figure(html, "sampled"), _figure(html, "tested"), _figure(html, "pending")) == (
        "2",
        "1",
        "1",
    )
    assert _table_rows(html, "lab_results")[0][:2] == ["检测阳性（松材线虫）", "1"]


def test_greenery_report_html_and_english_docx(demo: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "greenery.html"
    code, output = _run(
        "report",
        "greenery",
        str(demo["kpi"]),
        "--coverage",
        str(demo["coverage"]),
        "--out",
        str(out),
    )
    assert code == 0, output
    html = out.read_text(encoding="utf-8")
    kpi = pyogrio.read_dataframe(demo["kpi"], layer="kpi", read_geometry=False)
    assert len(_table_rows(html, "kpi")) == kpi["target"].notna().sum()
    assert _figure(html, "not_met") == str(int((kpi["met"] == 0).sum()))
    cov = pyogrio.read_dataframe(demo["coverage"], layer="coverage", read_geometry=False)
    city = cov[(cov["district"] == "全市") & (cov["measure"] == "service")]["coverage_pct"].iloc[0]
    assert _figure(html, "city_coverage") == f"{city / 100:.2%}"
    assert len(_table_rows(html, "underserved")) == 20
    out_en = tmp_path / "greenery.docx"
    code, output = _run(
        "report", "greenery", str(demo["kpi"]), "--out", str(out_en), "--lang", "en"
    )
    assert code == 0, output
    doc = docx.Document(str(out_en))
    assert doc.paragraphs[0].text == "Greening work: progress against targets"
    assert any("No coverage results given" in p.text for p in doc.paragraphs)


@pytest.mark.parametrize(
    ("command", "which", "message"),
    [
        ("patches", "kpi", "中是`linyuan greenery kpi` 的结果"),
        ("discolored", "patches", "中是`linyuan check patches` 的结果"),
        ("greenery", "discolored", "中是`linyuan detect discolored` 的结果"),
    ],
)
def test_results_of_another_check(
    demo: dict[str, Path], tmp_path: Path, command: str, which: str, message: str
) -> None:
    out = tmp_path / "bad.html"
    code, output = _run("report", command, str(demo[which]), "--out", str(out))
    assert code == 3 and message in output
    html = out.read_text(encoding="utf-8")
    assert 'data-severity="error"' in html and message in html


def _emptied(demo: dict[str, Path], tmp_path: Path, which: str, layer: str) -> Path:
    """A copy of a demo results file whose main layer holds no feature (a run on nothing)."""
    copy = tmp_path / demo[which].name
    shutil.copy(demo[which], copy)
    with sqlite3.connect(copy) as con:
        con.execute(f"DELETE FROM {layer}")
    return copy


@pytest.mark.parametrize(
    ("command", "which", "layer", "zh", "en"),
    [
        ("patches", "patches", "patches_checked", "表中无图斑", "No patches"),
        ("discolored", "discolored", "discolored_points", "无变色立木点位", "No points"),
        ("greenery", "kpi", "kpi", "表中无指标", "No indicators"),
    ],
)
def test_empty_results_make_a_report_saying_so(
    demo: dict[str, Path], tmp_path: Path, command: str, which: str, layer: str, zh: str, en: str
) -> None:
    """Valid results holding nothing: a report that says so, with the run's findings; exit 0."""
    copy = _emptied(demo, tmp_path, which, layer)
    html, word = tmp_path / "empty.html", tmp_path / "empty.docx"
    code, output = _run("report", command, str(copy), "--out", str(html))
    assert code == 0, output
    page = html.read_text(encoding="utf-8")
    assert zh in page and 'data-severity="error"' not in page
    assert "数据问题与说明" in page and "无法生成报告" not in page
    code, output = _run("report", command, str(copy), "--out", str(word), "--lang", "en")
    assert code == 0, output
    texts = [p.text for p in docx.Document(str(word)).paragraphs]
    assert any(t.startswith(en) for t in texts) and "Data findings" in texts


def test_a_broken_results_file_keeps_its_error(demo: dict[str, Path], tmp_path: Path) -> None:
    copy = _emptied(demo, tmp_path, "patches", "patches_checked")
    with sqlite3.connect(copy) as con:
        con.execute("DROP TABLE run")
        con.execute("DELETE FROM gpkg_contents WHERE table_name = 'run'")
    out = tmp_path / "broken.docx"
    code, output = _run("report", "patches", str(copy), "--out", str(out))
    assert code == 3 and "缺少报告需要的图层 run" in output
    doc = docx.Document(str(out))
    assert any("无法生成报告：" in p.text for p in doc.paragraphs)


def test_usage_errors(demo: dict[str, Path], tmp_path: Path) -> None:
    pdf = str(tmp_path / "r.pdf")
    code, output = _run("report", "patches", str(demo["patches"]), "--out", pdf, "--lang", "en")
    assert code == 2 and ".html or .docx" in output
    code, output = _run("report", "patches", str(demo["patches"]), "--out", pdf)  # Chinese
    assert code == 2 and ".html 或 .docx" in output
    existing = tmp_path / "r.html"
    existing.write_text("old")
    code, output = _run("report", "patches", str(demo["patches"]), "--out", str(existing))
    assert code == 3 and "--overwrite" in output and existing.read_text() == "old"


def test_rate_equals_verify_status_on_a_real_field_store(
    demo: dict[str, Path], tmp_path: Path
) -> None:
    """A store written by `gis.verify` (the import of field exports) gives the same 核查率."""
    from verify_helpers import record as export_record
    from verify_helpers import write_export

    from gis.verify import (
        import_exports,
        read_log,
        read_results,
        results_run_id,
        verification_status,
    )

    results = (demo["patches"], demo["discolored"])
    patches = pyogrio.read_dataframe(demo["patches"], layer="patches_checked", read_geometry=False)
    run_id = results_run_id(demo["patches"])
    feats = [
        export_record(
            row.patch_id,
            results_run_id=run_id,
            is_real_change=row.is_real_change == 1,
            verified_cause_code=int(row.verified_cause_code) if row.is_real_change == 1 else None,
        )
        for row in patches.iloc[::4].itertuples()
    ]
    store = tmp_path / "field.gpkg"
    imported = import_exports(
        [write_export(tmp_path / "phone.geojson", feats)], into=store, results=read_results(results)
    )
    assert imported.committed
    status = verification_status(read_results(results).features, read_log(store), by="district")
    status = status[status["layer"] == "patches_checked"].set_index("group")
    out = tmp_path / "patches.html"
    code, output = _run(
        "report", "patches", str(demo["patches"]), "--field", str(store), "--out", str(out)
    )
    assert code == 0, output
    html = out.read_text(encoding="utf-8")
    rows = _table_rows(html, "verification_rate")
    assert rows[0][2:4] == [
        str(status.loc["全部", "features"]),
        str(status.loc["全部", "verified"]),
    ]
    for row in rows:
        if row[0] == "行政区":
            assert [int(row[2]), int(row[3])] == status.loc[
                row[1], ["features", "verified"]
            ].tolist()
    assert _figure(html, "real_agree") == "100.0%"  # the desk verdicts were sent back as field ones


def test_docx_is_a4_with_page_numbers(tmp_path: Path) -> None:
    from gis.report import blocks
    from gis.report.render import to_docx

    sections = (blocks.section(blocks.heading("核查报告", level=1), blocks.paragraph("正文")),)
    for lang, words in (("zh", ("第 ", " 页，共 ")), ("en", ("Page ", " of "))):
        path = tmp_path / f"{lang}.docx"
        to_docx(sections, lang=lang).save(str(path))
        doc = docx.Document(str(path))
        page = doc.sections[0]
        size = (page.page_width.cm, page.page_height.cm, page.left_margin.cm)
        assert size == pytest.approx((21.0, 29.7, 2.5), abs=0.01)  # stored in twips
        footer = page.footer.paragraphs[0]
        xml = footer._p.xml
        assert "PAGE" in xml and "NUMPAGES" in xml and 'w:fldCharType="begin"' in xml
        assert footer.text.startswith(words[0]) and words[1] in footer.text
