"""``linyuan map``: offline HTML field maps from results GeoPackages and other layers.

Exit codes: 0 written; 1 written, with error-level findings; 2 usage; 3 unreadable input or an
output that exists without ``--overwrite`` (checked for every output before any is written).
Tables without geometry (``findings``, ``run``) are skipped with an info finding.
"""

from __future__ import annotations

import enum
from pathlib import Path

import click
import geopandas as gpd

from gis.cli import options
from gis.errors import DataSourceError
from gis.findings import Findings
from gis.io import check_overwrite, list_layers, read_layer
from gis.io.text import write_text
from gis.maps import build_map
from gis.maps.partition import file_label, split_layers
from gis.maps.style import TileSource, tianditu
from gis.verify import results_run_id

EXIT_FINDINGS = 1


class BasemapChoice(enum.StrEnum):
    """``--basemap`` values."""

    NONE = "none"
    TIANDITU = "tianditu"


def read_sources(
    sources: tuple[Path, ...], findings: Findings
) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, str]]:
    """Read every spatial layer of the sources; tables without geometry are skipped.

    Returns the layers and, for layers of a results GeoPackage (one with a ``run`` table),
    the results run id that field records made in the map will carry.
    """
    layers: dict[str, gpd.GeoDataFrame] = {}
    run_ids: dict[str, str] = {}
    for source in sources:
        names = list_layers(source)
        run_id = results_run_id(source) if "run" in names else None
        for name in names:
            try:
                frame = read_layer(
                    source, layer=name if len(names) > 1 else None, findings=findings
                )
            except DataSourceError as exc:
                findings.add(
                    "map_layer_skipped",
                    f"layer {name!r} not mapped: {exc}",
                    severity="info",
                    source=str(source),
                )
                continue
            key = name if name not in layers else f"{source.stem}:{name}"
            layers[key] = frame
            if run_id is not None:
                run_ids[key] = run_id
    if not layers:
        raise DataSourceError(
            "none of " + ", ".join(map(str, sources)) + " holds a layer with geometry; pass "
            "a results GeoPackage (patches_checked, discolored_points) or another vector layer"
        )
    return layers, run_ids


def choose_basemap(
    basemap: str, key: str | None, tiles: str | None, attribution: str | None
) -> TileSource | None:
    """Turn the basemap options into a tile source (``None``: no basemap)."""
    if tiles:
        if basemap == BasemapChoice.TIANDITU:
            raise click.UsageError("give either --basemap tianditu or --tiles URL, not both")
        if not attribution:
            raise click.UsageError("--tiles needs --attribution TEXT (the provider's credit)")
        return TileSource(url=tiles, attribution=attribution)
    if basemap == BasemapChoice.TIANDITU:
        if not key:
            raise click.UsageError("--basemap tianditu needs --tianditu-key KEY")
        return tianditu(key)
    return None


def _outputs(
    out: Path, layers: dict[str, gpd.GeoDataFrame], by: str | None, findings: Findings
) -> dict[Path, tuple[str, dict[str, gpd.GeoDataFrame]]]:
    if by is None:
        return {out: (out.stem, layers)}
    parts = split_layers(layers, by.replace("-", "_"), findings=findings)
    return {
        out.with_name(f"{out.stem}_{file_label(value)}{out.suffix}"): (f"{out.stem} {value}", sets)
        for value, sets in parts.items()
    }


@click.command("map", short_help="Offline HTML field maps (one file, no network needed).")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@options.out_option(required=True, help="Output HTML file (with --by: the name stem).")
@click.option(
    "--by",
    default=None,
    metavar="FIELD",
    help="One map per value of FIELD: district, forest-chief, or any field.",
)
@click.option(
    "--basemap",
    type=click.Choice([m.value for m in BasemapChoice]),
    default="none",
    show_default=True,
    help="Tiles under the layers.",
)
@click.option("--tianditu-key", default=None, help="天地图 key for --basemap tianditu.")
@click.option("--tiles", default=None, metavar="URL", help="Custom XYZ tile URL template.")
@click.option("--attribution", default=None, help="Credit text required with --tiles.")
@click.option("--title", default=None, help="Map title (default: the output file name).")
@options.lang_opt
@options.overwrite_opt
@click.pass_context
def map_command(
    ctx: click.Context,
    sources: tuple[Path, ...],
    out: Path,
    by: str | None,
    basemap: str,
    tianditu_key: str | None,
    tiles: str | None,
    attribution: str | None,
    title: str | None,
    lang: str,
    overwrite: bool,
) -> None:
    """Write self-contained field maps of SOURCES (results GeoPackages, any vector layers)."""
    tile_source = choose_basemap(basemap, tianditu_key, tiles, attribution)
    findings = Findings()
    layers, run_ids = read_sources(sources, findings)
    outputs = _outputs(out, layers, by, findings)
    for path in outputs:
        check_overwrite(path, overwrite=overwrite)
    for path, (default_title, frames) in outputs.items():
        html = build_map(
            frames,
            title=title or default_title,
            lang=lang,
            basemap=tile_source,
            results_run_id=run_ids,
            findings=findings,
        )
        write_text(path, html, overwrite=overwrite)
        click.echo(f"{path}  ({len(html) / 1e6:.1f} MB)")
    if findings.has_errors:
        ctx.exit(EXIT_FINDINGS)
