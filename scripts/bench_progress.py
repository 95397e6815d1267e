"""Benchmark the cost of the progress bars (issue 14): ``check patches`` with and without them.

Builds the demo scene once (cached in ``--data``), then runs ``linyuan check patches`` on it
``--repeats`` times each way, alternating, as separate processes: with stderr on a
pseudo-terminal (bars drawn) and with stderr to a pipe (no bars). Prints the median CPU
seconds (user + system of the child) and wall seconds of each, their ratio, and the load
average; then the cost per item of a report to a tqdm bar and of a :func:`gis.progress.ticker`
tick (what the inside-patch pass calls per patch), measured in this process.

Usage::

    .venv/bin/python scripts/bench_progress.py
    .venv/bin/python scripts/bench_progress.py --repeats 9 --data /tmp/demo_scene
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import resource
import statistics
import subprocess
import sys
import termios
import time
from pathlib import Path

from benchkit import bench_dir

from gis.demo import build_demo
from gis.progress import Bars, ticker

LAYERS = {
    "--subcompartments": "subcompartments.shp",
    "--permits": "permits.gpkg",
    "--protected": "protected_areas.gpkg",
    "--districts": "districts.gpkg",
    "--forest-chiefs": "forest_chief_zones.gpkg",
}


def check_args(scene: Path, out: Path) -> list[str]:
    """``linyuan check patches`` on the demo scene (both Sentinel-2 images, every layer)."""
    layers = [str(a) for option, name in LAYERS.items() for a in (option, scene / name)]
    return [
        "check", "patches", str(scene / "change_patches.gpkg"),
        "--before", str(scene / "s2_before.tif"), "--after", str(scene / "s2_after.tif"),
        "--sensor", "sentinel2-l2a", *layers, "--out", str(out), "--overwrite",
    ]  # fmt: skip


def run(args: list[str], *, terminal: bool) -> tuple[float, float]:
    """Return wall and CPU seconds of ``python -m gis ARGS``; stderr a pty when ``terminal``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    argv = [sys.executable, "-m", "gis", *args]
    if terminal:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, bytes([40, 0, 120, 0, 0, 0, 0, 0]))
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        try:
            while os.read(master, 65536):
                pass
        except OSError:  # EIO: the child closed the terminal
            pass
        os.close(master)
        code = proc.wait()
    else:
        code = subprocess.run(argv, capture_output=True, check=False).returncode
    if code != 0:
        raise SystemExit(f"linyuan exited {code}: {' '.join(args)}")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def report_cost_us(calls: int = 200_000) -> tuple[float, float]:
    """Microseconds per item: a report to a tqdm bar (to /dev/null), a tick of a ticker on it."""
    costs = []
    with open(os.devnull, "w", encoding="utf-8") as sink:
        for counted in (False, True):
            bar = Bars(sink, lambda: "zh").start("windows", "窗口")
            tick = ticker(bar.update, calls)
            assert tick is not None
            start = time.perf_counter()
            for done in range(1, calls + 1):
                tick() if counted else bar.update(done, calls)
            costs.append((time.perf_counter() - start) / calls * 1e6)
            bar.close()
    return costs[0], costs[1]


def main() -> None:
    """Time the check with and without bars and print medians, ratio and load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", default=None, help="Folder of the demo scene (cached).")
    opts = parser.parse_args()
    scene = bench_dir(opts.data, "linyuan_bench_progress")
    if not (scene / "change_patches.gpkg").exists():
        build_demo(scene, overwrite=True)
    args = check_args(scene, scene / "bench_out.gpkg")
    times: dict[str, list[tuple[float, float]]] = {"bars": [], "no bars": []}
    print(f"load average before: {os.getloadavg()}")
    run(args, terminal=False)  # warm the file cache
    for _ in range(opts.repeats):
        times["bars"].append(run(args, terminal=True))
        times["no bars"].append(run(args, terminal=False))
    print(f"load average after:  {os.getloadavg()}")
    medians = {}
    for name, values in times.items():
        wall = statistics.median(w for w, _ in values)
        medians[name] = cpu = statistics.median(c for _, c in values)
        print(f"  check patches, {name:8s} CPU {cpu:6.2f} s  wall {wall:6.2f} s")
    print(f"  CPU ratio bars / no bars: {medians['bars'] / medians['no bars']:.3f}")
    report, tick = report_cost_us()
    print(f"  per item: a report to a tqdm bar {report:.2f} µs, a ticker's tick {tick:.2f} µs")


if __name__ == "__main__":
    main()
