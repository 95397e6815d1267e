"""Spectral indices: tiny numpy functions on float arrays of reflectance (or DN).

Every index is a ratio; where its denominator is 0 the result is NaN (no warning). Inputs are
any arrays that broadcast together; the result has their common float dtype (float32 in, float32
out), so that the per-pixel values are the same whoever computes them.

Examples
--------
>>> import numpy as np
>>> ndvi(np.array([0.4, 0.0]), np.array([0.1, 0.0]))
array([0.6, nan])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

INDEX_ROLES: dict[str, tuple[str, str]] = {
    "ndvi": ("NIR", "R"),
    "gndvi": ("NIR", "G"),
    "grvi": ("G", "R"),
    "nbr": ("NIR", "SWIR2"),
    "ndre": ("NIR", "RE"),
    "rg_ratio": ("R", "G"),
}
"""Band roles each index needs, in argument order."""


def _as_float(a: ArrayLike) -> NDArray[Any]:
    arr = np.asarray(a)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def safe_ratio(num: ArrayLike, den: ArrayLike) -> NDArray[Any]:
    """Return ``num / den`` with NaN where ``den`` is 0.

    Examples
    --------
    >>> safe_ratio([1.0, 2.0], [2.0, 0.0])
    array([0.5, nan])
    """
    n, d = np.broadcast_arrays(_as_float(num), _as_float(den))
    with np.errstate(divide="ignore", invalid="ignore"):  # a plain divide is twice as fast
        out = np.asarray(np.divide(n, d))  # as a masked one (``where=``); same values
    out[d == 0] = np.nan
    return out


def normalized_difference(a: ArrayLike, b: ArrayLike) -> NDArray[Any]:
    """Return ``(a - b) / (a + b)``, NaN where ``a + b`` is 0.

    Examples
    --------
    >>> normalized_difference(3.0, 1.0)
    array(0.5)
    """
    fa, fb = _as_float(a), _as_float(b)
    return safe_ratio(fa - fb, fa + fb)


def ndvi(nir: ArrayLike, red: ArrayLike) -> NDArray[Any]:
    """Return the normalized difference vegetation index ``(NIR - R) / (NIR + R)``.

    Examples
    --------
    >>> float(ndvi(0.5, 0.1).round(4))
    0.6667
    """
    return normalized_difference(nir, red)


def gndvi(nir: ArrayLike, green: ArrayLike) -> NDArray[Any]:
    """Return the green NDVI ``(NIR - G) / (NIR + G)``.

    Examples
    --------
    >>> float(gndvi(0.5, 0.25).round(4))
    0.3333
    """
    return normalized_difference(nir, green)


def grvi(green: ArrayLike, red: ArrayLike) -> NDArray[Any]:
    """Return the green-red vegetation index ``(G - R) / (G + R)`` (works on RGB cameras).

    Examples
    --------
    >>> round(float(grvi(0.3, 0.1)), 6)
    0.5
    """
    return normalized_difference(green, red)


def nbr(nir: ArrayLike, swir2: ArrayLike) -> NDArray[Any]:
    """Return the normalized burn ratio ``(NIR - SWIR2) / (NIR + SWIR2)``.

    Examples
    --------
    >>> round(float(nbr(0.4, 0.1)), 6)
    0.6
    """
    return normalized_difference(nir, swir2)


def ndre(nir: ArrayLike, rededge: ArrayLike) -> NDArray[Any]:
    """Return the normalized difference red-edge index ``(NIR - RE) / (NIR + RE)``.

    Examples
    --------
    >>> float(ndre(0.4, 0.2).round(4))
    0.3333
    """
    return normalized_difference(nir, rededge)


def rg_ratio(red: ArrayLike, green: ArrayLike) -> NDArray[Any]:
    """Return the red/green ratio ``R / G``, NaN where G = 0 (discolored crowns raise it).

    Examples
    --------
    >>> rg_ratio([0.2, 0.1], [0.1, 0.0])
    array([ 2., nan])
    """
    return safe_ratio(red, green)
