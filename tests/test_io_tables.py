"""XLSX and CSV tables: Chinese headers, types kept, lon/lat in EPSG:4490, atomic writes."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from gis.crs import WORKING_CRS
from gis.errors import CRSError, DataSourceError, OutputExistsError, SchemaError
from gis.findings import Findings
from gis.io import lonlat_columns, to_table, write_table
from gis.layers import labels

X0, Y0 = 500_000.0, 4_850_000.0
HEADERS = {"patch_id": "图斑编号", "area_mu": "面积（亩）", "lon": "经度", "lat": "纬度"}


@pytest.fixture
def results() -> gpd.GeoDataFrame:
    geoms = [
        shapely.box(X0, Y0, X0 + 100, Y0 + 100),
        shapely.LineString([(X0, Y0), (X0 + 300, Y0)]),
        shapely.Point(X0 + 500, Y0 + 500),
    ]
    return gpd.GeoDataFrame(
        {
            "patch_id": ["220112-001", "220112-002", "220112-003"],
            "area_mu": [15.0, np.nan, 7.25],
            "is_real_change": pd.array([True, None, False], dtype="boolean"),
            "field_priority": pd.array([1, 2, None], dtype="Int64"),
            "reasons": ['=HYPERLINK("http://x")', "NDVI 下降 0.41；无有效审批", "a\x01b"],
            "permit_ids": [["林审〔2024〕12号", "采伐证 001"], [], None],
            "checked_at": [pd.Timestamp("2024-07-01 09:30", tz="Asia/Shanghai"), pd.NaT, pd.NaT],
            "image_date_after": [dt.date(2024, 6, 1), None, dt.date(2024, 6, 3)],
            "district": ["净月区", "南关区", "净月区"],
        },
        geometry=geoms,
        crs=WORKING_CRS,
    )


def _cells(path, sheet):
    ws = openpyxl.load_workbook(path)[sheet]
    return ws, [list(row) for row in ws.iter_rows()]


def test_xlsx_headers_types_and_layout(results, tmp_path):
    path = write_table(results, tmp_path / "核查.xlsx", headers=HEADERS)
    ws, rows = _cells(path, "数据")
    header = [c.value for c in rows[0]]
    assert header[:3] == ["图斑编号", "面积（亩）", "is_real_change"]
    assert "geometry" not in header and "经度" not in header
    assert all(c.font.b for c in rows[0])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:I4"
    first = dict(zip(header, rows[1], strict=True))
    assert first["面积（亩）"].value == 15.0 and first["面积（亩）"].data_type == "n"
    assert first["is_real_change"].value is True
    assert first["field_priority"].value == 1 and first["field_priority"].data_type == "n"
    assert first["checked_at"].value == dt.datetime(2024, 7, 1, 9, 30)  # wall-clock time kept
    assert first["image_date_after"].is_date
    assert first["permit_ids"].value == '["林审〔2024〕12号", "采伐证 001"]'
    second = {h: c.value for h, c in zip(header, rows[2], strict=True)}
    assert second["面积（亩）"] is None and second["is_real_change"] is None
    assert second["reasons"] == "NDVI 下降 0.41；无有效审批"


def test_xlsx_text_that_looks_like_a_formula_stays_text(results, tmp_path):
    path = write_table(results, tmp_path / "a.xlsx")
    _, rows = _cells(path, "数据")
    cell = rows[1][4]
    assert cell.value == '=HYPERLINK("http://x")'
    assert cell.data_type == "s"
    assert rows[3][4].value == "ab"  # a control character Excel cannot hold is dropped


def test_xlsx_column_widths_count_chinese_double(tmp_path):
    frame = pd.DataFrame({"a": ["净月潭国家森林公园"], "b": ["abcdefghijklmnopqr"], "c": [1]})
    path = write_table(frame, tmp_path / "w.xlsx")
    ws = openpyxl.load_workbook(path)["数据"]
    assert ws.column_dimensions["A"].width == 20  # 9 wide characters + 2
    assert ws.column_dimensions["B"].width == 20  # 18 narrow characters + 2
    assert ws.column_dimensions["C"].width == 6  # the minimum


def test_xlsx_summary_sheets(results, tmp_path):
    summary = results.groupby(["district", "field_priority"]).agg(
        count=("patch_id", "size"), area_mu=("area_mu", "sum")
    )
    pivot = results.pivot_table(index="district", values="area_mu", aggfunc="sum")
    path = write_table(
        results,
        tmp_path / "s.xlsx",
        headers=HEADERS | {"district": "区县", "count": "图斑数"},
        sheet_name="图斑",
        summary={"按区县汇总": summary, "面积": pivot},
    )
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["图斑", "按区县汇总", "面积"]
    rows = [[c.value for c in r] for r in book["按区县汇总"].iter_rows()]
    assert rows[0] == ["区县", "field_priority", "图斑数", "面积（亩）"]
    assert rows[1] == ["净月区", 1, 1, 15.0]
    assert book["按区县汇总"].freeze_panes == "A2"
    areas = {r[0].value: r[1].value for r in list(book["面积"].iter_rows())[1:]}
    assert areas == {"净月区": 22.25, "南关区": 0}


@pytest.mark.parametrize(
    ("name", "problem"),
    [("a" * 32, "1-31"), ("a/b", "may not contain"), ("数据", "used twice"), ("", "1-31")],
)
def test_bad_sheet_names_are_refused(results, tmp_path, name, problem):
    with pytest.raises(SchemaError, match=problem):
        write_table(results, tmp_path / "a.xlsx", summary={name: pd.DataFrame({"a": [1]})})
    assert list(tmp_path.iterdir()) == []


def test_catalog_headers(results, tmp_path):
    path = write_table(results, tmp_path / "c.xlsx", headers=labels("change_patches"))
    header = [c.value for c in next(openpyxl.load_workbook(path)["数据"].iter_rows())]
    assert header[0] == "判读图斑编号"


def test_xlsx_reads_back_with_gdal(results, tmp_path):
    path = write_table(results, tmp_path / "g.xlsx", headers=HEADERS, lonlat=True)
    back = pyogrio.read_dataframe(path, layer="数据")
    assert back["图斑编号"].tolist() == results["patch_id"].tolist()
    assert back["面积（亩）"].tolist()[0] == 15.0
    assert back["district"].tolist() == ["净月区", "南关区", "净月区"]


def test_csv_is_utf8_with_bom_and_reads_back(results, tmp_path):
    path = write_table(results, tmp_path / "核查.csv", headers=HEADERS, lonlat=True)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + "图斑编号,面积（亩）".encode())
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert back["图斑编号"].tolist() == results["patch_id"].tolist()
    assert back["permit_ids"][0] == '["林审〔2024〕12号", "采伐证 001"]'
    assert back["reasons"][1] == "NDVI 下降 0.41；无有效审批"
    gdal = pyogrio.read_dataframe(path)
    assert gdal.columns[0] == "图斑编号"  # GDAL skips the BOM too
    assert gdal["经度"].astype(float).tolist() == back["经度"].tolist()


def test_lonlat_columns_are_cgcs2000_label_points(results):
    ll = lonlat_columns(results)
    to_ll = Transformer.from_crs(WORKING_CRS, 4490, always_xy=True)
    expect = [to_ll.transform(X0 + 50, Y0 + 50), to_ll.transform(X0 + 150, Y0)]
    expect.append(to_ll.transform(X0 + 500, Y0 + 500))
    np.testing.assert_allclose(ll[["lon", "lat"]].to_numpy(), np.array(expect), atol=1e-7)
    assert 125.9 < ll["lon"].min() and ll["lat"].max() < 43.8


def test_lonlat_of_a_u_shaped_polygon_lies_inside_it():
    u_shape = shapely.box(0, 0, 300, 300).difference(shapely.box(100, 100, 200, 300))
    frame = gpd.GeoDataFrame(geometry=[shapely.affinity.translate(u_shape, X0, Y0)], crs=4551)
    ll = lonlat_columns(frame)
    point = gpd.GeoSeries(gpd.points_from_xy(ll["lon"], ll["lat"]), crs=4490).to_crs(4551)
    assert frame.geometry[0].contains(point[0])


def test_lonlat_of_missing_geometry_is_empty(tmp_path):
    frame = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"]},
        geometry=[shapely.Point(X0, Y0), None, shapely.Polygon()],
        crs=WORKING_CRS,
    )
    ll = lonlat_columns(frame)
    assert ll["lon"].notna().tolist() == [True, False, False]
    back = pd.read_csv(write_table(frame, tmp_path / "a.csv", lonlat=True), encoding="utf-8-sig")
    assert back["lat"].isna().tolist() == [False, True, True]


def test_lonlat_needs_a_crs(results):
    with pytest.raises(CRSError, match="no coordinate reference system"):
        lonlat_columns(results.set_crs(None, allow_override=True))


def test_wkt_option_and_geometry_finding(results, tmp_path):
    log = Findings()
    table = to_table(results, wkt=True)
    assert table["wkt"][2] == "POINT (500500 4850500)"
    write_table(results, tmp_path / "a.csv", findings=log)
    assert log.of("geometry_dropped")


def test_duplicate_headers_are_refused(results):
    with pytest.raises(SchemaError, match="图斑编号 appear more than once"):
        to_table(results, headers={"patch_id": "图斑编号", "district": "图斑编号"})


def test_csv_with_summary_and_other_suffixes_are_refused(results, tmp_path):
    with pytest.raises(DataSourceError, match="CSV holds one table"):
        write_table(results, tmp_path / "a.csv", summary={"s": pd.DataFrame({"a": [1]})})
    with pytest.raises(DataSourceError, match=r"\.xlsx or \.csv"):
        write_table(results, tmp_path / "a.ods")


@pytest.mark.parametrize("suffix", ("xlsx", "csv"))
def test_overwrite_semantics(results, tmp_path, suffix):
    path = write_table(results, tmp_path / f"t.{suffix}")
    before = path.read_bytes()
    with pytest.raises(OutputExistsError):
        write_table(results.head(1), path)
    assert path.read_bytes() == before
    write_table(results.head(1), path, overwrite=True)
    assert path.read_bytes() != before


def test_xlsx_failing_mid_save_leaves_nothing(results, tmp_path, monkeypatch):
    target = write_table(results, tmp_path / "t.xlsx")
    before = target.read_bytes()
    real_save = openpyxl.Workbook.save

    def broken_save(self, filename):
        real_save(self, filename)
        with open(filename, "r+b") as fh:  # a half-written zip
            fh.truncate(100)
        raise OSError("disk full")

    monkeypatch.setattr(openpyxl.Workbook, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_table(results, target, overwrite=True)
    assert target.read_bytes() == before
    with pytest.raises(OSError, match="disk full"):
        write_table(results, tmp_path / "new.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.xlsx"]


def test_xlsx_dates_decimals_and_yes_no_for_people(results, tmp_path):
    frame = results.assign(
        ratio=[7.499003387732376, 0.5, None],
        image_date_before=pd.to_datetime(["2025-09-05", None, "2025-09-06"]),
    )
    path = write_table(frame, tmp_path / "人看.xlsx", headers=HEADERS, lonlat=True, lang="zh")
    _, rows = _cells(path, "数据")
    header = [c.value for c in rows[0]]
    first = dict(zip(header, rows[1], strict=True))
    third = dict(zip(header, rows[3], strict=True))
    assert first["image_date_before"].number_format == "yyyy-mm-dd"
    assert first["image_date_before"].value == dt.datetime(2025, 9, 5)
    assert first["image_date_after"].number_format == "yyyy-mm-dd"
    assert first["checked_at"].number_format == "yyyy-mm-dd hh:mm"  # a time of day
    assert first["ratio"].number_format == "#,##0.00"
    assert first["ratio"].value == 7.499003387732376  # shown rounded, stored in full
    assert first["经度"].number_format == "0.0000000"
    assert first["is_real_change"].value == "是" and third["is_real_change"].value == "否"
    english = write_table(frame, tmp_path / "en.xlsx", lang="en")
    _, rows = _cells(english, "数据")
    assert rows[1][[c.value for c in rows[0]].index("is_real_change")].value is True
