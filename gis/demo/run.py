"""Run every check that exists on a built demo scene and describe where the outputs are.

Checks are imported lazily: a check module that is not there yet is reported as skipped, so
``linyuan demo`` works at every stage of the project. For now this runs the data-quality
validation (:func:`gis.checks.quality.validate_file`) of each clean layer.

Examples
--------
>>> StepResult("validate", "skipped", "not available").ok
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gis.demo import DemoScene
from gis.errors import GisError
from gis.findings import Severity


@dataclass(frozen=True)
class StepResult:
    """The outcome of one demo step.

    Attributes
    ----------
    name : str
        What ran, e.g. ``"validate subcompartments"``.
    status : str
        ``clean``, ``findings`` (warnings only), ``errors`` (error findings), ``skipped``
        (the check does not exist yet) or ``failed`` (it raised).
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
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return None


def validate_layers(scene: DemoScene, *, lang: str = "zh") -> list[StepResult]:
    """Validate every clean layer of the scene with :func:`gis.checks.quality.validate_file`."""
    validate_file = _optional("gis.checks.quality", "validate_file")
    if validate_file is None:
        return [
            StepResult("validate", "skipped", "gis.checks.quality.validate_file is not there yet")
        ]
    steps = []
    for kind, path in scene.layers.items():
        try:
            findings = validate_file(path, kind=kind, lang=lang)
        except GisError as exc:
            steps.append(StepResult(f"validate {kind}", "failed", str(exc)))
            continue
        counts = {s: sum(f.severity is s for f in findings) for s in Severity}  # type: ignore[attr-defined]
        status = (
            "errors"
            if counts[Severity.ERROR]
            else "findings"
            if counts[Severity.WARNING]
            else "clean"
        )
        detail = ", ".join(f"{s.value} {n}" for s, n in counts.items())
        steps.append(StepResult(f"validate {kind}", status, detail))
    return steps


def run_checks(scene: DemoScene, *, lang: str = "zh") -> list[StepResult]:
    """Run every check that exists on ``scene``; return one :class:`StepResult` per step.

    Parameters
    ----------
    scene : DemoScene
        From :func:`gis.demo.build_demo`.
    lang : {"zh", "en"}
        Language of the checks' messages.
    """
    return validate_layers(scene, lang=lang)


_TEXT = {
    "zh": {
        "title": "演示场景（种子 {seed}）已生成：{out}",
        "layers": "图层",
        "rasters": "影像",
        "truth": "真值表",
        "dirty": "含错误的示例数据（可用 linyuan validate 检查）",
        "checks": "检查",
    },
    "en": {
        "title": "Demo scene (seed {seed}) built in {out}",
        "layers": "Layers",
        "rasters": "Rasters",
        "truth": "Truth tables",
        "dirty": "Deliveries with planted defects (try linyuan validate on them)",
        "checks": "Checks",
    },
}


def summary_lines(scene: DemoScene, steps: list[StepResult], *, lang: str = "zh") -> list[str]:
    """Return the lines ``linyuan demo`` prints: where each output is, what each check said."""
    text = _TEXT["en" if lang == "en" else "zh"]
    lines = [text["title"].format(seed=scene.seed, out=scene.out_dir)]
    for key, group in (
        ("layers", scene.layers),
        ("rasters", scene.rasters),
        ("truth", scene.truth_files),
        ("dirty", scene.dirty),
    ):
        lines.append(f"{text[key]}:")
        lines.extend(f"  {name:<20} {path}" for name, path in group.items())
    lines.append(f"{text['checks']}:")
    for step in steps:
        lines.append(f"  {step.name:<32} {step.status:<9} {step.detail}")
        lines.extend(f"    → {p}" for p in step.outputs)
    return lines
