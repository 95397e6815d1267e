"""Image dates: from the images' metadata, checked against the patches' 前期/后期影像时间.

A product knows when it was sensed (Sentinel-2 ``PRODUCT_START_TIME``, Landsat
``DATE_ACQUIRED``, a STAC Item's ``datetime``); a plain raster file may say it in its tags
(:func:`tags_date`: GDAL's ``IMAGERY`` metadata domain, then ``ACQUISITIONDATETIME``,
``ACQUISITION_DATE``, ``ACQUISITIONDATE``, ``TIFFTAG_DATETIME``). The same reading serves the
patch check and ``detect discolored`` (:mod:`gis.checks.discolored.season`).

When the run is given no image dates, those dates fill the patches that carry none (permit
validity needs them). A patch whose own date differs from the image's by more than
:data:`DATE_TOLERANCE_DAYS` is a finding: the patch was interpreted on other imagery than the
one checked, or the image is of another season.

Examples
--------
>>> parse_date("2026:10:05 10:30:00"), parse_date("20261005"), parse_date("no date")
('2026-10-05', '2026-10-05', None)
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pandas as pd

from gis.findings import Findings
from gis.io.rasters import open_raster
from gis.raster.source import RasterSource

DATE_TOLERANCE_DAYS = 30
"""Largest difference, in days, between a patch's image date and the product's."""

_ZH = {"before": "前期", "after": "后期"}

DATE_TAGS = ("ACQUISITIONDATETIME", "ACQUISITION_DATE", "ACQUISITIONDATE", "TIFFTAG_DATETIME")
"""Raster tags read for the image date, in this order (a delivery's own date first; the TIFF
date-time, often the file's processing time, last). GDAL's ``IMAGERY`` metadata domain (its
readers of satellite metadata files beside the image) comes before them all."""

_DATE = re.compile(r"(\d{4})[-:/.]?(\d{1,2})[-:/.]?(\d{1,2})")


def parse_date(text: Any) -> str | None:
    """Return ``YYYY-MM-DD`` from a date or date-time text (``2026:10:05 10:30:00``), or None."""
    m = _DATE.search(str(text or ""))
    if not m:
        return None
    y, mo, d = (int(g) for g in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}"


def with_tag_date(src: RasterSource) -> RasterSource:
    """Return ``src`` dated by its file's tags (:func:`tags_date`) when it has no date yet.

    A product or mosaic keeps the date of its metadata (or none); only a plain file is read.
    """
    if src.acquired or src.dataset or src.parts:
        return src
    with open_raster(src.path) as ds:
        date = tags_date(ds)
    return replace(src, acquired=date) if date else src


def tags_date(ds: Any) -> str | None:
    """Return the acquisition date an open raster's tags give (:data:`DATE_TAGS`), or None."""
    domains = (ds.tags(ns="IMAGERY"), ds.tags())
    for tags in domains:
        upper = {str(k).upper(): v for k, v in tags.items()}
        for key in DATE_TAGS:
            date = parse_date(upper.get(key))
            if date:
                return date
    return None


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
            f"image dates taken from the images' metadata (product metadata or raster tags): "
            f"before {meta['before']}, after {meta['after']} (for patches without "
            "before/after image dates)",
            severity="info",
            zh=f"影像时间取自影像元数据（产品元数据或栅格标签）：前期 {meta['before']}，"
            f"后期 {meta['after']}"
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
                f"days from the {date} image's ({value}; up to {int(days.max())} days): they "
                "were interpreted on other imagery — check that the right image was given",
                field=column,
                source=(before if date == "before" else after).path,
                zh=f"{int(off.sum())} 个图斑的{_ZH[date]}影像时间与{_ZH[date]}影像（{value}）"
                f"相差超过 {tolerance_days} 天（最多 {int(days.max())} 天）：判读所用影像不同——"
                "请核对所给影像是否正确",
            )
    return out
