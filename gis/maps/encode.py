r"""Compact, script-safe encoding of layers for the field map's JavaScript.

Geometry travels as integer microdegrees (1e-6° ≈ 0.1 m), delta-encoded per axis over the
whole layer, with ragged offsets (features → parts → rings → vertices) as shapely's
:func:`shapely.to_ragged_array` gives them; rings drop their closing vertex (Leaflet closes
rings). Attributes travel as one row array per feature plus one field list. The browser rebuilds
everything in one pass; nothing is styled per feature in Python.

Examples
--------
>>> import numpy as np
>>> delta_microdegrees(np.array([[125.0, 44.0], [125.000001, 44.000003]]))
[125000000, 44000000, 1, 3]
>>> script_json({"a": "</script><b>"})
'{"a": "\\u003c/script\\u003e\\u003cb\\u003e"}'
"""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from gis.errors import SchemaError
from gis.maps.style import Geometry

SCALE = 1_000_000
"""Coordinates are sent as integers of 1e-6 degree (about 0.11 m north-south)."""

_KIND = {
    "Polygon": Geometry.POLYGON,
    "MultiPolygon": Geometry.POLYGON,
    "LineString": Geometry.LINE,
    "MultiLineString": Geometry.LINE,
    "Point": Geometry.POINT,
    "MultiPoint": Geometry.POINT,
}

_SCRIPT_UNSAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def script_json(value: Any) -> str:
    """Return JSON that is safe inside a ``<script>`` element (``<``, ``>``, ``&`` escaped)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False).translate(_SCRIPT_UNSAFE)


def escape_script_json(text: str) -> str:
    """Escape ready-made JSON text for a ``<script>`` element (see :func:`script_json`)."""
    return text.translate(_SCRIPT_UNSAFE)


def geometry_kind(frame: gpd.GeoDataFrame, name: str) -> Geometry:
    """Return how layer ``name`` is drawn; mixed geometry families are an error."""
    kinds = {_KIND.get(t) for t in frame.geom_type.dropna().unique()}
    if len(kinds) != 1 or None in kinds:
        found = ", ".join(sorted(map(str, frame.geom_type.dropna().unique()))) or "none"
        raise SchemaError(
            f"layer {name!r} must hold one geometry family (polygons, lines or points) to be "
            f"mapped; found {found}. Split it by geometry type (e.g. frame.explode() and filter "
            "geom_type) and pass each part as its own layer"
        )
    kind = kinds.pop()
    assert kind is not None
    return kind


def delta_microdegrees(xy: NDArray[np.float64]) -> list[int]:
    """Return ``[x0, y0, dx1, dy1, …]`` in integer 1e-6° from an ``(n, 2)`` lon/lat array."""
    q = np.round(np.asarray(xy, dtype=np.float64).reshape(-1, 2) * SCALE).astype(np.int64)
    deltas = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    values: list[int] = deltas.ravel().tolist()
    return values


def int_array_json(values: list[int] | NDArray[np.integer[Any]]) -> str:
    """Return a JSON array of integers, faster than :func:`json.dumps` for millions of them.

    Examples
    --------
    >>> int_array_json([1, -2, 30])
    '[1,-2,30]'
    """
    items = values.tolist() if isinstance(values, np.ndarray) else values
    return "[" + ",".join(map(str, items)) + "]"


def json_object(fields: dict[str, str]) -> str:
    """Join ready-made JSON values into one object; keys are JSON-escaped.

    Examples
    --------
    >>> json_object({"a": "[1]", "b": "null"})
    '{"a":[1],"b":null}'
    """
    return "{" + ",".join(f"{script_json(k)}:{v}" for k, v in fields.items()) + "}"


def _drop_closing(coords: NDArray[np.float64], rings: NDArray[np.int64]) -> tuple[Any, Any]:
    keep = np.ones(len(coords), dtype=bool)
    keep[rings[1:] - 1] = False
    shifted = rings - np.arange(len(rings))
    return coords[keep], shifted


def encode_geometry(geoms: NDArray[Any], kind: Geometry) -> dict[str, str]:
    """Encode lon/lat geometries of one family as JSON ``coords`` plus ragged ``offsets``.

    Parameters
    ----------
    geoms : array of shapely geometries
        Longitude/latitude (EPSG:4326), no missing or empty geometries.
    kind : Geometry
        The family, from :func:`geometry_kind`.
    """
    if kind is Geometry.POINT:
        xy = shapely.get_coordinates(geoms)
        return {"coords": int_array_json(delta_microdegrees(xy)), "offsets": "null"}
    _, coords, offsets = shapely.to_ragged_array(geoms, include_z=False)
    offsets = [np.asarray(o, dtype=np.int64) for o in offsets]
    depth = 3 if kind is Geometry.POLYGON else 2
    if len(offsets) < depth:  # all single-part: one part per feature
        offsets.append(np.arange(len(geoms) + 1, dtype=np.int64))
    if kind is Geometry.POLYGON:
        rings, parts, features = offsets
        coords, rings = _drop_closing(coords, rings)
        shape = {"rings": rings, "parts": parts, "features": features}
    else:
        parts, features = offsets
        shape = {"parts": parts, "features": features}
    encoded = json_object({k: int_array_json(v) for k, v in shape.items()})
    return {"coords": int_array_json(delta_microdegrees(coords)), "offsets": encoded}
