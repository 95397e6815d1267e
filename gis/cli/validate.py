"""``linyuan validate``: 数据质检 of one layer against the catalog.

Exit codes: 0 clean or only info/warnings; 1 error-level findings; 2 usage; 3 unreadable input.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import click

from gis.cli import options
from gis.findings import FINDING_COLUMNS, Findings, Severity

EXIT_FINDINGS = 1
TABLE_COLUMNS = ("severity", "code", "field", "feature", "message")
FEATURE_WIDTH = 32


def _width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _clip(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    out = ""
    for char in text:
        if _width(out + char) > width - 1:
            break
        out += char
    return out + "…"


def _cells(findings: Findings, lang: str) -> list[list[str]]:
    rows = []
    for f in findings:
        severity = f.severity.label(lang)
        feature = _clip(f.feature or "", FEATURE_WIDTH)
        rows.append([severity, f.code, f.field or "", feature, f.text(lang)])
    return rows


def format_table(findings: Findings, *, lang: str = "zh") -> str:
    """Return the findings as an aligned text table (message last), with a summary line."""
    # deferred: heavy, loaded when the command runs
    from gis.layers import label

    if not findings:
        return "未发现问题" if lang == "zh" else "no findings"
    header = [label(c, lang=lang) for c in TABLE_COLUMNS]
    rows = [header, *_cells(findings, lang)]
    widths = [max(_width(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = ["  ".join([*(_pad(r[i], w) for i, w in enumerate(widths)), r[-1]]) for r in rows]
    return "\n".join([*lines, "", summary_line(findings, lang=lang)])


def _counts(findings: Findings) -> dict[str, int]:
    return {s.value: sum(f.severity is s for f in findings) for s in Severity}


def summary_line(findings: Findings, *, lang: str = "zh") -> str:
    """Return e.g. ``共 3 条：错误 1，警告 1，提示 1``."""
    c = _counts(findings)
    if lang == "zh":
        return f"共 {len(findings)} 条：错误 {c['error']}，警告 {c['warning']}，提示 {c['info']}"
    return (
        f"{len(findings)} findings: {c['error']} errors, {c['warning']} warnings, {c['info']} info"
    )


def to_json(findings: Findings, *, path: str, kind: str | None, lang: str = "zh") -> str:
    """Return the findings as JSON: path, kind, counts per severity and the findings.

    Each finding's ``message`` is in ``lang``; ``message_en`` is English.
    """
    doc: dict[str, Any] = {
        "path": path,
        "kind": kind,
        "counts": _counts(findings),
        "findings": [f.to_dict(lang=lang) for f in findings],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def write_findings(
    findings: Findings, out: Path, *, lang: str, overwrite: bool, source: Path | None = None
) -> Path:
    """Write the findings as CSV (canonical headers), XLSX (headers in ``lang``) or GPKG.

    Written through the staged edge (:func:`gis.io.outputs.staged_outputs`); ``out`` may not
    be the validated layer ``source``.
    """
    # deferred: heavy, loaded when the command runs
    from gis.io import write_layer, write_table
    from gis.io.outputs import staged_outputs
    from gis.layers import label

    frame = findings.to_frame(lang=lang)
    suffix = out.suffix.lower()
    headers = {c: label(c, lang=lang) for c in FINDING_COLUMNS} if suffix == ".xlsx" else None
    sheet = "问题清单" if lang == "zh" else "findings"
    if suffix == ".xlsx":  # for people: 提示/警告/错误, one language (CSV and GPKG keep both)
        frame = frame.assign(severity=frame["severity"].map(lambda s: Severity(s).label(lang)))
        frame = frame.drop(columns="message_en")
    with staged_outputs({"out": out}, overwrite=overwrite, inputs=(source,)) as stage:
        if suffix == ".gpkg":
            write_layer(frame, stage["out"], layer="findings")
        else:
            write_table(frame, stage["out"], headers=headers, sheet_name=sheet)
    return out


@click.command(short_help="Check a layer against the catalog (数据质检).")
@click.argument("path", type=click.Path(path_type=Path))
@options.kind_opt
@options.layer_opt
@options.encoding_opt
@options.crs_opt
@options.working_crs_opt
@options.engine_opt
@options.json_opt
@options.out_option(help="Also write the findings to a .csv, .xlsx or .gpkg file.")
@options.overwrite_opt
@options.lang_opt
@click.pass_context
def validate(
    ctx: click.Context,
    path: Path,
    kind: str | None,
    layer: str | None,
    encoding: str | None,
    crs: Any,
    working_crs: Any,
    engine: str,
    as_json: bool,
    out: Path | None,
    overwrite: bool,
    lang: str,
) -> None:
    """Check the layer at PATH: encoding, CRS, geometry, required fields, IDs, code lists.

    With --kind the layer is checked against that kind's contract in layers/catalog.yaml;
    without it only the reading, geometry and field-name checks run. Exits 1 when any
    finding is an error, 3 when PATH cannot be read.
    """
    # deferred: heavy, loaded when the command runs
    from gis.checks.quality.run import validate_file
    from gis.io.outputs import plan_outputs

    if out is not None:  # before reading: an output that is the input is refused at once
        plan_outputs({"out": out}, overwrite=overwrite, inputs=(path,))
    findings = validate_file(
        path,
        kind=kind,
        layer=layer,
        encoding=encoding,
        crs=crs,
        working_crs=working_crs,
        lang=lang,
        engine=engine,
    )
    if out is not None:
        write_findings(findings, out, lang=lang, overwrite=overwrite, source=path)
    if as_json:
        click.echo(to_json(findings, path=str(path), kind=kind, lang=lang))
    else:
        click.echo(format_table(findings, lang=lang))
    if findings.has_errors:
        ctx.exit(EXIT_FINDINGS)
