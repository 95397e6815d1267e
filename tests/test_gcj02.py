"""GCJ-02 forward and inverse transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.gcj02 import gcj02_to_wgs84, geometries_gcj02_to_wgs84, in_china, wgs84_to_gcj02

M_PER_DEG_LAT = 110_574.0


def _metres(dlon: np.ndarray, dlat: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return np.hypot(dlon * 111_320.0 * np.cos(np.radians(lat)), dlat * M_PER_DEG_LAT)


def test_shift_at_changchun_matches_the_published_offset():
    # SOURCES.md: at Changchun's centre dlon ≈ +0.0065°, dlat ≈ +0.0024° (≈ 520 m E, 270 m N).
    lon, lat = wgs84_to_gcj02(125.3154, 43.8926)
    assert lon - 125.3154 == pytest.approx(0.0065, abs=0.0003)
    assert lat - 43.8926 == pytest.approx(0.0024, abs=0.0003)
    east_m = (lon - 125.3154) * 111_320 * math.cos(math.radians(43.8926))
    north_m = (lat - 43.8926) * M_PER_DEG_LAT
    assert 480 < east_m < 560
    assert 240 < north_m < 300


def test_inverse_is_below_a_centimetre_over_china_grid():
    lon, lat = np.meshgrid(np.linspace(73.0, 135.0, 63), np.linspace(18.0, 53.5, 36))
    lon, lat = lon.ravel(), lat.ravel()
    glon, glat = wgs84_to_gcj02(lon, lat)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert _metres(wlon - lon, wlat - lat, lat).max() < 0.01
    # and the shift really is hundreds of metres, so the test is not vacuous
    assert _metres(glon - lon, glat - lat, lat).min() > 50


@settings(max_examples=200, deadline=None)
@given(st.floats(72.1, 137.8), st.floats(1.0, 55.8))
def test_round_trip_property(lon, lat):
    wlon, wlat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(np.array(wlon - lon), np.array(wlat - lat), np.array(lat)) < 0.01


@pytest.mark.parametrize(("lon", "lat"), [(2.35, 48.85), (139.9, 35.7), (-74.0, 40.7)])
def test_no_shift_outside_china(lon, lat):
    assert not in_china(lon, lat)
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_scalar_in_scalar_out_array_in_array_out():
    out = gcj02_to_wgs84(125.3, 43.9)
    assert all(isinstance(v, float) for v in out)
    arr = gcj02_to_wgs84(np.array([125.3, 125.4]), np.array([43.9, 43.8]))
    assert all(isinstance(v, np.ndarray) and v.shape == (2,) for v in arr)


def test_geometries_keep_type_rings_and_vertex_count():
    shell = [(125.3, 43.8), (125.5, 43.8), (125.5, 43.9), (125.3, 43.9), (125.3, 43.8)]
    hole = [(125.35, 43.82), (125.4, 43.82), (125.4, 43.85), (125.35, 43.82)]
    poly = shapely.Polygon(shell, [hole])
    line = shapely.LineString(shell[:3])
    out = geometries_gcj02_to_wgs84([poly, line, None])
    assert out[0].geom_type == "Polygon" and len(out[0].interiors) == 1
    assert shapely.get_num_coordinates(out[0]) == shapely.get_num_coordinates(poly)
    assert out[1].geom_type == "LineString"
    assert out[2] is None
    # converting moves west and south (GCJ is east/north of WGS84 here)
    assert out[0].bounds[0] < poly.bounds[0] and out[0].bounds[1] < poly.bounds[1]
    back = np.column_stack(wgs84_to_gcj02(*np.asarray(out[1].coords).T))
    np.testing.assert_allclose(back, np.asarray(line.coords), atol=1e-9)
