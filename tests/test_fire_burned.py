"""``linyuan fire burned``: dNBR, severity, fire scars, 火场面积 / 受害森林面积 and the grade.

A 6-band (B,G,R,NIR,SWIR1,SWIR2) uint16 pair in UTM 51N is written with a planted fire (a disc
with severity falling off from its centre); the layers are in the working CRS (EPSG:4551), so
every area is measured after a real reprojection.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from rasterio.features import geometry_mask
from rasterio.transform import from_origin

from gis.checks.fire import fire_grade, load_fire_rules, trace_burned
from gis.checks.fire.run import run_burned
from gis.cli.main import cli
from gis.raster import raster_source
from gis.units import area_ha

CRS = "EPSG:32651"
X0, Y0, RES, SIZE = 300_000.0, 4_860_000.0, 10.0, 300
CENTRE = (X0 + 150 * RES, Y0 - 150 * RES)
RADIUS_M = 600.0


def _pair(d: Path, *, fire: bool = True, size: int = SIZE) -> tuple[Path, Path]:
    rows, cols = np.mgrid[0:size, 0:size]
    x, y = X0 + (cols + 0.5) * RES, Y0 - (rows + 0.5) * RES
    r = np.hypot(x - CENTRE[0], y - CENTRE[1])
    rng = np.random.default_rng(1)
    bands = np.array([400, 600, 500, 3000, 1800, 900], dtype=float)[:, None, None]
    base = np.broadcast_to(bands, (6, size, size)).copy()
    after = base.copy()
    if fire:
        burnt = r <= RADIUS_M
        depth = np.where(burnt, 1.0 - 0.85 * r / RADIUS_M, 0.0)  # high severity at the centre
        after[3] -= 1800 * depth  # NIR falls
        after[5] += 1600 * depth  # SWIR2 rises
    paths = (d / "before.tif", d / "after.tif")
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 6, "dtype": "uint16",
        "crs": CRS, "transform": from_origin(X0, Y0, RES, RES), "nodata": 0, "tiled": True,
        "blockxsize": 64, "blockysize": 64,
    }  # fmt: skip
    for path, data in zip(paths, (base, after), strict=True):
        noisy = data + rng.normal(0, 20, data.shape)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(np.clip(noisy, 1, 10000).astype("uint16"))
    return paths


def _layers(d: Path) -> dict[str, Path]:
    """Forest land west of the fire's centre, cropland east; two districts north/south."""
    box = shapely.box(X0, Y0 - SIZE * RES, X0 + SIZE * RES, Y0)
    west = shapely.box(X0, Y0 - SIZE * RES, CENTRE[0], Y0)
    east = shapely.box(CENTRE[0], Y0 - SIZE * RES, X0 + SIZE * RES, Y0)
    subs = gpd.GeoDataFrame(
        {
            "stand_id": ["S1", "S2"],
            "compartment": ["1", "1"],
            "subcompartment_no": ["1", "2"],
            "land_class": ["乔木林地", "耕地"],
            "dominant_species": ["落叶松", None],
            "district": ["九台区", "九台区"],
            "forest_chief": ["张三", "李四"],
        },
        geometry=[west, east],
        crs=CRS,
    ).to_crs(4551)
    north = shapely.box(X0, CENTRE[1], X0 + SIZE * RES, Y0)
    south = shapely.box(X0, Y0 - SIZE * RES, X0 + SIZE * RES, CENTRE[1])
    districts = gpd.GeoDataFrame(
        {"district": ["北区", "南区"], "district_code": ["220113", "220114"]},
        geometry=[north, south],
        crs=CRS,
    ).to_crs(4551)
    chiefs = gpd.GeoDataFrame(
        {"zone_id": ["Z1"], "forest_chief": ["王五"], "level": ["village"]},
        geometry=[box],
        crs=CRS,
    ).to_crs(4551)
    out = {"subcompartments": d / "subs.gpkg", "districts": d / "districts.gpkg"}
    out["forest_chiefs"] = d / "chiefs.gpkg"
    subs.to_file(out["subcompartments"])
    districts.to_file(out["districts"])
    chiefs.to_file(out["forest_chiefs"])
    return out


def _truth_ha() -> tuple[float, float]:
    """Burned and burned-forest area of the planted disc, measured like the code does."""
    disc = gpd.GeoSeries([shapely.Point(CENTRE).buffer(RADIUS_M, 256)], crs=CRS).to_crs(4551)
    west = gpd.GeoSeries([shapely.box(X0, Y0 - SIZE * RES, CENTRE[0], Y0)], crs=CRS).to_crs(4551)
    return float(area_ha(disc)[0]), float(area_ha(disc.intersection(west))[0])


@pytest.fixture
def fire_data(tmp_path):
    before, after = _pair(tmp_path)
    return {"before": before, "after": after, **_layers(tmp_path)}


def test_burned_area_grade_and_tables_match_the_planted_fire(fire_data, tmp_path):
    out, xlsx = tmp_path / "res" / "burned.gpkg", tmp_path / "res" / "burned.xlsx"
    result = run_burned(out=out, xlsx=xlsx, bands="B,G,R,NIR,SWIR1,SWIR2", **fire_data)
    fire_ha, forest_ha = _truth_ha()
    scars = result.damage.scars
    assert len(scars) == 1
    assert scars["fire_area_ha"].sum() == pytest.approx(fire_ha, rel=0.02)
    assert scars["forest_area_ha"].sum() == pytest.approx(forest_ha, rel=0.03)
    assert scars["fire_area_mu"].sum() == pytest.approx(15 * scars["fire_area_ha"].sum())
    # 受害森林面积 ~56 ha: 较大森林火灾 (1-100 ha) by Article 40
    assert result.damage.grade["zh"] == "较大森林火灾"
    by_sub = result.damage.by_subcompartment.set_index("stand_id")
    assert by_sub.loc["S2", "forest_area_ha"] == 0.0
    assert by_sub.loc["S1", "forest_area_ha"] == pytest.approx(forest_ha, rel=0.03)
    districts = result.damage.by_district
    assert set(districts["district"]) == {"北区", "南区"}
    assert districts["fire_area_ha"].sum() == pytest.approx(scars["fire_area_ha"].sum())
    assert districts["forest_area_ha"].sum() == pytest.approx(forest_ha, rel=0.03)
    chief = result.damage.by_forest_chief
    assert chief["forest_chief"].tolist() == ["王五"]
    # severity falls off from the centre: the high class is there, and classes add up
    sev = result.damage.severity
    assert {2, 5} <= set(sev["severity"])
    assert area_ha(sev).sum() == pytest.approx(scars["fire_area_ha"].sum(), rel=1e-6)
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert {"fire_report", "fire_scars", "burn_severity", "burned_by_district"} <= layers
    report = pyogrio.read_dataframe(out, layer="fire_report")
    assert "伤亡人数不在遥感数据中" in " ".join(report["note"].astype(str))
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert list(sheets)[:2] == ["森林火灾报告", "火场"]
    assert "受害森林面积（公顷）" in sheets["小班"].columns


def test_window_seams_are_unioned(fire_data):
    """Windows of 64 px cut the disc in many pieces: the scars and areas stay the same."""
    pair = [raster_source(fire_data[k], bands="B,G,R,NIR,SWIR1,SWIR2") for k in ("before", "after")]
    small = trace_burned(*pair, window=64)
    whole = trace_burned(*pair, window=4096)
    assert len(small.scars) == len(whole.scars) == 1
    assert small.scars.area.sum() == pytest.approx(whole.scars.area.sum())
    assert small.tallies["burned_pixels"] == whole.tallies["burned_pixels"]
    assert sorted(small.severity["severity"]) == sorted(whole.severity["severity"])


def test_no_burned_pixels_is_a_clean_result_with_a_finding(tmp_path):
    before, after = _pair(tmp_path, fire=False)
    layers = _layers(tmp_path)
    result = run_burned(
        before=before, after=after, out=tmp_path / "b.gpkg", bands="B,G,R,NIR,SWIR1,SWIR2",
        **layers,
    )  # fmt: skip
    assert result.damage.scars.empty
    assert "no_burned_pixels" in {f.code for f in result.findings}
    assert result.damage.grade["zh"] == "一般森林火灾"
    assert not result.findings.has_errors


def test_grade_bounds_follow_article_40():
    rules = load_fire_rules()
    grades = [fire_grade(a, rules)["code"] for a in (0.0, 0.99, 1.0, 99.9, 100.0, 999, 1000)]
    assert grades == ["general", "general", "larger", "larger", "major", "major",
                      "especially_major"]  # fmt: skip


def test_cli_burned_and_pair_on_other_grids(fire_data, tmp_path):
    runner = CliRunner()
    args = ["fire", "burned", "--bands", "B,G,R,NIR,SWIR1,SWIR2", "--lang", "zh"]
    for key in ("before", "after", "subcompartments", "districts"):
        args += [f"--{key}", str(fire_data[key])]
    res = runner.invoke(cli, [*args, "--out", str(tmp_path / "c.gpkg")])
    assert res.exit_code == 0, res.output
    assert "较大森林火灾" in res.output and "伤亡不在数据中" in res.output
    small = tmp_path / "small"
    small.mkdir()
    small_before, other = _pair(small, size=200)
    # the later image on another grid is read on the analysis grid (as check patches does)
    apart = [a if a != str(fire_data["after"]) else str(other) for a in args]
    res = runner.invoke(cli, [*apart, "--out", str(tmp_path / "d.gpkg")])
    assert res.exit_code == 0, res.output
    both = [a if a != str(fire_data["before"]) else str(small_before) for a in apart]
    res = runner.invoke(cli, [*both, "--out", str(tmp_path / "e.gpkg")])
    assert res.exit_code == 0, res.output
    codes = set(gpd.read_file(tmp_path / "d.gpkg", layer="findings")["code"])
    assert "grids_aligned" in codes
    areas = [
        gpd.read_file(tmp_path / name, layer="fire_scars")["fire_area_ha"].sum()
        for name in ("d.gpkg", "e.gpkg")
    ]
    assert areas[0] == pytest.approx(areas[1]) and areas[0] > 0


def test_cli_burned_dates_from_different_products(fire_data, tmp_path):
    """A before image of one product and an after image of another, each read with its own
    band roles (``--before-bands``/``--after-bands``), burns the same area as the one-product
    pair; ``--bands`` with a per-date option is a usage error naming both."""
    with rasterio.open(fire_data["after"]) as ds:  # the after date as float reflectance,
        data, profile = ds.read(), ds.profile  # NIR, SWIR2 and red only, as another product
    other = tmp_path / "after_reflectance.tif"
    profile.update(count=3, dtype="float32", nodata=None)
    with rasterio.open(other, "w", **profile) as dst:
        dst.write((data[[3, 5, 2]] * 1e-4).astype("float32"))
    layers = ["--subcompartments", str(fire_data["subcompartments"])]
    same = ["fire", "burned", "--bands", "B,G,R,NIR,SWIR1,SWIR2", *layers]
    same += ["--before", str(fire_data["before"]), "--after", str(fire_data["after"])]
    apart = ["fire", "burned", "--before-bands", "B,G,R,NIR,SWIR1,SWIR2", *layers]
    apart += ["--after-bands", "NIR,SWIR2,R", "--before", str(fire_data["before"])]
    apart += ["--after", str(other)]
    runner = CliRunner()
    for args, name in ((same, "same.gpkg"), (apart, "apart.gpkg")):
        res = runner.invoke(cli, [*args, "--out", str(tmp_path / name)])
        assert res.exit_code == 0, res.output
    areas = [
        gpd.read_file(tmp_path / name, layer="fire_scars")[["fire_area_ha", "forest_area_ha"]]
        for name in ("same.gpkg", "apart.gpkg")
    ]
    assert areas[0]["fire_area_ha"].sum() > 0
    assert areas[1].sum().to_numpy() == pytest.approx(areas[0].sum().to_numpy(), rel=1e-3)
    both = [*apart, "--bands", "B,G,R,NIR,SWIR1,SWIR2", "--out", str(tmp_path / "x.gpkg")]
    res = runner.invoke(cli, both)
    assert res.exit_code == 2, res.output
    assert "--bands" in res.output and "--after-bands" in res.output and "两期" in res.output
    assert not (tmp_path / "x.gpkg").exists()


def test_scar_dnbr_and_rdnbr_equal_a_direct_computation(fire_data):
    """Per-scar means (Miller & Thode RdNBR) from the strips equal numpy over the scar."""
    pair = [raster_source(fire_data[k], bands="B,G,R,NIR,SWIR1,SWIR2") for k in ("before", "after")]
    small = trace_burned(*pair, window=64)  # the disc cut by many seams
    whole = trace_burned(*pair, window=4096)
    with rasterio.open(fire_data["before"]) as b, rasterio.open(fire_data["after"]) as a:
        bands = [(s.read(4).astype(float), s.read(6).astype(float)) for s in (b, a)]
        nbr = [(nir - swir2) / (nir + swir2) for nir, swir2 in bands]
        inside = ~geometry_mask(list(whole.scars.geometry), b.shape, b.transform)
    dnbr = (nbr[0] - nbr[1])[inside]
    rel = dnbr / np.sqrt(np.maximum(np.abs(nbr[0][inside]), 0.001))
    for scars in (small.scars, whole.scars):
        (row,) = scars.itertuples()
        assert row.burned_pixels == inside.sum() == whole.tallies["burned_pixels"]
        assert row.mean_dnbr == pytest.approx(dnbr.mean(), rel=1e-4)
        assert row.mean_rdnbr == pytest.approx(rel.mean(), rel=1e-4)
        assert row.mean_rdnbr > row.mean_dnbr  # |NBR before| < 1 makes RdNBR the larger
