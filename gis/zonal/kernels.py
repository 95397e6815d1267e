"""Compiled loops of the inside pass (numba): each pair's deviation from its ring, its class.

A window holds hundreds of patches and some hundred thousand (patch, pixel) pairs. As numpy
expressions a pair's deviation from its ring's median is a gather per operand and a temporary
per step, and the loss terms of a pair a clip, a stack and two reductions; the loops here read
each operand once. The values are the same, bit for bit: the same float32 arithmetic in the
same order. The medians per patch sort with numpy (one sort of a window's (patch, value) keys,
nearly in order already, beats selecting within each patch); the keys are made and the middle
ones read back here, not every key.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gis.compiled import jit


@jit
def median_keys(ids: Any, bits: Any) -> Any:
    """64-bit keys ordering (id, float32 value) pairs: the id, then the value's order key.

    ``bits`` are the float32 values' bit patterns; a value's order key flips its sign bit, or
    every bit of a negative one: -NaN first, then -inf … +inf, then +NaN.
    """
    out = np.empty(bits.size, np.uint64)
    for i in range(bits.size):
        b = bits[i]
        key = b ^ (np.uint32(0xFFFFFFFF) if b >> 31 == 1 else np.uint32(0x80000000))
        out[i] = (np.uint64(ids[i]) << np.uint64(32)) | np.uint64(key)
    return out


@jit
def sorted_medians(keys: Any, start: Any, count: Any) -> Any:
    """Median of each run ``keys[start[i] : start[i] + count[i]]`` of sorted :func:`median_keys`.

    An even count averages the two middle values in float32, as ``np.median``; NaN for none.
    """
    k = start.size
    out = np.full(k, np.nan)
    pick = np.empty(2, np.uint32)
    value = pick.view(np.float32)
    for i in range(k):
        n = count[i]
        if n == 0:
            continue
        pick[0] = _from_key(keys[start[i] + (n - 1) // 2])
        pick[1] = _from_key(keys[start[i] + n // 2])
        out[i] = value[0] if n % 2 == 1 else (value[0] + value[1]) / np.float32(2)
    return out


@jit
def _from_key(key: Any) -> Any:
    """Return the float32 bit pattern of the low 32 bits of a :func:`median_keys` key."""
    low = np.uint32(key & np.uint64(0xFFFFFFFF))
    return low ^ (np.uint32(0x80000000) if low >> 31 == 1 else np.uint32(0xFFFFFFFF))


@jit
def deviations(values: Any, pos: Any, ids: Any, med: Any, shift: Any, floors: Any) -> Any:
    """``(values[pos] - med[ids] where shift[ids], else values[pos]) / floors[ids]`` per pair.

    In the values' own dtype (``med`` and ``floors`` are of it), as the numpy expression.
    """
    out = np.empty(pos.size, values.dtype)
    for i in range(pos.size):
        g = ids[i]
        v = values[pos[i]]
        if shift[g]:
            v = v - med[g]
        out[i] = v / floors[g]
    return out


@jit
def classify(
    loss: Any, nbr_loss: Any, swir_rise: Any, red_rise: Any, gain: Any, combined: Any
) -> tuple[Any, Any]:
    """(lost, gained) per pair from its deviations (empty arrays for the absent evidence).

    A loss term is a deviation beyond its floor in the loss direction, clipped at 0 (NaN
    counts 0, +inf the largest float32): a pair is lost when one term reaches 1 or their
    float32 sum, in the order given, reaches ``combined``; gained when its gain reaches 1
    and it is not lost.
    """
    n = loss.size
    lost = np.empty(n, np.bool_)
    gained = np.empty(n, np.bool_)
    for i in range(n):
        top = _term(-loss[i])
        total = top
        if nbr_loss.size:
            a, b = _term(-nbr_loss[i]), _term(swir_rise[i])
            top = max(top, a, b)
            total = total + a
            total = total + b
        if red_rise.size:
            c = _term(red_rise[i])
            top = max(top, c)
            total = total + c
        lost[i] = (top >= 1.0) | (total >= combined)
        gained[i] = (gain[i] >= 1.0) & ~lost[i]
    return lost, gained


@jit
def _term(x: Any) -> Any:
    """Return ``np.nan_to_num(np.clip(x, 0, None))`` of one float32."""
    if x != x or x <= 0:
        return np.float32(0)
    return min(x, np.finfo(np.float32).max)
