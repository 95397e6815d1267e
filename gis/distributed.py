"""Run Linyuan's tasks on a Dask cluster: client lifecycle, checks, ordered map/gather.

Province-scale runs (hundreds of thousands of patches, tens or hundreds of GB of imagery) use
Dask's ``distributed`` scheduler instead of one process; Linyuan has no scheduler, queue or pool
of its own. :func:`dask_client` opens the client for one run: ``workers=N`` starts a
``LocalCluster`` of N worker processes (one thread each, on 127.0.0.1, dashboard off) and
closes it afterwards; ``scheduler="tcp://HOST:PORT"`` connects to an existing cluster; with
neither it yields ``None`` and nothing of Dask is imported (the one-process path is unchanged).

:func:`check_workers` asks every worker to import Linyuan and open the run's rasters, so a
worker without the package or a path the workers cannot see fails in seconds with the address
or path named. :func:`map_ordered` maps a picklable function over items as Dask tasks (retried
when a worker dies) and returns the results in item order; :func:`map_frames` does the same
over row chunks of a frame. :func:`peak_memory_mb` reads each worker's peak resident memory.

Examples
--------
>>> with dask_client() as client:
...     client is None
True
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import psutil

try:
    import resource  # POSIX only: getrusage gives the peak resident memory
except ImportError:  # Windows: psutil's peak working set instead
    resource = None  # type: ignore[assignment]

from gis import extras
from gis.errors import DataSourceError, GisError
from gis.io.rasters import open_raster

CONNECT_TIMEOUT_S = 10.0
"""Seconds to wait for a scheduler (and for workers to come up) before failing."""

TASK_RETRIES = 3
"""Times a task is retried after an exception on its worker (Dask's ``retries``)."""


SUBMIT_BATCHES = 8
"""Tasks are submitted in this many batches: workers start while the rest is serialised."""


TASK_WINDOWS = 4
"""Fewest row-major windows per Dask task (they share the task's GDAL block cache for halos).

Used by both raster engines on a cluster: the patch check's window groups
(:mod:`gis.zonal`) and the discolored-tree windows (:mod:`gis.checks.discolored.dask`)."""

MAX_TASK_WINDOWS = 32
"""Most windows per Dask task (a retried task redoes at most this many)."""

TASKS_PER_THREAD = 16
"""Dask tasks per worker thread the windows are cut into, within the two bounds above.

Enough tasks for the workers to finish together (a worker idles at most about one task at
the end), few enough that per-task costs stay small: with one worker, runs of 4 windows (64
tasks on a 16000² pair) cost ~4 % more task CPU than runs of 16-32 (measured, A/B).
"""


def task_windows_for(n_windows: int, threads: int) -> int:
    """Return the windows per Dask task for ``n_windows`` windows on ``threads`` worker threads.

    Examples
    --------
    >>> task_windows_for(256, 1), task_windows_for(256, 2), task_windows_for(100, 2)
    (16, 8, 4)
    >>> task_windows_for(1_000_000, 100)
    32
    """
    per_thread = -(-n_windows // (TASKS_PER_THREAD * max(threads, 1)))
    return min(max(per_thread, TASK_WINDOWS), MAX_TASK_WINDOWS)


class ClusterError(GisError, ConnectionError):
    """The Dask scheduler does not answer, or its workers cannot run Linyuan's tasks."""


@contextlib.contextmanager
def dask_client(
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    timeout_s: float = CONNECT_TIMEOUT_S,
) -> Iterator[Any]:
    """Yield a ``distributed.Client`` for one run (``None`` to stay in this process).

    Parameters
    ----------
    workers : int, optional
        Start a local cluster of this many worker processes (one thread each) for the run.
    scheduler : str, optional
        Address of an existing scheduler, ``tcp://HOST:PORT``.
    timeout_s : float
        Seconds to wait for the scheduler before :class:`ClusterError`.

    Raises
    ------
    ClusterError
        Both options given, a non-positive worker count, or a scheduler that does not answer.
    MissingExtraError
        Dask is not installed (``pip install "linyuan[dask]"``).
    """
    if workers is not None and scheduler is not None:
        raise ClusterError(
            "give either --workers N or --scheduler tcp://HOST:PORT, not both",
            zh="--workers N 与 --scheduler tcp://HOST:PORT 只能给其一，不能同时给出",
        )
    if workers is None and scheduler is None:
        yield None
        return
    option = f"--scheduler {scheduler}" if scheduler is not None else f"--workers {workers}"
    for module in ("dask", "distributed"):
        extras.require(
            module, purpose=f"{option} (a Dask cluster)", purpose_zh=f"{option}（Dask 集群）"
        )
    if scheduler is not None:
        with _remote_client(scheduler, timeout_s) as client:
            yield client
        return
    assert workers is not None
    if workers < 1:
        raise ClusterError(
            f"--workers {workers}: give at least 1 worker process",
            zh=f"--workers {workers}：至少需要 1 个工作进程",
        )
    with _local_client(workers, timeout_s) as client:
        yield client


@contextlib.contextmanager
def _remote_client(address: str, timeout_s: float) -> Iterator[Any]:
    from distributed import Client

    try:
        client = Client(address, timeout=timeout_s)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"the Dask scheduler at {address} did not answer within {timeout_s:g} s ({exc}); "
            "check the address (tcp://HOST:PORT, default port 8786) and that `dask scheduler` "
            "runs there, or use --workers N for a cluster on this machine",
            zh=f"位于 {address} 的 Dask 调度器在 {timeout_s:g} 秒内没有响应；请检查地址"
            "（tcp://HOST:PORT，默认端口 8786）以及该处是否运行着 `dask scheduler`，"
            "或用 --workers N 在本机启动集群",
        ) from exc
    with client:
        yield client


_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
"""Dask sets glibc's MALLOC_TRIM_THRESHOLD_ in workers; that also fixes glibc's mmap threshold,
so every window-sized numpy array is a fresh mmap + page faults: 1.7x the CPU of the same task
in one process (measured). Window tasks free what they allocate; glibc's default is kept."""

_PROFILE = "distributed.worker.profile.enabled"
"""Dask's statistical profiler samples every worker's task stack each 10 ms on the worker's
event loop; each sample takes the GIL from the task thread. Linyuan's workers run one thread
and nobody reads their dashboard, so the local cluster switches it off (issue 8: ~0.5 s of
worker CPU per 26 s of tasks, measured)."""

_TICK = "distributed.admin.tick.interval"
"""Every Dask server (scheduler, nanny, worker) wakes its event loop each 20 ms to check that
the loop is not blocked; at 500 ms (Dask's own test setting) the check still warns after 3 s
of blocking, and the scheduler and nannies in this process and the worker's event loop use
~0.7 s less CPU per 26 s run with one worker (measured, A/B)."""

LOCAL_WORKER_CONFIG: dict[str, Any] = {_TRIM: None, _PROFILE: False, _TICK: "500ms"}
"""Dask settings of the local cluster, in this process (scheduler, nannies) and in the worker
processes (passed on by their nannies; :func:`worker_config` reads them back from the
workers)."""


@contextlib.contextmanager
def _local_client(workers: int, timeout_s: float) -> Iterator[Any]:
    import dask
    from distributed import Client, LocalCluster

    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the scheduler runs here; its start/close notes are noise
    try:
        with (
            dask.config.set(LOCAL_WORKER_CONFIG),
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
                timeout=max(timeout_s, 30.0),
            ) as cluster,
            Client(cluster, timeout=max(timeout_s, 30.0)) as client,
        ):
            yield client
    finally:
        quiet.setLevel(level)


def _config_of_worker(keys: Sequence[str]) -> dict[str, Any]:
    import dask

    return {k: dask.config.get(k, default=None) for k in keys} | {
        "env:MALLOC_TRIM_THRESHOLD_": os.environ.get("MALLOC_TRIM_THRESHOLD_")
    }


def worker_config(client: Any, keys: Sequence[str] = tuple(LOCAL_WORKER_CONFIG)) -> dict[str, Any]:
    """Return worker address → the Dask settings ``keys`` as the worker process sees them.

    Also reports the worker's ``MALLOC_TRIM_THRESHOLD_`` environment variable (as
    ``env:MALLOC_TRIM_THRESHOLD_``, ``None`` when unset).
    """
    return {str(k): v for k, v in client.run(_config_of_worker, list(keys)).items()}


def _probe(paths: Sequence[str]) -> dict[str, tuple[str, str]]:
    """On a worker: open each raster with Linyuan's reader; path → (error, 中文) for failures.

    Unpickling this function on a worker imports Linyuan (this module and :mod:`gis.io`), which
    also warms the worker (geopandas, rasterio) before the first task.
    """
    failed: dict[str, tuple[str, str]] = {}
    for path in paths:
        try:
            with open_raster(path):
                pass
        except GisError as exc:
            failed[path] = (str(exc), exc.text("zh"))
    return failed


def check_workers(client: Any, paths: Sequence[str]) -> int:
    """Check that every worker imports Linyuan and opens ``paths``; return the worker count.

    Raises
    ------
    ClusterError
        No worker, or a worker cannot import the ``gis`` package.
    DataSourceError
        A worker cannot open one of ``paths`` (named with the worker's address).
    """
    n = len(client.scheduler_info().get("workers", {}))
    if n == 0:
        raise ClusterError(
            f"the Dask scheduler at {client.scheduler.address} has no workers; start some "
            "with `dask worker <address>`",
            zh=f"位于 {client.scheduler.address} 的 Dask 调度器没有工作进程；"
            "请用 `dask worker <address>` 启动",
        )
    try:
        answers = client.run(_probe, list(paths))
    except Exception as exc:
        raise ClusterError(
            f"a Dask worker of {client.scheduler.address} cannot run Linyuan ({exc!r}); install "
            "linyuan (pip install -e .) in the Python environment of every worker",
            zh=f"{client.scheduler.address} 的某个 Dask 工作进程无法运行 Linyuan；请在每个工作"
            "进程的 Python 环境中安装 linyuan（`pip install -e .`）",
        ) from exc
    for worker, failed in answers.items():
        for path, (why, why_zh) in failed.items():
            raise DataSourceError(
                f"Dask worker {worker} cannot read raster {path}: {why}; workers need the "
                "rasters at the same path (a shared disk) or a URL they can reach "
                "(/vsis3/…, /vsicurl/…)",
                zh=f"Dask 工作进程 {worker} 无法读取影像 {path}：{why_zh}；各工作进程需要在相同路径"
                "（共享磁盘）或可访问的 URL（/vsis3/…、/vsicurl/…）读到影像",
            )
    return n


def map_ordered(
    client: Any,
    func: Callable[..., Any],
    items: Sequence[Any],
    *,
    progress: Callable[[int, int], None] | None = None,
    retries: int = TASK_RETRIES,
    prepare: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Run ``func(item, **kwargs)`` for every item as a Dask task; results in item order.

    ``kwargs`` (small, picklable) go with every task. A task whose worker dies is
    rerun on another worker; one that fails ``retries`` times raises its own exception
    (a :class:`~gis.errors.GisError` keeps its type and message), a task that kills its
    workers repeatedly raises :class:`ClusterError`. ``progress(done, total)`` is called in
    this process as tasks finish. ``prepare(item)``, when given, turns an item into the task's
    argument just before its batch is submitted, so the workers start on the first batch while
    later items are still being prepared (packed) here.
    """
    from distributed.scheduler import KilledWorker

    tasks = _Submitter(client, func, list(items), prepare=prepare, retries=retries, kw=kwargs)
    out: list[Any] = [None] * len(tasks.items)
    try:
        for done, (position, result) in enumerate(tasks.results(), 1):
            out[position] = result
            if progress is not None:
                progress(done, len(out))
    except KilledWorker as exc:
        raise ClusterError(
            f"a task of {func.__name__} killed its Dask worker repeatedly ({exc}); no output "
            "was written — a worker may be short of memory: use smaller windows or more memory "
            "per worker",
            zh=f"{func.__name__} 的一个任务多次导致 Dask 工作进程退出；没有写出任何输出——"
            "可能是工作进程内存不足：请用更小的窗口，或给每个工作进程更多内存",
        ) from exc
    finally:
        client.cancel(tasks.futures)
    return out


class _Submitter:
    """Submit tasks batch by batch while results come back, a few batches ahead of the workers.

    Submitting (and preparing) every batch before the first result starves the scheduler,
    which runs on this process's event loop: measured, the first task started only after the
    last of 8 batches was sent (0.4 s of 26 s with one worker). Here batches are sent until
    ``ahead`` tasks are queued (two batches, or two tasks per worker thread, whichever is more)
    and then one more each time the queue runs short, so the workers never wait for the client.
    """

    def __init__(
        self,
        client: Any,
        func: Callable[..., Any],
        items: list[Any],
        *,
        prepare: Callable[[Any], Any] | None,
        retries: int,
        kw: dict[str, Any],
    ) -> None:
        self.client, self.func, self.items = client, func, items
        self.prepare, self.retries, self.kw = prepare, retries, kw
        self.step = max(1, -(-len(items) // SUBMIT_BATCHES))
        threads = sum(client.nthreads().values()) if len(items) > self.step else 0
        self.ahead = max(2 * self.step, 2 * threads)
        self.futures: list[Any] = []
        self.position: dict[Any, int] = {}

    def _submit_batch(self) -> list[Any]:
        start = len(self.futures)
        batch = self.items[start : start + self.step]
        if self.prepare is not None:
            batch = [self.prepare(item) for item in batch]
        with warnings.catch_warnings():  # the items are the data (window groups): big is fine
            warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
            new = self.client.map(self.func, batch, pure=False, retries=self.retries, **self.kw)
        self.position.update((f.key, start + i) for i, f in enumerate(new))
        self.futures += new
        return list(new)

    def results(self) -> Iterator[tuple[int, Any]]:
        """Yield (item position, result) as tasks finish, submitting batches on the way."""
        from distributed import as_completed

        if not self.items:
            return
        queue = as_completed(self._submit_batch(), with_results=True)
        self._fill(queue, 0)
        for done, (future, result) in enumerate(queue, 1):
            self._fill(queue, done)
            yield self.position[future.key], result

    def _fill(self, queue: Any, done: int) -> None:
        while len(self.futures) < len(self.items) and len(self.futures) - done < self.ahead:
            queue.update(self._submit_batch())


def map_frames(client: Any, func: Callable[[Any], Any], frame: pd.DataFrame, *, chunks: int) -> Any:
    """Apply ``func`` to ``chunks`` row slices of ``frame`` on the cluster; concatenate in order.

    ``func`` works feature by feature (as :func:`gis.units.area_m2` does, each feature in its
    own zone), so the concatenation equals ``func(frame)``.
    """
    bounds = np.linspace(0, len(frame), max(1, min(chunks, len(frame))) + 1).astype(int)
    pieces = [frame.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    parts = map_ordered(client, func, pieces)
    if parts and isinstance(parts[0], pd.DataFrame | pd.Series):
        return pd.concat(parts)
    return np.concatenate([np.asarray(p) for p in parts])


def _maxrss_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports kB, macOS bytes).

    Without ``resource`` (Windows), psutil's peak working set, what Task Manager shows as peak
    memory (the current resident size where a platform reports no peak).
    """
    if resource is not None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
    info = psutil.Process().memory_info()
    return round(getattr(info, "peak_wset", info.rss) / (1024 * 1024), 1)


def peak_memory_mb(client: Any) -> dict[str, float]:
    """Return peak resident memory (MB) per worker address; this process when no client."""
    if client is None:
        return {f"local:{os.getpid()}": _maxrss_mb()}
    return {str(k): float(v) for k, v in client.run(_maxrss_mb).items()}


def worker_pids(client: Any) -> dict[str, int]:
    """Return worker address → process id (to watch or stop a worker)."""
    return {str(k): int(v) for k, v in client.run(os.getpid).items()}


def cluster_info(client: Any) -> dict[str, Any]:
    """Return what the run table records of the cluster (address, workers, peak memory)."""
    if client is None:
        return {"engine": "one process", "peak_memory_mb": peak_memory_mb(None)}
    return {
        "engine": "dask",
        "scheduler": str(client.scheduler.address),
        "workers": len(client.scheduler_info().get("workers", {})),
        "peak_memory_mb": peak_memory_mb(client),
    }
