"""``linyuan detect …``: detections from imagery. ``detect discolored`` is 变色立木监测.

Exit codes: 0 done and clean; 1 done, with error-level findings; 2 usage; 3 input that
cannot be read or used (missing bands or species field, no overlap, all nodata).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gis.cli import options
from gis.cli.usage import ZhBadParameter
from gis.findings import Findings

EXIT_FINDINGS = 1

_layer = click.Path(exists=False, path_type=Path)
_file = click.Path(dir_okay=False, path_type=Path)
_raster = options.RasterPathType()  # a file or a GDAL /vsi… path, as ``check patches`` takes


def _species(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    items = tuple(s.strip() for s in value.replace("，", ",").split(",") if s.strip())
    if not items:
        raise ZhBadParameter(
            "give species names separated by commas, e.g. 红松,樟子松",
            zh="请给出以逗号分隔的树种名，如 红松,樟子松",
        )
    return items


@click.group(short_help="Detections from imagery (discolored: 变色立木监测).")
def detect() -> None:
    """Detect things to verify in the field from imagery (points or patches)."""


@detect.command(short_help="变色立木监测: discolored trees in host stands as points to verify.")
@click.argument("raster", type=_raster)
@click.option("--stands", type=_layer, required=True, help="森林资源小班 with 优势树种.")
@click.option(
    "--previous",
    type=_raster,
    help="An earlier image (a file, product or folder of scenes): crowns seen there are marked.",
)
@options.sensor_option()
@click.option(
    "--bands",
    help="Band roles in file order, e.g. B,G,R,NIR (generic sensor); A = alpha band (R,G,B,A).",
)
@click.option("--species", callback=_species, help="Host species, e.g. 红松,樟子松,油松.")
@click.option("--known-points", "known_points", type=_layer, help="Earlier points / field results.")
@click.option("--rules", type=_file, help="Rules YAML (default layers/rules/discolored.yaml).")
@click.option("--image-date", "image_date", help="Date of the image (YYYY-MM-DD).")
@options.out_option(required=True, help="Results GeoPackage.")
@click.option("--kml", type=_file, help="Also write KMZ/KML (as `export kml` writes it).")
@click.option("--csv", type=_file, help="Also write CSV with lon/lat (template in layers/).")
@click.option(
    "--window",
    "window_size",
    type=click.IntRange(64),
    default=None,
    help="Window edge in pixels: sets the memory, not the result "
    "[default: 1024, up to 2048 for pixels finer than ~10 cm].",
)
@click.option(
    "--threads", type=click.IntRange(1), default=2, show_default=True, help="Reading threads."
)
@options.workers_opt
@options.scheduler_opt
@options.engine_opt
@options.lang_opt
@options.overwrite_opt
@options.json_opt
def discolored(as_json: bool, **kwargs: Any) -> None:
    """Find discolored crowns of RASTER inside host stands and write points to verify."""
    # deferred: heavy, loaded when the command runs
    from gis.checks.discolored.run import run_discolored

    log = Findings()
    run = run_discolored(kwargs.pop("raster"), findings=log, **kwargs)
    counts = run.result.run["counts"]
    if as_json:
        payload = {
            "outputs": {k: str(v) for k, v in run.outputs.items()},
            "mode": run.result.run["mode"],
            "counts": counts,
            "findings": {s: sum(f.severity == s for f in log) for s in ("error", "warning")},
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        _summary(counts, len(log), run.result.run["mode"], kwargs["lang"])
        for path in run.outputs.values():
            click.echo(f"→ {path}")
    if log.has_errors:
        raise SystemExit(EXIT_FINDINGS)


def _summary(counts: dict[str, int], n_findings: int, mode: str, lang: str) -> None:
    if lang == "en":
        click.echo(
            f"discolored trees: {counts['new_points']} new (points {counts['points']}, "
            f"yellow decoys left out {counts['decoys']}); findings {n_findings}"
        )
        if mode == "patches":
            click.echo("pixels too coarse for crowns: discolored patches per stand written")
        return
    click.echo(
        f"变色立木 {counts['new_points']} 株新发现（点位 {counts['points']}，"
        f"排除黄化诱饵 {counts['decoys']}）；问题 {n_findings} 条"
    )
    if mode == "patches":
        click.echo("影像分辨率过粗，按小班输出变色斑块 (discolored_patches)")
