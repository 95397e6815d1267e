"""One map per district, forest chief or any field value.

Layers that carry the field are filtered by value; layers that do not (subcompartments, other
context) keep only the features near that value's features, so each file stays small.

Examples
--------
>>> import geopandas as gpd, shapely
>>> patches = gpd.GeoDataFrame({"district": ["A", "B"]}, crs="EPSG:4551",
...     geometry=[shapely.box(0, 0, 10, 10), shapely.box(5000, 0, 5010, 10)])
>>> context = gpd.GeoDataFrame({"n": [1, 2]}, crs="EPSG:4551",
...     geometry=[shapely.box(0, 20, 10, 30), shapely.box(5000, 20, 5010, 30)])
>>> maps = split_layers({"patches": patches, "subs": context}, "district", margin_m=100)
>>> sorted(maps), list(maps["A"]["subs"]["n"])
(['A', 'B'], [1])
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

import geopandas as gpd
import shapely

from gis.crs import assert_same_crs
from gis.findings import Findings
from gis.maps.style import MapOptionError

_UNSAFE_NAME = re.compile(r"[^\w.\-]+")


def file_label(value: str) -> str:
    """Return ``value`` usable in a file name (letters, CJK, digits, ``.-_`` kept).

    Examples
    --------
    >>> file_label("朝阳区/南湖 1")
    '朝阳区_南湖_1'
    """
    return _UNSAFE_NAME.sub("_", value).strip("_.") or "_"


def file_labels(values: Iterable[str]) -> dict[str, str]:
    """Return a distinct file label for each value (:func:`file_label`, made unique).

    Values whose labels clash (``朝阳区/南湖`` and ``朝阳区_南湖``, or labels differing only in
    case, which Windows treats as one file) get a short digest of the value appended; a value
    that is its own label keeps it (the first such value, in sorted order).

    Examples
    --------
    >>> labels = file_labels(["朝阳区/南湖", "朝阳区_南湖", "南关区"])
    >>> labels["朝阳区_南湖"], labels["南关区"], labels["朝阳区/南湖"]
    ('朝阳区_南湖', '南关区', '朝阳区_南湖_339ebd')
    """
    groups: dict[str, list[str]] = {}
    for value in dict.fromkeys(values):
        groups.setdefault(file_label(value).casefold(), []).append(value)
    out = {}
    for members in groups.values():
        plain = [v for v in sorted(members) if file_label(v) == v][:1]
        for value in members:
            label = file_label(value)
            if len(members) > 1 and [value] != plain:
                label += "_" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:6]
            out[value] = label
    return out


def _values(layers: Mapping[str, gpd.GeoDataFrame], keyed: list[str], field: str) -> list[str]:
    found = {str(v) for name in keyed for v in layers[name][field].dropna().unique()}
    return sorted(found)


def _near(frame: gpd.GeoDataFrame, area: shapely.Geometry) -> gpd.GeoDataFrame:
    hits = frame.sindex.query(area, predicate="intersects")
    return frame.iloc[sorted(hits)]


def split_layers(
    layers: Mapping[str, gpd.GeoDataFrame],
    field: str,
    *,
    margin_m: float = 500.0,
    findings: Findings | None = None,
) -> dict[str, dict[str, gpd.GeoDataFrame]]:
    """Split layers into one set per value of ``field``.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Layers in one projected CRS (as :func:`gis.io.read_layer` returns them).
    field : str
        Attribute to split by (``district``, ``forest_chief`` …); at least one layer has it.
    margin_m : float
        Metres, in the layers' CRS: context features within this distance of the bounding box
        of a value's features are kept.
    findings : Findings, optional
        Receives a warning for features whose ``field`` is empty (they are in no map).

    Returns
    -------
    dict
        Value → layer name → frame, layers in the input order.

    Raises
    ------
    MapOptionError
        When no layer has ``field``.
    """
    keyed = [name for name, frame in layers.items() if field in frame.columns]
    if not keyed:
        fields = sorted({str(c) for f in layers.values() for c in f.columns if c != "geometry"})
        raise MapOptionError(
            f"no layer has the field {field!r} to split by; fields present: {', '.join(fields)}",
            zh=f"没有图层含有用于拆分的字段 {field!r}；现有字段：{'、'.join(fields)}",
        )
    assert_same_crs(*layers.values(), names=tuple(layers))
    log = Findings() if findings is None else findings
    for name in keyed:
        empty = int(layers[name][field].isna().sum())
        if empty:
            log.add(
                "map_split_value_missing",
                f"{empty} feature(s) of {name!r} have no {field!r} and are in no map",
                source=name,
                field=field,
                zh=f"图层 {name!r} 有 {empty} 个要素没有 {field!r} 值，不在任何一幅图中",
            )
    out: dict[str, dict[str, gpd.GeoDataFrame]] = {}
    for value in _values(layers, keyed, field):
        parts = {n: layers[n][layers[n][field].astype(str) == value] for n in keyed}
        bounds = [p.total_bounds for p in parts.values() if len(p)]
        area = shapely.box(
            min(b[0] for b in bounds),
            min(b[1] for b in bounds),
            max(b[2] for b in bounds),
            max(b[3] for b in bounds),
        ).buffer(margin_m)
        out[value] = {n: parts[n] if n in parts else _near(f, area) for n, f in layers.items()}
    return out
