"""``linyuan greenery …``: greening KPIs against targets, and park service coverage.

Exit codes: 0 done and clean; 1 done, with error-level findings; 2 usage; 3 input that cannot
be read or used (unreadable layer, lines where polygons are expected, a bad targets file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gis.cli import options
from gis.cli.usage import ZhBadParameter
from gis.findings import Findings
from gis.units import M2_PER_HA

if TYPE_CHECKING:
    import pandas as pd

EXIT_FINDINGS = 1

_layer = click.Path(exists=False, path_type=Path)
_file = click.Path(dir_okay=False, path_type=Path)


@click.group(
    short_help="Greening KPIs (绿美城市) and park service coverage (公园绿地服务半径覆盖率)."
)
def greenery() -> None:
    """Greenways, parks, pocket parks and villages against the plan; park service coverage."""


@greenery.command(short_help="KPIs per district and city against layers/targets.yaml.")
@click.option("--greenways", type=_layer, required=True, help="绿道 lines (status, year).")
@click.option("--parks", type=_layer, required=True, help="公园 polygons (category, status …).")
@click.option("--villages", type=_layer, required=True, help="村屯绿化 (task_year, status).")
@click.option("--districts", type=_layer, required=True, help="行政区 polygons.")
@click.option("--afforestation", type=_layer, help="国土绿化 polygons with a year field.")
@click.option("--streets", type=_layer, help="Renewed streets (lines) with a year field.")
@click.option("--targets", type=_file, help="Targets YAML (default layers/targets.yaml).")
@click.option("--year", type=int, help="Year to report (default: the latest in the targets).")
@options.out_option(required=True, help="Results GeoPackage (layers kpi, findings, run).")
@click.option("--xlsx", type=_file, help="Also write the KPI table with Chinese headers.")
@click.option(
    "--charts",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write PNG charts (bar per district, progress gauges) into this folder.",
)
@options.overwrite_opt
@options.json_opt
@options.engine_opt
@options.lang_opt
def kpi(as_json: bool, lang: str, **kwargs: Any) -> None:
    """Compute greening KPIs per district and city for one year and compare them to targets."""
    # deferred on purpose: the greenery checks import networkx (heavy), not needed for `--help`
    from gis.checks.greenery import CITY
    from gis.checks.greenery.run import run_greenery_kpi

    run = run_greenery_kpi(lang=lang, **kwargs)
    table = run.tables["kpi"]
    city = table[(table["district"] == CITY) & table["target"].notna()]
    if as_json:
        _echo_json(run.outputs, city, run.findings)
    else:
        for _, row in city.iterrows():
            click.echo(_kpi_line(row, lang))
        _echo_outputs(run.outputs)
    _exit(run.findings)


def _kpi_line(row: pd.Series, lang: str) -> str:
    # deferred: heavy, loaded when the command runs
    import pandas as pd

    from gis.targets import unit_label  # the catalog loads pandas: not for --help

    unit = unit_label(row["unit"], lang)
    actual = "—" if pd.isna(row["actual"]) else _figure(row["actual"])
    rate = "" if pd.isna(row["rate"]) else f" ({row['rate']:.1%})"
    flag = "?" if pd.isna(row["met"]) else ("✓" if bool(row["met"]) else "✗")
    item = f" {row['item']}" if row["item"] else ""
    sep = "：" if lang == "zh" else ": "
    return f"{flag} {row['label']}{item}{sep}{actual} / {_figure(row['target'])} {unit}{rate}"


def _figure(value: float) -> str:
    """Return a KPI figure as people write it: thousands separators, at most 3 decimals.

    >>> _figure(500000.0), _figure(2.9741), _figure(7.5)
    ('500,000', '2.974', '7.5')
    """
    return f"{value:,.3f}".rstrip("0").rstrip(".")


@greenery.command(short_help="公园绿地服务半径覆盖率, 300米见绿, 500米见园.")
@click.option("--parks", type=_layer, required=True, help="Park green-space polygons.")
@click.option("--residential", type=_layer, required=True, help="Residential land polygons.")
@click.option("--districts", type=_layer, help="行政区 polygons (coverage per district).")
@click.option("--green-spaces", "green_spaces", type=_layer, help="Other green spaces (300 m).")
@click.option("--population-field", "population_field", help="Residential population field.")
@click.option("--roads", type=_layer, help="Road lines: walking distance instead of buffers.")
@click.option(
    "--radius-green",
    "radius_green",
    type=float,
    default=300.0,
    show_default=True,
    help="300 米见绿 radius, metres.",
)
@click.option(
    "--radius-park",
    "radius_park",
    type=float,
    default=500.0,
    show_default=True,
    help="500 米见园 radius, metres.",
)
@click.option(
    "--min-green-m2",
    "min_green_m2",
    type=float,
    default=400.0,
    show_default=True,
    help="Smallest green space counted for 300 米见绿, m².",
)
@click.option(
    "--min-park-ha",
    "min_park_ha",
    type=float,
    default=1.0,
    show_default=True,
    help="Smallest park counted for 500 米见园, ha.",
)
@click.option(
    "--radius-classes",
    "radius_classes",
    default="5000:500,2000:300",
    show_default=True,
    help="Service radius by park size: MIN_M2:RADIUS_M,…",
)
@options.out_option(required=True, help="Results GeoPackage (coverage, underserved, run).")
@options.overwrite_opt
@options.json_opt
@options.engine_opt
@options.lang_opt
def coverage(as_json: bool, lang: str, **kwargs: Any) -> None:
    """Share of residential land (or population) within reach of parks, per district."""
    # deferred on purpose: networkx (heavy), as in `kpi`
    from gis.checks.greenery import CITY
    from gis.checks.greenery.run import run_park_coverage

    opts = _coverage_options(kwargs)
    run = run_park_coverage(options=opts, lang=lang, **kwargs)
    table = run.tables["coverage"]
    city = table[table["district"] == CITY]
    if as_json:
        _echo_json(run.outputs, city, run.findings)
    else:
        for _, row in city.iterrows():
            click.echo(_coverage_line(row, lang))
        _echo_outputs(run.outputs)
    _exit(run.findings)


def _coverage_options(kwargs: dict[str, Any]) -> Any:
    from gis.checks.greenery.coverage import CoverageOptions, RadiusClass  # networkx: deferred

    text = kwargs.pop("radius_classes")
    try:
        pairs = [item.split(":") for item in text.split(",") if item.strip()]
        classes = tuple(RadiusClass(float(a), float(r)) for a, r in pairs)
    except ValueError:
        raise ZhBadParameter(
            f"{text!r}: give MIN_M2:RADIUS_M pairs, e.g. 5000:500,2000:300",
            param_hint="--radius-classes",
            zh=f"{text!r}：请给出 MIN_M2:RADIUS_M（最小面积 m²:半径 m）对，如 5000:500,2000:300",
        ) from None
    return CoverageOptions(
        radius_classes=classes,
        radius_green_m=kwargs.pop("radius_green"),
        radius_park_m=kwargs.pop("radius_park"),
        min_green_m2=kwargs.pop("min_green_m2"),
        min_park_m2=kwargs.pop("min_park_ha") * M2_PER_HA,
    )


def _coverage_line(row: pd.Series, lang: str) -> str:
    # deferred: heavy, loaded when the command runs
    import pandas as pd

    from gis.checks.greenery.coverage import MEASURE_LABELS, Measure  # networkx: deferred

    zh, en = MEASURE_LABELS[Measure(row["measure"])]
    pct = "—" if pd.isna(row["coverage_pct"]) else f"{row['coverage_pct']:.2f}%"
    if pd.isna(row["target_pct"]):
        return f"{zh}：{pct}" if lang == "zh" else f"{en}: {pct}"
    target = f"{row['target_pct']:.0f}%"  # GB 55014: the share must exceed the target
    if lang == "zh":
        verdict = "—" if pd.isna(row["met"]) else ("达标" if row["met"] else "未达标")
        return f"{zh}：{pct}（目标 > {target}，{verdict}）"
    verdict = "—" if pd.isna(row["met"]) else ("met" if row["met"] else "not met")
    return f"{en}: {pct} (target > {target}, {verdict})"


def _echo_json(outputs: dict[str, Path], city: pd.DataFrame, log: Findings) -> None:
    payload = {
        "outputs": {k: str(v) for k, v in outputs.items()},
        "city": json.loads(city.to_json(orient="records", force_ascii=False)),
        "findings": {s: sum(f.severity == s for f in log) for s in ("error", "warning")},
    }
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2))


def _echo_outputs(outputs: dict[str, Path]) -> None:
    for path in outputs.values():
        click.echo(f"→ {path}")


def _exit(log: Findings) -> None:
    if log.has_errors:
        raise SystemExit(EXIT_FINDINGS)
