"""Field names as the catalog compares them and as a Shapefile cuts them.

Names are compared after NFKC (full→half width), trimming and casefolding
(:func:`normalize_name`). A DBF field name holds at most 10 bytes, so a Shapefile export cuts
longer names (:func:`shapefile_cut`, counted in GBK or UTF-8 bytes); the catalog recognises such
cut names when they are unambiguous (:attr:`gis.layers.LayerKind.alias_rank`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

SHAPEFILE_NAME_BYTES = 10
"""A DBF field name holds at most 10 bytes; longer names are cut on Shapefile export."""


def normalize_name(name: Any) -> str:
    """Return a name as compared with aliases: NFKC (full→half width), trimmed, casefolded.

    Examples
    --------
    >>> normalize_name(" ＰＡＮ＿ＮＯ＿ＴＢ ")
    'pan_no_tb'
    """
    return unicodedata.normalize("NFKC", str(name)).strip().casefold()


def shapefile_cut(name: str, *, encoding: str = "gbk", limit: int = SHAPEFILE_NAME_BYTES) -> str:
    """Return ``name`` as a DBF would keep it: at most ``limit`` bytes, whole characters only.

    Examples
    --------
    >>> shapefile_cut("判读变化原因")
    '判读变化原'
    """
    out = ""
    for char in name:
        if len((out + char).encode(encoding, errors="replace")) > limit:
            break
        out += char
    return out


def gbk_bytes(name: str) -> int:
    """Return the length of ``name`` in GBK bytes (what a Chinese DBF stores).

    Examples
    --------
    >>> gbk_bytes("判读图斑编号"), gbk_bytes("TBBH")
    (12, 4)
    """
    return len(name.encode("gbk", errors="replace"))


def is_short_name(name: str) -> bool:
    """National pinyin short names: ASCII capitals, digits and ``_``, at most 10 bytes."""
    return re.fullmatch(r"[A-Z][A-Z0-9_]{0,9}", name) is not None
