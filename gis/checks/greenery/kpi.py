"""Greening KPIs per district and city for one year, against ``layers/targets.yaml``.

Inputs are canonical frames (read with ``gis.io.read_layer(..., kind=...)``) in the working
CRS: greenways (lines: ``status`` 建成/在建/规划, ``year``), parks (polygons: ``name``,
``category`` 综合公园/社区公园/专类公园/游园, ``status``, ``progress_pct``,
``open_for_sharing``, ``year_built``), villages (points or polygons: ``task_year``,
``greening_status`` tasked/done, ``demonstration``), optional afforestation polygons and
renewed streets (lines), each with ``year``, and districts (``district``).

Lengths and areas are measured in the working CRS with :mod:`gis.units`, lines and polygons
split at district boundaries (so the districts add up to the city; parts outside every district
count in the city only, with a finding). Counted features go to the district of their
representative point.

The ``kpi`` frame has one row per district × indicator (× item: park category or park name)
for the year: ``district, indicator, item, year, target, actual, unit, rate, met, reported``.
Every target is a minimum: ``met`` is ``actual >= target``; ``rate`` is ``actual / target``
(the report's 374 % is a rate of 3.74). ``reported`` is the figure the bureau published for the
year (targets file), shown on the city rows beside the computed ``actual``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.checks.greenery.districts import (
    CITY,
    OUTSIDE,
    assign_districts,
    district_names,
    require_geometry,
)
from gis.findings import Findings
from gis.targets import INDICATORS, Targets
from gis.units import area_ha, area_mu, length_km

KPI_COLUMNS = (
    "district",
    "indicator",
    "label",
    "item",
    "year",
    "target",
    "actual",
    "unit",
    "rate",
    "met",
    "reported",
)
"""Columns of the ``kpi`` frame, in order."""

UNCATEGORIZED = "未分类"
"""``item`` of parks without a category."""

POCKET = "游园"
BUILT, BUILDING, PLANNED = "建成", "在建", "规划"
_STATUS_INDICATOR = {
    BUILT: "greenway_km_built",
    BUILDING: "greenway_km_under_construction",
    PLANNED: "greenway_km_planned",
}
_PLAIN = (  # indicators shown for every district, zero when nothing counts
    "greenway_km_new",
    "greenway_km_built",
    "pocket_parks_new",
    "village_greening_done",
    "afforestation_mu",
    "parks_under_construction",
    "parks_opened_sharing",
    "parks_completed",
    "streets_renewed",
)
MEASURED = (
    *_PLAIN,
    "greenway_km_under_construction",
    "greenway_km_planned",
    "park_count",
    "park_area_ha",
    "park_progress_pct",
    "demonstration_villages",
)
"""Indicators computed from the layers; the others of a targets file are shown unmeasured."""


@dataclass
class KpiResult:
    """The ``kpi`` frame and the findings of the run."""

    kpi: pd.DataFrame
    findings: Findings = field(default_factory=Findings)


def _facts(district: Any, indicator: str, value: Any, item: Any = "") -> pd.DataFrame:
    return pd.DataFrame(
        {"district": district, "indicator": indicator, "item": item, "value": value}
    )


def _column(frame: pd.DataFrame, name: str, default: Any = np.nan) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series(default, index=frame.index)


def _year_is(frame: pd.DataFrame, name: str, year: int) -> pd.Series:
    return pd.to_numeric(_column(frame, name), errors="coerce").eq(year)


def _split(
    frame: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame | None,
    measure: Callable[[Any], Any],
    *,
    what: str,
    findings: Findings,
) -> pd.DataFrame:
    """Measure each feature per district (``_fid``, ``district``, ``value``); rest is OUTSIDE."""
    fid = np.arange(len(frame))
    total = np.asarray(measure(frame), dtype="f8") if len(frame) else np.zeros(0)
    if districts is None or len(frame) == 0:
        return pd.DataFrame({"_fid": fid, "district": CITY, "value": total})
    left = gpd.GeoDataFrame({"_fid": fid}, geometry=frame.geometry.values, crs=frame.crs)
    parts = gpd.overlay(left, districts[["district", "geometry"]], keep_geom_type=True)
    inside = pd.DataFrame(
        {"_fid": parts["_fid"], "district": parts["district"], "value": measure(parts)}
    )
    done = inside.groupby("_fid")["value"].sum().reindex(fid, fill_value=0.0).to_numpy()
    rest = total - done
    out = rest > 1e-6 * np.maximum(total, 1.0)
    if out.any():
        findings.add(
            "outside_districts",
            f"{int(out.sum())} features of {what} lie partly or wholly outside every district "
            f"({rest[out].sum():.3f} of {total.sum():.3f}); they count in the city total only — "
            "check that the districts layer covers the study area",
            source=what,
            zh=f"{what} 有 {int(out.sum())} 个要素部分或全部位于各区县之外"
            f"（{rest[out].sum():.3f} / {total.sum():.3f}）；只计入全市合计——"
            "请检查区县图层是否覆盖整个研究区",
        )
    outside = pd.DataFrame({"_fid": fid[out], "district": OUTSIDE, "value": rest[out]})
    return pd.concat([inside, outside], ignore_index=True)


def _greenway_facts(
    greenways: gpd.GeoDataFrame, districts: Any, year: int, findings: Findings
) -> pd.DataFrame:
    lines = require_geometry(greenways, "line", what="greenways (--greenways)")
    parts = _split(lines, districts, length_km, what="greenways", findings=findings)
    fid = parts["_fid"].to_numpy()
    status = _column(lines, "status").to_numpy()[fid]
    new = (_year_is(lines, "year", year) & (_column(lines, "status") == BUILT)).to_numpy()[fid]
    district, km = parts["district"].to_numpy(), parts["value"].to_numpy()
    frames = [_facts(district[new], "greenway_km_new", km[new])]
    for code, indicator in _STATUS_INDICATOR.items():
        sel = status == code
        frames.append(_facts(district[sel], indicator, km[sel]))
    return pd.concat(frames, ignore_index=True)


def _category(parks: gpd.GeoDataFrame, findings: Findings) -> pd.Series:
    cat = _column(parks, "category", None)
    missing = cat.isna() | (cat.astype(str).str.strip() == "")
    if missing.any():
        names = _column(parks, "name", "").astype(str)[missing].head(3).tolist()
        findings.add(
            "missing_category",
            f"{int(missing.sum())} parks have no category (e.g. {', '.join(names)}); they are "
            f"counted as {UNCATEGORIZED} and not as pocket parks — fill 公园类别 with 综合公园, "
            "社区公园, 专类公园 or 游园",
            field="category",
            zh=f"{int(missing.sum())} 个公园没有类别（如 {'、'.join(names)}）；按 {UNCATEGORIZED} "
            "计，不计为口袋公园——请在公园类别中填写综合公园、社区公园、专类公园或游园",
        )
    return cat.where(~missing, UNCATEGORIZED).astype(str)


def _park_facts(
    parks: gpd.GeoDataFrame, district: pd.Series, year: int, cat: pd.Series
) -> pd.DataFrame:
    status = _column(parks, "status")
    built = status.isna() | (status == BUILT)
    new = built & _year_is(parks, "year_built", year)
    building = status == BUILDING
    sharing = _column(parks, "open_for_sharing", False).fillna(False).astype(bool)
    d = district
    return pd.concat(
        [
            _facts(d[built], "park_count", 1.0, cat[built]),
            _facts(d[built], "park_area_ha", area_ha(parks[built]), cat[built]),
            _facts(d[new & (cat == POCKET)], "pocket_parks_new", 1.0),
            _facts(d[new & (cat != POCKET)], "parks_completed", 1.0),
            _facts(d[building], "parks_under_construction", 1.0),
            _facts(
                d[building],
                "park_progress_pct",
                pd.to_numeric(_column(parks, "progress_pct"), errors="coerce")[building],
                _column(parks, "name", "").astype(str)[building],
            ),
            _facts(d[sharing], "parks_opened_sharing", 1.0),
        ],
        ignore_index=True,
    )


def _village_facts(villages: gpd.GeoDataFrame, district: pd.Series, year: int) -> pd.DataFrame:
    in_year = _year_is(villages, "task_year", year)
    done = in_year & (_column(villages, "greening_status") == "done")
    demo = done & _column(villages, "demonstration", False).fillna(False).astype(bool)
    return pd.concat(
        [
            _facts(district[done], "village_greening_done", 1.0),
            _facts(district[demo], "demonstration_villages", 1.0),
            _facts(district[in_year], "_village_tasked", 1.0),
        ],
        ignore_index=True,
    )


def _yearly_facts(
    frame: gpd.GeoDataFrame | None,
    districts: Any,
    year: int,
    *,
    kind: tuple[str, str, str],
    findings: Findings,
) -> pd.DataFrame:
    """Afforestation 亩 (polygons) or renewed streets (lines, counted) of ``year``."""
    if frame is None:
        return _facts([], kind[2], [])
    family, what, indicator = kind
    frame = require_geometry(frame, family, what=what)
    frame = frame[_year_is(frame, "year", year)]
    if family == "polygon":
        parts = _split(frame, districts, area_mu, what=what, findings=findings)
        return _facts(parts["district"], indicator, parts["value"])
    if districts is None:
        return _facts(CITY, indicator, np.ones(len(frame)))
    where = assign_districts(frame, districts, what=what, findings=findings)
    return _facts(where, indicator, 1.0)


def _aggregate(
    facts: pd.DataFrame, names: list[str], targeted: list[str], absent: tuple[str, ...]
) -> pd.DataFrame:
    """Sum the facts per district and for the city.

    The plain indicators get zero rows where nothing counts; an indicator with a city target
    that no layer measures (e.g. villages_upgraded) gets a city row with no actual.
    """
    keys = ["indicator", "item"]
    local = facts[facts["district"] != CITY]  # CITY facts: no districts were given
    by_district = local.groupby(["district", *keys], sort=False)["value"].sum(min_count=1)
    city = facts.groupby(keys, sort=False)["value"].sum(min_count=1)
    city.index = pd.MultiIndex.from_tuples(
        [(CITY, *k) for k in city.index], names=["district", *keys]
    )
    table = pd.concat([by_district, city]).rename("actual")
    plain = [i for i in _PLAIN if i not in absent]
    grid = pd.MultiIndex.from_product([[*names, CITY], plain, [""]], names=table.index.names)
    missing = grid.difference(table.index)
    table = pd.concat([table, pd.Series(0.0, index=missing, name="actual")])
    unmeasured = pd.MultiIndex.from_tuples(
        [(CITY, i, "") for i in targeted if i not in MEASURED or i in absent],
        names=table.index.names,
    )
    table = pd.concat([table, pd.Series(np.nan, index=unmeasured, name="actual")])
    return table.reset_index()


def _target(row: pd.Series, targets: Targets, year: int, tasked: dict[str, float]) -> float:
    indicator, district = row["indicator"], row["district"]
    if indicator == "park_progress_pct":
        return 100.0
    if row["item"]:
        return np.nan
    found = targets.target(year, indicator, district=None if district == CITY else district)
    if found is None and indicator == "village_greening_done":
        found = tasked.get(district)  # the layer's own tasks of the year
    return np.nan if found is None else float(found)


def _attach_targets(table: pd.DataFrame, targets: Targets, year: int, lang: str) -> pd.DataFrame:
    tasked_rows = table[table["indicator"] == "_village_tasked"]
    tasked = dict(zip(tasked_rows["district"], tasked_rows["actual"], strict=True))
    table = table[table["indicator"] != "_village_tasked"].copy()
    table["year"] = year
    table["target"] = [_target(r, targets, year, tasked) for _, r in table.iterrows()]
    table["unit"] = [INDICATORS[i].unit for i in table["indicator"]]
    table["label"] = [getattr(INDICATORS[i], lang) for i in table["indicator"]]
    table["rate"] = table["actual"] / table["target"].where(table["target"] > 0)
    met = (table["actual"] >= table["target"]).astype("boolean")
    table["met"] = met.where(table["target"].notna() & table["actual"].notna())
    reported = [
        targets.reported(year, i) if d == CITY and not item else None
        for d, i, item in zip(table["district"], table["indicator"], table["item"], strict=True)
    ]
    table["reported"] = pd.to_numeric(pd.Series(reported, index=table.index), errors="coerce")
    return table


def _order(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    rank = {d: k for k, d in enumerate([*names, OUTSIDE, CITY])}
    indicators = {name: k for k, name in enumerate(INDICATORS)}
    key = table["district"].map(rank) * 1000 + table["indicator"].map(indicators)
    table = table.assign(_key=key).sort_values(["_key", "item"], kind="stable")
    return table[list(KPI_COLUMNS)].reset_index(drop=True)


def greenery_kpi(
    *,
    greenways: gpd.GeoDataFrame,
    parks: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    targets: Targets,
    year: int,
    districts: gpd.GeoDataFrame | None = None,
    afforestation: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    lang: str = "zh",
) -> KpiResult:
    """Compute the greening KPIs of ``year`` per district and for the city.

    Parameters
    ----------
    greenways, parks, villages : GeoDataFrame
        Canonical layers (see the module docstring) in the working CRS.
    targets : gis.targets.Targets
        From :func:`gis.targets.load_targets`; ``year`` must be in it.
    year : int
        The year reported (new greenways, pocket parks, villages, afforestation of that year).
    districts : GeoDataFrame, optional
        District polygons with ``district``; without them only city rows are given.
    afforestation : GeoDataFrame, optional
        Afforestation polygons with ``year``; their area in 亩.
    streets : GeoDataFrame, optional
        Street lines renewed (过熟杨柳树更新), with ``year``.
    lang : {"zh", "en"}
        Language of the ``label`` column.

    Returns
    -------
    KpiResult
        ``kpi`` with :data:`KPI_COLUMNS`, and findings.

    Raises
    ------
    gis.errors.RulesError
        When ``year`` is not in the targets file.
    gis.errors.SchemaError
        Lines where polygons are expected (or the reverse).
    """
    targets.year(year)
    findings = Findings()
    names = [] if districts is None else district_names(districts)
    parks = require_geometry(parks, "polygon", what="parks (--parks)")
    villages = require_geometry(villages, ("point", "polygon"), what="villages (--villages)")
    where = _locate(districts, findings)
    facts = pd.concat(
        [
            _greenway_facts(greenways, districts, year, findings),
            _park_facts(parks, where(parks, "parks"), year, _category(parks, findings)),
            _village_facts(villages, where(villages, "villages"), year),
            _yearly_facts(
                afforestation,
                districts,
                year,
                findings=findings,
                kind=("polygon", "afforestation (--afforestation)", "afforestation_mu"),
            ),
            _yearly_facts(
                streets,
                districts,
                year,
                findings=findings,
                kind=("line", "streets (--streets)", "streets_renewed"),
            ),
        ],
        ignore_index=True,
    )
    targeted = list(targets.year(year).targets)
    absent = tuple(
        i
        for i, layer in (("afforestation_mu", afforestation), ("streets_renewed", streets))
        if layer is None
    )
    table = _attach_targets(_aggregate(facts, names, targeted, absent), targets, year, lang)
    return KpiResult(_order(table, names), findings)


def _locate(
    districts: gpd.GeoDataFrame | None, findings: Findings
) -> Callable[[gpd.GeoDataFrame, str], pd.Series]:
    """Return a function giving each feature's district (CITY when there are no districts)."""

    def where(frame: gpd.GeoDataFrame, what: str) -> pd.Series:
        if districts is None:
            return pd.Series(CITY, index=frame.index)
        return assign_districts(frame, districts, what=what, findings=findings)

    return where
