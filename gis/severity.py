"""Burn severity from the Normalized Burn Ratio: the one definition of "burned" in Linyuan.

Both the patch check (a change patch that burned, 灾害) and the fire check (火场面积 and
受害森林面积 after a fire) decide which pixels burned with :func:`burned_mask` and class them with
:func:`severity_class`, so a patch and a fire scar measured on the same pair agree.

Sign convention. Linyuan's evidence column ``dnbr`` is *after − before* (negative = loss, like
``dndvi``). The burn-severity literature — and this module — uses Key & Benson's
``dNBR = NBR_before − NBR_after`` (positive = burned); :func:`burn_dnbr` computes it from the two
NBR values, so nobody flips a sign by hand.

Thresholds are Key & Benson (2006), *Landscape Assessment: Sampling and Analysis Methods*,
FIREMON, USDA Forest Service Gen. Tech. Rep. RMRS-GTR-164-CD, table "dNBR ranges" (there ×1000):
enhanced regrowth < −0.100, unburned −0.100 to < 0.100, low 0.100 to < 0.270, moderate-low
0.270 to < 0.440, moderate-high 0.440 to < 0.660, high ≥ 0.660. They were calibrated on
Landsat surface reflectance; on uncalibrated (DN or 8-bit stretched) imagery NBR is not
comparable between dates and these thresholds do not apply.

Examples
--------
>>> import numpy as np
>>> d = burn_dnbr(np.array([0.6, 0.6, 0.6]), np.array([0.55, 0.2, -0.3]))
>>> d.round(2)
array([0.05, 0.4 , 0.9 ])
>>> severity_class(d).tolist()
[1, 3, 5]
>>> burned_mask(d).tolist()
[False, True, True]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

SEVERITY_THRESHOLDS: tuple[float, ...] = (-0.100, 0.100, 0.270, 0.440, 0.660)
"""Upper-exclusive class bounds of Key & Benson dNBR (unitless): class ``k`` holds
``SEVERITY_THRESHOLDS[k-1] <= dNBR < SEVERITY_THRESHOLDS[k]``."""

BURNED_DNBR = SEVERITY_THRESHOLDS[1]
"""dNBR from which a pixel counts as burned (the lower bound of "low severity"): 0.100."""

SEVERITY_CODES: dict[int, tuple[str, str]] = {
    0: ("增强再生", "enhanced regrowth"),
    1: ("未燃烧", "unburned"),
    2: ("轻度", "low"),
    3: ("中度偏轻", "moderate-low"),
    4: ("中度偏重", "moderate-high"),
    5: ("重度", "high"),
}
"""Severity class code → (Chinese, English) label; -1 (no valid pixel) has no label."""

NO_DATA_CLASS = -1


def burn_dnbr(nbr_before: ArrayLike, nbr_after: ArrayLike) -> NDArray[Any]:
    """Return Key & Benson's ``dNBR = NBR_before − NBR_after`` (positive = burned).

    Examples
    --------
    >>> float(burn_dnbr(0.5, 0.1).round(3))
    0.4
    """
    return np.asarray(nbr_before, dtype=float) - np.asarray(nbr_after, dtype=float)


def rdnbr(dnbr: ArrayLike, nbr_before: ArrayLike) -> NDArray[Any]:
    """Return the relative dNBR ``dNBR / sqrt(|NBR_before|)`` (Miller & Thode 2007).

    RdNBR compares severity across stands of different pre-fire cover (sparse stands give a
    small dNBR even when all of them burned). ``|NBR_before|`` is floored at 0.001, as Miller &
    Thode do, so bare ground before the fire gives a finite value.

    Examples
    --------
    >>> float(rdnbr(0.4, 0.64).round(3))
    0.5
    """
    pre = np.maximum(np.abs(np.asarray(nbr_before, dtype=float)), 0.001)
    return np.asarray(dnbr, dtype=float) / np.sqrt(pre)


def severity_class(dnbr: ArrayLike) -> NDArray[np.int8]:
    """Return the Key & Benson severity class (codes of :data:`SEVERITY_CODES`) per value.

    NaN (no valid pixel on either date) gives :data:`NO_DATA_CLASS` (-1).

    Examples
    --------
    >>> severity_class([-0.2, 0.0, 0.1, 0.3, 0.5, 0.7, float("nan")]).tolist()
    [0, 1, 2, 3, 4, 5, -1]
    """
    d = np.asarray(dnbr, dtype=float)
    out = np.digitize(d, SEVERITY_THRESHOLDS, right=False).astype(np.int8)
    out[np.isnan(d)] = NO_DATA_CLASS
    return out


def burned_mask(dnbr: ArrayLike, *, threshold: float = BURNED_DNBR) -> NDArray[np.bool_]:
    """Return where a pixel burned: ``dNBR >= threshold`` (NaN is never burned).

    Examples
    --------
    >>> burned_mask([0.05, 0.1, float("nan")]).tolist()
    [False, True, False]
    """
    d = np.asarray(dnbr, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray(d >= threshold)


def severity_label(code: int, lang: str = "zh") -> str:
    """Return the label of a severity class code in ``lang`` ("zh" or "en").

    Examples
    --------
    >>> severity_label(5), severity_label(2, "en")
    ('重度', 'low')
    """
    zh, en = SEVERITY_CODES[int(code)]
    return en if lang == "en" else zh
