"""Benchmark the patch check's raster step on Dask (issue 8: "Province scale on Dask").

Builds once (cached in the bench folder, shared with ``bench_patches.py``; free disk checked
first) a 4-band uint16 tiled GeoTIFF pair of ``--size``² pixels and ``--patches`` random patches,
then prints, each measurement in a fresh process, with one thread per worker:

* one process: ``change_stats(..., threads=1)`` — the single-threaded baseline;
* ``--workers 1`` and ``--workers 2``: the same call with a LocalCluster client (the cluster's
  start-up is timed separately, the results are checked bit-identical to the baseline);
* the speed-up of 2 workers over 1 (floor >= 1.7x), the Dask overhead of 1 worker over one
  process (floor <= 1.15x), peak memory per worker;
* a projection of a province-scale run (1 million patches, 1 TB of imagery on 50 workers) from
  the measured per-byte read cost, per-patch cost and serial planning cost.

Usage::

    .venv/bin/python scripts/bench_scale.py                          # 16000² pair, 200k patches
    .venv/bin/python scripts/bench_scale.py --size 8000 --patches 50000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout
sys.path.insert(0, str(ROOT / "scripts"))

import bench_patches as bp  # noqa: E402 (the same rasters and patches as bench_patches.py)
from benchkit import peak_rss_mb  # noqa: E402

PROVINCE_PATCHES = 1_000_000
PROVINCE_BYTES = 1e12
PROVINCE_WORKERS = 50


def _data(args: argparse.Namespace) -> tuple[tuple[Path, Path], Path]:
    d = bp._bench_dir(args.dir)
    need = args.size * args.size * 4 * 2 * 2 * 0.6
    have = shutil.disk_usage(d).free
    if (
        not all((d / f"{k}_{args.size}.tif").exists() for k in ("before", "after"))
        and have < 2 * need
    ):
        sys.exit(
            f"not enough free disk in {d}: {have / 1e9:.1f} GB free, need {2 * need / 1e9:.1f}"
        )
    return bp._write_pair(d, args.size), bp._patches(d, args.size, args.patches)


def _cpu_self() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_all(client: object) -> tuple[float, float]:
    """CPU seconds of (this process, all workers) (steadier than wall time on a shared box)."""
    workers = client.run(_cpu_self).values() if client is not None else []  # type: ignore[attr-defined]
    return _cpu_self(), sum(workers)


def _child(args: argparse.Namespace) -> None:
    """One measurement in this fresh process: print JSON (times, peak memory, checksum)."""
    import geopandas as gpd

    from gis.distributed import check_workers, dask_client, peak_memory_mb, worker_config
    from gis.findings import Findings
    from gis.raster import raster_source
    from gis.zonal import change_stats, plan_windows
    from gis.zonal.stats import _zones_in_raster_crs

    paths, patches = _data(args)
    zones = gpd.read_file(patches)
    before, after = (raster_source(p, bands="B,G,R,NIR") for p in paths)
    out: dict[str, object] = {}
    workers = None if args.child == "one" else int(args.child)
    t = time.perf_counter()
    with dask_client(workers=workers) as client:
        if client is not None:  # start-up includes the workers importing the engine
            check_workers(client, [before.path, after.path])
        out["startup"] = time.perf_counter() - t
        cpu0 = _cpu_all(client)
        t = time.perf_counter()
        stats = change_stats(zones, before, after, threads=1, client=client)
        out["time"] = time.perf_counter() - t
        cpu1 = _cpu_all(client)
        out["cpu_client"], out["cpu_workers"] = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        out["cpu"] = out["cpu_client"] + out["cpu_workers"]
        out["peak_mb"] = peak_memory_mb(client)
        if client is not None:  # what the workers really run with (profiler, tick, malloc)
            out["worker_config"] = next(iter(worker_config(client).values()))
    if workers is None:
        out["peak_mb"] = {"one process": peak_rss_mb()}
        t = time.perf_counter()
        geoms = _zones_in_raster_crs(zones, before, Findings())
        plan_windows(geoms, before.grid, 1024, ring_m=30.0, block_shape=before.block_shape)
        out["plan"] = time.perf_counter() - t
        out["read"] = bp._plain_read(paths)
        out["bytes"] = sum(os.path.getsize(p) for p in paths)
    out["digest"] = hashlib.sha256(stats.to_numpy().tobytes()).hexdigest()
    out["patches"] = len(zones)
    print(json.dumps(out))


def _run(what: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", what, "--size", str(args.size)]
    cmd += ["--patches", str(args.patches)] + (["--dir", args.dir] if args.dir else [])
    runs = []
    for _ in range(max(1, args.repeat)):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"{what} failed:\n{done.stderr[-3000:]}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda r: r["time"])


def _projection(one: dict, w2: dict) -> str:
    """Project 1 M patches over 1 TB on 50 workers from the measured costs."""
    per_byte = one["read"] / one["bytes"]  # full single-threaded read of both dates
    per_patch = max(one["time"] - one["read"], 0.0) / one["patches"]
    plan_per_patch = one["plan"] / one["patches"]  # serial, on the client
    efficiency = (one["time"] / w2["time"]) / 2  # per-worker efficiency measured on 2 workers
    work = PROVINCE_BYTES * per_byte + PROVINCE_PATCHES * per_patch
    parallel = work / (PROVINCE_WORKERS * min(efficiency, 1.0))
    serial = PROVINCE_PATCHES * plan_per_patch
    return (
        f"projection: {PROVINCE_PATCHES:,} patches, {PROVINCE_BYTES / 1e12:.0f} TB imagery "
        f"(compressed GeoTIFF as here, read whole — an upper bound), {PROVINCE_WORKERS} workers: "
        f"read {per_byte * 1e9:.2f} s/GB, {per_patch * 1e3:.3f} ms/patch, plan "
        f"{plan_per_patch * 1e6:.1f} µs/patch serial, efficiency {efficiency:.2f} → "
        f"{work / 3600:.1f} CPU-h of tasks, ≈ {(parallel + serial) / 60:.0f} min wall "
        f"({serial / 60:.1f} min planning on the client), I/O bandwidth permitting "
        f"({PROVINCE_BYTES / max(parallel, 1) / 1e9:.2f} GB/s aggregate)"
    )


def main() -> None:
    """Parse options, run the measurements, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", type=int, default=16000, help="raster pixels a side")
    ap.add_argument("--patches", type=int, default=200_000, help="patch count")
    ap.add_argument("--repeat", type=int, default=1, help="best of N per measurement")
    ap.add_argument("--dir", default=None, help="bench folder (default: $TMPDIR/linyuan_bench)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    _data(args)
    print(f"{args.size}² 4-band pair, {args.patches:,} patches; {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; one thread per worker")  # fmt: skip
    res = {what: _run(what, args) for what in ("one", "1", "2")}
    for what, label in (("one", "one process"), ("1", "--workers 1"), ("2", "--workers 2")):
        r = res[what]
        peak = ", ".join(f"{k} {v:.0f} MB" for k, v in r["peak_mb"].items())
        print(
            f"{label:12s} {r['time']:7.1f} s wall, {r['cpu']:6.1f} s CPU (client "
            f"{r['cpu_client']:.1f} + workers {r['cpu_workers']:.1f}; cluster start "
            f"{r['startup']:.1f} s)  peak {peak}"
        )
    print(f"worker settings: {res['1']['worker_config']}")
    same = len({r["digest"] for r in res.values()}) == 1
    speed = res["1"]["time"] / res["2"]["time"]
    over = res["1"]["time"] / res["one"]["time"]
    print(f"results identical in all three: {same}")
    print(f"CPU of --workers 1 / one process: {res['1']['cpu'] / res['one']['cpu']:.2f}x")
    ok = {True: "ok", False: "MISSED"}
    print(f"speed-up 2 workers over 1: {speed:.2f}x (floor >= 1.7x: {ok[speed >= 1.7]})")
    print(f"overhead --workers 1 / one process: {over:.2f}x (floor <= 1.15x: {ok[over <= 1.15]})")
    print(_projection(res["one"], res["2"]))


if __name__ == "__main__":
    main()
