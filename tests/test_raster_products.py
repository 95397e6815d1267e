"""Products as delivered: Sentinel-2 .SAFE (folder, zip; L2A both baselines, L1C) and Landsat
(Collection 2 L2 folder and tar, pre-Collection L1T clip), built here with GDAL itself."""

import shutil
import tarfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from rasterio.transform import from_origin
from rasterio.windows import Window

from gis.cli.main import cli
from gis.demo.delivered import mtd_xml, write_jp2
from gis.errors import DataSourceError, RasterError
from gis.findings import Findings
from gis.raster import Sensor, raster_source
from gis.raster.landsat import parse_mtl
from gis.raster.products import describe_rasters
from gis.zonal import change_stats

UTM51 = "EPSG:32651"
X0, Y0 = 600_000.0, 4_860_000.0
N10 = 64  # 10 m pixels per side
TILE, STAMP = "T51TXM", "20230601T025539"
REFL = {"B02": 0.04, "B03": 0.07, "B04": 0.05, "B05": 0.12, "B08": 0.30, "B11": 0.18,
        "B12": 0.09}  # fmt: skip
"""Surface reflectance of each band in the fixture."""

LANDSAT_DATA = Path(__file__).resolve().parents[2] / "shared/data/landsat8_sat_testdata"
if not LANDSAT_DATA.is_dir():
    LANDSAT_DATA = Path("/work/shared/data/landsat8_sat_testdata")


def _jp2(path, data, res):
    write_jp2(path, data, crs=UTM51, transform=from_origin(X0, Y0, res, res))


def make_safe(root, *, baseline="05.09", level="L2A", cloud=(), drop=(), nir=None):
    """Write a .SAFE folder; ``cloud``: 20 m SCL pixels (row, col) of class 9."""
    offset = 1000 if float(baseline) >= 4 else 0
    safe = root / f"S2B_MSI{level}_{STAMP}_N{baseline.replace('.', '')}_R032_{TILE}_X.SAFE"
    granule = f"GRANULE/{level}_{TILE}_A032505_{STAMP}/IMG_DATA"
    files = []
    for band, refl in REFL.items():
        res = 10 if band in ("B02", "B03", "B04", "B08") else 20
        if band == "B08" and nir is not None:
            refl = nir
        n = N10 * 10 // res
        value = np.full((n, n), round(refl * 10000) + offset, "uint16")
        rel = (f"{granule}/R{res}m/{TILE}_{STAMP}_{band}_{res}m" if level == "L2A"
               else f"{granule}/{TILE}_{STAMP}_{band}")  # fmt: skip
        if band not in drop:
            _jp2(safe / f"{rel}.jp2", value, res)
        files.append(rel)
    if level == "L2A":
        scl = np.full((N10 // 2, N10 // 2), 4, "uint16")
        for r, c in cloud:
            scl[r, c] = 9
        rel = f"{granule}/R20m/{TILE}_{STAMP}_SCL_20m"
        _jp2(safe / f"{rel}.jp2", scl, 20)
        files.append(rel)
    xml = mtd_xml(safe.name, files, sensing="2023-06-01", baseline=baseline, level=level)
    (safe / f"MTD_MSI{level}.xml").write_text(xml)
    return safe


def zip_safe(safe):
    out = safe.with_suffix(".zip")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for f in sorted(safe.rglob("*")):
            z.write(f, f.relative_to(safe.parent).as_posix())
    shutil.rmtree(safe)
    return out


def test_jp2_driver_is_there():
    assert rasterio.drivers.raster_driver_extensions().get("jp2") == "JP2OpenJPEG"


@pytest.mark.parametrize("baseline", ["05.09", "02.14"])
@pytest.mark.parametrize("zipped", [False, True])
def test_s2_l2a_safe_reads_reflectance_scl_and_date(tmp_path, baseline, zipped):
    safe = make_safe(tmp_path, baseline=baseline, cloud=[(3, 4)])
    path = zip_safe(safe) if zipped else safe
    log = Findings()
    src = raster_source(path, findings=log)
    assert src.sensor is Sensor.SENTINEL2_L2A and src.acquired == "2023-06-01"
    assert src.roles == ("B", "G", "R", "RE", "NIR", "SWIR1", "SWIR2")
    assert src.offset == pytest.approx(-0.1 if baseline == "05.09" else 0.0)
    assert (src.width, src.height, src.transform.a) == (N10, N10, 10.0)
    values = src.read_roles(Window(0, 0, 16, 16), ["R", "NIR", "SWIR2"])
    assert float(values["R"][0, 0]) == pytest.approx(0.05, abs=1e-6)
    assert float(values["NIR"][0, 0]) == pytest.approx(0.30, abs=1e-6)
    assert float(values["SWIR2"][5, 5]) == pytest.approx(0.09, abs=1e-6)  # 20 m → 10 m
    mask = values["R"].mask  # SCL 9 at 20 m (3, 4) = 10 m rows 6-7, cols 8-9
    assert mask[6:8, 8:10].all() and mask.sum() == 4
    note = next(f for f in log if f.code == "s2_product")
    assert "bilinear" in note.message and "2023-06-01" in note.message
    assert str(path) == src.path  # messages name the product, not the VRT


def test_s2_as_users_pass_it_on(tmp_path):
    """A re-zipped download (the .SAFE in a folder inside), or a folder holding one product."""
    reference = raster_source(make_safe(tmp_path / "ref"))
    window = Window(0, 0, 16, 16)
    expected = reference.read_roles(window, ["NIR"])["NIR"]
    folder = tmp_path / "下载 目录"
    make_safe(folder)
    nested = tmp_path / "后期 影像.zip"
    with zipfile.ZipFile(nested, "w") as z:
        for f in sorted(folder.rglob("*")):
            z.write(f, f.relative_to(tmp_path).as_posix())
    for given in (nested, folder):
        src = raster_source(given)
        assert src.sensor is Sensor.SENTINEL2_L2A and src.acquired == "2023-06-01"
        assert np.array_equal(src.read_roles(window, ["NIR"])["NIR"], expected)
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as z:
        for copy in ("a", "b"):
            for f in sorted(folder.rglob("*")):
                z.write(f, f"{copy}/{f.relative_to(folder).as_posix()}")
    with pytest.raises(DataSourceError, match="holds 2 Sentinel-2 products"):
        raster_source(two)


def test_s2_l1c_uses_toa_with_a_finding(tmp_path):
    safe = make_safe(tmp_path, baseline="04.00", level="L1C")
    log = Findings()
    src = raster_source(safe, findings=log)
    assert src.sensor is Sensor.SENTINEL2_L1C and src.mask_path is None
    assert "s2_top_of_atmosphere" in {f.code for f in log}
    r = src.read_roles(Window(0, 0, 4, 4), ["R"])["R"]
    assert float(r[0, 0]) == pytest.approx(0.05, abs=1e-6)  # RADIO_ADD_OFFSET -1000 (04.00)
    assert src.offset == pytest.approx(-0.1)


def test_two_s2_products_checked_as_before_and_after(tmp_path):
    before = zip_safe(make_safe(tmp_path / "b", baseline="02.14"))
    after = make_safe(tmp_path / "a", baseline="05.09", nir=0.08)
    b, a = raster_source(before), raster_source(after)
    zone = shapely.box(X0 + 100, Y0 - 300, X0 + 300, Y0 - 100)
    patches = gpd.GeoDataFrame({"patch_id": ["1"]}, geometry=[zone], crs=UTM51)
    stats = change_stats(patches, b, a, ring_m=0)
    expected = (0.08 - 0.05) / 0.13 - (0.30 - 0.05) / 0.35
    assert stats["dndvi"].iloc[0] == pytest.approx(expected, abs=1e-5)
    assert stats["dnbr"].notna().all()  # SWIR2 from the 20 m band
    section = describe_rasters(b, a)
    assert section["before"]["read_as"].startswith("Sentinel-2 L2A .SAFE (baseline 02.14)")
    assert section["resampling"] == {"before": "none (read as it is)",
                                     "after": "none (read as it is)"}  # fmt: skip


def test_s2_missing_band_and_corrupt_jp2_name_the_file(tmp_path):
    safe = make_safe(tmp_path / "m", drop=("B11",))
    with pytest.raises(DataSourceError, match=r"lacks the band file .*B11_20m\.jp2"):
        raster_source(safe)
    bad = make_safe(tmp_path / "c")
    jp2 = next(bad.rglob("*_B04_10m.jp2"))
    jp2.write_bytes(jp2.read_bytes()[:200])  # a truncated copy
    with pytest.raises(DataSourceError, match=r"B04_10m\.jp2"):
        src = raster_source(bad)
        src.read_roles(Window(0, 0, 8, 8), ["R"])


MTL_C2 = """GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    LANDSAT_PRODUCT_ID = "{pid}"
    PROCESSING_LEVEL = "L2SP"
    COLLECTION_NUMBER = 02
{files}  END_GROUP = PRODUCT_CONTENTS
  GROUP = IMAGE_ATTRIBUTES
    SPACECRAFT_ID = "{spacecraft}"
    DATE_ACQUIRED = 2023-06-03
    SCENE_CENTER_TIME = "02:31:07.1234560Z"
    SUN_ELEVATION = 63.51
  END_GROUP = IMAGE_ATTRIBUTES
  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
{l2}  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
  GROUP = LEVEL1_RADIOMETRIC_RESCALING
{l1}  END_GROUP = LEVEL1_RADIOMETRIC_RESCALING
END_GROUP = LANDSAT_METADATA_FILE
END
"""


OLI_C2 = ("LC09_L2SP_118029_20230603_20230605_02_T1", "LANDSAT_9")
ETM_C2 = ("LE07_L2SP_118029_20120603_20200908_02_T1", "LANDSAT_7")


def make_landsat(root, *, qa_cloud=(), with_mtl=True, nir=0.30, sat=OLI_C2, refl=None, gap=None):
    """A Collection 2 Level-2 folder: SR_B2-SR_B7, QA_PIXEL (cloud bit 3 at ``qa_cloud``).

    ``sat``: (product id, SPACECRAFT_ID); ``refl``: reflectance of each band file (default
    OLI 2-7); ``gap``: a column of fill (DN 0, QA_PIXEL bit 0) as Landsat 7's SLC-off gaps.
    """
    pid, spacecraft = sat
    folder = root / pid
    folder.mkdir(parents=True)
    prof = {"driver": "GTiff", "width": 40, "height": 40, "count": 1, "dtype": "uint16",
            "crs": UTM51, "transform": from_origin(X0, Y0, 30, 30), "nodata": 0}  # fmt: skip
    refl = refl or {2: 0.04, 3: 0.07, 4: 0.05, 5: nir, 6: 0.18, 7: 0.09}
    names = []
    for band, r in refl.items():
        name = f"{pid}_SR_B{band}.TIF"
        dn = np.full((40, 40), round((r + 0.2) / 2.75e-5), "uint16")
        if gap is not None:
            dn[:, gap] = 0
        with rasterio.open(folder / name, "w", **prof) as dst:
            dst.write(dn, 1)
        names.append(f'    FILE_NAME_BAND_{band} = "{name}"\n')
    qa = np.full((40, 40), 21824, "uint16")  # clear, low confidence bits
    for rc in qa_cloud:
        qa[rc] = 21824 | 8
    if gap is not None:
        qa[:, gap] = 1
    with rasterio.open(folder / f"{pid}_QA_PIXEL.TIF", "w", **{**prof, "nodata": None}) as dst:
        dst.write(qa, 1)
    names.append(f'    FILE_NAME_QUALITY_L1_PIXEL = "{pid}_QA_PIXEL.TIF"\n')
    l2 = "".join(f"    REFLECTANCE_MULT_BAND_{b} = 2.75e-05\n    REFLECTANCE_ADD_BAND_{b} = -0.2\n"
                 for b in refl)  # fmt: skip
    l1 = "".join(f"    REFLECTANCE_MULT_BAND_{b} = 2.0000E-05\n    REFLECTANCE_ADD_BAND_{b} = "
                 "-0.100000\n" for b in refl)  # fmt: skip
    if with_mtl:
        (folder / f"{pid}_MTL.txt").write_text(
            MTL_C2.format(pid=pid, spacecraft=spacecraft, files="".join(names), l2=l2, l1=l1)
        )
    return folder


def tar_of(folder):
    out = folder.with_suffix(".tar")
    with tarfile.open(out, "w") as tar:
        for f in sorted(folder.iterdir()):
            tar.add(f, arcname=f.name)
    return out


@pytest.mark.parametrize("as_tar", [False, True])
def test_landsat_c2_l2_folder_and_tar(tmp_path, as_tar):
    folder = make_landsat(tmp_path, qa_cloud=[(2, 3)])
    path = tar_of(folder) if as_tar else folder
    log = Findings()
    src = raster_source(path, findings=log)
    assert src.sensor is Sensor.LANDSAT8_L2 and src.acquired == "2023-06-03"
    assert (src.scale, src.offset) == (2.75e-5, -0.2)  # the surface group, not LEVEL1's
    v = src.read_roles(Window(0, 0, 5, 5), ["R", "NIR"])
    assert float(v["NIR"][0, 0]) == pytest.approx(0.30, abs=3e-5)
    assert v["R"].mask.sum() == 1 and v["R"].mask[2, 3]  # QA_PIXEL cloud bit
    if as_tar:
        assert src.dataset.count("/vsitar/") == 6


def test_landsat7_etm_bands_and_slc_off_gaps(tmp_path):
    """ETM+ roles are bands 1-5 and 7 (was: OLI's 2-7, so 'band 6 missing, download again')."""
    refl = {1: 0.03, 2: 0.06, 3: 0.04, 4: 0.33, 5: 0.17, 7: 0.08}
    folder = make_landsat(tmp_path, sat=ETM_C2, refl=refl, gap=7)
    log = Findings()
    src = raster_source(folder, findings=log)
    assert (src.scale, src.offset) == (2.75e-5, -0.2)
    v = src.read_roles(Window(0, 0, 10, 10), ["B", "R", "NIR", "SWIR2"])
    for role, band in (("B", 1), ("R", 3), ("NIR", 4), ("SWIR2", 7)):
        assert float(v[role][0, 0]) == pytest.approx(refl[band], abs=3e-5), role
    assert v["NIR"].mask[:, 7].all() and v["NIR"].mask.sum() == 10  # the SLC-off gap
    assert "LE07_L2SP" in src.dataset


def test_landsat_tar_without_mtl_stops_naming_it(tmp_path):
    bare = tar_of(make_landsat(tmp_path, with_mtl=False))
    with pytest.raises(DataSourceError, match=r"\.tar has no MTL file .*complete product"):
        raster_source(bare)


def test_pre_collection_l1t_clip_with_bqa():
    log = Findings()
    src = raster_source(LANDSAT_DATA, findings=log)
    assert src.sensor is Sensor.LANDSAT8_L1 and src.acquired == "2015-08-04"
    sine = np.sin(np.radians(64.74360932))
    assert src.scale == pytest.approx(2e-5 / sine) and src.offset == pytest.approx(-0.1 / sine)
    with rasterio.open(LANDSAT_DATA / "l8_BQA.tif") as ds:
        bqa = ds.read(1, window=Window(0, 0, 200, 200))
        b4 = ds.read(1, window=Window(0, 0, 1, 1))  # noqa: F841 - opens like the reader
    v = src.read_roles(Window(0, 0, 200, 200), ["R", "NIR"])
    cloudy = ((bqa & 0x8000) != 0) | ((bqa & 0x3000) == 0x3000) | ((bqa & 0x0C00) == 0x0C00)
    np.testing.assert_array_equal(v["R"].mask, cloudy | (bqa & 1).astype(bool))
    assert 0 < cloudy.mean() < 1
    assert "landsat_product" in {f.code for f in log}


def test_unsupported_archives_and_multi_granule_products_say_what_to_do(tmp_path):
    gz = tmp_path / "LC09_L2SP_118029_20230603_20230605_02_T1.tar.gz"
    gz.write_bytes(b"")
    with pytest.raises(DataSourceError, match=r"compressed tar.*tar xzf"):
        raster_source(gz)
    safe = make_safe(tmp_path)
    meta = safe / "MTD_MSIL2A.xml"
    text = meta.read_text()
    meta.write_text(text.replace("</Granule>", "<IMAGE_FILE>GRANULE/L2A_T51TXN_X/IMG_DATA/R10m/"
                                 "T51TXN_X_B02_10m</IMAGE_FILE></Granule>"))  # fmt: skip
    with pytest.raises(RasterError, match="2 granules"):
        raster_source(safe)


def test_mtl_groups_keep_level1_and_level2_apart():
    mtl = parse_mtl(
        MTL_C2.format(pid="x", spacecraft="LANDSAT_9", files="", l2="    K = 1\n", l1="    K = 2\n")
    )
    assert mtl["LEVEL2_SURFACE_REFLECTANCE_PARAMETERS"]["K"] == "1"
    assert mtl["LEVEL1_RADIOMETRIC_RESCALING"]["K"] == "2"


def test_mixed_bands_across_scenes_of_one_date_stop(tmp_path):
    safe = make_safe(tmp_path / "s")
    landsat = make_landsat(tmp_path / "l")
    with pytest.raises(RasterError, match="need the same bands"):
        raster_source(f"{safe},{landsat}")


DNDVI_NIR_010 = (0.10 - 0.05) / 0.15 - (0.30 - 0.05) / 0.35
"""dNDVI of a patch whose NIR falls from 0.30 to 0.10 (red 0.05 on both dates)."""


def run_check(tmp_path, patches, before, after):
    """Run ``check patches`` (English); return the checked table, run table, finding codes."""
    out = tmp_path / "r.gpkg"
    args = ["check", "patches", str(patches), "--before", str(before), "--after", str(after)]
    result = CliRunner().invoke(cli, [*args, "--out", str(out), "--lang", "en"])
    assert result.exit_code in (0, 1), result.output
    checked = gpd.read_file(out, layer="patches_checked")
    run = gpd.read_file(out, layer="run").set_index(["section", "key"])["value"]
    return checked, run, set(gpd.read_file(out, layer="findings")["code"])


def test_cli_sentinel2_before_landsat_after_on_one_grid(tmp_path):
    before = zip_safe(make_safe(tmp_path / "s2"))
    after = tar_of(make_landsat(tmp_path / "l9", nir=0.10))
    zone = shapely.box(X0 + 120, Y0 - 420, X0 + 420, Y0 - 120)
    patches = tmp_path / "patches.gpkg"
    gpd.GeoDataFrame(
        {"patch_id": ["1"], "QQYXSJ": ["2023-01-05"], "HQYXSJ": [None]}, geometry=[zone],
        crs=UTM51,
    ).to_file(patches)  # fmt: skip
    checked, run, codes = run_check(tmp_path, patches, before, after)
    assert checked["dndvi"].iloc[0] == pytest.approx(DNDVI_NIR_010, abs=1e-3)
    assert run["rasters", "analysis_grid"].startswith("EPSG:32651, 30 m pixels, 22x22")
    assert "average" in run["rasters", "resampling"]  # the 10 m before date is averaged
    assert "Landsat Collection 2 L2SP" in run["rasters", "after"]
    assert run["image_dates", ""] == '["2023-06-01", "2023-06-03"]'
    assert {"grids_aligned", "s2_product", "landsat_product", "image_date_mismatch"} <= codes
    assert "mixed_sensors" in codes
    assert "image_dates_from_metadata" in codes


def test_cli_takes_product_folders_where_a_raster_is_asked(tmp_path):
    layer = tmp_path / "p.gpkg"
    zone = shapely.box(452_500, 3_400_000, 453_500, 3_401_000)
    gpd.GeoDataFrame({"patch_id": ["1"]}, geometry=[zone], crs="EPSG:32616").to_file(layer)
    out = tmp_path / "m.html"
    args = ["map", str(layer), "--quicklook", str(LANDSAT_DATA), "--quicklook-bands", "NIR,R,G"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "L.imageOverlay" in out.read_text(encoding="utf-8")
    twice = f"{LANDSAT_DATA},{LANDSAT_DATA}"
    mosaic = CliRunner().invoke(cli, [*args[:3], twice, "--out", str(out), "--overwrite"])
    assert mosaic.exit_code == 3 and "快视图只显示一幅影像" in mosaic.output
