"""Rasters as UAV and satellite deliveries come: RGBA alpha bands, GDAL masks, nodata.

Every file is written with GDAL through rasterio: an RGBA orthomosaic (PHOTOMETRIC=RGB +
ExtraSamples alpha, as DJI Terra / Pix4D / Metashape export), a JPEG-YCbCr tiled GeoTIFF with
an internal mask (GDAL_TIFF_INTERNAL_MASK=YES), a GeoTIFF with a sidecar ``.msk``, a file with
nodata and no mask, and a plain one.
"""

from __future__ import annotations

import json
import pickle

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from rasterio.enums import ColorInterp
from rasterio.transform import from_origin
from rasterio.windows import Window

from gis.checks.discolored import detect_discolored
from gis.cli.main import cli
from gis.errors import RasterError
from gis.findings import Findings
from gis.raster import DatasetMask, parse_roles, raster_source, require_usable

SIZE, RES = 200, 0.5
TRANSFORM = from_origin(500_000, 4_850_000 + SIZE * RES, RES, RES)
PROFILE = {"driver": "GTiff", "width": SIZE, "height": SIZE, "crs": "EPSG:4551",
           "transform": TRANSFORM}  # fmt: skip
HEALTHY = (100, 150, 75)  # R, G, B of a healthy pine crown, 8-bit
DEAD = (187, 137, 87)  # red-brown


def _rgb(seed=0):
    """(3, SIZE, SIZE) uint8 of varied values (1..254)."""
    rng = np.random.default_rng(seed)
    return rng.integers(1, 255, (3, SIZE, SIZE), dtype="uint8")


def _alpha():
    """Alpha of a flown area: opaque left part, transparent right part and a corner."""
    alpha = np.full((SIZE, SIZE), 255, "uint8")
    alpha[:, 130:] = 0
    alpha[:20, :20] = 0
    return alpha


def _outside(rgb, alpha):
    """As exported: RGB 0 (black) or 255 (white) where alpha is 0."""
    out = rgb.copy()
    out[:, alpha == 0] = 0
    out[:, :100][:, alpha[:100] == 0] = 255
    return out


def write_rgba(path, rgb, alpha, **options):
    with rasterio.open(path, "w", count=4, dtype="uint8", photometric="RGB", alpha="YES",
                       **PROFILE, **options) as ds:  # fmt: skip
        ds.write(np.concatenate([rgb, alpha[None]]))
    return path


def write_masked(path, rgb, mask, *, internal=True, jpeg=True):
    options = {"photometric": "YCBCR", "compress": "JPEG", "tiled": True, "blockxsize": 128,
               "blockysize": 128} if jpeg else {"compress": "deflate"}  # fmt: skip
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=internal):
        with rasterio.open(path, "w", count=3, dtype="uint8", **PROFILE, **options) as ds:
            ds.write(rgb)
            ds.write_mask(mask)
    return path


def read_all(src, roles=("R", "G", "B"), size=64, halo=0):
    """Read ``src`` window by window (with ``halo``) and stitch the cores back together."""
    values = np.empty((len(roles), SIZE, SIZE), "f4")
    invalid = np.empty((SIZE, SIZE), bool)
    with src.open() as reader:
        for w in src.block_windows(size):
            v, bad = reader.read_array(w, roles, halo=halo)
            r, c, h, wd = int(w.row_off), int(w.col_off), int(w.height), int(w.width)
            values[:, r : r + h, c : c + wd] = v[:, halo : halo + h, halo : halo + wd]
            invalid[r : r + h, c : c + wd] = bad[halo : halo + h, halo : halo + wd]
    return values, invalid


# --- alpha bands ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "roles"),
    [({"sensor": "uav-rgb"}, ("R", "G", "B")), ({"bands": "R,G,B"}, ("R", "G", "B")),
     ({"bands": "r,g,b,a"}, ("R", "G", "B")), ({"bands": "B,G,R,ALPHA"}, ("B", "G", "R"))],
)  # fmt: skip
def test_rgba_alpha_marks_outside_invalid(tmp_path, how, roles):
    rgb, alpha = _rgb(), _alpha()
    path = write_rgba(tmp_path / "ortho.tif", _outside(rgb, alpha), alpha, tiled=True,
                      blockxsize=64, blockysize=64)  # fmt: skip
    with rasterio.open(path) as ds:  # the file is what exporters write
        assert [c.name for c in ds.colorinterp] == ["red", "green", "blue", "alpha"]
    log = Findings()
    src = pickle.loads(pickle.dumps(raster_source(path, findings=log, **how)))
    assert src.roles == roles and src.indexes == (1, 2, 3) and src.count == 4
    assert (src.dataset_mask, src.alpha_index) == (DatasetMask.ALPHA, 4)
    values, invalid = read_all(src, roles, halo=3)
    np.testing.assert_array_equal(invalid, alpha == 0)
    assert np.isnan(values[:, invalid]).all()
    np.testing.assert_array_equal(values[:, ~invalid], rgb[:, ~invalid].astype("f4"))
    (found,) = log.of("raster_validity")
    assert "alpha band 4 is 0" in found.message and found.source == str(path)


def test_alpha_band_anywhere_by_role(tmp_path):
    """``--bands A,R,G,B``: an alpha band first (not marked in the file) maps the roles on."""
    rgb, alpha = _rgb(), _alpha()
    path = tmp_path / "argb.tif"
    with rasterio.open(path, "w", count=4, dtype="uint8", **PROFILE) as ds:
        ds.write(np.concatenate([alpha[None], rgb]))
    src = raster_source(path, bands="A,R,G,B")
    assert src.roles == ("R", "G", "B") and src.indexes == (2, 3, 4) and src.alpha_index == 1
    assert src.band_index("B") == 4
    values, invalid = read_all(src, ("B", "R"), size=50)
    np.testing.assert_array_equal(invalid, alpha == 0)
    np.testing.assert_array_equal(values[0, ~invalid], rgb[2, ~invalid].astype("f4"))
    np.testing.assert_array_equal(values[1, ~invalid], rgb[0, ~invalid].astype("f4"))


def test_alpha_with_nodata_and_a_mask_raster(tmp_path):
    """Alpha 0, nodata in one band read and a cloud mask (1) each make a pixel invalid."""
    rgb, alpha = _rgb(), _alpha()
    rgb[1, 50:60, 50:60] = 7
    path = write_rgba(tmp_path / "o.tif", rgb, alpha, nodata=7)
    cloud = np.zeros((SIZE, SIZE), "uint8")
    cloud[100:110, :] = 1
    with rasterio.open(tmp_path / "m.tif", "w", count=1, dtype="uint8", **PROFILE) as ds:
        ds.write(cloud, 1)
    log = Findings()
    src = raster_source(path, sensor="uav-rgb", mask=tmp_path / "m.tif", findings=log)
    _, invalid = read_all(src, ("R", "G"))
    expected = (alpha == 0) | (rgb[0] == 7) | (rgb[1] == 7) | (cloud == 1)
    np.testing.assert_array_equal(invalid, expected)
    assert invalid[55, 55] and invalid[105, 5] and not invalid[80, 80]
    message = log.of("raster_validity")[0].message
    assert "alpha band 4" in message and "nodata 7" in message and "m.tif is 1" in message


def test_read_roles_boundless_masks_alpha_and_outside(tmp_path):
    rgb, alpha = _rgb(), _alpha()
    src = raster_source(write_rgba(tmp_path / "o.tif", rgb, alpha), sensor="uav-rgb")
    got = src.read_roles(Window(120, -5, 20, 10), ["G"], boundless=True)["G"]
    assert got.shape == (10, 20)
    assert got.mask[:5].all()  # above the raster
    np.testing.assert_array_equal(got.mask[5:], alpha[:5, 120:140] == 0)
    assert got[5, 0] == rgb[1, 0, 120]


def test_band_marked_alpha_but_named_spectral_is_read_with_a_warning(tmp_path):
    """A 4-band 8-bit file written with GDAL's defaults marks band 4 alpha even if it is NIR."""
    data = np.concatenate([_rgb(), np.zeros((1, SIZE, SIZE), "uint8")])
    path = tmp_path / "bgrn.tif"
    with rasterio.open(path, "w", count=4, dtype="uint8", **PROFILE) as ds:
        ds.write(data)
    with rasterio.open(path) as ds:
        assert ds.colorinterp[3] == ColorInterp.alpha
    log = Findings()
    src = raster_source(path, bands="B,G,R,NIR", findings=log)
    assert src.roles == ("B", "G", "R", "NIR") and src.dataset_mask is DatasetMask.NONE
    values, invalid = read_all(src, ("NIR",))
    assert not invalid.any() and (values == 0).all()
    (warn,) = log.of("alpha_band_read_as_spectral")
    assert "band 4" in warn.message and "--bands R,G,B,A" in warn.message
    assert str(warn.severity) == "warning"
    assert raster_source(path, sensor="gf2").roles == ("B", "G", "R", "NIR")


def test_band_counts_and_roles(tmp_path):
    rgb = _rgb()
    plain = tmp_path / "p.tif"  # 4 bands of uint16: nothing marked alpha
    with rasterio.open(plain, "w", count=4, dtype="uint16", **PROFILE) as ds:
        ds.write(np.concatenate([rgb, rgb[:1]]).astype("uint16"))
    with pytest.raises(RasterError, match=r"has 4 band\(s\) but sensor 'uav-rgb' expects 3"):
        raster_source(plain, sensor="uav-rgb")
    with pytest.raises(RasterError, match=r"R,G,B,A with an alpha band"):
        raster_source(plain, bands="R,G,B")
    ortho = write_rgba(tmp_path / "o.tif", rgb, _alpha())
    with pytest.raises(RasterError, match="band 4 is marked alpha"):
        raster_source(ortho, bands="R,G")
    with pytest.raises(RasterError, match="expects 5"):
        raster_source(ortho, bands="R,G,B,NIR,A")
    assert parse_roles("R,G,B,a") == ("R", "G", "B", "ALPHA")
    with pytest.raises(RasterError, match="only an alpha band"):
        parse_roles("A")
    with pytest.raises(RasterError, match="twice"):
        parse_roles("R,G,B,A,ALPHA")


# --- GDAL masks ------------------------------------------------------------------------------


def test_jpeg_ycbcr_internal_mask(tmp_path):
    rgb, mask = _rgb(), _alpha()
    rgb[:] = 120  # flat colours with an edge on a JPEG block boundary: little loss
    rgb[0, :, :64] = 160
    path = write_masked(tmp_path / "jpeg.tif", rgb, mask)
    with rasterio.open(path) as ds:
        assert ds.compression.value == "JPEG" and ds.photometric.value == "YCbCr"
        assert ds.nodata is None and ds.files == [str(path)]  # the mask is inside
    log = Findings()
    src = raster_source(path, sensor="uav-rgb", findings=log)
    assert src.dataset_mask is DatasetMask.PER_DATASET and src.mask_file is None
    values, invalid = read_all(src, halo=2)
    np.testing.assert_array_equal(invalid, mask == 0)
    assert np.isnan(values[:, invalid]).all()
    assert np.abs(values[:, ~invalid] - rgb[:, ~invalid]).max() <= 8  # lossy, but close
    assert "per-dataset mask (internal)" in log.of("raster_validity")[0].message


def test_sidecar_msk_mask_is_found_by_the_reader(tmp_path):
    """A ``.msk`` next to the raster is read although the reader does not list folders."""
    rgb, mask = _rgb(), _alpha()
    path = write_masked(tmp_path / "ext.tif", rgb, mask, internal=False, jpeg=False)
    assert (tmp_path / "ext.tif.msk").exists()
    log = Findings()
    src = pickle.loads(pickle.dumps(raster_source(path, bands="R,G,B", findings=log)))
    assert src.dataset_mask is DatasetMask.PER_DATASET
    assert src.mask_file == str(tmp_path / "ext.tif.msk")
    values, invalid = read_all(src)
    np.testing.assert_array_equal(invalid, mask == 0)
    np.testing.assert_array_equal(values[:, ~invalid], rgb[:, ~invalid].astype("f4"))
    assert "ext.tif.msk is 0" in log.of("raster_validity")[0].message


def test_per_band_masks_count_only_for_the_bands_read(tmp_path):
    """GDAL per-band masks (a 3-band ``.msk`` whose flags lack per-dataset)."""
    rgb = _rgb()
    path = tmp_path / "pb.tif"
    with rasterio.open(path, "w", count=3, dtype="uint8", **PROFILE) as ds:
        ds.write(rgb)
    masks = np.full((3, SIZE, SIZE), 255, "uint8")
    masks[0, :30] = 0
    masks[2, :, :40] = 0
    with rasterio.open(f"{path}.msk", "w", count=3, dtype="uint8", **PROFILE) as ds:
        ds.write(masks)
        ds.update_tags(**{f"INTERNAL_MASK_FLAGS_{i}": "0" for i in (1, 2, 3)})
    log = Findings()
    src = raster_source(path, sensor="uav-rgb", findings=log)
    assert src.dataset_mask is DatasetMask.PER_BAND and src.mask_file == f"{path}.msk"
    np.testing.assert_array_equal(read_all(src, ("R", "G"))[1], masks[0] == 0)
    np.testing.assert_array_equal(read_all(src, ("G", "B"))[1], masks[2] == 0)
    assert "GDAL mask of any band read" in log.of("raster_validity")[0].message


def test_nodata_without_mask_and_plain_file(tmp_path):
    data = np.full((4, SIZE, SIZE), 500, "uint16")
    data[2, 10:20, 30:40] = 0
    nd = tmp_path / "nd.tif"
    with rasterio.open(nd, "w", count=4, dtype="uint16", nodata=0, **PROFILE) as ds:
        ds.write(data)
    log = Findings()
    src = raster_source(nd, sensor="gf2", findings=log)
    assert src.dataset_mask is DatasetMask.NONE and src.mask_file is None
    _, invalid = read_all(src, ("B", "R"))
    np.testing.assert_array_equal(invalid, data[2] == 0)
    _, invalid = read_all(src, ("B", "NIR"))  # nodata counts only in the bands read
    assert not invalid.any()
    assert log.of("raster_validity")[0].message.endswith("equals nodata 0, or NaN")
    plain = tmp_path / "plain.tif"
    with rasterio.open(plain, "w", count=3, dtype="uint8", **PROFILE) as ds:
        ds.write(np.zeros((3, SIZE, SIZE), "uint8"))
    log = Findings()
    src = raster_source(plain, sensor="uav-rgb", findings=log)
    assert src.dataset_mask is DatasetMask.NONE
    assert not read_all(src)[1].any()
    assert "every pixel is read as valid" in log.of("raster_validity")[0].message


# --- discolored crowns on an RGBA orthomosaic ---------------------------------------------------

CROWNS = [(40, 40, 6), (160, 40, 7)]  # in the flown area
JUNK = [(40, 160, 6), (100, 170, 6), (160, 150, 5)]  # crown-like blobs outside it


def _uav_scene(tmp_path, *, alpha=True):
    """R,G,B canopy with dead crowns; right of column 130 outside the flight (alpha 0)."""
    rng = np.random.default_rng(0)
    img = np.array(HEALTHY, "f4")[:, None, None] * (1 + 0.04 * rng.standard_normal((3, SIZE, SIZE)))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for r, c, rad in CROWNS + JUNK:
        img[:, np.hypot(yy - r, xx - c) <= rad] = np.array(DEAD, "f4")[:, None]
    rgb = np.clip(img, 1, 254).astype("uint8")
    mask = np.full((SIZE, SIZE), 255, "uint8")
    mask[:, 130:] = 0
    rgb[:, :15, 130:] = 0  # black and white fill at the edge of the mosaic
    rgb[:, 185:, 130:] = 255
    if alpha:
        return write_rgba(tmp_path / "uav_rgba.tif", rgb, mask)
    with rasterio.open(tmp_path / "uav_rgb.tif", "w", count=3, dtype="uint8", **PROFILE) as ds:
        ds.write(rgb)
    return tmp_path / "uav_rgb.tif"


def _stands():
    return gpd.GeoDataFrame({"stand_id": ["S1"], "dominant_species": ["红松"]},
                            geometry=[shapely.box(500_000, 4_850_000, 500_100, 4_850_100)],
                            crs=4551)  # fmt: skip


def _cols(points):
    return sorted(np.round((points.geometry.x - 500_000) / RES - 0.5).astype(int))


def test_detect_finds_no_crowns_outside_the_flown_area(tmp_path):
    control = detect_discolored(raster_source(_uav_scene(tmp_path, alpha=False),
                                              sensor="uav-rgb"), _stands())  # fmt: skip
    assert _cols(control.points) == [40, 40, 150, 160, 170]  # the blobs look like crowns
    src = raster_source(_uav_scene(tmp_path), sensor="uav-rgb")
    res = detect_discolored(src, _stands(), window_size=64)
    assert _cols(res.points) == [40, 40]
    assert res.stand_summary.iloc[0]["canopy_px"] <= 130 * SIZE


def test_cli_detect_on_rgba_orthomosaic(tmp_path):
    img = _uav_scene(tmp_path)
    _stands().rename(columns={"stand_id": "标识码", "dominant_species": "优势树种"}).to_file(
        tmp_path / "stands.gpkg"
    )
    out = tmp_path / "r.gpkg"
    res = CliRunner().invoke(cli, ["detect", "discolored", str(img), "--stands",
                                   str(tmp_path / "stands.gpkg"), "--sensor", "uav-rgb",
                                   "--out", str(out), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["counts"]["new_points"] == len(CROWNS)
    assert _cols(pyogrio.read_dataframe(out, layer="discolored_points")) == [40, 40]
    findings = pyogrio.read_dataframe(out, layer="findings", read_geometry=False)
    validity = findings.set_index("code").loc["raster_validity"]
    assert "alpha band 4 is 0" in validity["message_en"]  # results are written in Chinese
    assert "alpha 波段 4 为 0" in validity["message"]


def test_real_orthophoto_as_rgba(shared_data, tmp_path):
    """OSBS_029 (real 10 cm RGB) cut to a flown area: a red-brown crown outside it is not found.

    The annotated crown (OSBS_029.csv: x 166-225, y 253-304 px) is turned red-brown as in
    test_discolored's smoke test, then the image is exported as RGBA with the flown-area edge
    first to the right of the crown, black fill from column 300 (found once), then to its left
    with the pixels under alpha 0 kept (not found: read without its alpha, the image shows the
    crown).
    """
    path = shared_data / "deepforest_neon_crowns" / "OSBS_029.tif"
    with rasterio.open(path) as ds:
        img, profile = ds.read().astype("f4"), ds.profile
    h, w = img.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w]
    disc = ((yy - 278.5) / 25.5) ** 2 + ((xx - 195.5) / 29.5) ** 2 < 1
    img[0, disc] *= 1.8
    img[1, disc] *= 0.85
    rgb = np.clip(img, 0, 254).astype("uint8")  # 255 is the file's nodata
    profile.update(count=4, photometric="RGB", alpha="YES", nodata=None)
    found = []
    for edge, fill in ((260, 300), (150, w)):  # flown area: columns left of the edge
        alpha = np.where(xx < edge, 255, 0).astype("uint8")
        out = tmp_path / f"ortho_{edge}.tif"
        with rasterio.open(out, "w", **profile) as ds:
            ds.write(np.concatenate([np.where(xx < fill, rgb, 0), alpha[None]]))
        src = raster_source(out, sensor="uav-rgb")
        assert src.alpha_index == 4
        b = rasterio.transform.array_bounds(src.height, src.width, src.transform)
        stands = gpd.GeoDataFrame({"stand_id": ["OSBS"], "dominant_species": ["红松"]},
                                  geometry=[shapely.box(*b)], crs=src.crs_wkt)  # fmt: skip
        res = detect_discolored(src, stands)
        x_edge = rasterio.transform.xy(src.transform, 0, edge, offset="ul")[0]
        assert (res.points.geometry.x < x_edge).all()
        assert res.stand_summary.iloc[0]["canopy_px"] <= edge * h
        found.append(res.points)
    x, y = rasterio.transform.xy(src.transform, 278.5, 195.5)
    assert (found[0].distance(shapely.Point(x, y)) < 1.5).sum() == 1
    assert (found[1].distance(shapely.Point(x, y)) > 3).all()


def test_patch_change_stats_leave_out_alpha_and_masked_pixels(tmp_path):
    """Image pairs (#3): alpha 0 on the after date and a GDAL mask on the before date."""
    from gis.zonal import change_stats

    t10 = from_origin(500_000, 4_850_100, 10, 10)
    grid = {"driver": "GTiff", "width": 10, "height": 10, "crs": "EPSG:4551", "transform": t10}
    red, nir = np.full((10, 10), 1000, "uint16"), np.full((10, 10), 3000, "uint16")
    fill = np.full_like(red, 600)
    before_mask = np.full((10, 10), 255, "uint8")
    before_mask[:, 0] = 0  # first column masked (a .msk-less internal mask)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(tmp_path / "b.tif", "w", count=4, dtype="uint16", **grid) as ds:
            ds.write(np.stack([fill, fill, red, nir]))
            ds.write_mask(before_mask)
    alpha = np.full((10, 10), 65535, "uint16")
    alpha[:2] = 0  # two top rows outside the after flight
    red_a, nir_a = red.copy(), nir.copy()
    red_a[:, 5:], nir_a[:, 5:] = 3000, 1000  # the right half drops
    with rasterio.open(tmp_path / "a.tif", "w", count=5, dtype="uint16", **grid) as ds:
        ds.write(np.stack([fill, fill, red_a, nir_a, alpha]))
    log = Findings()
    before = raster_source(tmp_path / "b.tif", bands="B,G,R,NIR", findings=log)
    after = raster_source(tmp_path / "a.tif", bands="B,G,R,NIR,A", findings=log)
    assert before.dataset_mask is DatasetMask.PER_DATASET and after.alpha_index == 5
    zones = gpd.GeoDataFrame({"patch_id": ["P0"]}, geometry=[shapely.box(500_000, 4_850_000,
                             500_100, 4_850_100)], crs=4551)  # fmt: skip
    out = change_stats(zones, before, after, ring_m=0, tolerance_px=0).iloc[0]
    assert out["valid_frac_before"] == 0.9 and out["valid_frac_after"] == 0.8
    assert out["drop_frac"] == 40 / 72  # both valid: rows 2-9 × cols 1-9; 8 × 5 dropped
    assert len(log.of("raster_validity")) == 2


@pytest.mark.parametrize("tiled", [True, False])
def test_require_usable_finds_the_one_usable_pixel_or_refuses(tmp_path, tiled):
    """All nodata: exit-3 error; one valid pixel in the last block (or strip) is enough."""
    data = np.zeros((1, 600, 600), dtype="uint16")
    layout = {"tiled": True, "blockxsize": 256, "blockysize": 256} if tiled else {}
    profile = {"driver": "GTiff", "width": 600, "height": 600, "count": 1, "dtype": "uint16"}
    profile |= {"nodata": 0, "crs": "EPSG:4551", "transform": from_origin(0, 600, 1, 1), **layout}
    empty, one = tmp_path / "empty.tif", tmp_path / "one.tif"
    with rasterio.open(empty, "w", **profile) as ds:
        ds.write(data)
    data[0, 599, 599] = 5
    with rasterio.open(one, "w", **profile) as ds:
        ds.write(data)
    with pytest.raises(RasterError, match="no usable pixel"):
        require_usable(raster_source(empty, bands="NIR"), role="after image")
    require_usable(raster_source(one, bands="NIR"), role="after image")
