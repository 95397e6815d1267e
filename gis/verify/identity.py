"""What makes a GeoPackage a field store: its mark, and the refusal of every other file.

A field store is marked in the GeoPackage way, by a row of the metadata extension
(``gpkg_metadata``, scope ``dataset``, standard URI :data:`FIELD_STORE_URI`, referenced with
scope ``geopackage``). GDAL and QGIS know that extension: they list no extra layer and warn
about nothing, and the file stays a plain GeoPackage (``application_id`` ``GPKG``).

``verify import --into`` and ``verify lab --into`` write only into a file that is, by
:func:`store_state`:

- ``new`` — missing, empty, or an SQLite/GeoPackage file holding no table of its own: it
  becomes a field store (created and marked in the import's transaction);
- ``marked`` — a field store;
- ``previous`` — a store made before stores were marked: exactly the log and the view of a
  field store (besides the GeoPackage's own tables and QGIS's ``layer_styles`` /
  ``qgis_projects``), and a log with every column of :data:`gis.verify.store.LOG_COLUMNS`
  but those added since (:data:`gis.verify.store.ADDED_COLUMNS`). It is marked (and given
  the added columns) by its next import.

Anything else (``other``) — a results file such as ``patches_checked.gpkg`` or ``kpi.gpkg``,
a file of someone's layers, a non-SQLite file — is refused by :func:`check_target` before
anything is written (photos included), naming the file and the fix: a results file may be
replaced by the next run, and the field records with it.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import sqlite3
from pathlib import Path

from gis.errors import DataSourceError
from gis.io import require_writable
from gis.io.geopackage import QGIS_TABLES
from gis.verify.store import (
    ADDED_COLUMNS,
    LATEST,
    LOG,
    LOG_COLUMNS,
    connect,
    ensure_schema,
    log_columns,
    own_tables,
)

FIELD_STORE_URI = "urn:linyuan:field-store"
"""``md_standard_uri`` of the metadata row that marks a field store."""

MARK_FORMAT = 1
"""Layout version written in the mark (the ``format`` of its JSON)."""

SQLITE_HEADER = b"SQLite format 3\x00"

TOOL_TABLES = QGIS_TABLES
"""Tables QGIS may add to any GeoPackage it opened; they do not make a store someone else's."""

_METADATA_SQL = """
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
CREATE TABLE IF NOT EXISTS gpkg_metadata (
  id INTEGER CONSTRAINT m_pk PRIMARY KEY ASC NOT NULL,
  md_scope TEXT NOT NULL DEFAULT 'dataset', md_standard_uri TEXT NOT NULL,
  mime_type TEXT NOT NULL DEFAULT 'text/xml', metadata TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS gpkg_metadata_reference (
  reference_scope TEXT NOT NULL, table_name TEXT, column_name TEXT, row_id_value INTEGER,
  timestamp DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  md_file_id INTEGER NOT NULL, md_parent_id INTEGER,
  CONSTRAINT crmr_mfi_fk FOREIGN KEY (md_file_id) REFERENCES gpkg_metadata(id),
  CONSTRAINT crmr_mpi_fk FOREIGN KEY (md_parent_id) REFERENCES gpkg_metadata(id));
"""
_METADATA_EXTENSION = "http://www.geopackage.org/spec/#extension_metadata"


class StoreState(enum.StrEnum):
    """What a file given as ``--into`` is (see the module docstring)."""

    NEW = "new"
    MARKED = "marked"
    PREVIOUS = "previous"
    OTHER = "other"


def is_marked(con: sqlite3.Connection) -> bool:
    """Return whether the open file carries the field-store mark."""
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "gpkg_metadata" not in names:
        return False
    sql = "SELECT 1 FROM gpkg_metadata WHERE md_standard_uri = ? LIMIT 1"
    return con.execute(sql, (FIELD_STORE_URI,)).fetchone() is not None


def store_state(con: sqlite3.Connection) -> tuple[StoreState, list[str]]:
    """Return what the open file is, and its own tables and views (sorted)."""
    own = set(own_tables(con))
    if is_marked(con):
        return StoreState.MARKED, sorted(own)
    if not own - TOOL_TABLES:
        return StoreState.NEW, sorted(own)
    if own - TOOL_TABLES == {LOG, LATEST}:
        columns = log_columns(con)
        if columns >= set(LOG_COLUMNS) - set(ADDED_COLUMNS):
            return StoreState.PREVIOUS, sorted(own)
    return StoreState.OTHER, sorted(own)


def _other_file(path: Path, tables: list[str]) -> DataSourceError:
    held_zh = (
        f"其中已有外业记录（{LOG}）与其他数据混放：请把同样的导出文件导入一个新的外业库"
        "（记录按 record_id 识别），今后使用新库。"
        if LOG in tables
        else ""
    )
    held = (
        f" It already holds field records ({LOG}) next to other data: import the same "
        "export files into a new field store (records are recognised by record_id) and use "
        "that one from now on."
        if LOG in tables
        else ""
    )
    return DataSourceError(
        f"{path} is not a field store but a GeoPackage of other data (tables: "
        f"{', '.join(tables)}), e.g. a results file, which the next run may replace with the "
        "field records in it. Pass a field store to --into: an existing one, or a new file "
        f"(e.g. FIELD.gpkg, kept apart from the results), which is created.{held}",
        zh=f"{path} 不是外业库，而是存放其他数据的 GeoPackage（表：{'、'.join(tables)}），"
        "例如结果文件，下次运行可能连同其中的外业记录一起被替换。请给 --into 传入外业库："
        f"已有的外业库，或一个新文件（如 FIELD.gpkg，与结果分开存放），会自动创建。{held_zh}",
    )


def _not_sqlite(path: Path, why: tuple[str, str]) -> DataSourceError:
    return DataSourceError(
        f"{path} is not a GeoPackage (SQLite) file ({why[0]}); give a new or existing field "
        "store with --into FIELD.gpkg",
        zh=f"{path} 不是 GeoPackage（SQLite）文件（{why[1]}）；请用 --into FIELD.gpkg "
        "给出新的或已有的外业库",
    )


def check_target(path: str | os.PathLike[str]) -> StoreState:
    """Check that ``path`` may receive field records, before anything is written.

    Returns
    -------
    StoreState
        ``new`` (missing too), ``marked`` or ``previous``.

    Raises
    ------
    DataSourceError
        When ``path`` is a folder, not an SQLite file, or a GeoPackage of other data; the
        message names the file and the fix.
    OutputError
        When the store (or its folder, for a new one) is read-only or not writable.
    """
    p = Path(path)
    if not p.exists():
        require_writable(p)
        return StoreState.NEW
    if not p.is_file():
        raise _not_sqlite(p, ("it is a folder", "这是一个文件夹"))
    with p.open("rb") as fh:
        head = fh.read(len(SQLITE_HEADER))
    if head and head != SQLITE_HEADER:
        raise _not_sqlite(
            p, ("its first bytes are not an SQLite header", "文件开头不是 SQLite 文件头")
        )
    with contextlib.closing(connect(p)) as con:
        state, tables = store_state(con)
    if state is StoreState.OTHER:
        raise _other_file(p, tables)
    require_writable(p)
    return state


def claim(con: sqlite3.Connection, path: str | os.PathLike[str]) -> StoreState:
    """Inside the import's transaction: check the file again, create the schema, mark it.

    Raises
    ------
    DataSourceError
        When the file became a GeoPackage of other data since :func:`check_target`.
    """
    state, tables = store_state(con)
    if state is StoreState.OTHER:
        raise _other_file(Path(path), tables)
    ensure_schema(con)
    if state is not StoreState.MARKED:
        mark(con)
    return state


def mark(con: sqlite3.Connection) -> None:
    """Write the field-store mark (call in a transaction, after the GeoPackage tables exist)."""
    for statement in _METADATA_SQL.split(";\n"):
        if statement.strip():
            con.execute(statement)
    for table in ("gpkg_metadata", "gpkg_metadata_reference"):
        con.execute(
            "INSERT OR IGNORE INTO gpkg_extensions VALUES (?, NULL, 'gpkg_metadata', ?, "
            "'read-write')",
            (table, _METADATA_EXTENSION),
        )
    body = {"format": MARK_FORMAT, "contract": "docs/field-records.md"}
    cursor = con.execute(
        "INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) "
        "VALUES ('dataset', ?, 'application/json', ?)",
        (FIELD_STORE_URI, json.dumps(body)),
    )
    con.execute(
        "INSERT INTO gpkg_metadata_reference (reference_scope, md_file_id) "
        "VALUES ('geopackage', ?)",
        (cursor.lastrowid,),
    )
