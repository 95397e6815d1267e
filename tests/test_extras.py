"""Dask and pyarrow are extras: without them the core works and the message names the extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from report_helpers import demo_results

from gis.cli.main import cli
from gis.distributed import dask_client
from gis.extras import MissingExtraError, require
from gis.io import read_layer


@pytest.fixture
def no_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("dask", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError


def test_workers_without_dask_names_the_extra(no_dask) -> None:
    with pytest.raises(MissingExtraError, match=r'--workers 2 .*pip install "linyuan\[dask\]"'):
        with dask_client(workers=2):
            pass
    with pytest.raises(MissingExtraError, match=r"--scheduler tcp://127\.0\.0\.1:1"):
        with dask_client(scheduler="tcp://127.0.0.1:1"):
            pass
    with dask_client() as client:  # one process: no Dask needed
        assert client is None


def test_cli_workers_without_dask_exits_3_with_the_extra(
    no_dask, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    results = demo_results(tmp_path_factory.getbasetemp())  # the session's demo scene
    scene = results["patches"].parents[1]
    args = ["check", "patches", str(scene / "change_patches.gpkg")]
    args += ["--before", str(scene / "s2_before.tif"), "--after", str(scene / "s2_after.tif")]
    args += ["--sensor", "sentinel2-l2a", "--out", str(tmp_path / "p.gpkg"), "--workers", "2"]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 3, done.output
    assert "linyuan[dask]" in done.output
    assert not (tmp_path / "p.gpkg").exists()


def test_geoparquet_without_pyarrow_names_the_extra(monkeypatch, tmp_path: Path) -> None:
    path = tmp_path / "stands.parquet"
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4551")
    frame.to_parquet(path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingExtraError, match=r"GeoParquet .*linyuan\[parquet\]"):
        read_layer(path)


def test_require_returns_the_module() -> None:
    assert require("json", purpose="x").__name__ == "json"
    with pytest.raises(MissingExtraError, match="pip install no_such_module"):
        require("no_such_module", purpose="x")


CORE_ONLY = """
import importlib, pkgutil, sys
for name in ("dask", "distributed", "pyarrow", "exactextract", "rasterstats"):
    sys.modules[name] = None  # as in a core install: importing them raises ImportError
import gis
for mod in pkgutil.walk_packages(gis.__path__, "gis."):
    importlib.import_module(mod.name)
from gis.cli.main import cli
print(sum(cli.get_command(None, n) is not None for n in cli.list_commands(None)))
"""


def test_every_module_imports_in_a_core_install() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CORE_ONLY], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout) >= 5
