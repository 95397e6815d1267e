"""Raster files: open with clear errors, write GeoTIFFs atomically."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.vrt import WarpedVRT

from gis.errors import DataSourceError, listed
from gis.io._atomic import atomic_path

# rasterio's in-memory datasets (rasterize, reproject of arrays) silence this warning inside
# warnings.catch_warnings, which is not thread-safe: when two threads rasterize at once, one
# thread's restore lets the other's spurious "no geotransform" warning through (seen with
# `detect discolored --threads 2`). Linyuan always passes a transform to those calls.
warnings.filterwarnings(
    "ignore", message="Dataset has no geotransform", category=NotGeoreferencedWarning,
    module="rasterio",
)  # fmt: skip


def open_raster(path: str | os.PathLike[str]) -> Any:
    """Open a raster for reading; raise :class:`DataSourceError` naming the file and the fix.

    ``path`` may also be the XML of a VRT (a product's band files stacked, see
    :func:`gis.raster.stacking.stack_vrt`): GDAL's error then names the band file.
    """
    p = os.fspath(path)
    vrt = p.startswith("<VRTDataset")
    if not vrt and not p.startswith("/vsi") and not os.path.exists(p):
        raise DataSourceError(
            f"raster {p} does not exist; check the path", zh=f"影像 {p} 不存在；请检查路径"
        )
    try:
        dataset = rasterio.open(p)
    except RasterioError as exc:
        what = "the band files of a product" if vrt else f"raster {p}"
        raise DataSourceError(
            f"cannot read {what}: {exc}; check that it is complete (a truncated copy is the "
            "usual cause) — copy or download it again",
            zh=f"无法读取 {what}：{exc}；请检查文件是否完整（常见原因是没有复制完）——"
            "请重新复制或下载",
        ) from exc
    _require_sources(dataset, p)
    return dataset


def _require_sources(dataset: Any, path: str) -> None:
    """Refuse a VRT whose source files are missing (GDAL opens it and fails at the first read)."""
    if dataset.driver != "VRT":
        return
    sources = [f for f in dataset.files if f != path and not f.startswith("/vsi")]
    missing = [f for f in sources if not os.path.exists(f)]
    if missing:
        dataset.close()
        raise DataSourceError(
            f"raster {path} is a VRT whose source files are missing: {listed(missing, 3)}; "
            "copy them beside it as the VRT names them (relative paths are relative to the "
            "VRT), or rebuild it with gdalbuildvrt",
            zh=f"影像 {path} 是 VRT，但它引用的源文件不存在：{listed(missing, 3, 'zh')}；"
            "请按 VRT 中的路径把它们复制过来（相对路径相对于 VRT 所在文件夹），"
            "或用 `gdalbuildvrt` 重建",
        )


def write_geotiff(
    path: str | os.PathLike[str],
    array: np.ndarray,
    *,
    transform: Any,
    crs: Any,
    nodata: float | None = None,
    band_names: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    overwrite: bool = False,
    tiled: bool = True,
    compress: str = "deflate",
    blocksize: int = 256,
) -> None:
    """Write a (bands, rows, cols) or (rows, cols) array as a tiled GeoTIFF, atomically.

    Parameters
    ----------
    path : path-like
        Output file.
    array : numpy.ndarray
        Pixel values; 2-D arrays are written as one band.
    transform : affine.Affine
        Pixel-to-CRS transform.
    crs : CRS-like
        The raster's CRS.
    nodata : float, optional
        Nodata value recorded in the file.
    band_names : sequence of str, optional
        Band descriptions (e.g. ``("B2", "B3", "B4", "B8")``).
    tags : mapping of str to str, optional
        Dataset metadata (e.g. ``BOA_ADD_OFFSET``, acquisition date).
    overwrite : bool
        Replace an existing file.
    tiled, compress, blocksize
        GeoTIFF layout options.
    """
    data = array[np.newaxis] if array.ndim == 2 else array
    count, height, width = data.shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": data.dtype,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "compress": compress,
    }
    if tiled and min(height, width) >= blocksize:
        profile.update(tiled=True, blockxsize=blocksize, blockysize=blocksize)
    with atomic_path(path, overwrite=overwrite) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        for i, name in enumerate(band_names or (), start=1):
            dst.set_band_description(i, name)
        if tags:
            dst.update_tags(**{str(k): str(v) for k, v in tags.items()})


GDAL_TYPES = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32",
              "int32": "Int32", "float32": "Float32", "float64": "Float64"}  # fmt: skip
"""GDAL's name of each numpy data type (VRT ``dataType``)."""


def vrt_header(width: int, height: int, crs_wkt: str, transform: Any) -> str:
    """Return the opening of a VRT's XML: size, CRS and geotransform (bands follow).

    Examples
    --------
    >>> from affine import Affine
    >>> vrt_header(2, 3, "", Affine(10, 0, 5, 0, -10, 50)).split("<SRS>")[1]
    '</SRS><GeoTransform>5.0, 10.0, 0.0, 50.0, 0.0, -10.0</GeoTransform>'
    """
    t = transform
    gt = ", ".join(repr(float(v)) for v in (t.c, t.a, t.b, t.f, t.d, t.e))
    return (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">'
        f"<SRS>{escape(crs_wkt)}</SRS><GeoTransform>{gt}</GeoTransform>"
    )


def warped_vrt(
    dataset: Any,
    *,
    crs_wkt: str,
    transform: Any,
    width: int,
    height: int,
    resampling: str,
    src_crs_wkt: str,
    add_alpha: bool,
    block: int = 512,
    copy_nodata: bool = False,
) -> Any:
    """Return a rasterio ``WarpedVRT`` of an open dataset on another grid (read it by window).

    Nothing is copied: GDAL warps the blocks a read touches. ``add_alpha`` adds an alpha band
    (last) that is 0 where no valid source pixel reaches (outside the scene, nodata, masked).
    The source's nodata stays its nodata on the warped grid.

    ``copy_nodata`` (``nearest`` only, a source with a nodata value): the warper is not told
    the nodata value — nearest copies source values as they are, so nodata pixels stay nodata
    — and the destination is initialised to it where no source pixel reaches. GDAL then warps
    with its kernel for sources without masks, which halves the warp's cost (about 0.17 of
    0.34 CPU seconds on a 4000² pair, ``scripts/bench_grids.py``). The warped VRT then
    declares no nodata: the reader tests the source's own.
    """
    if copy_nodata and (resampling != "nearest" or dataset.nodata is None or add_alpha):
        raise ValueError("copy_nodata needs nearest, a nodata value and no alpha band")
    nodata = None if copy_nodata else dataset.nodata
    init = repr(float(dataset.nodata)) if copy_nodata else "NO_DATA"
    try:
        return WarpedVRT(
            dataset,
            src_crs=src_crs_wkt,
            crs=crs_wkt,
            transform=transform,
            width=width,
            height=height,
            resampling=Resampling[resampling],
            add_alpha=add_alpha,
            src_nodata=nodata,
            nodata=nodata,
            warp_extras={"NUM_THREADS": 1, "INIT_DEST": init},
            blockxsize=min(block, width),
            blockysize=min(block, height),
        )
    except RasterioError as exc:
        raise DataSourceError(
            f"cannot warp raster {dataset.name} onto the analysis grid: {exc}; check its CRS "
            "and geotransform with gdalinfo",
            zh=f"无法把影像 {dataset.name} 重采样到分析网格：{exc}；请用 `gdalinfo` 检查其坐标系和"
            "地理变换",
        ) from exc


def raster_env(
    *, cachemax_mb: int = 64, list_dir: bool = False, warp_by_block: bool = False
) -> Any:
    """Return a ``rasterio.Env`` with GDAL's block cache capped at ``cachemax_mb`` megabytes.

    Windowed readers use it so that memory stays bounded whatever the raster's size (GDAL's
    default cache is 5 % of RAM). ``rasterio.Env`` takes GDAL_CACHEMAX in bytes (GDAL's own
    "values below 100000 are megabytes" rule does not apply through it), hence the conversion.
    Opening does not list the file's folder unless ``list_dir`` (needed to find a sidecar
    ``.msk`` mask next to the raster).

    ``warp_by_block``: a warped VRT computes every read block by block
    (``GDAL_VRT_WARP_USE_DATASET_RASTERIO=NO``). GDAL otherwise warps a large request as one
    chunk, and its approximate transformer then makes a pixel's value depend on the request
    (about 0.1 % of nearest pixels at 10 m between UTM 51N and EPSG:4551); by block, a pixel
    has one value whatever window reads it, and a block read twice comes from the cache.
    """
    options: dict[str, Any] = {
        "GDAL_CACHEMAX": int(cachemax_mb) * 1024 * 1024,
        "GDAL_DISABLE_READDIR_ON_OPEN": "FALSE" if list_dir else "EMPTY_DIR",
    }
    if warp_by_block:
        options["GDAL_VRT_WARP_USE_DATASET_RASTERIO"] = "NO"
    return rasterio.Env(**options)


def read_window(dataset: Any, indexes: Any, window: Any, *, masks: bool = False) -> np.ndarray:
    """Read ``indexes`` of an open dataset in ``window``; GDAL read errors become ours.

    A file whose header is intact but whose data is cut off (an interrupted copy) opens fine
    and fails only here, so the message names the file, the window and the fix. With
    ``masks=True`` the bands' GDAL mask bands are read instead (``read_masks``: 0 invalid,
    255 valid; an internal or ``.msk`` per-dataset mask, alpha or nodata).
    """
    read = dataset.read_masks if masks else dataset.read
    try:
        return np.asarray(read(indexes, window=window))
    except RasterioError as exc:
        name = "of a product's band files" if str(dataset.name).startswith("<") else dataset.name
        raise DataSourceError(
            f"cannot read pixels of raster {name} (rows {window.row_off}-"
            f"{window.row_off + window.height}, cols {window.col_off}-"
            f"{window.col_off + window.width}): {exc}; the file is probably truncated or "
            "corrupt — copy it again and check it with `gdalinfo -checksum`",
            zh=f"无法读取影像 {name} 的像元（行 {window.row_off}-{window.row_off + window.height}，"
            f"列 {window.col_off}-{window.col_off + window.width}）：{exc}；"
            "文件可能不完整或已损坏——请重新复制，并用 `gdalinfo -checksum` 检查",
        ) from exc
