import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from gis.errors import CRSError
from gis.units import (
    M2_PER_HA,
    M2_PER_MU,
    area_ha,
    area_m2,
    area_mu,
    geodesic_area_m2,
    geodesic_length_m,
    length_km,
    length_m,
)


def test_constants():
    assert M2_PER_HA == 10_000
    assert M2_PER_HA / M2_PER_MU == pytest.approx(15)


def test_square_hectare_and_mu(squares):
    np.testing.assert_allclose(area_ha(squares), 1.0, rtol=1e-6)
    np.testing.assert_allclose(area_mu(squares), 15.0, rtol=1e-6)
    np.testing.assert_allclose(length_km(squares), 0.4, rtol=1e-6)


def test_geographic_crs_refused(squares):
    with pytest.raises(CRSError, match="not a projected metric CRS"):
        area_m2(squares.to_crs(4490))


def _square_at(lon, lat, epsg=4551, size=1000.0):
    x, y = Transformer.from_crs(4490, epsg, always_xy=True).transform(lon, lat)
    return gpd.GeoSeries([shapely.box(x, y, x + size, y + size)], crs=epsg)


@settings(max_examples=40, deadline=None)
@given(lon=st.floats(124.5, 127.5), lat=st.floats(18.0, 53.5))
def test_area_within_geodesic_anywhere_in_zone(lon, lat):
    sq = _square_at(lon, lat)
    geo = geodesic_area_m2(sq.values, sq.crs)[0]
    assert abs(area_m2(sq)[0] / geo - 1) < 5e-4
    geo_len = geodesic_length_m(sq.values, sq.crs)[0]
    assert abs(length_m(sq)[0] / geo_len - 1) < 5e-4


def test_feature_outside_zone_is_measured_geodesically():
    # 3° east of the central meridian: planar GK area is off by ~0.14 % here.
    sq = _square_at(129.0, 44.0)
    geo = geodesic_area_m2(sq.values, sq.crs)[0]
    assert sq.area[0] / geo - 1 > 1e-3
    assert area_m2(sq)[0] == pytest.approx(geo, rel=1e-9)


def test_web_mercator_would_be_far_off():
    sq = _square_at(125.45, 44.0)
    geo = geodesic_area_m2(sq.values, sq.crs)[0]
    merc = sq.to_crs(3857)
    assert merc.area[0] / geo - 1 == pytest.approx(0.93, abs=0.02)
    assert merc.length[0] / geodesic_length_m(sq.values, sq.crs)[0] - 1 == pytest.approx(
        0.39, abs=0.01
    )


def test_utm_zone_is_six_degrees_wide():
    # 2.5° from the central meridian of UTM 51N (123°E) is inside the zone: planar + k,
    # not the per-feature geodesic fallback; the value still matches the ellipsoid.
    sq = _square_at(125.5, 44.0, epsg=32651)
    geo = geodesic_area_m2(sq.values, sq.crs)[0]
    assert area_m2(sq)[0] == pytest.approx(geo, rel=5e-4)
    from gis.units import _outside_zone, _zone_width

    assert _zone_width(sq.crs) == 6.0
    assert not _outside_zone(np.array([125.5]), sq.crs).any()
