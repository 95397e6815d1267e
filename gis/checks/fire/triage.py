"""The verdict on a hotspot: what is burning, field priority, feedback deadline, reasons.

The rules are data (``layers/rules/hotspots.yaml``), read with :func:`load_hotspot_rules`
against :data:`HOTSPOT_SCHEMA` and applied by :func:`gis.rules.evaluate` — the engine of the
patch check. :func:`decide` adds one reason sentence per hotspot in Chinese (or English).
"""

from __future__ import annotations

import os
import string
from typing import Any

import pandas as pd

from gis.enums import Lang
from gis.layers import code_meaning
from gis.resources import resource_path
from gis.rules import RuleSchema, RuleSet, evaluate, load_rules, render, template_rows

DEFAULT_RULES = resource_path("layers/rules/hotspots.yaml")
"""The bureau's default hotspot rules."""

FIRE_KINDS = ("forest_fire", "grassland_fire", "agricultural_burning", "industrial", "other")
EVIDENCE_FIELDS = (
    "forest_share",
    "grass_share",
    "crop_share",
    "forest_distance_m",
    "land_class",
    "reported_class",
    "in_area",
    "in_fire_zone",
    "fire_level",
    "in_protected",
    "heat_source",
    "heat_source_distance_m",
    "event_size",
    "event_days",
    "confidence_class",
    "frp",
    "in_fire_season",
)
VERDICT_COLUMNS = ("fire_kind", "field_priority", "feedback_hours", "rules_fired", "reasons")
REASON_STAGES = ("fire_kind", "field_priority", "feedback")

HOTSPOT_SCHEMA = RuleSchema(
    fields=frozenset(EVIDENCE_FIELDS),
    stages={
        "fire_kind": frozenset({"fire_kind"}),
        "field_priority": frozenset({"field_priority"}),
        "feedback": frozenset({"feedback_hours"}),
    },
    required_thresholds=("event_distance_m", "event_hours", "search_m"),
    allowed_values={"fire_kind": FIRE_KINDS, "field_priority": (1, 2, 3)},
)
"""What the hotspot rules may test and set."""


def load_hotspot_rules(path: str | os.PathLike[str] | None = None) -> RuleSet:
    """Read and validate a hotspot rules file (default :data:`DEFAULT_RULES`).

    Raises
    ------
    gis.errors.RulesError
        Unknown key, field or value; the message names the file and the valid keys.

    Examples
    --------
    >>> rules = load_hotspot_rules()
    >>> rules.thresholds["event_distance_m"], rules.rule_ids()[0]
    (1000.0, 'K01_outside_area')
    """
    return load_rules(DEFAULT_RULES if path is None else path, schema=HOTSPOT_SCHEMA)


def decide(
    evidence: pd.DataFrame,
    rules: RuleSet,
    *,
    season_label: pd.Series,
    lang: str | Lang = "zh",
) -> pd.DataFrame:
    """Apply ``rules`` to the evidence; return :data:`VERDICT_COLUMNS`.

    ``season_label`` names each hotspot's fire-prevention period (for the reasons).
    """
    language = str(Lang.get(lang))
    decided = evaluate(rules, evidence)
    out = pd.DataFrame(index=evidence.index)
    out["fire_kind"] = decided["fire_kind"].astype(object)
    out["field_priority"] = pd.to_numeric(decided["field_priority"]).astype("Int64")
    out["feedback_hours"] = pd.to_numeric(decided["feedback_hours"]).astype("float64")
    out["rules_fired"] = decided["rules_fired"]
    context = pd.concat([evidence, out.drop(columns=["rules_fired"])], axis=1)
    context = context.loc[:, ~context.columns.duplicated(keep="last")].copy()
    context["season_label"] = season_label
    kinds = {k: rules.label("fire_kind", k, language) for k in FIRE_KINDS}
    context["fire_kind_label"] = out["fire_kind"].map(kinds)
    land = context["land_class"].astype(object).where(context["land_class"].notna(), "")
    context["land_class"] = land.map({v: _land_word(v or None, language) for v in land.unique()})
    context["heat_source"] = context["heat_source"].fillna("—")
    out["reasons"] = _reasons(context, decided, rules, language)
    return out


_FIELDS = string.Formatter()


def _land_word(value: Any, language: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—" if language == "zh" else "unknown"
    if language == "zh":
        return str(value)
    return code_meaning("subcompartments", "land_class", value, lang=language) or str(value)


def _reasons(
    context: pd.DataFrame, decided: pd.DataFrame, rules: RuleSet, language: str
) -> pd.Series:
    """Return one sentence per hotspot from the reason templates of the rules that fired.

    Each rule's template is rendered once per distinct combination of the values it names
    (a forest share in ninths, a handful of zones …), not once per hotspot.
    """
    templates = {r.id: r.reason.get(language, "") for _, rs in rules.stages for r in rs}
    sep = "；" if language == "zh" else "; "
    out = pd.Series("", index=context.index, dtype=object)
    for stage in REASON_STAGES:
        fired = decided[f"fired_{stage}"]
        piece = pd.Series("", index=context.index, dtype=object)
        for rule_id in fired.dropna().unique():
            template = templates.get(rule_id, "")
            if not template:
                continue
            rows = (fired == rule_id).to_numpy()
            names = [n for _, n, _, _ in _FIELDS.parse(template) if n and n in context]
            if not names:
                piece[rows] = render(template, {})
                continue
            values = context.loc[rows, names]
            key = pd.Series("", index=values.index, dtype=object)
            for name in names:
                key = key + "\x1f" + values[name].astype(str)
            first = ~key.duplicated().to_numpy()
            text = {
                k: render(template, row)
                for k, row in zip(key[first], template_rows(values[first]), strict=True)
            }
            piece[rows] = key.map(text).to_numpy()
        joined = out.where(out == "", out + sep) + piece
        out = out.where(piece == "", joined)
    return out.str.replace(f"{sep}→", " →", regex=False)
