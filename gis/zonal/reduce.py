"""Reduce one window: read both dates, burn zones and rings, integer partial sums."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from rasterio import windows as rwindows

from gis.errors import RasterError
from gis.indices import nbr, ndvi
from gis.raster import RasterReader, RasterSource
from gis.zonal.burn import centre_pixels
from gis.zonal.definitions import QUANTUM, SUM_SPLIT
from gis.zonal.inside import InsideOptions, _shifted, extremes_at, pixels_near
from gis.zonal.inside_pass import Burned, _pairs, inside_window, patch_mask
from gis.zonal.kernels import fixed_sums, in_core
from gis.zonal.plan import WindowGroup, block_count, window_transform


@dataclass
class Partial:
    """Integer sums of one window: per zone position (``ZONE_SUMS``) and per ring.

    With the inside pass, ``inside`` holds the :data:`~gis.zonal.inside.INSIDE_COLUMNS` rows
    of the patches at ``inside_pos`` (final values, not sums).
    """

    key: int
    zone_pos: NDArray[np.int64]
    zone: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    ring_pos: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    ring: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    inside_pos: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    inside: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))


@dataclass(frozen=True)
class Indices:
    """How to get NDVI (and NBR) from one raster: the roles to read."""

    ndvi: tuple[str, ...]
    nbr: tuple[str, ...] = ()

    @classmethod
    def of(cls, src: RasterSource, *, with_nbr: bool) -> Indices:
        """Return the roles of ``src`` that give NDVI (R, NIR or a precomputed NDVI band)."""
        if src.has("R", "NIR"):
            base: tuple[str, ...] = ("NIR", "R")
        elif src.has("NDVI"):
            base = ("NDVI",)
        else:
            raise RasterError(
                f"{src.path} has neither R and NIR nor an NDVI band (bands: "
                f"{','.join(src.roles)}); NDVI change needs them — check --bands",
                zh=f"{src.path} 既没有 R 和 NIR 波段，也没有 NDVI 波段"
                f"（波段：{','.join(src.roles)}）；"
                "NDVI 变化需要它们——请检查 --bands",
            )
        return cls(base, ("NIR", "SWIR2") if with_nbr else ())


@dataclass(frozen=True)
class _Dates:
    """Per-window reflectance of both dates by role (NaN invalid); before with a halo.

    Indices are computed only at the pixels a zone or ring holds (and their neighbours), from
    the same float32 values, so they equal a whole-window computation pixel for pixel.
    """

    before: dict[str, NDArray[np.float32]]  # (rows + 2h, cols + 2h)
    after: dict[str, NDArray[np.float32]]  # (rows, cols)
    halo: int


def reduce_windows(
    groups: Sequence[WindowGroup],
    before: RasterSource,
    after: RasterSource,
    *,
    drop_threshold: float = 0.15,
    tolerance_px: int = 1,
    cachemax_mb: int = 32,
    inside: InsideOptions | None = None,
    tap: Any = None,
) -> list[Partial]:
    """Reduce ``groups`` in order with both rasters opened once (pure, picklable inputs).

    Consecutive windows share GDAL's block cache (``cachemax_mb``, per process: the halo
    columns of a window are in its row neighbours' blocks), so pass row-major runs of windows.
    With ``inside`` a window that computes inside statistics (``inside_pos``) is read once,
    grown by its margin, for both passes. ``tap``: called as ``tap(key, window, before, after,
    free, margin, inside)`` with the bands of each such window read whole (grown by
    ``margin``) and the flat mask of its pixels in no patch and no ring (``free``), so other
    zones can be reduced from the same read (:class:`gis.checks.patches.stand_rest.StandTap`).
    """
    with_nbr = has_nbr(before, after)
    ib, ia = Indices.of(before, with_nbr=with_nbr), Indices.of(after, with_nbr=with_nbr)
    out = []
    with before.open(cachemax_mb=cachemax_mb) as rb, after.open(cachemax_mb=cachemax_mb) as ra:
        for g in groups:
            if inside is not None and len(g.inside_pos):
                out.append(
                    _reduce_grown(g, rb, ra, ib, ia, tolerance_px, drop_threshold, inside, tap)
                )
            else:
                d = _read_dates(g, rb, ra, ib, ia, tolerance_px)
                out.append(_reduce(g, d, drop_threshold))
    return out


def _reduce_grown(
    g: WindowGroup,
    rb: RasterReader,
    ra: RasterReader,
    ib: Indices,
    ia: Indices,
    halo: int,
    drop_threshold: float,
    opt: InsideOptions,
    tap: Any = None,
) -> Partial:
    """Read the window grown by its margin once; reduce the change sums and the inside rows.

    The patches and rings are rasterised once, in the grown window: the change sums take the
    pixels of the window's own part (:func:`_core_part`), the inside rows all of them.
    """
    m = g.margin
    grown = replace(g, window=_grown(g.window, m), boxes=g.inside_boxes)
    dates = []
    for reader, idx in ((rb, ib), (ra, ia)):
        roles = tuple(dict.fromkeys(idx.ndvi + idx.nbr + opt.roles))
        values = dict(zip(roles, _read_boxes(reader, grown, roles, 0), strict=True))
        dates.append(values)
    rows, cols = int(g.window.height), int(g.window.width)
    # the window's own pixels, cut from the grown read (a warped date too: its warps are
    # computed block by block, so a pixel has one value whatever window reads it)
    core = [
        {r: np.ascontiguousarray(v[m - h : m + rows + h, m - h : m + cols + h]) for r, v in
         ((r, date[r]) for r in idx.ndvi + tuple(x for x in idx.nbr if x not in idx.ndvi))}
        for date, idx, h in ((dates[0], ib, halo), (dates[1], ia, 0))
    ]  # fmt: skip
    d = _Dates(core[0], core[1], halo)
    rings = g.rings()
    src = rb.source
    transform = window_transform(grown.window, src.grid.transform)
    shape = (rows + 2 * m, cols + 2 * m)
    if len(g.near_pos) != len(g.near_geoms):  # a plan without the patches' positions
        part = _reduce(g, d, drop_threshold, rings)
        burned = None
        own = _own_rings(g, rings, opt.ring_m)
    else:
        burned, ring_id, ring_pos = _burn_grown(g, rings, opt.ring_m, transform, shape)
        part = _core_part(g, d, drop_threshold, burned, ring_id, ring_pos)
        own = None
        if tap is not None and all(_reads_whole(r, grown, 0) for r in (rb, ra)):
            free = ~burned.in_patch
            free[ring_pos] = False
            tap(g.key, g.window, dates[0], dates[1], free, m, opt)
    inside_rows = inside_window(
        {r: dates[0][r] for r in opt.roles},
        {r: dates[1][r] for r in opt.roles},
        _outside(grown.window, src.height, src.width),
        transform,
        g.near_geoms,
        opt,
        own,
        burned,
    )
    return replace(part, inside_pos=g.inside_pos, inside=inside_rows)


def _burn_grown(
    g: WindowGroup, rings: NDArray[Any], ring_m: float, transform: Any, shape: tuple[int, int]
) -> tuple[Burned, NDArray[np.int64], NDArray[np.int64]]:
    """Rasterise the patches near ``g`` and its rings once, in the grown window.

    Returns the pixels for the inside rows and the (ring, pixel) pairs of every ring of the
    change sums; the own patches' rings are those rings (the same polygons) when the change
    sums buffered them, else they are buffered and rasterised on their own.
    """
    near_id, near_pos = _pairs(g.near_geoms, transform, shape)
    ring_id, ring_pos = _pairs(rings, transform, shape)
    in_patch = patch_mask(near_pos, shape)
    k = len(g.inside_pos)
    at = _own_ring_at(g, ring_m)
    if at is None:
        own_id, own_pos = _pairs(_own_rings(g, rings, ring_m), transform, shape)
    else:
        owner = np.full(len(rings), -1, np.int64)
        owner[at] = np.arange(k)
        mine = owner[ring_id]
        keep = mine >= 0
        own_id, own_pos = mine[keep], ring_pos[keep]
        if len(own_id) > 1 and not (np.diff(own_id) >= 0).all():  # rings in another order
            order = np.lexsort((own_pos, own_id))
            own_id, own_pos = own_id[order], own_pos[order]
    burned = Burned(k, near_id, near_pos, own_id, own_pos, in_patch)
    return burned, ring_id, ring_pos


def _own_ring_at(g: WindowGroup, ring_m: float) -> NDArray[np.intp] | None:
    """Positions in ``g.ring_pos`` of the own patches' rings; None unless all are there."""
    if g.ring_buffer != ring_m or len(g.ring_pos) == 0:
        return None
    order = np.argsort(g.ring_pos, kind="stable")
    at = order[np.minimum(np.searchsorted(g.ring_pos, g.inside_pos, sorter=order), len(order) - 1)]
    return at if bool((g.ring_pos[at] == g.inside_pos).all()) else None


def _core_part(
    g: WindowGroup,
    d: _Dates,
    drop_threshold: float,
    burned: Burned,
    ring_id: NDArray[np.int64],
    ring_pos: NDArray[np.int64],
) -> Partial:
    """Return the change sums of the window from the pixels rasterised in the grown window.

    A patch with pixels in the window is among the nearby ones (their bounds meet the grown
    window), so the sums go to ``near_pos``; the rings leave out every patch's pixels.
    """
    rows, cols = int(g.window.height), int(g.window.width)
    gw = cols + 2 * g.margin
    none = np.zeros(0, np.bool_)
    zpos, zid = in_core(burned.near_pos, burned.near_id, g.margin, gw, rows, cols, none)
    # the rings leave out every patch's pixels
    rpos, rid = in_core(ring_pos, ring_id, g.margin, gw, rows, cols, burned.in_patch)
    index = _Ndvi(d, cols, len(zpos) + len(rpos))
    zone = _zone_sums(d, zpos, zid, len(g.near_pos), cols, drop_threshold, index)
    ring = _ring_sums(d, rpos, rid, len(g.ring_pos), cols, index)
    return Partial(g.key, g.near_pos, zone, g.ring_pos, ring)


def _own_rings(g: WindowGroup, rings: NDArray[Any], ring_m: float) -> NDArray[Any]:
    """Rings of the window's own patches: those the change sums buffered, else buffered here.

    (On a geographic grid the sums' rings are buffered in metres in the local UTM zone; the
    inside statistics buffer in the grid's own units, as :func:`gis.zonal.inside.inside_stats`.)
    """
    own = g.near_geoms[: len(g.inside_pos)]
    if g.ring_buffer != ring_m or len(g.ring_pos) == 0:
        return np.asarray(shapely.buffer(own, ring_m, quad_segs=4))
    order = np.argsort(g.ring_pos, kind="stable")
    at = np.minimum(np.searchsorted(g.ring_pos, g.inside_pos, sorter=order), len(order) - 1)
    found = g.ring_pos[order[at]] == g.inside_pos
    out = np.empty(len(own), dtype=object)
    out[found] = rings[order[at[found]]]
    if not found.all():
        out[~found] = shapely.buffer(own[~found], ring_m, quad_segs=4)
    return out


def _grown(window: rwindows.Window, m: int) -> rwindows.Window:
    return rwindows.Window(
        int(window.col_off) - m, int(window.row_off) - m, int(window.width) + 2 * m,
        int(window.height) + 2 * m,
    )  # fmt: skip


def _outside(window: rwindows.Window, height: int, width: int) -> NDArray[np.bool_]:
    """Pixels of ``window`` beyond the raster."""
    r = np.arange(int(window.row_off), int(window.row_off) + int(window.height))
    c = np.arange(int(window.col_off), int(window.col_off) + int(window.width))
    return ((r < 0) | (r >= height))[:, None] | ((c < 0) | (c >= width))[None, :]


def reduce_window(
    group: WindowGroup,
    before: RasterSource,
    after: RasterSource,
    *,
    drop_threshold: float = 0.15,
    tolerance_px: int = 1,
) -> Partial:
    """Reduce one window: read both dates, burn zones and rings, return integer sums."""
    return reduce_windows(
        [group], before, after, drop_threshold=drop_threshold, tolerance_px=tolerance_px
    )[0]


def has_nbr(before: RasterSource, after: RasterSource) -> bool:
    """Whether both dates have NIR and SWIR2 (NBR, hence ``dnbr``, is computed)."""
    return before.has("NIR", "SWIR2") and after.has("NIR", "SWIR2")


def _read_boxes(
    reader: RasterReader, g: WindowGroup, roles: tuple[str, ...], halo: int
) -> NDArray[np.float32]:
    """Read ``roles`` in the boxes of ``g`` (NaN elsewhere), as one window-sized array + halo.

    The boxes are read only when they touch fewer raster blocks (with this date's halo) than
    the whole window does.
    """
    rows, cols = int(g.window.height), int(g.window.width)
    if _reads_whole(reader, g, halo):
        return reader.read_array(g.window, roles, halo=halo)[0]
    out = np.full((len(roles), rows + 2 * halo, cols + 2 * halo), np.nan, np.float32)
    for r, c, h, w in g.boxes:
        sub = rwindows.Window(int(g.window.col_off) + c, int(g.window.row_off) + r, w, h)
        out[:, r : r + h + 2 * halo, c : c + w + 2 * halo] = reader.read_array(
            sub, roles, halo=halo
        )[0]
    return out


def _reads_whole(reader: RasterReader, g: WindowGroup, halo: int) -> bool:
    """Whether :func:`_read_boxes` reads the whole window of ``g`` (not boxes of it)."""
    if not g.boxes:
        return True
    rows, cols = int(g.window.height), int(g.window.width)
    ext = np.array([(c, r, c + w, r + h) for r, c, h, w in g.boxes], dtype=np.int64)
    bs = reader.source.block_shape
    return block_count(ext, bs, halo) >= block_count(np.array([[0, 0, cols, rows]]), bs, halo)


def _read_roles(
    reader: RasterReader, g: WindowGroup, idx: Indices, halo: int
) -> dict[str, NDArray[np.float32]]:
    roles = idx.ndvi + tuple(r for r in idx.nbr if r not in idx.ndvi)
    return dict(zip(roles, _read_boxes(reader, g, roles, halo), strict=True))


def _read_dates(
    g: WindowGroup, rb: RasterReader, ra: RasterReader, ib: Indices, ia: Indices, halo: int
) -> _Dates:
    return _Dates(_read_roles(rb, g, ib, halo), _read_roles(ra, g, ia, 0), halo)


def _ndvi_at(bands: dict[str, NDArray[np.float32]], at: NDArray[np.int64]) -> NDArray[Any]:
    """NDVI (clipped to [-1, 1]) at flat indices ``at``: from R and NIR, or the NDVI band."""
    if "NDVI" in bands:
        return np.clip(bands["NDVI"].ravel()[at], -1.0, 1.0)
    return np.clip(ndvi(bands["NIR"].ravel()[at], bands["R"].ravel()[at]), -1.0, 1.0)


def _nbr_at(bands: dict[str, NDArray[np.float32]], at: NDArray[np.int64]) -> NDArray[Any]:
    """NBR (clipped to [-1, 1]) at flat indices ``at``; NaN without SWIR2."""
    if "SWIR2" not in bands:
        return np.full(at.shape, np.nan, np.float32)
    return np.clip(nbr(bands["NIR"].ravel()[at], bands["SWIR2"].ravel()[at]), -1.0, 1.0)


def _halo_index(d: _Dates, pos: NDArray[np.int64], cols: int) -> NDArray[np.int64]:
    """Flat index in the before arrays (which have a halo) of the window-core pixels ``pos``."""
    h = d.halo
    return pos + (pos // cols) * (2 * h) + h * (cols + 2 * h) + h


def _tolerant_min(d: _Dates, at: NDArray[np.int64], cols: int) -> NDArray[Any]:
    """Minimum valid before-NDVI over the (2h+1)² neighbourhood of the pixels at ``at``.

    The drop of an after pixel is measured against the most similar (the lowest) before value
    within ``h`` pixels: a sharp edge shifted by up to ``h`` pixels between the dates finds its
    own value in the neighbourhood and gives no drop, while a real clearing lowers every
    neighbour's match.
    """
    h, width = d.halo, cols + 2 * d.halo
    size = next(iter(d.before.values())).size
    if len(at) > 0.8 * size:  # dense: once over the window, then gathered (cheaper there)
        bands = {r: v.ravel() for r, v in d.before.items()}
        whole = _ndvi_at(bands, np.arange(size)).reshape(-1, width)
        return _shifted(whole, h, np.fmin).ravel()[at]
    shape = (size // width, width)
    where = pixels_near(at, shape, h)  # NDVI once at each pixel of the neighbourhoods
    return extremes_at(_ndvi_at(d.before, where)[None], where, at, shape, h)[0, 0]


def _sum_by(ids: NDArray[np.int64], values: NDArray[Any], k: int) -> tuple[Any, Any]:
    """Return (count, exact fixed-point sum) of finite ``values`` per id, as int64."""
    return fixed_sums(ids, values, k, QUANTUM, SUM_SPLIT)  # type: ignore[no-any-return]


def _reduce(
    g: WindowGroup, d: _Dates, drop_threshold: float, rings: NDArray[Any] | None = None
) -> Partial:
    shape = (int(g.window.height), int(g.window.width))
    zone, in_patch = _zone_part(g, d, shape, drop_threshold)
    rpos, rids = centre_pixels(g.rings() if rings is None else rings, g.transform, shape)
    keep = ~in_patch[rpos]
    ring = _ring_sums(d, rpos[keep], rids[keep], len(g.ring_pos), shape[1])
    return Partial(g.key, g.zone_pos, zone, g.ring_pos, ring)


def _zone_part(
    g: WindowGroup, d: _Dates, shape: tuple[int, int], drop_threshold: float
) -> tuple[dict[str, NDArray[np.int64]], NDArray[np.bool_]]:
    """Zone sums and the mask of pixels in any patch (which rings leave out)."""
    pos, ids = centre_pixels(g.zone_geoms, g.transform, shape)
    in_patch = np.zeros(shape[0] * shape[1], dtype=bool)
    in_patch[pos] = True
    return _zone_sums(d, pos, ids, len(g.zone_pos), shape[1], drop_threshold), in_patch


def _zone_sums(
    d: _Dates,
    pos: NDArray[np.int64],
    ids: NDArray[np.int64],
    k: int,
    cols: int,
    drop_threshold: float,
    index: _Ndvi | None = None,
) -> dict[str, NDArray[np.int64]]:
    at = _halo_index(d, pos, cols)
    nd = index if index is not None else _Ndvi(d, cols, len(pos))
    core_b = nd.before(at)
    vb = nd.tolerant_min(at) if d.halo else core_b
    va = nd.after(pos)
    s: dict[str, NDArray[np.int64]] = {"n": np.bincount(ids, minlength=k).astype(np.int64)}
    s["nvb"], s["sb"] = _sum_by(ids, core_b, k)
    s["nva"], s["sa"] = _sum_by(ids, va, k)
    both = np.isfinite(core_b) & np.isfinite(va)
    s["nboth"] = np.bincount(ids[both], minlength=k).astype(np.int64)
    dropped = (vb[both].astype(np.float64) - va[both]) > drop_threshold
    s["ndrop"] = np.bincount(ids[both][dropped], minlength=k).astype(np.int64)
    s["nnb"], s["snb"] = _sum_by(ids, _nbr_at(d.before, at), k)
    s["nna"], s["sna"] = _sum_by(ids, _nbr_at(d.after, pos), k)
    return s


def _ring_sums(
    d: _Dates,
    pos: NDArray[np.int64],
    ids: NDArray[np.int64],
    k: int,
    cols: int,
    index: _Ndvi | None = None,
) -> dict[str, NDArray[np.int64]]:
    nd = index if index is not None else _Ndvi(d, cols, len(pos))
    core_b = nd.before(_halo_index(d, pos, cols))
    s: dict[str, NDArray[np.int64]] = {"n": np.bincount(ids, minlength=k).astype(np.int64)}
    s["nvb"], s["sb"] = _sum_by(ids, core_b, k)
    s["nva"], s["sa"] = _sum_by(ids, nd.after(pos), k)
    return s


class _Ndvi:
    """NDVI of a window's dates at given pixels.

    Gathered band by band where few pixels are asked for, else computed once over the whole
    window (the same float32 values) and gathered.
    """

    def __init__(self, d: _Dates, cols: int, n_pixels: int) -> None:
        self.d, self.cols = d, cols
        size = next(iter(d.after.values())).size
        self.whole: tuple[NDArray[Any], NDArray[Any]] | None = None
        if n_pixels * DENSE_SHARE > size:
            self.whole = (_ndvi_whole(d.before), _ndvi_whole(d.after))

    def before(self, at: NDArray[np.int64]) -> NDArray[Any]:
        """Before-date NDVI at flat indices ``at`` of the before arrays (with their halo)."""
        return _ndvi_at(self.d.before, at) if self.whole is None else self.whole[0][at]

    def after(self, pos: NDArray[np.int64]) -> NDArray[Any]:
        """After-date NDVI at the window pixels ``pos``."""
        return _ndvi_at(self.d.after, pos) if self.whole is None else self.whole[1][pos]

    def tolerant_min(self, at: NDArray[np.int64]) -> NDArray[Any]:
        """:func:`_tolerant_min` at ``at`` (the whole window's minimum filter when computed)."""
        if self.whole is None:
            return _tolerant_min(self.d, at, self.cols)
        width = self.cols + 2 * self.d.halo
        return _shifted(self.whole[0].reshape(-1, width), self.d.halo, np.fmin).ravel()[at]


DENSE_SHARE = 3
"""NDVI is computed over the whole window when the pixels asked for, times this, outnumber it
(a gather of two bands at a pixel costs about three times a pass over it)."""


def _ndvi_whole(bands: dict[str, NDArray[np.float32]]) -> NDArray[Any]:
    """NDVI (clipped to [-1, 1]) of every pixel, flat: :func:`_ndvi_at` of all of them."""
    if "NDVI" in bands:
        return np.clip(bands["NDVI"].ravel(), -1.0, 1.0)
    return np.clip(ndvi(bands["NIR"].ravel(), bands["R"].ravel()), -1.0, 1.0)
