"""Units and measurement: areas and lengths in metres, hectares and 亩 (mu).

1 ha = 10 000 m² = 15 亩, so 1 亩 = 10 000 / 15 m². These constants are defined once here.

Areas and lengths are taken in a projected metric CRS. On a Gauss-Krüger (transverse Mercator)
CRS each feature's planar value is divided by the projection's scale factor at its centroid
(k² for areas, k for lengths), which makes it equal the ellipsoidal (geodesic) value to well
under 0.01 % — the national land surveys report ellipsoidal areas. A feature lying outside the
zone (more than half a zone width from the central meridian, as happens when a province spans
several zones) is measured geodesically on the CGCS2000 ellipsoid with :class:`pyproj.Geod`.

Examples
--------
>>> M2_PER_HA / M2_PER_MU
15.0
>>> import geopandas as gpd, shapely
>>> sq = gpd.GeoSeries([shapely.box(500_000, 4_800_000, 500_100, 4_800_100)], crs=4551)
>>> round(float(area_ha(sq)[0]), 4), round(float(area_mu(sq)[0]), 3)
(1.0, 15.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from pyproj import CRS, Geod, Transformer

from gis.crs import CGCS2000, require_projected, tm_central_meridian

M2_PER_HA = 10_000.0
"""Square metres per hectare (公顷)."""

M2_PER_MU = 10_000.0 / 15.0
"""Square metres per 亩 (mu): 15 亩 = 1 公顷."""

M_PER_KM = 1_000.0
"""Metres per kilometre."""

GEOD = Geod(ellps="GRS80")
"""The CGCS2000 ellipsoid (GRS80 shape; the flattening differs by ~1e-10)."""

_A = 6_378_137.0
_E2 = 0.006694380022900787  # GRS80 first eccentricity squared


def _geoms_and_crs(geoms: Any) -> tuple[NDArray[Any], CRS]:
    crs = require_projected(getattr(geoms, "crs", None), "the geometries")
    values = np.asarray(getattr(geoms, "geometry", geoms).values)
    return values, crs


def _tm_context(values: NDArray[Any], crs: CRS) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Return (lon, lat, k) at each feature's centroid for a transverse Mercator CRS."""
    import shapely  # deferred: heavy, loaded when the command runs (fast --help)

    cent = shapely.centroid(values)
    x = shapely.get_x(cent)
    y = shapely.get_y(cent)
    to_geo = Transformer.from_crs(crs, CRS.from_epsg(CGCS2000), always_xy=True)
    lon, lat = to_geo.transform(x, y)
    op = crs.coordinate_operation
    params = {p.name.lower(): float(p.value) for p in op.params} if op else {}
    fe = params.get("false easting", 500_000.0)
    k0 = params.get("scale factor at natural origin", 1.0)
    x_easting = np.mod(x, 1_000_000.0) if fe % 1_000_000 != 500_000 else x
    e = (x_easting - 500_000.0) / k0
    phi = np.radians(lat)
    w = 1 - _E2 * np.sin(phi) ** 2
    r2 = (_A**2 * (1 - _E2)) / w**2  # rho * nu = a²(1-e²)/w²
    k = k0 * (1 + e**2 / (2 * r2) + e**4 / (24 * r2**2))
    return np.asarray(lon), np.asarray(lat), np.asarray(k)


def _outside_zone(lon: NDArray[Any], crs: CRS) -> NDArray[np.bool_]:
    cm = tm_central_meridian(crs)
    assert cm is not None
    return np.asarray(np.abs(lon - cm) > _zone_width(crs) / 2 + 0.25)


def _zone_width(crs: CRS) -> float:
    """Return the width in degrees of a transverse Mercator CRS's zone.

    UTM (scale 0.9996) and CGCS2000 6° Gauss-Krüger (EPSG 4491-4501) zones are 6° wide;
    other Gauss-Krüger CRSs are taken as 3° zones.
    """
    op = crs.coordinate_operation
    params = {p.name.lower(): float(p.value) for p in op.params} if op else {}
    k0 = params.get("scale factor at natural origin", 1.0)
    if abs(k0 - 0.9996) < 1e-9 or crs.to_epsg() in range(4491, 4502):
        return 6.0
    return 3.0


def _to_geographic(values: NDArray[Any], crs: CRS) -> NDArray[Any]:
    import shapely  # deferred: heavy, loaded when the command runs (fast --help)

    tr = Transformer.from_crs(crs, CRS.from_epsg(CGCS2000), always_xy=True)
    return shapely.transform(values, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def geodesic_area_m2(values: NDArray[Any], crs: Any) -> NDArray[np.float64]:
    """Return the ellipsoidal area (m²) of each geometry, given in ``crs``."""
    geo = _to_geographic(np.asarray(values), CRS.from_user_input(crs))
    return np.array([abs(GEOD.geometry_area_perimeter(g)[0]) for g in geo], dtype="f8")


def geodesic_length_m(values: NDArray[Any], crs: Any) -> NDArray[np.float64]:
    """Return the ellipsoidal length (m) of each geometry, given in ``crs``."""
    geo = _to_geographic(np.asarray(values), CRS.from_user_input(crs))
    return np.array([GEOD.geometry_length(g) for g in geo], dtype="f8")


def area_m2(geoms: Any) -> NDArray[np.float64]:
    """Return the area of each geometry in square metres.

    Parameters
    ----------
    geoms : GeoSeries or GeoDataFrame
        Geometries in a projected metric CRS (the working CRS).

    Returns
    -------
    numpy.ndarray
        Area per feature, m² on the ellipsoid (see the module docstring).

    Raises
    ------
    gis.errors.CRSError
        When the CRS is geographic or missing.
    """
    import shapely  # deferred: heavy, loaded when the command runs (fast --help)

    values, crs = _geoms_and_crs(geoms)
    planar = shapely.area(values).astype("f8")
    if tm_central_meridian(crs) is None or len(values) == 0:
        return planar
    lon, _, k = _tm_context(values, crs)
    out = planar / k**2
    far = _outside_zone(lon, crs) & ~shapely.is_empty(values)
    if far.any():
        out[far] = geodesic_area_m2(values[far], crs)
    return np.asarray(out)


def length_m(geoms: Any) -> NDArray[np.float64]:
    """Return the length of each geometry in metres (perimeter for polygons).

    Same CRS rules and corrections as :func:`area_m2`.
    """
    import shapely  # deferred: heavy, loaded when the command runs (fast --help)

    values, crs = _geoms_and_crs(geoms)
    planar = shapely.length(values).astype("f8")
    if tm_central_meridian(crs) is None or len(values) == 0:
        return planar
    lon, _, k = _tm_context(values, crs)
    out = planar / k
    far = _outside_zone(lon, crs) & ~shapely.is_empty(values)
    if far.any():
        out[far] = geodesic_length_m(values[far], crs)
    return np.asarray(out)


def area_ha(geoms: Any) -> NDArray[np.float64]:
    """Return the area of each geometry in hectares (公顷)."""
    return area_m2(geoms) / M2_PER_HA


def area_mu(geoms: Any) -> NDArray[np.float64]:
    """Return the area of each geometry in 亩 (mu)."""
    return area_m2(geoms) / M2_PER_MU


def length_km(geoms: Any) -> NDArray[np.float64]:
    """Return the length of each geometry in kilometres."""
    return length_m(geoms) / M_PER_KM
