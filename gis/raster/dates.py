"""Image dates: from the products' metadata, checked against the patches' 前期/后期影像时间.

A product knows when it was sensed (Sentinel-2 ``PRODUCT_START_TIME``, Landsat
``DATE_ACQUIRED``). When the run is given no image dates, those dates fill the patches that
carry none (permit validity needs them). A patch whose own date differs from the product's
by more than :data:`DATE_TOLERANCE_DAYS` is a finding: the patch was interpreted on other
imagery than the one checked, or the product is of another season.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gis.findings import Findings
from gis.raster.source import RasterSource

DATE_TOLERANCE_DAYS = 30
"""Largest difference, in days, between a patch's image date and the product's."""

_ZH = {"before": "前期", "after": "后期"}


def reconcile_dates(
    patches: pd.DataFrame,
    before: RasterSource,
    after: RasterSource,
    *,
    given: tuple[Any, Any] | None = None,
    findings: Findings,
    tolerance_days: int = DATE_TOLERANCE_DAYS,
) -> tuple[Any, Any] | None:
    """Return the image dates of the run: ``given``, else the products' own dates.

    Patches whose ``image_date_before``/``image_date_after`` differ from the product's date
    by more than ``tolerance_days`` give the finding ``image_date_mismatch``.

    Examples
    --------
    >>> from gis.sensors import Sensor
    >>> s2 = Sensor.SENTINEL2_L2A
    >>> b = RasterSource("b.SAFE", s2, ("R",), 1e-4, 0.0, 0, acquired="2023-05-02")
    >>> a = RasterSource("a.SAFE", s2, ("R",), 1e-4, 0.0, 0, acquired="2023-09-20")
    >>> log = Findings()
    >>> p = pd.DataFrame({"image_date_after": ["2023-06-01"]})
    >>> reconcile_dates(p, b, a, findings=log)
    ('2023-05-02', '2023-09-20')
    >>> [f.code for f in log]
    ['image_dates_from_metadata', 'image_date_mismatch']
    """
    meta = {"before": before.acquired, "after": after.acquired}
    out = given
    if given is None and all(meta.values()):
        out = (meta["before"], meta["after"])
        findings.add(
            "image_dates_from_metadata",
            f"image dates taken from the products' metadata: before {meta['before']}, after "
            f"{meta['after']} (for patches without 前期/后期影像时间)",
            severity="info",
            zh=f"影像时间取自产品元数据：前期 {meta['before']}，后期 {meta['after']}"
            "（用于缺少前期/后期影像时间的图斑）",
        )
    for date, value in meta.items():
        column = f"image_date_{date}"
        if value is None or column not in patches:
            continue
        own = pd.to_datetime(patches[column], errors="coerce")
        days = (own - pd.Timestamp(value)).abs().dt.days
        off = days > tolerance_days
        if off.any():
            findings.add(
                "image_date_mismatch",
                f"{int(off.sum())} patches give a {date} image date more than {tolerance_days} "
                f"days from the {date} product's ({value}; up to {int(days.max())} days): they "
                "were interpreted on other imagery — check that the right product was given",
                field=column,
                source=(before if date == "before" else after).path,
                zh=f"{int(off.sum())} 个图斑的{_ZH[date]}影像时间与{_ZH[date]}产品（{value}）"
                f"相差超过 {tolerance_days} 天（最多 {int(days.max())} 天）：判读所用影像不同——"
                "请核对所给产品是否正确",
            )
    return out
