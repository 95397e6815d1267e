"""Field maps in a real headless Chromium: offline, safe against hostile text, usable on phones."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from browser import canvas_ink, click_latlng, open_map
from test_maps_quicklook import footprint_lonlat, write_raster

from gis.findings import Findings
from gis.io import read_layer, write_layers
from gis.io.text import write_text
from gis.maps import DEFAULT_STYLES, LayerStyle, TileSource, build_map
from gis.maps.quicklook import Quicklook, quicklook
from gis.maps.sources import write_maps
from gis.raster import raster_source
from gis.verify import (
    import_exports,
    open_store,
    read_results,
    results_run_id,
    verification_status,
)
from gis.verify.contract import fire_types

X0, Y0 = 500_000.0, 4_850_000.0
EVIL = (
    "<img src=x onerror=window.__pwned=1>",
    "</script><script>window.__pwned=1</script>",
    "${alert(1)}",
    "`${window.__pwned=1}`",
    "C:\\temp\\x",
)


def field_layers() -> dict[str, gpd.GeoDataFrame]:
    squares = [shapely.box(X0 + i * 300, Y0, X0 + i * 300 + 200, Y0 + 200) for i in range(4)]
    patches = gpd.GeoDataFrame(
        {
            "patch_id": ["P1", "P2", "P3", "P4"],
            "legality": ["suspected_illegal", "permitted", "needs_field_check", "no_change"],
            "reasons": [
                "NDVI 下降 0.41；无有效审批 → 疑似违法采伐",
                "有审批",
                "证据不足",
                "无变化",
            ],
        },
        geometry=squares,
        crs="EPSG:4551",
    )
    subs = gpd.GeoDataFrame(
        {"subcompartment_id": ["S1", "S2"]},
        geometry=[
            shapely.box(X0 - 100, Y0 - 100, X0 + 600, Y0 + 400),
            shapely.box(X0 + 600, Y0 - 100, X0 + 1300, Y0 + 400),
        ],
        crs="EPSG:4551",
    )
    pts = gpd.GeoDataFrame(
        {"point_id": [f"D{i}" for i in range(30)], "status": ["unverified"] * 30},
        geometry=[shapely.Point(X0 + 20 * i, Y0 + 600) for i in range(30)],
        crs="EPSG:4551",
    )
    greenways = gpd.GeoDataFrame(
        {"name": ["南溪绿道"]},
        geometry=[
            shapely.LineString([(X0, Y0 + 450), (X0 + 600, Y0 + 500), (X0 + 1200, Y0 + 450)])
        ],
        crs="EPSG:4551",
    )
    return {
        "subcompartments": subs,
        "patches_checked": patches,
        "greenways": greenways,
        "discolored_points": pts,
    }


def lonlat_of(frame: gpd.GeoDataFrame, row: int) -> tuple[float, float]:
    point = frame.geometry.iloc[[row]].representative_point().to_crs(4326).iloc[0]
    return point.y, point.x


@pytest.fixture(scope="module")
def field_map(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("maps") / "field.html"
    build_map(field_layers(), title="长春市 督查图斑").save(path)
    return path


def export_records(page: Any, path: Path) -> Path:
    """Press "导出 GeoJSON" and save the download at ``path``."""
    with page.expect_download() as download:
        page.click(".ly-export")
    download.value.save_as(path)
    return path


def popup_text(page: Any) -> str:
    popup = page.locator(".leaflet-popup-content").last  # a closed one fades out for 200 ms
    popup.wait_for(timeout=5_000)
    return str(popup.inner_text())


def test_map_opens_offline_and_draws_every_layer(browser: Any, field_map: Path) -> None:
    context, page, log = open_map(browser, field_map)
    try:
        assert log.foreign_requests() == []
        assert log.errors == []
        assert page.evaluate("() => window.__groups.length") == 4
        assert page.evaluate("() => window.__groups.every(g => window.__map.hasLayer(g))")
        assert canvas_ink(page) > 10_000
        assert page.evaluate("() => window.__groups[3].getLayers().length") == 30
        line = (
            field_layers()["greenways"]
            .to_crs(4326)
            .geometry.iloc[0]
            .interpolate(0.25, normalized=True)
        )
        click_latlng(page, line.y, line.x)
        assert "南溪绿道" in popup_text(page)
        page.evaluate("() => window.__map.setZoom(14, { animate: false })")
        page.wait_for_selector(".marker-cluster", timeout=5_000)  # clustered when zoomed out
        page.evaluate("() => window.__map.setZoom(17, { animate: false })")
        assert page.locator(".ly-legend").inner_text().count("疑似违法") == 1
        for selector, title in (
            (".leaflet-control-locate a", "定位我的位置"),
            (".leaflet-control-zoom-fullscreen", "全屏"),
            ("a[title='测量距离']", "测量距离"),
        ):
            assert page.locator(selector).first.get_attribute("title") == title
        assert page.inner_text(".leaflet-control-scale") in {"50 m", "100 m", "200 m"}
        lat, lon = lonlat_of(field_layers()["patches_checked"], 0)
        click_latlng(page, lat, lon)
        text = popup_text(page)
        assert "P1" in text and "疑似违法采伐" in text and "导航到此处" in text
        assert "合法性\t疑似违法" in text and "suspected_illegal" not in text  # meaning, not code
        href = page.locator(".leaflet-popup-content a.ly-nav").last.get_attribute("href")
        assert href is not None and href.startswith(f"geo:{lat:.6f},{lon:.6f}")
    finally:
        context.close()


def test_search_by_point_id_opens_its_popup(browser: Any, field_map: Path) -> None:
    context, page, _ = open_map(browser, field_map)
    try:
        page.fill(".ly-search-input", "D17")
        page.press(".ly-search-input", "Enter")
        found = popup_text(page)
        assert "D17" in found and "未核查" in found and "unverified" not in found
        page.fill(".ly-search-input", "nope")
        page.press(".ly-search-input", "Enter")
        assert page.inner_text(".ly-search-status") == "未找到"
    finally:
        context.close()


def evil_layers() -> dict[str, gpd.GeoDataFrame]:
    frame = field_layers()["patches_checked"].copy()
    for evil in EVIL:
        frame[evil] = evil
    frame["patch_id"] = [EVIL[0], EVIL[1], EVIL[2], EVIL[4]]
    frame["legality"] = EVIL[3]
    return {EVIL[1] + EVIL[0]: frame, "discolored_points": field_layers()["discolored_points"]}


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "escaping-alone"])
def test_hostile_text_shows_literally_and_never_runs(
    browser: Any,
    tmp_path: Path,
    bypass_csp: bool,
) -> None:
    path = tmp_path / "evil.html"
    layers = evil_layers()
    build_map(layers, title=EVIL[0] + EVIL[3]).save(path)
    context, page, log = open_map(browser, path, bypass_csp=bypass_csp)
    try:
        frame = next(iter(layers.values()))
        for row in (0, 1, 2, 3):
            lat, lon = lonlat_of(frame, row)
            click_latlng(page, lat, lon)
            text = popup_text(page)
            assert frame["patch_id"].iloc[row] in text
            for evil in EVIL:
                assert evil in text  # as field name and as value
        names = page.text_content(".leaflet-control-layers-overlays")
        assert names is not None and EVIL[1] + EVIL[0] in names
        assert EVIL[0] in page.inner_text(".ly-title")
        page.fill(".ly-search-input", EVIL[1])
        page.press(".ly-search-input", "Enter")
        assert EVIL[1] in popup_text(page)
        assert page.evaluate("() => window.__pwned") is None
        assert log.dialogs == [] and log.errors == []
        assert page.locator("img[src='x']").count() == 0
        assert log.foreign_requests() == []
        assert canvas_ink(page) > 1_000
    finally:
        context.close()


def test_locate_on_a_phone_centres_on_the_gps_fix(
    browser: Any,
    playwright_api: Any,
    field_map: Path,
) -> None:
    fix = {"latitude": 43.8123, "longitude": 125.4321, "accuracy": 8}
    device = dict(playwright_api.devices["Pixel 7"])
    device.pop("default_browser_type", None)
    context, page, log = open_map(
        browser, field_map, geolocation=fix, permissions=["geolocation"], **device
    )
    try:
        assert page.evaluate("() => window.innerWidth") < 500
        page.tap(".leaflet-control-locate a")
        page.wait_for_function(
            """([lat, lon]) => {
                const c = window.__map.getCenter();
                return Math.abs(c.lat - lat) < 1e-4 && Math.abs(c.lng - lon) < 1e-4;
            }""",
            arg=[fix["latitude"], fix["longitude"]],
            timeout=10_000,
        )
        assert page.evaluate("() => window.__map.getZoom()") >= 15
        assert log.foreign_requests() == [] and log.errors == []
    finally:
        context.close()


def test_basemap_tiles_are_the_only_requests(browser: Any, tmp_path: Path) -> None:
    tiles = TileSource(
        url="https://{s}.tiles.example.invalid/{z}/{x}/{y}.png",
        attribution="© Example <b>tiles</b>",
        subdomains=("a", "b"),
    )
    path = tmp_path / "tiles.html"
    build_map(field_layers(), title="t", basemap=tiles).save(path)
    context, page, log = open_map(browser, path)
    try:
        page.wait_for_timeout(300)
        foreign = log.foreign_requests()
        assert foreign, "the harness must see tile requests"
        assert all(
            re.match(r"https://[ab]\.tiles\.example\.invalid/\d+/\d+/\d+\.png$", u) for u in foreign
        )
        assert "© Example <b>tiles</b>" in page.inner_text(".leaflet-control-attribution")
    finally:
        context.close()


def test_real_districts_and_forest_parks(browser: Any, shared_data: Path, tmp_path: Path) -> None:
    log = Findings()
    districts = read_layer(
        shared_data / "changchun_admin_amap_shp" / "changchun_districts_amap_2020.shp",
        crs="gcj02",
        findings=log,
    )
    parks = read_layer(
        shared_data / "china_forest_parks_points" / "nation_2016_woods.json", findings=log
    )
    parks = parks[parks["Province"].astype(str).str.contains("吉林")]
    styles = {
        "districts": DEFAULT_STYLES["districts"],
        "forest_parks": LayerStyle(label=("国家森林公园", "Forest parks"), id_field="name"),
    }
    path = tmp_path / "changchun.html"
    html = build_map(
        {"districts": districts, "forest_parks": parks}, title="长春", styles=styles
    ).to_html()
    write_text(path, html)
    context, page, browser_log = open_map(browser, path)
    try:
        assert browser_log.foreign_requests() == [] and browser_log.errors == []
        assert canvas_ink(page) > 1_000
        assert page.evaluate("() => window.__groups[1].getLayers().length") == len(parks)
        page.fill(".ly-search-input", "吉林净月潭国家森林公园")
        page.press(".ly-search-input", "Enter")
        text = popup_text(page)
        assert "8330" in text and "长春市" in text
        link = page.locator(".leaflet-popup-content a.ly-nav").last.get_attribute("href")
        assert link is not None and link.startswith("geo:43.78")
    finally:
        context.close()


@pytest.mark.parametrize("device", [None, "Pixel 7"], ids=["desktop", "pixel7"])
def test_field_records_survive_reload_and_export_as_geojson(
    browser: Any,
    playwright_api: Any,
    field_map: Path,
    tmp_path: Path,
    device: str | None,
) -> None:
    fix = {"latitude": 43.7801, "longitude": 125.4652, "accuracy": 8}
    photo = Path(__file__).resolve().parents[1] / "gis/maps/vendor/leaflet/images/layers-2x.png"
    emulation = dict(playwright_api.devices[device]) if device else {}
    emulation.pop("default_browser_type", None)
    context, page, log = open_map(
        browser,
        field_map,
        geolocation=fix,
        permissions=["geolocation"],
        accept_downloads=True,
        **emulation,
    )
    try:
        lat, lon = lonlat_of(field_layers()["patches_checked"], 0)
        click_latlng(page, lat, lon)
        page.locator(".leaflet-popup-content .ly-verify").last.click()
        page.select_option(".ly-form select[name=is_real_change]", "true")
        page.select_option(".ly-form select[name=verified_cause_code]", "20")
        page.fill(".ly-form input[name=permit_no]", "林采许〔2026〕12号")
        page.fill(".ly-form textarea[name=note]", EVIL[1])
        page.fill(".ly-form input[name=inspector]", "张三")
        page.reload()  # mid-form: the draft comes back (photos excepted)
        page.wait_for_function("() => window.__recordCount === 0", timeout=10_000)
        page.locator(".ly-form").wait_for(timeout=5_000)
        assert page.input_value(".ly-form select[name=verified_cause_code]") == "20"
        assert page.input_value(".ly-form textarea[name=note]") == EVIL[1]
        assert page.input_value(".ly-form input[name=inspector]") == "张三"
        page.set_input_files(".ly-form input[name=photos]", str(photo))
        page.click(".ly-form .ly-form-save")
        page.wait_for_function("() => window.__recordCount === 1", timeout=10_000)
        page.evaluate("() => window.__map.closePopup()")
        page.fill(".ly-search-input", "D3")
        page.press(".ly-search-input", "Enter")
        popup = page.locator(".leaflet-popup-content", has_text="D3")
        popup.wait_for(timeout=5_000)
        popup.locator(".ly-verify").click()
        assert page.input_value(".ly-form input[name=inspector]") == "张三"  # remembered
        page.select_option(".ly-form select[name=outcome]", "confirmed_dead_pine")
        page.check(".ly-form input[name=sample_taken]")
        page.click(".ly-form .ly-form-save")
        expect_status = page.locator(".ly-form-status")
        expect_status.wait_for(timeout=5_000)
        assert "样品编号" in expect_status.inner_text()  # a sample needs its label
        page.fill(".ly-form input[name=sample_id]", "S-001")
        page.click(".ly-form .ly-form-save")
        page.wait_for_function("() => window.__recordCount === 2", timeout=10_000)
        page.reload()
        page.wait_for_function("() => window.__recordCount === 2", timeout=10_000)
        assert page.locator(".ly-form").count() == 0  # saved forms leave no draft
        page.click(".ly-records-toggle")
        page.locator(".ly-record").nth(1).wait_for(timeout=5_000)
        assert page.locator(".ly-record").count() == 2
        assert EVIL[1] not in page.inner_text(".ly-records-list")  # notes are not listed
        exported = export_records(page, tmp_path / "records.geojson")
        assert log.foreign_requests() == [] and log.errors == []
    finally:
        context.close()
    data = json.loads(exported.read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection"
    records = {f["properties"]["feature_id"]: f for f in data["features"]}
    patch, point = records["P1"], records["D3"]
    map_id = re.search(r'name="linyuan-map-id" content="([^"]+)"', field_map.read_text("utf-8"))
    assert map_id is not None
    for record in (patch, point):
        props = record["properties"]
        assert record["geometry"] == {"type": "Point", "coordinates": [125.4652, 43.7801]}
        assert props["schema_version"] == 1 and props["map_id"] == map_id.group(1)
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
            props["record_id"],
        )
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", props["device_time"])
        assert props["gps_accuracy_m"] == 8 and props["inspector"] == "张三"
    assert patch["properties"]["layer"] == "patches_checked"
    assert patch["properties"]["is_real_change"] is True
    assert patch["properties"]["verified_cause_code"] == 20
    assert patch["properties"]["permit_no"] == "林采许〔2026〕12号"
    assert patch["properties"]["note"] == EVIL[1]
    (image,) = patch["properties"]["photos"]
    assert image["mime"] == "image/jpeg"
    assert hashlib.sha256(base64.b64decode(image["data"])).hexdigest() == image["sha256"]
    assert point["properties"]["layer"] == "discolored_points"
    assert point["properties"]["outcome"] == "confirmed_dead_pine"
    assert point["properties"]["sample_taken"] is True and point["properties"]["photos"] == []
    assert point["properties"]["sample_id"] == "S-001"
    # the other half of the round trip: gis.verify reads the export as it is
    report = import_exports([exported], into=tmp_path / "field.gpkg")
    assert report.committed and report.imported == 2 and not report.rejected
    assert import_exports([exported], into=tmp_path / "field.gpkg").imported == 0


@pytest.fixture(scope="module")
def quicklook_map(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Quicklook]:
    folder = tmp_path_factory.mktemp("ql")
    look = quicklook(raster_source(write_raster(folder / "img.tif"), bands="B,G,R,NIR"))
    path = folder / "map.html"
    build_map(field_layers(), title="影像", quicklook=look).save(path)
    return path, look


def test_quicklook_map_loads_offline_and_lies_on_the_footprint(
    browser: Any,
    quicklook_map: tuple[Path, Quicklook],
) -> None:
    path, look = quicklook_map
    context, page, log = open_map(browser, path)
    try:
        page.wait_for_function("() => window.__quicklookMasked === true", timeout=10_000)
        assert log.foreign_requests() == [] and log.errors == []
        state = page.evaluate(
            """() => {
            const o = window.__quicklook, b = o.getBounds(), img = o.getElement();
            const map = window.__map, box = img.getBoundingClientRect();
            const pane = map.getContainer().getBoundingClientRect();
            const nw = map.latLngToContainerPoint(b.getNorthWest());
            const se = map.latLngToContainerPoint(b.getSouthEast());
            return {bounds: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()],
                    src: img.src.slice(0, 5), loaded: img.complete && img.naturalWidth,
                    shown: map.hasLayer(o),
                    box: [box.left - pane.left, box.top - pane.top, box.right - pane.left,
                          box.bottom - pane.top],
                    expected: [nw.x, nw.y, se.x, se.y]};
        }"""
        )
        assert state["shown"] and state["loaded"] == look.width and state["src"] == "blob:"
        assert np.allclose(state["bounds"], look.bounds, atol=1e-9)
        assert np.allclose(state["box"], state["expected"], atol=1.5)  # drawn where it belongs
        lon, lat = footprint_lonlat().T
        west, south, east, north = state["bounds"]
        assert west <= lon.min() < east and south <= lat.min() < lat.max() <= north
    finally:
        context.close()


DUE = ["2099-01-01T00:00Z", "2026-04-02T06:10Z", "2026-04-02T07:10Z"]


def hotspot_results(folder: Path) -> Path:
    """A results GeoPackage of ``fire hotspots``: three hotspots, detection times, deadlines."""
    detected = pd.to_datetime(["2026-04-02T05:10Z"] * 3, utc=True)
    frame = gpd.GeoDataFrame(
        {
            "hotspot_id": ["H1", "H2", "H3"],
            "fire_kind": ["forest_fire", "industrial", "agricultural_burning"],
            "district": ["净月区", "双阳区", "双阳区"],
            "detected_utc": detected,
            # H1 is due long after any test run, H2 was due before it: on time and late
            "feedback_due_utc": pd.to_datetime(DUE, utc=True),
        },
        geometry=[shapely.Point(X0 + 400 * i, Y0 + 900) for i in range(3)],
        crs="EPSG:4551",
    )
    run = pd.DataFrame({"section": ["check"], "key": [""], "value": ["fire hotspots"]})
    return write_layers(folder / "hotspots.gpkg", {"hotspots_checked": frame, "run": run})


def _open_hotspot_form(page: Any, hotspot_id: str) -> None:
    page.evaluate("() => window.__map.closePopup()")
    page.fill(".ly-search-input", hotspot_id)
    page.press(".ly-search-input", "Enter")
    popup = page.locator(".leaflet-popup-content", has_text=hotspot_id)
    popup.wait_for(timeout=5_000)
    popup.locator(".ly-verify").click()
    page.locator(".ly-form").wait_for(timeout=5_000)


def test_hotspot_verdicts_survive_the_form_export_import_and_status(
    browser: Any, tmp_path: Path
) -> None:
    results = hotspot_results(tmp_path)
    path = tmp_path / "hotspots.html"
    write_maps([results], out=path)  # as `linyuan map`: the run id comes from the file
    fix = {"latitude": 43.7801, "longitude": 125.4652, "accuracy": 15}
    context, page, log = open_map(
        browser, path, geolocation=fix, permissions=["geolocation"], accept_downloads=True
    )
    try:
        _open_hotspot_form(page, "H1")
        options = page.eval_on_selector_all(
            ".ly-form select[name=fire_type] option", "els => els.map(e => e.value)"
        )
        assert options == ["", *fire_types()]  # the vocabulary of the catalog
        page.select_option(".ly-form select[name=is_fire]", "true")
        page.fill(".ly-form input[name=inspector]", "赵护林员")
        page.click(".ly-form .ly-form-save")
        assert "火情类型" in page.locator(".ly-form-status").inner_text()  # a fire needs its type
        page.select_option(".ly-form select[name=fire_type]", "forest_fire")
        page.click(".ly-form .ly-form-save")
        assert "是否已扑灭" in page.locator(".ly-form-status").inner_text()
        page.select_option(".ly-form select[name=extinguished]", "false")
        page.fill(".ly-form input[name=burned_area_est_ha]", "2.5")
        page.fill(".ly-form textarea[name=note]", EVIL[0])
        page.reload()  # mid-form: the draft comes back
        page.locator(".ly-form").wait_for(timeout=5_000)
        assert page.input_value(".ly-form select[name=fire_type]") == "forest_fire"
        assert page.input_value(".ly-form input[name=burned_area_est_ha]") == "2.5"
        page.click(".ly-form .ly-form-save")
        page.wait_for_function("() => window.__recordCount === 1", timeout=10_000)
        _open_hotspot_form(page, "H2")  # no fire: a factory's flare
        page.select_option(".ly-form select[name=is_fire]", "false")
        page.select_option(".ly-form select[name=fire_type]", "industrial")
        page.select_option(".ly-form select[name=extinguished]", "true")  # ignored: no fire
        page.fill(".ly-form input[name=burned_area_est_ha]", "3")  # ignored: no fire
        page.click(".ly-form .ly-form-save")
        page.wait_for_function("() => window.__recordCount === 2", timeout=10_000)
        page.click(".ly-records-toggle")
        page.locator(".ly-record").nth(1).wait_for(timeout=5_000)
        listed = page.inner_text(".ly-records-list")
        assert "H1" in listed and "forest_fire" in listed and "industrial" in listed
        exported = export_records(page, tmp_path / "records.geojson")
        assert log.foreign_requests() == [] and log.errors == []
    finally:
        context.close()
    records = {
        f["properties"]["feature_id"]: f["properties"]
        for f in json.loads(exported.read_text(encoding="utf-8"))["features"]
    }
    fire, flare = records["H1"], records["H2"]
    assert fire["layer"] == flare["layer"] == "hotspots_checked"
    assert fire["results_run_id"] == results_run_id(results)
    assert (fire["is_fire"], fire["fire_type"], fire["extinguished"]) == (
        True,
        "forest_fire",
        False,
    )
    assert fire["burned_area_est_ha"] == 2.5 and fire["note"] == EVIL[0]
    assert (flare["is_fire"], flare["fire_type"]) == (False, "industrial")
    assert flare["extinguished"] is None and flare["burned_area_est_ha"] is None
    # through `verify import` into the store, nothing lost, and counted by `verify status`
    field = tmp_path / "field.gpkg"
    known = read_results([results])
    report = import_exports([exported], into=field, results=known)
    assert report.committed and report.imported == 2 and not report.rejected
    stored = open_store(field).log(layer="hotspots_checked").set_index("feature_id")
    for fid, props in records.items():
        for name in ("is_fire", "fire_type", "extinguished", "burned_area_est_ha", "note"):
            value = stored.loc[fid, name]
            assert (None if pd.isna(value) else value) == props[name], (fid, name)
    status = verification_status(known.features, open_store(field).log())
    (row,) = status.to_dict(orient="records")
    assert (row["features"], row["verified"], row["verify_rate"]) == (3, 2, round(2 / 3, 4))
    assert (row["on_time"], row["late"], row["missing"]) == (1, 1, 1)
    assert (row["fire"], row["no_fire"]) == (1, 1)
