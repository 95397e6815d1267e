"""The one results edge (gis.io.outputs): staged all-or-nothing writes, input checksums, KMZ."""

from __future__ import annotations

import hashlib
import os
import zipfile

import geopandas as gpd
import pyogrio
import pyogrio.errors
import pytest
import shapely
from click.testing import CliRunner

import gis.io.outputs as outputs
from gis.cli.main import cli
from gis.errors import OutputExistsError
from gis.io.outputs import plan_outputs, record_inputs, staged_outputs
from gis.paths import REMOTE_CHECKSUM, input_checksum
from tests.test_cli_detect import _inputs


def _leftovers(*folders):
    """Hidden staging folders or files left in ``folders``."""
    return sorted(p.name for f in folders for p in f.iterdir() if p.name.startswith("."))


def test_each_output_is_staged_beside_its_own_target(tmp_path):
    a, b = tmp_path / "results" / "r.gpkg", tmp_path / "charts" / "kpi.png"
    with staged_outputs({"gpkg": a, "png": b}, overwrite=False) as stage:
        assert stage["gpkg"].parent.parent == a.parent and stage["gpkg"].name == "r.gpkg"
        assert stage["png"].parent.parent == b.parent and stage["png"].name == "kpi.png"
        assert os.stat(stage["png"].parent).st_dev == os.stat(b.parent).st_dev
        stage["gpkg"].write_text("gpkg")
        stage["png"].write_text("png")
        assert not a.exists() and not b.exists()  # nothing is in place before the end
    assert a.read_text() == "gpkg" and b.read_text() == "png"
    assert _leftovers(a.parent, b.parent) == []


def test_a_failed_run_leaves_no_output_and_no_staged_file(tmp_path):
    a, b = tmp_path / "a" / "r.gpkg", tmp_path / "b" / "r.kmz"
    with pytest.raises(RuntimeError), staged_outputs({"a": a, "b": b}, overwrite=False) as stage:
        stage["a"].write_text("written")
        raise RuntimeError("the KMZ writer failed")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # folders made for it


def test_a_failed_rename_takes_back_the_outputs_already_replaced(tmp_path, monkeypatch):
    a, b = tmp_path / "a.gpkg", tmp_path / "sub" / "b.xlsx"
    a.write_text("old a")
    real = os.replace

    def replace(src, dst):
        if os.fspath(dst) == os.fspath(b):
            raise OSError("disk full")
        real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        with staged_outputs({"a": a, "b": b}, overwrite=True) as stage:
            stage["a"].write_text("new a")
            stage["b"].write_text("new b")
    assert a.read_text() == "old a" and not b.parent.exists()
    assert _leftovers(tmp_path) == []


def test_existing_outputs_are_refused_before_anything_is_staged(tmp_path):
    (tmp_path / "r.gpkg").write_text("keep")
    targets = {"gpkg": tmp_path / "r.gpkg", "kml": None, "csv": tmp_path / "p.csv"}
    with pytest.raises(OutputExistsError, match=r"r\.gpkg"):
        plan_outputs(targets, overwrite=False, inputs=())
    assert plan_outputs(targets, overwrite=True, inputs=()) == {
        "gpkg": tmp_path / "r.gpkg",
        "csv": tmp_path / "p.csv",
    }
    with pytest.raises(OutputExistsError):
        with staged_outputs({"gpkg": tmp_path / "r.gpkg"}, overwrite=False):
            pytest.fail("the block must not run")
    assert (tmp_path / "r.gpkg").read_text() == "keep" and _leftovers(tmp_path) == []


def test_input_checksums_of_local_files_and_vsi_paths(tmp_path):
    f = tmp_path / "a.tif"
    f.write_bytes(b"pixels")
    run: dict = {}
    record_inputs(run, {"raster": f, "remote": "/vsis3/bucket/b.tif", "previous": None})
    assert run["inputs"] == {"raster": str(f), "remote": "/vsis3/bucket/b.tif"}
    assert run["sha256"]["raster"] == hashlib.sha256(b"pixels").hexdigest()
    assert run["sha256"]["remote"] == input_checksum("/vsicurl/https://h/b.tif")
    assert "remote" in run["sha256"]["remote"]


def test_detect_discolored_takes_a_vsi_raster_like_check_patches(tmp_path):
    img, stands = _inputs(tmp_path)
    with zipfile.ZipFile(tmp_path / "img.zip", "w") as zf:
        zf.write(img, "img.tif")
    out = tmp_path / "r.gpkg"
    vsi = f"/vsizip/{tmp_path / 'img.zip'}/img.tif"
    args = ["detect", "discolored", vsi, "--stands", str(stands), "--bands", "B,G,R,NIR",
            "--out", str(out)]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    run = pyogrio.read_dataframe(out, layer="run")
    sha = run[run["section"] == "sha256"].set_index("key")["value"]
    assert sha["raster"] == REMOTE_CHECKSUM and len(sha["stands"]) == 64
    assert len(pyogrio.read_dataframe(out, layer="discolored_points")) == 2


def test_run_kmz_is_the_export_kmz_of_its_results(tmp_path):
    """``detect discolored --kml`` and ``export kml`` of its results give the same file."""
    img, stands = _inputs(tmp_path)
    (tmp_path / "run").mkdir()
    out, kmz = tmp_path / "r.gpkg", tmp_path / "run" / "points.kmz"
    args = ["detect", "discolored", str(img), "--stands", str(stands), "--bands", "B,G,R,NIR",
            "--out", str(out), "--kml", str(kmz)]  # fmt: skip
    assert CliRunner().invoke(cli, args).exit_code == 0
    exported = tmp_path / "points.kmz"
    res = CliRunner().invoke(cli, ["export", "kml", str(out), "--out", str(exported)])
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(kmz) as a, zipfile.ZipFile(exported) as b:
        doc = a.read("doc.kml")
        assert doc == b.read("doc.kml")
    assert b"<description>" in doc and "状态：未核查".encode() in doc  # crown facts, labels


def test_an_output_that_is_an_input_is_refused_by_path_inode_sidecar_or_folder(tmp_path):
    shp = tmp_path / "in" / "a.shp"
    shp.parent.mkdir()
    for part in (".shp", ".dbf", ".shx"):
        shp.with_suffix(part).write_text(part)
    gdb = tmp_path / "in" / "b.gdb"
    gdb.mkdir()
    linked = tmp_path / "link.shp"
    os.link(shp, linked)
    (tmp_path / "sym.dbf").symlink_to(shp.with_suffix(".dbf"))
    scenes = f"{tmp_path / 'in' / 's1.tif'},{tmp_path / 'in' / 's2.tif'}"
    inputs = (shp, gdb, None, "/vsicurl/https://example.com/c.tif", scenes)
    refused = {
        "same path": tmp_path / "in" / ".." / "in" / "a.shp",
        "hard link": linked,
        "symlink": tmp_path / "sym.dbf",
        "sidecar": shp.with_suffix(".DBF"),
        "sidecar of a new shapefile": tmp_path / "in" / "a.prj",
        "inside an input folder": gdb / "r.gpkg",
        "one of several scenes": tmp_path / "in" / "s2.tif",
    }
    for why, out in refused.items():
        for overwrite in (False, True):
            with pytest.raises(
                outputs.OutputIsInputError, match=r"a\.shp|b\.gdb|s1\.tif"
            ) as caught:
                plan_outputs({"out": out}, overwrite=overwrite, inputs=inputs)
            assert str(out) in str(caught.value), why
            assert "choose another output path" in str(caught.value), why
    assert plan_outputs({"out": tmp_path / "b.gpkg"}, overwrite=False, inputs=inputs)
    with pytest.raises(outputs.OutputIsInputError):
        with staged_outputs({"x": shp.with_suffix(".cpg")}, overwrite=True, inputs=[shp]):
            pytest.fail("the block must not run")
    assert sorted(p.name for p in shp.parent.iterdir()) == ["a.dbf", "a.shp", "a.shx", "b.gdb"]


def test_a_folder_is_never_replaced_by_an_output(tmp_path):
    (tmp_path / "m.html").mkdir()
    (tmp_path / "m.html" / "keep.txt").write_text("keep")
    with pytest.raises(outputs.OutputError, match="it is a folder"):
        plan_outputs({"map": tmp_path / "m.html"}, overwrite=True, inputs=())
    assert (tmp_path / "m.html" / "keep.txt").read_text() == "keep"


def test_gdal_errors_in_the_block_name_the_target_not_the_staged_file(tmp_path):
    target = tmp_path / "r.gpkg"
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs=4326)
    with pytest.raises(pyogrio.errors.DataSourceError) as caught:
        with staged_outputs({"gpkg": target}, overwrite=False) as stage:
            stage["gpkg"].write_text("not a GeoPackage")
            pyogrio.write_dataframe(frame, stage["gpkg"], layer="x", append=True)
    assert f"'{target}' not recognized" in str(caught.value)
    assert not target.exists() and _leftovers(tmp_path) == []


def test_a_failed_rename_names_the_target(tmp_path, monkeypatch):
    target = tmp_path / "r.gpkg"
    real = os.replace

    def replace(src, dst):
        if os.fspath(dst) == os.fspath(target):
            raise IsADirectoryError(21, "Is a directory", os.fspath(src), os.fspath(dst))
        real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    with pytest.raises(IsADirectoryError) as caught:
        with staged_outputs({"gpkg": target}, overwrite=False) as stage:
            stage["gpkg"].write_text("x")
    assert caught.value.filename == str(target) and _leftovers(tmp_path) == []
