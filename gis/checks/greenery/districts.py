"""Districts of the greenery checks: the city and district rows, the geometry guard.

What the KPIs (:mod:`gis.checks.greenery.kpi`) and park coverage
(:mod:`gis.checks.greenery.coverage`) share: the ``district`` values of the whole city
(:data:`CITY`) and of features in no district (:data:`OUTSIDE`), the geometry-type guard
(:func:`require_geometry`) and the district join (:func:`assign_districts`).
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import assert_same_crs
from gis.errors import SchemaError
from gis.findings import Findings

CITY = "全市"
"""The ``district`` value of the whole-city rows."""

OUTSIDE = "（区外）"
"""The ``district`` value given to features that lie in no district polygon."""

_GEOM_FAMILY = {
    "polygon": ("Polygon", "MultiPolygon"),
    "line": ("LineString", "MultiLineString", "LinearRing"),
    "point": ("Point", "MultiPoint"),
}
_FAMILY_ZH = {"polygon": "面", "line": "线", "point": "点"}


def _families_zh(types: list[str]) -> str:
    """Return geometry types as their families in Chinese (``Polygon`` → 面), in order."""
    named = [next((_FAMILY_ZH[f] for f, ts in _GEOM_FAMILY.items() if t in ts), t) for t in types]
    return "、".join(dict.fromkeys(named))


def _option_of(what: str) -> str:
    """Return the option a layer came from (``--parks`` of ``parks (--parks)``), else ``what``."""
    match = re.search(r"--[\w-]+", what)
    return match.group(0) if match else what


def require_geometry(
    frame: gpd.GeoDataFrame, family: str | tuple[str, ...], *, what: str
) -> gpd.GeoDataFrame:
    """Return ``frame`` without empty geometries; raise when it holds the wrong geometry type.

    Parameters
    ----------
    frame : GeoDataFrame
        The layer.
    family : {"polygon", "line", "point"} or tuple of them
        Geometry family (or families) expected.
    what : str
        Name of the layer (file or option) used in the message.

    Raises
    ------
    gis.errors.SchemaError
        When any geometry is of another family (e.g. lines given where polygons are expected).

    Examples
    --------
    >>> import shapely
    >>> f = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 1)])], crs=4551)
    >>> require_geometry(f, "polygon", what="--parks")
    Traceback (most recent call last):
    gis.errors.SchemaError: --parks must hold polygon geometries but has LineString; ...
    """
    keep = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    families = (family,) if isinstance(family, str) else family
    allowed = {t for f in families for t in _GEOM_FAMILY[f]}
    wrong = sorted(set(keep.geom_type.unique()) - allowed)
    if wrong:
        expected = " or ".join(families)
        expected_zh = "或".join(_FAMILY_ZH[f] for f in families)
        raise SchemaError(
            f"{what} must hold {expected} geometries but has {', '.join(wrong)}; "
            f"pass the {expected} layer (e.g. the park or residential-land polygons, not roads or "
            "centre points) or convert it first",
            zh=f"{_option_of(what)} 应为{expected_zh}要素，但含有{_families_zh(wrong)}要素；"
            f"请给出{expected_zh}"
            "图层（例如公园或居住用地的面，而不是道路或中心点），或先转换",
        )
    return keep


def district_names(districts: gpd.GeoDataFrame, *, field: str = "district") -> list[str]:
    """Return the district names in layer order (the ``district`` field must exist)."""
    if field not in districts.columns:
        raise SchemaError(
            f"the districts layer has no {field!r} field (fields: {', '.join(districts.columns)}); "
            "read it with kind='districts' so 名称/XZQMC become 'district', or rename the field",
            zh=f"行政区图层没有 {field!r} 字段"
            f"（已有字段：{'、'.join(map(str, districts.columns))}）；"
            "请按 kind='districts' 读取，使 名称/XZQMC 改名为 'district'，或重命名该字段",
        )
    return [str(v) for v in districts[field]]


def assign_districts(
    frame: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    *,
    what: str,
    findings: Findings | None = None,
    field: str = "district",
) -> pd.Series:
    """Return the district of each feature (by its representative point).

    Features in no district get :data:`OUTSIDE` and one ``outside_districts`` warning: the
    districts layer does not cover the layer, so district totals miss them (the city total
    keeps them).
    """
    names = np.asarray(district_names(districts, field=field), dtype=object)
    assert_same_crs(frame, districts, names=(what, "districts"))
    points = shapely.point_on_surface(np.asarray(frame.geometry.values))
    idx_pt, idx_d = districts.sindex.query(points, predicate="within")
    out = np.full(len(frame), OUTSIDE, dtype=object)
    first = pd.DataFrame({"pt": idx_pt, "d": idx_d}).sort_values(["pt", "d"])
    first = first.drop_duplicates("pt")  # on overlapping districts the first one wins
    out[first["pt"].to_numpy()] = names[first["d"].to_numpy()]
    missing = int((out == OUTSIDE).sum())
    if missing and findings is not None:
        findings.add(
            "outside_districts",
            f"{missing} of {len(frame)} features of {what} lie in no district polygon; they count "
            "in the city total only — check that the districts layer covers the whole study area "
            "and is in the same CRS",
            source=what,
            zh=f"{what} 的 {len(frame)} 个要素中有 {missing} 个不在任何区县多边形内；只计入全市"
            "合计——请检查区县图层是否覆盖整个研究区、坐标系是否一致",
        )
    return pd.Series(out, index=frame.index, name="district")
