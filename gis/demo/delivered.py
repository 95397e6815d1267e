"""The demo's after date as Sentinel-2 delivers it: an L2A ``.SAFE`` zip on UTM zone 51N.

The scene's after image (EPSG:4551, 10 m) is put on the 10 m grid of UTM 51N that ESA's tiles
use (origin on whole 60 m, nearest: the DN are kept), written as JPEG 2000 band files — B02,
B03, B04, B08 at 10 m; B05, B11, B12 averaged to 20 m; the SCL at 20 m (mode) — with an
``MTD_MSIL2A.xml`` after ESA's Level-2A product schema (processing baseline 05.09,
``BOA_ADD_OFFSET`` -1000, sensing date from the scene), and zipped. ``linyuan check patches``
then reads the pair as delivered: a GeoTIFF before, a product on another grid after.

:func:`write_jp2` and :func:`mtd_xml` also build the products of the tests and benchmarks.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject

UTM51 = "EPSG:32651"
TILE = "T51TXM"
BANDS_10M = {"B02": 1, "B03": 2, "B04": 3, "B08": 5}
BANDS_20M = {"B05": 4, "B11": 6, "B12": 7}
"""Band name → band of the demo's 7-band after image (B2 B3 B4 B5 B8 B11 B12)."""


def write_jp2(path: Path, array: Any, *, crs: Any, transform: Affine) -> None:
    """Write a one-band uint16 JPEG 2000 file (OpenJPEG, lossless), as ESA's band files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path, "w", driver="JP2OpenJPEG", width=array.shape[1], height=array.shape[0], count=1,
        dtype="uint16", crs=crs, transform=transform, QUALITY="100", REVERSIBLE="YES",
    ) as dst:  # fmt: skip
        dst.write(np.asarray(array, dtype="uint16"), 1)


def mtd_xml(
    product: str,
    image_files: Sequence[str],
    *,
    sensing: str,
    baseline: str = "05.09",
    level: str = "L2A",
) -> str:
    """Return a product metadata XML after ESA's Level-2A / Level-1C User Product schema.

    Only what a reader needs is there: product info (start time, baseline, the granule's
    ``IMAGE_FILE`` list), the quantification value and, from baseline 04.00, the offsets
    (``BOA_ADD_OFFSET`` in L2A, ``RADIO_ADD_OFFSET`` in L1C). Before 04.00 an L2A product
    names its quantification ``L2A_BOA_QUANTIFICATION_VALUE``.
    """
    l2a = level == "L2A"
    ns = f"https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-{level[1:]}.xsd"
    new = float(baseline) >= 4.0
    quant = "BOA_QUANTIFICATION_VALUE" if l2a else "QUANTIFICATION_VALUE"
    if l2a and not new:
        quant = "L2A_" + quant
    offset_tag = "BOA_ADD_OFFSET" if l2a else "RADIO_ADD_OFFSET"
    offsets = "".join(f'<{offset_tag} band_id="{i}">-1000</{offset_tag}>' for i in range(13))
    offsets = (
        f"<{'BOA_ADD_OFFSET_VALUES_LIST' if l2a else 'Radiometric_Offset_List'}>{offsets}"
        f"</{'BOA_ADD_OFFSET_VALUES_LIST' if l2a else 'Radiometric_Offset_List'}>"
        if new
        else ""
    )
    images = "".join(f"<IMAGE_FILE>{f}</IMAGE_FILE>" for f in image_files)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<n1:Level-{level[1:]}_User_Product '
        f'xmlns:n1="{ns}"><n1:General_Info><Product_Info>'
        f"<PRODUCT_START_TIME>{sensing}T02:55:39.024Z</PRODUCT_START_TIME>"
        f"<PRODUCT_STOP_TIME>{sensing}T02:55:39.024Z</PRODUCT_STOP_TIME>"
        f"<PRODUCT_URI>{product}</PRODUCT_URI><PROCESSING_LEVEL>Level-{level[1:]}"
        f"</PROCESSING_LEVEL><PRODUCT_TYPE>S2MSI{level[1:]}</PRODUCT_TYPE>"
        f"<PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>"
        f"<Datatake><SPACECRAFT_NAME>Sentinel-2B</SPACECRAFT_NAME><DATATAKE_SENSING_START>"
        f"{sensing}T02:55:39.024Z</DATATAKE_SENSING_START></Datatake><Product_Organisation>"
        f'<Granule_List><Granule imageFormat="JPEG2000">{images}</Granule></Granule_List>'
        "</Product_Organisation></Product_Info><Product_Image_Characteristics>"
        "<Special_Values><SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT>"
        "<SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX></Special_Values>"
        f'<QUANTIFICATION_VALUES_LIST><{quant} unit="none">10000</{quant}>'
        f"</QUANTIFICATION_VALUES_LIST>{offsets}</Product_Image_Characteristics>"
        f"</n1:General_Info></n1:Level-{level[1:]}_User_Product>"
    )


def _utm_grid(src: Any) -> tuple[Affine, int, int]:
    """Return the 10 m UTM 51N grid over ``src``, origin on whole 60 m (as ESA's tiles)."""
    t, w, h = calculate_default_transform(
        src.crs, UTM51, src.width, src.height, *src.bounds, resolution=10
    )
    x0, y0 = np.floor(t.c / 60) * 60, np.ceil(t.f / 60) * 60
    w, h = w + 12 - w % 6, h + 12 - h % 6  # whole 20 m pixels, room for the shift
    return Affine(10, 0, x0, 0, -10, y0), int(w), int(h)


def _warped(src: Any, band: int, transform: Affine, shape: tuple[int, int], how: Any) -> Any:
    out = np.zeros(shape, dtype="uint16")
    reproject(
        rasterio.band(src, band), out, dst_transform=transform, dst_crs=UTM51,
        src_nodata=0, dst_nodata=0, resampling=how,
    )  # fmt: skip
    return out


def write_s2_product(after: Path, scl: Path, folder: Path, *, sensing: str) -> Path:
    """Write the after image as a zipped Sentinel-2 L2A ``.SAFE`` on UTM 51N; return the zip.

    ``sensing`` is the date (``YYYY-MM-DD``). The zip is written beside a temporary folder
    that is removed; an existing zip of the same name is replaced.
    """
    stamp = sensing.replace("-", "") + "T025539"
    name = f"S2B_MSIL2A_{stamp}_N0509_R032_{TILE}_{stamp[:8]}T062302.SAFE"
    safe = folder / name
    granule = f"GRANULE/L2A_{TILE}_A032505_{stamp}/IMG_DATA"
    files = []
    with rasterio.open(after) as src:
        t10, w, h = _utm_grid(src)
        t20 = t10 * Affine.scale(2)
        for band, index in BANDS_10M.items():
            rel = f"{granule}/R10m/{TILE}_{stamp}_{band}_10m"
            array = _warped(src, index, t10, (h, w), Resampling.nearest)
            write_jp2(safe / f"{rel}.jp2", array, crs=UTM51, transform=t10)
            files.append(rel)
        for band, index in BANDS_20M.items():
            rel = f"{granule}/R20m/{TILE}_{stamp}_{band}_20m"
            array = _warped(src, index, t20, (h // 2, w // 2), Resampling.average)
            write_jp2(safe / f"{rel}.jp2", array, crs=UTM51, transform=t20)
            files.append(rel)
    with rasterio.open(scl) as src:
        rel = f"{granule}/R20m/{TILE}_{stamp}_SCL_20m"
        array = _warped(src, 1, t20, (h // 2, w // 2), Resampling.mode)
        write_jp2(safe / f"{rel}.jp2", array, crs=UTM51, transform=t20)
        files.append(rel)
    (safe / "MTD_MSIL2A.xml").write_text(mtd_xml(name, files, sensing=sensing), encoding="utf-8")
    return _zip(safe)


def _zip(safe: Path) -> Path:
    out = safe.with_name(safe.stem + ".zip")
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
        for f in sorted(safe.rglob("*")):
            z.write(f, f.relative_to(safe.parent).as_posix())
    tmp.replace(out)
    shutil.rmtree(safe)
    return out
