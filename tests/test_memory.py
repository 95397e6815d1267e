"""Freed memory kept for reuse (gis.memory): glibc's thresholds are set once, elsewhere nothing."""

from __future__ import annotations

import platform
import sys

import numpy as np

from gis.memory import reuse_freed_memory


def test_reuse_freed_memory_sets_glibc_thresholds_once() -> None:
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert reuse_freed_memory() is glibc
    assert reuse_freed_memory() is glibc  # cached: mallopt is called once per process
    blocks = [np.ones((512, 1024)) for _ in range(4)]  # 4 MB each: now from the heap
    del blocks[:2]
    again = np.full((512, 1024), 2.0)
    assert float(again.sum() + sum(b.sum() for b in blocks)) == 4 * 512 * 1024
