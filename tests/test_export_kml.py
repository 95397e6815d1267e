"""``linyuan export kml``: demo results → KMZ for 奥维互动地图, read back as XML."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.etree import ElementTree

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from gis.cli.main import cli
from gis.demo import build_demo
from gis.demo.run import check_patches, detect_discolored
from gis.errors import SchemaError
from gis.io import read_layer
from gis.io.kml import kml_color
from gis.maps.kml import KmlKind, describe, export_kml
from gis.maps.style import LEGALITY_COLOURS, STATUS_COLOURS, Lang

NS = {"k": "http://www.opengis.net/kml/2.2"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    scene = build_demo(tmp_path_factory.mktemp("demo"))
    steps = [check_patches(scene), detect_discolored(scene)]
    assert [s.status for s in steps] == ["clean", "clean"], steps
    return {"patches": steps[0].outputs[0], "points": steps[1].outputs[0]}


def read_kmz(path: Path) -> ElementTree.Element:
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["doc.kml"]
        return ElementTree.fromstring(zf.read("doc.kml"))


def styles_of(doc: ElementTree.Element) -> dict[str, str]:
    """Style id → line colour (KML aabbggrr)."""
    return {
        s.get("id", ""): s.findtext("k:LineStyle/k:color", namespaces=NS) or ""
        for s in doc.iterfind(".//k:Style", NS)
    }


def test_patches_kmz_has_district_folders_ids_reasons_and_legality_colours(
    results: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "patches.kmz"
    result = CliRunner().invoke(cli, ["export", "kml", str(results["patches"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = read_layer(results["patches"], layer="patches_checked")
    doc = read_kmz(out)
    folders = {f.findtext("k:name", namespaces=NS): f for f in doc.iterfind(".//k:Folder", NS)}
    assert set(folders) == set(frame["district"].dropna())
    styles = styles_of(doc)
    by_id = frame.set_index("patch_id")
    seen = 0
    for district, folder in folders.items():
        for mark in folder.iterfind("k:Placemark", NS):
            pid = mark.findtext("k:name", namespaces=NS)
            row = by_id.loc[pid]
            assert row["district"] == district
            colour = styles[(mark.findtext("k:styleUrl", namespaces=NS) or "#")[1:]]
            assert colour == kml_color(LEGALITY_COLOURS[row["legality"]])
            text = mark.findtext("k:description", namespaces=NS) or ""
            assert row["reasons"] in text and "合法性" in text
            seen += 1
    assert seen == len(frame)
    again = CliRunner().invoke(cli, ["export", "kml", str(results["patches"]), "--out", str(out)])
    assert again.exit_code == 3  # exists, no --overwrite


def test_points_kmz_in_english_with_crown_facts_and_status_colours(
    results: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "points.kmz"
    args = ["export", "kml", str(results["points"]), "--out", str(out), "--lang", "en"]
    result = CliRunner().invoke(cli, [*args, "--layer", "discolored_points"])
    assert result.exit_code == 0, result.output
    frame = read_layer(results["points"], layer="discolored_points").set_index("point_id")
    doc = read_kmz(out)
    marks = list(doc.iterfind(".//k:Placemark", NS))
    assert sorted(m.findtext("k:name", namespaces=NS) for m in marks) == sorted(frame.index)
    assert len(list(doc.iterfind(".//k:Folder", NS))) >= 1  # by district, else township
    styles = styles_of(doc)
    mark = marks[0]
    row = frame.loc[mark.findtext("k:name", namespaces=NS)]
    text = mark.findtext("k:description", namespaces=NS) or ""
    assert f"Species: {row['species']}" in text and "Crown area" in text
    colour = styles[(mark.findtext("k:styleUrl", namespaces=NS) or "#")[1:]]
    assert colour == kml_color(STATUS_COLOURS[row["status"]])
    wrong = CliRunner().invoke(cli, [*args, "--layer", "stand_summary", "--overwrite"])
    assert wrong.exit_code == 3 and "point_id" in wrong.output


def test_hostile_values_stay_text_and_unknown_layers_are_named(tmp_path: Path) -> None:
    evil = "<img src=x onerror=alert(1)>"
    frame = gpd.GeoDataFrame(
        {"patch_id": [evil], "legality": ["suspected_illegal"], "reasons": [evil]},
        geometry=[shapely.box(500_000, 4_850_000, 500_100, 4_850_100)],
        crs="EPSG:4551",
    )
    doc = read_kmz(export_kml(frame, tmp_path / "x.kmz"))
    mark = next(doc.iterfind(".//k:Placemark", NS))
    assert mark.findtext("k:name", namespaces=NS) == evil
    assert "&lt;img" in (mark.findtext("k:description", namespaces=NS) or "")  # HTML-escaped
    assert describe({"legality": "permitted"}, KmlKind.PATCHES, Lang.EN) == "Legality: Permitted"
    with pytest.raises(SchemaError, match="patch_id nor point_id"):
        export_kml(frame.drop(columns="patch_id"), tmp_path / "y.kmz")
