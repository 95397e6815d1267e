"""Make a layer as read trustworthy: its CRS, its working CRS, its geometry — with findings.

Pure functions on frames, used by :func:`gis.io.read_layer` after reading and usable on their
own (a frame from a database, a notebook):

- :func:`resolve_crs`: keep a declared CRS (and check the coordinates agree with it), fill a
  missing one from ``crs=``, convert GCJ-02 (``crs="gcj02"``), or guess from the coordinates;
- :func:`to_working_crs`: transform to the metric working CRS (or the zone of the layer);
- :func:`repair_geometries`: ``make_valid`` with the area kept (not ``buffer(0)``), the
  polygons of a geometry collection kept in a polygon layer, and empty geometries dropped.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from gis.crs import (
    CGCS2000,
    WORKING_CRS,
    check_declared_crs,
    crs_label,
    gk3_cm_epsg,
    guess_crs_from_bounds,
    tm_central_meridian,
    to_crs,
)
from gis.errors import CRSError, DataSourceError, SchemaError, listed, shell_arg
from gis.findings import Findings, geometry_reason_zh
from gis.gcj02 import gcj02_to_wgs84, geometries_gcj02_to_wgs84

ZONE_HALF_WIDTH_DEG = 1.5 + 0.25
"""A 3° zone spans CM ± 1.5°; a quarter degree of slack for layers on a zone edge."""

GCJ02 = "gcj02"
"""Pass ``crs=GCJ02`` for AMap/Gaode/DataV lon/lat sources; they are converted on read."""


def find_column(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    """Return the first column whose trimmed, lower-cased name is in ``candidates``."""
    by_key = {str(c).strip().lower(): c for c in columns}
    return next((by_key[c] for c in candidates if c in by_key), None)


# --- CRS ------------------------------------------------------------------------------------


def _crs_name(crs: CRS, lang: str = "en") -> str:
    return crs_label(crs, lang)


def _zh(label: str) -> str:
    """Return the layer's name for a Chinese message (``the layer`` when unnamed → 该图层)."""
    return "该图层" if label == "the layer" else label


def same_crs(a: CRS, b: CRS) -> bool:
    """Return whether two CRSs are the same (axis order ignored; ESRI WKT matched by EPSG)."""
    if a.equals(b, ignore_axis_order=True):
        return True
    epsg = a.to_epsg()
    return epsg is not None and epsg == b.to_epsg()


def _has_coordinates(frame: gpd.GeoDataFrame) -> bool:
    geoms = np.asarray(frame.geometry.values)
    return bool(len(geoms)) and not bool(
        np.all(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    )


def _bounds(frame: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in frame.total_bounds)
    return x0, y0, x1, y1


def _is_gcj02(crs: Any) -> bool:
    return isinstance(crs, str) and crs.strip().lower().replace("-", "").replace("_", "") == GCJ02


def _is_lonlat_wgs84(crs: CRS) -> bool:
    return any(same_crs(crs, CRS.from_epsg(code)) for code in (4326, CGCS2000))


def _from_gcj02(frame: gpd.GeoDataFrame, label: str, log: Findings) -> gpd.GeoDataFrame:
    declared = frame.crs
    if declared is not None and not _is_lonlat_wgs84(declared):
        raise CRSError(
            f"{label} declares {_crs_name(declared)}, but crs='gcj02' was given; GCJ-02 applies "
            "only to lon/lat sources declared as WGS84/CGCS2000 (or undeclared) — drop crs='gcj02'",
            zh=f"{_zh(label)} 声明的坐标系为 {_crs_name(declared, 'zh')}，却给了 --crs gcj02；"
            "GCJ-02 只适用于声明为 WGS84/CGCS2000（或未声明）的经纬度数据——请去掉 --crs gcj02",
        )
    target = declared if declared is not None else CRS.from_epsg(CGCS2000)
    if _has_coordinates(frame):
        reason = check_declared_crs(target, _bounds(frame))
        if reason:
            reason_zh = check_declared_crs(target, _bounds(frame), lang="zh")
            raise CRSError(
                f"{label}: crs='gcj02' needs lon/lat coordinates, but {reason}",
                zh=f"{_zh(label)}：--crs gcj02 需要经纬度坐标，但{reason_zh}",
            )
    out = frame.set_geometry(geometries_gcj02_to_wgs84(frame.geometry.values), crs=target)
    x0, y0, x1, y1 = _bounds(frame) if _has_coordinates(frame) else (0.0, 0.0, 0.0, 0.0)
    glon, glat = (x0 + x1) / 2, (y0 + y1) / 2
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    shift_m = math.hypot(
        (glon - wlon) * 111_320 * math.cos(math.radians(glat)), (glat - wlat) * 110_574
    )
    log.add(
        "gcj02_converted",
        f"{label}: converted {len(frame)} features from GCJ-02 (AMap/Gaode/DataV) to "
        f"{_crs_name(target)} with the inverse GCJ transform "
        f"(shift ≈ {shift_m:.0f} m at the centre)",
        severity="info",
        source=label,
        zh=f"{_zh(label)}：已用 GCJ 逆变换将 {len(frame)} 个要素由火星坐标 GCJ-02（高德/DataV）"
        f"转换为 {_crs_name(target, 'zh')}（中心处偏移约 {shift_m:.0f} 米）",
    )
    return out


def _check_declared(frame: gpd.GeoDataFrame, declared: CRS, crs: Any, label: str) -> None:
    if crs is not None and not same_crs(declared, to_crs(crs)):
        raise CRSError(
            f"{label} declares {_crs_name(declared)} but --crs {crs} was given; a declared CRS "
            "is never relabelled: drop --crs to use the declared one, or fix the file's "
            "CRS (.prj) if it is wrong, then let Linyuan reproject",
            zh=f"{_zh(label)} 已声明坐标系 {_crs_name(declared, 'zh')}，却给了 --crs {crs}；"
            "已声明的坐标系不会被改标：去掉 --crs 即按声明的坐标系读取；如声明有误，"
            "请修正文件的坐标系（.prj）后由林园投影",
        )
    if _has_coordinates(frame):
        reason = check_declared_crs(declared, _bounds(frame))
        if reason:
            reason_zh = check_declared_crs(declared, _bounds(frame), lang="zh")
            raise CRSError(f"{label}: {reason}", zh=f"{_zh(label)}：{reason_zh}")


def crs_fix(label: str, epsg: int | None = None, lang: str = "en") -> str:
    """Say how to state the CRS of a layer in a way every command reads.

    A Shapefile gets a ``.prj`` beside it (path and command given); another file is assigned
    one with ``ogr2ogr -a_srs``. ``crs=`` (Python) and ``linyuan validate --crs`` are named too:
    the other commands have no ``--crs``.

    Examples
    --------
    >>> crs_fix("/d/gk.shp", 4551)  # doctest: +NORMALIZE_WHITESPACE
    'write the CRS into /d/gk.prj beside it: gdalsrsinfo -o wkt_esri --single-line
    EPSG:4551 > /d/gk.prj (in Python: crs="EPSG:4551"; linyuan validate takes --crs EPSG:4551)'
    """
    code = f"EPSG:{epsg}" if epsg is not None else "EPSG:…"
    also = f'in Python: crs="{code}"; linyuan validate takes --crs {code}'
    also_zh = f'Python 中用 crs="{code}"；linyuan validate 可用 --crs {code}'
    if _is_shapefile(label):
        prj = label[:-4] + ".prj"
        how = f"gdalsrsinfo -o wkt_esri --single-line {code} > {shell_arg(prj)}"
        if lang == "zh":
            return f"请把坐标系写入其旁边的 {prj}：`{how}`（{also_zh}）"
        return f"write the CRS into {prj} beside it: {how} ({also})"
    source, fixed = _ogr2ogr_paths(label)
    how = f"ogr2ogr -a_srs {code} {shell_arg(fixed)} {shell_arg(source)}"
    if lang == "zh":
        return f"请用 `{how}` 写入坐标系后读取 {fixed}（{also_zh}）"
    return f"assign the CRS with {how} and read {fixed} ({also})"


def _is_shapefile(label: str) -> bool:
    """Whether a layer's label is a Shapefile on disk (its CRS lives in a ``.prj`` beside it)."""
    return "!" not in label and label.lower().endswith((".shp", ".dbf"))


def _ogr2ogr_paths(label: str) -> tuple[str, str]:
    """Return the ``ogr2ogr`` source of a layer (``/vsizip/`` for a zip member) and a copy's path.

    Examples
    --------
    >>> _ogr2ogr_paths("/d/a.zip!x/b.shp")
    ('/vsizip//d/a.zip/x/b.shp', '/d/b_crs.gpkg')
    >>> _ogr2ogr_paths("the layer")
    ('<file>', 'fixed.gpkg')
    """
    if label == "the layer":
        return "<file>", "fixed.gpkg"
    archive, _, member = label.partition("!")
    source = f"/vsizip/{archive}/{member}" if member else label
    return source, str(Path(archive).with_name(f"{Path(member or archive).stem}_crs.gpkg"))


def _guess(frame: gpd.GeoDataFrame, label: str, log: Findings) -> gpd.GeoDataFrame:
    try:
        guess = guess_crs_from_bounds(_bounds(frame))
    except CRSError as exc:
        working, prj = WORKING_CRS.to_epsg(), _is_shapefile(label)
        raise CRSError(
            f"{label} declares no CRS{' (no .prj?)' if prj else ''} and none can be guessed: "
            f"{exc}; if it is in "
            f"{crs_label(WORKING_CRS, 'en')}, {crs_fix(label, working)}",
            zh=f"{_zh(label)} 未声明坐标系{'（缺 .prj？）' if prj else ''}，也无法推断："
            f"{exc.text('zh')}；"
            f"如其坐标系为 {crs_label(WORKING_CRS)}，{crs_fix(label, working, 'zh')}",
        ) from exc
    log.add(
        "crs_guessed",
        f"{label} declares no CRS; guessed EPSG:{guess.epsg} because {guess.reason}; "
        f"if that is wrong, {crs_fix(label)}",
        source=label,
        zh=f"{_zh(label)} 未声明坐标系{'（缺少 .prj？）' if _is_shapefile(label) else ''}；"
        f"猜测为 EPSG:{guess.epsg}，"
        f"依据：{guess.reason_zh or guess.reason}；如不对，{crs_fix(label, lang='zh')}",
    )
    return frame.set_crs(guess.crs)


def _is_undefined(crs: CRS) -> bool:
    """Whether a declared CRS is a placeholder for none.

    GeoPackage's srs_id -1 and 0 ("Undefined Cartesian SRS", "Undefined geographic SRS"),
    GDAL's own "Undefined" entry and a LOCAL_CS (a CAD drawing's "Unknown" engineering
    system) locate nothing on the earth.
    """
    return crs.is_engineering or (
        crs.name.lower().startswith("undefined") and crs.to_epsg() is None
    )


def resolve_crs(
    frame: gpd.GeoDataFrame,
    *,
    crs: Any = None,
    source: str | None = None,
    findings: Findings | None = None,
) -> gpd.GeoDataFrame:
    """Return the frame with a trustworthy CRS: declared, filled by ``crs=``, GCJ-02 or guessed.

    Parameters
    ----------
    frame : GeoDataFrame
        As read; ``frame.crs`` is what the file declares.
    crs : optional
        Fills a missing CRS; ``"gcj02"`` converts AMap/DataV lon/lat to WGS84/CGCS2000.
    source : str, optional
        Names the layer in messages.
    findings : Findings, optional
        Receives ``crs_filled``, ``crs_guessed`` or ``gcj02_converted``.

    Raises
    ------
    CRSError
        ``crs=`` contradicts the declared CRS, coordinates contradict it, or no CRS can be
        guessed; the message names the layer and a fix every command reads (:func:`crs_fix`).
    """
    log = findings if findings is not None else Findings()
    label = source or "the layer"
    if _is_gcj02(crs):
        return _from_gcj02(frame, label, log)
    if frame.crs is not None and _is_undefined(frame.crs):
        log.add(
            "crs_undefined",
            f"{label} declares the placeholder {frame.crs.name!r}, which is no CRS; read as a "
            "layer without one",
            severity="info",
            source=label,
            zh=f"{_zh(label)} 声明的是占位坐标系 {frame.crs.name!r}，并非坐标系；"
            "按未声明坐标系处理",
        )
        frame = frame.set_crs(None, allow_override=True)
    if frame.crs is not None:
        _check_declared(frame, frame.crs, crs, label)
        return frame
    if crs is not None:
        given = to_crs(crs)
        _check_declared(frame, given, None, label)
        log.add(
            "crs_filled",
            f"{label} declares no CRS; using the CRS given ({_crs_name(given)})",
            severity="info",
            source=label,
            zh=f"{_zh(label)} 未声明坐标系；按给定的坐标系 {_crs_name(given, 'zh')} 使用",
        )
        return frame.set_crs(given)
    if not _has_coordinates(frame):
        return frame
    return _guess(frame, label, log)


def _centre_lon(frame: gpd.GeoDataFrame) -> float:
    x0, y0, x1, y1 = _bounds(frame)
    to_lonlat = Transformer.from_crs(frame.crs, CGCS2000, always_xy=True)
    lon, _ = to_lonlat.transform((x0 + x1) / 2, (y0 + y1) / 2)
    return float(lon)


def _check_zone(frame: gpd.GeoDataFrame, target: CRS, label: str, log: Findings) -> None:
    """Warn when the layer lies outside the working CRS's 3° zone (distorted lengths/areas)."""
    cm = tm_central_meridian(target)
    if cm is None or not _has_coordinates(frame):
        return
    lon = _centre_lon(frame)
    if abs(lon - cm) > ZONE_HALF_WIDTH_DEG:
        log.add(
            "outside_working_zone",
            f"{label}: the layer's centre ({lon:.2f}°E) is {abs(lon - cm):.1f}° from the working "
            f"CRS's central meridian ({cm:g}°E); lengths and areas there are distorted — pass "
            "--working-crs auto or measure per feature / geodesically",
            source=label,
            zh=f"{_zh(label)}：图层中心（{lon:.2f}°E）距工作坐标系中央经线（{cm:g}°E）"
            f"{abs(lon - cm):.1f}°，该处长度和面积有变形——请指定 --working-crs auto"
            "，或逐要素 / 按椭球面量算",
        )


OLD_CHINESE_DATUMS = ("Beijing 1954", "New Beijing", "Xian 1980")
"""Datums China replaced by CGCS2000 whose official conversion parameters PROJ does not ship."""


def _check_datum(source: CRS, target: CRS, label: str, log: Findings) -> None:
    """Warn when a layer on Beijing 1954 / Xian 1980 reaches CGCS2000 by a ballpark only."""
    datum = CRS(source).datum
    name = datum.name if datum is not None else ""
    if name not in OLD_CHINESE_DATUMS:
        return
    transformer = Transformer.from_crs(source, target, always_xy=True)
    if "ballpark" not in transformer.description.lower():
        return  # PROJ has real parameters (a grid or a Helmert transformation)
    log.add(
        "datum_not_converted",
        f"{label} is on the {name} datum; PROJ knows no parameters from it to "
        f"{_crs_name(target)}, so only the ellipsoid is changed and positions keep an unknown "
        "offset (commonly metres to tens of metres); convert the layer with the province's "
        "official CGCS2000 conversion parameters, or ask for it in CGCS2000",
        source=label,
        zh=f"{_zh(label)} 使用 {name} 坐标系；PROJ 没有它到 {_crs_name(target, 'zh')} 的转换参数，"
        "只换算了椭球，位置仍有未知偏差（通常几米到几十米）；请用省级 2000 国家大地坐标系"
        "转换参数转换该图层，或向提供方索取 CGCS2000 版本",
    )


def to_working_crs(
    frame: gpd.GeoDataFrame,
    working_crs: Any = WORKING_CRS,
    *,
    source: str | None = None,
    findings: Findings | None = None,
) -> gpd.GeoDataFrame:
    """Transform the frame to the working CRS, with an info finding when it changes.

    A layer whose centre lies outside the working CRS's 3° Gauss-Krüger zone also gets an
    ``outside_working_zone`` warning.

    Parameters
    ----------
    working_crs : optional
        Target; ``None`` keeps the frame's CRS; ``"auto"`` picks the CGCS2000 3° GK zone
        (EPSG 4534-4554) of the layer's centre longitude.
    """
    if working_crs is None:
        return frame
    label = source or "the layer"
    log = findings if findings is not None else Findings()
    if isinstance(working_crs, str) and working_crs.lower() == "auto":
        if frame.crs is None or not _has_coordinates(frame):
            return frame
        working_crs = gk3_cm_epsg(_centre_lon(frame))
    target = to_crs(working_crs)
    if frame.crs is None:
        return frame.set_crs(target)  # only reached for a layer without coordinates
    if same_crs(frame.crs, target):
        return frame
    _check_zone(frame, target, label, log)
    _check_datum(frame.crs, target, label, log)
    log.add(
        "reprojected",
        f"{label}: transformed from {_crs_name(frame.crs)} to the working CRS {_crs_name(target)}",
        severity="info",
        source=label,
        zh=f"{_zh(label)}：已由 {_crs_name(frame.crs, 'zh')} 转换到工作坐标系 "
        f"{_crs_name(target, 'zh')}",
    )
    return frame.to_crs(target)


# --- geometry repair ------------------------------------------------------------------------

_ID_FIELDS = (
    *("patch_id", "tbbh", "图斑编号", "判读图斑编号", "标识码", "bsm", "adcode", "adcode99"),
    *("id", "fid", "objectid"),
)
"""Fields naming a feature in findings: the bureau's ids first, then generic ones (OBJECTID)."""
_NAME_FIELDS = ("name", "名称", "name2004", "mc", "xzqmc")
_POLYGONAL = ("Polygon", "MultiPolygon")


def _field(frame: pd.DataFrame, candidates: tuple[str, ...]) -> str | None:
    return find_column([str(c) for c in frame.columns if c != frame.geometry.name], candidates)


def _feature_labels(frame: gpd.GeoDataFrame) -> list[tuple[str, str]]:
    """Return (feature id, ' (name)') per row: the id field, else the row index."""
    id_field, name_field = _field(frame, _ID_FIELDS), _field(frame, _NAME_FIELDS)
    ids = frame[id_field] if id_field else pd.Series(frame.index, index=frame.index)
    names = frame[name_field] if name_field else pd.Series("", index=frame.index)
    return [
        (str(i), f" ({name_field}={n})" if name_field and pd.notna(n) else "")
        for i, n in zip(ids, names, strict=True)
    ]


def make_valid_keep_area(geom: shapely.Geometry) -> shapely.Geometry:
    """Repair one geometry with ``make_valid``; polygons stay polygonal, area is kept.

    Uses the "structure" method without collapsed parts (GEOS ≥ 3.10), then keeps the
    polygonal parts of a collection. Unlike ``buffer(0)``, no lobe of a bow-tie is lost.

    Examples
    --------
    >>> bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    >>> make_valid_keep_area(bowtie).area, bowtie.buffer(0).area
    (2.0, 1.0)
    """
    try:
        fixed = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    except (TypeError, ValueError, shapely.errors.GEOSException):  # older shapely/GEOS
        fixed = shapely.make_valid(geom)
    if geom.geom_type not in _POLYGONAL or fixed.geom_type in _POLYGONAL:
        return fixed
    return polygonal_part(fixed)


def polygonal_part(geom: shapely.Geometry) -> shapely.Geometry:
    """Return the polygons of ``geom``, however nested, as a Polygon or MultiPolygon.

    An empty Polygon when it holds none. The parts are not unioned (overlapping parts give
    an invalid MultiPolygon, for :func:`make_valid_keep_area`).

    Examples
    --------
    >>> line = shapely.LineString([(0, 0), (5, 5)])
    >>> polygonal_part(shapely.GeometryCollection([shapely.box(0, 0, 1, 1), line])).wkt
    'POLYGON ((1 0, 1 1, 0 1, 0 0, 1 0))'
    >>> polygonal_part(line).is_empty
    True
    """
    parts = shapely.get_parts(geom)
    while any(p.geom_type.startswith(("Multi", "Geometry")) for p in parts):
        parts = shapely.get_parts(parts)
    polygons = [p for p in parts if p.geom_type == "Polygon" and not p.is_empty]
    if not polygons:
        return shapely.Polygon()
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def repair_geometries(
    frame: gpd.GeoDataFrame,
    *,
    source: str | None = None,
    findings: Findings | None = None,
    polygonal: bool | None = None,
) -> gpd.GeoDataFrame:
    """Repair invalid geometries (``make_valid``, area kept) and drop empty ones, with findings.

    One ``invalid_geometry_repaired`` finding per repaired feature (naming its id, and its
    name when the layer has a name field) plus a summary; one ``empty_geometry_dropped``
    per dropped feature.

    In a polygon layer a geometry collection (as a union in QGIS or ArcGIS writes one)
    keeps its polygons, with one ``collection_polygons_kept`` warning naming how many features
    and which; a feature holding no polygon at all is refused when the layer has polygons.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        The layer as read.
    source : str, optional
        Its name in messages.
    findings : Findings, optional
        Receives the findings.
    polygonal : bool, optional
        Whether the layer holds polygons (its catalog kind says so); ``None`` takes it to be a
        polygon layer when every feature that is not a collection is a (multi)polygon.

    Raises
    ------
    DataSourceError
        When the layer has features but none has a geometry (a damaged ``.shp``).
    SchemaError
        When a polygon layer has features without any polygon (lines, points), named by id.
    """
    log = findings if findings is not None else Findings()
    label = source or "the layer"
    frame = _keep_polygons(frame, label, log, polygonal)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    present = ~shapely.is_missing(geoms)
    invalid = np.flatnonzero(present & ~shapely.is_valid(geoms))
    labels = _feature_labels(frame) if len(invalid) or not np.all(present) else []
    out = frame
    collapsed: set[int] = set()  # invalid and empty once repaired: told once, then dropped
    if len(invalid):
        reasons = shapely.is_valid_reason(geoms[invalid])
        repaired = geoms.copy()
        for i, reason in zip(invalid, reasons, strict=True):
            repaired[i] = make_valid_keep_area(geoms[i])
            fid, name = labels[i]
            if repaired[i].is_empty:
                collapsed.add(int(i))
                log.add(
                    "empty_geometry_dropped",
                    f"{label}: feature {fid}{name} has no area ({reason}: a sliver, or a line "
                    "drawn as a polygon); nothing is left after repair — dropped",
                    source=label,
                    feature=fid,
                    zh=f"{_zh(label)}：要素 {fid}{name} 面积为零（{geometry_reason_zh(reason)}："
                    "狭长碎片或画成面的线）；修复后不剩任何几何，已舍弃",
                )
                continue
            log.add(
                "invalid_geometry_repaired",
                f"{label}: feature {fid}{name} had invalid "
                f"geometry ({reason}); repaired with make_valid, area kept",
                source=label,
                feature=fid,
                zh=f"{_zh(label)}：要素 {fid}{name} 几何无效（{geometry_reason_zh(reason)}）；"
                "已自动修复，面积不变",
            )
        log.add(
            "invalid_geometry_summary",
            f"{label}: {len(invalid)} of {len(frame)} features "
            "had invalid geometry and were repaired",
            source=label,
            zh=f"{_zh(label)}：{len(frame)} 个要素中有 {len(invalid)} 个几何无效，已修复",
        )
        out = frame.set_geometry(gpd.GeoSeries(repaired, index=frame.index, crs=frame.crs))
    return _drop_empty(out, labels, label, log, told=collapsed)


def _keep_polygons(
    frame: gpd.GeoDataFrame, label: str, log: Findings, polygonal: bool | None
) -> gpd.GeoDataFrame:
    """In a polygon layer, replace collections by their polygons; refuse features with none.

    A layer without a single polygon is left as it is: it is the wrong layer, which the
    contract check (``wrong_geometry_type``) reports, not a mixed one.
    """
    geoms = np.asarray(frame.geometry.values, dtype=object)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    types = geometry_types(geoms, present)
    other = present & ~np.isin(types, _POLYGONAL)
    if polygonal is None:  # polygons, and collections that may hold some
        polygonal = bool(np.isin(types, _POLYGONAL).any()) and bool(
            (types[other] == "GeometryCollection").all()
        )
    if not polygonal or not other.any():
        return frame
    parts = {int(i): polygonal_part(geoms[i]) for i in np.flatnonzero(other)}
    kept = {i: g for i, g in parts.items() if not g.is_empty}
    labels = _feature_labels(frame)
    refused = [i for i in parts if i not in kept]
    if refused and (kept or np.isin(types, _POLYGONAL).any()):
        _refuse_not_polygonal(label, [labels[i][0] for i in refused], types[refused])
    if not kept:
        return frame
    ids = ", ".join(labels[i][0] for i in kept)
    log.add(
        "collection_polygons_kept",
        f"{label}: {len(kept)} feature(s) were geometry collections (as a union in QGIS or "
        f"ArcGIS writes them); their polygons are kept, any lines or points in them dropped "
        f"(features {ids})",
        source=label,
        feature=ids,
        zh=f"{_zh(label)}：{len(kept)} 个要素是几何集合（QGIS/ArcGIS 联合等操作常会生成）；"
        f"已保留其中的面，舍弃其中的线和点（要素 {ids}）",
    )
    repaired = geoms.copy()
    for i, geom in kept.items():
        repaired[i] = geom
    return frame.set_geometry(gpd.GeoSeries(repaired, index=frame.index, crs=frame.crs))


GEOS_TYPES = np.array(
    [
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ]
)
"""Geometry type names by GEOS type id (:func:`shapely.get_type_id`), as ``geom_type`` says."""


def geometry_types(geoms: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Return each geometry's ``geom_type`` where ``present``, else ``""`` (vectorised).

    Examples
    --------
    >>> g = np.array([shapely.box(0, 0, 1, 1), None, shapely.Point(0, 0)])
    >>> geometry_types(g, np.array([True, False, True])).tolist()
    ['Polygon', '', 'Point']
    """
    ids = shapely.get_type_id(geoms)
    known = present & (ids >= 0) & (ids < len(GEOS_TYPES))
    types = np.where(known, GEOS_TYPES[np.clip(ids, 0, len(GEOS_TYPES) - 1)], "").astype(object)
    for i in np.flatnonzero(present & ~known):  # a type GEOS added since (curves)
        types[i] = geoms[i].geom_type
    return np.asarray(types.astype(str))


def _refuse_not_polygonal(label: str, ids: list[str], types: np.ndarray) -> None:
    found = ", ".join(f"{t}×{n}" for t, n in pd.Series(types).value_counts().items())
    shown, shown_zh = listed(ids, 20), listed(ids, 20, lang="zh")
    raise SchemaError(
        f"{label} is a polygon layer, but feature(s) {shown} hold no polygon ({found}); "
        "delete them or redraw them as polygons (in QGIS: select by expression "
        "geometry_type($geometry) <> 'Polygon'), then run again",
        zh=f"{_zh(label)} 是面图层，但要素 {shown_zh} 不含任何面（{found}）；请删除这些要素或"
        "重新绘制为面（QGIS 中可按表达式 geometry_type($geometry) <> 'Polygon' 选择），"
        "然后重新运行",
    )


def _drop_empty(
    frame: gpd.GeoDataFrame,
    labels: list[tuple[str, str]],
    label: str,
    log: Findings,
    *,
    told: set[int],
) -> gpd.GeoDataFrame:
    geoms = np.asarray(frame.geometry.values, dtype=object)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if not empty.any():
        return frame
    if empty.all():
        raise DataSourceError(
            f"{label}: none of its {len(frame)} features has a geometry, so there is nothing to "
            "work on; the .shp (or the geometry column) is damaged — copy it again from its "
            "source, or read a plain table with gis.io.read_table",
            zh=f"{_zh(label)}：{len(frame)} 个要素都没有几何，无法处理；.shp（或几何列）已损坏——"
            "请从来源重新复制",
        )
    labels = labels or _feature_labels(frame)
    for i in np.flatnonzero(empty):
        if int(i) in told:
            continue
        fid, name = labels[i]
        log.add(
            "empty_geometry_dropped",
            f"{label}: feature {fid}{name} has no geometry; dropped",
            source=label,
            feature=fid,
            zh=f"{_zh(label)}：要素 {fid}{name} 没有几何，已舍弃",
        )
    return frame.loc[~empty]
