"""CPU seconds of the patch check on widened scenes, with and without the stand background.

The stand background (:mod:`gis.checks.patches.stand_rest`) reduces the rest of each
subcompartment holding a patch interpreted as 灾害/其他减少 from the patch pass's own windows
(:class:`~gis.checks.patches.stand_rest.StandTap`). This runs ``check_scene`` on the same
scenes twice each way (alternating, so that a shared machine's load falls on both) and prints
the CPU seconds (user + sys) of each run and the load average.

Run from the repository root::

    .venv/bin/python scripts/bench_stand_background.py --scenes 10
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from benchkit import cpu_seconds

import gis.checks.patches.stand_rest as stand
from gis.demo import robust, robust_wide


def main() -> None:
    """Time the check with and without the stand background."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=10)
    args = parser.parse_args()
    scenes = [robust_wide.make_wide_scene(s) for s in range(1, args.scenes + 1)]
    causes = stand.STAND_CAUSES
    for label, used in (("without", ()), ("with", causes)) * 2:
        stand.STAND_CAUSES = used
        with tempfile.TemporaryDirectory() as tmp:
            start = cpu_seconds()
            for scene in scenes:
                robust.check_scene(scene, Path(tmp) / str(scene.seed))
            spent = cpu_seconds() - start
        print(f"{label:>7} stand background: {spent:.2f} CPU-s for {len(scenes)} scenes")
    stand.STAND_CAUSES = causes
    print("load average", " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
