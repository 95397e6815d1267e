"""Park service coverage: hand-computable shares, population, radius classes, network, bad input."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.checks.greenery import CITY, OUTSIDE
from gis.checks.greenery.coverage import (
    CoverageOptions,
    RadiusClass,
    network_sources,
    park_coverage,
    reach,
    road_network,
    service_radius,
)
from gis.crs import WORKING_CRS
from gis.errors import CRSMismatchError, SchemaError

X0, Y0 = 500_000.0, 4_850_000.0


def frame(geoms: list, **cols: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=geoms, crs=WORKING_CRS)


def grid(n: int, size: float = 100.0) -> gpd.GeoDataFrame:
    boxes = [
        shapely.box(X0 + i * size, Y0 + j * size, X0 + (i + 1) * size, Y0 + (j + 1) * size)
        for i in range(n)
        for j in range(n)
    ]
    return frame(boxes, parcel_id=[f"P{k}" for k in range(n * n)])


def row(result: pd.DataFrame, measure: str, district: str = CITY) -> pd.Series:
    sel = result[(result["measure"] == measure) & (result["district"] == district)]
    assert len(sel) == 1
    return sel.iloc[0]


def rounded_square_m2(side: float, radius: float, quad_segs: int = 16) -> float:
    """Area of a square buffered by ``radius`` with shapely's polygonal corners."""
    n = 4 * quad_segs  # the four corner arcs make one regular n-gon inscribed in the circle
    return side**2 + 4 * side * radius + n / 2 * radius**2 * math.sin(2 * math.pi / n)


def test_grid_of_homes_and_one_park_exact_share() -> None:
    homes = grid(20)  # 2 km × 2 km of 100 m parcels = 400 ha
    park = frame([shapely.box(X0 + 950, Y0 + 950, X0 + 1050, Y0 + 1050)], name=["中心公园"])
    result = park_coverage(park, homes).coverage
    service = row(result, "service")
    expected = rounded_square_m2(100, 500) / 4_000_000  # 1 ha park → 500 m
    assert service["basis"] == "area"
    assert service["coverage_pct"] == pytest.approx(100 * expected, rel=1e-6)
    assert service["residential_area_ha"] == pytest.approx(400, rel=1e-3)  # ellipsoidal ha
    assert bool(service["met"]) is False and service["target_pct"] == 80
    green = row(result, "green_300")  # a 1 ha park is also a green space ≥ 400 m²
    assert green["coverage_pct"] == pytest.approx(100 * rounded_square_m2(100, 300) / 4e6, 1e-6)
    assert row(result, "park_500")["coverage_pct"] == pytest.approx(service["coverage_pct"])
    # close to the true circle: the 64-gon loses 0.16 % of the corner disc, 0.13 % of the share
    circle = (100**2 + 4 * 100 * 500 + math.pi * 500**2) / 4e6
    assert expected == pytest.approx(circle, rel=0.0015)


def test_partial_parcel_and_underserved_part() -> None:
    homes = frame([shapely.box(X0, Y0, X0 + 100, Y0 + 100)], parcel_id=["H1"])
    strip = frame([shapely.box(X0 - 50, Y0 - 1000, X0, Y0 + 1000)])  # 10 ha strip, edge at x0
    opts = CoverageOptions(radius_classes=(RadiusClass(0.0, 50.0),))
    result = park_coverage(strip, homes, options=opts)
    assert row(result.coverage, "service")["coverage_pct"] == pytest.approx(50.0, rel=1e-6)
    under = result.underserved
    assert list(under["parcel_id"]) == ["H1"]
    assert under.geometry.iloc[0].equals(shapely.box(X0 + 50, Y0, X0 + 100, Y0 + 100))
    assert under["unserved_area_ha"].iloc[0] == pytest.approx(0.5, rel=1e-3)
    assert under["covered_pct"].iloc[0] == pytest.approx(50.0)


def test_population_apportioned_by_covered_area() -> None:
    homes = frame(
        [shapely.box(X0, Y0, X0 + 100, Y0 + 100), shapely.box(X0 + 500, Y0, X0 + 600, Y0 + 100)],
        parcel_id=["A", "B"],
        pop=[100, 300],
    )
    strip = frame([shapely.box(X0 - 50, Y0 - 1000, X0, Y0 + 1000)])
    opts = CoverageOptions(radius_classes=(RadiusClass(0.0, 50.0),))
    result = park_coverage(strip, homes, population_field="pop", options=opts)
    service = row(result.coverage, "service")
    assert service["basis"] == "population"
    assert service["covered_population"] == pytest.approx(50.0)  # half of A's 100
    assert service["coverage_pct"] == pytest.approx(12.5)  # 50 of 400 people (area: 25 %)
    under = result.underserved  # ranked by unserved people: B (300) before A (50)
    assert list(under["parcel_id"]) == ["B", "A"]
    assert list(under["unserved_population"].round(6)) == [300.0, 50.0]
    assert list(under["rank"]) == [1, 2]


def test_missing_population_field_and_values() -> None:
    homes = frame([shapely.box(X0, Y0, X0 + 100, Y0 + 100)], pop=[None])
    park = frame([shapely.box(X0 + 200, Y0, X0 + 300, Y0 + 100)])
    with pytest.raises(SchemaError, match=r"no field 'people'.*--population-field"):
        park_coverage(park, homes, population_field="people")
    result = park_coverage(park, homes, population_field="pop")
    assert result.findings.of("missing_population")


def test_radius_classes() -> None:
    areas = np.array([399.0, 1999.0, 2000.0, 4999.0, 5000.0, 1e6])
    assert service_radius(areas, CoverageOptions().radius_classes).tolist() == [
        0,
        0,
        300,
        300,
        500,
        500,
    ]
    # a 3000 m² park (50 m × 60 m) serves 300 m; a 6000 m² one 500 m
    small = shapely.box(X0, Y0, X0 + 50, Y0 + 60)
    big = shapely.box(X0, Y0, X0 + 100, Y0 + 60)
    near = frame([shapely.box(X0 + 320, Y0, X0 + 330, Y0 + 10)])  # 270-280 m from the edge
    far = frame([shapely.box(X0 + 500, Y0, X0 + 510, Y0 + 10)])  # 400-410 m from the edge
    for park, parcel, pct in [(small, near, 100), (small, far, 0), (big, far, 100)]:
        got = row(park_coverage(frame([park]), parcel).coverage, "service")["coverage_pct"]
        assert got == pytest.approx(pct)
    custom = CoverageOptions(radius_classes=(RadiusClass(1000.0, 1000.0),))
    got = row(park_coverage(frame([small]), far, options=custom).coverage, "service")
    assert got["coverage_pct"] == pytest.approx(100)


def test_300_green_and_500_park_figures() -> None:
    # a 500 m² green space (≥ 400 m²) is 300 米见绿 but no park for 500 米见园 (< 1 ha)
    # and too small for the service measure (< 2000 m²)
    green = frame([shapely.box(X0, Y0, X0 + 25, Y0 + 20)])
    park = frame([shapely.box(X0 + 2000, Y0, X0 + 2100, Y0 + 100)])  # 1 ha, far east
    home_a = shapely.box(X0 + 100, Y0, X0 + 150, Y0 + 20)  # 75-125 m from the green space
    home_b = shapely.box(X0 + 1700, Y0, X0 + 1750, Y0 + 20)  # 250-300 m from the park
    homes = frame([home_a, home_b])
    result = park_coverage(park, homes, green_spaces=green).coverage
    assert row(result, "green_300")["coverage_pct"] == pytest.approx(100)  # both
    assert row(result, "park_500")["coverage_pct"] == pytest.approx(50)  # B only
    assert row(result, "service")["coverage_pct"] == pytest.approx(50)
    tiny = frame([shapely.box(X0, Y0, X0 + 19, Y0 + 20)])  # 380 m² < 400 m²
    result = park_coverage(park, homes, green_spaces=tiny).coverage
    assert row(result, "green_300")["coverage_pct"] == pytest.approx(50)


def test_reach_equals_plain_buffer_union_overlay() -> None:
    rng = np.random.default_rng(6)
    xy = rng.uniform(0, 3000, size=(400, 2))
    parcels = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + 80, xy[:, 1] + 60)
    pxy = rng.uniform(0, 3000, size=(12, 2))
    sides = rng.uniform(30, 150, size=12)
    parks = shapely.box(pxy[:, 0], pxy[:, 1], pxy[:, 0] + sides, pxy[:, 1] + sides)
    radii = service_radius(shapely.area(parks), CoverageOptions().radius_classes)
    fast = reach(parcels, parks, radii).fraction
    buffers = gpd.GeoSeries(parks[radii > 0], crs=WORKING_CRS).buffer(radii[radii > 0])
    union = shapely.union_all(buffers.to_numpy())  # the plain geopandas way
    plain = shapely.area(shapely.intersection(parcels, union)) / shapely.area(parcels)
    assert 0.05 < fast.mean() < 0.95
    np.testing.assert_allclose(fast, plain, atol=1e-9)


def _grid_roads(n: int, step: float) -> gpd.GeoDataFrame:
    segs = []
    for i in range(n + 1):
        for j in range(n):
            a, b = X0 + i * step, Y0 + j * step
            segs.append(shapely.LineString([(a, b), (a, b + step)]))
            segs.append(
                shapely.LineString(
                    [(X0 + j * step, Y0 + i * step), (X0 + (j + 1) * step, Y0 + i * step)]
                )
            )
    return frame(segs)


def test_network_reach_is_shorter_than_straight_line() -> None:
    homes = grid(20)
    park = frame([shapely.box(X0 + 950, Y0 + 950, X0 + 1050, Y0 + 1050)])
    roads = _grid_roads(20, 100.0)
    straight = park_coverage(park, homes)
    walk = park_coverage(park, homes, roads=roads)
    s = row(straight.coverage, "service")["coverage_pct"]
    w = row(walk.coverage, "service")["coverage_pct"]
    assert 0 < w < s
    # the roads meet the park at the grid node in its middle (its entrance, distance 0):
    # walking 500 m on a 100 m grid reaches the diamond |dx| + |dy| <= 500 around that node
    # (2 × 500² m² = 12.5 %), widened by the 100 m snap: more than the diamond, less than the disc
    diamond = 2 * 500**2 / 4e6 * 100
    assert diamond < w < s
    # every parcel part the network reaches is reached in straight line too
    parcels, parks = homes.geometry.values, park.geometry.values
    radii = np.array([500.0])
    pts, left = network_sources(parks, radii, road_network(roads.geometry.values))
    by_road = reach(parcels, pts, left).fraction
    by_line = reach(parcels, parks, radii).fraction
    assert (by_road <= by_line + 1e-9).all() and (by_road < by_line - 0.01).any()


def test_network_pass_leaves_graph_and_ignores_park_count() -> None:
    roads = _grid_roads(10, 100.0)
    net = road_network(roads.geometry.values)
    assert net.graph.number_of_nodes() == 121 and net.graph.number_of_edges() == 220
    opts = CoverageOptions()
    one = np.array([shapely.box(X0 + 450, Y0 + 450, X0 + 550, Y0 + 550)])
    # many small parks inside the same block reach the same nodes: same sources, same radii
    many = np.array(
        [shapely.box(X0 + 450 + k, Y0 + 450, X0 + 451 + k, Y0 + 550) for k in range(100)]
    )
    pts1, r1 = network_sources(one, np.array([300.0]), net)
    ptsn, _ = network_sources(many, np.full(100, 300.0), net)
    assert len(pts1) - 1 == len(ptsn) - 100  # one virtual pass: reached nodes do not multiply
    assert r1[1:].max() <= opts.snap_m
    assert net.graph.number_of_nodes() == 121  # the virtual source is gone again


def test_districts_and_outside_finding() -> None:
    homes = grid(4)  # 400 m × 400 m
    park = frame([shapely.box(X0 - 100, Y0, X0, Y0 + 100)])
    districts = frame(
        [shapely.box(X0, Y0, X0 + 200, Y0 + 400), shapely.box(X0 + 200, Y0, X0 + 300, Y0 + 400)],
        district=["西区", "东区"],
    )
    result = park_coverage(park, homes, districts=districts)
    cov = result.coverage
    assert set(cov["district"]) == {"西区", "东区", OUTSIDE, CITY}
    west, city = row(cov, "service", "西区"), row(cov, "service", CITY)
    assert west["residential_area_ha"] == pytest.approx(8, rel=1e-3)
    assert city["residential_area_ha"] == pytest.approx(16, rel=1e-3)
    finding = result.findings.of("outside_districts")
    assert finding and "4 of 16" in finding[0].message


def test_bad_input_is_named() -> None:
    homes = grid(2)
    park = frame([shapely.box(X0 - 100, Y0, X0, Y0 + 100)])
    lines = frame([shapely.LineString([(X0, Y0), (X0 + 100, Y0)])])
    with pytest.raises(
        SchemaError, match=r"residential \(--residential\) must hold polygon.*LineString"
    ):
        park_coverage(park, lines)
    with pytest.raises(SchemaError, match=r"parks \(--parks\) must hold polygon"):
        park_coverage(lines, homes)
    with pytest.raises(SchemaError, match=r"roads \(--roads\) must hold line"):
        park_coverage(park, homes, roads=park)
    with pytest.raises(CRSMismatchError):
        park_coverage(park.to_crs(3857), homes)


def test_cli_coverage_writes_layers(tmp_path) -> None:
    import json

    import pyogrio
    from click.testing import CliRunner

    from gis.cli.main import cli
    from gis.io import write_layer

    homes = grid(20)
    homes["pop"] = 100
    park = frame([shapely.box(X0 + 950, Y0 + 950, X0 + 1050, Y0 + 1050)], name=["中心公园"])
    paths = {
        "parks": write_layer(park, tmp_path / "parks.gpkg"),
        "residential": write_layer(homes, tmp_path / "homes.gpkg"),
        "roads": write_layer(_grid_roads(20, 100.0), tmp_path / "roads.gpkg"),
    }
    out = tmp_path / "COVERAGE.gpkg"
    args = ["greenery", "coverage", "--parks", str(paths["parks"]), "--residential",
            str(paths["residential"]), "--population-field", "pop",  # read as 'population'
            "--out", str(out), "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    city = {r["measure"]: r for r in json.loads(result.output)["city"]}
    expected = 100 * rounded_square_m2(100, 500) / 4e6
    assert city["service"]["coverage_pct"] == pytest.approx(expected, rel=1e-6)
    assert city["service"]["basis"] == "population"
    assert {"coverage", "underserved", "findings", "run"} <= {
        n for n, _ in pyogrio.list_layers(out)
    }
    under = pyogrio.read_dataframe(out, layer="underserved")
    assert under["rank"].tolist() == sorted(under["rank"]) and under.crs == WORKING_CRS
    run = pyogrio.read_dataframe(out, layer="run")
    assert "greenery coverage" in run["value"].tolist()
    # walking distance along roads, a smaller radius class option, and a text summary
    args = [*args[:-3], "--roads", str(paths["roads"]), "--radius-classes", "5000:400",
            "--out", str(tmp_path / "walk.gpkg")]  # fmt: skip
    walk = CliRunner().invoke(cli, args)
    assert walk.exit_code == 0, walk.output
    assert "公园绿地服务半径覆盖率" in walk.output and "（目标 > 80%，" in walk.output
    bad = CliRunner().invoke(cli, [*args[:-1], str(tmp_path / "x.gpkg"), "--radius-classes", "big"])
    assert bad.exit_code == 2 and "MIN_M2:RADIUS_M" in bad.output
    lines = write_layer(_grid_roads(2, 100.0), tmp_path / "lines.gpkg")
    wrong = CliRunner().invoke(
        cli,
        [
            "greenery",
            "coverage",
            "--parks",
            str(lines),
            "--residential",
            str(paths["residential"]),
            "--out",
            str(tmp_path / "y.gpkg"),
        ],
    )
    assert wrong.exit_code == 3 and "应为面要素" in wrong.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    demo_mod = pytest.importorskip("gis.demo")
    if not hasattr(demo_mod, "build_demo"):
        pytest.skip("gis.demo.build_demo not available yet")
    return demo_mod.build_demo(tmp_path_factory.mktemp("demo"))


def test_demo_scene_coverage_matches_truth(demo, tmp_path) -> None:
    """The demo's truth: 300/500 m shares from a plain buffer-union of every park."""
    from gis.checks.greenery.run import run_park_coverage

    truth = demo.truth["greenery"].set_index("indicator")["value"]
    run = run_park_coverage(
        parks=demo.layers["parks"],
        residential=demo.layers["residential"],
        districts=demo.layers["districts"],
        population_field="人口",
        out=tmp_path / "COVERAGE.gpkg",
    )
    cov = run.tables["coverage"]
    for measure, key in (("green_300", "green_300m"), ("park_500", "park_500m")):
        city = row(cov, measure)
        assert city["coverage_pct"] / 100 == pytest.approx(truth[f"{key}_pop_share"], abs=2e-6)
        area_share = city["covered_area_ha"] / city["residential_area_ha"]
        assert area_share == pytest.approx(truth[f"{key}_area_share"], abs=1e-4)
    districts = set(cov["district"]) - {CITY}
    assert len(districts) >= 2 and OUTSIDE not in districts
    under = run.tables["underserved"]
    assert len(under) > 0 and under["unserved_population"].is_monotonic_decreasing
    assert not run.findings.has_errors
