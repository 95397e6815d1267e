"""Lookout viewsheds through GDAL's viewshed algorithm (the ``gdal_viewshed`` program).

One ``gdal_viewshed`` per tower, bounded by its range (``-md``: GDAL then computes and writes
only the range's window), with earth curvature and refraction (``-cc``, 0.85714 for visible
light). The per-tower rasters are OR-combined into a count of towers seeing each cell of the DEM
grid (uint8, capped at 255), placed at each output's offset; a tower's raster is read and
deleted as soon as it is done, so disk and memory hold the grid plus the towers in flight.

GDAL's algorithm (Wang, Robinson & White 2000, as implemented in ``gdal/alg/viewshed.cpp``):
a cell is visible when the observer's line of sight clears every cell before it, with the
target raised by ``-tz``; earth curvature lowers far cells by ``(1 - cc) * d² / (2R)``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.crs
import rasterio.shutil
from affine import Affine
from numpy.typing import NDArray

from gis.errors import GisError
from gis.progress import Progress, ticker

INSTALL_HINT = (
    "install GDAL's command-line programs: apt-get install gdal-bin (Debian/Ubuntu), "
    "conda install -c conda-forge gdal (Windows/conda), then make sure gdal_viewshed is on PATH"
)
"""How to get ``gdal_viewshed``."""
INSTALL_HINT_ZH = (
    "请安装 GDAL 命令行程序：apt-get install gdal-bin（Debian/Ubuntu），"
    "conda install -c conda-forge gdal（Windows/conda），并确保 gdal_viewshed 在 PATH 中"
)
"""The same, in Chinese."""


VIEWSHED_CACHE_MB = 64
"""GDAL block cache of each ``gdal_viewshed`` (MB): its default, 5 % of RAM, is per process."""


class ViewshedUnavailableError(GisError):
    """``gdal_viewshed`` is not installed (the CLI exits 3 with :data:`INSTALL_HINT`)."""


@dataclass(frozen=True)
class Dem:
    """A DEM on disk and the facts of its grid (read once by the edge)."""

    path: str
    crs_wkt: str
    transform: Affine
    width: int
    height: int
    crs_in_file: bool = True
    """Whether the file declares ``crs_wkt``; else it came from a ``.prj`` beside the DEM."""

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the DEM's CRS."""
        left, top = self.transform * (0, 0)
        right, bottom = self.transform * (self.width, self.height)
        return min(left, right), min(top, bottom), max(left, right), max(top, bottom)


@dataclass(frozen=True)
class Tower:
    """One lookout tower or camera in the DEM's CRS: observer height and range in metres."""

    tower_id: str
    x: float
    y: float
    height_m: float
    range_m: float


def to_cell(transform: Affine, xs: Any, ys: Any) -> tuple[Any, Any]:
    """Return fractional (col, row) of coordinates on a grid (``~transform`` applied).

    Examples
    --------
    >>> to_cell(Affine(10, 0, 100, 0, -10, 50), 125.0, 35.0)
    (2.5, 1.5)
    """
    inv = ~transform
    return inv.a * xs + inv.b * ys + inv.c, inv.d * xs + inv.e * ys + inv.f


def viewshed_program() -> str:
    """Return the path of ``gdal_viewshed``; raise naming how to install it when absent."""
    found = shutil.which("gdal_viewshed")
    if found is None:
        raise ViewshedUnavailableError(
            f"gdal_viewshed was not found; {INSTALL_HINT}",
            zh=f"找不到 gdal_viewshed；{INSTALL_HINT_ZH}",
        )
    return found


def viewshed_argv(
    program: str,
    dem: Dem,
    tower: Tower,
    out: str,
    *,
    curvature: float,
    target_height_m: float,
) -> list[str]:
    """Return the ``gdal_viewshed`` command of one tower (1 visible, 0 not or out of range).

    Examples
    --------
    >>> dem = Dem("dem.tif", "", Affine(10, 0, 0, 0, -10, 100), 10, 10)
    >>> viewshed_argv("gdal_viewshed", dem, Tower("T1", 50, 50, 20, 3000), "o.tif",
    ...     curvature=0.85714, target_height_m=0)[1:9]
    ['-q', '-b', '1', '-ox', '50', '-oy', '50', '-oz']
    """
    return [
        program, "-q", "-b", "1",
        "-ox", f"{tower.x:.17g}", "-oy", f"{tower.y:.17g}", "-oz", f"{tower.height_m:g}",
        "-tz", f"{target_height_m:g}", "-md", f"{tower.range_m:g}", "-cc", f"{curvature:g}",
        "-vv", "1", "-iv", "0", "-ov", "0", "-om", "NORMAL", "-f", "GTiff",
        "-co", "COMPRESS=NONE", dem.path, out,
    ]  # fmt: skip


def _one(program: str, dem: Dem, tower: Tower, folder: str, params: dict[str, float]) -> Any:
    """Run one viewshed; return (row offset, col offset, visible mask) and delete the file."""
    out = os.path.join(folder, f"vs_{abs(hash(tower.tower_id))}_{id(tower)}.tif")
    argv = viewshed_argv(program, dem, tower, out, **params)
    env = {**os.environ, "GDAL_CACHEMAX": str(VIEWSHED_CACHE_MB)}
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise GisError(
            f"gdal_viewshed failed for tower {tower.tower_id}: {done.stderr.strip()[:300]}",
            zh=f"瞭望塔 {tower.tower_id} 的 gdal_viewshed 运行失败：{done.stderr.strip()[:300]}",
        )
    try:
        with rasterio.open(out) as ds:
            visible = ds.read(1) == 1
            col, row = to_cell(dem.transform, ds.transform.c, ds.transform.f)
    finally:
        Path(out).unlink(missing_ok=True)
    return round(row), round(col), visible


def seen_count(
    dem: Dem,
    towers: Iterable[Tower],
    *,
    curvature: float = 0.85714,
    target_height_m: float = 0.0,
    threads: int = 2,
    progress: Progress | None = None,
) -> NDArray[np.uint8]:
    """Return how many towers see each DEM cell (uint8, capped at 255).

    ``progress(towers_done, towers_total)`` is called as each tower's viewshed is added.

    Raises
    ------
    ViewshedUnavailableError
        ``gdal_viewshed`` is not installed.
    """
    program = viewshed_program()
    grid = np.zeros((dem.height, dem.width), dtype=np.uint8)
    params = {"curvature": curvature, "target_height_m": target_height_m}
    with tempfile.TemporaryDirectory(prefix="linyuan_viewshed_") as folder:
        dem = dem if dem.crs_in_file else _with_crs(dem, folder)
        with ThreadPoolExecutor(max(1, threads)) as pool:
            pending = {pool.submit(_one, program, dem, t, folder, params) for t in towers}
            tick = ticker(progress, len(pending))
            while pending:  # add each as it finishes: no finished mask waits for another
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for job in done:
                    _add(grid, *job.result())
                    if tick is not None:
                        tick()
    return grid


def _with_crs(dem: Dem, folder: str) -> Dem:
    """Return ``dem`` read through a VRT in ``folder`` that declares its CRS.

    ``gdal_viewshed`` takes the earth radius for ``-cc`` from the file's CRS, and applies no
    curvature to a file without one (its CRS from a ``.prj`` beside it, which GDAL ignores).
    """
    vrt = os.path.join(folder, "dem.vrt")
    rasterio.shutil.copy(dem.path, vrt, driver="VRT")
    with rasterio.open(vrt, "r+") as ds:
        ds.crs = rasterio.crs.CRS.from_wkt(dem.crs_wkt)
    return replace(dem, path=vrt, crs_in_file=True)


def _add(grid: NDArray[np.uint8], row: int, col: int, visible: NDArray[np.bool_]) -> None:
    """Add one tower's visible cells into ``grid`` at (row, col), clipped to the grid."""
    r0, c0 = max(row, 0), max(col, 0)
    r1 = min(row + visible.shape[0], grid.shape[0])
    c1 = min(col + visible.shape[1], grid.shape[1])
    if r1 <= r0 or c1 <= c0:
        return
    part = visible[r0 - row : r1 - row, c0 - col : c1 - col]
    target = grid[r0:r1, c0:c1]
    np.add(target, part & (target < 255), out=target, casting="unsafe")
