"""The two passes of the discolored-tree detection as Dask tasks (issue 8).

:func:`run_passes_dask` is :func:`gis.checks.discolored.passes.run_passes` on a cluster: pass 1
(per-stand histograms from every other strip of rows, then the skipped strips of thin stands)
and pass 2 (crowns per window with a halo) map runs of consecutive windows as tasks through
:func:`gis.distributed.map_ordered`, calling the detector's own picklable task functions
(:func:`~gis.checks.discolored.passes.baseline_task`,
:func:`~gis.checks.discolored.passes.detect_task`).
Histograms are integer counts merged exactly and window results come back in window order, so
the baselines and crowns equal the one-process run's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
from rasterio.windows import Window

from gis.checks.discolored.baselines import Baselines
from gis.checks.discolored.crowns import WindowResult
from gis.checks.discolored.passes import (
    CACHE_MB,
    Plan,
    baseline_task,
    canopy_histograms,
    detect_task,
    plan_baselines,
    sampled_histograms,
)
from gis.distributed import check_workers, map_ordered, task_windows_for
from gis.progress import Progress, step


def _baseline_run(
    windows: Sequence[Window], plan: Plan, stands: gpd.GeoDataFrame | None = None
) -> list[dict[int, Any]]:
    """Task: pass 1 over a run of windows with one reader."""
    with plan.source.open(cachemax_mb=CACHE_MB) as reader:
        return [baseline_task(plan, w, reader, stands=stands) for w in windows]


def _detect_run(windows: Sequence[Window], plan: Plan, base: Baselines) -> list[WindowResult]:
    """Task: pass 2 over a run of windows with one reader."""
    with plan.source.open(cachemax_mb=CACHE_MB) as reader:
        return [detect_task(plan, base, w, reader) for w in windows]


def _runs(windows: Sequence[Window], step: int) -> list[list[Window]]:
    return [list(windows[i : i + step]) for i in range(0, len(windows), max(1, step))]


def stand_histograms_dask(
    client: Any, plan: Plan, shared: Any = None, *, progress: Progress | None = None
) -> dict[int, Any]:
    """Pass 1 on the cluster (the sampling rule of :func:`.passes.sampled_histograms`).

    ``progress(tasks_done, tasks_total)`` is called as the Dask tasks finish.
    """
    shared = shared if shared is not None else client.scatter(plan, broadcast=True, hash=False)
    threads = sum(client.nthreads().values())

    def run(windows: Sequence[Window], stands: gpd.GeoDataFrame | None) -> list[Any]:
        runs = _runs(windows, task_windows_for(len(windows), threads))
        parts = map_ordered(
            client, _baseline_run, runs, plan=shared, stands=stands, progress=progress
        )
        return [h for part in parts for h in part]

    return sampled_histograms(plan, run)


def run_passes_dask(client: Any, plan: Plan) -> tuple[Baselines, list[WindowResult]]:
    """Run both passes on the cluster; same values and window order as ``run_passes``.

    Raises
    ------
    gis.errors.DataSourceError
        A worker cannot open the image (named with the worker's address).
    gis.distributed.ClusterError
        The workers cannot run Linyuan.
    """
    check_workers(client, list(plan.source.files))
    shared = client.scatter(plan, broadcast=True, hash=False)
    with step("stand baseline tasks (Dask)", zh="林分基线任务（Dask）") as progress:
        hists = stand_histograms_dask(client, plan, shared, progress=progress)
        hists = canopy_histograms(plan, hists, lambda p: stand_histograms_dask(client, p))
    base = plan_baselines(hists, plan)
    size = task_windows_for(len(plan.windows), sum(client.nthreads().values()))
    with step("detection tasks (Dask)", zh="检测任务（Dask）") as progress:
        parts = map_ordered(client, _detect_run, _runs(plan.windows, size), plan=shared,
                            base=base, progress=progress)  # fmt: skip
    return base, [r for part in parts for r in part]
