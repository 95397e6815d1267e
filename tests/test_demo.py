"""The demo scene: deterministic, readable, in Chinese-world formats, with truth that holds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from rasterio.features import geometry_mask

from gis.cli.main import cli
from gis.demo import DemoScene, build_demo, demo_paths
from gis.demo.patches import SCENARIOS
from gis.demo.run import fire_checks
from gis.errors import OutputExistsError


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> DemoScene:
    return build_demo(tmp_path_factory.mktemp("demo_a"))


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    out = tmp_path_factory.mktemp("demo_b") / "scene"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out), "--lang", "en"])
    return result, out


def _read(path: Path, **kwargs):
    return pyogrio.read_dataframe(path, **kwargs)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- files and formats


def test_every_layer_reads_back_with_a_crs(scene: DemoScene) -> None:
    assert set(scene.layers) >= {
        "districts",
        "forest_chief_zones",
        "subcompartments",
        "protected_areas",
        "fire_zones",
        "parks",
        "greenways",
        "villages",
        "residential",
        "permits",
        "change_patches",
    }
    for kind, path in scene.layers.items():
        kwargs = {"encoding": "GBK"} if path.suffix == ".shp" else {"layer": kind}
        frame = _read(path, **kwargs)
        assert len(frame) > 0, kind
        assert frame.crs is not None, kind
        assert frame.geometry.is_valid.all(), kind


def test_permits_are_in_epsg_4530_with_zone_prefixed_eastings(scene: DemoScene) -> None:
    permits = _read(scene.layers["permits"])
    assert permits.crs.to_epsg() == 4530
    x0, _, x1, _ = permits.total_bounds
    assert 42_000_000 < x0 < x1 < 43_000_000
    assert set(permits["许可类型"]) == {"林木采伐许可", "使用林地审核审批"}
    assert permits["审批文号"].is_unique


def test_subcompartments_are_a_gbk_shapefile_without_cpg(scene: DemoScene) -> None:
    shp = scene.layers["subcompartments"]
    assert not shp.with_suffix(".cpg").exists()
    assert shp.with_suffix(".prj").exists()
    dbf = shp.with_suffix(".dbf").read_bytes()
    assert "红松".encode("gbk") in dbf and "乔木林地".encode("gbk") in dbf
    with pytest.raises(UnicodeDecodeError):
        dbf[32:].decode("utf-8")
    frame = _read(shp, encoding="GBK")
    assert {"林班", "小班", "地类", "优势树种", "起源", "公益林", "林长"} <= set(frame.columns)
    assert all(len(c.encode("gbk")) <= 10 for c in frame.columns if c != "geometry")
    assert 300 <= len(frame) <= 800
    assert {"红松", "樟子松", "落叶松", "蒙古栎", "白桦", "杨树"} <= set(frame["优势树种"])
    assert {"乔木林地", "宜林地", "耕地", "建设用地", "水域"} <= set(frame["地类"])
    assert frame["标识码"].is_unique


def test_layers_tile_and_nest(scene: DemoScene) -> None:
    districts = _read(scene.layers["districts"])
    stands = _read(scene.layers["subcompartments"], encoding="GBK")
    zones = _read(scene.layers["forest_chief_zones"])
    box = shapely.box(*districts.total_bounds).area
    for frame in (districts, stands, zones):
        assert frame.area.sum() == pytest.approx(box, rel=1e-6)
    assert set(zones["林长级别"]) == {"村"}
    assert zones["林长"].is_unique
    assert set(stands["林长"]) <= set(zones["林长"])


# ---------------------------------------------------------------- determinism


def test_two_builds_are_identical(scene: DemoScene, cli_run: tuple[object, Path]) -> None:
    result, out = cli_run
    # 1 only when a check of another module reports errors or fails; the scene is built
    assert result.exit_code == 0 or (result.exit_code == 1 and "failed" in result.output)
    other = demo_paths(out)
    for part in (".shp", ".dbf", ".shx"):
        a = scene.layers["subcompartments"].with_suffix(part)
        assert _sha(a) == _sha(other["layers"]["subcompartments"].with_suffix(part))
    for name in ("patches", "crowns", "greenery"):
        assert _sha(scene.truth_files[name]) == _sha(other["truth_files"][name])
    for role, path in scene.rasters.items():
        with rasterio.open(path) as a, rasterio.open(other["rasters"][role]) as b:
            assert np.array_equal(a.read(), b.read()), role
    patches_a = _read(scene.layers["change_patches"])
    patches_b = _read(other["layers"]["change_patches"])
    assert patches_a.equals(patches_b)


def test_cli_prints_where_outputs_are_and_refuses_to_overwrite(
    cli_run: tuple[object, Path],
) -> None:
    result, out = cli_run
    assert "s2_after_scl" in result.output and str(out / "permits.gpkg") in result.output
    assert "validate subcompartments" in result.output
    for step in ("check patches", "detect discolored", "greenery kpi", "greenery coverage"):
        assert step in result.output
    assert (out / "results" / "patches_checked.gpkg").exists()
    assert "check patches (S2 .SAFE)" in result.output  # the after date as a product
    assert (out / "results" / "patches_checked_s2_safe.gpkg").exists()
    assert len(list((out / "delivered").glob("S2B_MSIL2A_*.zip"))) == 1
    assert "Built in" in result.output
    again = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert again.exit_code == 3
    assert "--overwrite" in again.output


def test_fire_steps_run_and_score_against_their_truth(cli_run: tuple[object, Path]) -> None:
    result, out = cli_run
    lines = {
        ln.split()[1]: ln for ln in result.output.splitlines() if ln.strip().startswith("fire ")
    }
    assert set(lines) == {"hotspots", "burned", "coverage"}  # hotspots: its own test
    assert "clean" in lines["burned"] and "larger forest fire" in lines["burned"]
    assert "towers off the DEM ['L4'] (truth ['L4'])" in lines["coverage"]
    for line in (lines["burned"], lines["coverage"]):  # every area within 5 % of the truth
        errors = [float(p.split("%")[0]) for p in line.split("(")[1:] if "%" in p.split(")")[0]]
        assert errors and all(abs(e) < 5 for e in errors), line
    assert (out / "results" / "fire_burned.gpkg").exists()
    assert (out / "results" / "fire_coverage.gpkg").exists()
    report = next(ln for ln in result.output.splitlines() if ln.strip().startswith("report fire"))
    assert "clean" in report, report
    assert "受害森林面积" in (out / "reports" / "fire_report.html").read_text(encoding="utf-8")


def test_fire_coverage_is_skipped_without_gdal_viewshed(
    scene: DemoScene, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a fresh machine has no GDAL command-line programs: the demo still passes, saying why
    monkeypatch.setattr("gis.checks.fire.viewshed.shutil.which", lambda name: None)
    steps = {s.name: s for s in fire_checks(scene, overwrite=True)}
    assert steps["fire coverage"].status == "skipped"
    assert "apt-get install gdal-bin" in steps["fire coverage"].detail
    assert steps["fire coverage"].ok
    assert steps["fire burned"].status == "clean"


def test_existing_outputs_are_kept_without_overwrite(scene: DemoScene) -> None:
    before = _sha(scene.rasters["s2_after"])
    with pytest.raises(OutputExistsError):
        build_demo(scene.out_dir)
    assert _sha(scene.rasters["s2_after"]) == before


# ---------------------------------------------------------------- change patches


def test_patches_cover_every_interpreted_cause(scene: DemoScene) -> None:
    patches = _read(scene.layers["change_patches"])
    assert len(patches) >= 60
    assert set(patches["PAN_BHYY"]) == {1, 2, 3, 4, 5, 6, 7}
    assert patches["TBBH"].is_unique
    assert {"TBBH", "XIAN", "XIANG", "CUN", "QQYXSJ", "HQYXSJ", "MIAN_JI", "PAN_BHYY"} <= set(
        patches.columns
    )
    truth = scene.truth["patches"]
    assert list(truth["patch_id"]) == list(patches["TBBH"])
    assert set(truth["change_type"]) == {
        "logging",
        "construction",
        "cultivation",
        "disaster",
        "afforestation",
        "other_loss",
        "other_gain",
        "none",
    }
    assert set(truth["legality"]) == {
        "permitted",
        "suspected_illegal",
        "lawful_no_permit",
        "not_forest_land",
        "no_change",
        "needs_field_check",
    }
    assert {20, 41, 42, 50, 71, 11, 73, 82, 92, 93} <= set(truth["verified_cause_code"])
    assert len(truth) == sum(s.count for s in SCENARIOS)


def test_truth_csv_keeps_patch_ids_as_text(scene: DemoScene) -> None:
    table = pd.read_csv(scene.truth_files["patches"], dtype=str)
    assert table["patch_id"].str.fullmatch(r"\d{4}").all()
    assert table["patch_id"].iloc[0] == "0001"


def test_permits_cover_what_the_truth_says(scene: DemoScene) -> None:
    patches = _read(scene.layers["change_patches"]).set_index("TBBH")
    permits = _read(scene.layers["permits"]).to_crs(patches.crs).set_index("审批文号")
    truth = scene.truth["patches"].set_index("patch_id")
    assert (truth["permit_kind"] == "cutting_expired").sum() >= 2
    for pid, row in truth[truth["permit_ids"].fillna("") != ""].iterrows():
        patch = patches.geometry[pid]
        share = patch.intersection(permits.geometry[row["permit_ids"]]).area / patch.area
        if row["permit_kind"] == "cutting_partial":
            assert 0.2 < share < 0.6, pid
        else:
            assert share > 0.99, pid
        expired = permits.loc[row["permit_ids"], "有效期止"] < "2025-09-05"
        assert expired == row["permit_kind"].endswith("expired"), pid


def _ndvi(path: Path) -> tuple[np.ndarray, object]:
    with rasterio.open(path) as src:
        red, nir = (src.read(i).astype("f8") for i in (3, 5))
        valid = (red > 0) & (nir > 0)
        red, nir = (red - 1000) / 10_000, (nir - 1000) / 10_000
        return np.where(valid, (nir - red) / (nir + red), np.nan), src.transform


def _mean_in(array: np.ndarray, geom, transform) -> float:
    inside = ~geometry_mask([geom], out_shape=array.shape, transform=transform)
    return float(np.nanmean(array[inside]))


@pytest.fixture(scope="module")
def dndvi(scene: DemoScene) -> tuple[np.ndarray, object]:
    before, t = _ndvi(scene.rasters["s2_before"])
    after, _ = _ndvi(scene.rasters["s2_after"])
    return after - before, t


def test_logging_shows_as_an_ndvi_drop_against_its_ring(scene: DemoScene, dndvi) -> None:
    diff, t = dndvi
    patches = _read(scene.layers["change_patches"])
    truth = scene.truth["patches"]
    logging_rows = np.flatnonzero((truth["change_type"] == "logging") & ~truth["hidden_by_cloud"])
    assert len(logging_rows) >= 10
    for k in logging_rows:
        geom = patches.geometry.iloc[k]
        ring = geom.buffer(150.0).difference(geom.buffer(30.0))
        inside, around = _mean_in(diff, geom, t), _mean_in(diff, ring, t)
        assert inside < around - 0.25, truth["patch_id"].iloc[k]


def test_phenology_shift_is_scene_wide_and_cancels_in_the_ring(scene: DemoScene, dndvi) -> None:
    diff, t = dndvi
    patches = _read(scene.layers["change_patches"])
    truth = scene.truth["patches"]
    rows = np.flatnonzero(truth["scenario"] == "false_phenology")
    for k in rows:
        geom = patches.geometry.iloc[k]
        ring = geom.buffer(150.0).difference(geom.buffer(30.0))
        inside, around = _mean_in(diff, geom, t), _mean_in(diff, ring, t)
        assert -0.12 < inside < -0.03
        assert abs(inside - around) < 0.04


def test_scl_covers_the_cloud_patches_and_only_them(scene: DemoScene) -> None:
    patches = _read(scene.layers["change_patches"])
    truth = scene.truth["patches"]
    with rasterio.open(scene.rasters["s2_after_scl"]) as src:
        scl, t = src.read(1), src.transform
        assert src.dtypes[0] == "uint8"
    with rasterio.open(scene.rasters["s2_after"]) as src:
        assert src.descriptions == ("B2", "B3", "B4", "B5", "B8", "B11", "B12")
        assert src.transform == t and src.nodata == 0
    assert set(np.unique(scl)) == {0, 3, 4, 5, 6, 8, 9, 10}
    masked = np.isin(scl, (3, 8, 9, 10)).astype("f8")
    for k, geom in enumerate(patches.geometry):
        share = _mean_in(masked, geom, t)
        scenario = truth["scenario"].iloc[k]
        if truth["hidden_by_cloud"].iloc[k]:
            assert share > 0.95, scenario
            assert truth["legality"].iloc[k] == "needs_field_check"
        elif scenario in ("false_cloud", "false_shadow"):
            assert 0.15 < share < 0.5, scenario
        else:
            assert share == 0.0, scenario


def test_after_date_is_misregistered_by_one_pixel(scene: DemoScene) -> None:
    with rasterio.open(scene.rasters["s2_after"]) as src:
        b8 = src.read(5)
    assert (b8[0] == 0).all() and (b8[:, 0] == 0).all()
    assert (b8[1:, 1:] > 0).all()
    assert scene.meta["misregistration_px"] == (1, 1)


# ---------------------------------------------------------------- crowns


def test_crown_truth_and_the_images_agree(scene: DemoScene) -> None:
    crowns = scene.truth["crowns"]
    kinds = crowns["kind"].value_counts()
    assert kinds["discolored"] >= 150
    assert {"already_dead", "decoy_larch", "decoy_broadleaf"} <= set(kinds.index)
    assert crowns["crown_d_m"].between(3.0, 7.0).all()
    with (
        rasterio.open(scene.rasters["uav_current"]) as cur,
        rasterio.open(scene.rasters["uav_previous"]) as prev,
    ):
        assert cur.res == (0.5, 0.5) and cur.count == 4 and cur.dtypes[0] == "uint16"
        assert max(cur.width, cur.height) <= 3000
        rows, cols = rasterio.transform.rowcol(cur.transform, crowns["x"], crowns["y"])
        now, then = cur.read()[:, rows, cols], prev.read()[:, rows, cols]
    red_now, nir_now, nir_then = now[2], now[3], then[3]
    disc = (crowns["kind"] == "discolored").to_numpy()
    larch = (crowns["kind"] == "decoy_larch").to_numpy()
    dead = (crowns["kind"] == "already_dead").to_numpy()
    assert np.median(nir_now[disc] / nir_then[disc]) < 0.8
    assert np.median(red_now[disc] / then[2][disc]) > 1.5
    assert np.median(nir_now[larch] / nir_then[larch]) > 0.85
    assert np.median(red_now[larch] / then[2][larch]) > 1.5
    assert np.median(nir_then[dead]) < 0.2 * 10_000


# ---------------------------------------------------------------- greening and dirty data


def test_greening_layers_and_truth(scene: DemoScene) -> None:
    parks = _read(scene.layers["parks"])
    assert {"综合公园", "社区公园", "专类公园", "游园"} == set(parks["公园类别"])
    building = parks[parks["建设状态"] == "在建"]
    assert sorted(building["建设进度"]) == [20, 26, 50]
    greenways = _read(scene.layers["greenways"])
    assert greenways.geom_type.eq("LineString").all()
    residential = _read(scene.layers["residential"])
    assert residential["人口"].gt(0).all()
    truth = scene.truth["greenery"].set_index("indicator")["value"]
    assert truth["parks_under_construction"] == 3
    assert 0.2 < truth["park_500m_area_share"] < 1.0


def test_dirty_delivery_has_the_planted_defects(scene: DemoScene) -> None:
    dirty = _read(scene.dirty["change_patches"])
    truth = scene.truth["dirty"]
    assert len(dirty) == len(truth)
    assert dirty["TBBH"].duplicated().sum() >= 2
    assert (~dirty.geometry.is_valid).sum() == 1
    assert (dirty["PAN_BHYY"] == 9).sum() == 1
    no_dates = _read(scene.dirty["permits_no_dates"])
    assert "有效期起" not in no_dates.columns


def test_scores_of_a_perfect_check(scene: DemoScene) -> None:
    from gis.demo.score import score_crowns, score_patches

    truth = scene.truth["patches"]
    assert score_patches(truth, truth) == {
        "n": len(truth), "real_change": 1.0, "change_type": 1.0, "legality": 1.0, "wrong": [],
    }  # fmt: skip
    crowns = scene.truth["crowns"]
    perfect = crowns[crowns["kind"] == "discolored"][["x", "y"]] + 0.7
    score = score_crowns(perfect, crowns)
    assert score["precision"] == score["recall"] == 1.0
    assert score["decoy_larch_reported"] == 0


def test_hotspots_are_a_firms_download_with_truth(scene: DemoScene) -> None:
    """Every kind is planted where it is unmistakable; the check finds each (run on the scene)."""
    from gis.demo.run import fire_hotspots

    firms = pd.read_csv(scene.downloads["hotspots"], dtype=str)
    assert list(firms.columns[:7]) == [
        "latitude", "longitude", "bright_ti4", "scan", "track", "acq_date", "acq_time",
    ]  # fmt: skip
    truth = scene.truth["hotspots"]
    assert set(truth["fire_kind"]) == {"forest_fire", "agricultural_burning", "industrial", "other"}
    assert truth["event"].value_counts()["jingyue_fire"] == 3
    sources = pyogrio.read_dataframe(scene.layers["heat_sources"])
    assert sources["类型"].tolist() == ["砖窑"]
    step = fire_hotspots(scene, overwrite=True)
    assert step.status == "clean", step.detail
    assert "判定 100.0%（共 9 个），事件归并 100.0%（6 起事件，真值 6 起）" in step.detail


# ---------------------------------------------------------------- inputs of the README tour


def test_tour_inputs_are_made_from_the_scene(scene: DemoScene) -> None:
    import json

    import networkx as nx

    from gis.checks.greenery.network import road_network
    from gis.gcj02 import gcj02_to_wgs84

    roads = _read(scene.tour["roads"])
    assert set(roads["道路等级"]) == {"城市道路", "林区道路"}
    assert nx.is_connected(road_network(roads.geometry.to_numpy()).graph)  # noded
    with rasterio.open(scene.tour["ortho_rgba"]) as src:
        assert src.count == 4 and src.dtypes[0] == "uint8"
        assert src.colorinterp[3] == rasterio.enums.ColorInterp.alpha
        rgba = src.read()
    outside = rgba[3] == 0
    assert 0.05 < outside.mean() < 0.5 and (rgba[3][~outside] == 255).all()
    assert (rgba[:3, outside] == 0).all() and (rgba[:3, ~outside] > 0).all()
    earlier = _read(scene.tour["earlier_points"])
    assert earlier.crs.to_epsg() == 4490 and earlier["点位编号"].is_unique
    crowns = scene.truth["crowns"]
    assert len(earlier) == (crowns["kind"] == "already_dead").sum() + 12
    doc = json.loads(scene.tour["districts_gcj02"].read_text(encoding="utf-8"))
    districts = _read(scene.layers["districts"]).to_crs("EPSG:4326")
    for feature, geom in zip(doc["features"], districts.geometry, strict=True):
        ring = np.asarray(feature["geometry"]["coordinates"][0])
        lon, lat = gcj02_to_wgs84(ring[:, 0], ring[:, 1])
        truth = np.asarray(geom.exterior.coords)
        assert np.abs(np.column_stack([lon, lat]) - truth).max() < 1e-5
        assert np.abs(ring - truth).max() > 1e-3  # shifted by hundreds of metres
