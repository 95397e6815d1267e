"""Accuracy of the discolored-tree detector: segment data (UCI Wilt) and planted crowns."""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.checks.discolored.baselines import segment_baseline, wilt_score
from gis.checks.discolored.detect import DiscoloredRules, load_discolored_rules
from gis.checks.discolored.pixels import pixel_layers


def average_precision(score: Any, positive: Any) -> float:
    """Return the average precision (area under the precision-recall steps).

    Examples
    --------
    >>> average_precision([0.9, 0.8, 0.1], [True, False, True])
    0.8333333333333333
    """
    s, y = np.asarray(score, dtype=float), np.asarray(positive, dtype=bool)
    order = np.argsort(-s, kind="stable")
    hits = y[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / max(hits.sum(), 1))


def evaluate_segments(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    target_recall: float = 0.9,
    positive: str = "w",
    rules: DiscoloredRules | None = None,
) -> dict[str, float]:
    """Score wilt segments (UCI *Wilt*: Mean_Green, Mean_Red, Mean_NIR, class) like the detector.

    The baseline (median, lower-half sigma) comes from the training segments, as a stand's canopy
    pixels are the baseline of that stand; :func:`~gis.checks.discolored.baselines.wilt_score` gates
    out shadow and soil and suppresses yellow decoys; the threshold is the highest score that
    keeps ``target_recall`` of the training positives; the test set is scored with it.

    Precision depends on prevalence: at a fixed threshold recall and the false-positive rate
    do not, but precision = TPR·p / (TPR·p + FPR·(1 − p)). With 1.7 % diseased segments in
    training and 37 % in testing, the same threshold gives a far higher precision on the test
    set than on training; a threshold tuned for F1 on training would be much stricter and lose
    recall here. Average precision (PR-AUC) moves with prevalence the same way.
    """
    crowns = (rules or load_discolored_rules()).crowns
    bands = ("Mean_Green", "Mean_Red", "Mean_NIR")
    px = pixel_layers(np.stack([train[b].to_numpy(float) for b in bands]), ("G", "R", "NIR"))
    base = segment_baseline(px, crowns)
    score = {
        name: wilt_score(*(f[b] for b in bands), baseline=base, rules=crowns)["score"].to_numpy()
        for name, f in (("train", train), ("test", test))
    }
    y_train = train["class"].astype(str).str.strip().to_numpy() == positive
    y_test = test["class"].astype(str).str.strip().to_numpy() == positive
    pos = np.sort(score["train"][y_train])[::-1]
    threshold = float(pos[math.ceil(target_recall * len(pos)) - 1])
    pred = score["test"] >= threshold
    tp = int((pred & y_test).sum())
    finite = np.where(np.isfinite(score["test"]), score["test"], -1e9)
    return {
        "threshold_z": round(threshold, 4),
        "recall": tp / max(int(y_test.sum()), 1),
        "precision": tp / max(int(pred.sum()), 1),
        "average_precision": average_precision(finite, y_test),
        "prevalence_train": float(y_train.mean()),
        "prevalence_test": float(y_test.mean()),
    }


def match_truth(
    points: gpd.GeoDataFrame,
    truth: pd.DataFrame,
    *,
    kind: str = "discolored",
    within_m: float = 2.0,
) -> dict[str, float]:
    """Precision and recall of new points against planted crowns (``x, y, kind`` columns).

    A new point within ``within_m`` of a planted crown of ``kind`` is a hit; a planted crown
    with a new point within ``within_m`` is found. Points and truth share the points' CRS.
    """
    from scipy.spatial import cKDTree

    new = points[points["is_new"].astype(bool)]
    xy = np.c_[new.geometry.x, new.geometry.y]
    target = truth[truth["kind"] == kind]
    txy = np.c_[target["x"], target["y"]]
    if len(new) == 0 or len(target) == 0:
        return {"precision": float(len(new) == 0), "recall": float(len(target) == 0),
                "points": len(new), "planted": len(target)}  # fmt: skip
    hit = cKDTree(txy).query(xy)[0] <= within_m
    found = cKDTree(xy).query(txy)[0] <= within_m
    return {"precision": float(hit.mean()), "recall": float(found.mean()),
            "points": len(new), "planted": len(target)}  # fmt: skip
