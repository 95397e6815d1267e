"""``linyuan demo``: build the demo scene around 净月潭 and run every check that exists on it.

Exit codes: 0 built and every check clean or with warnings only; 1 a check reported
error-level findings or failed; 2 usage; 3 an output exists without ``--overwrite``.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from gis.cli import options

EXIT_FINDINGS = 1


@click.command(short_help="Build the demo scene (净月潭) and run every check on it.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo_out"),
    show_default=True,
    help="Folder for the scene and the check results.",
)
@click.option(
    "--seed", type=int, default=None, help="Scene seed (default: the demo's own, one fixed scene)."
)
@options.overwrite_opt
@options.lang_opt
def demo(out_dir: Path, seed: int | None, overwrite: bool, lang: str) -> None:
    """Build the deterministic demo scene into OUT and run the checks that exist on it.

    Prints where each layer, raster, truth table and result is, and how long it took.
    """
    # deferred: heavy (the scene builder and every check), loaded when the command runs
    from gis.demo import DEFAULT_SEED, build_demo
    from gis.demo.run import run_checks, summary_lines

    start = time.perf_counter()
    scene = build_demo(out_dir, seed=DEFAULT_SEED if seed is None else seed, overwrite=overwrite)
    built = time.perf_counter() - start
    steps = run_checks(scene, overwrite=overwrite, lang=lang)
    total = time.perf_counter() - start
    for line in summary_lines(scene, steps, lang=lang):
        click.echo(line)
    if lang == "en":
        click.echo(f"Built in {built:.1f} s; with the checks {total:.1f} s.")
    else:
        click.echo(f"生成用时 {built:.1f} 秒，连同检查共 {total:.1f} 秒。")
    if not all(step.ok for step in steps):
        raise SystemExit(EXIT_FINDINGS)
