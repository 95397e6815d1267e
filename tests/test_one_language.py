"""One language (#14): what a user reads in the default mode is Chinese, with --lang en English.

Runs the commands a user runs on the demo results (the session's demo run of
``tests/report_helpers.demo_results``) as the user does — ``linyuan`` in a subprocess, so the
console is exactly what a terminal shows — and scans every user-facing output: console lines,
XLSX cells, KMZ names/descriptions/folders, HTML report text and DOCX text.

In Chinese, an English word is allowed only when it is not a word of the language but a name:

- a file, path, URL, option (``--overwrite``), a command in backticks, or a token holding a
  digit (IDs, EPSG:4551, rule ids such as ``L09_no_permit``);
- an identifier the bureau's data and Linyuan's tables carry as a code: a catalog field name or
  alias (``patch_id`` ← ``TBBH``: renamed fields are named both ways), a finding code (the
  ``代码`` column), a KPI indicator code (the ``指标代码`` column);
- a term of the trade kept in Latin letters in Chinese writing: :data:`ALLOWED`.

In English (console and one report), Chinese characters are allowed only inside values the
inputs deliver (district, township and person names, species, land classes …).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pyogrio
import pytest
from report_helpers import demo_results

from gis.demo import DemoScene, demo_paths
from gis.demo.run import summary_lines, validate_layers
from gis.layers import catalog
from gis.targets import INDICATORS

BIN = Path(sys.executable).parent / "linyuan"
GIS = Path(__file__).resolve().parents[1] / "gis"

ALLOWED = frozenset(
    {
        # index and band names, methods, sensors and products
        *("NDVI", "NBR", "dNBR", "RdNBR", "GRVI", "DN", "NIR", "SWIR", "RGB", "SCL", "DEM"),
        *("Key", "Benson"),  # Key & Benson's dNBR thresholds
        *("Sentinel", "Landsat", "SAFE", "MTL", "FIRMS", "VIIRS", "MODIS", "UAV", "BOA_ADD_OFFSET"),
        # coordinate systems
        *("EPSG", "CGCS", "WGS", "UTM", "GCJ"),
        # formats, programs and units written in Latin letters in Chinese text
        *("GeoPackage", "GeoJSON", "Shapefile", "KMZ", "KML", "XLSX", "CSV", "DOCX", "HTML", "WKT"),
        *("GDAL", "QGIS", "WPS", "GBK", "GB", "UTF", "LDID", "cpg", "MB", "nodata", "NaN"),
        *("YAML", "JSON", "XML", "SQLite", "DBF", "GeoTIFF", "VRT", "STAC", "Dask", "Python"),
        *("Linyuan", "URL", "USGS"),
    }
)
"""Latin-letter words a Chinese text may hold: terms of the trade, not English prose."""

CJK = re.compile(r"[\u3400-\u9fff]+")
ASCII_RUN = re.compile(r"[A-Za-z0-9_.:/\\~@#+=-]+")


# ---------------------------------------------------------------- what a user reads


class _Text(HTMLParser):
    """The visible text of an HTML page (no script, style or inlined images)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data)


def html_text(path: Path) -> list[str]:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.parts


def xlsx_text(path: Path) -> list[str]:
    book = openpyxl.load_workbook(path, read_only=True)
    out = [sheet.title for sheet in book.worksheets]
    for sheet in book.worksheets:
        out += [v for row in sheet.iter_rows(values_only=True) for v in row if isinstance(v, str)]
    return out


def kmz_text(path: Path) -> list[str]:
    """Names, descriptions and folder names: what a phone map app shows of a placemark.

    The document's own name is the file's name (left out).
    """
    with zipfile.ZipFile(path) as zf:
        root = ElementTree.fromstring(zf.read("doc.kml"))
    shown = ("name", "description")
    texts = [el.text for el in root.iter() if el.tag.split("}")[-1] in shown and el.text]
    return [t for t in texts if t != path.stem]


def docx_text(path: Path) -> list[str]:
    import docx  # deferred: python-docx is only needed by the DOCX checks

    doc = docx.Document(str(path))
    out = [p.text for p in doc.paragraphs]
    out += [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
    for section in doc.sections:
        out += [p.text for p in section.footer.paragraphs + section.header.paragraphs]
    return out


# ---------------------------------------------------------------- the scan


def _finding_codes() -> set[str]:
    """Every finding code the library adds (``findings.add("code", …)``)."""
    codes = set()
    for path in GIS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                first = node.args[0] if node.args else None
                if node.func.attr == "add" and isinstance(first, ast.Constant):
                    codes.add(str(first.value))
    return codes


def _codes(results: dict[str, Path]) -> frozenset[str]:
    """Identifiers shown as codes: catalog fields and aliases, finding and indicator codes,
    the layer names of results GeoPackages."""
    names: set[str] = set(catalog().labels) | set(INDICATORS) | _finding_codes()
    for spec in catalog().kinds.values():
        for name, field in spec.fields.items():
            names |= {name, *field.aliases}
    for path in results.values():
        names |= {str(name) for name, _ in pyogrio.list_layers(path)}
    return frozenset(names)


def english_words(texts: Iterable[str], codes: frozenset[str]) -> dict[str, str]:
    """Return each English word of ``texts`` not allowed in Chinese → a text it was found in."""
    found: dict[str, str] = {}
    for text in texts:
        cited = re.sub(r"`[^`]*`|'[^'\s]*'", "", text)  # `a command`, a 'name' quoted as typed
        for run in ASCII_RUN.findall(cited):
            if re.search(r"[0-9/\\]", run) or run.startswith("--") or run.strip(".:-") in codes:
                continue  # an ID, a path or file, an option, a field / finding / KPI code
            if re.fullmatch(r"[\w-]*\.[A-Za-z]{2,5}", run):
                continue  # a file name, or a suffix (.tif)
            for word in re.findall(r"[A-Za-z][A-Za-z_]*", run):
                if word not in ALLOWED and word not in codes and len(word) > 1:
                    found.setdefault(word, text[:160])
    return found


def chinese_outside(texts: Iterable[str], values: frozenset[str]) -> dict[str, str]:
    """Return each run of Chinese characters of ``texts`` that is no input's value."""
    found: dict[str, str] = {}
    for text in texts:
        for run in CJK.findall(text):
            if not any(run in value for value in values):
                found.setdefault(run, text[:160])
    return found


def _input_values(scene: DemoScene) -> frozenset[str]:
    """Every text value (and column name) of the demo's input layers: data stays as delivered."""
    values: set[str] = set()
    for path in scene.layers.values():
        encoding = {"encoding": "GBK"} if path.suffix == ".shp" else {}
        frame = pyogrio.read_dataframe(path, read_geometry=False, **encoding)
        values |= {str(c) for c in frame.columns}
        for col in frame.columns:
            values |= {v for v in frame[col].dropna().astype(str) if CJK.search(v)}
    return frozenset(values)


# ---------------------------------------------------------------- running the commands


def linyuan(*args: object, cwd: Path) -> str:
    """Run the installed ``linyuan`` as a user does; return stdout and stderr as shown."""
    env = {**os.environ, "COLUMNS": "200"}
    argv = [str(BIN), *map(str, args)]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, env=env, cwd=cwd)
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoScene, dict[str, Path]]:
    results = demo_results(tmp_path_factory.getbasetemp())
    paths = demo_paths(results["patches"].parent.parent)
    scene = DemoScene(
        out_dir=results["patches"].parent.parent,
        seed=0,
        truth={},
        **paths,  # type: ignore[arg-type]
    )
    return scene, results


def _patch_args(scene: DemoScene) -> list[object]:
    layers, rasters = scene.layers, scene.rasters
    return [
        "check", "patches", layers["change_patches"], "--before", rasters["s2_before"],
        "--after", rasters["s2_after"], "--after-mask", rasters["s2_after_scl"],
        "--sensor", "sentinel2-l2a", "--subcompartments", layers["subcompartments"],
        "--permits", layers["permits"], "--protected", layers["protected_areas"],
        "--districts", layers["districts"], "--forest-chiefs", layers["forest_chief_zones"],
    ]  # fmt: skip


@pytest.fixture(scope="module")
def chinese(demo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Every output of the commands run in the default language, as text per output."""
    scene, results = demo
    out = tmp_path_factory.mktemp("one_language_zh")
    layers = scene.layers
    console = [
        linyuan(*_patch_args(scene), "--out", out / "p.gpkg", "--xlsx", out / "p.xlsx",
                "--kml", out / "p.kmz", cwd=out),
        linyuan("validate", scene.dirty["change_patches"], "--kind", "change_patches",
                "--out", out / "findings.xlsx", cwd=out),
        linyuan("greenery", "kpi", "--greenways", layers["greenways"], "--parks", layers["parks"],
                "--villages", layers["villages"], "--districts", layers["districts"],
                "--year", "2024", "--out", out / "k.gpkg", "--xlsx", out / "k.xlsx", cwd=out),
        linyuan("greenery", "coverage", "--parks", layers["parks"], "--residential",
                layers["residential"], "--districts", layers["districts"], "--population-field",
                "人口", "--out", out / "c.gpkg", cwd=out),
        linyuan("export", "kml", results["discolored"], "--layer", "discolored_points",
                "--out", out / "points.kmz", cwd=out),
        linyuan("report", "patches", results["patches"], "--out", out / "patches.html", cwd=out),
        linyuan("report", "discolored", results["discolored"], "--out", out / "points.html",
                cwd=out),
        linyuan("report", "greenery", results["kpi"], "--coverage", results["coverage"],
                "--out", out / "greenery.docx", cwd=out),
        linyuan("validate", out / "nosuch.shp", cwd=out),
        linyuan("greenery", "kpi", "--greenways", layers["greenways"], "--parks", layers["parks"],
                "--villages", layers["villages"], "--districts", layers["districts"],
                "--out", out / "k.gpkg", cwd=out),  # exists: refused, and says so
        "\n".join(summary_lines(scene, validate_layers(scene))),
    ]  # fmt: skip
    return {
        "console": [line for text in console for line in text.splitlines()],
        "patches XLSX": xlsx_text(out / "p.xlsx"),
        "findings XLSX": xlsx_text(out / "findings.xlsx"),
        "KPI XLSX": xlsx_text(out / "k.xlsx"),
        "patches KMZ": kmz_text(out / "p.kmz"),
        "points KMZ": kmz_text(out / "points.kmz"),
        "patch report HTML": html_text(out / "patches.html"),
        "discolored report HTML": html_text(out / "points.html"),
        "greenery report DOCX": docx_text(out / "greenery.docx"),
    }


@pytest.fixture(scope="module")
def english(demo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The console and one report of the same commands with --lang en."""
    scene = demo[0]
    out = tmp_path_factory.mktemp("one_language_en")
    console = [  # the report of results written in English: reasons are written in the run's
        linyuan(*_patch_args(scene), "--out", out / "p.gpkg", "--lang", "en", cwd=out),
        linyuan("validate", out / "nosuch.shp", "--lang", "en", cwd=out),
        linyuan("report", "patches", out / "p.gpkg", "--out", out / "patches.html",
                "--lang", "en", cwd=out),
        "\n".join(summary_lines(scene, validate_layers(scene, lang="en"), lang="en")),
    ]  # fmt: skip
    return {
        "console": [line for text in console for line in text.splitlines()],
        "patch report HTML": html_text(out / "patches.html"),
    }


OUTPUTS = (
    "console",
    "patches XLSX",
    "findings XLSX",
    "KPI XLSX",
    "patches KMZ",
    "points KMZ",
    "patch report HTML",
    "discolored report HTML",
    "greenery report DOCX",
)


@pytest.mark.parametrize("output", OUTPUTS)
def test_the_default_mode_speaks_chinese(demo, chinese: dict[str, list[str]], output: str) -> None:
    texts = chinese[output]
    assert sum(bool(CJK.search(t)) for t in texts) >= 5, texts[:20]  # something was scanned
    words = english_words(texts, _codes(demo[1]))
    assert not words, f"English in the Chinese {output}:\n" + "\n".join(
        f"  {w!r} in {t!r}" for w, t in sorted(words.items())
    )


@pytest.mark.parametrize("output", ["console", "patch report HTML"])
def test_lang_en_speaks_english(demo, english: dict[str, list[str]], output: str) -> None:
    texts = english[output]
    assert sum(bool(re.search("[A-Za-z]{4}", t)) for t in texts) >= 5, texts[:20]
    runs = chinese_outside(texts, _input_values(demo[0]))
    assert not runs, f"Chinese in the English {output}:\n" + "\n".join(
        f"  {w!r} in {t!r}" for w, t in sorted(runs.items())
    )


def test_the_scan_finds_what_it_looks_for() -> None:
    codes = frozenset({"patch_id", "crs_guessed"})
    said = ["合法性：疑似违法", "变化类型：none", "crs_guessed: 已猜测", "见 a.gpkg 与 --overwrite"]
    assert english_words(said, codes) == {"none": "变化类型：none"}
    assert english_words(["级别 warning", "EPSG:4551 NDVI 下降"], codes) == {
        "warning": "级别 warning"
    }
    assert english_words(["缺少阶段 'change'，查找了 .tif 与 `tar xzf`", "阶段 change"], codes) == {
        "change": "阶段 change"
    }
    assert chinese_outside(["District 净月区: verified", "需现地核实"], frozenset({"净月区"})) == {
        "需现地核实": "需现地核实"
    }


FIRST_MET = (
    "crs.py",
    "io/_atomic.py",
    "io/archives.py",
    "io/containers.py",
    "io/encoding.py",
    "io/outputs.py",
    "io/point_tables.py",
    "io/rasters.py",
    "io/shapefile_read.py",
    "io/sources.py",
    "io/tables.py",
    "io/vector_fix.py",
    "io/vector_read.py",
    "raster/source.py",
    "report/data.py",
    "verify/imports.py",
    "verify/results.py",
    "verify/store.py",
)
"""Modules whose errors a user meets first (reading, CRSs, writing, the field store)."""


def test_the_errors_met_first_have_a_chinese_text() -> None:
    """Every error these modules raise carries ``zh=`` (the CLI prints it by --lang)."""
    missing, seen = [], 0
    for name in FIRST_MET:
        path = GIS / name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            func = node.exc.func
            error = func.id if isinstance(func, ast.Name) else ""
            if not error.endswith("Error") or error in ("ValueError", "KeyError"):
                continue
            seen += 1
            if not any(k.arg == "zh" for k in node.exc.keywords):
                missing.append(f"gis/{name}:{node.lineno} {error}")
    assert seen > 60
    assert not missing, "raised without zh=: " + ", ".join(missing)


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """Names of :class:`~gis.errors.GisError` and every class of ``gis`` derived from it."""
    classes = {"GisError"}
    bases = {
        node.name: {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }
    while grown := {name for name, of in bases.items() if of & classes} - classes:
        classes |= grown
    return classes


CHINESE_TEXT = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
"""A Chinese character or full-width punctuation mark: what a literal ``zh=`` text holds."""


def _zh_problem(call: ast.Call) -> str | None:
    """Why a constructor call lacks a Chinese text (None when it has one)."""
    if any(k.arg is None for k in call.keywords):
        return None  # **kwargs pass the caller's zh= on
    zh = next((k.value for k in call.keywords if k.arg == "zh"), None)
    if zh is None:
        return "no zh="
    if isinstance(zh, ast.Constant) and zh.value is None:
        return "zh=None"
    literal = [zh] if isinstance(zh, ast.Constant) else getattr(zh, "values", [])
    texts = [str(part.value) for part in literal if isinstance(part, ast.Constant)]
    if texts and not CHINESE_TEXT.search("".join(texts)):
        return "zh= holds no Chinese"
    return None


def test_every_error_and_finding_of_the_package_has_a_chinese_text() -> None:
    """Every GisError (and subclass) built anywhere in gis/, and every finding, carries zh=.

    A warning logged without a finding carries its Chinese text in ``extra`` (``zh``), as the
    console shows warnings.

    The command line prints ``exc.text(lang)``: an error without ``zh=`` prints English in the
    default Chinese mode. Builders that return an error (``return RasterError(...)``) count too.
    """
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(GIS.rglob("*.py"))}
    errors = _error_classes(trees)
    assert {"GisError", "RasterError", "ReportInputError", "OfflineAssetError"} <= errors
    problems, seen = [], {"errors": 0, "findings": 0, "warnings": 0}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            first = node.args[0] if node.args else None
            if name in errors:
                seen["errors"] += 1
            elif name in ("warning", "error") and getattr(func, "value", None) is not None:
                if getattr(func.value, "id", "") == "logger":  # shown on the console
                    seen["warnings"] += 1
                    said = {k.arg for k in node.keywords}
                    if "extra" not in said:
                        problems.append(f"{path.relative_to(GIS.parent)}:{node.lineno} {name}")
                continue
            elif name == "Finding" or (
                name == "add" and isinstance(first, ast.Constant) and len(node.args) >= 2
            ):
                seen["findings"] += 1
            else:
                continue
            why = _zh_problem(node)
            if why:
                problems.append(f"{path.relative_to(GIS.parent)}:{node.lineno} {name}: {why}")
    assert seen["errors"] > 200 and seen["findings"] > 60 and seen["warnings"] >= 2, seen
    assert not problems, "without a Chinese text:\n" + "\n".join(problems)


def _hostile_inputs(scene: DemoScene, tmp: Path) -> dict[str, list[object]]:
    """Commands a user runs on inputs Linyuan cannot use: each must stop (exit 3) and say why."""
    layers, rasters = scene.layers, scene.rasters
    (tmp / "empty").mkdir()
    (tmp / "empty" / "readme.txt").write_text("no raster here\n")
    (tmp / "scene.tar.gz").write_bytes(b"\x1f\x8b\x08\x00not really gzip")
    (tmp / "broken.yaml").write_text("thresholds: [1\n", encoding="utf-8")
    (tmp / "stageless.yaml").write_text("thresholds:\n  nope: 3\n", encoding="utf-8")
    (tmp / "targets.yaml").write_text("years:\n  soon: {}\n", encoding="utf-8")
    patches = ["check", "patches", layers["change_patches"], "--out", tmp / "p.gpkg"]
    greenery = ["greenery", "kpi", "--parks", layers["parks"], "--villages", layers["villages"],
                "--districts", layers["districts"], "--out", tmp / "k.gpkg"]  # fmt: skip
    return {
        "a folder without rasters": [*patches, "--before", tmp / "empty", "--after",
                                     rasters["s2_after"]],
        "a compressed tar": [*patches, "--before", tmp / "scene.tar.gz", "--after",
                             rasters["s2_after"]],
        "rules that are not YAML": [*patches, "--before", rasters["s2_before"], "--after",
                                    rasters["s2_after"], "--rules", tmp / "broken.yaml"],
        "rules without stages": [*patches, "--before", rasters["s2_before"], "--after",
                                 rasters["s2_after"], "--rules", tmp / "stageless.yaml"],
        "a band role twice": [*patches, "--before", rasters["s2_before"], "--after",
                              rasters["s2_after"], "--sensor", "generic", "--bands", "R,R"],
        "a targets year that is no year": [*greenery, "--greenways", layers["greenways"],
                                           "--targets", tmp / "targets.yaml"],
        "polygons for greenways": [*greenery, "--greenways", layers["parks"]],
        "a layer without results": ["export", "kml", layers["parks"], "--out", tmp / "x.kmz"],
        "a fire report of nothing": ["report", "fire", "--out", tmp / "fire.html"],
    }  # fmt: skip


def test_hostile_inputs_are_refused_in_chinese(demo, tmp_path: Path) -> None:
    """Inputs met rarely (broken rules, odd products, wrong layers) stop with a Chinese text."""
    codes = _codes(demo[1])
    env = {**os.environ, "COLUMNS": "200"}
    for case, args in _hostile_inputs(demo[0], tmp_path).items():
        argv = [str(BIN), *map(str, args)]
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, env=env, cwd=tmp_path
        )
        said = (done.stdout + done.stderr).strip()
        assert done.returncode == 3, f"{case}: exit {done.returncode}\n{said}"
        last = said.splitlines()[-1]
        assert last.startswith("错误："), f"{case}: {said}"
        words = english_words([last], codes)
        assert not words, f"{case}: English {sorted(words)} in {last!r}"
