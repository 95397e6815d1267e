"""What every benchmark script measures of its own process: CPU seconds, peak RSS, a cache folder.

Imported by the ``scripts/bench_*.py`` scripts (they put ``scripts/`` on ``sys.path`` by being
run from it); not part of the ``gis`` package.
"""

from __future__ import annotations

import resource
import tempfile
from pathlib import Path


def cpu_seconds() -> float:
    """CPU seconds of this process so far (user + system, all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak RSS of this process (VmHWM; ru_maxrss would include the parent's before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_dir(arg: str | None, name: str) -> Path:
    """The folder ``arg``, else ``$TMPDIR/name``: built data is cached there between runs."""
    d = Path(arg) if arg else Path(tempfile.gettempdir()) / name
    d.mkdir(parents=True, exist_ok=True)
    return d
