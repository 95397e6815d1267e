"""Execute a report notebook with parameters and render it as HTML or DOCX, atomically.

The notebook (``notebooks/*.ipynb``) has one cell tagged ``parameters``; the values given
here go into a cell inserted after it (tagged ``injected-parameters``, as papermill does),
then :mod:`nbclient` runs it in a fresh ``python3`` kernel. Each cell's output carries the
section's blocks as JSON (:data:`gis.report.blocks.BLOCK_MIME`), from which the page is built
with the code left out: HTML (one self-contained file, charts inlined) or DOCX (python-docx:
headings, tables with Chinese text, chart pictures) for Word.

When the input cannot make the report, the notebook shows why in the report's place; the
file is written, and :class:`ReportInputError` is raised with the same reason so the command
exits non-zero.
"""

from __future__ import annotations

import base64
import enum
import io
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gis.charts import FontWarning
from gis.enums import ParamEnum
from gis.errors import GisError
from gis.io import atomic_path, check_overwrite, write_text
from gis.progress import Progress, step, ticker
from gis.report.blocks import BLOCK_MIME, CSS, Block, Kind, Section
from gis.report.data import ReportInputError
from gis.resources import resource_path

PathLike = str | os.PathLike[str]

NOTEBOOKS = resource_path("notebooks")
"""Folder of the report notebooks (the repository's ``notebooks/``, shipped in the wheel)."""

TIMEOUT_S = 600
"""Longest a single cell may run, seconds."""

DOCX_EAST_ASIAN_FONT = "SimSun"
"""Font Word uses for Chinese text in a DOCX report (宋体, on every Chinese Windows)."""


class ReportError(GisError, RuntimeError):
    """A report notebook failed to run (a bug or an environment problem, not bad input)."""


class ReportName(ParamEnum):
    """The report notebooks."""

    PATCHES = "patch_verification_report"
    DISCOLORED = "discolored_trees_report"
    GREENERY = "greening_kpi_report"
    FIRE = "fire_report"

    @classmethod
    def describe(cls) -> str:
        """Name of the option in error messages."""
        return "report"

    @classmethod
    def describe_zh(cls) -> str:
        """Name of the option in Chinese error messages."""
        return "报告类型"


class OutputFormat(enum.StrEnum):
    """Rendered report format, from the output's suffix."""

    HTML = ".html"
    DOCX = ".docx"

    @classmethod
    def of(cls, path: PathLike) -> OutputFormat:
        """Return the format of ``path``; the error names the suffixes accepted."""
        suffix = Path(path).suffix.lower()
        if suffix == ".htm":
            return cls.HTML
        try:
            return cls(suffix)
        except ValueError:
            raise ValueError(
                f"{path}: a report is written as .html or .docx, not {suffix or '(no suffix)'!r}"
            ) from None


@dataclass(frozen=True)
class Rendered:
    """What :func:`render_report` did: output, format, sections, timing, the error shown."""

    path: Path
    format: OutputFormat
    sections: tuple[Section, ...]
    seconds: float
    error: str | None = None


def notebook_path(name: str | ReportName) -> Path:
    """Return the path of a report notebook."""
    return NOTEBOOKS / f"{ReportName.get(name).value}.ipynb"


def _param_source(params: Mapping[str, Any]) -> str:
    lines = ["# Parameters injected by gis.report.render"]
    lines += [f"{name} = {value!r}" for name, value in params.items()]
    return "\n".join(lines) + "\n"


def inject_parameters(nb: Any, params: Mapping[str, Any]) -> Any:
    """Insert a cell setting ``params`` after the cell tagged ``parameters``.

    Raises
    ------
    ReportError
        When the notebook has no parameters cell, or ``params`` names one it does not set.
    """
    import nbformat

    index = next(
        (k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), None
    )
    if index is None:
        raise ReportError(
            "the notebook has no cell tagged 'parameters'; tag its first code cell",
            zh="笔记本中没有标记为 'parameters' 的单元格；请给第一个代码单元格加上该标记",
        )
    known = set(re.findall(r"^(\w+)\s*=", nb.cells[index].source, flags=re.M))
    unknown = sorted(set(params) - known)
    if unknown:
        raise ReportError(
            f"the notebook's parameters cell does not set {', '.join(unknown)}; it sets "
            f"{', '.join(sorted(known))}",
            zh=f"笔记本的参数单元格没有设置 {'、'.join(unknown)}；它设置了 "
            f"{'、'.join(sorted(known))}",
        )
    cell = nbformat.v4.new_code_cell(_param_source(params))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)
    return nb


def execute_notebook(
    path: PathLike, params: Mapping[str, Any], *, progress: Progress | None = None
) -> Any:
    """Run the notebook at ``path`` with ``params`` in a fresh kernel; return it executed.

    ``progress(cells_done, cells_total)`` is called as its code cells finish.

    Raises
    ------
    ReportError
        When a cell raises (its error name and message are in the message).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    nb = inject_parameters(nbformat.read(str(path), as_version=4), params)
    tick = ticker(progress, sum(cell.cell_type == "code" for cell in nb.cells))
    with tempfile.TemporaryDirectory(prefix="linyuan-kernel-") as sockets:
        client = NotebookClient(
            nb,
            timeout=TIMEOUT_S,
            kernel_name="python3",
            resources={"metadata": {"path": str(Path.cwd())}},
            config=Config({"KernelManager": _kernel_sockets(sockets)}),
            on_cell_executed=None if tick is None else lambda **_: tick(),
        )
        try:
            client.execute()
        except CellExecutionError as exc:
            raise ReportError(
                f"{path}: a cell failed while rendering the report ({exc.ename}: "
                f"{exc.evalue}); rerun the command with -v to see the cell's traceback",
                zh=f"{path}：生成报告时有单元格出错（{exc.ename}）；请加 -v 重新运行命令，"
                "查看该单元格的回溯信息",
            ) from exc
    return nb


def _kernel_sockets(folder: str) -> dict[str, str]:
    """Kernel sockets over IPC in a private folder: no open TCP ports, nothing left behind.

    Windows has no IPC sockets in ZeroMQ: there the kernel listens on TCP on localhost only.
    """
    if sys.platform == "win32":
        return {"transport": "tcp", "ip": "127.0.0.1"}
    return {"transport": "ipc", "ip": f"{folder}/k"}


def _outputs(nb: Any) -> Iterator[Mapping[str, Any]]:
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from cell.get("outputs", [])


def collect_sections(nb: Any) -> tuple[Section, ...]:
    """Return the report sections an executed notebook displayed, in order.

    Warnings the kernel printed about missing CJK fonts are re-emitted here as
    :class:`gis.charts.FontWarning`.
    """
    found = []
    for out in _outputs(nb):
        if out.get("output_type") == "stream" and "FontWarning" in out.get("text", ""):
            warnings.warn(out["text"].strip(), FontWarning, stacklevel=2)
        data = out.get("data", {})
        if BLOCK_MIME in data:
            raw = data[BLOCK_MIME]["blocks"]
            found.append(Section(tuple(Block(Kind(b["kind"]), _data(b)) for b in raw)))
    return tuple(found)


def _data(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k != "kind"}


def report_error(sections: tuple[Section, ...]) -> str | None:
    """Return the text of the first error message in the sections, or None."""
    for sec in sections:
        for b in sec.blocks:
            if b.kind is Kind.MESSAGE and b.data.get("severity") == "error":
                return str(b.data["text"])
    return None


def _title(sections: tuple[Section, ...]) -> str:
    for sec in sections:
        for b in sec.blocks:
            if b.kind is Kind.HEADING:
                return str(b.data["text"])
    return "Linyuan"


def to_html(sections: tuple[Section, ...], *, lang: str = "zh") -> str:
    """Return one self-contained HTML page of the sections (charts inlined, no code)."""
    import html

    body = "\n".join(s.html() for s in sections)
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n'
        f'<meta charset="utf-8">\n<title>{html.escape(_title(sections))}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def render_report(
    name: str | ReportName,
    params: Mapping[str, Any],
    out: PathLike,
    *,
    overwrite: bool = False,
) -> Rendered:
    """Execute a report notebook with ``params`` and write it to ``out`` (.html or .docx).

    Parameters
    ----------
    name : {"patch_verification_report", "discolored_trees_report", "greening_kpi_report"}
        The notebook.
    params : mapping
        Values for the names its parameters cell sets (paths as strings, ``None`` allowed).
    out : path-like
        Report file; ``.html`` or ``.docx``.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Rendered

    Raises
    ------
    ReportInputError
        The input cannot make the report; the file was written and shows the same reason.
    ReportError
        A cell failed; nothing was written.
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    """
    fmt = OutputFormat.of(out)
    check_overwrite(out, overwrite=overwrite)
    start = time.perf_counter()
    with step("report cells", zh="报告单元格") as progress:
        nb = execute_notebook(notebook_path(name), params, progress=progress)
    sections = collect_sections(nb)
    lang = str(params.get("lang", "zh"))
    if fmt is OutputFormat.HTML:
        write_text(out, to_html(sections, lang=lang), overwrite=overwrite)
    else:
        with atomic_path(out, overwrite=overwrite) as tmp:
            to_docx(sections, lang=lang).save(str(tmp))
    error = report_error(sections)
    done = Rendered(Path(out), fmt, sections, time.perf_counter() - start, error)
    if error is not None:
        raise ReportInputError(error, zh=error)  # the report's own text, in its language
    return done


# --------------------------------------------------------------------------- DOCX


def to_docx(sections: tuple[Section, ...], *, lang: str = "zh") -> Any:
    """Return a python-docx Document of the sections: headings, tables, pictures.

    The page is A4 with 2.5 cm margins (python-docx's template is US Letter), and the footer
    numbers the pages (第 N 页，共 M 页 / Page N of M, Word fields updated on opening).
    """
    from docx import Document

    doc = Document()
    _east_asian_font(doc)
    _a4_with_page_numbers(doc, lang=lang)
    for sec in sections:
        for b in sec.blocks:
            _DOCX[b.kind](doc, b.data)
    return doc


def _east_asian_font(doc: Any) -> None:
    """Name the East Asian font of every style (Word substitutes one it lacks)."""
    from docx.oxml.ns import qn

    family = DOCX_EAST_ASIAN_FONT
    for style in doc.styles:
        rpr = getattr(style.element, "rPr", None)
        if rpr is None and getattr(style, "font", None) is not None:
            style.font.size = style.font.size  # creates rPr
            rpr = style.element.rPr
        if rpr is None:
            continue
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(fonts)
        fonts.set(qn("w:eastAsia"), family)


A4_CM = (21.0, 29.7)
"""Width and height of an A4 page, centimetres."""

MARGIN_CM = 2.5
"""Page margins of a DOCX report, centimetres."""

_PAGE_WORDS = {"zh": ("第 ", " 页，共 ", " 页"), "en": ("Page ", " of ", "")}


def _a4_with_page_numbers(doc: Any, *, lang: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm

    before, middle, after = _PAGE_WORDS["en" if lang == "en" else "zh"]
    for section in doc.sections:
        section.page_width, section.page_height = Cm(A4_CM[0]), Cm(A4_CM[1])
        for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
            setattr(section, side, Cm(MARGIN_CM))
        footer = section.footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        footer.add_run(before)
        _field(footer, "PAGE")
        footer.add_run(middle)
        _field(footer, "NUMPAGES")
        footer.add_run(after)


def _field(paragraph: Any, code: str) -> None:
    """Append a Word field (``PAGE``, ``NUMPAGES``) to ``paragraph``, shown as 1 until updated."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def element(tag: str, text: str | None = None, **attrs: str) -> Any:
        el = OxmlElement(tag)
        for key, value in attrs.items():
            el.set(qn(key.replace("_", ":", 1)), value)
        if text is not None:
            el.text = text
        return el

    run = paragraph.add_run()
    for el in (
        element("w:fldChar", w_fldCharType="begin"),
        element("w:instrText", f" {code} ", xml_space="preserve"),
        element("w:fldChar", w_fldCharType="separate"),
        element("w:t", "1"),
        element("w:fldChar", w_fldCharType="end"),
    ):
        run._r.append(el)


def _docx_heading(doc: Any, data: Mapping[str, Any]) -> None:
    doc.add_heading(str(data["text"]), level=min(int(data["level"]) - 1, 9))


def _docx_paragraph(doc: Any, data: Mapping[str, Any]) -> None:
    doc.add_paragraph(str(data["text"]))


def _docx_message(doc: Any, data: Mapping[str, Any]) -> None:
    from docx.shared import RGBColor

    run = doc.add_paragraph().add_run(str(data["text"]))
    run.bold = data["severity"] != "info"
    if data["severity"] == "error":
        run.font.color.rgb = RGBColor(0xC6, 0x28, 0x28)


def _docx_figures(doc: Any, data: Mapping[str, Any]) -> None:
    items = data["items"]
    grid = doc.add_table(rows=len(items), cols=2)
    grid.style = "Table Grid"
    for row, item in zip(grid.rows, items, strict=True):
        row.cells[0].text = str(item["label"])
        row.cells[1].text = f"{item['value']} {item['unit']}".strip()


def _docx_table(doc: Any, data: Mapping[str, Any]) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    if data["title"]:
        doc.add_paragraph(str(data["title"])).runs[0].bold = True
    grid = doc.add_table(rows=len(data["rows"]) + 1, cols=len(data["columns"]))
    grid.style = "Table Grid"
    for cell, text in zip(grid.rows[0].cells, data["columns"], strict=True):
        cell.text = str(text)
        cell.paragraphs[0].runs[0].bold = True
    for row, values in zip(grid.rows[1:], data["rows"], strict=True):
        for cell, value, numeric in zip(row.cells, values, data["numeric"], strict=True):
            cell.text = str(value)
            if numeric:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    doc.add_paragraph()


def _docx_image(doc: Any, data: Mapping[str, Any]) -> None:
    from docx.shared import Cm

    doc.add_picture(io.BytesIO(base64.b64decode(data["png"])), width=Cm(15))


_DOCX = {
    Kind.HEADING: _docx_heading,
    Kind.PARAGRAPH: _docx_paragraph,
    Kind.MESSAGE: _docx_message,
    Kind.FIGURES: _docx_figures,
    Kind.TABLE: _docx_table,
    Kind.IMAGE: _docx_image,
    Kind.MAP: lambda doc, data: None,  # interactive only: the section's static image stands in
}
