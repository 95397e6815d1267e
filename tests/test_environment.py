"""environment.yml (conda-forge) must list the same packages as pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

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


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    reqs = list(data["project"]["dependencies"])
    for extra in data["project"].get("optional-dependencies", {}).values():
        reqs.extend(extra)
    out = {}
    for req in reqs:
        name, spec = _split(req)
        if name in PIP_ONLY:
            continue
        out[CONDA_NAMES.get(name, name)] = spec
    return out


def _environment() -> dict[str, str]:
    data = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert "conda-forge" in data["channels"]
    out = {}
    for dep in data["dependencies"]:
        if isinstance(dep, dict) or _split(dep)[0] in ("python", "pip"):
            continue
        name, spec = _split(dep)
        out[name] = spec
    return out


def test_environment_matches_pyproject():
    assert _environment() == _pyproject()


def test_requires_python():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["requires-python"] == ">=3.11"
    assert data["project"]["scripts"]["linyuan"] == "gis.cli.main:cli"
