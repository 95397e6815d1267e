"""Season of the image and stands turning colour as a whole (autumn larch, 秋季落叶松变色).

A dying pine crown is one crown in a green stand and loses NIR; larch (a deciduous host)
turns yellow, then orange, in autumn — a whole stand together, each crown at its own pace,
keeping most of its NIR until the needles fall. Two tests mark such *turning* stands, whose
crowns are then judged by NIR loss (:func:`gis.checks.discolored.pixels.shape_scores`):

- the image date (``--image-date``, else the raster's TIFFTAG_DATETIME / ACQUISITIONDATETIME
  / ACQUISITION_DATE tag) lies in the rules' autumn window and the stand's species is one of
  the rules' deciduous hosts;
- whatever the date: the stand's median GRVI lies ``turning_grvi_shift`` below the median of
  all host stands' medians (pines keep their colour; a stand whose canopy shifted moved its
  own baseline, and isolated anomalies in the other stands remain anomalies).

Examples
--------
>>> autumn = ("09-01", "11-15")
>>> date_in_window("2026-10-05", autumn), date_in_window("2026-07-25", autumn)
(True, False)
>>> parse_date("2026:10:05 10:30:00")
'2026-10-05'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import rasterio
from numpy.typing import NDArray

from gis.checks.discolored.baselines import Baselines
from gis.checks.discolored.pixels import CrownRules
from gis.raster import RasterSource
from gis.raster.dates import DATE_TAGS, parse_date  # one reading of image dates (issue 15)


def image_date_of(source: RasterSource) -> str | None:
    """Return the acquisition date from the raster's tags (:data:`DATE_TAGS`), or None.

    A product or mosaic (Sentinel-2 .SAFE, Landsat, several scenes) has its date from its
    metadata already (``source.acquired``); only a plain file's tags are read.
    """
    if source.acquired:
        return parse_date(source.acquired)
    if source.parts or source.dataset:
        return None
    with rasterio.open(source.path) as ds:
        tags = {k.upper(): v for k, v in ds.tags().items()}
    for key in DATE_TAGS:
        date = parse_date(tags.get(key))
        if date:
            return date
    return None


def date_in_window(date: str | None, window: Sequence[str]) -> bool:
    """Whether ``date`` (YYYY-MM-DD) falls between the ``MM-DD`` bounds of ``window``."""
    day = parse_date(date)
    if day is None:
        return False
    start, end = (str(w) for w in window)
    md = day[5:]
    return start <= md <= end if start <= end else (md >= start or md <= end)


def with_turning(base: Baselines, by_date: NDArray[np.bool_], rules: CrownRules) -> Baselines:
    """Return ``base`` with ``turning``: stands marked ``by_date`` or shifted in colour.

    ``by_date`` is indexed by stand number (0 = none). The shift test compares each stand's
    median GRVI with the median over the host stands with their own baseline.
    """
    own = ~base.pooled[1:] & np.isfinite(base.med_grvi[1:])
    turning = np.zeros(len(base.med_grvi), dtype=bool)
    turning[: len(by_date)] = by_date[: len(turning)]
    if own.sum() >= 2:
        ref = float(np.median(base.med_grvi[1:][own]))
        shifted = base.med_grvi < ref - rules.turning_grvi_shift
        turning[1:] |= shifted[1:] & ~base.pooled[1:]
    turning[0] = False
    return replace(base, turning=turning)
