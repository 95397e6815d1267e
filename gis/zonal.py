"""Two-date change statistics per zone (patch) and its ring, by rasterize-and-bincount.

The engine never loops over polygons with windowed reads. It tiles the raster grid in windows
(:func:`plan_windows`), and for each window (:func:`reduce_window`, pure and picklable) reads both
dates once, computes per-pixel NDVI (and NBR), burns the ids of the zones and rings touching the
window into it and reduces them with ``numpy.bincount``. Partial sums are integers: per-pixel
index values are rounded to fixed point (:data:`QUANTUM`) before summing, so :func:`combine`
gives bit-identical results however the windows are grouped into tasks or threads (issue 8).
:func:`change_stats` is the single-machine driver (a pool of threads over chunks of windows).

Examples
--------
>>> sorted(STAT_DEFINITIONS)[:3]
['dnbr', 'dndvi', 'drop_frac']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from numpy.typing import NDArray
from pyproj import CRS
from rasterio import windows as rwindows

from gis.crs import require_crs
from gis.errors import RasterError
from gis.findings import Findings
from gis.indices import nbr, ndvi
from gis.raster import Grid, RasterReader, RasterSource, grid_windows, tile_shape

QUANTUM = 2.0**-34
"""Fixed-point step of per-pixel index values before summing. A float32 value ``|v| >= 2**-11``
is an exact multiple of it, so the integer sums are the exact sums of the float32 values:
means equal a plain float64 numpy mean of the same pixels, bit for bit, and do not depend on
how pixels are grouped into windows, threads or tasks (values nearer 0 are rounded by at most
``2**-35``)."""

_SPLIT = 2**17
"""Sums are taken as high and low parts so every float64 ``bincount`` stays exact."""

STAT_DEFINITIONS: dict[str, str] = {
    "n_pixels": "number of raster pixels whose centre lies in the patch (GDAL rasterize, "
    "all_touched=False), counted on the raster's own grid; vectors are transformed to the "
    "raster's CRS, rasters are never resampled",
    "valid_frac_before": "share of the patch's pixels that are valid on the before date: not "
    "nodata in any band used, not masked (cloud/SCL mask), and with a finite NDVI",
    "valid_frac_after": "the same for the after date",
    "ndvi_before": "mean of per-pixel NDVI = (NIR - R) / (NIR + R) (float32 reflectance, or a "
    "precomputed NDVI band, clipped to [-1, 1]) over the patch's valid pixels on the before "
    "date; not the NDVI of the mean bands, not coverage-weighted",
    "ndvi_after": "the same mean on the after date",
    "dndvi": "ndvi_after - ndvi_before (difference of the two means; negative = vegetation loss)",
    "drop_frac": "share of the patch's pixels valid on both dates whose NDVI dropped by more "
    "than drop_threshold, misregistration-tolerant: drop = min(before NDVI over the "
    "(2*tolerance_px+1)^2 neighbourhood) - after NDVI, so an after pixel that matches any "
    "before pixel within tolerance_px (a shifted edge) is not a drop",
    "dnbr": "nbr_after - nbr_before: difference of the mean per-pixel NBR = (NIR - SWIR2) / "
    "(NIR + SWIR2) over valid pixels (negative = burn or clearing); NULL unless both rasters "
    "have NIR and SWIR2",
    "ring_n_pixels": "number of pixels of the ring: centre within ring_m metres of the patch "
    "(buffer with 4 segments per quarter circle) and in no patch at all (local background)",
    "ring_ndvi_before": "mean per-pixel NDVI over the ring's valid pixels, before date",
    "ring_ndvi_after": "the same on the after date",
    "ring_dndvi": "ring_ndvi_after - ring_ndvi_before: the background's change (phenology, "
    "illumination) to compare dndvi with",
}
"""Definition of every statistic :func:`change_stats` returns (written to the run table)."""

COLUMNS = (
    "n_pixels",
    "valid_frac_before",
    "valid_frac_after",
    "ndvi_before",
    "ndvi_after",
    "dndvi",
    "drop_frac",
    "dnbr",
    "ring_n_pixels",
    "ring_ndvi_before",
    "ring_ndvi_after",
    "ring_dndvi",
)
"""Columns of the :func:`change_stats` frame, in order."""

ZONE_SUMS = ("n", "nvb", "nva", "sb", "sa", "nboth", "ndrop", "nnb", "snb", "nna", "sna")
RING_SUMS = ("n", "nvb", "nva", "sb", "sa")


@dataclass(frozen=True)
class WindowGroup:
    """The zones and rings one raster window must reduce (picklable).

    ``zone_pos``/``ring_pos`` are positions in the zone table, ``*_geoms`` the geometries in
    the raster's CRS (a ring is the patch buffered by ``ring_m``; other patches are removed
    pixel by pixel). ``boxes`` are the parts of the window that are read, as (row, col, rows,
    cols) relative to the window: the whole window when zones fill it, else the boxes around
    the zones and rings (sparse patches do not make the engine read the whole raster).
    """

    key: int
    window: rwindows.Window
    transform: Any
    zone_pos: NDArray[np.int64]
    zone_geoms: NDArray[Any]
    ring_pos: NDArray[np.int64]
    ring_geoms: NDArray[Any]
    boxes: tuple[tuple[int, int, int, int], ...] = ()


@dataclass
class Partial:
    """Integer sums of one window: per zone position (``ZONE_SUMS``) and per ring."""

    key: int
    zone_pos: NDArray[np.int64]
    zone: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    ring_pos: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    ring: dict[str, NDArray[np.int64]] = field(default_factory=dict)


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
                f"{','.join(src.roles)}); NDVI change needs them — check --bands"
            )
        return cls(base, ("NIR", "SWIR2") if with_nbr else ())


def plan_windows(
    zones: Any,
    grid: Grid,
    window_px: int = 1024,
    *,
    ring_m: float = 30.0,
    block_shape: tuple[int, int] = (1, 1),
    threads: int = 1,
    max_box_fill: float = 0.5,
) -> list[WindowGroup]:
    """Group zones (and their rings) by the raster windows their bounds touch.

    Parameters
    ----------
    zones : GeoSeries, GeoDataFrame or array of shapely geometries
        Zones already in the raster's CRS; positions in it are the zone ids.
    grid : Grid
        The raster grid (north-up).
    window_px : int
        Window size in pixels (rounded up to whole blocks of ``block_shape``).
    ring_m : float
        Ring width in metres (on a geographic grid, buffered in the local UTM zone).
    block_shape : tuple of int
        The raster's block (tile) shape.
    threads : int
        Threads for buffering the rings (shapely releases the GIL).
    max_box_fill : float
        Read only boxes around the zones when they cover less than this share of the window;
        else (and always with 0) read the whole window.

    Returns
    -------
    list of WindowGroup
        Row-major; windows that no zone or ring touches are left out.
    """
    _require_north_up(grid)
    geoms = np.asarray(getattr(zones, "geometry", zones), dtype=object)
    present = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    zg = geoms[present]
    rg = _rings(zg, ring_m, threads, grid.crs_wkt)
    tile = tile_shape_of(grid, window_px, block_shape)
    z_idx, z_key = _touching(shapely.bounds(zg), grid, tile)
    r_idx, r_key = _touching(shapely.bounds(rg), grid, tile)
    wins = grid_windows(grid, window_px, block_shape)
    groups = []
    for key in np.union1d(z_key, r_key):
        zs = z_idx[np.searchsorted(z_key, key) : np.searchsorted(z_key, key, side="right")]
        rs = r_idx[np.searchsorted(r_key, key) : np.searchsorted(r_key, key, side="right")]
        win = wins[int(key)]
        transform = window_transform(win, grid.transform)
        bounds = np.concatenate([shapely.bounds(zg[zs]), shapely.bounds(rg[rs])])
        boxes = read_boxes(bounds, win, transform, block_shape=block_shape, max_fill=max_box_fill)
        groups.append(
            WindowGroup(int(key), win, transform, present[zs], zg[zs], present[rs], rg[rs], boxes)
        )
    return groups


def read_boxes(
    bounds: NDArray[np.float64],
    window: rwindows.Window,
    transform: Affine,
    *,
    block_shape: tuple[int, int] = (1, 1),
    max_fill: float = 0.5,
    slack_px: int = 4,
) -> tuple[tuple[int, int, int, int], ...]:
    """Return the (row, col, rows, cols) boxes of ``window`` that hold every pixel of ``bounds``.

    Overlapping pixel extents (grown by ``slack_px``) are merged. Reading costs whole raster
    blocks, so when the boxes (grown by a 1-pixel halo) touch ``max_fill`` of the window's
    blocks or more, counted box by box, the whole window is one box.

    Examples
    --------
    >>> win = rwindows.Window(0, 0, 100, 100)
    >>> read_boxes(np.array([[10.0, -20.0, 20.0, -10.0]]), win, Affine(1, 0, 0, 0, -1, 0))
    ((5, 5, 19, 19),)
    """
    rows, cols = int(window.height), int(window.width)
    whole = ((0, 0, rows, cols),)
    t = transform
    c0 = np.clip(np.floor((bounds[:, 0] - t.c) / t.a - 0.5) - slack_px, 0, cols)
    c1 = np.clip(np.floor((bounds[:, 2] - t.c) / t.a - 0.5) + 1 + slack_px, 0, cols)
    r0 = np.clip(np.floor((bounds[:, 3] - t.f) / t.e - 0.5) - slack_px, 0, rows)
    r1 = np.clip(np.floor((bounds[:, 1] - t.f) / t.e - 0.5) + 1 + slack_px, 0, rows)
    limit = max_fill * _block_count(np.array([[0, 0, cols, rows]]), block_shape, 0)
    if _block_count(np.stack([c0, r0, c1, r1], axis=1), block_shape, 1) >= limit:
        return whole
    merged = shapely.get_parts(shapely.union_all(shapely.box(c0, r0, c1, r1)))
    ext = shapely.bounds(merged).astype(np.int64)
    ext = ext[(ext[:, 2] > ext[:, 0]) & (ext[:, 3] > ext[:, 1])]
    if _block_count(ext, block_shape, 1) >= limit:
        return whole
    return tuple((int(b[1]), int(b[0]), int(b[3] - b[1]), int(b[2] - b[0])) for b in ext)


def _block_count(ext: NDArray[Any], block_shape: tuple[int, int], halo: int) -> int:
    """Sum over boxes (minx, miny, maxx, maxy in window pixels) of the raster blocks each touches.

    Windows start on block boundaries, so block indices are window pixel // block size.
    """
    bh, bw = block_shape
    e = np.asarray(ext, dtype=np.int64)
    nx = (e[:, 2] - 1 + halo) // bw - (e[:, 0] - halo) // bw + 1
    ny = (e[:, 3] - 1 + halo) // bh - (e[:, 1] - halo) // bh + 1
    return int((nx * ny).sum())


def _rings(geoms: NDArray[Any], ring_m: float, threads: int, crs_wkt: str) -> NDArray[Any]:
    """Buffer every geometry by ``ring_m`` metres (4 segments per quarter circle), on threads.

    On a geographic grid the buffer is taken in the local UTM zone and transformed back.
    """
    if ring_m <= 0 or len(geoms) == 0:
        return geoms[:0]
    crs = CRS.from_wkt(crs_wkt) if crs_wkt else None
    if crs is not None and crs.is_geographic:
        local = gpd.GeoSeries(geoms, crs=crs)
        metric = local.estimate_utm_crs()
        rings = _buffer(np.asarray(local.to_crs(metric).values), ring_m, threads)
        return np.asarray(gpd.GeoSeries(rings, crs=metric).to_crs(crs).values, dtype=object)
    return _buffer(geoms, ring_m, threads)


def _buffer(geoms: NDArray[Any], distance: float, threads: int) -> NDArray[Any]:
    if threads <= 1 or len(geoms) < 1000:
        return shapely.buffer(geoms, distance, quad_segs=4)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        parts = pool.map(
            lambda chunk: shapely.buffer(chunk, distance, quad_segs=4),
            np.array_split(geoms, threads * 2),
        )
        return np.concatenate(list(parts))


def window_transform(window: rwindows.Window, transform: Affine) -> Affine:
    """Return the transform of ``window`` of a north-up grid with ``transform``."""
    t = transform
    col, row = float(window.col_off), float(window.row_off)
    return Affine(t.a, t.b, t.c + col * t.a + row * t.b, t.d, t.e, t.f + col * t.d + row * t.e)


def tile_shape_of(grid: Grid, window_px: int, block_shape: tuple[int, int]) -> tuple[int, int, int]:
    """Return (tile rows, tile cols, windows per row) of the window layout."""
    sh, sw = tile_shape(window_px, block_shape)
    return sh, sw, -(-grid.width // sw)


def _require_north_up(grid: Grid) -> None:
    t = grid.transform
    if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
        raise RasterError(
            f"the raster grid {tuple(t)[:6]} is rotated or not north-up; warp it to a north-up "
            "grid first (gdalwarp -tap) — rasters are never resampled here"
        )


def _touching(
    bounds: NDArray[np.float64], grid: Grid, tile: tuple[int, int, int]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return (geometry index, window key) pairs, sorted by key then index.

    A pixel counts when its centre is in the geometry, so the columns ``j`` with centre
    ``x0 + (j + 0.5) a`` inside [minx, maxx] bound the windows touched (widened by one pixel).
    """
    sh, sw, ncols = tile
    t = grid.transform
    c0 = np.floor((bounds[:, 0] - t.c) / t.a - 0.5)
    c1 = np.floor((bounds[:, 2] - t.c) / t.a - 0.5) + 1
    r0 = np.floor((bounds[:, 3] - t.f) / t.e - 0.5)
    r1 = np.floor((bounds[:, 1] - t.f) / t.e - 0.5) + 1
    inside = (c1 >= 0) & (c0 < grid.width) & (r1 >= 0) & (r0 < grid.height)
    inside &= np.isfinite(bounds).all(axis=1)
    idx = np.flatnonzero(inside)
    wc0 = (np.clip(c0[idx], 0, grid.width - 1) // sw).astype(np.int64)
    wc1 = (np.clip(c1[idx], 0, grid.width - 1) // sw).astype(np.int64)
    wr0 = (np.clip(r0[idx], 0, grid.height - 1) // sh).astype(np.int64)
    wr1 = (np.clip(r1[idx], 0, grid.height - 1) // sh).astype(np.int64)
    nc = wc1 - wc0 + 1
    counts = nc * (wr1 - wr0 + 1)
    rep = np.repeat(np.arange(idx.size), counts)
    k = np.arange(rep.size) - np.repeat(np.cumsum(counts) - counts, counts)
    keys = (wr0[rep] + k // nc[rep]) * ncols + wc0[rep] + k % nc[rep]
    order = np.lexsort((idx[rep], keys))
    return idx[rep][order].astype(np.int64), keys[order]


@dataclass(frozen=True)
class _Dates:
    """Per-window index arrays of both dates (before with a halo for the drop tolerance)."""

    ndvi_b: NDArray[np.float32]  # (rows + 2h, cols + 2h)
    ndvi_a: NDArray[np.float32]  # (rows, cols)
    nbr_b: NDArray[np.float32] | None
    nbr_a: NDArray[np.float32] | None
    halo: int


def reduce_windows(
    groups: Sequence[WindowGroup],
    before: RasterSource,
    after: RasterSource,
    *,
    drop_threshold: float = 0.15,
    tolerance_px: int = 1,
    cachemax_mb: int = 64,
) -> list[Partial]:
    """Reduce ``groups`` in order with both rasters opened once (pure, picklable inputs).

    Consecutive windows share GDAL's block cache (the halo rows and columns of a window are
    in its neighbours' blocks), so pass row-major runs of windows when you can.
    """
    with_nbr = _with_nbr(before, after)
    ib, ia = Indices.of(before, with_nbr=with_nbr), Indices.of(after, with_nbr=with_nbr)
    with before.open(cachemax_mb=cachemax_mb) as rb, after.open(cachemax_mb=cachemax_mb) as ra:
        return [
            _reduce(g, _read_dates(g, rb, ra, ib, ia, tolerance_px), drop_threshold) for g in groups
        ]


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


def _with_nbr(before: RasterSource, after: RasterSource) -> bool:
    return before.has("NIR", "SWIR2") and after.has("NIR", "SWIR2")


def _read_boxes(
    reader: RasterReader, g: WindowGroup, roles: tuple[str, ...], halo: int
) -> NDArray[np.float32]:
    """Read ``roles`` in the boxes of ``g`` (NaN elsewhere), as one window-sized array + halo."""
    rows, cols = int(g.window.height), int(g.window.width)
    if not g.boxes or g.boxes == ((0, 0, rows, cols),):
        return reader.read_array(g.window, roles, halo=halo)[0]
    out = np.full((len(roles), rows + 2 * halo, cols + 2 * halo), np.nan, np.float32)
    for r, c, h, w in g.boxes:
        sub = rwindows.Window(int(g.window.col_off) + c, int(g.window.row_off) + r, w, h)
        out[:, r : r + h + 2 * halo, c : c + w + 2 * halo] = reader.read_array(
            sub, roles, halo=halo
        )[0]
    return out


def _read_index(
    reader: RasterReader, g: WindowGroup, idx: Indices, halo: int
) -> tuple[NDArray[np.float32], NDArray[np.float32] | None]:
    """Read the roles of ``idx`` and return (NDVI clipped to [-1, 1], NBR or None), NaN invalid."""
    roles = idx.ndvi + tuple(r for r in idx.nbr if r not in idx.ndvi)
    values = _read_boxes(reader, g, roles, halo)
    band = dict(zip(roles, values, strict=True))
    v = band["NDVI"] if "NDVI" in band else ndvi(band["NIR"], band["R"])
    v = np.clip(v, -1.0, 1.0)
    b = np.clip(nbr(band["NIR"], band["SWIR2"]), -1.0, 1.0) if idx.nbr else None
    return v, b


def _read_dates(
    g: WindowGroup, rb: RasterReader, ra: RasterReader, ib: Indices, ia: Indices, halo: int
) -> _Dates:
    vb, bb = _read_index(rb, g, ib, halo)
    va, ba = _read_index(ra, g, ia, 0)
    if bb is not None and halo:
        bb = bb[halo:-halo, halo:-halo]
    return _Dates(vb, va, bb, ba, halo)


def centre_pixels(
    geoms: NDArray[Any], transform: Any, shape: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return (flat pixel index, geometry index) of every pixel whose centre lies in a geometry.

    A vectorised even-odd scanline fill of all geometries at once, with GDAL's rule
    (``rasterize``, ``all_touched=False``): on the scanline through the pixel centres of row
    ``i`` (``y = i + 0.5`` in pixel coordinates) an edge counts when ``y1 <= y < y2``; between
    two crossings ``xa <= xb`` the columns ``floor(xa + 0.5) <= j < floor(xb + 0.5)`` are in.
    Overlapping geometries each get their pixels (no layering needed). Polygons and
    multipolygons with holes are supported.

    Examples
    --------
    >>> from affine import Affine
    >>> sq = shapely.box(0.2, -2.2, 2.2, -0.2)
    >>> pos, ids = centre_pixels(np.array([sq]), Affine(1, 0, 0, 0, -1, 0), (3, 3))
    >>> pos.tolist(), ids.tolist()
    ([0, 1, 3, 4], [0, 0, 0, 0])
    """
    edges = _pixel_edges(geoms, transform)
    rows, xs, gid = _crossings(edges, shape[0])
    order = np.lexsort((xs, rows, gid))
    rows, xs, gid = rows[order], xs[order], gid[order]
    c0 = np.clip(np.floor(xs[0::2] + 0.5), 0, shape[1]).astype(np.int64)
    c1 = np.clip(np.floor(xs[1::2] + 0.5), 0, shape[1]).astype(np.int64)
    span, offset = _expand(np.maximum(c1 - c0, 0))
    return rows[0::2][span] * shape[1] + c0[span] + offset, gid[0::2][span]


def _expand(counts: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return (item index repeated ``counts`` times, 0..count-1 within each item)."""
    item = np.repeat(np.arange(counts.size), counts)
    return item, np.arange(item.size) - np.repeat(np.cumsum(counts) - counts, counts)


def _pixel_edges(geoms: NDArray[Any], transform: Any) -> tuple[NDArray[Any], ...]:
    """Non-horizontal polygon edges in pixel coordinates, lower-y end first, with geometry ids."""
    parts, part_geom = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, coord_ring = shapely.get_coordinates(rings, return_index=True)
    inv = ~transform
    px = inv.c + xy[:, 0] * inv.a + xy[:, 1] * inv.b
    py = inv.f + xy[:, 0] * inv.d + xy[:, 1] * inv.e
    same = coord_ring[1:] == coord_ring[:-1]
    x1, y1, x2, y2 = px[:-1][same], py[:-1][same], px[1:][same], py[1:][same]
    gid = part_geom[ring_part[coord_ring[:-1][same]]]
    keep = y1 != y2
    x1, y1, x2, y2, gid = x1[keep], y1[keep], x2[keep], y2[keep], gid[keep]
    swap = y1 > y2
    return (
        np.where(swap, x2, x1),
        np.where(swap, y2, y1),
        np.where(swap, x1, x2),
        np.where(swap, y1, y2),
        gid.astype(np.int64),
    )


def _crossings(
    edges: tuple[NDArray[Any], ...], h: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Return (row, x, geometry id) of every edge crossing a row's centre line within 0..h."""
    xlo, ylo, xhi, yhi, gid = edges
    r0 = np.clip(np.ceil(ylo - 0.5), 0, h).astype(np.int64)
    r1 = np.clip(np.ceil(yhi - 0.5), 0, h).astype(np.int64)
    edge, k = _expand(np.maximum(r1 - r0, 0))
    rows = r0[edge] + k
    xs = (rows + 0.5 - ylo[edge]) * (xhi - xlo)[edge] / (yhi - ylo)[edge] + xlo[edge]
    return rows, xs, gid[edge]


def _halo_index(d: _Dates, pos: NDArray[np.int64], cols: int) -> NDArray[np.int64]:
    """Flat index in the before array (which has a halo) of the window-core pixels ``pos``."""
    h = d.halo
    return pos + (pos // cols) * (2 * h) + h * (cols + 2 * h) + h


def _tolerant_min(d: _Dates, at: NDArray[np.int64], cols: int) -> NDArray[np.float32]:
    """Minimum valid before-NDVI over the (2h+1)² neighbourhood of the pixels at ``at``.

    The drop of an after pixel is measured against the most similar (the lowest) before value
    within ``h`` pixels: a sharp edge shifted by up to ``h`` pixels between the dates finds its
    own value in the neighbourhood and gives no drop, while a real clearing lowers every
    neighbour's match.
    """
    h, width = d.halo, cols + 2 * d.halo
    flat = d.ndvi_b.ravel()
    out = flat[at]
    for dy in range(-h, h + 1):
        for dx in range(-h, h + 1):
            if dy or dx:
                out = np.fmin(out, flat[at + (dy * width + dx)])
    return out


def _fixed(values: NDArray[Any]) -> NDArray[np.int64]:
    """Per-pixel values as integers of :data:`QUANTUM`."""
    return np.rint(values.astype(np.float64) / QUANTUM).astype(np.int64)


def _sum_by(ids: NDArray[np.int64], values: NDArray[Any], k: int) -> tuple[Any, Any]:
    """Return (count, exact fixed-point sum) of finite ``values`` per id, as int64."""
    ok = np.isfinite(values)
    hi, lo = np.divmod(_fixed(values[ok]), _SPLIT)
    count = np.bincount(ids[ok], minlength=k).astype(np.int64)
    sum_hi = np.bincount(ids[ok], weights=hi.astype(np.float64), minlength=k).astype(np.int64)
    sum_lo = np.bincount(ids[ok], weights=lo.astype(np.float64), minlength=k).astype(np.int64)
    return count, sum_hi * _SPLIT + sum_lo


def _reduce(g: WindowGroup, d: _Dates, drop_threshold: float) -> Partial:
    shape = (int(g.window.height), int(g.window.width))
    pos, ids = centre_pixels(g.zone_geoms, g.transform, shape)
    in_patch = np.zeros(shape[0] * shape[1], dtype=bool)
    in_patch[pos] = True
    out = Partial(g.key, g.zone_pos, _zone_sums(g, d, pos, ids, shape[1], drop_threshold))
    rpos, rids = centre_pixels(g.ring_geoms, g.transform, shape)
    keep = ~in_patch[rpos]
    out.ring_pos = g.ring_pos
    out.ring = _ring_sums(d, rpos[keep], rids[keep], len(g.ring_pos), shape[1])
    return out


def _zone_sums(
    g: WindowGroup,
    d: _Dates,
    pos: NDArray[np.int64],
    ids: NDArray[np.int64],
    cols: int,
    drop_threshold: float,
) -> dict[str, NDArray[np.int64]]:
    k = len(g.zone_pos)
    at = _halo_index(d, pos, cols)
    core_b = d.ndvi_b.ravel()[at]
    vb = _tolerant_min(d, at, cols) if d.halo else core_b
    va = d.ndvi_a.ravel()[pos]
    s: dict[str, NDArray[np.int64]] = {"n": np.bincount(ids, minlength=k).astype(np.int64)}
    s["nvb"], s["sb"] = _sum_by(ids, core_b, k)
    s["nva"], s["sa"] = _sum_by(ids, va, k)
    both = np.isfinite(core_b) & np.isfinite(va)
    s["nboth"] = np.bincount(ids[both], minlength=k).astype(np.int64)
    dropped = (vb[both].astype(np.float64) - va[both]) > drop_threshold
    s["ndrop"] = np.bincount(ids[both][dropped], minlength=k).astype(np.int64)
    nan = np.full(pos.shape, np.nan, np.float32)
    nb = d.nbr_b.ravel()[pos] if d.nbr_b is not None else nan
    na = d.nbr_a.ravel()[pos] if d.nbr_a is not None else nan
    s["nnb"], s["snb"] = _sum_by(ids, nb, k)
    s["nna"], s["sna"] = _sum_by(ids, na, k)
    return s


def _ring_sums(
    d: _Dates, pos: NDArray[np.int64], ids: NDArray[np.int64], k: int, cols: int
) -> dict[str, NDArray[np.int64]]:
    core_b = d.ndvi_b.ravel()[_halo_index(d, pos, cols)]
    s: dict[str, NDArray[np.int64]] = {"n": np.bincount(ids, minlength=k).astype(np.int64)}
    s["nvb"], s["sb"] = _sum_by(ids, core_b, k)
    s["nva"], s["sa"] = _sum_by(ids, d.ndvi_a.ravel()[pos], k)
    return s


def combine(
    partials: Sequence[Partial],
    n_zones: int,
    *,
    index: Any = None,
    with_nbr: bool = True,
) -> pd.DataFrame:
    """Add the integer partial sums of all windows and turn them into the statistics frame.

    Integer addition is exact and order-independent: the frame is bit-identical whatever the
    order, threads or tasks the partials came from.
    """
    z = {name: np.zeros(n_zones, np.int64) for name in ZONE_SUMS}
    r = {name: np.zeros(n_zones, np.int64) for name in RING_SUMS}
    for p in partials:
        for name in ZONE_SUMS:
            z[name][p.zone_pos] += p.zone[name]
        for name in RING_SUMS:
            r[name][p.ring_pos] += p.ring[name]
    with np.errstate(invalid="ignore", divide="ignore"):
        cols = _zone_columns(z, with_nbr)
        cols.update(_ring_columns(r))
    frame = pd.DataFrame(cols, index=index if index is not None else pd.RangeIndex(n_zones))
    return frame[list(COLUMNS)]


def _ratio(num: NDArray[Any], den: NDArray[np.int64]) -> NDArray[np.float64]:
    return np.where(den > 0, num.astype(np.float64) / np.maximum(den, 1), np.nan)


def _mean(total: NDArray[np.int64], count: NDArray[np.int64]) -> NDArray[np.float64]:
    return _ratio(total.astype(np.float64) * QUANTUM, count)


def _zone_columns(z: dict[str, NDArray[np.int64]], with_nbr: bool) -> dict[str, Any]:
    before, after = _mean(z["sb"], z["nvb"]), _mean(z["sa"], z["nva"])
    dnbr = _mean(z["sna"], z["nna"]) - _mean(z["snb"], z["nnb"])
    return {
        "n_pixels": z["n"],
        "valid_frac_before": _ratio(z["nvb"], z["n"]),
        "valid_frac_after": _ratio(z["nva"], z["n"]),
        "ndvi_before": before,
        "ndvi_after": after,
        "dndvi": after - before,
        "drop_frac": _ratio(z["ndrop"], z["nboth"]),
        "dnbr": dnbr if with_nbr else np.full(len(before), np.nan),
    }


def _ring_columns(r: dict[str, NDArray[np.int64]]) -> dict[str, Any]:
    before, after = _mean(r["sb"], r["nvb"]), _mean(r["sa"], r["nva"])
    return {
        "ring_n_pixels": r["n"],
        "ring_ndvi_before": before,
        "ring_ndvi_after": after,
        "ring_dndvi": after - before,
    }


def change_stats(
    zones: gpd.GeoDataFrame | gpd.GeoSeries,
    before: RasterSource,
    after: RasterSource,
    *,
    ring_m: float = 30.0,
    drop_threshold: float = 0.15,
    tolerance_px: int = 1,
    window_px: int = 1024,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    findings: Findings | None = None,
) -> pd.DataFrame:
    """Two-date NDVI/NBR change statistics per zone and its ring (see :data:`STAT_DEFINITIONS`).

    Parameters
    ----------
    zones : GeoDataFrame or GeoSeries
        The patches, in any CRS (transformed to the rasters' CRS, with a finding).
    before, after : RasterSource
        The two dates, on one grid (same CRS, transform and size).
    ring_m : float
        Ring width in metres of the raster's (projected) CRS.
    drop_threshold : float
        NDVI drop counted in ``drop_frac``.
    tolerance_px : int
        Misregistration tolerated between the dates, in pixels (0 = plain per-pixel drop).
    window_px : int
        Raster window size in pixels (memory per thread grows with its square).
    threads : int, optional
        Threads over chunks of windows; default ``min(2, cpu count)``.
    progress : callable, optional
        Called as ``progress(windows_done, windows_total)`` while the windows are reduced.
    findings : Findings, optional
        Receives reprojection and repair notes.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``zones``, columns :data:`COLUMNS`.

    Raises
    ------
    RasterError
        The dates are not on one grid, or lack the bands NDVI needs.
    CRSError
        ``zones`` has no CRS.
    """
    log = findings if findings is not None else Findings()
    require_same_grid(before, after)
    geoms = _zones_in_raster_crs(zones, before, log)
    n_threads = threads or min(2, os.cpu_count() or 1)
    groups = plan_windows(
        geoms,
        before.grid,
        window_px,
        ring_m=ring_m,
        block_shape=before.block_shape,
        threads=n_threads,
    )
    partials = run_windows(
        groups,
        before,
        after,
        threads=n_threads,
        progress=progress,
        drop_threshold=drop_threshold,
        tolerance_px=tolerance_px,
    )
    frame = combine(partials, len(geoms), index=zones.index, with_nbr=_with_nbr(before, after))
    _note_uncovered(frame, log, before.path)
    return frame


def run_windows(
    groups: Sequence[WindowGroup],
    before: RasterSource,
    after: RasterSource,
    *,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> list[Partial]:
    """Reduce ``groups`` on a pool of ``threads`` over contiguous row-major chunks of windows.

    rasterio reads (decompression) and most numpy work release the GIL, so two threads use
    two cores. ``progress(windows_done, windows_total)`` is called after each chunk.
    """
    n = threads or min(2, os.cpu_count() or 1)
    n_chunks = min(len(groups), 4 * n if n > 1 else 8)
    chunks = [c.tolist() for c in np.array_split(np.arange(len(groups)), max(n_chunks, 1))]

    def work(chunk: list[int]) -> list[Partial]:
        return reduce_windows([groups[i] for i in chunk], before, after, **options)

    out: list[Partial] = []
    with ThreadPoolExecutor(max_workers=max(n, 1)) as pool:
        for part in pool.map(work, chunks):
            out.extend(part)
            if progress is not None:
                progress(len(out), len(groups))
    return out


def require_same_grid(before: RasterSource, after: RasterSource) -> None:
    """Raise :class:`RasterError` unless both rasters share one grid."""
    if before.grid.same_as(after.grid):
        return
    b, a = before.grid, after.grid
    raise RasterError(
        f"{after.path} ({a.width}x{a.height}, transform {tuple(a.transform)[:6]}) is not on "
        f"the grid of {before.path} ({b.width}x{b.height}, transform {tuple(b.transform)[:6]}); "
        "per-pixel change compares the same pixel on both dates, so both rasters need one grid "
        "(CRS, transform, size). Warp the after image onto the before grid first, e.g. "
        "gdalwarp -t_srs <before CRS> -tr <res> <res> -tap -te <before bounds> after.tif "
        "after_on_before_grid.tif"
    )


def _zones_in_raster_crs(zones: Any, src: RasterSource, log: Findings) -> NDArray[Any]:
    """Return the zone geometries in the raster's CRS (findings on reprojection and repair)."""
    crs = require_crs(zones.crs, "the patches")
    geoms = gpd.GeoSeries(zones.geometry if hasattr(zones, "geometry") else zones, crs=crs)
    raster_crs = CRS.from_wkt(src.crs_wkt)
    if not crs.equals(raster_crs):
        geoms = geoms.to_crs(raster_crs)
        log.add(
            "zones_reprojected",
            f"patches transformed from {crs.to_string()} to the raster's CRS "
            f"{raster_crs.to_string()} for raster statistics (the raster is not resampled)",
            severity="info",
            source=src.path,
        )
    values = np.asarray(geoms.values, dtype=object)
    bad = ~shapely.is_valid(values) & ~shapely.is_missing(values)
    if bad.any():
        values = values.copy()
        values[bad] = shapely.make_valid(values[bad])
        log.add(
            "invalid_geometry_repaired",
            f"{int(bad.sum())} patch geometries were invalid and were repaired with make_valid "
            "for raster statistics",
            severity="warning",
        )
    return values


def _note_uncovered(frame: pd.DataFrame, log: Findings, path: str) -> None:
    empty = int((frame["n_pixels"] == 0).sum())
    if empty:
        log.add(
            "no_pixels",
            f"{empty} of {len(frame)} patches hold no pixel centre of the raster (outside it, "
            "empty, or smaller than a pixel); their statistics are NULL",
            severity="warning",
            source=path,
        )
    for date in ("before", "after"):
        blind = int(((frame["n_pixels"] > 0) & (frame[f"valid_frac_{date}"] == 0)).sum())
        if blind:
            log.add(
                "no_valid_pixels",
                f"{blind} patches have no valid pixel on the {date} date (nodata or masked "
                f"cloud everywhere in them); their {date} statistics are NULL",
                severity="warning",
                source=path,
            )
