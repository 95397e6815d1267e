"""Progress of the long steps (issue 14): bars on a terminal, none with ``-q`` or in a pipe.

The command runs in a fresh process whose stderr is a pseudo-terminal (Python's ``pty``,
120 columns), as a user at a console sees it; its results are compared with a run whose
stderr is a pipe (no bars) value for value. In process, a recording display
(``progress_helpers.Recorder``) checks that each long step reports to its end.
"""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pyogrio
import pytest
from pandas.testing import assert_frame_equal
from progress_helpers import Recorder
from test_cli_check import _args as check_args
from test_fire_burned import _pair
from test_maps import patches, points
from test_patches import build_scene
from verify_helpers import photo, record, write_export

from gis import progress
from gis.checks.fire.burned import strip_windows, trace_burned
from gis.checks.patches.run import run_patch_check
from gis.maps import build_map
from gis.raster import raster_source
from gis.report.render import execute_notebook
from gis.verify import import_exports

BAR = "%|"  # what a tqdm bar draws between its percentage and the bar


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return build_scene(tmp_path_factory.mktemp("progress"))


def _args(scene, out, *options):
    """Global ``options`` (``-q``), then the arguments of ``test_cli_check``'s patch check."""
    return [*options, *check_args(scene, out)]


def run_on_terminal(args, *, lang=None):
    """Run ``linyuan ARGS`` with stderr on a 120-column pseudo-terminal; return (code, stderr)."""
    termios = pytest.importorskip("termios")  # a pseudo-terminal: POSIX only
    pty = pytest.importorskip("pty")
    fcntl = pytest.importorskip("fcntl")
    if lang is not None:
        args = [*args, "--lang", lang]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, bytes([40, 0, 120, 0, 0, 0, 0, 0]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gis", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=300), b"".join(chunks).decode("utf-8", "replace")


def run_in_pipe(args):
    argv = [sys.executable, "-m", "gis", *args]
    done = subprocess.run(argv, check=False, capture_output=True, timeout=300)
    return done.returncode, done.stderr.decode("utf-8")  # bytes: a "\r" stays a "\r"


@pytest.fixture(scope="module")
def shown(scene, tmp_path_factory):
    """The check on a terminal (Chinese, the default): exit code, what the terminal showed."""
    out = tmp_path_factory.mktemp("shown") / "r.gpkg"
    return (*run_on_terminal(_args(scene, out)), out)


@pytest.fixture(scope="module")
def piped(scene, tmp_path_factory):
    """The same check with stderr to a pipe: exit code, stderr, results."""
    out = tmp_path_factory.mktemp("piped") / "r.gpkg"
    return (*run_in_pipe(_args(scene, out)), out)


def test_bars_on_a_terminal_in_chinese_by_default(shown):
    code, text, _ = shown
    assert code == 0, text
    assert "栅格窗口:" in text and BAR in text
    assert "raster windows" not in text
    assert "规则判定" in text  # the stage lines stay, in the same language


def test_no_bars_when_stderr_is_a_pipe(piped):
    code, stderr, _ = piped
    assert code == 0, stderr
    assert BAR not in stderr and "栅格窗口" not in stderr and "\r" not in stderr
    assert "规则判定" in stderr


def test_results_identical_with_and_without_bars(shown, piped):
    for layer in ("patches_checked", "findings"):
        assert_frame_equal(
            pyogrio.read_dataframe(shown[2], layer=layer),
            pyogrio.read_dataframe(piped[2], layer=layer),
        )


def test_bars_in_english_with_lang_en(scene, tmp_path):
    code, text = run_on_terminal(_args(scene, tmp_path / "r.gpkg"), lang="en")
    assert code == 0, text
    assert "raster windows:" in text
    assert BAR in text and "栅格窗口" not in text


def test_no_bars_with_quiet(scene, tmp_path):
    code, text = run_on_terminal(_args(scene, tmp_path / "r.gpkg", "-q"))
    assert code == 0, text
    assert BAR not in text and "栅格窗口" not in text


def test_the_patch_check_reports_every_window(scene, tmp_path):
    recorder = Recorder()
    with progress.showing(recorder):
        run = run_patch_check(
            scene["patches"],
            before=scene["before"],
            after=scene["after"],
            bands="R,NIR,SWIR2",
            out=tmp_path / "r.gpkg",
        )
    assert len(run.result.patches_checked) > 0
    # the inside-patch statistics are computed in the same windows (gis.zonal.inside_pass)
    windows = recorder.reports["raster windows"]
    assert windows and windows[-1][0] == windows[-1][1]  # the last report: all done
    assert [d for d, _ in windows] == sorted(d for d, _ in windows)
    assert recorder.closed == ["raster windows"]
    assert progress._STATE["display"] is None  # showing() restored the previous display


def test_no_display_no_callback():
    with progress.step("windows", zh="窗口") as report:
        assert report is None


def test_field_exports_photos_and_map_layers_report_to_the_end(tmp_path):
    crown, png = photo("crown")[0], photo("png", mime="image/png")[0]
    exports = [
        write_export(tmp_path / "a.geojson", [record("0001", photos=[crown, png])]),
        write_export(tmp_path / "b.geojson", [record("0002", photos=[crown])]),
    ]
    recorder = Recorder()
    with progress.showing(recorder):
        report = import_exports(exports, into=tmp_path / "field.gpkg")
        build_map({"patches_checked": patches(), "discolored_points": points()}, title="t")
    assert report.committed and report.photos_written == 2
    assert recorder.reports["field export files"] == [(1, 2), (2, 2)]
    assert recorder.reports["photos"] == [(1, 2), (2, 2)]  # the same photo twice: written once
    assert recorder.reports["map layers encoded"] == [(1, 2), (2, 2)]


def test_burned_area_strips_report_to_the_end(tmp_path):
    pair = [raster_source(p, bands="B,G,R,NIR,SWIR1,SWIR2") for p in _pair(tmp_path)]
    recorder = Recorder()
    with progress.showing(recorder):
        trace_burned(*pair, window=64)
    strips = len(strip_windows(pair[0], 64))
    assert strips > 1
    assert recorder.reports["burned-area strips"] == [(k, strips) for k in range(1, strips + 1)]


def test_report_cells_report_to_the_end(tmp_path):
    """A notebook of a parameters cell and one more: the injected cell makes three."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("n = 1"), nbformat.v4.new_code_cell("n + 1")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, str(path))
    recorder = Recorder()
    with progress.showing(recorder), progress.step("report cells", zh="报告单元格") as report:
        done = execute_notebook(path, {"n": 2}, progress=report)
    assert done.cells[-1].outputs[0]["data"]["text/plain"] == "3"
    assert recorder.reports["report cells"] == [(1, 3), (2, 3), (3, 3)]
