"""The demo's 0.5 m scene: precision and recall >= 0.90 with the larch decoys present."""

from __future__ import annotations

import pyogrio
import pytest
from click.testing import CliRunner

from gis.checks.discolored.accuracy import match_truth
from gis.cli.main import cli

demo = pytest.importorskip("gis.demo")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return demo.build_demo(tmp_path_factory.mktemp("demo"))


def test_demo_precision_recall(scene, tmp_path):
    out = tmp_path / "r.gpkg"
    args = ["detect", "discolored", str(scene.rasters["uav_current"]),
            "--stands", str(scene.layers["subcompartments"]),
            "--previous", str(scene.rasters["uav_previous"]),
            "--bands", "B,G,R,NIR", "--image-date", "2026-09-25", "--out", str(out)]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    points = pyogrio.read_dataframe(out, layer="discolored_points")
    truth = scene.truth["crowns"]
    score = match_truth(points, truth)
    assert score["precision"] >= 0.90 and score["recall"] >= 0.90, score
    decoys = truth[truth["kind"] == "decoy_larch"]
    assert match_truth(points, decoys, kind="decoy_larch")["recall"] <= 0.05
    summary = pyogrio.read_dataframe(out, layer="stand_summary")
    assert summary["count"].sum() == score["points"]
    assert set(summary["species"]) <= {"红松", "樟子松", "油松", "落叶松", "云杉", "赤松", "黑松"}
