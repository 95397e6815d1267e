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

import pandas as pd

from gis.enums import ParamEnum
from gis.layers import code_meaning
from gis.verify.contract import LAB_OUTCOMES, LAYERS, OUTCOMES
from gis.verify.recency import LATEST_KEY, latest


class GroupBy(ParamEnum):
    """``--by`` values: the results column each maps to is :attr:`column`."""

    DISTRICT = "district"
    TOWNSHIP = "township"
    FOREST_CHIEF = "forest-chief"
    BATCH = "batch"

    @property
    def column(self) -> str:
        """The results column of this grouping."""
        return self.value.replace("-", "_")

    @classmethod
    def describe(cls) -> str:
        """Name of the option in error messages."""
        return "grouping"

    @classmethod
    def describe_zh(cls) -> str:
        """Name of the option in Chinese error messages."""
        return "分组"


OUTCOME_COLUMNS = {
    "patches_checked": ("real_change", "no_change"),
    "discolored_points": (*OUTCOMES, *LAB_OUTCOMES),
}
"""Outcome count columns of each layer in :func:`verification_status`."""

NO_GROUP = "（未填）"
"""Group label of features whose grouping column is empty."""


VERDICT_WORDS = {"real": "真实变化", "not_real": "非真实变化", "unknown": "未填"}
"""Chinese words of a patch verdict (``real/42``: 真实变化/42)."""


def _verdict_text(layer: str, real: object, code: object, outcome: object, lang: str) -> str:
    if layer != "patches_checked":
        shown = code_meaning("pest_points", "status", outcome, lang="zh") if lang == "zh" else None
        return shown or str(outcome)
    if pd.isna(real):  # type: ignore[call-overload]
        return VERDICT_WORDS["unknown"] if lang == "zh" else "unknown"
    cause = "-" if pd.isna(code) else str(int(code))  # type: ignore[call-overload]
    said = "real" if real else "not_real"
    return f"{VERDICT_WORDS[said] if lang == 'zh' else said}/{cause}"


def verdict(frame: pd.DataFrame, *, lang: str = "en") -> pd.Series:
    """Return each record's verdict as text (patches: ``real/42``; points: the outcome).

    ``lang="zh"`` gives the words people read (真实变化/42, 确认为枯死松树); the default
    gives the codes.
    """
    values = [
        _verdict_text(*row, lang)
        for row in zip(
            frame["layer"],
            frame["is_real_change"],
            frame["verified_cause_code"],
            frame["outcome"],
            strict=True,
        )
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
    flags["real_change"] = last["is_real_change"].astype("boolean").fillna(False).astype(int)
    flags["no_change"] = (last["is_real_change"].astype("boolean") == False).fillna(False)  # noqa: E712
    flags["no_change"] = flags["no_change"].astype(int)
    for name in (*OUTCOMES, *LAB_OUTCOMES):
        flags[name] = (last["outcome"] == name).astype(int)
    return flags


def _joined(features: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    last = latest(log)
    last = pd.concat([last[["layer", "feature_id"]], _outcome_flags(last)], axis=1)
    merged = features.merge(last, on=["layer", "feature_id"], how="left", indicator=True)
    merged["verified"] = (merged.pop("_merge") == "both").astype(int)
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
        ``layer, feature_id`` and the grouping columns (one row per result feature).
    log : pandas.DataFrame
        The verification log.
    by : {"district", "township", "forest-chief", "batch"}, optional
        Grouping; rows with ``group`` = ``全部`` are the totals of each layer.

    Returns
    -------
    pandas.DataFrame
        ``layer, group, features, verified, verify_rate`` and the layer's outcome columns.
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
             **{c: (c, "sum") for c in counts})
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
