"""The share of each patch inside the imagery's extent, exact and cheap.

:func:`in_raster_share` is the area of each patch's intersection with the raster's extent over
the patch's area. Nearly every patch lies wholly inside the extent, and there GEOS's
intersection (OverlayNG) returns the patch's own ring — clockwise, starting at the clockwise
successor of its first vertex — whose shoelace area differs from the patch's in the last bits.
:func:`held_area` computes that area from the coordinates (the same ring, the same floating-point
operations in the same order as GEOS's ``Area::ofRingSigned``), so the share is the value the
intersection gives, without an overlay per patch (about 5× cheaper at 50 000 patches). Patches
with holes or several parts, repeated vertices, invalid ones and those reaching the extent's
edge take the intersection itself. ``tests/test_patches_extent.py`` holds the two equal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

POLYGON, MULTIPOLYGON = 3, 6
"""GEOS type ids (:func:`shapely.get_type_id`)."""


def in_raster_share(geoms: Any, grid: Any) -> NDArray[np.float64]:
    """Share of each patch's area inside the raster's extent (the grid's CRS).

    Exact, where a pixel count × the pixel area differs from the outline's area by a few per
    cent either way (pixel centres; ±10 % for a 2 ha patch at 30 m) even for a patch wholly
    inside: what lies outside the imagery is not seen at all.

    Examples
    --------
    >>> from affine import Affine
    >>> from gis.raster.grid import Grid
    >>> grid = Grid("", Affine(1, 0, 0, 0, -1, 10), 10, 10)
    >>> in_raster_share(np.array([shapely.box(1, 1, 3, 3), shapely.box(9, 1, 11, 3)]), grid)
    array([1. , 0.5])
    """
    t = grid.transform
    if t.b or t.d:  # a rotated grid: the pixel count's share stands (NaN here)
        return np.full(len(geoms), np.nan)
    x = sorted((t.c, t.c + t.a * grid.width))
    y = sorted((t.f, t.f + t.e * grid.height))
    values = np.asarray(getattr(geoms, "values", geoms))
    inside = held_area(values, (x[0], y[0], x[1], y[1]))
    rest = np.isnan(inside)
    extent = shapely.box(x[0], y[0], x[1], y[1])
    inside[rest] = shapely.area(shapely.intersection(values[rest], extent))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = inside / shapely.area(values)
    return np.asarray(share, dtype="f8")


def held_area(values: NDArray[Any], bounds: tuple[float, float, float, float]) -> NDArray[Any]:
    """Area of the intersection of each geometry with the box ``bounds`` that holds it.

    The value ``shapely.area(shapely.intersection(g, box))`` gives, bit for bit, for a valid
    polygon (or multipolygon of one part) without holes or repeated vertices lying strictly
    inside the box; NaN for every other geometry.

    Examples
    --------
    >>> held_area(np.array([shapely.box(1, 1, 3, 3), shapely.box(9, 1, 11, 3)]), (0, 0, 10, 10))
    array([ 4., nan])
    """
    x0, y0, x1, y1 = bounds
    out = np.full(len(values), np.nan)
    kind = shapely.get_type_id(values)
    b = shapely.bounds(values)
    one_part = (kind == MULTIPOLYGON) & (shapely.get_num_geometries(values) == 1)
    simple = (kind == POLYGON) | one_part
    simple &= (b[:, 0] > x0) & (b[:, 1] > y0) & (b[:, 2] < x1) & (b[:, 3] < y1)
    pick = np.flatnonzero(simple)
    pick = pick[shapely.is_valid(values[pick])]
    if not len(pick):
        return out
    xy, part = shapely.get_coordinates(values[pick], return_index=True)
    n = np.bincount(part, minlength=len(pick))
    start = np.concatenate(([0], np.cumsum(n)[:-1]))
    signed = ring_areas(xy, start, n)
    good = _one_ring(xy, part, start, n) & (signed != 0) & (n >= 4)
    # the ring as the overlay returns it: clockwise, from the clockwise successor of vertex 0
    # (GEOS's signed area is positive for a clockwise ring)
    m = np.repeat(n - 1, n)
    j = np.arange(len(xy)) - np.repeat(start, n)
    successor = np.where(np.repeat(signed < 0, n), (m - 1 - j) % m, (j + 1) % m)
    ring = xy[np.repeat(start, n) + np.where(np.repeat(good, n), successor, j)]
    out[pick[good]] = np.abs(ring_areas(ring, start, n))[good]
    return out


def _one_ring(
    xy: NDArray[Any], part: NDArray[Any], start: NDArray[Any], n: NDArray[Any]
) -> NDArray[np.bool_]:
    """Whether each geometry's coordinates are one closed ring without repeated vertices.

    One ring: its first point occurs exactly twice, first and last (a hole, or a second ring
    touching the first at that point, adds occurrences or ends elsewhere).
    """
    at_first = np.all(xy == xy[np.repeat(start, n)], axis=1)
    closed_once = (np.bincount(part[at_first], minlength=len(n)) == 2) & at_first[start + n - 1]
    repeated = np.all(xy[1:] == xy[:-1], axis=1) & (part[1:] == part[:-1])
    return np.asarray(closed_once & (np.bincount(part[1:][repeated], minlength=len(n)) == 0))


def ring_areas(xy: NDArray[Any], start: NDArray[Any], n: NDArray[Any]) -> NDArray[np.float64]:
    """Signed area of closed rings (positive clockwise), as GEOS's ``Area::ofRingSigned``.

    The shoelace sum relative to the first vertex's x, term by term in the ring's order, so
    the result equals GEOS's to the last bit. ``xy`` holds the rings one after the other,
    ring ``i`` at ``start[i]`` with ``n[i]`` coordinates (the first repeated last).

    Examples
    --------
    >>> xy = np.array([[0, 0], [0, 2], [2, 2], [2, 0], [0, 0]], dtype="f8")
    >>> ring_areas(xy, np.array([0]), np.array([5]))
    array([4.])
    """
    order = np.argsort(-n, kind="stable")
    longest_first = -n[order]
    x, y = xy[:, 0], xy[:, 1]
    x0 = x[start]
    total = np.zeros(len(n))
    for k in range(1, int(n.max(initial=0)) - 1):  # term k of every ring that has one
        rows = order[: np.searchsorted(longest_first, -(k + 2), side="right")]
        at = start[rows] + k
        total[rows] += (x[at] - x0[rows]) * (y[at - 1] - y[at + 1])
    return total / 2.0
