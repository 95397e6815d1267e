"""Greening KPIs per district and city against targets (gis.checks.greenery.kpi)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gis.checks.greenery import CITY, OUTSIDE, greenery_kpi
from gis.checks.greenery.kpi import KPI_COLUMNS
from gis.crs import WORKING_CRS
from gis.errors import RulesError, SchemaError
from gis.targets import load_targets, parse_targets
from gis.units import M2_PER_MU, geodesic_area_m2, geodesic_length_m

X0, Y0 = 500_000.0, 4_850_000.0


def frame(geoms: list, **cols: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=geoms, crs=WORKING_CRS)


@pytest.fixture
def layers() -> dict[str, gpd.GeoDataFrame]:
    """Two 1 km districts (西区 west, 东区 east) and a few features with known numbers."""
    districts = frame(
        [
            shapely.box(X0, Y0, X0 + 1000, Y0 + 1000),
            shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
        ],
        district=["西区", "东区"],
    )
    greenways = frame(
        [
            shapely.LineString([(X0 + 500, Y0 + 500), (X0 + 1500, Y0 + 500)]),  # 1 km, both
            shapely.LineString([(X0 + 100, Y0 + 100), (X0 + 100, Y0 + 700)]),  # 0.6 km west
            shapely.LineString([(X0 + 1200, Y0 + 100), (X0 + 1200, Y0 + 400)]),  # 0.3 km east
        ],
        status=["建成", "在建", "建成"],
        year=[2024, 2024, 2023],
    )
    parks = frame(
        [
            shapely.box(X0 + 10, Y0 + 10, X0 + 60, Y0 + 60),  # 0.25 ha pocket park, west
            shapely.box(X0 + 1100, Y0 + 100, X0 + 1200, Y0 + 200),  # 1 ha, east, no category
            shapely.box(X0 + 300, Y0 + 300, X0 + 500, Y0 + 500),  # 4 ha, under construction
            shapely.box(X0 + 1300, Y0 + 300, X0 + 1350, Y0 + 350),  # pocket park, east, 2024
        ],
        name=["小游园", "无类别", "咏春公园", "东游园"],
        category=["游园", None, "综合公园", "游园"],
        status=["建成", "建成", "在建", "建成"],
        year_built=[2024, 2010, None, 2024],
        progress_pct=[None, None, 50.0, None],
        open_for_sharing=[True, True, False, False],
    )
    villages = frame(
        [
            shapely.Point(X0 + 5, Y0 + 5),
            shapely.Point(X0 + 1500, Y0 + 5),
            shapely.Point(X0 + 5, Y0 + 900),
        ],
        task_year=[2024, 2024, 2023],
        greening_status=["done", "tasked", "done"],
        demonstration=[True, False, False],
    )
    afforestation = frame([shapely.box(X0 + 900, Y0, X0 + 1100, Y0 + 100)], year=[2024])  # 2 ha
    return {
        "districts": districts,
        "greenways": greenways,
        "parks": parks,
        "villages": villages,
        "afforestation": afforestation,
    }


def value(kpi: pd.DataFrame, district: str, indicator: str, item: str = "") -> pd.Series:
    sel = kpi[
        (kpi["district"] == district) & (kpi["indicator"] == indicator) & (kpi["item"] == item)
    ]
    assert len(sel) == 1, (district, indicator, item)
    return sel.iloc[0]


def test_kpi_per_district_and_city(layers: dict[str, gpd.GeoDataFrame]) -> None:
    result = greenery_kpi(**layers, targets=load_targets(), year=2024)
    kpi = result.kpi
    assert tuple(kpi.columns) == KPI_COLUMNS
    assert set(kpi["district"]) == {"西区", "东区", CITY}
    # greenways: the 1 km line is split 0.5 / 0.5 at the boundary
    assert value(kpi, "西区", "greenway_km_new")["actual"] == pytest.approx(0.5, rel=1e-5)
    assert value(kpi, "东区", "greenway_km_built")["actual"] == pytest.approx(0.8, rel=1e-5)
    assert value(kpi, "西区", "greenway_km_under_construction")["actual"] == pytest.approx(
        0.6, 1e-5
    )
    city_new = value(kpi, CITY, "greenway_km_new")
    assert city_new["actual"] == pytest.approx(1.0, rel=1e-5)
    assert (city_new["target"], city_new["unit"]) == (50, "km")
    assert value(kpi, CITY, "afforestation_mu")["unit"] == "mu"
    assert city_new["rate"] == pytest.approx(0.02, rel=1e-5) and not city_new["met"]
    # parks by category: counts and area; no category → 未分类 with a finding
    assert value(kpi, CITY, "park_count", "游园")["actual"] == 2
    assert value(kpi, CITY, "park_area_ha", "游园")["actual"] == pytest.approx(0.5, rel=1e-5)
    assert value(kpi, "东区", "park_count", "未分类")["actual"] == 1
    assert result.findings.of("missing_category")
    assert value(kpi, "西区", "pocket_parks_new")["actual"] == 1
    assert value(kpi, CITY, "pocket_parks_new")["target"] == 40
    progress = value(kpi, CITY, "park_progress_pct", "咏春公园")
    assert (progress["actual"], progress["target"], progress["rate"]) == (50, 100, 0.5)
    assert value(kpi, CITY, "parks_under_construction")["actual"] == 1
    assert value(kpi, CITY, "parks_opened_sharing")["actual"] == 2
    # villages: city target from the file; districts from the layer's own tasks of the year
    done = value(kpi, CITY, "village_greening_done")
    assert (done["actual"], done["target"]) == (1, 120)
    east = value(kpi, "东区", "village_greening_done")
    assert (east["actual"], east["target"], bool(east["met"])) == (0, 1, False)
    assert value(kpi, "西区", "village_greening_done")["rate"] == 1.0
    # afforestation 2 ha = 30 亩, split 15 / 15
    assert value(kpi, "西区", "afforestation_mu")["actual"] == pytest.approx(15, rel=1e-5)
    assert value(kpi, CITY, "afforestation_mu")["actual"] == pytest.approx(30, rel=1e-5)
    # a planned indicator no layer measures: target shown, actual empty, met unknown
    upgraded = value(kpi, CITY, "villages_upgraded")
    assert upgraded["target"] == 240 and pd.isna(upgraded["actual"]) and pd.isna(upgraded["met"])
    streets = kpi[kpi["indicator"] == "streets_renewed"]  # planned, but no streets layer given
    assert list(streets["district"]) == [CITY] and pd.isna(streets["actual"]).all()


def test_report_rates_2023_reproduced() -> None:
    """The 2023 report: 1373 villages greened against 367 tasked (374 %)."""
    villages = frame(
        [shapely.Point(X0 + k, Y0) for k in range(1373)],
        task_year=[2023] * 1373,
        greening_status=["done"] * 1373,
    )
    side = (513_000 * M2_PER_MU) ** 0.5  # a square of 51.3万亩 (18.5 km) on the meridian
    afforest = frame([shapely.box(X0 - side / 2, Y0, X0 + side / 2, Y0 + side)], year=[2023])
    empty_lines = frame([], status=[], year=[])
    empty_parks = frame([], name=[], category=[])
    kpi = greenery_kpi(
        greenways=empty_lines,
        parks=empty_parks,
        villages=villages,
        afforestation=afforest,
        targets=load_targets(),
        year=2023,
    ).kpi
    done = value(kpi, CITY, "village_greening_done")
    assert round(done["rate"] * 100) == 374 and done["met"]
    assert done["reported"] == 1373
    aff = value(kpi, CITY, "afforestation_mu")
    assert aff["actual"] == pytest.approx(513_000, rel=1e-4)
    assert round(aff["rate"] * 100, 1) == 102.6


def test_lengths_in_working_crs_not_web_mercator(layers: dict[str, gpd.GeoDataFrame]) -> None:
    line = frame(
        [shapely.LineString([(X0 + 100, Y0 + 100), (X0 + 100, Y0 + 900)])], status=["建成"]
    )
    line["year"] = 2024
    kpi = greenery_kpi(
        greenways=line,
        parks=layers["parks"],
        villages=layers["villages"],
        targets=load_targets(),
        year=2024,
    ).kpi
    km = value(kpi, CITY, "greenway_km_new")["actual"]
    geodesic_km = geodesic_length_m(line.geometry.values, line.crs)[0] / 1000
    assert km == pytest.approx(geodesic_km, rel=5e-4)
    mercator_km = line.to_crs(3857).length.iloc[0] / 1000  # 43.8°N: off by ~39 %
    assert mercator_km / geodesic_km - 1 == pytest.approx(0.39, abs=0.02)
    aff = layers["afforestation"]
    mu = value(
        greenery_kpi(**layers, targets=load_targets(), year=2024).kpi, CITY, "afforestation_mu"
    )["actual"]
    geodesic_mu = geodesic_area_m2(aff.geometry.values, aff.crs)[0] / M2_PER_MU
    assert mu == pytest.approx(geodesic_mu, rel=5e-4)
    mercator_mu = aff.to_crs(3857).area.iloc[0] / M2_PER_MU  # off by ~93 %
    assert mercator_mu / geodesic_mu - 1 == pytest.approx(0.93, abs=0.03)


def test_outside_districts_and_bad_input(layers: dict[str, gpd.GeoDataFrame]) -> None:
    west = layers["districts"].iloc[[0]]
    result = greenery_kpi(**{**layers, "districts": west}, targets=load_targets(), year=2024)
    codes = [f.code for f in result.findings]
    assert "outside_districts" in codes
    kpi = result.kpi
    assert OUTSIDE in set(kpi["district"])
    city = value(kpi, CITY, "greenway_km_new")["actual"]
    parts = kpi[(kpi["indicator"] == "greenway_km_new") & (kpi["district"] != CITY)]["actual"].sum()
    assert city == pytest.approx(parts)  # the part outside the district still counts in the city
    with pytest.raises(SchemaError, match=r"parks \(--parks\) must hold polygon.*LineString"):
        greenery_kpi(**{**layers, "parks": layers["greenways"]}, targets=load_targets(), year=2024)
    with pytest.raises(SchemaError, match=r"greenways .* must hold line"):
        greenery_kpi(**{**layers, "greenways": layers["parks"]}, targets=load_targets(), year=2024)
    with pytest.raises(RulesError, match=r"year 2031 is not in the targets file"):
        greenery_kpi(**layers, targets=load_targets(), year=2031)


def test_district_targets_and_english_labels(layers: dict[str, gpd.GeoDataFrame]) -> None:
    targets = parse_targets(
        {
            "years": {
                2024: {
                    "status": "plan",
                    "source": "test",
                    "targets": {"pocket_parks_new": 2},
                    "districts": {"东区": {"pocket_parks_new": 3}},
                }
            }
        }
    )
    kpi = greenery_kpi(**layers, targets=targets, year=2024, lang="en").kpi
    east = value(kpi, "东区", "pocket_parks_new")
    assert (east["actual"], east["target"], bool(east["met"])) == (1, 3, False)
    city = value(kpi, CITY, "pocket_parks_new")
    assert (city["actual"], bool(city["met"]), city["label"]) == (2, True, "new pocket parks")


def test_cli_kpi_writes_gpkg_xlsx_and_json(layers: dict[str, gpd.GeoDataFrame], tmp_path) -> None:
    import json

    import openpyxl
    import pyogrio
    from click.testing import CliRunner

    from gis.cli.main import cli
    from gis.io import write_layer

    args = ["greenery", "kpi"]
    for role in ("greenways", "parks", "villages", "districts", "afforestation"):
        path = write_layer(layers[role], tmp_path / f"{role}.gpkg", layer=role)
        args += [f"--{role}", str(path)]
    out, xlsx = tmp_path / "KPI.gpkg", tmp_path / "KPI.xlsx"
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            *args,
            "--year",
            "2024",
            "--out",
            str(out),
            "--xlsx",
            str(xlsx),
            "--json",
            "--charts",
            str(tmp_path / "charts"),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["outputs"]["gpkg"] == str(out)
    assert {r["indicator"] for r in payload["city"]} >= {"pocket_parks_new", "greenway_km_new"}
    names = {name for name, _ in pyogrio.list_layers(out)}
    assert {"kpi", "run", "findings"} <= names
    kpi = pyogrio.read_dataframe(out, layer="kpi")
    city = kpi[(kpi["district"] == CITY) & (kpi["indicator"] == "pocket_parks_new")]
    assert city["actual"].tolist() == [2] and city["target"].tolist() == [40]
    sheet = openpyxl.load_workbook(xlsx).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert {"行政区", "指标", "目标", "完成", "完成率", "是否完成"} <= set(header)
    pngs = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert "kpi_progress.png" in pngs and "kpi_pocket_parks_new.png" in pngs
    assert (tmp_path / "charts" / "kpi_progress.png").read_bytes().startswith(b"\x89PNG")
    assert "kpi_afforestation_mu.png" in pngs  # an afforestation layer was given
    # without an afforestation layer there is no afforestation figure, so no (empty) chart
    bare = args[: args.index("--afforestation")]
    plain = runner.invoke(cli, [*bare, "--year", "2024", "--out", str(tmp_path / "bare.gpkg"),
                                "--charts", str(tmp_path / "bare")])  # fmt: skip
    assert plain.exit_code == 0, plain.output
    drawn = sorted(p.name for p in (tmp_path / "bare").iterdir())
    assert "kpi_pocket_parks_new.png" in drawn and "kpi_afforestation_mu.png" not in drawn
    assert "国土绿化：— / 500,000 亩" in plain.output  # a plain figure, not 5e+05
    # the same again without --overwrite: refused (exit 3), file kept
    again = runner.invoke(cli, [*args, "--out", str(out)])
    assert again.exit_code == 3 and "--overwrite" in again.output


def test_cli_kpi_bad_targets_exit_3(layers: dict[str, gpd.GeoDataFrame], tmp_path) -> None:
    from click.testing import CliRunner

    from gis.cli.main import cli

    bad = tmp_path / "targets.yaml"
    bad.write_text(
        "years:\n  2024:\n    status: plan\n    source: x\n    targets: {pocket_park_new: 40}\n",
        encoding="utf-8",
    )
    args = ["greenery", "kpi", "--greenways", "g.gpkg", "--parks", "p.gpkg", "--villages",
            "v.gpkg", "--districts", "d.gpkg", "--targets", str(bad), "--out",
            str(tmp_path / "o.gpkg")]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3
    assert str(bad) in result.output and "pocket_park_new" in result.output
    assert "pocket_parks_new" in result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    demo_mod = pytest.importorskip("gis.demo")
    if not hasattr(demo_mod, "build_demo"):
        pytest.skip("gis.demo.build_demo not available yet")
    return demo_mod.build_demo(tmp_path_factory.mktemp("demo"))


def test_demo_scene_kpi_matches_truth(demo, tmp_path) -> None:
    from gis.checks.greenery.run import run_greenery_kpi

    truth = demo.truth["greenery"]
    expected = {(r.indicator, r.district): r.value for r in truth.itertuples()}
    layers = {k: demo.layers[k] for k in ("greenways", "parks", "villages", "districts")}
    run = run_greenery_kpi(**layers, year=2024, out=tmp_path / "KPI.gpkg")
    kpi = run.tables["kpi"]
    for status, indicator in (
        ("已建成", "greenway_km_built"),
        ("在建", "greenway_km_under_construction"),
        ("规划", "greenway_km_planned"),
    ):
        got = value(kpi, CITY, indicator)["actual"]
        assert got == pytest.approx(expected[(f"greenway_km_{status}", CITY)], abs=1e-3)
    for category in ("游园", "社区公园"):  # all built, so the stock counts agree
        for (indicator, district), n in expected.items():
            if indicator == f"parks_{category}":
                assert value(kpi, district, "park_count", category)["actual"] == n
    pairs = (
        ("parks_under_construction", "parks_under_construction"),
        ("parks_open_for_sharing", "parks_opened_sharing"),
        ("pocket_parks_new_2024", "pocket_parks_new"),
        ("villages_done", "village_greening_done"),
        ("villages_demonstration", "demonstration_villages"),
    )
    for truth_name, indicator in pairs:
        assert value(kpi, CITY, indicator)["actual"] == expected[(truth_name, CITY)], indicator
    assert not run.findings.has_errors
