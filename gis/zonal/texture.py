"""Canopy texture inside each patch and its ring, on both dates: what an interpreter sees.

A closed canopy is rough at 10 m and finer: lit and shaded crowns and the gaps between them make
the near-infrared vary from pixel to pixel. A clear-cut, a field or bare soil is smooth by
comparison. On an image without SWIR (8-bit stretched GF deliveries: R, G, B, NIR) a loss of
NDVI alone could be a stand's autumn colour, but an interpreter still tells a clearing by its
texture: the crowns are gone inside the patch while the surroundings keep theirs. Leaf
colouring or leaf fall changes the level of the NIR over a whole stand, not the crowns' light
and shade pattern, and it moves patch and ring alike.

Per zone and date this module gives the NIR's roughness: the mean, over the patch's pixels
whose 3 × 3 neighbourhood is valid on both dates and wholly inside the patch, of each pixel's
smallest departure from the line through two opposite neighbours (:func:`_roughness`: a step
edge such as a clearing's border does not count), and the same over its ring (pixels within
``ring_m`` and in no zone), as read (reflectance) or scene-normalised (uncalibrated imagery,
the normaliser of :class:`gis.zonal.inside.InsideOptions`). The rules compare the patch's change
of texture with the ring's (``rel_texture`` in
:func:`gis.checks.patches.verdict.derive_evidence`), so a whole-scene gain, a stretch or a
sensor change between the dates cancels.

Examples
--------
>>> TEXTURE_COLUMNS
('texture_before', 'texture_after', 'ring_texture_before', 'ring_texture_after')
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio.features import geometry_mask
from rasterio.windows import Window

from gis.raster import RasterSource
from gis.zonal.inside import Normaliser, scene_bands

TEXTURE_COLUMNS = ("texture_before", "texture_after", "ring_texture_before", "ring_texture_after")
"""The NIR's mean roughness (see the module) inside the patch / in its ring, per date."""

TEXTURE_DEFINITIONS = {
    "texture_before": "mean over the patch's interior pixels (3 x 3 neighbourhood inside the "
    "patch and valid on both dates) of the NIR's smallest departure from the mean of two "
    "opposite neighbours (row, column, diagonals; scene-normalised on uncalibrated imagery), "
    "before; only for patches without SWIR on both dates that a rule may decide with it",
    "texture_after": "the same on the after date",
    "ring_texture_before": "the same over the ring (within ring_m of the patch, in no patch)",
    "ring_texture_after": "the same over the ring, after",
}
"""Definition of every column :func:`texture_stats` returns (written to the run table)."""


def texture_stats(
    zones: NDArray[Any],
    before: RasterSource,
    after: RasterSource,
    *,
    norm: Normaliser,
    ring_m: float = 30.0,
    index: Any = None,
    threads: int | None = None,
) -> pd.DataFrame:
    """Return :data:`TEXTURE_COLUMNS` per zone (geometries in the rasters' CRS, one grid).

    Each zone is read in its own window (bounds grown by ``ring_m`` metres and two pixels),
    NIR only, on ``threads`` threads (default ``min(2, cpu count)``). ``norm``: the scene
    normaliser of uncalibrated imagery (empty: bands as read).
    """
    geoms = np.asarray(zones, dtype=object)
    rows = np.full((len(geoms), len(TEXTURE_COLUMNS)), np.nan)
    if len(geoms):
        tree = shapely.STRtree(geoms)
        n = max(1, min(threads or min(2, os.cpu_count() or 1), len(geoms)))
        chunks = np.array_split(np.arange(len(geoms)), n)

        def run(chunk: NDArray[np.int64]) -> None:
            with before.open(cachemax_mb=16) as rb, after.open(cachemax_mb=16) as ra:
                for k in chunk:
                    rows[k] = _zone(geoms, int(k), tree, (rb, ra), before, norm, ring_m)

        with ThreadPoolExecutor(max_workers=n) as pool:  # reads and numpy release the GIL
            list(pool.map(run, chunks))
    return pd.DataFrame(rows, columns=list(TEXTURE_COLUMNS), index=index)


def _zone(
    geoms: NDArray[Any],
    k: int,
    tree: Any,
    readers: tuple[Any, Any],
    src: RasterSource,
    norm: Normaliser,
    ring_m: float,
) -> list[float]:
    """Return the texture row of zone ``k``: patch before, after; ring before, after."""
    geom = geoms[k]
    nan = [np.nan] * len(TEXTURE_COLUMNS)
    if geom is None or shapely.is_empty(geom):
        return nan
    ring = shapely.buffer(geom, ring_m, quad_segs=4)
    win = _window(ring, src)
    if win is None:
        return nan
    values = [
        scene_bands({"NIR": r.read_array(win, ("NIR",))[0][0]}, side)["NIR"]
        for r, side in zip(readers, (norm.before, norm.after), strict=True)
    ]
    from scipy import ndimage  # deferred: ~0.1 s of import, only where a texture is read

    both = np.isfinite(values[0]) & np.isfinite(values[1])
    full = ndimage.uniform_filter(both.astype("f4"), 3, mode="constant") > 1 - 1e-4
    rough = [_roughness(np.where(both, v, 0.0)) for v in values]
    transform = src.grid.transform @ Affine.translation(win.col_off, win.row_off)
    shape = both.shape
    inside = _interior(_pixels([geom], transform, shape)) & full
    near = geoms[tree.query(ring)]
    outer = _interior(_pixels([ring], transform, shape) & ~_pixels(near, transform, shape)) & full
    return [_mean(r, where) for where in (inside, outer) for r in rough]


def _window(geom: Any, src: RasterSource) -> Window | None:
    """Return the window of ``geom``'s bounds grown by two pixels, clipped to the raster."""
    t = src.grid.transform
    x0, y0, x1, y1 = shapely.bounds(shapely.buffer(geom, 2 * abs(t.a)))
    c0, c1 = int(np.floor((x0 - t.c) / t.a)), int(np.ceil((x1 - t.c) / t.a))
    r0, r1 = int(np.floor((y1 - t.f) / t.e)), int(np.ceil((y0 - t.f) / t.e))
    c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, src.width), min(r1, src.height)
    if c1 - c0 < 3 or r1 - r0 < 3:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def _roughness(v: NDArray[Any]) -> NDArray[np.float32]:
    """Return each pixel's smallest departure from the line through two opposite neighbours.

    Of the four directions (row, column, both diagonals) the smallest ``|v - (a + b) / 2|``:
    along a step edge (the border of a clearing, a road, a stand boundary) one direction runs
    with the edge and departs little, so only the pixel-scale light and shade of crowns (and
    the sensor's noise) remains. Edge pixels of the window: NaN.
    """
    v = v.astype("f4")
    out = np.full(v.shape, np.nan, dtype="f4")
    c = v[1:-1, 1:-1]
    pairs = (
        (v[1:-1, :-2], v[1:-1, 2:]),
        (v[:-2, 1:-1], v[2:, 1:-1]),
        (v[:-2, :-2], v[2:, 2:]),
        (v[:-2, 2:], v[2:, :-2]),
    )
    rough = [np.abs(c - (a + b) / 2) for a, b in pairs]
    out[1:-1, 1:-1] = np.minimum.reduce(rough)
    return out


def _interior(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Return the pixels of ``mask`` whose eight neighbours are in it too (no border pixel)."""
    from scipy import ndimage  # deferred, as in _zone

    return np.asarray(ndimage.binary_erosion(mask, np.ones((3, 3), bool)))


def _pixels(geoms: Any, transform: Affine, shape: tuple[int, int]) -> NDArray[np.bool_]:
    """Pixels whose centre lies in any of ``geoms`` (GDAL's rule)."""
    shapes = [g for g in geoms if g is not None and not shapely.is_empty(g)]
    if not shapes:
        return np.zeros(shape, dtype=bool)
    return ~geometry_mask(shapes, out_shape=shape, transform=transform)


def _mean(values: NDArray[Any], where: NDArray[np.bool_]) -> float:
    return float(np.nanmean(values[where])) if where.any() else np.nan
