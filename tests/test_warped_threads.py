"""Warped and mosaic rasters opened in one thread and read from worker threads.

A warped reader opens its GDAL datasets on the first read of their bands. Read first in a
worker thread (which has no GDAL environment), they used to keep a default environment that
closing the reader in the owner thread tore down there, taking the owner's environment with
it: ``EnvError: No GDAL environment exists`` (exit 4 from the CLI).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from rasterio.windows import Window

from gis.cli.main import cli
from gis.raster import ReaderInUseError, raster_source
from gis.raster import source as source_module
from gis.raster.analysis_grid import on_grid
from gis.raster.grid import grid_windows
from tests.test_raster_grids import GK, _deliver, _seam_patches, _seam_truth, _tile, _truth


def _mosaic(folder, after=False):
    """Two 10 m tiles across 126°E, in UTM 51N and 52N: a folder read as one mosaic."""
    folder.mkdir()
    truth = _seam_truth(after)
    _tile(folder / "T51.tif", truth, "EPSG:32651", 0, 420)
    _tile(folder / "T52.tif", truth, "EPSG:32652", 300, truth.shape[2])
    return folder


def _sources(tmp_path):
    """A mosaic across two zones and an image in UTM 52N read on the mosaic's grid."""
    mosaic = raster_source(_mosaic(tmp_path / "tiles"), bands="B,G,R,NIR")
    other = _deliver(tmp_path / "utm52.tif", _truth(True), "EPSG:32652", 10.0)
    return mosaic, on_grid(other, mosaic.grid)


def test_readers_opened_here_and_read_in_workers(tmp_path):
    """As fire burned reads a pair: each reader in a worker, one read of a reader at a time."""
    pair = _sources(tmp_path)
    windows = list(grid_windows(pair[0].grid, 64, pair[0].block_shape))
    roles = ("R", "NIR")
    with pair[0].open() as ra, pair[1].open() as rb:
        inline = [(ra.read_array(w, roles), rb.read_array(w, roles)) for w in windows]
    threaded = []
    with pair[0].open() as ra, pair[1].open() as rb, ThreadPoolExecutor(2) as pool:
        for w in windows:
            fa, fb = pool.submit(ra.read_array, w, roles), pool.submit(rb.read_array, w, roles)
            threaded.append((fa.result(), fb.result()))
    assert len(threaded) == len(inline) > 1
    for both, again in zip(inline, threaded, strict=True):
        for (a, ia), (b, ib) in zip(both, again, strict=True):
            np.testing.assert_array_equal(ia, ib)
            np.testing.assert_array_equal(a[:, ~ia], b[:, ~ib])
    assert not any(i.all() for _, i in inline[0])  # real pixels were compared


def test_cli_check_patches_on_a_mosaic_and_another_zone_with_threads(tmp_path):
    before = _mosaic(tmp_path / "before")
    after = _deliver(tmp_path / "after.tif", _truth(True), "EPSG:32652", 10.0)
    patches = tmp_path / "patches.gpkg"
    _seam_patches().to_file(patches)
    out = tmp_path / "r.gpkg"
    args = ["check", "patches", str(patches), "--before", str(before), "--after", after.path,
            "--bands", "B,G,R,NIR", "--out", str(out), "--lang", "en"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    checked = gpd.read_file(out, layer="patches_checked")
    assert len(checked) == 3 and checked.crs.equals(GK)


def test_cli_detect_discolored_on_a_mosaic_with_previous_in_another_zone(tmp_path):
    tiles = _mosaic(tmp_path / "tiles", after=True)
    previous = _deliver(tmp_path / "prev.tif", _truth(False), "EPSG:32652", 10.0)
    stands = _seam_patches().rename(columns={"patch_id": "标识码"}).assign(优势树种="红松")
    stands.to_file(tmp_path / "stands.gpkg")
    out = tmp_path / "d.gpkg"
    args = ["detect", "discolored", str(tiles), "--stands", str(tmp_path / "stands.gpkg"),
            "--previous", previous.path, "--bands", "B,G,R,NIR", "--threads", "2",
            "--out", str(out)]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    summary = gpd.read_file(out, layer="stand_summary")
    assert set(summary["标识码"] if "标识码" in summary else summary["stand_id"]) == set("ABC")


def _blocked_read(monkeypatch):
    """Make every read wait inside GDAL's read until released; return (entered, release)."""
    entered, release = threading.Event(), threading.Event()
    real = source_module.read_window

    def slow(*args, **kwargs):
        entered.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(source_module, "read_window", slow)
    return entered, release


def test_one_reader_read_by_two_threads_at_once_is_refused(tmp_path, monkeypatch):
    """The contract of RasterReader: one read at a time; a second thread's read is refused."""
    src = _deliver(tmp_path / "a.tif", _truth(True), "EPSG:32652", 10.0)
    win = Window(0, 0, 32, 32)
    with src.open() as reader, ThreadPoolExecutor(1) as pool:
        alone, _ = reader.read_array(win, ("R",))
        entered, release = _blocked_read(monkeypatch)
        first = pool.submit(reader.read_array, win, ("R",))
        assert entered.wait(30)
        try:
            with pytest.raises(ReaderInUseError, match="two threads at once"):
                reader.read_array(win, ("NIR",))
        finally:
            release.set()
        np.testing.assert_array_equal(first.result()[0], alone)  # the first read is whole
        reader.read_array(win, ("NIR",))  # and the reader is free again
