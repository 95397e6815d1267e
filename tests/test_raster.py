import pickle

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from gis.errors import CRSError, DataSourceError, RasterError
from gis.findings import Findings
from gis.io import write_geotiff
from gis.raster import (
    SCL_INVALID,
    Sensor,
    parse_roles,
    raster_source,
    sensor_profile,
)

TRANSFORM = from_origin(500_000, 4_850_030, 10, 10)


def _write(path, data, *, crs="EPSG:4551", nodata=None, tags=None, band_tags=None):
    write_geotiff(path, data, transform=TRANSFORM, crs=crs, nodata=nodata)
    if tags or band_tags:
        with rasterio.open(path, "r+") as ds:
            if tags:
                ds.update_tags(**tags)
            for i, t in (band_tags or {}).items():
                ds.update_tags(i, **t)
    return str(path)


def test_sensor_enum_and_error_lists_valid():
    assert Sensor.get("Sentinel2-L2A") is Sensor.SENTINEL2_L2A
    with pytest.raises(RasterError, match="valid sensors: sentinel2-l2a, landsat8-l2"):
        Sensor.get("modis")


def test_profiles():
    s2 = sensor_profile("sentinel2-l2a")
    assert s2.roles == ("B", "G", "R", "RE", "NIR", "SWIR1", "SWIR2")
    assert (s2.scale, s2.offset, s2.nodata) == (1e-4, -0.1, 0)
    l8 = sensor_profile(Sensor.LANDSAT8_L2)
    assert (l8.scale, l8.offset) == (2.75e-5, -0.2)
    assert l8.roles[-1] == "SWIR2"
    assert sensor_profile("gf2").roles == ("B", "G", "R", "NIR")
    assert sensor_profile("uav-rgb").roles == ("R", "G", "B")
    assert sensor_profile("generic").roles == ()


def test_parse_roles_errors():
    assert parse_roles("b, g ,R,nir,swir1,SWIR2") == ("B", "G", "R", "NIR", "SWIR1", "SWIR2")
    with pytest.raises(RasterError, match=r"unknown band role.*'IR'.*valid roles: B, G, R"):
        parse_roles("R,IR")
    with pytest.raises(RasterError, match="twice"):
        parse_roles("R,R")


def test_generic_needs_bands(tmp_path):
    p = _write(tmp_path / "a.tif", np.ones((2, 3, 3), "uint16"))
    with pytest.raises(RasterError, match="--bands"):
        raster_source(p)


def test_band_count_mismatch_names_counts(tmp_path):
    p = _write(tmp_path / "a.tif", np.ones((4, 3, 3), "uint16"))
    with pytest.raises(RasterError, match=r"has 4 band\(s\) but sensor 'sentinel2-l2a' expects 7"):
        raster_source(p, sensor="sentinel2-l2a")
    with pytest.raises(RasterError, match="expects 3"):
        raster_source(p, bands="R,G,B")
    assert raster_source(p, sensor="gf2").roles == ("B", "G", "R", "NIR")


def test_missing_crs_names_file_and_flag(tmp_path):
    p = str(tmp_path / "nocrs.tif")
    with rasterio.open(
        p, "w", driver="GTiff", width=3, height=3, count=1, dtype="uint8", transform=TRANSFORM
    ) as ds:
        ds.write(np.ones((1, 3, 3), "uint8"))
    with pytest.raises(CRSError, match=r"nocrs\.tif has no coordinate.*nocrs\.prj.*gdal_edit"):
        raster_source(p, bands="NDVI")
    src = raster_source(p, bands="NDVI", crs="EPSG:4551")
    assert "4551" in src.crs_wkt


def test_crs_from_the_prj_delivered_beside_the_image(tmp_path):
    """.tif + .prj (GDAL reads no .prj beside a GeoTIFF): the .prj states the CRS."""
    p = _write(tmp_path / "影像.tif", np.ones((1, 3, 3), "uint16"), crs=None)
    with pytest.raises(CRSError, match=r"\.prj"):
        raster_source(p, bands="NDVI")
    (tmp_path / "影像.prj").write_text(rasterio.crs.CRS.from_epsg(4551).to_wkt(version="WKT1_ESRI"))
    log = Findings()
    src = raster_source(p, bands="NDVI", findings=log)
    assert "CM 126E" in src.crs_wkt
    found = log.of("crs_from_prj")[0]
    assert "影像.tif" in found.message
    assert "EPSG:4551 (CGCS2000 / 3-degree Gauss-Kruger CM 126E)" in found.text("en")
    assert "EPSG:4551（CGCS2000 3度带 中央经线 126°E）" in found.text("zh")
    (tmp_path / "影像.prj").write_text("GEOGCS[not a CRS")
    with pytest.raises(CRSError, match="no coordinate reference system"):
        raster_source(p, bands="NDVI")


def test_image_without_georeferencing_is_refused_naming_the_fix(tmp_path):
    """A scan or photo (no geotransform) would land at the CRS origin with 1 m pixels."""
    from rasterio.control import GroundControlPoint

    plain = str(tmp_path / "scan.tif")
    with rasterio.open(plain, "w", driver="GTiff", width=3, height=3, count=1, dtype="uint8",
                       crs="EPSG:4551") as ds:  # fmt: skip
        ds.write(np.ones((1, 3, 3), "uint8"))
    with pytest.raises(RasterError, match=r"scan\.tif is not georeferenced.*world file"):
        raster_source(plain, bands="NDVI")
    corners = ((0, 0), (0, 3), (3, 0))
    gcps = [GroundControlPoint(r, c, 500_000 + c, 4_850_000 - r) for r, c in corners]
    placed = str(tmp_path / "gcps.tif")
    with rasterio.open(placed, "w", driver="GTiff", width=3, height=3, count=1, dtype="uint8",
                       gcps=gcps, crs="EPSG:4551") as ds:  # fmt: skip
        ds.write(np.ones((1, 3, 3), "uint8"))
    with pytest.raises(RasterError, match=r"3 ground control points.*gdalwarp"):
        raster_source(placed, bands="NDVI")


def test_declared_crs_not_relabelled(tmp_path):
    p = _write(tmp_path / "a.tif", np.ones((1, 3, 3), "float32"))
    with pytest.raises(CRSError, match="never relabelled"):
        raster_source(p, bands="NDVI", crs="EPSG:4326")


def test_unreadable_file(tmp_path):
    with pytest.raises(DataSourceError, match="does not exist"):
        raster_source(tmp_path / "missing.tif", bands="NDVI")
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00garbage")
    with pytest.raises(DataSourceError, match="cannot read raster"):
        raster_source(bad, bands="NDVI")


def _s2(tmp_path, **kw):
    data = np.full((7, 3, 3), 1500, "uint16")
    data[:, 0, 0] = 0  # nodata
    return _write(tmp_path / "s2.tif", data, nodata=0, **kw)


def test_s2_offset_default_baseline_4(tmp_path):
    log = Findings()
    src = raster_source(_s2(tmp_path), sensor="sentinel2-l2a", findings=log)
    assert src.offset == pytest.approx(-0.1)
    red = src.read_roles(Window(0, 0, 3, 3), ["R"])["R"]
    assert red.mask[0, 0] and red.mask.sum() == 1
    # (1500 - 1000) / 10000
    assert float(red[1, 1]) == pytest.approx(0.05, abs=1e-7)
    assert red.dtype == np.float32
    assert log.of("s2_offset")[0].severity == "info"


def test_s2_offset_from_tags(tmp_path):
    old = raster_source(
        _s2(tmp_path, tags={"PROCESSING_BASELINE": "02.09"}), sensor="sentinel2-l2a"
    )
    assert old.offset == 0.0
    assert float(old.read_roles(Window(1, 1, 1, 1), ["NIR"])["NIR"][0, 0]) == pytest.approx(0.15)
    (tmp_path / "s2.tif").unlink()
    tagged = raster_source(
        _s2(tmp_path, band_tags={1: {"BOA_ADD_OFFSET": "-1000"}}), sensor="sentinel2-l2a"
    )
    assert tagged.offset == pytest.approx(-0.1)


def test_s2_offset_of_untagged_exports_from_the_data(tmp_path):
    """An export with the offset taken out (Earth Engine S2_SR_HARMONIZED) and no tags was
    read 0.1 too dark (reflectance - 0.1: red over forest below 0, NDVI wrong)."""
    data = np.full((7, 64, 64), 1500, "uint16")
    data[:3, :32] = 240  # blue, green, red of forest and water without the offset
    data[:3, 32:] = 520
    data[:, 0, 0] = 0
    log = Findings()
    src = raster_source(_write(tmp_path / "gee.tif", data, nodata=0), sensor="sentinel2-l2a",
                        findings=log)  # fmt: skip
    assert src.offset == 0.0
    red = src.read_roles(Window(0, 0, 4, 4), ["R"])["R"]
    assert float(red[1, 1]) == pytest.approx(0.024, abs=1e-7)
    assert "DN 240 < 1000" in log.of("s2_offset")[0].message
    assert "S2_SR_HARMONIZED" in log.of("s2_offset")[0].zh
    data[:3] += 1000  # the same scene as ESA delivers it from baseline 04.00, tags stripped
    data[:, 0, 0] = 0
    (tmp_path / "gee.tif").unlink()
    shipped = _write(tmp_path / "gee.tif", data, nodata=0)
    with_offset = raster_source(shipped, sensor="sentinel2-l2a")
    assert with_offset.offset == pytest.approx(-0.1)
    red = with_offset.read_roles(Window(0, 0, 4, 4), ["R"])["R"]
    assert float(red[1, 1]) == pytest.approx(0.024, abs=1e-6)


@pytest.mark.parametrize("sensor", ["sentinel2-l2a", "landsat8-l2"])
def test_float_reflectance_of_a_scaled_sensor_is_read_as_it_is(tmp_path, sensor):
    """A SNAP / Earth Engine float export of reflectance given with --sensor sentinel2-l2a was
    scaled by 1e-4 again (and offset by -0.1): every value near -0.1."""
    count = len(sensor_profile(sensor).roles)
    data = np.full((count, 8, 8), 0.31, "float32")
    data[2] = 0.04
    log = Findings()
    src = raster_source(_write(tmp_path / "f.tif", data), sensor=sensor, findings=log)
    assert (src.scale, src.offset) == (1.0, 0.0)
    red = src.read_roles(Window(0, 0, 2, 2), ["R"])["R"]
    assert float(red[0, 0]) == pytest.approx(0.04)
    assert "reflectance already" in log.of("float_reflectance")[0].message
    (tmp_path / "f.tif").unlink()
    dn = raster_source(_write(tmp_path / "f.tif", data * 10000 + 1000), sensor=sensor)
    assert dn.scale == sensor_profile(sensor).scale  # float DN stay DN


def test_s2_l1c_offset_from_its_tags(tmp_path):
    """L1C's RADIO_ADD_OFFSET and baseline tags were ignored (always -0.1)."""
    old = raster_source(_s2(tmp_path, tags={"PROCESSING_BASELINE": "03.01"}),
                        sensor="sentinel2-l1c")  # fmt: skip
    assert old.offset == 0.0
    (tmp_path / "s2.tif").unlink()
    tagged = _s2(tmp_path, band_tags={1: {"RADIO_ADD_OFFSET": "-1000"}})
    assert raster_source(tagged, sensor="sentinel2-l1c").offset == pytest.approx(-0.1)


def test_landsat_scale_offset(tmp_path):
    p = _write(tmp_path / "l8.tif", np.full((6, 2, 2), 10000, "uint16"))
    src = raster_source(p, sensor="landsat8-l2")
    nir = src.read_roles(Window(0, 0, 2, 2), ["NIR"])["NIR"]
    assert float(nir[0, 0]) == pytest.approx(10000 * 2.75e-5 - 0.2, rel=1e-6)


def test_generic_bands_scale_offset_from_the_file(tmp_path):
    """Reflectance stored as int16 with GDAL's scale (gdal_translate -a_scale) is reflectance."""
    data = np.array([[[500, -32768], [600, 700]], [[4000, 4100], [4200, -32768]]], "int16")
    p = _write(tmp_path / "int16.tif", data, nodata=-32768)
    with rasterio.open(p, "r+") as ds:
        ds.scales, ds.offsets = (1e-4, 1e-4), (0.0, 0.0)
    log = Findings()
    src = raster_source(p, bands="R,NIR", findings=log)
    read = src.read_roles(Window(0, 0, 2, 2), ["R", "NIR"])
    assert float(read["NIR"][0, 0]) == pytest.approx(0.4) and read["R"].mask[0, 1]
    assert "0.0001" in log.of("band_scale_offset")[0].message
    with rasterio.open(p, "r+") as ds:
        ds.scales = (1e-4, 2e-4)
    with pytest.raises(RasterError, match="different scales"):
        raster_source(p, bands="R,NIR")


def test_scl_mask_and_boundless(tmp_path):
    p = _s2(tmp_path)
    scl = np.array([[4, 4, 8], [4, 9, 4], [3, 4, 5]], "uint8")
    m = _write(tmp_path / "scl.tif", scl)
    src = raster_source(p, sensor="sentinel2-l2a", mask=m)
    assert src.mask_values == SCL_INVALID
    r = src.read_roles(Window(0, 0, 3, 3), ["R", "NIR"])
    expected = np.isin(scl, SCL_INVALID)
    expected[0, 0] = True  # nodata
    np.testing.assert_array_equal(r["R"].mask, expected)
    np.testing.assert_array_equal(r["NIR"].mask, expected)
    out = src.read_roles(Window(-1, -1, 3, 3), ["R"], boundless=True)["R"]
    assert out.shape == (3, 3)
    assert out.mask[0].all() and out.mask[:, 0].all()
    assert out.mask[2, 2]  # SCL 9 at raster (1, 1)
    assert not out.mask[2, 1] and float(out[2, 1]) == pytest.approx(0.05, abs=1e-7)
    clipped = src.read_roles(Window(-1, -1, 3, 3), ["R"])["R"]
    assert clipped.shape == (2, 2)


def test_binary_mask_default_and_grid_check(tmp_path):
    p = _write(tmp_path / "a.tif", np.full((1, 3, 3), 0.5, "float32"))
    m = _write(tmp_path / "clm.tif", np.eye(3, dtype="uint8"))
    src = raster_source(p, bands="NDVI", mask=m)
    assert src.mask_values == (1,)
    v = src.read_roles(Window(0, 0, 3, 3), ["NDVI"])["NDVI"]
    np.testing.assert_array_equal(v.mask, np.eye(3, dtype=bool))
    other = str(tmp_path / "small.tif")
    write_geotiff(other, np.zeros((2, 2), "uint8"), transform=TRANSFORM, crs="EPSG:4551")
    with pytest.raises(RasterError, match="not on the grid"):
        raster_source(p, bands="NDVI", mask=other)


def test_float_nan_is_invalid_and_missing_role(tmp_path):
    data = np.full((1, 2, 2), 0.3, "float32")
    data[0, 1, 1] = np.nan
    src = raster_source(_write(tmp_path / "n.tif", data), bands="NDVI")
    v = src.read_roles(Window(0, 0, 2, 2), ["NDVI"])["NDVI"]
    assert v.mask.tolist() == [[False, False], [False, True]]
    with pytest.raises(RasterError, match="has no NIR band"):
        src.read_roles(Window(0, 0, 2, 2), ["NIR"])


def test_source_is_picklable_and_tiles(tmp_path):
    p = _write(tmp_path / "big.tif", np.zeros((1, 600, 700), "uint16"))
    src = raster_source(p, bands="NIR")
    again = pickle.loads(pickle.dumps(src))
    assert again == src and again.grid.same_as(src.grid)
    assert src.block_shape == (256, 256)
    wins = src.block_windows(size=300)
    assert [tuple(w.flatten()) for w in wins] == [
        (0, 0, 512, 512),
        (512, 0, 188, 512),
        (0, 512, 512, 88),
        (512, 512, 188, 88),
    ]


def test_truncated_geotiff_read_names_file_and_fix(tmp_path):
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from gis.io import write_geotiff

    path = tmp_path / "cut.tif"
    data = np.random.default_rng(0).integers(1, 3000, (4, 512, 512)).astype("uint16")
    write_geotiff(path, data, transform=from_origin(500_000, 4_850_000, 10, 10), crs=4551)
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.truncate(int(size * 0.6))
    src = raster_source(path, bands="B,G,R,NIR")  # the header is intact: it opens
    with pytest.raises(DataSourceError, match=r"cut\.tif.*truncated or corrupt"), src.open() as r:
        r.read_array(Window(0, 0, 512, 512), ["R", "NIR"])
