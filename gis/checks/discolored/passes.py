"""The two windowed passes of the discolored-tree detection (变色立木), in threads.

A :class:`Plan` holds everything the per-window functions need besides the window (the lazy
:class:`~gis.raster.RasterSource`, the host stands, the rules, the halo and the windows over
the stands). Pass 1 (:func:`stand_histograms`: per-stand histograms from every other strip of
rows, then the skipped strips of thin stands, :mod:`gis.checks.discolored.baselines`) and
pass 2 (:func:`detect_task`: crowns per window with a halo,
:mod:`gis.checks.discolored.crowns`) run over runs of consecutive windows in a thread pool;
:func:`run_passes` does both. The task functions are picklable, so
:mod:`gis.checks.discolored.dask` maps the same ones on a cluster; results come back in window
order and equal for any number of threads or workers.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from rasterio.windows import Window, bounds

from gis.checks.discolored.baselines import (
    Baselines,
    baselines_from_histograms,
    canopy_gate,
    merge_histograms,
    window_histograms,
)
from gis.checks.discolored.crowns import WindowResult, detect_window
from gis.checks.discolored.neighbours import with_crown_cut
from gis.checks.discolored.pixels import CrownRules
from gis.checks.discolored.points import pixel_size_m, read_roles_of
from gis.checks.discolored.season import with_turning
from gis.checks.discolored.spill import Spill
from gis.memory import reuse_freed_memory
from gis.progress import Progress, step, ticker
from gis.raster import RasterReader, RasterSource

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """Everything the per-window functions need besides the window (picklable)."""

    source: RasterSource
    roles: tuple[str, ...]
    stands: gpd.GeoDataFrame
    rules: CrownRules
    halo: int
    pixel_m2: float
    windows: tuple[Window, ...]
    turning: tuple[int, ...] = ()
    """Stand numbers turning colour by date and species (autumn larch; see
    :mod:`gis.checks.discolored.season`)."""
    gate: NDArray[np.float32] | None = None
    """Pass 1 counts only pass 2's canopy pixels (:func:`canopy_histograms`; no NIR)."""


WINDOW_PX = (1024, 2048)
"""Automatic window edge: the smallest, and the largest (memory: ~0.4 GB a thread at 2048)."""
HALO_SHARE = 8
"""Automatic windows are at least this many halos wide, so the halo adds at most ~56 %."""


def auto_window(halo: int, block_rows: int = 256) -> int:
    """Window edge for a halo: 1024, widened (in whole blocks, up to 2048) for fine pixels.

    At 0.5 m the largest crown needs a 25 px halo and 1024 windows; at 5 cm it needs 228 px,
    which around a 1024 window would read twice the window's area.

    Examples
    --------
    >>> auto_window(25), auto_window(115), auto_window(228), auto_window(600)
    (1024, 1024, 2048, 2048)
    """
    lo, hi = WINDOW_PX
    block = max(int(block_rows), 1)
    return int(min(max(lo, -(-HALO_SHARE * halo // block) * block), hi))


def make_plan(
    source: RasterSource,
    stands: gpd.GeoDataFrame,
    rules: CrownRules,
    *,
    window_size: int | None = None,
) -> Plan:
    """Windows over the stands' extent and the halo that holds the largest crown.

    ``window_size`` (pixels) defaults to :func:`auto_window` of the halo.
    """
    pixel_m = pixel_size_m(source)
    diameter_px = 2 * math.sqrt(rules.max_crown_m2 / math.pi) / pixel_m
    halo = math.ceil(diameter_px) + 2
    size = window_size or auto_window(halo, source.block_shape[0])
    windows = tuple(w for w in source.block_windows(size) if _touches(source, w, stands))
    return Plan(source, read_roles_of(source), stands, rules, halo, pixel_m**2, windows)


def _touches(source: RasterSource, window: Window, stands: gpd.GeoDataFrame) -> bool:
    box = shapely.box(*bounds(window, source.transform))
    return bool(len(stands.sindex.query(box, predicate="intersects")))


def window_shapes(
    plan: Plan, window: Window, halo: int = 0, *, stands: gpd.GeoDataFrame | None = None
) -> list[tuple[Any, int]]:
    """Host stands (GeoJSON mapping, stand number) overlapping ``window`` grown by ``halo``.

    ``stands`` restricts them to a subset of ``plan.stands`` (default all). A stand's
    mapping (what rasterizing takes) is made once and serves every window it overlaps.
    """
    frame = plan.stands if stands is None else stands
    w = Window(window.col_off - halo, window.row_off - halo, window.width + 2 * halo,
               window.height + 2 * halo)  # fmt: skip
    tree, geoms, numbers, mappings = _stand_index(frame)
    idx = np.sort(tree.query(shapely.box(*bounds(w, plan.source.transform)))).tolist()
    for i in idx:  # threads may both fill one: the same mapping
        if mappings[i] is None:
            mappings[i] = geoms[i].__geo_interface__
    return [(mappings[i], int(numbers[i])) for i in idx]


_INDEX: dict[int, tuple[Any, gpd.GeoDataFrame]] = {}


def _stand_index(
    frame: gpd.GeoDataFrame,
) -> tuple[Any, NDArray[Any], NDArray[np.int64], list[Any]]:
    """STRtree, geometries, stand numbers and GeoJSON mappings (filled as used) of ``frame``.

    Cached per frame (the plan being run).
    """
    hit = _INDEX.get(id(frame))
    if hit is not None and hit[1] is frame:
        return hit[0]  # type: ignore[no-any-return]
    geoms = np.asarray(frame.geometry.values, dtype=object)
    numbers = frame["stand_no"].to_numpy(np.int64)
    arrays = (shapely.STRtree(geoms), geoms, numbers, [None] * len(geoms))
    _INDEX.clear()  # one frame at a time: the plan being run
    _INDEX[id(frame)] = (arrays, frame)
    return arrays


def baseline_task(
    plan: Plan,
    window: Window,
    reader: RasterReader | None = None,
    *,
    stands: gpd.GeoDataFrame | None = None,
) -> dict[int, Any]:
    """First pass on one window (pure: a Dask task may run it without ``reader``)."""
    shapes = window_shapes(plan, window, stands=stands)
    src = reader if reader is not None else plan.source
    return window_histograms(src, window, shapes, roles=plan.roles, rules=plan.rules,
                             gate=plan.gate)  # fmt: skip


STRIP_ROWS = 256
"""Pass 1 reads every other strip of this many rows (whole block rows): half the decoding."""
COMPLETE_BELOW = 100_000
"""Stands with fewer vegetation pixels in the read strips get their skipped strips read too."""


def sample_strips(windows: Sequence[Window], block_rows: int) -> tuple[list[Window], list[Window]]:
    """Split ``windows`` into strips of whole block rows: (every other strip, the others).

    Examples
    --------
    >>> kept, skipped = sample_strips([Window(0, 0, 100, 1024)], 256)
    >>> [int(w.row_off) for w in kept], [int(w.row_off) for w in skipped]
    ([0, 512], [256, 768])
    """
    h = block_rows * max(1, STRIP_ROWS // max(block_rows, 1))
    kept: list[Window] = []
    skipped: list[Window] = []
    for w in windows:
        r0, r1 = int(w.row_off), int(w.row_off + w.height)
        for top in range(r0 - r0 % h, r1, h):
            a, b = max(top, r0), min(top + h, r1)
            strip = Window(w.col_off, a, w.width, b - a)
            (kept if (top // h) % 2 == 0 else skipped).append(strip)
    return kept, skipped


def stand_histograms(
    plan: Plan,
    *,
    threads: int = 1,
    progress: Progress | None = None,
    spill: Spill | None = None,
    replay: Spill | None = None,
) -> dict[int, Any]:
    """Pass 1 on local threads (see :func:`sampled_histograms` for the sampling rule).

    With ``spill`` the raw pixels read are kept there for pass 2 (:mod:`.spill`); with
    ``replay`` they are taken from there (the second sweep of :func:`canopy_histograms`).
    """
    wrap = spill.recording if spill is not None else None
    wrap = replay.replaying if replay is not None else wrap

    def run(windows: Sequence[Window], stands: gpd.GeoDataFrame | None) -> list[Any]:
        task = lambda r, w: baseline_task(plan, w, r, stands=stands)  # noqa: E731
        return _run_chunks(plan, task, threads, windows, progress=progress, wrap=wrap)

    return sampled_histograms(plan, run)


def sampled_histograms(plan: Plan, run: Any) -> dict[int, Any]:
    """Pass 1: per-stand histograms from every other strip of rows (counts doubled).

    A stand with fewer than :data:`COMPLETE_BELOW` vegetation pixels there (small, or in
    the skipped strips) gets its skipped strips read as well: its histograms are complete.
    ``run(windows, stands)`` returns the window histograms of :func:`baseline_task` in
    window order (``stands``: a subset of the host stands, ``None`` for all) — on local
    threads or as Dask tasks: the integer sums, hence the baselines, are the same.
    """
    kept, skipped = sample_strips(plan.windows, plan.source.block_shape[0])
    hists: dict[int, Any] = {}
    for part in run(kept, None):
        merge_histograms(hists, part)
    seen = {sid: int(h[0].sum()) for sid, h in hists.items()}
    thin = plan.stands[[seen.get(int(s), 0) < COMPLETE_BELOW for s in plan.stands["stand_no"]]]
    todo = [w for w in skipped if window_shapes(plan, w, stands=thin)] if len(thin) else []
    extra: dict[int, Any] = {}
    for part in run(todo, thin):
        merge_histograms(extra, part)
    full = set(thin["stand_no"].astype(int))
    for sid, hist in hists.items():
        if sid not in full:
            hist *= 2  # every other strip was read
    return merge_histograms(hists, extra)


def canopy_histograms(
    plan: Plan, hists: dict[int, Any], run: Callable[[Plan], dict[int, Any]]
) -> dict[int, Any]:
    """Without NIR: the GRVI histograms again, over the pixels pass 2 calls canopy.

    With NIR, pass 1 leaves out bare ground by NDVI (``soil_ndvi``), as pass 2 does. Without
    NIR pass 2 leaves out shadow and blue-bright ground by limits relative to the stand's
    medians — which pass 1 measures — so pass 1 counted every pixel: in a stand with many
    gaps the bare soil (GRVI ≈ −0.1) filled the lower half of its GRVI histogram, the
    lower-half sigma grew several- to 40-fold (robustness suite) and no crown of the
    stand, however red, was a candidate. So: the medians of the first sweep (``hists``)
    give pass 2's limits (:func:`~gis.checks.discolored.baselines.canopy_gate`),
    ``run(plan)`` runs pass 1 again with them, and each stand keeps its brightness, G, NIR
    and B histograms of the first sweep (the limits pass 2 applies) with the GRVI and NDVI
    histograms of the second (the pixels it tests). A stand with no canopy pixel falls back
    to the pooled baseline.
    """
    if "NIR" in plan.roles or not hists:
        return hists
    first = baselines_from_histograms(hists, len(plan.stands), rules=plan.rules)
    gated = run(replace(plan, gate=canopy_gate(first, plan.rules)))
    return {sid: np.concatenate([gated[sid][:2], h[2:]]) for sid, h in hists.items()
            if sid in gated}  # fmt: skip


def detect_task(
    plan: Plan, base: Baselines, window: Window, reader: RasterReader | None = None
) -> WindowResult:
    """Second pass on one window (pure: a Dask task may run it without ``reader``)."""
    shapes = window_shapes(plan, window, plan.halo)
    src = reader if reader is not None else plan.source
    return detect_window(
        src, window, shapes, base, roles=plan.roles, rules=plan.rules,
        halo=plan.halo, pixel_m2=plan.pixel_m2,
    )  # fmt: skip


CACHE_MB = 256
"""GDAL block cache while a thread reads its band of windows (holds the tiles halos reuse)."""


DECODE_SHARE = 0.6
"""Share of a window's cost that its host pixels do not change (reading, decoding: ~60 %)."""


def window_work(plan: Plan, windows: Sequence[Window]) -> NDArray[np.float64]:
    """Relative cost of each window: the decode plus the share of it under host stands.

    The host share is the overlap of the window with the stands' bounding boxes (capped at
    1): cheap, and enough to balance threads when pine stands cluster in part of the image.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from gis.raster import RasterSource
    >>> src = RasterSource("x.tif", "generic", ("G", "R"), 1.0, 0.0, None, width=20, height=10)
    >>> stands = gpd.GeoDataFrame({"stand_no": [1]}, geometry=[shapely.box(0, 0, 10, 10)])
    >>> plan = Plan(src, ("G", "R"), stands, CrownRules(), 0, 1.0, ())
    >>> window_work(plan, [Window(0, 0, 10, 10), Window(10, 0, 10, 10)]).round(2).tolist()
    [1.0, 0.6]
    """
    raw = np.array([bounds(w, plan.source.transform) for w in windows], dtype=float)
    xs, ys = np.sort(raw[:, [0, 2]], axis=1), np.sort(raw[:, [1, 3]], axis=1)
    boxes = np.column_stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]])
    tree, geoms, _, _ = _stand_index(plan.stands)
    win, stand = tree.query(shapely.box(*boxes.T))
    sb, wb = shapely.bounds(geoms[stand]), boxes[win]
    dx = np.minimum(sb[:, 2], wb[:, 2]) - np.maximum(sb[:, 0], wb[:, 0])
    dy = np.minimum(sb[:, 3], wb[:, 3]) - np.maximum(sb[:, 1], wb[:, 1])
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    overlap = np.bincount(win, weights=np.clip(dx, 0, None) * np.clip(dy, 0, None),
                          minlength=len(windows))  # fmt: skip
    share = np.minimum(overlap / np.where(area > 0, area, 1), 1.0)
    return np.asarray(DECODE_SHARE + (1 - DECODE_SHARE) * share)


def _chunks(
    windows: Sequence[Window], n: int, work: NDArray[np.float64] | None = None
) -> list[Sequence[Window]]:
    """Split ``windows`` into ``n`` contiguous runs of about equal ``work`` (default: count).

    Examples
    --------
    >>> ws = [Window(i, 0, 1, 1) for i in range(6)]
    >>> work = np.array([5.0, 1, 1, 1, 1, 1])
    >>> [len(c) for c in _chunks(ws, 2)], [len(c) for c in _chunks(ws, 2, work)]
    ([3, 3], [1, 5])
    """
    weights = np.ones(len(windows)) if work is None else np.asarray(work, dtype=float)
    cum = np.cumsum(weights)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, max(n, 1)) / max(n, 1), side="left") + 1
    edges = [0, *np.minimum(cuts, len(windows)).tolist(), len(windows)]
    runs = [windows[a:b] for a, b in itertools.pairwise(edges) if b > a]
    return runs or [windows]


def _run_chunks(
    plan: Plan,
    fn: Any,
    threads: int,
    windows: Sequence[Window] | None = None,
    *,
    progress: Progress | None = None,
    wrap: Any = None,
) -> list[Any]:
    """Run ``fn(reader, window)`` over contiguous bands of windows, one reader per band.

    The bands carry about equal work (:func:`window_work`), so that a thread whose band holds
    the pine stands is not left working alone; a band keeps its reader and block cache, which
    serve the halos. ``windows`` defaults to ``plan.windows``; results come in window order.
    ``progress(windows_done, windows_total)`` is called as windows finish; ``wrap(reader)``,
    when given, returns the reader the band reads through (a spill's, :mod:`.spill`).
    """

    def band(part: Sequence[Window]) -> list[Any]:
        with plan.source.open(cachemax_mb=CACHE_MB) as opened:
            reader = wrap(opened) if wrap is not None else opened
            if tick is None:
                return [fn(reader, w) for w in part]
            out = []
            for w in part:
                out.append(fn(reader, w))
                tick()
            return out

    todo = plan.windows if windows is None else windows
    if not todo:
        return []
    tick = ticker(progress, len(todo))
    reuse_freed_memory()  # the windows' arrays reuse freed blocks instead of faulting pages in
    with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
        work = window_work(plan, todo) if threads > 1 else None
        parts = list(pool.map(band, _chunks(todo, threads, work)))
    return [r for part in parts for r in part]


def plan_baselines(hists: dict[int, Any], plan: Plan) -> Baselines:
    """Stand baselines of pass 1 and the stands turning colour as a whole."""
    base = baselines_from_histograms(hists, len(plan.stands), rules=plan.rules)
    by_date = np.zeros(len(plan.stands) + 1, dtype=bool)
    by_date[list(plan.turning)] = True
    base = with_turning(base, by_date, plan.rules)
    return with_crown_cut(base, hists, plan.rules) if "NIR" in plan.roles else base


def run_passes(plan: Plan, *, threads: int = 1) -> tuple[Baselines, list[WindowResult]]:
    """Run both passes over ``plan.windows`` (in order; results identical for any threads).

    The raw pixels pass 1 decodes are kept in a :class:`~.spill.Spill` (bounded, in memory)
    and pass 2 takes them from there instead of decoding them again, when the raster is a
    plain file; the arrays, hence the points, are the same.
    """
    with Spill.open(plan.source, plan.roles) as spill:
        with step("stand baseline windows", zh="林分基线窗口") as progress:
            hists = stand_histograms(plan, threads=threads, progress=progress, spill=spill)
            again = lambda p: stand_histograms(p, threads=threads, replay=spill)  # noqa: E731
            hists = canopy_histograms(plan, hists, again)
        base = plan_baselines(hists, plan)
        detect = lambda r, w: detect_task(plan, base, w, r)  # noqa: E731
        wrap = spill.replaying if spill is not None else None
        with step("detection windows", zh="检测窗口") as progress:
            results = _run_chunks(plan, detect, threads, progress=progress, wrap=wrap)
    return base, results
