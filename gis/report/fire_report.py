"""Sections of 森林防火报告 (notebooks/fire_report.ipynb).

Three optional inputs, one section each: the results of ``linyuan fire hotspots`` (hotspots
by verdict, field priority and feedback deadline; fire events; with the field store of
``linyuan verify import``, 热点核查率 and the feedback of each hotspot, on time or late), of
``linyuan fire burned`` (the 森林火灾 report table, 火场面积 and 受害森林面积 per district and
forest chief in ha and 亩, severity classes, the grade) and of ``linyuan fire coverage``
(share of forest land seen by a lookout, per 防火重点区域, blind areas ranked); then one map of
all of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import geopandas as gpd
import pandas as pd

from gis.maps.style import DEFAULT_STYLES, HOTSPOTS
from gis.report import blocks, figures
from gis.report.blocks import Block, Section
from gis.report.common import (
    BEIJING,
    PathLike,
    Report,
    Vocabulary,
    field_map,
    open_report,
    rate_table,
    when_ok,
)
from gis.report.data import (
    LAYERS,
    ReportData,
    ReportInputError,
    ResultsKind,
    load_field_records,
    load_results,
)
from gis.report.tables import LEVELS, verification_rate
from gis.units import M2_PER_HA, M2_PER_MU
from gis.verify.status import hotspot_feedback

HA_TO_MU = M2_PER_HA / M2_PER_MU

WORDS: dict[str, tuple[str, str]] = {
    "hotspots": ("一、卫星热点核查", "1. Satellite hotspots"),
    "burned": ("二、过火面积与火灾等级", "2. Burned area and fire grade"),
    "coverage": ("三、瞭望监测覆盖", "3. Lookout coverage"),
    "map": ("四、森林防火分布图", "4. Fire map"),
    "hotspots_n": ("卫星热点", "Hotspots"),
    "events_n": ("火情事件", "Fire events"),
    "forest_fire_n": ("疑似林火", "Suspected forest fires"),
    "urgent_n": ("一级优先（须尽快反馈）", "Priority 1 (feed back first)"),
    "hotspot_rate": ("热点核查率", "Hotspot verify rate"),
    "hotspot_rate_table": ("热点核查率（按行政区、乡镇、林长）", "Verify rate per area"),
    "on_time_n": ("按时反馈", "Fed back on time"),
    "late_n": ("超时反馈", "Fed back late"),
    "missing_n": ("未反馈", "Not fed back"),
    "feedback_median": ("反馈用时中位数（小时）", "Median feedback time (h)"),
    "feedback": ("反馈情况", "Feedback"),
    "feedback_h": ("反馈用时（小时）", "Feedback after (h)"),
    "field_fire": ("现地：是否火情", "Field: fire?"),
    "field_fire_type": ("现地：火情类型", "Field: fire type"),
    "by_verdict": ("按核查结论统计", "By verdict"),
    "by_verdict_chart": ("各类热点数量", "Hotspots per verdict"),
    "hotspot_list": ("热点清单（按优先级与反馈时限）", "Hotspots by priority and deadline"),
    "event_list": ("火情事件", "Fire events"),
    "no_hotspots": (
        (
            "未提供卫星热点核查结果：用 `linyuan fire hotspots … --out HOTSPOTS.gpkg` 计算后，以 "
            "--hotspots 传入。"
        ),
        (
            "No hotspot results given: run `linyuan fire hotspots … --out HOTSPOTS.gpkg` and pass "
            "--hotspots."
        ),
    ),
    "no_burned": (
        (
            "未提供过火面积结果：用 `linyuan fire burned … --out BURNED.gpkg` 计算后，以 "
            "--burned 传入。"
        ),
        (
            "No burned-area results given: run `linyuan fire burned … --out BURNED.gpkg` and pass "
            "--burned."
        ),
    ),
    "no_coverage": (
        (
            "未提供瞭望覆盖结果：用 `linyuan fire coverage … --out COVERAGE.gpkg` 计算后，以 "
            "--coverage 传入。"
        ),
        (
            "No coverage results given: run `linyuan fire coverage … --out COVERAGE.gpkg` and pass "
            "--coverage."
        ),
    ),
    "no_hotspots_rows": (
        "所给结果中没有卫星热点：本期未监测到热点。",
        "The results given hold no hotspot: none was detected in this period.",
    ),
    "no_burned_rows": (
        "所给结果中没有火场：未提取到过火区域。",
        "The results given hold no fire scar: no burned area was found.",
    ),
    "no_coverage_rows": (
        "所给结果中没有瞭望覆盖统计。",
        "The results given hold no lookout coverage figures.",
    ),
    "no_input": (
        "未提供任何森林防火结果：至少传入 --hotspots、--burned、--coverage 之一",
        "no fire results given: pass at least one of --hotspots, --burned, --coverage",
    ),
    "fire_report_table": ("森林火灾报告表", "Forest fire report table"),
    "fire_area_total": ("火场面积（公顷）", "Fire area (ha)"),
    "forest_area_total": ("受害森林面积（公顷）", "Forest area burned (ha)"),
    "forest_area_total_mu": ("受害森林面积（亩）", "Forest area burned (mu)"),
    "grade": ("火灾等级", "Fire grade"),
    "by_district": ("按行政区", "Per district"),
    "by_forest_chief": ("按林长责任区", "Per forest chief"),
    "severity_table": ("烈度分级面积", "Area per severity class"),
    "severity_chart": ("各烈度等级面积（公顷）", "Area per severity class (ha)"),
    "forest_seen": ("林地可视比例", "Share of forest land seen"),
    "forest_seen_ha": ("可视林地面积（公顷）", "Forest land seen (ha)"),
    "blind_ha": ("监测盲区面积（公顷）", "Blind area (ha)"),
    "towers_used": ("参与计算的瞭望塔", "Towers used"),
    "zone_table": ("各防火重点区域可视比例", "Seen share per fire-prevention key area"),
    "zone_chart": ("各防火重点区域林地可视比例", "Forest seen per fire-prevention key area"),
    "blind_table": ("监测盲区（按面积与火险排序）", "Blind areas ranked"),
    "map_static": ("卫星热点分布", "Hotspots"),
    "map_title": ("森林防火：热点、火场与监测盲区", "Fire: hotspots, burned area, blind areas"),
    # column headers
    "hotspot_id": ("热点编号", "Hotspot"),
    "verdict": ("核查结论", "Verdict"),
    "count": ("数量", "Count"),
    "field_priority": ("核查优先级", "Field priority"),
    "feedback_hours": ("反馈时限（小时）", "Feedback within (h)"),
    "detected": ("监测时间（北京时间）", "Detected (Beijing time)"),
    "feedback_due": ("反馈截止（北京时间）", "Feedback due (Beijing time)"),
    "first_seen": ("首次监测（北京时间）", "First seen (Beijing time)"),
    "last_seen": ("末次监测（北京时间）", "Last seen (Beijing time)"),
    "event_id": ("火情事件编号", "Fire event"),
    "n_hotspots": ("热点数", "Hotspots"),
    "event_days": ("持续天数", "Days"),
    "hotspot_ids": ("热点编号", "Hotspots"),
    "item": ("项目", "Item"),
    "value": ("数值", "Value"),
    "unit": ("单位", "Unit"),
    "note": ("说明", "Note"),
    "fire_area_ha": ("火场面积（公顷）", "Fire area (ha)"),
    "fire_area_mu": ("火场面积（亩）", "Fire area (mu)"),
    "forest_area_ha": ("受害森林面积（公顷）", "Forest area burned (ha)"),
    "forest_area_mu": ("受害森林面积（亩）", "Forest area burned (mu)"),
    "severity": ("烈度等级", "Severity class"),
    "area_ha": ("面积（公顷）", "Area (ha)"),
    "area_mu": ("面积（亩）", "Area (mu)"),
    "name": ("区域名称", "Key area"),
    "fire_level": ("防火等级", "Fire-prevention level"),
    "seen_share": ("可视比例", "Seen share"),
    "forest_seen_share": ("林地可视比例", "Forest seen share"),
    "rank": ("排序", "Rank"),
    "blind_id": ("盲区编号", "Blind area"),
    "risk_class": ("火险等级", "Risk class"),
}

_VOCABULARY = Vocabulary(WORDS)
_w, _h = _VOCABULARY.word, _VOCABULARY.headers

_INPUTS = (
    ("hotspots", ResultsKind.HOTSPOTS),
    ("burned", ResultsKind.BURNED),
    ("coverage", ResultsKind.FIRE_COVERAGE),
)


def open_fire_report(
    *,
    hotspots: PathLike | None = None,
    burned: PathLike | None = None,
    coverage: PathLike | None = None,
    field: PathLike | None = None,
    lang: str = "zh",
) -> Report:
    """Open the fire report on any of the three ``linyuan fire …`` results.

    Parameters
    ----------
    hotspots : path-like, optional
        ``linyuan fire hotspots`` results (layers hotspots_checked, fire_events, run).
    burned : path-like, optional
        ``linyuan fire burned`` results (fire_report, fire_scars, burn_severity, …).
    coverage : path-like, optional
        ``linyuan fire coverage`` results (coverage_summary, fire_zone_coverage, blind_areas).
    field : path-like, optional
        Field store of ``linyuan verify import``: the hotspot section adds 热点核查率 and the
        feedback of each hotspot (its records about ``hotspots_checked``).
    lang : {"zh", "en"}
        Report language.

    Notes
    -----
    The layers of the three files have distinct names; all of them land in ``data.extra``
    (the first file's main layer is also ``data.main``). With no file the report says so.
    """
    paths = {"hotspots": hotspots, "burned": burned, "coverage": coverage}

    def load() -> ReportData:
        loaded = []
        for role, kind in _INPUTS:
            path = paths[role]
            if path is not None:
                loaded.append(load_results(path, kind))
        if not loaded:
            raise ReportInputError(_w("no_input", "en"), zh=_w("no_input", "zh"))
        extra: dict[str, pd.DataFrame] = {}
        for data in loaded:
            extra |= {LAYERS[data.kind][0]: data.main, **data.extra}
        found = pd.concat([d.findings for d in loaded], ignore_index=True)
        source = "; ".join(d.source for d in loaded)
        records = None if field is None else load_field_records(field, layer="hotspots_checked")
        return dataclasses.replace(
            loaded[0], extra=extra, findings=found, source=source, field=records
        )

    return open_report("fire", lang, load)


def _bjt(values: pd.Series) -> pd.Series:
    """UTC times → Beijing time text to the minute (— when missing)."""
    times = pd.to_datetime(values, utc=True, errors="coerce")
    shown = times.dt.tz_convert(BEIJING).dt.strftime("%Y-%m-%d %H:%M")
    return shown.fillna("—")


def _verdict_names(lang: str) -> dict[str, str]:
    """Verdict code → name, from the hotspot map style (one list of names)."""
    en = lang == "en"
    return {code: (zh, eng)[en] for code, (_, zh, eng) in HOTSPOTS.colors.items()}


def verdict_table(hotspots: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Return hotspots per verdict (in the rules' order) with their highest priority."""
    names = _verdict_names(lang)
    grouped = hotspots.groupby("fire_kind", sort=False).agg(
        count=("hotspot_id", "size"), field_priority=("field_priority", "min")
    )
    order = [k for k in names if k in grouped.index] + [k for k in grouped.index if k not in names]
    table = grouped.loc[order].reset_index()
    verdict = table.pop("fire_kind").map(lambda k: names.get(k, k))
    return table.assign(verdict=verdict)[["verdict", "count", "field_priority"]]


_AREAS = ("district", "township", "forest_chief")
"""Where a hotspot or event lies: ``—`` when it lies in none."""


def _priority_table(
    rows: pd.DataFrame, order: list[str], columns: dict[str, str], lang: str
) -> pd.DataFrame:
    """Return ``rows`` sorted by ``order`` as the table ``columns`` names (shown → column).

    The verdict (``fire_kind``) is named in ``lang``, ``*_utc`` times are shown in Beijing
    time, and a missing district, township or forest chief is ``—``.
    """
    names = _verdict_names(lang)
    rows = rows.sort_values(order, kind="stable")
    table = {}
    for shown, column in columns.items():
        values = rows[column]
        if column == "fire_kind":
            values = values.map(lambda k: names.get(k, k))
        elif column.endswith("_utc"):
            values = _bjt(values)
        elif column in _AREAS:
            values = values.fillna("—")
        table[shown] = values
    return pd.DataFrame(table).reset_index(drop=True)


def hotspot_list(hotspots: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Return every hotspot by field priority, then feedback deadline."""
    columns = {
        "hotspot_id": "hotspot_id",
        "verdict": "fire_kind",
        "field_priority": "field_priority",
        "feedback_hours": "feedback_hours",
        "detected": "detected_utc",
        "feedback_due": "feedback_due_utc",
        "event_id": "event_id",
        **{area: area for area in _AREAS},
    }
    order = ["field_priority", "feedback_due_utc", "hotspot_id"]
    return _priority_table(hotspots, order, columns, lang)


def event_list(events: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Return the fire events by field priority, then first detection."""
    columns = {
        "event_id": "event_id",
        "verdict": "fire_kind",
        "n_hotspots": "n_hotspots",
        "event_days": "event_days",
        "first_seen": "event_first_utc",
        "last_seen": "event_last_utc",
        "field_priority": "field_priority",
        "district": "district",
        "forest_chief": "forest_chief",
        "hotspot_ids": "hotspot_ids",
    }
    return _priority_table(events, ["field_priority", "event_first_utc"], columns, lang)


_FEEDBACK_WORDS = {  # gis.verify.status.FEEDBACK
    "on_time": ("按时", "on time"),
    "late": ("超时", "late"),
    "missing": ("未反馈", "missing"),
    "no_deadline": ("无时限", "no deadline"),
}


def feedback_table(hotspots: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """Return each hotspot's feedback (:func:`gis.verify.status.hotspot_feedback`) by id."""
    features = pd.DataFrame(
        {
            "layer": "hotspots_checked",
            "feature_id": hotspots["hotspot_id"].astype(str),
            "detected_utc": hotspots["detected_utc"],
            "feedback_due_utc": hotspots["feedback_due_utc"],
        }
    )
    return hotspot_feedback(features, log).set_index("feature_id")


def _with_field(rows: pd.DataFrame, rep: Report) -> pd.DataFrame:
    """Add the field verdict and the feedback of each hotspot to the hotspot list."""
    assert rep.data is not None and rep.data.field is not None
    lang = str(rep.lang)
    spots = rep.data.extra["hotspots_checked"]
    got = feedback_table(spots, rep.data.field.log)
    last = rep.data.field.field.set_index("feature_id")
    ids = rows["hotspot_id"].astype(str)
    en = lang == "en"
    yes_no = {True: ("是", "yes")[en], False: ("否", "no")[en]}
    fire = ids.map(last["is_fire"].astype(object).to_dict() if len(last) else {})
    fire_type = ids.map(last["fire_type"].to_dict() if len(last) else {})
    names = _verdict_names(lang)
    return rows.assign(
        field_fire=fire.map(lambda v: yes_no.get(v, "—") if pd.notna(v) else "—"),
        field_fire_type=fire_type.map(lambda k: names.get(k, k) if pd.notna(k) else "—"),
        feedback=ids.map(got["feedback"]).map(lambda k: _FEEDBACK_WORDS[k][en]),
        feedback_h=ids.map(got["feedback_h"]),
    )


def _rate_parts(rep: Report) -> tuple[list[tuple[str, str, object, str]], list[Block]]:
    """Figures and the per-area table of 热点核查率 and feedback (none without a store)."""
    assert rep.data is not None
    if rep.data.field is None:
        return [], []
    lang = str(rep.lang)
    spots = rep.data.extra["hotspots_checked"]
    rate = verification_rate(spots, rep.data.field.latest, id_column="hotspot_id", levels=LEVELS)
    got = feedback_table(spots, rep.data.field.log)
    median = got["feedback_h"].median()
    items: list[tuple[str, str, object, str]] = [
        ("hotspot_rate", _w("hotspot_rate", lang), f"{rate['verified_rate'].iloc[0]:.1%}", ""),
        *[
            (f"{k}_n", _w(f"{k}_n", lang), int((got["feedback"] == k).sum()), "")
            for k in ("on_time", "late", "missing")
        ],
        ("feedback_median", _w("feedback_median", lang),
         "—" if pd.isna(median) else round(float(median), 1), ""),
    ]  # fmt: skip
    table = rate_table(rate, rep, key="hotspot_rate", title=_w("hotspot_rate_table", lang))
    return items, [table]


def _missing(rep: Report, layer: str, words_key: str, heading: str) -> Section | None:
    """Return the section saying ``layer`` was not given, or holds no row; None to show it."""
    assert rep.data is not None
    frame = rep.data.extra.get(layer)
    if frame is not None and len(frame):
        return None
    given = frame is not None  # given, but empty: nothing found, not an error
    return blocks.section(
        blocks.heading(_w(heading, rep.lang)),
        blocks.message(
            _w(f"{words_key}_rows" if given else words_key, rep.lang),
            severity="info" if given else "warning",
        ),
    )


@when_ok
def hotspot_section(rep: Report) -> Section:
    """Hotspots by verdict, the list by priority and deadline, the fire events."""
    assert rep.data is not None
    lang = str(rep.lang)
    missing = _missing(rep, "hotspots_checked", "no_hotspots", "hotspots")
    if missing is not None:
        return missing
    spots, events = rep.data.extra["hotspots_checked"], rep.data.extra["fire_events"]
    items = [
        ("hotspots_n", _w("hotspots_n", lang), len(spots), ""),
        ("events_n", _w("events_n", lang), len(events), ""),
        (
            "forest_fire_n",
            _w("forest_fire_n", lang),
            int((spots["fire_kind"] == "forest_fire").sum()),
            "",
        ),
        ("urgent_n", _w("urgent_n", lang), int((spots["field_priority"] == 1).sum()), ""),
    ]
    verdicts = verdict_table(spots, lang)
    chart = figures.bar_chart(
        verdicts, label="verdict", value="count", title=_w("by_verdict_chart", lang), lang=lang
    )
    spot_rows, event_rows = hotspot_list(spots, lang), event_list(events, lang)
    rate_items, rate_blocks = _rate_parts(rep)
    if rep.data.field is not None:
        spot_rows = _with_field(spot_rows, rep)
    return blocks.section(
        blocks.heading(_w("hotspots", lang)),
        blocks.figures(items + rate_items),
        *rate_blocks,
        blocks.table(
            verdicts,
            title=_w("by_verdict", lang),
            headers=_h(verdicts, lang),
            key="hotspot_verdicts",
        ),
        blocks.image(figures.png(chart), title=_w("by_verdict_chart", lang)),
        blocks.table(
            spot_rows, title=_w("hotspot_list", lang), headers=_h(spot_rows, lang), key="hotspots"
        ),
        blocks.table(
            event_rows,
            title=_w("event_list", lang),
            headers=_h(event_rows, lang),
            key="fire_events",
        ),
    )


def severity_table(scars: pd.DataFrame, severity: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Return the area of each severity class (sums of the scars' ``severityN_ha``), ha and 亩."""
    name = "severity_en" if lang == "en" else "severity_zh"
    rows = []
    for code, label in severity[["severity", name]].itertuples(index=False):
        column = f"severity{int(code)}_ha"
        if column in scars.columns:
            area = float(scars[column].sum())
            rows.append({"severity": label, "area_ha": area, "area_mu": area * HA_TO_MU})
    return pd.DataFrame(rows, columns=["severity", "area_ha", "area_mu"])


def _area_table(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    columns = [by, "fire_area_ha", "fire_area_mu", "forest_area_ha", "forest_area_mu"]
    return frame[columns].sort_values("forest_area_ha", ascending=False, kind="stable")


@when_ok
def burned_section(rep: Report) -> Section:
    """Show the 森林火灾 report table, areas per district and forest chief, severity classes."""
    assert rep.data is not None
    lang = str(rep.lang)
    missing = _missing(rep, "fire_report", "no_burned", "burned")
    if missing is not None:
        return missing
    extra = rep.data.extra
    scars = extra["fire_scars"]
    grade = "grade_en" if lang == "en" else "grade_zh"
    forest_ha = float(scars["forest_area_ha"].sum())
    items = [
        ("fire_area_ha", _w("fire_area_total", lang), float(scars["fire_area_ha"].sum()), ""),
        ("forest_area_ha", _w("forest_area_total", lang), forest_ha, ""),
        (
            "forest_area_mu",
            _w("forest_area_total_mu", lang),
            float(scars["forest_area_mu"].sum()),
            "",
        ),
        ("grade", _w("grade", lang), "; ".join(scars[grade].dropna().unique()) or "—", ""),
    ]
    report = extra["fire_report"][["item", "value", "unit", "note"]]
    districts = _area_table(extra["burned_by_district"], "district")
    chiefs = _area_table(extra["burned_by_forest_chief"], "forest_chief")
    severity = severity_table(scars, extra["burn_severity"], lang)
    parts: list[Block | None] = [
        blocks.heading(_w("burned", lang)),
        blocks.figures(items),
        blocks.table(
            report, title=_w("fire_report_table", lang), headers=_h(report, lang), key="fire_report"
        ),
        blocks.table(
            districts,
            title=_w("by_district", lang),
            headers=_h(districts, lang),
            key="burned_by_district",
        ),
        blocks.table(
            chiefs,
            title=_w("by_forest_chief", lang),
            headers=_h(chiefs, lang),
            key="burned_by_forest_chief",
        ),
        blocks.table(
            severity,
            title=_w("severity_table", lang),
            headers=_h(severity, lang),
            key="burn_severity",
        ),
    ]
    if len(severity):
        chart = figures.bar_chart(
            severity, label="severity", value="area_ha", title=_w("severity_chart", lang), lang=lang
        )
        parts.append(blocks.image(figures.png(chart), title=_w("severity_chart", lang)))
    return blocks.section(*parts)


def _summary(summary: pd.DataFrame) -> dict[str, float]:
    return {str(k): float(v) for k, v in summary[["item", "value"]].itertuples(index=False)}


@when_ok
def coverage_section(rep: Report) -> Section:
    """Share of forest land seen, per 防火重点区域, and the blind areas ranked."""
    assert rep.data is not None
    lang = str(rep.lang)
    missing = _missing(rep, "coverage_summary", "no_coverage", "coverage")
    if missing is not None:
        return missing
    extra = rep.data.extra
    s = _summary(extra["coverage_summary"])
    items = [
        ("forest_seen_share", _w("forest_seen", lang), f"{s['forest_seen_share']:.2%}", ""),
        ("forest_seen_ha", _w("forest_seen_ha", lang), s["forest_seen_ha"], ""),
        ("blind_ha", _w("blind_ha", lang), s["blind_ha"], ""),
        ("towers_used", _w("towers_used", lang), f"{s['towers_used']:.0f} / {s['towers']:.0f}", ""),
    ]
    zones = extra["fire_zone_coverage"][
        ["name", "fire_level", "area_ha", "seen_share", "forest_seen_share"]
    ]
    blind = extra["blind_areas"][["rank", "blind_id", "risk_class", "area_ha", "area_mu"]]
    shares = ("seen_share", "forest_seen_share")
    parts: list[Block | None] = [
        blocks.heading(_w("coverage", lang)),
        blocks.figures(items),
        blocks.table(
            zones,
            title=_w("zone_table", lang),
            headers=_h(zones, lang),
            percent=shares,
            key="fire_zones",
        ),
    ]
    charted = zones[zones["forest_seen_share"].notna()]
    if len(charted):
        chart = figures.bar_chart(
            charted, label="name", value="forest_seen_share", title=_w("zone_chart", lang),
            lang=lang, percent=True,
        )  # fmt: skip
        parts.append(blocks.image(figures.png(chart), title=_w("zone_chart", lang)))
    parts.append(
        blocks.table(
            blind.sort_values("rank"),
            title=_w("blind_table", lang),
            headers=_h(blind, lang),
            key="blind_areas",
        )
    )
    return blocks.section(*parts)


_MAP_LAYERS = (
    "blind_areas",
    "burn_severity",
    "fire_scars",
    "fire_events",
    "towers",
    "hotspots_checked",
)


@when_ok
def fire_map(rep: Report) -> Section:
    """Show a static map of the hotspots (also in Word) and the map of every fire layer."""
    assert rep.data is not None
    lang = str(rep.lang)
    extra = rep.data.extra
    layers: Mapping[str, gpd.GeoDataFrame] = {
        n: extra[n] for n in _MAP_LAYERS if isinstance(extra.get(n), gpd.GeoDataFrame)
    }
    parts: list[Block | None] = [blocks.heading(_w("map", lang))]
    spots = layers.get("hotspots_checked")
    if spots is not None and len(spots):
        fig = figures.category_map(
            spots, column="fire_kind", names=_verdict_names(lang), title=_w("map_static", lang),
            lang=lang, outline=layers.get("fire_events"),
        )  # fmt: skip
        parts.append(blocks.image(figures.png(fig), title=_w("map_static", lang)))
    styles = {**DEFAULT_STYLES, "hotspots_checked": HOTSPOTS}
    parts.append(field_map(layers, rep, title=_w("map_title", lang), styles=styles))
    return blocks.section(*parts)
