"""The reports' summary tables: pure functions from results (and field records) to frames.

Columns are canonical English names with the unit in the name (``area_ha``, ``area_mu``,
``density_per_ha``); shares are 0–1 (``verified_rate``). Nothing is rounded here; codes stay
codes — :mod:`gis.report.sections` labels and formats them.

Examples
--------
>>> import pandas as pd
>>> p = pd.DataFrame({"patch_id": ["1", "2", "3"], "district": ["甲", "甲", "乙"],
...                   "area_ha": [1.0, 2.0, 3.0]})
>>> rate = verification_rate(p, pd.DataFrame({"feature_id": ["2"]}), id_column="patch_id",
...                          levels=("district",))
>>> rate[["level", "key", "delivered", "verified"]].values.tolist()
[['all', '', 3, 1], ['district', '乙', 1, 0], ['district', '甲', 2, 1]]
>>> rate["verified_rate"].round(3).tolist()
[0.333, 0.0, 0.5]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from gis.units import M2_PER_HA, M2_PER_MU

MU_PER_HA = M2_PER_HA / M2_PER_MU
"""亩 per hectare (15), from the units defined once in :mod:`gis.units`."""

LEVELS = ("district", "township", "forest_chief")
"""Levels of the 核查率 tables, after the overall row."""

ALL = "all"


def _area_mu(frame: pd.DataFrame) -> pd.Series:
    if "area_mu" in frame.columns:
        return frame["area_mu"].astype("f8")
    return frame["area_ha"].astype("f8") * MU_PER_HA


def count_area(frame: pd.DataFrame) -> dict[str, float]:
    """Return ``{"count", "area_ha", "area_mu"}`` of a patch frame.

    Examples
    --------
    >>> count_area(pd.DataFrame({"area_ha": [1.0, 2.0]}))
    {'count': 2, 'area_ha': 3.0, 'area_mu': 45.0}
    """
    return {
        "count": len(frame),
        "area_ha": float(frame["area_ha"].sum()),
        "area_mu": float(_area_mu(frame).sum()),
    }


def patch_overview(patches: pd.DataFrame) -> dict[str, object]:
    """Return the 基本情况 figures: patches, area, townships and villages touched, batches."""
    out: dict[str, object] = dict(count_area(patches))
    for col in ("district", "township", "village", "batch"):
        out[f"{col}_n"] = int(patches[col].nunique()) if col in patches.columns else 0
    out["batches"] = (
        ", ".join(sorted(patches["batch"].dropna().astype(str).unique()))
        if "batch" in patches.columns
        else ""
    )
    return out


def self_check(patches: pd.DataFrame) -> pd.DataFrame:
    """Return count, 公顷 and 亩 per legality class (自查结果), largest first, with a total."""
    mu = _area_mu(patches)
    table = (
        patches.assign(area_mu=mu)
        .groupby("legality", dropna=False)
        .agg(count=("area_ha", "size"), area_ha=("area_ha", "sum"), area_mu=("area_mu", "sum"))
        .reset_index()
        .sort_values(["count", "area_ha"], ascending=False, kind="stable")
    )
    return table.reset_index(drop=True)


def legality_breakdown(patches: pd.DataFrame) -> pd.DataFrame:
    """Return count, 公顷 and 亩 by legality × change type × 核实变化原因 (missing as NaN)."""
    keys = ["legality", "change_type", "verified_cause_code"]
    frame = patches.assign(area_mu=_area_mu(patches))
    for key in keys:
        if key not in frame.columns:
            frame[key] = np.nan
    table = (
        frame.groupby(keys, dropna=False)
        .agg(count=("area_ha", "size"), area_ha=("area_ha", "sum"), area_mu=("area_mu", "sum"))
        .reset_index()
    )
    return table.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


def verified_ids(latest: pd.DataFrame | None) -> set[str]:
    """Return the feature ids with at least one field record."""
    if latest is None or "feature_id" not in latest.columns:
        return set()
    return set(latest["feature_id"].dropna().astype(str))


def verification_rate(
    features: pd.DataFrame,
    latest: pd.DataFrame | None,
    *,
    id_column: str,
    levels: Sequence[str] = LEVELS,
) -> pd.DataFrame:
    """Return 核查率 overall and per level: delivered, verified, verified_rate.

    A feature counts as verified when the field store has a record for it.

    Parameters
    ----------
    features : DataFrame
        Patches or points of the batch.
    latest : DataFrame or None
        ``verification_latest`` rows of the same layer (``feature_id``); None: none yet.
    id_column : str
        Feature id column of ``features`` (``patch_id``, ``point_id``).
    levels : sequence of str
        Columns to break the rate down by (skipped when absent or all empty).
    """
    done = features[id_column].astype(str).isin(verified_ids(latest))
    frame = pd.DataFrame({"done": done.to_numpy()}, index=features.index)
    rows = [_rate_row(ALL, "", frame["done"])]
    for level in levels:
        if level not in features.columns or features[level].isna().all():
            continue
        for key, part in frame.groupby(features[level].astype("string"), sort=True):
            rows.append(_rate_row(level, str(key), part["done"]))
    return pd.DataFrame(rows)


def _rate_row(level: str, key: str, done: pd.Series) -> dict[str, object]:
    n = len(done)
    k = int(done.sum())
    return {
        "level": level,
        "key": key,
        "delivered": n,
        "verified": k,
        "verified_rate": k / n if n else np.nan,
    }


def suspected_illegal(patches: pd.DataFrame) -> pd.DataFrame:
    """Return the suspected-illegal patches, priority first, then largest area first."""
    cols = [
        c
        for c in (
            "patch_id",
            "district",
            "township",
            "village",
            "forest_chief",
            "change_type",
            "area_ha",
            "area_mu",
            "field_priority",
            "reasons",
        )
        if c in patches.columns
    ]
    rows = patches[patches["legality"] == "suspected_illegal"]
    rows = rows.assign(area_mu=_area_mu(rows))[cols]
    return rows.sort_values(
        ["field_priority", "area_ha"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)


def field_agreement(patches: pd.DataFrame, latest: pd.DataFrame) -> pd.DataFrame:
    """Return desk verdict vs field verdict per verified patch, with agreement flags.

    Columns: ``patch_id``, ``desk_real_change``, ``field_real_change``, ``desk_cause``,
    ``field_cause``, ``real_change_agrees``, ``cause_agrees`` (NaN when either is missing).
    """
    desk = patches[["patch_id", "is_real_change", "verified_cause_code"]].rename(
        columns={"is_real_change": "desk_real_change", "verified_cause_code": "desk_cause"}
    )
    field = latest.rename(
        columns={
            "feature_id": "patch_id",
            "is_real_change": "field_real_change",
            "verified_cause_code": "field_cause",
        }
    )
    for col in ("field_real_change", "field_cause"):
        if col not in field.columns:
            field[col] = np.nan
    merged = desk.assign(patch_id=desk["patch_id"].astype(str)).merge(
        field[["patch_id", "field_real_change", "field_cause"]], on="patch_id", how="inner"
    )
    merged["real_change_agrees"] = _agrees(merged["desk_real_change"], merged["field_real_change"])
    merged["cause_agrees"] = _agrees(merged["desk_cause"], merged["field_cause"])
    return merged


def _agrees(a: pd.Series, b: pd.Series) -> pd.Series:
    left = pd.to_numeric(a.map(_as_number), errors="coerce")
    right = pd.to_numeric(b.map(_as_number), errors="coerce")
    out = (left == right).astype("f8")
    out[left.isna() | right.isna()] = np.nan
    return out


def _as_number(value: object) -> object:
    """Booleans and 'true'/'false'/'是'/'否' texts as 1/0; numbers as they are."""
    if isinstance(value, str):
        return {"true": 1, "false": 0, "是": 1, "否": 0, "1": 1, "0": 0}.get(
            value.strip().lower(), value
        )
    return value


def agreement_summary(agreement: pd.DataFrame) -> dict[str, float]:
    """Return counts and shares of desk/field agreement on real change and on cause."""
    out: dict[str, float] = {"compared": float(len(agreement))}
    for col in ("real_change_agrees", "cause_agrees"):
        known = agreement[col].dropna()
        out[f"{col}_n"] = float(known.sum())
        out[f"{col}_rate"] = float(known.mean()) if len(known) else np.nan
    return out


def discolored_by_stand(stands: pd.DataFrame) -> pd.DataFrame:
    """Return the stands with detections: count and density per ha, densest first."""
    cols = [c for c in ("stand_id", "species", "area_ha", "count", "density_per_ha") if c in stands]
    rows = stands[stands["count"] > 0][cols]
    return rows.sort_values(["density_per_ha", "count"], ascending=False).reset_index(drop=True)


def discolored_by(points: pd.DataFrame, stands: pd.DataFrame, *, by: str) -> pd.DataFrame:
    """Return detections per district / township / forest chief, with density per ha.

    Density is over the area of the host stands that hold this group's points
    (``stands_area_ha``), since a group's whole host area is not in the results.
    """
    if by not in points.columns or points[by].isna().all():
        return pd.DataFrame(columns=[by, "count", "stands", "stands_area_ha", "density_per_ha"])
    area = stands.set_index("stand_id")["area_ha"]
    rows = []
    for key, part in points.groupby(points[by].astype("string")):
        ids = part["stand_id"].dropna().unique()
        ha = float(area.reindex(ids).sum())
        rows.append(
            {
                by: str(key),
                "count": len(part),
                "stands": len(ids),
                "stands_area_ha": ha,
                "density_per_ha": len(part) / ha if ha else np.nan,
            }
        )
    return pd.DataFrame(rows).sort_values("count", ascending=False).reset_index(drop=True)


def value_counts(
    latest: pd.DataFrame | None, column: str, *, order: Sequence[str] = ()
) -> pd.DataFrame:
    """Return ``value``, ``count``, ``share`` of a field-record column (listed order first)."""
    if latest is None or column not in latest.columns:
        return pd.DataFrame(columns=["value", "count", "share"])
    values = latest[column].map(_as_text).fillna("—")
    counts = values.value_counts()
    keys = [k for k in order if k in counts.index] + [k for k in counts.index if k not in order]
    total = int(counts.sum())
    return pd.DataFrame(
        {
            "value": keys,
            "count": [int(counts[k]) for k in keys],
            "share": [counts[k] / total if total else np.nan for k in keys],
        }
    )


def _as_text(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def kpi_table(kpi: pd.DataFrame, *, district: str | None = None) -> pd.DataFrame:
    """Return the KPI rows with a target (and all rows of ``district`` when given)."""
    rows = kpi if district is None else kpi[kpi["district"] == district]
    rows = rows[rows["target"].notna()] if district is None else rows
    cols = ["district", "label", "item", "target", "actual", "unit", "rate", "met"]
    return rows[[c for c in cols if c in rows.columns]].reset_index(drop=True)


def kpi_flags(kpi: pd.DataFrame) -> dict[str, int]:
    """Return how many targeted KPI rows are met, not met, and without an actual value."""
    targeted = kpi[kpi["target"].notna()]
    met = targeted["met"]
    return {
        "targets": len(targeted),
        "met": int((met == 1).sum()),
        "not_met": int((met == 0).sum()),
        "unknown": int(met.isna().sum()),
    }


def coverage_table(coverage: pd.DataFrame) -> pd.DataFrame:
    """Return coverage per district: service, 300 m green and 500 m park shares, target, met."""
    wide = coverage.pivot_table(
        index="district", columns="measure", values="coverage_pct", aggfunc="first", sort=False
    )
    service = coverage[coverage["measure"] == "service"].set_index("district")
    out = pd.DataFrame(index=wide.index)
    for measure in ("service", "green_300", "park_500"):
        if measure in wide.columns:
            out[f"{measure}_share"] = wide[measure] / 100.0
    for col in ("population", "target_pct", "met"):
        if col in service.columns:
            out[col] = service[col].reindex(out.index)
    return out.reset_index()


def underserved_table(underserved: pd.DataFrame, *, top: int = 20) -> pd.DataFrame:
    """Return the ``top`` underserved residential areas by rank (unserved population first)."""
    cols = ["rank", "name", "district", "unserved_population", "unserved_area_ha", "covered_pct"]
    rows = underserved.sort_values("rank")[[c for c in cols if c in underserved.columns]]
    return rows.head(top).reset_index(drop=True)
