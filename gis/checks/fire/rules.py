"""The fire rules file ``layers/rules/fire.yaml``.

It holds the minimum mapping unit, the fire grade, coverage parameters and risk points.

Burned pixels and severity classes are :mod:`gis.severity`'s, never this file's.

Examples
--------
>>> rules = load_fire_rules()
>>> fire_grade(0.4, rules)["zh"], fire_grade(150.0, rules)["zh"]
('一般森林火灾', '重大森林火灾')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from gis.errors import RulesError, unreadable_zh
from gis.resources import resource_path

DEFAULT_RULES = resource_path("layers/rules/fire.yaml")
"""The rules shipped with Linyuan."""

SECTIONS = ("version", "burned", "grade", "coverage", "risk")
"""Top-level keys of a fire rules file."""


def load_fire_rules(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read and check a fire rules file (default :data:`DEFAULT_RULES`).

    Raises
    ------
    gis.errors.RulesError
        Unreadable YAML, unknown or missing section, grade classes not ascending.
    """
    source = Path(DEFAULT_RULES if path is None else path)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(
            f"{source}: cannot read the fire rules ({exc})",
            zh=f"{source}：无法读取森林防火规则（{unreadable_zh(exc)}）",
        ) from exc
    if not isinstance(data, dict):
        raise RulesError(
            f"{source}: a fire rules file is a mapping of {', '.join(SECTIONS)}",
            zh=f"{source}：森林防火规则文件应为含 {'、'.join(SECTIONS)} 各节的映射",
        )
    unknown = sorted(set(data) - set(SECTIONS))
    missing = sorted(set(SECTIONS) - set(data))
    if unknown or missing:
        raise RulesError(
            f"{source}: unknown section(s) {unknown} / missing {missing}; "
            f"valid sections: {', '.join(SECTIONS)}",
            zh=f"{source}：未知的节 {unknown}／缺少的节 {missing}；有效的节：{'、'.join(SECTIONS)}",
        )
    bounds = [float(c["min_ha"]) for c in data["grade"]["classes"]]
    if bounds != sorted(bounds) or bounds[0] != 0:
        raise RulesError(
            f"{source}: grade classes must start at min_ha 0 and ascend: {bounds}",
            zh=f"{source}：火灾等级分级须从 min_ha 0 开始并逐级递增：{bounds}",
        )
    data["source"] = str(source)
    return data


def fire_grade(forest_ha: float, rules: dict[str, Any]) -> dict[str, Any]:
    """Return the grade class (a mapping of the rules file) of a fire of ``forest_ha`` 受害森林面积.

    Article 40 counts a fire on other forest land (no forest burned) as 一般: 0 ha is 一般.
    """
    classes = rules["grade"]["classes"]
    chosen = classes[0]
    for cls in classes:
        if forest_ha >= float(cls["min_ha"]):
            chosen = cls
    return dict(chosen)


def stepped_points(value: float, steps: list[dict[str, Any]], key: str) -> int:
    """Return the points of the first step ``value`` reaches (``key``: ``min`` or ``max``).

    Examples
    --------
    >>> stepped_points(30.0, [{"min": 25, "points": 2}, {"min": 15, "points": 1}], "min")
    2
    >>> stepped_points(1500.0, [{"max": 200, "points": 2}, {"max": 1000, "points": 1}], "max")
    0
    """
    for step in steps:
        bound = float(step[key])
        if (key == "min" and value >= bound) or (key == "max" and value <= bound):
            return int(step["points"])
    return 0
