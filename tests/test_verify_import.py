"""verify import / lab: the field store as GDAL reads it, all-or-nothing, idempotence, photos."""

from __future__ import annotations

import datetime
import hashlib
import json
import sqlite3
from pathlib import Path

import openpyxl
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from verify_helpers import photo, record, write_export, write_results

from gis.cli.main import cli
from gis.errors import DataSourceError
from gis.verify import import_exports, import_lab, photo_dir, read_log, read_results


@pytest.fixture
def results(tmp_path: Path) -> tuple[Path, Path]:
    return write_results(tmp_path)


def _no_fix(feature: dict[str, object]) -> dict[str, object]:
    feature["geometry"] = None
    return feature


def _rows(store: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(store) as con:
        return con.execute("SELECT * FROM verification_log ORDER BY fid").fetchall()


def test_store_is_a_geopackage_gdal_lists_log_and_view(tmp_path: Path) -> None:
    a = write_export(tmp_path / "a.geojson", [
        record("0001", device_time="2026-06-01T09:00:00+08:00", is_real_change=False,
               verified_cause_code=None),
        record("0001", device_time="2026-06-01T10:00:00+08:00"),
        _no_fix(record("0002", gps_accuracy_m=None)),
        record("DP1", layer="discolored_points"),
    ])  # fmt: skip
    store = tmp_path / "field.gpkg"
    report = import_exports([a], into=store)
    assert report.committed and report.imported == 4
    layers = dict(pyogrio.list_layers(store))
    assert layers == {"verification_log": "Point", "verification_latest": "Point"}
    log = pyogrio.read_dataframe(store, layer="verification_log")
    assert len(log) == 4 and log.crs.to_epsg() == 4326
    assert log.geometry.iloc[0].x == pytest.approx(125.45)
    view = pyogrio.read_dataframe(store, layer="verification_latest")
    assert sorted(view["feature_id"]) == ["0001", "0002", "DP1"]
    latest_0001 = view[view["feature_id"] == "0001"].iloc[0]
    assert bool(latest_0001["is_real_change"]) is True  # 10:00 wins over 09:00
    assert int(latest_0001["record_count"]) == 2
    info = pyogrio.read_info(store, layer="verification_latest")
    assert info["features"] == 3 and info["crs"] == "EPSG:4326"
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        registered = con.execute("SELECT table_name FROM gpkg_geometry_columns").fetchall()
    assert sorted(registered) == [("verification_latest",), ("verification_log",)]


def test_latest_ties_on_device_time_go_to_the_later_import(tmp_path: Path) -> None:
    store = tmp_path / "field.gpkg"
    first = record("0003", note="first")
    second = record("0003", note="second")
    import_exports([write_export(tmp_path / "1.geojson", [first])], into=store)
    import_exports([write_export(tmp_path / "2.geojson", [second])], into=store)
    view = pyogrio.read_dataframe(store, layer="verification_latest")
    assert view["note"].tolist() == ["second"]


def test_log_is_append_only(tmp_path: Path) -> None:
    store = tmp_path / "field.gpkg"
    import_exports([write_export(tmp_path / "a.geojson", [record("0001")])], into=store)
    with sqlite3.connect(store) as con:
        for sql in ("UPDATE verification_log SET note = 'x'", "DELETE FROM verification_log"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute(sql)


def test_same_file_twice_adds_nothing(tmp_path: Path, results: tuple[Path, Path]) -> None:
    a = write_export(
        tmp_path / "a.geojson", [record("0001"), record("DP2", layer="discolored_points")]
    )
    store = tmp_path / "field.gpkg"
    runner = CliRunner()
    args = ["verify", "import", str(a), "--into", str(store), "--json"]
    args += [a for r in results for a in ("--results", str(r))]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    before = _rows(store)
    second = runner.invoke(cli, args)
    assert second.exit_code == 0, second.output
    out = json.loads(second.output)
    assert (out["imported"], out["already_imported"], out["rejected"]) == (0, 2, [])
    assert _rows(store) == before


def test_one_bad_record_in_two_files_imports_nothing(
    tmp_path: Path, results: tuple[Path, Path]
) -> None:
    store = tmp_path / "field.gpkg"
    import_exports([write_export(tmp_path / "old.geojson", [record("0005")])], into=store)
    before = _rows(store)
    a = write_export(
        tmp_path / "a.geojson", [record("0001"), record("0002", photos=[photo("p")[0]])]
    )
    b = write_export(tmp_path / "b.geojson", [
        record("0003"), record("0004", verified_cause_code=43), record("9999"),
    ])  # fmt: skip
    bad = tmp_path / "c.geojson"
    bad.write_text("{oops", encoding="utf-8")
    args = ["verify", "import", str(a), str(b), str(bad), "--into", str(store)]
    args += [a for r in results for a in ("--results", str(r))]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert f"{b}#1 (0004): verified_cause_code：43 不在可选值 10, 11" in result.output
    assert f"{b}#2 (9999): 要素 9999 不在结果的 patches_checked 图层中" in result.output
    assert f"{bad} (-): 不是 UTF-8 编码的 JSON 文件" in result.output
    assert "导入 0 条" in result.output and "未写入" in result.output
    assert _rows(store) == before
    assert not photo_dir(store).exists()  # nothing is written before validation passed


def test_skip_invalid_imports_the_valid_ones(tmp_path: Path, results: tuple[Path, Path]) -> None:
    store = tmp_path / "field.gpkg"
    a = write_export(tmp_path / "a.geojson", [record("0001"), record("0002", inspector="")])
    b = write_export(
        tmp_path / "b.geojson", [record("DP9", layer="discolored_points"), record("0003")]
    )
    report = import_exports([a, b], into=store, results=read_results(results), skip_invalid=True)
    assert report.committed and report.imported == 2
    assert [(r.source, r.index) for r in report.rejected] == [(str(a), 1), (str(b), 0)]
    assert sorted(read_log(store)["feature_id"]) == ["0001", "0003"]


def test_layer_without_results_file_is_rejected(tmp_path: Path, results: tuple[Path, Path]) -> None:
    a = write_export(tmp_path / "a.geojson", [record("DP1", layer="discolored_points")])
    report = import_exports([a], into=tmp_path / "f.gpkg", results=read_results(results[:1]))
    assert not report.committed
    assert report.rejected[0].reason == "no --results file has layer discolored_points"


def test_reused_record_id_with_other_content_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "field.gpkg"
    original = record("0001")
    import_exports([write_export(tmp_path / "a.geojson", [original])], into=store)
    changed = json.loads(json.dumps(original))
    changed["properties"]["note"] = "edited on the phone"
    report = import_exports(
        [write_export(tmp_path / "b.geojson", [changed, record("0002")])], into=store
    )
    assert not report.committed and report.imported == 0
    assert "already imported with other content" in report.rejected[0].reason
    assert len(read_log(store)) == 1
    # the same id twice in one call with different content
    twin = json.loads(json.dumps(changed))
    twin["properties"]["note"] = "third"
    fresh = write_export(tmp_path / "c.geojson", [twin, changed])
    report = import_exports([fresh], into=tmp_path / "g.gpkg")
    assert "different record of this import" in report.rejected[0].reason


def test_photos_are_content_addressed_and_checked(tmp_path: Path) -> None:
    item, data = photo("crown")
    png, png_data = photo("png", mime="image/png")
    store = tmp_path / "field.gpkg"
    a = write_export(tmp_path / "a.geojson", [
        record("0001", photos=[item, png]), record("0002", photos=[item]),
    ])  # fmt: skip
    report = import_exports([a], into=store)
    assert report.photos_written == 2
    digest = hashlib.sha256(data).hexdigest()
    path = tmp_path / "field.photos" / digest[:2] / f"{digest}.jpg"
    assert path.read_bytes() == data
    png_digest = hashlib.sha256(png_data).hexdigest()
    assert (tmp_path / "field.photos" / png_digest[:2] / f"{png_digest}.png").is_file()
    assert sorted(p.name for p in photo_dir(store).rglob("*") if p.is_file()) == sorted(
        [f"{digest}.jpg", f"{png_digest}.png"]
    )
    log = read_log(store)
    stored = json.loads(log.loc[0, "photos"])
    assert stored[0] == {"sha256": digest, "mime": "image/jpeg", "bytes": len(data),
                         "path": f"{digest[:2]}/{digest}.jpg"}  # fmt: skip
    assert log["photo_count"].tolist() == [2, 1]


def test_disagreeing_inspectors_are_kept_and_reported(tmp_path: Path) -> None:
    store = tmp_path / "field.gpkg"
    a = write_export(tmp_path / "wang.geojson", [
        record("0001", inspector="王", is_real_change=True, verified_cause_code=42),
        record("0002", inspector="王", is_real_change=False, verified_cause_code=None),
        record("DP1", layer="discolored_points", inspector="王", outcome="not_found",
               sample_taken=False, sample_id=None),
    ])  # fmt: skip
    b = write_export(tmp_path / "li.geojson", [
        record("0001", inspector="李", is_real_change=True, verified_cause_code=20),
        record("0002", inspector="李", is_real_change=False, verified_cause_code=None),
        record("DP1", layer="discolored_points", inspector="李", outcome="confirmed_dead_pine"),
    ])  # fmt: skip
    result = CliRunner().invoke(cli, ["verify", "import", str(a), str(b), "--into", str(store)])
    assert result.exit_code == 0, result.output
    assert "冲突 督查图斑 0001: 李: 真实变化/20; 王: 真实变化/42" in result.output
    assert "冲突 变色立木 DP1: 李: 确认为枯死松树; 王: 现地未发现" in result.output
    assert "0002" not in result.output
    assert len(read_log(store)) == 6


def test_lab_results_are_matched_through_sample_ids(tmp_path: Path) -> None:
    store = tmp_path / "field.gpkg"
    a = write_export(tmp_path / "a.geojson", [
        record("DP1", layer="discolored_points", sample_id="S-1"),
        record("DP2", layer="discolored_points", sample_id="S-2"),
    ])  # fmt: skip
    import_exports([a], into=store)
    lab = tmp_path / "lab.csv"
    lab.write_bytes("样品编号,检测结果,检测日期,检测单位\nS-1,阳性,2026-06-10,省林检站\nS-2,阴性,2026-06-10,省林检站\n"
                    .encode("gb18030"))  # fmt: skip
    result = CliRunner().invoke(cli, ["verify", "lab", str(lab), "--into", str(store)])
    assert result.exit_code == 0, result.output
    log = read_log(store)
    labs = log[log["kind"] == "lab"]
    assert labs[["feature_id", "outcome", "inspector"]].values.tolist() == [
        ["DP1", "lab_positive", "省林检站"],
        ["DP2", "lab_negative", "省林检站"],
    ]
    assert labs["device_time"].tolist() == ["2026-06-10T00:00:00+08:00"] * 2
    view = pyogrio.read_dataframe(store, layer="verification_latest")
    assert sorted(view["outcome"]) == ["lab_negative", "lab_positive"]
    again = CliRunner().invoke(cli, ["verify", "lab", str(lab), "--into", str(store)])
    assert again.exit_code == 0 and "导入 0 条，已导入过 2 条" in again.output
    assert len(read_log(store)) == 4


def test_unknown_samples_are_listed_and_nothing_imported(tmp_path: Path) -> None:
    store = tmp_path / "field.gpkg"
    import_exports([write_export(tmp_path / "a.geojson", [
        record("DP1", layer="discolored_points", sample_id="S-1")])], into=store)  # fmt: skip
    lab = tmp_path / "lab.csv"
    lab.write_text("sample_id,result\nS-1,positive\nS-404,negative\nS-1,maybe\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["verify", "lab", str(lab), "--into", str(store)])
    assert result.exit_code == 1
    assert "样品 'S-404' 不在外业记录中" in result.output
    assert "检测结果 'maybe' 既不是阳性也不是阴性" in result.output
    assert len(read_log(store)) == 1
    report = import_lab(lab, into=store, skip_invalid=True)
    assert report.imported == 1 and len(report.rejected) == 2


def test_unreadable_inputs_exit_3(tmp_path: Path) -> None:
    not_gpkg = tmp_path / "x.gpkg"
    not_gpkg.write_text("hello, not sqlite " * 20)
    a = write_export(tmp_path / "a.geojson", [record("0001")])
    result = CliRunner().invoke(cli, ["verify", "import", str(a), "--into", str(not_gpkg)])
    assert result.exit_code == 3 and "不是 GeoPackage" in result.output
    with pytest.raises(DataSourceError, match="does not exist"):
        read_log(tmp_path / "missing.gpkg")


def test_a_field_store_takes_more_imports_after_gdal_added_a_layer(
    tmp_path: Path, results: tuple[Path, Path]
) -> None:
    store = tmp_path / "field.gpkg"
    first = import_exports([write_export(tmp_path / "a.geojson", [record("0001")])], into=store)
    patches = pyogrio.read_dataframe(results[0], layer="patches_checked")
    pyogrio.write_dataframe(patches, store, layer="my_notes")  # a layer someone added in QGIS
    report = import_exports([write_export(tmp_path / "b.geojson", [record("0001")])], into=store)
    assert first.committed and report.committed
    layers = dict(pyogrio.list_layers(store))
    assert set(layers) == {"my_notes", "verification_log", "verification_latest"}
    assert len(pyogrio.read_dataframe(store, layer="my_notes")) == 5
    assert pyogrio.read_dataframe(store, layer="verification_latest")["feature_id"].tolist() == [
        "0001"
    ]
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_lab_results_as_offices_save_them(tmp_path: Path) -> None:
    """Excel's CSV (GBK, 2026/6/1, blank rows at the end) and a workbook under a title row."""
    store = tmp_path / "field.gpkg"
    import_exports([write_export(tmp_path / "a.geojson", [
        record("DP1", layer="discolored_points", sample_id="S-1"),
        record("DP2", layer="discolored_points", sample_id="S-2"),
    ])], into=store)  # fmt: skip
    csv = tmp_path / "检测结果.csv"
    csv.write_bytes("样品编号,检测结果,检测日期\nS-1,阳性,2026/6/1\nS-2,阴性,2026年6月1日\n,,\n,,\n"
                    .encode("gbk"))  # fmt: skip
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["松材线虫病检测结果报告单"])
    sheet.merge_cells("A1:C1")
    sheet.append(["样品编号", "检测结果", "检测日期"])
    sheet.append(["S-1", "阳性(+)", datetime.date(2026, 6, 1)])
    sheet.append(["S-2", "未检出", "2026.6.1"])
    sheet.append([None, None, None])
    xlsx = tmp_path / "检测结果.xlsx"
    workbook.save(xlsx)
    before = {p: p.read_bytes() for p in (csv, xlsx)}
    result = CliRunner().invoke(cli, ["verify", "lab", str(csv), "--into", str(store)])
    assert result.exit_code == 0, result.output
    labs = read_log(store).query("kind == 'lab'")
    assert labs["outcome"].tolist() == ["lab_positive", "lab_negative"]
    assert labs["device_time"].tolist() == ["2026-06-01T00:00:00+08:00"] * 2
    again = import_lab(xlsx, into=store)  # the same results in other words: the same ids
    assert again.committed and again.imported == 0 and again.already == 2
    assert before == {p: p.read_bytes() for p in before}


def test_a_workbook_of_several_filled_sheets_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "field.gpkg"
    import_exports([write_export(tmp_path / "a.geojson", [
        record("DP1", layer="discolored_points", sample_id="S-1")])], into=store)  # fmt: skip
    xlsx = tmp_path / "lab.xlsx"
    with pd.ExcelWriter(xlsx) as writer:
        for name in ("一月", "二月"):
            pd.DataFrame({"样品编号": ["S-1"], "检测结果": ["阳性"]}).to_excel(
                writer, sheet_name=name
            )
    result = CliRunner().invoke(cli, ["verify", "lab", str(xlsx), "--into", str(store)])
    assert result.exit_code == 3 and "一月、二月" in result.output, result.output


def test_an_id_edited_out_of_form_names_the_one_meant(
    tmp_path: Path, results: tuple[Path, Path]
) -> None:
    """An export opened in Excel and saved again: 0001 became 1; the results' id is named."""
    store = tmp_path / "field.gpkg"
    export = write_export(tmp_path / "a.geojson", [record("1"), record("0002")])
    args = ["verify", "import", str(export), "--into", str(store), "--lang", "en"]
    result = CliRunner().invoke(cli, [*args, "--results", str(results[0])])
    assert result.exit_code == 1
    assert "feature 1 is not in patches_checked of the results; the results have '0001'" in (
        result.output
    )
    assert "(0002)" not in result.output
