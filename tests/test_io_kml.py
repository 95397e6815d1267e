"""KML/KMZ writer: escaping, styles, folders, geometry types, lon/lat, round trip with GDAL."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
import zipfile

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from gis.crs import WORKING_CRS
from gis.errors import CRSError, DataSourceError, OutputExistsError, SchemaError
from gis.findings import Findings
from gis.io import write_kml
from gis.io.kml import DEFAULT_COLOR, PALETTE, kml_color

NS = {"k": "http://www.opengis.net/kml/2.2"}
X0, Y0 = 500_000.0, 4_850_000.0
NASTY = "a<b & c>d \"q\" 's' ]]> <![CDATA[x]]> </description><script>alert(1)</script>\n第二行"
LEGALITY_COLORS = {"permitted": "#1a9641", "suspected_illegal": "#d7191c"}


@pytest.fixture
def checked() -> gpd.GeoDataFrame:
    square = shapely.box(X0, Y0, X0 + 100, Y0 + 100)
    holed = square.difference(shapely.box(X0 + 40, Y0 + 40, X0 + 60, Y0 + 60))
    multi = shapely.MultiPolygon(
        [shapely.box(X0 + 300, Y0, X0 + 350, Y0 + 50), shapely.box(X0 + 400, Y0, X0 + 450, Y0 + 50)]
    )
    return gpd.GeoDataFrame(
        {
            "patch_id": ["220112-001", "220112-002", "220112-003", "P-004"],
            "reasons": [
                NASTY,
                "NDVI 下降 0.41，87% 像元显著下降 → 疑似违法采伐",
                None,
                "松材线虫\x07",
            ],
            "legality": ["permitted", "suspected_illegal", "no_change", "suspected_illegal"],
            "district": ["净月区", "南关区", "净月区", None],
            "area_mu": [15.0, 7.5, np.nan, 0.0],
        },
        geometry=[
            holed,
            multi,
            shapely.LineString([(X0, Y0), (X0 + 500, Y0 + 500)]),
            shapely.Point(X0 + 1000, Y0 + 1000),
        ],
        crs=WORKING_CRS,
    )


def _write(frame, path, **kwargs):
    opts = {
        "name_field": "patch_id",
        "description_field": "reasons",
        "style_field": "legality",
        "styles": LEGALITY_COLORS,
        "folder_field": "district",
    }
    return write_kml(frame, path, **(opts | kwargs))


def _doc(path):
    if path.suffix == ".kmz":
        with zipfile.ZipFile(path) as zf:
            assert zf.namelist() == ["doc.kml"]
            return ET.fromstring(zf.read("doc.kml"))
    return ET.parse(path).getroot()


def _placemarks(root):
    return {pm.findtext("k:name", namespaces=NS): pm for pm in root.iter(f"{{{NS['k']}}}Placemark")}


def test_text_is_escaped_and_comes_back_exactly(checked, tmp_path):
    path = _write(checked, tmp_path / "图斑.kml")
    raw = path.read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert b"<script>" not in raw and b"]]>" not in raw
    marks = _placemarks(_doc(path))  # well-formed XML, or this raises
    desc = marks["220112-001"].findtext("k:description", namespaces=NS)
    assert "<script>" not in desc  # as HTML, the value shows as text and cannot run
    assert html.unescape(desc.replace("<br/>", "\n")) == NASTY
    data = {
        d.get("name"): d.findtext("k:value", namespaces=NS)
        for d in marks["220112-001"].iter(f"{{{NS['k']}}}Data")
    }
    assert data["reasons"] == NASTY
    assert data["district"] == "净月区"
    assert marks["P-004"].findtext("k:description", namespaces=NS) == "松材线虫"  # \x07 dropped
    assert marks["220112-003"].findtext("k:description", namespaces=NS) == ""  # NULL → empty


def test_styles_colour_each_legality(checked, tmp_path):
    root = _doc(_write(checked, tmp_path / "a.kmz"))
    styles = {}
    for style in root.iter(f"{{{NS['k']}}}Style"):
        styles[style.get("id")] = (
            style.findtext("k:LineStyle/k:color", namespaces=NS),
            style.findtext("k:PolyStyle/k:color", namespaces=NS),
        )
    marks = _placemarks(root)

    def colours(patch_id):
        return styles[marks[patch_id].findtext("k:styleUrl", namespaces=NS).lstrip("#")]

    assert colours("220112-001") == ("ff41961a", "6641961a")  # #1a9641 as aabbggrr
    assert colours("220112-002") == colours("P-004") == ("ff1c19d7", "661c19d7")
    grey = kml_color(DEFAULT_COLOR)
    assert colours("220112-003")[0] == grey  # a value without a colour


def test_default_palette_without_styles(checked, tmp_path):
    root = _doc(_write(checked, tmp_path / "a.kml", styles=None))
    colours = {
        s.get("id"): s.findtext("k:IconStyle/k:color", namespaces=NS)
        for s in root.iter(f"{{{NS['k']}}}Style")
    }
    assert colours["s0"] == kml_color(PALETTE[0])  # "no_change" sorts first
    assert len({colours[f"s{i}"] for i in range(3)}) == 3


def test_folders_by_district(checked, tmp_path):
    root = _doc(_write(checked, tmp_path / "a.kmz"))
    folders = {
        f.findtext("k:name", namespaces=NS): [
            pm.findtext("k:name", namespaces=NS) for pm in f.findall("k:Placemark", NS)
        ]
        for f in root.iter(f"{{{NS['k']}}}Folder")
    }
    assert folders == {
        "净月区": ["220112-001", "220112-003"],
        "南关区": ["220112-002"],
        "未分组": ["P-004"],
    }


def test_ungrouped_folder_name_in_english(checked, tmp_path):
    root = _doc(_write(checked, tmp_path / "a.kml", ungrouped="Ungrouped"))
    names = [f.findtext("k:name", namespaces=NS) for f in root.iter(f"{{{NS['k']}}}Folder")]
    assert names == ["Ungrouped", "净月区", "南关区"]  # sorted by code point


def test_geometries_are_lon_lat(checked, tmp_path):
    marks = _placemarks(_doc(_write(checked, tmp_path / "a.kml")))
    poly = marks["220112-001"].find("k:Polygon", NS)
    assert poly.find("k:innerBoundaryIs", NS) is not None
    assert len(marks["220112-002"].findall("k:MultiGeometry/k:Polygon", NS)) == 2
    assert marks["220112-003"].find("k:LineString", NS) is not None
    text = marks["P-004"].findtext("k:Point/k:coordinates", namespaces=NS)
    lon, lat = (float(v) for v in text.split(","))
    expect = checked.to_crs(4326).geometry[3]
    assert lon == pytest.approx(expect.x, abs=1e-7) and lat == pytest.approx(expect.y, abs=1e-7)
    assert 125.5 < lon < 126.5 and 43.5 < lat < 44.0


def test_gdal_reads_the_kmz_back(checked, tmp_path):
    path = _write(checked, tmp_path / "图斑.kmz")
    pyogrio.set_gdal_config_options({"LIBKML_LAUNDER_FIELD_NAMES": "NO"})
    try:
        layers = sorted(name for name, _ in pyogrio.list_layers(path))
        assert layers == sorted(["净月区", "南关区", "未分组"])
        frame = pyogrio.read_dataframe(path, layer="净月区")
    finally:
        pyogrio.set_gdal_config_options({"LIBKML_LAUNDER_FIELD_NAMES": None})
    assert frame["Name"].tolist() == ["220112-001", "220112-003"]
    assert frame["reasons"][0] == NASTY
    expect = checked.to_crs(4326).geometry.values[[0, 2]]
    assert (shapely.hausdorff_distance(frame.geometry.values, expect) < 1e-6).all()


def test_features_without_geometry_are_left_out_with_a_finding(checked, tmp_path):
    checked.loc[1, "geometry"] = None
    log = Findings()
    path = _write(checked, tmp_path / "a.kml", findings=log)
    assert "220112-002" not in _placemarks(_doc(path))
    assert log.of("empty_geometry")[0].message.startswith("1 features")


def test_chinese_real_districts(shared_data, tmp_path):
    districts = pyogrio.read_dataframe(shared_data / "changchun_admin" / "220100_full.json")
    path = write_kml(districts, tmp_path / "长春.kmz", name_field="name", extended_data=False)
    names = set(_placemarks(_doc(path)))
    assert {"南关区", "朝阳区", "榆树市"} <= names
    assert len(names) == len(districts)


def test_errors_are_clear(checked, tmp_path):
    with pytest.raises(SchemaError, match=r"name_field='图斑编号' is not a column.*patch_id"):
        write_kml(checked, tmp_path / "a.kml", name_field="图斑编号")
    with pytest.raises(SchemaError, match="#rrggbb"):
        _write(checked, tmp_path / "a.kml", styles={"permitted": "green"})
    with pytest.raises(CRSError, match="no coordinate reference system"):
        _write(checked.set_crs(None, allow_override=True), tmp_path / "a.kml")
    with pytest.raises(DataSourceError, match=r"\.kml or \.kmz"):
        _write(checked, tmp_path / "a.gpx")
    assert list(tmp_path.iterdir()) == []


def test_kml_color():
    assert kml_color("#FF0000") == "ff0000ff"
    assert kml_color("#00ff0080", fill=True) == "8000ff00"
    assert kml_color("#0000ff", fill=True) == "66ff0000"


def test_overwrite_and_failed_write(checked, tmp_path, monkeypatch):
    path = _write(checked, tmp_path / "a.kmz")
    before = path.read_bytes()
    with pytest.raises(OutputExistsError):
        _write(checked, path)

    def broken(target, data):
        target.write_bytes(data[:10])
        raise OSError("disk full")

    monkeypatch.setattr("gis.io.kml._write_kmz", broken)
    with pytest.raises(OSError, match="disk full"):
        _write(checked, path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.kmz"]
