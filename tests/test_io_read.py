"""read_layer: formats, engines, CRS resolution, GCJ-02, repair, and the bad-input corpus."""

from __future__ import annotations

import sqlite3
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from gis.crs import WORKING_CRS
from gis.errors import CRSError, DataSourceError, EncodingError, SchemaError
from gis.findings import Findings
from gis.io import list_layers, read_layer, write_table
from gis.io.vector_fix import make_valid_keep_area, repair_geometries

NAMES = ["红松林", "樟子松林", "落叶松林"]
X0, Y0 = 500_000.0, 4_850_000.0  # near Changchun, EPSG:4551


@pytest.fixture
def stands() -> gpd.GeoDataFrame:
    """Three 100 m × 100 m stands (1 ha each) with Chinese names, in EPSG:4551."""
    geoms = [shapely.box(X0 + i * 200, Y0, X0 + i * 200 + 100, Y0 + 100) for i in range(3)]
    return gpd.GeoDataFrame(
        {"name": NAMES, "code": ["001", "002", "003"]}, geometry=geoms, crs=WORKING_CRS
    )


# --- round trip over formats and engines -----------------------------------------------------


def _write_zip_of_shp(frame: gpd.GeoDataFrame, folder: Path) -> Path:
    shp = folder / "parts" / "小班.shp"
    shp.parent.mkdir()
    pyogrio.write_dataframe(frame, shp, encoding="GBK")
    target = folder / "stands.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for part in shp.parent.iterdir():
            zf.write(part, f"成果/{part.name}")
    return target


def _write_csv(frame: gpd.GeoDataFrame, folder: Path) -> Path:
    lonlat = frame.geometry.centroid.to_crs(4490)
    table = pd.DataFrame({"name": frame["name"], "code": frame["code"]})
    table["经度"] = lonlat.x.round(9)
    table["纬度"] = lonlat.y.round(9)
    target = folder / "points.csv"
    table.to_csv(target, index=False, encoding="gbk")
    return target


def _gdb_writable() -> bool:
    return "w" in pyogrio.list_drivers().get("OpenFileGDB", "")


def _write(fmt: str, frame: gpd.GeoDataFrame, folder: Path) -> Path:
    if fmt == "zip":
        return _write_zip_of_shp(frame, folder)
    if fmt == "csv":
        return _write_csv(frame, folder)
    if fmt == "parquet":
        target = folder / "stands.parquet"
        frame.to_parquet(target)
        return target
    drivers = {
        "gpkg": "GPKG",
        "geojson": "GeoJSON",
        "fgb": "FlatGeobuf",
        "shp": "ESRI Shapefile",
        "gdb": "OpenFileGDB",
        "kml": "LIBKML",
        "kmz": "LIBKML",
    }
    if fmt == "gdb" and not _gdb_writable():
        pytest.skip("this GDAL cannot write OpenFileGDB")
    target = folder / f"stands.{fmt}"
    out = frame.to_crs(4326) if fmt in ("kml", "kmz") else frame
    kwargs = {"encoding": "GBK"} if fmt == "shp" else {}
    pyogrio.write_dataframe(out, target, driver=drivers[fmt], **kwargs)
    if fmt == "shp":
        target.with_suffix(".cpg").unlink()  # the usual delivery: GBK, no .cpg
    return target


FORMATS = ["gpkg", "geojson", "fgb", "shp", "zip", "gdb", "parquet", "kml", "kmz", "csv"]
FIONA_READS = {"gpkg", "geojson", "fgb", "shp", "zip", "gdb"}
CASES = [(f, "pyogrio") for f in FORMATS] + [(f, "fiona") for f in FORMATS if f in FIONA_READS]


@pytest.mark.parametrize(("fmt", "engine"), CASES)
def test_round_trip(tmp_path, stands, fmt, engine):
    path = _write(fmt, stands, tmp_path)
    log = Findings()
    frame = read_layer(path, engine=engine, findings=log)
    assert frame.crs.equals(WORKING_CRS)
    name_col = "Name" if fmt in ("kml", "kmz") else "name"
    assert sorted(frame[name_col]) == sorted(NAMES)
    if fmt == "csv":
        assert set(frame.geom_type) == {"Point"}
        expected = stands.geometry.centroid
        got = frame.sort_values("code").geometry
        assert np.allclose(got.x, expected.x, atol=0.01) and np.allclose(
            got.y, expected.y, atol=0.01
        )
        assert frame["code"].tolist() == ["001", "002", "003"]  # codes keep leading zeros
        assert log.of("crs_guessed")  # lon/lat columns → EPSG:4490, then the working CRS
        return
    tol = 1.0 if fmt in ("kml", "kmz") else 1e-3  # KML stores degrees with limited digits
    assert np.allclose(sorted(frame.area), [10_000.0] * 3, atol=tol)
    assert not log.has_errors
    assert not log.of("crs_guessed")  # every one of these formats declares its CRS


def test_list_layers(tmp_path, stands):
    gpkg = tmp_path / "two.gpkg"
    pyogrio.write_dataframe(stands, gpkg, layer="parks")
    pyogrio.write_dataframe(stands.iloc[:1], gpkg, layer="greenways", append=True)
    assert sorted(list_layers(gpkg)) == ["greenways", "parks"]
    assert list_layers(_write("geojson", stands, tmp_path)) == ["stands"]
    assert len(read_layer(gpkg, layer="greenways")) == 1
    with pytest.raises(DataSourceError) as err:
        read_layer(gpkg)
    assert (
        "two.gpkg" in str(err.value) and "parks" in str(err.value) and "--layer" in str(err.value)
    )
    with pytest.raises(DataSourceError, match=r"two.gpkg has no layer 'roads'; its layers are"):
        read_layer(gpkg, layer="roads")


def test_layer_on_a_single_layer_source(tmp_path, stands):
    path = _write("geojson", stands, tmp_path)
    assert len(read_layer(path, layer="stands")) == 3
    with pytest.raises(
        DataSourceError, match=r"stands\.geojson holds one layer, 'stands', not 'x'"
    ):
        read_layer(path, layer="x")
    archive = _write("zip", stands, tmp_path)
    assert len(read_layer(archive, layer="成果/小班")) == 3
    assert len(read_layer(archive, layer="小班")) == 3
    with pytest.raises(DataSourceError, match=r"no single layer 'x'; its layers are: 成果/小班"):
        read_layer(archive, layer="x")


def test_filegdb_folder_with_several_layers(tmp_path, stands):
    if not _gdb_writable():
        pytest.skip("this GDAL cannot write OpenFileGDB")
    gdb = tmp_path / "forest.gdb"
    pyogrio.write_dataframe(stands, gdb, layer="xiaoban", driver="OpenFileGDB")
    pyogrio.write_dataframe(stands.iloc[:2], gdb, layer="tuban", driver="OpenFileGDB", append=True)
    assert sorted(list_layers(gdb)) == ["tuban", "xiaoban"]
    for engine in ("pyogrio", "fiona"):
        assert len(read_layer(gdb, layer="tuban", engine=engine)) == 2
    archive = tmp_path / "gdb.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in gdb.iterdir():
            zf.write(part, f"forest.gdb/{part.name}")
    assert sorted(list_layers(archive)) == ["tuban", "xiaoban"]
    assert len(read_layer(archive, layer="xiaoban")) == 3


def test_unknown_engine_lists_valid_values(tmp_path, stands):
    with pytest.raises(ValueError, match="valid values: pyogrio, fiona"):
        read_layer(_write("gpkg", stands, tmp_path), engine="gdal")


def test_fiona_refuses_kml_with_the_fix(tmp_path, stands):
    with pytest.raises(DataSourceError, match="--engine pyogrio"):
        read_layer(_write("kml", stands, tmp_path), engine="fiona")


# --- working CRS -----------------------------------------------------------------------------


def test_working_crs_none_keeps_and_auto_picks_the_zone(tmp_path, stands):
    path = tmp_path / "lonlat.gpkg"
    pyogrio.write_dataframe(stands.to_crs(4490), path)
    assert read_layer(path, working_crs=None).crs.to_epsg() == 4490
    log = Findings()
    assert read_layer(path, working_crs="auto", findings=log).crs.to_epsg() == 4551
    assert "EPSG:4551" in log.of("reprojected")[0].message
    west = stands.to_crs(4490).translate(-3.0, 0)  # ~122.0°E → CM 123°E → EPSG:4550
    pyogrio.write_dataframe(
        gpd.GeoDataFrame(stands.drop(columns="geometry"), geometry=west), tmp_path / "w.gpkg"
    )
    assert read_layer(tmp_path / "w.gpkg", working_crs="auto").crs.to_epsg() == 4550
    log = Findings()
    read_layer(_write("gpkg", stands, tmp_path), findings=log)
    assert not log.of("reprojected")  # already in the working CRS: nothing to say
    log = Findings()
    read_layer(tmp_path / "w.gpkg", findings=log)  # 122°E into CM 126°E: distorted
    (warning,) = log.of("outside_working_zone")
    assert "w.gpkg" in warning.message and "--working-crs auto" in warning.message
    log = Findings()
    read_layer(path, findings=log)  # Changchun into CM 126°E: fine
    assert not log.of("outside_working_zone")


# --- CRS: declared, filled, guessed, contradicted --------------------------------------------


def _shp_without_prj(
    folder: Path, frame: gpd.GeoDataFrame, name: str = "noprj", suffix: str = ".shp"
) -> Path:
    """Write ``frame`` as a layer declaring no CRS (a Shapefile without its .prj)."""
    path = folder / f"{name}{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyogrio: "'crs' was not provided"
        pyogrio.write_dataframe(frame, path)
    path.with_suffix(".prj").unlink(missing_ok=True)
    return path


def test_zone_prefixed_eastings_are_guessed(tmp_path, stands):
    prefixed = stands.to_crs(4530)  # 3° zone 42 with the prefix: 8-digit eastings
    path = _shp_without_prj(tmp_path, prefixed.set_crs(None, allow_override=True))
    log = Findings()
    frame = read_layer(path, findings=log, working_crs=None)
    assert frame.crs.to_epsg() == 4530
    (guess,) = log.of("crs_guessed")
    assert guess.severity == "warning" and "noprj.shp" in guess.message and "--crs" in guess.message
    assert np.allclose(read_layer(path).area, 10_000.0, atol=1e-3)


def test_crs_fills_a_missing_prj(tmp_path, stands):
    path = _shp_without_prj(tmp_path, stands.set_crs(None, allow_override=True))
    log = Findings()
    frame = read_layer(path, crs="EPSG:4551", findings=log)
    assert frame.crs.to_epsg() == 4551
    assert log.of("crs_filled") and not log.of("crs_guessed")


def test_unprefixed_gk_metres_cannot_be_guessed(tmp_path, stands):
    path = _shp_without_prj(tmp_path, stands.set_crs(None, allow_override=True), "gk")
    with pytest.raises(CRSError) as err:
        read_layer(path)
    assert "gk.shp" in str(err.value) and "--crs" in str(err.value)


def test_coordinates_that_fit_no_crs(tmp_path):
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(9e8, 9e8, 9e8 + 10, 9e8 + 10)])
    path = _shp_without_prj(tmp_path, frame, "nowhere")
    with pytest.raises(CRSError) as err:
        read_layer(path)
    assert "nowhere.shp" in str(err.value) and "fit no CRS" in str(err.value)
    assert "--crs" in str(err.value)


def test_swapped_lonlat_is_detected(tmp_path):
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(43.88, 125.32)])
    path = _shp_without_prj(tmp_path, frame, "swapped")
    with pytest.raises(CRSError, match=r"swapped.shp.*axes swapped"):
        read_layer(path)


def test_crs_contradicting_a_declared_crs_is_an_error(tmp_path, stands):
    path = _write("gpkg", stands, tmp_path)
    with pytest.raises(CRSError) as err:
        read_layer(path, crs="EPSG:4530")
    message = str(err.value)
    assert "stands.gpkg" in message and "EPSG:4551" in message and "never relabelled" in message
    assert "drop --crs" in message
    assert read_layer(path, crs="EPSG:4551").crs.to_epsg() == 4551  # agreeing is fine


def test_declared_crs_contradicted_by_coordinates(tmp_path, stands):
    wrong = stands.set_crs(4490, allow_override=True)  # metres labelled as degrees
    path = tmp_path / "wrongprj.gpkg"
    pyogrio.write_dataframe(wrong, path)
    with pytest.raises(CRSError) as err:
        read_layer(path)
    assert "wrongprj.gpkg" in str(err.value) and "metres" in str(err.value)


def test_gcj02_on_a_projected_layer_is_an_error(tmp_path, stands):
    path = _write("gpkg", stands, tmp_path)
    with pytest.raises(CRSError, match=r"stands.gpkg declares EPSG:4551.*drop crs='gcj02'"):
        read_layer(path, crs="GCJ02")


def test_gcj02_converts_and_is_case_insensitive(tmp_path):
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(125.3219, 43.8950)], crs=4326)
    path = tmp_path / "amap.geojson"
    pyogrio.write_dataframe(frame, path)
    log = Findings()
    out = read_layer(path, crs="gcj-02", working_crs=None, findings=log)
    assert out.crs.to_epsg() == 4326  # the declared lon/lat CRS is kept, coordinates converted
    assert out.geometry.x[0] == pytest.approx(125.3154, abs=2e-4)
    assert out.geometry.y[0] == pytest.approx(43.8926, abs=2e-4)
    (finding,) = log.of("gcj02_converted")
    assert "amap.geojson" in finding.message and "GCJ-02" in finding.message


# --- geometry repair -------------------------------------------------------------------------


def test_make_valid_keeps_the_area_buffer0_loses():
    bowtie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100), (0, 0)])
    assert not bowtie.is_valid
    fixed = make_valid_keep_area(bowtie)
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon"
    assert fixed.area == pytest.approx(5_000.0)  # both triangles
    assert bowtie.buffer(0).area == pytest.approx(2_500.0)  # buffer(0) drops one lobe


def test_polygon_layers_stay_polygonal():
    # a polygon with a zero-width spike: make_valid's linework method would return a collection
    spiky = shapely.Polygon([(0, 0), (10, 0), (10, 10), (5, 10), (5, 20), (5, 10), (0, 10), (0, 0)])
    fixed = make_valid_keep_area(spiky)
    assert fixed.geom_type in ("Polygon", "MultiPolygon")
    assert fixed.area == pytest.approx(100.0)


def test_repair_and_empty_drop_findings(tmp_path):
    geoms = [
        shapely.box(X0, Y0, X0 + 100, Y0 + 100),
        shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100), (X0, Y0)]),
        None,
        shapely.Polygon(),
    ]
    ids, names = ["A", "B", "C", "D"], ["甲", "乙", "丙", "丁"]
    frame = gpd.GeoDataFrame({"id": ids, "name": names}, geometry=geoms, crs=WORKING_CRS)
    path = tmp_path / "bad.gpkg"
    pyogrio.write_dataframe(frame, path)
    log = Findings()
    out = read_layer(path, findings=log)
    assert out["id"].tolist() == ["A", "B"]
    assert out.geometry.is_valid.all()
    assert out.area.tolist() == pytest.approx([10_000.0, 5_000.0])
    (repaired,) = log.of("invalid_geometry_repaired")
    assert (
        repaired.feature == "B"
        and "乙" in repaired.message
        and "Self-intersection" in repaired.message
    )
    assert "1 of 4" in log.of("invalid_geometry_summary")[0].message
    assert [f.feature for f in log.of("empty_geometry_dropped")] == ["C", "D"]


def test_findings_name_features_by_the_chinese_id_and_a_sliver_once(tmp_path):
    """An ArcGIS export: OBJECTID, 图斑编号, and a zero-area sliver (three collinear points)."""
    sliver = shapely.Polygon([(X0, Y0), (X0 + 100, Y0), (X0 + 200, Y0)])
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 50, Y0 + 50), (X0 + 50, Y0), (X0, Y0 + 50)])
    frame = gpd.GeoDataFrame(
        {"OBJECTID": [1, 2, 3], "图斑编号": ["0007", "0008", "0009"]},
        geometry=[shapely.box(X0, Y0, X0 + 9, Y0 + 9), sliver, bowtie],
        crs=WORKING_CRS,
    )
    path = tmp_path / "图斑.shp"
    frame.to_file(path, encoding="GBK")
    log = Findings()
    out = read_layer(path, findings=log)
    assert out["图斑编号"].tolist() == ["0007", "0009"]
    (dropped,) = log.of("empty_geometry_dropped")
    assert dropped.feature == "0008" and "no area" in dropped.message
    assert [f.feature for f in log.of("invalid_geometry_repaired")] == ["0009"]


def test_repair_without_id_field_uses_the_row_index():
    frame = gpd.GeoDataFrame(
        {"v": [1, 2]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])],
    )
    log = Findings()
    repair_geometries(frame, findings=log)
    assert log.of("invalid_geometry_repaired")[0].feature == "1"


def _union_output(tmp_path: Path, *extra: shapely.Geometry) -> Path:
    """A patch layer as a union in QGIS leaves it: Polygon, MultiPolygon, collections."""
    box = [shapely.box(X0 + i * 200, Y0, X0 + i * 200 + 100, Y0 + 100) for i in range(6)]
    edge = shapely.LineString([(X0 + 800, Y0), (X0 + 900, Y0)])
    geoms = [
        box[0],
        shapely.MultiPolygon([box[1], box[2]]),
        shapely.GeometryCollection([box[3], edge, shapely.Point(X0 + 800, Y0)]),
        shapely.GeometryCollection([shapely.MultiPolygon([box[4]]), box[5].buffer(-10)]),
        *extra,
    ]
    ids = [f"P{i + 1}" for i in range(len(geoms))]
    path = tmp_path / "union.gpkg"
    gpd.GeoDataFrame({"TBBH": ids}, geometry=geoms, crs=WORKING_CRS).to_file(path)
    return path


def test_collections_in_a_polygon_layer_keep_their_polygons(tmp_path):
    log = Findings()
    out = read_layer(_union_output(tmp_path), kind="change_patches", findings=log)
    assert out.geom_type.tolist() == ["Polygon", "MultiPolygon", "Polygon", "MultiPolygon"]
    assert out.area.round(0).tolist() == [10_000.0, 20_000.0, 10_000.0, 10_000.0 + 80.0**2]
    (kept,) = log.of("collection_polygons_kept")
    assert kept.severity == "warning" and kept.feature == "P3, P4"
    assert "2 feature(s) were geometry collections" in kept.text("en")
    assert "2 个要素是几何集合" in kept.text("zh")
    again = read_layer(_union_output(tmp_path), findings=Findings())  # no kind: inferred
    assert set(again.geom_type) == {"Polygon", "MultiPolygon"}


def test_features_without_polygons_in_a_polygon_layer_are_refused_by_id(tmp_path):
    line = shapely.LineString([(X0, Y0 - 50), (X0 + 100, Y0 - 50)])
    path = _union_output(tmp_path, line, shapely.GeometryCollection([shapely.Point(X0, Y0)]))
    with pytest.raises(SchemaError) as err:
        read_layer(path, kind="change_patches", findings=Findings())
    assert "P5, P6 hold no polygon (LineString×1, GeometryCollection×1)" in str(err.value)
    assert "要素 P5、P6 不含任何面" in err.value.text("zh")
    lines = read_layer(path, kind="greenways", findings=Findings())  # a line layer: untouched
    assert "GeometryCollection" in set(lines.geom_type)


def test_a_layer_without_any_polygon_is_left_to_the_contract_check(tmp_path):
    path = tmp_path / "points.gpkg"
    points = [shapely.Point(X0, Y0), shapely.Point(X0 + 10, Y0)]
    gpd.GeoDataFrame({"TBBH": ["P1", "P2"]}, geometry=points, crs=WORKING_CRS).to_file(path)
    assert len(read_layer(path, kind="change_patches", findings=Findings())) == 2


# --- the bad-input corpus --------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(DataSourceError) as err:
        read_layer(tmp_path / "不存在.shp")
    assert "不存在.shp does not exist" in str(err.value) and "check the path" in str(err.value)


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("x")
    with pytest.raises(DataSourceError) as err:
        read_layer(path)
    assert (
        "notes.txt" in str(err.value) and ".gpkg" in str(err.value) and "convert" in str(err.value)
    )


@pytest.mark.parametrize(("missing", "what"), [(".dbf", "attribute table")])
def test_shapefile_without_a_sidecar(tmp_path, stands, missing, what):
    path = _write("shp", stands, tmp_path)
    path.with_suffix(missing).unlink()
    with pytest.raises(DataSourceError) as err:
        read_layer(path)
    message = str(err.value)
    assert f"stands.shp has no {missing} ({what})" in message
    assert f"stands{missing} is missing" in message and "copy every part" in message


@pytest.mark.parametrize("engine", ["pyogrio", "fiona"])
def test_shapefile_without_its_shx_is_read_and_left_as_it_was(tmp_path, stands, engine):
    """The index is rebuilt from the .shp in a temporary folder (GDAL's SHAPE_RESTORE_SHX)."""
    path = _write("shp", stands, tmp_path)
    path.with_suffix(".shx").unlink()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    log = Findings()
    frame = read_layer(path, engine=engine, findings=log)
    assert frame["name"].tolist() == NAMES
    assert frame.geometry.area.tolist() == pytest.approx([10_000.0] * 3)
    (finding,) = log.of("shx_restored")
    assert "stands.shp" in finding.message and "copy every part" in finding.message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize("keep", [0, 60, -50])
def test_truncated_shapefile(tmp_path, stands, keep):
    path = _write("shp", stands, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    with pytest.raises(DataSourceError) as err:
        read_layer(path)
    assert "stands.shp is truncated" in str(err.value) and "copy the .shp again" in str(err.value)


def test_not_a_shapefile_and_trailing_bytes(tmp_path, stands):
    path = _write("shp", stands, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data + b"\x00" * 8)  # some writers pad the end: still readable
    assert len(read_layer(path)) == 3
    path.write_bytes(b"<html>" + data[6:])  # a download error page saved as .shp
    with pytest.raises(DataSourceError, match=r"stands\.shp is truncated or corrupt"):
        read_layer(path)


def test_wrong_explicit_encoding_on_a_text_format(tmp_path):
    path = tmp_path / "gbk.geojson"
    path.write_bytes(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"name":"吉林"},"geometry":{"type":"Point","coordinates":[125.3,43.9]}}]}'.encode("gbk")
    )
    with pytest.raises(DataSourceError, match=r"gbk\.geojson cannot be read.*pass --encoding"):
        read_layer(path, encoding="utf-8")
    assert read_layer(path, encoding="gbk")["name"].tolist() == ["吉林"]


@pytest.mark.parametrize("engine", ["pyogrio", "fiona"])
def test_corrupt_file(tmp_path, engine):
    path = tmp_path / "broken.fgb"
    path.write_bytes(b"fgb\x03fgb\x00" + b"\x00" * 50)
    with pytest.raises(DataSourceError) as err:
        read_layer(path, engine=engine)
    assert "broken.fgb cannot be read" in str(err.value) and "QGIS" in str(err.value)
    assert err.value.__cause__ is not None  # chained from the GDAL error


def test_empty_layer_is_a_warning_not_an_error(tmp_path, stands):
    path = tmp_path / "empty.gpkg"
    pyogrio.write_dataframe(stands.iloc[:0], path)
    log = Findings()
    frame = read_layer(path, findings=log)
    assert frame.empty and frame.crs.equals(WORKING_CRS)
    (finding,) = log.of("empty_layer")
    assert finding.severity == "warning" and "empty.gpkg has no features" in finding.message


def test_lone_dbf_points_to_read_table(shared_data):
    with pytest.raises(DataSourceError, match=r"county_2004.dbf is an attribute table.*read_table"):
        read_layer(shared_data / "china_gbk_shapefiles" / "county_2004.dbf")


def test_csv_without_coordinates(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("名称,面积\n甲,1\n", encoding="utf-8")
    with pytest.raises(SchemaError) as err:
        read_layer(path)
    assert (
        "table.csv" in str(err.value)
        and "经度" in str(err.value)
        and "名称, 面积" in str(err.value)
    )


def test_reads_what_write_table_writes(tmp_path, stands):
    path = write_table(stands, tmp_path / "out.csv", lonlat=True)
    frame = read_layer(path)
    assert frame["name"].tolist() == NAMES
    centres = stands.geometry.centroid
    assert np.allclose(frame.geometry.x, centres.x, atol=0.05)
    assert np.allclose(frame.geometry.y, centres.y, atol=0.05)


def test_csv_variants(tmp_path):
    xy = tmp_path / "gk.csv"
    xy.write_text("ID,X,Y\n1,42500000,4850000\n2,42500100,\n", encoding="utf-8-sig")
    log = Findings()
    frame = read_layer(xy, findings=log, working_crs=None)
    assert frame.crs.to_epsg() == 4530 and len(frame) == 1
    assert log.of("empty_geometry_dropped")[0].feature == "2"
    wkt = tmp_path / "wkt.csv"
    wkt.write_text('name,WKT\n甲,"POINT (125.3 43.9)"\n', encoding="utf-8")
    assert read_layer(wkt, working_crs=None).crs.to_epsg() == 4490
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"lon,lat\n\xff\xfe,1\n")
    with pytest.raises(EncodingError, match=r"bad\.csv"):
        read_layer(bad)


# --- kind= (the catalog is another engineer's module) ----------------------------------------


def test_kind_canonicalizes_when_the_catalog_exists(tmp_path):
    layers = pytest.importorskip("gis.layers")
    if not hasattr(layers, "canonicalize"):
        pytest.skip("gis.layers.canonicalize not written yet")
    frame = gpd.GeoDataFrame(
        {"TBBH": ["001"]}, geometry=[shapely.box(X0, Y0, X0 + 10, Y0 + 10)], crs=WORKING_CRS
    )
    path = tmp_path / "patches.gpkg"
    pyogrio.write_dataframe(frame, path)
    out = read_layer(path, kind="change_patches")
    assert "patch_id" in out.columns
    assert out.attrs["renamed"].get("TBBH") == "patch_id"


# --- the real files --------------------------------------------------------------------------


def test_real_amap_shapefile_names_crs_guess_and_gcj(shared_data):
    path = shared_data / "changchun_admin_amap_shp" / "changchun_districts_amap_2020.shp"
    log = Findings()
    raw = read_layer(path, findings=log, working_crs=None)
    assert {"南关区", "宽城区", "朝阳区", "二道区", "绿园区", "九台区"} <= set(raw["name"])
    (guess,) = log.of("crs_guessed")
    assert "EPSG:4490" in guess.message
    log = Findings()
    converted = read_layer(path, crs="gcj02", findings=log, working_crs=None)
    assert (
        converted.crs.to_epsg() == 4490 and log.of("gcj02_converted") and not log.of("crs_guessed")
    )
    shift_x = raw.bounds.minx - converted.bounds.minx
    shift_y = raw.bounds.miny - converted.bounds.miny
    assert shift_x.between(0.005, 0.008).all()  # converted lies ≈ 0.0065° west
    assert shift_y.between(0.001, 0.004).all()  # and ≈ 0.0024° south of the raw read


def test_real_datav_districts_repaired_and_dissolved(shared_data):
    log = Findings()
    frame = read_layer(shared_data / "changchun_admin" / "220100_full.json", findings=log)
    assert len(frame) == 11
    repaired = log.of("invalid_geometry_repaired")
    assert sorted(f.message.split("(name=")[1].split(")")[0] for f in repaired) == [
        "德惠市",
        "榆树市",
    ]
    assert frame.geometry.is_valid.all()
    city = shapely.union_all(frame.geometry.values)
    assert city.is_valid and city.area > 0
    assert city.area == pytest.approx(frame.area.sum(), rel=1e-3)  # districts tile the city


def _median_outline_distance(frame: gpd.GeoDataFrame, reference: shapely.Geometry) -> float:
    outline = shapely.union_all(frame.geometry.values)
    rings = [np.asarray(p.exterior.coords) for p in shapely.get_parts(outline)]
    vertices = shapely.points(np.vstack(rings))
    return float(np.median(shapely.distance(vertices, reference)))


def test_real_jilin_gcj02_conversion_fits_the_national_boundary_better(shared_data):
    bou = read_layer(shared_data / "china_gbk_shapefiles" / "bou2_4p.shp", working_crs=None)
    jilin = shapely.union_all(bou.loc[bou["ADCODE99"] == 220000].geometry.values).boundary
    path = shared_data / "changchun_admin" / "220000_full.json"
    raw = _median_outline_distance(read_layer(path, working_crs=None), jilin)
    converted = _median_outline_distance(read_layer(path, crs="gcj02", working_crs=None), jilin)
    # measured before: 0.00497° raw vs 0.00335° converted (here 0.00518° vs 0.00347°)
    assert converted < raw
    assert raw == pytest.approx(0.005, rel=0.1)
    assert converted == pytest.approx(0.0034, rel=0.1)
    assert converted / raw < 0.75


def test_point_table_in_dms_with_semicolons_as_provinces_write_it(tmp_path):
    """经度/纬度 as degrees-minutes-seconds, ';'-delimited, GBK: the same points as decimals."""
    path = tmp_path / "热点.csv"
    rows = ["编号;经度;纬度", "H1;125°27′45″E;43°47′30″N", "H2;125度30分;北纬43度48分", "H3;;"]
    path.write_bytes("\n".join(rows).encode("gbk"))
    out = read_layer(path, working_crs=None, findings=Findings())
    assert out["编号"].tolist() == ["H1", "H2"]
    assert out.geometry.x.round(6).tolist() == [125.4625, 125.5]
    assert out.geometry.y.round(6).tolist() == [round(43 + 47.5 / 60, 6), 43.8]
    words = tmp_path / "words.csv"
    words.write_text("经度,纬度\n东经一百二十五度,北纬四十三度\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"经度.*东经一百二十五度"):
        read_layer(words)


def test_a_layer_named_in_the_path_as_qgis_shows_it(tmp_path):
    """``县.gdb|layername=督查图斑``: commands without --layer read one layer of a FileGDB."""
    gdb = tmp_path / "县.gdb"
    frame = gpd.GeoDataFrame(
        {"TBBH": ["1", "2"]},
        geometry=[shapely.box(X0 + i, Y0, X0 + i + 1, Y0 + 1) for i in range(2)],
        crs=WORKING_CRS,
    )
    for name, part in (("督查图斑", frame), ("备份", frame.iloc[:1])):
        pyogrio.write_dataframe(part, gdb, layer=name, driver="OpenFileGDB")
    with pytest.raises(DataSourceError, match=r"layername=督查图斑"):
        read_layer(gdb)
    assert len(read_layer(f"{gdb}|layername=督查图斑")) == 2
    assert len(read_layer(f"{gdb}|layername=备份")) == 1
    with pytest.raises(DataSourceError, match=r"没有图层|has no layer"):
        read_layer(f"{gdb}|layername=无")


def test_excel_point_tables_as_provinces_send_them(tmp_path):
    """A hotspot sheet in .xlsx: its one sheet, or the sheet named in the path."""
    table = pd.DataFrame(
        {"热点编号": ["H1", "H2"], "经度": [125.4, "125°30′"], "纬度": [43.8, 43.9]}
    )
    one = tmp_path / "热点.xlsx"
    table.to_excel(one, index=False)
    out = read_layer(one, working_crs=None, findings=Findings())
    assert out["热点编号"].tolist() == ["H1", "H2"]
    assert out.geometry.x.tolist() == pytest.approx([125.4, 125.5])
    two = tmp_path / "两月.xlsx"
    with pd.ExcelWriter(two) as book:
        table.to_excel(book, sheet_name="4月", index=False)
        table.iloc[:1].to_excel(book, sheet_name="5月", index=False)
    with pytest.raises(DataSourceError, match=r"4月.*5月"):
        read_layer(two)
    assert len(read_layer(f"{two}|layername=5月", working_crs=None)) == 1
    (tmp_path / "坏.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(DataSourceError, match="Excel"):
        read_layer(tmp_path / "坏.xlsx")


# --- as counties deliver them ------------------------------------------------------------------


def test_a_field_name_the_dbf_holds_twice_is_read_apart(tmp_path, stands):
    """Older tools cut names at 10 bytes without making them unique: two fields TBBH."""
    shp = tmp_path / "图斑.shp"
    pyogrio.write_dataframe(stands.assign(TBBH=["1", "2", "3"], TBBH2=["7", "8", "9"]), shp)
    dbf = shp.with_suffix(".dbf")
    data = dbf.read_bytes()
    dbf.write_bytes(data.replace(b"TBBH2\x00", b"TBBH\x00\x00", 1))
    assert [str(n) for n in pyogrio.read_info(shp)["fields"]].count("TBBH") == 2
    before = dbf.read_bytes()
    log = Findings()
    frame = read_layer(shp, kind="change_patches", findings=log)
    assert frame["patch_id"].tolist() == ["1", "2", "3"]
    assert frame["TBBH_1"].tolist() == ["7", "8", "9"]
    (finding,) = log.of("duplicate_field_names")
    assert finding.field == "TBBH" and "TBBH_1" in finding.message and "TBBH_1" in finding.zh
    assert dbf.read_bytes() == before


def test_a_point_sheet_under_a_merged_title_with_blank_rows_is_read(tmp_path):
    """A province's hotspot sheet: a title merged across the columns, blank rows after."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["2026年4月卫星热点核查表"])
    sheet.merge_cells("A1:C1")
    sheet.append(["热点编号", "经度", "纬度"])
    sheet.append(["H1", 125.4, 43.8])
    sheet.append(["H2", "125°30′", 43.9])
    sheet.append([None, None, None])
    sheet.append([None, None, None])
    path = tmp_path / "热点.xlsx"
    workbook.save(path)
    out = read_layer(path, working_crs=None, findings=Findings())
    assert out["热点编号"].tolist() == ["H1", "H2"]
    assert out.geometry.x.tolist() == pytest.approx([125.4, 125.5])


def test_a_geopackage_with_a_code_table_beside_its_one_layer(tmp_path, stands):
    """A table without geometry (a code list) does not make the layer ambiguous."""
    gpkg = tmp_path / "县级数据.gpkg"
    pyogrio.write_dataframe(stands, gpkg, layer="小班")
    pyogrio.write_dataframe(pd.DataFrame({"代码": ["1"], "名称": ["采伐"]}), gpkg, layer="代码表")
    assert len(read_layer(gpkg)) == 3
    table = r"'代码表' has no geometry \(a table, not a layer\).*小班"
    with pytest.raises(DataSourceError, match=table) as err:
        read_layer(gpkg, layer="代码表")
    assert "有几何的图层：小班" in err.value.zh
    pyogrio.write_dataframe(stands.iloc[:1], gpkg, layer="小班_备份")
    with pytest.raises(DataSourceError, match="several layers: 小班, 小班_备份, 代码表"):
        read_layer(gpkg)


def test_trailing_blank_rows_of_a_csv_are_not_records(tmp_path):
    """Excel's CSV export keeps formatted empty rows as ``,,``: no features, no findings."""
    path = tmp_path / "热点.csv"
    path.write_bytes("编号,经度,纬度\nH1,125.4,43.8\nH2,125.45,43.82\n,,\n,,\n".encode("gbk"))
    log = Findings()
    out = read_layer(path, working_crs=None, findings=log)
    assert out["编号"].tolist() == ["H1", "H2"]
    assert not log.of("empty_geometry_dropped")


def test_a_dbf_of_another_version_is_refused(tmp_path, stands):
    """71 shapes and a .dbf of 50 records: GDAL would pair the first 50 without a word."""
    path = _write("shp", stands, tmp_path)
    other = tmp_path / "older"
    other.mkdir()
    pyogrio.write_dataframe(stands.iloc[:2], other / "stands.shp")
    path.with_suffix(".dbf").write_bytes((other / "stands.dbf").read_bytes())
    with pytest.raises(DataSourceError, match=r"\.dbf holds 2 records but the \.shp 3 shapes"):
        read_layer(path)


def test_a_point_sheet_with_a_two_row_header_is_read(tmp_path):
    """坐标 merged over 经度 and 纬度; 热点编号 and 备注 merged down over both header rows."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["热点编号", "坐标", None, "备注"])
    sheet.append([None, "经度", "纬度", None])
    for cells in ("B1:C1", "A1:A2", "D1:D2"):
        sheet.merge_cells(cells)
    sheet.append(["H1", 125.4, 43.8, "秸秆"])
    sheet.append(["H2", 125.45, 43.82, None])
    path = tmp_path / "热点.xlsx"
    workbook.save(path)
    out = read_layer(path, working_crs=None, findings=Findings())
    assert out["热点编号"].tolist() == ["H1", "H2"]
    assert out["备注"].tolist()[0] == "秸秆"
    assert out.geometry.y.tolist() == pytest.approx([43.8, 43.82])


@pytest.mark.parametrize(("srs_id", "name"), [(-1, "Cartesian"), (0, "geographic")])
def test_a_geopackage_on_an_undefined_srs_is_a_layer_without_a_crs(tmp_path, stands, srs_id, name):
    """GeoPackage's placeholders for "no CRS" (srs_id -1 and 0), as older GDAL and QGIS write."""
    gpkg = tmp_path / "小班.gpkg"
    pyogrio.write_dataframe(stands, gpkg)
    with sqlite3.connect(gpkg) as con:
        con.execute("UPDATE gpkg_geometry_columns SET srs_id = ?", (srs_id,))
        con.execute("UPDATE gpkg_contents SET srs_id = ?", (srs_id,))
    assert f"Undefined {name} SRS" in str(pyogrio.read_info(gpkg)["crs"])
    with pytest.raises(CRSError, match=r"declares no CRS.*--crs"):
        read_layer(gpkg)
    log = Findings()
    frame = read_layer(gpkg, crs="EPSG:4551", findings=log)
    assert frame.crs == WORKING_CRS and frame.geometry.area.sum() == pytest.approx(30_000.0)
    assert log.of("crs_undefined") and log.of("crs_filled")


@pytest.mark.parametrize("declared", ["GBK", "GB2312"])
def test_a_kml_declared_gbk_is_read(tmp_path, declared):
    """Chinese tools write KML in GBK, declared so; GDAL's parser (expat) knows no GBK."""
    frame = gpd.GeoDataFrame(
        {"Name": ["火点1", "火点2"]},
        geometry=[shapely.Point(125.4, 43.8), shapely.Point(125.45, 43.82)],
        crs=4326,
    )
    utf8 = tmp_path / "utf8.kml"
    pyogrio.write_dataframe(frame, utf8, driver="KML")
    text = utf8.read_text(encoding="utf-8").replace('encoding="utf-8"', f'encoding="{declared}"')
    assert f'encoding="{declared}"' in text
    path = tmp_path / "热点.kml"
    path.write_bytes(text.encode("gbk"))
    before = path.read_bytes()
    log = Findings()
    out = read_layer(path, working_crs=None, findings=log)
    assert out["Name"].tolist() == ["火点1", "火点2"]
    assert out.geometry.x.tolist() == pytest.approx([125.4, 125.45])
    assert "gb18030" in log.of("encoding_decided")[0].message
    assert path.read_bytes() == before


def test_a_number_gdal_reads_only_in_part_is_a_finding_not_a_raw_warning(tmp_path, stands):
    """A DBF number field holding ``abc`` (typed over in a DBF editor) GDAL reads as 0."""
    path = tmp_path / "小班.shp"
    pyogrio.write_dataframe(stands.assign(area=[1.25, 2.5, 3.75]), path)
    dbf = path.with_suffix(".dbf")
    data = dbf.read_bytes()
    dbf.write_bytes(data.replace(b"1.25", b"abc ", 1))
    log = Findings()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = read_layer(path, findings=log)
    assert frame["area"].tolist()[1:] == [2.5, 3.75]
    (finding,) = log.of("gdal_warning")
    assert "Value 'abc" in finding.message and "area parsed incompletely" in finding.message
    assert "GDAL 读取时提示" in finding.zh


@pytest.mark.parametrize(
    ("lon", "lat"),
    [("东经", "北纬"), ("经度(°)", "纬度(°)"), ("经度（度）", "纬度（度）"), ("经度°", "纬度°")],
)
def test_coordinate_columns_named_with_a_unit_or_as_east_north(tmp_path, lon, lat):
    path = tmp_path / "热点.csv"
    pd.DataFrame({"编号": ["H1"], lon: [125.4], lat: [43.8]}).to_csv(path, index=False)
    out = read_layer(path, working_crs=None, findings=Findings())
    assert (out.geometry.x[0], out.geometry.y[0]) == pytest.approx((125.4, 43.8))


def test_a_folder_given_for_a_file_names_the_datasets_in_it(tmp_path, stands):
    shp = tmp_path / "县级数据" / "2026" / "小班.shp"
    shp.parent.mkdir(parents=True)
    pyogrio.write_dataframe(stands, shp)
    with pytest.raises(DataSourceError, match="is a folder, not a file") as err:
        read_layer(tmp_path / "县级数据")
    assert str(shp) in str(err.value) and "是文件夹" in err.value.zh
