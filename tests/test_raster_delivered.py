"""Rasters as counties receive them: NDVI as integers, paletted images, VRTs, odd grids.

Each file is written by a real GDAL driver (GTiff, VRT) and read through ``linyuan check
patches`` or :func:`gis.raster.raster_source`; refusals name the file and the fix, good but
odd files give the results of the plain file.
"""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import rasterio
import rasterio.shutil
from click.testing import CliRunner
from rasterio.windows import Window
from test_patches import build_scene

from gis.cli.main import cli
from gis.errors import DataSourceError, RasterError
from gis.raster import raster_source


@pytest.fixture
def scene(tmp_path):
    return build_scene(tmp_path)


def _ndvi(src, dst, *, dtype="float32", factor=1.0, scale=None):
    """Write the NDVI of a R,NIR,SWIR2 scene raster as ``dtype`` (x ``factor``), by GTiff."""
    with rasterio.open(src) as ds:
        r, nir = ds.read(1).astype("f8"), ds.read(2).astype("f8")
        profile = ds.profile
    values = (nir - r) / (nir + r) * factor
    profile.update(count=1, dtype=dtype, nodata=None)
    with rasterio.open(dst, "w", **profile) as out:
        out.write(values.round() if factor != 1.0 else values, 1)
        if scale is not None:
            out.scales = (scale,)
    return str(dst)


def _check_ndvi(scene, before, after, out, *extra):
    args = ["check", "patches", str(scene["patches"]), "--before", before, "--after", after]
    args += ["--sensor", "generic", "--bands", "NDVI", "--out", str(out), *extra]
    return CliRunner().invoke(cli, args)


def test_ndvi_stored_as_integers_is_refused_then_read_with_its_scale(scene, tmp_path):
    """NDVI x 10000 in int16 without a scale was read as NDVI of thousands; uint8 crashed."""
    ints = [_ndvi(scene[k], tmp_path / f"{k}_i16.tif", dtype="int16", factor=1e4) for k in
            ("before", "after")]  # fmt: skip
    result = _check_ndvi(scene, *ints, tmp_path / "r.gpkg")
    assert result.exit_code == 3, result.output
    assert "before_i16.tif" in result.output and "gdal_edit.py -scale 0.0001" in result.output
    assert not (tmp_path / "r.gpkg").exists()
    bytes8 = _ndvi(scene["after"], tmp_path / "after_u8.tif", dtype="uint8", factor=100)
    floats = [_ndvi(scene[k], tmp_path / f"{k}_f.tif") for k in ("before", "after")]
    result = _check_ndvi(scene, floats[0], bytes8, tmp_path / "r.gpkg", "--lang", "en")
    assert result.exit_code == 3, result.output
    assert "after_u8.tif" in result.output and "between -1 and 1" in result.output

    scaled = [_ndvi(scene[k], tmp_path / f"{k}_s.tif", dtype="int16", factor=1e4, scale=1e-4)
              for k in ("before", "after")]  # fmt: skip
    assert _check_ndvi(scene, *scaled, tmp_path / "s.gpkg").exit_code == 0
    assert _check_ndvi(scene, *floats, tmp_path / "f.gpkg").exit_code == 0
    got, want = (pyogrio.read_dataframe(tmp_path / f, layer="patches_checked") for f in
                 ("s.gpkg", "f.gpkg"))  # fmt: skip
    assert np.allclose(got["dndvi"], want["dndvi"], atol=2e-4, equal_nan=True)
    assert list(got["legality"]) == list(want["legality"])


def test_paletted_raster_is_refused_for_analysis(scene, tmp_path):
    path = tmp_path / "landcover.tif"
    with rasterio.open(scene["after"]) as ds:
        profile = ds.profile
    profile.update(count=1, dtype="uint8", nodata=None)
    with rasterio.open(path, "w", **profile) as out:
        out.write(np.arange(profile["width"] * profile["height"], dtype="uint8").reshape(
            profile["height"], profile["width"]) % 4, 1)  # fmt: skip
        out.write_colormap(1, {0: (0, 0, 0, 255), 1: (0, 128, 0, 255), 2: (255, 255, 0, 255)})
    with pytest.raises(RasterError, match=r"landcover.tif is a paletted image") as err:
        raster_source(path, bands="NDVI")
    assert "调色板" in err.value.zh
    result = _check_ndvi(scene, str(path), str(path), tmp_path / "r.gpkg")
    assert result.exit_code == 3 and "调色板影像" in result.output, result.output


def test_vrt_of_present_files_reads_and_of_missing_files_names_them(scene, tmp_path):
    copy, vrt = tmp_path / "copy.tif", tmp_path / "after.vrt"
    with rasterio.open(scene["after"]) as ds:
        rasterio.shutil.copy(ds, copy, driver="GTiff")
    with rasterio.open(copy) as ds:
        rasterio.shutil.copy(ds, vrt, driver="VRT")
    window = Window(0, 0, 20, 20)
    reads = []
    for path in (copy, vrt):
        with raster_source(path, bands="R,NIR,SWIR2").open() as reader:
            reads.append(reader.read_array(window, ("R", "NIR"))[0])
    np.testing.assert_array_equal(*reads)
    copy.unlink()
    with pytest.raises(DataSourceError, match=r"after.vrt is a VRT whose source files are "
                       r"missing: .*copy.tif") as err:  # fmt: skip
        raster_source(vrt, bands="R,NIR,SWIR2")
    assert "gdalbuildvrt" in str(err.value)
