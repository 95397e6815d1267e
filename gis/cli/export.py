"""``linyuan export``: results to other formats for other tools (KMZ for 奥维互动地图).

Exit codes: 0 written; 2 usage; 3 unreadable input, a layer that is not a results layer, or
an output that exists without ``--overwrite``.
"""

from __future__ import annotations

from pathlib import Path

import click

from gis.cli import options
from gis.errors import DataSourceError
from gis.findings import Findings

RESULT_LAYERS: tuple[str, ...] = ("patches_checked", "discolored_points")
"""Layers exported by default, the first one the file holds."""


def choose_layer(path: Path, layer: str | None) -> str:
    """Return ``layer``, or the first results layer of ``path``; the error lists its layers."""
    # deferred: heavy, loaded when the command runs
    from gis.io import list_layers

    names = list_layers(path)
    if layer is not None and layer in names:
        return layer
    found = [n for n in RESULT_LAYERS if n in names]
    if layer is None and found:
        return found[0]
    wanted_zh = f"图层 {layer!r}" if layer else f"结果图层（{'、'.join(RESULT_LAYERS)}）"
    raise DataSourceError(
        f"{path} has no layer {layer or ' or '.join(RESULT_LAYERS)!r}; its layers are "
        f"{', '.join(names)} — pass one with --layer",
        zh=f"{path} 中没有{wanted_zh}；其图层为 {'、'.join(map(repr, names))}——"
        "请用 --layer 指定其一",
    )


@click.group(short_help="Export results for other tools (KMZ for 奥维互动地图 / Google Earth).")
def export() -> None:
    """Export results for other tools."""


@export.command("kml", short_help="Styled KMZ of patches or discolored points.")
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@options.layer_opt
@options.out_option(required=True, help="Output .kmz (or .kml).")
@options.engine_opt
@options.lang_opt
@options.overwrite_opt
def export_kml_command(
    results: Path, layer: str | None, out: Path, engine: str, lang: str, overwrite: bool
) -> None:
    """Write a results layer of RESULTS (a GeoPackage) as a styled KMZ.

    Names are the patch / point IDs, descriptions the reasons / crown facts, colours the
    legality / status (as on the field map), one folder per district.
    """
    # deferred: heavy, loaded when the command runs
    from gis.io.outputs import staged_outputs
    from gis.maps.kml import export_results_kml

    findings = Findings()
    with staged_outputs({"out": out}, overwrite=overwrite, inputs=(results,)) as stage:
        name = choose_layer(results, layer)
        _, features = export_results_kml(
            results, stage["out"], layer=name, lang=lang, findings=findings, engine=engine
        )
    if lang == "en":
        click.echo(f"{out}  ({features} features, layer {name})")
    else:
        click.echo(f"{out}（{features} 个要素，图层 {name}）")
