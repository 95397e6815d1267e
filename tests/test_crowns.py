"""Per-window crown detection: histograms, baselines, halo (a crown on an edge found once)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from rasterio.windows import Window

from gis.checks.discolored.baselines import (
    HIST_BINS,
    baselines_from_histograms,
    hist_quantile,
    merge_histograms,
    wilt_score,
    window_histograms,
)
from gis.checks.discolored.crowns import detect_window
from gis.checks.discolored.pixels import CrownRules
from gis.raster import raster_source

HEALTHY = (300.0, 600.0, 400.0, 3000.0)
DEAD = (350.0, 550.0, 750.0, 1500.0)
YELLOW = (400.0, 900.0, 800.0, 2900.0)


def scene(path, crowns, *, size=200, res=0.5, seed=0):
    """Write a 4-band B,G,R,NIR scene: noisy healthy canopy, discs of the given looks."""
    rng = np.random.default_rng(seed)
    img = np.array(HEALTHY, dtype="f4")[:, None, None] * (
        1 + 0.04 * rng.standard_normal((4, size, size))
    )
    yy, xx = np.mgrid[0:size, 0:size]
    for row, col, radius, look in crowns:
        disc = np.hypot(yy - row, xx - col) <= radius
        img[:, disc] = np.array(look, dtype="f4")[:, None]
    transform = from_origin(500_000, 4_850_000 + size * res, res, res)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 4, "dtype": "uint16"}
    with rasterio.open(path, "w", crs="EPSG:4551", transform=transform, **profile) as ds:
        ds.write(np.clip(img, 1, 60000).astype("uint16"))
    return raster_source(path, bands="B,G,R,NIR")


def _stand(src):
    b = rasterio.transform.array_bounds(src.height, src.width, src.transform)
    return [(shapely.box(*b), 1)]


def _base(src, rules):
    hists = {}
    for w in src.block_windows(64):
        merge_histograms(
            hists, window_histograms(src, w, _stand(src), roles=src.roles, rules=rules)
        )
    return baselines_from_histograms(hists, 1, rules=rules)


def test_hist_quantile_interpolates():
    hist = np.zeros(HIST_BINS)
    hist[HIST_BINS // 2] = 4
    assert hist_quantile(hist, 0.5, -1.0, 1.0) == pytest.approx(1 / HIST_BINS, abs=1e-9)
    assert np.isnan(hist_quantile(np.zeros(4), 0.5, 0.0, 1.0))


def test_baseline_is_the_healthy_canopy(tmp_path):
    rules = CrownRules()
    src = scene(tmp_path / "a.tif", [(50, 50, 6, DEAD)])
    base = _base(src, rules)
    healthy_grvi = (600 - 400) / 1000
    assert base.med_grvi[1] == pytest.approx(healthy_grvi, abs=0.01)
    assert base.pixels[1] == 200 * 200
    assert not base.pooled[1]


@pytest.mark.parametrize("split", [32, 64, 100])
def test_crown_straddling_windows_found_once(tmp_path, split):
    rules = CrownRules()
    src = scene(tmp_path / "a.tif", [(100, 100, 7, DEAD)])
    base = _base(src, rules)
    windows = [
        Window(c, r, split, split) for r in range(0, 200, split) for c in range(0, 200, split)
    ]
    found = []
    for w in windows:
        w = Window(w.col_off, w.row_off, min(split, 200 - w.col_off), min(split, 200 - w.row_off))
        res = detect_window(
            src, w, _stand(src), base, roles=src.roles, rules=rules, halo=30, pixel_m2=0.25
        )
        found.append(res.crowns)
    crowns = [c for c in found if len(c)]
    assert len(crowns) == 1 and len(crowns[0]) == 1
    crown = crowns[0].iloc[0]
    assert crown["x"] == pytest.approx(500_000 + 100.5 * 0.5, abs=0.3)
    assert crown["crown_m2"] == pytest.approx(np.pi * 7**2 * 0.25, rel=0.1)
    assert not crown["decoy"]


def test_yellow_crown_with_nir_kept_is_a_decoy(tmp_path):
    rules = CrownRules()
    src = scene(tmp_path / "a.tif", [(50, 50, 6, DEAD), (150, 150, 6, YELLOW)])
    base = _base(src, rules)
    res = detect_window(
        src, Window(0, 0, 200, 200), _stand(src), base, roles=src.roles, rules=rules,
        halo=30, pixel_m2=0.25,
    )  # fmt: skip
    assert sorted(res.crowns["decoy"].tolist()) == [False, True]
    dead = res.crowns[~res.crowns["decoy"]].iloc[0]
    assert dead["ndvi"] < 0.5 and dead["z_ndvi"] < -3


def test_wilt_score_orders_dead_above_healthy_and_gates_decoys():
    g = np.array([600, 610, 590, 605, 595] * 20 + [550, 900], dtype=float)
    r = np.array([400, 405, 395, 410, 390] * 20 + [750, 800], dtype=float)
    nir = np.array([3000, 3050, 2950, 3020, 2980] * 20 + [1500, 2900], dtype=float)
    out = wilt_score(g, r, nir)
    assert out["score"].iloc[-2] > 3 > out["score"].iloc[:100].max()
    assert bool(out["decoy"].iloc[-1]) and out["score"].iloc[-1] == -np.inf
