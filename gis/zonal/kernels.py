"""Compiled loops of the windowed pass (numba): scanline spans, sums, pairs' classes.

A window holds hundreds of patches and some hundred thousand (patch, pixel) pairs. As numpy
expressions a pair's deviation from its ring's median is a gather per operand and a temporary
per step, and the loss terms of a pair a clip, a stack and two reductions; the loops here read
each operand once. The values are the same, bit for bit: the same float32 arithmetic in the
same order. The medians per patch sort with numpy (one sort of a window's (patch, value) keys,
nearly in order already, beats selecting within each patch); the keys are made and the middle
ones read back here, not every key. Likewise the scanline's spans are ordered and filled, the
fixed-point sums taken and the window's own pairs cut from a grown window in one pass each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gis.compiled import jit


@jit
def median_keys(ids: Any, values: Any, finite_only: bool) -> Any:
    """64-bit keys ordering (id, float32 value) pairs: the id, then the value's order key.

    A value's order key is its bit pattern with the sign bit flipped, or every bit of a
    negative one: -NaN first, then -inf … +inf, then +NaN. With ``finite_only`` the pairs of
    values that are not finite are left out.
    """
    bits = values.view(np.uint32)
    out = np.empty(bits.size, np.uint64)
    n = 0
    for i in range(bits.size):
        if finite_only and not np.isfinite(values[i]):
            continue
        out[n] = (np.uint64(ids[i]) << np.uint64(32)) | np.uint64(_to_key(bits[i]))
        n += 1
    return out[:n]


@jit
def deviation_keys(keys: Any, med: Any) -> Any:
    """:func:`median_keys` of ``|value - med[id]|`` (float32) of each key's (id, value)."""
    out = np.empty(keys.size, np.uint64)
    pick = np.empty(1, np.uint32)
    value = pick.view(np.float32)
    for i in range(keys.size):
        g = keys[i] >> np.uint64(32)
        pick[0] = _from_key(keys[i])
        value[0] = abs(value[0] - med[g])
        out[i] = (g << np.uint64(32)) | np.uint64(_to_key(pick[0]))
    return out


@jit
def sorted_medians(keys: Any, k: int) -> Any:
    """Median per id ``0..k-1`` of sorted :func:`median_keys` (NaN for an id without one).

    An even count averages the two middle values in float32, as ``np.median``.
    """
    out = np.full(k, np.nan)
    pick = np.empty(2, np.uint32)
    value = pick.view(np.float32)
    start = 0
    while start < keys.size:
        g = keys[start] >> np.uint64(32)
        end = start + 1
        while end < keys.size and keys[end] >> np.uint64(32) == g:
            end += 1
        n = end - start
        pick[0] = _from_key(keys[start + (n - 1) // 2])
        pick[1] = _from_key(keys[start + n // 2])
        out[g] = value[0] if n % 2 == 1 else (value[0] + value[1]) / np.float32(2)
        start = end
    return out


@jit
def _to_key(bits: Any) -> Any:
    """Return the order key of a float32 bit pattern (see :func:`median_keys`)."""
    return bits ^ (np.uint32(0xFFFFFFFF) if bits >> 31 == 1 else np.uint32(0x80000000))


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


@jit
def scanline(rows: Any, xs: Any, gid: Any, width: int, size: int) -> tuple[Any, Any, bool]:
    """Return (flat pixel, geometry id, sorted and distinct) of the spans between crossings.

    ``rows``/``xs``/``gid``: the crossings of the pixel-centre lines (row, x in pixel units,
    geometry), grouped by geometry (``gid`` non-decreasing). Within a geometry they are put in
    (row, x) order (by row, counted; then by x, inserted: a row holds a few), and each pair
    ``xa <= xb`` gives the columns ``floor(xa + 0.5) <= j < floor(xb + 0.5)`` within
    ``0..width``. The pixels come out by geometry, row, then column; the flag says whether the
    keys ``id * size + pixel`` strictly increase (no pixel twice: spans of a geometry apart).
    """
    m = rows.size
    order = np.empty(m, np.int64)
    a = 0
    while a < m:
        b = a
        while b < m and gid[b] == gid[a]:
            b += 1
        _sort_segment(rows, xs, order, a, b)
        a = b
    total = 0
    for s in range(0, m - 1, 2):
        total += max(_col(xs[order[s + 1]], width) - _col(xs[order[s]], width), 0)
    pos = np.empty(total, np.int64)
    ids = np.empty(total, np.int64)
    i = 0
    last = -1
    ordered = True
    for s in range(0, m - 1, 2):
        e = order[s]
        base = rows[e] * width
        g = gid[e]
        for c in range(_col(xs[e], width), _col(xs[order[s + 1]], width)):
            pos[i] = base + c
            ids[i] = g
            key = g * size + base + c
            ordered &= key > last
            last = key
            i += 1
    return pos, ids, ordered


@jit
def _col(x: float, width: int) -> int:
    """Return ``clip(floor(x + 0.5), 0, width)`` as an integer."""
    return int(min(max(np.floor(x + 0.5), 0.0), float(width)))


@jit
def _sort_segment(rows: Any, xs: Any, order: Any, a: int, b: int) -> None:
    """Write to ``order[a:b]`` the crossings ``a..b-1`` sorted by row, then x (stable)."""
    lo, hi = rows[a], rows[a]
    for e in range(a, b):
        lo, hi = min(lo, rows[e]), max(hi, rows[e])
    at = np.zeros(hi - lo + 2, np.int64)
    for e in range(a, b):
        at[rows[e] - lo + 1] += 1
    for r in range(1, at.size):
        at[r] += at[r - 1]
    for e in range(a, b):
        r = rows[e] - lo
        order[a + at[r]] = e
        at[r] += 1
    for i in range(a + 1, b):  # insertion by x within each row (rows are in order already)
        e = order[i]
        j = i - 1
        while j >= a and rows[order[j]] == rows[e] and xs[order[j]] > xs[e]:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = e


@jit
def fixed_sums(ids: Any, values: Any, k: int, quantum: float, split: int) -> tuple[Any, Any]:
    """Return (count, sum in integers of ``quantum``) of the finite ``values`` per id.

    Each value is rounded to a multiple of ``quantum`` (``rint(float64(v) / quantum)``) and
    its high and low parts (``divmod`` by ``split``) are summed apart, as the sums by
    ``bincount`` of float64 weights do exactly; here in int64.
    """
    count = np.zeros(k, np.int64)
    high = np.zeros(k, np.int64)
    low = np.zeros(k, np.int64)
    for i in range(values.size):
        v = values[i]
        if not np.isfinite(v):
            continue
        f = np.int64(np.rint(np.float64(v) / quantum))
        h = f // split
        g = ids[i]
        count[g] += 1
        high[g] += h
        low[g] += f - h * split
    return count, high * split + low


@jit
def in_core(
    pos: Any, ids: Any, margin: int, width: int, rows: int, cols: int, skip: Any
) -> tuple[Any, Any]:
    """(pixel in the window, id) of the pairs of a grown window that lie in the window itself.

    ``pos`` are flat pixels of the window grown by ``margin`` on each side (``width`` columns);
    the window is ``rows`` × ``cols``. Pairs whose grown-window pixel is set in ``skip`` (when
    it is not empty) are left out. The order is kept.
    """
    out_pos = np.empty(pos.size, np.int64)
    out_ids = np.empty(pos.size, np.int64)
    n = 0
    for i in range(pos.size):
        p = pos[i]
        r = p // width - margin
        c = p - (r + margin) * width - margin
        if r < 0 or r >= rows or c < 0 or c >= cols or (skip.size and skip[p]):
            continue
        out_pos[n] = r * cols + c
        out_ids[n] = ids[i]
        n += 1
    return out_pos[:n].copy(), out_ids[:n].copy()
