"""Plan: group zones and their rings by the raster windows (and boxes) they touch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray
from pyproj import CRS
from rasterio import windows as rwindows

from gis.errors import RasterError
from gis.raster import Grid, grid_windows, tile_shape


@dataclass(frozen=True)
class WindowGroup:
    """The zones and rings one raster window must reduce (picklable).

    ``zone_pos``/``ring_pos`` are positions in the zone table, ``*_geoms`` the geometries in
    the raster's CRS (a ring is the patch buffered by ``ring_m``, see :meth:`rings`; other
    patches are removed pixel by pixel). ``boxes`` are the parts of the window that are read,
    as (row, col, rows, cols) relative to the window: the whole window when zones fill it,
    else the boxes around the zones and rings (sparse patches do not make the engine read the
    whole raster).

    The ``inside_*`` fields are set by :func:`gis.zonal.inside_pass.plan_inside`: the patches
    whose inside statistics this window computes (``inside_pos``), every patch that may hold
    pixels of the window grown by ``margin`` pixels (``near_geoms``, those first, at positions
    ``near_pos`` of the zone table), and the boxes of that grown window to read.
    """

    key: int
    window: rwindows.Window
    transform: Any
    zone_pos: NDArray[np.int64]
    zone_geoms: NDArray[Any]
    ring_pos: NDArray[np.int64]
    ring_geoms: NDArray[Any]
    boxes: tuple[tuple[int, int, int, int], ...] = ()
    ring_buffer: float = 0.0
    inside_pos: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    near_geoms: NDArray[Any] = field(default_factory=lambda: np.zeros(0, object))
    near_pos: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    margin: int = 0
    inside_boxes: tuple[tuple[int, int, int, int], ...] = ()

    def rings(self) -> NDArray[Any]:
        """Return the rings: ``ring_geoms`` buffered by ``ring_buffer`` when it is set.

        Rings are buffered where the window is reduced (in its thread or task), so the plan
        holds no second copy of every patch.
        """
        if self.ring_buffer > 0:
            return np.asarray(shapely.buffer(self.ring_geoms, self.ring_buffer, quad_segs=4))
        return self.ring_geoms


def plan_windows(
    zones: Any,
    grid: Grid,
    window_px: int = 1024,
    *,
    ring_m: float = 30.0,
    block_shape: tuple[int, int] = (1, 1),
    threads: int = 1,
    max_box_fill: float = 1.0,
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
        Threads for buffering the rings of a geographic grid (shapely releases the GIL).
    max_box_fill : float
        Plan boxes around the zones when they touch fewer than this share of the raster
        blocks the whole window touches (see :func:`read_boxes`); 0 always reads whole windows.

    Returns
    -------
    list of WindowGroup
        Row-major; windows that no zone or ring touches are left out.
    """
    _require_north_up(grid)
    geoms = np.asarray(getattr(zones, "geometry", zones), dtype=object)
    present = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    zg = geoms[present]
    rg, ring_buffer = _ring_sources(zg, ring_m, threads, grid.crs_wkt)
    r_bounds = shapely.bounds(rg) + np.array([-1.0, -1.0, 1.0, 1.0]) * ring_buffer
    tile = tile_shape_of(grid, window_px, block_shape)
    z_idx, z_key = _touching(shapely.bounds(zg), grid, tile)
    r_idx, r_key = _touching(r_bounds, grid, tile)
    wins = grid_windows(grid, window_px, block_shape)
    groups = []
    for key in np.union1d(z_key, r_key):
        zs = z_idx[np.searchsorted(z_key, key) : np.searchsorted(z_key, key, side="right")]
        rs = r_idx[np.searchsorted(r_key, key) : np.searchsorted(r_key, key, side="right")]
        win = wins[int(key)]
        transform = window_transform(win, grid.transform)
        bounds = np.concatenate([shapely.bounds(zg[zs]), r_bounds[rs]])
        boxes = read_boxes(bounds, win, transform, block_shape=block_shape, max_fill=max_box_fill)
        groups.append(
            WindowGroup(
                int(key),
                win,
                transform,
                present[zs],
                zg[zs],
                present[rs],
                rg[rs],
                boxes,
                ring_buffer,
            )
        )
    return groups


def read_boxes(
    bounds: NDArray[np.float64],
    window: rwindows.Window,
    transform: Affine,
    *,
    block_shape: tuple[int, int] = (1, 1),
    max_fill: float = 1.0,
    slack_px: int = 4,
) -> tuple[tuple[int, int, int, int], ...]:
    """Return the (row, col, rows, cols) boxes of ``window`` that hold every pixel of ``bounds``.

    Overlapping pixel extents (grown by ``slack_px``) are merged. Reading costs whole raster
    blocks (GDAL decompresses a block per read that touches it), so when the boxes, counted box
    by box with a 1-pixel halo, touch ``max_fill`` times the blocks of the whole window with its
    halo or more, the whole window is one box. The reader makes the same test per date.

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
    limit = max_fill * block_count(np.array([[0, 0, cols, rows]]), block_shape, 1)
    if block_count(np.stack([c0, r0, c1, r1], axis=1), block_shape, 1) >= limit:
        return whole
    merged = shapely.get_parts(shapely.union_all(shapely.box(c0, r0, c1, r1)))
    ext = shapely.bounds(merged).astype(np.int64)
    ext = ext[(ext[:, 2] > ext[:, 0]) & (ext[:, 3] > ext[:, 1])]
    if block_count(ext, block_shape, 1) >= limit:
        return whole
    return tuple((int(b[1]), int(b[0]), int(b[3] - b[1]), int(b[2] - b[0])) for b in ext)


def block_count(ext: NDArray[Any], block_shape: tuple[int, int], halo: int) -> int:
    """Sum over boxes (minx, miny, maxx, maxy in window pixels) of the raster blocks each touches.

    Windows start on block boundaries, so block indices are window pixel // block size.
    """
    bh, bw = block_shape
    e = np.asarray(ext, dtype=np.int64)
    nx = (e[:, 2] - 1 + halo) // bw - (e[:, 0] - halo) // bw + 1
    ny = (e[:, 3] - 1 + halo) // bh - (e[:, 1] - halo) // bh + 1
    return int((nx * ny).sum())


def _ring_sources(
    geoms: NDArray[Any], ring_m: float, threads: int, crs_wkt: str
) -> tuple[NDArray[Any], float]:
    """Return (geometries the rings come from, buffer distance still to apply in the window).

    On a projected grid the rings are the patches buffered by ``ring_m`` (4 segments per
    quarter circle) where each window is reduced. On a geographic grid the buffer is taken
    here, in the local UTM zone, and transformed back (distance 0 left to apply).
    """
    if ring_m <= 0 or len(geoms) == 0:
        return geoms[:0], 0.0
    crs = CRS.from_wkt(crs_wkt) if crs_wkt else None
    if crs is None or not crs.is_geographic:
        return geoms, float(ring_m)
    local = gpd.GeoSeries(geoms, crs=crs)
    metric = local.estimate_utm_crs()
    rings = _buffer(np.asarray(local.to_crs(metric).values), ring_m, threads)
    return np.asarray(gpd.GeoSeries(rings, crs=metric).to_crs(crs).values, dtype=object), 0.0


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
            "grid first (gdalwarp -tap) — rasters are never resampled here",
            zh=f"影像格网 {tuple(t)[:6]} 有旋转或不是正北朝上；请先重采样到正北朝上的格网"
            "（`gdalwarp -tap`）——这里从不对影像重采样",
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
