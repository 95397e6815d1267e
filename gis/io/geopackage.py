"""GeoPackage details pyogrio does not write: version 1.2, typed dates, Chinese field aliases.

- Version 1.2 (GDAL's ``VERSION`` creation option): GDAL 3.6 (Debian 12) and the GDAL under
  QGIS 3.22 LTR warn "may only be partially supported" on the 1.4 GDAL writes by default.
- Dates — datetime columns that hold midnight only, or ``datetime.date`` values — are written as
  ``YYYY-MM-DD`` text and the column declared ``DATE``, so GDAL reads a Date field instead of
  ``2025-09-05T00:00:00`` date-times.
- Columns the layer catalog knows get its Chinese label as their alias in ``gpkg_data_columns``
  (the GeoPackage schema extension), which GDAL 3.7+ reads as the field's alternative name and
  QGIS shows as the column header.
- In a GeoPackage of several tables (every results file: its layers, ``findings``, ``run``)
  the same aliases as each table's QGIS default style: a row of ``layer_styles`` (the table
  QGIS writes on "save style to database", useAsDefault 1) whose QML holds only
  ``<aliases>``. QGIS 3.22 LTR runs on GDAL 3.6, which does not read ``gpkg_data_columns``; it
  loads this style and shows the Chinese headers all the same. A file of one layer gets none:
  the extra table would make ``geopandas.read_file(path)`` warn and ask for a layer name.
  :func:`gis.io.list_layers` leaves the table out.

:mod:`gis.io.vector_write` calls :func:`date_columns` and :func:`dates_as_text` before writing a
layer and :func:`finish_layer` (SQLite on the staged file, before it is renamed) after.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gis.layers import catalog, label

logger = logging.getLogger(__name__)

GPKG_VERSION = "1.2"
"""GeoPackage version written: the newest that GDAL 3.6 / QGIS 3.22 LTR open without a warning."""

CREATION_OPTIONS = {"VERSION": GPKG_VERSION}
"""GDAL dataset creation options of every GeoPackage Linyuan writes."""

STYLE_TABLE = "layer_styles"
"""QGIS's table of layer styles saved in the GeoPackage ("save style to database")."""

QGIS_TABLES = frozenset({STYLE_TABLE, "qgis_projects"})
"""Tables QGIS adds to a GeoPackage: tool tables, not data (:func:`gis.io.list_layers`)."""

STYLE_NAME = "linyuan"
"""``styleName`` of the default style Linyuan writes (the aliases)."""

STYLE_DESCRIPTION = "中文字段别名 Chinese field aliases (Linyuan)"

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
_STYLES_SQL = (  # as QGIS 3.22 creates it
    f'CREATE TABLE IF NOT EXISTS "{STYLE_TABLE}" ("id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
    '"f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256), '
    '"f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT, '
    '"useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30), '
    "\"update_time\" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
)
_CONSTRAINTS_SQL = (
    "CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (constraint_name TEXT NOT NULL, "
    "constraint_type TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN, "
    "max NUMERIC, max_is_inclusive BOOLEAN, description TEXT, "
    "CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))"
)


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
    geometry = _geometry_name(frame)
    for name in frame.columns:
        col = frame[name]
        stamps = isinstance(col.dtype, np.dtype) and col.dtype.kind == "M"
        if name == geometry or not (stamps or col.dtype == object):  # numbers, text: no dates
            continue
        values = col.dropna()
        if values.empty:
            continue
        if stamps:
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
    geom = _geometry_name(frame)
    kind = layer if layer in catalog().kinds else None
    out = {}
    for name in frame.columns:
        alias = label(str(name), kind=kind)
        if name != geom and alias != name:
            out[str(name)] = alias
    return out


def dates_as_text(frame: pd.DataFrame, dates: list[str]) -> pd.DataFrame:
    """Return ``frame`` with the ``dates`` columns as ``YYYY-MM-DD`` text (GeoPackage dates)."""
    if not dates:
        return frame
    out = frame.copy()
    for name in dates:
        col = out[name]
        text = pd.to_datetime(col).dt.strftime("%Y-%m-%d")
        out[name] = text.astype(object).where(col.notna(), None)
    return out


def finish_layer(path: Path, layer: str | None, frame: pd.DataFrame, *, dates: list[str]) -> None:
    """Type ``dates`` columns ``DATE``, record the Chinese aliases and their QGIS styles.

    pyogrio writes dates as text (:func:`dates_as_text`) and cannot set field alternative names;
    both are finished with SQLite on the staged GeoPackage GDAL has just written, and once it
    holds two tables, each table's aliases become its default QGIS style (``layer_styles``).
    Declaring a text column ``DATE`` leaves its stored ``YYYY-MM-DD`` values as they are, so
    only the table definition is edited (no row is touched, so no R-tree trigger runs).

    Parameters
    ----------
    path : Path
        The staged GeoPackage.
    layer : str or None
        Table name; None for the only table written so far.
    frame : DataFrame
        What was written (its columns get aliases from the layer catalog).
    dates : list of str
        Columns to declare ``DATE`` (:func:`date_columns` of ``frame``).
    """
    aliases = column_aliases(frame, layer)
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        table = layer or con.execute("SELECT table_name FROM gpkg_contents").fetchone()[0]
        if dates:
            _declare_dates(con, table, dates)
        if aliases:
            _record_aliases(con, table, aliases)
        _record_styles(con)


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
        logger.warning(
            "%s: date columns %s kept as text (%s)",
            table,
            ", ".join(columns),
            exc,
            extra={"zh": "%s：日期列 %s 保留为文本", "zh_args": (table, "、".join(columns))},
        )
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


def alias_qml(aliases: Mapping[str, str]) -> str:
    """Return a QGIS style (QML) that sets only the field aliases.

    Examples
    --------
    >>> qml = alias_qml({"patch_id": "判读图斑编号"})
    >>> qml.splitlines()[0]
    "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
    >>> '<aliases><alias field="patch_id" name="判读图斑编号" /></aliases>' in qml
    True
    """
    root = ET.Element("qgis", {"styleCategories": "Fields", "version": "3.22.0"})
    node = ET.SubElement(root, "aliases")
    for col, alias in aliases.items():
        ET.SubElement(node, "alias", {"field": col, "name": alias})
    doctype = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
    return doctype + "\n" + ET.tostring(root, encoding="unicode")


def _record_styles(con: sqlite3.Connection) -> None:
    """Give each table with aliases its default QGIS style, once the file holds two tables.

    Written as QGIS writes ``layer_styles`` (registered as an attributes table); the QML of
    each table comes from its rows of ``gpkg_data_columns``, so both always agree.
    """
    tables = [
        name
        for (name,) in con.execute("SELECT table_name FROM gpkg_contents")
        if name != STYLE_TABLE
    ]
    if len(tables) < 2 or not _has_table(con, "gpkg_data_columns"):
        return
    con.execute(_STYLES_SQL)
    con.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change, srs_id) "
        "SELECT ?, 'attributes', ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'), 0 WHERE NOT EXISTS "
        "(SELECT 1 FROM gpkg_contents WHERE table_name = ?)",
        (STYLE_TABLE, STYLE_TABLE, STYLE_TABLE),
    )
    geometry = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
    for table in tables:
        aliases = dict(
            con.execute(
                "SELECT column_name, name FROM gpkg_data_columns WHERE table_name = ? "
                "ORDER BY rowid",
                (table,),
            )
        )
        if not aliases:
            continue
        con.execute(
            f'DELETE FROM "{STYLE_TABLE}" WHERE f_table_name = ? AND styleName = ?',
            (table, STYLE_NAME),
        )
        con.execute(
            f'INSERT INTO "{STYLE_TABLE}" (f_table_catalog, f_table_schema, f_table_name, '
            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
            "owner) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '')",
            (table, geometry.get(table, ""), STYLE_NAME, alias_qml(aliases), STYLE_DESCRIPTION),
        )


def _has_table(con: sqlite3.Connection, name: str) -> bool:
    found = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return found.fetchone() is not None


def _unique(aliases: Mapping[str, str]) -> dict[str, str]:
    """Keep the first column of each alias (``gpkg_data_columns.name`` is unique per table)."""
    seen: set[str] = set()
    out = {}
    for col, alias in aliases.items():
        if alias not in seen:
            seen.add(alias)
            out[col] = alias
    return out


def _geometry_name(frame: pd.DataFrame) -> str | None:
    name = getattr(frame, "_geometry_column_name", None)
    return name if name is not None and name in frame.columns else None
