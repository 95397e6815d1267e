"""Raster files: open with clear errors, write GeoTIFFs atomically."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from gis.errors import DataSourceError, RasterError
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
    """Open a raster for reading; raise :class:`DataSourceError` naming the file and the fix."""
    p = os.fspath(path)
    if not p.startswith("/vsi") and not os.path.exists(p):
        raise DataSourceError(f"raster {p} does not exist; check the path")
    try:
        return rasterio.open(p)
    except RasterioError as exc:
        raise DataSourceError(
            f"cannot read raster {p}: {exc}; check that it is a complete GeoTIFF "
            "(a truncated copy is the usual cause)"
        ) from exc


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


def raster_env(*, cachemax_mb: int = 64, list_dir: bool = False) -> Any:
    """Return a ``rasterio.Env`` with GDAL's block cache capped at ``cachemax_mb`` megabytes.

    Windowed readers use it so that memory stays bounded whatever the raster's size (GDAL's
    default cache is 5 % of RAM). ``rasterio.Env`` takes GDAL_CACHEMAX in bytes (GDAL's own
    "values below 100000 are megabytes" rule does not apply through it), hence the conversion.
    Opening does not list the file's folder unless ``list_dir`` (needed to find a sidecar
    ``.msk`` mask next to the raster).
    """
    return rasterio.Env(
        GDAL_CACHEMAX=int(cachemax_mb) * 1024 * 1024,
        GDAL_DISABLE_READDIR_ON_OPEN="FALSE" if list_dir else "EMPTY_DIR",
    )


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
        raise DataSourceError(
            f"cannot read pixels of raster {dataset.name} (rows {window.row_off}-"
            f"{window.row_off + window.height}, cols {window.col_off}-"
            f"{window.col_off + window.width}): {exc}; the file is probably truncated or "
            "corrupt — copy it again and check it with `gdalinfo -checksum`"
        ) from exc


def require_valid_pixels(path: str | os.PathLike[str], *, role: str = "raster") -> None:
    """Raise :class:`RasterError` when no pixel of the raster is usable.

    A pixel is usable when every band is valid there (GDAL mask: nodata, alpha, internal or
    ``.msk`` mask) and finite (not NaN or ±inf). Reads block by block and stops at the first
    usable pixel, so a normal image costs one block and memory never grows with the raster.

    Parameters
    ----------
    path : path-like
        The raster (a GDAL ``/vsi…`` path too).
    role : str
        What the raster is for, used in the message (``after image``, ``before image`` …).

    Raises
    ------
    RasterError
        When every pixel is nodata, masked or NaN (an empty export, a wrong nodata value).
    DataSourceError
        When the file cannot be opened or its pixels cannot be read.
    """
    with raster_env(list_dir=True), open_raster(path) as dataset:
        for _, window in dataset.block_windows(1):
            usable = np.all(read_window(dataset, None, window, masks=True) > 0, axis=0)
            if usable.any() and np.issubdtype(np.dtype(dataset.dtypes[0]), np.floating):
                usable &= np.all(np.isfinite(read_window(dataset, None, window)), axis=0)
            if usable.any():
                return
    raise RasterError(
        f"{role} {os.fspath(path)} has no usable pixel: every pixel is nodata, masked or NaN; "
        "check the file (gdalinfo -stats) — an empty export or a wrong nodata value is the "
        "usual cause — and pass an image with data"
    )


def require_images(**images: str | os.PathLike[str] | None) -> None:
    """Apply :func:`require_valid_pixels` to each named image given (``after=path`` …).

    Examples
    --------
    >>> require_images(before=None)  # an image not given is not checked
    """
    for name, path in images.items():
        if path is not None:
            require_valid_pixels(path, role=f"{name} image")
