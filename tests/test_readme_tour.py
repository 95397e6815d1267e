"""The README's tour runs as written: every command of its block, in order, in a fresh folder.

The commands are read from README.md (the ``bash`` block of "A tour of the commands"), joined
across ``\\`` continuations, split as the shell splits them (``shlex``, globs expanded in the
current folder) and run through the CLI; ``cd`` changes the folder. The first command is the
demo, which writes everything the others read. ``fire coverage`` needs GDAL's
``gdal_viewshed`` (Debian ``gdal-bin``, installed in CI): outside CI the test is skipped
without it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shlex
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from gis.cli.main import cli
from gis.io import list_layers

README = Path(__file__).resolve().parents[1] / "README.md"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
OUTPUT_OPTIONS = ("--out", "--xlsx", "--kml", "--csv", "--charts", "--into")
"""Options naming what a command writes."""

pytestmark = pytest.mark.skipif(
    shutil.which("gdal_viewshed") is None and not IN_CI,
    reason="the tour's fire coverage needs gdal_viewshed (Debian gdal-bin)",
)


def tour_block(text: str) -> str:
    """Return the ``bash`` block of the README's tour section."""
    section = text.split("## A tour of the commands", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the tour has one bash block"
    return blocks[0]


def tour_commands(block: str) -> list[str]:
    """Return the block's commands: continuations joined, comments and blank lines dropped."""
    lines = block.replace("\\\n", " ").splitlines()
    return [" ".join(ln.split()) for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def test_commands_are_read_from_the_readme() -> None:
    commands = tour_commands(tour_block(README.read_text(encoding="utf-8")))
    assert commands[:2] == ["linyuan demo --out demo_out --overwrite", "cd demo_out"]
    assert len(commands) >= 20
    assert all(c.startswith("linyuan ") for c in commands if not c.startswith("cd "))
    joined = " ".join(commands)
    for needed in ("verify import", "verify lab", "--roads", "--known-points", "--quicklook",
                   "ortho_rgba.tif", "--crs gcj02"):  # fmt: skip
        assert needed in joined, needed


@dataclass
class Ran:
    """One tour command and what it did."""

    command: str
    folder: Path
    args: list[str]
    exit_code: int
    output: str


def _expand(args: list[str], folder: Path) -> list[str]:
    """Expand shell globs as bash does (sorted matches, relative to ``folder``)."""
    out: list[str] = []
    for arg in args:
        if any(c in arg for c in "*?["):
            found = sorted(glob.glob(arg, root_dir=folder))
            assert found, f"{arg} matches nothing in {folder}"
            out.extend(found)
        else:
            out.append(arg)
    return out


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> list[Ran]:
    """Run every command of the README's tour in a fresh folder; return what each did."""
    folder = tmp_path_factory.mktemp("readme_tour")
    ran: list[Ran] = []
    for command in tour_commands(tour_block(README.read_text(encoding="utf-8"))):
        words = shlex.split(command)
        if words[0] == "cd":
            folder = folder / words[1]
            assert folder.is_dir(), command
            continue
        args = _expand(words[1:], folder)
        with contextlib.chdir(folder):
            result = CliRunner().invoke(cli, args)
        ran.append(Ran(command, folder, args, result.exit_code, result.output))
        if result.exit_code != 0:  # the rest would fail for want of its inputs
            break
    return ran


def _one(tour: list[Ran], start: str) -> Ran:
    found = [r for r in tour if r.command.startswith(start)]
    assert len(found) == 1, start
    return found[0]


def test_every_command_exits_0(tour: list[Ran]) -> None:
    expected = [c for c in tour_commands(tour_block(README.read_text("utf-8"))) if c[:3] != "cd "]
    for r in tour:
        assert r.exit_code == 0, f"{r.command}\n→ exit {r.exit_code}\n{r.output[-3000:]}"
    assert [r.command for r in tour] == expected


def test_every_command_writes_what_it_names(tour: list[Ran]) -> None:
    written = 0
    for r in tour:
        for option, value in zip(r.args, r.args[1:], strict=False):
            if option not in OUTPUT_OPTIONS:
                continue
            path = r.folder / value
            if "--by" in r.args:  # one file per group, named after the stem
                found = list(path.parent.glob(f"{path.stem}*{path.suffix}"))
                assert len(found) >= 2, r.command
            else:
                assert path.exists(), f"{r.command}: {value} missing"
                found = [path] if path.is_file() else list(path.iterdir())
            assert found and all(p.stat().st_size > 0 for p in found), r.command
            written += len(found)
    assert written >= 25


def test_the_demo_folder_holds_what_the_tour_reads(tour: list[Ran]) -> None:
    demo = _one(tour, "linyuan demo")
    assert demo.exit_code == 0
    out = _one(tour, "linyuan validate subcompartments.shp").folder
    names = ("roads.gpkg", "ortho_rgba.tif", "earlier.gpkg", "220100_full.json", "检测结果.csv")
    for name in names:
        assert (out / name).is_file(), name
        assert f"demo_out/{name}" in demo.output, name  # the demo says where each is
    assert "外业核查回传（示例）" in demo.output and "field_exports" in demo.output


def test_field_records_and_lab_results_go_into_the_store(tour: list[Ran]) -> None:
    imported = _one(tour, "linyuan verify import")
    exports = [a for a in imported.args if a.endswith(".geojson")]
    assert len(exports) == 3  # one per inspector's phone, named as the map names its exports
    assert all(re.fullmatch(r"field_exports/map-[0-9a-f]{16}-records-\d{4}-\d\d-\d\d\.geojson", e)
               for e in exports)  # fmt: skip
    n_records = sum(
        len(json.loads((imported.folder / e).read_text(encoding="utf-8"))["features"])
        for e in exports
    )
    lab = pd.read_csv(imported.folder / "检测结果.csv", dtype=str)
    with sqlite3.connect(imported.folder / "field.gpkg") as con:
        kinds = dict(con.execute("SELECT kind, count(*) FROM verification_log GROUP BY kind"))
    assert kinds == {"field": n_records, "lab": len(lab)}
    assert set(lab["检测结果"]) == {"阳性", "阴性"}
    status = _one(tour, "linyuan verify status")
    assert "核查率" in status.output and "净月区" in status.output


def test_known_points_and_the_rgba_orthophoto_are_used(tour: list[Ran]) -> None:
    folder = _one(tour, "linyuan detect discolored uav_current.tif").folder
    points = pyogrio.read_dataframe(folder / "tour/discolored.gpkg", layer="discolored_points")
    earlier = pyogrio.read_dataframe(folder / "earlier.gpkg")
    known = points[~points["is_new"].astype(bool)]
    assert set(known["point_id"]) == set(earlier["点位编号"])  # every earlier point is kept
    redetected = known[known["detected"].astype(bool)]["point_id"]
    assert redetected.str.startswith("JY2026-").sum() >= 10  # the ranger's trees, found again
    findings = pyogrio.read_dataframe(folder / "tour/uav.gpkg", layer="findings")
    validity = " ".join(findings.loc[findings["code"] == "raster_validity", "message_en"])
    assert "alpha" in validity
    uav = pyogrio.read_info(folder / "tour/uav.gpkg", layer="discolored_points")
    assert uav["features"] > 100


def test_the_tour_check_agrees_with_the_demo_and_walks_the_roads(tour: list[Ran]) -> None:
    folder = _one(tour, "linyuan check patches").folder
    mine = pyogrio.read_dataframe(folder / "tour/patches_checked.gpkg", layer="patches_checked")
    demo = pyogrio.read_dataframe(folder / "results/patches_checked.gpkg", layer="patches_checked")
    columns = ["patch_id", "is_real_change", "change_type", "legality"]
    assert mine[columns].equals(demo[columns])
    run = pyogrio.read_dataframe(folder / "tour/coverage.gpkg", layer="run")
    assert "network" in set(run["key"]) | set(run["section"])
    network = run.loc[(run["key"] == "network") | (run["section"] == "network"), "value"]
    assert network.astype(str).str.lower().isin(["true", "1"]).any()
    assert "layer_styles" not in list_layers(folder / "tour/coverage.gpkg")
