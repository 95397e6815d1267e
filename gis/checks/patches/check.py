"""森林督查图斑核查: evidence and a reasoned verdict for every suspicious change patch.

:func:`check_patches` is the pure orchestrator, read as named steps::

    prepare patches (ids, geometry, CRS) → raster evidence (gis.zonal.change_stats)
    → vector evidence (gis.checks.patches.evidence) → derived evidence → rules (YAML) → reasons

The rules and the verdict are in :mod:`gis.checks.patches.verdict`.
:func:`~gis.checks.patches.run.run_patch_check` (in :mod:`gis.checks.patches.run`) is the edge
that reads files and writes the results.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from pyproj import CRS

from gis import __version__
from gis.checks.patches import evidence as ev
from gis.checks.patches.extent import in_raster_share
from gis.checks.patches.stand import CLASS_DEFINITIONS, class_dndvi
from gis.checks.patches.stand_rest import StandTap, stand_evidence, stand_wanted
from gis.checks.patches.verdict import (
    EVIDENCE_COLUMNS,
    RASTER_COLUMNS,
    VECTOR_COLUMNS,
    VERDICT_COLUMNS,
    decide,
    derive_evidence,
    load_patch_rules,
    with_thresholds,
)
from gis.crs import assert_same_crs, require_projected
from gis.enums import Lang
from gis.findings import Findings
from gis.progress import step
from gis.raster.analysis_grid import common_grid
from gis.rules import RuleSet
from gis.sensors import ALPHA, RADIOMETRIES
from gis.validity import is_valid
from gis.zonal import STAT_DEFINITIONS, change_stats
from gis.zonal.inside import (
    INSIDE_COLUMNS,
    INSIDE_DEFINITIONS,
    InsideOptions,
    prefetch_samples,
    resolve_radiometry,
)
from gis.zonal.texture import TEXTURE_COLUMNS, TEXTURE_DEFINITIONS, texture_stats

logger = logging.getLogger(__name__)

RADIOMETRY_ZH = {"reflectance": "反射率", "dn": "DN 值"}
"""Chinese names of the radiometries, for the stage line."""


@dataclass
class PatchCheckResult:
    """What :func:`check_patches` returns.

    Attributes
    ----------
    patches_checked : geopandas.GeoDataFrame
        Input attributes, evidence columns and verdict columns, one row per input patch.
    findings : Findings
        Data problems met on the way.
    run : dict
        Run metadata: parameters, rules file, statistic definitions, versions, time.
    """

    patches_checked: gpd.GeoDataFrame
    findings: Findings
    run: dict[str, Any] = field(default_factory=dict)


def prepare_patches(
    patches: gpd.GeoDataFrame, *, findings: Findings, source: str = "patches"
) -> tuple[gpd.GeoDataFrame, pd.Series]:
    """Check ids and geometry; return the patches (repaired) and a mask of usable rows.

    ``patch_id`` becomes text (row numbers when it is missing, with a finding). Duplicate ids
    and empty geometries are error findings; invalid geometries are repaired with
    ``make_valid`` (a warning). Unusable rows are kept, with no evidence, and end as
    ``needs_field_check``.
    """
    require_projected(patches.crs, source)
    out = patches.copy()
    if "patch_id" not in out:
        findings.add(
            "missing_field",
            f"{source} has no patch_id (判读图斑编号): row numbers are used instead",
            severity="error",
            source=source,
            field="patch_id",
            zh=f"{source} 缺少 patch_id（判读图斑编号）：改用行号代替",
        )
        out["patch_id"] = [str(i + 1) for i in range(len(out))]
    out["patch_id"] = out["patch_id"].map(_id_text)
    for row in np.flatnonzero(out["patch_id"].isna().to_numpy()):
        findings.add(
            "missing_id",
            f"row {row + 1} of {source} has no patch_id (判读图斑编号); it is checked, but "
            "cannot be matched to the delivery — ask the supplier for its number",
            severity="error",
            source=source,
            feature=f"row {row + 1}",
            field="patch_id",
            zh=f"{source} 第 {row + 1} 行没有 patch_id（判读图斑编号）；已核查，但无法与下发图斑"
            "对应——请向下发单位索取其编号",
        )
    _report_duplicates(out, findings, source)
    geoms = np.asarray(out.geometry.values)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    invalid = ~empty & ~is_valid(geoms)
    for pid in out.loc[empty, "patch_id"]:
        findings.add(
            "empty_geometry",
            f"patch {pid} has no geometry; it is kept without evidence and needs a field check",
            severity="error",
            source=source,
            feature=pid,
            zh=f"图斑 {pid} 没有几何；已保留但无内业依据，需现地核实",
        )
    for pid in out.loc[invalid, "patch_id"]:
        findings.add(
            "invalid_geometry",
            f"patch {pid} has an invalid polygon (self-intersection); repaired with make_valid",
            source=source,
            feature=pid,
            zh=f"图斑 {pid} 的多边形无效（自相交）；已自动修复",
        )
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
        out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))
    return out, pd.Series(~empty, index=out.index)


def _id_text(value: Any) -> str | None:
    """Patch ids are text; a float read from a numeric column loses its ``.0``."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _report_duplicates(frame: pd.DataFrame, findings: Findings, source: str) -> None:
    dup = frame["patch_id"].duplicated(keep=False) & frame["patch_id"].notna()
    for pid, n in frame.loc[dup, "patch_id"].value_counts().items():
        findings.add(
            "duplicate_id",
            f"patch_id {pid} occurs {n} times; each copy is checked on its own — "
            "ask the supplier which one is meant",
            severity="error",
            source=source,
            feature=str(pid),
            field="patch_id",
            zh=f"patch_id {pid} 出现 {n} 次；每一个都单独核查——请向下发单位确认以哪个为准",
        )


def raster_evidence(
    patches: gpd.GeoDataFrame,
    usable: pd.Series,
    before: Any,
    after: Any,
    *,
    rules: RuleSet,
    findings: Findings,
    client: Any = None,
    radiometry: str = "reflectance",
    tap: Any = None,
) -> pd.DataFrame:
    """Return :data:`RASTER_COLUMNS` per patch from :func:`gis.zonal.change_stats`.

    With a Dask ``client`` the raster windows are reduced on its cluster (same values). The
    changed pixels inside each patch (:data:`INSIDE_COLUMNS`) come from the same pass. On
    uncalibrated imagery (``radiometry="dn"``) the absolute NDVI and NBR columns are left
    empty (not comparable with reflectance thresholds) and the NDVI change, the ring's and
    ``drop_frac`` are the relative ones of the scene-normalised bands. ``tap``: reduces
    other zones from the same windows (:class:`gis.checks.patches.stand_rest.StandTap`).
    """
    columns = [*RASTER_COLUMNS, *INSIDE_COLUMNS, *TEXTURE_COLUMNS, "pixel_m2"]
    out = pd.DataFrame(np.nan, index=patches.index, columns=columns)
    zones = patches.loc[usable.to_numpy()]
    if zones.empty:
        return out
    t = rules.thresholds
    # the same analysis grid as change_stats (its finding is made there)
    inside = InsideOptions.of(
        *common_grid(before, after),
        ring_m=t["ring_m"],
        drop=t["drop_threshold"],
        nbr_drop=t["nbr_drop_threshold"],
        tolerance_px=int(t["tolerance_px"]),
        radiometry=radiometry,
    )
    on = ("", "") if client is None else (" (on Dask)", "（Dask）")
    with step("raster windows" + on[0], zh="栅格窗口" + on[1]) as progress:
        stats = change_stats(
            zones,
            before,
            after,
            ring_m=t["ring_m"],
            drop_threshold=t["drop_threshold"],
            tolerance_px=int(t["tolerance_px"]),
            findings=findings,
            client=client,
            inside=inside,
            progress=progress,
            tap=tap,
        )
    cols = [c for c in RASTER_COLUMNS if c in stats]
    out.loc[stats.index, cols] = stats[cols].astype("f8").to_numpy()
    out.loc[stats.index, list(INSIDE_COLUMNS)] = stats[list(INSIDE_COLUMNS)].astype("f8").to_numpy()
    before, after = common_grid(before, after)
    crs = CRS.from_wkt(before.crs_wkt)
    if crs.is_projected:  # area of one pixel, for areas of pixel counts and the covered share
        t = before.grid.transform
        out.loc[stats.index, "pixel_m2"] = (
            abs(t.a * t.e) * crs.axis_info[0].unit_conversion_factor ** 2
        )
    out.loc[stats.index, "scene_dndvi"] = inside.norm.scene_change
    geoms = zones.geometry
    if zones.crs is not None and zones.crs != crs:  # an equal CRS: to_crs is the identity
        geoms = geoms.to_crs(crs)
    out.loc[zones.index, "in_raster_frac"] = in_raster_share(geoms, before.grid)
    if radiometry == "dn":
        relative(out)
    obscured_evidence(out)
    texture_evidence(out, zones, geoms, (before, after), inside.norm, rules)
    return out


def texture_evidence(
    out: pd.DataFrame,
    zones: gpd.GeoDataFrame,
    geoms: gpd.GeoSeries,
    pair: tuple[Any, Any],
    norm: Any,
    rules: RuleSet,
) -> None:
    """Add :data:`TEXTURE_COLUMNS` where the rules may read them (in place).

    Without SWIR on both dates the canopy's texture tells a clearing from a stand's colour
    (rule ``C04_loss_texture``): read only for patches interpreted as a loss (cause 1-3) whose
    NDVI fell beyond the surroundings by ``texture_rel_dndvi`` — the texture pass costs a window
    read per patch, and elsewhere no rule reads it.
    """
    if not all(src.has("NIR") for src in pair):  # an NDVI band alone: no crowns to read
        return
    t = rules.thresholds
    ev = out.loc[zones.index]
    given = zones["interp_cause"] if "interp_cause" in zones else pd.Series(np.nan, zones.index)
    cause = pd.to_numeric(given, errors="coerce")
    rel = ev["dndvi"] - ev["ring_dndvi"].fillna(0.0)
    wanted = ev["swir_used"].eq(0) & cause.isin([1, 2, 3])
    if "texture_rel_dndvi" in t:
        wanted &= rel <= t["texture_rel_dndvi"]
    at = zones.index[wanted.to_numpy()]
    if len(at):
        texture = texture_stats(
            geoms.loc[at].to_numpy(), *pair, norm=norm, ring_m=t["ring_m"], index=at
        )
        out.loc[at, list(TEXTURE_COLUMNS)] = texture.to_numpy()


def obscured_evidence(raster: pd.DataFrame) -> None:
    """Take pixels under unmasked snow or cloud shadow out of what was seen (in place).

    ``valid_frac_before/after`` lose the obscured share of that date; a patch with any obscured
    pixel takes its NDVI change, its ring's and its dropped share from the seen pixels only
    (the per-pixel medians and ``loss_share``) instead of the means over all its pixels.
    """
    ob = raster["obscured_before"].astype("f8").fillna(0.0)
    oa = raster["obscured_after"].astype("f8").fillna(0.0)
    raster["valid_frac_before"] *= 1.0 - ob
    raster["valid_frac_after"] *= 1.0 - oa
    hit = (ob + oa) > 0
    if hit.any():
        raster.loc[hit, "dndvi"] = raster.loc[hit, "dndvi_px"]
        raster.loc[hit, "ring_dndvi"] = raster.loc[hit, "ring_dndvi_px"]
        raster.loc[hit, "drop_frac"] = raster.loc[hit, "loss_share"]


def relative(raster: pd.DataFrame) -> None:
    """Replace the absolute index columns by relative ones (uncalibrated imagery, in place)."""
    raster[["ndvi_before", "ndvi_after", "dnbr", "ring_ndvi_before", "ring_ndvi_after"]] = np.nan
    raster["dndvi"] = raster["dndvi_px"]
    raster["ring_dndvi"] = raster["ring_dndvi_px"]
    raster["drop_frac"] = raster["loss_share"]


def vector_evidence(
    patches: gpd.GeoDataFrame,
    *,
    subcompartments: gpd.GeoDataFrame | None = None,
    permits: gpd.GeoDataFrame | None = None,
    protected: gpd.GeoDataFrame | None = None,
    districts: gpd.GeoDataFrame | None = None,
    forest_chiefs: gpd.GeoDataFrame | None = None,
    image_dates: tuple[Any, Any] | None = None,
    findings: Findings,
) -> pd.DataFrame:
    """Return :data:`VECTOR_COLUMNS` per patch (see :mod:`gis.checks.patches.evidence`)."""
    layers = {
        "subcompartments": subcompartments,
        "permits": permits,
        "protected": protected,
        "districts": districts,
        "forest_chiefs": forest_chiefs,
    }
    given = {k: v for k, v in layers.items() if v is not None}
    assert_same_crs(patches, *given.values(), names=("patches", *given))
    with ev.same_patches():  # one scale factor per patch for every layer
        sub_pieces = None
        if subcompartments is not None:
            sub_pieces = ev.overlay_pieces(patches, subcompartments)
        parts = [
            ev.patch_areas(patches),
            ev.land_evidence(patches, subcompartments, pieces=sub_pieces),
            pd.DataFrame(
                {
                    "protected_share": np.nan
                    if protected is None
                    else ev.covered_share(patches, protected)
                },
                index=patches.index,
            ),
            ev.admin_evidence(
                patches,
                districts=districts,
                forest_chiefs=forest_chiefs,
                subcompartments=subcompartments,
                sub_pieces=sub_pieces,
                findings=findings,
            ),
            ev.permit_evidence(patches, permits, image_dates=image_dates, findings=findings),
            ev.class_evidence(patches, subcompartments, pieces=sub_pieces),
        ]
    return pd.concat(parts, axis=1)[list(VECTOR_COLUMNS)]


def check_patches(
    patches: gpd.GeoDataFrame,
    *,
    before: Any,
    after: Any,
    subcompartments: gpd.GeoDataFrame | None = None,
    permits: gpd.GeoDataFrame | None = None,
    protected: gpd.GeoDataFrame | None = None,
    districts: gpd.GeoDataFrame | None = None,
    forest_chiefs: gpd.GeoDataFrame | None = None,
    rules: RuleSet | str | os.PathLike[str] | None = None,
    image_dates: tuple[Any, Any] | None = None,
    lang: str | Lang = "zh",
    findings: Findings | None = None,
    client: Any = None,
    radiometry: str | tuple[str, str] = "auto",
    min_mapping_unit_mu: float | None = None,
    layers: Callable[[], Mapping[str, gpd.GeoDataFrame | None]] | None = None,
) -> PatchCheckResult:
    """Check every change patch: evidence, verdict and reasons.

    Parameters
    ----------
    patches : geopandas.GeoDataFrame
        督查图斑 with canonical fields (``patch_id``, ``interp_cause``, optionally
        ``image_date_before``/``after``), in the projected working CRS.
    before, after : gis.raster.RasterSource
        The two images (any CRS; the patches are transformed to it for the statistics).
    subcompartments, permits, protected, districts, forest_chiefs : GeoDataFrame, optional
        Context layers with canonical fields, in the patches' CRS.
    rules : RuleSet or path, optional
        Decision rules; default ``layers/rules/patches.yaml``.
    image_dates : (date, date), optional
        Image dates for patches that carry none (permit validity).
    lang : {"zh", "en"}
        Language of ``reasons``.
    findings : Findings, optional
        Receives the findings (also returned).
    client : distributed.Client, optional
        Reduce the raster evidence on this Dask cluster (see :mod:`gis.distributed`); the
        results are bit-identical to the one-process run.
    radiometry : {"auto", "reflectance", "dn"} or (before, after) of them
        ``dn``: uncalibrated imagery (8-bit stretched or raw DN), checked with relative
        evidence only; ``auto`` decides from the data (:func:`gis.zonal.inside.resolve_radiometry`).
        A pair gives each date its own (a calibrated before image, an 8-bit after image).
        The run table and every reason say which was used.
    min_mapping_unit_mu : float, optional
        Minimum mapping unit in 亩 (default: the rules' ``min_mapping_unit_mu``): a patch holding
        a changed cluster this large is never 无变化.
    layers : callable, optional
        Returns the context layers by name (``subcompartments`` …), instead of passing them:
        it is called on the vector-evidence thread, so layers still being read (say, a future's
        ``result``) are waited for only there while the raster windows decode. Not with any
        of the five layer arguments.

    Returns
    -------
    PatchCheckResult
        ``patches_checked`` keeps every input attribute (an input column named like an
        evidence column is kept as ``<name>_input``) and adds :data:`EVIDENCE_COLUMNS` and
        :data:`VERDICT_COLUMNS`.

    Raises
    ------
    gis.errors.CRSError, gis.errors.CRSMismatchError
        Patches not projected, or context layers in another CRS.
    gis.errors.RulesError
        A malformed rules file.
    """
    log = findings if findings is not None else Findings()
    language = Lang.get(lang)
    ruleset = rules if isinstance(rules, RuleSet) else load_patch_rules(rules)
    ruleset = with_thresholds(ruleset, min_mapping_unit_mu=min_mapping_unit_mu)
    started = dt.datetime.now(dt.UTC)
    prepared, usable = prepare_patches(patches, findings=log)
    radio = radiometry_of(before, after, radiometry, log)
    note_pair_bands(before, after, log)
    radio_zh = RADIOMETRY_ZH.get(radio["used"], radio["used"])
    logger.info(
        "raster evidence for %d patches (%s)",
        int(usable.sum()),
        radio["used"],
        extra={"zh": "影像证据：%d 个图斑（%s）", "zh_args": (int(usable.sum()), radio_zh)},
    )
    good = prepared.loc[usable.to_numpy()]
    vector_log = Findings()  # its findings follow the raster's, as when run one after the other
    given = {
        "subcompartments": subcompartments,
        "permits": permits,
        "protected": protected,
        "districts": districts,
        "forest_chiefs": forest_chiefs,
    }
    if layers is not None and any(v is not None for v in given.values()):
        raise TypeError("check_patches: pass the context layers or layers=, not both")
    context = layers if layers is not None else lambda: given

    stands_read: Future[gpd.GeoDataFrame | None] = Future()  # for the stand tap's windows

    def vector_job_run() -> tuple[pd.DataFrame, gpd.GeoDataFrame | None]:
        try:
            ctx = context()
        except BaseException:
            stands_read.set_result(None)
            raise
        stands_read.set_result(ctx.get("subcompartments"))
        vec = vector_evidence(good, **ctx, image_dates=image_dates, findings=vector_log)
        return vec, ctx.get("subcompartments")

    cause = prepared.get("interp_cause", pd.Series(np.nan, index=prepared.index))
    wanted = stand_wanted(cause.loc[good.index])
    tap = StandTap(good, wanted, stands_read.result) if wanted.any() else None

    with ThreadPoolExecutor(max_workers=1) as pool:  # vector evidence while windows decode
        vector_job = pool.submit(vector_job_run)
        raster = raster_evidence(
            prepared,
            usable,
            before,
            after,
            rules=ruleset,
            findings=log,
            client=client,
            radiometry=radio["used"],
            tap=tap,
        )
        logger.info("vector evidence", extra={"zh": "矢量证据"})
        vector, stands = vector_job.result()
        vector = vector.reindex(prepared.index)
    vector["class_dndvi"] = class_dndvi(vector["stand_class"], stands, before, after, radio["used"])
    log.extend(vector_log)
    season = ev.image_days(prepared, image_dates)  # full leaf on both dates: same phenology
    t = ruleset.thresholds  # a deciduous canopy is there to show a clearing only in leaf
    season["canopy_seen"] = ev.canopy_seen(
        vector["stand_class"], season, t["leaf_on_first_doy"], t["leaf_on_last_doy"]
    )
    stand = stand_evidence(good, cause.loc[good.index], tap).reindex(prepared.index)
    evidence = pd.concat([vector, raster, season, stand], axis=1).assign(interp_cause=cause)
    evidence = derive_evidence(evidence.assign(radiometry=radio["used"]))
    logger.info("rules", extra={"zh": "规则判定"})
    verdict = decide(evidence, ruleset, lang=language)
    if radio["used"] == "dn":
        note = RELATIVE_NOTE[str(language)]
        verdict["reasons"] = note + verdict["reasons"].astype(str)
    checked = assemble(prepared, evidence, verdict)
    run = run_metadata(ruleset, language=language, image_dates=image_dates, started=started)
    run["radiometry"] = radio
    run["counts"] = summary_counts(checked)
    return PatchCheckResult(checked, log, run)


RELATIVE_NOTE = {
    "zh": "【未定标影像（8位拉伸/DN），仅用相对证据】",
    "en": "[uncalibrated imagery (8-bit stretched/DN): relative evidence only] ",
}


def note_pair_bands(before: Any, after: Any, log: Findings) -> None:
    """Add ``nbr_unavailable`` when only one date has SWIR2 (an S2 or Landsat and a GF image).

    The evidence uses the bands both dates have (:meth:`gis.zonal.inside.InsideOptions.of`):
    without SWIR2 on one date the NBR, dNBR, SWIR2-rise, burn and snow evidence is left out
    for the whole pair, and the finding names the date and its bands.
    """
    dates = {"before": before, "after": after}
    lacking = [role for role, src in dates.items() if not src.has("SWIR2")]
    if len(lacking) != 1:
        return
    src = dates[lacking[0]]
    bands = ",".join(r for r in src.roles if r != ALPHA)
    date_zh = "前期" if lacking[0] == "before" else "后期"
    log.add(
        "nbr_unavailable",
        f"the {lacking[0]} image has no SWIR2 band (its bands: {bands}): NBR, dNBR, the SWIR2 "
        "rise and the burn and snow tests need SWIR2 on both dates and are left out for this "
        "pair; loss is judged on NDVI (and the red rise) only, so a burn or a bare-soil change "
        "that keeps NDVI may be missed",
        severity="info",
        source=src.path,
        zh=f"{date_zh}影像没有 SWIR2 波段（其波段：{bands}）：NBR、dNBR、SWIR2 上升以及过火、积雪"
        "判别需要两期都有 SWIR2，本对影像不使用这些证据；植被减少只按 NDVI（及红光上升）判断，"
        "NDVI 不降的过火或裸土变化可能漏判",
    )


def radiometry_of(
    before: Any, after: Any, requested: str | tuple[str, str], log: Findings
) -> dict[str, str]:
    """Decide the radiometry of the pair (``dn`` when either date is uncalibrated).

    ``requested`` is one radiometry for both dates or a (before, after) pair. Returns the
    run-table record: ``used``, ``requested`` and why for each date; a finding says when
    uncalibrated imagery is checked with relative evidence.
    """
    asked = (requested, requested) if isinstance(requested, str) else tuple(requested)
    if not set(asked) <= set(RADIOMETRIES):  # the samples of both dates at once
        prefetch_samples(before, after)
    b, why_b = resolve_radiometry(before, asked[0])
    a, why_a = resolve_radiometry(after, asked[1])
    used = "dn" if "dn" in (a, b) else "reflectance"
    if used == "dn":
        log.add(
            "uncalibrated_imagery",
            f"uncalibrated imagery (before: {b}, {why_b}; after: {a}, {why_a}): each date is "
            "normalised against its own scene and compared with the patch surroundings; "
            "reflectance thresholds (NDVI levels, Key & Benson dNBR) are not applied",
            severity="info",
            zh=f"未定标影像（前期：{b}，{why_b}；后期：{a}，{why_a}）：各期影像按本景归一化后与"
            "图斑周边比较；不使用反射率阈值（NDVI 绝对值、Key & Benson dNBR）",
        )
    return {
        "requested": asked[0] if asked[0] == asked[1] else f"before {asked[0]}, after {asked[1]}",
        "used": used,
        "before": f"{b} ({why_b})",
        "after": f"{a} ({why_a})",
    }


def assemble(
    patches: gpd.GeoDataFrame, evidence: pd.DataFrame, verdict: pd.DataFrame
) -> gpd.GeoDataFrame:
    """Return input attributes + evidence + verdict (+ geometry last) as one frame."""
    added = [*EVIDENCE_COLUMNS, *VERDICT_COLUMNS]
    geom_name = patches.geometry.name
    attrs = patches.drop(columns=[geom_name])
    attrs = attrs.rename(columns={c: f"{c}_input" for c in attrs.columns if c in added})
    body = pd.concat([attrs, evidence[list(EVIDENCE_COLUMNS)], verdict], axis=1)
    # copy=False: body is a new frame already (geopandas would copy and consolidate it)
    geometry = patches.geometry.rename("geometry")
    return gpd.GeoDataFrame(body, geometry=geometry, crs=patches.crs, copy=False)


def summary_counts(checked: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Return patch counts by legality and by change type (for the run table and --json)."""
    return {
        col: {str(k): int(v) for k, v in checked[col].fillna("—").value_counts().items()}
        for col in ("legality", "change_type")
    }


def run_metadata(
    rules: RuleSet,
    *,
    language: Lang,
    image_dates: tuple[Any, Any] | None,
    started: dt.datetime,
) -> dict[str, Any]:
    """Return the run metadata of a check (inputs and checksums are added at the edge)."""
    return {
        "check": "patches",
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "linyuan_version": __version__,
        "versions": _versions(),
        "rules_file": rules.source,
        "thresholds": dict(rules.thresholds),
        "rule_ids": rules.rule_ids(),
        "lang": str(language),
        "image_dates": None if image_dates is None else [str(d) for d in image_dates],
        "stat_definitions": {
            **STAT_DEFINITIONS,
            **INSIDE_DEFINITIONS,
            **CLASS_DEFINITIONS,
            **TEXTURE_DEFINITIONS,
        },
    }


def _versions() -> Mapping[str, str]:
    return {
        "geopandas": gpd.__version__,
        "shapely": shapely.__version__,
        "pyogrio": pyogrio.__version__,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }
