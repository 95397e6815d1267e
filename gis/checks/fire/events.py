"""Repeat detections grouped into fire events, in space and time.

Two detections belong to one event when they lie within ``distance_m`` of each other and
within ``hours`` in time; events are the connected components of that relation (chained: a
fire creeping 800 m a day stays one event over a week). The pairs come from one bulk
k-d tree query (:func:`close_pairs`) and the components from
:func:`scipy.sparse.csgraph.connected_components`, never from a loop over pairs of rows.

Examples
--------
>>> import numpy as np, shapely
>>> pts = shapely.points([0, 500, 5000, 0], [0, 0, 0, 0])
>>> hours = np.array([0.0, 10.0, 10.0, 100.0])
>>> event_labels(pts, hours * 3600, distance_m=1000, hours=24).tolist()
[0, 0, 1, 2]
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

EVENT_COLUMNS = ("event_id", "event_size", "event_days", "event_first_utc", "event_last_utc")


def close_pairs(points: NDArray[Any], distance_m: float) -> tuple[NDArray[Any], NDArray[Any]]:
    """Return the index pairs ``i < j`` of points at most ``distance_m`` apart.

    Points (all non-empty) go through :class:`scipy.spatial.cKDTree` ``query_pairs``: the
    same pairs as ``STRtree.query(predicate="dwithin")``, twenty times faster on 100 000
    hotspots (0.1 s against 2 s CPU); any other geometry through the STRtree.

    Examples
    --------
    >>> close_pairs(shapely.points([0, 500, 2000], [0, 0, 0]), 1000)
    (array([0]), array([1]))
    """
    kinds = shapely.get_type_id(points)
    if len(points) and (kinds == shapely.GeometryType.POINT).all():
        xy = shapely.get_coordinates(points)
        if len(xy) == len(points):  # no empty point
            pairs = cKDTree(xy).query_pairs(r=distance_m, output_type="ndarray")
            pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
            return pairs[:, 0].astype(np.intp), pairs[:, 1].astype(np.intp)
    left, right = shapely.STRtree(points).query(points, predicate="dwithin", distance=distance_m)
    keep = left < right
    return left[keep], right[keep]


def event_labels(
    points: NDArray[Any], seconds: NDArray[Any], *, distance_m: float, hours: float
) -> NDArray[np.int64]:
    """Return an event label per detection, numbered by each event's earliest detection.

    Parameters
    ----------
    points : array of shapely Points
        Detections, metres in a projected CRS.
    seconds : array of float
        Detection times in seconds (any origin); NaN (unknown) is an event of its own.
    distance_m : float
        Metres, in the points' CRS.
    hours : float
        Largest time between two linked detections.
    """
    n = len(points)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    left, right = close_pairs(points, distance_m)
    gap = np.abs(seconds[left] - seconds[right])
    keep = gap <= hours * 3600.0
    graph = coo_matrix((np.ones(int(keep.sum())), (left[keep], right[keep])), shape=(n, n))
    _, raw = connected_components(graph, directed=False)
    first = pd.Series(np.nan_to_num(seconds, nan=np.inf)).groupby(raw).transform("min")
    order = pd.DataFrame({"first": first.to_numpy(), "raw": raw})
    ranked = order.drop_duplicates("raw").sort_values(["first", "raw"])
    renumber = np.empty(int(raw.max()) + 1, dtype=np.int64)
    renumber[ranked["raw"].to_numpy()] = np.arange(len(ranked))
    return renumber[raw]


def event_table(
    labels: NDArray[np.int64], times_utc: pd.Series, *, prefix: str = "E"
) -> pd.DataFrame:
    """Return :data:`EVENT_COLUMNS` per detection (indexed like ``times_utc``).

    ``event_days`` counts the distinct Beijing dates of the event's detections (a source
    seen on many days is likely a static one).
    """
    width = max(4, len(str(int(labels.max()) + 1))) if len(labels) else 4
    ids = pd.Series([f"{prefix}{i + 1:0{width}d}" for i in labels], index=times_utc.index)
    times = pd.to_datetime(times_utc, utc=True).rename(None)  # also when empty or all NaT
    day = times.dt.tz_convert("Asia/Shanghai").dt.normalize()
    group = pd.Series(labels, index=times_utc.index)
    out = pd.DataFrame(index=times_utc.index)
    out["event_id"] = ids
    out["event_size"] = group.groupby(group).transform("size").astype("int64")
    out["event_days"] = day.groupby(group).transform("nunique").astype("int64")
    out["event_first_utc"] = times.groupby(group).transform("min")
    out["event_last_utc"] = times.groupby(group).transform("max")
    return out


def event_shapes(
    footprints: NDArray[Any], labels: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[Any]]:
    """Return the event labels and the convex hull of each event's footprints (vectorised)."""
    if len(labels) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    order = np.argsort(labels, kind="stable")
    parts = shapely.multipolygons(footprints[order], indices=labels[order])
    return np.unique(labels), shapely.convex_hull(parts)


def _joined_ids(labels: NDArray[np.int64], ids: pd.Series) -> list[str]:
    """Return the ids of each run of equal labels (``labels`` sorted) joined with ``"; "``."""
    if len(labels) == 0:
        return []
    text = ids.astype(str).tolist()
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], len(labels)]
    return ["; ".join(text[a:b]) for a, b in zip(starts, ends, strict=True)]


def summarise_events(
    checked: gpd.GeoDataFrame, labels: NDArray[np.int64], footprints: NDArray[Any]
) -> gpd.GeoDataFrame:
    """Return one row per event: its detections, span in time and the most urgent verdict.

    The event takes the verdict of its most urgent detection (lowest ``field_priority``, then
    earliest ``feedback_due_utc``); ``hotspot_ids`` joins the detections' ids.
    """
    frame = pd.DataFrame(checked.drop(columns=checked.geometry.name)).assign(_label=labels)
    frame = frame.sort_values(["_label", "field_priority", "feedback_due_utc"], na_position="last")
    head = frame.drop_duplicates("_label").set_index("_label")
    ids = pd.Series(_joined_ids(frame["_label"].to_numpy(), frame["hotspot_id"]), index=head.index)
    keep = [
        *EVENT_COLUMNS,
        "fire_kind",
        "field_priority",
        "feedback_hours",
        "feedback_due_utc",
        "district",
        "township",
        "forest_chief",
        "reasons",
    ]
    out = head[[c for c in keep if c in head]].copy()
    out["hotspot_ids"] = ids
    out = out.rename(columns={"event_size": "n_hotspots"})
    order, hulls = event_shapes(footprints, labels)
    geometry = gpd.GeoSeries(hulls, index=order, crs=checked.crs).reindex(out.index)
    return gpd.GeoDataFrame(
        out.reset_index(drop=True), geometry=geometry.to_numpy(), crs=checked.crs
    )
