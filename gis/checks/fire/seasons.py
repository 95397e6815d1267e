"""Fire-prevention periods (森林防火期) as data: ``layers/rules/fire_seasons.yaml``.

A province has one or more periods, each ``start``–``end`` as ``MM-DD`` (ends included; a
period may run over the new year, ``start`` after ``end``). :func:`season_of` gives the
period of each Beijing date. The file cites where each province's dates come from.

Examples
--------
>>> seasons = load_seasons()
>>> dates = pd.Series(pd.to_datetime(["2025-04-02", "2025-07-01", "2025-11-15"]))
>>> season_of(dates, seasons).tolist()
['spring', None, 'autumn']
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from gis.errors import RulesError
from gis.resources import resource_path

DEFAULT_SEASONS = resource_path("layers/rules/fire_seasons.yaml")
_MMDD = re.compile(r"^(\d\d)-(\d\d)$")


@dataclass(frozen=True)
class Period:
    """One fire-prevention period of a province."""

    id: str
    start: int
    end: int
    label: dict[str, str]
    source: str

    def contains(self, mmdd: np.ndarray) -> np.ndarray:
        """Return where the month-day numbers (``month * 100 + day``) lie in the period."""
        if self.start <= self.end:
            return (mmdd >= self.start) & (mmdd <= self.end)
        return (mmdd >= self.start) | (mmdd <= self.end)


@dataclass(frozen=True)
class Seasons:
    """The periods of one province, read from a seasons file."""

    province: str
    periods: tuple[Period, ...]
    file: str

    def label(self, period: Any, lang: str = "zh") -> str:
        """Return the name of a period (``非防火期`` / ``outside fire season`` for none)."""
        for p in self.periods:
            if p.id == period:
                return p.label.get(lang, p.id)
        return "非防火期" if lang == "zh" else "outside the fire-prevention periods"


def _mmdd(text: Any, where: str) -> int:
    match = _MMDD.match(str(text))
    if match is None:
        raise RulesError(
            f'{where}: {text!r} is not a MM-DD date (e.g. "03-15")',
            zh=f'{where}：{text!r} 不是 MM-DD 格式的日期（例如 "03-15"）',
        )
    return int(match.group(1)) * 100 + int(match.group(2))


def load_seasons(
    path: str | os.PathLike[str] | None = None, *, province: str | None = None
) -> Seasons:
    """Read the fire-prevention periods of ``province`` (default: the file's default).

    Raises
    ------
    gis.errors.RulesError
        Unknown province (the message lists the known ones) or a malformed date.
    """
    file = DEFAULT_SEASONS if path is None else path
    data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
    provinces = data.get("provinces", {}) if isinstance(data, dict) else {}
    name = province or data.get("default_province")
    if name not in provinces:
        known = ", ".join(provinces)
        raise RulesError(
            f"{file}: no fire-prevention periods for {name!r}; known: {known}",
            zh=f"{file}：没有 {name!r} 的防火期；已有：{known}",
        )
    periods = []
    for i, raw in enumerate(provinces[name]):
        where = f"{file}: provinces.{name}[{i}]"
        periods.append(
            Period(
                id=str(raw["id"]),
                start=_mmdd(raw["start"], where),
                end=_mmdd(raw["end"], where),
                label=dict(raw.get("label", {})),
                source=str(raw.get("source", "")),
            )
        )
    return Seasons(str(name), tuple(periods), str(file))


def season_of(dates: pd.Series, seasons: Seasons) -> pd.Series:
    """Return the id of the period holding each date (``None`` outside, or for no date)."""
    mmdd = (dates.dt.month * 100 + dates.dt.day).to_numpy(dtype=float)
    out = np.full(len(dates), None, dtype=object)
    for period in reversed(seasons.periods):
        out[period.contains(mmdd)] = period.id
    return pd.Series(out, index=dates.index, dtype=object)
