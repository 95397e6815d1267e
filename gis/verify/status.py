"""核查率 (verification rate), outcome counts and conflicts, from the log and the results.

Pure functions on frames: the log as :meth:`gis.verify.store.FieldStore.log` returns it, the
features as :class:`gis.verify.results.Results` holds them.

- 核查率 of a group = features of the group with at least one accepted record (any record in
  the log: a record is accepted when it is imported) / features of the group.
- Outcome counts use each feature's latest record (:func:`gis.verify.recency.latest`: device
  time, then the later import — the rule of the ``verification_latest`` view); a lab result
  counts as the point's outcome.
- A conflict is a feature whose inspectors' latest field verdicts differ (one inspector
  changing their mind is a revision, not a conflict).

Examples
--------
>>> log = pd.DataFrame({
...     "fid": [1, 2, 3], "kind": ["field"] * 3, "layer": ["patches_checked"] * 3,
...     "feature_id": ["A", "A", "B"], "inspector": ["王", "李", "王"],
...     "is_real_change": [True, False, True], "verified_cause_code": [42, None, 20],
...     "outcome": [None] * 3,
...     "device_time_utc": ["2026-06-01T01:00:00.000Z", "2026-06-02T01:00:00.000Z",
...                         "2026-06-01T02:00:00.000Z"]})
>>> conflicts(log)[["feature_id", "inspectors"]].values.tolist()
[['A', '李, 王']]
>>> latest(log)["fid"].tolist()
[2, 3]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.enums import GroupBy
from gis.layers import code_meaning
from gis.verify.contract import LAB_OUTCOMES, LAYERS, OUTCOMES
from gis.verify.recency import LATEST_KEY, latest

FEEDBACK = ("on_time", "late", "missing", "no_deadline")
"""Feedback of a hotspot: the first field record by ``feedback_due_utc``, after it, none yet,
or a hotspot without a deadline (its detection time had no time zone)."""

OUTCOME_COLUMNS = {
    "patches_checked": ("real_change", "no_change"),
    "discolored_points": (*OUTCOMES, *LAB_OUTCOMES),
    "hotspots_checked": ("fire", "no_fire", *FEEDBACK),
}
"""Outcome count columns of each layer in :func:`verification_status`."""

MEASURE_COLUMNS = {"hotspots_checked": ("feedback_median_h",)}
"""Further columns of a layer in :func:`verification_status` (not counts)."""

NO_GROUP = "（未填）"
"""Group label of features whose grouping column is empty."""

VERDICT_FIELDS = (
    "layer", "is_real_change", "verified_cause_code", "outcome", "is_fire", "fire_type",
)  # fmt: skip

VERDICT_WORDS = {
    "real": "真实变化", "not_real": "非真实变化", "unknown": "未填",
    "fire": "火情", "no_fire": "非火情",
}  # fmt: skip
"""Chinese words of a field verdict (``real/42``: 真实变化/42, ``fire/forest_fire``: 火情/林火)."""


def _verdict_text(
    layer: str,
    real: object,
    code: object,
    outcome: object,
    fire: object,
    fire_type: object,
    lang: str = "en",
) -> str:
    def word(said: str) -> str:
        return VERDICT_WORDS[said] if lang == "zh" else said

    if layer == "hotspots_checked":
        if pd.isna(fire):  # type: ignore[call-overload]
            return word("unknown")
        kind = "-" if pd.isna(fire_type) else str(fire_type)  # type: ignore[call-overload]
        if lang == "zh" and kind != "-":
            kind = code_meaning("hotspots", "fire_type", kind, lang="zh") or kind
        return f"{word('fire' if fire else 'no_fire')}/{kind}"
    if layer != "patches_checked":
        shown = code_meaning("pest_points", "status", outcome, lang="zh") if lang == "zh" else None
        return shown or str(outcome)
    if pd.isna(real):  # type: ignore[call-overload]
        return VERDICT_WORDS["unknown"] if lang == "zh" else "unknown"
    cause = "-" if pd.isna(code) else str(int(code))  # type: ignore[call-overload]
    said = "real" if real else "not_real"
    return f"{VERDICT_WORDS[said] if lang == 'zh' else said}/{cause}"


def verdict(frame: pd.DataFrame, *, lang: str = "en") -> pd.Series:
    """Return each record's verdict as text.

    Patches ``real/42``, points the outcome, hotspots ``fire/forest_fire``; ``lang="zh"`` gives
    the words people read (真实变化/42, 确认为枯死松树, 火情/…); the default gives the codes.
    """
    columns = frame.reindex(columns=list(VERDICT_FIELDS))
    values = [
        _verdict_text(layer, real, code, outcome, fire, kind, lang)
        for layer, real, code, outcome, fire, kind in columns.itertuples(index=False, name=None)
    ]
    return pd.Series(values, index=frame.index, dtype=object)


def conflicts(log: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """Return features whose inspectors' latest field verdicts differ (verdicts in ``lang``).

    Returns
    -------
    pandas.DataFrame
        ``layer, feature_id, inspectors, verdicts, records`` (verdicts as ``name: verdict``).
    """
    cols = ["layer", "feature_id", "inspectors", "verdicts", "records"]
    field = log[log["kind"] == "field"]
    if field.empty:
        return pd.DataFrame(columns=cols)
    per = latest(field, key=(*LATEST_KEY, "inspector"))
    per = per.assign(verdict=verdict(per, lang=lang))
    differ = per.groupby(["layer", "feature_id"])["verdict"].transform("nunique") > 1
    sizes = field.groupby(["layer", "feature_id"]).size().to_dict()
    rows = []
    for (layer, fid), group in per[differ].groupby(["layer", "feature_id"], sort=True):
        group = group.sort_values("inspector")
        pairs = zip(group["inspector"], group["verdict"], strict=True)
        said = "; ".join(f"{i}: {v}" for i, v in pairs)
        rows.append((layer, fid, ", ".join(group["inspector"]), said, int(sizes[(layer, fid)])))
    return pd.DataFrame(rows, columns=cols)


def _outcome_flags(last: pd.DataFrame) -> pd.DataFrame:
    flags = pd.DataFrame(index=last.index)
    for yes, no, column in (("real_change", "no_change", "is_real_change"),
                            ("fire", "no_fire", "is_fire")):  # fmt: skip
        said = last.reindex(columns=[column])[column].astype("boolean")
        flags[yes] = said.fillna(False).astype(int)
        flags[no] = (said == False).fillna(False).astype(int)  # noqa: E712
    for name in (*OUTCOMES, *LAB_OUTCOMES):
        flags[name] = (last["outcome"] == name).astype(int)
    return flags


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601")


def hotspot_feedback(features: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """Return the feedback of each hotspot: its first field record against its deadline.

    Parameters
    ----------
    features : pandas.DataFrame
        ``layer, feature_id, detected_utc, feedback_due_utc`` (other layers' rows ignored).
    log : pandas.DataFrame
        The verification log.

    Returns
    -------
    pandas.DataFrame
        ``feature_id, detected_utc, feedback_due_utc, first_record_utc, feedback_h,
        feedback`` — hours from detection to the first field record (``device_time_utc``),
        and :data:`FEEDBACK` (``on_time`` when the first record is no later than the deadline).

    Examples
    --------
    >>> spots = pd.DataFrame({"layer": "hotspots_checked", "feature_id": ["H1", "H2", "H3"],
    ...     "detected_utc": ["2026-04-02T05:00Z"] * 3,
    ...     "feedback_due_utc": ["2026-04-02T06:00Z", "2026-04-02T06:00Z", None]})
    >>> log = pd.DataFrame({"kind": "field", "layer": "hotspots_checked",
    ...     "feature_id": ["H1", "H1", "H3"], "device_time_utc": [
    ...     "2026-04-02T05:30:00.000Z", "2026-04-02T09:00:00.000Z", "2026-04-02T07:00:00.000Z"]})
    >>> hotspot_feedback(spots, log)[["feature_id", "feedback_h", "feedback"]].values.tolist()
    [['H1', 0.5, 'on_time'], ['H2', nan, 'missing'], ['H3', 2.0, 'no_deadline']]
    """
    spots = features[features["layer"] == "hotspots_checked"]
    spots = spots.reindex(columns=["feature_id", "detected_utc", "feedback_due_utc"])
    field = log[(log["kind"] == "field") & (log["layer"] == "hotspots_checked")]
    first = (
        field.assign(first_record_utc=_utc(field["device_time_utc"]))
        .groupby("feature_id", as_index=False)["first_record_utc"]
        .min()
    )
    out = spots.merge(first, on="feature_id", how="left")
    for name in ("detected_utc", "feedback_due_utc", "first_record_utc"):
        out[name] = _utc(out[name])
    hours = (out["first_record_utc"] - out["detected_utc"]).dt.total_seconds() / 3600
    out["feedback_h"] = hours.round(2)
    late = out["first_record_utc"] > out["feedback_due_utc"]
    out["feedback"] = np.select(
        [out["feedback_due_utc"].isna(), out["first_record_utc"].isna(), late],
        ["no_deadline", "missing", "late"],
        "on_time",
    )
    return out.reset_index(drop=True)


def _feedback_flags(features: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    got = hotspot_feedback(features, log)
    flags = pd.get_dummies(got["feedback"]).reindex(columns=list(FEEDBACK), fill_value=0)
    flags = flags.astype(int).assign(
        layer="hotspots_checked", feature_id=got["feature_id"], feedback_h=got["feedback_h"]
    )
    return flags


def _joined(features: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    last = latest(log)
    last = pd.concat([last[["layer", "feature_id"]], _outcome_flags(last)], axis=1)
    merged = features.merge(last, on=["layer", "feature_id"], how="left", indicator=True)
    merged["verified"] = (merged.pop("_merge") == "both").astype(int)
    merged = merged.merge(_feedback_flags(features, log), on=["layer", "feature_id"], how="left")
    counts = [c for cols in OUTCOME_COLUMNS.values() for c in cols]
    merged[counts] = merged[counts].fillna(0).astype(int)
    return merged


def verification_status(
    features: pd.DataFrame, log: pd.DataFrame, *, by: str | GroupBy | None = None
) -> pd.DataFrame:
    """Return 核查率 and outcome counts per layer (and per group), with an overall row.

    Parameters
    ----------
    features : pandas.DataFrame
        ``layer, feature_id`` and the grouping columns (one row per result feature); for
        hotspots also ``detected_utc`` and ``feedback_due_utc``.
    log : pandas.DataFrame
        The verification log.
    by : {"district", "township", "forest-chief", "batch"}, optional
        Grouping; rows with ``group`` = ``全部`` are the totals of each layer.

    Returns
    -------
    pandas.DataFrame
        ``layer, group, features, verified, verify_rate``, the layers' outcome columns
        (:data:`OUTCOME_COLUMNS`) and ``feedback_median_h`` (hotspots: median hours from
        detection to the first field record; :func:`hotspot_feedback`).
    """
    grouping = None if by is None else GroupBy.get(by)
    merged = _joined(features, log)
    merged["group"] = "全部"
    parts = [merged]
    if grouping is not None:
        keyed = merged.copy()
        keyed["group"] = keyed[grouping.column].fillna(NO_GROUP).astype(str).replace("", NO_GROUP)
        parts.insert(0, keyed)
    counts = [c for cols in OUTCOME_COLUMNS.values() for c in cols]
    table = (
        pd.concat(parts)
        .groupby(["layer", "group"], sort=False)
        .agg(features=("feature_id", "size"), verified=("verified", "sum"),
             **{c: (c, "sum") for c in counts},
             feedback_median_h=("feedback_h", "median"))
    )  # fmt: skip
    table = table.reset_index()
    table.insert(4, "verify_rate", (table["verified"] / table["features"]).round(4))
    order = {layer: i for i, layer in enumerate(LAYERS)}
    table["_o"] = table["layer"].map(order)
    table["_t"] = table["group"] == "全部"
    table = table.sort_values(["_o", "_t", "group"]).drop(columns=["_o", "_t"])
    return table.reset_index(drop=True)


def unknown_records(features: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """Return log records whose (layer, feature_id) is not among ``features``."""
    keys = features[["layer", "feature_id"]].drop_duplicates()
    merged = log.merge(keys, on=["layer", "feature_id"], how="left", indicator=True)
    return merged[merged["_merge"] == "left_only"].drop(columns="_merge")
