"""Report blocks: what a notebook cell shows, as HTML for the page and JSON for Word.

A report section is a :class:`Section` (a tuple of :class:`Block`). Displayed in a notebook it
gives two representations: ``text/html`` (what a reader sees) and :data:`BLOCK_MIME` (the
same content as plain data, which :mod:`gis.report.render` turns into DOCX headings, tables
and pictures). Numbers are rounded here, at the report edge, and nowhere before.

Examples
--------
>>> import pandas as pd
>>> s = Section((heading("基本情况"), figures([("n", "图斑数", 71, "个")])))
>>> 'data-key="n">71</span>' in s.html()
True
>>> s.blocks[1].data["items"][0]["value"]
'71'
"""

from __future__ import annotations

import base64
import enum
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

BLOCK_MIME = "application/vnd.linyuan.report+json"
"""MIME type of the JSON representation of a section in the executed notebook."""

CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",
 sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.5}
h1{border-bottom:2px solid #2e7d32;padding-bottom:.3em}h2{color:#2e7d32;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:14px}
th,td{border:1px solid #bbb;padding:3px 8px;text-align:left}th{background:#e8f5e9}
td.num{text-align:right}caption{text-align:left;font-weight:bold;padding:.3em 0}
dl.figures{display:grid;grid-template-columns:max-content auto;gap:2px 16px}
dl.figures dt{color:#555}dl.figures dd{margin:0;font-weight:bold}
.msg{padding:.6em 1em;border-left:5px solid #1976d2;background:#e3f2fd;margin:1em 0}
.msg.warning{border-color:#f57c00;background:#fff3e0}
.msg.error{border-color:#c62828;background:#ffebee}
img{max-width:100%}
"""


class Kind(enum.StrEnum):
    """Kind of a report block."""

    HEADING = "heading"
    PARAGRAPH = "paragraph"
    FIGURES = "figures"
    TABLE = "table"
    IMAGE = "image"
    MESSAGE = "message"
    MAP = "map"


@dataclass(frozen=True)
class Block:
    """One piece of a report: heading, paragraph, key figures, table, image or message.

    ``data`` is plain JSON-able content (strings and lists only, numbers already formatted).
    """

    kind: Kind
    data: Mapping[str, Any] = field(default_factory=dict)

    def html(self) -> str:
        """Return the block as an HTML fragment (every value escaped)."""
        return _HTML[self.kind](self.data)

    def to_json(self) -> dict[str, Any]:
        """Return ``{"kind": ..., **data}``."""
        return {"kind": self.kind.value, **self.data}


@dataclass(frozen=True)
class Section:
    """Blocks shown by one notebook cell; empty when there is nothing to show."""

    blocks: tuple[Block, ...] = ()

    def html(self) -> str:
        """Return the section as one HTML fragment."""
        return "\n".join(b.html() for b in self.blocks)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            "text/plain": f"<report section: {len(self.blocks)} blocks>",
            "text/html": self.html(),
            BLOCK_MIME: {"blocks": [b.to_json() for b in self.blocks]},
        }

    def __add__(self, other: Section) -> Section:
        return Section(self.blocks + other.blocks)


def section(*blocks: Block | None) -> Section:
    """Return a section of the given blocks, skipping ``None``."""
    return Section(tuple(b for b in blocks if b is not None))


# --------------------------------------------------------------------- constructors


def heading(text: str, *, level: int = 2) -> Block:
    """Return a heading block (level 1 = report title)."""
    return Block(Kind.HEADING, {"text": text, "level": level})


def paragraph(text: str) -> Block:
    """Return a paragraph block."""
    return Block(Kind.PARAGRAPH, {"text": text})


def message(text: str, *, severity: str = "info") -> Block:
    """Return a message block; ``severity="error"`` marks a report that could not be made."""
    return Block(Kind.MESSAGE, {"text": text, "severity": severity})


def figures(items: Iterable[tuple[str, str, Any, str]]) -> Block:
    """Return a key-figures block from ``(key, label, value, unit)`` tuples.

    The key is written as ``data-key`` in the HTML so tests and scripts can find a figure.
    """
    rows = [
        {"key": key, "label": label, "value": fmt_value(value), "unit": unit}
        for key, label, value, unit in items
    ]
    return Block(Kind.FIGURES, {"items": rows})


def table(
    frame: pd.DataFrame,
    *,
    title: str = "",
    headers: Mapping[str, str] | None = None,
    percent: Sequence[str] = (),
    key: str = "",
) -> Block:
    """Return a table block; values formatted, columns renamed by ``headers``.

    Parameters
    ----------
    frame : DataFrame
        Rows to show, in order.
    title : str
        Caption.
    headers : mapping, optional
        Column → header text.
    percent : sequence of str
        Columns holding shares (0–1) shown as percentages.
    key : str
        Identifier written as ``data-key`` on the table.
    """
    names = headers or {}
    cols = [str(c) for c in frame.columns]
    rows = [
        [fmt_value(v, percent=c in percent) for c, v in zip(cols, row, strict=True)]
        for row in frame.itertuples(index=False, name=None)
    ]
    numeric = [bool(pd.api.types.is_numeric_dtype(frame[c])) for c in frame.columns]
    data = {
        "title": title,
        "key": key,
        "columns": [names.get(c, c) for c in cols],
        "numeric": numeric,
        "rows": rows,
    }
    return Block(Kind.TABLE, data)


def image(png: bytes, *, title: str = "") -> Block:
    """Return an image block of PNG bytes."""
    return Block(Kind.IMAGE, {"title": title, "png": base64.b64encode(png).decode("ascii")})


def field_map(page: str, *, title: str = "") -> Block:
    """Return an interactive map block: a field map's page (:func:`gis.maps.build_map`).

    Shown in HTML (and in the notebook) as an ``<iframe srcdoc>`` of the page, as folium shows
    a map; Word has no place for it, so a DOCX report leaves it out (give the section a static
    :func:`image` too).
    """
    return Block(Kind.MAP, {"title": title, "page": page})


def fmt_value(value: Any, *, percent: bool = False) -> str:
    """Format one value for a report: ``—`` for missing, 2 decimals, or a percentage.

    Examples
    --------
    >>> fmt_value(1234.5678), fmt_value(0.8512, percent=True), fmt_value(None), fmt_value(3)
    ('1,234.57', '85.1%', '—', '3')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if percent:
        return f"{float(value):.1%}"
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


# --------------------------------------------------------------------------- HTML


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _heading_html(data: Mapping[str, Any]) -> str:
    level = int(data["level"])
    return f"<h{level}>{_esc(data['text'])}</h{level}>"


def _paragraph_html(data: Mapping[str, Any]) -> str:
    return f"<p>{_esc(data['text'])}</p>"


def _message_html(data: Mapping[str, Any]) -> str:
    sev = _esc(data["severity"])
    return f'<div class="msg {sev}" data-severity="{sev}">{_esc(data["text"])}</div>'


def _figures_html(data: Mapping[str, Any]) -> str:
    rows = [
        f'<dt>{_esc(i["label"])}</dt><dd><span data-key="{_esc(i["key"])}">'
        f"{_esc(i['value'])}</span> {_esc(i['unit'])}</dd>"
        for i in data["items"]
    ]
    return '<dl class="figures">' + "".join(rows) + "</dl>"


def _table_html(data: Mapping[str, Any]) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in data["columns"])
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_esc(v)}</td>' if num else f"<td>{_esc(v)}</td>"
            for v, num in zip(row, data["numeric"], strict=True)
        )
        + "</tr>"
        for row in data["rows"]
    )
    cap = f"<caption>{_esc(data['title'])}</caption>" if data["title"] else ""
    return (
        f'<table data-key="{_esc(data["key"])}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _image_html(data: Mapping[str, Any]) -> str:
    alt = _esc(data["title"])
    return f'<figure><img alt="{alt}" src="data:image/png;base64,{data["png"]}"></figure>'


def _map_html(data: Mapping[str, Any]) -> str:
    return (
        f'<figure class="map"><iframe title="{_esc(data["title"])}" srcdoc="{_esc(data["page"])}"'
        ' style="width:100%;height:560px;border:1px solid #bbb" allowfullscreen></iframe>'
        "</figure>"
    )


_HTML = {
    Kind.HEADING: _heading_html,
    Kind.PARAGRAPH: _paragraph_html,
    Kind.MESSAGE: _message_html,
    Kind.FIGURES: _figures_html,
    Kind.TABLE: _table_html,
    Kind.IMAGE: _image_html,
    Kind.MAP: _map_html,
}
