"""Field maps as folium maps: user-added folium elements, assets, notebooks (some in Chromium)."""

from __future__ import annotations

import html as html_module
import re
import warnings
from pathlib import Path
from typing import Any

import folium
import pyogrio
import pytest
import shapely
from browser import READY, attach, canvas_ink, open_map, watch
from folium.plugins import Draw, HeatMap, MarkerCluster, MeasureControl
from report_helpers import demo_results
from test_maps_browser import EVIL, field_layers, lonlat_of, popup_text

from gis.maps import FieldMap, MapAssetWarning, OfflineAssetError, TileSource, build_map
from gis.maps.assets import vendored_file
from gis.report.render import render_report

MEASURE_JS = "https://cdn.jsdelivr.net/gh/ljagis/leaflet-measure@2.1.7/dist/leaflet-measure.min.js"


def strict_html(fmap: FieldMap) -> str:
    """Render, failing on any asset warning (every asset must be vendored)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", MapAssetWarning)
        return fmap.to_html()


def markup_of(html: str) -> str:
    """The page without the text of its scripts and style sheets (vendored code mentions tags)."""
    return re.sub(r"(<(script|style)[^>]*>).*?</\2>", r"\1", html, flags=re.S)


def open_page(browser: Any, path: Path) -> tuple[Any, Any, Any]:
    """Open a page holding a map in an iframe; return (context, page, log) once it loaded."""
    context = browser.new_context()
    log = watch(context)
    page = context.new_page()
    attach(page, log)
    page.goto(path.as_uri())
    return context, page, log


def policy_of(html: str) -> str:
    match = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert match is not None
    return html_module.unescape(match.group(1))


# ---- without a browser ------------------------------------------------------------------


def test_build_map_is_a_folium_map_with_linyuan_elements() -> None:
    fmap = build_map(field_layers(), title="t")
    assert isinstance(fmap, folium.Map)
    names = list(fmap._children)
    assert sum(n.startswith("ly_packed_layer_") for n in names) == 4
    for kind in ("ly_legend_", "ly_search_", "ly_locate_", "ly_measure_", "ly_verification_form_"):
        assert any(n.startswith(kind) for n in names), kind
    html = strict_html(fmap)
    assert "<script src=" not in markup_of(html) and "<link" not in markup_of(html)
    assert "jquery" not in html.lower()  # only a folium popup needs it


def test_folium_assets_are_inlined_from_the_vendored_packages() -> None:
    fmap = build_map(field_layers(), title="t")
    folium.Marker([43.78, 125.46], popup="<b>A</b>").add_to(fmap)
    HeatMap([[43.78, 125.46, 1.0]]).add_to(fmap)
    Draw().add_to(fmap)
    MarkerCluster().add_to(fmap)
    html = strict_html(fmap)
    markup = markup_of(html)
    assert "<script src=" not in markup and "<link" not in markup and "sourceMappingURL" not in html
    assert "/* jquery/jquery.min.js */" in html  # popups build their content with $()
    assert html.count("/* leaflet.markercluster/leaflet.markercluster.js */") == 1  # once
    for path in ("leaflet.heat/leaflet-heat.js", "leaflet-draw/leaflet.draw.js"):
        assert f"/* {path} */" in html
    assert "url(images/spritesheet" not in html  # Leaflet.draw's icons as data: URIs
    for cls in (Draw, HeatMap, MarkerCluster):
        for _, url in [*cls.default_js, *cls.default_css]:
            assert vendored_file(url) is not None, url
    policy = policy_of(html)
    assert "http" not in policy and "connect-src 'none'" in policy


def test_unvendored_assets_are_named_and_refused_offline(tmp_path: Path) -> None:
    fmap = build_map(field_layers(), title="t")
    MeasureControl().add_to(fmap)  # leaflet-measure is not vendored (vendor/VENDOR.md)
    with pytest.warns(MapAssetWarning, match="leaflet-measure") as caught:
        html = fmap.to_html()
    assert any(MEASURE_JS in str(w.message) for w in caught)  # named, with its URL
    assert f'<script src="{MEASURE_JS}"></script>' in html
    assert MEASURE_JS in policy_of(html)  # allowed, by its exact URL, as the warning says
    with pytest.raises(OfflineAssetError, match="leaflet-measure"):
        fmap.save(tmp_path / "m.html", offline=True)
    assert not (tmp_path / "m.html").exists()
    tiles = build_map(field_layers(), title="t")
    folium.TileLayer("OpenStreetMap").add_to(tiles)
    with pytest.warns(MapAssetWarning, match=r"tile\.openstreetmap\.org"):
        assert "https://tile.openstreetmap.org" in policy_of(tiles.to_html())
    with pytest.raises(OfflineAssetError, match=r"tile\.openstreetmap\.org"):
        tiles.to_html(offline=True)
    basemap = TileSource(url="https://t.example.org/{z}/{x}/{y}.png", attribution="t")
    with pytest.raises(OfflineAssetError, match=r"t\.example\.org"):
        build_map(field_layers(), title="t", basemap=basemap).to_html(offline=True)


def test_icons_need_fonts_that_are_not_vendored() -> None:
    fmap = build_map(field_layers(), title="t")
    folium.Marker([43.78, 125.46], icon=folium.Icon(color="red")).add_to(fmap)
    with pytest.warns(MapAssetWarning) as caught:
        fmap.to_html()
    named = " ".join(str(w.message) for w in caught)
    assert "awesome-markers" in named and "fontawesome" in named


def test_repr_html_is_the_page_in_an_iframe() -> None:
    fmap = build_map(field_layers(), title="长春")
    folium.Marker([43.78, 125.46]).add_to(fmap)
    shown = fmap._repr_html_()
    match = re.search(r'<iframe srcdoc="([^"]*)"', shown)
    assert match is not None
    page = html_module.unescape(match.group(1))
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    assert "L.marker(" in page and "<script src=" not in markup_of(page)


def test_save_writes_the_page_atomically(tmp_path: Path) -> None:
    fmap = build_map(field_layers(), title="t", map_id="m-1")
    size = fmap.save(tmp_path / "m.html")
    text = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert size == len(text.encode("utf-8")) and 'content="m-1"' in text
    with pytest.raises(FileExistsError):
        fmap.save(tmp_path / "m.html")


# ---- in Chromium ------------------------------------------------------------------------


def extended_map() -> tuple[FieldMap, dict[str, str]]:
    """A field map with a user's folium Marker, GeoJson, HeatMap and Draw control."""
    fmap = build_map(field_layers(), title="扩展")
    lat, lon = lonlat_of(field_layers()["patches_checked"], 1)
    marker = folium.Marker([lat + 0.001, lon], tooltip="集合点", popup="集合点 <b>A</b>")
    line = shapely.LineString([(lon - 0.004, lat + 0.002), (lon + 0.004, lat + 0.002)])
    geojson = folium.GeoJson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": EVIL[1]},
                    "geometry": line.__geo_interface__,
                }
            ],
        },
        name=EVIL[0],
        tooltip=folium.GeoJsonTooltip(fields=["name"]),
    )
    heat = HeatMap([[lat, lon, 1.0], [lat + 0.0005, lon, 0.8]], name="热力", radius=30)
    draw = Draw()
    for element in (marker, geojson, heat, draw):
        element.add_to(fmap)
    fmap.keep_in_front(geojson)
    names = {"marker": marker, "geojson": geojson, "heat": heat, "draw": draw}
    return fmap, {k: v.get_name() for k, v in names.items()}


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "escaping-alone"])
def test_user_folium_elements_work_offline(
    browser: Any,
    tmp_path: Path,
    bypass_csp: bool,
) -> None:
    fmap, names = extended_map()
    path = tmp_path / "extended.html"
    with warnings.catch_warnings():
        warnings.simplefilter("error", MapAssetWarning)
        fmap.save(path, offline=True)
    context, page, log = open_map(browser, path, bypass_csp=bypass_csp)
    try:
        assert log.foreign_requests() == [] and log.errors == []
        assert canvas_ink(page) > 10_000  # Linyuan's layers drawn
        assert page.evaluate("() => window.__groups.length") == 4
        icon = page.locator(".leaflet-marker-icon").first
        assert (icon.get_attribute("src") or "").startswith("data:image/png")
        state = page.evaluate(
            """(n) => ({
                geojson: window[n.geojson].getLayers().length,
                onMap: window.__map.hasLayer(window[n.geojson]),
                heat: !!window[n.heat]._canvas && window.__map.hasLayer(window[n.heat]),
                draw: document.querySelectorAll(".leaflet-draw-toolbar a").length,
            })""",
            names,
        )
        assert state == {"geojson": 1, "onMap": True, "heat": True, "draw": state["draw"]}
        assert state["draw"] >= 5
        overlays = page.text_content(".leaflet-control-layers-overlays") or ""
        assert EVIL[0] in overlays and "热力" in overlays  # joined the switcher, as text
        page.evaluate("(n) => window[n.marker].openPopup()", names)
        assert "集合点 A" in popup_text(page)  # a folium popup is HTML by design (jQuery)
        sprite = page.evaluate(
            """() => getComputedStyle(
                document.querySelector('.leaflet-draw-draw-polygon')).backgroundImage"""
        )
        assert "data:image/svg+xml" in sprite
        page.click(".leaflet-draw-draw-marker")
        box = page.locator(".leaflet-container").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 3, box["y"] + box["height"] / 3)
        page.wait_for_function(
            "(n) => window['drawnItems_' + n.draw].getLayers().length === 1", arg=names
        )
        assert page.evaluate("() => window.__pwned") is None and log.dialogs == []
        assert log.foreign_requests() == [] and log.errors == []
    finally:
        context.close()


def test_notebook_cell_shows_the_map(browser: Any, tmp_path: Path) -> None:
    """``m = build_map(...); folium.Marker(...).add_to(m); m`` as Jupyter would show it."""
    fmap, names = extended_map()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MapAssetWarning)
        cell = fmap._repr_html_()
    notebook = tmp_path / "notebook.html"
    notebook.write_text(f"<!DOCTYPE html><html><body>{cell}</body></html>", encoding="utf-8")
    context, page, log = open_page(browser, notebook)
    try:
        page.wait_for_function("() => document.querySelector('iframe').contentWindow.__ready")
        frame = page.frames[1]
        frame.wait_for_function(READY, timeout=30_000)
        assert frame.evaluate("() => window.__groups.length") == 4
        assert frame.evaluate("(n) => window.__map.hasLayer(window[n.marker])", names)
        assert frame.locator(".leaflet-marker-icon").count() >= 1
        assert log.foreign_requests() == [] and log.errors == []
    finally:
        context.close()


def test_report_shows_the_field_map(
    browser: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The patch report's map section is the field map (build_map), offline, without the form."""
    results = demo_results(tmp_path_factory.getbasetemp())["patches"]
    out = tmp_path_factory.mktemp("report") / "patches.html"
    params = {"results": str(results), "field": None, "batch": None, "district": None}
    render_report("patch_verification_report", {**params, "lang": "zh"}, out)
    patches = pyogrio.read_info(results, layer="patches_checked")["features"]
    context, page, log = open_page(browser, out)
    try:
        frame = page.frame_locator("figure.map iframe")
        frame.locator(".ly-legend").wait_for(timeout=30_000)
        inner = page.frames[1]
        inner.wait_for_function(READY, timeout=30_000)
        assert inner.evaluate("() => window.__groups[0]._def.rows.length") == patches
        assert inner.locator(".ly-records-toggle").count() == 0  # no form in a report
        assert log.foreign_requests() == [] and log.errors == []
    finally:
        context.close()
