"""``linyuan fire …``: 森林防火 (issue 19).

``fire hotspots``: 卫星热点核查; ``fire burned``: 火场面积、受害森林面积与火灾等级;
``fire coverage``: 瞭望塔/视频监控覆盖与盲区.

Exit codes: 0 done and clean; 1 done, with error-level findings (hotspots without a time …);
2 usage; 3 input that cannot be read or used (or ``gdal_viewshed`` missing).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from gis.cli import options
from gis.findings import Findings

EXIT_FINDINGS = 1

_layer = click.Path(exists=False, path_type=Path)
_file = click.Path(dir_okay=False, path_type=Path)
_raster = options.RasterPathType()


@click.group(short_help="森林防火: hotspots, burned area and grade, lookout coverage.")
def fire() -> None:
    """森林防火: satellite hotspots, checks after a fire, lookout coverage for the plan."""


def _finish(log: Findings, payload: dict[str, Any], lines: list[str], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    else:
        for line in lines:
            click.echo(line)
    if log.has_errors:
        raise SystemExit(EXIT_FINDINGS)


# ---------------------------------------------------------------------------------------------
# linyuan fire burned (issue 19, part 2)
# ---------------------------------------------------------------------------------------------


@fire.command(short_help="过火面积: dNBR, severity, 火场面积, 受害森林面积 and the fire grade.")
@click.option("--before", type=_raster, required=True, help="Image before the fire.")
@click.option(
    "--after",
    type=_raster,
    required=True,
    help="Image after the fire (another grid or zone is brought onto the analysis grid).",
)
@options.image_pair_options()
@click.option("--before-mask", "before_mask", type=_raster, help="Cloud mask of the earlier image.")
@click.option("--after-mask", "after_mask", type=_raster, help="Cloud mask of the later image.")
@click.option("--subcompartments", type=_layer, required=True, help="森林资源小班 (地类).")
@click.option("--districts", type=_layer, help="行政区.")
@click.option("--forest-chiefs", "forest_chiefs", type=_layer, help="林长责任区.")
@click.option("--rules", type=_file, help="Rules YAML (default layers/rules/fire.yaml).")
@options.out_option(required=True, help="Results GeoPackage (fire_report, fire_scars, …).")
@click.option("--xlsx", type=_file, help="Also write the tables with Chinese headers.")
@options.overwrite_opt
@options.json_opt
@options.engine_opt
@options.lang_opt
def burned(as_json: bool, lang: str, **kwargs: Any) -> None:
    """Map the burned area of a before/after pair; 火场面积, 受害森林面积 and the fire grade.

    The grade follows 《森林防火条例》 Article 40 by 受害森林面积 only: casualties are not in
    the imagery (the report says so).
    """
    # deferred: heavy, loaded when the command runs
    from gis.checks.fire.run import run_burned

    log = Findings()
    with options.conflicts_are_usage():  # --bands with --after-bands: usage, exit 2
        result = run_burned(lang=lang, findings=log, **kwargs)
    scars, grade = result.damage.scars, result.damage.grade
    fire_ha, forest_ha = float(scars["fire_area_ha"].sum()), float(scars["forest_area_ha"].sum())
    name = grade.get("zh" if lang == "zh" else "en", "—")
    if lang == "zh":
        head = (
            f"火场 {len(scars)} 处，火场面积 {fire_ha:.2f} 公顷（{fire_ha * 15:.1f} 亩），"
            f"受害森林面积 {forest_ha:.2f} 公顷（{forest_ha * 15:.1f} 亩）；等级：{name}"
            "（仅按面积，伤亡不在数据中）"
        )
    else:
        head = (
            f"{len(scars)} fire scars, burned {fire_ha:.2f} ha, burned forest {forest_ha:.2f} ha; "
            f"grade: {name} (by area only: casualties are not in the data)"
        )
    payload = {
        "outputs": {k: str(v) for k, v in result.outputs.items()},
        "scars": len(scars),
        "fire_area_ha": fire_ha,
        "forest_area_ha": forest_ha,
        "grade": result.run["grade"],
        "findings": {s: sum(f.severity == s for f in log) for s in ("error", "warning")},
    }
    lines = [head, *(f"→ {p}" for p in result.outputs.values())]
    _finish(log, payload, lines, as_json)


# ---------------------------------------------------------------------------------------------
# linyuan fire coverage (issue 19, part 3)
# ---------------------------------------------------------------------------------------------


@fire.command(short_help="瞭望覆盖: forest land seen by towers/cameras, blind areas, risk class.")
@click.option(
    "--dem",
    type=_raster,
    required=True,
    help="DEM in a projected CRS (metres), declared in the file or by a .prj beside it.",
)
@click.option(
    "--towers", type=_layer, required=True, help="瞭望塔/摄像头 points (height_m, range_m)."
)
@click.option(
    "--subcompartments", type=_layer, required=True, help="森林资源小班 (地类, 优势树种)."
)
@click.option("--fire-zones", "fire_zones", type=_layer, help="防火重点区域.")
@click.option("--roads", type=_layer, help="Roads (distance to roads raises the risk).")
@click.option("--villages", type=_layer, help="村屯 (distance to villages raises the risk).")
@click.option("--rules", type=_file, help="Rules YAML (default layers/rules/fire.yaml).")
@options.out_option(required=True, help="Results GeoPackage (coverage_summary, blind_areas, …).")
@click.option("--xlsx", type=_file, help="Also write the tables with Chinese headers.")
@click.option("--threads", type=int, default=2, show_default=True, help="Viewsheds at once.")
@options.overwrite_opt
@options.json_opt
@options.engine_opt
@options.lang_opt
def coverage(as_json: bool, lang: str, **kwargs: Any) -> None:
    """Share of forest land and fire zones seen by at least one tower; blind areas; risk.

    Runs GDAL's ``gdal_viewshed`` once per tower (earth curvature and refraction, -cc 0.85714);
    exits 3 when it is not installed (apt-get install gdal-bin / conda install gdal).
    """
    # deferred: heavy, loaded when the command runs
    from gis.checks.fire.run import run_coverage

    log = Findings()
    result = run_coverage(lang=lang, findings=log, **kwargs).result
    s = result.run["coverage"]
    if lang == "zh":
        head = (
            f"塔/摄像头 {s['towers_used']}/{s['towers']} 座参与计算；林地可视比例 "
            f"{s['forest_seen_share']:.1%}（{s['forest_seen_ha']:.1f} 公顷）；林地盲区 "
            f"{s['blind_ha']:.1f} 公顷，列出 {s['listed']} 处"
        )
    else:
        head = (
            f"{s['towers_used']}/{s['towers']} towers used; forest land seen "
            f"{s['forest_seen_share']:.1%} ({s['forest_seen_ha']:.1f} ha); blind forest "
            f"{s['blind_ha']:.1f} ha, {s['listed']} areas listed"
        )
    payload = {"coverage": s, "findings": {x: sum(f.severity == x for f in log)
                                           for x in ("error", "warning")}}  # fmt: skip
    _finish(log, payload, [head, *(f"→ {p}" for p in [kwargs["out"], kwargs.get("xlsx")] if p)],
            as_json)  # fmt: skip


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
@options.engine_opt
@options.lang_opt
def hotspots(as_json: bool, lang: str, **kwargs: Any) -> None:
    """Check every satellite hotspot of HOTSPOTS (FIRMS CSV/SHP/KML or a provincial table).

    Writes the results GeoPackage (and optionally XLSX and KMZ) and prints counts by verdict.
    """
    if logging.getLogger().getEffectiveLevel() <= logging.WARNING:
        logging.getLogger("gis.checks").setLevel(logging.INFO)
    # deferred: heavy, loaded when the command runs
    from gis.checks.fire.run import run_hotspot_check

    log = Findings()
    run = run_hotspot_check(kwargs.pop("hotspots"), lang=lang, findings=log, **kwargs)
    counts = run.result.run["counts"]
    payload = {
        "outputs": {k: str(v) for k, v in run.outputs.items()},
        "hotspots": len(run.result.hotspots_checked),
        "events": len(run.result.events),
        "counts": counts,
        "findings": {s: sum(f.severity == s for f in log) for s in ("error", "warning")},
    }
    lines = [_hotspot_summary(run.result, log, lang), *(f"→ {p}" for p in run.outputs.values())]
    _finish(log, payload, lines, as_json)


def _hotspot_summary(result: Any, log: Findings, lang: str) -> str:
    # deferred: heavy, loaded when the command runs
    from gis.checks.fire.triage import load_hotspot_rules

    rules = load_hotspot_rules(result.run["rules_file"])
    counts = result.run["counts"]["fire_kind"]
    n, e = len(result.hotspots_checked), len(result.events)
    head = f"核查热点 {n} 个（{e} 起事件）" if lang == "zh" else f"{n} hotspots in {e} events"
    parts = [f"{rules.label('fire_kind', k, lang)} {v}" for k, v in counts.items()]
    errors = sum(f.severity == "error" for f in log)
    tail = f"；问题 {len(log)} 条（错误 {errors}）" if lang == "zh" else f"; {len(log)} findings"
    if not parts:  # an empty hotspot file: nothing to list
        return head + tail
    return (
        head
        + ("：" if lang == "zh" else ": ")
        + ("，" if lang == "zh" else ", ").join(parts)
        + tail
    )
