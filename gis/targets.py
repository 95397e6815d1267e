"""Greening targets per year (layers/targets.yaml): load, validate, look up.

The file holds, per year, the targets (minimums: met when the actual is at least the target),
the figures the bureau published for that year, and optional per-district targets. Every key
is checked: a typo'd key or a missing year is a :class:`gis.errors.RulesError` naming the
file, the key and the valid keys. The file is the project's own committed settings, read here
as :mod:`gis.layers` reads the catalog.

Examples
--------
>>> t = parse_targets({"years": {2024: {"status": "plan", "source": "plan",
...     "targets": {"pocket_parks_new": 40}}}}, source="t.yaml")
>>> t.target(2024, "pocket_parks_new")
40.0
>>> t.target(2024, "pocket_parks_new", district="南关区") is None
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from gis.errors import RulesError, unreadable_zh
from gis.layers import unit_label

__all__ = ["unit_label"]  # the KPI unit labels (the catalog's units), where the KPIs are
from gis.resources import resource_path

DEFAULT_TARGETS = resource_path("layers/targets.yaml")
"""The committed default targets file."""


class Indicator(NamedTuple):
    """One KPI: its unit (a key of the catalog's ``units``) and its Chinese and English labels."""

    unit: str
    zh: str
    en: str


INDICATORS: dict[str, Indicator] = {
    "greenway_km_new": Indicator("km", "新建绿道", "new greenways"),
    "greenway_km_built": Indicator("km", "绿道（已建成）", "greenways built"),
    "greenway_km_under_construction": Indicator(
        "km", "绿道（在建）", "greenways under construction"
    ),
    "greenway_km_planned": Indicator("km", "绿道（规划）", "greenways planned"),
    "park_count": Indicator("count", "公园数量", "parks"),
    "park_area_ha": Indicator("ha", "公园面积", "park area"),
    "pocket_parks_new": Indicator("count", "新建口袋公园", "new pocket parks"),
    "village_greening_done": Indicator("count", "村屯绿化完成", "villages greened"),
    "villages_upgraded": Indicator("count", "村屯绿化提升", "villages upgraded"),
    "boutique_villages": Indicator("count", "精品村屯", "boutique villages"),
    "demonstration_villages": Indicator("count", "示范村屯", "demonstration villages"),
    "afforestation_mu": Indicator("mu", "国土绿化", "afforestation"),
    "parks_under_construction": Indicator("count", "在建公园", "parks under construction"),
    "park_progress_pct": Indicator("pct", "在建公园进度", "park construction progress"),
    "parks_completed": Indicator("count", "建成公园", "parks completed"),
    "parks_opened_sharing": Indicator("count", "开放共享公园绿地", "parks opened for sharing"),
    "streets_renewed": Indicator("count", "街路树更新", "streets renewed"),
    "streets_upgraded": Indicator("count", "提升街路", "streets upgraded"),
    "green_spaces_upgraded": Indicator("count", "提升绿地", "green spaces upgraded"),
    "township_parks_new": Indicator("count", "乡镇（村）公园", "township/village parks"),
}
"""Every indicator a targets file or the ``kpi`` frame may name."""


TOP_KEYS = ("updated", "source", "years")
YEAR_KEYS = ("status", "source", "targets", "reported", "districts")
STATUSES = ("result", "plan")


@dataclass(frozen=True)
class YearTargets:
    """Targets and published figures of one year."""

    year: int
    status: str
    source: str
    targets: dict[str, float]
    reported: dict[str, float] = field(default_factory=dict)
    districts: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Targets:
    """All years of a targets file."""

    source: str
    years: dict[int, YearTargets]

    def year(self, year: int) -> YearTargets:
        """Return one year's targets; a missing year is a :class:`RulesError`."""
        if year not in self.years:
            valid = ", ".join(str(y) for y in sorted(self.years))
            raise RulesError(
                f"{self.source}: year {year} is not in the targets file (years: {valid}); "
                f"add a 'years: {year}:' section or pass --year with one of those",
                zh=f"{self.source}：目标文件中没有 {year} 年（已有年份：{valid}）；"
                f"请添加 'years: {year}:' 一节，或用 --year 指定其中一年",
            )
        return self.years[year]

    def target(self, year: int, indicator: str, *, district: str | None = None) -> float | None:
        """Return the target of ``indicator`` (city, or ``district``), or None when unset."""
        y = self.year(year)
        table = y.targets if district is None else y.districts.get(district, {})
        return table.get(indicator)

    def reported(self, year: int, indicator: str) -> float | None:
        """Return the figure the bureau published for ``indicator`` in ``year``, if any."""
        return self.year(year).reported.get(indicator)


def _check_keys(data: Mapping[str, Any], valid: tuple[str, ...], where: str, source: str) -> None:
    for key in data:
        if key not in valid:
            raise RulesError(
                f"{source}: unknown key {key!r} in {where}; valid keys: {', '.join(valid)}",
                zh=f"{source}：{where} 中有未知的键 {key!r}；有效的键：{'、'.join(valid)}",
            )


def _numbers(data: Any, where: str, source: str) -> dict[str, float]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise RulesError(
            f"{source}: {where} must be a mapping of indicator: number",
            zh=f"{source}：{where} 应为“指标: 数值”映射",
        )
    _check_keys(data, tuple(INDICATORS), where, source)
    out = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RulesError(
                f"{source}: {where}.{key} must be a number, got {value!r}",
                zh=f"{source}：{where}.{key} 应为数值，而不是 {value!r}",
            )
        out[str(key)] = float(value)
    return out


def _year_int(key: Any, source: str) -> int:
    try:
        year = int(key)
    except (TypeError, ValueError):
        year = 0
    if not 1900 < year < 2200:
        raise RulesError(
            f"{source}: key {key!r} under 'years' is not a year such as 2024",
            zh=f"{source}：'years' 下的键 {key!r} 不是年份（如 2024）",
        )
    return year


def _parse_year(key: Any, body: Any, source: str) -> YearTargets:
    year = _year_int(key, source)
    where = f"years.{year}"
    if not isinstance(body, Mapping):
        raise RulesError(
            f"{source}: {where} must be a mapping with keys {', '.join(YEAR_KEYS)}",
            zh=f"{source}：{where} 应为含 {'、'.join(YEAR_KEYS)} 等键的映射",
        )
    _check_keys(body, YEAR_KEYS, where, source)
    for required in ("status", "source", "targets"):
        if required not in body:
            raise RulesError(
                f"{source}: {where} lacks the key {required!r}; add it",
                zh=f"{source}：{where} 缺少键 {required!r}；请补上",
            )
    if body["status"] not in STATUSES:
        raise RulesError(
            f"{source}: {where}.status is {body['status']!r}; valid values: {', '.join(STATUSES)}",
            zh=f"{source}：{where}.status 的值 {body['status']!r} 无效；"
            f"有效值：{'、'.join(STATUSES)}",
        )
    districts = body.get("districts") or {}
    return YearTargets(
        year=year,
        status=str(body["status"]),
        source=str(body["source"]),
        targets=_numbers(body["targets"], f"{where}.targets", source),
        reported=_numbers(body.get("reported"), f"{where}.reported", source),
        districts={
            str(name): _numbers(t, f"{where}.districts.{name}", source)
            for name, t in districts.items()
        },
    )


def parse_targets(data: Any, *, source: str = "<targets>") -> Targets:
    """Validate a parsed targets mapping and return :class:`Targets`.

    Parameters
    ----------
    data : mapping
        The YAML document (``updated``, ``source``, ``years``).
    source : str
        File name used in error messages.

    Raises
    ------
    gis.errors.RulesError
        On an unknown key (the message lists the valid keys), a missing key, a non-number.
    """
    if not isinstance(data, Mapping) or "years" not in data:
        raise RulesError(
            f"{source}: a targets file needs a top-level 'years:' mapping",
            zh=f"{source}：目标文件的顶层需要 'years:' 映射",
        )
    _check_keys(data, TOP_KEYS, "the top level", source)
    if not isinstance(data["years"], Mapping) or not data["years"]:
        raise RulesError(
            f"{source}: 'years' must map a year (e.g. 2024) to its targets",
            zh=f"{source}：'years' 应为“年份（如 2024）→ 该年目标”的映射",
        )
    years = {}
    for key, body in data["years"].items():
        parsed = _parse_year(key, body, source)
        years[parsed.year] = parsed
    return Targets(source=source, years=years)


def load_targets(path: str | os.PathLike[str] = DEFAULT_TARGETS) -> Targets:
    """Read and validate a targets YAML file (default: ``layers/targets.yaml``).

    Raises
    ------
    gis.errors.RulesError
        When the file cannot be read or parsed, or fails :func:`parse_targets`.
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(
            f"cannot read targets file {p}: {exc}",
            zh=f"无法读取目标文件 {p}：{unreadable_zh(exc)}",
        ) from exc
    return parse_targets(data, source=str(p))
