"""House rules read from the code itself (STYLE.md): one edge per check, no import cycles.

The import graph of ``gis/`` is parsed with :mod:`ast` — every ``import`` statement, those
inside functions and under ``TYPE_CHECKING`` included — so a rule cannot be dodged by
moving an import into a function. ``from package import name`` is an edge to the submodule
``package.name`` when there is one, else to ``package``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import gis

GIS = Path(gis.__file__).parent

EDGE_ONLY = ("gis.io", "gis.maps", "gis.charts", "distributed", "dask")
"""Under ``gis/checks`` only a check's ``run.py`` imports these (files, maps, charts, Dask)."""

DISTRIBUTED_WORK = frozenset({"map_ordered", "map_frames", "check_workers", "task_windows_for"})
"""What a check's core may take from :mod:`gis.distributed`: work mapped on a client it is
given. Starting, describing and closing the client (``dask_client``, ``cluster_info``, peak
memory) is the edge's."""

ALLOWED_CYCLES: list[frozenset[str]] = []
"""Import cycles tolerated for now (none)."""


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Return dotted module name → file for every ``.py`` under ``root`` (a package)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path) -> Iterator[tuple[str, str | None, int]]:
    """Yield ``(module, imported name or None, line)`` for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([module] if module else [])])
            for alias in node.names:
                yield module, alias.name, node.lineno


def _resolve(target: str, modules: Mapping[str, Path]) -> str | None:
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Return module → the modules of the same tree it imports."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for module, imported, _ in imports_of(name, path):
            sub = f"{module}.{imported}" if imported else module
            target = _resolve(sub if sub in modules else module, modules)
            if target is not None and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """Return the strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _edge_imports(name: str, path: Path) -> list[str]:
    """Imports of files, maps, charts or the Dask client in a module (``module:line``)."""
    bad = []
    for module, imported, line in imports_of(name, path):
        full = f"{module}.{imported}" if imported else module
        edge = any(full == p or full.startswith(p + ".") for p in EDGE_ONLY)
        client = module == "gis.distributed" and imported not in DISTRIBUTED_WORK
        if edge or client or full == "gis.distributed":
            bad.append(f"{full} (line {line})")
    return bad


def test_graph_finds_a_cycle_hidden_in_a_function(tmp_path):
    """The checker itself: a cycle through a function-level import is found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.b import B\n")
    (pkg / "a.py").write_text("def f():\n    from pkg.sub import b\n    return b\n")
    (pkg / "sub" / "b.py").write_text("from pkg import a\nB = 1\n")
    (pkg / "c.py").write_text("from pkg.sub import B\n")
    graph = import_graph(module_files(pkg, "pkg"))
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.c"] == {"pkg.sub"}
    assert cycles(graph) == [frozenset({"pkg.a", "pkg.sub.b"})]


def test_no_import_cycles_in_gis():
    left = cycles(import_graph(module_files(GIS, "gis")))
    assert [sorted(c) for c in left if c not in ALLOWED_CYCLES] == []


CHECKS = module_files(GIS / "checks", "gis.checks")


@pytest.mark.parametrize("name", [n for n in CHECKS if not n.endswith(".run")])
def test_only_run_py_reads_and_writes(name):
    """The core of a check takes frames and lazy rasters: no gis.io, maps, charts or client."""
    assert _edge_imports(name, CHECKS[name]) == []


def test_every_check_is_a_package_with_one_edge():
    packages = sorted(p for p in (GIS / "checks").iterdir() if (p / "__init__.py").exists())
    assert {p.name for p in packages} >= {"patches", "discolored", "greenery", "quality"}
    assert [p.name for p in packages if not (p / "run.py").is_file()] == []
    loose = [p.name for p in (GIS / "checks").glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    assert [p for p in (GIS / "checks").rglob("run.py") if p.parent.parent.name != "checks"] == []


@pytest.mark.parametrize("name", [n for n, p in CHECKS.items() if p.name == "__init__.py"])
def test_check_packages_reexport_plainly(name):
    """An ``__init__`` re-exports names: no module ``__getattr__`` and no importlib."""
    tree = ast.parse(CHECKS[name].read_text(encoding="utf-8"))
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert "__getattr__" not in defined
    assert [m for m, _, _ in imports_of(name, CHECKS[name]) if m == "importlib"] == []


def test_the_edge_of_each_check_does_import_the_edge_modules():
    """The rule has teeth: the run modules are where gis.io is imported."""
    with_io = sorted(n for n in CHECKS if n.endswith(".run") and _edge_imports(n, CHECKS[n]))
    assert with_io == [
        f"gis.checks.{c}.run" for c in ("discolored", "greenery", "patches", "quality")
    ]
