"""Sections of 变色立木监测核查报告 (notebooks/discolored_trees_report.ipynb).

Detections per stand / district / township / forest chief with density per ha, 点位核查率,
field outcomes (confirmed dead pine / other cause / not found), sampling status and lab
results — only a lab test confirms pine wilt — and a static map of the points.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

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

KIND = "pest_points"
FIELD_OUTCOMES = ("confirmed_dead_pine", "other_cause", "not_found")
LAB_OUTCOMES = ("lab_positive", "lab_negative")

WORDS: dict[str, tuple[str, str]] = {
    "summary": ("一、监测概况", "1. Overview"),
    "tables": ("二、变色立木分布", "2. Where the trees are"),
    "rate": ("三、点位核查率", "3. Point verification rate"),
    "outcomes": ("四、现地核查与检测结果", "4. Field outcomes and lab results"),
    "map": ("五、点位分布图", "5. Map of the points"),
    "points_n": ("变色立木点位", "Discolored tree points"),
    "new_n": ("本期新增点位", "New this round"),
    "stands_n": ("有变色立木的小班", "Stands with detections"),
    "host_n": ("寄主树种小班", "Host stands"),
    "host_ha": ("寄主小班面积（公顷）", "Host stand area (ha)"),
    "density": ("平均密度（株/公顷）", "Mean density (per ha)"),
    "image_date": ("影像日期", "Image date"),
    "by_stand": ("按小班（密度从高到低）", "Per stand (densest first)"),
    "by_district": ("按行政区", "Per district"),
    "by_township": ("按乡镇", "Per township"),
    "by_forest_chief": ("按林长", "Per forest chief"),
    "chart_chief": ("各林长责任区变色立木数量", "Points per forest chief"),
    "field_outcome": ("现地核查结果（每个点位的最新记录）", "Field outcome (latest per point)"),
    "sampling": ("取样情况", "Sampling"),
    "lab": (
        "检测结果（仅检测可确认松材线虫病）",
        "Lab results (only a lab test confirms pine wilt)",
    ),
    "visited": ("已现地核查点位", "Points visited"),
    "sampled": ("已取样", "Samples taken"),
    "tested": ("已出检测结果", "Samples tested"),
    "pending": ("待检测", "Awaiting lab"),
    "no_lab": ("尚无检测结果。", "No lab results yet."),
    "map_title": ("变色立木点位（按核查状态）", "Points by status"),
    "unit_n": ("个", ""),
    "stand_id": ("小班", "Stand"),
    "species": ("优势树种", "Species"),
    "stands": ("小班数", "Stands"),
    "stands_area_ha": ("所在小班面积（公顷）", "Area of their stands (ha)"),
    "status_from_results": (
        "核查率取自结果文件中的点位状态（未提供外业记录库）。",
        "Rate taken from the point status in the results file (no field store given).",
    ),
}


_VOCABULARY = Vocabulary(WORDS, kind=KIND)
_w, _h = _VOCABULARY.word, _VOCABULARY.headers


def open_discolored_report(
    results: PathLike,
    *,
    field: PathLike | None = None,
    district: str | None = None,
    lang: str = "zh",
) -> Report:
    """Open the discolored-tree report on a ``linyuan detect discolored`` results file.

    Parameters
    ----------
    results : path-like
        ``discolored.gpkg`` (layers discolored_points, stand_summary, verification, …).
    field : path-like, optional
        Field store with field visits and lab results (``linyuan verify import`` / ``lab``).
    district : str, optional
        Keep one district's points.
    lang : {"zh", "en"}
        Report language.
    """

    def load() -> ReportData:
        data = load_results(results, ResultsKind.DISCOLORED, district=district)
        return attach_field(data, field)

    return open_report("discolored", lang, load)


def _stands(rep: Report) -> pd.DataFrame:
    assert rep.data is not None
    return rep.data.extra["stand_summary"]


@when_ok
def discolored_summary(rep: Report) -> Section:
    """Key figures: points, new points, stands with detections, host area and density."""
    assert rep.data is not None
    lang, pts, stands = rep.lang, rep.data.main, _stands(rep)
    host_ha = float(stands["area_ha"].sum())
    new = int(pts["is_new"].astype(bool).sum()) if "is_new" in pts.columns else len(pts)
    dates = ", ".join(sorted(pts["image_date"].dropna().astype(str).unique())) or "—"
    n = _w("unit_n", lang)
    items = [
        ("points_n", _w("points_n", lang), len(pts), n),
        ("new_n", _w("new_n", lang), new, n),
        ("stands_n", _w("stands_n", lang), int(pts["stand_id"].nunique()), n),
        ("host_n", _w("host_n", lang), len(stands), n),
        ("host_ha", _w("host_ha", lang), host_ha, ""),
        ("density", _w("density", lang), len(pts) / host_ha if host_ha else float("nan"), ""),
        ("image_date", _w("image_date", lang), dates, ""),
    ]
    return blocks.section(blocks.heading(_w("summary", lang)), blocks.figures(items))


@when_ok
def discolored_tables(rep: Report) -> Section:
    """Show detections per stand, district, township and forest chief, with density per ha."""
    assert rep.data is not None
    lang, pts, stands = rep.lang, rep.data.main, _stands(rep)
    by_stand = tables.discolored_by_stand(stands[stands["stand_id"].isin(pts["stand_id"])])
    parts: list[blocks.Block | None] = [
        blocks.heading(_w("tables", lang)),
        blocks.table(
            by_stand, title=_w("by_stand", lang), headers=_h(by_stand, lang), key="by_stand"
        ),
    ]
    for by in ("district", "township", "forest_chief"):
        table = tables.discolored_by(pts, stands, by=by)
        if len(table):
            parts.append(
                blocks.table(
                    table, title=_w(f"by_{by}", lang), headers=_h(table, lang), key=f"by_{by}"
                )
            )
    chiefs = tables.discolored_by(pts, stands, by="forest_chief")
    if len(chiefs):
        chart = figures.bar_chart(
            chiefs, label="forest_chief", value="count", title=_w("chart_chief", lang), lang=lang
        )
        parts.append(blocks.image(figures.png(chart), title=_w("chart_chief", lang)))
    return blocks.section(*parts)


def _verified_points(rep: Report) -> pd.DataFrame | None:
    """Field records of the points, or (no field store) the points whose status is set."""
    assert rep.data is not None
    if rep.data.field is not None:
        return rep.data.field.latest
    pts = rep.data.main
    if "status" not in pts.columns:
        return None
    done = pts[pts["status"].notna() & (pts["status"].astype(str) != "unverified")]
    return pd.DataFrame({"feature_id": done["point_id"].astype(str)})


@when_ok
def point_verification(rep: Report) -> Section:
    """点位核查率 overall and per district, township, forest chief and stand."""
    assert rep.data is not None
    lang = rep.lang
    rate = tables.verification_rate(
        rep.data.main,
        _verified_points(rep),
        id_column="point_id",
        levels=("district", "township", "forest_chief", "stand_id"),
    )
    note = None
    if rep.data.field is None:
        note = blocks.section(
            no_field_message(rep), blocks.paragraph(_w("status_from_results", lang))
        )
    return blocks.section(
        blocks.heading(_w("rate", lang)),
        *(note.blocks if note else ()),
        rate_table(
            rate.assign(level=rate["level"].replace({"stand_id": "stand_id"})),
            rep,
            key="point_rate",
        ),
    )


@when_ok
def discolored_field_outcomes(rep: Report) -> Section:
    """Field outcomes of the latest visit, sampling status and lab results."""
    assert rep.data is not None
    lang = rep.lang
    head = blocks.heading(_w("outcomes", lang))
    if rep.data.field is None or rep.data.field.latest.empty:
        return blocks.section(head, no_field_message(rep))
    visits, lab = rep.data.field.field, rep.data.field.lab
    label = meaning(KIND, "status", lang)
    outcome = tables.value_counts(visits, "outcome", order=FIELD_OUTCOMES)
    outcome = outcome.assign(value=outcome["value"].map(label))
    results = tables.value_counts(lab, "outcome", order=LAB_OUTCOMES)
    results = results.assign(value=results["value"].map(label))
    sampled = _sampled(visits)
    tested = int(lab["feature_id"].isin(sampled).sum()) if len(lab) else 0
    n = _w("unit_n", lang)
    items = [
        ("visited", _w("visited", lang), len(visits), n),
        ("sampled", _w("sampled", lang), len(sampled), n),
        ("tested", _w("tested", lang), tested, n),
        ("pending", _w("pending", lang), len(sampled) - tested, n),
    ]
    return blocks.section(
        head,
        blocks.table(
            outcome,
            title=_w("field_outcome", lang),
            headers=_h(outcome, lang),
            percent=("share",),
            key="field_outcome",
        ),
        blocks.heading(_w("sampling", lang), level=3),
        blocks.figures(items),
        blocks.heading(_w("lab", lang), level=3),
        blocks.table(results, headers=_h(results, lang), percent=("share",), key="lab_results")
        if len(results)
        else blocks.paragraph(_w("no_lab", lang)),
    )


def _sampled(visits: pd.DataFrame) -> set[str]:
    if "sample_taken" not in visits.columns:
        return set()
    taken = visits["sample_taken"].map(lambda v: str(v).lower() in ("true", "1", "1.0", "是"))
    return set(visits.loc[taken, "feature_id"].astype(str))


@when_ok
def discolored_map(rep: Report) -> Section:
    """Show the points by status over their host stands: static (also in Word) and the field map."""
    assert rep.data is not None
    lang, pts = rep.lang, rep.data.main
    status = pts["status"].astype(str) if "status" in pts.columns else "unverified"
    if rep.data.field is not None and not rep.data.field.latest.empty:
        latest = rep.data.field.latest.set_index("feature_id")["outcome"]
        status = pts["point_id"].astype(str).map(latest).fillna(status)
    frame = gpd.GeoDataFrame(pts.assign(shown=status), geometry=pts.geometry)
    names = {c: meaning(KIND, "status", lang)(c) for c in frame["shown"].unique()}
    stands = _stands(rep)
    outline = (
        stands[stands["stand_id"].isin(pts["stand_id"])]
        if isinstance(stands, gpd.GeoDataFrame)
        else None
    )
    fig = figures.category_map(
        frame, column="shown", names=names, title=_w("map_title", lang), lang=lang, outline=outline
    )
    shown = frame.assign(status=frame["shown"]).drop(columns="shown")  # the map's colours
    return blocks.section(
        blocks.heading(_w("map", lang)),
        blocks.image(figures.png(fig), title=_w("map_title", lang)),
        field_map({"discolored_points": shown}, rep, title=_w("map_title", lang)),
    )
