"""Freed memory kept for reuse in window loops (glibc's allocator thresholds).

A windowed pass allocates the same arrays for every window — tens of megabytes at 1024² with
a halo. By default glibc hands blocks above 128 KiB straight back to the kernel when they are
freed (``mmap``, and trimming the top of a heap), so the next window's arrays fault their
pages in again: some 700 page faults a window in ``detect discolored``, each a few
microseconds of system time. :func:`reuse_freed_memory` raises both thresholds once per
process, so freed blocks are reused instead. Peak memory is unchanged — what is kept was in
use a moment before — only the resident size no longer shrinks between windows. Outside
glibc (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
"""``mallopt`` parameters (glibc's ``malloc.h``)."""
MMAP_MB = 32
"""Blocks up to this size come from the heap, not ``mmap`` (glibc's ceiling on 64-bit)."""
TRIM_MB = 128
"""Free memory a heap keeps at its top before returning it to the kernel."""


@functools.cache
def reuse_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (once); return whether they were set.

    Both or neither: setting one switches off glibc's own adaptation of the other, which
    is worse than the defaults.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl, or no libc.so.6
        return False
    if mallopt(M_TRIM_THRESHOLD, TRIM_MB << 20) != 1:
        return False
    done = mallopt(M_MMAP_THRESHOLD, MMAP_MB << 20) == 1
    logger.debug("glibc thresholds: trim %d MB, mmap %d MB (%s)", TRIM_MB, MMAP_MB, done)
    return bool(done)
