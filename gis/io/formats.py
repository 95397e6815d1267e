"""The formats and value rules every vector and table writer shares.

How a path names one layer (:func:`split_layer`, ``县.gdb|layername=督查图斑``), the OGR
driver of an output path (:func:`driver_for`), the errors GDAL raises through
pyogrio (:data:`GDAL_ERRORS`), and the one way values are normalised for every format
(:func:`normalize_columns`): lists, tuples and dicts become JSON text (``ensure_ascii=False``),
categoricals their values. :mod:`gis.io.vector_write`, :mod:`gis.io.tables`,
:mod:`gis.io.shapefile_write` and :mod:`gis.io.kml` import them from here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyogrio.errors import DataSourceError as PyogrioDataSourceError
from pyogrio.errors import FieldError, GeometryError

from gis.errors import DataSourceError

DRIVERS = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".shp": "ESRI Shapefile",
    ".csv": "CSV",
    ".xlsx": "XLSX",
}
GDAL_ERRORS = (PyogrioDataSourceError, FieldError, GeometryError, ValueError, RuntimeError)


def driver_for(path: str | os.PathLike[str], driver: str | None = None) -> str:
    """Return the OGR driver for ``path`` (from its suffix unless ``driver`` is given).

    Examples
    --------
    >>> driver_for("out/结果.gpkg")
    'GPKG'
    """
    if driver:
        return driver
    suffix = Path(path).suffix.lower()
    try:
        return DRIVERS[suffix]
    except KeyError:
        valid = ", ".join(sorted([*DRIVERS, ".kml", ".kmz"]))
        raise DataSourceError(
            f"cannot tell the format of {path} from its suffix; use one of {valid}",
            zh=f"无法从扩展名判断 {path} 的格式；请使用以下扩展名之一：{valid}",
        ) from None


def json_text(value: Any) -> Any:
    """Return lists, tuples, sets and dicts as JSON text; other values unchanged.

    Examples
    --------
    >>> json_text(["林班", 3])
    '["林班", 3]'
    """
    if isinstance(value, (list, tuple, set, dict, np.ndarray)):
        items = sorted(value, key=str) if isinstance(value, set) else value
        if isinstance(items, np.ndarray):
            items = items.tolist()
        return json.dumps(items, ensure_ascii=False, default=str)
    return value


PLAIN = frozenset({"empty", "string"})
"""Kinds of object column (pandas ``infer_dtype``) that hold no list or dict: left as they are
(text and missing values are written alike either way; numbers keep the dtype ``map`` gives)."""


def normalize_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with list/dict values as JSON text and categoricals as their values.

    The geometry column (if any) is left alone; the input is not modified (columns are
    replaced in a shallow copy, never written into; a deep copy would cost a copy of every
    column, and a consolidation of them, for each layer written).
    """
    out = frame.copy(deep=False)
    geom = geometry_name(frame)
    for name in out.columns:
        if name == geom:
            continue
        col = out[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            out[name] = col.astype(object).where(col.notna(), None)
        elif col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) not in PLAIN:
            out[name] = col.map(json_text)
    return out


def geometry_name(frame: pd.DataFrame) -> str | None:
    """Return the active geometry column name, or ``None`` for a plain table."""
    name = getattr(frame, "_geometry_column_name", None)
    return name if name is not None and name in frame.columns else None
