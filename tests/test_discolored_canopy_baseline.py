"""Without NIR, the stand baselines are taken over the pixels pass 2 tests (issue 16).

Pass 2 leaves out shadow and blue-bright bare ground by limits relative to the stand's
medians; pass 1 used to histogram every pixel of an R, G, B image, so in a stand with many
gaps the soil filled the lower half of the GRVI histogram, the sigma grew many-fold and a
red-brown crown there was never a candidate (robustness suite, seed 7, autumn RGB).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine

from gis.checks.discolored import detect_discolored, passes
from gis.checks.discolored.baselines import Baselines, canopy_gate, off_canopy
from gis.checks.discolored.kernels import band_positions, canopy_layers
from gis.checks.discolored.pixels import CrownRules
from gis.demo.crown_suite import (
    LOOKS,
    BuiltCase,
    SuiteCase,
    build_case,
    suite_cases,
)
from gis.findings import Findings
from gis.raster import raster_source

X0, Y0, RES, N = 500_000.0, 4_850_000.0, 0.1, 500
RED_BROWN = (250, 250, 15)  # row, col, radius in pixels (1.5 m: 7 m²)


def _base(bright, blue):
    n = len(bright)
    nan = np.full(n, np.nan)
    return Baselines(nan, nan, nan, nan, np.asarray(bright, float), nan, nan,
                     np.asarray(blue, float), np.zeros(n, np.int64), np.zeros(n, bool))  # fmt: skip


def test_second_sweep_counts_exactly_the_canopy_of_pass_two():
    rng = np.random.default_rng(3)
    values = rng.uniform(0.005, 0.2, (3, 40, 50)).astype(np.float32)
    stands = np.zeros((40, 50), dtype=np.uint16)
    stands[:, :25], stands[:, 25:] = 1, 2
    rules = CrownRules()
    base = _base([np.nan, 0.08, 0.05], [np.nan, 0.06, 0.03])
    gate = canopy_gate(base, rules)
    off = off_canopy(values, ("B", "G", "R"), stands, gate)
    invalid = np.zeros(stands.shape, dtype=bool)
    soil = np.array([rules.soil_ndvi, rules.soil_rg])
    _, _, canopy = canopy_layers(values, band_positions(("B", "G", "R")), stands, invalid,
                                 gate[0], gate[1], soil)  # fmt: skip
    assert 0 < off.sum() < off.size
    np.testing.assert_array_equal(~off, canopy)


def _gappy_scene(path):
    """One 红松 stand, R,G,B reflectance x 10 000: pines on grass, 35 % bare soil, a dead pine."""
    rng = np.random.default_rng(7)
    img = np.empty((3, N, N), dtype=np.float32)
    img[:] = np.array(LOOKS["understory"][:3], "f4")[:, None, None]
    yy, xx = np.mgrid[:N, :N]
    soil = ((yy // 50 + xx // 50) % 3 == 0) & (np.hypot(yy - 250, xx - 250) > 40)
    img[:, soil] = np.array(LOOKS["soil"][:3], "f4")[:, None]
    for r in range(25, N, 50):
        for c in range(25, N, 50):
            if not soil[r, c] and (r, c) != RED_BROWN[:2]:
                disc = np.hypot(yy - r, xx - c) < 14
                img[:, disc] = np.array(LOOKS["红松"][:3], "f4")[:, None]
    r, c, rad = RED_BROWN
    img[:, np.hypot(yy - r, xx - c) < rad] = np.array(LOOKS["red_brown"][:3], "f4")[:, None]
    img *= 1 + 0.03 * rng.standard_normal(img.shape, dtype=np.float32)
    profile = {"driver": "GTiff", "width": N, "height": N, "count": 3, "dtype": "uint16",
               "crs": "EPSG:4551", "transform": Affine(RES, 0, X0, 0, -RES, Y0 + N * RES),
               "tiled": True, "blockxsize": 256, "blockysize": 256}  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.clip(np.rint(img * 10_000), 1, 65_535).astype("uint16"))
    stands = gpd.GeoDataFrame({"stand_id": ["S1"], "dominant_species": ["红松"]},
                              geometry=[shapely.box(X0, Y0, X0 + N * RES, Y0 + N * RES)],
                              crs=4551)  # fmt: skip
    return raster_source(path, bands="B,G,R"), stands, float(soil.mean())


def _found(points):
    x, y = X0 + (RED_BROWN[1] + 0.5) * RES, Y0 + (N - RED_BROWN[0] - 0.5) * RES
    return bool((np.hypot(points.geometry.x - x, points.geometry.y - y) < 2.5).any())


def test_red_brown_crown_among_soil_gaps_is_a_point(tmp_path, monkeypatch):
    src, stands, soil_share = _gappy_scene(tmp_path / "gaps.tif")
    assert soil_share > 0.25
    res = detect_discolored(src, stands, image_date="2026-07-25", findings=Findings())
    assert _found(res.points), res.points
    assert len(res.points) == 1  # the green pines, the grass and the soil are not points
    monkeypatch.setattr(passes, "canopy_histograms", lambda plan, hists, run: hists)
    before = detect_discolored(src, stands, image_date="2026-07-25", findings=Findings())
    assert not _found(before.points)  # the old baseline over every pixel missed it


def test_suite_seed7_red_brown_crown_is_found(tmp_path):
    case = suite_cases([7])[3]
    assert (case.season, case.sensor) == ("autumn", "rgb")
    built = build_case(case, tmp_path)
    dead = built.truth[built.truth["severity"] > 0.9]
    assert len(dead) == 1
    res = detect_discolored(raster_source(built.image, bands=built.roles), built.stands,
                            findings=Findings())  # fmt: skip
    d = np.hypot(res.points.geometry.x.to_numpy() - dead["x"].iloc[0],
                 res.points.geometry.y.to_numpy() - dead["y"].iloc[0])  # fmt: skip
    assert d.min() < 2.5, d.min()


@pytest.mark.parametrize("threads", [1, 3])
def test_second_sweep_does_not_depend_on_windows_or_threads(tmp_path, threads):
    src, stands, _ = _gappy_scene(tmp_path / "gaps.tif")
    one = detect_discolored(src, stands, image_date="2026-07-25", window_size=512)
    other = detect_discolored(src, stands, image_date="2026-07-25", window_size=256,
                              threads=threads)  # fmt: skip
    assert sorted(one.points["point_id"]) == sorted(other.points["point_id"])
    assert one.stand_summary["count"].tolist() == other.stand_summary["count"].tolist()


def larch_stand_with_a_dead_pine(folder) -> BuiltCase:
    """Autumn R,G,B scene: a 落叶松 stand turning golden as a whole, one red-brown pine in it.

    Larch stands mixed tree by tree with pines (株间混交) are where a dead pine stands among
    crowns turning colour; the suite plants discolored crowns only in pine stands, and the
    pine stands it used to call "turning" did so only because their soil gaps pulled the
    median GRVI down (see the module docstring).
    """
    rng = np.random.default_rng(11)
    img = np.empty((3, N, N), dtype=np.float32)
    img[:] = np.array(LOOKS["understory_autumn"][:3], "f4")[:, None, None]
    yy, xx = np.mgrid[:N, :N]
    crowns = [(r, c, 14, "larch_orange" if (r + c) % 150 == 0 else "larch_yellow")
              for r in range(25, N, 50) for c in range(25, N, 50)]  # fmt: skip
    for r, c, rad, look in [*crowns, (*RED_BROWN, "red_brown")]:
        img[:, np.hypot(yy - r, xx - c) < rad] = np.array(LOOKS[look][:3], "f4")[:, None]
    crowns = [(X0 + (c + 0.5) * RES, Y0 + (N - r - 0.5) * RES, look)
              for r, c, _, look in [*crowns, (*RED_BROWN, "red_brown")]]  # fmt: skip
    img *= 1 + 0.03 * rng.standard_normal(img.shape, dtype=np.float32)
    path = folder / "larch.tif"
    profile = {
        "driver": "GTiff",
        "width": N,
        "height": N,
        "count": 3,
        "dtype": "uint16",
        "crs": "EPSG:4551",
        "transform": Affine(RES, 0, X0, 0, -RES, Y0 + N * RES),
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.clip(np.rint(img * 10_000), 1, 65_535).astype("uint16"))
        ds.update_tags(TIFFTAG_DATETIME="2026:10:05 10:30:00")
    stands = gpd.GeoDataFrame({"stand_id": ["L1"], "dominant_species": ["落叶松"]},
                              geometry=[shapely.box(X0, Y0, X0 + N * RES, Y0 + N * RES)],
                              crs=4551)  # fmt: skip
    frame = pd.DataFrame(crowns, columns=["x", "y", "look"])
    truth = frame[frame["look"] == "red_brown"].assign(kind="discolored", species="红松",
                                                       severity=1.0, radius=1.5)  # fmt: skip
    case = SuiteCase(0, "autumn", "rgb", RES, 0.03, 1.0, "pine_larch")
    return BuiltCase(case, path, "B,G,R", stands, truth.reset_index(drop=True), frame, path)


@pytest.mark.parametrize(("options", "warned"), [
    ({"compress": "JPEG", "photometric": "YCBCR", "jpeg_quality": 75}, True),
    ({"compress": "JPEG", "jpeg_quality": 90}, True),
    ({"compress": "deflate"}, False),
])  # fmt: skip
def test_lossy_delivery_is_a_finding(tmp_path, options, warned):
    src, stands, _ = _gappy_scene(tmp_path / "gaps.tif")
    with rasterio.open(src.path) as ds:
        dn = (ds.read()[::-1] // 16).clip(1, 255).astype("uint8")  # R,G,B, 8 bits
        profile = ds.profile | {"dtype": "uint8", **options}
    path = tmp_path / "delivered.tif"
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(dn)
    log = Findings()
    res = detect_discolored(raster_source(path, bands="R,G,B"), stands,
                            image_date="2026-07-25", findings=log)  # fmt: skip
    assert bool(log.of("lossy_delivery")) is warned
    if warned:
        assert "JPEG" in log.of("lossy_delivery")[0].message and log.of("lossy_delivery")[0].zh
    assert _found(res.points)  # a 1.5 m red-brown crown at 10 cm survives either delivery
