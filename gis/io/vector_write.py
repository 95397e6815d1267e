"""Vector outputs, each written to a temporary file and renamed into place.

GeoPackage (several layers in one atomic file), GeoJSON, FlatGeobuf, Shapefile and CSV.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
from pyogrio.errors import DataSourceError as PyogrioDataSourceError

from gis.errors import DataSourceError
from gis.io._atomic import atomic_fileset, atomic_path

DRIVERS = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".shp": "ESRI Shapefile",
    ".csv": "CSV",
}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


def driver_for(path: str | os.PathLike[str], driver: str | None = None) -> str:
    """Return the OGR driver for ``path`` (from its suffix unless ``driver`` is given)."""
    if driver:
        return driver
    suffix = Path(path).suffix.lower()
    try:
        return DRIVERS[suffix]
    except KeyError:
        valid = ", ".join(sorted(DRIVERS))
        raise DataSourceError(
            f"cannot tell the format of {path} from its suffix; use one of {valid}"
        ) from None


def _write_frame(frame: pd.DataFrame, path: Path, *, layer: str | None, driver: str) -> None:
    kwargs: dict[str, Any] = {"driver": driver}
    if layer is not None and driver == "GPKG":
        kwargs["layer"] = layer
    try:
        pyogrio.write_dataframe(frame, path, append=path.exists(), **kwargs)
    except (PyogrioDataSourceError, ValueError, RuntimeError) as exc:
        raise DataSourceError(f"cannot write {layer or 'layer'} to {path}: {exc}") from exc


def write_layers(
    path: str | os.PathLike[str],
    layers: Mapping[str, pd.DataFrame],
    *,
    overwrite: bool = False,
) -> Path:
    """Write several layers (and attribute-only tables) into one GeoPackage, atomically.

    Parameters
    ----------
    path : path-like
        The ``.gpkg`` to create.
    layers : mapping of str to DataFrame
        Layer name to frame; plain DataFrames become attribute tables.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    target = Path(path)
    with atomic_path(target, overwrite=overwrite) as tmp:
        for name, frame in layers.items():
            _write_frame(frame, tmp, layer=name, driver="GPKG")
    return target


def write_layer(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    driver: str | None = None,
    overwrite: bool = False,
    encoding: str | None = None,
) -> Path:
    """Write one frame to a vector file, atomically.

    Parameters
    ----------
    frame : GeoDataFrame or DataFrame
        What to write.
    path : path-like
        Output file; the format follows the suffix unless ``driver`` is given.
    layer : str, optional
        Layer name (GeoPackage).
    driver : str, optional
        OGR driver name.
    overwrite : bool
        Replace an existing output.
    encoding : str, optional
        Attribute encoding for Shapefile output (see :mod:`gis.io`).
    """
    target = Path(path)
    drv = driver_for(target, driver)
    if drv == "ESRI Shapefile":
        with atomic_fileset(target, SHAPEFILE_PARTS, overwrite=overwrite) as tmp:
            kwargs = {"encoding": encoding} if encoding else {}
            try:
                pyogrio.write_dataframe(frame, tmp, driver=drv, **kwargs)
            except (PyogrioDataSourceError, ValueError, RuntimeError) as exc:
                raise DataSourceError(f"cannot write {target}: {exc}") from exc
        return target
    with atomic_path(target, overwrite=overwrite) as tmp:
        _write_frame(frame, tmp, layer=layer, driver=drv)
    return target
