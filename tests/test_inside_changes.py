"""The per-pixel changes at chosen pixels equal the whole window's, value for value."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from gis.zonal import inside
from gis.zonal.inside import (
    MASK_BUFFER_PX,
    InsideOptions,
    Normaliser,
    _changes,
    _near_any,
    _shifted,
    changes_at,
    scene_bands,
)
from gis.zonal.reduce import _Dates, _halo_index, _ndvi_at, _tolerant_min


def _window(roles: tuple[str, ...], seed: int) -> tuple[dict, dict, np.ndarray]:
    """Two dates of a 60 × 70 window: canopy, a clearing, a shadow, snow, nodata, pads."""
    rng = np.random.default_rng(seed)
    shape = (60, 70)
    base = {"NIR": 0.3, "R": 0.04, "G": 0.06, "B": 0.03, "SWIR2": 0.08}
    b = {r: (base[r] * rng.uniform(0.7, 1.3, shape)).astype("f4") for r in roles}
    a = {r: (v * rng.uniform(0.8, 1.2, shape)).astype("f4") for r, v in b.items()}
    a["R"][10:25, 10:30] *= 3.0  # clearing: red and SWIR2 up, NIR down
    a["NIR"][10:25, 10:30] *= 0.6
    if "SWIR2" in a:
        a["SWIR2"][10:25, 10:30] *= 2.5
    for v in a.values():  # a cloud shadow on the after date: every band darker
        v[35:45, 40:55] *= 0.35
    if "G" in b and "SWIR2" in b:  # snow on the before date
        for r, v in (("G", 0.6), ("R", 0.55), ("NIR", 0.5), ("SWIR2", 0.05)):
            b[r][40:46, 5:12] = v
    nodata = rng.random(shape) < 0.004
    outside = np.zeros(shape, bool)
    outside[:, -3:] = True  # a window reaching past the raster
    for v in (*b.values(), *a.values()):
        v[nodata | outside] = np.nan
    return b, a, outside


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("tol", [0, 1, 2])
@pytest.mark.parametrize(
    ("roles", "dn"),
    [(("NIR", "R", "SWIR2", "G"), False), (("NIR", "R", "G", "B"), False),
     (("NIR", "R", "G", "B"), True), (("NDVI",), False)],
)  # fmt: skip
def test_changes_at_equal_the_whole_window(roles, dn, tol, dense, monkeypatch):
    if dense:  # every pixel of the window computed (many pixels asked for)
        monkeypatch.setattr(inside, "DENSE_AT", 0.0)
    b, a, outside = _window(("NIR", "R", *(r for r in roles if r not in ("NIR", "R", "NDVI"))), 3)
    if roles == ("NDVI",):
        b = {"NDVI": (b["NIR"] - b["R"]) / (b["NIR"] + b["R"])}
        a = {"NDVI": (a["NIR"] - a["R"]) / (a["NIR"] + a["R"])}
    norm = Normaliser({}, {}, shift=(("NIR", 0.05), ("R", -0.02)))
    if dn:
        limits = dict.fromkeys(b, (0.01, 0.7))
        norm = Normaliser(limits, limits, index_scale=1.6, shift=norm.shift)
    opt = InsideOptions(roles, norm, tol=tol, radiometry="dn" if dn else "reflectance")
    rng = np.random.default_rng(5)
    at = np.concatenate([rng.choice(outside.size, 900), np.arange(0, 70 * 3)])  # with edges
    got, seen = changes_at(b, a, opt, outside, at)
    sb, sa = scene_bands(b, norm.before), scene_bands(a, norm.after)
    whole = _changes(sb, sa, tol, dn=dn, shift=norm.shift)
    for key in ("loss", "gain", "d"):
        whole[key] = whole[key] * np.float32(norm.index_scale)
    invalid = ~np.isfinite(whole["d"]) & ~outside
    want_seen = ~ndimage.binary_dilation(invalid, iterations=MASK_BUFFER_PX)
    want_seen &= np.isfinite(whole["loss"])
    assert invalid.any() and not want_seen.ravel()[at].all()
    assert set(got) == set(whole)
    for key, v in whole.items():
        assert got[key].dtype == v.dtype
        np.testing.assert_array_equal(got[key], v.ravel()[at], err_msg=key)
    np.testing.assert_array_equal(seen, want_seen.ravel()[at])
    if not dn and "SWIR2" in roles:
        assert whole["obscured_before"].any() and whole["obscured_after"].any()


def test_near_any_is_the_city_block_dilation():
    rng = np.random.default_rng(2)
    for shape in ((40, 30), (3, 9), (1, 1)):
        mask = rng.random(shape) < 0.05
        mask.ravel()[[0, -1]] = True
        want = ndimage.binary_dilation(mask, iterations=2)
        np.testing.assert_array_equal(_near_any(np.flatnonzero(mask), shape, 2), want)


@pytest.mark.parametrize("every", [False, True])
@pytest.mark.parametrize("halo", [1, 2])
def test_tolerant_minimum_at_few_pixels_equals_the_whole_window(halo, every):
    rng = np.random.default_rng(halo)
    rows, cols = 40, 50
    shape = (rows + 2 * halo, cols + 2 * halo)
    before = {"NIR": rng.uniform(0.1, 0.5, shape).astype("f4")}
    before["R"] = rng.uniform(0.01, 0.1, shape).astype("f4")
    before["NIR"][rng.random(shape) < 0.05] = np.nan
    before["NIR"][10:17, 10:17] = np.nan  # a cloud: no valid pixel around (13, 13)
    before["R"][5, :] = -before["NIR"][5, :]  # NIR + R = 0: NaN NDVI
    d = _Dates(before, {}, halo)
    pos = np.arange(rows * cols) if every else rng.choice(rows * cols, 60, replace=False)
    centre = (13 - halo) * cols + 13 - halo
    at = _halo_index(d, np.concatenate([pos, [0, cols - 1, rows * cols - 1, centre]]), cols)
    whole = _ndvi_at(before, np.arange(shape[0] * shape[1])).reshape(shape)
    want = _shifted(whole, halo, np.fmin).ravel()[at]
    assert np.isnan(want).any()
    got = _tolerant_min(d, at, cols)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
