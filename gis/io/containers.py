"""Datasets that hold several layers, and which one to read.

GeoPackage, FileGDB and KML hold layers; a zip holds datasets (each named by its relative path
without suffix); a folder given where a file is read is refused, naming the datasets in it.
:func:`list_layers` lists what a source holds; :func:`choose_layer` and :func:`zip_member`
pick the one a read was asked for, or the only one, and otherwise raise listing them.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pyogrio

from gis.errors import DataSourceError
from gis.io import archives, geopackage
from gis.io.sources import MULTI_LAYER, Format, ReadOptions, existing_path, format_of, gdal_errors

__all__ = ["choose_layer", "layer_names", "list_layers", "refuse_folder", "zip_member"]


def list_layers(source: str | os.PathLike[str]) -> list[str]:
    """Return the layer names in a source (GeoPackage, FileGDB, KML, zip; else its one layer).

    Inside a zip, each dataset is named by its relative path without suffix; a zip holding one
    GeoPackage or FileGDB lists that dataset's layers. QGIS's tables in a GeoPackage
    (``layer_styles``, ``qgis_projects``) are left out.

    Parameters
    ----------
    source : path-like
        The file, ``.gdb`` folder or zip.
    """
    path = existing_path(source)
    fmt = format_of(path)
    if fmt is Format.ZIP:
        found = archives.zip_datasets(path)
        inside = list(found)
        if len(inside) == 1 and format_of(inside[0]) in MULTI_LAYER:
            with archives.extracted(path, members=found[inside[0]]) as folder:
                inner = folder.joinpath(*PurePosixPath(inside[0]).parts)
                return layer_names(inner, f"{path}!{inside[0]}")
        return [PurePosixPath(r).with_suffix("").as_posix() for r in inside]
    if fmt in MULTI_LAYER:
        return layer_names(path, str(path))
    return [path.stem]


def layer_names(path: Path, label: str, *, spatial: bool = False) -> list[str]:
    """Layers of a multi-layer dataset; errors name it by ``label`` (a zip member by its zip).

    QGIS's own tables (``layer_styles`` …, :data:`gis.io.geopackage.QGIS_TABLES`) are not data;
    ``spatial`` leaves out the tables without geometry too (a code list beside the layer).
    """
    with gdal_errors(label):
        layers = pyogrio.list_layers(path)
    return [
        str(name)
        for name, geometry_type in layers
        if str(name) not in geopackage.QGIS_TABLES and (geometry_type or not spatial)
    ]


def choose_layer(path: Path, opts: ReadOptions) -> str | None:
    """Return the layer asked for, else the dataset's one layer (or one with geometry)."""
    names = layer_names(path, opts.label) if format_of(path) in MULTI_LAYER else [path.stem]
    if opts.layer is None and len(names) > 1:
        spatial = layer_names(path, opts.label, spatial=True)
        names = spatial if len(spatial) == 1 else names
    if opts.layer is not None:
        if opts.layer not in names:
            raise DataSourceError(
                f"{opts.label} has no layer {opts.layer!r}; its layers are: {', '.join(names)}",
                zh=f"{opts.label} 中没有图层 {opts.layer!r}；其图层为：{', '.join(names)}",
            )
        return opts.layer
    if len(names) > 1:
        typed = opts.label.split("!")[0]  # a dataset in a zip is named in the path as the zip
        raise DataSourceError(
            f"{opts.label} holds several layers: {', '.join(names)}; pass --layer "
            f"with the one to read, or name it in the path: '{typed}|layername={names[0]}'",
            zh=f"{opts.label} 含有多个图层：{', '.join(names)}；请用 --layer 指定要读的图层，"
            f"或在路径中写明：'{typed}|layername={names[0]}'",
        )
    return names[0] if names else None


def zip_member(path: Path, inside: list[str], layer: str | None) -> str:
    """Return the dataset of a zip to read: its one dataset, or the one ``layer`` names.

    ``inside`` holds the datasets' relative paths; ``layer`` matches one by that path without
    suffix or by its file stem.

    Raises
    ------
    DataSourceError
        Several datasets and no ``layer``, or no single dataset named ``layer``; the message
        lists them.
    """
    if layer is None and len(inside) == 1:
        return inside[0]
    names = [PurePosixPath(r).with_suffix("").as_posix() for r in inside]
    matches = [r for r, n in zip(inside, names, strict=True) if layer in (n, PurePosixPath(r).stem)]
    if layer is None or len(matches) != 1:
        what, what_zh = (
            ("several layers", "含有多个图层")
            if layer is None
            else (f"no single layer {layer!r}", f"中没有唯一的图层 {layer!r}")
        )
        raise DataSourceError(
            f"{path} holds {what}; its layers are: {', '.join(names)}; pass --layer with one "
            f"of them, or name it in the path: '{path}|layername={names[0]}'",
            zh=f"{path} {what_zh}；其图层为：{', '.join(names)}；请用 --layer 指定其一，"
            f"或在路径中写明：'{path}|layername={names[0]}'",
        )
    return matches[0]


_FOLDER_LISTED = 10
"""How many datasets a folder given in place of a file lists in the error."""


def refuse_folder(path: Path, label: str) -> None:
    """Raise for a plain folder given where a file is read, naming the datasets in it."""
    inside = [str(p) for p in archives.find_datasets(path)[:_FOLDER_LISTED]]
    listed = ", ".join(inside) or "none"
    raise DataSourceError(
        f"{label} is a folder, not a file; give the file to read — datasets in it: {listed}",
        zh=f"{label} 是文件夹，不是文件；请给出要读的文件——其中的数据：{'、'.join(inside) or '无'}",
    )
