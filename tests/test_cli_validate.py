"""``linyuan validate``: exit codes, table and JSON output, --out files, shared options."""

from __future__ import annotations

import json

import click
import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from gis.cli.main import cli
from gis.cli.options import CRSParamType, EncodingParamType, KindParamType
from gis.crs import WORKING_CRS
from gis.io import write_layer


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _patches_file(tmp_path, name="patches.gpkg", **overrides):
    columns = {
        "判读图斑编号": ["P1", "P2"],
        "XIAN": ["220112", "220112"],
        "PAN_BHYY": [1, 2],
    }
    columns.update(overrides)
    geoms = [shapely.box(500_000, 4_850_000, 500_100, 4_850_100), shapely.box(0, 0, 1, 1)]
    frame = gpd.GeoDataFrame(columns, geometry=geoms, crs=WORKING_CRS)
    path = tmp_path / name
    write_layer(frame, path)
    return path


def test_clean_file_exits_0(runner, tmp_path):
    path = _patches_file(tmp_path)
    result = runner.invoke(cli, ["validate", str(path), "--kind", "change_patches"])
    assert result.exit_code == 0, result.output
    assert "fields_renamed" in result.stdout
    assert "错误 0" in result.stdout


def test_error_findings_exit_1_with_a_table(runner, tmp_path):
    path = _patches_file(tmp_path, 判读图斑编号=["P1", "P1"], PAN_BHYY=[1, 9])
    result = runner.invoke(cli, ["validate", str(path), "--kind", "change_patches", "--lang", "en"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Severity", "Code", "Field", "Feature", "Message"]
    assert any(ln.startswith("error") and "duplicate_id" in ln for ln in lines)
    assert any("code_outside_list" in ln and "9×1" in ln for ln in lines)
    assert "2 errors" in lines[-1]


def test_chinese_headers_by_default(runner, tmp_path):
    path = _patches_file(tmp_path, PAN_BHYY=[1, 9])
    result = runner.invoke(cli, ["validate", str(path), "--kind", "change_patches"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].split() == ["级别", "代码", "字段", "要素", "说明"]
    assert "错误" in result.stdout and "不在代码表中" in result.stdout


def test_json_output(runner, tmp_path):
    path = _patches_file(tmp_path, XIAN=["220112", None])
    result = runner.invoke(cli, ["validate", str(path), "--kind", "change_patches", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["kind"] == "change_patches" and doc["counts"]["error"] == 1
    (null,) = [f for f in doc["findings"] if f["code"] == "null_required"]
    assert null["field"] == "county_code" and null["feature"] == "P2"


def test_unreadable_input_exits_3(runner, tmp_path):
    result = runner.invoke(cli, ["validate", str(tmp_path / "missing.shp"), "--kind", "parks"])
    assert result.exit_code == 3
    assert "missing.shp" in result.stderr
    truncated = tmp_path / "broken.shp"
    truncated.write_bytes(b"\x00\x00\x27\x0a" + b"\x00" * 20)
    result = runner.invoke(cli, ["validate", str(truncated)])
    assert result.exit_code == 3
    assert "broken" in result.stderr


def test_usage_errors_exit_2(runner, tmp_path):
    path = _patches_file(tmp_path)
    for args, text, zh in [
        (["--kind", "patches"], "valid kinds: districts", "可用类型：districts"),
        (["--crs", "EPSG:nope"], "is not a CRS", "不是坐标系"),
        (["--encoding", "gbkk"], "unknown encoding", "未知编码 'gbkk'"),
        (["--lang", "fr"], "'zh', 'en'", "只能取 zh、en 之一"),
    ]:
        result = runner.invoke(cli, ["validate", str(path), "--lang=en", *args])
        assert result.exit_code == 2, args
        assert text in result.stderr, (args, result.stderr)
        result = runner.invoke(cli, ["validate", str(path), *args])  # Chinese by default
        assert result.exit_code == 2, args
        assert zh in result.stderr, (args, result.stderr)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".gpkg"])
def test_out_file(runner, tmp_path, suffix):
    path = _patches_file(tmp_path, PAN_BHYY=[1, 9])
    out = tmp_path / f"findings{suffix}"
    args = ["validate", str(path), "--kind", "change_patches", "--out", str(out)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1 and out.exists()
    if suffix == ".csv":
        table = pd.read_csv(out, encoding="utf-8-sig")
        assert "code_outside_list" in set(table["code"])
    elif suffix == ".xlsx":
        sheet = openpyxl.load_workbook(out).active
        header = [c.value for c in next(sheet.iter_rows(max_row=1))]
        assert header[:3] == ["级别", "代码", "说明"]
        levels = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert levels and levels <= {"提示", "警告", "错误"} and sheet.title == "问题清单"
    else:
        table = pyogrio.read_dataframe(out, layer="findings", read_geometry=False)
        assert "code_outside_list" in set(table["code"])
    again = runner.invoke(cli, args)
    assert again.exit_code == 3 and "--overwrite" in again.stderr
    assert runner.invoke(cli, [*args, "--overwrite"]).exit_code == 1


def test_real_gbk_shapefile(runner, shared_data):
    path = shared_data / "china_gbk_shapefiles" / "res2_4m.shp"
    result = runner.invoke(cli, ["validate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert {"encoding_decided", "crs_guessed"} <= codes


def test_real_points_as_protected_areas_exit_1(runner, shared_data):
    path = shared_data / "china_forest_parks_points" / "nature_2016_protect.json"
    result = runner.invoke(cli, ["validate", str(path), "--kind", "protected_areas"])
    assert result.exit_code == 1
    assert "wrong_geometry_type" in result.stdout and "Point×428" in result.stdout


def test_real_districts_declared_gcj02_exit_0(runner, shared_data):
    path = shared_data / "changchun_admin" / "220100_full.json"
    args = ["validate", str(path), "--kind", "districts", "--crs", "gcj02", "--lang", "en"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "gcj02_converted" in result.stdout and "invalid_geometry_repaired" in result.stdout


def test_working_crs_auto_for_data_elsewhere(runner, shared_data):
    path = shared_data / "china_gbk_shapefiles" / "res2_4m.shp"  # all China, centre ~110°E
    default = runner.invoke(cli, ["validate", str(path), "--json"])
    assert "outside_working_zone" in default.stdout
    auto = runner.invoke(cli, ["validate", str(path), "--json", "--working-crs", "auto"])
    assert auto.exit_code == 0, auto.output
    assert "outside_working_zone" not in auto.stdout


# --------------------------------------------------------------------------- option types


@pytest.mark.parametrize(
    ("value", "epsg"),
    [("EPSG:4551", 4551), ("epsg:4530", 4530), ("4490", 4490), (4326, 4326)],
)
def test_crs_param_type(value, epsg):
    assert CRSParamType().convert(value, None, None).to_epsg() == epsg


@pytest.mark.parametrize("value", ["gcj02", "GCJ-02", "gcj_02"])
def test_crs_param_type_gcj02(value):
    assert CRSParamType().convert(value, None, None) == "gcj02"


def test_working_crs_accepts_auto_not_gcj02():
    assert CRSParamType(allow_auto=True).convert("auto", None, None) == "auto"
    with pytest.raises(click.BadParameter, match="or auto"):
        CRSParamType(allow_auto=True).convert("gcj02", None, None)


def test_encoding_and_kind_param_types():
    assert EncodingParamType().convert("GBK", None, None) == "GBK"
    with pytest.raises(click.BadParameter, match="GB18030"):
        EncodingParamType().convert("big-five-ish", None, None)
    assert KindParamType().convert("pest_points", None, None) == "pest_points"
    with pytest.raises(click.BadParameter, match="residential"):
        KindParamType().convert("pests", None, None)
