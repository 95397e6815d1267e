"""The report notebooks: one parameters cell, then only calls into gis.report; outputs stripped."""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from gis.report.render import NOTEBOOKS, ReportError, ReportName, inject_parameters, notebook_path

NAMES = [n.value for n in ReportName]
RESULTS = {"fire_report": ("hotspots", "burned", "coverage")}
"""Results parameters of the reports that read several files (else ``results`` and ``district``)."""


@pytest.fixture(params=NAMES)
def notebook(request: pytest.FixtureRequest) -> nbformat.NotebookNode:
    nb = nbformat.read(str(notebook_path(request.param)), as_version=4)
    nb.metadata["results_params"] = list(RESULTS.get(request.param, ("results", "district")))
    return nb


def test_every_report_has_a_notebook() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


def test_one_parameters_cell_first(notebook: nbformat.NotebookNode) -> None:
    code = [c for c in notebook.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and code[0] is tagged[0]
    names = set(re.findall(r"^(\w+)\s*=", tagged[0].source, flags=re.M))
    assert {*notebook.metadata["results_params"], "lang"} <= names


def test_outputs_stripped(notebook: nbformat.NotebookNode) -> None:
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def _calls_only(tree: ast.Module) -> list[str]:
    """Return what is not an import, an assignment from a gis.report call, or a call of it."""
    bad = []
    for node in tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "gis"
            and node.names[0].name == "report"
        ):
            continue
        value = node.value if isinstance(node, ast.Assign | ast.Expr) else None
        func = value.func if isinstance(value, ast.Call) else None
        if not (isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "report"):
            bad.append(ast.dump(node)[:80])
    return bad


def test_no_def_no_logic_no_numbers(notebook: nbformat.NotebookNode) -> None:
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for cell in code[1:]:
        tree = ast.parse(cell.source)
        assert not any(
            isinstance(n, ast.FunctionDef | ast.Lambda | ast.ClassDef) for n in ast.walk(tree)
        )
        assert not any(
            isinstance(n, ast.Constant) and isinstance(n.value, int | float) for n in ast.walk(tree)
        ), cell.source
        assert _calls_only(tree) == [], cell.source


def test_injected_parameters_follow_the_parameters_cell(notebook: nbformat.NotebookNode) -> None:
    results = notebook.metadata["results_params"][0]
    nb = inject_parameters(notebook, {results: "x.gpkg", "lang": "en"})
    k = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nb.cells[k + 1]
    assert injected.metadata["tags"] == ["injected-parameters"]
    assert f"{results} = 'x.gpkg'" in injected.source and "lang = 'en'" in injected.source
    with pytest.raises(ReportError, match="does not set nope"):
        inject_parameters(notebook, {"nope": 1})
