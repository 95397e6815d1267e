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

import numpy as np
from affine import Affine
from pyproj import CRS
from rasterio.warp import transform

from gis.crs import crs_label
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
    """Return the bounds of ``grid`` in ``crs_wkt`` (edges densified to 21 points each).

    The points go through GDAL's coordinate transformation, which GDAL keeps between calls
    (creating one costs about 50 ms; the warps of the same pair of CRSs reuse it).
    """
    t = grid.transform
    left, top = t.c, t.f
    right, bottom = left + t.a * grid.width, top + t.e * grid.height
    if CRS.from_wkt(grid.crs_wkt).equals(CRS.from_wkt(crs_wkt)):
        return left, bottom, right, top
    f = np.linspace(0.0, 1.0, 21)
    xs = np.concatenate([left + (right - left) * f, np.full(21, right)])
    xs = np.concatenate([xs, right - (right - left) * f, np.full(21, left)])
    ys = np.concatenate([np.full(21, top), top + (bottom - top) * f, np.full(21, bottom)])
    ys = np.concatenate([ys, bottom - (bottom - top) * f])
    x, y = transform(grid.crs_wkt, crs_wkt, xs.tolist(), ys.tolist())
    return min(x), min(y), max(x), max(y)


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


def file_span(src: RasterSource, cols: int) -> tuple[int, int]:
    """Return the pixels of a warped ``src``'s file across ``cols`` columns of its grid.

    (columns, rows): the file columns the grid's top edge spans over ``cols`` grid columns,
    and the file rows it climbs or falls there (a grid in another CRS is rotated against the
    file). A source read as it is spans ``(cols, 0)``.

    Examples
    --------
    >>> wkt = CRS.from_epsg(32651).to_wkt()
    >>> from gis.sensors import Sensor
    >>> base = RasterSource("a.tif", Sensor.GENERIC, ("R",), 1.0, 0.0, 0, crs_wkt=wkt,
    ...     transform=Affine(10, 0, 0, 0, -10, 0), width=100, height=100)
    >>> file_span(on_grid(base, Grid(wkt, Affine(20, 0, 0, 0, -20, 0), 50, 50)), 50)
    (100, 0)
    """
    if src.warp is None:
        return cols, 0
    base = src.warp.base
    # a step along the file's top row, on the grid (the direction the warp transforms in)
    x, y = base.transform @ (0, 0), base.transform @ (base.width, 0)
    xs, ys = [x[0], y[0]], [x[1], y[1]]
    if not CRS.from_wkt(base.crs_wkt).equals(CRS.from_wkt(src.crs_wkt)):
        xs, ys = transform(base.crs_wkt, src.crs_wkt, xs, ys)
    (c0, r0), (c1, r1) = ~src.transform @ (xs[0], ys[0]), ~src.transform @ (xs[1], ys[1])
    step = math.hypot(c1 - c0, r1 - r0) / base.width  # grid pixels per file pixel
    along = cols / step  # file pixels along the grid's top edge
    sin = abs(r1 - r0) / math.hypot(c1 - c0, r1 - r0)
    return math.ceil(along * math.sqrt(1 - sin * sin) - 1e-9), math.ceil(along * sin - 1e-9)


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


def previous_on(
    current: Grid, previous: RasterSource, *, findings: Findings | None = None
) -> RasterSource:
    """Return the earlier image of ``detect discolored --previous`` on the pair's analysis grid.

    The same rule as :func:`common_grid`, the image analysed (``current``, on which the crowns
    were found) in the before image's place: its CRS, the coarser pixel of the two, aligned to
    it; the earlier image is warped onto that grid (``average`` when coarsened, ``nearest`` at
    the same pixel size, ``bilinear`` from coarser pixels), virtually, by window. On the same
    grid it is read as it is. The finding ``previous_aligned`` says what was done.

    Raises
    ------
    RasterError
        The earlier image does not overlap the image at all.
    """
    if previous.grid.same_as(current) and not previous.parts:
        return previous
    if not overlaps(current, previous.grid):
        raise RasterError(
            f"the earlier image {previous.path} (--previous) does not overlap the image at "
            "all; give an earlier image of the same place",
            zh=f"前期影像 {previous.path}（--previous）与当前影像完全不重叠；"
            "请给出同一地点的前期影像",
        )
    grid = analysis_grid(current, previous.grid)
    out = on_grid(previous, grid)
    if findings is not None:
        en, zh = _describe_previous(grid, base_of(previous), warped=out is not base_of(previous))
        findings.add("previous_aligned", en, severity="info", source=previous.path, zh=zh)
    return out


def _describe_previous(grid: Grid, base: RasterSource, *, warped: bool) -> tuple[str, str]:
    """Say (English, Chinese) how the earlier image is read on the analysis ``grid``."""
    how = resampling_for(pixel_size_m(base.grid), pixel_size_m(grid))
    own, size = CRS.from_wkt(base.crs_wkt), pixel_size_m(base.grid)
    name, shape = CRS.from_wkt(grid.crs_wkt), f"{grid.width}x{grid.height}"
    done = (f"warped with {how}", f"以 {how} 重采样") if warped else ("read as it is", "按原样读取")
    en = (
        f"the earlier image ({crs_label(own, 'en')}, {size:g} m) is not on the grid of the "
        f"image analysed: it is read on one analysis grid ({crs_label(name, 'en')}, "
        f"{pixel_size_m(grid):g} m pixels, {shape}, "
        f"aligned to the image analysed), {done[0]} (virtually, window by window)"
    )
    zh = (
        f"前期影像（{crs_label(own)}，{size:g} 米）与当前影像不在同一格网：在统一分析格网上读取"
        f"（{crs_label(name)}，"
        f"像元 {pixel_size_m(grid):g} 米，{shape}，与当前影像对齐），{done[1]}"
        "（虚拟重投影，按窗口读取）"
    )
    return en, zh


def describe_alignment(grid: Grid, dates: dict[str, RasterSource]) -> tuple[str, str]:
    """Say (English, Chinese) what grid the dates are read on and how each got there."""
    crs = CRS.from_wkt(grid.crs_wkt)
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
        own, px = CRS.from_wkt(base.grid.crs_wkt), pixel_size_m(base.grid)
        words_en.append(f"{date} ({crs_label(own, 'en')}, {px:g} m) warped with {how}")
        words_zh.append(f"{zh_date.get(date, date)}（{crs_label(own)}，{px:g} 米）以 {how} 重采样")
    en = (
        "the dates are not on one grid: statistics are taken on one analysis grid "
        f"({crs_label(crs, 'en')}, "
        f"{size:g} m pixels, {grid.width}x{grid.height}, aligned to the before image): "
        + "; ".join(words_en)
        + " (warped virtually, window by window)"
    )
    zh = (
        f"两期影像不在同一格网：统计在统一分析格网上进行（{crs_label(crs)}，像元 {size:g} 米，"
        f"{grid.width}x{grid.height}，与前期影像对齐）："
        + "；".join(words_zh)
        + "（虚拟重投影，按窗口读取）"
    )
    return en, zh
