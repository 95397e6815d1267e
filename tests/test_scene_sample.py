"""Scene statistics of large rasters from a sample of their blocks (gis.zonal.sample, issue 17)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from gis.raster import raster_source
from gis.zonal import inside
from gis.zonal.sample import (
    SAMPLE_BLOCKS,
    BlockSample,
    block_order,
    blocks_to_sample,
    pixel_stride,
    read_block_sample,
)

BLOCK = 16
SIDE = 256  # 16 × 16 = 256 blocks of 16²: enough for a block sample of 32


def _write(path, data, *, nodata=0, block=BLOCK):
    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": "EPSG:4551",
        "transform": from_origin(470_000.0, 4_840_000.0, 10.0, 10.0),
        "nodata": nodata,
        "tiled": True,
        "blockxsize": block,
        "blockysize": block,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def _dn(seed, *, gain=1.0, side=SIDE):
    """A 4-band (B,G,R,NIR) uint16 DN landscape: forest and fields in patches of ~40 px."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    forest = (np.sin(xx / 13.0) + np.cos(yy / 17.0) + rng.normal(0, 0.3, (side, side))) > 0
    r = np.where(forest, 400, 1300) + rng.normal(0, 60, (side, side))
    nir = np.where(forest, 3800, 2000) + rng.normal(0, 60, (side, side))
    data = np.stack([r * 0.6, r * 0.8, r, nir]) * gain
    return np.clip(data, 1, 60000).astype("uint16")


def test_sample_size_grows_as_the_root_of_the_blocks_and_small_files_are_read_whole():
    assert blocks_to_sample(SIDE, SIDE, (BLOCK, BLOCK)) == SAMPLE_BLOCKS  # 256 blocks
    assert blocks_to_sample(10_000, 10_000, (512, 512)) == SAMPLE_BLOCKS  # 400 blocks
    assert blocks_to_sample(51_200, 51_200, (512, 512)) == 100  # 10 000 blocks: √
    assert blocks_to_sample(2_000, 2_000, (512, 512)) == 0  # 16 blocks: read whole
    assert pixel_stride((512, 512)) == 4 and pixel_stride((16, 16)) == 1


def test_block_order_visits_every_block_once_and_spreads_the_first():
    order = block_order(16, 16)
    assert sorted(order.tolist()) == list(range(256))
    first = order[:SAMPLE_BLOCKS]
    rows, cols = first // 16, first % 16
    assert len(set(rows.tolist())) >= 14 and len(set(cols.tolist())) >= 14  # no stripes
    assert block_order(3, 40).size == 120  # long thin grids too


def test_block_sample_holds_the_file_pixels_and_skips_a_nodata_collar(tmp_path):
    data = _dn(1)
    data[:, :, : SIDE // 2] = 0  # the western half is nodata
    src = raster_source(_write(tmp_path / "collar.tif", data), bands="B,G,R,NIR")
    sample = read_block_sample(src, ["NIR", "R"], SAMPLE_BLOCKS, parts=2)
    assert isinstance(sample, BlockSample)
    cols = SIDE // BLOCK
    valid = [b for b in sample.blocks if (b % cols) * BLOCK >= SIDE // 2]
    assert len(valid) >= SAMPLE_BLOCKS  # read on until 32 blocks hold valid pixels
    assert sample.values["NIR"].shape == (len(sample.blocks), BLOCK * BLOCK)
    for i, b in enumerate(sample.blocks[:10]):
        r0, c0 = (b // cols) * BLOCK, (b % cols) * BLOCK
        want = data[3, r0 : r0 + BLOCK, c0 : c0 + BLOCK].ravel().astype("f8")
        np.testing.assert_array_equal(sample.values["NIR"][i], want)


def _percentiles(data, band):
    v = data[band].astype("f8")
    return np.percentile(v[(data != 0).all(axis=0)], [2, 98])


def test_scene_normaliser_of_a_large_pair_is_near_the_exact_percentiles(tmp_path):
    before, after = _dn(2), _dn(3, gain=1.7)  # the after date delivered with another gain
    pb = _write(tmp_path / "before.tif", before)
    pa = _write(tmp_path / "after.tif", after)
    sb, sa = (raster_source(p, bands="B,G,R,NIR") for p in (pb, pa))
    norm = inside.scene_normaliser(sb, sa, ("NIR", "R"))
    with rasterio.open(pb) as ds:
        assert isinstance(inside._samples(sb, ds), BlockSample)  # blocks, not a full pass
    for side, data in ((norm.before, before), (norm.after, after)):
        for role, band in (("NIR", 3), ("R", 2)):
            lo, hi = _percentiles(data, band)
            span = hi - lo
            assert side[role][0] == pytest.approx(lo, abs=0.05 * span)
            assert side[role][1] == pytest.approx(hi, abs=0.05 * span)
    # same landscape, gain aside: the normalised NDVI hardly changed over the scene
    assert abs(norm.scene_dndvi) < 0.05


def test_pairs_of_different_layouts_fall_back_to_the_decimated_read(tmp_path):
    pb = _write(tmp_path / "before.tif", _dn(4))
    pa = _write(tmp_path / "after.tif", _dn(5), block=32)  # 64 blocks: read whole
    sb, sa = (raster_source(p, bands="B,G,R,NIR") for p in (pb, pa))
    norm = inside.scene_normaliser(sb, sa, ("NIR", "R"))
    lo, hi = norm.before["NIR"]
    assert 1500 < lo < hi < 4200 and np.isfinite(norm.scene_dndvi)


def test_radiometry_of_large_files_comes_from_the_block_sample(tmp_path):
    dn = raster_source(_write(tmp_path / "dn.tif", _dn(6)), bands="B,G,R,NIR")
    assert inside.resolve_radiometry(dn) == ("dn", "values beyond reflectance (NIR above 1.5)")
    refl = (_dn(6).astype("f4") / 10_000).astype("float32")
    src = raster_source(_write(tmp_path / "refl.tif", refl, nodata=None), bands="B,G,R,NIR")
    assert inside.resolve_radiometry(src)[0] == "reflectance"
    with rasterio.open(src.path) as ds:
        assert isinstance(inside._samples(src, ds), BlockSample)
