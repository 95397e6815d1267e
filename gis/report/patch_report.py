"""Sections of 森林督查图斑核查报告 (notebooks/patch_verification_report.ipynb).

The shape follows a county's self-check report: 基本情况 (patches, area, townships and villages
touched) → 自查结果 (per legality class: n, 公顷, 亩) → breakdown by legality × change type ×
核实变化原因 → 核查率 → suspected-illegal list by priority with reasons → overview map →
desk verdict vs field verdict.
"""

from __future__ import annotations

import pandas as pd

from gis.charts import Lang
from gis.report import blocks, figures, tables
from gis.report.blocks import Section
from gis.report.common import (
    PathLike,
    Report,
    Vocabulary,
    field_map,
    meaning,
    no_field_message,
    open_report,
    rate_table,
    when_ok,
)
from gis.report.data import ReportData, ResultsKind, attach_field, load_results

KIND = "change_patches"

WORDS: dict[str, tuple[str, str]] = {
    "overview": ("一、基本情况", "1. Overview"),
    "self_check": ("二、自查结果", "2. Results of the check"),
    "breakdown": ("三、按合法性、变化类型与核实变化原因统计", "3. By legality, change and cause"),
    "rate": ("四、核查率", "4. Verification rate"),
    "illegal": ("五、疑似违法图斑清单（按核查优先级）", "5. Suspected illegal patches by priority"),
    "map": ("六、图斑分布图", "6. Overview map"),
    "field": ("七、外业核查结果（内业判定与现地核实对照）", "7. Field outcome: desk vs field"),
    "patches_n": ("下发图斑", "Patches delivered"),
    "total_ha": ("图斑总面积（公顷）", "Total area (ha)"),
    "total_mu": ("图斑总面积（亩）", "Total area (mu)"),
    "district_n": ("涉及行政区", "Districts touched"),
    "township_n": ("涉及乡镇", "Townships touched"),
    "village_n": ("涉及村", "Villages touched"),
    "batches": ("批次", "Batches"),
    "illegal_n": ("疑似违法图斑", "Suspected illegal patches"),
    "illegal_mu": ("疑似违法面积（亩）", "Suspected illegal area (mu)"),
    "illegal_ha": ("疑似违法面积（公顷）", "Suspected illegal area (ha)"),
    "no_change_n": ("无变化图斑", "No-change patches"),
    "no_change_ha": ("无变化面积（公顷）", "No-change area (ha)"),
    "no_change_mu": ("无变化面积（亩）", "No-change area (mu)"),
    "not_forest_n": ("前地类非林地图斑", "Earlier land class not forest land"),
    "not_forest_ha": ("前地类非林地面积（公顷）", "Not forest land: area (ha)"),
    "not_forest_mu": ("前地类非林地面积（亩）", "Not forest land: area (mu)"),
    "rate_all": ("核查率", "Verification rate"),
    "by_legality_chart": ("各类图斑面积（亩）", "Area per class (mu)"),
    "rate_chart": ("各行政区核查率", "Verification rate per district"),
    "map_title": ("图斑分布（按合法性）", "Patches by legality"),
    "no_illegal": ("本批次无疑似违法图斑。", "No suspected illegal patches in this batch."),
    "compared": ("已核查并对照图斑", "Verified patches compared"),
    "real_agree": ("是否真实变化一致率", "Agreement on real change"),
    "cause_agree": ("核实变化原因一致率", "Agreement on cause"),
    "agree_table": ("内业与外业不一致的图斑", "Patches where desk and field differ"),
    "all_agree": ("内业判定与外业核实全部一致。", "Desk and field verdicts all agree."),
    "unit_n": ("个", ""),
    "verified_cause_code": ("核实变化原因", "Verified cause"),
    "desk_real_change": ("内业：真实变化", "Desk: real change"),
    "field_real_change": ("外业：真实变化", "Field: real change"),
    "desk_cause": ("内业：变化原因", "Desk: cause"),
    "field_cause": ("外业：变化原因", "Field: cause"),
    "real_change_agrees": ("变化一致", "Change agrees"),
    "cause_agrees": ("原因一致", "Cause agrees"),
}


_VOCABULARY = Vocabulary(WORDS, kind=KIND)
_w, _h = _VOCABULARY.word, _VOCABULARY.headers


def open_patch_report(
    results: PathLike,
    *,
    field: PathLike | None = None,
    batch: str | None = None,
    district: str | None = None,
    lang: str = "zh",
) -> Report:
    """Open the patch verification report on a ``linyuan check patches`` results file.

    Parameters
    ----------
    results : path-like
        ``patches_checked.gpkg`` (layers patches_checked, findings, run).
    field : path-like, optional
        Field store of ``linyuan verify import``; without it the report says there are no
        field records yet.
    batch, district : str, optional
        Keep one batch (期) / one district.
    lang : {"zh", "en"}
        Report language.
    """

    def load() -> ReportData:
        data = load_results(results, ResultsKind.PATCHES, batch=batch, district=district)
        return attach_field(data, field)

    return open_report("patches", lang, load)


def _latest(rep: Report) -> pd.DataFrame | None:
    assert rep.data is not None
    return None if rep.data.field is None else rep.data.field.latest


def _field_visits(rep: Report) -> pd.DataFrame | None:
    assert rep.data is not None
    return None if rep.data.field is None else rep.data.field.field


def _overview_items(p: pd.DataFrame, lang: Lang) -> list[tuple[str, str, object, str]]:
    ov = tables.patch_overview(p)
    n = _w("unit_n", lang)
    return [
        ("patches_n", _w("patches_n", lang), ov["count"], n),
        ("total_ha", _w("total_ha", lang), ov["area_ha"], ""),
        ("total_mu", _w("total_mu", lang), ov["area_mu"], ""),
        ("district_n", _w("district_n", lang), ov["district_n"], n),
        ("township_n", _w("township_n", lang), ov["township_n"], n),
        ("village_n", _w("village_n", lang), ov["village_n"], n),
        ("batches", _w("batches", lang), ov["batches"], ""),
    ]


RESULT_CLASSES = (
    ("no_change", "no_change"),
    ("not_forest", "not_forest_land"),
    ("illegal", "suspected_illegal"),
)
"""Key-figure prefix → legality class, in the order of a county's 自查结果."""


def _result_items(rep: Report) -> list[tuple[str, str, object, str]]:
    assert rep.data is not None
    p, lang = rep.data.main, rep.lang
    items: list[tuple[str, str, object, str]] = []
    for prefix, legality in RESULT_CLASSES:
        ca = tables.count_area(p[p["legality"] == legality])
        items += [
            (f"{prefix}_n", _w(f"{prefix}_n", lang), ca["count"], _w("unit_n", lang)),
            (f"{prefix}_ha", _w(f"{prefix}_ha", lang), ca["area_ha"], ""),
            (f"{prefix}_mu", _w(f"{prefix}_mu", lang), ca["area_mu"], ""),
        ]
    rate = tables.verification_rate(p, _latest(rep), id_column="patch_id", levels=())
    items.append(("rate_all", _w("rate_all", lang), f"{rate['verified_rate'].iloc[0]:.1%}", ""))
    return items


@when_ok
def patch_summary(rep: Report) -> Section:
    """Show 基本情况 and 自查结果: key figures, the per-legality table and its chart."""
    assert rep.data is not None
    p, lang = rep.data.main, rep.lang
    check = tables.self_check(p)
    shown = check.assign(legality=check["legality"].map(meaning(KIND, "legality", lang)))
    chart = figures.bar_chart(
        shown,
        label="legality",
        value="area_mu",
        title=_w("by_legality_chart", lang),
        lang=lang,
        colours=[figures.FIXED_COLOURS.get(str(c), "#2e7d32") for c in check["legality"]],
    )
    return blocks.section(
        blocks.heading(_w("overview", lang)),
        blocks.figures(_overview_items(p, lang)),
        blocks.heading(_w("self_check", lang)),
        blocks.figures(_result_items(rep)),
        blocks.table(shown, headers=_h(shown, lang), key="self_check"),
        blocks.image(figures.png(chart), title=_w("by_legality_chart", lang)),
    )


@when_ok
def patch_breakdown(rep: Report) -> Section:
    """Show counts, 公顷 and 亩 by legality × change type × 核实变化原因."""
    assert rep.data is not None
    lang = rep.lang
    table = tables.legality_breakdown(rep.data.main)
    for col in ("legality", "change_type", "verified_cause_code"):
        table[col] = table[col].map(meaning(KIND, col, lang))
    return blocks.section(
        blocks.heading(_w("breakdown", lang)),
        blocks.table(table, headers=_h(table, lang), key="breakdown"),
    )


@when_ok
def patch_verification(rep: Report) -> Section:
    """Show 核查率 overall and per batch (when several), district, township, forest chief."""
    assert rep.data is not None
    lang, latest = rep.lang, _latest(rep)
    p = rep.data.main
    several = "batch" in p.columns and p["batch"].nunique() > 1
    levels = ("batch", *tables.LEVELS) if several else tables.LEVELS
    rate = tables.verification_rate(p, latest, id_column="patch_id", levels=levels)
    districts = rate[rate["level"] == "district"]
    chart = figures.bar_chart(
        districts,
        label="key",
        value="verified_rate",
        title=_w("rate_chart", lang),
        lang=lang,
        percent=True,
    )
    return blocks.section(
        blocks.heading(_w("rate", lang)),
        no_field_message(rep) if latest is None or latest.empty else None,
        rate_table(rate, rep, key="verification_rate"),
        blocks.image(figures.png(chart), title=_w("rate_chart", lang)) if len(districts) else None,
    )


@when_ok
def suspected_illegal_list(rep: Report) -> Section:
    """List the suspected-illegal patches, priority first, with their reasons."""
    assert rep.data is not None
    lang = rep.lang
    rows = tables.suspected_illegal(rep.data.main)
    if rows.empty:
        return blocks.section(
            blocks.heading(_w("illegal", lang)), blocks.paragraph(_w("no_illegal", lang))
        )
    shown = rows.assign(
        change_type=rows["change_type"].map(meaning(KIND, "change_type", lang)),
        field_priority=rows["field_priority"].map(meaning(KIND, "field_priority", lang)),
    )
    return blocks.section(
        blocks.heading(_w("illegal", lang)),
        blocks.table(shown, headers=_h(shown, lang), key="suspected_illegal"),
    )


@when_ok
def patch_map(rep: Report) -> Section:
    """Show an overview map of the patches by legality: static (also in Word) and the field map."""
    assert rep.data is not None
    lang = rep.lang
    p = rep.data.main
    names = {c: meaning(KIND, "legality", lang)(c) for c in p["legality"].dropna().unique()}
    fig = figures.category_map(
        p, column="legality", names=names, title=_w("map_title", lang), lang=lang
    )
    return blocks.section(
        blocks.heading(_w("map", lang)),
        blocks.image(figures.png(fig), title=_w("map_title", lang)),
        field_map({"patches_checked": p}, rep, title=_w("map_title", lang)),
    )


@when_ok
def patch_field_outcome(rep: Report) -> Section:
    """Desk verdict vs field verdict: agreement on real change and on the cause code."""
    assert rep.data is not None
    lang, latest = rep.lang, _field_visits(rep)
    head = blocks.heading(_w("field", lang))
    if latest is None or latest.empty:
        return blocks.section(head, no_field_message(rep))
    agreement = tables.field_agreement(rep.data.main, latest)
    summary = tables.agreement_summary(agreement)
    items = [
        ("compared", _w("compared", lang), int(summary["compared"]), _w("unit_n", lang)),
        ("real_agree", _w("real_agree", lang), _pct(summary["real_change_agrees_rate"]), ""),
        ("cause_agree", _w("cause_agree", lang), _pct(summary["cause_agrees_rate"]), ""),
    ]
    differ = agreement[(agreement["real_change_agrees"] == 0) | (agreement["cause_agrees"] == 0)]
    for col in ("desk_cause", "field_cause"):
        differ = differ.assign(**{col: differ[col].map(meaning(KIND, "verified_cause_code", lang))})
    body = (
        blocks.table(
            differ, title=_w("agree_table", lang), headers=_h(differ, lang), key="disagree"
        )
        if len(differ)
        else blocks.paragraph(_w("all_agree", lang))
    )
    return blocks.section(head, blocks.figures(items), body)


def _pct(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:.1%}"


__all__ = [
    "open_patch_report",
    "patch_breakdown",
    "patch_field_outcome",
    "patch_map",
    "patch_summary",
    "patch_verification",
    "suspected_illegal_list",
]
