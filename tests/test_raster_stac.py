"""STAC Items as delivered (issue 15): an Item JSON beside GeoTIFF assets written with GDAL,
read through the same product and stacking code as .SAFE and Landsat products.

STAC 1.0 (``eo:bands`` / ``raster:bands``) and STAC 1.1 (one ``bands`` array, ``eo:common_name``,
``raster:scale``) Items, assets keyed by common name, several bands in one asset, a 20 m band
and SCL mask on a 10 m grid. Remote assets are only resolved to ``/vsicurl/`` paths here (no
network in the tests).
"""

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from rasterio.windows import Window
from test_raster_products import DNDVI_NIR_010, run_check

from gis.errors import DataSourceError, RasterError
from gis.findings import Findings
from gis.raster import Sensor, raster_source
from gis.raster.stac import gdal_href, read_item

UTM51 = "EPSG:32651"
X0, Y0 = 600_000.0, 4_860_000.0
N10 = 40  # 10 m pixels per side
REFL = {"blue": 0.04, "green": 0.07, "red": 0.05, "nir": 0.30, "swir16": 0.18, "swir22": 0.09}
"""Surface reflectance of each common band in the fixture (DN = refl * 1e4 + 1000)."""
KEYS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "swir16": "B11",
        "swir22": "B12"}  # fmt: skip


def _tif(path, data, res, nodata=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = data if data.ndim == 3 else data[None]
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1],
        count=data.shape[0], dtype=data.dtype, crs=UTM51,
        transform=from_origin(X0, Y0, res, res), nodata=nodata,
    ) as ds:  # fmt: skip
        ds.write(data)


def _dn(refl):
    return round(refl * 10000) + 1000


def make_item(root, *, nir=None, cloud=(), datetime="2023-06-01T02:55:39Z", extra=None):
    """Write a STAC 1.0 Sentinel-2 L2A Item: assets B02…B12 (swir at 20 m), scl, visual."""
    assets = {}
    for common, refl in REFL.items():
        refl = nir if common == "nir" and nir is not None else refl
        res = 20 if common.startswith("swir") else 10
        n = N10 * 10 // res
        _tif(root / "bands" / f"{KEYS[common]}.tif", np.full((n, n), _dn(refl), "uint16"), res)
        assets[KEYS[common]] = {
            "href": f"./bands/{KEYS[common]}.tif",
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data", "reflectance"],
            "eo:bands": [{"name": KEYS[common], "common_name": common}],
            "raster:bands": [
                {
                    "nodata": 0,
                    "data_type": "uint16",
                    "scale": 0.0001,
                    "offset": -0.1,
                    "spatial_resolution": res,
                }
            ],
        }
    scl = np.full((N10 // 2, N10 // 2), 4, "uint8")
    for r, c in cloud:
        scl[r, c] = 9
    _tif(root / "bands" / "SCL.tif", scl, 20)
    assets["scl"] = {"href": "bands/SCL.tif", "roles": ["data"]}
    visual = np.full((3, N10, N10), 200, "uint8")  # an 8-bit composite: never a band source
    _tif(root / "bands" / "TCI.tif", visual, 10)
    assets["visual"] = {
        "href": "bands/TCI.tif",
        "eo:bands": [
            {"name": n, "common_name": c}
            for n, c in (("B04", "red"), ("B03", "green"), ("B02", "blue"))
        ],
    }
    assets["thumbnail"] = {"href": "https://example.com/thumb.png", "roles": ["thumbnail"]}
    assets.update(extra or {})
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
        ],
        "id": "S2B_51TXM_20230601_0_L2A",
        "geometry": None,
        "properties": {"datetime": datetime, "platform": "sentinel-2b"},
        "links": [],
        "assets": assets,
    }
    path = root / "item.json"
    path.write_text(json.dumps(item), encoding="utf-8")
    return path


def test_stac_1_0_item_reads_like_a_product(tmp_path):
    log = Findings()
    src = raster_source(make_item(tmp_path, cloud=[(0, 0)]), findings=log)
    assert src.roles == ("B", "G", "R", "NIR", "SWIR1", "SWIR2")
    assert (src.scale, src.offset) == (pytest.approx(1e-4), pytest.approx(-0.1))
    assert src.acquired == "2023-06-01" and src.sensor is Sensor.SENTINEL2_L2A
    assert (src.width, src.height) == (N10, N10) and src.transform.a == 10  # the 10 m grid
    assert "TCI.tif" not in src.dataset  # the single-band assets win over the 8-bit composite
    values = src.read_roles(Window(0, 0, N10, N10), ["R", "NIR", "SWIR1"])
    for role, common in (("R", "red"), ("NIR", "nir"), ("SWIR1", "swir16")):
        assert float(values[role][10, 10]) == pytest.approx(REFL[common], abs=1e-6)
    assert values["R"].mask[:2, :2].all() and not values["R"].mask[2:, 2:].any()  # SCL 9
    note = next(f for f in log if f.code == "stac_item")
    assert "R=B04" in note.message and "mask SCL" in note.message and "bilinear" in note.message


def test_stac_1_1_bands_array_in_one_multiband_asset(tmp_path):
    data = np.stack([np.full((N10, N10), _dn(REFL[c]), "uint16") for c in
                     ("red", "green", "blue", "nir")])  # fmt: skip
    _tif(tmp_path / "ms.tif", data, 10)
    item = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": "gf2-like",
        "properties": {"datetime": None, "start_datetime": "2024-09-03T00:00:00Z"},
        "assets": {
            "ms": {
                "href": "ms.tif",
                "bands": [
                    {
                        "name": f"b{i}",
                        "eo:common_name": c,
                        "raster:scale": 1e-4,
                        "raster:offset": -0.1,
                        "nodata": 0,
                    }
                    for i, c in enumerate(("red", "green", "blue", "nir"), 1)
                ],
            }
        },
    }
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item), encoding="utf-8")
    src = raster_source(path)
    assert src.roles == ("B", "G", "R", "NIR") and src.acquired == "2024-09-03"
    values = src.read_roles(Window(0, 0, 4, 4), ["B", "R", "NIR"])
    for role, common in (("B", "blue"), ("R", "red"), ("NIR", "nir")):
        assert float(values[role][1, 1]) == pytest.approx(REFL[common], abs=1e-6)
    assert src.sensor is Sensor.GENERIC and src.nodata == 0


def test_assets_keyed_by_common_name_without_eo(tmp_path):
    for common in ("red", "nir08"):
        _tif(tmp_path / f"{common}.tif", np.full((8, 8), 500, "uint16"), 10)
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "x", "properties": {},
            "assets": {"red": {"href": "red.tif"}, "nir08": {"href": "nir08.tif"}}}  # fmt: skip
    (tmp_path / "item.json").write_text(json.dumps(item), encoding="utf-8")
    src = raster_source(tmp_path / "item.json")
    assert src.roles == ("R", "NIR") and (src.scale, src.offset) == (1.0, 0.0)
    assert src.acquired is None


def test_remote_assets_are_read_through_vsicurl(tmp_path):
    href = "https://data.example.com/s2/51TXM/B04.tif"
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "r", "properties": {},
            "assets": {"B04": {"href": href, "eo:bands": [{"common_name": "red"}]}}}  # fmt: skip
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item), encoding="utf-8")
    # no network in the tests: the href is resolved, never fetched
    assert read_item(str(path)).bands["R"].path == f"/vsicurl/{href}"
    assert gdal_href("/vsis3/bucket/B04.tif", str(path)) == "/vsis3/bucket/B04.tif"
    with pytest.raises(DataSourceError, match="download the asset"):
        gdal_href("s3://bucket/B04.tif", str(path))
    with pytest.raises(DataSourceError, match="download it first"):
        raster_source("https://data.example.com/s2/51TXM/item.json")


def test_items_lacking_bands_or_with_mixed_scales_stop(tmp_path):
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "t", "properties": {},
            "assets": {"thumbnail": {"href": "t.png"}}}  # fmt: skip
    (tmp_path / "item.json").write_text(json.dumps(item), encoding="utf-8")
    with pytest.raises(DataSourceError, match="common band name"):
        raster_source(tmp_path / "item.json")
    odd = {"B99": {"href": "./bands/B04.tif", "eo:bands": [{"common_name": "rededge"}],
                   "raster:bands": [{"scale": 0.001}]}}  # fmt: skip
    with pytest.raises(RasterError, match="different scales"):
        raster_source(make_item(tmp_path / "m", extra=odd))


def test_cli_check_patches_with_stac_items_for_both_dates(tmp_path):
    before = make_item(tmp_path / "b", datetime="2023-06-01T02:55:39Z")
    after = make_item(tmp_path / "a", nir=0.10, datetime="2024-06-05T02:55:39Z")
    zone = shapely.box(X0 + 100, Y0 - 300, X0 + 300, Y0 - 100)
    patches = tmp_path / "patches.gpkg"
    gpd.GeoDataFrame({"patch_id": ["1"]}, geometry=[zone], crs=UTM51).to_file(patches)
    checked, run, codes = run_check(tmp_path, patches, before, after)
    assert checked["dndvi"].iloc[0] == pytest.approx(DNDVI_NIR_010, abs=1e-3)
    assert "STAC Item" in run["rasters", "after"]
    assert run["image_dates", ""] == '["2023-06-01", "2024-06-05"]'
    assert {"stac_item", "image_dates_from_metadata"} <= codes
