"""Tests of ``linyuan fire hotspots`` (卫星热点核查): readers, evidence, events, verdicts, outputs.

The scene: four 3 km × 3 km subcompartments side by side near 净月 (forest, cropland,
grassland, built-up), a 防火重点区域 over the west half of the forest, a brick kiln on the
built-up land and a district around them. Hotspots are written as FIRMS downloads (VIIRS and
MODIS columns as documented by NASA FIRMS) and as a provincial table (热点编号, 经度, 纬度,
时间 in Beijing time, 卫星, 像元数, 地类), in CSV, Shapefile and KML.
"""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Transformer

from gis.checks.fire import (
    check_hotspots,
    event_labels,
    load_hotspot_rules,
    load_seasons,
    season_of,
)
from gis.checks.fire.detections import confidence_class, detection_times, pixel_size_km
from gis.checks.fire.events import close_pairs
from gis.cli.main import cli
from gis.crs import WORKING_CRS
from gis.errors import RulesError
from gis.findings import Findings
from gis.io import read_layer

X0, Y0 = 537_000.0, 4_850_000.0
TO_LONLAT = Transformer.from_crs(WORKING_CRS, 4326, always_xy=True)

# (dx, dy) from the scene origin, UTC date and HHMM, what it is
VIIRS_POINTS = [
    (1000, 1500, "2025-04-02", "0512", "forest_fire"),
    (1300, 1500, "2025-04-02", "0630", "forest_fire"),  # same event as the first
    (4500, 1500, "2025-04-03", "1745", "agricultural_burning"),
    (7500, 1500, "2025-10-01", "0530", "grassland_fire"),
    (10400, 1500, "2025-04-02", "0500", "industrial"),
    (20000, 20000, "2025-04-02", "0500", "other"),  # outside the district
]


def _box(dx, dy, w, h):
    return shapely.box(X0 + dx, Y0 + dy, X0 + dx + w, Y0 + dy + h)


def _lonlat(dx, dy):
    lon, lat = TO_LONLAT.transform(X0 + dx, Y0 + dy)
    return round(lat, 6), round(lon, 6)


def build_layers(folder):
    """Write the context layers (national field names) and return their paths."""
    sub = gpd.GeoDataFrame(
        {
            "XBBM": ["1", "2", "3", "4"],
            "LIN_BAN": ["1"] * 4,
            "XIAO_BAN": ["1", "2", "3", "4"],
            "地类": ["乔木林地", "耕地", "草地", "建设用地"],
            "乡镇": ["净月街道"] * 4,
        },
        geometry=[_box(i * 3000, 0, 3000, 3000) for i in range(4)],
        crs=WORKING_CRS,
    )
    paths = {name: folder / f"{name}.gpkg" for name in ("sub", "districts", "zones", "heat")}
    sub.to_file(paths["sub"])
    gpd.GeoDataFrame(
        {"XZQMC": ["净月区"]}, geometry=[_box(-1000, -1000, 14000, 5000)], crs=WORKING_CRS
    ).to_file(paths["districts"])
    gpd.GeoDataFrame(
        {"QYMC": ["净月潭防火区"], "FHDJ": ["一级"]},
        geometry=[_box(0, 0, 1500, 3000)],
        crs=WORKING_CRS,
    ).to_file(paths["zones"])
    gpd.GeoDataFrame(
        {"企业名称": ["长春砖厂"], "类型": ["砖窑"]},
        geometry=[shapely.Point(X0 + 10500, Y0 + 1500)],
        crs=WORKING_CRS,
    ).to_file(paths["heat"])
    return paths


def viirs_frame(points=VIIRS_POINTS):
    """FIRMS VIIRS 375 m rows with the documented columns (acq_time HHMM UTC)."""
    rows = []
    for dx, dy, date, hhmm, _ in points:
        lat, lon = _lonlat(dx, dy)
        rows.append(
            {
                "latitude": lat,
                "longitude": lon,
                "bright_ti4": 340.1,
                "scan": 0.39,
                "track": 0.36,
                "acq_date": date,
                "acq_time": hhmm,
                "satellite": "N20",
                "instrument": "VIIRS",
                "confidence": "n",
                "version": "2.0NRT",
                "bright_ti5": 290.2,
                "frp": 5.1,
                "daynight": "D",
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture
def scene(tmp_path):
    paths = build_layers(tmp_path)
    paths["firms"] = tmp_path / "firms_viirs.csv"
    viirs_frame().to_csv(paths["firms"], index=False)
    return paths


def _args(scene, out, *extra):
    return [
        "fire",
        "hotspots",
        str(scene["firms"]),
        "--subcompartments",
        str(scene["sub"]),
        "--districts",
        str(scene["districts"]),
        "--fire-zones",
        str(scene["zones"]),
        "--heat-sources",
        str(scene["heat"]),
        "--out",
        str(out),
        *extra,
    ]


def test_cli_writes_every_kind_with_deadlines_and_events(scene, tmp_path):
    out, xlsx, kmz = tmp_path / "r.gpkg", tmp_path / "r.xlsx", tmp_path / "r.kmz"
    result = CliRunner().invoke(cli, _args(scene, out, "--xlsx", str(xlsx), "--kml", str(kmz)))
    assert result.exit_code == 0, result.output
    assert "疑似林火 2" in result.output and "（5 起事件）" in result.output
    checked = pyogrio.read_dataframe(out, layer="hotspots_checked")
    assert checked["fire_kind"].tolist() == [p[4] for p in VIIRS_POINTS]
    assert checked["field_priority"].tolist() == [1, 1, 2, 2, 3, 3]
    assert checked["feedback_hours"].tolist() == [1, 1, 4, 4, 24, 24]
    assert checked.loc[0, "event_id"] == checked.loc[1, "event_id"]
    assert checked["event_id"].nunique() == 5
    # acq_time is UTC: 05:12 UTC is 13:12 Beijing time, due an hour later (UTC)
    assert checked.loc[0, "detected_bjt"] == "2025-04-02 13:12"
    assert pd.Timestamp(checked.loc[0, "feedback_due_utc"]) == pd.Timestamp("2025-04-02 06:12Z")
    assert checked.loc[2, "detected_bjt"] == "2025-04-04 01:45"  # next Beijing day
    assert checked["fire_season"].tolist()[:4] == ["spring", "spring", "spring", "autumn"]
    assert checked.loc[0, "fire_zone"] == "净月潭防火区" and bool(checked.loc[0, "in_fire_zone"])
    assert "净月潭防火区" in checked.loc[0, "reasons"] and "1 小时" in checked.loc[0, "reasons"]
    assert checked.loc[4, "heat_source"] == "长春砖厂"
    assert checked.loc[4, "heat_source_distance_m"] == pytest.approx(100, abs=2)
    assert checked.loc[2, "forest_distance_m"] == pytest.approx(1500, abs=2)
    assert checked.loc[0, "township"] == "净月街道" and pd.isna(checked.loc[5, "district"])
    events = pyogrio.read_dataframe(out, layer="fire_events")
    assert len(events) == 5 and events["n_hotspots"].sum() == 6
    forest = events[events["fire_kind"] == "forest_fire"].iloc[0]
    assert forest["hotspot_ids"] == "H1; H2" and forest.geometry.area > 0.39 * 0.36 * 1e6
    findings = pyogrio.read_dataframe(out, layer="findings")
    assert "hotspot_outside_area" in set(findings["code"])
    run = pyogrio.read_dataframe(out, layer="run")
    assert "fire_seasons" in set(run.iloc[:, 0])
    book = openpyxl.load_workbook(xlsx, read_only=True)
    assert book.sheetnames == ["热点核查", "火情事件"]
    header = [c.value for c in next(book["热点核查"].iter_rows(max_row=1))]
    assert {"热点类型", "反馈截止（UTC）", "判定依据", "热点编号"} <= set(header)
    rows = list(book["热点核查"].iter_rows(min_row=2, values_only=True))
    shown = {
        h: [row[header.index(h)] for row in rows] for h in ("数据产品", "防火期", "置信度等级")
    }
    assert set(shown["数据产品"]) == {"VIIRS 火点（375 米）"}  # codes by meaning, not viirs
    assert shown["防火期"][:4] == ["春季防火期"] * 3 + ["秋季防火期"]
    assert set(shown["置信度等级"]) <= {"低", "中", "高"}
    with zipfile.ZipFile(kmz) as z:
        kml = z.read(z.namelist()[0]).decode()
    assert kml.count("<Placemark") == 6 and "疑似林火" in kml


def test_json_and_english(scene, tmp_path):
    out = tmp_path / "r.gpkg"
    xlsx = tmp_path / "r.xlsx"
    result = CliRunner().invoke(
        cli, _args(scene, out, "--json", "--lang", "en", "--xlsx", str(xlsx))
    )
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(xlsx, read_only=True)["Hotspots"]
    header, *rows = sheet.iter_rows(values_only=True)
    assert {r[header.index("Product")] for r in rows} == {"VIIRS active fire (375 m)"}
    assert rows[0][header.index("Fire-prevention period")] == "spring fire-prevention period"
    payload = json.loads(result.output[result.output.index("{") :])
    assert payload["hotspots"] == 6 and payload["events"] == 5
    assert payload["counts"]["fire_kind"]["forest_fire"] == 2
    reasons = pyogrio.read_dataframe(out, layer="hotspots_checked")["reasons"]
    assert reasons[0].startswith("forest land covers 100% of the pixel (arbor forest land)")
    assert "within 1 h" in reasons[0]


def test_existing_output_exit_3_and_event_options(scene, tmp_path):
    out = tmp_path / "r.gpkg"
    assert CliRunner().invoke(cli, _args(scene, out)).exit_code == 0
    again = CliRunner().invoke(cli, _args(scene, out))
    assert again.exit_code == 3 and "--overwrite" in again.output
    narrow = CliRunner().invoke(cli, _args(scene, out, "--overwrite", "--event-distance", "100"))
    assert narrow.exit_code == 0
    assert pyogrio.read_dataframe(out, layer="hotspots_checked")["event_id"].nunique() == 6


def test_failed_run_leaves_no_partial_output(scene, tmp_path):
    out, bad = tmp_path / "r.gpkg", tmp_path / "r.txt"
    result = CliRunner().invoke(cli, _args(scene, out, "--xlsx", str(bad)))
    assert result.exit_code == 3
    assert not out.exists() and not bad.exists()


@pytest.mark.parametrize("suffix", ["csv", "shp", "kml"])
def test_firms_formats_read_alike(scene, tmp_path, suffix):
    """A FIRMS download as CSV, Shapefile or KML gives the same verdicts."""
    frame = viirs_frame()
    path = tmp_path / f"firms.{suffix}"
    if suffix == "csv":
        frame.to_csv(path, index=False)
    else:
        geo = gpd.GeoDataFrame(
            frame, geometry=gpd.points_from_xy(frame.longitude, frame.latitude), crs=4326
        )
        geo.to_file(path, driver="ESRI Shapefile" if suffix == "shp" else "KML")
    log = Findings()
    layers = {
        k: read_layer(scene[k], kind=kind)
        for k, kind in (("sub", "subcompartments"), ("heat", "heat_sources"))
    }
    points = read_layer(path, kind="hotspots", crs="EPSG:4326", findings=log)
    result = check_hotspots(
        points, subcompartments=layers["sub"], heat_sources=layers["heat"], findings=log
    )
    kinds = result.hotspots_checked["fire_kind"].tolist()
    assert kinds[:5] == [p[4] for p in VIIRS_POINTS[:5]]
    assert result.hotspots_checked.loc[0, "detected_bjt"] == "2025-04-02 13:12"


def test_modis_confidence_and_footprint():
    frame = pd.DataFrame(
        {
            "brightness": [320.0, 330.0, 350.0, 340.0],
            "bright_t31": [290.0] * 4,
            "acq_date": ["2025-04-02"] * 4,
            "acq_time": [512, 30, 1745, 2359],  # leading zeros lost, as spreadsheets do
            "confidence": [12, 30, 79, 80],
            "satellite": ["Terra", "Aqua", "Terra", "Aqua"],
        }
    )
    assert confidence_class(frame, "modis").tolist() == ["low", "nominal", "nominal", "high"]
    times = detection_times(frame, findings=Findings())
    assert times.dt.strftime("%H:%M").tolist() == ["05:12", "00:30", "17:45", "23:59"]
    width, height = pixel_size_km(frame, "modis")
    assert width.tolist() == [1.0] * 4 and height.tolist() == [1.0] * 4


def test_provincial_table_in_beijing_time(scene, tmp_path):
    """热点编号/经度/纬度/时间/卫星/像元数/地类 as counties receive them, GBK-encoded."""
    rows = []
    for i, (dx, dy, land, when) in enumerate(
        [
            (1000, 1500, "林地", "2025-04-02 13:12"),
            (4500, 1500, "农田", "2025-04-02 14:00+08:00"),
            (7500, 1500, "草地", "2025-04-02 06:00 UTC"),
        ]
    ):
        lat, lon = _lonlat(dx, dy)
        row = {"热点编号": f"JL{i + 1:03d}", "经度": lon, "纬度": lat, "时间": when}
        rows.append(row | {"卫星": "FY-3D", "像元数": 4, "地类": land})
    path = tmp_path / "热点.csv"
    pd.DataFrame(rows).to_csv(path, index=False, encoding="gb18030")
    log = Findings()
    points = read_layer(path, kind="hotspots", crs="EPSG:4326", findings=log)
    result = check_hotspots(points, findings=log)
    checked = result.hotspots_checked
    assert checked["hotspot_id"].tolist() == ["JL001", "JL002", "JL003"]
    assert checked["detected_bjt"].tolist() == [
        "2025-04-02 13:12",
        "2025-04-02 14:00",
        "2025-04-02 14:00",
    ]
    no_zone = [f for f in log if f.code == "time_without_zone"]
    assert len(no_zone) == 1 and "1 hotspot" in no_zone[0].message
    # 4 pixels of the FY-3D 1 km fire product: a 2 km square
    assert checked["pixel_km_ew"].tolist() == [2.0, 2.0, 2.0]
    # no subcompartments: the table's own 地类 decides
    assert checked["fire_kind"].tolist() == [
        "other",  # forest reported, but no forest layer to measure the distance
        "agricultural_burning",
        "grassland_fire",
    ]
    assert checked["reported_class"].tolist() == ["forest", "cropland", "grassland"]


def test_missing_time_is_an_error_finding():
    frame = pd.DataFrame({"observed": ["2025-04-02 13:00", "", "not a time"]})
    log = Findings()
    times = detection_times(frame, findings=log)
    assert times.isna().tolist() == [False, True, True]
    assert any(f.code == "time_missing" and f.severity == "error" for f in log)


def _events_brute(xy, seconds, distance, hours):
    n = len(xy)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            near = np.hypot(*(xy[i] - xy[j])) <= distance
            if near and abs(seconds[i] - seconds[j]) <= hours * 3600:
                parent[find(i)] = find(j)
    return [find(i) for i in range(n)]


def test_events_match_brute_force():
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 5000, size=(300, 2))
    seconds = rng.uniform(0, 5 * 86400, size=300)
    labels = event_labels(shapely.points(xy), seconds, distance_m=400, hours=24)
    brute = _events_brute(xy, seconds, 400, 24)
    same = pd.crosstab(labels, brute).gt(0).sum(axis=1)
    assert (same == 1).all() and len(set(labels)) == len(set(brute))
    first = pd.Series(seconds).groupby(labels).min()
    assert first.is_monotonic_increasing  # numbered by earliest detection


def test_events_chain_and_split_in_time():
    pts = shapely.points([0, 800, 1600, 1600], [0, 0, 0, 0])
    hours = np.array([0.0, 20.0, 40.0, 100.0])
    labels = event_labels(pts, hours * 3600, distance_m=1000, hours=24)
    assert labels.tolist() == [0, 0, 0, 1]
    with_nan = event_labels(pts[:2], np.array([0.0, np.nan]), distance_m=1000, hours=24)
    assert with_nan.tolist() == [0, 1]


def test_seasons_bounds_and_province():
    seasons = load_seasons()
    assert seasons.province == "吉林省"
    dates = pd.Series(pd.to_datetime(["2025-03-14", "2025-03-15", "2025-06-15", "2025-06-16"]))
    assert season_of(dates, seasons).tolist() == [None, "spring", "spring", None]
    assert seasons.label("autumn") == "秋季森林防火期" and seasons.label(None) == "非防火期"
    with pytest.raises(RulesError, match="吉林省"):
        load_seasons(province="火星省")


def test_season_over_new_year(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "provinces:\n  某省:\n"
        "    - {id: winter, start: '11-15', end: '04-15', label: {zh: 冬春}}\n",
        encoding="utf-8",
    )
    seasons = load_seasons(path, province="某省")
    dates = pd.Series(pd.to_datetime(["2025-12-31", "2025-01-02", "2025-07-01"]))
    assert season_of(dates, seasons).tolist() == ["winter", "winter", None]


def test_rules_are_data(tmp_path):
    """Changing a threshold in an edited copy changes the verdict."""
    text = load_hotspot_rules().source
    edited = tmp_path / "rules.yaml"
    raw = open(text, encoding="utf-8").read()
    edited.write_text(raw.replace("heat_source_radius_m: 1000.0", "heat_source_radius_m: 50.0"))
    layers = build_layers(tmp_path)
    pts = gpd.GeoDataFrame(
        {"hotspot_id": ["K"], "observed": ["2025-04-02 13:00+08:00"]},
        geometry=[shapely.Point(X0 + 10400, Y0 + 1500)],
        crs=WORKING_CRS,
    )
    heat = read_layer(layers["heat"], kind="heat_sources")
    sub = read_layer(layers["sub"], kind="subcompartments")
    default = check_hotspots(pts, heat_sources=heat, subcompartments=sub)
    strict = check_hotspots(pts, heat_sources=heat, subcompartments=sub, rules=edited)
    assert default.hotspots_checked.loc[0, "fire_kind"] == "industrial"
    assert strict.hotspots_checked.loc[0, "fire_kind"] == "other"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_close_pairs_are_the_strtree_dwithin_pairs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    xy = np.vstack([rng.normal(0, 800, (300, 2)), rng.uniform(-5000, 5000, (300, 2))])
    xy[:10] = np.round(xy[:10] / 500) * 500  # on a 500 m lattice: pairs exactly 1000 m apart
    points = shapely.points(xy)
    left, right = shapely.STRtree(points).query(points, predicate="dwithin", distance=1000)
    keep = left < right
    expected = sorted(zip(left[keep].tolist(), right[keep].tolist(), strict=True))
    got = close_pairs(points, 1000)
    assert sorted(zip(*(a.tolist() for a in got), strict=True)) == expected
    mixed = np.append(points, shapely.box(0, 0, 10, 10))  # not only points: the STRtree
    assert len(close_pairs(mixed, 1000)[0]) >= len(expected)
