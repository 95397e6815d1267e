"""Two dates on different grids, several scenes per date: one analysis grid, stated rules.

A synthetic 2 m "truth" (smooth background, clearings in the after date) is delivered on
other grids (origin shifted, another CRS, coarser pixels, two UTM zones) by averaging it with
GDAL; the statistics must match a reference taken on one grid straight from the truth.
"""

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.transform import from_origin
from rasterio.warp import calculate_default_transform, reproject

from gis.errors import RasterError
from gis.findings import Findings
from gis.io import write_geotiff
from gis.raster import analysis_grid, common_grid, raster_source
from gis.raster.analysis_grid import pixel_size_m, resampling_for
from gis.zonal import change_stats

GK = "EPSG:4551"  # CGCS2000 3° Gauss-Krüger CM 126°E (Changchun)
X0, Y0 = 498_000.0, 4_862_000.0  # just west of 126°E
TRUTH_M, SIDE_PX = 2.0, 720  # 1.44 km square of 2 m truth
TOLERANCE = {"ndvi_before": 0.05, "ndvi_after": 0.05, "dndvi": 0.05, "drop_frac": 0.05}
"""Largest difference allowed from the reference averaged from the truth straight onto the
analysis grid: a delivery on a shifted or rotated grid mixes the clearing's edge pixels with
the forest around it (about 0.02-0.045 in mean NDVI on these 200 m patches)."""

WARP_TOLERANCE = 0.002
"""Largest difference allowed from the same delivery warped whole (gdalwarp, pre-aligned)."""

CLEARINGS = [(200, 300, 400, 520), (760, 600, 1000, 760), (1100, 1100, 1300, 1300)]
"""Clearings (metres from the upper-left corner: x0, y0, x1, y1); the after date drops."""


def _truth(after: bool) -> np.ndarray:
    y, x = np.mgrid[0:SIDE_PX, 0:SIDE_PX] * TRUTH_M
    red = 700 + 150 * np.sin(x / 170.0) + 100 * np.cos(y / 230.0)
    nir = 3200 + 400 * np.cos(x / 260.0) * np.sin(y / 190.0)
    if after:
        for x0, y0, x1, y1 in CLEARINGS:
            inside = (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
            red[inside], nir[inside] = 1600, 1500
    blue, green = np.full_like(red, 400), np.full_like(red, 600)
    return np.stack([blue, green, red, nir]).astype("float32")


def _deliver(path, data, crs, res, *, shift=(0.0, 0.0), data_m=TRUTH_M, how=None, bands=None):
    """Average ``data`` (``data_m`` pixels on GK at X0, Y0; the truth by default) onto a grid
    of ``res`` metres in ``crs`` (origin shifted, or resampled ``how``); write it."""
    side = data.shape[1]
    src_t = from_origin(X0, Y0, data_m, data_m)
    if crs == GK:
        t = from_origin(X0 + shift[0], Y0 + shift[1], res, res)
        w = h = int(side * data_m / res) - (1 if any(shift) else 0)
    else:
        bounds = (X0, Y0 - side * data_m, X0 + side * data_m, Y0)
        t, w, h = calculate_default_transform(GK, crs, side, side, *bounds, resolution=res)
    out = np.zeros((data.shape[0], h, w), "float32")
    reproject(data, out, src_transform=src_t, src_crs=GK, dst_transform=t, dst_crs=crs,
              resampling=how or Resampling.average)  # fmt: skip
    write_geotiff(path, np.rint(out).astype("uint16"), transform=t, crs=crs, nodata=0)
    return raster_source(path, bands=bands or "B,G,R,NIR")


def _prealigned(path, src, grid):
    """The whole raster warped onto ``grid`` with the rule's resampling (a gdalwarp copy)."""
    how = resampling_for(pixel_size_m(src.grid), pixel_size_m(grid))
    with rasterio.open(src.path) as ds:
        data = ds.read()
    out = np.zeros((data.shape[0], grid.height, grid.width), data.dtype)
    reproject(data, out, src_transform=src.transform, src_crs=src.crs_wkt, src_nodata=0,
              dst_transform=grid.transform, dst_crs=grid.crs_wkt, dst_nodata=0,
              resampling=Resampling[how])  # fmt: skip
    write_geotiff(path, out, transform=grid.transform, crs=grid.crs_wkt, nodata=0)
    return raster_source(path, bands="B,G,R,NIR")


def _patches():
    boxes = [shapely.box(X0 + a, Y0 - d, X0 + c, Y0 - b) for a, b, c, d in CLEARINGS]
    boxes.append(shapely.box(X0 + 500, Y0 - 1300, X0 + 700, Y0 - 1100))  # unchanged forest
    return gpd.GeoDataFrame({"patch_id": list("ABCD")}, geometry=boxes, crs=GK)


def _compare(stats, reference, tolerance=None):
    for col, tol in TOLERANCE.items():
        diff = (stats[col] - reference[col]).abs().max()
        assert diff <= (tolerance or tol), f"{col}: {diff:.4f} > {tolerance or tol}"
    assert (reference.loc[:2, "dndvi"] < -0.3).all()  # the clearings are seen


@pytest.fixture(scope="module")
def truth():
    return _truth(False), _truth(True)


@pytest.mark.parametrize(
    ("crs", "res", "shift", "how"),
    [
        (GK, 10.0, (3.0, -4.0), "nearest"),  # origin shifted, same pixel
        ("EPSG:32651", 12.0, (0.0, 0.0), "average"),  # another CRS, coarser
        (GK, 20.0, (0.0, 0.0), "average"),  # coarser, same CRS
    ],
)
def test_after_on_another_grid_matches_one_grid_reference(tmp_path, truth, crs, res, shift, how):
    before = _deliver(tmp_path / "b.tif", truth[0], GK, 10.0)
    after = _deliver(tmp_path / "a.tif", truth[1], crs, res, shift=shift)
    grid = analysis_grid(before.grid, after.grid)
    size = max(10.0, res)
    assert grid.res == (size, size) and (grid.transform.c, grid.transform.f) == (X0, Y0)
    log = Findings()
    stats = change_stats(_patches(), before, after, findings=log)
    ref_b = _deliver(tmp_path / "rb.tif", truth[0], GK, size)
    ref_a = _deliver(tmp_path / "ra.tif", truth[1], GK, size)
    reference = change_stats(_patches(), ref_b, ref_a)
    _compare(stats, reference)
    aligned = [_prealigned(tmp_path / f"p{i}.tif", s, grid) for i, s in enumerate((before, after))]
    _compare(stats, change_stats(_patches(), *aligned), WARP_TOLERANCE)
    note = next(f for f in log if f.code == "grids_aligned")
    assert f"warped with {how}" in note.message and "aligned to the before image" in note.message
    assert "重采样" in note.zh


def test_same_grid_is_read_as_it_is(tmp_path, truth):
    before = _deliver(tmp_path / "b.tif", truth[0], GK, 10.0)
    after = _deliver(tmp_path / "a.tif", truth[1], GK, 10.0)
    log = Findings()
    b, a = common_grid(before, after, findings=log)
    assert (b, a) == (before, after) and b.warp is None and not len(log)


def test_before_coarser_keeps_its_grid_and_after_is_averaged(tmp_path, truth):
    before = _deliver(tmp_path / "b.tif", truth[0], "EPSG:32651", 20.0)
    after = _deliver(tmp_path / "a.tif", truth[1], GK, 10.0)
    b, a = common_grid(before, after)
    assert b == before and a.grid.same_as(before.grid)
    assert a.warp is not None and a.warp.resampling == "average"
    with a.open() as reader:  # read by window through the warped VRT, no copy
        values, invalid = reader.read_array(rasterio.windows.Window(10, 10, 8, 8), ["R", "NIR"])
    assert values.shape == (2, 8, 8) and not invalid.all()


def test_dates_that_do_not_overlap_stop_naming_both(tmp_path, truth):
    before = _deliver(tmp_path / "b.tif", truth[0], GK, 10.0)
    far = _deliver(tmp_path / "far.tif", truth[1], GK, 10.0, shift=(50_000.0, 0.0))
    with pytest.raises(RasterError, match=r"far\.tif does not overlap .*b\.tif"):
        change_stats(_patches(), before, far)


SEAM_X = 500_000.0  # 126°E in EPSG:4551


def _tile(path, data, crs, x0_px, x1_px):
    """Deliver columns ``x0_px:x1_px`` of a truth centred on 126°E as a 10 m tile in ``crs``."""
    part = np.ascontiguousarray(data[:, :, x0_px:x1_px])
    left = SEAM_X - SIDE_PX + x0_px * TRUTH_M
    bounds = (left, Y0 - SIDE_PX * TRUTH_M, left + part.shape[2] * TRUTH_M, Y0)
    t, w, h = calculate_default_transform(GK, crs, part.shape[2], SIDE_PX, *bounds, resolution=10)
    out = np.zeros((part.shape[0], h, w), "float32")
    reproject(part, out, src_transform=from_origin(left, Y0, TRUTH_M, TRUTH_M), src_crs=GK,
              dst_transform=t, dst_crs=crs, resampling=Resampling.average)  # fmt: skip
    write_geotiff(path, np.rint(out).astype("uint16"), transform=t, crs=crs, nodata=0)
    return str(path)


def _seam_patches():
    left = SEAM_X - SIDE_PX
    boxes = [shapely.box(left + a, Y0 - d, left + c, Y0 - b) for a, b, c, d in SEAM_CLEARINGS]
    return gpd.GeoDataFrame({"patch_id": list("ABC")}, geometry=boxes, crs=GK)


SEAM_CLEARINGS = [(600, 300, 900, 500), (680, 900, 760, 1100), (200, 1100, 400, 1300)]
"""Two clearings across the seam (x = 720 m), one west of it."""


def _seam_truth(after):
    data = _truth(False)
    if after:
        y, x = np.mgrid[0:SIDE_PX, 0:SIDE_PX] * TRUTH_M
        for x0, y0, x1, y1 in SEAM_CLEARINGS:
            inside = (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
            data[2][inside], data[3][inside] = 1600, 1500
    return data


@pytest.mark.parametrize("form", ["list", "folder"])
def test_tiles_across_utm_zones_mosaic_virtually(tmp_path, form):
    dates = {}
    for name, after in (("before", False), ("after", True)):
        folder = tmp_path / name
        folder.mkdir()
        truth = _seam_truth(after)
        west = _tile(folder / "T51.tif", truth, "EPSG:32651", 0, 420)  # to 120 m east of 126°E
        east = _tile(folder / "T52.tif", truth, "EPSG:32652", 300, SIDE_PX)  # from 120 m west
        dates[name] = f"{west},{east}" if form == "list" else str(folder)
    log = Findings()
    before = raster_source(dates["before"], bands="B,G,R,NIR", findings=log)
    after = raster_source(dates["after"], bands="B,G,R,NIR", findings=log)
    assert len(before.parts) == 2 and "first valid pixel in the order given" in before.product
    assert sum(f.code == "mosaic" for f in log) == 2
    with pytest.raises(RasterError, match="2 scenes; give products that carry their masks"):
        raster_source(dates["after"], bands="B,G,R,NIR", mask=tmp_path / "before" / "T51.tif")
    stats = change_stats(_seam_patches(), before, after, findings=log)
    assert "grids_aligned" not in {f.code for f in log}  # both mosaics share one grid
    grid = before.grid
    reference = []
    for i, src in enumerate((before, after)):
        reference.append(_prealigned_mosaic(tmp_path / f"ref{i}.tif", src, grid))
    ref = change_stats(_seam_patches(), *reference)
    _compare(stats, ref, WARP_TOLERANCE)
    assert (stats.loc[:1, "dndvi"] < -0.3).all() and stats["valid_frac_after"].min() == 1.0
    truth_ref = [_truth_on(tmp_path / f"t{i}.tif", _seam_truth(bool(i)), grid) for i in (0, 1)]
    _compare(stats, change_stats(_seam_patches(), *truth_ref))


def _prealigned_mosaic(path, mosaic, grid):
    """gdalwarp each scene onto ``grid`` (the rule's resampling) and keep the first valid."""
    out = np.zeros((4, grid.height, grid.width), "uint16")
    for part in mosaic.parts:
        with rasterio.open(part.warp.base.path if part.warp else part.path) as ds:
            data, tile = ds.read(), np.zeros_like(out)
            reproject(data, tile, src_transform=ds.transform, src_crs=ds.crs, src_nodata=0,
                      dst_transform=grid.transform, dst_crs=grid.crs_wkt, dst_nodata=0,
                      resampling=Resampling[part.warp.resampling])  # fmt: skip
        empty = (out == 0).all(axis=0)
        out[:, empty] = tile[:, empty]
    write_geotiff(path, out, transform=grid.transform, crs=grid.crs_wkt, nodata=0)
    return raster_source(path, bands="B,G,R,NIR")


def _truth_on(path, data, grid):
    out = np.zeros((4, grid.height, grid.width), "float32")
    reproject(data, out, src_transform=from_origin(SEAM_X - SIDE_PX, Y0, TRUTH_M, TRUTH_M),
              src_crs=GK, dst_transform=grid.transform, dst_crs=grid.crs_wkt,
              resampling=Resampling.average)  # fmt: skip
    write_geotiff(path, np.rint(out).astype("uint16"), transform=grid.transform,
                  crs=grid.crs_wkt, nodata=0)  # fmt: skip
    return raster_source(path, bands="B,G,R,NIR")


@pytest.mark.parametrize("crs", [GK, "EPSG:32651"])
def test_source_without_nodata_is_invalid_outside_its_footprint(tmp_path, crs):
    # no nodata value: validity outside the file comes from an alpha band the warp adds
    before = _deliver(tmp_path / "b.tif", _truth(False), GK, 10.0)
    ndvi = np.full((40, 40), 0.6, "float32")
    t = from_origin(X0 + 500, Y0 - 300, 10, 10)
    if crs != GK:
        from pyproj import Transformer

        x, y = Transformer.from_crs(GK, crs, always_xy=True).transform(X0 + 500, Y0 - 300)
        t = from_origin(x, y, 10, 10)
    write_geotiff(tmp_path / "n.tif", ndvi, transform=t, crs=crs)
    after = raster_source(tmp_path / "n.tif", bands="NDVI")
    b, a = common_grid(before, after)
    assert b == before and a.warp is not None and a.nodata is None
    values = a.read_roles(rasterio.windows.Window(40, 20, 20, 20), ["NDVI"])["NDVI"]
    assert values.mask[:, :8].all() and values.mask[:8, :].all()  # north and west of the file
    assert not values.mask[12:, 12:].any()
    assert float(values[15, 15]) == pytest.approx(0.6)


@pytest.mark.parametrize("nodata", [0, 65535])
def test_nearest_warp_equals_a_whole_copy_with_nodata_inside(tmp_path, nodata):
    # same pixel size, another CRS: the warper copies values (it is not told the nodata value,
    # gis.io.rasters.warped_vrt copy_nodata), so nodata inside the file and the area beyond it
    # must still read invalid, and every other pixel equal a whole-raster nearest reproject
    before = _deliver(tmp_path / "b.tif", _truth(False), GK, 10.0)
    data = _deliver(tmp_path / "a0.tif", _truth(True), "EPSG:32651", 10.0)
    with rasterio.open(data.path) as ds:
        values, profile = ds.read(), ds.profile
    values[values == 0] = 1
    values[:, 20:40, 30:60] = nodata  # a hole inside the file
    values[2, 50:55, 10:20] = nodata  # nodata in one band only
    profile.update(nodata=nodata)
    with rasterio.open(tmp_path / "a.tif", "w", **profile) as dst:
        dst.write(values)
    after = raster_source(tmp_path / "a.tif", bands="B,G,R,NIR")
    _, warped = common_grid(before, after)
    assert warped.warp is not None and warped.warp.resampling == "nearest"
    win = rasterio.windows.Window(0, 0, before.width, before.height)
    got = warped.read_roles(win, ["G", "R", "NIR"])
    grid = before.grid
    ref = np.full((4, grid.height, grid.width), nodata, values.dtype)
    reproject(values, ref, src_transform=after.transform, src_crs=after.crs_wkt,
              src_nodata=nodata, dst_transform=grid.transform, dst_crs=grid.crs_wkt,
              dst_nodata=nodata, resampling=Resampling.nearest)  # fmt: skip
    invalid = (ref[1:] == nodata).any(axis=0)
    assert invalid.any() and (~invalid).any()
    assert 0 < invalid[: grid.height // 2].mean() < 1  # the hole, inside the covered area
    for k, role in enumerate(["G", "R", "NIR"], start=1):
        assert np.array_equal(got[role].mask, invalid)
        np.testing.assert_allclose(got[role].filled(np.nan)[~invalid], ref[k][~invalid] * 1.0)


@pytest.mark.parametrize("res", [10.0, 12.0])
def test_a_warped_pixel_has_one_value_whatever_window_reads_it(tmp_path, res):
    """Warps are computed block by block: a window grown by a margin (the inside pass reads
    those) holds the same values as the window itself, nearest and average alike. (GDAL warps
    a large request as one chunk otherwise, and its approximate transformer then moves some
    nearest pixels with the request.)"""
    from rasterio.windows import Window

    side = 1800
    noise = np.random.default_rng(5).integers(1, 10_000, (2, side, side)).astype("float32")
    noisy = {"data_m": 10.0, "how": Resampling.bilinear, "bands": "R,NIR"}
    before = _deliver(tmp_path / "b.tif", noise, GK, 10.0, **noisy)
    after = _deliver(tmp_path / "a.tif", noise, "EPSG:32651", res, **noisy)
    _, a = common_grid(before, after)
    assert a.warp is not None and a.warp.resampling == "nearest"
    for col, row, m in ((37, 21, 9), (300, 400, 40)):
        win = Window(col, row, 1100, 1000)
        with a.open() as reader:
            core, bad = reader.read_array(win, ("NIR", "R"))
        with a.open() as reader:
            grown, gbad = reader.read_array(win, ("NIR", "R"), halo=m)
        inner = (slice(None), slice(m, m + 1000), slice(m, m + 1100))
        np.testing.assert_array_equal(core, grown[inner])
        np.testing.assert_array_equal(bad, gbad[inner[1:]])
