"""linyuan detect discolored: exit codes, outputs, JSON."""

from __future__ import annotations

import json

import geopandas as gpd
import pyogrio
import shapely
from click.testing import CliRunner

from gis.cli.main import cli
from tests.test_crowns import DEAD, scene


def _inputs(tmp_path, species="红松"):
    scene(tmp_path / "img.tif", [(50, 50, 6, DEAD), (150, 120, 5, DEAD)])
    stands = gpd.GeoDataFrame(
        {"标识码": ["S1"], "优势树种": [species]},
        geometry=[shapely.box(500_000, 4_850_000, 500_100, 4_850_100)],
        crs=4551,
    )
    stands.to_file(tmp_path / "stands.gpkg")
    return tmp_path / "img.tif", tmp_path / "stands.gpkg"


def test_detect_discolored_writes_all_outputs(tmp_path):
    img, stands = _inputs(tmp_path)
    out = tmp_path / "r.gpkg"
    args = ["detect", "discolored", str(img), "--stands", str(stands), "--bands", "B,G,R,NIR",
            "--out", str(out), "--kml", str(tmp_path / "p.kmz"), "--csv", str(tmp_path / "p.csv"),
            "--json"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    assert payload["counts"]["new_points"] == 2
    names = [n for n, _ in pyogrio.list_layers(out)]
    assert {"discolored_points", "stand_summary", "verification", "findings", "run"} <= set(names)
    pts = pyogrio.read_dataframe(out, layer="discolored_points")
    assert set(pts["status"]) == {"unverified"} and pts["stand_id"].tolist() == ["S1", "S1"]
    lines = (tmp_path / "p.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("点位编号,经度,纬度") and "未核查" in lines[1]
    assert (tmp_path / "p.kmz").stat().st_size > 0
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 3 and "已存在" in again.output


def test_detect_discolored_bad_input_exit_3_no_output(tmp_path):
    img, stands = _inputs(tmp_path, species="杨树")
    out = tmp_path / "r.gpkg"
    res = CliRunner().invoke(
        cli, ["detect", "discolored", str(img), "--stands", str(stands), "--bands", "B,G,R,NIR",
              "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 3 and "没有寄主小班" in res.output
    assert not out.exists()
    res = CliRunner().invoke(
        cli, ["detect", "discolored", str(img), "--stands", str(stands), "--bands", "B,G,R,NIR",
              "--species", "杨树，红松", "--out", str(out), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0 and json.loads(res.output)["counts"]["new_points"] == 2
    out.unlink()
    res = CliRunner().invoke(
        cli, ["detect", "discolored", str(img), "--stands", str(stands), "--bands", "B,G,R",
              "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 3 and "有 4 个波段" in res.output


def test_rerun_with_known_points_reports_nothing_new(tmp_path):
    img, stands = _inputs(tmp_path)
    base = ["detect", "discolored", str(img), "--stands", str(stands), "--bands", "B,G,R,NIR"]
    first, second = tmp_path / "first.gpkg", tmp_path / "second.gpkg"
    assert CliRunner().invoke(cli, [*base, "--out", str(first)]).exit_code == 0
    res = CliRunner().invoke(cli, [*base, "--known-points", str(first), "--out", str(second),
                                   "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["counts"]["new_points"] == 0
    a = pyogrio.read_dataframe(first, layer="discolored_points")
    b = pyogrio.read_dataframe(second, layer="discolored_points")
    assert sorted(a["point_id"]) == sorted(b["point_id"]) and len(b) == 2
    assert (b["status_note"] == "known").all()
