"""Two-date change statistics per zone (patch) and its ring, by rasterize-and-bincount.

The engine never loops over polygons with windowed reads. :func:`plan_windows` tiles the
raster grid in windows (1024² pixels, block-aligned) and groups the zones and their rings by
the windows their bounds touch. :func:`reduce_window` / :func:`reduce_windows` (pure, picklable
inputs and outputs) read each window of both dates once — the whole window, or only boxes
around sparse zones when that touches fewer raster blocks — with a 1-pixel halo on the before
date for the misregistration tolerance; find the pixels whose centre lies in each zone and
ring with a scanline of all of them at once (:func:`centre_pixels`, GDAL's rule, overlaps
allowed; its spans filled by a compiled loop of :mod:`gis.zonal.kernels`); compute NDVI/NBR at
those pixels and reduce them into integer partial sums (per-pixel values in fixed point,
:data:`QUANTUM`). :func:`combine` adds the partials —
exact, so results are bit-identical however windows are grouped into threads, processes or
Dask tasks (issue 8) — and :func:`change_stats` is the single-machine driver (a pool of two
threads over contiguous chunks of windows). The statistics are defined once in
:data:`STAT_DEFINITIONS`.

Examples
--------
>>> sorted(STAT_DEFINITIONS)[:3]
['dnbr', 'dndvi', 'drop_frac']
"""

from gis.zonal.burn import centre_pixels
from gis.zonal.definitions import COLUMNS, QUANTUM, STAT_DEFINITIONS
from gis.zonal.plan import WindowGroup, plan_windows, read_boxes, window_transform
from gis.zonal.reduce import Indices, Partial, reduce_window, reduce_windows
from gis.zonal.stats import change_stats, combine, require_same_grid, run_windows

__all__ = [
    "COLUMNS",
    "QUANTUM",
    "STAT_DEFINITIONS",
    "Indices",
    "Partial",
    "WindowGroup",
    "centre_pixels",
    "change_stats",
    "combine",
    "plan_windows",
    "read_boxes",
    "reduce_window",
    "reduce_windows",
    "require_same_grid",
    "run_windows",
    "window_transform",
]
