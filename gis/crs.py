"""CRS policy: one metric working CRS, explicit checks, and guessing from coordinates.

CGCS2000 3-degree Gauss-Krüger zones come in two EPSG families:

- central-meridian only (no zone prefix on eastings): EPSG 4534-4554 = ``4534 + (cm - 75) / 3``;
- zone-prefixed eastings (zone 25-45, 8-digit eastings): EPSG 4513-4533.

6-degree zones 13-23 with prefixed eastings are EPSG 4491-4501. Changchun lies on CM 126°E:
EPSG:4551, or EPSG:4530 with the zone prefix 42.

Examples
--------
>>> gk3_cm_epsg(125.45)
4551
>>> guess_crs_from_bounds((42_500_000.0, 4_850_000.0, 42_510_000.0, 4_860_000.0)).epsg
4530
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError

from gis.errors import CRSError, CRSMismatchError

CGCS2000 = 4490
"""EPSG code of CGCS2000 geographic coordinates (lon/lat)."""

CHANGCHUN_CM = 126
WORKING_CRS = CRS.from_epsg(4551)
"""Default working CRS: CGCS2000 3° Gauss-Krüger, CM 126°E (Changchun)."""


def gk3_cm_epsg(lon: float) -> int:
    """Return the EPSG code of the CGCS2000 3° GK zone (CM-only family) for a longitude.

    Parameters
    ----------
    lon : float
        Longitude in degrees east, within China's 3° zones (CM 75°E-135°E).

    Raises
    ------
    CRSError
        When the longitude is outside the range covered by EPSG 4534-4554.
    """
    cm = 3 * round(lon / 3)
    if not 75 <= cm <= 135:
        raise CRSError(
            f"longitude {lon:.3f}° has no CGCS2000 3° Gauss-Krüger zone (CM 75°E-135°E); "
            "pass an explicit working CRS, e.g. --working-crs EPSG:4551",
            zh=f"经度 {lon:.3f}° 不在 CGCS2000 3度带范围内（中央经线 75°E-135°E）；"
            "请明确给出工作坐标系，如 --working-crs EPSG:4551",
        )
    return 4534 + (cm - 75) // 3


_UTM = re.compile(r"UTM zone (\d+)([NS])$")


def crs_label(crs: Any, lang: str = "zh") -> str:
    """Return a CRS as a message names it: ``EPSG:4551 (name)``, the name in Chinese for zh.

    The CGCS2000 families, WGS 84 and UTM get Chinese names; another CRS keeps its own name.

    Examples
    --------
    >>> crs_label(4530), crs_label(4551)
    ('EPSG:4530（CGCS2000 3度带 第42带，带号前缀）', 'EPSG:4551（CGCS2000 3度带 中央经线 126°E）')
    >>> crs_label(4551, "en")
    'EPSG:4551 (CGCS2000 / 3-degree Gauss-Kruger CM 126E)'
    >>> crs_label(32651), crs_label(4490)
    ('EPSG:32651（WGS 84 UTM 第51带 北半球）', 'EPSG:4490（CGCS2000 经纬度）')
    """
    c = to_crs(crs)
    epsg = c.to_epsg()
    if lang != "zh":
        return f"EPSG:{epsg} ({c.name})" if epsg else c.name
    name = _zh_name(epsg, c.name)
    return f"EPSG:{epsg}（{name}）" if epsg else name


def _zh_name(epsg: int | None, name: str) -> str:
    """Return the Chinese name of an EPSG CRS (its own name when not a known family)."""
    families = (  # (first code, last code, name of code n)
        (4490, 4490, lambda n: "CGCS2000 经纬度"),
        (4491, 4501, lambda n: f"CGCS2000 6度带 第{n - 4491 + 13}带，带号前缀"),
        (4502, 4512, lambda n: f"CGCS2000 6度带 中央经线 {75 + 6 * (n - 4502)}°E"),
        (4513, 4533, lambda n: f"CGCS2000 3度带 第{n - 4513 + 25}带，带号前缀"),
        (4534, 4554, lambda n: f"CGCS2000 3度带 中央经线 {75 + 3 * (n - 4534)}°E"),
        (4326, 4326, lambda n: "WGS 84 经纬度"),
    )
    for first, last, named in families:
        if epsg is not None and first <= epsg <= last:
            return named(epsg)
    utm = _UTM.search(name)
    if utm and name.startswith("WGS 84"):
        return f"WGS 84 UTM 第{utm.group(1)}带 {'北' if utm.group(2) == 'N' else '南'}半球"
    return name


def gk3_zone_epsg(zone: int) -> int:
    """Return the EPSG code for a zone-prefixed CGCS2000 3° GK zone (25-45)."""
    if not 25 <= zone <= 45:
        raise CRSError(
            f"3° Gauss-Krüger zone {zone} is outside 25-45 (EPSG 4513-4533)",
            zh=f"3度带带号 {zone} 不在 25-45 之间（EPSG 4513-4533）",
        )
    return 4513 + zone - 25


def gk6_zone_epsg(zone: int) -> int:
    """Return the EPSG code for a zone-prefixed CGCS2000 6° GK zone (13-23)."""
    if not 13 <= zone <= 23:
        raise CRSError(
            f"6° Gauss-Krüger zone {zone} is outside 13-23 (EPSG 4491-4501)",
            zh=f"6度带带号 {zone} 不在 13-23 之间（EPSG 4491-4501）",
        )
    return 4491 + zone - 13


def to_crs(value: Any) -> CRS:
    """Return a :class:`pyproj.CRS` from an EPSG int, a string such as ``"EPSG:4551"`` or a CRS."""
    if isinstance(value, CRS):
        return value
    try:
        return CRS.from_user_input(value)
    except Exception as exc:  # pyproj raises its own CRSError
        raise CRSError(
            f"{value!r} is not a coordinate reference system; "
            "give an EPSG code such as EPSG:4551 or EPSG:4490",
            zh=f"{value!r} 不是坐标系；请给出 EPSG 代码，如 EPSG:4551 或 EPSG:4490",
        ) from exc


def require_crs(crs: Any, what: str = "the layer") -> CRS:
    """Return ``crs`` as a CRS, or raise when it is missing."""
    if crs is None:
        raise CRSError(
            f"{what} has no coordinate reference system; state the one it is in: for a file, "
            "a .prj beside it or ogr2ogr -a_srs EPSG:…; in Python, read_layer(crs=…) or "
            '.set_crs("EPSG:…")',
            zh=f"{what} 没有坐标系；请说明它所用的坐标系：文件可在旁边放 .prj 或用 "
            '`ogr2ogr -a_srs EPSG:…` 写入；Python 中用 read_layer(crs=…) 或 .set_crs("EPSG:…")',
        )
    return to_crs(crs)


def require_projected(crs: Any, what: str = "the layer") -> CRS:
    """Return ``crs`` when it is projected with metre units; raise otherwise.

    Areas, lengths and buffers are computed only in a projected metric CRS.
    """
    c = require_crs(crs, what)
    unit = c.axis_info[0].unit_name if c.axis_info else ""
    if not c.is_projected or unit not in ("metre", "meter"):
        raise CRSError(
            f"{what} is in {crs_label(c, 'en')}, which is not a projected metric CRS; areas and "
            "lengths need one: reproject first with frame.to_crs(gis.crs.WORKING_CRS)",
            zh=f"{what} 的坐标系 {crs_label(c)} 不是以米为单位的投影坐标系；计算面积和长度需要"
            "投影坐标系，请先投影到工作坐标系",
        )
    return c


def assert_same_crs(*frames: Any, names: tuple[str, ...] | None = None) -> CRS:
    """Return the common CRS of the frames; raise :class:`CRSMismatchError` if they differ."""
    crss = [require_crs(getattr(f, "crs", None)) for f in frames]
    first = crss[0]
    for i, c in enumerate(crss[1:], start=1):
        if not c.equals(first):
            label = names[i] if names else f"input {i}"
            raise CRSMismatchError(
                f"{label} is in {crs_label(c, 'en')} but the first input is in "
                f"{crs_label(first, 'en')}; "
                "reproject explicitly with .to_crs() — gis.io.read_layer does this on read",
                zh=f"{label} 的坐标系为 {crs_label(c)}，而第一个输入为 {crs_label(first)}；"
                "请先统一投影",
            )
    return first


def tm_central_meridian(crs: Any) -> float | None:
    """Return the central meridian of a transverse Mercator CRS, else ``None``."""
    c = to_crs(crs)
    op = c.coordinate_operation
    if op is None or "Transverse Mercator" not in op.method_name:
        return None
    for p in op.params:
        if "longitude of natural origin" in p.name.lower():
            return float(p.value)
    return None


@dataclass(frozen=True)
class CRSGuess:
    """A CRS guessed from coordinate ranges, with the reason in words."""

    epsg: int
    reason: str
    reason_zh: str | None = None
    """``reason`` in Chinese (findings carry both languages)."""

    @property
    def crs(self) -> CRS:
        """The guessed CRS."""
        return CRS.from_epsg(self.epsg)


def _looks_lonlat(x0: float, y0: float, x1: float, y1: float) -> bool:
    return -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90


def _looks_swapped(x0: float, y0: float, x1: float, y1: float) -> bool:
    """Lat/lon written in x/y order: x within ±90, y beyond it (and within ±180)."""
    return _looks_lonlat(y0, x0, y1, x1) and max(abs(y0), abs(y1)) > 90


def _looks_northing(y0: float, y1: float) -> bool:
    # China: from about 18°N (2.0e6 m) to 54°N (6.0e6 m) on Gauss-Krüger.
    return 1_000_000 <= y0 <= y1 <= 6_500_000


def _prefixed_zone(x0: float, x1: float) -> int | None:
    z0, z1 = math.floor(x0 / 1_000_000), math.floor(x1 / 1_000_000)
    if z0 != z1 or not (13 <= z0 <= 23 or 25 <= z0 <= 45):
        return None
    inner = x0 - z0 * 1_000_000
    return z0 if 0 <= inner < 1_000_000 else None


def guess_crs_from_bounds(bounds: tuple[float, float, float, float]) -> CRSGuess:
    """Guess a CGCS2000 CRS from a layer's total bounds (minx, miny, maxx, maxy).

    Zone-prefixed 8-digit eastings give the 3° (EPSG 4513-4533) or 6° (4491-4501) zone;
    lon/lat ranges give EPSG:4490. Swapped axes and un-prefixed eastings (the zone cannot
    be known) raise :class:`CRSError` asking for an explicit CRS.
    """
    x0, y0, x1, y1 = (float(v) for v in bounds)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise CRSError(
            "the layer has no finite coordinates to guess a CRS from",
            zh="图层没有有效坐标，无法推断坐标系",
        )
    if _looks_lonlat(x0, y0, x1, y1):
        return CRSGuess(
            CGCS2000,
            "coordinates are within lon/lat ranges → CGCS2000 EPSG:4490",
            "坐标在经纬度范围内 → CGCS2000 EPSG:4490",
        )
    if _looks_lonlat(y0, x0, y1, x1):
        raise CRSError(
            f"coordinates look like lat/lon with the axes swapped (x {x0:.3f}…{x1:.3f} reads as "
            "latitude); swap X and Y in the source, or state the CRS it really is in",
            zh=f"坐标像是经纬度但 X、Y 互换了（x {x0:.3f}…{x1:.3f} 是纬度）；"
            "请在源数据中交换 X 和 Y，或说明其真实坐标系",
        )
    zone = _prefixed_zone(x0, x1)
    if zone is not None and _looks_northing(y0, y1):
        if zone >= 25:
            return CRSGuess(
                gk3_zone_epsg(zone),
                f"8-digit eastings prefixed {zone} → CGCS2000 3° GK zone {zone}",
                f"横坐标为 8 位、带号前缀 {zone} → CGCS2000 3度带高斯-克吕格第 {zone} 带",
            )
        return CRSGuess(
            gk6_zone_epsg(zone),
            f"8-digit eastings prefixed {zone} → CGCS2000 6° GK zone {zone}",
            f"横坐标为 8 位、带号前缀 {zone} → CGCS2000 6度带高斯-克吕格第 {zone} 带",
        )
    if _prefixed_zone(y0, y1) is not None and _looks_northing(x0, x1):
        raise CRSError(
            "coordinates look like Gauss-Krüger with X and Y swapped (Y holds the zone-prefixed "
            "easting); swap the columns in the source, or state the CRS it really is in",
            zh="坐标像是高斯-克吕格坐标但 X、Y 互换了（Y 是带带号的横坐标）；请在源数据中交换两列，"
            "或说明其真实坐标系",
        )
    if 0 < x0 <= x1 < 1_000_000 and _looks_northing(y0, y1):
        raise CRSError(
            "coordinates look like Gauss-Krüger metres without a zone prefix, so the central "
            "meridian cannot be known (Changchun, CM 126°E, is EPSG:4551)",
            zh="坐标像是不带带号的高斯-克吕格坐标（米），无法得知中央经线"
            "（长春，中央经线 126°E，为 EPSG:4551）",
        )
    raise CRSError(
        f"coordinates ({x0:.1f}, {y0:.1f}) – ({x1:.1f}, {y1:.1f}) fit no CRS Linyuan can guess "
        "(lon/lat or zone-prefixed Gauss-Krüger); state the layer's real CRS",
        zh=f"坐标范围 ({x0:.1f}, {y0:.1f}) – ({x1:.1f}, {y1:.1f}) 不符合可推断的坐标系"
        "（经纬度或带带号的高斯-克吕格坐标）；请说明图层的真实坐标系",
    )


def check_declared_crs(
    crs: CRS, bounds: tuple[float, float, float, float], *, lang: str = "en"
) -> str | None:
    """Return a reason (in ``lang``) when coordinates contradict the declared CRS, else ``None``.

    Catches the EPSG:4326-vs-Gauss-Krüger confusion (metres declared as degrees, or degrees
    declared as a projected CRS), zone-prefixed eastings declared as a CRS without the prefix
    (x ≈ 42 453 400 under EPSG:4551, naming the zone's EPSG 4513–4533 or 4491–4501), and any
    coordinates far outside the declared CRS's area of use (more than :data:`AREA_MARGIN` times
    its size away).

    Examples
    --------
    >>> bounds = (42_453_400, 4_850_000, 42_460_000, 4_860_000)  # zone 42 prefixed eastings
    >>> "probably EPSG:4530" in check_declared_crs(CRS(4551), bounds)
    True
    """
    x0, y0, x1, y1 = bounds
    zh, name = lang == "zh", crs_label(crs, lang)
    if not crs.is_geographic and not crs.is_projected:
        return _local_problem(crs, bounds, zh)
    if crs.is_geographic and _looks_swapped(x0, y0, x1, y1):
        if zh:
            return (
                f"声明为经纬度坐标系 {name}，但 X 坐标 {x0:.3f}…{x1:.3f} 是纬度、Y 坐标是经度："
                "X、Y 互换了（按“纬度在前”写入）；请在源数据中交换 X 和 Y 后再读"
            )
        return (
            f"declared {name}, in degrees, but x {x0:.3f}…{x1:.3f} is latitude and y longitude: "
            "the axes are swapped (written latitude first); swap X and Y in the source"
        )
    if crs.is_geographic and not _looks_lonlat(x0, y0, x1, y1):
        if zh:
            return (
                f"声明为经纬度坐标系 {name}，但坐标达到 ({x1:.0f}, {y1:.0f})，是以米为单位的坐标；"
                ".prj 有误——请修正或给出真实坐标系"
            )
        return (
            f"declared {name}, in degrees, but coordinates reach ({x1:.0f}, {y1:.0f}), "
            "which are metres; the .prj is wrong — fix it or pass the real CRS"
        )
    if crs.is_projected and _looks_lonlat(x0, y0, x1, y1) and max(abs(x1), abs(y1)) < 1000:
        if zh:
            return f"声明为投影坐标系 {name}，但坐标在经纬度范围内；.prj 有误——很可能是 EPSG:4490"
        return (
            f"declared projected {name} but coordinates are within lon/lat ranges; "
            "the .prj is wrong — it is probably EPSG:4490"
        )
    if crs.is_projected:
        return _prefix_problem(crs, bounds, zh) or _outside_area(crs, bounds, zh)
    return None


def _local_problem(crs: CRS, bounds: tuple[float, float, float, float], zh: bool) -> str:
    """Explain a local (engineering) CRS (LOCAL_CS of UAV software) and the EPSG to set."""
    try:
        epsg: int | None = guess_crs_from_bounds(bounds).epsg
    except CRSError:
        epsg = None
    working = WORKING_CRS.to_epsg()
    if zh:
        hint = (
            f"其坐标看起来像 EPSG:{epsg}"
            if epsg
            else f"不带带号的米制坐标需指明投影带，如 EPSG:{working}"
        )
        return (
            f"声明的是局部（工程）坐标系 {crs.name!r}，无法定位到地球上；{hint}——请写入真实坐标系"
        )
    hint = (
        f"the coordinates look like EPSG:{epsg}"
        if epsg
        else f"metres without a zone prefix need their zone, e.g. EPSG:{working}"
    )
    return (
        f"declared a local (engineering) CRS {crs.name!r}, which is not placed on the earth; "
        f"{hint} — set the real CRS"
    )


def _prefix_problem(crs: CRS, bounds: tuple[float, float, float, float], zh: bool) -> str | None:
    x0, y0, x1, y1 = bounds
    zone = _prefixed_zone(x0, x1)
    if zone is None or not _looks_northing(y0, y1) or _projected_envelope(crs) is None:
        return None
    xmin, _, xmax, _ = _projected_envelope(crs) or (0.0, 0.0, 0.0, 0.0)
    if xmin - (xmax - xmin) <= x0 and x1 <= xmax + (xmax - xmin):
        return None  # the declared CRS has the prefix itself
    likely = gk3_zone_epsg(zone) if zone >= 25 else gk6_zone_epsg(zone)
    width = "3°" if zone >= 25 else "6°"
    if zh:
        return (
            f"声明为 {crs_label(crs)}，但横坐标 {x0:.0f}…{x1:.0f} 带有高斯-克吕格带号前缀 {zone}，"
            f"而 {crs_label(crs)} 没有；坐标很可能是 EPSG:{likely}"
            f"（CGCS2000 {width[0]}度带 第{zone}带，带号前缀）——"
            f"请把文件的坐标系（.prj）改为 EPSG:{likely}"
        )
    return (
        f"declared {crs_label(crs, 'en')} but eastings {x0:.0f}…{x1:.0f} carry the Gauss-Krüger "
        f"zone prefix {zone}, which {crs_label(crs, 'en')} does not; the coordinates are probably "
        f"EPSG:{likely} (CGCS2000 {width} GK zone {zone} with the prefix) — fix the file's CRS "
        f"(.prj) to EPSG:{likely}"
    )


AREA_MARGIN = 5
"""How many times its own size the declared CRS's area of use is widened by on each side
before coordinates count as impossible for it (synthetic and border data stay usable)."""


def _outside_area(crs: CRS, bounds: tuple[float, float, float, float], zh: bool) -> str | None:
    envelope = _projected_envelope(crs)
    if envelope is None:
        return None
    xmin, ymin, xmax, ymax = envelope
    dx, dy = AREA_MARGIN * (xmax - xmin), AREA_MARGIN * (ymax - ymin)
    x0, y0, x1, y1 = bounds
    if xmin - dx <= x0 and x1 <= xmax + dx and ymin - dy <= y0 and y1 <= ymax + dy:
        return None
    try:
        epsg = guess_crs_from_bounds(bounds).epsg
    except CRSError:
        epsg = None
    if zh:
        return (
            f"坐标 ({x0:.0f}, {y0:.0f}) – ({x1:.0f}, {y1:.0f}) 远在声明的 {crs_label(crs)} "
            f"适用范围 ({xmin:.0f}, {ymin:.0f}) – ({xmax:.0f}, {ymax:.0f}) 之外"
            f"{f'，看起来像 EPSG:{epsg}' if epsg else ''}；文件的坐标系（.prj）有误——请修正"
        )
    guess = f"; the coordinates look like EPSG:{epsg}" if epsg else ""
    return (
        f"coordinates ({x0:.0f}, {y0:.0f}) – ({x1:.0f}, {y1:.0f}) are far outside the area of "
        f"use of the declared {crs_label(crs, 'en')} ({xmin:.0f}, {ymin:.0f}) – ({xmax:.0f}, "
        f"{ymax:.0f}){guess}; the file's CRS (.prj) is wrong — fix it"
    )


def _projected_envelope(crs: CRS) -> tuple[float, float, float, float] | None:
    return _envelope_of(crs.to_wkt())


@functools.lru_cache(maxsize=64)
def _envelope_of(wkt: str) -> tuple[float, float, float, float] | None:
    """Return the declared CRS's area of use in its own coordinates (None when unknown)."""
    crs = CRS.from_wkt(wkt)
    area = crs.area_of_use
    if area is None or crs.geodetic_crs is None:
        return None
    try:
        to_crs_ = Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
        box = to_crs_.transform_bounds(*area.bounds, densify_pts=21)
    except ProjError:
        return None
    if not all(math.isfinite(v) for v in box) or box[0] >= box[2] or box[1] >= box[3]:
        return None
    return tuple(float(v) for v in box)  # type: ignore[return-value]
