"""The pixel grid of a raster and its tiling in windows."""

from __future__ import annotations

from dataclasses import dataclass

from affine import Affine
from rasterio.windows import Window


@dataclass(frozen=True)
class Grid:
    """The pixel grid of a raster: CRS (WKT), transform and size.

    Statistics are taken on this grid; rasters are never resampled.
    """

    crs_wkt: str
    transform: Affine
    width: int
    height: int

    def same_as(self, other: Grid) -> bool:
        """Whether both grids have the same CRS, transform and size."""
        from pyproj import CRS

        return (
            self.width == other.width
            and self.height == other.height
            and self.transform.almost_equals(other.transform, precision=1e-9)
            and CRS.from_wkt(self.crs_wkt).equals(CRS.from_wkt(other.crs_wkt))
        )

    @property
    def res(self) -> tuple[float, float]:
        """Pixel width and height in CRS units."""
        return abs(self.transform.a), abs(self.transform.e)


def grid_windows(grid: Grid, size: int, block_shape: tuple[int, int] = (1, 1)) -> list[Window]:
    """Tile ``grid`` in row-major windows of ``size`` pixels rounded up to whole blocks.

    Examples
    --------
    >>> g = Grid("", Affine.identity(), 5, 3)
    >>> [tuple(w.flatten()) for w in grid_windows(g, 2)][:3]
    [(0, 0, 2, 2), (2, 0, 2, 2), (4, 0, 1, 2)]
    """
    sh, sw = tile_shape(size, block_shape)
    return [
        Window(c, r, min(sw, grid.width - c), min(sh, grid.height - r))
        for r in range(0, grid.height, sh)
        for c in range(0, grid.width, sw)
    ]


def tile_shape(size: int, block_shape: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    """Return the (rows, cols) of :func:`grid_windows` tiles: ``size`` rounded up to blocks.

    Examples
    --------
    >>> tile_shape(1000, (256, 256))
    (1024, 1024)
    """
    bh, bw = block_shape
    return max(bh, -(-size // bh) * bh), max(bw, -(-size // bw) * bw)
