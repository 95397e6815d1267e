"""What every report shares: the :class:`Report` handle, words in two languages, title, findings.

A notebook opens a report once (``rep = report.open_patch_report(...)``) and then calls one
section function per cell. When the input cannot make the report (results of another check,
a missing layer, a batch not in the file) the handle carries the reason: :func:`title` shows
it as an error message and every other section is empty, so the rendered report says what is
wrong and :func:`gis.report.render.render_report` exits non-zero with the same reason. Results
that hold nothing (no patch checked, no point found) are no error: :func:`title` says there is
nothing to report, the findings of the run follow, and the report is made (exit 0).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import geopandas as gpd
import pandas as pd

from gis.charts import Lang
from gis.errors import GisError
from gis.findings import Severity, message_column
from gis.layers import code_text, label
from gis.maps import build_map
from gis.maps.style import DEFAULT_STYLES, LayerStyle
from gis.report import blocks
from gis.report.blocks import Block, Section
from gis.report.data import LAYERS, ReportData

PathLike = str | os.PathLike[str]

BEIJING = timezone(timedelta(hours=8), "北京时间")
"""China Standard Time (UTC+8, no daylight saving): report times are shown in it."""

WORDS: dict[str, tuple[str, str]] = {
    "patches_title": ("森林督查图斑核查报告", "Forest supervision patch verification report"),
    "discolored_title": ("变色立木监测核查报告", "Discolored standing trees: verification report"),
    "greenery_title": ("绿化工作完成情况", "Greening work: progress against targets"),
    "fire_title": ("森林防火报告", "Forest fire prevention report"),
    "source": ("数据来源", "Source"),
    "generated": ("生成时间", "Generated"),
    "batch": ("批次", "Batch"),
    "district_filter": ("行政区", "District"),
    "all": ("全部", "all"),
    "cannot_report": ("无法生成报告", "The report cannot be made"),
    "patches_empty": (
        "表中无图斑：结果中没有核查过的图斑，无可报告的内容。",
        "No patches: the results hold no checked patch; there is nothing to report.",
    ),
    "discolored_empty": (
        "无变色立木点位：本次检测没有发现变色立木，无可报告的内容。",
        "No points: the detection found no discolored trees; there is nothing to report.",
    ),
    "greenery_empty": (
        "表中无指标：结果中没有绿化指标，无可报告的内容。",
        "No indicators: the results hold no greening indicator; there is nothing to report.",
    ),
    "fire_empty": (
        "无森林防火结果：所给结果中没有热点、火场或覆盖记录，无可报告的内容。",
        (
            "No fire results: the results given hold no hotspot, fire scar or coverage row; "
            "there is nothing to report."
        ),
    ),
    "findings": ("数据问题与说明", "Data findings"),
    "no_findings": ("无数据问题。", "No data findings."),
    "no_field": (
        (
            "尚无外业核查记录：未提供外业记录库（--field），或记录库中没有本批次的记录。"
            "核查率按 0 计；现地核查后用 `linyuan verify import … --into FIELD.gpkg` 导入记录，"
            "再生成本报告。"
        ),
        (
            "No field records yet: no field store was given (--field), or it holds no records "
            "of this batch. The verification rate counts as 0; import the field records with "
            "`linyuan verify import … --into FIELD.gpkg` and render this report again."
        ),
    ),
    "all_level": ("合计", "Total"),
    "level": ("层级", "Level"),
    "key": ("名称", "Name"),
    "delivered": ("下发数", "Delivered"),
    "verified": ("已核查数", "Verified"),
    "verified_rate": ("核查率", "Verification rate"),
    "count": ("数量", "Count"),
    "share": ("占比", "Share"),
    "value": ("取值", "Value"),
}


Words = Mapping[str, tuple[str, str]]
"""A report vocabulary: key → (中文, English)."""


def word(key: str, lang: str | Lang, *, words: Words = WORDS) -> str:
    """Return the report word ``key`` in ``lang`` (from ``words``, default the shared ones).

    Examples
    --------
    >>> word("verified_rate", "zh"), word("verified_rate", "en")
    ('核查率', 'Verification rate')
    """
    return words[key][Lang.get(lang) is Lang.EN]


@dataclass(frozen=True)
class Vocabulary:
    """A report's own words (and layer kind), looked up before the shared words and catalog.

    Examples
    --------
    >>> v = Vocabulary({"title": ("标题", "Title")})
    >>> v.word("title", "en"), v.headers(pd.DataFrame(columns=["title"]), "zh")
    ('Title', {'title': '标题'})
    """

    words: Words
    kind: str | None = None

    def word(self, key: str, lang: str | Lang) -> str:
        """Return the word ``key`` in ``lang``."""
        return word(key, lang, words=self.words)

    def headers(self, frame: pd.DataFrame, lang: str | Lang) -> dict[str, str]:
        """Return column → header of ``frame`` (see :func:`headers`)."""
        return headers(frame, lang, kind=self.kind, words=self.words)


def header(column: str, lang: str | Lang, *, kind: str | None = None) -> str:
    """Return the header of a report column: report words first, then the layer catalog."""
    if column in WORDS:
        return word(column, lang)
    return label(column, kind=kind, lang=Lang.get(lang).value)


def headers(
    frame: pd.DataFrame, lang: str | Lang, *, kind: str | None = None, words: Words | None = None
) -> dict[str, str]:
    """Return column → header for every column of ``frame``.

    A section's own ``words`` come first, then the shared report words, then the catalog.
    """
    own = words or {}
    return {
        str(c): word(str(c), lang, words=own) if c in own else header(str(c), lang, kind=kind)
        for c in frame.columns
    }


def meaning(kind: str, column: str, lang: str | Lang) -> Callable[[Any], Any]:
    """Return a function mapping a code of ``column`` to its meaning (the code when unlisted)."""
    use = Lang.get(lang).value

    def lookup(code: Any) -> Any:
        return code_text(kind, column, code, lang=use)

    return lookup


@dataclass(frozen=True)
class Report:
    """A report being built: its data, language, and the reason when it cannot be made."""

    kind: str
    lang: Lang
    data: ReportData | None = None
    error: str | None = None
    more: Mapping[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether the results were read but hold nothing: no patch, point or row to show.

        Every results layer that names a check (``patches_checked``, ``discolored_points``,
        ``kpi``, ``hotspots_checked`` …) given to the report is empty.
        """
        if self.error is not None or self.data is None:
            return False
        mains = {layers[0] for layers in LAYERS.values()}
        shown = [self.data.main, *(f for n, f in self.data.extra.items() if n in mains)]
        return all(len(f) == 0 for f in shown)

    @property
    def ok(self) -> bool:
        """Whether the report has data to show (read, and not :attr:`empty`)."""
        return self.error is None and self.data is not None and not self.empty


def open_report(kind: str, lang: str | Lang, load: Callable[[], ReportData]) -> Report:
    """Call ``load``; return a :class:`Report` with its data, or with the reason it failed."""
    use = Lang.get(lang)
    try:
        data = load()
    except GisError as exc:
        return Report(kind=kind, lang=use, error=exc.text(use.value))
    return Report(kind=kind, lang=use, data=data)


def when_ok(build: Callable[[Report], Section]) -> Callable[[Report], Section]:
    """Decorate a section builder: a report that cannot be made shows nothing there."""

    def wrapped(rep: Report) -> Section:
        return build(rep) if rep.ok else Section()

    wrapped.__name__ = build.__name__
    wrapped.__doc__ = build.__doc__
    return wrapped


def title(rep: Report) -> Section:
    """Return the report title, its source, batch and district — or why it cannot be made."""
    head = blocks.heading(word(f"{rep.kind}_title", rep.lang), level=1)
    if rep.data is None:
        return blocks.section(
            head,
            blocks.message(
                word("cannot_report", rep.lang)
                + ("：" if rep.lang is Lang.ZH else ": ")
                + str(rep.error),
                severity="error",
            ),
        )
    data = rep.data
    assert data is not None
    items = [
        ("source", word("source", rep.lang), data.source, ""),
        ("generated", word("generated", rep.lang), run_time(data.run, lang=rep.lang), ""),
    ]
    if rep.kind == "patches":
        items.append(("batch", word("batch", rep.lang), data.batch or word("all", rep.lang), ""))
    items.append(
        ("district", word("district_filter", rep.lang), data.district or word("all", rep.lang), "")
    )
    nothing = blocks.message(word(f"{rep.kind}_empty", rep.lang)) if rep.empty else None
    return blocks.section(head, blocks.figures(items), nothing)


def run_time(run: Mapping[str, str], *, lang: str | Lang = Lang.ZH) -> str:
    """Return when the run finished (or started) in Beijing time, to the minute.

    The run table stores ISO 8601 with an offset (UTC); a time without one is shown as it is.

    Examples
    --------
    >>> run_time({"finished": "2026-12-07T09:33:20+00:00"})
    '2026-12-07 17:33（北京时间）'
    >>> run_time({"started": "2026-12-07T23:59:00+00:00"}, lang="en")
    '2026-12-08 07:59 (Beijing time, UTC+8)'
    >>> run_time({})
    '—'
    """
    text = run.get("finished") or run.get("started")
    if not text:
        return "—"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text
    if when.tzinfo is None:
        return when.strftime("%Y-%m-%d %H:%M")
    shown = when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    return f"{shown} (Beijing time, UTC+8)" if Lang.get(lang) is Lang.EN else f"{shown}（北京时间）"


def findings_section(rep: Report) -> Section:
    """Return the findings of the run (warnings and errors first), or a line saying none."""
    if rep.data is None:
        return Section()
    assert rep.data is not None
    found = rep.data.findings
    head = blocks.heading(word("findings", rep.lang))
    if found.empty:
        return blocks.section(head, blocks.paragraph(word("no_findings", rep.lang)))
    order = {"error": 0, "warning": 1, "info": 2}
    rows = found.sort_values("severity", key=lambda s: s.map(order), kind="stable")
    words = {s.value: s.label(rep.lang) for s in Severity}
    shown = rows["severity"].map(lambda v: words.get(v, v))
    rows = rows.assign(severity=shown, message=message_column(rows, rep.lang))
    rows = rows[[c for c in ("severity", "code", "message") if c in rows.columns]]
    return blocks.section(head, blocks.table(rows, headers=headers(rows, rep.lang), key="findings"))


def no_field_message(rep: Report) -> Block:
    """Return the 'no field records yet' message."""
    return blocks.message(word("no_field", rep.lang), severity="warning")


def rate_table(rate: pd.DataFrame, rep: Report, *, key: str, title: str = "") -> Block:
    """Return a 核查率 table block with its levels labelled."""
    shown = rate.assign(
        level=rate["level"].map(
            lambda v: word("all_level", rep.lang) if v == "all" else header(v, rep.lang)
        )
    )
    return blocks.table(
        shown,
        title=title,
        headers=headers(shown, rep.lang),
        percent=("verified_rate",),
        key=key,
    )


def field_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    rep: Report,
    *,
    title: str,
    styles: Mapping[str, LayerStyle] = DEFAULT_STYLES,
) -> Block:
    """Return the report's interactive map: the field map of ``layers``, without the form.

    The same :func:`gis.maps.build_map` as ``linyuan map`` (a folium map; in the notebook it
    shows inline), saved offline (vendored assets only), with no "核查" form: a report is
    read, not used to record visits. ``styles`` as for :func:`gis.maps.build_map`.
    """
    fmap = build_map(layers, title=title, lang=str(rep.lang), styles=styles, verification=False)
    return blocks.field_map(fmap.to_html(offline=True), title=title)
