"""Rules as data: load, validate and evaluate an ordered decision table written in YAML.

A rules file has ``thresholds`` (named numbers), ``labels`` (code → text per language) and
``stages``: ordered tables of rules. Within a stage the first rule whose conditions hold
decides (like an analyst reading the table top to bottom); the last rule of each stage has no
conditions and catches the rest. A rule is::

    - id: C02_loss
      when: ["rel_dndvi <= loss_rel_dndvi", "drop_frac >= loss_drop_frac"]   # all hold
      when_any: [...]                                                         # at least one
      set: {is_real_change: true, direction: loss}
      reason: {zh: "NDVI 下降 {neg_dndvi:.2f}", en: "NDVI fell by {neg_dndvi:.2f}"}

A condition is ``<field> <op> <value>``; ``op`` is one of ``< <= > >= == != in``, ``not in``,
or the unary ``is null`` / ``is not null``. The value is a YAML scalar or list, or the name of
a threshold. A comparison with a missing value is false. What the fields and outputs of a
check are is given by a :class:`RuleSchema`; anything else is a :class:`~gis.errors.RulesError`
naming the file, the key and the valid keys.

Examples
--------
>>> import pandas as pd
>>> schema = RuleSchema(
...     fields=frozenset({"x"}), stages={"s": frozenset({"y"})}, required_thresholds=()
... )
>>> rules = parse_rules(
...     {
...         "thresholds": {"lim": 1.5},
...         "stages": {
...             "s": [
...                 {"id": "big", "when": ["x > lim"], "set": {"y": "big"}},
...                 {"id": "small", "set": {"y": "small"}},
...             ]
...         },
...     },
...     schema=schema,
... )
>>> evaluate(rules, pd.DataFrame({"x": [1.0, 2.0, None]}))[["y", "rules_fired"]].values.tolist()
[['small', 'small'], ['big', 'big'], ['small', 'small']]
"""

from __future__ import annotations

import math
import os
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from numpy.typing import NDArray

from gis.errors import RulesError, unreadable_zh, yaml_where_zh

TOP_KEYS = ("version", "description", "thresholds", "labels", "stages")
RULE_KEYS = ("id", "when", "when_any", "set", "reason", "note")
BINARY_OPS = ("<=", ">=", "==", "!=", "<", ">", "not in", "in")
UNARY_OPS = ("is not null", "is null")
_COND_RE = re.compile(r"^\s*(\w+)\s+(<=|>=|==|!=|<|>|not in|in)\s+(.+?)\s*$")
_UNARY_RE = re.compile(r"^\s*(\w+)\s+(is not null|is null)\s*$")


@dataclass(frozen=True)
class RuleSchema:
    """What a check's rules may mention.

    Parameters
    ----------
    fields : frozenset of str
        Evidence columns a condition may test.
    stages : mapping of str to frozenset of str
        Stage name (in evaluation order) to the outputs its rules may set. Outputs of earlier
        stages may be tested by later ones.
    required_thresholds : tuple of str
        Thresholds the code itself reads (e.g. the ring width); they must be present.
    allowed_values : mapping of str to tuple, optional
        For an output, the values a rule may set (``None`` always allowed).
    """

    fields: frozenset[str]
    stages: Mapping[str, frozenset[str]]
    required_thresholds: tuple[str, ...]
    allowed_values: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Condition:
    """One test ``field op value`` (``threshold`` names the threshold the value came from)."""

    field: str
    op: str
    value: Any = None
    threshold: str | None = None
    text: str = ""


@dataclass(frozen=True)
class Rule:
    """One row of a decision table."""

    id: str
    when: tuple[Condition, ...]
    when_any: tuple[Condition, ...]
    set: Mapping[str, Any]
    reason: Mapping[str, str]


@dataclass(frozen=True)
class RuleSet:
    """A validated rules file: thresholds, labels and ordered stages of rules."""

    source: str
    thresholds: Mapping[str, float]
    labels: Mapping[str, Mapping[str, Mapping[str, str]]]
    stages: tuple[tuple[str, tuple[Rule, ...]], ...]

    def label(self, kind: str, code: Any, lang: str = "zh") -> str:
        """Return the label of ``code`` in the ``kind`` list (the code itself when unknown)."""
        entry = self.labels.get(kind, {}).get(str(code), {})
        return str(entry.get(lang, code))

    def rule_ids(self) -> list[str]:
        """Return every rule id in evaluation order."""
        return [r.id for _, rules in self.stages for r in rules]


def _fail(source: str, where: str, message: str, zh: str) -> RulesError:
    return RulesError(f"{source}: {where}: {message}", zh=f"{source}：`{where}`：{zh}")


def _check_keys(obj: Any, valid: Sequence[str], *, source: str, where: str) -> None:
    if not isinstance(obj, Mapping):
        raise _fail(
            source,
            where,
            f"expected a mapping, got {type(obj).__name__}",
            f"应为映射，而不是 {type(obj).__name__}",
        )
    for key in obj:
        if key not in valid:
            raise _fail(
                source,
                where,
                f"unknown key {key!r}; valid keys: {', '.join(map(str, valid))}",
                f"未知的键 {key!r}；有效的键：{'、'.join(map(str, valid))}",
            )


def load_rules(path: str | os.PathLike[str], *, schema: RuleSchema) -> RuleSet:
    """Read and validate a rules YAML file.

    Parameters
    ----------
    path : path-like
        The YAML file.
    schema : RuleSchema
        What the check's rules may mention.

    Returns
    -------
    RuleSet

    Raises
    ------
    gis.errors.RulesError
        When the file is missing, not YAML, or breaks the schema; the message names the file,
        the key and the valid keys.
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(
            f"cannot read rules file {p}: {exc}; check the --rules path",
            zh=f"无法读取规则文件 {p}：{unreadable_zh(exc)}；请检查 --rules 路径",
        ) from exc
    except yaml.YAMLError as exc:
        raise RulesError(
            f"{p} is not valid YAML: {exc}", zh=f"{p} 不是有效的 YAML{yaml_where_zh(exc)}"
        ) from exc
    return parse_rules(data, schema=schema, source=str(p))


def parse_rules(data: Any, *, schema: RuleSchema, source: str = "<rules>") -> RuleSet:
    """Validate a rules mapping (as read from YAML) against ``schema``; see :func:`load_rules`."""
    _check_keys(data, TOP_KEYS, source=source, where="top level")
    thresholds = _parse_thresholds(data.get("thresholds") or {}, source=source)
    stages_raw = data.get("stages") or {}
    _check_keys(stages_raw, tuple(schema.stages), source=source, where="stages")
    known = set(schema.fields)
    stages = []
    for name, outputs in schema.stages.items():
        if name not in stages_raw:
            raise _fail(source, "stages", f"stage {name!r} is missing", f"缺少阶段 {name!r}")
        rules = _parse_stage(stages_raw[name], name, outputs, known, thresholds, schema, source)
        stages.append((name, rules))
        known |= outputs
    _check_thresholds_used(thresholds, stages, schema, source)
    labels = data.get("labels") or {}
    if not isinstance(labels, Mapping):
        raise _fail(
            source,
            "labels",
            "expected a mapping of list name to {code: {zh, en}}",
            "应为“列表名 → {代码: {zh, en}}”映射",
        )
    return RuleSet(source, thresholds, labels, tuple(stages))


def _parse_thresholds(raw: Any, *, source: str) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise _fail(
            source,
            "thresholds",
            f"expected a mapping, got {type(raw).__name__}",
            f"应为映射，而不是 {type(raw).__name__}",
        )
    out = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(
                source,
                f"thresholds.{key}",
                f"expected a number, got {value!r}",
                f"应为数值，而不是 {value!r}",
            )
        out[str(key)] = float(value)
    return out


def _check_thresholds_used(
    thresholds: Mapping[str, float],
    stages: Sequence[tuple[str, tuple[Rule, ...]]],
    schema: RuleSchema,
    source: str,
) -> None:
    used = {c.threshold for _, rules in stages for r in rules for c in r.when + r.when_any}
    valid = sorted({*schema.required_thresholds, *(u for u in used if u)})
    for key in schema.required_thresholds:
        if key not in thresholds:
            raise _fail(
                source,
                "thresholds",
                f"required threshold {key!r} is missing",
                f"缺少必需的阈值 {key!r}",
            )
    for key in thresholds:
        if key not in valid:
            raise _fail(
                source,
                "thresholds",
                f"unknown key {key!r} (used by no rule); valid keys: {', '.join(valid)}",
                f"未知的键 {key!r}（没有规则用到）；有效的键：{'、'.join(valid)}",
            )


def _parse_stage(
    raw: Any,
    name: str,
    outputs: frozenset[str],
    known: set[str],
    thresholds: Mapping[str, float],
    schema: RuleSchema,
    source: str,
) -> tuple[Rule, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(
            source, f"stages.{name}", "expected a non-empty list of rules", "应为非空的规则列表"
        )
    rules = tuple(
        _parse_rule(item, f"stages.{name}[{i}]", outputs, known, thresholds, schema, source)
        for i, item in enumerate(raw)
    )
    if rules[-1].when or rules[-1].when_any:
        raise _fail(
            source,
            f"stages.{name}",
            f"the last rule ({rules[-1].id}) must have no conditions, so every feature is decided",
            f"最后一条规则（{rules[-1].id}）不能带条件，这样每个要素都有结论",
        )
    return rules


def _parse_rule(
    raw: Any,
    where: str,
    outputs: frozenset[str],
    known: set[str],
    thresholds: Mapping[str, float],
    schema: RuleSchema,
    source: str,
) -> Rule:
    _check_keys(raw, RULE_KEYS, source=source, where=where)
    if not raw.get("id"):
        raise _fail(source, where, "every rule needs an 'id'", "每条规则都需要 'id'")
    where = f"{where} ({raw['id']})"
    sets = raw.get("set") or {}
    _check_keys(sets, sorted(outputs), source=source, where=f"{where}.set")
    for key, value in sets.items():
        allowed = schema.allowed_values.get(key)
        if allowed is not None and value is not None and value not in allowed:
            valid = ", ".join(map(str, allowed))
            raise _fail(
                source,
                f"{where}.set.{key}",
                f"{value!r} is not one of {valid}",
                f"{value!r} 不在 {valid} 之中",
            )
    reason = raw.get("reason") or {}
    _check_keys(reason, ("zh", "en"), source=source, where=f"{where}.reason")

    def conds(key: str) -> tuple[Condition, ...]:
        items = raw.get(key) or []
        if isinstance(items, str):
            items = [items]
        return tuple(
            _parse_condition(t, known, thresholds, source, f"{where}.{key}") for t in items
        )

    return Rule(str(raw["id"]), conds("when"), conds("when_any"), dict(sets), dict(reason))


def _parse_condition(
    text: Any, known: set[str], thresholds: Mapping[str, float], source: str, where: str
) -> Condition:
    text = str(text)
    m = _UNARY_RE.match(text) or _COND_RE.match(text)
    if m is None:
        raise _fail(
            source,
            where,
            f"cannot read condition {text!r}; write '<field> <op> <value>' with op one of "
            f"{', '.join(BINARY_OPS + UNARY_OPS)}",
            f"无法解析条件 {text!r}；请写成 '<字段> <运算符> <值>'，运算符为 "
            f"{'、'.join(BINARY_OPS + UNARY_OPS)} 之一",
        )
    name = m.group(1)
    if name not in known:
        raise _fail(
            source,
            where,
            f"unknown field {name!r}; valid fields: {', '.join(sorted(known))}",
            f"未知的字段 {name!r}；有效字段：{'、'.join(sorted(known))}",
        )
    if m.re is _UNARY_RE:
        return Condition(name, m.group(2), text=text)
    op, raw_value = m.group(2), m.group(3)
    value = yaml.safe_load(raw_value)
    if isinstance(value, str) and value in thresholds:
        return Condition(name, op, thresholds[value], threshold=value, text=text)
    if op in ("in", "not in") and not isinstance(value, list):
        raise _fail(
            source,
            where,
            f"{text!r}: '{op}' needs a list, e.g. [1, 2]",
            f"{text!r}：'{op}' 需要一个列表，例如 [1, 2]",
        )
    if op in ("<", "<=", ">", ">=") and not isinstance(value, int | float):
        raise _fail(
            source,
            where,
            f"{text!r}: {value!r} is neither a number nor a threshold; "
            f"thresholds: {', '.join(sorted(thresholds)) or '(none)'}",
            f"{text!r}：{value!r} 既不是数值也不是阈值名；阈值："
            f"{'、'.join(sorted(thresholds)) or '（无）'}",
        )
    return Condition(name, op, value, text=text)


def condition_mask(cond: Condition, frame: Any) -> pd.Series:
    """Return where ``cond`` holds in ``frame`` (missing values never satisfy a comparison).

    ``frame`` is a DataFrame or anything whose ``frame[name]`` is a column (see :func:`evaluate`).
    """
    col = frame[cond.field]
    if cond.op == "is null":
        return col.isna()
    if cond.op == "is not null":
        return col.notna()
    if cond.op in ("in", "not in"):
        hit = col.isin(cond.value) & col.notna()
        return hit if cond.op == "in" else ~hit & col.notna()
    numeric = pd.to_numeric(col, errors="coerce") if _is_number(cond.value) else col
    ops = {
        "<": numeric.lt,
        "<=": numeric.le,
        ">": numeric.gt,
        ">=": numeric.ge,
        "==": numeric.eq,
        "!=": numeric.ne,
    }
    result = ops[cond.op](cond.value)
    return (result.fillna(False).astype(bool)) & col.notna()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def rule_mask(rule: Rule, frame: Any) -> pd.Series:
    """Return where every ``when`` and at least one ``when_any`` condition of ``rule`` holds.

    ``frame`` is a DataFrame or anything with its ``index`` whose ``frame[name]`` is a column.
    """
    return pd.Series(_rule_hits(rule, frame), index=frame.index)


_NUMPY_OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}
"""The comparisons, on a plain numeric column (the fast path of :func:`_condition_hits`)."""


def _condition_hits(cond: Condition, frame: Any) -> NDArray[np.bool_]:
    """:func:`condition_mask` as a boolean array, on numpy for a number against a numeric column.

    Missing values (NaN) never satisfy a comparison, as in :func:`condition_mask`.
    """
    col = frame[cond.field]
    numeric = isinstance(col.dtype, np.dtype) and col.dtype.kind in "fiu"
    if not (numeric and cond.op in _NUMPY_OPS and _is_number(cond.value)):
        return condition_mask(cond, frame).to_numpy(dtype=bool)
    values = col.to_numpy()
    hit = np.asarray(_NUMPY_OPS[cond.op](values, cond.value), dtype=bool)
    return hit & ~np.isnan(values) if col.dtype.kind == "f" else hit


def _rule_hits(rule: Rule, frame: Any) -> NDArray[np.bool_]:
    """:func:`rule_mask` as a boolean array."""
    mask = np.ones(len(frame.index), dtype=bool)
    for cond in rule.when:
        mask &= _condition_hits(cond, frame)
    if rule.when_any:
        anymask = np.zeros(len(frame.index), dtype=bool)
        for cond in rule.when_any:
            anymask |= _condition_hits(cond, frame)
        mask &= anymask
    return mask


class _Stages:
    """The evidence with the outputs set so far laid over it (what a rule's conditions see).

    Outputs are object arrays written in place, so a rule sees what the rules before it set.
    """

    def __init__(self, evidence: pd.DataFrame) -> None:
        self.evidence = evidence
        self.index = evidence.index
        self.outputs: dict[str, NDArray[np.object_]] = {}
        self.created: list[str] = []

    def __getitem__(self, name: str) -> pd.Series:
        if name in self.outputs:
            return pd.Series(self.outputs[name], index=self.index, dtype=object, copy=False)
        return self.evidence[name]

    def assign(self, key: str, hit: NDArray[np.bool_], value: Any) -> None:
        """Set ``key`` to ``value`` where ``hit`` (a new output column starts as ``None``)."""
        if key not in self.outputs:
            if key in self.evidence:  # an evidence column overwritten (not an output column)
                self.outputs[key] = self.evidence[key].to_numpy(dtype=object, copy=True)
            else:
                self.outputs[key] = np.full(len(self.index), None, dtype=object)
                self.created.append(key)
        self.outputs[key][hit] = value


def evaluate(rules: RuleSet, evidence: pd.DataFrame) -> pd.DataFrame:
    """Run every stage over ``evidence``; return the outputs and ``rules_fired``.

    Parameters
    ----------
    rules : RuleSet
        Validated rules.
    evidence : pandas.DataFrame
        One row per feature with the schema's fields.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``evidence``: one column per stage output, ``rules_fired`` (rule ids
        joined with ``"; "``) and ``fired_<stage>`` (the deciding rule id of each stage).
    """
    work = _Stages(evidence)
    fired: dict[str, NDArray[np.object_]] = {}
    for name, stage_rules in rules.stages:
        decided = np.zeros(len(evidence), dtype=bool)
        ids = fired[f"fired_{name}"] = np.full(len(evidence), None, dtype=object)
        for rule in stage_rules:
            hit = _rule_hits(rule, work) & ~decided
            for key, value in rule.set.items():
                work.assign(key, hit, value)
            ids[hit] = rule.id
            decided |= hit
    columns = {key: work.outputs[key] for key in work.created}
    columns["rules_fired"] = _joined_ids(list(fired.values()), len(evidence))
    every = {
        k: pd.Series(v, index=evidence.index, dtype=object) for k, v in {**columns, **fired}.items()
    }
    return pd.DataFrame(every, index=evidence.index)


def _joined_ids(fired: list[NDArray[np.object_]], n: int) -> NDArray[np.object_]:
    """Return the rule ids of each row joined with ``"; "`` (missing ones left out).

    Each distinct combination is joined once: a table of thousands of patches has a few dozen.
    """
    out = np.full(n, "", dtype=object)
    if not fired or not n:
        return out
    combo = np.zeros(n, dtype=np.int64)
    for ids in fired:  # one number per combination so far (fewer than the rows)
        codes, uniques = pd.factorize(ids, use_na_sentinel=True)
        combo = pd.factorize(combo * (len(uniques) + 1) + (codes + 1))[0]
    inverse = combo
    first = np.full(int(inverse.max()) + 1, -1, dtype=np.int64)
    first[inverse[::-1]] = np.arange(n - 1, -1, -1)  # the first row of each combination
    texts = ["; ".join(ids[row] for ids in fired if ids[row] is not None) for row in first]
    out[:] = np.asarray(texts, dtype=object)[inverse]
    return out


class _SafeFormatter(string.Formatter):
    """Format templates; a missing or NaN value prints as ``—`` whatever its format spec."""

    def get_value(self, key: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        return kwargs.get(key) if isinstance(key, str) else super().get_value(key, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        if value is pd.NA or (isinstance(value, np.floating) and np.isnan(value)):
            return "—"
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


_FORMATTER = _SafeFormatter()


class _Missing:
    """Stands for a missing value in a template: prints ``—`` whatever the format spec."""

    def __format__(self, format_spec: str) -> str:
        return "—"


_MISSING = _Missing()


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        return _MISSING


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float | np.floating) and bool(np.isnan(value))


def render(template: str, values: Mapping[str, Any]) -> str:
    """Fill ``template`` from ``values``; missing values print as ``—``.

    Examples
    --------
    >>> render("NDVI 下降 {d:.2f}，{f:.0%} 像元", {"d": 0.4123, "f": float("nan")})
    'NDVI 下降 0.41，— 像元'
    """
    if isinstance(values, _Values):
        clean = values
    else:
        clean = _Values({k: _MISSING if _is_missing(v) else v for k, v in values.items()})
    try:
        return template.format_map(clean)
    except (ValueError, TypeError, IndexError, AttributeError):
        return _FORMATTER.vformat(template, (), values)


def template_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rows of ``frame`` ready for :func:`render` (missing values marked once).

    Examples
    --------
    >>> rows = template_rows(pd.DataFrame({"d": [0.5, None]}))
    >>> [render("{d:.1f}", r) for r in rows]
    ['0.5', '—']
    """
    names = [str(c) for c in frame.columns]
    columns = []
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=object, copy=True)
        values[pd.isna(frame[name]).to_numpy()] = _MISSING
        columns.append(values)
    return [_Values(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


_FIELDS = string.Formatter()


def render_column(template: str, frame: pd.DataFrame) -> list[str]:
    """Fill ``template`` from each row of ``frame``: ``render(template, row)`` for every row.

    Each field is formatted a column at a time, not a row at a time. A template with a field
    this cannot take apart (``{a[0]}``, ``{a.b}``, ``{a!r}``, nested specs) is rendered row
    by row.

    Examples
    --------
    >>> render_column("{d:.1f} ({n})", pd.DataFrame({"d": [0.5, None], "n": [3, 4]}))
    ['0.5 (3)', '— (4)']
    """
    parsed = list(_FIELDS.parse(template))
    if not all(_plain_field(name, spec, conv) for _, name, spec, conv in parsed):
        names = [n for n in frame.columns if n in {f for _, f, _, _ in parsed}]
        return [render(template, row) for row in template_rows(frame[names])]
    parts: list[list[str]] = [[""] * len(frame)]
    for literal, name, spec, _ in parsed:
        if literal:
            parts.append([literal] * len(frame))
        if name is not None:
            parts.append(_format_field(frame, name, spec or ""))
    return ["".join(row) for row in zip(*parts, strict=True)]


def _plain_field(name: str | None, spec: str | None, conv: str | None) -> bool:
    return name is None or (name.isidentifier() and conv is None and "{" not in (spec or ""))


def _format_field(frame: pd.DataFrame, name: str, spec: str) -> list[str]:
    """Text of one template field for every row of ``frame`` (as :func:`render` gives it)."""
    if name not in frame:
        return ["—"] * len(frame)
    column = frame[name]
    values = column.to_numpy(dtype=object)
    missing = pd.isna(column).to_numpy()
    try:
        return ["—" if m else format(v, spec) for v, m in zip(values, missing, strict=True)]
    except (ValueError, TypeError):
        pairs = zip(values, missing, strict=True)
        return [_FORMATTER.format_field(None if m else v, spec) for v, m in pairs]
