r"""Compact, script-safe encoding of layers for the field map's JavaScript.

Geometry travels as integer microdegrees (1e-6° ≈ 0.1 m), delta-encoded per axis over the
whole layer, with ragged offsets (features → parts → rings → vertices) as shapely's
:func:`shapely.to_ragged_array` gives them, sent as lengths; rings drop their closing vertex.
Integer sequences are packed as text (:func:`pack_ints`: zigzag varints, five bits per
base64url character), about 4 characters per vertex where a JSON array needs 9, with no
character that needs escaping in JSON or HTML. Attributes travel as one row array per
feature plus one field list. The browser rebuilds everything in one pass; nothing is styled
per feature in Python.

Examples
--------
>>> import numpy as np
>>> delta_microdegrees(np.array([[125.0, 44.0], [125.000001, 44.000003]])).tolist()
[125000000, 44000000, 1, 3]
>>> pack_ints(np.array([0, -1, 1, 31, 1000]))
'ABC-Bw-B'
>>> unpack_ints(pack_ints(np.array([125000000, -44000000, 7]))).tolist()
[125000000, -44000000, 7]
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
            "geom_type) and pass each part as its own layer",
            zh=f"图层 {name!r} 须只含一类几何（面、线或点）才能上图；现有 {found}。请按几何类型拆分"
            "（如 `frame.explode()` 后按 geom_type 筛选），把每一部分作为单独的图层传入",
        )
    kind = kinds.pop()
    assert kind is not None
    return kind


def delta_microdegrees(xy: NDArray[np.float64]) -> NDArray[np.int64]:
    """Return ``[x0, y0, dx1, dy1, …]`` in integer 1e-6° from an ``(n, 2)`` lon/lat array."""
    q = np.round(np.asarray(xy, dtype=np.float64).reshape(-1, 2) * SCALE).astype(np.int64)
    deltas = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    return deltas.ravel()


ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8
)
"""base64url digits: bit 5 set = more chunks follow; bits 0-4 = the next five bits."""

_CHUNKS = 8  # 40 bits: any zigzag value of microdegrees or offsets


def pack_ints(values: NDArray[np.integer[Any]]) -> str:
    """Pack signed integers (|v| < 2**39) as zigzag varints in base64url text.

    Each value is zigzagged (0, -1, 1, -2 … → 0, 1, 2, 3 …) and written five bits per
    character, least significant first; a set 6th bit means another character follows.
    The map's ``unpackInts`` reads it back.
    """
    v = np.asarray(values, dtype=np.int64).ravel()
    z = (v << 1) ^ (v >> 63)  # zigzag: non-negative
    length = np.ones(len(z), dtype=np.int64)
    for k in range(1, _CHUNKS):
        length += z >= (1 << (5 * k))
    start = np.cumsum(length) - length
    digits = np.empty(int(length.sum()), dtype=np.uint8)
    for k in range(_CHUNKS):
        sel = np.flatnonzero(length > k)
        if not len(sel):
            break
        chunk = (z[sel] >> (5 * k)) & 31
        digits[start[sel] + k] = chunk | ((length[sel] > k + 1) << 5)
    return ALPHABET[digits].tobytes().decode("ascii")


def unpack_ints(text: str) -> NDArray[np.int64]:
    """Inverse of :func:`pack_ints` (for tests and tools; the browser has its own)."""
    lookup = np.full(128, -1, dtype=np.int64)
    lookup[ALPHABET] = np.arange(64)
    digits = lookup[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    out, value, shift = [], 0, 0
    for d in digits.tolist():
        value |= (d & 31) << shift
        shift += 5
        if d < 32:
            out.append((value >> 1) ^ -(value & 1))
            value, shift = 0, 0
    return np.asarray(out, dtype=np.int64)


def packed_json(values: NDArray[np.integer[Any]]) -> str:
    """Return :func:`pack_ints` text as a JSON string (the alphabet needs no escaping)."""
    return '"' + pack_ints(values) + '"'


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
        return {"coords": packed_json(delta_microdegrees(xy)), "offsets": "null"}
    if kind is Geometry.POLYGON:  # holes opposite to shells: the map fills with "nonzero"
        geoms = shapely.orient_polygons(geoms, exterior_cw=False)
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
    encoded = json_object({k: packed_json(np.diff(v)) for k, v in shape.items()})
    return {"coords": packed_json(delta_microdegrees(coords)), "offsets": encoded}
