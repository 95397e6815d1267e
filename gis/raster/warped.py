"""Reading a source on another grid: a WarpedVRT over only the bands a read needs.

GDAL's warped VRT warps every band of its source for each block it computes. A four-band
GeoTIFF read for NDVI needs two, so the reader opens, per set of bands asked for, a warped VRT
over a VRT holding just those bands (plus the source's alpha band and per-dataset mask). Where
no valid source pixel reaches, the warp writes the source's nodata value; a source without one
(or with an alpha band or mask) gets an alpha band last, 0 there. Nothing is copied.

A plain file in the analysis grid's own CRS (north-up, validity from nodata only) needs no
warper: a VRT scales it onto the grid (same resampling, GDAL's raster I/O, about twice as
fast as the warper's ``average``), and a pixel whose centre lies outside the file is invalid.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import numpy as np
import rasterio.env
from numpy.typing import NDArray
from rasterio.windows import Window

from gis.io.rasters import (
    GDAL_TYPES,
    open_raster,
    raster_env,
    read_window,
    vrt_header,
    warped_vrt,
)
from gis.raster.grid import Grid
from gis.raster.source import (
    DatasetMask,
    RasterReader,
    RasterSource,
    mask_flags,
    open_source_env,
)


def scalable(src: RasterSource, grid: Grid) -> bool:
    """Whether ``src`` can be put on ``grid`` by a scaling VRT instead of the warper."""
    from pyproj import CRS

    t, g = src.transform, grid.transform
    return (
        not src.dataset
        and src.dataset_mask is DatasetMask.NONE
        and src.alpha_index is None
        and t.b == t.d == g.b == g.d == 0
        and CRS.from_wkt(src.crs_wkt).equals(CRS.from_wkt(grid.crs_wkt))
    )


def scaled_vrt(
    src: RasterSource, bands: Sequence[int], dtypes: Sequence[str], grid: Grid, resampling: str
) -> tuple[str, tuple[float, float, float, float]]:
    """Return a VRT putting ``bands`` of ``src`` on ``grid`` (same CRS), and the file's extent.

    The extent is in ``grid`` pixels: (col0, row0, col1, row1).

    Examples
    --------
    >>> from affine import Affine
    >>> from gis.sensors import Sensor
    >>> s = RasterSource("a.tif", Sensor.GENERIC, ("R",), 1.0, 0.0, 0, crs_wkt="",
    ...     transform=Affine(10, 0, 0, 0, -10, 100), width=10, height=10)
    >>> _, rect = scaled_vrt(s, [1], ["uint16"], Grid("", Affine(20, 0, 0, 0, -20, 100), 5, 5),
    ...     "average")
    >>> rect
    (0.0, 0.0, 5.0, 5.0)
    """
    t, g = src.transform, grid.transform
    x0, y0 = (t.c - g.c) / g.a + 0.0, (t.f - g.f) / g.e + 0.0  # no -0.0
    xs, ys = src.width * t.a / g.a, src.height * t.e / g.e
    name = escape(src.path)
    nodata = f"<NoDataValue>{src.nodata!r}</NoDataValue>" if src.nodata is not None else ""
    inner = f"<NODATA>{src.nodata!r}</NODATA>" if src.nodata is not None else ""
    parts = [vrt_header(grid.width, grid.height, grid.crs_wkt, g)]
    for k, b in enumerate(bands, start=1):
        parts.append(
            f'<VRTRasterBand dataType="{GDAL_TYPES.get(dtypes[b - 1], "Float32")}" '
            f'band="{k}">{nodata}<ComplexSource resampling="{resampling}"><SourceFilename '
            f'relativeToVRT="0">{name}</SourceFilename><SourceBand>{b}</SourceBand>'
            f'<SrcRect xOff="0" yOff="0" xSize="{src.width}" ySize="{src.height}"/>'
            f'<DstRect xOff="{x0!r}" yOff="{y0!r}" xSize="{xs!r}" ySize="{ys!r}"/>{inner}'
            "</ComplexSource></VRTRasterBand>"
        )
    parts.append("</VRTDataset>")
    return "".join(parts), (x0, y0, x0 + xs, y0 + ys)


def band_subset_vrt(src: RasterSource, bands: Sequence[int], dtypes: Sequence[str]) -> str:
    """Return the XML of a VRT holding ``bands`` (1-based) of ``src``'s file, then its alpha.

    A product (``src.dataset`` is already a VRT) keeps its own band elements; a file gets one
    source per band. The source's per-dataset mask (internal or ``.msk``) comes along.

    Examples
    --------
    >>> from gis.sensors import Sensor
    >>> s = RasterSource("a.tif", Sensor.GENERIC, ("R", "NIR"), 1.0, 0.0, 0, width=2, height=2)
    >>> xml = band_subset_vrt(s, [2], ["uint16", "uint16"])
    >>> "<SourceBand>2</SourceBand>" in xml and 'band="1"' in xml
    True
    """
    wanted = [*bands, src.alpha_index] if src.alpha_index is not None else list(bands)
    if src.dataset:
        tree = ElementTree.fromstring(src.dataset)
        elements = tree.findall("VRTRasterBand")
        for el in elements:
            tree.remove(el)
        for k, b in enumerate(wanted, start=1):
            el = elements[b - 1]
            el.set("band", str(k))
            tree.append(el)
        return ElementTree.tostring(tree, encoding="unicode")
    name = escape(src.path)
    parts = [vrt_header(src.width, src.height, src.crs_wkt, src.transform)]
    for k, b in enumerate(wanted, start=1):
        nodata = f"<NoDataValue>{src.nodata!r}</NoDataValue>" if src.nodata is not None else ""
        alpha = "<ColorInterp>Alpha</ColorInterp>" if b == src.alpha_index else ""
        parts.append(
            f'<VRTRasterBand dataType="{GDAL_TYPES.get(dtypes[b - 1], "Float32")}" '
            f'band="{k}">{nodata}{alpha}<SimpleSource><SourceFilename relativeToVRT="0">'
            f"{name}</SourceFilename><SourceBand>{b}</SourceBand></SimpleSource></VRTRasterBand>"
        )
    if src.dataset_mask is DatasetMask.PER_DATASET:
        parts.append(
            '<MaskBand><VRTRasterBand dataType="Byte"><SimpleSource><SourceFilename '
            f'relativeToVRT="0">{name}</SourceFilename><SourceBand>mask,1</SourceBand>'
            "</SimpleSource></VRTRasterBand></MaskBand>"
        )
    parts.append("</VRTDataset>")
    return "".join(parts)


class WarpedReader(RasterReader):
    """An opened warped :class:`RasterSource`: one WarpedVRT per set of bands read.

    The warped datasets open on the first read of their bands, in whichever thread reads.
    A worker thread has no GDAL environment of its own, and a dataset opened without one
    keeps a default environment that its closing (in the thread that opened the reader)
    tears down there, closing that thread's environment under it (``EnvError``). So a
    dataset opened outside any environment is opened inside this reader's own, left as soon
    as it is open.
    """

    def __init__(
        self,
        source: RasterSource,
        stack: contextlib.ExitStack,
        mask: Any,
        *,
        cachemax_mb: int = 64,
    ) -> None:
        super().__init__(source, None, mask)
        assert source.warp is not None
        self.base = source.warp.base
        self._stack = stack
        self._cachemax_mb = cachemax_mb
        self._lock = threading.Lock()
        self._dtypes = stack.enter_context(open_raster(self.base.dataset or self.base.path)).dtypes
        self._warped: dict[tuple[int, ...], Any] = {}
        self._extent: tuple[float, float, float, float] | None = None
        self._scaled = scalable(self.base, source.warp.grid)
        b = self.base
        # with a nodata value (and no alpha or mask) the warp writes nodata where no valid
        # pixel reaches, so no alpha band is warped and read
        self._alpha = (
            b.nodata is None or b.alpha_index is not None or b.dataset_mask is not DatasetMask.NONE
        )

    @classmethod
    def opened(
        cls, source: RasterSource, stack: contextlib.ExitStack, *, cachemax_mb: int
    ) -> RasterReader:
        """Open ``source``'s file through warps, its mask raster on the analysis grid.

        Warps are computed block by block (``raster_env(warp_by_block=True)``): a pixel has
        one value whatever window reads it.
        """
        mask = open_source_env(source, stack, cachemax_mb=cachemax_mb, warp_by_block=True)
        if mask is not None:
            mask = stack.enter_context(_warped_mask(source, mask))
        return cls(source, stack, mask, cachemax_mb=cachemax_mb)

    def _dataset(self, idx: Sequence[int]) -> Any:
        """Return the warped dataset of bands ``idx``, opened on first use (in any thread)."""
        key = tuple(idx)
        with self._lock:
            if key not in self._warped:
                env = (
                    contextlib.nullcontext()
                    if rasterio.env.hasenv()
                    else raster_env(cachemax_mb=self._cachemax_mb, warp_by_block=True)
                )
                with env:
                    self._warped[key] = self._open(key)
        return self._warped[key]

    def _open(self, key: tuple[int, ...]) -> Any:
        """Open the warped (or scaled) dataset of bands ``key`` on the reader's stack."""
        warp = self.source.warp
        assert warp is not None
        g = warp.grid
        if self._scaled:
            xml, self._extent = scaled_vrt(self.base, key, self._dtypes, g, warp.resampling)
            return self._stack.enter_context(open_raster(xml))
        subset = self._stack.enter_context(
            open_raster(band_subset_vrt(self.base, key, self._dtypes))
        )
        return self._stack.enter_context(
            warped_vrt(
                subset,
                crs_wkt=g.crs_wkt,
                transform=g.transform,
                width=g.width,
                height=g.height,
                resampling=warp.resampling,
                src_crs_wkt=self.base.crs_wkt,
                add_alpha=self._alpha and self.base.alpha_index is None,
                block=max(self.source.block_shape),
                copy_nodata=not self._alpha and warp.resampling == "nearest",
            )
        )

    def _read_raw(
        self, idx: list[int], win: Window
    ) -> tuple[NDArray[Any], NDArray[np.bool_] | None]:
        """Raw bands ``idx`` (of the file) in ``win`` of the analysis grid, and the invalid."""
        masked: NDArray[np.bool_] | None = None
        if self._scaled:
            raw = read_window(self._dataset(idx), list(range(1, len(idx) + 1)), win)
            masked = self._outside(win)
        elif self._alpha:
            raw = read_window(self._dataset(idx), list(range(1, len(idx) + 2)), win)
            raw, masked = raw[:-1], raw[-1] == 0
        else:
            raw = read_window(self._dataset(idx), list(range(1, len(idx) + 1)), win)
        if self.mask is not None:
            flagged = mask_flags(read_window(self.mask, 1, win), self.source)
            masked = flagged if masked is None else masked | flagged
        return raw, masked

    def _outside(self, win: Window) -> NDArray[np.bool_]:
        """Pixels of ``win`` whose centre lies outside the file (scaled reads only)."""
        assert self._extent is not None
        x0, y0, x1, y1 = self._extent
        cols = np.arange(int(win.width)) + int(win.col_off) + 0.5
        rows = np.arange(int(win.height)) + int(win.row_off) + 0.5
        return ~((rows >= y0) & (rows < y1))[:, None] | ~((cols >= x0) & (cols < x1))[None, :]


def _warped_mask(source: RasterSource, dataset: Any) -> Any:
    """Return the mask raster on the analysis grid (nearest, or mode when coarsened)."""
    assert source.warp is not None
    g = source.warp.grid
    return warped_vrt(
        dataset,
        crs_wkt=g.crs_wkt,
        transform=g.transform,
        width=g.width,
        height=g.height,
        resampling=source.warp.mask_resampling,
        src_crs_wkt=source.warp.base.crs_wkt,
        add_alpha=False,
        block=max(source.block_shape),
    )
