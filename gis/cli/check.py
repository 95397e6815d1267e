"""``linyuan check …``: the domain checks. ``check patches`` is 森林督查图斑核查.

Exit codes: 0 done and clean; 1 done, with error-level findings (duplicate ids, empty
geometries …); 2 usage; 3 input that cannot be read or used.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from gis.cli import options
from gis.cli.usage import ZhBadParameter
from gis.findings import Findings
from gis.paths import prefetch_checksums

EXIT_FINDINGS = 1

_layer = click.Path(exists=False, path_type=Path)
_file = click.Path(dir_okay=False, path_type=Path)
_raster = options.RasterPathType()

INPUTS = (
    "patches",
    "before",
    "after",
    "before_mask",
    "after_mask",
    "subcompartments",
    "permits",
    "protected",
    "districts",
    "forest_chiefs",
    "rules",
)
"""The options of ``check patches`` that name input files (their checksums are recorded)."""


class ImageDates(click.ParamType):
    """Two dates ``BEFORE,AFTER`` (``20250905,20260918`` or ``2025-09-05,2026-09-18``)."""

    name = "dates"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Return a (before, after) pair of timestamps; fail with the expected form."""
        import pandas as pd

        if isinstance(value, tuple):
            return value
        parts = [p.strip() for p in str(value).split(",")]
        try:
            dates = tuple(pd.Timestamp(p) for p in parts)
        except ValueError:
            dates = ()
        if len(dates) != 2 or dates[0] > dates[1]:
            raise ZhBadParameter(
                f"{value!r}: give BEFORE,AFTER, e.g. 20250905,20260918",
                ctx,
                param,
                zh=f"{value!r}：请给出 BEFORE,AFTER（前期,后期日期），如 20250905,20260918",
            )
        return dates


@click.group(short_help="Run a check (patches: 森林督查图斑核查).")
def check() -> None:
    """Domain checks that turn layers and imagery into checked results."""


@check.command(short_help="森林督查图斑核查: evidence and verdict for every change patch.")
@click.argument("patches", type=_layer)
@click.option(
    "--before",
    type=_raster,
    required=True,
    help="Image of the earlier date: a GeoTIFF (or /vsis3/… URL), a Sentinel-2 .SAFE folder or "
    ".zip, a Landsat folder or .tar with its MTL, or several scenes (a folder, or A.tif,B.tif).",
)
@click.option("--after", type=_raster, required=True, help="Image of the later date (as --before).")
@click.option("--subcompartments", type=_layer, help="森林资源小班 (地类, 公益林).")
@click.option("--permits", type=_layer, help="审核审批 / 采伐许可 polygons with validity dates.")
@click.option("--protected", type=_layer, help="自然保护地 polygons.")
@click.option("--districts", type=_layer, help="行政区 (and township features, level=township).")
@click.option("--forest-chiefs", "forest_chiefs", type=_layer, help="林长责任区.")
@click.option("--rules", type=_file, help="Rules YAML (default layers/rules/patches.yaml).")
@options.image_pair_options(radiometry=True)
@click.option("--before-mask", "before_mask", type=_raster, help="Cloud mask of the earlier image.")
@click.option("--after-mask", "after_mask", type=_raster, help="Cloud mask of the later image.")
@options.out_option(required=True, help="Results GeoPackage (patches_checked, findings, run).")
@click.option("--xlsx", type=_file, help="Also write the table with Chinese headers + summary.")
@click.option("--kml", type=_file, help="Also write KMZ/KML by legality (奥维, Google Earth).")
@click.option(
    "--image-dates",
    "image_dates",
    type=ImageDates(),
    help="BEFORE,AFTER image dates (e.g. 20250905,20260918) for patches without QQYXSJ/HQYXSJ.",
)
@click.option(
    "--min-mapping-unit-mu",
    "min_mapping_unit_mu",
    type=click.FloatRange(min=0.0, min_open=True),
    help="最小上图面积（亩），默认取规则文件的 min_mapping_unit_mu（1 亩，未与国家森林督查"
    "技术规定核实，见 docs/robustness.md）：含这么大变化连片的图斑不判为无变化。 Minimum "
    "mapping unit, 亩: a patch with a changed cluster this large is never 无变化.",
)
@options.workers_opt
@options.scheduler_opt
@options.overwrite_opt
@options.json_opt
@options.engine_opt
@options.lang_opt
def patches(as_json: bool, lang: str, **kwargs: Any) -> None:
    """Check every suspicious change patch of PATCHES against two images and the layers.

    Writes the results GeoPackage (and optionally XLSX and KMZ) and prints counts by legality.
    """
    if logging.getLogger().getEffectiveLevel() <= logging.WARNING:
        logging.getLogger("gis.checks").setLevel(logging.INFO)
    # the inputs' checksums (the run table's) are taken on the second core while the check's
    # modules load and the patches are read (hashlib releases the GIL)
    with prefetch_checksums(kwargs.get(k) for k in INPUTS):
        # deferred: heavy, loaded when the command runs
        from gis.checks.patches.run import run_patch_check

        log = Findings()
        with options.conflicts_are_usage():  # --bands with --after-bands: usage, exit 2
            run = run_patch_check(kwargs.pop("patches"), lang=lang, findings=log, **kwargs)
    counts = run.result.run["counts"]
    if as_json:
        payload = {
            "outputs": {k: str(v) for k, v in run.outputs.items()},
            "patches": len(run.result.patches_checked),
            "counts": counts,
            "findings": {s: sum(f.severity == s for f in log) for s in ("error", "warning")},
            "engine": run.result.run["engine"],
            "peak_memory_mb": run.result.run["peak_memory_mb"],
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        click.echo(_summary(run.result.patches_checked, counts, log, lang))
        click.echo(memory_line(run.result.run["peak_memory_mb"], lang))
        for path in run.outputs.values():
            click.echo(f"→ {path}")
    if log.has_errors:
        raise SystemExit(EXIT_FINDINGS)


def memory_line(peak: dict[str, float], lang: str) -> str:
    """Return the peak memory per worker (or of this process) as one summary line.

    Workers are numbered in the order the run table lists them (their addresses are there);
    a process id or address means nothing to the reader of the summary.

    >>> memory_line({"local:4242": 611.2}, "zh"), memory_line({"tcp://a": 1, "tcp://b": 2}, "en")
    ('峰值内存：本进程 611 MB', 'Peak memory: worker 1 1 MB, worker 2 2 MB')
    """
    zh = lang == "zh"
    if len(peak) == 1 and next(iter(peak)).startswith("local:"):
        names = ["本进程" if zh else "this process"]
    else:
        names = [f"工作进程 {i}" if zh else f"worker {i}" for i in range(1, len(peak) + 1)]
    sizes = ("，" if zh else ", ").join(
        f"{n} {v:.0f} MB" for n, v in zip(names, peak.values(), strict=True)
    )
    return f"峰值内存：{sizes}" if zh else f"Peak memory: {sizes}"


def _summary(checked: Any, counts: dict[str, dict[str, int]], log: Findings, lang: str) -> str:
    # deferred: heavy, loaded when the command runs
    from gis.layers import code_meaning

    head = f"核查图斑 {len(checked)} 个" if lang == "zh" else f"{len(checked)} patches checked"
    parts = [
        f"{code_meaning('change_patches', 'legality', k, lang=lang) or k} {v}"
        for k, v in counts["legality"].items()
    ]
    errors = sum(f.severity == "error" for f in log)
    tail = f"；问题 {len(log)} 条（错误 {errors}）" if lang == "zh" else f"; {len(log)} findings"
    return head + ("：" if lang == "zh" else ": ") + "，".join(parts) + tail
