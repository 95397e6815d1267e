"""detect_discolored end to end: synthetic scenes, bad input, known points, previous, real RGB."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from gis.checks.discolored import detect_discolored
from gis.checks.discolored.points import point_ids
from gis.errors import RasterError, SchemaError
from gis.findings import Findings
from gis.raster import raster_source
from tests.test_crowns import DEAD, YELLOW, scene

CROWNS = [(40, 40, 6, DEAD), (40, 160, 5, DEAD), (160, 40, 7, DEAD), (100, 100, 6, YELLOW),
          (160, 160, 5, DEAD)]  # fmt: skip


def _stands(species=("红松",), crs=4551):
    geoms = [shapely.box(500_000, 4_850_000, 500_100, 4_850_100)]
    frame = gpd.GeoDataFrame(
        {"stand_id": ["S1"], "dominant_species": list(species), "forest_chief": ["张三"]},
        geometry=geoms, crs=4551,
    )  # fmt: skip
    return frame.to_crs(crs)


def test_finds_dead_crowns_not_decoys(tmp_path):
    src = scene(tmp_path / "a.tif", CROWNS)
    log = Findings()
    res = detect_discolored(src, _stands(), window_size=64, findings=log, threads=2)
    pts = res.points
    assert len(pts) == 4 and pts["is_new"].all()
    xs = sorted(np.round((pts.geometry.x - 500_000) / 0.5 - 0.5).astype(int))
    assert xs == [40, 40, 160, 160]
    assert pts["confidence"].between(0, 1).all() and (pts["ndvi"] < 0.5).all()
    assert log.of("decoys_suppressed")
    row = res.stand_summary.iloc[0]
    assert row["count"] == 4 and row["density_per_ha"] == pytest.approx(4.0)
    again = detect_discolored(src, _stands(), window_size=128, threads=1)
    assert sorted(again.points["point_id"]) == sorted(pts["point_id"])


def test_known_points_take_over_ids_and_rates(tmp_path):
    src = scene(tmp_path / "a.tif", CROWNS)
    first = detect_discolored(src, _stands()).points
    known = first.iloc[:2][["point_id", "geometry"]].copy()
    known["status"] = ["confirmed_dead_pine", "unverified"]
    known["point_id"] = ["OLD1", "OLD2"]
    far = gpd.GeoDataFrame({"point_id": ["OLD3"], "status": ["not_found"]},
                           geometry=[shapely.Point(500_050, 4_850_050)], crs=4551)  # fmt: skip
    res = detect_discolored(src, _stands(), known_points=pd_concat(known, far))
    pts = res.points.set_index("point_id")
    assert pts.loc["OLD1", "status"] == "confirmed_dead_pine" and not pts.loc["OLD1", "is_new"]
    assert not pts.loc["OLD3", "detected"] and len(pts) == 5
    rates = res.verification.set_index(["level", "key"])
    assert rates.loc[("stand_id", "S1"), "detected"] == 4
    assert rates.loc[("forest_chief", "张三"), "verified"] == 1


def pd_concat(a, b):
    import pandas as pd

    return gpd.GeoDataFrame(pd.concat([a, b], ignore_index=True), crs=a.crs)


def test_previous_marks_crowns_seen_before(tmp_path):
    src = scene(tmp_path / "a.tif", CROWNS)
    prev = scene(tmp_path / "p.tif", CROWNS[:1], seed=1)
    res = detect_discolored(src, _stands(), previous=prev)
    pts = res.points
    assert pts["is_new"].sum() == 3
    assert pts.loc[~pts["is_new"], "status_note"].tolist() == ["discolored_before"]


def test_stands_in_other_crs_are_reprojected(tmp_path):
    src = scene(tmp_path / "a.tif", CROWNS)
    log = Findings()
    res = detect_discolored(src, _stands(crs=4490), findings=log)
    assert len(res.points) == 4 and log.of("stands_reprojected")
    (moved,) = log.of("stands_reprojected")  # CRSs named as crs_label names them
    assert "小班已由 EPSG:4490（CGCS2000 经纬度）转换到影像坐标系 EPSG:" in moved.text("zh")
    assert "from EPSG:4490 (China Geodetic Coordinate System 2000) to" in moved.text("en")


def test_bad_input(tmp_path):
    src = scene(tmp_path / "a.tif", CROWNS)
    with pytest.raises(SchemaError, match="dominant species"):
        detect_discolored(src, _stands().drop(columns="dominant_species"))
    with pytest.raises(RasterError, match="no host stand"):
        detect_discolored(src, _stands(species=("杨树",)))
    with pytest.raises(RasterError, match="no host stand"):
        far = _stands()
        detect_discolored(src, far.set_geometry(far.translate(5000, 0)))
    rgb = raster_source(tmp_path / "a.tif", bands="B,NIR,SWIR1,SWIR2")
    with pytest.raises(RasterError, match="needs at least"):
        detect_discolored(rgb, _stands())


def test_all_nodata_is_an_error(tmp_path):
    path = tmp_path / "nd.tif"
    tr = rasterio.transform.from_origin(500_000, 4_850_100, 0.5, 0.5)
    with rasterio.open(path, "w", driver="GTiff", width=200, height=200, count=4,
                       dtype="uint16", crs="EPSG:4551", transform=tr, nodata=0) as ds:  # fmt: skip
        ds.write(np.zeros((4, 200, 200), "uint16"))
    with pytest.raises(RasterError, match="no valid canopy"):
        detect_discolored(raster_source(path, bands="B,G,R,NIR"), _stands())


def test_coarse_pixels_give_stand_patches(tmp_path):
    src = scene(tmp_path / "c.tif", [(20, 20, 4, DEAD)], size=50, res=10.0)
    stands = gpd.GeoDataFrame({"stand_id": ["S1"], "dominant_species": ["油松"]},
                              geometry=[shapely.box(500_000, 4_850_000, 500_500, 4_850_500)],
                              crs=4551)  # fmt: skip
    log = Findings()
    res = detect_discolored(src, stands, findings=log)
    assert res.points.empty and res.run["mode"] == "patches" and log.of("coarse_pixels")
    assert res.patches.iloc[0]["anomalous_px"] == pytest.approx(np.pi * 16, rel=0.25)


def test_point_ids_stable():
    assert point_ids([10.2], [10.2], "EPSG:4551", 2.0) == point_ids([10.6], [9.9], "EPSG:4551", 2.0)


def test_real_rgb_smoke(shared_data, tmp_path):
    path = shared_data / "deepforest_neon_crowns" / "OSBS_029.tif"
    src = raster_source(path, sensor="uav-rgb")
    b = rasterio.transform.array_bounds(src.height, src.width, src.transform)
    stands = gpd.GeoDataFrame({"stand_id": ["OSBS"], "dominant_species": ["红松"]},
                              geometry=[shapely.box(*b)], crs=src.crs_wkt)  # fmt: skip
    res = detect_discolored(src, stands)
    assert res.points.within(shapely.box(*b)).all()
    assert res.stand_summary.iloc[0]["canopy_px"] > 0.5 * src.width * src.height
    # one annotated real crown (OSBS_029.csv: x 166-225, y 253-304 px) turned red-brown,
    # its texture and shadows kept: found once, near its centre
    with rasterio.open(path) as ds:
        img, profile = ds.read().astype("f4"), ds.profile
    yy, xx = np.mgrid[0 : src.height, 0 : src.width]
    disc = ((yy - 278.5) / 25.5) ** 2 + ((xx - 195.5) / 29.5) ** 2 < 1
    img[0, disc] *= 1.8  # R up
    img[1, disc] *= 0.85  # G down
    planted = tmp_path / "osbs_red.tif"
    with rasterio.open(planted, "w", **profile) as ds:
        ds.write(np.clip(img, 0, 255).astype(profile["dtype"]))
    res = detect_discolored(raster_source(planted, sensor="uav-rgb"), stands)
    x, y = rasterio.transform.xy(src.transform, 278.5, 195.5)
    near = res.points.distance(shapely.Point(x, y)) < 1.5
    assert near.sum() == 1 and len(res.points) == 1
    # the same mosaic delivered with black fill and no nodata (edge of the flight): the fill
    # has no GRVI and stays out of the stand baseline, so it does not hide the crown
    profile.update(nodata=None)
    filled = tmp_path / "osbs_black_fill.tif"
    with rasterio.open(filled, "w", **profile) as ds:
        ds.write(np.where(xx < 250, np.clip(img, 0, 254), 0).astype(profile["dtype"]))
    res = detect_discolored(raster_source(filled, sensor="uav-rgb"), stands)
    near = res.points.distance(shapely.Point(x, y)) < 1.5
    assert near.sum() == 1 and len(res.points) == 1


def test_no_detection_gives_typed_empty_points(tmp_path):
    src = scene(tmp_path / "h.tif", [])
    res = detect_discolored(src, _stands())
    pts = res.points
    assert pts.empty and pts["is_new"].dtype == bool and pts[pts["is_new"]].crs == pts.crs
    assert res.stand_summary.iloc[0]["count"] == 0


def test_pass1_reads_every_other_strip_and_small_stands_whole(tmp_path, monkeypatch):
    """Sampled baselines match the full pass; a stand inside a skipped strip is read whole."""
    from gis.checks.discolored import host_stands, load_discolored_rules, make_plan
    from gis.checks.discolored import passes as d
    from gis.checks.discolored.baselines import baselines_from_histograms, merge_histograms
    from gis.checks.discolored.passes import stand_histograms

    src = scene(tmp_path / "s.tif", [], size=1024)
    big = shapely.box(500_000, 4_850_000, 500_512, 4_850_512)  # the whole raster
    small = shapely.box(500_010, 4_850_312, 500_060, 4_850_362)  # rows 300..400 (skipped)
    frame = gpd.GeoDataFrame({"stand_id": ["A", "B"], "dominant_species": ["红松", "油松"]},
                             geometry=[big.difference(small), small], crs=4551)  # fmt: skip
    host = host_stands(frame, hosts=("红松", "油松"), crs_wkt=src.crs_wkt, findings=Findings())
    rules = load_discolored_rules().crowns
    plan = make_plan(src, host, rules, window_size=512)
    read = []
    task = d.baseline_task
    monkeypatch.setattr(d, "baseline_task", lambda *a, **k: read.append(a[1]) or task(*a, **k))
    sampled = baselines_from_histograms(stand_histograms(plan), 2, rules=rules)
    rows = sorted({int(w.row_off) for w in read})
    assert 256 in rows and 512 in rows  # the small stand's skipped strip, and a kept one
    assert len(read) < 2 * len(plan.windows)  # most skipped strips are not read
    hists: dict = {}
    for w in plan.windows:  # the full pass: every pixel of every window
        merge_histograms(hists, task(plan, w))
    full = baselines_from_histograms(hists, 2, rules=rules)
    assert sampled.med_grvi[1] == pytest.approx(full.med_grvi[1], abs=0.002)
    assert sampled.sig_grvi[1] == pytest.approx(full.sig_grvi[1], rel=0.05)
    assert sampled.pixels[1] == pytest.approx(full.pixels[1], rel=0.05)
    assert sampled.pixels[2] == full.pixels[2] == 100 * 100
    assert not sampled.pooled[2]
