"""卫星热点核查: evidence, event and a reasoned verdict for every satellite hotspot.

:func:`check_hotspots` is the pure orchestrator, read as named steps::

    detections (product, UTC time, confidence, pixel footprint; gis.checks.fire.detections)
    → land under the footprint, nearest forest, zones, administration, heat sources
      (gis.checks.fire.surroundings) → events in space and time (gis.checks.fire.events)
    → fire-prevention period (gis.checks.fire.seasons) → rules (gis.checks.fire.triage)

:func:`~gis.checks.fire.run.run_hotspot_check` is the edge that reads files and writes the
results.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis import __version__
from gis.checks.fire import detections as det
from gis.checks.fire import surroundings as sur
from gis.checks.fire.events import event_labels, event_table, summarise_events
from gis.checks.fire.seasons import Seasons, load_seasons, season_of
from gis.checks.fire.triage import EVIDENCE_FIELDS, VERDICT_COLUMNS, decide, load_hotspot_rules
from gis.crs import assert_same_crs, require_projected
from gis.enums import Lang
from gis.findings import Findings
from gis.rules import RuleSet

DETECTION_COLUMNS = (
    "hotspot_id",
    "product",
    "detected_utc",
    "detected_bjt",
    "confidence_class",
    "pixel_km_ew",
    "pixel_km_ns",
    "fire_season",
)
CONTEXT_COLUMNS = (
    "district",
    "township",
    "forest_chief",
    "fire_zone",
    "protected_area",
    "heat_source",
)
RESULT_COLUMNS = (
    *DETECTION_COLUMNS,
    *[c for c in EVIDENCE_FIELDS if c not in ("frp", "confidence_class")],
    *[c for c in CONTEXT_COLUMNS if c not in EVIDENCE_FIELDS],
    "event_id",
    "event_first_utc",
    "event_last_utc",
    *VERDICT_COLUMNS[:3],
    "feedback_due_utc",
    *VERDICT_COLUMNS[3:],
)
"""Columns the check adds (in order) to the hotspots' own attributes."""


@dataclass
class HotspotCheckResult:
    """What :func:`check_hotspots` returns.

    Attributes
    ----------
    hotspots_checked : geopandas.GeoDataFrame
        Input attributes + :data:`RESULT_COLUMNS`, one row per hotspot (points).
    events : geopandas.GeoDataFrame
        One row per event (convex hull of its pixel footprints).
    findings : Findings
        Data problems met on the way.
    run : dict
        Run metadata: rules and seasons files, thresholds, versions, time.
    """

    hotspots_checked: gpd.GeoDataFrame
    events: gpd.GeoDataFrame
    findings: Findings
    run: dict[str, Any] = field(default_factory=dict)


def prepare_hotspots(
    hotspots: gpd.GeoDataFrame, *, seasons: Seasons, findings: Findings, source: str = "hotspots"
) -> tuple[pd.DataFrame, Any]:
    """Return the detection columns (:data:`DETECTION_COLUMNS`) and the pixel footprints."""
    require_projected(hotspots.crs, source)
    product = det.product_of(hotspots)
    out = pd.DataFrame(index=hotspots.index)
    ids = hotspots.get("hotspot_id")
    if ids is None:
        firms = product != det.TABLE
        findings.add(
            "missing_field",
            f"{source} has no hotspot_id (热点编号): hotspots are numbered H1, H2 … in file order"
            + (" (FIRMS files carry no id)" if firms else ""),
            severity="info" if firms else "warning",
            source=source,
            field="hotspot_id",
            zh=f"{source} 缺少 hotspot_id（热点编号）：按文件顺序编为 H1、H2 …"
            + ("（FIRMS 文件本无编号）" if firms else ""),
        )
        ids = pd.Series([f"H{i + 1}" for i in range(len(hotspots))], index=hotspots.index)
    out["hotspot_id"] = ids.astype(object).where(ids.notna(), None).map(_text)
    out["product"] = product
    utc = det.detection_times(hotspots, findings=findings, source=source)
    bjt = utc.dt.tz_convert(det.BEIJING)
    out["detected_utc"] = utc
    out["detected_bjt"] = bjt.dt.strftime("%Y-%m-%d %H:%M").where(utc.notna(), None)
    out["confidence_class"] = det.confidence_class(hotspots, product)
    width, height = det.pixel_size_km(hotspots, product)
    out["pixel_km_ew"], out["pixel_km_ns"] = width, height
    out["fire_season"] = season_of(bjt.dt.tz_localize(None), seasons)
    return out, det.footprints(hotspots.geometry, width, height)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def spatial_evidence(
    points: Any,
    footprints: Any,
    *,
    rules: RuleSet,
    subcompartments: gpd.GeoDataFrame | None = None,
    fire_zones: gpd.GeoDataFrame | None = None,
    protected: gpd.GeoDataFrame | None = None,
    districts: gpd.GeoDataFrame | None = None,
    forest_chiefs: gpd.GeoDataFrame | None = None,
    heat_sources: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Return land, forest distance, zones, administration and heat sources per hotspot."""
    search = rules.thresholds["search_m"]
    n = len(points)
    if subcompartments is not None:
        land = sur.land_under(footprints, subcompartments)
        land["forest_distance_m"] = sur.forest_distance(points, subcompartments, max_m=search)
    else:
        land = pd.DataFrame(np.nan, index=pd.RangeIndex(n), columns=list(LAND_COLUMNS))
        land["land_class"] = None
    parts = [
        land,
        sur.zone_evidence(points, fire_zones=fire_zones, protected=protected),
        sur.admin_evidence(
            points,
            districts=districts,
            forest_chiefs=forest_chiefs,
            subcompartments=subcompartments,
        ),
        sur.heat_source_evidence(points, heat_sources, max_m=search),
    ]
    return pd.concat(parts, axis=1)


LAND_COLUMNS = ("forest_share", "grass_share", "crop_share", "land_class", "forest_distance_m")


def check_hotspots(
    hotspots: gpd.GeoDataFrame,
    *,
    subcompartments: gpd.GeoDataFrame | None = None,
    fire_zones: gpd.GeoDataFrame | None = None,
    protected: gpd.GeoDataFrame | None = None,
    districts: gpd.GeoDataFrame | None = None,
    forest_chiefs: gpd.GeoDataFrame | None = None,
    heat_sources: gpd.GeoDataFrame | None = None,
    rules: RuleSet | str | os.PathLike[str] | None = None,
    seasons: Seasons | None = None,
    event_distance_m: float | None = None,
    event_hours: float | None = None,
    lang: str | Lang = "zh",
    findings: Findings | None = None,
) -> HotspotCheckResult:
    """Check every satellite hotspot: evidence, event, verdict, priority, deadline, reasons.

    Parameters
    ----------
    hotspots : geopandas.GeoDataFrame
        Points with canonical ``hotspots`` fields (FIRMS VIIRS/MODIS or a provincial table),
        in the projected working CRS.
    subcompartments, fire_zones, protected, districts, forest_chiefs, heat_sources : optional
        Context layers with canonical fields, in the hotspots' CRS.
    rules : RuleSet or path, optional
        Decision rules; default ``layers/rules/hotspots.yaml``.
    seasons : Seasons, optional
        Fire-prevention periods; default the default province of
        ``layers/rules/fire_seasons.yaml``.
    event_distance_m, event_hours : float, optional
        Detections within this distance (metres) and time (hours) are one event; default the
        rules' ``event_distance_m`` / ``event_hours``.
    lang : {"zh", "en"}
        Language of ``reasons``.
    findings : Findings, optional
        Receives the findings (also returned).

    Returns
    -------
    HotspotCheckResult

    Raises
    ------
    gis.errors.CRSError, gis.errors.CRSMismatchError
        Hotspots not projected, or context layers in another CRS.
    """
    log = findings if findings is not None else Findings()
    language = Lang.get(lang)
    ruleset = rules if isinstance(rules, RuleSet) else load_hotspot_rules(rules)
    periods = seasons if seasons is not None else load_seasons()
    started = dt.datetime.now(dt.UTC)
    layers = {
        "subcompartments": subcompartments,
        "fire_zones": fire_zones,
        "protected": protected,
        "districts": districts,
        "forest_chiefs": forest_chiefs,
        "heat_sources": heat_sources,
    }
    given = {k: v for k, v in layers.items() if v is not None}
    assert_same_crs(hotspots, *given.values(), names=("hotspots", *given))
    frame = hotspots.reset_index(drop=True)
    detected, fps = prepare_hotspots(frame, seasons=periods, findings=log)
    points = np.asarray(frame.geometry.values)
    context = spatial_evidence(points, fps, rules=ruleset, **given)
    distance = event_distance_m or ruleset.thresholds["event_distance_m"]
    hours = event_hours or ruleset.thresholds["event_hours"]
    utc = detected["detected_utc"]
    seconds = (utc - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy()
    labels = event_labels(points, seconds, distance_m=distance, hours=hours)
    evidence = pd.concat([detected, context, event_table(labels, utc)], axis=1)
    evidence["reported_class"] = sur.reported_class(
        frame.get("reported_land", pd.Series(None, index=frame.index))
    )
    evidence["frp"] = pd.to_numeric(frame.get("frp"), errors="coerce") if "frp" in frame else np.nan
    evidence["in_fire_season"] = detected["fire_season"].notna().astype("boolean")
    season = detected["fire_season"].fillna("")
    words = {p: periods.label(p or None, str(language)) for p in season.unique()}
    season_label = season.map(words)
    verdict = decide(evidence, ruleset, season_label=season_label, lang=language)
    due = utc + pd.to_timedelta(verdict["feedback_hours"].astype("float64"), unit="h")
    evidence = pd.concat([evidence, verdict], axis=1).assign(feedback_due_utc=due)
    _report_outside(evidence, log)
    checked = assemble(frame, evidence)
    events = summarise_events(checked, labels, fps)
    run = run_metadata(ruleset, periods, language=language, started=started)
    run |= {"event_distance_m": float(distance), "event_hours": float(hours)}
    run["counts"] = summary_counts(checked)
    return HotspotCheckResult(checked, events, log, run)


def _report_outside(evidence: pd.DataFrame, log: Findings) -> None:
    outside = evidence["in_area"].eq(False).fillna(False).to_numpy(dtype=bool)
    if outside.any():
        ids = ", ".join(map(str, evidence.loc[outside, "hotspot_id"].head(10)))
        n = int(outside.sum())
        log.add(
            "hotspot_outside_area",
            f"{n} hotspots lie outside every district ({ids}…): they are kept with verdict "
            "'other' and priority 3 — pass them on to the area concerned",
            source="hotspots",
            zh=f"{n} 个热点位于全部行政区之外（{ids}…）：保留，判为“其他”、优先级 3——请转交属地",
        )


def assemble(hotspots: gpd.GeoDataFrame, evidence: pd.DataFrame) -> gpd.GeoDataFrame:
    """Return input attributes + :data:`RESULT_COLUMNS` (+ geometry last) as one frame."""
    geom_name = hotspots.geometry.name
    attrs = hotspots.drop(columns=[geom_name])
    added = set(RESULT_COLUMNS)
    attrs = attrs.rename(columns={c: f"{c}_input" for c in attrs.columns if c in added})
    body = pd.concat([attrs, evidence[list(RESULT_COLUMNS)]], axis=1)
    return gpd.GeoDataFrame(body, geometry=hotspots.geometry.rename("geometry"), crs=hotspots.crs)


def summary_counts(checked: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Return hotspot counts by fire kind and by field priority (run table and --json)."""
    return {
        col: {
            str(k): int(v)
            for k, v in checked[col].astype(object).fillna("—").value_counts().items()
        }
        for col in ("fire_kind", "field_priority")
    }


def run_metadata(
    rules: RuleSet, seasons: Seasons, *, language: Lang, started: dt.datetime
) -> dict[str, Any]:
    """Return the run metadata of a hotspot check (inputs are added at the edge)."""
    return {
        "check": "fire hotspots",
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "linyuan_version": __version__,
        "rules_file": rules.source,
        "thresholds": dict(rules.thresholds),
        "rule_ids": rules.rule_ids(),
        "seasons_file": seasons.file,
        "province": seasons.province,
        "fire_seasons": {
            p.id: {"start": f"{p.start:04d}", "end": f"{p.end:04d}", "source": p.source}
            for p in seasons.periods
        },
        "footprint": "scan (east-west) x track (north-south) km rectangle centred on the "
        "hotspot; tables without scan/track: n_pixels x the satellite's nominal pixel",
        "times": "FIRMS acq_date/acq_time are UTC; a table time without zone is Beijing time",
        "lang": str(language),
    }
