"""``--engine pyogrio|fiona`` on the reading commands, and one language on the console.

Both engines read a real GBK Shapefile (no .cpg, no .prj) to the same features and values
through the command line; fiona's limits are said plainly; stage lines and fatal errors
follow ``--lang`` (Chinese by default).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from test_patches import build_scene

from gis.cli.main import cli
from gis.findings import Findings
from gis.io import read_layer

pytest.importorskip("fiona")

GBK_SHP = "china_gbk_shapefiles/res2_4m.shp"
ENGINES = ("pyogrio", "fiona")


def _linyuan(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line in a fresh process (its own logging, as a user sees it)."""
    cmd = [sys.executable, "-m", "gis", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


def _map_layers(html: Path) -> list[list]:
    """Return the attribute rows of every layer embedded in a field map (``"rows": [...]``)."""
    text = html.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(text, m.end())[0] for m in re.finditer(r'"rows":\s*', text)]


def test_both_engines_read_a_gbk_shapefile_to_the_same_frame(shared_data):
    frames = {}
    for engine in ENGINES:
        log = Findings()
        frames[engine] = read_layer(shared_data / GBK_SHP, engine=engine, findings=log)
        assert "encoding_decided" in {f.code for f in log}
    a, b = frames["pyogrio"], frames["fiona"]
    assert len(a) == 331 and list(a.columns) == list(b.columns)
    assert "景德镇" in set(a["NAME"]) and not b["NAME"].str.contains(r"\?\?").any()
    # fiona gives int64 where pyogrio keeps the DBF's int32: same values, dtype aside
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


@pytest.mark.parametrize("engine", ENGINES)
def test_validate_cli_with_each_engine(shared_data, engine):
    args = ["validate", str(shared_data / GBK_SHP), "--json", "--engine", engine]
    result = CliRunner().invoke(cli, args)
    payload = json.loads(result.stdout)
    codes = sorted(f["code"] for f in payload["findings"])
    assert "encoding_decided" in codes and "crs_guessed" in codes
    pyogrio_run = json.loads(CliRunner().invoke(cli, [*args[:-1], "pyogrio"]).stdout)
    assert codes == sorted(f["code"] for f in pyogrio_run["findings"])


def test_map_cli_same_features_with_both_engines(shared_data, tmp_path):
    """The same GBK layer mapped with each engine embeds the same features and values."""
    rows = {}
    for engine in ENGINES:
        out = tmp_path / f"{engine}.html"
        args = ["map", str(shared_data / GBK_SHP), "--out", str(out), "--offline"]
        result = CliRunner().invoke(cli, [*args, "--engine", engine])
        assert result.exit_code in (0, 1), result.output
        rows[engine] = _map_layers(out)
    assert len(rows["pyogrio"]) == 1 and len(rows["pyogrio"][0]) == 331
    names = {value for row in rows["fiona"][0] for value in row if isinstance(value, str)}
    assert "景德镇" in names and not any("??" in n for n in names)
    assert rows["pyogrio"] == rows["fiona"]


def test_fiona_refuses_kml_naming_the_cli_option(squares, tmp_path):
    kml = tmp_path / "图斑.kml"
    pyogrio.write_dataframe(squares.to_crs(4326), kml, driver="KML")
    result = CliRunner().invoke(cli, ["validate", str(kml), "--engine", "fiona"])
    assert result.exit_code == 3
    assert "--engine pyogrio" in result.stderr and "engine=" not in result.stderr
    assert CliRunner().invoke(cli, ["validate", str(kml)]).exit_code in (0, 1)


def test_check_patches_records_the_engine_and_gives_the_same_results(tmp_path):
    scene = build_scene(tmp_path)
    base = ["check", "patches", str(scene["patches"]), "--before", str(scene["before"])]
    base += ["--after", str(scene["after"]), "--bands", "R,NIR,SWIR2"]
    base += ["--subcompartments", str(scene["subcompartments"])]
    base += ["--permits", str(scene["permits"])]
    checked = {}
    for engine in ENGINES:
        out = tmp_path / f"{engine}.gpkg"
        result = CliRunner().invoke(cli, [*base, "--out", str(out), "--engine", engine])
        assert result.exit_code == 0, result.output
        run = pyogrio.read_dataframe(out, layer="run")
        assert run.loc[run["section"] == "vector_engine", "value"].tolist() == [engine]
        checked[engine] = pyogrio.read_dataframe(out, layer="patches_checked")
    keep = [c for c in checked["pyogrio"].columns if c not in ("checked_at",)]
    pd.testing.assert_frame_equal(checked["pyogrio"][keep], checked["fiona"][keep])


ALLOWED = {"EPSG", "NDVI", "DN", "CGCS", "GK", "CM", "UTC"}


def _english_words(line: str) -> list[str]:
    """Latin words of a console line, leaving out paths, file names and the allowed list."""
    text = re.sub(r"\S*[/\\]\S*|\S+\.(?:shp|gpkg|tif|tiff|xlsx|kmz|yaml|csv)\b", " ", line)
    return [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in ALLOWED]


def test_stage_lines_are_chinese_by_default_and_english_with_lang_en(tmp_path):
    scene = build_scene(tmp_path)
    args = ["check", "patches", str(scene["patches"]), "--before", str(scene["before"])]
    args += ["--after", str(scene["after"]), "--bands", "R,NIR,SWIR2"]
    args += ["--subcompartments", str(scene["subcompartments"])]
    zh = _linyuan(*args, "--out", str(tmp_path / "zh.gpkg"))
    assert zh.returncode == 0, zh.stderr
    finding = re.compile(r"^[a-z0-9_]+: ")  # a finding: its code, then text in --lang
    stages = [s for s in zh.stderr.splitlines() if s.strip() and not finding.match(s)]
    assert any("影像证据" in s for s in stages) and any("规则判定" in s for s in stages)
    assert [s for s in stages if _english_words(s)] == []
    en = _linyuan(*args, "--out", str(tmp_path / "en.gpkg"), "--lang", "en")
    assert en.returncode == 0, en.stderr
    assert "raster evidence for" in en.stderr and "rules" in en.stderr
    assert "影像证据" not in en.stderr


def test_fatal_error_prefix_follows_lang(tmp_path):
    missing = str(tmp_path / "nosuch.shp")
    zh = CliRunner().invoke(cli, ["validate", missing])
    assert zh.exit_code == 3 and zh.stderr.startswith("错误：") and "Error" not in zh.stderr
    en = CliRunner().invoke(cli, ["validate", missing, "--lang", "en"])
    assert en.exit_code == 3 and en.stderr.startswith("Error: ") and "错误" not in en.stderr
