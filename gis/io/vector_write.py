"""Vector outputs, each written to a temporary file and renamed into place.

GeoPackage (several layers and attribute tables in one atomic file), GeoJSON and FlatGeobuf;
``.shp`` goes to :func:`gis.io.shapefile_write.write_shapefile` (GBK, ``.cpg``, 10-byte
names) and ``.csv``/``.xlsx`` to :func:`gis.io.tables.write_table`.

Values are normalised the same way for every format: lists, tuples and dicts become JSON text
(``ensure_ascii=False``), categoricals their values; booleans, numbers and datetimes keep their
types where the format has them.

GeoPackages are written as version 1.2 (GDAL's ``VERSION`` creation option), which GDAL 3.6 and
QGIS 3.22 LTR open without "may only be partially supported"; dates (datetime columns that hold
midnight only, or ``datetime.date`` values) are typed ``DATE`` and stored ``YYYY-MM-DD``; and
columns the layer catalog knows get its Chinese label as their alias (``gpkg_data_columns``,
which GDAL reads as the field's alternative name and QGIS shows as the column header).
pyogrio can do neither of the last two, so :func:`finish_geopackage_layer` does them with
SQLite on the staged file, before it is renamed into place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
from pyogrio.errors import DataSourceError as PyogrioDataSourceError
from pyogrio.errors import FieldError, GeometryError

from gis.errors import DataSourceError, SchemaError
from gis.findings import Findings
from gis.io._atomic import atomic_path
from gis.layers import catalog, label

logger = logging.getLogger(__name__)

GPKG_VERSION = "1.2"
"""GeoPackage version written: the newest that GDAL 3.6 / QGIS 3.22 LTR open without a warning."""

SCHEMA_EXTENSION = (
    "gpkg_schema",
    "http://www.geopackage.org/spec120/#extension_schema",
    "read-write",
)
_DATA_COLUMNS_SQL = (
    "CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, "
    "column_name TEXT NOT NULL, name TEXT, title TEXT, description TEXT, mime_type TEXT, "
    "constraint_name TEXT, CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), "
    "CONSTRAINT gdc_tn UNIQUE (table_name, name))"
)
_EXTENSIONS_SQL = (
    "CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, "
    "extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, "
    "CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))"
)
_CONSTRAINTS_SQL = (
    "CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (constraint_name TEXT NOT NULL, "
    "constraint_type TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN, "
    "max NUMERIC, max_is_inclusive BOOLEAN, description TEXT, "
    "CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))"
)

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
            f"cannot tell the format of {path} from its suffix; use one of {valid}"
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


def normalize_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with list/dict values as JSON text and categoricals as their values.

    The geometry column (if any) is left alone; the input is not modified.
    """
    out = frame.copy()
    geom = geometry_name(frame)
    for name in out.columns:
        if name == geom:
            continue
        col = out[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            out[name] = col.astype(object).where(col.notna(), None)
        elif col.dtype == object:
            out[name] = col.map(json_text)
    return out


def geometry_name(frame: pd.DataFrame) -> str | None:
    """Return the active geometry column name, or ``None`` for a plain table."""
    name = getattr(frame, "_geometry_column_name", None)
    return name if name is not None and name in frame.columns else None


def _write_frame(
    frame: pd.DataFrame, path: Path, *, layer: str | None, driver: str, target: Path
) -> None:
    """Write (append) one layer to ``path``, a temporary stand-in for ``target``."""
    kwargs: dict[str, Any] = {"driver": driver}
    dates: list[str] = []
    if driver == "GPKG":
        if layer is not None:
            kwargs["layer"] = layer
        if not path.exists():
            kwargs["dataset_options"] = {"VERSION": GPKG_VERSION}
        dates = date_columns(frame)
    try:
        pyogrio.write_dataframe(
            normalize_columns(_dates_as_text(frame, dates)), path, append=path.exists(), **kwargs
        )
    except GDAL_ERRORS as exc:
        raise DataSourceError(
            f"cannot write layer {layer or target.stem!r} to {target}: {exc}"
        ) from exc
    if driver == "GPKG":
        finish_geopackage_layer(path, layer, dates=dates, aliases=column_aliases(frame, layer))


def _check_layer_names(path: Path, names: list[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        if not str(name).strip():
            raise SchemaError(f"{path}: a layer has an empty name; give every layer a name")
        other = seen.setdefault(str(name).lower(), name)
        if other != name:
            raise SchemaError(
                f"{path}: layer names {other!r} and {name!r} differ only in case, which "
                "GeoPackage treats as the same table; rename one of them"
            )


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
        Layer name (Chinese is fine) to frame. GeoDataFrames become feature layers; plain
        DataFrames become attribute tables (``gpkg_contents.data_type = 'attributes'``), e.g.
        ``findings`` and ``run``. Lists and dicts are stored as JSON text.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OutputExistsError
        When ``path`` exists and ``overwrite`` is false.
    SchemaError
        When two layer names differ only in case, or one is empty.
    DataSourceError
        When GDAL cannot write a layer (nothing is left behind).
    """
    target = Path(path)
    _check_layer_names(target, list(layers))
    with atomic_path(target, overwrite=overwrite) as tmp:
        for name, frame in layers.items():
            _write_frame(frame, tmp, layer=name, driver="GPKG", target=target)
    return target


def date_columns(frame: pd.DataFrame) -> list[str]:
    """Return the columns that hold dates: midnight-only naive datetimes, or ``date`` objects.

    Examples
    --------
    >>> t = pd.DataFrame({"d": pd.to_datetime(["2025-09-05", None]),
    ...     "t": pd.to_datetime(["2025-09-05 10:30", None]), "o": [dt.date(2025, 9, 5), None]})
    >>> date_columns(t)
    ['d', 'o']
    """
    found = []
    for name in frame.columns:
        col = frame[name]
        values = col.dropna()
        if values.empty or name == geometry_name(frame):
            continue
        if isinstance(col.dtype, np.dtype) and col.dtype.kind == "M":
            if bool((values == values.dt.normalize()).all()):
                found.append(name)
        elif col.dtype == object and all(
            isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in values
        ):
            found.append(name)
    return found


def column_aliases(frame: pd.DataFrame, layer: str | None) -> dict[str, str]:
    """Return column → Chinese label for the columns the layer catalog knows.

    ``layer`` is used as the layer kind when it is one (``subcompartments`` …); otherwise each
    column's shared label or its label in any kind. Columns without a label are left out.

    Examples
    --------
    >>> column_aliases(pd.DataFrame(columns=["patch_id", "zzz"]), "patches_checked")
    {'patch_id': '判读图斑编号'}
    """
    geom = geometry_name(frame)
    kind = layer if layer in catalog().kinds else None
    out = {}
    for name in frame.columns:
        alias = label(str(name), kind=kind)
        if name != geom and alias != name:
            out[str(name)] = alias
    return out


def _dates_as_text(frame: pd.DataFrame, dates: list[str]) -> pd.DataFrame:
    """Return ``frame`` with the ``dates`` columns as ``YYYY-MM-DD`` text (GeoPackage dates)."""
    if not dates:
        return frame
    out = frame.copy()
    for name in dates:
        col = out[name]
        text = pd.to_datetime(col).dt.strftime("%Y-%m-%d")
        out[name] = text.astype(object).where(col.notna(), None)
    return out


def finish_geopackage_layer(
    path: Path, layer: str | None, *, dates: list[str], aliases: Mapping[str, str]
) -> None:
    """Type ``dates`` columns ``DATE`` and record the Chinese aliases, in the staged ``path``.

    pyogrio writes dates as text (``_dates_as_text``) and cannot set field alternative names;
    both are finished with SQLite on the GeoPackage GDAL has just written. Declaring a text
    column ``DATE`` leaves its stored ``YYYY-MM-DD`` values as they are, so only the table
    definition is edited (no row is touched, so no R-tree trigger runs).

    Parameters
    ----------
    path : Path
        The staged GeoPackage.
    layer : str or None
        Table name; None for the only table written so far.
    dates : list of str
        Columns to declare ``DATE``.
    aliases : mapping
        Column → alias for ``gpkg_data_columns``.
    """
    if not dates and not aliases:
        return
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        table = layer or con.execute("SELECT table_name FROM gpkg_contents").fetchone()[0]
        if dates:
            _declare_dates(con, table, dates)
        if aliases:
            _record_aliases(con, table, aliases)


def _declare_dates(con: sqlite3.Connection, table: str, columns: list[str]) -> None:
    """Declare ``columns`` of ``table`` ``DATE``; where SQLite refuses, they stay ISO text."""
    (sql,) = con.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    for col in columns:
        quoted = '"' + col.replace('"', '""') + '"'
        sql = re.sub(rf"{re.escape(quoted)} TEXT\b", f"{quoted} DATE", sql)
    setconfig = getattr(con, "setconfig", None)  # Python >= 3.12
    if setconfig is not None:  # a build may default to defensive mode, which forbids the edit
        setconfig(sqlite3.SQLITE_DBCONFIG_DEFENSIVE, False)  # type: ignore[attr-defined]
    (version,) = con.execute("PRAGMA schema_version").fetchone()
    con.execute("PRAGMA writable_schema = ON")
    try:
        con.execute(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table)
        )
        con.execute(f"PRAGMA schema_version = {int(version) + 1}")
    except sqlite3.DatabaseError as exc:
        logger.warning("%s: date columns %s kept as text (%s)", table, ", ".join(columns), exc)
    finally:
        con.execute("PRAGMA writable_schema = OFF")


def _record_aliases(con: sqlite3.Connection, table: str, aliases: Mapping[str, str]) -> None:
    for sql in (_EXTENSIONS_SQL, _DATA_COLUMNS_SQL, _CONSTRAINTS_SQL):
        con.execute(sql)
    for name in ("gpkg_data_columns", "gpkg_data_column_constraints"):
        con.execute(
            "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, "
            "scope) SELECT ?, NULL, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM gpkg_extensions "
            "WHERE table_name = ? AND extension_name = ?)",
            (name, *SCHEMA_EXTENSION, name, SCHEMA_EXTENSION[0]),
        )
    con.executemany(
        "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title) "
        "VALUES (?, ?, ?, ?)",
        [(table, col, alias, alias) for col, alias in _unique(aliases).items()],
    )


def _unique(aliases: Mapping[str, str]) -> dict[str, str]:
    """Keep the first column of each alias (``gpkg_data_columns.name`` is unique per table)."""
    seen: set[str] = set()
    out = {}
    for col, alias in aliases.items():
        if alias not in seen:
            seen.add(alias)
            out[col] = alias
    return out


def write_layer(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    driver: str | None = None,
    overwrite: bool = False,
    encoding: str | None = None,
    write_cpg: bool = True,
    field_map: bool = False,
    findings: Findings | None = None,
) -> Path:
    """Write one frame to a vector file, atomically.

    Parameters
    ----------
    frame : GeoDataFrame or DataFrame
        What to write.
    path : path-like
        Output file; the format follows the suffix (``.gpkg .geojson .json .fgb .shp .csv
        .xlsx``) unless ``driver`` is given. CSV and XLSX go to
        :func:`gis.io.tables.write_table` (geometry dropped); KML/KMZ need
        :func:`gis.io.kml.write_kml`.
    layer : str, optional
        Layer name (GeoPackage).
    driver : str, optional
        OGR driver name.
    overwrite : bool
        Replace an existing output.
    encoding : str, optional
        Shapefile attribute encoding: ``GBK`` (default) or ``UTF-8``.
    write_cpg : bool
        Shapefile only: write the ``.cpg`` (``936`` for GBK). ``False`` makes a legacy file.
    field_map : bool
        Shapefile only: shorten field names over 10 bytes and write ``<name>.fields.csv``
        instead of refusing them.
    findings : Findings, optional
        Collects decisions such as ``datetime_as_text``.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OutputExistsError, SchemaError, EncodingError, DataSourceError
        See :mod:`gis.io.vector_write`.
    """
    target = Path(path)
    drv = driver_for(target, driver)
    if drv in ("CSV", "XLSX"):
        from gis.io.tables import write_table

        return write_table(frame, target, overwrite=overwrite, findings=findings)
    if drv == "ESRI Shapefile":
        from gis.io.shapefile_write import write_shapefile

        return write_shapefile(
            frame,
            target,
            encoding=encoding or "GBK",
            write_cpg=write_cpg,
            field_map=field_map,
            overwrite=overwrite,
            findings=findings,
        )
    with atomic_path(target, overwrite=overwrite) as tmp:
        _write_frame(frame, tmp, layer=layer, driver=drv, target=target)
    return target
