"""火场面积 and 受害森林面积 of a fire, per subcompartment, district and forest chief; its grade.

火场面积 is the burned area (every fire scar, whatever land it is on); 受害森林面积 is the part on
forest land (:func:`gis.layers.is_forest_land` of the subcompartment's 地类). Areas are taken
in the working CRS (the layers'), m² on the ellipsoid (:func:`gis.checks.patches.evidence.
overlay_pieces` and :mod:`gis.units`), shown in ha and 亩.

The grade follows 《森林防火条例》 Article 40 by 受害森林面积 only (rules ``grade`` of
``layers/rules/fire.yaml``): the casualty criteria are outside the imagery, so a grade here is
a lower bound and every report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.checks.fire.burned import BurnedRaster
from gis.checks.fire.rules import fire_grade
from gis.checks.patches.evidence import overlay_pieces
from gis.findings import Findings
from gis.layers import is_forest_land, unit_label
from gis.severity import severity_label
from gis.units import M2_PER_HA, M2_PER_MU, area_m2

CASUALTIES_NOTE = {
    "zh": "伤亡人数不在遥感数据中：本等级仅按受害森林面积判定，"
    "如有人员伤亡须按第四十条伤亡标准复核",
    "en": "casualties are outside the imagery: this grade is from the burned forest area only; "
    "recheck it against Article 40's casualty criteria if anyone was killed or injured",
}
"""What every grade says about the casualty criteria it cannot see."""

SUB_COLUMNS = ("stand_id", "district", "township", "forest_chief", "land_class", "dominant_species")
"""Subcompartment attributes carried into the per-subcompartment table (when present)."""


@dataclass
class FireDamage:
    """Tables of a fire's damage (areas in ha and 亩) and its grade."""

    scars: gpd.GeoDataFrame
    severity: gpd.GeoDataFrame
    by_subcompartment: pd.DataFrame
    by_district: pd.DataFrame
    by_forest_chief: pd.DataFrame
    report: pd.DataFrame
    grade: dict[str, Any]


def _ha_mu(m2: Any) -> dict[str, Any]:
    return {"ha": np.asarray(m2) / M2_PER_HA, "mu": np.asarray(m2) / M2_PER_MU}


def _with_areas(frame: pd.DataFrame, prefix: str, m2: Any) -> pd.DataFrame:
    a = _ha_mu(m2)
    return frame.assign(**{f"{prefix}_area_ha": a["ha"], f"{prefix}_area_mu": a["mu"]})


def forest_pieces(scars: gpd.GeoDataFrame, subcompartments: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the scars cut by the subcompartments: one piece per (scar, subcompartment).

    Columns ``scar_id``, the :data:`SUB_COLUMNS` present, ``is_forest_land``, ``overlap_m2``.
    """
    pieces = overlay_pieces(scars, subcompartments)
    keep = [c for c in SUB_COLUMNS if c in subcompartments]
    attrs = subcompartments.iloc[pieces["feature"].to_numpy()][keep].reset_index(drop=True)
    out = gpd.GeoDataFrame(
        attrs.assign(
            scar_id=scars["scar_id"].to_numpy()[pieces["patch"].to_numpy()],
            overlap_m2=pieces["overlap_m2"].to_numpy(),
        ),
        geometry=pieces["piece"].to_numpy(),
        crs=scars.crs,
    )
    land = out["land_class"] if "land_class" in out else pd.Series(None, index=out.index)
    out["is_forest_land"] = land.map(is_forest_land).astype(bool)
    return out


def per_subcompartment(pieces: gpd.GeoDataFrame) -> pd.DataFrame:
    """火场面积 and 受害森林面积 per subcompartment (ha, 亩), largest first."""
    keep = [c for c in SUB_COLUMNS if c in pieces]
    if pieces.empty:
        return pd.DataFrame(
            columns=[*keep, "fire_area_ha", "fire_area_mu", "forest_area_ha", "forest_area_mu"]
        )
    frame = pd.DataFrame(pieces.drop(columns="geometry"))
    frame["forest_m2"] = frame["overlap_m2"].where(frame["is_forest_land"], 0.0)
    groups = frame.groupby("stand_id", sort=False)
    table = groups[[c for c in keep if c != "stand_id"] + ["is_forest_land"]].first()
    sums = groups[["overlap_m2", "forest_m2"]].sum()
    out = _with_areas(table, "fire", sums["overlap_m2"])
    out = _with_areas(out, "forest", sums["forest_m2"]).reset_index()
    return out.sort_values("fire_area_ha", ascending=False, ignore_index=True)


def _zone_table(
    scars: gpd.GeoDataFrame, forest: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, key: str
) -> pd.DataFrame:
    """火场面积 and 受害森林面积 per value of ``key`` of ``zones`` (by intersection)."""
    names = zones[key].astype(object).where(zones[key].notna(), "—").to_numpy()
    fire = overlay_pieces(scars, zones)
    burnt = overlay_pieces(forest, zones) if len(forest) else fire.iloc[:0]
    table = pd.DataFrame(
        {
            "fire_m2": pd.Series(fire["overlap_m2"].to_numpy())
            .groupby(names[fire["feature"].to_numpy()])
            .sum(),
        }
    )
    forest_m2 = pd.Series(burnt["overlap_m2"].to_numpy()).groupby(
        names[burnt["feature"].to_numpy()]
    )
    table["forest_m2"] = forest_m2.sum()
    table = table.fillna(0.0)
    out = _with_areas(table.drop(columns=["fire_m2", "forest_m2"]), "fire", table["fire_m2"])
    out = _with_areas(out, "forest", table["forest_m2"])
    out.index.name = key
    return out.reset_index().sort_values("fire_area_ha", ascending=False, ignore_index=True)


def _from_pieces(pieces: gpd.GeoDataFrame, key: str) -> pd.DataFrame:
    """Per-``key`` areas from the subcompartments' own attribute (no zone layer given)."""
    if key not in pieces or pieces.empty:
        return pd.DataFrame(
            columns=[key, "fire_area_ha", "fire_area_mu", "forest_area_ha", "forest_area_mu"]
        )
    frame = pd.DataFrame(pieces.drop(columns="geometry"))
    frame[key] = frame[key].astype(object).where(frame[key].notna(), "—")
    frame["forest_m2"] = frame["overlap_m2"].where(frame["is_forest_land"], 0.0)
    sums = frame.groupby(key)[["overlap_m2", "forest_m2"]].sum()
    out = _with_areas(pd.DataFrame(index=sums.index), "fire", sums["overlap_m2"])
    out = _with_areas(out, "forest", sums["forest_m2"]).reset_index()
    return out.sort_values("fire_area_ha", ascending=False, ignore_index=True)


def _admin_tables(
    scars: gpd.GeoDataFrame,
    pieces: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame | None,
    forest_chiefs: gpd.GeoDataFrame | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    forest = pieces[pieces["is_forest_land"]] if len(pieces) else pieces
    if districts is not None and "district" in districts:
        level = districts.get("level", pd.Series("district", index=districts.index))
        top = districts[~level.astype(str).eq("township")]
        by_district = _zone_table(scars, forest, top, "district")
    else:
        by_district = _from_pieces(pieces, "district")
    if forest_chiefs is not None and "forest_chief" in forest_chiefs:
        by_chief = _zone_table(scars, forest, forest_chiefs, "forest_chief")
    else:
        by_chief = _from_pieces(pieces, "forest_chief")
    return by_district, by_chief


def _scar_areas(
    scars: gpd.GeoDataFrame, severity: gpd.GeoDataFrame, pieces: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Add 火场面积, 受害森林面积 and the area per severity class to each scar."""
    out = _with_areas(scars, "fire", area_m2(scars))
    forest = pieces[pieces["is_forest_land"]] if len(pieces) else pieces
    forest_m2 = forest.groupby("scar_id")["overlap_m2"].sum() if len(forest) else pd.Series()
    out = _with_areas(out, "forest", out["scar_id"].map(forest_m2).fillna(0.0).to_numpy())
    if len(severity):
        joined = gpd.sjoin(
            severity.assign(m2=area_m2(severity)).set_geometry(severity.representative_point()),
            scars[["scar_id", "geometry"]],
            predicate="within",
        )
        per = joined.pivot_table(index="scar_id", columns="severity", values="m2", aggfunc="sum")
        for code in per.columns:
            out[f"severity{int(code)}_ha"] = out["scar_id"].map(per[code] / M2_PER_HA).fillna(0.0)
    return out


def assess_damage(
    burned: BurnedRaster,
    *,
    rules: dict[str, Any],
    subcompartments: gpd.GeoDataFrame | None,
    districts: gpd.GeoDataFrame | None = None,
    forest_chiefs: gpd.GeoDataFrame | None = None,
    lang: str = "zh",
    findings: Findings | None = None,
) -> FireDamage:
    """Return the damage tables and grade of a traced burned area.

    The scars and severity polygons are taken into the subcompartments' CRS (the working CRS)
    before any area is measured. Without subcompartments 受害森林面积 is unknown: the grade is
    not given and a finding says so.
    """
    log = findings if findings is not None else Findings()
    crs = subcompartments.crs if subcompartments is not None else burned.scars.crs
    scars, severity = burned.scars.to_crs(crs), burned.severity.to_crs(crs)
    if subcompartments is not None:
        pieces = forest_pieces(scars, subcompartments)
    else:
        pieces = gpd.GeoDataFrame({"scar_id": [], "is_forest_land": []}, geometry=[], crs=crs)
        log.add(
            "no_subcompartments",
            "no subcompartments: 受害森林面积 (burned forest land) and the fire grade are unknown",
            severity="error",
            zh="未提供小班：受害森林面积和火灾等级无法计算",
        )
    scars = _scar_areas(scars, severity, pieces)
    grades = [fire_grade(a, rules) for a in scars["forest_area_ha"]]
    scars["grade_zh"] = [g["zh"] for g in grades]
    scars["grade_en"] = [g["en"] for g in grades]
    by_district, by_chief = _admin_tables(scars, pieces, districts, forest_chiefs)
    total_forest = float(scars["forest_area_ha"].sum())
    grade = fire_grade(total_forest, rules) if subcompartments is not None else {}
    report = report_table(scars, severity, burned.tallies, grade, rules, lang=lang)
    return FireDamage(
        scars, severity, per_subcompartment(pieces), by_district, by_chief, report, grade
    )


def _row(item: str, value: Any, unit: str = "", note: str = "") -> dict[str, Any]:
    return {"item": item, "value": value, "unit": unit, "note": note}


def report_table(
    scars: pd.DataFrame,
    severity: gpd.GeoDataFrame,
    tallies: dict[str, Any],
    grade: dict[str, Any],
    rules: dict[str, Any],
    *,
    lang: str = "zh",
) -> pd.DataFrame:
    """Return the 森林火灾 report table: areas, severity breakdown, grade, its basis and limits."""
    zh = lang == "zh"
    ha, mu = unit_label("ha", lang), unit_label("mu", lang)  # 公顷/亩 (ha/mu)
    mu_per_ha = M2_PER_HA / M2_PER_MU
    fire_ha, forest_ha = float(scars["fire_area_ha"].sum()), float(scars["forest_area_ha"].sum())
    rows = [
        _row("火场数" if zh else "Fire scars", len(scars)),
        _row("火场面积" if zh else "Burned area", round(fire_ha, 4), ha),
        _row("火场面积" if zh else "Burned area", round(fire_ha * mu_per_ha, 2), mu),
        _row("受害森林面积" if zh else "Burned forest area", round(forest_ha, 4), ha),
        _row("受害森林面积" if zh else "Burned forest area", round(forest_ha * mu_per_ha, 2), mu),
    ]
    sev_m2 = severity.assign(m2=area_m2(severity)).groupby("severity")["m2"].sum()
    for code, m2 in sev_m2.items():
        name = severity_label(int(code), lang)
        rows.append(_row(f"{'烈度' if zh else 'Severity'}：{name}", round(m2 / M2_PER_HA, 4), ha))
    for key, label_zh, label_en in (("mean_dnbr", "平均dNBR", "Mean dNBR"),
                                    ("mean_rdnbr", "平均RdNBR", "Mean RdNBR")):  # fmt: skip
        value = tallies[key]
        rows.append(_row(label_zh if zh else label_en, None if value is None else round(value, 3)))
    rows.append(
        _row(
            "火灾等级" if zh else "Fire grade",
            grade.get("zh" if zh else "en", "—"),
            note=f"{rules['grade']['source']}：{grade.get('rule_zh', '')}",
        )
    )
    rows.append(_row("伤亡" if zh else "Casualties", "—", note=CASUALTIES_NOTE[lang]))
    rows.append(
        _row(
            "烈度分级依据" if zh else "Severity thresholds",
            "Key & Benson 2006 (FIREMON RMRS-GTR-164-CD)",
            note="dNBR: 0.10 / 0.27 / 0.44 / 0.66",
        )
    )
    return pd.DataFrame(rows)
