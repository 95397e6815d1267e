import geopandas as gpd
import pytest
import shapely
from pyproj import CRS

from gis.crs import (
    WORKING_CRS,
    assert_same_crs,
    check_declared_crs,
    gk3_cm_epsg,
    gk3_zone_epsg,
    gk6_zone_epsg,
    guess_crs_from_bounds,
    require_projected,
    tm_central_meridian,
)
from gis.errors import CRSError, CRSMismatchError
from gis.findings import Findings
from gis.io import read_layer


@pytest.mark.parametrize(
    ("lon", "epsg"), [(125.3, 4551), (126.0, 4551), (127.4, 4551), (117.0, 4548), (75.2, 4534)]
)
def test_gk3_cm_epsg(lon, epsg):
    assert gk3_cm_epsg(lon) == epsg


def test_zone_epsg_tables():
    assert gk3_zone_epsg(42) == 4530
    assert gk3_zone_epsg(25) == 4513
    assert gk6_zone_epsg(21) == 4499
    assert tm_central_meridian(4530) == 126.0
    assert tm_central_meridian(4551) == 126.0
    with pytest.raises(CRSError):
        gk3_zone_epsg(46)


@pytest.mark.parametrize(
    ("bounds", "epsg"),
    [
        ((125.4, 43.7, 125.5, 43.9), 4490),
        ((42_480_000, 4_840_000, 42_520_000, 4_860_000), 4530),
        ((21_480_000, 4_840_000, 21_520_000, 4_860_000), 4499),
    ],
)
def test_guess(bounds, epsg):
    assert guess_crs_from_bounds(bounds).epsg == epsg


@pytest.mark.parametrize(
    ("bounds", "match"),
    [
        ((43.7, 125.4, 43.9, 125.5), "swapped"),
        ((4_840_000, 42_480_000, 4_860_000, 42_520_000), "swapped"),
        ((480_000, 4_840_000, 520_000, 4_860_000), "without a zone prefix"),
        ((-5e9, 1e9, 5e9, 2e9), "fit no CRS"),
    ],
)
def test_guess_refuses(bounds, match):
    with pytest.raises(CRSError, match=match):
        guess_crs_from_bounds(bounds)


def test_declared_crs_contradiction():
    from pyproj import CRS

    assert "metres" in check_declared_crs(CRS(4326), (480_000, 4_840_000, 520_000, 4_860_000))
    assert "swapped" in check_declared_crs(CRS(4490), (43.7, 125.4, 43.9, 125.5))  # lat first
    assert "EPSG:4490" in check_declared_crs(CRS(4551), (125.4, 43.7, 125.5, 43.9))
    assert check_declared_crs(CRS(4551), (480_000, 4_840_000, 520_000, 4_860_000)) is None


def test_require_projected_and_mismatch(squares):
    assert require_projected(WORKING_CRS).to_epsg() == 4551
    with pytest.raises(CRSError, match="reproject first"):
        require_projected(4490)
    other = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], crs=4490)
    with pytest.raises(CRSMismatchError, match="permits"):
        assert_same_crs(squares, other, names=("patches", "permits"))


def test_declared_crs_contradicted_by_zone_prefixed_or_far_away_coordinates():
    prefixed = (42_453_400.0, 4_850_000.0, 42_460_000.0, 4_860_000.0)
    reason = check_declared_crs(CRS(4551), prefixed)
    assert "zone prefix 42" in reason and "EPSG:4530" in reason
    assert check_declared_crs(CRS(4530), prefixed) is None  # the prefixed zone itself
    assert "far outside" in check_declared_crs(CRS(4551), (9e9, 9e9, 9.1e9, 9.1e9))
    assert check_declared_crs(CRS(4551), (0.0, 0.0, 100.0, 100.0)) is None  # synthetic data


LOCAL_CS = 'LOCAL_CS["unnamed",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'


def test_layer_in_a_local_engineering_crs_is_a_layer_without_one(tmp_path):
    """A GeoPackage in LOCAL_CS (UAV and CAD software) stopped with ProjError, exit 4.

    LOCAL_CS says nothing about where the layer is: it is read as a layer without a CRS, so a
    zone-prefixed easting is guessed like any layer without a .prj, and an unprefixed one
    asks for the CRS (rasters in LOCAL_CS are refused naming the EPSG: test_raster.py).
    """
    frames = []
    for x0 in (42_453_400, 453_400):
        layer = gpd.GeoDataFrame(
            {"id": [1]}, geometry=[shapely.box(x0, 4_850_000, x0 + 100, 4_850_100)], crs=LOCAL_CS
        )
        path = tmp_path / f"local_{x0}.gpkg"
        layer.to_file(path)
        frames.append(path)
    log = Findings()
    guessed = read_layer(frames[0], findings=log)
    assert log.of("crs_undefined") and log.of("crs_guessed")
    assert "EPSG:4530" in " ".join(f.message for f in log.of("crs_guessed"))
    assert guessed.geometry.area.sum() == pytest.approx(10_000.0, rel=1e-3)
    with pytest.raises(CRSError, match="declares no CRS") as err:
        read_layer(frames[1])
    assert "EPSG:4551" in str(err.value) and err.value.zh
