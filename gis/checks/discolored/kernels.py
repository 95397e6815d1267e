"""Compiled per-pixel loops of the discolored-tree detection (变色立木; numba).

Both passes of :mod:`gis.checks.discolored.passes` look at every pixel of every window. Written as
numpy expressions that is some thirty whole-array passes (indices, masks, gathers of the
stand thresholds, a box filter), each streaming the window through memory; here each pass is
one loop that computes a pixel's indices once and keeps them in registers. The kernels are
compiled by :func:`gis.compiled.jit` (on first use, cached on disk where possible) and release
the GIL, so the detector's threads and Dask workers run them in parallel. Pass 1 runs as one
sweep (:func:`strip_histograms`: the steps :func:`vegetation_pixels`,
:func:`index_histograms` and :func:`level_histograms` row by row, the box rows in a ring),
which halves its compute against the three whole-strip steps.

The rules are those documented in :mod:`gis.checks.discolored.pixels`
(:class:`~gis.checks.discolored.pixels.CrownRules`):
:func:`soil_pixel` is the one definition of the soil/road/water test (the array form
:func:`~gis.checks.discolored.pixels.soil_mask` calls it too); indices are ``(a - b) / (a + b)`` in
float32 as :func:`gis.indices.normalized_difference`; the crown-scale smoothing
(``smooth_px``) is the mean of GRVI over the canopy pixels of the box around a pixel.

Band positions are given as ``(B, G, R, NIR)`` indices into the window's first axis, ``-1``
for a band the sensor does not have.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gis.compiled import jit, vectorize

HIST_QUANTITIES = 6
"""Histogram rows of pass 1: smoothed GRVI, NDVI, then log2 of brightness, G, NIR and B."""


@jit
def normalized_difference_px(a: float, b: float) -> float:
    """Return ``(a - b) / (a + b)`` of one pixel in the inputs' precision (NaN if a + b = 0).

    Examples
    --------
    >>> float(normalized_difference_px(np.float32(3), np.float32(1)))
    0.5
    """
    total = a + b
    if total == 0:
        return np.nan
    return (a - b) / total


@jit
def soil_pixel(
    ndvi: float, blue: float, red: float, green: float, blue_limit: float, soil_ndvi: float,
    soil_rg: float,
) -> bool:  # fmt: skip
    """Bare soil, road or water (with NIR): NDVI below ``soil_ndvi`` and blue-bright or not red.

    ``blue_limit`` is ``soil_blue_ratio`` × the stand's median blue. A red-brown dead crown
    is dark in blue and red (R/G >= ``soil_rg``), so it stays canopy however low its NDVI.

    Examples
    --------
    >>> soil_pixel(0.1, 0.30, 0.20, 0.20, 0.10, 0.3, 1.3)  # bright in blue: a road
    True
    >>> soil_pixel(0.1, 0.03, 0.30, 0.15, 0.10, 0.3, 1.3)  # dark blue, red: a dead crown
    False
    """
    if ndvi >= soil_ndvi:
        return False
    if blue >= blue_limit:
        return True
    return red / green < soil_rg  # G = 0 gives inf or NaN: not soil, as rg_ratio's NaN


@vectorize
def soil_array(
    ndvi: Any, blue: Any, red: Any, green: Any, blue_limit: Any, soil_ndvi: Any, soil_rg: Any
) -> Any:
    """:func:`soil_pixel` over arrays (a numpy ufunc: broadcasts, any float dtype)."""
    return soil_pixel(ndvi, blue, red, green, blue_limit, soil_ndvi, soil_rg)


@jit
def _brightness(values: Any, bands: Any, i: int, j: int) -> Any:
    """Mean of the visible bands present (B, G, R), float32 like ``pixel_layers``."""
    g, r = values[bands[1], i, j], values[bands[2], i, j]
    if bands[0] < 0:
        return (g + r) / np.float32(2)
    return (values[bands[0], i, j] + g + r) / np.float32(3)


@jit
def canopy_pixels(
    values: Any, bands: Any, stands: Any, invalid: Any, shadow: Any, blue_limit: Any,
    soil: Any,
) -> tuple[Any, Any]:  # fmt: skip
    """Pass 2, step 1: per-pixel GRVI (0 outside the canopy) and the canopy mask of a window.

    Canopy = in a host stand, valid, not shadow (brightness >= ``shadow[stand]``) and not
    soil (:func:`soil_pixel` with NIR, else blue > ``blue_limit[stand]``). ``soil`` holds
    ``(soil_ndvi, soil_rg)``; ``shadow`` and ``blue_limit`` are float32 per local stand.
    """
    grvi, _, canopy = canopy_layers(values, bands, stands, invalid, shadow, blue_limit, soil)
    return grvi, canopy


@jit
def canopy_layers(
    values: Any, bands: Any, stands: Any, invalid: Any, shadow: Any, blue_limit: Any,
    soil: Any,
) -> tuple[Any, Any, Any]:  # fmt: skip
    """:func:`canopy_pixels` and, with NIR, the canopy NDVI in the same pass: grvi, ndvi, canopy.

    NDVI is that of :func:`gis.checks.discolored.neighbours.window_ndvi`: 0 outside the
    canopy, 1 where NIR + R = 0; without NIR a 1 × 1 array. Each row is taken in runs of one
    stand (:func:`_canopy_row`).
    """
    grvi, ndvi, canopy = _canopy_arrays(stands, bands)
    for i in range(stands.shape[0]):
        _canopy_row(values[:, i], bands, stands[i], invalid[i], (shadow, blue_limit, soil),
                    grvi[i], ndvi[i] if bands[3] >= 0 else ndvi[0], canopy[i])  # fmt: skip
    return grvi, ndvi, canopy


@jit
def canopy_layers_raw(
    raw: Any, bands: Any, stands: Any, extra: Any, conversion: Any, shadow: Any,
    blue_limit: Any, soil: Any,
) -> tuple[Any, Any, Any]:  # fmt: skip
    """:func:`canopy_layers` of the raw pixels a file stores, converted row by row here.

    ``raw`` (bands, rows, cols) holds the file's values (any type); ``extra`` is the mask of
    pixels invalid by other rules (GDAL or raster masks, outside the raster), a 1 × 1 array
    when there is none; ``conversion`` is ``(nodata, has nodata, scale, offset)``. A pixel is
    invalid where ``extra`` is set or any band is NaN or nodata; the values are
    ``float32(raw) * scale + offset`` — what :func:`gis.raster.kernels.to_reflectance` gives,
    so the result is :func:`canopy_layers` of its arrays, value for value, without a float
    copy of the window. Only the runs of a row inside host stands are converted (the rules
    read nothing else).
    """
    grvi, ndvi, canopy = _canopy_arrays(stands, bands)
    h, w = stands.shape
    nodata, has_nodata = conversion[0], conversion[1] != 0
    scale, offset = np.float32(conversion[2]), np.float32(conversion[3])
    rows = np.empty((raw.shape[0], w), dtype=np.float32)
    bad = np.empty(w, dtype=np.bool_)
    ends = np.empty(w, dtype=np.int64)
    for i in range(h):
        if extra.shape == stands.shape:
            bad[:] = extra[i]
        else:
            bad[:] = False
        j = 0
        for e in ends[: _runs(stands[i], ends)]:
            if stands[i, j] != 0:
                for k in range(raw.shape[0]):
                    _raw_row(raw[k, i, j:e], nodata, has_nodata, scale, offset, rows[k, j:e],
                             bad[j:e])  # fmt: skip
            j = e
        _canopy_row(rows, bands, stands[i], bad, (shadow, blue_limit, soil), grvi[i],
                    ndvi[i] if bands[3] >= 0 else ndvi[0], canopy[i])  # fmt: skip
    return grvi, ndvi, canopy


@jit
def _raw_row(
    raw: Any, nodata: float, has_nodata: bool, scale: Any, offset: Any, out: Any, bad: Any
) -> None:
    """One row of one band as ``to_reflectance`` converts it; ``bad`` |= NaN or nodata."""
    for j in range(raw.size):
        x = raw[j]
        bad[j] |= (x != x) | (has_nodata & (x == nodata))
        out[j] = np.float32(x) * scale + offset


@jit
def _canopy_arrays(stands: Any, bands: Any) -> tuple[Any, Any, Any]:
    """Allocate a window's grvi, ndvi (1 × 1 without NIR, zeroed) and canopy arrays."""
    h, w = stands.shape
    ndvi = np.empty((h, w) if bands[3] >= 0 else (1, 1), dtype=np.float32)
    ndvi[:] = 0  # only the runs in host stands are written
    return np.empty((h, w), dtype=np.float32), ndvi, np.empty((h, w), dtype=np.bool_)


@jit
def _canopy_row(
    values: Any, bands: Any, stands: Any, invalid: Any, limits: Any, grvi: Any, ndvi: Any,
    canopy: Any,
) -> None:  # fmt: skip
    """One row (``values``: bands × cols) of :func:`canopy_layers` in runs of one stand.

    The stand's thresholds (``limits``: shadow, blue limit, soil) are constants of a
    branch-free loop the compiler vectorises (:func:`_canopy_run`); outside the host stands
    the row is 0 and not canopy. The bands' rows are taken out once (contiguous rows).
    """
    ib, ig, ir, inir = bands[0], bands[1], bands[2], bands[3]
    g_row, r_row = np.ascontiguousarray(values[ig]), np.ascontiguousarray(values[ir])
    b_row = np.ascontiguousarray(values[ib]) if ib >= 0 else g_row  # g: a placeholder
    n_row = np.ascontiguousarray(values[inir]) if inir >= 0 else g_row
    shadow, blue_limit, soil = limits
    j, w = 0, stands.size
    while j < w:
        s, e = stands[j], _run_end(stands, j)
        if s == 0:
            grvi[j:e] = 0
            canopy[j:e] = False
        else:
            nd_out = ndvi[j:e] if inir >= 0 else ndvi[0:1]
            _canopy_run(g_row[j:e], r_row[j:e], b_row[j:e], n_row[j:e], invalid[j:e],
                        shadow[s], blue_limit[s], soil[0], soil[1], ib >= 0, inir >= 0,
                        grvi[j:e], nd_out, canopy[j:e])  # fmt: skip
        j = e


@jit
def _run_end(row: Any, j: int) -> int:
    """End of the run of equal values of ``row`` starting at ``j`` (32 values a step)."""
    s, e, w = row[j], j + 1, row.size
    while e + 32 <= w:
        differs = False
        for x in row[e : e + 32]:
            differs |= x != s
        if differs:
            break
        e += 32
    while e < w and row[e] == s:
        e += 1
    return e


@jit
def _runs(row: Any, ends: Any) -> int:
    """Write the ends of the runs of equal values of ``row`` to ``ends``; return how many."""
    j, k = 0, 0
    while j < row.size:
        j = _run_end(row, j)
        ends[k] = j
        k += 1
    return k


@jit
def _canopy_run(
    g: Any, r: Any, b: Any, n: Any, bad: Any, shadow: Any, limit: Any, soil_ndvi: float,
    soil_rg: float, has_b: bool, has_nir: bool, grvi: Any, ndvi: Any, canopy: Any,
) -> None:  # fmt: skip
    """One run of a row in one stand: the rules of :func:`canopy_layers` without branches.

    Every value is computed and the masks combined with ``&``/``|``: the same float
    operations as :func:`normalized_difference_px`, :func:`_brightness` and
    :func:`soil_pixel` take, so the same results, in vector registers.
    """
    nan, zero, one = np.float32(np.nan), np.float32(0), np.float32(1)
    for j in range(g.size):
        gj, rj = g[j], r[j]
        bright = (b[j] + gj + rj) / np.float32(3) if has_b else (gj + rj) / np.float32(2)
        blue = b[j] if has_b else bright
        ok = (bad[j] == 0) & (bright >= shadow)
        if has_nir:
            total = n[j] + rj
            nd = (n[j] - rj) / total
            nd = nan if total == 0 else nd
            soil = ~(nd >= soil_ndvi) & ((blue >= limit) | (rj / gj < soil_rg))
            ok &= ~soil
            ndvi[j] = (one if nd != nd else nd) if ok else zero
        else:
            ok &= ~(blue > limit)
        total = gj + rj
        gr = (gj - rj) / total
        grvi[j] = (nan if total == 0 else gr) if ok else zero
        canopy[j] = ok


@jit
def _box_row(rows: Any, i: int, h: int, half: int, vertical: Any, out: Any) -> None:
    """Row ``i`` of the sum of an image over the (2 half + 1)² box around each pixel.

    The image has ``h`` rows; row ``r`` is ``rows[r % len(rows)]`` (the whole image, or a
    ring of the last 2 half + 1 rows). Separable adds with zeros outside: the column sums
    first (offset ``d`` adding the row before, then the one after), then the row sums the
    same way — the same float32 operations in the same order at every pixel. ``vertical``
    and ``out`` are row buffers.
    """
    k, w = rows.shape
    _copy_row(vertical, rows[i % k])
    for d in range(1, half + 1):
        if i - d >= 0:
            _add_row(vertical, rows[(i - d) % k])
        if i + d < h:
            _add_row(vertical, rows[(i + d) % k])
    _copy_row(out, vertical)
    for d in range(1, min(half, w - 1) + 1):
        _add_row(out[d:], vertical[: w - d])
        _add_row(out[: w - d], vertical[d:])


@jit
def _add_row(into: Any, row: Any) -> None:
    for j in range(into.size):
        into[j] += row[j]


@jit
def _copy_row(into: Any, row: Any) -> None:
    for j in range(into.size):
        into[j] = row[j]


@jit
def anomalous_pixels(
    grvi: Any, canopy: Any, stands: Any, thr: Any, size: int, core: Any, n_local: int
) -> tuple[Any, Any, Any]:
    """Pass 2, step 2: anomalous and core masks, canopy pixels per stand in the window core.

    ``grvi`` is 0 outside the canopy (as :func:`canopy_pixels` returns it). Anomalous: the
    GRVI averaged over the canopy pixels of the ``size`` box is at or below the stand
    threshold ``thr[stand]``; core: the pixel's own GRVI is too. ``core`` is
    ``(row0, row1, col0, col1)`` of the window's core; the counts are per local stand number.
    """
    h, w = grvi.shape
    half = size // 2 if size > 1 else 0
    buf = np.empty(w, dtype=np.float32)
    total = np.empty(w, dtype=np.float32)
    count = np.empty(w, dtype=np.float32)
    anomalous = np.empty((h, w), dtype=np.bool_)  # every pixel is written by _test_row
    own = np.empty((h, w), dtype=np.bool_)
    counts = np.zeros(n_local + 1, dtype=np.int64)
    ends = np.empty(w, dtype=np.int64)
    for i in range(h):
        _box_row(grvi, i, h, half, buf, total)
        _box_row(canopy, i, h, half, buf, count)  # weights 0/1: exact float32 sums
        runs = ends[: _runs(stands[i], ends)]
        _count_row(canopy[i], stands[i], runs, i, core, counts)
        _test_row(total, count, grvi[i], canopy[i], stands[i], runs, thr, anomalous[i], own[i])
    return anomalous, own, counts


@jit
def anomalous_pair(
    grvi: Any, ndvi: Any, canopy: Any, stands: Any, thr: Any, thr_ndvi: Any, size: int,
    core: Any, n_local: int,
) -> tuple[Any, Any, Any, Any, Any]:  # fmt: skip
    """:func:`anomalous_pixels` of GRVI and of NDVI in one pass (one box sum of the weights).

    Returns the GRVI test's anomalous and core masks and counts, then the NDVI test's
    anomalous and core masks (``thr_ndvi`` per local stand): what two calls of
    :func:`anomalous_pixels` return, value for value.
    """
    h, w = grvi.shape
    half = size // 2 if size > 1 else 0
    buf = np.empty(w, dtype=np.float32)
    sums = np.empty((3, w), dtype=np.float32)
    masks = np.empty((4, h, w), dtype=np.bool_)  # every pixel is written by _test_row
    counts = np.zeros(n_local + 1, dtype=np.int64)
    ends = np.empty(w, dtype=np.int64)
    for i in range(h):
        _box_row(grvi, i, h, half, buf, sums[0])
        _box_row(canopy, i, h, half, buf, sums[1])  # weights 0/1: exact float32 sums
        _box_row(ndvi, i, h, half, buf, sums[2])
        runs = ends[: _runs(stands[i], ends)]
        _count_row(canopy[i], stands[i], runs, i, core, counts)
        _test_row(sums[0], sums[1], grvi[i], canopy[i], stands[i], runs, thr, masks[0, i],
                  masks[1, i])  # fmt: skip
        _test_row(sums[2], sums[1], ndvi[i], canopy[i], stands[i], runs, thr_ndvi, masks[2, i],
                  masks[3, i])  # fmt: skip
    return masks[0], masks[1], counts, masks[2], masks[3]


@jit
def _count_row(canopy: Any, stands: Any, ends: Any, i: int, core: Any, counts: Any) -> None:
    """Add row ``i``'s canopy pixels inside the ``core`` box to ``counts`` by stand.

    ``ends`` are the ends of the row's runs of one stand (:func:`_runs`).
    """
    if not core[0] <= i < core[1]:
        return
    lo, hi = max(core[2], 0), min(core[3], canopy.size)
    j = 0
    for e in ends:
        a, b = max(j, lo), min(e, hi)
        if a < b:
            n = 0
            for x in canopy[a:b]:
                n += x
            counts[stands[a]] += n
        j = e


@jit
def _test_row(
    total: Any, count: Any, values: Any, canopy: Any, stands: Any, ends: Any, thr: Any,
    anomalous: Any, own: Any,
) -> None:  # fmt: skip
    """One row of the box-mean test: ``total / count <= thr[stand]`` (own: the value too).

    In runs of one stand (the threshold a constant) and without branches (every pixel is
    tested, the canopy mask applied after): the masks are those of testing the canopy pixels
    only, in vector registers. ``ends`` are the ends of the runs (:func:`_runs`).
    """
    j = 0
    for e in ends:
        _test_run(total[j:e], count[j:e], values[j:e], canopy[j:e], thr[stands[j]],
                  anomalous[j:e], own[j:e])  # fmt: skip
        j = e


@jit
def _test_run(
    total: Any, count: Any, values: Any, canopy: Any, t: Any, anomalous: Any, own: Any
) -> None:
    for j in range(values.size):
        hit = canopy[j] & (total[j] / count[j] <= t)
        anomalous[j] = hit
        own[j] = hit & (values[j] <= t)


@jit
def _root(parent: Any, k: int) -> int:
    while parent[k] != k:
        parent[k] = parent[parent[k]]
        k = parent[k]
    return k


@jit
def _provisional(mask: Any, n: int) -> tuple[Any, Any, Any, Any]:
    """Raster scan: each mask pixel joins its earlier 8-neighbours (union-find on a table)."""
    h, w = mask.shape
    rows = np.empty(n, dtype=np.int64)
    cols = np.empty(n, dtype=np.int64)
    parent = np.empty(n, dtype=np.int64)
    index = np.full((2, w + 2), -1, dtype=np.int64)  # pixel numbers of this row and the last
    k = 0
    for i in range(h):
        cur, prev = index[i % 2], index[(i + 1) % 2]
        cur[:] = -1
        for j in range(w):
            if not mask[i, j]:
                continue
            rows[k], cols[k], parent[k], cur[j + 1] = i, j, k, k
            for other in (cur[j], prev[j], prev[j + 1], prev[j + 2]):
                if other >= 0:
                    a, b = _root(parent, k), _root(parent, other)
                    parent[max(a, b)] = min(a, b)
            k += 1
    return rows, cols, parent, index


@jit
def label_pixels(mask: Any) -> tuple[Any, Any, Any, int]:
    """8-connected components of ``mask``: rows, cols (raster order), label 1..n per pixel, n.

    Labels are numbered in the raster order of each component's first pixel, as
    :func:`scipy.ndimage.label` numbers them; the cost is set by the mask's pixels, not by
    the window (anomalous pixels are a small share of it).
    """
    rows, cols, parent, _ = _provisional(mask, int(np.count_nonzero(mask)))
    labels = np.empty(rows.size, dtype=np.int64)
    n = 0
    for k in range(rows.size):
        root = _root(parent, k)
        if root == k:
            n += 1
            labels[k] = n
        else:
            labels[k] = labels[root]
    return rows, cols, labels, n


@jit
def _bin(x: float, lo: float, hi: float, bins: int) -> int:
    """Histogram bin of ``x`` over [lo, hi] (NaN → 0, clipped), as ``stand_baselines._bins``."""
    if np.isnan(x):
        return 0
    k = np.floor((x - lo) / (hi - lo) * bins)
    return int(min(max(k, 0.0), bins - 1.0))


@jit
def _log_bin(x: float, lo: float, hi: float, bins: int) -> int:
    return _bin(np.log2(x) if x > 0 else np.nan, lo, hi, bins)


@jit
def _vegetation_row(
    values: Any, bands: Any, stands: Any, invalid: Any, soil_ndvi: float, i: int, grvi: Any,
    ndvi: Any, keep: Any,
) -> bool:  # fmt: skip
    """Write a row of :func:`vegetation_pixels` to the row buffers ``grvi``, ``ndvi``, ``keep``.

    ``values[:, i]`` is the row's values, ``stands`` and ``invalid`` its rows. ``keep`` may
    be a float row (1.0 = vegetation): the weights of the box mean. Returns whether the row
    has a vegetation pixel. Branch-free on contiguous rows (:func:`_vegetation_run`).
    """
    ig, ir, inir = bands[1], bands[2], bands[3]
    g, r = np.ascontiguousarray(values[ig, i]), np.ascontiguousarray(values[ir, i])
    n = np.ascontiguousarray(values[inir, i]) if inir >= 0 else g  # g: a placeholder
    return _vegetation_run(g, r, n, inir >= 0, stands, invalid, soil_ndvi, grvi, ndvi, keep)


@jit
def _vegetation_run(
    g: Any, r: Any, n: Any, has_nir: bool, stands: Any, invalid: Any, soil_ndvi: float,
    grvi: Any, ndvi: Any, keep: Any,
) -> bool:  # fmt: skip
    """Apply the rules of :func:`vegetation_pixels` to one row, every value computed.

    No branches, the same float operations as :func:`normalized_difference_px`. NDVI is set
    where the pixel is in a stand, valid and NDVI >= ``soil_ndvi`` (NaN elsewhere and
    without NIR); vegetation where, besides, its GRVI is a number.
    """
    nan, zero = np.float32(np.nan), np.float32(0)
    seen = False
    for j in range(g.size):
        gj, rj = g[j], r[j]
        ok = (stands[j] != 0) & (invalid[j] == 0)
        nd = nan
        if has_nir:
            total = n[j] + rj
            nd = (n[j] - rj) / total
            nd = nan if total == 0 else nd
            ok &= nd >= soil_ndvi
        ndvi[j] = nd if ok else nan
        total = gj + rj
        gr = (gj - rj) / total
        veg = ok & (total != 0) & (gr == gr)
        keep[j] = veg
        grvi[j] = gr if veg else zero
        seen |= veg
    return seen


@jit
def vegetation_pixels(
    values: Any, bands: Any, stands: Any, invalid: Any, soil_ndvi: float
) -> tuple[Any, Any, Any]:
    """Pass 1, step 1: GRVI (0 outside vegetation), NDVI and the vegetation mask of a window.

    Vegetation = in a host stand, valid, with a GRVI (G + R > 0: black fill of an image with
    no nodata declared is not canopy, nor a part of the stand's baseline) and (with NIR)
    NDVI >= ``soil_ndvi``; NDVI is NaN outside it and without NIR.
    """
    h, w = stands.shape
    grvi = np.empty((h, w), dtype=np.float32)
    ndvi = np.empty((h, w), dtype=np.float32)
    keep = np.empty((h, w), dtype=np.bool_)
    for i in range(h):
        _vegetation_row(values, bands, stands[i], invalid[i], soil_ndvi, i, grvi[i], ndvi[i],
                        keep[i])  # fmt: skip
    return grvi, ndvi, keep


@jit
def _index_row(
    grvi: Any, ones: Any, ndvi: Any, stands: Any, slot: Any, i: int, h: int, half: int,
    cols: Any, rows: Any, out: Any,
) -> None:  # fmt: skip
    """Row ``i`` of :func:`index_histograms`; ``grvi`` and ``ones`` rows as in :func:`_box_row`.

    ``ndvi`` and ``stands`` are the row's; ``cols`` is (first column, step); ``rows`` three
    float32 row buffers.
    """
    _box_row(grvi, i, h, half, rows[0], rows[1])
    _box_row(ones, i, h, half, rows[0], rows[2])
    total, count, keep = rows[1], rows[2], ones[i % ones.shape[0]]
    bins, step = out.shape[2], cols[1]
    weight = step * step
    for j in range(cols[0], stands.size, step):
        if not keep[j]:
            continue
        k = slot[stands[j]]
        out[k, 0, _bin(total[j] / count[j], -1.0, 1.0, bins)] += weight
        if not np.isnan(ndvi[j]):
            out[k, 1, _bin(ndvi[j], -1.0, 1.0, bins)] += weight


@jit
def index_histograms(
    grvi: Any, ndvi: Any, keep: Any, stands: Any, slot: Any, size: int, step: int, start: Any,
    out: Any,
) -> None:  # fmt: skip
    """Pass 1, step 2: add smoothed GRVI and NDVI of every ``step``-th pixel to ``out``.

    ``grvi`` is 0 outside ``keep`` (as :func:`vegetation_pixels` returns it) and is averaged
    over the ``keep`` pixels of the ``size`` box as in pass 2 (:func:`anomalous_pixels`).
    Pixels at rows ``start[0] + k step`` and columns ``start[1] + k step`` count ``step²``
    times each in row 0 (GRVI) and 1 (NDVI) of ``out[slot[stands[pixel]]]`` (shape
    (stands, :data:`HIST_QUANTITIES`, bins); ``slot`` maps a stand number to its row).
    """
    h, w = keep.shape
    half = size // 2 if size > 1 else 0
    ones = keep.astype(np.float32)
    rows = np.empty((3, w), dtype=np.float32)
    cols = np.array([start[1], step])
    for i in range(start[0], h, step):
        _index_row(grvi, ones, ndvi[i], stands[i], slot, i, h, half, cols, rows, out)


@jit
def _level_row(
    values: Any, bands: Any, keep: Any, stands: Any, slot: Any, i: int, cols: Any,
    log_range: Any, out: Any,
) -> None:  # fmt: skip
    """Row ``i`` of :func:`level_histograms`: ``keep`` and ``stands`` are the row's."""
    bins = out.shape[2]
    lo, hi = log_range[0], log_range[1]
    ib, ig, inir = bands[0], bands[1], bands[3]
    for j in range(cols[0], stands.size, cols[1]):
        if not keep[j]:
            continue
        k = slot[stands[j]]
        bright = _brightness(values, bands, i, j)
        out[k, 2, _log_bin(bright, lo, hi, bins)] += 1
        out[k, 3, _log_bin(values[ig, i, j], lo, hi, bins)] += 1
        if inir >= 0:
            out[k, 4, _log_bin(values[inir, i, j], lo, hi, bins)] += 1
        blue = values[ib, i, j] if ib >= 0 else bright
        out[k, 5, _log_bin(blue, lo, hi, bins)] += 1


@jit
def level_histograms(
    values: Any, bands: Any, keep: Any, stands: Any, slot: Any, step: int, start: Any,
    log_range: Any, out: Any,
) -> None:  # fmt: skip
    """Pass 1, step 3: add log2 brightness, G, NIR and B of every ``step``-th pixel to ``out``.

    Rows 2–5 of ``out`` (see :func:`index_histograms`); B falls back to brightness and NIR is
    left empty when the sensor lacks them.
    """
    cols = np.array([start[1], step])
    for i in range(start[0], keep.shape[0], step):
        _level_row(values, bands, keep[i], stands[i], slot, i, cols, log_range, out)


@jit
def strip_histograms(
    values: Any, bands: Any, stands: Any, invalid: Any, soil_ndvi: float, slot: Any,
    size: int, grid: Any, log_range: Any, out: Any,
) -> bool:  # fmt: skip
    """Pass 1 in one sweep: :func:`vegetation_pixels`, then both histograms, row by row.

    Adds to ``out`` what :func:`index_histograms` and :func:`level_histograms` add; ``grid``
    holds their (first row, first column, step). GRVI, NDVI and the vegetation weights live
    in rings of the last ``size`` rows, so no whole-window array is written. Returns whether
    the window has a vegetation pixel.
    """
    h, w = stands.shape
    half = size // 2 if size > 1 else 0
    rings, rows = _strip_buffers(h, w, half)
    seen = False
    for i in range(h + half):
        row_invalid = invalid[min(i, h - 1)]  # (past the last row: not read)
        seen |= _strip_step(values, i, i - half, bands, stands, row_invalid, soil_ndvi, slot,
                            (i, half), grid, log_range, rings, rows, out)  # fmt: skip
    return seen


@jit
def strip_histograms_raw(
    raw: Any, bands: Any, stands: Any, extra: Any, conversion: Any, soil_ndvi: float,
    slot: Any, size: int, grid: Any, log_range: Any, out: Any,
) -> bool:  # fmt: skip
    """:func:`strip_histograms` of the raw pixels a file stores, converted row by row here.

    ``raw``, ``extra`` and ``conversion`` as in :func:`canopy_layers_raw`: the rows are
    converted as :func:`gis.raster.kernels.to_reflectance` converts them into a ring of the
    last ``size // 2 + 1`` rows, so the histograms are those of its arrays, value for value,
    without a float copy of the window. Only the runs of a row inside host stands are
    converted (nothing else is read).
    """
    h, w = stands.shape
    half = size // 2 if size > 1 else 0
    rings, rows = _strip_buffers(h, w, half)
    k = half + 1
    conv = np.empty((raw.shape[0], k, w), dtype=np.float32)
    bad = np.empty((k, w), dtype=np.bool_)
    ends = np.empty(w, dtype=np.int64)
    nodata, has_nodata = conversion[0], conversion[1] != 0
    scale, offset = np.float32(conversion[2]), np.float32(conversion[3])
    seen = False
    for i in range(h + half):
        if i < h:
            if extra.shape == stands.shape:
                bad[i % k] = extra[i]
            else:
                bad[i % k] = False
            j = 0
            for e in ends[: _runs(stands[i], ends)]:
                if stands[i, j] != 0:
                    for b in range(raw.shape[0]):
                        _raw_row(raw[b, i, j:e], nodata, has_nodata, scale, offset,
                                 conv[b, i % k, j:e], bad[i % k, j:e])  # fmt: skip
                j = e
        seen |= _strip_step(conv, i % k, (i - half) % k, bands, stands, bad[i % k], soil_ndvi,
                            slot, (i, half), grid, log_range, rings, rows, out)  # fmt: skip
    return seen


@jit
def _strip_buffers(h: int, w: int, half: int) -> tuple[Any, Any]:
    """Rings of GRVI, vegetation weights and NDVI (the last ``2 half + 1`` rows); row buffers."""
    k = min(2 * half + 1, h)
    return np.zeros((3, k, w), dtype=np.float32), np.empty((3, w), dtype=np.float32)


@jit
def _strip_step(
    values: Any, vi: int, vr: int, bands: Any, stands: Any, invalid: Any, soil_ndvi: float,
    slot: Any, at: Any, grid: Any, log_range: Any, rings: Any, rows: Any, out: Any,
) -> bool:  # fmt: skip
    """Step ``i`` (``at``: i, half) of the sweep of :func:`strip_histograms`.

    The vegetation of row ``i`` (values ``values[:, vi]``, invalid row ``invalid``), then
    the histograms of row ``i - half`` (values ``values[:, vr]``). Returns whether row ``i``
    has a vegetation pixel.
    """
    i, half = at
    h = stands.shape[0]
    grvi, ones, ndvi = rings[0], rings[1], rings[2]
    k = grvi.shape[0]
    seen = False
    if i < h:
        seen = _vegetation_row(values, bands, stands[i], invalid, soil_ndvi, vi, grvi[i % k],
                               ndvi[i % k], ones[i % k])  # fmt: skip
    r = i - half
    if r >= grid[0, 0] and (r - grid[0, 0]) % grid[0, 2] == 0:
        _index_row(grvi, ones, ndvi[r % k], stands[r], slot, r, h, half, grid[0, 1:], rows, out)
    if r >= grid[1, 0] and (r - grid[1, 0]) % grid[1, 2] == 0:
        _level_row(values, bands, ones[r % k], stands[r], slot, vr, grid[1, 1:], log_range,
                   out)  # fmt: skip
    return seen


def band_positions(roles: Any) -> NDArray[np.int64]:
    """Return the (B, G, R, NIR) positions of ``roles`` (-1 = absent) for the kernels.

    Examples
    --------
    >>> band_positions(("G", "R", "NIR")).tolist()
    [-1, 0, 1, 2]
    """
    where = {r: i for i, r in enumerate(roles)}
    return np.array([where.get(r, -1) for r in ("B", "G", "R", "NIR")], dtype=np.int64)
