"""Which patches an image covers: its footprint, and the stop when it covers none.

Imagery that covers none of the patches is the wrong scene or the patches' wrong coordinate
system, never a result: :func:`require_covers` stops the run (exit 3) naming the image and
the fix. Patches partly or wholly outside imagery that covers others are checked as usual and
come out 需现地核实 with a finding (:mod:`gis.zonal.stats`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer

from gis.crs import crs_label
from gis.errors import RasterError
from gis.raster.analysis_grid import base_of
from gis.raster.grid import Grid
from gis.raster.source import ROLE_ZH, RasterSource

EDGE_POINTS = 21
"""Points per footprint edge when it is transformed to another CRS (curved edges)."""


def grid_footprint(grid: Grid, crs: Any) -> shapely.Polygon:
    """Return the outline of ``grid`` as a polygon in ``crs`` (edges densified).

    Examples
    --------
    >>> from affine import Affine
    >>> wkt = CRS.from_epsg(4551).to_wkt()
    >>> grid_footprint(Grid(wkt, Affine(10, 0, 0, 0, -10, 100), 5, 10), 4551).bounds
    (0.0, 0.0, 50.0, 100.0)
    """
    t = grid.transform
    along = np.linspace(0.0, 1.0, EDGE_POINTS)
    cols = np.concatenate([along, np.ones_like(along), along[::-1], np.zeros_like(along)])
    rows = np.concatenate([np.zeros_like(along), along, np.ones_like(along), along[::-1]])
    cols, rows = cols * grid.width, rows * grid.height
    xs, ys = t.c + t.a * cols + t.b * rows, t.f + t.d * cols + t.e * rows
    own, target = CRS.from_wkt(grid.crs_wkt), CRS.from_user_input(crs)
    if not own.equals(target):
        xs, ys = Transformer.from_crs(own, target, always_xy=True).transform(xs, ys)
    return shapely.make_valid(shapely.Polygon(np.column_stack([xs, ys])))


def source_footprint(src: RasterSource, crs: Any) -> Any:
    """Return where ``src`` has pixels, in ``crs``: its grid, or the union of a mosaic's scenes."""
    scenes = src.parts or (src,)
    return shapely.union_all([grid_footprint(base_of(s).grid, crs) for s in scenes])


def covered(geoms: Any, crs: Any, src: RasterSource) -> np.ndarray:
    """Return, per geometry (in ``crs``), whether it meets the footprint of ``src``."""
    values = np.asarray(getattr(geoms, "geometry", geoms), dtype=object)
    area = source_footprint(src, crs)
    shapely.prepare(area)
    present = ~(shapely.is_missing(values) | shapely.is_empty(values))
    out = np.zeros(len(values), dtype=bool)
    out[present] = shapely.intersects(area, values[present])
    return out


def require_covers(patches: Any, sources: dict[str, RasterSource]) -> None:
    """Raise :class:`RasterError` when an image covers none of the patches.

    ``sources`` maps a role (``"before image"``) to its source; ``patches`` is a
    GeoDataFrame with a CRS. Patches without geometry are not counted; no patch at all is
    not this function's concern.

    Raises
    ------
    RasterError
        An image whose footprint meets no patch (named, with its footprint and the fix).
    """
    geoms = np.asarray(patches.geometry.values, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if patches.crs is None or not present.any():
        return
    for role, src in sources.items():
        if covered(geoms, patches.crs, src).any():
            continue
        x0, y0, x1, y1 = source_footprint(src, patches.crs).bounds
        p0, q0, p1, q1 = shapely.total_bounds(geoms[present])
        name, name_zh = crs_label(patches.crs, "en"), crs_label(patches.crs)
        raise RasterError(
            f"the {role} {src.path} covers none of the {int(present.sum())} patches: its "
            f"footprint ({x0:.10g}, {y0:.10g}) - ({x1:.10g}, {y1:.10g}) lies apart from the "
            f"patches ({p0:.10g}, {q0:.10g}) - ({p1:.10g}, {q1:.10g}) in {name}; give the scenes "
            "of the patches' area, or check the patches' coordinate system (a wrong .prj or "
            "EPSG code puts them elsewhere)",
            zh=f"{ROLE_ZH.get(role, role)} {src.path} 未覆盖 "
            f"{int(present.sum())} 个图斑中的任何一个："
            f"其范围 ({x0:.10g}, {y0:.10g}) - ({x1:.10g}, {y1:.10g}) 与图斑范围 "
            f"({p0:.10g}, {q0:.10g}) - ({p1:.10g}, {q1:.10g})（{name_zh}）不相交；"
            "请给出图斑所在区域的"
            "影像，或检查图斑的坐标系（.prj 或 EPSG 代码有误会把图斑放到别处）",
        )
