"""Several scenes of one date read as one virtual mosaic, across UTM / Gauss-Krüger zones.

A city is often covered by several scenes per date (Changchun straddles UTM zones 51 and 52
at 126°E; provincial GF mosaics come cut into sheets). :func:`mosaic_source` reads them as one
:class:`~gis.raster.RasterSource`:

- the mosaic grid has the first scene's CRS and pixel size, aligned to its origin, and covers
  the union of the scenes' footprints;
- every scene is read on that grid through its own warped virtual dataset
  (:func:`gis.raster.analysis_grid.on_grid`: ``nearest`` for another zone at the same pixel
  size, ``average`` for a finer scene, ``bilinear`` for a coarser one) — nothing is copied;
- **overlap rule: the first valid pixel in the order given** (a list in its order, a folder
  by file name): a pixel cloudy or outside the first scene is taken from the next.

When the mosaic is paired with another date, each scene is warped straight from its file onto
the analysis grid (one resampling, never two).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from affine import Affine
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.windows import Window

from gis.crs import crs_label
from gis.errors import RasterError
from gis.findings import Findings
from gis.raster.analysis_grid import base_of, footprint, on_grid, pixel_size_m
from gis.raster.grid import Grid
from gis.raster.source import RasterReader, RasterSource

OVERLAP_RULE = "first valid pixel in the order given"
"""How overlapping scenes of one date are combined (recorded in the run table)."""


def mosaic_grid(grids: Sequence[Grid]) -> Grid:
    """Return the grid covering every grid's footprint, in the first one's CRS, pixel, origin.

    Examples
    --------
    >>> wkt = CRS.from_epsg(32651).to_wkt()
    >>> a = Grid(wkt, Affine(10, 0, 0, 0, -10, 100), 10, 10)
    >>> g = mosaic_grid([a, Grid(wkt, Affine(10, 0, 95, 0, -10, 100), 10, 10)])
    >>> g.transform.c, g.width, g.height
    (0.0, 20, 10)
    """
    first = grids[0]
    t = first.transform
    boxes = np.array([footprint(g, first.crs_wkt) for g in grids])
    c0 = math.floor((boxes[:, 0].min() - t.c) / t.a + 1e-9)
    c1 = math.ceil((boxes[:, 2].max() - t.c) / t.a - 1e-9)
    r0 = math.floor((boxes[:, 3].max() - t.f) / t.e + 1e-9)
    r1 = math.ceil((boxes[:, 1].min() - t.f) / t.e - 1e-9)
    transform = Affine(t.a, 0.0, t.c + c0 * t.a, 0.0, t.e, t.f + r0 * t.e)
    return Grid(first.crs_wkt, transform, c1 - c0, r1 - r0)


def mosaic_source(
    scenes: Sequence[RasterSource], *, name: str | None = None, findings: Findings | None = None
) -> RasterSource:
    """Return the scenes of one date as one mosaic source (one scene: itself).

    Raises
    ------
    RasterError
        The scenes carry different band roles.
    """
    if len(scenes) == 1:
        return scenes[0]
    first = scenes[0]
    for s in scenes[1:]:
        if s.roles != first.roles:
            raise RasterError(
                f"scene {s.path} has bands {','.join(s.roles)} but {first.path} has "
                f"{','.join(first.roles)}; the scenes of one date need the same bands — give "
                "--bands, or mosaic scenes of one sensor",
                zh=f"景 {s.path} 的波段为 {','.join(s.roles)}，而 {first.path} 的为 "
                f"{','.join(first.roles)}；同一期的各景须有相同的波段——请给出 --bands，"
                "或只镶嵌同一传感器的景",
            )
    grid = mosaic_grid([s.grid for s in scenes])
    label = name or " + ".join(s.path for s in scenes)
    product = f"mosaic of {len(scenes)} scenes ({first.product or 'GeoTIFF'}; {OVERLAP_RULE})"
    mosaic = replace(first, path=label, dataset="", product=product, mask_path=None, warp=None)
    mosaic = replace(
        mosaic, acquired=_common_date(scenes), parts=tuple(scenes), reader=MosaicReader
    )
    mosaic = on_grid(mosaic, grid)
    if findings is not None:
        crss = sorted({CRS.from_wkt(s.crs_wkt) for s in scenes}, key=lambda c: c.to_string())
        crs = CRS.from_wkt(grid.crs_wkt)
        size = pixel_size_m(grid)
        findings.add(
            "mosaic",
            f"{len(scenes)} scenes ({', '.join(crs_label(c, 'en') for c in crss)}) read as one "
            f"mosaic on {crs_label(crs, 'en')}, {size:g} m "
            f"pixels ({grid.width}x{grid.height}); where they overlap the {OVERLAP_RULE} is "
            "taken; scenes in another zone or grid are warped virtually (nearest at the same "
            "pixel size, average from finer pixels, bilinear from coarser)",
            severity="info",
            source=label,
            zh=f"{len(scenes)} 景影像（{'、'.join(crs_label(c) for c in crss)}）按一幅镶嵌读取："
            f"{crs_label(crs)}，像元 {size:g} 米"
            f"（{grid.width}x{grid.height}）；重叠处取按给定顺序的第一个有效像元；"
            "其他投影带或格网的影像虚拟重投影（像元大小相同取最邻近，由细到粗取平均，"
            "由粗到细取双线性）",
        )
    return mosaic


def _common_date(scenes: Sequence[RasterSource]) -> str | None:
    dates = {s.acquired for s in scenes if s.acquired}
    return dates.pop() if len(dates) == 1 else None


class MosaicReader(RasterReader):
    """An opened mosaic: reads every scene touching a window, first valid pixel in order."""

    def __init__(self, source: RasterSource, readers: Sequence[RasterReader]) -> None:
        super().__init__(source, None)
        self.readers = list(readers)
        self.extents = [_pixel_extent(base_of(p).grid, source.grid) for p in source.parts]

    @classmethod
    def opened(
        cls, source: RasterSource, stack: contextlib.ExitStack, *, cachemax_mb: int
    ) -> RasterReader:
        """Open every scene of the mosaic on ``stack``; return the mosaic's reader."""
        readers = [stack.enter_context(p.open(cachemax_mb=cachemax_mb)) for p in source.parts]
        return cls(source, readers)

    def read_array(
        self, window: Window, roles: Sequence[str], *, halo: int = 0
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """Read ``roles`` in ``window`` (grown by ``halo``) from the scenes, first valid first."""
        rows, cols = int(window.height) + 2 * halo, int(window.width) + 2 * halo
        values = np.full((len(roles), rows, cols), np.nan, np.float32)
        invalid = np.ones((rows, cols), dtype=bool)
        c0, r0 = int(window.col_off) - halo, int(window.row_off) - halo
        with self.one_read():
            for reader, (x0, y0, x1, y1) in zip(self.readers, self.extents, strict=True):
                if x1 <= c0 or x0 >= c0 + cols or y1 <= r0 or y0 >= r0 + rows:
                    continue
                v, bad = reader.read_array(window, roles, halo=halo)
                take = invalid & ~bad
                values[:, take] = v[:, take]
                invalid &= bad
                if not invalid.any():
                    break
        return values, invalid


def _pixel_extent(grid: Grid, target: Grid) -> tuple[int, int, int, int]:
    """Return the (col0, row0, col1, row1) of ``target`` pixels that ``grid`` may reach."""
    x0, y0, x1, y1 = footprint(grid, target.crs_wkt)
    inv: Any = ~target.transform
    cols, rows = zip(*(inv @ (x, y) for x in (x0, x1) for y in (y0, y1)), strict=True)
    return (
        math.floor(min(cols)) - 1,
        math.floor(min(rows)) - 1,
        math.ceil(max(cols)) + 1,
        math.ceil(max(rows)) + 1,
    )
