"""Writers in gis.io: every format round-trips Chinese names and values, atomically."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from gis.crs import WORKING_CRS
from gis.errors import DataSourceError, EncodingError, OutputExistsError, SchemaError
from gis.findings import Findings
from gis.io import (
    read_layer,
    shapefile_field_map,
    vector_write,
    write_kml,
    write_layer,
    write_layers,
    write_shapefile,
    write_table,
)
from gis.io.shapefile_write import shapefile_field_names

X0, Y0 = 500_000.0, 4_850_000.0


@pytest.fixture
def patches() -> gpd.GeoDataFrame:
    """Three 1 ha squares with Chinese field names and values, in EPSG:4551."""
    geoms = [shapely.box(X0 + i * 200, Y0, X0 + i * 200 + 100, Y0 + 100) for i in range(3)]
    return gpd.GeoDataFrame(
        {
            "图斑编号": ["220112-001", "220112-002", "220112-003"],
            "面积（亩）": [15.0, 7.5, 22.25],
            "名称": ["净月潭", "新立城", "<&\"']]>"],
            "林班": [1, 2, 3],
        },
        geometry=geoms,
        crs=WORKING_CRS,
    )


@pytest.fixture
def kml_full_names():
    """Let GDAL's LIBKML driver keep non-ASCII ExtendedData names when reading back."""
    pyogrio.set_gdal_config_options({"LIBKML_LAUNDER_FIELD_NAMES": "NO"})
    yield
    pyogrio.set_gdal_config_options({"LIBKML_LAUNDER_FIELD_NAMES": None})


def _write(fmt: str, frame: gpd.GeoDataFrame, folder: Path) -> Path:
    """Write ``frame`` in one of the parametrized formats; return the path."""
    suffix = fmt.split("-", maxsplit=1)[0]
    path = folder / f"图斑.{suffix}"
    if fmt == "shp-gbk":
        return write_shapefile(frame, path)
    if fmt == "shp-utf8":  # 面积（亩） is 15 bytes in UTF-8: needs the field map
        return write_shapefile(frame, path, encoding="UTF-8", field_map=True)
    if fmt in ("csv", "xlsx"):
        return write_table(frame, path, lonlat=True)
    if fmt in ("kml", "kmz"):
        return write_kml(frame, path, name_field="图斑编号", description_field="名称")
    return write_layer(frame, path)


def _read_back(fmt: str, path: Path) -> pd.DataFrame:
    if fmt in ("kml", "kmz"):
        layers = [name for name, _ in pyogrio.list_layers(path)]
        return pd.concat([pyogrio.read_dataframe(path, layer=n) for n in layers])
    if fmt == "xlsx":
        return pyogrio.read_dataframe(path, layer="数据")
    frame = pyogrio.read_dataframe(path)
    return frame.rename(columns=shapefile_field_map(path)) if fmt.startswith("shp") else frame


FORMATS = ("gpkg", "geojson", "fgb", "shp-gbk", "shp-utf8", "csv", "xlsx", "kml", "kmz")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.usefixtures("kml_full_names")
def test_formats_round_trip_chinese_names_and_values(fmt, patches, tmp_path):
    path = _write(fmt, patches, tmp_path)
    back = _read_back(fmt, path).sort_values("图斑编号").reset_index(drop=True)  # fgb reorders
    for name in ("图斑编号", "面积（亩）", "名称", "林班"):
        assert name in back.columns, (fmt, list(back.columns))
    assert back["图斑编号"].tolist() == patches["图斑编号"].tolist()
    assert back["名称"].tolist() == patches["名称"].tolist()
    np.testing.assert_allclose(back["面积（亩）"].astype(float), patches["面积（亩）"])
    assert back["林班"].astype(int).tolist() == [1, 2, 3]
    if fmt in ("gpkg", "geojson", "fgb", "shp-gbk", "shp-utf8"):
        assert back.crs.equals(WORKING_CRS)
        assert shapely.equals(back.geometry.values, patches.geometry.values).all()
    if fmt in ("kml", "kmz"):
        expect = patches.to_crs(4326).geometry.values
        assert (shapely.hausdorff_distance(back.geometry.values, expect) < 1e-6).all()
    if fmt in ("csv", "xlsx"):
        expect = patches.geometry.centroid.to_crs(4490)
        np.testing.assert_allclose(back["lon"].astype(float), expect.x, atol=1e-7)
        np.testing.assert_allclose(back["lat"].astype(float), expect.y, atol=1e-7)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_refuses_to_replace_without_overwrite(fmt, patches, tmp_path):
    path = _write(fmt, patches, tmp_path)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="--overwrite"):
        _write(fmt, patches, tmp_path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# --- Shapefile --------------------------------------------------------------------------------


def test_shapefile_defaults_to_gbk_with_cpg_936(patches, tmp_path):
    path = write_layer(patches, tmp_path / "a.shp")
    assert (tmp_path / "a.cpg").read_text() == "936"
    dbf = (tmp_path / "a.dbf").read_bytes()
    assert "净月潭".encode("gbk") in dbf
    assert "净月潭".encode() not in dbf
    assert "面积（亩）".encode("gbk") in dbf
    assert pyogrio.read_dataframe(path)["名称"][0] == "净月潭"  # GDAL honours a .cpg of 936


def test_shapefile_without_cpg_is_gbk_that_needs_an_encoding(patches, tmp_path):
    path = write_shapefile(patches, tmp_path / "legacy.shp", write_cpg=False)
    assert not (tmp_path / "legacy.cpg").exists()
    assert "净月潭".encode("gbk") in (tmp_path / "legacy.dbf").read_bytes()
    assert pyogrio.read_dataframe(path, encoding="GBK")["名称"][0] == "净月潭"


def test_shapefile_utf8_on_request(patches, tmp_path):
    frame = patches.rename(columns={"面积（亩）": "面积", "图斑编号": "编号"})
    path = write_shapefile(frame, tmp_path / "u.shp", encoding="utf-8")
    assert (tmp_path / "u.cpg").read_text() == "UTF-8"
    assert "净月潭".encode() in (tmp_path / "u.dbf").read_bytes()
    assert pyogrio.read_dataframe(path)["面积"].tolist() == [15.0, 7.5, 22.25]


def test_unknown_shapefile_encoding_lists_the_valid_ones(patches, tmp_path):
    with pytest.raises(ValueError, match=r"GBK.*UTF-8"):
        write_shapefile(patches, tmp_path / "a.shp", encoding="Big5")


def test_long_field_names_are_refused_with_their_byte_lengths(patches, tmp_path):
    frame = patches.assign(判读变化原因=["1", "2", "3"], valid_frac_before=[0.1, 0.2, 0.3])
    with pytest.raises(SchemaError) as err:
        write_shapefile(frame, tmp_path / "a.shp")
    message = str(err.value)
    assert "判读变化原因 (12 bytes)" in message
    assert "valid_frac_before (17 bytes)" in message
    assert "field_map=True" in message and "GeoPackage" in message
    assert list(tmp_path.iterdir()) == []


def test_utf8_counts_three_bytes_per_character(patches, tmp_path):
    with pytest.raises(SchemaError, match=r"图斑编号 \(12 bytes\)"):
        write_shapefile(patches, tmp_path / "a.shp", encoding="UTF-8")


def test_field_map_writes_short_unique_names_and_a_sidecar(patches, tmp_path):
    frame = patches.assign(判读变化原因=["采伐", "占地", "其他"], 判读变化原因说明=["a", "b", "c"])
    log = Findings()
    path = write_shapefile(frame, tmp_path / "a.shp", field_map=True, findings=log)
    names = pyogrio.read_info(path)["fields"].tolist()
    assert names == ["图斑编号", "面积（亩）", "名称", "林班", "判读变化原", "判读变化1"]
    assert all(len(n.encode("gbk")) <= 10 for n in names)
    mapping = shapefile_field_map(path)
    assert mapping["判读变化原"] == "判读变化原因"
    assert mapping["判读变化1"] == "判读变化原因说明"
    back = pyogrio.read_dataframe(path).rename(columns=mapping)
    assert back["判读变化原因"].tolist() == ["采伐", "占地", "其他"]
    assert back["判读变化原因说明"].tolist() == ["a", "b", "c"]
    assert len(log.of("field_name_shortened")) == 2
    sidecar = (tmp_path / "a.fields.csv").read_bytes()
    assert sidecar.startswith(b"\xef\xbb\xbfshort_name,full_name")


def test_short_names_never_cut_a_character():
    names = shapefile_field_names(["一二三四五六", "ab一二三四五"], field_map=True)
    assert names == {"一二三四五六": "一二三四五", "ab一二三四五": "ab一二三四"}
    for short in names.values():
        short.encode("gbk").decode("gbk")  # whole characters only
    utf8 = shapefile_field_names(["一二三四"], encoding="UTF-8", field_map=True)
    assert utf8 == {"一二三四": "一二三"}


def test_value_outside_gbk_is_refused_naming_field_and_row(patches, tmp_path):
    frame = patches.assign(备注=["ok", "松树🌲", "ok"])
    with pytest.raises(EncodingError, match=r"field '备注', row 1.*encoding='UTF-8'"):
        write_shapefile(frame, tmp_path / "a.shp")
    assert list(tmp_path.iterdir()) == []
    write_shapefile(frame, tmp_path / "a.shp", encoding="UTF-8", field_map=True)
    assert pyogrio.read_dataframe(tmp_path / "a.shp")["备注"][1] == "松树🌲"


def test_text_longer_than_dbf_allows_is_refused(patches, tmp_path):
    frame = patches.assign(说明=["x", "林" * 128, "y"])  # 256 bytes in GBK
    with pytest.raises(SchemaError, match=r"'说明', row 1 is 256 bytes"):
        write_shapefile(frame, tmp_path / "a.shp")
    write_shapefile(patches.assign(说明=["x", "林" * 127, "y"]), tmp_path / "a.shp")
    assert pyogrio.read_dataframe(tmp_path / "a.shp")["说明"][1] == "林" * 127


def test_dates_become_dbf_dates_and_datetimes_text(patches, tmp_path):
    frame = patches.assign(
        前期影像时间=pd.to_datetime(["2024-05-01", "2024-06-01", None]),
        核实时间=[pd.Timestamp("2024-07-01 09:30"), pd.NaT, pd.Timestamp("2024-07-02 16:05:01")],
        list_col=[["a", 1], None, {"k": "林"}],
        ok=[True, False, True],
        n=pd.array([1, None, 3], dtype="Int64"),
    )
    log = Findings()
    path = write_shapefile(frame, tmp_path / "a.shp", field_map=True, findings=log)
    info = pyogrio.read_info(path)
    types = dict(zip(info["fields"], info["ogr_types"], strict=True))
    assert types["前期影像时"] == "OFTDate"
    assert types["核实时间"] == "OFTString"
    back = pyogrio.read_dataframe(path)
    assert back["前期影像时"].tolist()[:2] == [
        pd.Timestamp("2024-05-01"),
        pd.Timestamp("2024-06-01"),
    ]
    assert pd.isna(back["前期影像时"][2])
    assert back["核实时间"][0] == "2024-07-01 09:30:00"
    assert back["核实时间"][2] == "2024-07-02 16:05:01"
    assert back["list_col"][0] == '["a", 1]' and back["list_col"][2] == '{"k": "林"}'
    assert back["ok"].astype(bool).tolist() == [True, False, True]
    assert back["n"][0] == 1 and pd.isna(back["n"][1])
    assert [f.field for f in log.of("datetime_as_text")] == ["核实时间"]


def test_shapefile_refuses_mixed_geometry_types(patches, tmp_path):
    frame = patches.copy()
    frame.loc[1, "geometry"] = shapely.Point(X0, Y0)
    with pytest.raises(SchemaError, match=r"one geometry type.*Point, Polygon"):
        write_shapefile(frame, tmp_path / "a.shp")


def test_shapefile_with_non_text_column_names(patches, tmp_path):
    frame = patches.rename(columns={"林班": 2024})
    path = write_shapefile(frame, tmp_path / "a.shp")
    assert pyogrio.read_dataframe(path)["2024"].tolist() == [1, 2, 3]


def test_shapefile_needs_geometry(patches, tmp_path):
    with pytest.raises(SchemaError, match="write_table"):
        write_shapefile(pd.DataFrame(patches.drop(columns="geometry")), tmp_path / "a.shp")


def test_shapefile_lines_points_and_multipolygons(tmp_path):
    lines = gpd.GeoDataFrame(
        {"名称": ["绿道1"]}, geometry=[shapely.LineString([(X0, Y0), (X0 + 10, Y0)])], crs=4551
    )
    pts = gpd.GeoDataFrame({"名称": ["点"]}, geometry=[shapely.Point(X0, Y0)], crs=4551)
    multi = gpd.GeoDataFrame(
        {"名称": ["多"]},
        geometry=[shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])],
        crs=4551,
    )
    for name, frame, kind in (("l", lines, "LineString"), ("p", pts, "Point"), ("m", multi, "")):
        path = write_shapefile(frame, tmp_path / f"{name}.shp")
        assert kind in pyogrio.read_info(path)["geometry_type"]
        assert shapely.equals(pyogrio.read_dataframe(path).geometry[0], frame.geometry[0])


def test_gis_reader_reads_the_gbk_shapefile(patches, tmp_path):
    from gis.io import read_layer

    path = write_shapefile(patches, tmp_path / "a.shp", write_cpg=False)
    back = read_layer(path)
    assert back["名称"].tolist() == patches["名称"].tolist()


# --- GeoPackage -------------------------------------------------------------------------------


def test_geopackage_holds_layers_and_attribute_tables(patches, tmp_path):
    findings = Findings()
    findings.add("crs_guessed", "猜测坐标系 EPSG:4530", source="图斑.shp")
    run = pd.DataFrame(
        {
            "key": ["inputs", "started"],
            "value": [["a.shp", "b.tif"], {"阈值": 0.2}],
            "ok": [True, False],
            "when": pd.to_datetime(["2024-05-01 10:00", "2024-05-02 11:00"]).tz_localize("UTC"),
        }
    )
    path = write_layers(
        tmp_path / "结果.gpkg",
        {"图斑核查": patches, "findings": findings.to_frame(), "run": run},
    )
    with sqlite3.connect(path) as db:
        kinds = dict(db.execute("select table_name, data_type from gpkg_contents").fetchall())
    assert kinds == {
        "图斑核查": "features", "findings": "attributes", "run": "attributes",
        "layer_styles": "attributes",  # the Chinese aliases as QGIS's default style
    }  # fmt: skip
    back = pyogrio.read_dataframe(path, layer="图斑核查")
    assert back["名称"].tolist() == patches["名称"].tolist()
    table = pyogrio.read_dataframe(path, layer="run")
    assert table["value"].tolist() == ['["a.shp", "b.tif"]', '{"阈值": 0.2}']
    assert table["ok"].tolist() == [True, False]
    assert table["when"][0] == pd.Timestamp("2024-05-01 10:00", tz="UTC")
    assert pyogrio.read_dataframe(path, layer="findings")["message"][0] == "猜测坐标系 EPSG:4530"


def test_geopackage_categoricals_and_empty_tables(patches, tmp_path):
    frame = patches.assign(legality=pd.Categorical(["permitted", None, "suspected_illegal"]))
    empty = pd.DataFrame({"a": pd.Series([], dtype=str)})
    path = write_layers(tmp_path / "r.gpkg", {"p": frame, "empty": empty})
    back = pyogrio.read_dataframe(path, layer="p")
    assert back["legality"][0] == "permitted" and pd.isna(back["legality"][1])
    assert len(pyogrio.read_dataframe(path, layer="empty")) == 0


def test_geopackage_layer_names_differing_in_case_are_refused(patches, tmp_path):
    with pytest.raises(SchemaError, match="differ only in case"):
        write_layers(tmp_path / "r.gpkg", {"Patches": patches, "patches": patches})
    assert list(tmp_path.iterdir()) == []


def test_unknown_suffix_is_a_clear_error(patches, tmp_path):
    with pytest.raises(DataSourceError, match=r"\.gpkg.*\.kmz"):
        write_layer(patches, tmp_path / "a.dwg")


def test_write_layer_sends_tables_to_write_table(patches, tmp_path):
    path = write_layer(patches, tmp_path / "a.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")


# --- real data --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ("gpkg", "shp", "kmz", "xlsx"))
@pytest.mark.usefixtures("kml_full_names")
def test_changchun_districts_round_trip(shared_data, tmp_path, suffix):
    src = shared_data / "changchun_admin" / "220100_full.json"
    districts = pyogrio.read_dataframe(src).to_crs(WORKING_CRS)  # lists and dicts inside
    path = tmp_path / f"districts.{suffix}"
    if suffix == "kmz":
        write_kml(districts, path, name_field="name", folder_field="level")
    elif suffix == "xlsx":
        write_table(districts, path, lonlat=True)
    else:
        write_layer(districts, path, field_map=True)
    back = _read_back(suffix, path)
    names = set(back["Name" if suffix == "kmz" else "name"])  # LIBKML: <name> wins
    assert {"南关区", "榆树市", "德惠市", "公主岭市"} <= names
    assert len(back) == len(districts)
    if suffix in ("gpkg", "shp"):
        back = back.rename(columns=shapefile_field_map(path))
        assert back["acroutes"][0] == "[100000, 220000, 220100]"
        got = back.sort_values("adcode").geometry.area.sum()
        assert got == pytest.approx(districts.geometry.area.sum(), rel=1e-9)


# --- atomicity --------------------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_geopackage_failing_mid_way_leaves_nothing(patches, tmp_path, monkeypatch):
    real = pyogrio.write_dataframe
    calls = []

    def flaky(frame, path, **kwargs):
        calls.append(kwargs.get("layer"))
        real(frame, path, **kwargs)  # a partial file is on disk now
        if len(calls) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(pyogrio, "write_dataframe", flaky)
    target = tmp_path / "r.gpkg"
    with pytest.raises(DataSourceError, match=r"layer 'b' to .*r\.gpkg: disk full"):
        write_layers(target, {"a": patches, "b": patches, "c": patches})
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_output(patches, tmp_path, monkeypatch):
    target = write_layer(patches, tmp_path / "r.gpkg")
    before = target.read_bytes()

    def broken(frame, path, **kwargs):
        Path(path).write_bytes(b"partial")
        raise RuntimeError("killed")

    monkeypatch.setattr(pyogrio, "write_dataframe", broken)
    with pytest.raises(DataSourceError):
        write_layer(patches.head(1), target, overwrite=True)
    assert target.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_shapefile_failing_mid_way_leaves_old_parts_untouched(patches, tmp_path, monkeypatch):
    target = write_shapefile(patches, tmp_path / "a.shp")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real = pyogrio.raw.write

    def flaky(path, *args, **kwargs):
        real(path, *args, **kwargs)
        raise RuntimeError("killed after the .dbf")

    monkeypatch.setattr(pyogrio.raw, "write", flaky)
    with pytest.raises(DataSourceError, match="killed"):
        write_shapefile(patches.head(1), target, overwrite=True)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_shapefile_sidecars_are_replaced_together(patches, tmp_path):
    frame = patches.assign(判读变化原因=["a", "b", "c"])
    target = write_shapefile(frame, tmp_path / "a.shp", field_map=True)
    (tmp_path / "a.qix").write_bytes(b"stale index")
    assert (tmp_path / "a.fields.csv").exists()
    write_shapefile(patches, target, write_cpg=False, overwrite=True)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["a.dbf", "a.prj", "a.shp", "a.shx"]  # no stale .cpg, .qix or field map
    assert pyogrio.read_info(target, encoding="GBK")["features"] == 3
    assert shapefile_field_map(target) == {}


def _every_kind_of_column() -> dict[str, pd.DataFrame]:
    """Layers with every column kind the checks write, for the Arrow / plain comparison."""
    n = 5
    utc = ["2026-04-02T05:10Z", None, "2026-04-02T05:10:30.5Z", "2026-01-01T00:00Z", None]
    naive = ["2026-04-02 05:10", None, "2026-04-02 05:10:30", "2026-04-03 00:00", None]
    days = ["2026-04-02", None, "2026-04-03", "2026-04-04", "2026-04-05"]
    frame = gpd.GeoDataFrame(
        {
            "s": pd.Series(["a", "b", None, "中文", "e"], dtype="str"),
            "o": pd.Series(["a", None, "c", "d", "e"], dtype=object),
            "oi": pd.Series([1, 2, None, 4, 5], dtype=object),
            "allnone": pd.Series([None] * n, dtype=object),
            "f": [1.5, np.nan, 2, 3, 4],
            "i": np.arange(n),
            "I2": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "b": [True, False, True, True, False],
            "B2": pd.array([True, None, False, True, False], dtype="boolean"),
            "utc": pd.to_datetime(utc, utc=True, format="ISO8601"),
            "naive": pd.to_datetime(naive, format="ISO8601"),
            "bjt": pd.to_datetime(utc, utc=True, format="ISO8601").tz_convert("Asia/Shanghai"),
            "day": pd.to_datetime(days),
            "cat": pd.Categorical(["x", "y", "x", None, "y"]),
            "json": [[1, 2], None, {"a": "甲"}, [], "t"],
        },
        geometry=[shapely.Point(X0 + i, Y0 + i) for i in range(n)],
        crs=WORKING_CRS,
    )
    mixed = gpd.GeoDataFrame(
        {"k": [1, 2]},
        geometry=[
            shapely.box(X0, Y0, X0 + 1, Y0 + 1),
            shapely.MultiPolygon([shapely.box(X0 + 2, Y0 + 2, X0 + 3, Y0 + 3)]),
        ],
        crs=WORKING_CRS,
    )
    return {
        "every": frame,
        "mixed": mixed,
        "empty": frame.iloc[0:0],
        "run": pd.DataFrame({"section": ["a", "b"], "value": ["1", None]}),
    }


def _gpkg_dump(path: Path) -> list[object]:
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master ORDER BY name")]
        schema = [r[0] for r in con.execute("SELECT sql FROM sqlite_master ORDER BY name")]
        kept = ("gpkg_geometry_columns", "gpkg_extensions", "gpkg_ogr_contents")
        meta = [con.execute(f"SELECT * FROM {t}").fetchall() for t in kept]
        extents = con.execute(
            "SELECT table_name, data_type, min_x, min_y, max_x, max_y, srs_id FROM gpkg_contents"
        ).fetchall()
        rows = [con.execute(f'SELECT * FROM "{t}" ORDER BY fid').fetchall()
                for t in ("every", "mixed", "empty", "run")]  # fmt: skip
    finally:
        con.close()
    return [tables, schema, meta, extents, rows]


@pytest.mark.skipif(not vector_write.arrow_writes(), reason="pyarrow / GDAL >= 3.8 missing")
def test_geopackage_is_the_same_with_or_without_arrow(tmp_path, monkeypatch):
    layers = _every_kind_of_column()
    with_arrow = write_layers(tmp_path / "arrow.gpkg", layers)
    monkeypatch.setattr(vector_write, "arrow_writes", lambda: False)
    plain = write_layers(tmp_path / "plain.gpkg", layers)
    assert _gpkg_dump(with_arrow) == _gpkg_dump(plain)
    back = read_layer(plain, layer="every")
    assert back["utc"].iloc[2] == pd.Timestamp("2026-04-02T05:10:30.5Z")  # values came through
    assert back["json"].iloc[2] == '{"a": "甲"}'
