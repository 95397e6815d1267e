"""GCJ-02 ("Mars coordinates") used by AMap/Gaode and DataV, and its inverse.

GCJ-02 is WGS84 lon/lat plus a deliberate, smoothly varying offset (about 520 m east and
270 m north at Changchun). Sources from AMap/DataV store GCJ-02 as if it were WGS84, so they
must be converted before they are overlaid on imagery, OSM or national data. The forward
transform is the widely published standard algorithm (Krasovsky ellipsoid constants); the
inverse is found by fixed-point iteration to well below 1 cm. Outside China's bounding box the
standard algorithm applies no shift, and neither do these functions.

Examples
--------
>>> lon, lat = wgs84_to_gcj02(125.3154, 43.8926)
>>> round((lon - 125.3154) * 1e4), round((lat - 43.8926) * 1e4)
(65, 24)
>>> back = gcj02_to_wgs84(lon, lat)
>>> abs(back[0] - 125.3154) < 1e-9, abs(back[1] - 43.8926) < 1e-9
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

_A = 6378245.0  # semi-major axis of the Krasovsky 1940 ellipsoid, as the algorithm uses
_EE = 0.00669342162296594323  # its first eccentricity squared
_TOLERANCE_DEG = 1e-10  # ~0.01 mm; iteration stops below this residual

FloatArray = npt.NDArray[np.float64]


def _shift_lat(x: FloatArray, y: FloatArray) -> FloatArray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _shift_lon(x: FloatArray, y: FloatArray) -> FloatArray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def in_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Return where the standard algorithm applies a shift (China's rough bounding box).

    Parameters
    ----------
    lon, lat : array-like
        Degrees.
    """
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (x >= 72.004) & (x <= 137.8347) & (y >= 0.8293) & (y <= 55.8271)


def _offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlat = _shift_lat(lon - 105.0, lat - 35.0)
    dlon = _shift_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Any, Any]:
    """Return GCJ-02 lon/lat for WGS84 lon/lat (vectorised; no shift outside China).

    Parameters
    ----------
    lon, lat : float or array-like
        WGS84 (or CGCS2000) degrees.

    Returns
    -------
    tuple of (float or ndarray, float or ndarray)
        GCJ-02 degrees, in the shape of the input.
    """
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _offset(x, y)
    return _like(x + dlon, lon), _like(y + dlat, lat)


def gcj02_to_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, max_iter: int = 20
) -> tuple[Any, Any]:
    """Return WGS84 lon/lat for GCJ-02 lon/lat by inverting the forward transform.

    Fixed-point iteration ``w <- w + (g - forward(w))`` converges in a few steps, since the
    offset changes slowly; the residual is below 1e-10° (well under 0.01 m).

    Parameters
    ----------
    lon, lat : float or array-like
        GCJ-02 degrees (AMap/Gaode/DataV coordinates).
    max_iter : int
        Iteration cap.

    Returns
    -------
    tuple of (float or ndarray, float or ndarray)
        WGS84 degrees, in the shape of the input.
    """
    gx, gy = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _offset(gx, gy)
    wx, wy = gx - dlon, gy - dlat
    for _ in range(max_iter):
        fx, fy = wgs84_to_gcj02(wx, wy)
        rx, ry = gx - fx, gy - fy
        wx, wy = wx + rx, wy + ry
        if np.all(np.abs(rx) < _TOLERANCE_DEG) and np.all(np.abs(ry) < _TOLERANCE_DEG):
            break
    return _like(wx, lon), _like(wy, lat)


def _like(values: FloatArray, template: npt.ArrayLike) -> Any:
    return float(values) if np.ndim(template) == 0 else values


def _coords_to_wgs84(coords: FloatArray) -> FloatArray:
    x, y = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def geometries_gcj02_to_wgs84(geometries: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Return the geometries with every vertex converted from GCJ-02 to WGS84.

    Parameters
    ----------
    geometries : array-like of shapely geometries
        In GCJ-02 lon/lat degrees.

    Examples
    --------
    >>> out = geometries_gcj02_to_wgs84([shapely.Point(125.3219, 43.8950)])
    >>> round(out[0].x, 4), round(out[0].y, 4)
    (125.3154, 43.8926)
    """
    return np.asarray(shapely.transform(np.asarray(geometries, dtype=object), _coords_to_wgs84))
