"""How well can any colour rule do on autumn R,G,B crowns? (discolored trees, issue #16)

Builds the autumn R,G,B scenes of :mod:`gis.demo.crown_suite` for the given seeds, runs
``detect_discolored`` as the suite does (default hosts, date from the image) and keeps the
candidate crowns handed to the autumn colour step (``autumn_rgb_decoys``) — before any
autumn decision. Each candidate is labelled by the nearest generated crown within 2.5 m
(a discolored pine, or the species / autumn tone of a healthy crown).

Over the candidates of stands whose 树种组成 names a deciduous species (the stands the
colour populations screen; stands turning as a whole left out) it prints:

- what the rules keep (precision / recall among those candidates);
- an upper bound for *any* rule on the two colour measures the rules have per crown —
  log(green / stand median green) and log(R/G): a k-nearest-neighbour classifier trained on
  the generator's own labels, leave-one-seed-out, precision at recall 0.5…0.9. A rule
  without labels cannot beat a classifier that learnt them from the same generator;
- the candidates by what they are.

Usage::

    .venv/bin/python scripts/bound_autumn_rgb.py --seeds 0 80
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np
import pandas as pd
import rasterio
from numpy.typing import NDArray
from scipy.spatial import cKDTree

import gis.checks.discolored.detect as detect_module
from gis.checks.discolored import load_discolored_rules
from gis.checks.discolored.autumn import colour_stands
from gis.checks.discolored.detect import host_list
from gis.demo.crown_suite import build_case, score_case, suite_cases

RULES_DECOYS = detect_module.autumn_rgb_decoys


def label(crowns: pd.DataFrame, planted: pd.DataFrame) -> NDArray[Any]:
    """What each candidate is: its nearest generated crown within 2.5 m, else ``other``."""
    dist, idx = cKDTree(np.c_[planted["x"], planted["y"]]).query(np.c_[crowns["x"], crowns["y"]])
    near = planted.iloc[idx]
    what = np.where(near["species"].isin(["红松", "樟子松"]), "pine", near["species"].to_numpy())
    what = np.where(near["species"] == "蒙古栎", "蒙古栎 " + near["tone"].to_numpy(), what)
    what = np.where(near["kind"] == "discolored", "discolored pine", what)
    return np.where(dist <= 2.5, what, "other")


def blue_red(image: Path, crowns: pd.DataFrame) -> NDArray[np.float64]:
    """log(B/R) of each candidate over a disc of its area around its centre (in the image)."""
    with rasterio.open(image) as ds:
        bands, inverse = ds.read().astype(float), ~ds.transform
        res = ds.res[0]
    out = np.full(len(crowns), np.nan)
    for i, (x, y, area) in enumerate(crowns[["x", "y", "crown_m2"]].to_numpy()):
        col, row = inverse * (x, y)
        r = max(np.sqrt(area / np.pi) / res, 1.0)
        r0, c0 = max(int(row - r) - 1, 0), max(int(col - r) - 1, 0)
        box = bands[:, r0 : int(row + r) + 2, c0 : int(col + r) + 2]
        rr, cc = np.indices(box.shape[1:])
        disc = np.hypot(rr + r0 + 0.5 - row, cc + c0 + 0.5 - col) <= r
        out[i] = np.log(box[0][disc].mean() / box[2][disc].mean())
    return out


def candidates(seeds: range) -> pd.DataFrame:
    """Candidate crowns of the autumn R,G,B scenes, with label, stand gate and rules' verdict."""
    rules = load_discolored_rules()
    hosts = host_list(None, rules)
    frames = []
    with tempfile.TemporaryDirectory(prefix="linyuan_bound_") as tmp:
        for case in suite_cases(seeds):
            if case.season != "autumn" or case.sensor != "rgb":
                continue
            built = build_case(case, Path(tmp))
            seen: dict[str, Any] = {}

            def spy(crowns: Any, turning: Any, *args: Any, _seen: Any = seen) -> Any:
                _seen["crowns"], _seen["turning"] = crowns.copy(), turning
                out = RULES_DECOYS(crowns, turning, *args)
                _seen["decoy"] = out["decoy"].to_numpy(bool)
                return out

            with mock.patch.object(detect_module, "autumn_rgb_decoys", spy):
                score_case(built)
            crowns = seen.get("crowns")
            if crowns is None or not len(crowns):
                continue
            host = built.stands[built.stands["dominant_species"].isin(hosts)]
            host = host.reset_index(drop=True).assign(stand_no=lambda f: np.arange(1, len(f) + 1))
            stand, turning = crowns["stand"].to_numpy().astype(int), seen["turning"]
            deciduous = colour_stands(host, rules.evergreen)
            gate = (deciduous[stand] == 1) if deciduous is not None else np.zeros(len(stand), bool)
            frames.append(
                crowns.assign(
                    w=blue_red(built.image, crowns),
                    seed=case.seed,
                    mix=case.mix,
                    label=label(crowns, built.crowns),
                    gate=gate & ~(turning[stand] if turning is not None else False),
                    decoy=seen["decoy"],
                    u=np.log(crowns["green_ratio"]),
                    v=np.log(crowns["rg_ratio"]),
                )
            )
            built.image.unlink()
            built.previous.unlink()
    return pd.concat(frames, ignore_index=True)


def knn_bound(frame: pd.DataFrame, features: list[str], k: int = 30) -> dict[float, float]:
    """Precision at recall 0.5…0.9 of a leave-one-seed-out kNN on ``features``, true labels.

    ``u`` = log(green / stand median green), ``v`` = log(R/G), ``w`` = log(B/R).
    """
    x = frame[features].to_numpy()
    x = (x - x.mean(0)) / x.std(0)
    y = (frame["label"] == "discolored pine").to_numpy()
    seed = frame["seed"].to_numpy()
    score = np.zeros(len(frame))
    for s in np.unique(seed):
        test = seed == s
        _, idx = cKDTree(x[~test]).query(x[test], min(k, int((~test).sum())))
        score[test] = y[~test][idx].mean(axis=1)
    hits = y[np.argsort(-score, kind="stable")]
    tp = np.cumsum(hits)
    precision, recall = tp / np.arange(1, len(hits) + 1), tp / max(hits.sum(), 1)
    at = {r: min(int(np.searchsorted(recall, r)), len(hits) - 1) for r in (0.5, 0.6, 0.7, 0.8, 0.9)}
    return {r: float(precision[i]) for r, i in at.items()}


def main() -> None:
    """Print the rules' operating point, the classifier bound and the candidates by kind."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs=2, default=(0, 80), metavar=("FROM", "TO"))
    args = ap.parse_args()
    frame = candidates(range(*args.seeds))
    gated = frame[frame["gate"]]
    y = gated["label"] == "discolored pine"
    kept = ~gated["decoy"]
    print(f"seeds {args.seeds[0]}-{args.seeds[1] - 1}: {len(frame)} candidates, {len(gated)} in "
          f"stands holding deciduous crowns ({int(y.sum())} discolored pines)")  # fmt: skip
    print(f"rules keep {int(kept.sum())}: precision {(y & kept).sum() / max(kept.sum(), 1):.3f}, "
          f"recall {(y & kept).sum() / max(y.sum(), 1):.3f}")  # fmt: skip
    for features in (["u", "v"], ["u", "v", "w"]):
        bound = knn_bound(gated, features)
        print(f"kNN bound on {', '.join(features)} (labels known), precision at recall: "
              + ", ".join(f"{r:.1f}: {p:.2f}" for r, p in bound.items()))  # fmt: skip
    print(gated.groupby(["label", "decoy"]).size().unstack(fill_value=0).to_string())


if __name__ == "__main__":
    main()
