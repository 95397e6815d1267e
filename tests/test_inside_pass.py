"""Issue 17: the inside-patch statistics computed in the windowed pass equal, value for value,
those of the per-patch reference (:func:`gis.zonal.inside.inside_stats`), and the change sums
of the same pass are unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from rasterio.warp import transform

from gis.crs import WORKING_CRS
from gis.io import write_geotiff
from gis.raster import raster_source
from gis.zonal import COLUMNS, change_stats, inside_pass
from gis.zonal.inside import (
    COMBINED_LOSS,
    INSIDE_COLUMNS,
    RED_RISE,
    SWIR_RISE,
    InsideOptions,
    Normaliser,
    inside_stats,
)

X0, Y0, PX = 500_000.0, 4_850_000.0, 10.0
ROWS, COLS = 230, 270  # not a multiple of the windows: partial windows at the edges


def _scene(tmp_path, bands):
    """A forest pair with clearings, a fire scar, a cloud (nodata) and noise; 16² blocks."""
    rng = np.random.default_rng(17)
    r = rng.uniform(0.03, 0.06, (ROWS, COLS))
    nir = rng.uniform(0.28, 0.4, (ROWS, COLS))
    swir = rng.uniform(0.05, 0.09, (ROWS, COLS))
    before = np.stack([r, nir, swir]).astype("f4")
    after = (before * rng.uniform(0.95, 1.05, before.shape)).astype("f4")
    for c, w in ((30, 25), (120, 40), (200, 60)):  # clearings: red and SWIR2 up, NIR down
        after[:, 40 : 40 + w, c : c + w] = np.array([0.12, 0.22, 0.2], "f4")[:, None, None]
    after[:, 150:200, 10:70] = np.array([0.06, 0.1, 0.22], "f4")[:, None, None]  # burned
    after[:, 100:115, 150:190] = -1.0  # a cloud masked as nodata
    before[:, 0:3, :] = -1.0  # a nodata strip on the raster's top edge
    out = []
    keep = [("R", "NIR", "SWIR2").index(b) for b in bands.split(",")]
    for name, arr in (("before", before), ("after", after)):
        path = tmp_path / f"{name}.tif"
        write_geotiff(path, arr[keep], transform=Affine(PX, 0, X0, 0, -PX, Y0), crs=WORKING_CRS,
                      nodata=-1.0, blocksize=16)  # fmt: skip
        out.append(raster_source(path, bands=bands))
    return out


def _patches(n=160):
    """Random 12-gons of 2-25 px radius, some overlapping, some across the raster's edges."""
    rng = np.random.default_rng(3)
    cx = X0 + rng.uniform(-10, COLS + 10, n) * PX
    cy = Y0 - rng.uniform(-10, ROWS + 10, n) * PX
    rad = rng.uniform(2, 25, n) * PX
    ang = np.sort(rng.uniform(0, 2 * np.pi, (n, 12)), axis=1)
    k = rng.uniform(0.6, 1.3, (n, 12))
    xs, ys = (
        cx[:, None] + rad[:, None] * k * np.cos(ang),
        cy[:, None] + rad[:, None] * k * np.sin(ang),
    )
    ring = np.stack([xs, ys], axis=-1)
    geoms = shapely.make_valid(shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1)))
    geoms = geoms[np.isin(shapely.get_type_id(geoms), (3, 6))]
    geoms[5] = shapely.box(X0 + 20 * PX, Y0 - 220 * PX, X0 + 250 * PX, Y0 - 120 * PX)  # large
    return np.asarray(geoms, dtype=object)


def _frame(geoms):
    import geopandas as gpd

    return gpd.GeoDataFrame(geometry=list(geoms), crs=WORKING_CRS)


@pytest.mark.parametrize(
    ("bands", "radiometry", "tol"),
    [("R,NIR,SWIR2", "reflectance", 1), ("R,NIR", "reflectance", 1), ("R,NIR,SWIR2", "dn", 2)],
)
def test_windowed_pass_equals_the_per_patch_reference(
    tmp_path, monkeypatch, bands, radiometry, tol
):
    before, after = _scene(tmp_path, bands)
    geoms = _patches()
    monkeypatch.setattr(inside_pass, "MAX_MARGIN_PX", 24)  # the large patch goes on its own
    opt = InsideOptions.of(before, after, tolerance_px=tol, radiometry=radiometry)
    kw = {"tolerance_px": tol, "window_px": 64}
    both = change_stats(_frame(geoms), before, after, inside=opt, **kw)
    sums = change_stats(_frame(geoms), before, after, **kw)
    ref = inside_stats(geoms, before, after, tolerance_px=tol, radiometry=radiometry)
    pd.testing.assert_frame_equal(both[list(COLUMNS)], sums, check_exact=True)
    pd.testing.assert_frame_equal(both[list(INSIDE_COLUMNS)], ref, check_exact=True)
    assert (ref["seen_px"] > 0).sum() > 100  # most patches see pixels
    assert (ref["loss_share"] > 0.5).any() and ref["seen_px"].eq(0).any()


def test_a_patch_off_the_raster_has_the_reference_empty_row(tmp_path):
    before, after = _scene(tmp_path, "R,NIR,SWIR2")
    far = shapely.box(X0 - 900 * PX, Y0 + 100 * PX, X0 - 800 * PX, Y0 + 200 * PX)
    geoms = np.array([far, shapely.box(X0 + 50 * PX, Y0 - 60 * PX, X0 + 70 * PX, Y0 - 50 * PX)])
    out = change_stats(_frame(geoms), before, after, inside=InsideOptions.of(before, after))
    ref = inside_stats(geoms, before, after)
    pd.testing.assert_frame_equal(out[list(INSIDE_COLUMNS)], ref, check_exact=True)
    assert out.loc[0, "seen_px"] == 0 and np.isnan(out.loc[0, "largest_loss_px"])


@pytest.mark.parametrize("crs", ["same", "utm"])
def test_a_date_on_another_grid_is_read_through_its_warp(tmp_path, crs):
    before, _ = _scene(tmp_path, "R,NIR,SWIR2")
    rng = np.random.default_rng(2)
    coarse = rng.uniform(0.03, 0.4, (3, ROWS // 2 + 40, COLS // 2 + 40)).astype("f4")
    x0, y0, target = X0, Y0, WORKING_CRS
    if crs == "utm":  # UTM 51N: the warper, whose values depend on the request
        target = "EPSG:32651"
        (x0,), (y0,) = transform("EPSG:4551", target, [X0], [Y0])
        x0, y0 = x0 - 300.0, y0 + 300.0
    path = tmp_path / "after_20m.tif"
    write_geotiff(path, coarse, transform=Affine(2 * PX, 0, x0, 0, -2 * PX, y0), crs=target,
                  nodata=-1.0, blocksize=16)  # fmt: skip
    after = raster_source(path, bands="R,NIR,SWIR2")
    geoms = _patches(40)
    opt = InsideOptions.of(before, after)
    out = change_stats(_frame(geoms), before, after, inside=opt, window_px=64)
    sums = change_stats(_frame(geoms), before, after, window_px=64)
    pd.testing.assert_frame_equal(out[list(COLUMNS)], sums, check_exact=True)
    assert (out["seen_px"] > 0).sum() > 20 and out["n_pixels"].sum() > 0


def test_group_medians_are_numpy_medians_per_patch():
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 40, 60)
    ids = np.repeat(np.arange(60), counts)
    values = rng.normal(size=ids.size).astype(np.float32)
    values[::13] = np.round(values[::13], 1)  # ties
    values[::17] = np.inf
    values[5::19] = -np.inf
    got = inside_pass._group_median(ids, values, 60)
    want = [np.median(values[ids == i]) if n else np.nan for i, n in enumerate(counts)]
    np.testing.assert_array_equal(got, np.array(want, dtype=np.float64))
    wide = values.astype(np.float64)  # other dtypes: the lexsort path
    want = [np.median(wide[ids == i]) if n else np.nan for i, n in enumerate(counts)]
    np.testing.assert_array_equal(inside_pass._group_median(ids, wide, 60), np.array(want))


def test_pairs_are_classified_as_the_numpy_expression():
    rng = np.random.default_rng(3)
    n, k = 4000, 30
    ids = np.sort(rng.integers(0, k, n))
    ring = np.sort(rng.integers(0, k, n // 2))
    pos, ring_pos = rng.integers(0, n, n), rng.integers(0, n, n // 2)
    flat = {
        key: (rng.normal(size=n) * 0.3).astype(np.float32)
        for key in ("loss", "gain", "nbr_loss", "swir_rise", "red_rise")
    }
    flat["loss"][::50] = np.nan
    flat["red_rise"][::70] = np.inf
    opt = InsideOptions(("NIR", "R", "SWIR2"), Normaliser({}, {}), drop=0.15, nbr_drop=0.1)
    lost, gained = inside_pass._classify_pairs(flat, ids, pos, ring, ring_pos, k, opt)

    def beyond(key, floor):
        v = flat[key]
        ok = np.isfinite(v[ring_pos])
        med = inside_pass._group_median(ring[ok], v[ring_pos][ok], k)
        enough = np.bincount(ring, minlength=k) >= 8
        shift = np.where(enough & np.isfinite(med), med, 0.0).astype(np.float32)
        return (v[pos] - shift[ids]) / np.float32(floor)

    with np.errstate(invalid="ignore"):
        stack = [
            -beyond("loss", 0.15),
            -beyond("nbr_loss", 0.1),
            beyond("swir_rise", SWIR_RISE),
            beyond("red_rise", RED_RISE),
        ]
        terms = np.nan_to_num(np.clip(np.stack(stack), 0, None))
        want_lost = (terms.max(axis=0) >= 1.0) | (terms.sum(axis=0) >= COMBINED_LOSS)
        want_gained = (beyond("gain", 0.15) >= 1.0) & ~want_lost
    np.testing.assert_array_equal(lost, want_lost)
    np.testing.assert_array_equal(gained, want_gained)
    assert lost.any() and gained.any() and not lost.all()
