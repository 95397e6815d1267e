"""``linyuan map``: offline HTML field maps from results GeoPackages and other layers.

Exit codes: 0 written; 1 written, with error-level findings; 2 usage (also ``--offline`` with a
basemap); 3 unreadable input or an output that exists without ``--overwrite`` (checked for
every output before any is written).
Tables without geometry (``findings``, ``run``) are skipped with an info finding.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gis.cli import options
from gis.cli.usage import ZhUsageError
from gis.findings import Findings
from gis.sensors import parse_roles

if TYPE_CHECKING:
    from gis.maps.quicklook import Quicklook
    from gis.maps.style import TileSource

EXIT_FINDINGS = 1


class BasemapChoice(enum.StrEnum):
    """``--basemap`` values."""

    NONE = "none"
    TIANDITU = "tianditu"


def choose_basemap(
    basemap: str, key: str | None, tiles: str | None, attribution: str | None
) -> TileSource | None:
    """Turn the basemap options into a tile source (``None``: no basemap)."""
    # deferred: gis.maps brings folium and geopandas; --help stays light
    from gis.maps.style import TileSource, tianditu

    if tiles:
        if basemap == BasemapChoice.TIANDITU:
            raise ZhUsageError(
                "give either --basemap tianditu or --tiles URL, not both",
                zh="--basemap tianditu 与 --tiles URL 只能给一个",
            )
        if not attribution:
            raise ZhUsageError(
                "--tiles needs --attribution TEXT (the provider's credit)",
                zh="--tiles 需要 --attribution 文字（瓦片提供方的署名）",
            )
        return TileSource(url=tiles, attribution=attribution)
    if basemap == BasemapChoice.TIANDITU:
        if not key:
            raise ZhUsageError(
                "--basemap tianditu needs --tianditu-key KEY",
                zh="--basemap tianditu 需要 --tianditu-key 密钥",
            )
        return tianditu(key)
    return None


def make_quicklook(
    raster: Path | None, roles: str, sensor: str, bands: str | None, findings: Findings
) -> Quicklook | None:
    """Read the ``--quicklook`` raster into an embedded image (``None`` without one)."""
    if raster is None:
        return None
    # deferred: heavy, loaded when a quicklook is asked for
    from gis.maps.quicklook import quicklook
    from gis.raster import raster_source

    src = raster_source(raster, sensor=sensor, bands=bands, findings=findings)
    return quicklook(src, roles=parse_roles(roles))


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
@click.option(
    "--quicklook",
    "quicklook_raster",
    type=options.RasterPathType(),
    default=None,
    metavar="RASTER",
    help="Embed an image of RASTER under the layers (works offline; <= 4096 px, <= 5 MB).",
)
@click.option(
    "--quicklook-bands",
    default="R,G,B",
    show_default=True,
    help="Band roles shown as red,green,blue: R,G,B true colour, NIR,R,G false colour.",
)
@options.sensor_option("Sensor profile of the quicklook raster (band order).")
@click.option("--bands", help="Band roles of the quicklook raster in file order, e.g. B,G,R,NIR.")
@click.option(
    "--offline",
    is_flag=True,
    help="Refuse to write a map that would need the network (a basemap): the map must work "
    "with no network at all.",
)
@options.engine_opt
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
    quicklook_raster: Path | None,
    quicklook_bands: str,
    sensor: str,
    bands: str | None,
    offline: bool,
    engine: str,
    lang: str,
    overwrite: bool,
) -> None:
    """Write self-contained field maps of SOURCES (results GeoPackages, any vector layers)."""
    # deferred: heavy, loaded when the command runs
    from gis.io.outputs import plan_outputs
    from gis.maps.sources import write_maps

    tile_source = choose_basemap(basemap, tianditu_key, tiles, attribution)
    if offline and tile_source is not None:
        raise ZhUsageError(
            "--offline maps need no network: drop --basemap / --tiles",
            zh="--offline 地图不联网：请去掉 --basemap / --tiles",
        )
    inputs = () if quicklook_raster is None else (quicklook_raster,)
    if by is None:  # refused before anything is read; with --by each group's map is checked
        plan_outputs({"out": out}, overwrite=overwrite, inputs=(*sources, *inputs))
    findings = Findings()
    image = make_quicklook(quicklook_raster, quicklook_bands, sensor, bands, findings)
    written = write_maps(
        sources,
        out=out,
        by=by,
        basemap=tile_source,
        title=title,
        lang=lang,
        overwrite=overwrite,
        findings=findings,
        quicklook=image,
        offline=offline,
        inputs=inputs,
        engine=engine,
    )
    for path, size in written.items():
        click.echo(f"{path}  ({size / 1e6:.1f} MB)")
    if findings.has_errors:
        ctx.exit(EXIT_FINDINGS)
