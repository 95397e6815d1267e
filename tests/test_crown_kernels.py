"""The compiled pixel loops against plain numpy statements of the same rules.

The oracles below are the detector's rules written the obvious way (whole-array numpy, as
:mod:`gis.checks.discolored.pixels` documents them); the kernels must give the same masks,
counts and histograms on windows with invalid pixels, several stands, and with or without B and NIR.
"""

from __future__ import annotations

import numpy as np
import pytest

from gis.checks.discolored.kernels import (
    anomalous_pair,
    anomalous_pixels,
    band_positions,
    canopy_layers,
    canopy_layers_raw,
    canopy_pixels,
    index_histograms,
    label_pixels,
    level_histograms,
    strip_histograms,
    strip_histograms_raw,
    vegetation_pixels,
)
from gis.checks.discolored.neighbours import window_ndvi
from gis.checks.discolored.pixels import CrownRules, pixel_layers, soil_mask
from gis.raster.kernels import to_reflectance

RULES = CrownRules()
ROLE_SETS = (("B", "G", "R", "NIR"), ("G", "R", "NIR"), ("B", "G", "R"), ("R", "G"))


def _window(roles: tuple[str, ...], seed: int, shape: tuple[int, int] = (90, 110)) -> tuple:
    """Reflectance of canopy, soil, shadow and dead crowns; 4 stands; some invalid pixels."""
    rng = np.random.default_rng(seed)
    look = {"B": 0.03, "G": 0.07, "R": 0.05, "NIR": 0.30}
    values = np.stack([np.full(shape, look[r], np.float32) for r in roles])
    values *= rng.uniform(0.6, 1.4, values.shape).astype(np.float32)
    soil = rng.random(shape) < 0.05
    dead = rng.random(shape) < 0.05
    for i, r in enumerate(roles):
        values[i][soil] = {"B": 0.12, "G": 0.13, "R": 0.14, "NIR": 0.2}[r]
        values[i][dead] *= {"B": 1.0, "G": 0.9, "R": 2.2, "NIR": 0.5}[r]
    values[:, :3] *= np.float32(0.2)  # a band of shadow
    values[:, 60:64, 20:70] = 0  # black fill (no nodata declared)
    stands = np.zeros(shape, np.uint16)
    stands[:, 10:50], stands[:, 50:80], stands[40:, 80:] = 1, 2, 3
    stands[:20, 95:] = 4
    invalid = rng.random(shape) < 0.02
    values[:, invalid] = np.nan
    return values, stands, invalid


def _per_stand(rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    return rng.uniform(lo, hi, 5).astype(np.float32)


@pytest.mark.parametrize("roles", ROLE_SETS)
def test_canopy_pixels_equal_the_numpy_rules(roles: tuple[str, ...]) -> None:
    values, stands, invalid = _window(roles, 1)
    rng = np.random.default_rng(2)
    shadow, blue_med = _per_stand(rng, 0.02, 0.04), _per_stand(rng, 0.02, 0.06)
    ratio = RULES.soil_blue_ratio if "NIR" in roles else RULES.bright_ratio
    limit = (ratio * blue_med).astype(np.float32)
    soil = np.array([RULES.soil_ndvi, RULES.soil_rg])
    grvi, canopy = canopy_pixels(
        values, band_positions(roles), stands, invalid, shadow, limit, soil
    )  # fmt: skip

    px = pixel_layers(values, roles)
    with np.errstate(invalid="ignore"):
        expected = (stands > 0) & ~invalid & (px["bright"] >= shadow[stands])
    expected &= ~soil_mask(px, blue_med[stands].astype(np.float32), RULES)
    assert 0.1 < expected.mean() < 0.95  # the scene has canopy and non-canopy
    np.testing.assert_array_equal(canopy, expected)
    np.testing.assert_array_equal(grvi, np.where(expected, px["grvi"], np.float32(0)))


@pytest.mark.parametrize("roles", ROLE_SETS)
def test_canopy_layers_give_the_canopy_ndvi_in_the_same_pass(roles: tuple[str, ...]) -> None:
    """canopy_layers = canopy_pixels plus window_ndvi (with NIR), value for value."""
    values, stands, invalid = _window(roles, 5)
    for i, role in enumerate(roles):  # NIR + R = 0 (and G = 0: not soil) at canopy pixels
        values[i, 30, 30:33] = 0.095 if role == "B" else 0
    rng = np.random.default_rng(6)
    shadow, limit = _per_stand(rng, 0.0, 0.03), _per_stand(rng, 0.1, 0.2)
    args = (values, band_positions(roles), stands, invalid, shadow, limit,
            np.array([RULES.soil_ndvi, RULES.soil_rg]))  # fmt: skip
    grvi, ndvi, canopy = canopy_layers(*args)
    want_grvi, want_canopy = canopy_pixels(*args)
    np.testing.assert_array_equal(grvi, want_grvi)
    np.testing.assert_array_equal(canopy, want_canopy)
    if "NIR" not in roles:
        assert ndvi.shape == (1, 1)
        return
    want = window_ndvi(values, roles, canopy)
    assert (want[canopy] == 1).any() == ("B" in roles) and (want[~canopy] == 0).all()
    np.testing.assert_array_equal(ndvi, want)


def _box_test_inputs(seed: int) -> tuple:
    """Pixel layers, stands, canopy (valid, in a stand), its GRVI (0 elsewhere), thresholds."""
    roles = ("B", "G", "R", "NIR")
    values, stands, invalid = _window(roles, seed)
    px = pixel_layers(values, roles)
    canopy = (stands > 0) & ~invalid
    grvi = np.where(canopy, px["grvi"], np.float32(0)).astype(np.float32)
    return px, stands, canopy, grvi, np.array([0, -0.02, 0.0, 0.02, -0.05], np.float32)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_anomalous_pair_equals_two_anomalous_pixels(size: int) -> None:
    """One pass for GRVI and NDVI gives what two passes give, value for value."""
    px, stands, canopy, grvi, thr = _box_test_inputs(7)
    ndvi = np.where(canopy, px["ndvi"], np.float32(0)).astype(np.float32)
    thr_ndvi = np.array([0, 0.6, 0.7, -np.inf, 0.72], np.float32)
    core = np.array([5, 80, 7, 100])
    got = anomalous_pair(grvi, ndvi, canopy, stands, thr, thr_ndvi, size, core, 4)
    want = anomalous_pixels(grvi, canopy, stands, thr, size, core, 4)
    want_ndvi = anomalous_pixels(ndvi, canopy, stands, thr_ndvi, size, core, 4)
    assert got[3].any() and got[0].any()
    for a, b in zip(got, [*want, *want_ndvi[:2]], strict=True):
        np.testing.assert_array_equal(a, b)


def _box_mean(values: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Mean over the mask pixels of the size box: separable numpy sums, rows then columns."""

    def box_sum(a: np.ndarray) -> np.ndarray:
        half, rows = size // 2, a.copy()
        for d in range(1, half + 1):
            rows[d:] += a[:-d]
            rows[:-d] += a[d:]
        out = rows.copy()
        for d in range(1, half + 1):
            out[:, d:] += rows[:, :-d]
            out[:, :-d] += rows[:, d:]
        return out

    total = box_sum(np.where(mask, values, np.float32(0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / box_sum(mask.astype(np.float32))


@pytest.mark.parametrize("size", [1, 3, 5])
def test_anomalous_pixels_equal_the_numpy_box_mean(size: int) -> None:
    px, stands, canopy, grvi, thr = _box_test_inputs(3)
    core = np.array([5, 80, 7, 100])
    anomalous, own, counts = anomalous_pixels(grvi, canopy, stands, thr, size, core, 4)

    mean = _box_mean(px["grvi"], canopy, size) if size > 1 else px["grvi"]
    with np.errstate(invalid="ignore"):
        expected = canopy & (mean <= thr[stands])
        expected_own = expected & (px["grvi"] <= thr[stands])
    assert 0 < expected.sum() < canopy.sum()
    np.testing.assert_array_equal(anomalous, expected)
    np.testing.assert_array_equal(own, expected_own)
    inner = (slice(5, 80), slice(7, 100))
    want = np.bincount(stands[inner][canopy[inner]], minlength=5)
    want[0] = 0
    np.testing.assert_array_equal(counts, want)


def _bins(x: np.ndarray, lo: float, hi: float, bins: int = 512) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        k = np.floor((x.astype(np.float64) - lo) / (hi - lo) * bins)
    return np.clip(np.nan_to_num(k, nan=0), 0, bins - 1).astype(np.int64)


@pytest.mark.parametrize("roles", ROLE_SETS)
def test_histograms_equal_the_numpy_statement(roles: tuple[str, ...]) -> None:
    values, stands, invalid = _window(roles, 4)
    stands = stands.astype(np.int32) * 7  # global stand numbers, not 1..k
    bands = band_positions(roles)
    grvi, ndvi, keep = vegetation_pixels(values, bands, stands, invalid, RULES.soil_ndvi)
    px = pixel_layers(values, roles)
    veg = (stands > 0) & ~invalid & np.isfinite(px["grvi"])  # black fill has no GRVI
    if "NIR" in roles:
        with np.errstate(invalid="ignore"):
            veg &= px["ndvi"] >= RULES.soil_ndvi
    np.testing.assert_array_equal(keep, veg)

    ids = np.unique(stands[stands > 0])
    slot = np.zeros(ids.max() + 1, np.int64)
    slot[ids] = np.arange(ids.size)
    out = np.zeros((ids.size, 6, 512), np.int64)
    start = np.array([1, 0])
    index_histograms(grvi, ndvi, keep, stands, slot, 3, 2, start, out)
    level_histograms(values, bands, keep, stands, slot, 4, np.array([0, 3]),
                     np.array([-16.0, 20.0]), out)  # fmt: skip

    smooth = _box_mean(px["grvi"], veg, 3)
    for k, sid in enumerate(ids):
        at = (stands == sid) & veg
        sub = np.zeros_like(at)
        sub[1::2, ::2] = at[1::2, ::2]
        want = np.bincount(_bins(smooth[sub], -1, 1), minlength=512) * 4
        np.testing.assert_array_equal(out[k, 0], want)
        if "NIR" in roles:
            want = np.bincount(_bins(px["ndvi"][sub], -1, 1), minlength=512) * 4
            np.testing.assert_array_equal(out[k, 1], want)
        else:
            assert out[k, 1].sum() == 0
        sub4 = np.zeros_like(at)
        sub4[::4, 3::4] = at[::4, 3::4]
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log2(px["green"][sub4])
        np.testing.assert_array_equal(
            out[k, 3], np.bincount(_bins(logs, -16, 20), minlength=512)
        )  # fmt: skip
        assert out[k, 2].sum() == out[k, 5].sum() == sub4.sum()


@pytest.mark.parametrize("roles", ROLE_SETS)
@pytest.mark.parametrize(("size", "rows"), [(3, 90), (5, 90), (1, 90), (3, 2), (5, 1)])
def test_strip_histograms_equal_the_three_steps(
    roles: tuple[str, ...], size: int, rows: int
) -> None:
    values, stands, invalid = _window(roles, 9)
    values, stands, invalid = values[:, :rows], stands[:rows] * 3, invalid[:rows]
    bands = band_positions(roles)
    slot = np.zeros(13, np.int64)
    slot[[3, 6, 9, 12]] = np.arange(4)
    log_range = np.array([-16.0, 20.0])
    want = np.zeros((4, 6, 512), np.int64)
    grvi, ndvi, keep = vegetation_pixels(values, bands, stands, invalid, RULES.soil_ndvi)
    index_histograms(grvi, ndvi, keep, stands, slot, size, 2, np.array([1, 0]), want)
    level_histograms(values, bands, keep, stands, slot, 4, np.array([0, 3]), log_range, want)
    got = np.zeros_like(want)
    grid = np.array([[1, 0, 2], [0, 3, 4]])
    seen = strip_histograms(values, bands, stands, invalid, RULES.soil_ndvi, slot, size, grid,
                            log_range, got)  # fmt: skip
    assert seen == keep.any()
    assert want.sum() > 0
    np.testing.assert_array_equal(got, want)


def _raw_window(roles: tuple[str, ...], dtype: str, seed: int) -> tuple:
    """Raw counts with nodata (0), NaN (float), negative values (int16) and a mask; stands."""
    rng = np.random.default_rng(seed)
    shape = (len(roles), 70, 83)
    look = {"B": 300, "G": 700, "R": 500, "NIR": 3000, "SWIR": 1500}
    raw = np.stack([np.full(shape[1:], look[r], "f8") for r in roles])
    raw *= rng.uniform(0.5, 1.5, shape)
    raw[:, rng.random(shape[1:]) < 0.1] *= np.array([1, 0.9, 2.2, 0.4, 1][: len(roles)])[:, None]
    raw[rng.random(shape) < 0.01] = 0
    raw = (raw / 20 if dtype == "uint8" else raw).astype(dtype)
    if dtype == "float32":
        raw[rng.random(shape) < 0.01] = np.nan
    if dtype == "int16":
        raw[rng.random(shape) < 0.01] *= -1
    stands = np.repeat(rng.integers(0, 5, (70, 9)).astype(np.uint16), 10, axis=1)[:, :83].copy()
    masked = rng.random(shape[1:]) < 0.02
    return raw, stands, masked


RAW_CASES = [(roles, dtype) for roles in (*ROLE_SETS, ("NIR", "R", "G", "B", "SWIR"))
             for dtype in ("uint8", "uint16", "int16", "float32")]  # fmt: skip


CONVERSIONS = [(0, 1.0, 0.0, False), (0, 1e-4, -1e-4, True), (None, 2e-4, 0.0, True)]


@pytest.mark.parametrize(("roles", "dtype"), RAW_CASES)
@pytest.mark.parametrize(("nodata", "scale", "offset", "with_mask"), CONVERSIONS)
def test_raw_kernels_equal_them_on_to_reflectance(
    roles: tuple[str, ...], dtype: str, nodata: float | None, scale: float, offset: float,
    with_mask: bool,
) -> None:  # fmt: skip
    """canopy_layers_raw / strip_histograms_raw of the counts = the kernels of the reflectance."""
    raw, stands, masked = _raw_window(roles, dtype, len(roles) + len(dtype))
    extra = masked if with_mask else None
    values, invalid = to_reflectance(raw, nodata=nodata, scale=scale, offset=offset, invalid=extra)
    conversion = np.array([nodata or 0.0, nodata is not None, scale, offset])
    none = np.zeros((1, 1), np.bool_)
    bands = band_positions(roles)
    rng = np.random.default_rng(3)
    unit = scale / (20 if dtype == "uint8" else 1)  # reflectance of one count of the looks
    shadow, limit = _per_stand(rng, 0.0, 400 * unit), _per_stand(rng, 400 * unit, 900 * unit)
    soil = np.array([RULES.soil_ndvi, RULES.soil_rg])
    want = canopy_layers(values, bands, stands, invalid, shadow, limit, soil)
    got = canopy_layers_raw(raw, bands, stands, masked if with_mask else none, conversion,
                            shadow, limit, soil)  # fmt: skip
    assert 0.05 < want[2].mean() < 0.95  # canopy and not
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
    slot, grid = np.arange(5), np.array([[1, 0, 2], [0, 3, 4]])
    log_range = np.array([-16.0, 20.0])
    for size in (1, 3, 5):
        hist_want, hist_got = np.zeros((5, 6, 512), np.int64), np.zeros((5, 6, 512), np.int64)
        seen = strip_histograms(values, bands, stands, invalid, RULES.soil_ndvi, slot, size,
                                grid, log_range, hist_want)  # fmt: skip
        got_seen = strip_histograms_raw(raw, bands, stands, masked if with_mask else none,
                                        conversion, RULES.soil_ndvi, slot, size, grid,
                                        log_range, hist_got)  # fmt: skip
        assert seen and got_seen and hist_want.sum() > 0
        np.testing.assert_array_equal(hist_got, hist_want)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32"])
def test_to_reflectance_equals_numpy(dtype: str) -> None:
    rng = np.random.default_rng(5)
    raw = rng.integers(0, 200, (3, 40, 50)).astype(dtype)
    nodata = 0
    if dtype == "float32":
        raw[1, 5, 5] = np.nan
    extra = rng.random((40, 50)) < 0.1
    values, invalid = to_reflectance(raw, nodata=nodata, scale=1e-4, offset=-0.1, invalid=extra)

    bad = (raw == nodata).any(axis=0) | np.isnan(raw.astype("f8")).any(axis=0) | extra
    want = raw.astype(np.float32) * np.float32(1e-4) + np.float32(-0.1)
    want[:, bad] = np.nan
    assert bad.any() and not bad.all()
    np.testing.assert_array_equal(invalid, bad)
    np.testing.assert_array_equal(values, want)
    plain, none = to_reflectance(raw, nodata=None, scale=1.0, offset=0.0)
    np.testing.assert_array_equal(none, np.isnan(raw.astype("f8")).any(axis=0))
    assert plain.dtype == np.float32


@pytest.mark.parametrize("pads", [(0, 0, 0, 0), (3, 0, 2, 0), (0, 4, 0, 5), (1, 2, 3, 4)])
def test_to_reflectance_pads_equal_np_pad(pads: tuple[int, int, int, int]) -> None:
    rng = np.random.default_rng(11)
    raw = rng.integers(0, 50, (3, 20, 30)).astype("uint16")
    extra = rng.random((20, 30)) < 0.1
    values, invalid = to_reflectance(raw, nodata=0, scale=1e-4, offset=0.0, invalid=extra)
    (top, bottom), (left, right) = pads[:2], pads[2:]
    want = np.pad(values, ((0, 0), (top, bottom), (left, right)), constant_values=np.nan)
    want_bad = np.pad(invalid, ((top, bottom), (left, right)), constant_values=True)
    got, got_bad = to_reflectance(raw, nodata=0, scale=1e-4, offset=0.0, invalid=extra, pads=pads)
    assert invalid.any() and not invalid.all()
    np.testing.assert_array_equal(got_bad, want_bad)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("density", [0.0, 0.003, 0.05, 0.4])
def test_label_pixels_equals_scipy_label(density: float) -> None:
    from scipy import ndimage

    rng = np.random.default_rng(6)
    mask = ndimage.binary_dilation(rng.random((120, 150)) < density / 5)
    mask[0, :] |= density > 0.3  # a component touching the first row
    rows, cols, labels, n = label_pixels(mask)

    want, n_want = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    r, c = np.nonzero(mask)
    assert n == n_want
    np.testing.assert_array_equal(rows, r)
    np.testing.assert_array_equal(cols, c)
    np.testing.assert_array_equal(labels, want[r, c])
