"""Compiled pixel loops of the raster reader (numba): raw counts → reflectance in one pass.

:meth:`gis.raster.RasterReader.read_array` turns every window it reads into float32
reflectance with NaN where a pixel is invalid. As numpy expressions that is a comparison per
band, a reduction, a conversion, a scale and an offset pass, then a masked fill; the loop here
reads each raw value once. Compiled on first use (cached on disk), GIL released.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gis.compiled import jit


@jit
def _convert(
    raw: Any, nodata: float, has_nodata: bool, extra: Any, has_extra: bool, scale: Any,
    offset: Any, pads: Any,
) -> tuple[Any, Any]:  # fmt: skip
    bands, h, w = raw.shape
    top, left = pads[0], pads[2]
    rows, cols = h + top + pads[1], w + left + pads[3]
    values = np.empty((bands, rows, cols), dtype=np.float32)
    invalid = np.ones((rows, cols), dtype=np.bool_)  # the pads (outside the raster) stay set
    inner = invalid[top : top + h, left : left + w]
    if has_extra:
        inner[:] = extra
    else:
        inner[:] = False
    for b in range(bands):  # band-planar, branch-free loops (the compiler vectorises them)
        for i in range(h):
            _convert_row(raw[b, i], nodata, has_nodata, scale, offset,
                         values[b, top + i, left : left + w], inner[i])  # fmt: skip
    _fill_invalid(values, inner, top, left)
    return values, invalid


@jit
def _convert_row(
    raw: Any, nodata: float, has_nodata: bool, scale: Any, offset: Any, out: Any, bad: Any
) -> None:
    """One row of one band: ``out = raw * scale + offset``; ``bad`` |= nodata or NaN.

    On contiguous rows, so the loop is a plain vector loop (no 2-D index arithmetic).
    """
    for j in range(raw.size):
        x = raw[j]
        bad[j] |= (x != x) | (has_nodata & (x == nodata))
        out[j] = np.float32(x) * scale + offset


@jit
def _fill_invalid(values: Any, inner: Any, top: int, left: int) -> None:
    """NaN in the pads around the ``inner`` block at (top, left), and where ``inner`` is set."""
    h, w = inner.shape
    for b in range(values.shape[0]):
        values[b, :top] = np.nan
        values[b, top + h :] = np.nan
        values[b, top : top + h, :left] = np.nan
        values[b, top : top + h, left + w :] = np.nan
    if inner.any():
        for b in range(values.shape[0]):
            out = values[b, top : top + h, left : left + w]
            for i in range(h):
                for j in range(w):
                    if inner[i, j]:
                        out[i, j] = np.nan


def to_reflectance(
    raw: NDArray[Any],
    *,
    nodata: float | None,
    scale: float,
    offset: float,
    invalid: NDArray[np.bool_] | None = None,
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Return float32 ``raw * scale + offset`` (bands, rows, cols) and the invalid mask.

    A pixel is invalid where any band equals ``nodata``, is NaN, or ``invalid`` (e.g. a cloud
    mask) is set; its values are NaN in every band. ``pads`` (top, bottom, left, right) adds
    that many invalid NaN rows and columns around the result (a window reaching past the
    raster's edge), written in the same pass instead of copied by ``np.pad``.

    Examples
    --------
    >>> raw = np.array([[[1000, 0]], [[2000, 5]]], dtype=np.uint16)
    >>> values, bad = to_reflectance(raw, nodata=0, scale=1e-4, offset=0.0)
    >>> [round(float(v), 4) for v in values[:, 0, 0]], bad.tolist()
    ([0.1, 0.2], [[False, True]])
    >>> values, bad = to_reflectance(raw, nodata=0, scale=1e-4, offset=0.0, pads=(0, 1, 0, 0))
    >>> values.shape, bad.tolist()
    ((2, 2, 2), [[False, True], [True, True]])
    """
    mask = invalid if invalid is not None else np.zeros((1, 1), dtype=np.bool_)
    return _convert(  # type: ignore[no-any-return]
        np.ascontiguousarray(raw), float(nodata) if nodata is not None else 0.0,
        nodata is not None, mask, invalid is not None, np.float32(scale), np.float32(offset),
        np.array(pads, dtype=np.int64),
    )  # fmt: skip
