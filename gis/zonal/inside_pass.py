"""The inside-patch statistics in the windowed pass: every patch of a window at once.

:func:`gis.zonal.inside.inside_stats` reads a window around each patch and classifies its
pixels one patch at a time (the reference; still used for patches too large for the margin).
Here the same statistics come from the windows :func:`gis.zonal.change_stats` reads anyway:

* :func:`plan_inside` gives every patch to the one window holding the centre of its own
  window (patch bounds grown by the ring, two pixels and the tolerance, as
  :func:`gis.zonal.inside._window_of`), and grows that window by a margin so that it holds
  the whole patch window of each of its patches; the window is read once, margin included,
  for both dates (raster blocks a neighbour window already decoded come from GDAL's block
  cache when a thread sweeps a strip of windows row by row);
* :func:`inside_window` computes the per-pixel change of the whole grown window with the same
  functions as the reference (:func:`gis.zonal.inside._changes`), then reduces the
  (patch, pixel) pairs of all its patches together: medians of the ring by sorting,
  classification per pair, shares by ``bincount``, the largest 8-connected cluster by
  connected components of a sparse graph of the lost pixels of each patch.

The values equal the reference's value for value: the same float32 pixel arithmetic, medians
(order statistics) and means over the pixels in row-major order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from rasterio import windows as rwindows
from scipy import sparse
from scipy.sparse import csgraph

from gis.raster import Grid
from gis.severity import burned_mask
from gis.zonal.burn import centre_pairs
from gis.zonal.inside import (
    _RING_MIN_PX,
    COMBINED_LOSS,
    INSIDE_COLUMNS,
    RED_RISE,
    SWIR_RISE,
    InsideOptions,
    changes_at,
)
from gis.zonal.kernels import (
    classify,
    deviation_keys,
    deviations,
    median_keys,
    sorted_medians,
)
from gis.zonal.plan import WindowGroup, read_boxes, window_transform

MAX_MARGIN_PX = 256
"""Largest margin a window is grown by; a patch whose window reaches further is computed on its
own (:func:`gis.zonal.inside.inside_stats`)."""

N_COLUMNS = len(INSIDE_COLUMNS)


def empty_rows(n: int) -> NDArray[np.float64]:
    """Rows of patches without a window: ``seen_px`` 0, the rest NULL (as the reference)."""
    out = np.full((n, N_COLUMNS), np.nan)
    out[:, 0] = 0.0
    return out


def patch_windows(geoms: NDArray[Any], grid: Grid, ring_m: float, tol: int) -> NDArray[np.int64]:
    """(c0, r0, c1, r1) of each patch's own window, clipped to the raster (empty: c1 <= c0).

    The same window as :func:`gis.zonal.inside._window_of`, vectorised.
    """
    t = grid.transform
    out = np.zeros((len(geoms), 4), np.int64)
    geoms = np.asarray(geoms, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return out
    grow = ring_m + 2 * abs(t.a)
    some = np.flatnonzero(ok)
    out[some] = _clipped(shapely.bounds(geoms[some]) + np.array([-1, -1, 1, 1]) * grow, grid, tol)
    # the bounds of the buffer polygon may fall short of bounds ± distance by a fraction of a
    # pixel; that moves a window only where it is nearly empty (at the raster's edge)
    edge = some[((out[some, 2] - out[some, 0]) <= 2) | ((out[some, 3] - out[some, 1]) <= 2)]
    if len(edge):
        out[edge] = _clipped(shapely.bounds(shapely.buffer(geoms[edge], grow)), grid, tol)
    return out


def _clipped(bounds: NDArray[np.float64], grid: Grid, tol: int) -> NDArray[np.int64]:
    t = grid.transform
    x0, y0, x1, y1 = bounds.T
    c0, c1 = np.floor((x0 - t.c) / t.a), np.ceil((x1 - t.c) / t.a)
    r0, r1 = np.floor((y1 - t.f) / t.e), np.ceil((y0 - t.f) / t.e)
    c0, r0 = np.maximum(c0 - tol, 0), np.maximum(r0 - tol, 0)
    c1, r1 = np.minimum(c1 + tol, grid.width), np.minimum(r1 + tol, grid.height)
    return np.stack([c0, r0, c1, r1], axis=1).astype(np.int64)


def plan_inside(
    groups: list[WindowGroup],
    geoms: NDArray[Any],
    grid: Grid,
    tile: tuple[int, int, int],
    options: InsideOptions,
    block_shape: tuple[int, int],
) -> tuple[list[WindowGroup], NDArray[np.int64], NDArray[np.int64]]:
    """Give every patch to one window and grow the windows by the margin their patches need.

    Returns the groups (with ``inside_*`` set), the positions of patches too large for
    :data:`MAX_MARGIN_PX` (computed one by one) and of patches with a window at all.
    """
    pw = patch_windows(geoms, grid, options.ring_m, options.tol)
    has = np.flatnonzero((pw[:, 2] > pw[:, 0]) & (pw[:, 3] > pw[:, 1]))
    sh, sw, ncols = tile
    cx, cy = (pw[has, 0] + pw[has, 2] - 1) // 2, (pw[has, 1] + pw[has, 3] - 1) // 2
    key = (cy // sh) * ncols + cx // sw
    wc0, wr0 = (cx // sw) * sw, (cy // sh) * sh
    need = np.stack(
        [wc0 - pw[has, 0], wr0 - pw[has, 1], pw[has, 2] - (wc0 + sw), pw[has, 3] - (wr0 + sh)]
    ).max(axis=0)
    big = need > MAX_MARGIN_PX
    by_key = {int(k): has[(key == k) & ~big] for k in np.unique(key[~big])}
    margin = {int(k): int(max(need[(key == k) & ~big].max(), options.tol, 1)) for k in by_key}
    tree = shapely.STRtree(geoms)
    t = grid.transform
    out = []
    for g in groups:
        pos = by_key.pop(g.key, np.zeros(0, np.int64))
        if len(pos) == 0:
            out.append(g)
            continue
        m = margin[g.key]
        ext = rwindows.Window(g.window.col_off - m, g.window.row_off - m,
                              g.window.width + 2 * m, g.window.height + 2 * m)  # fmt: skip
        ext_t = window_transform(ext, t)
        box = shapely.box(*rwindows.bounds(ext, t))
        near = tree.query(box).astype(np.int64)
        near = np.concatenate([pos, np.setdiff1d(near, pos)])
        own = pw[pos] - np.array([ext.col_off, ext.row_off, ext.col_off, ext.row_off])
        bounds = np.concatenate([
            np.stack([ext_t.c + own[:, 0] * t.a, ext_t.f + own[:, 3] * t.e,
                      ext_t.c + own[:, 2] * t.a, ext_t.f + own[:, 1] * t.e], axis=1),
            _group_bounds(g),
        ])  # fmt: skip
        boxes = read_boxes(bounds, ext, ext_t, block_shape=block_shape, slack_px=1)
        out.append(replace(g, inside_pos=pos, near_geoms=geoms[near], near_pos=near,
                           margin=m, inside_boxes=boxes))  # fmt: skip
    leftover = np.concatenate([*by_key.values(), np.zeros(0, np.int64)])
    return out, np.concatenate([has[big], leftover]).astype(np.int64), has


def _group_bounds(g: WindowGroup) -> NDArray[np.float64]:
    """Bounds of the zones and rings of ``g`` (what the change sums read)."""
    ring = shapely.bounds(g.ring_geoms) + np.array([-1.0, -1.0, 1.0, 1.0]) * g.ring_buffer
    return np.concatenate([shapely.bounds(g.zone_geoms), ring.reshape(-1, 4)])


def inside_window(
    before: dict[str, NDArray[np.float32]],
    after: dict[str, NDArray[np.float32]],
    outside: NDArray[np.bool_],
    transform: Any,
    geoms: NDArray[Any],
    opt: InsideOptions,
    rings: NDArray[Any] | None = None,
    pixels: Burned | None = None,
) -> NDArray[np.float64]:
    """Return the :data:`INSIDE_COLUMNS` rows of the window's own patches.

    ``before``/``after``: the window's bands by role (NaN invalid), ``outside``: its pixels
    beyond the raster (never invalid for the mask buffer, as a patch window clipped to the
    raster has none), ``geoms``: every patch that may hold pixels of the window (rings leave
    them out), the window's own first; ``rings``: the rings of its own patches (their count
    says how many are its own; default: all ``geoms`` are its own, rings buffered here).
    ``pixels``: the pixels of ``geoms`` and ``rings`` when the caller rasterised them already
    (:func:`burn_window`).
    """
    norm = opt.norm
    shape = outside.shape
    if pixels is None:
        if rings is None:
            rings = shapely.buffer(geoms, opt.ring_m, quad_segs=4)
        pixels = burn_window(geoms, rings, transform, shape)
    k, in_patch = pixels.k, pixels.in_patch
    own = pixels.near_id < k
    zid, zpos = pixels.near_id[own], pixels.near_pos[own]
    free = ~in_patch[pixels.ring_pos]
    rid, rpos = pixels.ring_id[free], pixels.ring_pos[free]
    nz0 = len(zpos)
    # the per-pixel changes at the patches' and rings' pixels only, in that order
    flat, seen = changes_at(before, after, opt, outside, np.concatenate([zpos, rpos]))
    obscured = _obscured_shares(flat, zid, np.arange(nz0), k)
    zk, rk = seen[:nz0], seen[nz0:]
    zid, zpos, zat = zid[zk], zpos[zk], np.flatnonzero(zk)
    rid, rat = rid[rk], nz0 + np.flatnonzero(rk)
    ids = np.concatenate([zid, rid])
    pos = np.concatenate([zat, rat])
    lost, gained = _classify_pairs(flat, ids, pos, rid, rat, k, opt)
    nz = len(zid)
    out = np.full((k, N_COLUMNS), np.nan)
    n_in = np.bincount(zid, minlength=k)
    n_ring = np.bincount(rid, minlength=k)
    out[:, 0] = n_in
    zl, zg = lost[:nz], gained[:nz]
    out[:, 1] = _share(zid[zl], n_in, k)
    out[:, 2] = _share(zid[zg], n_in, k)
    out[:, 3] = _largest(zid[zl], zpos[zl], k, shape[1])
    out[:, 4] = _largest(zid[zg], zpos[zg], k, shape[1])
    out[:, 5] = _share(rid[lost[nz:]], n_ring, k)
    if "kb_dnbr" in flat and opt.radiometry != "dn":
        burned = burned_mask(flat["kb_dnbr"][pos])
        out[:, 6] = _share(zid[burned[:nz]], n_in, k)
        out[:, 7] = _share(rid[burned[nz:]], n_ring, k)
    va = flat["va"]
    if opt.radiometry != "dn":
        out[:, 8] = _group_mean(zid[zl], va[zat[zl]], k)
    lost_va = _group_median(zid[zl], va[zat[zl]], k)
    out[:, 9] = (lost_va - _group_median(rid, va[rat], k)) * norm.index_scale
    out[:, 10] = float("nbr_loss" in flat)
    out[:, 11] = _group_median(zid, flat["d"][zat], k) - norm.scene_dndvi
    out[:, 12] = _group_median(rid, flat["d"][rat], k) - norm.scene_dndvi
    out[:, 13:15] = obscured
    return out


@dataclass(frozen=True)
class Burned:
    """The pixels of a grown window's patches and rings, rasterised once.

    ``near_id``/``near_pos``: (patch, flat pixel) pairs of every nearby patch, sorted and
    distinct; ``ring_id``/``ring_pos``: the same of the rings of the ``k`` own patches (all
    their pixels, patches not yet left out); ``in_patch``: the pixels in any patch.
    """

    k: int
    near_id: NDArray[np.int64]
    near_pos: NDArray[np.int64]
    ring_id: NDArray[np.int64]
    ring_pos: NDArray[np.int64]
    in_patch: NDArray[np.bool_]


def burn_window(
    geoms: NDArray[Any], rings: NDArray[Any], transform: Any, shape: tuple[int, int]
) -> Burned:
    """Rasterise the nearby patches ``geoms`` and the rings of the own ones (:class:`Burned`)."""
    nid, npos = _pairs(geoms, transform, shape)
    rid, rpos = _pairs(rings, transform, shape)
    return Burned(len(rings), nid, npos, rid, rpos, patch_mask(npos, shape))


def patch_mask(pos: NDArray[Any], shape: tuple[int, int]) -> NDArray[np.bool_]:
    """Flat mask of the pixels ``pos`` of a window of ``shape``."""
    mask = np.zeros(shape[0] * shape[1], dtype=bool)
    mask[pos] = True
    return mask


def _obscured_shares(
    c: dict[str, NDArray[Any]], zid: NDArray[np.int64], zpos: NDArray[np.int64], k: int
) -> NDArray[np.float64]:
    """Shares of each patch's pixels valid on both dates under unmasked snow or shadow."""
    ok = c["raw_valid"].ravel()[zpos]
    n = np.bincount(zid[ok], minlength=k)
    return np.column_stack(
        [
            _share(zid[ok & c[key].ravel()[zpos]], n, k)
            for key in ("obscured_before", "obscured_after")
        ]
    )


def _pairs(
    geoms: NDArray[Any], transform: Any, shape: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(geometry id, flat pixel) of the pixel centres in each geometry, distinct, sorted."""
    return centre_pairs(np.asarray(geoms, dtype=object), transform, shape)


def _share(ids: NDArray[np.int64], total: NDArray[Any], k: int) -> NDArray[np.float64]:
    count = np.bincount(ids, minlength=k).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, count / np.maximum(total, 1), np.nan)


def _starts(ids: NDArray[np.int64], k: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    count = np.bincount(ids, minlength=k)
    return np.cumsum(count) - count, count


def _group_median(ids: NDArray[np.int64], values: NDArray[Any], k: int) -> NDArray[np.float64]:
    """``np.median`` of ``values`` per id (NaN for none), as the reference computes it.

    An even count averages the two middle values in the values' own dtype, as ``np.median``.
    ``ids`` are sorted; float32 values are sorted within them by one sort of 64-bit keys
    (:func:`gis.zonal.kernels.median_keys`), other dtypes by a lexsort.
    """
    out = np.full(k, np.nan)
    if len(ids) == 0:
        return out
    if values.dtype == np.float32:
        keys = median_keys(ids, np.ascontiguousarray(values), False)
        keys.sort()
        return np.asarray(sorted_medians(keys, k))
    start, count = _starts(ids, k)
    v = values[np.lexsort((values, ids))]
    some = count > 0
    s, n = start[some], count[some]
    lo, hi = v[s + (n - 1) // 2], v[s + n // 2]
    mid = np.where(n % 2 == 1, lo, (lo + hi) / v.dtype.type(2))
    out[some] = mid.astype(np.float64)
    return out


def _group_mean(ids: NDArray[np.int64], values: NDArray[Any], k: int) -> NDArray[np.float64]:
    """``np.nanmean`` of ``values`` per id in their order (NaN for none), patch by patch.

    NumPy's pairwise float32 sum depends on the length and order of each run, so the runs are
    summed one by one with the reference's own call (only patches with lost pixels have one).
    """
    out = np.full(k, np.nan)
    start, count = _starts(ids, k)
    for i in np.flatnonzero(count):
        out[i] = float(np.nanmean(values[start[i] : start[i] + count[i]]))
    return out


def _beyond(
    values: NDArray[Any],
    pos: NDArray[np.int64],
    ids: NDArray[np.int64],
    ring_ids: NDArray[np.int64],
    ring_values: NDArray[Any],
    enough: NDArray[np.bool_],
    floor: float,
    dn: bool,
) -> NDArray[Any]:
    """Return the reference's ``beyond`` per pair: ``(v - ring median) / floor``, v's dtype.

    ``values`` are the window's (flat), ``pos`` the pairs' pixels, ``ring_values`` the rings'.
    """
    k = len(enough)
    med, mad = _ring_spread(ring_ids, ring_values, k, dn)
    has_ref = np.isfinite(med)
    med = np.where(has_ref, med, 0.0)
    floors = np.full(k, floor)
    if mad is not None:  # relative evidence: beyond the ring's own spread
        floors = np.where(has_ref, np.maximum(floor, 3.0 * 1.4826 * np.nan_to_num(mad)), floor)
    floors = np.where(enough, floors, floor)
    t = values.dtype.type
    return np.asarray(deviations(values, pos, ids, med.astype(t), enough, floors.astype(t)))


def _ring_spread(
    ring_ids: NDArray[np.int64], ring_values: NDArray[Any], k: int, dn: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Median of each ring's finite values and, with ``dn``, their median absolute deviation.

    Float32 values: the deviations come from the sorted keys of the median
    (:func:`gis.zonal.kernels.deviation_keys`), in float32 as the reference's.
    """
    if ring_values.dtype == np.float32:
        keys = median_keys(ring_ids, np.ascontiguousarray(ring_values), True)
        keys.sort()
        med = np.asarray(sorted_medians(keys, k))
        if not dn:
            return med, None
        dev = deviation_keys(keys, np.where(np.isfinite(med), med, 0.0).astype(np.float32))
        dev.sort()
        return med, np.asarray(sorted_medians(dev, k))
    ok = np.isfinite(ring_values)
    med = _group_median(ring_ids[ok], ring_values[ok], k)
    if not dn:
        return med, None
    dev = np.abs(
        ring_values[ok]
        - np.where(np.isfinite(med), med, 0.0).astype(ring_values.dtype)[ring_ids[ok]]
    )
    return med, _group_median(ring_ids[ok], dev, k)


def _classify_pairs(
    flat: dict[str, NDArray[Any]],
    ids: NDArray[np.int64],
    pos: NDArray[np.int64],
    ring_ids: NDArray[np.int64],
    ring_pos: NDArray[np.int64],
    k: int,
    opt: InsideOptions,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(lost, gained) of each (patch, pixel) pair: the reference's ``_classify`` per patch."""
    enough = np.bincount(ring_ids, minlength=k) >= _RING_MIN_PX
    dn = opt.radiometry == "dn"

    def beyond(key: str, floor: float) -> NDArray[Any]:
        v = flat[key]
        return _beyond(v, pos, ids, ring_ids, v[ring_pos], enough, floor, dn)

    nbr = "nbr_loss" in flat
    with np.errstate(invalid="ignore"):
        loss = beyond("loss", opt.drop)
        none = np.zeros(0, loss.dtype)
        lost, gained = classify(
            loss,
            beyond("nbr_loss", opt.nbr_drop) if nbr else none,
            beyond("swir_rise", SWIR_RISE) if nbr else none,
            beyond("red_rise", RED_RISE) if "red_rise" in flat else none,
            beyond("gain", opt.drop),
            loss.dtype.type(COMBINED_LOSS),
        )
    return np.asarray(lost), np.asarray(gained)


def _largest(
    ids: NDArray[np.int64], pos: NDArray[np.int64], k: int, cols: int
) -> NDArray[np.float64]:
    """Pixels of the largest 8-connected cluster of each patch's pixels (0 for none)."""
    out = np.zeros(k)
    n = len(ids)
    if n == 0:
        return out
    keys = ids * (1 << 40) + pos  # sorted: pairs come sorted by (id, pos)
    col = pos % cols
    src, dst = [], []
    right, left = col == cols - 1, col == 0
    for step, bad in ((1, right), (cols - 1, left), (cols, None), (cols + 1, right)):
        target = keys + step
        at = np.minimum(np.searchsorted(keys, target), n - 1)
        hit = keys[at] == target
        if bad is not None:
            hit &= ~bad
        src.append(np.flatnonzero(hit))
        dst.append(at[hit])
    s, d = np.concatenate(src), np.concatenate(dst)
    graph = sparse.coo_matrix((np.ones(len(s), np.int8), (s, d)), shape=(n, n))
    _, labels = csgraph.connected_components(graph, directed=False)
    size = np.bincount(labels)
    np.maximum.at(out, ids, size[labels].astype(np.float64))
    return out
