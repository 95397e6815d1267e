"""``linyuan fire coverage``: gdal_viewshed per tower, forest land and fire zones seen, blind
areas ranked, risk class per subcompartment; a DEM in another CRS, towers off the DEM, no GDAL.

The DEM (UTM 51N) is a 100 m plain cut by a 300 m north-south wall: a tower west of the wall sees
the western forest and none of the eastern one. The layers are in the working CRS (EPSG:4551),
so the towers are reprojected into the DEM's CRS.
"""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from rasterio.transform import from_origin

from gis.checks.fire.run import run_coverage
from gis.checks.fire.viewshed import Dem, Tower, viewshed_argv
from gis.cli.main import cli

pytestmark = pytest.mark.skipif(
    shutil.which("gdal_viewshed") is None, reason="gdal_viewshed (gdal-bin) not installed"
)

CRS = "EPSG:32651"
X0, Y0, RES, N = 300_000.0, 4_860_000.0, 10.0, 400
WALL = (250, 256)  # columns of the wall


def _x(col: float) -> float:
    return X0 + col * RES


def _y(row: float) -> float:
    return Y0 - row * RES


@pytest.fixture
def area(tmp_path):
    z = np.full((N, N), 100.0, dtype=np.float32)
    z[:, WALL[0] : WALL[1]] = 400.0
    z[:5, :5] = -9999.0  # nodata corner
    dem = tmp_path / "dem.tif"
    with rasterio.open(
        dem, "w", driver="GTiff", width=N, height=N, count=1, dtype="float32", crs=CRS,
        transform=from_origin(X0, Y0, RES, RES), nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(z, 1)
    towers = gpd.GeoDataFrame(
        {"编号": ["T1", "T2", "T3"], "塔高": [20.0, 20.0, 20.0], "监控半径": [3000, 3000, 3000]},
        geometry=[
            shapely.Point(_x(100), _y(200)),
            shapely.Point(_x(N + 50), _y(200)),  # east of the DEM
            shapely.Point(_x(2), _y(2)),  # on the nodata corner
        ],
        crs=CRS,
    ).to_crs(4551)
    west = shapely.box(_x(0), _y(N), _x(200), _y(0))
    east = shapely.box(_x(260), _y(N), _x(N), _y(0))
    crop = shapely.box(_x(200), _y(N), _x(WALL[0]), _y(0))
    subs = gpd.GeoDataFrame(
        {
            "stand_id": ["W", "E", "C"],
            "compartment": ["1", "1", "1"],
            "subcompartment_no": ["1", "2", "3"],
            "land_class": ["乔木林地", "乔木林地", "耕地"],
            "dominant_species": ["落叶松", "蒙古栎", None],
        },
        geometry=[west, east, crop],
        crs=CRS,
    ).to_crs(4551)
    zones = gpd.GeoDataFrame(
        {"zone_id": ["Z1", "Z2"], "name": ["西区", "东区"], "fire_level": [1, 2]},
        geometry=[west, east],
        crs=CRS,
    ).to_crs(4551)
    roads = gpd.GeoDataFrame(
        geometry=[shapely.LineString([(_x(0), _y(300)), (_x(200), _y(300))])], crs=CRS
    ).to_crs(4551)
    paths = {k: tmp_path / f"{k}.gpkg" for k in ("towers", "subcompartments", "fire_zones")}
    paths["roads"] = tmp_path / "roads.gpkg"
    for key, frame in zip(paths, (towers, subs, zones, roads), strict=True):
        frame.to_file(paths[key])
    return {"dem": dem, **paths}


def test_coverage_sees_the_west_not_behind_the_wall(area, tmp_path):
    out, xlsx = tmp_path / "out" / "cov.gpkg", tmp_path / "out" / "cov.xlsx"
    run = run_coverage(out=out, xlsx=xlsx, **area)
    res = run.result
    codes = [f.code for f in run.findings]
    assert "towers_reprojected" in codes
    moved = next(f for f in run.findings if f.code == "towers_reprojected")
    assert "EPSG:4551（CGCS2000 3度带 中央经线 126°E）" in moved.text("zh")
    assert "EPSG:4551 (CGCS2000 / 3-degree Gauss-Kruger CM 126E)" in moved.text("en")
    assert sorted(f.feature for f in run.findings if f.code == "tower_off_dem") == ["T2", "T3"]
    assert res.run["coverage"]["towers_used"] == 1
    subs = res.subcompartments.set_index("stand_id")
    assert subs.loc["W", "seen_share"] > 0.99
    assert subs.loc["E", "seen_share"] < 0.01
    # forest land is W and E, equal in cells: about half of it is seen
    assert res.run["coverage"]["forest_seen_share"] == pytest.approx(200 / 340, abs=0.02)
    zones = res.zones.set_index("zone_id")
    assert zones.loc["Z1", "forest_seen_share"] > 0.99 and zones.loc["Z2", "seen_share"] < 0.01
    blind = res.blind
    assert len(blind) >= 1 and blind["rank"].tolist()[0] == 1
    east_ha = float(res.subcompartments.set_index("stand_id").geometry.area["E"]) / 1e4
    assert blind["area_ha"].iloc[0] == pytest.approx(east_ha, rel=0.03)
    # larch (conifer) near a road outranks oak; cropland has no risk
    assert subs.loc["W", "risk_points"] > subs.loc["E", "risk_points"]
    assert subs.loc["C", "risk_points"] == 0
    assert subs.loc["W", "road_points"] == 2
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert {
        "coverage_summary",
        "blind_areas",
        "fire_zone_coverage",
        "subcompartment_risk",
    } <= layers
    assert "盲区" in pd.read_excel(xlsx, sheet_name=None)


def test_viewshed_command_has_curvature_and_range():
    dem = Dem("dem.tif", "", from_origin(0, 100, 10, 10), 10, 10)
    argv = viewshed_argv("gdal_viewshed", dem, Tower("T", 5.0, 5.0, 25.0, 9000.0), "o.tif",
                         curvature=0.85714, target_height_m=0.0)  # fmt: skip
    assert argv[argv.index("-cc") + 1] == "0.85714"
    assert argv[argv.index("-md") + 1] == "9000"
    assert argv[argv.index("-oz") + 1] == "25"


def test_cli_coverage_and_missing_gdal(area, tmp_path, monkeypatch):
    runner = CliRunner()
    args = ["fire", "coverage"]
    for key, path in area.items():
        args += [f"--{key.replace('_', '-')}", str(path)]
    res = runner.invoke(cli, [*args, "--out", str(tmp_path / "c.gpkg")])
    assert res.exit_code == 0, res.output
    assert "林地可视比例" in res.output
    monkeypatch.setenv("PATH", "")
    res = runner.invoke(cli, [*args, "--out", str(tmp_path / "d.gpkg")])
    assert res.exit_code == 3
    assert "apt-get install gdal-bin" in res.output
    assert not (tmp_path / "d.gpkg").exists()


def test_dem_in_degrees_is_refused_before_any_viewshed(area, tmp_path):
    dem = tmp_path / "dem_4326.tif"
    with rasterio.open(
        dem, "w", driver="GTiff", width=50, height=50, count=1, dtype="float32",
        crs="EPSG:4326", transform=from_origin(125.0, 44.0, 0.001, 0.001),
    ) as dst:  # fmt: skip
        dst.write(np.full((50, 50), 200.0, dtype=np.float32), 1)
    args = ["fire", "coverage", "--dem", str(dem), "--towers", str(area["towers"])]
    args += ["--subcompartments", str(area["subcompartments"]), "--out", str(tmp_path / "x.gpkg")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 3, res.output
    assert "gdalwarp" in res.output and "米制" in res.output
    assert not (tmp_path / "x.gpkg").exists()


def test_dem_without_crs_reads_the_prj_beside_it_as_images_do(area, tmp_path):
    """The no-CRS error names the .prj path (and gdal_edit.py); the .prj put there is read."""
    runner = CliRunner()
    layers = [a for key in ("towers", "subcompartments") for a in (f"--{key}", str(area[key]))]
    declared = runner.invoke(
        cli,
        ["fire", "coverage", "--dem", str(area["dem"]), *layers, "--out", str(tmp_path / "d.gpkg")],
    )
    assert declared.exit_code == 0, declared.output
    with rasterio.open(area["dem"]) as ds:
        profile, z, wkt = {**ds.profile, "crs": None}, ds.read(), ds.crs.to_wkt()
    bare = tmp_path / "bare" / "dem.tif"
    bare.parent.mkdir()
    with rasterio.open(bare, "w", **profile) as dst:
        dst.write(z)
    args = ["fire", "coverage", "--dem", str(bare), *layers, "--out", str(tmp_path / "b.gpkg")]
    for lang, words in (("en", "DEM"), ("zh", "随DEM交付的 .prj")):
        refused = runner.invoke(cli, [*args, "--lang", lang])
        assert refused.exit_code == 3, refused.output
        assert words in refused.output and "gdal_edit.py -a_srs" in refused.output
        assert str(bare.with_suffix(".prj")) in refused.output
    assert not (tmp_path / "b.gpkg").exists()
    bare.with_suffix(".prj").write_text(wkt)  # the .prj delivered with the DEM, where named
    followed = runner.invoke(cli, [*args, "--lang", "en"])
    assert followed.exit_code == 0, followed.output
    risk = [
        pyogrio.read_dataframe(tmp_path / f"{x}.gpkg", layer="subcompartment_risk")
        for x in ("d", "b")
    ]
    assert risk[1]["seen_share"].tolist() == risk[0]["seen_share"].tolist()
    findings = pyogrio.read_dataframe(tmp_path / "b.gpkg", layer="findings")
    assert (findings["code"] == "crs_from_prj").sum() == 1
