"""Score check results against the demo scene's truth tables.

Pure functions over frames: the patch check's ``patches_checked`` (canonical names) against
``DemoScene.truth["patches"]``, and detected points against ``DemoScene.truth["crowns"]``.

Examples
--------
>>> import pandas as pd
>>> truth = pd.DataFrame({"patch_id": ["0001", "0002"], "is_real_change": [True, False],
...     "change_type": ["logging", "none"], "legality": ["permitted", "no_change"],
...     "hidden_by_cloud": [False, False]})
>>> got = truth.assign(legality=["suspected_illegal", "no_change"])
>>> score_patches(got, truth)["legality"]
0.5
>>> kinds = ["discolored", "decoy_larch"]
>>> crowns = pd.DataFrame({"x": [0.0, 10.0], "y": [0.0, 0.0], "kind": kinds})
>>> s = score_crowns(pd.DataFrame({"x": [0.5, 10.2], "y": [0.0, 0.0]}), crowns)
>>> s["recall"], s["precision"], s["decoy_larch_reported"]
(1.0, 0.5, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

TARGET_KIND = "discolored"


def _as_bool(values: pd.Series) -> pd.Series:
    return values.map(lambda v: None if pd.isna(v) else bool(v))


def _pair(frame: pd.DataFrame, pid: Any) -> str:
    return f"{frame.at[pid, 'change_type']!s}/{frame.at[pid, 'legality']!s}"


def score_patches(checked: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    """Return the share of patches right on real change, change type and legality.

    Parameters
    ----------
    checked : DataFrame
        Check results with ``patch_id``, ``is_real_change``, ``change_type``, ``legality``.
    truth : DataFrame
        ``DemoScene.truth["patches"]``.

    Returns
    -------
    dict
        ``real_change`` and ``change_type`` over the patches not hidden by cloud (hidden ones
        cannot be judged from the images), ``legality`` over all patches, ``n``, and
        ``wrong``: the patch ids of any mismatch with what was expected and what was got.
    """
    got = checked.assign(patch_id=checked["patch_id"].astype(str)).set_index("patch_id")
    t = truth.assign(patch_id=truth["patch_id"].astype(str)).set_index("patch_id")
    got = got.reindex(t.index)
    seen = ~t["hidden_by_cloud"].astype(bool)
    real = _as_bool(got["is_real_change"]) == _as_bool(t["is_real_change"])
    kind = got["change_type"] == t["change_type"]
    legal = got["legality"] == t["legality"]
    wrong = t.index[~(legal & (kind | ~seen) & (real | ~seen))]
    return {
        "n": len(t),
        "real_change": round(float(real[seen].mean()), 4),
        "change_type": round(float(kind[seen].mean()), 4),
        "legality": round(float(legal.mean()), 4),
        "wrong": [(str(pid), _pair(t, pid), _pair(got, pid)) for pid in wrong],
    }


def _xy(frame: pd.DataFrame) -> np.ndarray:
    if "geometry" in frame and not {"x", "y"} <= set(frame.columns):
        geoms = frame["geometry"]
        return np.column_stack([geoms.x, geoms.y])
    return np.column_stack([frame["x"].to_numpy("f8"), frame["y"].to_numpy("f8")])


def score_crowns(
    points: pd.DataFrame, crowns: pd.DataFrame, *, tolerance_m: float = 2.0
) -> dict[str, Any]:
    """Return precision and recall of reported points against the planted discolored crowns.

    Parameters
    ----------
    points : DataFrame or GeoDataFrame
        The points reported as new detections (``x``/``y`` columns or point geometry), in the
        crowns' CRS (EPSG:4551 for the demo).
    crowns : DataFrame
        ``DemoScene.truth["crowns"]``.
    tolerance_m : float
        Metres: a point within this distance of a planted crown matches it (one point per
        crown, nearest first).

    Returns
    -------
    dict
        ``precision`` (matched discolored crowns / points), ``recall`` (matched / planted
        discolored), counts, and for every other planted kind how many were reported.
    """
    pts, planted = _xy(points), _xy(crowns)
    kinds = crowns["kind"].to_numpy()
    matched = np.full(len(planted), False)
    if len(pts) and len(planted):
        dist, idx = cKDTree(planted).query(pts, distance_upper_bound=tolerance_m)
        for k in np.argsort(dist):
            if np.isfinite(dist[k]) and not matched[idx[k]]:
                matched[idx[k]] = True
    target = kinds == TARGET_KIND
    hits = int((matched & target).sum())
    out: dict[str, Any] = {
        "points": len(pts),
        "planted": int(target.sum()),
        "matched": hits,
        "precision": round(hits / len(pts), 4) if len(pts) else 0.0,
        "recall": round(hits / int(target.sum()), 4) if target.any() else 0.0,
    }
    for kind in sorted(set(kinds) - {TARGET_KIND}):
        out[f"{kind}_reported"] = int((matched & (kinds == kind)).sum())
    return out


def score_hotspots(checked: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    """Score the hotspot check: verdict accuracy and event grouping against the truth.

    ``fire_kind`` is the share of hotspots whose verdict is the planted kind; ``events`` the
    share of hotspot pairs on which the check and the truth agree (same event or not);
    ``n_events`` and ``true_events`` the event counts.

    Examples
    --------
    >>> truth = pd.DataFrame({"hotspot_id": ["H1", "H2", "H3"], "fire_kind": ["a", "a", "b"],
    ...     "event": ["x", "x", "y"]})
    >>> got = truth.assign(event_id=["E1", "E1", "E1"], fire_kind=["a", "a", "a"])
    >>> s = score_hotspots(got, truth)
    >>> round(s["fire_kind"], 3), round(s["events"], 3), s["n_events"], s["true_events"]
    (0.667, 0.333, 1, 2)
    """
    merged = truth.merge(
        checked[["hotspot_id", "fire_kind", "event_id"]], on="hotspot_id", suffixes=("", "_got")
    )
    kind = float((merged["fire_kind"] == merged["fire_kind_got"]).mean()) if len(merged) else 0.0
    a, b = np.triu_indices(len(merged), k=1)
    same_truth = merged["event"].to_numpy()[a] == merged["event"].to_numpy()[b]
    same_got = merged["event_id"].to_numpy()[a] == merged["event_id"].to_numpy()[b]
    events = float((same_truth == same_got).mean()) if len(a) else 1.0
    return {
        "n": len(merged),
        "fire_kind": kind,
        "events": events,
        "n_events": int(merged["event_id"].nunique()),
        "true_events": int(merged["event"].nunique()),
    }
