"""gis.maps without a browser: encoding, escaping, simplification, options, CLI."""

from __future__ import annotations

import html as html_module
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gis.cli.main import cli
from gis.errors import CRSError, OptionError, OutputExistsError, SchemaError
from gis.findings import Findings
from gis.io.text import write_text
from gis.maps import Lang, MapOptionError, TileSource, build_map, tianditu
from gis.maps.assets import VENDOR_JS, inline_css, inline_js
from gis.maps.build import simplify_context
from gis.maps.encode import SCALE, encode_geometry, geometry_kind, pack_ints
from gis.maps.page import FieldMap, content_security_policy
from gis.maps.partition import file_label, split_layers
from gis.maps.style import Geometry, style_for

X0, Y0 = 500_000.0, 4_850_000.0
EVIL = (
    "<img src=x onerror=window.__pwned=1>",
    "</script><script>window.__pwned=1</script>",
    "${alert(1)}",
    "`back`ticks`",
    "C:\\temp\\x",
)


def patches(n: int = 3) -> gpd.GeoDataFrame:
    geoms = [shapely.box(X0 + i * 200, Y0, X0 + i * 200 + 100, Y0 + 100) for i in range(n)]
    legality = ["suspected_illegal", "permitted", "no_change"] * n
    return gpd.GeoDataFrame(
        {"patch_id": [f"P{i}" for i in range(n)], "legality": legality[:n], "district": "A"},
        geometry=geoms,
        crs="EPSG:4551",
    )


def points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"point_id": ["D1", "D2"], "status": ["unverified", "not_found"], "district": "A"},
        geometry=[shapely.Point(X0 + 50, Y0 + 300), shapely.Point(X0 + 450, Y0 + 300)],
        crs="EPSG:4551",
    )


BLOCK = re.compile(
    r'<script type="application/json" id="([a-z_]+)_[0-9a-f]{32}_data">(.*?)</script>', re.S
)
JSON_BLOCK = ' type="application/json" id="'


def scripts_of(html: str) -> tuple[list[str], list[str]]:
    """Attributes of the page's script elements: (code scripts, JSON data blocks)."""
    attributes = [re.sub("[0-9a-f]{32}", "ID", a) for a in re.findall(r"<script([^>]*)>", html)]
    return [a for a in attributes if a == ""], [a for a in attributes if a.startswith(JSON_BLOCK)]


def payload(page: str | FieldMap) -> dict:
    """The JSON blocks of a map's elements, gathered: settings, form, title, basemap, layers."""
    html = page if isinstance(page, str) else page.to_html()
    data: dict = {"basemap": None, "quicklook": None, "layers": []}
    for kind, text in BLOCK.findall(html):
        value = json.loads(text)
        if kind == "ly_packed_layer":
            data["layers"].append(value)
        elif kind in ("ly_basemap", "ly_quicklook"):
            data[kind.removeprefix("ly_")] = value
        elif kind in ("map", "ly_verification_form", "ly_title"):
            data.update(value)
    assert "map_id" in data and "ui" in data
    return data


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def unpack(text: str) -> list[int]:
    """Reference reader of the packed integers (independent of gis.maps.encode)."""
    out, value, shift = [], 0, 0
    for char in text:
        digit = B64URL.index(char)
        value += (digit % 32) << shift
        shift += 5
        if digit < 32:
            out.append(value // 2 if value % 2 == 0 else -(value + 1) // 2)
            value, shift = 0, 0
    return out


def decode(packed: str) -> np.ndarray:
    deltas = np.asarray(unpack(packed), dtype=np.int64).reshape(-1, 2)
    return np.cumsum(deltas, axis=0) / SCALE


def offsets_of(encoded: str) -> dict[str, list[int]]:
    return {k: np.cumsum([0, *unpack(v)]).tolist() for k, v in json.loads(encoded).items()}


# ---- encoding ---------------------------------------------------------------------------


def test_polygon_encoding_round_trips_within_a_microdegree() -> None:
    holed = shapely.Polygon(
        [(0, 0), (10, 0), (10, 10), (0, 10)], holes=[[(2, 2), (4, 2), (4, 4), (2, 4)]]
    )
    multi = shapely.MultiPolygon([shapely.box(20, 0, 21, 1), shapely.box(30, 0, 31, 1)])
    geoms = shapely.transform(np.array([holed, multi]), lambda c: c * 1e-3 + [125.0, 44.0])
    encoded = encode_geometry(geoms, Geometry.POLYGON)
    offsets = offsets_of(encoded["offsets"])
    xy = decode(json.loads(encoded["coords"]))
    assert offsets["features"] == [0, 1, 3]  # feature 1 has two parts
    assert offsets["parts"] == [0, 2, 3, 4]  # the first part has a hole
    assert offsets["rings"] == [0, 4, 8, 12, 16]  # closing vertices dropped
    exterior = shapely.get_coordinates(geoms[0].exterior)[:-1]
    np.testing.assert_allclose(xy[0:4], exterior, atol=0.6 / SCALE)


@given(st.lists(st.integers(min_value=-(2**39) + 1, max_value=2**39 - 1), max_size=200))
def test_packed_integers_round_trip(values: list[int]) -> None:
    packed = pack_ints(np.asarray(values, dtype=np.int64))
    assert unpack(packed) == values
    assert set(packed) <= set(B64URL)  # nothing to escape in JSON or HTML


def test_points_and_lines_encode_one_entry_per_feature() -> None:
    pts = np.array([shapely.Point(125.1234567, 44.7654321), shapely.Point(125.2, 44.1)])
    xy = decode(json.loads(encode_geometry(pts, Geometry.POINT)["coords"]))
    np.testing.assert_allclose(xy, [[125.123457, 44.765432], [125.2, 44.1]], atol=1e-9)
    lines = np.array(
        [
            shapely.LineString([(125, 44), (125.1, 44.1)]),
            shapely.MultiLineString([[(1, 1), (2, 2)]]),
        ]
    )
    offsets = offsets_of(encode_geometry(lines, Geometry.LINE)["offsets"])
    assert offsets == {"parts": [0, 2, 4], "features": [0, 1, 2]}


def test_mixed_geometry_families_are_refused() -> None:
    frame = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0), shapely.box(0, 0, 1, 1)])
    with pytest.raises(SchemaError, match="one geometry family"):
        geometry_kind(frame, "mixed")


def test_layer_without_crs_is_refused() -> None:
    frame = patches().set_crs(None, allow_override=True)
    with pytest.raises(CRSError):
        build_map({"patches_checked": frame}, title="t")


# ---- the page ---------------------------------------------------------------------------


def test_map_is_self_contained() -> None:
    html = build_map(
        {"patches_checked": patches(), "discolored_points": points()}, title="t"
    ).to_html()
    markup = re.sub(r"(<script[^>]*>).*?</script>", r"\1", html, flags=re.S)
    code, blocks = scripts_of(html)
    assert len(code) == len(VENDOR_JS) + 2  # the vendored files, the runtime, the map script
    assert len(code) + len(blocks) == markup.count("<script")  # nothing else
    assert not re.search(r"\b(src|href)=", markup)
    assert "<link" not in markup
    for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", inline_css()):
        assert url.startswith(("data:", "#")), url
    assert "sourceMappingURL" not in html
    assert "</script" not in inline_js()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    policy = html_module.unescape(csp.group(1))
    assert "connect-src 'none'" in policy and "default-src 'none'" in policy
    assert "http" not in policy and "unsafe-eval" not in policy
    assert policy.count("'sha256-") == len(code)  # every script of the page, by hash


def test_data_is_compact_and_styled_by_table_not_per_feature() -> None:
    frame = patches(50)
    html = build_map({"patches_checked": frame}, title="t").to_html()
    layer = payload(html)["layers"][0]
    assert layer["geom"] == "polygon"
    assert layer["style"]["field"] == layer["fields"].index("legality")
    assert layer["style"]["colors"]["suspected_illegal"] == "#d7191c"
    assert len(layer["rows"]) == 50
    values = unpack(layer["coords"])
    assert len(values) == 50 * 4 * 2  # four vertices per square, no closing vertex
    assert abs(values[0]) > 100_000_000  # first vertex absolute (microdegrees)
    assert max(abs(v) for v in values[2:]) < 5_000  # then deltas
    assert len(layer["coords"]) < 3 * len(values)  # about 2-3 characters per value
    assert html.count("#d7191c") <= 2  # one colour table, not one style per feature


def test_points_and_navigation_targets() -> None:
    html = build_map(
        {"patches_checked": patches(), "discolored_points": points()}, title="t"
    ).to_html()
    data = payload(html)
    poly, pts = data["layers"]
    nav = np.asarray(poly["nav"]).reshape(-1, 2) / SCALE  # absolute microdegrees
    inside = gpd.GeoSeries(gpd.points_from_xy(nav[:, 0], nav[:, 1]), crs=4326).to_crs(4551)
    assert inside.within(patches().geometry.buffer(0.5)).all()
    assert pts["geom"] == "point" and pts["nav"] is None
    assert [e[1] for e in pts["legend"]] == ["未核查", "现地未发现"]
    assert data["bounds"][0] < data["bounds"][2]


def test_malicious_text_cannot_leave_the_data_block() -> None:
    frame = patches(len(EVIL))
    for i, evil in enumerate(EVIL):
        frame[evil] = [f"{evil}#{j}" for j in range(len(frame))]
        frame.loc[i, "patch_id"] = evil
    layer_name = EVIL[1]
    html = build_map({layer_name: frame}, title=EVIL[0] + EVIL[1]).to_html()
    benign = build_map({"x": patches(len(EVIL))}, title="t").to_html()
    assert html.count("<script") == benign.count("<script")  # no script element added
    assert scripts_of(html) == scripts_of(benign)
    assert "<img src=x" not in html
    data = payload(html)
    layer = data["layers"][0]
    assert layer["name"] == layer_name and data["title"] == EVIL[0] + EVIL[1]
    for evil in EVIL:
        assert evil in layer["fields"]
        column = layer["fields"].index(evil)
        assert layer["rows"][0][column] == f"{evil}#0"
    assert "<title>&lt;img src=x" in html


def test_language_and_options() -> None:
    html = build_map({"patches_checked": patches()}, title="t", lang="en").to_html()
    data = payload(html)
    assert data["ui"]["legend"] == "Legend" and data["layers"][0]["label"] == "Change patches"
    assert data["layers"][0]["aliases"][:2] == ["Patch ID", "Legality"]
    assert '<html lang="en">' in html
    assert payload(build_map({"x": patches()}, title="t"))["ui"]["legend"] == "图例"
    with pytest.raises(OptionError, match="zh, en"):
        Lang.get("fr")


def test_map_id_is_stable_or_given() -> None:
    a = payload(build_map({"patches_checked": patches()}, title="t"))["map_id"]
    b = payload(build_map({"patches_checked": patches()}, title="other"))["map_id"]
    assert a == b and a.startswith("map-")
    assert payload(build_map({"x": patches()}, title="t", map_id="m1"))["map_id"] == "m1"


def test_basemaps() -> None:
    with pytest.raises(MapOptionError, match="attribution"):
        TileSource(url="https://t.example.org/{z}/{x}/{y}.png", attribution=" ")
    with pytest.raises(MapOptionError, match=r"\{z\}"):
        TileSource(url="https://t.example.org/tile.png", attribution="me")
    with pytest.raises(MapOptionError, match="key"):
        tianditu("")
    tiles = TileSource(url="https://{s}.tiles.example.org/{z}/{x}/{y}.png", attribution="<b>x")
    html = build_map({"x": patches()}, title="t", basemap=tiles).to_html()
    assert payload(html)["basemap"]["attribution"] == "<b>x"
    assert "img-src data: blob: https://*.tiles.example.org;" in html
    assert "tianditu.gov.cn" in content_security_policy(tianditu("k"), ("a",))
    assert payload(build_map({"x": patches()}, title="t"))["basemap"] is None


# ---- context layers ---------------------------------------------------------------------


def jagged_coverage() -> gpd.GeoDataFrame:
    """Two polygons sharing a jagged boundary (0.3 m teeth every 10 m)."""
    edge = [(X0 + 500 + (0.3 if i % 2 else 0), Y0 + 10 * i) for i in range(101)]
    left = shapely.Polygon([(X0, Y0), *edge, (X0, Y0 + 1000)])
    right = shapely.Polygon([(X0 + 1000, Y0), (X0 + 1000, Y0 + 1000), *reversed(edge)])
    return gpd.GeoDataFrame({"subcompartment_id": ["S1", "S2"]}, geometry=[left, right], crs=4551)


def test_coverage_simplification_keeps_shared_boundaries() -> None:
    frame = jagged_coverage()
    log = Findings()
    out = simplify_context(frame, tolerance_m=2.0, name="subs", findings=log)
    before = shapely.get_num_coordinates(frame.geometry.to_numpy()).sum()
    after = shapely.get_num_coordinates(out.geometry.to_numpy()).sum()
    assert after < before / 10
    assert shapely.coverage_is_valid(out.geometry.to_numpy())
    left, right = out.geometry
    assert left.intersection(right).area == pytest.approx(0.0, abs=1e-6)
    assert out.geometry.union_all().area == pytest.approx(frame.geometry.union_all().area, 1e-3)
    assert not log


def test_overlapping_context_layer_is_left_as_is_with_a_finding() -> None:
    frame = gpd.GeoDataFrame(
        geometry=[
            shapely.box(X0, Y0, X0 + 100, Y0 + 100),
            shapely.box(X0 + 50, Y0, X0 + 150, Y0 + 100),
        ],
        crs=4551,
    )
    log = Findings()
    out = simplify_context(frame, tolerance_m=2.0, name="subs", findings=log)
    assert out is frame
    assert [f.code for f in log] == ["map_coverage_invalid"]


def test_missing_geometries_are_reported() -> None:
    frame = patches()
    frame.loc[1, "geometry"] = None
    log = Findings()
    data = payload(build_map({"patches_checked": frame}, title="t", findings=log))
    assert len(data["layers"][0]["rows"]) == 2
    assert [f.code for f in log] == ["map_geometry_missing"]


def test_split_layers_by_field_keeps_nearby_context() -> None:
    a, b = patches(), patches()
    b["district"] = "B"
    b.geometry = b.geometry.translate(20_000, 0)
    ctx = jagged_coverage()
    maps = split_layers(
        {"patches_checked": pd.concat([a, b], ignore_index=True), "subs": ctx}, "district"
    )
    assert sorted(maps) == ["A", "B"]
    assert list(maps["A"]["patches_checked"]["district"].unique()) == ["A"]
    assert len(maps["A"]["subs"]) == 2 and len(maps["B"]["subs"]) == 0
    with pytest.raises(MapOptionError, match="no layer has the field"):
        split_layers({"x": ctx}, "district")
    assert file_label("朝阳区 / 1") == "朝阳区_1"


# ---- writing and the command line -------------------------------------------------------


def test_write_text_is_atomic_and_respects_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "m.html"
    write_text(out, "一")
    with pytest.raises(OutputExistsError):
        write_text(out, "二")
    write_text(out, "二", overwrite=True)
    assert out.read_text(encoding="utf-8") == "二"
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.html"]


@pytest.fixture
def results_gpkg(tmp_path: Path) -> Path:
    path = tmp_path / "results.gpkg"
    b = patches()
    b["district"] = ["A", "A", "B"]
    b.to_file(path, layer="patches_checked")
    points().to_file(path, layer="discolored_points")
    pyogrio.write_dataframe(pd.DataFrame({"code": ["x"]}), path, layer="findings")
    run = pd.DataFrame({"section": ["run_id"], "key": [""], "value": ["run-test-1"]})
    pyogrio.write_dataframe(run, path, layer="run")
    return path


def test_cli_map_writes_one_file(results_gpkg: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.html"
    result = CliRunner().invoke(cli, ["map", str(results_gpkg), "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = payload(out.read_text(encoding="utf-8"))
    assert [layer["name"] for layer in data["layers"]] == ["patches_checked", "discolored_points"]
    assert {layer["run_id"] for layer in data["layers"]} == {"run-test-1"}
    assert data["title"] == "map"
    again = CliRunner().invoke(cli, ["map", str(results_gpkg), "--out", str(out)])
    assert again.exit_code == 3 and "--overwrite" in again.output


def test_cli_map_by_district_and_options(results_gpkg: Path, tmp_path: Path) -> None:
    out = tmp_path / "field.html"
    args = ["map", str(results_gpkg), "--out", str(out), "--by", "district", "--lang", "en"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("field_*.html")) == ["field_A.html", "field_B.html"]
    data = payload((tmp_path / "field_B.html").read_text(encoding="utf-8"))
    assert len(data["layers"][0]["rows"]) == 1 and data["ui"]["legend"] == "Legend"
    bad = CliRunner().invoke(
        cli,
        ["map", str(results_gpkg), "--out", str(out), "--tiles", "https://x.org/{z}/{x}/{y}.png"],
    )
    assert bad.exit_code == 2 and "--attribution" in bad.output
    nokey = CliRunner().invoke(
        cli, ["map", str(results_gpkg), "--out", str(out), "--basemap", "tianditu"]
    )
    assert nokey.exit_code == 2 and "--tianditu-key" in nokey.output
    online = ["--basemap", "tianditu", "--tianditu-key", "k", "--offline", "--overwrite"]
    refused = CliRunner().invoke(cli, ["map", str(results_gpkg), "--out", str(out), *online])
    assert refused.exit_code == 2 and "--offline" in refused.output
    offline = ["--offline", "--overwrite"]
    done = CliRunner().invoke(cli, ["map", str(results_gpkg), "--out", str(out), *offline])
    assert done.exit_code == 0, done.output


def test_attribute_types_survive_as_text_numbers_or_null() -> None:
    frame = patches(3)
    frame["image_date"] = pd.to_datetime(["2026-05-01", None, "2026-06-30"])
    frame["dndvi"] = [-0.41, np.nan, 0.0]
    frame["is_real_change"] = [True, False, None]
    frame["count"] = np.array([1, 2, 3], dtype=np.int64)
    layer = payload(build_map({"patches_checked": frame}, title="t"))["layers"][0]
    rows = {
        name: [row[layer["fields"].index(name)] for row in layer["rows"]]
        for name in layer["fields"]
    }
    assert rows["image_date"][0].startswith("2026-05-01") and rows["image_date"][1] is None
    assert rows["dndvi"] == [-0.41, None, 0.0]
    assert rows["is_real_change"] == [True, False, None]
    assert rows["count"] == [1, 2, 3]


def test_verification_settings_travel_with_the_map() -> None:
    layers = {
        "patches_checked": patches(),
        "discolored_points": points(),
        "subs": jagged_coverage(),
    }
    data = payload(build_map(layers, title="t", results_run_id={"patches_checked": "run-7"}))
    by_name = {layer["name"]: layer for layer in data["layers"]}
    assert [layer["name"] for layer in data["layers"]] == [
        "patches_checked",
        "subs",
        "discolored_points",
    ]
    assert {n: v["verify"] for n, v in by_name.items()} == {
        "patches_checked": "patch",
        "subs": None,
        "discolored_points": "point",
    }
    assert by_name["patches_checked"]["run_id"] == "run-7"
    assert by_name["discolored_points"]["run_id"] == "run-unknown"
    assert ["42", "42 未审批使用林地"] in data["causes"]
    assert [o[0] for o in data["outcomes"]] == ["confirmed_dead_pine", "other_cause", "not_found"]
    one = payload(build_map(layers, title="t", results_run_id="run-8"))
    assert {layer["run_id"] for layer in one["layers"]} == {"run-8"}
    english = payload(build_map({"discolored_points": points()}, title="t", lang="en"))
    assert english["outcomes"][2] == ["not_found", "Not found"]
    assert english["ui"]["verify"] == "Verify"
    assert style_for("stand_summary").id_field == "stand_id"  # detect discolored's stand layer
