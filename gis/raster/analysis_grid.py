"""One analysis grid for two dates (or several scenes): the rule, and sources warped onto it.

A pair already on one grid is read as it is. When the grids differ (origin, CRS or
resolution), both dates are read on one **analysis grid**, chosen by this rule:

- its CRS is the before image's;
- its pixel is the coarser of the two (compared in metres); when the before image is the
  coarser (or both are equal), the analysis grid *is* the before grid;
- otherwise it starts at the before image's upper-left corner (aligned to it) and covers the
  before image's extent, with the after image's pixel size.

A date not on the analysis grid is read through a GDAL warped virtual dataset (rasterio
``WarpedVRT``), window by window — never a whole-scene copy — with:

- ``average`` when its pixels are finer than the analysis grid's by more than 1 % (each
  analysis pixel is the area-weighted mean of the valid pixels it covers);
- ``nearest`` when the pixel sizes agree within 1 % (another origin or CRS): each analysis
  pixel takes the source pixel under its centre; values are not smoothed, and the shift of
  at most half a pixel is within the check's misregistration tolerance (``tolerance_px``);
- ``bilinear`` when its pixels are coarser than the grid's (a coarser scene in a mosaic);
- ``nearest`` for a categorical mask (Sentinel-2 SCL, QA bits) not coarsened, ``mode`` when
  coarsened.

Only the bands a read needs are warped (:mod:`gis.raster.warped`). Pixels of the analysis
grid that no valid source pixel reaches are invalid (an alpha band the
warp adds, or the source's own alpha). The finding ``grids_aligned`` names the grid and the
resampling of each date.

Examples
--------
>>> resampling_for(10.0, 30.0)
'average'
>>> resampling_for(10.0, 10.0), resampling_for(30.0, 10.0)
('nearest', 'bilinear')
>>> resampling_for(10.0, 30.0, categorical=True)
'mode'
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from affine import Affine
from pyproj import CRS

from gis.errors import RasterError
from gis.findings import Findings
from gis.raster.grid import Grid
from gis.raster.source import RasterSource, Warp
from gis.raster.warped import WarpedReader

COARSER = 1.01
"""A source is coarsened (``average``) when the analysis pixel is this many times its own."""

WARP_BLOCK = 128
"""Block size of the warped virtual datasets (windows of the analysis grid align to it)."""


def pixel_size_m(grid: Grid) -> float:
    """Return the mean pixel side of ``grid`` in metres (degrees converted at its centre).

    Examples
    --------
    >>> g = Grid(CRS.from_epsg(4551).to_wkt(), Affine(2, 0, 0, 0, -2, 0), 10, 10)
    >>> pixel_size_m(g)
    2.0
    """
    crs = CRS.from_wkt(grid.crs_wkt)
    xres, yres = grid.res
    if crs.is_geographic:
        lat = grid.transform.f + grid.transform.e * grid.height / 2
        return (xres * 111_320.0 * math.cos(math.radians(lat)) + yres * 110_574.0) / 2
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return (xres + yres) / 2 * unit


def resampling_for(source_m: float, target_m: float, *, categorical: bool = False) -> str:
    """Return the resampling (GDAL name) that brings ``source_m`` pixels to ``target_m``."""
    coarsened = target_m > source_m * COARSER
    if categorical:
        return "mode" if coarsened else "nearest"
    if coarsened:
        return "average"
    return "bilinear" if source_m > target_m * COARSER else "nearest"


def footprint(grid: Grid, crs_wkt: str) -> tuple[float, float, float, float]:
    """Return the bounds of ``grid`` in ``crs_wkt`` (densified edges)."""
    from rasterio.warp import transform_bounds

    t = grid.transform
    left, top = t.c, t.f
    right, bottom = left + t.a * grid.width, top + t.e * grid.height
    if CRS.from_wkt(grid.crs_wkt).equals(CRS.from_wkt(crs_wkt)):
        return left, bottom, right, top
    return tuple(  # type: ignore[return-value]
        transform_bounds(grid.crs_wkt, crs_wkt, left, bottom, right, top, densify_pts=21)
    )


def overlaps(a: Grid, b: Grid) -> bool:
    """Whether the footprints of ``a`` and ``b`` overlap (in ``a``'s CRS)."""
    ax0, ay0, ax1, ay1 = footprint(a, a.crs_wkt)
    bx0, by0, bx1, by1 = footprint(b, a.crs_wkt)
    return bx0 < ax1 and ax0 < bx1 and by0 < ay1 and ay0 < by1


def analysis_grid(before: Grid, after: Grid) -> Grid:
    """Return the analysis grid of two grids by the module's rule (before CRS, coarser pixel).

    Examples
    --------
    >>> wkt = CRS.from_epsg(4551).to_wkt()
    >>> b = Grid(wkt, Affine(10, 0, 1000, 0, -10, 5000), 100, 50)
    >>> g = analysis_grid(b, Grid(wkt, Affine(30, 0, 1003, 0, -30, 5001), 40, 20))
    >>> tuple(g.transform)[:6], g.width, g.height
    ((30.0, 0.0, 1000.0, 0.0, -30.0, 5000.0), 34, 17)
    """
    size_b, size_a = pixel_size_m(before), pixel_size_m(after)
    if size_a <= size_b * COARSER:
        return before
    ratio = size_a / size_b
    t = before.transform
    transform = Affine(t.a * ratio, 0.0, t.c, 0.0, t.e * ratio, t.f)
    width = max(1, math.ceil(before.width / ratio - 1e-9))
    height = max(1, math.ceil(before.height / ratio - 1e-9))
    return Grid(before.crs_wkt, transform, width, height)


def base_of(src: RasterSource) -> RasterSource:
    """Return ``src`` as its file stores it (before any :func:`on_grid`)."""
    return src.warp.base if src.warp is not None else src


def on_grid(src: RasterSource, grid: Grid) -> RasterSource:
    """Return ``src`` read on ``grid``: itself when already there, else through a warp.

    A mosaic (``parts``) puts each of its scenes on ``grid``. The resampling follows
    :func:`resampling_for` from the file's own pixel size.
    """
    if src.parts:
        parts = tuple(on_grid(p, grid) for p in src.parts)
        return replace(src, parts=parts, **_grid_fields(grid))
    base = base_of(src)
    if base.grid.same_as(grid):
        return base
    size_src, size_dst = pixel_size_m(base.grid), pixel_size_m(grid)
    warp = Warp(
        grid,
        resampling_for(size_src, size_dst),
        resampling_for(size_src, size_dst, categorical=True),
        base,
    )
    return replace(base, **_grid_fields(grid), warp=warp, reader=WarpedReader)


def _grid_fields(grid: Grid) -> dict[str, Any]:
    """Return the :class:`RasterSource` fields of a source read on ``grid`` (warped blocks)."""
    return {
        "crs_wkt": grid.crs_wkt,
        "transform": grid.transform,
        "width": grid.width,
        "height": grid.height,
        "block_shape": (min(WARP_BLOCK, grid.height), min(WARP_BLOCK, grid.width)),
    }


def common_grid(
    before: RasterSource, after: RasterSource, *, findings: Findings | None = None
) -> tuple[RasterSource, RasterSource]:
    """Return both dates on one analysis grid (as they are when they share one).

    Raises
    ------
    RasterError
        The two images do not overlap at all.
    """
    if before.grid.same_as(after.grid) and not (before.parts or after.parts):
        return before, after
    if not overlaps(before.grid, after.grid):
        raise RasterError(
            f"the after image {after.path} does not overlap the before image {before.path} "
            "at all; give two images of the same place",
            zh=f"后期影像 {after.path} 与前期影像 {before.path} 完全不重叠；"
            "请给出同一地点的两期影像",
        )
    grid = analysis_grid(before.grid, after.grid)
    pair = on_grid(before, grid), on_grid(after, grid)
    if findings is not None and not (before.grid.same_as(grid) and after.grid.same_as(grid)):
        en, zh = describe_alignment(grid, {"before": before, "after": after})
        findings.add("grids_aligned", en, severity="info", source=after.path, zh=zh)
    return pair


def describe_alignment(grid: Grid, dates: dict[str, RasterSource]) -> tuple[str, str]:
    """Say (English, Chinese) what grid the dates are read on and how each got there."""
    crs = CRS.from_wkt(grid.crs_wkt)
    name = crs.to_string()
    size = pixel_size_m(grid)
    words_en, words_zh = [], []
    zh_date = {"before": "前期", "after": "后期"}
    for date, src in dates.items():
        base = base_of(src)
        if base.grid.same_as(grid) and not src.parts:
            words_en.append(f"{date} read as it is")
            words_zh.append(f"{zh_date.get(date, date)}按原样读取")
            continue
        how = resampling_for(pixel_size_m(base.grid), size)
        own = CRS.from_wkt(base.grid.crs_wkt).to_string()
        words_en.append(f"{date} ({own}, {pixel_size_m(base.grid):g} m) warped with {how}")
        words_zh.append(
            f"{zh_date.get(date, date)}（{own}，{pixel_size_m(base.grid):g} 米）以 {how} 重采样"
        )
    en = (
        f"the dates are not on one grid: statistics are taken on one analysis grid ({name}, "
        f"{size:g} m pixels, {grid.width}x{grid.height}, aligned to the before image): "
        + "; ".join(words_en)
        + " (warped virtually, window by window)"
    )
    zh = (
        f"两期影像不在同一格网：统计在统一分析格网上进行（{name}，像元 {size:g} 米，"
        f"{grid.width}x{grid.height}，与前期影像对齐）："
        + "；".join(words_zh)
        + "（虚拟重投影，按窗口读取）"
    )
    return en, zh
