"""The verdict of the patch check: rules file, derived evidence, decision table, reasons.

The rules (thresholds and the ordered decision table) are data: ``layers/rules/patches.yaml``
by default, read with :func:`load_patch_rules` against :data:`PATCH_SCHEMA` (the evidence
columns the rules may test and the verdict columns they may set). :func:`decide` applies them
to the evidence of :func:`derive_evidence` and writes one reason sentence per patch.
"""

from __future__ import annotations

import os
import string
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from gis.checks.patches.evidence import PERMIT_COLUMNS
from gis.checks.patches.stand_rest import STAND_REST_COLUMNS
from gis.enums import Lang
from gis.errors import RulesError
from gis.layers import code_meaning
from gis.resources import resource_path
from gis.rules import (
    Condition,
    RuleSchema,
    RuleSet,
    evaluate,
    load_rules,
    render_column,
)
from gis.units import M2_PER_HA, M2_PER_MU
from gis.zonal.inside import INSIDE_COLUMNS
from gis.zonal.texture import TEXTURE_COLUMNS

MU_PER_HA = M2_PER_HA / M2_PER_MU
"""亩 per hectare (15)."""

DEFAULT_RULES = resource_path("layers/rules/patches.yaml")
"""The bureau's default rules file."""

CHANGE_TYPES = (
    "logging",
    "construction",
    "cultivation",
    "disaster",
    "afforestation",
    "other_loss",
    "other_gain",
    "none",
)
LEGALITIES = (
    "permitted",
    "suspected_illegal",
    "lawful_no_permit",
    "not_forest_land",
    "no_change",
    "needs_field_check",
)
RASTER_COLUMNS = (
    "valid_frac_before",
    "valid_frac_after",
    "ndvi_before",
    "ndvi_after",
    "dndvi",
    "drop_frac",
    "dnbr",
    "ring_ndvi_before",
    "ring_ndvi_after",
    "ring_dndvi",
    "scene_dndvi",
    "n_pixels",
)
INSIDE_RAW = (*INSIDE_COLUMNS, "pixel_m2")
"""Columns of :func:`gis.zonal.inside.inside_stats` the rules may read (and the pixel area)."""
CHANGED_COLUMNS = (
    "covered_frac",
    "seen_frac",
    "changed_share",
    "changed_area_ha",
    "changed_area_mu",
    "loss_share",
    "loss_area_mu",
    "gain_share",
    "largest_loss_cluster_mu",
    "largest_gain_cluster_mu",
    "largest_cluster_mu",
    "ring_loss_share",
    "burned_share",
    "burned_area_ha",
    "burned_area_mu",
    "ring_burned_share",
    "lost_ndvi_after",
    "rel_texture",
)
"""Changed area inside the patch (the desk estimate that pre-fills 核实面积), in the results."""
DERIVED_COLUMNS = (
    "valid_frac_min",
    "rel_dndvi",
    "rel_stand_dndvi",
    "ring_vs_stand",
    "ring_vs_scene",
    "ring_vs_class",
    "abs_ring_vs_class",
    "abs_rel_dndvi",
    "burn_excess",
    "loss_px",
    *CHANGED_COLUMNS,
)
SEASON_COLUMNS = ("doy_before", "doy_after")
"""Day of year of the image dates (:func:`gis.checks.patches.evidence.image_days`)."""
VECTOR_COLUMNS = (
    "area_ha",
    "area_mu",
    "forest_share",
    "gyl_share",
    "protected_share",
    "land_class",
    "district",
    "township",
    "forest_chief",
    *PERMIT_COLUMNS,
    "stand_class",
)
CLASS_COLUMNS = ("class_dndvi", "canopy_seen")
"""The scene's NDVI change of the patch's class (:mod:`gis.checks.patches.stand`) and whether a
clearing would show against its canopy on the image dates
(:func:`gis.checks.patches.evidence.canopy_seen`)."""
EVIDENCE_COLUMNS = (
    *VECTOR_COLUMNS[:9],
    *RASTER_COLUMNS,
    "rel_dndvi",
    "ring_vs_scene",
    "stand_class",
    "class_dndvi",
    "ring_vs_class",
    "canopy_seen",
    *STAND_REST_COLUMNS,
    "rel_stand_dndvi",
    "ring_vs_stand",
    *CHANGED_COLUMNS,
    "radiometry",
    *PERMIT_COLUMNS,
)
VERDICT_COLUMNS = (
    "is_real_change",
    "change_type",
    "verified_cause_code",
    "legality",
    "field_priority",
    "rules_fired",
    "reasons",
)
REASON_STAGES = ("change", "change_type", "field_priority", "legality")
"""Order of the reason fragments: what changed, what kind, where it lies, verdict."""

PATCH_SCHEMA = RuleSchema(
    fields=frozenset(
        {
            *VECTOR_COLUMNS,
            *RASTER_COLUMNS,
            *INSIDE_RAW,
            *TEXTURE_COLUMNS,
            *DERIVED_COLUMNS,
            *SEASON_COLUMNS,
            *CLASS_COLUMNS,
            *STAND_REST_COLUMNS,
            "interp_cause",
        }
    ),
    stages={
        "change": frozenset({"is_real_change", "direction"}),
        "change_type": frozenset({"change_type", "verified_cause_code"}),
        "legality": frozenset({"legality", "verified_cause_code"}),
        "field_priority": frozenset({"field_priority"}),
    },
    required_thresholds=(
        "ring_m",
        "drop_threshold",
        "tolerance_px",
        "nbr_drop_threshold",
        "leaf_on_first_doy",
        "leaf_on_last_doy",
    ),
    allowed_values={
        "change_type": CHANGE_TYPES,
        "legality": LEGALITIES,
        "direction": ("loss", "gain", "none", "unknown"),
        "is_real_change": (True, False),
        "field_priority": (1, 2, 3),
    },
)
"""What the patch rules may test and set."""


def load_patch_rules(path: str | os.PathLike[str] | None = None) -> RuleSet:
    """Read and validate a patch rules file (default :data:`DEFAULT_RULES`).

    Raises
    ------
    gis.errors.RulesError
        Unknown key, unknown field, missing stage or threshold; the message names the file,
        the key and the valid keys.

    Examples
    --------
    >>> rules = load_patch_rules()
    >>> rules.thresholds["ring_m"], rules.rule_ids()[0]
    (30.0, 'C01_too_few_valid_pixels')
    """
    return load_rules(DEFAULT_RULES if path is None else path, schema=PATCH_SCHEMA)


def derive_evidence(evidence: pd.DataFrame) -> pd.DataFrame:
    """Add the derived evidence the rules read (see ``layers/rules/patches.yaml``).

    ``valid_frac_min`` (missing counts as 0), ``rel_dndvi`` = dndvi − ring_dndvi (dndvi when
    the ring has no valid pixels), ``rel_stand_dndvi`` = dndvi − stand_dndvi and
    ``ring_vs_stand`` = ring_dndvi − stand_dndvi (the rest of the patch's own subcompartment,
    :mod:`gis.checks.patches.stand_rest`), ``burn_excess`` = dnbr −
    dndvi, and the changed area inside
    the patch (:data:`CHANGED_COLUMNS`) from the pixel counts of :mod:`gis.zonal.inside`: a
    share of the patch's pixels times the patch's (ellipsoidal) area.

    Examples
    --------
    >>> e = derive_evidence(pd.DataFrame({"valid_frac_before": [1.0], "valid_frac_after": [None],
    ...     "dndvi": [-0.5], "ring_dndvi": [-0.1], "dnbr": [-0.9]}))
    >>> e[["valid_frac_min", "rel_dndvi", "burn_excess"]].round(2).values.tolist()
    [[0.0, -0.4, -0.4]]
    >>> e = derive_evidence(pd.DataFrame({"n_pixels": [100], "seen_px": [80], "area_ha": [1.0],
    ...     "pixel_m2": [100.0],
    ...     "loss_share": [0.25], "gain_share": [0.0], "largest_loss_px": [15]}))
    >>> e[["changed_area_ha", "changed_area_mu", "largest_cluster_mu"]].round(2).values.tolist()
    [[0.2, 3.0, 2.25]]
    """
    out = evidence.copy()
    for col in (
        "valid_frac_before",
        "valid_frac_after",
        "dndvi",
        "ring_dndvi",
        "scene_dndvi",
        "dnbr",
        *INSIDE_RAW,
        *TEXTURE_COLUMNS,
        *SEASON_COLUMNS,
        *CLASS_COLUMNS,
        *STAND_REST_COLUMNS,
    ):
        if col not in out:
            out[col] = np.nan
    frac = out[["valid_frac_before", "valid_frac_after"]].astype("f8").fillna(0.0)
    out["valid_frac_min"] = frac.min(axis=1)
    dndvi = out["dndvi"].astype("f8")
    out["rel_dndvi"] = dndvi - out["ring_dndvi"].astype("f8").fillna(0.0)
    out["abs_rel_dndvi"] = out["rel_dndvi"].abs()
    # the patch against the rest of its own subcompartment (one stand: one phenology)
    out["rel_stand_dndvi"] = dndvi - out["stand_dndvi"].astype("f8")
    out["ring_vs_stand"] = out["ring_dndvi"].astype("f8") - out["stand_dndvi"].astype("f8")
    # the surroundings against the whole scene (uncalibrated imagery: its relative ring change
    # has the scene's change taken off already)
    scene = out["scene_dndvi"].astype("f8")
    if "radiometry" in out:
        scene = scene.where(out["radiometry"].ne("dn"), 0.0)
    out["ring_vs_scene"] = out["ring_dndvi"].astype("f8") - scene
    # … and against the stands of its own class (leaf habit) elsewhere in the scene, in the
    # same units (uncalibrated: both have the scene's change taken off)
    out["ring_vs_class"] = out["ring_dndvi"].astype("f8") - out["class_dndvi"].astype("f8")
    out["abs_ring_vs_class"] = out["ring_vs_class"].abs()
    out["burn_excess"] = out["dnbr"].astype("f8") - dndvi
    _changed_area(out)
    out["rel_texture"] = relative_texture(out)
    return out


def relative_texture(evidence: pd.DataFrame) -> pd.Series:
    """Return the patch's change of canopy texture beyond its ring's (natural log).

    ``log(texture_after / texture_before) - log(ring_texture_after / ring_texture_before)``
    (:mod:`gis.zonal.texture`): about 0 where patch and surroundings kept their crowns or
    changed alike (a stand's leaf colour, a scene-wide gain or stretch), clearly below 0 where
    the patch lost its crowns' light and shade and the ring did not (a clearing); NaN where a
    texture is missing or zero.

    Examples
    --------
    >>> e = pd.DataFrame({"texture_before": [0.04], "texture_after": [0.02],
    ...     "ring_texture_before": [0.04], "ring_texture_after": [0.04]})
    >>> round(float(relative_texture(e).iloc[0]), 3)
    -0.693
    """
    v = evidence[list(TEXTURE_COLUMNS)].astype("f8").where(lambda x: x > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        inside = np.log(v["texture_after"] / v["texture_before"])
        ring = np.log(v["ring_texture_after"] / v["ring_texture_before"])
    return pd.Series(inside - ring, index=evidence.index, dtype="f8")


def _changed_area(out: pd.DataFrame) -> None:
    """Add the changed, lost and burned areas and clusters from pixel counts (in place)."""

    def col(name: str) -> pd.Series:
        return out[name].astype("f8") if name in out else pd.Series(np.nan, index=out.index)

    n, seen, area_ha = col("n_pixels"), col("seen_px"), col("area_ha")
    with np.errstate(invalid="ignore", divide="ignore"):
        # one pixel's area from the grid (projected rasters), else the patch's area per pixel
        ha_per_px = (col("pixel_m2") / M2_PER_HA).fillna((area_ha / n).where(n > 0))
        out["covered_frac"] = (n * ha_per_px / area_ha).clip(upper=1.0)
        # where known, the exact share of the outline inside the raster's extent (a pixel count
        # × the pixel area is a few per cent off the outline's area either way)
        exact = col("in_raster_frac").where(n > 0)
        out["covered_frac"] = exact.fillna(out["covered_frac"])
        out["seen_frac"] = (seen * ha_per_px / area_ha).clip(upper=1.0)
    loss, gain = col("loss_share"), col("gain_share").fillna(0.0)
    for name in ("loss_share", "gain_share", "ring_loss_share", "burned_share"):
        out[name] = col(name)
    out["ring_burned_share"], out["lost_ndvi_after"] = (
        col("ring_burned_share"),
        col("lost_ndvi_after"),
    )
    out["changed_share"] = loss + gain
    out["changed_area_ha"] = out["changed_share"] * seen * ha_per_px
    out["changed_area_mu"] = out["changed_area_ha"] * MU_PER_HA
    out["loss_area_mu"] = loss * seen * ha_per_px * MU_PER_HA
    out["loss_px"] = loss * seen  # lost pixels seen (a mapped change needs min_cluster_px)
    # no pixel seen: no cluster seen
    out["largest_loss_cluster_mu"] = (col("largest_loss_px") * ha_per_px * MU_PER_HA).fillna(0.0)
    out["largest_gain_cluster_mu"] = (col("largest_gain_px") * ha_per_px * MU_PER_HA).fillna(0.0)
    clusters = out[["largest_loss_cluster_mu", "largest_gain_cluster_mu"]]
    out["largest_cluster_mu"] = clusters.max(axis=1, skipna=True)
    out["burned_area_ha"] = col("burned_share") * seen * ha_per_px
    out["burned_area_mu"] = out["burned_area_ha"] * MU_PER_HA


def with_thresholds(rules: RuleSet, **overrides: float | None) -> RuleSet:
    """Return ``rules`` with some thresholds replaced (and every condition naming them).

    Examples
    --------
    >>> r = with_thresholds(load_patch_rules(), min_mapping_unit_mu=0.5)
    >>> r.thresholds["min_mapping_unit_mu"]
    0.5
    """
    given = {k: float(v) for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - set(rules.thresholds))
    if unknown:
        raise RulesError(
            f"{rules.source}: unknown thresholds {', '.join(unknown)}",
            zh=f"{rules.source}：未知的阈值 {'、'.join(unknown)}",
        )

    def cond(c: Condition) -> Condition:
        return replace(c, value=given[c.threshold]) if c.threshold in given else c

    stages = tuple(
        (
            name,
            tuple(
                replace(r, when=tuple(map(cond, r.when)), when_any=tuple(map(cond, r.when_any)))
                for r in rs
            ),
        )
        for name, rs in rules.stages
    )
    return replace(rules, thresholds={**rules.thresholds, **given}, stages=stages)


def decide(evidence: pd.DataFrame, rules: RuleSet, *, lang: str | Lang = "zh") -> pd.DataFrame:
    """Apply ``rules`` to derived evidence; return the verdict columns.

    Returns
    -------
    pandas.DataFrame
        :data:`VERDICT_COLUMNS`, indexed like ``evidence``; ``is_real_change`` is a nullable
        boolean, ``verified_cause_code`` and ``field_priority`` nullable integers.
    """
    language = Lang.get(lang)
    decided = evaluate(rules, evidence)
    out = pd.DataFrame(index=evidence.index)
    out["is_real_change"] = decided["is_real_change"].astype("boolean")
    out["change_type"] = decided["change_type"].astype(object)
    out["verified_cause_code"] = pd.to_numeric(decided["verified_cause_code"]).astype("Int64")
    out["legality"] = decided["legality"].astype(object)
    out["field_priority"] = pd.to_numeric(decided["field_priority"]).astype("Int64")
    out["rules_fired"] = decided["rules_fired"]
    out["reasons"] = reasons(evidence, decided, rules, lang=language)
    return out


def reasons(
    evidence: pd.DataFrame, decided: pd.DataFrame, rules: RuleSet, *, lang: str | Lang = "zh"
) -> pd.Series:
    """Return one sentence per patch from the reason templates of the rules that fired."""
    language = str(Lang.get(lang))
    templates = {r.id: r.reason.get(language, "") for _, rs in rules.stages for r in rs}
    sep = "；" if language == "zh" else "; "
    fields = {k: [n for _, n, _, _ in _FIELDS.parse(t) if n] for k, t in templates.items()}
    needed = {name for names in fields.values() for name in names}
    context = _reason_context(evidence, decided, rules, language, needed)
    text = []
    for stage in REASON_STAGES:  # each template filled a column at a time where it fired
        codes, fired = pd.factorize(decided[f"fired_{stage}"], use_na_sentinel=True)
        piece = np.full(len(codes), None, dtype=object)
        for code, rule_id in enumerate(fired):
            if templates.get(rule_id):
                rows = codes == code
                used = [c for c in dict.fromkeys(fields[rule_id]) if c in context]
                piece[rows] = render_column(templates[rule_id], context.loc[rows, used])
        text.append(piece)
    return pd.Series(_joined(text, sep), index=evidence.index, dtype=object)


def _joined(pieces: list[np.ndarray], sep: str) -> list[str]:
    """Return each row's pieces (``None`` left out) joined by ``sep`` (``sep→`` reads `` →``)."""
    arrow, out = f"{sep}→", []
    for row in zip(*pieces, strict=True):
        text = sep.join([p for p in row if p is not None])
        out.append(text.replace(arrow, " →") if arrow in text else text)
    return out


_FIELDS = string.Formatter()


def _reason_context(
    evidence: pd.DataFrame,
    decided: pd.DataFrame,
    rules: RuleSet,
    language: str,
    needed: set[str],
) -> pd.DataFrame:
    """Return the ``needed`` values of evidence, verdicts, thresholds and derived values."""
    columns = dict(evidence.items()) | dict(decided.drop(columns=["rules_fired"]).items())
    for name, value in rules.thresholds.items():  # reasons state the thresholds they used
        columns.setdefault(name, pd.Series(value, index=evidence.index))
    columns["neg_dndvi"] = -columns["dndvi"].astype("f8")
    columns["neg_burn_excess"] = -columns["burn_excess"].astype("f8")
    if "ring_vs_scene" in columns:
        columns["neg_ring_vs_scene"] = -columns["ring_vs_scene"].astype("f8")
    if "rel_texture" in columns:  # the patch's texture change as a share of the ring's
        columns["texture_kept"] = columns["rel_texture"].astype("f8").transform(np.exp)
    if "texture_loss" in columns:
        columns["texture_kept_max"] = columns["texture_loss"].astype("f8").transform(np.exp)
    if "lost_ndvi_vs_ring" in columns:
        columns["neg_lost_ndvi_vs_ring"] = -columns["lost_ndvi_vs_ring"].astype("f8")
    unknown = "未知地类" if language == "zh" else "unknown land class"

    def by_value(column: str, func: Any) -> pd.Series:
        """``func`` of each value (``None`` for a missing one), called once per distinct value."""
        codes, uniques = pd.factorize(columns[column].astype(object))
        table = np.array([*(func(v) for v in uniques), func(None)], dtype=object)
        return pd.Series(table[codes], index=evidence.index)

    columns["change_type_label"] = by_value(
        "change_type", lambda v: rules.label("change_type", v, language)
    )
    columns["interp_cause_label"] = by_value(
        "interp_cause", lambda v: _cause_label(rules, v, language)
    )
    columns["land_class"] = by_value(
        "land_class", lambda v: _land_class_label(v, language, unknown)
    )
    if "stand_class" in columns:  # a leaf habit's label; a species not in the catalog as is
        anon = "树种未知的林分" if language == "zh" else "stands of unknown species"
        columns["stand_class_label"] = by_value(
            "stand_class", lambda v: anon if v is None else rules.label("stand_class", v, language)
        )
    kept = {name: values for name, values in columns.items() if name in needed}
    if not kept:
        return pd.DataFrame(index=evidence.index)
    return pd.concat(kept.values(), axis=1, keys=list(kept))


def _land_class_label(value: Any, lang: str, unknown: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return unknown
    if lang == "zh":
        return str(value)
    return code_meaning("subcompartments", "land_class", value, lang=lang) or str(value)


def _cause_label(rules: RuleSet, cause: Any, lang: str) -> str:
    try:
        return rules.label("interp_cause", int(cause), lang)
    except (TypeError, ValueError):
        return "—"
