"""A built wheel carries layers/ and notebooks/, and an installed `linyuan` finds them.

The wheel is built once per module from a copy of the sources (so concurrent runs never share a
``build/`` folder in the work tree), offline: ``pip wheel --no-deps --no-build-isolation
--no-index`` with the venv's setuptools. It is then installed with ``pip install --target`` and
run from a folder outside the repository, with only that folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gis.layers import CATALOG_PATH
from gis.resources import PACKAGED_DIR, SHIPPED, data_root, resource_path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "gis", *SHIPPED)
"""What the build reads: the sdist's contents."""
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
PIP_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def _pip(*args: str, cwd: Path) -> None:
    cmd = [sys.executable, "-m", "pip", *args, "--no-deps", "--no-index", "--no-cache-dir", "-q"]
    env = {**os.environ, **PIP_ENV}
    done = subprocess.run(
        cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=IGNORE)
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    _pip("wheel", ".", "--no-build-isolation", "-w", str(dist), cwd=src)
    (built,) = dist.glob("linyuan-*.whl")
    return built


@pytest.fixture(scope="module")
def names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    _pip("install", "--target", str(target), str(wheel), cwd=target)
    return target


def _repo_files(folder: str) -> list[Path]:
    return sorted(
        p
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(ROOT).parts)
    )


@pytest.mark.parametrize("folder", SHIPPED)
def test_wheel_ships_every_file_of_the_folder_unchanged(wheel, names, folder):
    files = _repo_files(folder)
    assert files, f"nothing in {folder}/"
    with zipfile.ZipFile(wheel) as zf:
        for path in files:
            member = f"gis/{PACKAGED_DIR}/{path.relative_to(ROOT).as_posix()}"
            assert member in names, f"{member} missing from {wheel.name}"
            assert zf.read(member) == path.read_bytes(), member


def test_wheel_holds_catalog_rules_templates_and_notebooks(names):
    data = f"gis/{PACKAGED_DIR}"
    for member in (
        "layers/catalog.yaml",
        "layers/targets.yaml",
        "layers/rules/patches.yaml",
        "layers/rules/discolored.yaml",
        "layers/templates/discolored_points_csv.yaml",
        "notebooks/patch_verification_report.ipynb",
        "notebooks/discolored_trees_report.ipynb",
        "notebooks/greening_kpi_report.ipynb",
    ):
        assert f"{data}/{member}" in names


def test_wheel_holds_every_module_and_nothing_from_outside_gis(names):
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "gis").rglob("*.py")}
    assert modules - names == set()
    assert {"gis/py.typed", "gis/maps/templates/runtime.js"} <= names
    for package in ("leaflet", "jquery", "leaflet.heat", "leaflet-draw"):
        assert any(n.startswith(f"gis/maps/vendor/{package}/") for n in names)
    assert {n.split("/")[0] for n in names} == {"gis", "linyuan-0.1.0.dist-info"}


def test_wheel_declares_the_linyuan_command(wheel):
    with zipfile.ZipFile(wheel) as zf:
        entry_points = zf.read("linyuan-0.1.0.dist-info/entry_points.txt").decode()
    assert "linyuan = gis.cli.main:cli" in entry_points


def _run(installed: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run(
        args, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


PROBE = """
import json, gis, gis.resources as r
from gis.checks.discolored import RULES_PATH
from gis.checks.discolored.run import TEMPLATE_PATH
from gis.checks.patches import DEFAULT_RULES
from gis.layers import CATALOG_PATH, load_catalog
from gis.report.render import NOTEBOOKS, ReportName, notebook_path
from gis.targets import DEFAULT_TARGETS
paths = [CATALOG_PATH, DEFAULT_RULES, RULES_PATH, TEMPLATE_PATH, DEFAULT_TARGETS, NOTEBOOKS]
paths += [notebook_path(n.value) for n in ReportName]
print(json.dumps({"gis": gis.__file__, "root": str(r.data_root()),
  "paths": [str(p) for p in paths], "exist": all(p.exists() for p in paths),
  "kinds": len(load_catalog().kinds)}))
"""


def test_installed_wheel_finds_its_files_outside_the_repo(installed, tmp_path):
    done = _run(installed, sys.executable, "-c", PROBE, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout)
    data = (installed / "gis" / PACKAGED_DIR).resolve()
    assert Path(probe["gis"]).resolve().is_relative_to(installed.resolve())
    assert Path(probe["root"]) == data
    assert all(Path(p).is_relative_to(data) for p in probe["paths"]), probe["paths"]
    assert probe["exist"]
    assert probe["kinds"] >= 10


def test_installed_linyuan_validates_with_its_catalog(installed, tmp_path, shared_data):
    layer = shared_data / "changchun_admin" / "220100_full.json"
    linyuan = str(installed / "bin" / "linyuan")
    done = _run(installed, linyuan, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "validate" in done.stdout
    args = ("validate", str(layer), "--kind", "districts", "--crs", "gcj02", "--json")
    done = _run(installed, linyuan, *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["kind"] == "districts" and report["counts"]["error"] == 0
    # The rename adcode/name → district_code/district comes from the shipped catalog's aliases.
    renamed = [f for f in report["findings"] if f["code"] == "fields_renamed"]
    assert renamed and "district_code" in renamed[0]["message"]


def test_checkout_layout_uses_the_repository_folders():
    assert data_root() == ROOT
    assert CATALOG_PATH == ROOT / "layers" / "catalog.yaml"
    assert resource_path("notebooks") == ROOT / "notebooks"


@pytest.mark.parametrize("bad", ["tests/conftest.py", "/etc/passwd", "layers/../setup.py", ""])
def test_resource_path_refuses_paths_outside_the_shipped_folders(bad):
    from gis.errors import OptionError

    with pytest.raises(OptionError, match="layers/ or notebooks/"):
        resource_path(bad)
