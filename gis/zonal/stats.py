"""Combine partial sums into the statistics frame; the single-machine driver."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS

from gis.crs import crs_label, require_crs
from gis.distributed import check_workers, map_ordered, task_windows_for
from gis.errors import RasterError
from gis.findings import Findings
from gis.raster import RasterSource
from gis.raster.analysis_grid import common_grid, file_span
from gis.validity import is_valid
from gis.zonal.definitions import COLUMNS, QUANTUM, RING_SUMS, ZONE_SUMS
from gis.zonal.inside import INSIDE_COLUMNS, InsideOptions, sampled_source, zone_rows
from gis.zonal.inside_pass import empty_rows, plan_inside
from gis.zonal.plan import WindowGroup, plan_windows, tile_shape_of
from gis.zonal.reduce import Partial, has_nbr, reduce_windows

STRIP_PX = 8192
"""Widest strip of windows one thread sweeps (the block cache holds a few rows across it)."""

MAX_CACHE_MB = 1024
"""Cap of GDAL's block cache for that sweep (beyond it blocks are decoded again)."""


def combine(
    partials: Sequence[Partial],
    n_zones: int,
    *,
    index: Any = None,
    with_nbr: bool = True,
) -> pd.DataFrame:
    """Add the integer partial sums of all windows and turn them into the statistics frame.

    Integer addition is exact and order-independent: the frame is bit-identical whatever the
    order, threads or tasks the partials came from.
    """
    z = {name: np.zeros(n_zones, np.int64) for name in ZONE_SUMS}
    r = {name: np.zeros(n_zones, np.int64) for name in RING_SUMS}
    for p in partials:
        for name in ZONE_SUMS:
            z[name][p.zone_pos] += p.zone[name]
        for name in RING_SUMS:
            r[name][p.ring_pos] += p.ring[name]
    with np.errstate(invalid="ignore", divide="ignore"):
        cols = _zone_columns(z, with_nbr)
        cols.update(_ring_columns(r))
    frame = pd.DataFrame(cols, index=index if index is not None else pd.RangeIndex(n_zones))
    return frame[list(COLUMNS)]


def _ratio(num: NDArray[Any], den: NDArray[np.int64]) -> NDArray[np.float64]:
    return np.where(den > 0, num.astype(np.float64) / np.maximum(den, 1), np.nan)


def _mean(total: NDArray[np.int64], count: NDArray[np.int64]) -> NDArray[np.float64]:
    return _ratio(total.astype(np.float64) * QUANTUM, count)


def _zone_columns(z: dict[str, NDArray[np.int64]], with_nbr: bool) -> dict[str, Any]:
    before, after = _mean(z["sb"], z["nvb"]), _mean(z["sa"], z["nva"])
    dnbr = _mean(z["sna"], z["nna"]) - _mean(z["snb"], z["nnb"])
    return {
        "n_pixels": z["n"],
        "valid_frac_before": _ratio(z["nvb"], z["n"]),
        "valid_frac_after": _ratio(z["nva"], z["n"]),
        "ndvi_before": before,
        "ndvi_after": after,
        "dndvi": after - before,
        "drop_frac": _ratio(z["ndrop"], z["nboth"]),
        "dnbr": dnbr if with_nbr else np.full(len(before), np.nan),
    }


def _ring_columns(r: dict[str, NDArray[np.int64]]) -> dict[str, Any]:
    before, after = _mean(r["sb"], r["nvb"]), _mean(r["sa"], r["nva"])
    return {
        "ring_n_pixels": r["n"],
        "ring_ndvi_before": before,
        "ring_ndvi_after": after,
        "ring_dndvi": after - before,
    }


def change_stats(
    zones: gpd.GeoDataFrame | gpd.GeoSeries,
    before: RasterSource,
    after: RasterSource,
    *,
    ring_m: float = 30.0,
    drop_threshold: float = 0.15,
    tolerance_px: int = 1,
    window_px: int = 1024,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    findings: Findings | None = None,
    client: Any = None,
    inside: InsideOptions | None = None,
    tap: Any = None,
) -> pd.DataFrame:
    """Two-date NDVI/NBR change statistics per zone and its ring (see :data:`STAT_DEFINITIONS`).

    Parameters
    ----------
    zones : GeoDataFrame or GeoSeries
        The patches, in any CRS (transformed to the rasters' CRS, with a finding).
    before, after : RasterSource
        The two dates; on different grids they are read on one analysis grid
        (:func:`gis.raster.analysis_grid.common_grid`, with the finding ``grids_aligned``).
    ring_m : float
        Ring width in metres of the raster's (projected) CRS.
    drop_threshold : float
        NDVI drop counted in ``drop_frac``.
    tolerance_px : int
        Misregistration tolerated between the dates, in pixels (0 = plain per-pixel drop).
    window_px : int
        Raster window size in pixels (memory per thread grows with its square).
    threads : int, optional
        Threads over chunks of windows; default ``min(2, cpu count)``.
    progress : callable, optional
        Called as ``progress(windows_done, windows_total)`` while the windows are reduced.
    findings : Findings, optional
        Receives reprojection and repair notes.
    client : distributed.Client, optional
        Reduce the windows as Dask tasks on this cluster (runs of row-major windows, about
        :data:`~gis.distributed.TASKS_PER_THREAD` tasks per worker thread; see
        :func:`~gis.distributed.task_windows_for`) instead of local threads.
        The result is bit-identical (integer sums).
    inside : InsideOptions, optional
        Also compute the changed pixels inside each zone
        (:data:`~gis.zonal.inside.INSIDE_COLUMNS`, as :func:`~gis.zonal.inside.inside_stats`)
        in the same pass: each window is read once, grown by a margin that holds the
        surroundings of its zones (:mod:`gis.zonal.inside_pass`).
    tap : optional
        With ``inside``: given the rasters and the windows (``tap.start(before, after,
        window_px, inside)``) and, without ``client``, the bands of every window read whole
        (see :func:`gis.zonal.reduce.reduce_windows`), to reduce other zones from the same
        reads (:class:`gis.checks.patches.stand_rest.StandTap`).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``zones``, columns :data:`COLUMNS` (then ``INSIDE_COLUMNS`` with
        ``inside``).

    Raises
    ------
    RasterError
        The dates do not overlap, or lack the bands NDVI needs.
    CRSError
        ``zones`` has no CRS.
    gis.distributed.ClusterError
        The cluster's workers cannot run Linyuan.
    """
    log = findings if findings is not None else Findings()
    before, after = common_grid(before, after, findings=log)
    geoms = _zones_in_raster_crs(zones, before, log)
    n_threads = threads or min(2, os.cpu_count() or 1)
    groups = plan_windows(
        geoms,
        before.grid,
        window_px,
        ring_m=ring_m,
        block_shape=before.block_shape,
        threads=n_threads,
    )
    if not groups and len(geoms):
        _note_no_patch_covered(log, before, after, len(geoms))
    options: dict[str, Any] = {"drop_threshold": drop_threshold, "tolerance_px": tolerance_px}
    single = np.zeros(0, np.int64)
    if inside is not None:
        tile = tile_shape_of(before.grid, window_px, before.block_shape)
        groups, single, _ = plan_inside(
            groups, geoms, before.grid, tile, inside, before.block_shape
        )
        options["inside"] = inside
        options.update(_started(tap, before, after, window_px, inside, client))
    if inside is not None or client is None:  # on a cluster the workers are checked first
        options["cachemax_mb"] = _cache_mb(before, after, groups, n_threads)
    if client is not None:
        partials = run_windows_dask(client, groups, before, after, progress=progress, **options)
    else:
        partials = run_windows(
            groups, before, after, threads=n_threads, progress=progress, **options
        )
    frame = combine(partials, len(geoms), index=zones.index, with_nbr=has_nbr(before, after))
    _note_uncovered(frame, log, before.path)
    if inside is None:
        return frame
    rows = empty_rows(len(geoms))
    for p in partials:
        if len(p.inside_pos):
            rows[p.inside_pos] = p.inside
    if len(single):  # patches larger than the margin: each in its own window
        rows[single] = zone_rows(geoms, single, before, after, inside, threads=n_threads)
    return pd.concat(
        [frame, pd.DataFrame(rows, columns=list(INSIDE_COLUMNS), index=frame.index)], axis=1
    )


def _started(
    tap: Any, before: RasterSource, after: RasterSource, window_px: int, inside: Any, client: Any
) -> dict[str, Any]:
    """Start ``tap`` on the pass; return the option that gives it the windows.

    None on a cluster: there the tap reads its windows itself afterwards.
    """
    if tap is None:
        return {}
    tap.start(before, after, window_px, inside)
    return {"tap": tap} if client is None else {}


def _cache_mb(
    before: RasterSource, after: RasterSource, groups: Sequence[WindowGroup], threads: int
) -> int:
    """GDAL block cache (MB) for a sweep of window strips (grown by margins), row by row.

    Each thread sweeps a strip of window columns (:func:`_strips`) top down; a window (grown
    by a margin or a halo under one block) touches four rows of blocks, two of which the next
    window row reads again: four rows of blocks across the strip, per date and thread, keep
    every block decoded once (a pixel-interleaved block caches all bands). A date read through
    a warp counts the blocks of the file it reads (:func:`file_rows_mb`).
    """
    margin = max((g.margin for g in groups), default=0)
    strips = len(_strip_edges(groups, threads))
    total = 0.0
    for src in (before, after):
        with sampled_source(src).open() as reader:  # the file a warp or mosaic reads
            itemsize = np.dtype(reader.dataset.dtypes[0]).itemsize
        strip = -(-src.width // strips) + 2 * margin
        total += file_rows_mb(src, strip, itemsize)
    return int(min(max(32, threads * total), MAX_CACHE_MB))


def file_rows_mb(src: RasterSource, strip: int, itemsize: int) -> float:
    """Megabytes of the file blocks that four rows of windows across ``strip`` pixels hold.

    A warped date reads its base file: the strip in that file's pixels, its blocks, and the
    rows a rotated or skewed warp adds across the strip (another CRS); the warped blocks
    themselves are cached too.
    """
    bh, bw = src.block_shape
    own = 4 * (-(-strip // bw) + 2) * bh * bw * max(src.count, 1) * itemsize
    if src.warp is None:
        return own / 2**20
    base = src.warp.base
    fh, fw = base.block_shape
    cols, skew = file_span(src, strip)
    blocks = (4 + math.ceil(skew / fh)) * (-(-cols // fw) + 2)
    return (own + blocks * fh * fw * max(base.count, 1) * itemsize) / 2**20


def run_windows(
    groups: Sequence[WindowGroup],
    before: RasterSource,
    after: RasterSource,
    *,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> list[Partial]:
    """Reduce ``groups`` on a pool of ``threads``, a strip of window columns at a time.

    rasterio reads (decompression) and most numpy work release the GIL, so two threads use
    two cores. ``progress(windows_done, windows_total)`` is called after each strip. Pass
    ``cachemax_mb`` from :func:`_cache_mb` so the block cache holds what a strip shares.
    """
    n = threads or min(2, os.cpu_count() or 1)
    # each thread sweeps strips of window columns top down: both dates are opened once a
    # strip, and the block cache (``cachemax_mb``) holds the rows neighbouring windows share
    chunks = _strips(groups, n)

    def work(chunk: list[int]) -> list[Partial]:
        return reduce_windows([groups[i] for i in chunk], before, after, **options)

    out: list[Partial] = []
    with ThreadPoolExecutor(max_workers=max(n, 1)) as pool:
        for part in pool.map(work, chunks):
            out.extend(part)
            if progress is not None:
                progress(len(out), len(groups))
    return out


def _strip_edges(groups: Sequence[WindowGroup], n: int) -> list[NDArray[np.int64]]:
    """Return the window column offsets of each strip.

    A multiple of ``n`` strips of at most :data:`STRIP_PX` pixels (the cache a strip needs
    grows with its width).
    """
    cols = np.unique([int(g.window.col_off) for g in groups])
    if len(cols) == 0:
        return [cols]
    width = int(cols[-1]) + int(max(g.window.width for g in groups)) - int(cols[0])
    k = n * max(1, -(-width // (n * STRIP_PX)))
    return [p for p in np.array_split(cols, max(1, min(k, len(cols)))) if len(p)]


def _strips(groups: Sequence[WindowGroup], n: int) -> list[list[int]]:
    """Positions of ``groups`` by strip of window columns, each strip row-major (top down)."""
    cols = np.array([int(g.window.col_off) for g in groups])
    return [np.flatnonzero(np.isin(cols, part)).tolist() for part in _strip_edges(groups, n)]


def run_windows_dask(
    client: Any,
    groups: Sequence[WindowGroup],
    before: RasterSource,
    after: RasterSource,
    *,
    progress: Callable[[int, int], None] | None = None,
    task_windows: int | None = None,
    **options: Any,
) -> list[Partial]:
    """Reduce ``groups`` as Dask tasks of ``task_windows`` consecutive windows each.

    ``task_windows`` defaults to :func:`task_windows_for` the cluster's worker threads.
    Every worker is first asked to open both rasters (and masks), so a path the workers
    cannot see fails at once, naming it. ``progress(windows_done, windows_total)``.
    """
    paths = [p for s in (before, after) for p in s.files]
    check_workers(client, paths)
    if task_windows is None:
        task_windows = task_windows_for(len(groups), sum(client.nthreads().values()))
    step = max(1, int(task_windows))
    tasks = [list(groups[i : i + step]) for i in range(0, len(groups), step)]

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(len(groups) if done == total else done * step, len(groups))

    parts = map_ordered(
        client,
        _reduce_packed,
        tasks,
        progress=report,
        prepare=_pack_task,
        before=before,
        after=after,
        **options,
    )
    return [p for part in parts for p in part]


_Packed = tuple[WindowGroup, Any, Any, Any]
"""A window group without geometries, its distinct geometries as WKB, zone and ring takes."""


def _pack_task(groups: list[WindowGroup]) -> list[_Packed]:
    return [_pack(g) for g in groups]


def _pack(group: WindowGroup) -> _Packed:
    """Return (group without geometries, WKB of its distinct geometries, zone take, ring take).

    WKB is vectorised (pickling shapely objects one by one is slow). A patch that is both a
    zone and a ring source of the window (the rings of a projected grid are buffered from the
    patches themselves) is the same object in both arrays and is sent once.
    """
    zones, rings = group.zone_geoms, group.ring_geoms
    zone_take = _zones_among_rings(group)
    if zone_take is not None:
        geoms, ring_take = rings, np.arange(len(rings))
    else:
        geoms = np.concatenate([zones, rings])
        zone_take, ring_take = np.arange(len(zones)), np.arange(len(zones), len(geoms))
    bare = replace(group, zone_geoms=zones[:0], ring_geoms=rings[:0])
    return bare, shapely.to_wkb(geoms), zone_take, ring_take


def _zones_among_rings(group: WindowGroup) -> NDArray[np.intp] | None:
    """Positions of the zone geometries in ``ring_geoms`` when they are the same objects."""
    rings, zones = group.ring_geoms, group.zone_geoms
    if len(rings) == 0:
        return None
    order = np.argsort(group.ring_pos, kind="stable")
    found = np.searchsorted(group.ring_pos, group.zone_pos, sorter=order)
    at = order[np.minimum(found, len(order) - 1)]
    if all(r is z for r, z in zip(rings[at], zones, strict=True)):
        return at
    return None


def _reduce_packed(packed: list[_Packed], *args: Any, **kwargs: Any) -> list[Partial]:
    """Dask task: rebuild the geometries of packed groups and reduce them."""
    groups = []
    for bare, wkb, zone_take, ring_take in packed:
        geoms = shapely.from_wkb(wkb)
        groups.append(replace(bare, zone_geoms=geoms[zone_take], ring_geoms=geoms[ring_take]))
    return reduce_windows(groups, *args, **kwargs)


def require_same_grid(before: RasterSource, after: RasterSource) -> None:
    """Raise :class:`RasterError` unless both rasters share one grid."""
    if before.grid.same_as(after.grid):
        return
    b, a = before.grid, after.grid
    raise RasterError(
        f"{after.path} ({a.width}x{a.height}, transform {tuple(a.transform)[:6]}) is not on "
        f"the grid of {before.path} ({b.width}x{b.height}, transform {tuple(b.transform)[:6]}); "
        "per-pixel change compares the same pixel on both dates, so both rasters need one grid "
        "(CRS, transform, size). Warp the after image onto the before grid first, e.g. "
        "gdalwarp -t_srs <before CRS> -tr <res> <res> -tap -te <before bounds> after.tif "
        "after_on_before_grid.tif",
        zh=f"{after.path}（{a.width}x{a.height}，变换 {tuple(a.transform)[:6]}）不在 "
        f"{before.path}（{b.width}x{b.height}，变换 {tuple(b.transform)[:6]}）的格网上；"
        "逐像元变化要比较两期的同一像元，因此两幅影像须在同一格网上（坐标系、变换、尺寸）。"
        "请先把后期影像重采样到前期影像的格网，例如 `gdalwarp -t_srs <前期坐标系> -tr <分辨率> "
        "<分辨率> -tap -te <前期范围> after.tif after_on_before_grid.tif`",
    )


def _zones_in_raster_crs(zones: Any, src: RasterSource, log: Findings) -> NDArray[Any]:
    """Return the zone geometries in the raster's CRS (findings on reprojection and repair)."""
    crs = require_crs(zones.crs, "the patches")
    geoms = gpd.GeoSeries(zones.geometry if hasattr(zones, "geometry") else zones, crs=crs)
    raster_crs = CRS.from_wkt(src.crs_wkt)
    if not crs.equals(raster_crs):
        geoms = geoms.to_crs(raster_crs)
        log.add(
            "zones_reprojected",
            f"patches transformed from {crs_label(crs, 'en')} to the raster's CRS "
            f"{crs_label(raster_crs, 'en')} for raster statistics (the raster is not resampled)",
            severity="info",
            source=src.path,
            zh=f"图斑已由 {crs_label(crs)}转换到影像坐标系 {crs_label(raster_crs)}"
            "以做影像统计（影像本身不重采样）",
        )
    values = np.asarray(geoms.values, dtype=object)
    bad = ~is_valid(values) & ~shapely.is_missing(values)
    if bad.any():
        values = values.copy()
        values[bad] = shapely.make_valid(values[bad])
        log.add(
            "invalid_geometry_repaired",
            f"{int(bad.sum())} patch geometries were invalid and were repaired with make_valid "
            "for raster statistics",
            severity="warning",
            zh=f"{int(bad.sum())} 个图斑几何无效，已自动修复后做影像统计",
        )
    return values


_DATE_ZH = {"before": "前期", "after": "后期"}


def _note_no_patch_covered(
    log: Findings, before: RasterSource, after: RasterSource, n_zones: int
) -> None:
    """Note that the imagery covers none of the patches (the wrong scene or CRS, mostly)."""
    log.add(
        "imagery_covers_no_patch",
        f"the imagery ({before.path}; {after.path}) covers none of the {n_zones} patches: "
        "every patch needs a field check — give the scenes of the patches' area, or check "
        "the patches' coordinate system",
        severity="error",
        source=before.path,
        zh=f"影像（{before.path}；{after.path}）未覆盖 {n_zones} 个图斑中的任何一个：全部需现地"
        "核实——请提供图斑所在区域的影像，或检查图斑的坐标系",
    )


def _note_uncovered(frame: pd.DataFrame, log: Findings, path: str) -> None:
    empty = int((frame["n_pixels"] == 0).sum())
    if empty:
        log.add(
            "no_pixels",
            f"{empty} of {len(frame)} patches hold no pixel centre of the raster (outside it, "
            "empty, or smaller than a pixel); their statistics are NULL",
            severity="warning",
            source=path,
            zh=f"{len(frame)} 个图斑中有 {empty} 个不含任何像元中心（在影像之外、几何为空或小于"
            "一个像元）；其统计值为空",
        )
    for date in ("before", "after"):
        blind = int(((frame["n_pixels"] > 0) & (frame[f"valid_frac_{date}"] == 0)).sum())
        if blind:
            log.add(
                "no_valid_pixels",
                f"{blind} patches have no valid pixel on the {date} date (nodata or masked "
                f"cloud everywhere in them); their {date} statistics are NULL",
                severity="warning",
                source=path,
                zh=f"{blind} 个图斑在{_DATE_ZH[date]}影像上没有有效像元"
                f"（全部为 nodata 或被云掩膜）；其{_DATE_ZH[date]}统计值为空",
            )
