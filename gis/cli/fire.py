"""``linyuan fire …``: 森林防火. ``fire hotspots`` is 卫星热点核查.

Exit codes: 0 done and clean; 1 done, with error-level findings (hotspots without a time …);
2 usage; 3 input that cannot be read or used.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from gis.checks.fire.run import run_hotspot_check
from gis.checks.fire.triage import load_hotspot_rules
from gis.cli import options
from gis.findings import Findings

EXIT_FINDINGS = 1

_layer = click.Path(exists=False, path_type=Path)
_file = click.Path(dir_okay=False, path_type=Path)


@click.group(short_help="森林防火: hotspot verification (fire hotspots).")
def fire() -> None:
    """Forest fire prevention: satellite hotspots checked and sent to the field."""


# --- fire hotspots ------------------------------------------------------------------------


@fire.command(short_help="卫星热点核查: verdict, priority and feedback deadline per hotspot.")
@click.argument("hotspots", type=_layer)
@click.option("--subcompartments", type=_layer, help="森林资源小班 (地类: forest, grass, crop).")
@click.option("--fire-zones", "fire_zones", type=_layer, help="防火重点区域 polygons.")
@click.option("--protected", type=_layer, help="自然保护地 polygons.")
@click.option("--districts", type=_layer, help="行政区 (and township features, level=township).")
@click.option("--forest-chiefs", "forest_chiefs", type=_layer, help="林长责任区.")
@click.option("--heat-sources", "heat_sources", type=_layer, help="固定热源 (factories, kilns).")
@click.option("--rules", type=_file, help="Rules YAML (default layers/rules/hotspots.yaml).")
@click.option(
    "--seasons",
    type=_file,
    help="Fire-prevention periods (default layers/rules/fire_seasons.yaml).",
)
@click.option("--province", help="Province whose fire-prevention periods apply (default 吉林省).")
@click.option(
    "--event-distance",
    "event_distance_m",
    type=click.FloatRange(min=0, min_open=True),
    help="Detections this close (metres) … [default: rules, 1000]",
)
@click.option(
    "--event-hours",
    "event_hours",
    type=click.FloatRange(min=0, min_open=True),
    help="… and this close in time (hours) are one event. [default: rules, 24]",
)
@options.out_option(required=True, help="Results GeoPackage (hotspots_checked, fire_events, …).")
@click.option("--xlsx", type=_file, help="Also write the table with Chinese headers + events.")
@click.option("--kml", type=_file, help="Also write KMZ/KML by verdict (奥维, Google Earth).")
@options.overwrite_opt
@options.json_opt
@options.lang_opt
def hotspots(as_json: bool, lang: str, **kwargs: Any) -> None:
    """Check every satellite hotspot of HOTSPOTS (FIRMS CSV/SHP/KML or a provincial table).

    Writes the results GeoPackage (and optionally XLSX and KMZ) and prints counts by verdict.
    """
    if logging.getLogger().getEffectiveLevel() <= logging.WARNING:
        logging.getLogger("gis.checks").setLevel(logging.INFO)
    log = Findings()
    run = run_hotspot_check(kwargs.pop("hotspots"), lang=lang, findings=log, **kwargs)
    counts = run.result.run["counts"]
    if as_json:
        payload = {
            "outputs": {k: str(v) for k, v in run.outputs.items()},
            "hotspots": len(run.result.hotspots_checked),
            "events": len(run.result.events),
            "counts": counts,
            "findings": {s: sum(f.severity == s for f in log) for s in ("error", "warning")},
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        click.echo(_hotspot_summary(run.result, log, lang))
        for path in run.outputs.values():
            click.echo(f"→ {path}")
    if log.has_errors:
        raise SystemExit(EXIT_FINDINGS)


def _hotspot_summary(result: Any, log: Findings, lang: str) -> str:
    rules = load_hotspot_rules(result.run["rules_file"])
    counts = result.run["counts"]["fire_kind"]
    n, e = len(result.hotspots_checked), len(result.events)
    head = f"核查热点 {n} 个（{e} 起事件）" if lang == "zh" else f"{n} hotspots in {e} events"
    parts = [f"{rules.label('fire_kind', k, lang)} {v}" for k, v in counts.items()]
    errors = sum(f.severity == "error" for f in log)
    tail = f"；问题 {len(log)} 条（错误 {errors}）" if lang == "zh" else f"; {len(log)} findings"
    return (
        head
        + ("：" if lang == "zh" else ": ")
        + ("，" if lang == "zh" else ", ").join(parts)
        + tail
    )
