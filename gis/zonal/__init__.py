"""Two-date change statistics per zone (patch) and its ring, by rasterize-and-bincount.

The engine never loops over polygons with windowed reads. It tiles the raster grid in windows
(:func:`plan_windows`), and for each window (:func:`reduce_window`, pure and picklable) reads both
dates once, computes per-pixel NDVI (and NBR), burns the ids of the zones and rings touching the
window into it and reduces them with ``numpy.bincount``. Partial sums are integers: per-pixel
index values are rounded to fixed point (:data:`QUANTUM`) before summing, so :func:`combine`
gives bit-identical results however the windows are grouped into tasks or threads (issue 8).
:func:`change_stats` is the single-machine driver (a pool of threads over chunks of windows).

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
