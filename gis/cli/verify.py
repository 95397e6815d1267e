"""``linyuan verify …``: field records back into the field store, lab results, 核查率.

Exit codes: 0 done and clean; 1 done, but records were rejected (with ``--skip-invalid`` the
valid ones were imported; without it nothing was); 2 usage; 3 a file that cannot be read or
a store that is not a GeoPackage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gis.cli import options
from gis.enums import GroupBy

if TYPE_CHECKING:
    import pandas as pd

EXIT_REJECTED = 1

_in = click.Path(exists=True, dir_okay=False, path_type=Path)
_store = click.Path(dir_okay=False, path_type=Path)
_results_opt = click.option(
    "--results",
    "results",
    type=_in,
    multiple=True,
    help="Results GeoPackage(s) of check patches / detect discolored / fire hotspots (repeatable).",
)
_skip_opt = click.option(
    "--skip-invalid",
    "skip_invalid",
    is_flag=True,
    default=False,
    help="Import the valid records and list the rest (default: import nothing on any error).",
)


@click.group(short_help="Field verification: import records, lab results, 核查率.")
def verify() -> None:
    """Bring verification records from the offline field maps back into a field store."""


MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "summary": "导入 {imported} 条，已导入过 {already} 条，无效 {rejected} 条；"
        "{state} → {store}",
        "committed": "已写入",
        "refused": "未写入（有无效记录；可加 --skip-invalid）",
        "invalid": "  无效 {where} ({feature}): {reason}",
        "conflict": "冲突 {layer} {feature}: {verdicts}",
        "other_run": "  {n} 条记录来自其他一次检查运行的地图（results_run_id 不同）",
        "unknown": "{n} 条记录的要素不在所给结果中（其他批次或旧结果）",
    },
    "en": {
        "summary": "imported {imported}, already imported {already}, invalid {rejected}; "
        "{state} → {store}",
        "committed": "committed",
        "refused": "nothing written (invalid records; --skip-invalid imports the rest)",
        "invalid": "  invalid {where} ({feature}): {reason}",
        "conflict": "conflict {layer} {feature}: {verdicts}",
        "other_run": "  {n} records come from a map of another check run "
        "(results_run_id differs)",
        "unknown": "{n} records are about features not in the given results",
    },
}  # fmt: skip
HEADERS: dict[str, dict[str, str]] = {
    "zh": {"group": "分组", "features": "要素", "verified": "已核查", "verify_rate": "核查率",
           "real_change": "真实变化", "no_change": "非真实变化",
           "fire": "火情", "no_fire": "非火情", "on_time": "按时反馈", "late": "超时反馈",
           "missing": "未反馈", "no_deadline": "无反馈时限",
           "feedback_median_h": "反馈用时中位数（小时）"},
    "en": {"group": "group", "features": "features", "verified": "verified",
           "verify_rate": "verify rate", "real_change": "real change", "no_change": "not real",
           "feedback_median_h": "median feedback (h)"},
}  # fmt: skip
"""CLI text in Chinese (default) and English (``--lang en``); rejection reasons in Chinese
where they have one (the export contract's schema messages stay English)."""
RATE_TITLES: dict[str, dict[str, str]] = {
    "zh": {"hotspots_checked": "热点核查率"},
    "en": {"hotspots_checked": "hotspot verify rate"},
}
"""The name 核查率 takes in one layer's table."""
LAYER_WORDS = {
    "patches_checked": "督查图斑",
    "discolored_points": "变色立木",
    "hotspots_checked": "卫星热点",
}
"""Result layers as the Chinese status table names them (English keeps the layer name)."""


def _header(column: str, lang: str) -> str:
    """Return a status column's header: the shared words, or an outcome's catalog meaning."""
    from gis.layers import code_meaning  # the catalog loads pandas: not for --help

    if column in HEADERS[lang]:
        return HEADERS[lang][column]
    return code_meaning("pest_points", "status", column, lang=lang) or column


def _layer_word(layer: str, lang: str) -> str:
    return LAYER_WORDS.get(layer, layer) if lang == "zh" else layer


def _echo_report(report: Any, as_json: bool, lang: str) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
        return
    text = MESSAGES[lang]
    state = text["committed"] if report.committed else text["refused"]
    click.echo(
        text["summary"].format(
            imported=report.imported,
            already=report.already,
            rejected=len(report.rejected),
            state=state,
            store=report.store,
        )
    )
    for r in report.rejected:
        where = f"{r.source}#{r.index}" if r.index is not None else r.source
        line = text["invalid"].format(where=where, feature=r.feature_id or "-", reason=r.text(lang))
        click.echo(line, err=True)
    for row in report.conflicts.itertuples():
        layer = _layer_word(str(row.layer), lang)
        said = row.verdicts_zh if lang == "zh" else row.verdicts
        conflict = {"layer": layer, "feature": row.feature_id, "verdicts": said}
        click.echo("  " + text["conflict"].format(**conflict))
    if getattr(report, "other_run", 0):
        click.echo(text["other_run"].format(n=report.other_run))


@verify.command("import", short_help="Import field exports (GeoJSON) into a field store.")
@click.argument("exports", nargs=-1, required=True, type=_in)
@click.option("--into", "into", type=_store, required=True, help="Field store GeoPackage.")
@_results_opt
@_skip_opt
@options.json_opt
@options.lang_opt
def import_command(
    exports: tuple[Path, ...],
    into: Path,
    results: tuple[Path, ...],
    skip_invalid: bool,
    as_json: bool,
    lang: str,
) -> None:
    """Append the records of EXPORTS to the field store (all files in one transaction)."""
    from gis.verify.imports import import_exports
    from gis.verify.results import read_results

    known = read_results(results) if results else None
    report = import_exports(exports, into=into, results=known, skip_invalid=skip_invalid)
    _echo_report(report, as_json, lang)
    if report.rejected:
        raise SystemExit(EXIT_REJECTED)


@verify.command(short_help="Import lab results (sample id → 阳性/阴性).")
@click.argument("lab_results", type=_in)
@click.option("--into", "into", type=_in, required=True, help="Field store GeoPackage.")
@_skip_opt
@options.json_opt
@options.lang_opt
def lab(lab_results: Path, into: Path, skip_invalid: bool, as_json: bool, lang: str) -> None:
    """Append lab results as records of kind lab, matched to points by sample id."""
    from gis.verify.imports import import_lab

    report = import_lab(lab_results, into=into, skip_invalid=skip_invalid)
    _echo_report(report, as_json, lang)
    if report.rejected:
        raise SystemExit(EXIT_REJECTED)


def _table_text(table: pd.DataFrame, lang: str) -> str:
    import pandas as pd  # deferred: --help stays light

    from gis.verify.status import MEASURE_COLUMNS, NO_GROUP, OUTCOME_COLUMNS

    parts = []
    for layer, cols in OUTCOME_COLUMNS.items():
        rows = table[table["layer"] == layer]
        if rows.empty:
            continue
        measures = MEASURE_COLUMNS.get(layer, ())
        shown = rows[["group", "features", "verified", "verify_rate", *cols, *measures]].copy()
        shown["verify_rate"] = (shown["verify_rate"] * 100).map("{:.1f}%".format)
        for name in measures:
            shown[name] = shown[name].map(lambda v: "-" if pd.isna(v) else f"{v:.1f}")
        if lang == "en":
            shown["group"] = shown["group"].replace({"全部": "all", NO_GROUP: "(not filled)"})
        rate = RATE_TITLES[lang].get(layer, HEADERS[lang]["verify_rate"])
        names = {c: rate if c == "verify_rate" else _header(str(c), lang) for c in shown.columns}
        shown = shown.rename(columns=names)
        parts.append(f"[{_layer_word(layer, lang)}]\n" + shown.to_string(index=False))
    return "\n\n".join(parts)


@verify.command(short_help="核查率 and outcome counts of results, from the field store.")
@click.argument("store", type=_in)
@click.option("--results", "results", type=_in, multiple=True, required=True,
              help="Results GeoPackage(s) whose features are counted (repeatable).")  # fmt: skip
@click.option(
    "--by",
    type=click.Choice([g.value for g in GroupBy]),
    default=None,
    help="Also per district, forest chief or batch.",
)
@options.json_opt
@options.lang_opt
def status(
    store: Path, results: tuple[Path, ...], by: str | None, as_json: bool, lang: str
) -> None:
    """Print 核查率 = features with at least one record / all features, and outcomes.

    Hotspots (热点核查率) also get their feedback: the first field record against the
    deadline of the rules (on time / late / missing) and the median hours from detection.
    """
    from gis.verify.results import read_results
    from gis.verify.status import conflicts, unknown_records, verification_status
    from gis.verify.store import read_log

    known = read_results(results)
    log = read_log(store)
    table = verification_status(known.features, log, by=by)
    found = conflicts(log, lang="en" if as_json else lang)  # JSON keeps the codes
    unknown = unknown_records(known.features, log)
    if as_json:
        payload = {
            "status": table.astype(object).where(table.notna(), None).to_dict(orient="records"),
            "conflicts": found.to_dict(orient="records"),
            "records_not_in_results": len(unknown),
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=int))
        return
    text = MESSAGES[lang]
    click.echo(_table_text(table, lang))
    for row in found.itertuples():
        layer = _layer_word(str(row.layer), lang)
        conflict = {"layer": layer, "feature": row.feature_id, "verdicts": row.verdicts}
        click.echo(text["conflict"].format(**conflict))
    if len(unknown):
        click.echo(text["unknown"].format(n=len(unknown)))


@verify.command(short_help="Print the export contract (JSON schema) the field map writes.")
def schema() -> None:
    """Print the field-record export contract as JSON (see docs/field-records.md)."""
    # deferred: gis.verify loads pandas and geopandas; --help stays light
    from gis.verify.contract import contract_json

    click.echo(contract_json())
