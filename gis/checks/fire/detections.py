"""Satellite hotspot detections: product, time of detection (UTC), confidence, pixel footprint.

Three kinds of table arrive, all read by :func:`gis.io.read_layer` with ``kind="hotspots"``
(catalog aliases give the canonical names used here):

- NASA FIRMS VIIRS 375 m (S-NPP, NOAA-20, NOAA-21): ``bright_ti4``/``bright_ti5``,
  ``scan``/``track`` (the pixel's size in km along scan and along track), ``acq_date`` +
  ``acq_time`` (HHMM, **UTC**), ``confidence`` ``l``/``n``/``h``;
- NASA FIRMS MODIS 1 km (Terra, Aqua): ``brightness``/``bright_t31``, the same times and
  ``scan``/``track``, ``confidence`` 0–100 (FIRMS: < 30 low, 30–79 nominal, ≥ 80 high);
- the hotspot tables counties receive (热点编号, 经度/纬度, 时间, 卫星, 像元数, 地类 …): the
  time is **Beijing time** (UTC+8) by convention; a time written without a zone is read as
  Beijing time with a finding, one with ``Z``/``+08:00``/``UTC``/``北京时`` as it says.

The footprint is the pixel's rectangle centred on the hotspot, ``scan`` km east–west by
``track`` km north–south in the working CRS (the scan direction of the polar orbiters is
close to east–west at these latitudes; the rectangle is not rotated). A table without
``scan``/``track`` gets a square of ``n_pixels`` × the satellite's nominal pixel area
(:data:`NOMINAL_PIXEL_KM`).
"""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gis.crs import require_projected
from gis.findings import Findings

VIIRS, MODIS, TABLE = "viirs", "modis", "table"
BEIJING = "Asia/Shanghai"

NOMINAL_PIXEL_KM = {
    "viirs": 0.375,
    "npp": 0.375,
    "noaa-2": 0.375,
    "n20": 0.375,
    "n21": 0.375,
    "terra": 1.0,
    "aqua": 1.0,
    "modis": 1.0,
    "fy-3": 1.0,
    "fy3": 1.0,
    "noaa": 1.1,
    "himawari": 2.0,
    "葵花": 2.0,
    "fy-4": 2.0,
    "fy4": 2.0,
}
"""Nominal fire-pixel size (km at nadir) by a lower-case piece of the satellite name: VIIRS
I-band 375 m; MODIS and the FY-3 MERSI/VIRR fire products 1 km; AVHRR 1.1 km; the
geostationary Himawari-8/9 and FY-4 2 km. Unknown satellites: 1 km."""

CONFIDENCE_CLASSES = ("low", "nominal", "high")
_VIIRS_CONFIDENCE = {"l": "low", "n": "nominal", "h": "high", "低": "low", "中": "nominal"}
_VIIRS_CONFIDENCE |= {"高": "high", "low": "low", "nominal": "nominal", "high": "high"}

_ZONED = re.compile(r"(?:z|[+-]\d\d:?\d\d)$", re.IGNORECASE)
_UTC_WORDS = ("utc", "gmt", "世界时")
_BJT_WORDS = ("北京时间", "北京时", "bjt", "cst")


def product_of(frame: pd.DataFrame) -> str:
    """Return ``viirs``, ``modis`` or ``table`` from the columns of a hotspot frame."""
    if "bright_ti4" in frame:
        return VIIRS
    if "brightness" in frame and "acq_date" in frame:
        return MODIS
    return TABLE


def _firms_times(frame: pd.DataFrame) -> pd.Series:
    """FIRMS ``acq_date`` + ``acq_time`` (HHMM, leading zeros may be lost) as UTC."""
    hhmm = frame["acq_time"].astype(str).str.replace(r"\.0$", "", regex=True)
    hhmm = hhmm.str.replace(":", "", regex=False).str.zfill(4)
    text = frame["acq_date"].astype(str).str.strip() + " " + hhmm.str[:2] + ":" + hhmm.str[2:4]
    times = pd.to_datetime(text, errors="coerce", format="%Y-%m-%d %H:%M", utc=True)
    odd = times.isna() & frame["acq_date"].notna()  # another date spelling: slower, per value
    if odd.any():
        times[odd] = pd.to_datetime(text[odd], errors="coerce", format="mixed", utc=True)
    return times


def _text_times(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return a table's times as UTC and where no zone was written (read as Beijing)."""
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    low = text.str.lower()
    utc_word = low.str.contains("|".join(_UTC_WORDS))
    bjt_word = low.str.contains("|".join(_BJT_WORDS))
    clean = text.str.replace(r"(?i)utc|gmt|世界时|北京时间|北京时|bjt|cst|[()（）]", "", regex=True)
    clean = clean.str.strip()
    zoned = clean.str.contains(_ZONED) & ~utc_word & ~bjt_word
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    for mask, tz in ((utc_word, "UTC"), (~utc_word & ~zoned, BEIJING)):
        if mask.any():
            naive = pd.to_datetime(clean[mask], errors="coerce", format="mixed")
            out[mask] = naive.dt.tz_localize(tz).dt.tz_convert("UTC")
    if zoned.any():
        out[zoned] = pd.to_datetime(clean[zoned], errors="coerce", format="mixed", utc=True)
    unzoned = ~utc_word & ~bjt_word & ~zoned & (text != "")
    return out, unzoned


def detection_times(
    frame: pd.DataFrame, *, findings: Findings, source: str = "hotspots"
) -> pd.Series:
    """Return the detection time of every hotspot as a UTC timestamp (``NaT`` when unknown).

    FIRMS times (``acq_date`` + ``acq_time``) are UTC as documented. A table's ``observed``
    time without a zone is Beijing time: one ``time_without_zone`` warning says how many were
    read so. Hotspots without a readable time get one ``time_missing`` error (they cannot be
    grouped into events nor given a feedback deadline).
    """
    if {"acq_date", "acq_time"} <= set(frame.columns):
        times = _firms_times(frame)
    elif "observed" in frame:
        times, unzoned = _text_times(frame["observed"])
        if unzoned.any():
            findings.add(
                "time_without_zone",
                f"{int(unzoned.sum())} hotspot times of {source} carry no time zone; they are "
                "read as Beijing time (UTC+8), the convention of the provincial hotspot "
                "tables — write '+08:00' or 'UTC' in the time column to make it explicit",
                source=source,
                field="observed",
                zh=f"{source} 中 {int(unzoned.sum())} 个热点时间未注明时区，按北京时间"
                "（UTC+8，省级热点表惯例）读取——请在时间列写明“+08:00”或“UTC”",
            )
    else:
        times = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    missing = times.isna()
    if missing.any():
        findings.add(
            "time_missing",
            f"{int(missing.sum())} hotspots of {source} have no readable time (acq_date/acq_time "
            "or 时间); they are checked but not grouped into events and get no feedback deadline",
            severity="error",
            source=source,
            field="observed",
            zh=f"{source} 中 {int(missing.sum())} 个热点没有可读的时间（acq_date/acq_time 或"
            "时间）；已核查，但不归并事件、不计算反馈时限",
        )
    return times


def confidence_class(frame: pd.DataFrame, product: str) -> pd.Series:
    """Return ``low`` / ``nominal`` / ``high`` per hotspot (missing when unknown).

    VIIRS ``l``/``n``/``h`` as they are; a number 0–100 (MODIS, most tables) by the FIRMS
    MODIS classes: < 30 low, 30–79 nominal, ≥ 80 high.
    """
    if "confidence" not in frame:
        return pd.Series(None, index=frame.index, dtype=object)
    text = frame["confidence"].astype("string").str.strip().str.lower()
    named = text.map(_VIIRS_CONFIDENCE, na_action="ignore").astype(object)
    number = pd.to_numeric(text, errors="coerce")
    bins = pd.cut(number, [-np.inf, 30, 80, np.inf], right=False, labels=CONFIDENCE_CLASSES)
    return named.fillna(bins.astype(object)).where(lambda s: s.notna(), None)


def _nominal_km(satellite: pd.Series, product: str) -> NDArray[np.float64]:
    default = {VIIRS: 0.375, MODIS: 1.0}.get(product, 1.0)
    names = satellite.astype(object).where(satellite.notna(), "").astype(str).str.lower()
    table = {}
    for name in pd.unique(names):
        hit = [km for key, km in NOMINAL_PIXEL_KM.items() if key in name]
        table[name] = hit[0] if hit else default
    return names.map(table).to_numpy(dtype=float)


def pixel_size_km(frame: pd.DataFrame, product: str) -> tuple[NDArray[Any], NDArray[Any]]:
    """Return the (east–west, north–south) size of each hotspot's pixel footprint in km."""
    sat = frame.get("satellite", pd.Series(None, index=frame.index))
    nominal = _nominal_km(sat, product)
    if {"scan", "track"} <= set(frame.columns):
        scan = pd.to_numeric(frame["scan"], errors="coerce").to_numpy(dtype=float)
        track = pd.to_numeric(frame["track"], errors="coerce").to_numpy(dtype=float)
        return np.where(np.isnan(scan), nominal, scan), np.where(np.isnan(track), nominal, track)
    count = np.ones(len(frame))
    if "n_pixels" in frame:
        pixels = pd.to_numeric(frame["n_pixels"], errors="coerce").to_numpy(dtype=float)
        count = np.nan_to_num(pixels, nan=1.0)
    side = nominal * np.sqrt(np.clip(count, 1.0, None))
    return side, side


def footprints(points: gpd.GeoSeries, width_km: NDArray[Any], height_km: NDArray[Any]) -> Any:
    """Return the pixel rectangles (metres, in the points' projected CRS) centred on the points.

    Examples
    --------
    >>> pts = gpd.GeoSeries(shapely.points([0.0], [0.0]), crs=4551)
    >>> shapely.bounds(footprints(pts, np.array([0.4]), np.array([0.2])))[0].tolist()
    [-200.0, -100.0, 200.0, 100.0]
    """
    require_projected(points.crs, "hotspots")
    xy = shapely.get_coordinates(np.asarray(points.values))
    half_w, half_h = width_km * 500.0, height_km * 500.0
    return shapely.box(xy[:, 0] - half_w, xy[:, 1] - half_h, xy[:, 0] + half_w, xy[:, 1] + half_h)
