"""UCI Wilt (QuickBird segments): the detector's score and rules meet the floor on testing.csv."""

from __future__ import annotations

from gis.checks.discolored.accuracy import evaluate_segments
from gis.io import read_table


def test_uci_wilt_floor(shared_data):
    folder = shared_data / "uci_wilt"
    res = evaluate_segments(read_table(folder / "training.csv"), read_table(folder / "testing.csv"))
    assert res["recall"] >= 0.80 and res["precision"] >= 0.70
    assert res["average_precision"] >= 0.70
    assert res["prevalence_train"] < 0.05 < 0.3 < res["prevalence_test"]
