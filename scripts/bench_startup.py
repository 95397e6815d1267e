"""Benchmark the start-up of the ``linyuan`` command line (issue 17: "Start-up").

Runs ``python -m gis --help`` and the ``--help`` of several commands (``check patches``,
``fire``, ``validate``, ``map``, ``demo``, ``verify status``; the same code as the ``linyuan``
script) each in a fresh process, ``--repeats`` times, alternating the commands, and prints
the median wall and CPU time of each against the 0.3 s floor, with the load average (the
machine is shared: say it).
``--source DIR`` runs another checkout's ``gis`` (e.g. an exported older commit) to compare.

Usage::

    .venv/bin/python scripts/bench_startup.py
    .venv/bin/python scripts/bench_startup.py --source /tmp/before --repeats 10
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

FLOOR_S = 0.3
COMMANDS = (
    ("linyuan --help", ["--help"]),
    ("linyuan check patches --help", ["check", "patches", "--help"]),
    ("linyuan fire --help", ["fire", "--help"]),
    ("linyuan validate --help", ["validate", "--help"]),
    ("linyuan map --help", ["map", "--help"]),
    ("linyuan demo --help", ["demo", "--help"]),
    ("linyuan verify status --help", ["verify", "status", "--help"]),
)


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Return wall and CPU seconds of one ``python -m gis ARGS`` in a fresh process.

    Run from ``PYTHONPATH``'s folder: ``-m`` puts the working folder first on ``sys.path``,
    so run from a checkout it would time that checkout's ``gis``, whatever ``--source`` says.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    argv = [sys.executable, "-m", "gis", *args]
    subprocess.run(argv, env=env, cwd=env["PYTHONPATH"], check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    """Time each command and print medians, the floor and the load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1])
    opts = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(opts.source.resolve())}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in COMMANDS}
    print(f"load average before: {os.getloadavg()}")
    for _ in range(opts.repeats):
        for name, args in COMMANDS:
            times[name].append(run_once(args, env))
    print(f"load average after:  {os.getloadavg()}")
    print(f"gis from {opts.source}; median of {opts.repeats} runs (floor {FLOOR_S:.1f} s)")
    for name, values in times.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        verdict = "ok" if wall < FLOOR_S else "OVER"
        best = min(w for w, _ in values)
        print(f"  {name:30s} wall {wall:6.3f} s (min {best:.3f})  CPU {cpu:6.3f} s  {verdict}")


if __name__ == "__main__":
    main()
