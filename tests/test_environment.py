"""Declared dependencies: pyproject.toml, the two conda environments and what gis/ imports agree.

- ``environment.yml`` (desktop users) lists exactly the core dependencies;
- ``environment-dev.yml`` lists the core, every extra and the dev tools;
- every package a module of ``gis`` imports is declared: in the core, or — Dask and pyarrow,
  imported only where a feature needs them — in the extra :mod:`gis.extras` names;
- the dev tools are pinned, and the ``dev`` extra pulls every other extra (``make demo`` /
  ``make test`` install ``.[dev]``).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from gis.extras import EXTRAS

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# PyPI name → conda-forge name, where they differ.
CONDA_NAMES = {
    "geopandas": "geopandas-base",
    "pyyaml": "pyyaml",
    "types-pyyaml": "types-pyyaml",
    "playwright": "playwright",
}
# Only on PyPI / not needed in a conda desktop environment.
PIP_ONLY: set[str] = set()


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def _conda(reqs: list[str]) -> dict[str, str]:
    out = {}
    for req in reqs:
        name, spec = _split(req)
        if name in PIP_ONLY or name == "linyuan":  # linyuan[...]: the other extras, below
            continue
        out[CONDA_NAMES.get(name, name)] = spec
    return out


def _core() -> list[str]:
    return list(PYPROJECT["project"]["dependencies"])


def _extras() -> dict[str, list[str]]:
    return dict(PYPROJECT["project"]["optional-dependencies"])


def _environment(name: str) -> dict[str, str]:
    data = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    assert "conda-forge" in data["channels"]
    out = {}
    for dep in data["dependencies"]:
        if isinstance(dep, dict) or _split(dep)[0] in ("python", "pip"):
            continue
        dep_name, spec = _split(dep)
        out[dep_name] = spec
    return out


def test_environment_matches_pyproject():
    """The user environment is the core install, nothing of the dev tools or benchmarks."""
    assert _environment("environment.yml") == _conda(_core())
    data = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert not any(isinstance(dep, dict) for dep in data["dependencies"])  # no `pip: -e .`


def test_dev_environment_matches_pyproject():
    everything = _core() + [req for reqs in _extras().values() for req in reqs]
    assert _environment("environment-dev.yml") == _conda(everything)


def test_dev_extra_pulls_every_extra_and_pins_its_tools():
    extras = _extras()
    dev = extras["dev"]
    (self_ref,) = [r for r in dev if r.startswith("linyuan[")]
    assert set(self_ref[len("linyuan[") : -1].split(",")) == set(extras) - {"dev"}
    tools = [r for r in dev if r != self_ref]
    assert tools and all("==" in r for r in tools), tools


def test_dask_and_pyarrow_are_optional():
    core = {_split(r)[0] for r in _core()}
    assert not {"dask", "distributed", "pyarrow"} & core
    for module, extra in EXTRAS.items():
        assert module in {_split(r)[0] for r in _extras()[extra]}
    assert {"geopandas", "shapely", "rasterio", "folium", "fiona"} <= core


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"gis"}


def test_every_imported_package_is_declared():
    dists = packages_distributions()
    core = {_split(r)[0] for r in _core()}
    missing = {}
    for path in sorted((ROOT / "gis").rglob("*.py")):
        for module in _imports(path):
            names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
            if module in EXTRAS:
                declared = {_split(r)[0] for r in _extras()[EXTRAS[module]]}
            else:
                declared = core
            if not names & declared:
                missing.setdefault(module, str(path.relative_to(ROOT)))
    assert missing == {}


@pytest.mark.parametrize("module", ["jinja2", "affine", "traitlets", "psutil"])
def test_once_undeclared_imports_are_core(module):
    dists = {d.lower() for d in packages_distributions()[module]}
    assert dists & {_split(r)[0] for r in _core()}


def test_requires_python():
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    assert PYPROJECT["project"]["scripts"]["linyuan"] == "gis.cli.main:cli"
