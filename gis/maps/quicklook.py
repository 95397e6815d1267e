"""Quicklook: a raster as one small image to lay under a field map, so imagery shows offline.

The raster is read decimated (``out_shape``: GDAL uses overviews when the file has them, and
never holds the full-resolution raster in memory), one band at a time, warped into a Web
Mercator (EPSG:3857) grid covering its footprint (so it lies true under Leaflet, whose image
overlays are stretched linearly in Web Mercator), contrast-stretched between the 2nd and
98th percentiles of the valid pixels, and encoded as a JPEG. Pixels that are nodata or
outside the footprint travel as a 1-bit PNG mask that the map applies in the browser (a
JPEG cannot be transparent, and a PNG of imagery is several times bigger than a JPEG). The
encoded image is at most ``max_side`` pixels on its longest side and ``max_bytes`` of
base64 text (the growth of the HTML file); quality and then size are lowered until it fits.

Examples
--------
>>> stretch_limits(np.arange(101, dtype=np.float32))
(2.0, 98.0)
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine
from numpy.typing import NDArray
from PIL import Image
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.warp import calculate_default_transform, reproject

from gis.errors import DataSourceError, RasterError
from gis.raster.source import DatasetMask, RasterSource

WEB_MERCATOR = CRS.from_epsg(3857)
TRUE_COLOUR: tuple[str, ...] = ("R", "G", "B")
MAX_SIDE = 4096
MAX_BYTES = 5_000_000
JPEG_QUALITIES: tuple[int, ...] = (85, 70, 55)
SAMPLE = 1_000_000
"""At most this many valid pixels are used to find the stretch percentiles."""


@dataclass(frozen=True)
class Quicklook:
    """An encoded quicklook and where it lies.

    Parameters
    ----------
    image : str
        ``data:image/jpeg;base64,…`` URI of the RGB image.
    mask : str or None
        ``data:image/png;base64,…`` URI of the validity mask (white = shown), or ``None``
        when every pixel is valid.
    bounds : tuple of float
        ``(west, south, east, north)`` in degrees: the image's corners (Web Mercator grid).
    width, height : int
        Image size in pixels.
    label : str
        Name shown in the layer switcher (the raster's file name).
    """

    image: str
    mask: str | None
    bounds: tuple[float, float, float, float]
    width: int
    height: int
    label: str

    @property
    def size_bytes(self) -> int:
        """Length of the embedded text (image plus mask URIs), i.e. what the HTML grows by."""
        return len(self.image) + len(self.mask or "")


def stretch_limits(
    values: NDArray[np.floating[Any]], low: float = 2, high: float = 98
) -> tuple[float, float]:
    """Return the ``low`` and ``high`` percentiles of the finite ``values`` (a sample of them)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    step = max(1, finite.size // SAMPLE)
    lo, hi = np.percentile(finite[::step], [low, high])
    return float(lo), float(hi) if hi > lo else float(lo) + 1.0


def mercator_grid(src: RasterSource, max_side: int) -> tuple[Affine, int, int]:
    """Return the Web Mercator transform and size covering ``src``, longest side <= max_side."""
    left, top = src.transform @ (0, 0)
    right, bottom = src.transform @ (src.width, src.height)
    bounds = (min(left, right), min(top, bottom), max(left, right), max(top, bottom))
    crs = CRS.from_wkt(src.crs_wkt)
    transform, width, height = calculate_default_transform(
        crs, WEB_MERCATOR, src.width, src.height, *bounds
    )
    factor = max(width, height) / max_side
    if factor > 1:
        width, height = max(1, math.ceil(width / factor)), max(1, math.ceil(height / factor))
        transform = transform @ Affine.scale(factor)
    return transform, int(width), int(height)


def _read_shape(src: RasterSource, max_side: int) -> tuple[int, int]:
    """Decimated read size: about the output resolution (at most ``max_side`` per side)."""
    factor = max(1.0, max(src.width, src.height) / max_side)
    return max(1, round(src.height / factor)), max(1, round(src.width / factor))


def _read(src: RasterSource, read: Any) -> NDArray[Any]:
    """Run one decimated read of ``src``; GDAL read errors become ours, naming the file."""
    try:
        return np.asarray(read())
    except RasterioError as exc:
        raise DataSourceError(
            f"cannot read pixels of raster {src.path} for the quicklook: {exc}; the file is "
            "probably truncated or corrupt — copy it again and check it with `gdalinfo -checksum`",
            zh=f"无法读取影像 {src.path} 的像元来生成快视图；文件可能不完整或已损坏——请重新拷贝，"
            "并用 `gdalinfo -checksum` 检查",
        ) from exc


def _masked(
    dataset: Any, src: RasterSource, index: int, shape: tuple[int, int]
) -> NDArray[np.bool_] | None:
    """Pixels masked by alpha 0 or the file's GDAL mask (``None`` when it has neither)."""
    if src.dataset_mask is DatasetMask.NONE:
        return None
    nearest = Resampling.nearest
    masks = _read(src, lambda: dataset.read_masks(index, out_shape=shape, resampling=nearest))
    return np.asarray(masks == 0)


def _read_band(
    dataset: Any,
    src: RasterSource,
    index: int,
    shape: tuple[int, int],
    masked: NDArray[np.bool_] | None,
) -> NDArray[np.float32]:
    """Read one band decimated to ``shape``; nodata, NaN and ``masked`` pixels become NaN."""
    raw = _read(src, lambda: dataset.read(index, out_shape=shape, resampling=Resampling.nearest))
    values = raw.astype(np.float32)
    if src.nodata is not None:
        values[raw == src.nodata] = np.nan
    if masked is not None:
        values[masked] = np.nan
    return values


def _stretch(band: NDArray[np.float32]) -> NDArray[np.uint8]:
    """Stretch one band 2-98 % over its finite pixels to 0-255 (NaN becomes 0)."""
    lo, hi = stretch_limits(band)
    scaled = np.nan_to_num((band - lo) * (255.0 / (hi - lo)), nan=0.0)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def warp_rgb(
    src: RasterSource, roles: Sequence[str], *, max_side: int = MAX_SIDE
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Return ``roles`` of ``src`` warped to its Web Mercator grid and stretched: (rgb, valid).

    ``rgb`` has shape (rows, cols, 3); ``valid`` is false where any band is nodata or the
    pixel lies outside the raster. One band is held as float at a time (bounded memory).
    """
    dst_transform, width, height = mercator_grid(src, max_side)
    shape = _read_shape(src, max_side)
    src_transform = src.transform @ Affine.scale(src.width / shape[1], src.height / shape[0])
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    valid = np.ones((height, width), dtype=bool)
    warped = np.empty((height, width), dtype=np.float32)
    indexes = [src.band_index(r) for r in roles]
    per_band = src.dataset_mask is DatasetMask.PER_BAND  # else one mask serves every band
    with src.open() as reader:
        shared = None if per_band else _masked(reader.dataset, src, indexes[0], shape)
        for k, index in enumerate(indexes):
            masked = _masked(reader.dataset, src, index, shape) if per_band else shared
            warped.fill(np.nan)
            reproject(
                _read_band(reader.dataset, src, index, shape, masked),
                warped,
                src_transform=src_transform,
                src_crs=CRS.from_wkt(src.crs_wkt),
                src_nodata=np.nan,
                dst_transform=dst_transform,
                dst_crs=WEB_MERCATOR,
                dst_nodata=np.nan,
                resampling=Resampling.bilinear,
            )
            valid &= np.isfinite(warped)
            rgb[..., k] = _stretch(warped)
    rgb[~valid] = 0
    return rgb, valid


def _uri(image: Image.Image, fmt: str, mime: str, **options: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def encode(
    rgb: NDArray[np.uint8], valid: NDArray[np.bool_], *, max_bytes: int = MAX_BYTES
) -> tuple[str, str | None, int, int]:
    """Encode as JPEG (+ PNG mask), lowering quality, then size, until <= ``max_bytes``.

    Returns the image URI, the mask URI (``None`` when all pixels are valid), width, height.
    """
    image = Image.fromarray(rgb, "RGB")
    mask = None if valid.all() else Image.fromarray(valid).convert("1")
    while True:
        mask_uri = None
        if mask is not None:  # 1-bit grey, black transparent: the map uses it as an alpha mask
            mask_uri = _uri(mask, "PNG", "image/png", optimize=True, transparency=0)
        for quality in JPEG_QUALITIES:
            uri = _uri(image, "JPEG", "image/jpeg", quality=quality)
            if len(uri) + len(mask_uri or "") <= max_bytes:
                return uri, mask_uri, image.width, image.height
        if max(image.size) <= 64:
            raise RasterError(
                f"a quicklook cannot fit in {max_bytes} bytes; raise max_bytes",
                zh=f"快视图无法控制在 {max_bytes} 字节以内；请调大 max_bytes",
            )
        size = (max(1, image.width * 3 // 4), max(1, image.height * 3 // 4))
        image = image.resize(size, Image.Resampling.BILINEAR)
        mask = None if mask is None else mask.resize(size, Image.Resampling.NEAREST)


def lonlat_bounds(transform: Affine, width: int, height: int) -> tuple[float, float, float, float]:
    """Return ``(west, south, east, north)`` of a Web Mercator grid in degrees."""
    x0, y0 = transform @ (0, 0)
    x1, y1 = transform @ (width, height)
    to_lonlat = Transformer.from_crs(WEB_MERCATOR, 4326, always_xy=True)
    (w, e), (n, s) = to_lonlat.transform([x0, x1], [y0, y1])
    return float(min(w, e)), float(min(s, n)), float(max(w, e)), float(max(s, n))


def quicklook(
    src: RasterSource,
    *,
    roles: Sequence[str] = TRUE_COLOUR,
    max_side: int = MAX_SIDE,
    max_bytes: int = MAX_BYTES,
) -> Quicklook:
    """Return the quicklook of ``src``: true colour by default, or any three band roles.

    Parameters
    ----------
    src : RasterSource
        The raster (:func:`gis.raster.raster_source`, with ``sensor``/``bands`` for the roles).
    roles : sequence of str
        Three band roles shown as red, green, blue: ``("R", "G", "B")`` for true colour,
        ``("NIR", "R", "G")`` for the false-colour infrared that shows vegetation red.
    max_side : int
        Longest side of the image in pixels.
    max_bytes : int
        Most text the image and mask may add to the map file (base64).

    Raises
    ------
    RasterError
        Not three roles, a role the raster lacks (the message lists its roles), or several
        scenes.
    DataSourceError
        The pixels cannot be read.
    """
    if len(roles) != 3:
        raise RasterError(
            f"a quicklook shows three bands as red, green, blue; got {','.join(roles)} — "
            "pass e.g. --quicklook-bands R,G,B or NIR,R,G",
            zh=f"快视图以红、绿、蓝显示三个波段，而给出的是 {','.join(roles)}——"
            "请给出如 --quicklook-bands R,G,B 或 NIR,R,G",
        )
    if src.parts:
        raise RasterError(
            f"{src.path} is {len(src.parts)} scenes; a quicklook shows one image — give one "
            "scene or product, or a VRT of the scenes (gdalbuildvrt) when they share a CRS",
            zh=f"{src.path} 有 {len(src.parts)} 景；快视图只显示一幅影像——请给出一景或一个产品，"
            "各景坐标系相同时也可给出它们的 VRT（`gdalbuildvrt`）",
        )
    transform, width, height = mercator_grid(src, max_side)
    rgb, valid = warp_rgb(src, roles, max_side=max_side)
    image, mask, w, h = encode(rgb, valid, max_bytes=max_bytes)
    label = src.path.replace("\\", "/").rsplit("/", 1)[-1]
    return Quicklook(image, mask, lonlat_bounds(transform, width, height), w, h, label)
