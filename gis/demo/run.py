"""Run every check that exists on a built demo scene and describe where the outputs are.

Checks are imported lazily: a check module that is not there yet is reported as skipped, so
``linyuan demo`` works at every stage of the project. It runs the data-quality validation
(:func:`gis.checks.quality.run.validate_file`) of each clean layer, the 督查图斑 check and the
变色立木 detection, and scores the last two against the scene's truth.

Examples
--------
>>> StepResult("validate", "skipped", "not available").ok
True
"""

from __future__ import annotations

import importlib
import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gis.checks.fire.viewshed import ViewshedUnavailableError
from gis.demo import DemoScene
from gis.demo.fire import build_fire_demo
from gis.demo.patches import IMAGE_DATE_AFTER
from gis.demo.score import score_crowns, score_hotspots, score_patches
from gis.demo.tour import write_field_returns
from gis.errors import GisError
from gis.findings import Findings, Severity
from gis.layers import catalog

CITY = "全市"
"""The city-wide row of the greening tables."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepResult:
    """The outcome of one demo step.

    Attributes
    ----------
    name : str
        What ran, e.g. ``"validate subcompartments"``.
    status : str
        ``clean``, ``findings`` (warnings only), ``errors`` (error findings), ``skipped``
        (the check does not exist yet, or needs a program the machine lacks: ``fire coverage``
        without GDAL's ``gdal_viewshed``) or ``failed`` (it raised).
    detail : str
        One line for the summary.
    outputs : tuple of Path
        Files the step wrote.
    """

    name: str
    status: str
    detail: str
    outputs: tuple[Path, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the step neither failed nor reported errors."""
        return self.status not in ("errors", "failed")


def _optional(module: str, name: str) -> Callable[..., object] | None:
    """Return ``module.name``; None only when that module or name does not exist (yet).

    Any other import error (a dependency missing, a module that imports something the platform
    lacks) is not hidden: the returned callable raises it, so the step is reported as failed
    with the real error.
    """
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            return None
        return _raises(exc)
    except ImportError as exc:
        return _raises(exc)
    return getattr(found, name, None)


def _raises(exc: ImportError) -> Callable[..., object]:
    """Return a step function that raises ``exc`` (an import error met while looking it up)."""

    def step(*args: object, **kwargs: object) -> object:
        raise exc

    return step


def _failed(name: str, exc: Exception, lang: str = "zh") -> StepResult:
    """Report a step that raised; a bug in a check (not a GisError) keeps its traceback in -v."""
    if not isinstance(exc, GisError):
        logger.debug("%s raised", name, exc_info=exc)
        hint = "（加 -v 重新运行查看详情）" if lang == "zh" else " (rerun with -v)"
        return StepResult(name, "failed", f"{type(exc).__name__}: {exc}{hint}")
    return StepResult(name, "failed", exc.text(lang))


def _absent(name: str, module: str, lang: str) -> StepResult:
    """Report a step whose check module does not exist (yet)."""
    said = f"{module} 尚不存在" if lang == "zh" else f"{module} is not there yet"
    return StepResult(name, "skipped", said)


def validate_layers(scene: DemoScene, *, lang: str = "zh") -> list[StepResult]:
    """Validate every clean layer of the scene with :func:`gis.checks.quality.run.validate_file`."""
    validate_file = _optional("gis.checks.quality.run", "validate_file")
    if validate_file is None:
        return [_absent("validate", "gis.checks.quality.run.validate_file", lang)]
    steps = []
    for kind, path in scene.layers.items():
        try:
            findings = validate_file(path, kind=kind, lang=lang)
        except Exception as exc:
            steps.append(_failed(f"validate {kind}", exc, lang))
            continue
        counts = {s: sum(f.severity is s for f in findings) for s in Severity}  # type: ignore[attr-defined]
        status = (
            "errors"
            if counts[Severity.ERROR]
            else "findings"
            if counts[Severity.WARNING]
            else "clean"
        )
        detail = ("，" if lang == "zh" else ", ").join(
            f"{s.label(lang)} {n}"
            for s, n in counts.items()  # type: ignore[attr-defined]
        )
        steps.append(StepResult(f"validate {kind}", status, detail))
    return steps


def check_patches(scene: DemoScene, *, overwrite: bool = False, lang: str = "zh") -> StepResult:
    """Run the 督查图斑 check on the scene and score it against the truth."""
    rasters = scene.rasters
    out = scene.out_dir / "results" / "patches_checked.gpkg"
    return _patch_step(
        scene, "check patches", out, overwrite=overwrite, lang=lang,
        after=rasters["s2_after"], after_mask=rasters["s2_after_scl"],
    )  # fmt: skip


def check_patches_delivered(
    scene: DemoScene, *, overwrite: bool = False, lang: str = "zh"
) -> StepResult:
    """Run the 督查图斑 check with the after date as Sentinel-2 delivers it.

    The after date is a .SAFE zip on UTM 51N (:mod:`gis.demo.delivered`): a product, on
    another grid than the before date.
    """
    from gis.demo.delivered import write_s2_product

    d = IMAGE_DATE_AFTER
    try:
        product = write_s2_product(
            scene.rasters["s2_after"], scene.rasters["s2_after_scl"], scene.out_dir / "delivered",
            sensing=f"{d[:4]}-{d[4:6]}-{d[6:]}",
        )  # fmt: skip
    except Exception as exc:
        return _failed("check patches (S2 .SAFE)", exc, lang)
    out = scene.out_dir / "results" / "patches_checked_s2_safe.gpkg"
    return _patch_step(
        scene, "check patches (S2 .SAFE)", out, overwrite=overwrite, lang=lang, after=product
    )


def _patch_step(
    scene: DemoScene, name: str, out: Path, *, overwrite: bool, lang: str, **after: Any
) -> StepResult:
    """Run the patch check with the scene's layers, before image and ``after``; score it."""
    run_patch_check = _optional("gis.checks.patches.run", "run_patch_check")
    if run_patch_check is None:
        return _absent(name, "gis.checks.patches.run", lang)
    layers, log = scene.layers, Findings()
    try:
        run: Any = run_patch_check(
            layers["change_patches"],
            before=scene.rasters["s2_before"],
            subcompartments=layers["subcompartments"],
            permits=layers["permits"],
            protected=layers["protected_areas"],
            districts=layers["districts"],
            forest_chiefs=layers["forest_chief_zones"],
            sensor="sentinel2-l2a",
            out=out,
            overwrite=overwrite,
            lang=lang,
            findings=log,
            **after,
        )
    except Exception as exc:
        return _failed(name, exc, lang)
    s = score_patches(run.result.patches_checked, scene.truth["patches"])
    detail = (
        f"与真值相比：真实变化 {s['real_change']:.1%}，变化类型 {s['change_type']:.1%}，"
        f"合法性 {s['legality']:.1%}（共 {s['n']} 个）"
        if lang == "zh"
        else f"vs truth: real change {s['real_change']:.1%}, change type "
        f"{s['change_type']:.1%}, legality {s['legality']:.1%} of {s['n']}"
    )
    grid = run.result.run.get("rasters", {}).get("analysis_grid", "")
    if "aligned" in grid:  # the grid's description is English: its key figures in Chinese
        detail += "；两期影像已统一到同一分析网格" if lang == "zh" else f"; analysis grid {grid}"
    status = "errors" if log.has_errors else "clean"
    return StepResult(name, status, detail, tuple(run.outputs.values()))


def detect_discolored(scene: DemoScene, *, overwrite: bool = False, lang: str = "zh") -> StepResult:
    """Run the 变色立木 detection on the 0.5 m image and score it against the planted crowns."""
    run_discolored = _optional("gis.checks.discolored.run", "run_discolored")
    if run_discolored is None:
        return _absent("detect discolored", "gis.checks.discolored.run", lang)
    log = Findings()
    try:
        run: Any = run_discolored(
            scene.rasters["uav_current"],
            stands=scene.layers["subcompartments"],
            previous=scene.rasters["uav_previous"],
            bands="B,G,R,NIR",
            image_date=scene.meta["uav_date"],
            out=scene.out_dir / "results" / "discolored.gpkg",
            overwrite=overwrite,
            findings=log,
        )
    except Exception as exc:
        return _failed("detect discolored", exc, lang)
    points = run.result.points
    if "is_new" in points:
        points = points[points["is_new"].fillna(False).astype(bool)]
    s = score_crowns(points, scene.truth["crowns"])
    detail = (
        f"与真值相比：查准率 {s['precision']:.1%}，查全率 {s['recall']:.1%}"
        f"（预置 {s['planted']} 株中找到 {s['matched']} 株，新点位 {s['points']} 个）"
        if lang == "zh"
        else f"vs truth: precision {s['precision']:.1%}, recall {s['recall']:.1%} "
        f"({s['matched']}/{s['planted']} planted, {s['points']} new points)"
    )
    status = "errors" if log.has_errors else "clean"
    return StepResult("detect discolored", status, detail, tuple(run.outputs.values()))


def fire_hotspots(scene: DemoScene, *, overwrite: bool = False, lang: str = "zh") -> StepResult:
    """Run the 卫星热点 check on the FIRMS download and score it against the planted truth."""
    run_hotspot_check = _optional("gis.checks.fire.run", "run_hotspot_check")
    if run_hotspot_check is None or "hotspots" not in scene.downloads:
        return _absent("fire hotspots", "gis.checks.fire.run", lang)
    layers, log = scene.layers, Findings()
    try:
        run: Any = run_hotspot_check(
            scene.downloads["hotspots"],
            subcompartments=layers["subcompartments"],
            fire_zones=layers["fire_zones"],
            protected=layers["protected_areas"],
            districts=layers["districts"],
            forest_chiefs=layers["forest_chief_zones"],
            heat_sources=layers["heat_sources"],
            out=scene.out_dir / "results" / "hotspots.gpkg",
            overwrite=overwrite,
            lang=lang,
            findings=log,
        )
    except Exception as exc:
        return _failed("fire hotspots", exc, lang)
    s = score_hotspots(run.result.hotspots_checked, scene.truth["hotspots"])
    detail = (
        f"与真值相比：判定 {s['fire_kind']:.1%}（共 {s['n']} 个），事件归并 {s['events']:.1%}"
        f"（{s['n_events']} 起事件，真值 {s['true_events']} 起）"
        if lang == "zh"
        else f"vs truth: verdict {s['fire_kind']:.1%} of {s['n']}, event pairs "
        f"{s['events']:.1%} ({s['n_events']} events, truth {s['true_events']})"
    )
    status = "errors" if log.has_errors else "clean"
    return StepResult("fire hotspots", status, detail, tuple(run.outputs.values()))


def _city_value(table: Any, **match: str) -> float | None:
    """Return the city row's value of one column, or None when the table has no such row."""
    column = match.pop("column")
    sel = table
    for key, value in match.items():
        if key not in sel:
            return None
        sel = sel[sel[key] == value]
    return float(sel[column].iloc[0]) if len(sel) == 1 and column in sel else None


def _num(value: float | None, spec: str) -> str:
    return "?" if value is None else format(value, spec)


def greenery_kpi(scene: DemoScene, *, overwrite: bool = False, lang: str = "zh") -> StepResult:
    """Run the greening KPIs for 2024 and compare the built greenway length with the truth."""
    run_greenery_kpi = _optional("gis.checks.greenery.run", "run_greenery_kpi")
    if run_greenery_kpi is None:
        return _absent("greenery kpi", "gis.checks.greenery.run", lang)
    layers = {k: scene.layers[k] for k in ("greenways", "parks", "villages", "districts")}
    try:
        run: Any = run_greenery_kpi(
            **layers,
            year=2024,
            out=scene.out_dir / "results" / "kpi.gpkg",
            overwrite=overwrite,
            lang=lang,
        )
    except Exception as exc:
        return _failed("greenery kpi", exc, lang)
    kpi = run.tables["kpi"]
    got = _city_value(kpi, district=CITY, indicator="greenway_km_built", item="", column="actual")
    truth = scene.truth["greenery"].set_index("indicator")["value"]["greenway_km_已建成"]
    detail = (
        f"指标 {len(kpi)} 行；已建成绿道 {_num(got, '.3f')} 公里（真值 {truth:.3f} 公里）"
        if lang == "zh"
        else f"{len(kpi)} KPI rows; built greenways {_num(got, '.3f')} km (truth {truth:.3f} km)"
    )
    status = "errors" if run.findings.has_errors else "clean"
    return StepResult("greenery kpi", status, detail, tuple(run.outputs.values()))


def greenery_coverage(scene: DemoScene, *, overwrite: bool = False, lang: str = "zh") -> StepResult:
    """Run park service coverage and compare the 500 m population share with the truth."""
    run_park_coverage = _optional("gis.checks.greenery.run", "run_park_coverage")
    if run_park_coverage is None:
        return _absent("greenery coverage", "gis.checks.greenery.run", lang)
    try:
        run: Any = run_park_coverage(
            parks=scene.layers["parks"],
            residential=scene.layers["residential"],
            districts=scene.layers["districts"],
            population_field="人口",
            out=scene.out_dir / "results" / "coverage.gpkg",
            overwrite=overwrite,
            lang=lang,
        )
    except Exception as exc:
        return _failed("greenery coverage", exc, lang)
    pct = _city_value(
        run.tables["coverage"], district=CITY, measure="park_500", column="coverage_pct"
    )
    truth = scene.truth["greenery"].set_index("indicator")["value"]["park_500m_pop_share"]
    detail = (
        f"500 米见园人口覆盖 {_num(pct, '.2f')}%（真值 {truth:.2%}）"
        if lang == "zh"
        else f"500 m park coverage {_num(pct, '.2f')}% of population (truth {truth:.2%})"
    )
    status = "errors" if run.findings.has_errors else "clean"
    return StepResult("greenery coverage", status, detail, tuple(run.outputs.values()))


def field_map(scene: DemoScene, *, overwrite: bool = False, lang: str = "zh") -> StepResult:
    """Write the offline field map of the results, with districts and 小班 as context."""
    write_maps = _optional("gis.maps.sources", "write_maps")
    if write_maps is None:
        return _absent("map", "gis.maps", lang)
    results = scene.out_dir / "results"
    sources = [
        p
        for p in (
            scene.layers["districts"],
            scene.layers["forest_chief_zones"],
            scene.layers["subcompartments"],
            results / "patches_checked.gpkg",
            results / "discolored.gpkg",
            results / "hotspots.gpkg",
        )
        if Path(p).exists()
    ]
    out = scene.out_dir / "maps" / "field_map.html"
    try:
        title = "净月潭演示 外业核查图" if lang == "zh" else "Jingyuetan demo field map"
        from gis.maps.quicklook import quicklook
        from gis.raster import raster_source

        image = quicklook(raster_source(scene.rasters["s2_after"], sensor="sentinel2-l2a"))
        written: Any = write_maps(
            sources, out=out, title=title, lang=lang, overwrite=overwrite, quicklook=image
        )
    except Exception as exc:
        return _failed("map", exc, lang)
    size = sum(written.values()) / 1e6
    detail = f"离线外业核查图 {size:.1f} MB"
    if lang == "en":
        detail = f"offline field map, {size:.1f} MB"
    return StepResult("map", "clean", detail, tuple(written))


def field_returns(scene: DemoScene, *, overwrite: bool = False, lang: str = "zh") -> StepResult:
    """Write the inspectors' phone exports and the lab CSV for the field map's results."""
    results, field_map = scene.out_dir / "results", scene.out_dir / "maps" / "field_map.html"
    sources = (field_map, results / "patches_checked.gpkg", results / "discolored.gpkg")
    if not all(p.exists() for p in sources):
        return StepResult("field returns", "skipped", "needs the field map and its results")
    try:
        done = write_field_returns(
            scene.out_dir, scene.seed, scene.truth, field_map=sources[0], patches=sources[1],
            points=sources[2], overwrite=overwrite,
        )  # fmt: skip
    except Exception as exc:
        return _failed("field returns", exc)
    detail = (
        f"{done.records} records from {len(done.exports)} phones, {done.samples} lab samples"
        if lang == "en"
        else f"{len(done.exports)} 部手机导出 {done.records} 条核查记录，{done.samples} 个送检样品"
    )
    return StepResult("field returns", "clean", detail, (*done.exports, done.lab))


_REPORTS = (
    ("patch_verification_report", "patches_checked.gpkg", "patches"),
    ("discolored_trees_report", "discolored.gpkg", "discolored"),
    ("greening_kpi_report", "kpi.gpkg", "greening"),
    ("fire_report", "hotspots.gpkg", "fire"),
)

_FIRE_RESULTS = {
    "hotspots": "hotspots.gpkg",
    "burned": "fire_burned.gpkg",
    "coverage": "fire_coverage.gpkg",
}


def _report_params(name: str, results: Path, source: str, lang: str) -> dict[str, Any]:
    """Return the notebook parameters of report ``name`` on the demo results."""
    if name == "fire_report":  # the fire results that the fire steps wrote (any may be missing)
        found = {k: results / f for k, f in _FIRE_RESULTS.items()}
        return {k: str(p) if p.exists() else None for k, p in found.items()} | {"lang": lang}
    params: dict[str, Any] = {"results": str(results / source), "district": None, "lang": lang}
    if name == "greening_kpi_report":
        params["coverage"] = str(results / "coverage.gpkg")
    else:
        params["field"] = None
    if name == "patch_verification_report":
        params["batch"] = None
    return params


def reports(scene: DemoScene, *, overwrite: bool = False, lang: str = "zh") -> list[StepResult]:
    """Render the four reports (HTML) from the demo results."""
    render_report = _optional("gis.report.render", "render_report")
    if render_report is None:
        return [_absent("report", "gis.report", lang)]
    results = scene.out_dir / "results"
    steps = []
    for name, source, label in _REPORTS:
        params = _report_params(name, results, source, lang)
        out = scene.out_dir / "reports" / f"{label}_report.html"
        try:
            done: Any = render_report(name, params, out, overwrite=overwrite)
        except Exception as exc:
            steps.append(_failed(f"report {label}", exc, lang))
            continue
        took = f"用时 {done.seconds:.1f} 秒" if lang == "zh" else f"{done.seconds:.1f} s"
        steps.append(StepResult(f"report {label}", "clean", took, (out,)))
    return steps


def _err(found: float, truth: float, lang: str = "zh") -> str:
    if not truth:
        return "—"
    if lang == "zh":
        return f"{found:.1f} 公顷，真值 {truth:.1f} 公顷（{found / truth - 1:+.1%}）"
    return f"{found:.1f} ha vs truth {truth:.1f} ha ({found / truth - 1:+.1%})"


def _fire_burned(scene: DemoScene, demo: Any, *, overwrite: bool, lang: str) -> StepResult:
    run_burned = _optional("gis.checks.fire.run", "run_burned")
    if run_burned is None:
        return _absent("fire burned", "gis.checks.fire.run", lang)
    log = Findings()
    try:
        run: Any = run_burned(
            before=demo.before, after=demo.after, bands="B,G,R,NIR,SWIR1,SWIR2",
            subcompartments=scene.layers["subcompartments"], districts=scene.layers["districts"],
            forest_chiefs=scene.layers["forest_chief_zones"],
            out=scene.out_dir / "results" / "fire_burned.gpkg", overwrite=overwrite, lang=lang,
            findings=log,
        )  # fmt: skip
    except Exception as exc:
        return _failed("fire burned", exc, lang)
    scars, truth = run.damage.scars, demo.truth
    fire = _err(float(scars["fire_area_ha"].sum()), truth["fire_area_ha"], lang)
    forest = _err(float(scars["forest_area_ha"].sum()), truth["forest_area_ha"], lang)
    grade = run.damage.grade.get("zh" if lang == "zh" else "en", "—")
    detail = (
        f"与真值相比：火场面积 {fire}，受害森林面积 {forest}，等级 {grade}"
        if lang == "zh"
        else f"vs truth: fire area {fire}, forest damaged {forest}, grade {grade}"
    )
    status = "errors" if log.has_errors else "clean"
    return StepResult("fire burned", status, detail, tuple(run.outputs.values()))


def _fire_coverage(scene: DemoScene, demo: Any, *, overwrite: bool, lang: str) -> StepResult:
    run_coverage = _optional("gis.checks.fire.run", "run_coverage")
    if run_coverage is None:
        return _absent("fire coverage", "gis.checks.fire.run", lang)
    log = Findings()
    try:
        run: Any = run_coverage(
            dem=demo.dem, towers=demo.towers, subcompartments=scene.layers["subcompartments"],
            fire_zones=scene.layers["fire_zones"], villages=scene.layers["villages"],
            out=scene.out_dir / "results" / "fire_coverage.gpkg", overwrite=overwrite, lang=lang,
            findings=log,
        )  # fmt: skip
    except ViewshedUnavailableError as exc:  # GDAL's programs are not a pip dependency
        return StepResult("fire coverage", "skipped", exc.text(lang))
    except Exception as exc:
        return _failed("fire coverage", exc, lang)
    res = run.result
    off = sorted(str(f.feature) for f in log if f.code == "tower_off_dem")
    blind = float(res.blind["area_ha"].sum()) if len(res.blind) else 0.0
    seen = res.run["coverage"]["forest_seen_share"]
    blind_text = _err(blind, demo.truth["blind_forest_ha"], lang)
    detail = (
        f"与真值相比：盲区林地 {blind_text}，DEM 外的瞭望点 {'、'.join(off) or '无'}"
        f"（真值 {'、'.join(demo.truth['towers_off_dem']) or '无'}），可见林地 {seen:.1%}"
        if lang == "zh"
        else f"vs truth: blind forest {blind_text}, towers off the DEM {off} "
        f"(truth {demo.truth['towers_off_dem']}), forest seen {seen:.1%}"
    )
    status = "errors" if log.has_errors else "clean"
    return StepResult("fire coverage", status, detail, tuple(run.outputs.values()))


def fire_checks(scene: DemoScene, *, overwrite: bool = False, lang: str = "zh") -> list[StepResult]:
    """Build the fire demo inputs (:mod:`gis.demo.fire`), run both fire checks, score them."""
    try:
        demo = build_fire_demo(scene, overwrite=overwrite)
    except Exception as exc:
        return [_failed("fire demo inputs", exc, lang)]
    return [
        _fire_burned(scene, demo, overwrite=overwrite, lang=lang),
        _fire_coverage(scene, demo, overwrite=overwrite, lang=lang),
    ]


def run_checks(scene: DemoScene, *, overwrite: bool = False, lang: str = "zh") -> list[StepResult]:
    """Run every check that exists on ``scene``; return one :class:`StepResult` per step.

    Validation of every layer, then the patch check, the discolored-tree detection, the
    greening KPIs and park service coverage (results in ``<out_dir>/results/``), each
    compared with the scene's truth; the fire checks; then the offline field map (``maps/``),
    the phone exports and lab CSV made on it (``field_exports/``, :mod:`gis.demo.tour`) and
    the four reports (``reports/``).

    Parameters
    ----------
    scene : DemoScene
        From :func:`gis.demo.build_demo`.
    overwrite : bool
        Replace earlier results.
    lang : {"zh", "en"}
        Language of the checks' messages.
    """
    steps = validate_layers(scene, lang=lang)
    steps.append(check_patches(scene, overwrite=overwrite, lang=lang))
    steps.append(check_patches_delivered(scene, overwrite=overwrite, lang=lang))
    steps.append(detect_discolored(scene, overwrite=overwrite, lang=lang))
    steps.append(greenery_kpi(scene, overwrite=overwrite, lang=lang))
    steps.append(greenery_coverage(scene, overwrite=overwrite, lang=lang))
    steps.append(fire_hotspots(scene, overwrite=overwrite, lang=lang))
    steps.extend(fire_checks(scene, overwrite=overwrite, lang=lang))
    steps.append(field_map(scene, overwrite=overwrite, lang=lang))
    steps.append(field_returns(scene, overwrite=overwrite, lang=lang))
    steps.extend(reports(scene, overwrite=overwrite, lang=lang))
    return steps


_TEXT = {
    "zh": {
        "title": "演示场景（种子 {seed}）已生成：{out}",
        "layers": "图层",
        "rasters": "影像",
        "truth": "真值表",
        "dirty": "含错误的示例数据（可用 `linyuan validate` 检查）",
        "downloads": "外部下载数据",
        "tour": "命令导览用数据（README.md）",
        "checks": "检查",
    },
    "en": {
        "title": "Demo scene (seed {seed}) built in {out}",
        "layers": "Layers",
        "rasters": "Rasters",
        "truth": "Truth tables",
        "dirty": "Deliveries with planted defects (try linyuan validate on them)",
        "downloads": "Downloads",
        "tour": "Inputs of the README tour",
        "checks": "Checks",
    },
}


_ENTRIES_ZH = {
    ("rasters", "s2_before"): "前期 Sentinel-2 影像",
    ("rasters", "s2_after"): "后期 Sentinel-2 影像",
    ("rasters", "s2_after_scl"): "后期云掩膜（SCL）",
    ("rasters", "uav_current"): "本期无人机影像",
    ("rasters", "uav_previous"): "上期无人机影像",
    ("truth", "patches"): "图斑真值",
    ("truth", "crowns"): "树冠真值",
    ("truth", "greenery"): "绿化真值",
    ("truth", "dirty"): "问题数据真值",
    ("truth", "hotspots"): "热点真值",
    ("truth", "gpkg"): "真值（GeoPackage）",
    ("dirty", "change_patches"): "有问题的督查图斑",
    ("dirty", "permits_no_dates"): "缺有效期的审批",
    ("downloads", "hotspots"): "FIRMS 卫星热点",
    ("tour", "roads"): "道路",
    ("tour", "ortho_rgba"): "带透明通道的正射影像",
    ("tour", "earlier_points"): "既往变色立木点位",
    ("tour", "districts_gcj02"): "行政区（GCJ-02）",
}
"""Chinese names of the scene's files (layers are named by their catalog kind)."""


def _entry(group: str, name: str, lang: str) -> str:
    """Return the name a scene file is listed under: its key, or its Chinese name."""
    if lang == "en":
        return name
    if group == "layers" and name in catalog().kinds:
        return catalog().kinds[name].label_zh
    return _ENTRIES_ZH.get((group, name), name)


def summary_lines(scene: DemoScene, steps: list[StepResult], *, lang: str = "zh") -> list[str]:
    """Return the lines ``linyuan demo`` prints: where each output is, what each check said."""
    text = _TEXT["en" if lang == "en" else "zh"]
    lines = [text["title"].format(seed=scene.seed, out=scene.out_dir)]
    for key, group in (
        ("layers", scene.layers),
        ("rasters", scene.rasters),
        ("truth", scene.truth_files),
        ("dirty", scene.dirty),
        ("downloads", scene.downloads),
        ("tour", scene.tour),
    ):
        lines.append(f"{text[key]}{'：' if lang == 'zh' else ':'}")
        lines.extend(f"  {_pad(_entry(key, n, lang), 20)} {path}" for n, path in group.items())
    lines.append(f"{text['checks']}{'：' if lang == 'zh' else ':'}")
    for step in steps:
        title, status = step_title(step.name, lang), _STATUS[step.status][lang == "en"]
        lines.append(f"  {_pad(title, 32)} {_pad(status, 9)} {step.detail}")
        lines.extend(f"    → {p}" for p in step.outputs)
    return lines


_STATUS = {
    "clean": ("正常", "clean"),
    "findings": ("有警告", "findings"),
    "errors": ("有错误", "errors"),
    "skipped": ("跳过", "skipped"),
    "failed": ("失败", "failed"),
}
"""Step status → (Chinese, English) word of the summary."""

_STEPS_ZH = {
    "validate": "数据质检",
    "check patches": "图斑核查",
    "check patches (S2 .SAFE)": "图斑核查（S2 .SAFE 产品）",
    "field returns": "外业核查回传（示例）",
    "detect discolored": "变色立木监测",
    "greenery kpi": "绿化指标",
    "greenery coverage": "公园服务半径覆盖",
    "fire hotspots": "卫星热点核查",
    "fire burned": "火烧迹地与损失",
    "fire coverage": "瞭望覆盖",
    "fire demo inputs": "防火演示数据",
    "map": "外业核查图",
    "report": "报告",
    "report patches": "报告：图斑核查",
    "report discolored": "报告：变色立木",
    "report greening": "报告：绿化工作",
    "report fire": "报告：森林防火",
}
"""Chinese title of each demo step (``validate KIND`` names the layer kind)."""


def step_title(name: str, lang: str = "zh") -> str:
    """Return a step's title as the summary shows it: the step name, or its Chinese title.

    >>> step_title("validate districts"), step_title("check patches", "en")
    ('数据质检：行政区', 'check patches')
    """
    if lang == "en":
        return name
    if name.startswith("validate "):
        kind = name.removeprefix("validate ")
        known = kind in catalog().kinds
        return f"数据质检：{catalog().kinds[kind].label_zh if known else kind}"
    return _STEPS_ZH.get(name, name)


def _pad(text: str, width: int) -> str:
    """Pad ``text`` to ``width`` terminal columns (a CJK character takes two)."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - used, 0)
