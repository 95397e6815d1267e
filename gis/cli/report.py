"""``linyuan report …``: render a verification report (HTML or DOCX) from results.

Each command executes its notebook (notebooks/*.ipynb) with the options as parameters and
writes the report with the code hidden, atomically. Exit codes: 0 written (also for results
holding nothing: the report says there is nothing to report); 2 usage; 3 the input cannot make
the report (results of another check, a missing layer, a batch not in the file — the report is
still written and says why) or the notebook failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gis.cli import options
from gis.cli.usage import ZhBadParameter

_results = click.Path(exists=True, dir_okay=True, path_type=Path)


def _check_suffix(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    if value.suffix.lower() not in (".html", ".htm", ".docx"):
        raise ZhBadParameter(
            f"{value}: write the report as .html or .docx",
            ctx,
            param,
            zh=f"{value}：报告请写成 .html 或 .docx",
        )
    return value


_out = click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    callback=_check_suffix,
    help="Report file: REPORT.html (one self-contained page) or REPORT.docx (Word).",
)
_field = click.option(
    "--field",
    type=_results,
    help="Field store of `linyuan verify import` (核查率, field outcomes, lab results).",
)
_district = click.option("--district", help="Only this district (e.g. 净月区).")


@click.group(short_help="Verification reports (核查报告) as HTML or DOCX.")
def report() -> None:
    """Render the bureau's reports from results GeoPackages and the field store."""


def _render(name: str, out: Path, overwrite: bool, options: dict[str, Any]) -> None:
    """Render notebook ``name`` with ``options`` as its parameters (paths as text).

    The report goes through the staged edge (:func:`gis.io.outputs.staged_outputs`): never
    onto an input (results, field store), never half-written. A report that shows why its
    input cannot make it is still put in place, then the error is raised (exit 3).
    """
    # deferred: heavy, loaded when the command runs (the renderer: nbclient, matplotlib, docx)
    from gis.io.outputs import staged_outputs
    from gis.report.data import ReportInputError
    from gis.report.render import render_report

    params = {k: str(v) if isinstance(v, Path) else v for k, v in options.items()}
    inputs = [v for v in options.values() if isinstance(v, Path)]
    shown: ReportInputError | None = None
    with staged_outputs({"out": out}, overwrite=overwrite, inputs=inputs) as stage:
        try:
            done = render_report(name, params, stage["out"], overwrite=overwrite)
        except ReportInputError as exc:  # written, and says why: put in place, then fail
            shown = exc
    if shown is not None:
        raise shown
    if options.get("lang") == "en":
        click.echo(f"{out}  ({done.seconds:.1f} s)")
    else:
        click.echo(f"{out}（用时 {done.seconds:.1f} 秒）")


@report.command(short_help="森林督查图斑核查报告 from `linyuan check patches` results.")
@click.argument("results", type=_results)
@_field
@click.option("--batch", help="Only this batch (期), e.g. 2026年第1期.")
@_district
@_out
@options.lang_opt
@options.overwrite_opt
def patches(out: Path, overwrite: bool, **options: Any) -> None:
    """Patch verification report: 基本情况, 自查结果, 核查率, suspected-illegal list, map."""
    _render("patch_verification_report", out, overwrite, options)


@report.command(short_help="变色立木监测核查报告 from `linyuan detect discolored` results.")
@click.argument("results", type=_results)
@_field
@_district
@_out
@options.lang_opt
@options.overwrite_opt
def discolored(out: Path, overwrite: bool, **options: Any) -> None:
    """Discolored-tree report: per stand / district / chief, 点位核查率, outcomes, lab, map."""
    _render("discolored_trees_report", out, overwrite, options)


@report.command(short_help="绿化工作完成情况 from `linyuan greenery kpi` (and coverage) results.")
@click.argument("results", type=_results)
@click.option("--coverage", type=_results, help="Results of `linyuan greenery coverage` (覆盖率).")
@_district
@_out
@options.lang_opt
@options.overwrite_opt
def greenery(out: Path, overwrite: bool, **options: Any) -> None:
    """Greening report: KPIs against targets with flags, charts, coverage, underserved areas."""
    _render("greening_kpi_report", out, overwrite, options)


@report.command(short_help="森林防火报告 from `linyuan fire hotspots|burned|coverage` results.")
@click.option("--hotspots", type=_results, help="Results of `linyuan fire hotspots` (卫星热点).")
@click.option("--burned", type=_results, help="Results of `linyuan fire burned` (过火面积).")
@click.option("--coverage", type=_results, help="Results of `linyuan fire coverage` (瞭望覆盖).")
@click.option(
    "--field",
    type=_results,
    help="Field store of `linyuan verify import` (热点核查率, feedback on time or late).",
)
@_out
@options.lang_opt
@options.overwrite_opt
def fire(out: Path, overwrite: bool, **options: Any) -> None:
    """Fire report: hotspots by verdict, deadline and 核查率, events, burned area, coverage."""
    _render("fire_report", out, overwrite, options)
