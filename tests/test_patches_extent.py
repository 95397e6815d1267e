"""The share of each patch inside the imagery equals GEOS's intersection, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from affine import Affine

from gis.checks.patches.extent import held_area, in_raster_share, ring_areas
from gis.raster.grid import Grid

GRID = Grid("EPSG:4551", Affine(10.0, 0.0, 470_000.0, 0.0, -10.0, 4_940_000.0), 10_000, 10_000)
EXTENT = (470_000.0, 4_840_000.0, 570_000.0, 4_940_000.0)


def _by_intersection(values: np.ndarray) -> np.ndarray:
    inside = shapely.area(shapely.intersection(values, shapely.box(*EXTENT)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return inside / shapely.area(values)


def _stars(n: int, seed: int, *, margin: float = 1_000.0) -> np.ndarray:
    """Star-shaped polygons of 3-120 vertices, both orientations, some of one-part multis."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(3, 120))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        if rng.integers(0, 2):
            ang = ang[::-1]  # clockwise
        r = rng.uniform(0.5, 600.0) * rng.uniform(0.3, 1.0, k)
        cx = rng.uniform(EXTENT[0] + margin, EXTENT[2] - margin)
        cy = rng.uniform(EXTENT[1] + margin, EXTENT[3] - margin)
        xy = np.c_[cx + r * np.cos(ang), cy + r * np.sin(ang)]
        if rng.integers(0, 4) == 0:
            xy = np.round(xy, 1)  # surveyed to the decimetre: near-collinear vertices
        poly = shapely.Polygon(xy)
        out.append(shapely.multipolygons([poly]) if rng.integers(0, 2) else poly)
    values = np.array(out)
    return values[shapely.is_valid(values)]


def test_patches_inside_take_the_intersections_value_without_it():
    values = _stars(3_000, 1)
    assert np.isfinite(held_area(values, EXTENT)).mean() > 0.95  # the cheap path is taken
    assert np.array_equal(in_raster_share(values, GRID), _by_intersection(values))


def test_buffered_outlines_with_arcs_are_equal_too():
    values = shapely.buffer(_stars(500, 2), 3.0, quad_segs=8)
    assert np.isfinite(held_area(values, EXTENT)).all()
    assert np.array_equal(in_raster_share(values, GRID), _by_intersection(values))


def test_holes_parts_edges_and_missing_take_the_intersection():
    inner = _stars(50, 3, margin=2_000.0)
    holed = shapely.difference(inner, shapely.buffer(shapely.centroid(inner), 0.1))
    two = shapely.multipolygons(
        [
            [a, shapely.box(470_100, 4_840_100, 470_200, 4_840_200)]
            for a in shapely.get_parts(inner[:5])
        ]
    )
    across = shapely.box(569_990, 4_900_000, 570_010, 4_900_020)  # half outside
    edge = shapely.box(470_000, 4_900_000, 470_020, 4_900_020)  # touching the extent's edge
    values = np.array([*holed, *two, across, edge, None], dtype=object)
    assert np.isnan(held_area(values, EXTENT)).all()
    share = in_raster_share(values, GRID)
    assert np.array_equal(share, _by_intersection(values), equal_nan=True)
    assert share[-3] == pytest.approx(0.5) and share[-2] == 1.0 and np.isnan(share[-1])


def test_ring_areas_are_geos_areas():
    values = _stars(1_000, 4)
    parts = shapely.get_parts(values)
    xy, ring = shapely.get_coordinates(parts, return_index=True)
    n = np.bincount(ring)
    start = np.concatenate(([0], np.cumsum(n)[:-1]))
    signed = ring_areas(xy, start, n)
    assert np.array_equal(np.abs(signed), shapely.area(parts))
    assert np.array_equal(signed > 0, ~shapely.is_ccw(shapely.get_exterior_ring(parts)))


def test_a_rotated_grid_gives_no_share():
    rotated = Grid("", Affine(10.0, 1.0, 0.0, 1.0, -10.0, 0.0), 10, 10)
    assert np.isnan(in_raster_share(np.array([shapely.box(0, -5, 5, 0)]), rotated)).all()
