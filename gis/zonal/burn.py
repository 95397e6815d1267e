"""Pixels whose centre lies in a polygon: an even-odd scanline of all polygons (GDAL's rule)."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from gis.zonal.kernels import scanline


def centre_pixels(
    geoms: NDArray[Any], transform: Any, shape: tuple[int, int]
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Return (flat pixel index, geometry index) of every pixel whose centre lies in a geometry.

    An even-odd scanline fill of all geometries at once (edges and crossings as numpy arrays,
    the crossings ordered and filled by :func:`gis.zonal.kernels.scanline`), with GDAL's rule
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
    pos, ids, _ = _scan(geoms, transform, shape)
    dt: Any = np.int32 if shape[0] * shape[1] < 2**31 and len(geoms) < 2**31 else np.int64
    return pos.astype(dt), ids.astype(dt)


def centre_pairs(
    geoms: NDArray[Any], transform: Any, shape: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return the distinct (geometry index, flat pixel index) pairs of :func:`centre_pixels`.

    Sorted by geometry, then pixel (a pixel that overlapping parts of one geometry both hold
    is counted once).

    Examples
    --------
    >>> from affine import Affine
    >>> sq = shapely.box(0.2, -2.2, 2.2, -0.2)
    >>> ids, pos = centre_pairs(np.array([sq, sq]), Affine(1, 0, 0, 0, -1, 0), (3, 3))
    >>> ids.tolist(), pos.tolist()
    ([0, 0, 0, 0, 1, 1, 1, 1], [0, 1, 3, 4, 0, 1, 3, 4])
    """
    pos, ids, ordered = _scan(geoms, transform, shape)
    if ordered:  # the scanline order is sorted already, unless spans of a geometry overlap
        return ids, pos
    n = shape[0] * shape[1]
    keys = np.unique(ids * n + pos)
    return keys // n, keys % n


def _scan(
    geoms: NDArray[Any], transform: Any, shape: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.int64], bool]:
    """(flat pixel, geometry index, whether sorted and distinct) in scanline order."""
    rows, xs, gid = _crossings(_pixel_edges(geoms, transform), shape[0])
    if len(gid) > 1 and (np.diff(gid) < 0).any():  # crossings grouped by geometry
        order = np.argsort(gid, kind="stable")
        rows, xs, gid = rows[order], xs[order], gid[order]
    pos, ids, ordered = scanline(rows, xs, gid, shape[1], shape[0] * shape[1])
    return pos, ids, bool(ordered)


_MULTI = 4
"""Smallest shapely type id of a multi-part geometry or collection."""


def _expand(counts: NDArray[Any], dtype: Any = np.int64) -> tuple[NDArray[Any], NDArray[Any]]:
    """Return (item index repeated ``counts`` times, 0..count-1 within each item)."""
    item = np.repeat(np.arange(counts.size, dtype=dtype), counts)
    starts = (np.cumsum(counts) - counts).astype(dtype)
    return item, np.arange(item.size, dtype=dtype) - np.repeat(starts, counts)


def _pixel_edges(geoms: NDArray[Any], transform: Any) -> tuple[NDArray[Any], ...]:
    """Non-horizontal polygon edges in pixel coordinates, lower-y end first, with geometry ids."""
    parts, part_geom = _parts(geoms)
    while (shapely.get_type_id(parts) >= _MULTI).any():  # collections holding multipolygons
        parts, sub = shapely.get_parts(parts, return_index=True)
        part_geom = part_geom[sub]
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


def _parts(geoms: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """``shapely.get_parts(geoms, return_index=True)``; polygons are their own part.

    ``get_parts`` copies every part; patches and rings are mostly plain polygons, which are
    taken as they are and only the multi-part geometries are split.
    """
    multi = shapely.get_type_id(geoms) >= _MULTI
    if not multi.any():
        return geoms, np.arange(len(geoms))
    if multi.all():
        return shapely.get_parts(geoms, return_index=True)  # type: ignore[no-any-return]
    split, at = shapely.get_parts(geoms[multi], return_index=True)
    single = np.flatnonzero(~multi)
    parts = np.concatenate([geoms[single], split])
    index = np.concatenate([single, np.flatnonzero(multi)[at]])
    order = np.argsort(index, kind="stable")  # parts in the order of their geometries
    return parts[order], index[order]


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
