"""Sections of 绿化工作完成情况 (notebooks/greening_kpi_report.ipynb).

The KPI table against targets with rates and flags (✓ met, ✗ not met, — no value), every
indicator per district, charts per district and progress gauges (:mod:`gis.charts`), park
service coverage (公园绿地服务半径覆盖率) per district and the ranked underserved areas.
"""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import pandas as pd

from gis.charts import Lang, district_bars, progress_gauges
from gis.report import blocks, figures, tables
from gis.report.blocks import Section
from gis.report.common import PathLike, Report, Vocabulary, open_report, when_ok
from gis.report.data import ReportData, ResultsKind, load_results
from gis.targets import INDICATORS, unit_label

CITY = "全市"
UNDERSERVED_TOP = 20

WORDS: dict[str, tuple[str, str]] = {
    "kpi": ("一、目标完成情况", "1. Progress against targets"),
    "all_kpi": ("二、各区指标完成情况", "2. Indicators per district"),
    "charts": ("三、图表", "3. Charts"),
    "coverage": ("四、公园绿地服务半径覆盖率", "4. Park service coverage"),
    "underserved": ("五、服务不足的居住区（按未覆盖人口排序）", "5. Underserved areas, ranked"),
    "targets": ("有目标的指标", "Indicators with a target"),
    "met_n": ("已完成", "Met"),
    "not_met_n": ("未完成", "Not met"),
    "unknown_n": ("无完成数据", "No actual value"),
    "unit_n": ("项", ""),
    "no_coverage": (
        (
            "未提供服务半径覆盖率结果：用 `linyuan greenery coverage … --out COVERAGE.gpkg` "
            "计算后，以 --coverage 传入。"
        ),
        (
            "No coverage results given: compute them with `linyuan greenery coverage … --out "
            "COVERAGE.gpkg` and pass --coverage."
        ),
    ),
    "city_coverage": ("全市服务半径覆盖率", "City park service coverage"),
    "target_pct": ("目标（%）", "Target (%)"),
    "service_share": ("服务半径覆盖率", "Service coverage"),
    "green_300_share": ("300米见绿", "Green space within 300 m"),
    "park_500_share": ("500米见园", "Park within 500 m"),
    "coverage_chart": ("各区公园绿地服务半径覆盖率", "Park service coverage per district"),
    "underserved_map": ("服务不足居住区：未覆盖人口", "Underserved areas: unserved population"),
    "label": ("指标", "Indicator"),
    "item": ("分项", "Item"),
    "covered_pct": ("已覆盖比例（%）", "Covered (%)"),
    "rank": ("排序", "Rank"),
}


_VOCABULARY = Vocabulary(WORDS)
_w, _h = _VOCABULARY.word, _VOCABULARY.headers


def open_greenery_report(
    results: PathLike,
    *,
    coverage: PathLike | None = None,
    district: str | None = None,
    lang: str = "zh",
) -> Report:
    """Open the greening report on ``linyuan greenery kpi`` (and ``coverage``) results.

    Parameters
    ----------
    results : path-like
        ``kpi.gpkg`` (layers kpi, findings, run).
    coverage : path-like, optional
        ``coverage.gpkg`` (layers coverage, underserved, findings, run).
    district : str, optional
        Keep one district's rows.
    lang : {"zh", "en"}
        Report language.
    """

    def load() -> ReportData:
        data = load_results(results, ResultsKind.KPI, district=district)
        if coverage is None:
            return data
        cov = load_results(coverage, ResultsKind.COVERAGE, district=district)
        extra = {**data.extra, "coverage": cov.main, **cov.extra}
        found = pd.concat([data.findings, cov.findings], ignore_index=True)
        return dataclasses.replace(data, extra=extra, findings=found)

    return open_report("greenery", lang, load)


def _kpi_shown(table: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    if lang is Lang.EN and "indicator" in table.columns:
        table = table.assign(label=table["indicator"].map(lambda i: INDICATORS[i].en))
    if "unit" in table.columns:  # 公里, 亩, 个 … — never the unit's code (km, mu, count)
        table = table.assign(unit=table["unit"].map(lambda u: unit_label(u, lang.value)))
    met = table["met"].map(lambda v: "—" if pd.isna(v) else ("✓" if v else "✗"))
    return table.assign(met=met)


@when_ok
def kpi_section(rep: Report) -> Section:
    """Targets with actual, rate and a flag; then every indicator per district."""
    assert rep.data is not None
    lang, kpi = rep.lang, rep.data.main
    flags = tables.kpi_flags(kpi)
    n = _w("unit_n", lang)
    items = [
        ("targets", _w("targets", lang), flags["targets"], n),
        ("met", _w("met_n", lang), flags["met"], n),
        ("not_met", _w("not_met_n", lang), flags["not_met"], n),
        ("unknown", _w("unknown_n", lang), flags["unknown"], n),
    ]
    targeted = kpi[kpi["target"].notna()]
    shown = _kpi_shown(targeted, lang)[
        ["district", "label", "item", "target", "actual", "unit", "rate", "met"]
    ]
    wide = _wide(_kpi_shown(kpi, lang))
    return blocks.section(
        blocks.heading(_w("kpi", lang)),
        blocks.figures(items),
        blocks.table(shown, headers=_h(shown, lang), percent=("rate",), key="kpi"),
        blocks.heading(_w("all_kpi", lang)),
        blocks.table(wide, headers=_h(wide, lang), key="kpi_by_district"),
    )


def _wide(kpi: pd.DataFrame) -> pd.DataFrame:
    """Actual value of each indicator (rows) per district (columns), the city last."""
    table = kpi.pivot_table(
        index=["label", "item", "unit"],
        columns="district",
        values="actual",
        aggfunc="first",
        sort=False,
    )
    cols = [c for c in table.columns if c != CITY] + [c for c in table.columns if c == CITY]
    return table[cols].reset_index()


@when_ok
def kpi_charts(rep: Report) -> Section:
    """Progress gauges of the city (or the district) and a bar chart per targeted indicator."""
    assert rep.data is not None
    lang, kpi = rep.lang, rep.data.main
    where = rep.data.district or CITY
    parts: list[blocks.Block | None] = [blocks.heading(_w("charts", lang))]
    if (kpi["district"] == where).any() and kpi[kpi["district"] == where]["target"].notna().any():
        parts.append(blocks.image(figures.png(progress_gauges(kpi, district=where, lang=lang))))
    for indicator in _charted(kpi):
        parts.append(blocks.image(figures.png(district_bars(kpi, indicator=indicator, lang=lang))))
    return blocks.section(*parts)


def _charted(kpi: pd.DataFrame) -> list[str]:
    """Return indicators with a target and values in two or more districts (no item)."""
    rows = kpi[(kpi["item"].fillna("") == "") & (kpi["district"] != CITY)]
    targeted = set(kpi.loc[kpi["target"].notna() & (kpi["item"].fillna("") == ""), "indicator"])
    counts = rows[rows["actual"].notna()].groupby("indicator")["district"].nunique()
    return [i for i in dict.fromkeys(rows["indicator"]) if i in targeted and counts.get(i, 0) >= 2]


@when_ok
def coverage_section(rep: Report) -> Section:
    """Park service coverage, 300 m green and 500 m park shares per district, target and flag."""
    assert rep.data is not None
    lang = rep.lang
    head = blocks.heading(_w("coverage", lang))
    if "coverage" not in rep.data.extra:
        return blocks.section(head, blocks.message(_w("no_coverage", lang), severity="warning"))
    table = tables.coverage_table(rep.data.extra["coverage"])
    table = table.assign(met=table["met"].map(lambda v: "—" if pd.isna(v) else ("✓" if v else "✗")))
    city = table[table["district"] == CITY]
    items = []
    if len(city):
        items.append(
            ("city_coverage", _w("city_coverage", lang), f"{city['service_share'].iloc[0]:.2%}", "")
        )
    districts = table[table["district"] != CITY]
    chart = figures.bar_chart(
        districts,
        label="district",
        value="service_share",
        title=_w("coverage_chart", lang),
        lang=lang,
        percent=True,
    )
    shares = ("service_share", "green_300_share", "park_500_share")
    return blocks.section(
        head,
        blocks.figures(items) if items else None,
        blocks.table(table, headers=_h(table, lang), percent=shares, key="coverage"),
        blocks.image(figures.png(chart), title=_w("coverage_chart", lang))
        if len(districts)
        else None,
    )


@when_ok
def underserved_section(rep: Report) -> Section:
    """Show the underserved residential areas ranked by unserved population, and a map."""
    assert rep.data is not None
    lang = rep.lang
    if "underserved" not in rep.data.extra:
        return Section()
    under = rep.data.extra["underserved"]
    if rep.data.district is not None and "district" in under.columns:
        under = under[under["district"] == rep.data.district]
    table = tables.underserved_table(under, top=UNDERSERVED_TOP)
    parts: list[blocks.Block | None] = [
        blocks.heading(_w("underserved", lang)),
        blocks.table(table, headers=_h(table, lang), key="underserved"),
    ]
    if isinstance(under, gpd.GeoDataFrame) and len(under):
        fig = figures.value_map(
            under, column="unserved_population", title=_w("underserved_map", lang), lang=lang
        )
        parts.append(blocks.image(figures.png(fig), title=_w("underserved_map", lang)))
    return blocks.section(*parts)
