"""Coordinates as tables write them: decimal degrees, or degrees-minutes-seconds in text.

Provincial hotspot tables and survey sheets often give 经度/纬度 as ``125°27′45.1″``,
``125°27'45.1"E``, ``125度27分45.1秒`` or ``43°47.5′N``; :func:`parse_degrees` reads those
and plain numbers alike, and leaves anything else NaN.

Examples
--------
>>> import pandas as pd
>>> values = pd.Series(["125.5", "125°30′", "43度47分30秒", "43°47′30″S", "东经"])
>>> parse_degrees(values).round(4).tolist()
[125.5, 125.5, 43.7917, -43.7917, nan]
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
from numpy.typing import NDArray

_DMS = re.compile(
    r"^(?P<pre>[NSEW东西南北]?)(?:北纬|南纬|东经|西经)?\s*"
    r"(?P<d>\d+(?:\.\d+)?)\s*(?:°|º|度|d)\s*"
    r"(?:(?P<m>\d+(?:\.\d+)?)\s*(?:'|′|’|分|m)\s*)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)\s*(?:\"|″|”|''|′′|秒|s)\s*)?"
    r"(?P<post>[NSEW东西南北]?)$",
    re.IGNORECASE,
)
_NEGATIVE = frozenset("SW南西")


def dms_to_degrees(text: str) -> float:
    """Return the decimal degrees of one degrees(-minutes(-seconds)) text, or NaN.

    Examples
    --------
    >>> dms_to_degrees("125°27′45″E"), dms_to_degrees("西经 1度30分")
    (125.4625, -1.5)
    """
    value = unicodedata.normalize("NFKC", text).strip()
    sign = -1.0 if value.startswith(("西经", "南纬")) else 1.0
    match = _DMS.match(value.replace("西经", "").replace("南纬", "").strip())
    if match is None:
        return float("nan")
    parts = match.groupdict()
    degrees = float(parts["d"]) + float(parts["m"] or 0) / 60 + float(parts["s"] or 0) / 3600
    hemisphere = (parts["pre"] or parts["post"]).upper()
    return -degrees if hemisphere and hemisphere in _NEGATIVE else sign * degrees


def parse_degrees(values: pd.Series) -> NDArray[np.float64]:
    """Return ``values`` as decimal degrees: numbers as they are, DMS text converted, else NaN."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, copy=True)
    text = values.notna() & np.isnan(numbers)
    if text.any():
        numbers[text.to_numpy()] = values[text].astype(str).map(dms_to_degrees).to_numpy(float)
    return numbers
