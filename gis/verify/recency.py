"""The latest record per feature: the one definition the view, ``verify status`` and reports use.

A feature is a (``layer``, ``feature_id``) pair. Its latest record is the one with the
greatest ``device_time_utc`` (when the phone or the lab says it was made); of records with
equal times, the one with the greatest ``fid`` (the later import; within one import, the later
record of its file). ``device_time_utc`` is stored as fixed-width UTC text with milliseconds
(``2026-06-01T01:30:00.000Z``, :func:`gis.verify.records.utc_text`), so text order is time
order, in SQLite and in pandas alike.

:func:`latest` applies the rule to a log frame; the store's ``verification_latest`` view is
built from the same :data:`LATEST_KEY` and :data:`LATEST_ORDER` (:data:`LATEST_SQL_ORDER`), so
the view and the Python API pick the same record.

Examples
--------
>>> log = pd.DataFrame({
...     "fid": [1, 2, 3, 4], "layer": ["patches_checked"] * 4,
...     "feature_id": ["A", "A", "B", "B"], "note": ["a1", "a2", "b1", "b2"],
...     "device_time_utc": ["2026-06-02T01:00:00.000Z", "2026-06-01T01:00:00.000Z",
...                         "2026-06-01T02:00:00.000Z", "2026-06-01T02:00:00.000Z"]})
>>> latest(log)["note"].tolist()  # A: the later time wins; B: equal times, the later import
['a1', 'b2']
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

LATEST_KEY = ("layer", "feature_id")
"""Columns that name a feature: one latest record per distinct pair."""

LATEST_ORDER = ("device_time_utc", "fid")
"""Order of a feature's records, oldest first: device time (UTC text), then ``fid``."""

LATEST_SQL_ORDER = ", ".join(f"{{alias}}.{column} DESC" for column in LATEST_ORDER)
"""``ORDER BY`` of the view (format with ``alias``): newest first, the same order reversed."""


def ordered(log: pd.DataFrame) -> pd.DataFrame:
    """Return the records oldest first by :data:`LATEST_ORDER` (a stable sort)."""
    return log.sort_values(list(LATEST_ORDER), kind="stable")


def latest(log: pd.DataFrame, *, key: Sequence[str] = LATEST_KEY) -> pd.DataFrame:
    """Return the latest record per feature: greatest device time, then greatest ``fid``.

    Parameters
    ----------
    log : pandas.DataFrame
        Records with the :data:`LATEST_KEY` and :data:`LATEST_ORDER` columns, as
        :meth:`gis.verify.store.FieldStore.log` returns them (a subset of them is fine: the
        latest of the selected records is returned, e.g. the latest lab result).
    key : sequence of str
        Columns that name one group; a finer key (``(*LATEST_KEY, "inspector")``) gives each
        inspector's latest record.

    Returns
    -------
    pandas.DataFrame
        One row per group, in ``fid`` order, with a fresh index.
    """
    if log.empty:
        return log.reset_index(drop=True)
    out = ordered(log).drop_duplicates(list(key), keep="last")
    return out.sort_values("fid").reset_index(drop=True)
