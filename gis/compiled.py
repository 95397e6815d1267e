"""Compile Linyuan's pixel loops with numba, cached on disk where a cache can be written.

:func:`jit` compiles a function to machine code on its first call, releases the GIL (threads
and Dask workers run it in parallel) and uses numpy's float semantics (``x / 0`` is inf or
NaN, not an exception). The compiled code is cached next to the module, else in the user's
cache folder (``NUMBA_CACHE_DIR`` sets it); where neither can be written — a read-only install
on a cluster node without a home folder — numba refuses to cache, and the function is then
compiled afresh in each process instead of failing at import.

Examples
--------
>>> @jit
... def twice(x):
...     return 2 * x
>>> twice(21)
42
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numba

logger = logging.getLogger(__name__)

_OPTIONS = {"nogil": True, "error_model": "numpy"}


def _cached(make: Callable[..., Any], fn: Callable[..., Any], **options: Any) -> Any:
    try:
        return make(cache=True, **options)(fn)
    except RuntimeError as exc:  # "cannot cache function …: no locator available"
        logger.info(
            "numba cannot cache %s (%s); compiling it in this process",
            fn,
            exc,
            extra={"zh": "numba 无法缓存 %s（%s）；在本进程内编译"},
        )
        return make(**options)(fn)


def jit(fn: Callable[..., Any]) -> Any:
    """Compile ``fn`` (nopython, GIL released, numpy float semantics, cached if possible)."""
    return _cached(numba.njit, fn, **_OPTIONS)


def vectorize(fn: Callable[..., Any]) -> Any:
    """Turn the scalar ``fn`` into a numpy ufunc compiled per input dtype (cached if possible)."""
    return _cached(numba.vectorize, fn)
