"""Start-up of the command line (issue 17): ``--help`` imports none of the heavy libraries.

An import-graph assertion, not a timing one: each probe runs in a fresh interpreter and
lists the heavy top-level packages in ``sys.modules`` after the help was printed.
``scripts/bench_startup.py`` measures the wall times.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from gis.cli.commands import COMMANDS
from gis.cli.main import cli

HEAVY = (
    "geopandas",
    "rasterio",
    "pandas",
    "numba",
    "matplotlib",
    "folium",
    "dask",
    "shapely",
    "pyogrio",
)

PROBE = """
import json, sys
from click.testing import CliRunner
from gis.cli.main import cli
result = CliRunner().invoke(cli, sys.argv[1:], prog_name="linyuan")
heavy = sorted(m for m in sys.modules if m in {heavy})
print(json.dumps({{"code": result.exit_code, "output": result.output, "heavy": heavy}}))
"""


def probe(*args: str) -> dict[str, object]:
    """Run ``linyuan ARGS`` in a fresh interpreter; return its exit code, output, heavy imports."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY)), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def command_paths(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Return the path of ``command`` and of every command and subcommand under it."""
    paths = [path]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            paths += command_paths(sub, (*path, name))
    return paths


EVERY_COMMAND = command_paths(cli)


def test_every_command_and_subcommand_is_probed():
    """The walk sees the table's commands and the groups' subcommands (not just the top)."""
    assert {p[0] for p in EVERY_COMMAND if p} == set(COMMANDS)
    assert ("check", "patches") in EVERY_COMMAND and ("verify", "status") in EVERY_COMMAND
    assert len(EVERY_COMMAND) > len(COMMANDS) + 10


@pytest.mark.parametrize("path", EVERY_COMMAND, ids=lambda p: " ".join(p) or "linyuan")
def test_help_imports_no_heavy_library(path):
    """``linyuan [COMMAND [SUBCOMMAND]] --help``, for every one the CLI lists (issue 17)."""
    result = probe(*path, "--help")
    assert result["code"] == 0, result["output"]
    assert f"Usage: linyuan {' '.join(path)}".rstrip() in str(result["output"])
    assert result["heavy"] == []


def test_the_light_kind_list_equals_the_catalog():
    """``--kind`` choices come from a YAML read without pandas; the same as the catalog's."""
    from gis.cli.options import catalog_kinds
    from gis.layers import catalog

    assert catalog_kinds() == tuple(catalog().kinds)


def test_importtime_of_top_level_help_lists_no_heavy_library():
    """``python -X importtime -m gis --help``: the real entry point, every module it imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gis", "--help"],
        check=True,
        capture_output=True,
        text=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "gis.cli.main" in imported
    assert "Commands:" in done.stdout
    assert sorted(imported & set(HEAVY)) == []


def test_top_level_help_lists_every_command_with_the_table_short_help():
    result = probe("--help")
    output = str(result["output"])
    for name, entry in COMMANDS.items():
        assert f"  {name} " in output
        assert entry.short_help in output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_table_short_help_equals_the_command_own(name):
    """The table in gis/cli/commands.py never drifts from the commands' own short help."""
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)
    assert command.name == name
    assert command.short_help == COMMANDS[name].short_help


def test_a_command_module_is_imported_when_the_command_runs():
    result = probe("check", "patches", "--help")
    assert result["code"] == 0
    assert "--before" in str(result["output"])
    assert result["heavy"] == []


def test_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(cli, ["nosuch", "--lang", "en"])
    assert result.exit_code == 2
    assert "No such command 'nosuch'" in result.output
    result = CliRunner().invoke(cli, ["nosuch"])  # Chinese by default
    assert result.exit_code == 2
    assert "没有这个命令：nosuch" in result.output


def test_the_patch_check_loads_no_library_only_other_outputs_use():
    """``check patches`` without ``--xlsx`` imports neither openpyxl nor scipy.ndimage (issue 17).

    openpyxl writes XLSX and scipy.ndimage serves the per-zone reference of the inside
    statistics; together they were ~0.15 s of every run's start-up.
    """
    code = (
        "import sys, gis.checks.patches.run, gis.io, gis.zonal; "
        "print(sorted(m for m in sys.modules if m.startswith(('openpyxl', 'scipy.ndimage'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "[]"


def test_the_process_entry_tunes_the_collector_a_caller_keeps_it(monkeypatch):
    """On the process's own arguments a command is the process's life (issue 17).

    Full collections come ten times less often, and the command's objects are frozen as it
    ends (the interpreter's final collections skip them): ~0.8 s of a 50 000-patch check.
    ``CliRunner`` (arguments passed) leaves the collector as it is.
    """
    import gc

    from gis.cli.main import FULL_COLLECTION_EVERY

    before = gc.get_threshold()
    gc.unfreeze()
    assert CliRunner().invoke(cli, ["--version"]).exit_code == 0
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
    monkeypatch.setattr(sys, "argv", ["linyuan", "--version"])
    try:
        with pytest.raises(SystemExit) as done:
            cli.main(prog_name="linyuan")
        assert done.value.code == 0
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (*before[:2], FULL_COLLECTION_EVERY)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
