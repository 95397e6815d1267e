"""Quicklook images under field maps: warped to Web Mercator, stretched, bounded in size.

The browser test (offline, drawn in place) is in test_maps_browser.py (one Chromium per session).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner
from PIL import Image
from pyproj import Transformer

from gis.cli.main import cli
from gis.errors import RasterError
from gis.io import write_geotiff
from gis.maps.quicklook import encode, mercator_grid, quicklook
from gis.raster import raster_source

X0, Y0, PIXEL = 500_000.0, 4_850_000.0, 2.0
ROWS, COLS = 300, 400


def write_raster(path: Path, *, nodata_corner: bool = True, noise: bool = False) -> Path:
    """4 bands B,G,R,NIR (uint16); red rises left to right, NIR top to bottom."""
    rng = np.random.default_rng(5)
    rows, cols = np.mgrid[0:ROWS, 0:COLS]
    data = np.stack(
        [
            np.full((ROWS, COLS), 500),
            np.full((ROWS, COLS), 800),
            100 + cols * 10,
            100 + rows * 10,
        ]
    ).astype(np.uint16)
    if noise:
        data = rng.integers(1, 10_000, size=data.shape, dtype=np.uint16)
    if nodata_corner:
        data[:, :50, :50] = 0
    transform = Affine(PIXEL, 0, X0, 0, -PIXEL, Y0)
    write_geotiff(path, data, transform=transform, crs="EPSG:4551", nodata=0)
    return path


def decode(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def footprint_lonlat() -> np.ndarray:
    """Lon/lat of points along the raster's edges."""
    t = np.linspace(0, 1, 50)
    xs = np.concatenate([X0 + t * COLS * PIXEL, X0 + t * COLS * PIXEL, np.full(50, X0)])
    ys = np.concatenate([np.full(50, Y0), np.full(50, Y0 - ROWS * PIXEL), Y0 - t * ROWS * PIXEL])
    lon, lat = Transformer.from_crs(4551, 4326, always_xy=True).transform(xs, ys)
    return np.column_stack([lon, lat])


def test_true_and_false_colour_with_nodata_mask(tmp_path: Path) -> None:
    src = raster_source(write_raster(tmp_path / "img.tif"), bands="B,G,R,NIR")
    look = quicklook(src)
    assert look.image.startswith("data:image/jpeg;base64,")
    assert look.mask is not None and look.mask.startswith("data:image/png;base64,")
    rgb = np.asarray(decode(look.image).convert("RGB"), dtype=int)
    alpha = np.asarray(decode(look.mask).convert("RGBA"))[..., 3]
    assert rgb.shape[:2] == alpha.shape == (look.height, look.width)
    assert alpha[5, 5] == 0 and alpha[look.height // 2, look.width // 2] == 255  # nodata corner
    mid = look.height // 2
    red = rgb[mid, :, 0]
    assert red[look.width // 8] < 40 and red[-look.width // 8] > 215  # stretched 2-98 %
    false = np.asarray(decode(quicklook(src, roles=("NIR", "R", "G")).image), dtype=int)
    col = look.width // 2
    assert false[look.height // 8, col, 0] < 40 and false[-look.height // 8, col, 0] > 215
    lon, lat = footprint_lonlat().T
    west, south, east, north = look.bounds
    assert west <= lon.min() and east >= lon.max() and south <= lat.min() and north >= lat.max()
    deg = PIXEL / 80_000  # under one pixel of slack at 44° N
    assert lon.min() - west < deg and east - lon.max() < deg and lat.min() - south < deg


def test_no_nodata_means_plain_jpeg_and_the_size_bounds_hold(tmp_path: Path) -> None:
    src = raster_source(write_raster(tmp_path / "full.tif", nodata_corner=False), bands="B,G,R,NIR")
    transform, _, _ = mercator_grid(src, 10_000)
    lat = np.radians(43.8)
    assert abs(transform.a * np.cos(lat) - PIXEL) < 0.05 * PIXEL  # native ground resolution
    image, mask, width, height = encode(np.zeros((20, 30, 3), np.uint8), np.ones((20, 30), bool))
    assert mask is None and image.startswith("data:image/jpeg") and (width, height) == (30, 20)
    small = quicklook(src, max_side=128)
    assert max(small.width, small.height) <= 128
    noisy = raster_source(write_raster(tmp_path / "noise.tif", noise=True), bands="B,G,R,NIR")
    tight = quicklook(noisy, max_bytes=60_000)
    assert tight.size_bytes <= 60_000
    assert max(tight.width, tight.height) < max(COLS, ROWS)  # downscaled to fit


def test_missing_role_or_wrong_count_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    src = raster_source(write_raster(tmp_path / "img.tif"), bands="B,G,R,NIR")
    with pytest.raises(RasterError, match="SWIR1"):
        quicklook(src, roles=("SWIR1", "R", "G"))
    with pytest.raises(RasterError, match="--quicklook-bands"):
        quicklook(src, roles=("R", "G"))


def test_cli_map_with_quicklook(tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    layer = tmp_path / "patches.gpkg"
    gpd.GeoDataFrame(
        {"patch_id": ["P1"], "legality": ["suspected_illegal"]},
        geometry=[shapely.box(X0 + 100, Y0 - 300, X0 + 200, Y0 - 200)],
        crs="EPSG:4551",
    ).to_file(layer, layer="patches_checked")
    raster = write_raster(tmp_path / "img.tif")
    out = tmp_path / "map.html"
    args = ["map", str(layer), "--out", str(out), "--quicklook", str(raster)]
    result = CliRunner().invoke(
        cli, [*args, "--bands", "B,G,R,NIR", "--quicklook-bands", "NIR,R,G"]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert html.count("data:image/jpeg;base64,") == 1 and "影像 img.tif" in html
    bad = CliRunner().invoke(cli, [*args, "--overwrite"])
    assert bad.exit_code != 0 and "--bands" in str(bad.output) + str(bad.exception)


def test_rgba_orthomosaic_shows_its_transparent_area_as_transparent(tmp_path: Path) -> None:
    """A UAV RGBA mosaic (alpha 0 outside the flight, RGB 0 there): masked, not black."""
    import rasterio

    rows, cols = np.mgrid[0:ROWS, 0:COLS]
    rgb = np.stack([60 + cols % 120, 90 + rows % 100, np.full((ROWS, COLS), 70)]).astype("uint8")
    alpha = np.where(cols < COLS // 2, 255, 0).astype("uint8")
    rgb[:, alpha == 0] = 0
    profile = {"driver": "GTiff", "width": COLS, "height": ROWS, "count": 4, "dtype": "uint8",
               "crs": "EPSG:4551", "transform": Affine(PIXEL, 0, X0, 0, -PIXEL, Y0),
               "photometric": "RGB", "alpha": "YES"}  # fmt: skip
    path = tmp_path / "rgba.tif"
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.concatenate([rgb, alpha[None]]))
    look = quicklook(raster_source(path, sensor="uav-rgb"))
    assert look.mask is not None
    shown = np.asarray(decode(look.mask).convert("RGBA"))[..., 3]
    mid = look.height // 2
    assert shown[mid, look.width // 4] == 255 and shown[mid, 3 * look.width // 4] == 0
