"""The verdict of the patch check: rules file, derived evidence, decision table, reasons.

The rules (thresholds and the ordered decision table) are data: ``layers/rules/patches.yaml``
by default, read with :func:`load_patch_rules` against :data:`PATCH_SCHEMA` (the evidence
columns the rules may test and the verdict columns they may set). :func:`decide` applies them
to the evidence of :func:`derive_evidence` and writes one reason sentence per patch.
"""

from __future__ import annotations

import os
import string
from typing import Any

import numpy as np
import pandas as pd

from gis.checks.patches.evidence import PERMIT_COLUMNS
from gis.enums import Lang
from gis.layers import code_meaning
from gis.resources import resource_path
from gis.rules import RuleSchema, RuleSet, evaluate, load_rules, render, template_rows

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
    "n_pixels",
)
DERIVED_COLUMNS = ("valid_frac_min", "rel_dndvi", "burn_excess")
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
)
EVIDENCE_COLUMNS = (*VECTOR_COLUMNS[:9], *RASTER_COLUMNS, "rel_dndvi", *PERMIT_COLUMNS)
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
        {*VECTOR_COLUMNS, *RASTER_COLUMNS, *DERIVED_COLUMNS, "interp_cause", "area_ha"}
    ),
    stages={
        "change": frozenset({"is_real_change", "direction"}),
        "change_type": frozenset({"change_type", "verified_cause_code"}),
        "legality": frozenset({"legality", "verified_cause_code"}),
        "field_priority": frozenset({"field_priority"}),
    },
    required_thresholds=("ring_m", "drop_threshold", "tolerance_px"),
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
    the ring has no valid pixels), ``burn_excess`` = dnbr − dndvi.

    Examples
    --------
    >>> e = derive_evidence(pd.DataFrame({"valid_frac_before": [1.0], "valid_frac_after": [None],
    ...     "dndvi": [-0.5], "ring_dndvi": [-0.1], "dnbr": [-0.9]}))
    >>> e[["valid_frac_min", "rel_dndvi", "burn_excess"]].round(2).values.tolist()
    [[0.0, -0.4, -0.4]]
    """
    out = evidence.copy()
    frac = out[["valid_frac_before", "valid_frac_after"]].astype("f8").fillna(0.0)
    out["valid_frac_min"] = frac.min(axis=1)
    dndvi = out["dndvi"].astype("f8")
    out["rel_dndvi"] = dndvi - out["ring_dndvi"].astype("f8").fillna(0.0)
    out["burn_excess"] = out["dnbr"].astype("f8") - dndvi
    return out


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
    context = _reason_context(evidence, decided, rules, language)
    needed = {name for t in templates.values() for _, name, _, _ in _FIELDS.parse(t) if name}
    context = context[[c for c in context.columns if c in needed]]
    fired = decided[[f"fired_{s}" for s in REASON_STAGES]].to_numpy()
    records = template_rows(context)
    out = []
    for row, ids in zip(records, fired, strict=True):
        parts = [render(templates[i], row) for i in ids if isinstance(i, str) and templates[i]]
        out.append(sep.join(parts).replace(f"{sep}→", " →"))
    return pd.Series(out, index=evidence.index, dtype=object)


_FIELDS = string.Formatter()


def _reason_context(
    evidence: pd.DataFrame, decided: pd.DataFrame, rules: RuleSet, language: str
) -> pd.DataFrame:
    """Evidence and verdicts plus the derived values reason templates may name."""
    context = pd.concat([evidence, decided.drop(columns=["rules_fired"])], axis=1)
    context = context.loc[:, ~context.columns.duplicated(keep="last")].copy()
    context["neg_dndvi"] = -context["dndvi"].astype("f8")
    context["neg_burn_excess"] = -context["burn_excess"].astype("f8")
    unknown = "未知地类" if language == "zh" else "unknown land class"

    def by_value(column: str, func: Any) -> pd.Series:
        values = context[column].astype(object)
        values = values.where(values.notna(), None)
        table = {v: func(v) for v in pd.unique(values)}
        return values.map(lambda v: table[v])

    context["change_type_label"] = by_value(
        "change_type", lambda v: rules.label("change_type", v, language)
    )
    context["interp_cause_label"] = by_value(
        "interp_cause", lambda v: _cause_label(rules, v, language)
    )
    context["land_class"] = by_value(
        "land_class", lambda v: _land_class_label(v, language, unknown)
    )
    return context


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
