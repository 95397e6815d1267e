"""From files to written maps: read every spatial layer of the sources, split, build, write.

This is the edge that ``linyuan map`` and ``linyuan demo`` call; :func:`gis.maps.build_map`
stays pure (frames in, a folium map out).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd

from gis.errors import DataSourceError
from gis.findings import Findings
from gis.io import list_layers, read_layer
from gis.io.outputs import staged_outputs
from gis.maps.build import build_map
from gis.maps.partition import file_labels, split_layers
from gis.maps.quicklook import Quicklook
from gis.maps.style import TileSource
from gis.progress import counted, step
from gis.verify import results_run_id


def read_sources(
    sources: Sequence[Path], findings: Findings, engine: str = "pyogrio"
) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, str]]:
    """Read every spatial layer of the sources; tables without geometry are skipped.

    Returns the layers and, for layers of a results GeoPackage (one with a ``run`` table),
    the results run id that field records made in the map will carry.
    """
    layers: dict[str, gpd.GeoDataFrame] = {}
    run_ids: dict[str, str] = {}
    for source in map(Path, sources):
        names = list_layers(source)
        run_id = results_run_id(source) if "run" in names else None
        for name in names:
            try:
                frame = read_layer(
                    source,
                    layer=name if len(names) > 1 else None,
                    findings=findings,
                    engine=engine,
                )
            except DataSourceError as exc:
                findings.add(
                    "map_layer_skipped",
                    f"layer {name!r} not mapped: {exc}",
                    severity="info",
                    source=str(source),
                    zh=f"图层 {name!r} 未上图：{exc}",
                )
                continue
            key = name if name not in layers else f"{source.stem}:{name}"
            layers[key] = frame
            if run_id is not None:
                run_ids[key] = run_id
    if not layers:
        raise DataSourceError(
            "none of " + ", ".join(map(str, sources)) + " holds a layer with geometry; pass "
            "a results GeoPackage (patches_checked, discolored_points) or another vector layer",
            zh="、".join(map(str, sources)) + " 中都没有带几何的图层；请给出结果 GeoPackage"
            "（patches_checked、discolored_points）或其他矢量图层",
        )
    return layers, run_ids


def plan_outputs(
    out: Path, layers: dict[str, gpd.GeoDataFrame], by: str | None, findings: Findings
) -> dict[Path, tuple[str, dict[str, gpd.GeoDataFrame]]]:
    """Return output path → (default title, layers): one map, or one per value of ``by``."""
    if by is None:
        return {out: (out.stem, layers)}
    parts = split_layers(layers, by.replace("-", "_"), findings=findings)
    labels = file_labels(parts)  # distinct values never share a file name
    return {
        out.with_name(f"{out.stem}_{labels[value]}{out.suffix}"): (f"{out.stem} {value}", sets)
        for value, sets in parts.items()
    }


def write_maps(
    sources: Sequence[Path],
    *,
    out: Path,
    by: str | None = None,
    basemap: TileSource | None = None,
    title: str | None = None,
    lang: str = "zh",
    overwrite: bool = False,
    findings: Findings | None = None,
    quicklook: Quicklook | None = None,
    offline: bool = False,
    inputs: Sequence[str | os.PathLike[str]] = (),
    engine: str = "pyogrio",
) -> dict[Path, int]:
    """Write the field map(s) of ``sources``; return each written path with its size in bytes.

    Every output is checked for ``overwrite``, and refused when it is one of ``sources`` or
    of the other ``inputs`` (the quicklook raster), before any is built; all maps are
    written, or none (:func:`gis.io.outputs.staged_outputs`: each staged beside its target
    and renamed into place when all are ready). ``quicklook``
    (:func:`gis.maps.quicklook.quicklook`) is embedded whole in every map written. With
    ``offline``, maps that would need the network (a basemap) are refused
    (:class:`gis.maps.page.OfflineAssetError`) before any is written: every map of one call
    has the same elements, so the first refuses.
    """
    log = findings if findings is not None else Findings()
    every_input = (*sources, *inputs)
    layers, run_ids = read_sources(sources, log, engine)
    outputs = plan_outputs(Path(out), layers, by, log)
    targets = {str(path): path for path in outputs}
    written = {}
    with (
        staged_outputs(targets, overwrite=overwrite, inputs=every_input) as stage,
        step("map files", zh="地图文件") as progress,
    ):
        for path, (default_title, frames) in counted(outputs.items(), progress, len(outputs)):
            fmap = build_map(
                frames,
                title=title or default_title,
                lang=lang,
                basemap=basemap,
                results_run_id=run_ids,
                findings=log,
                quicklook=quicklook,
            )
            written[path] = fmap.save(stage[str(path)], offline=offline)
    return written
