"""The field store: a GeoPackage with an append-only ``verification_log`` and its photos.

A GeoPackage is an SQLite file; the store is written with :mod:`sqlite3` in explicit
transactions (``BEGIN IMMEDIATE`` with a busy timeout, so concurrent imports queue instead of
failing, and a killed import is rolled back from SQLite's journal). Tables and the
``verification_latest`` view are registered in ``gpkg_contents`` and
``gpkg_geometry_columns`` so GDAL and QGIS list them. Photos live beside the GeoPackage in
``<store>.photos/ab/<sha256>.<ext>``, written and fsynced before the commit (an orphan photo
after a failed import is harmless: a rerun refers to the same file).

Readers use :func:`open_store` and the :class:`FieldStore` it returns (``log``, ``latest``,
``lab_results``, ``photos``); "latest" is :func:`gis.verify.recency.latest`, and the view is
built from the same key and order. This module and :mod:`gis.verify.imports` open files
themselves (the store is a database, not a layer that ``gis.io`` reads or writes whole).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import struct
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
from pyproj import CRS

from gis.errors import DataSourceError
from gis.progress import Progress, counted
from gis.verify.contract import PHOTO_MIMES
from gis.verify.recency import LATEST_KEY, LATEST_SQL_ORDER, latest
from gis.verify.records import Photo

LOG = "verification_log"
LATEST = "verification_latest"
SRS_ID = 4326
BUSY_TIMEOUT_MS = 120_000
PHOTO_THREADS = 8
GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10200  # 1.2: GDAL 3.6 / QGIS 3.22 LTR open it without a warning

LOG_COLUMNS = (
    "record_id", "kind", "layer", "feature_id", "schema_version", "map_id", "results_run_id",
    "is_real_change", "verified_cause_code", "permit_no", "outcome", "sample_taken",
    "sample_id", "note", "inspector", "device_time", "device_time_utc", "gps_accuracy_m",
    "lon", "lat", "photos", "photo_count", "imported_at", "source_file", "source_sha256",
    "source_index", "record_sha256", "is_fire", "fire_type", "extinguished",
    "burned_area_est_ha",
)  # fmt: skip
"""Columns of ``verification_log`` after ``fid`` and ``geom`` (the order of inserts)."""

ADDED_COLUMNS: dict[str, str] = {
    "is_fire": "BOOLEAN",
    "fire_type": "TEXT",
    "extinguished": "BOOLEAN",
    "burned_area_est_ha": "REAL",
}
"""Columns added to the log after its first layout (name → SQL type), last in the table.

A store made before has none of them: its next import adds them (``ALTER TABLE … ADD
COLUMN``, NULL in the old rows) and rebuilds the view; until then readers see NULL.
"""

BOOLEAN_COLUMNS = ("is_real_change", "sample_taken", "is_fire", "extinguished")

_LOG_SQL = f"""
CREATE TABLE IF NOT EXISTS {LOG} (
  fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  geom POINT,
  record_id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('field', 'lab')),
  layer TEXT NOT NULL,
  feature_id TEXT NOT NULL,
  schema_version INTEGER,
  map_id TEXT,
  results_run_id TEXT,
  is_real_change BOOLEAN,
  verified_cause_code INTEGER,
  permit_no TEXT,
  outcome TEXT,
  sample_taken BOOLEAN,
  sample_id TEXT,
  note TEXT,
  inspector TEXT NOT NULL,
  device_time TEXT NOT NULL,
  device_time_utc DATETIME NOT NULL,
  gps_accuracy_m REAL,
  lon REAL,
  lat REAL,
  photos TEXT NOT NULL DEFAULT '[]',
  photo_count INTEGER NOT NULL DEFAULT 0,
  imported_at DATETIME NOT NULL,
  source_file TEXT NOT NULL,
  source_sha256 TEXT NOT NULL,
  source_index INTEGER,
  record_sha256 TEXT NOT NULL,
  {", ".join(f"{name} {kind}" for name, kind in ADDED_COLUMNS.items())}
);
CREATE INDEX IF NOT EXISTS {LOG}_feature ON {LOG} (layer, feature_id, device_time_utc, fid);
CREATE INDEX IF NOT EXISTS {LOG}_sample ON {LOG} (sample_id);
CREATE TRIGGER IF NOT EXISTS {LOG}_no_update BEFORE UPDATE ON {LOG}
BEGIN SELECT RAISE(ABORT, '{LOG} is append-only: add a new record instead'); END;
CREATE TRIGGER IF NOT EXISTS {LOG}_no_delete BEFORE DELETE ON {LOG}
BEGIN SELECT RAISE(ABORT, '{LOG} is append-only: add a new record instead'); END;
CREATE VIEW IF NOT EXISTS {LATEST} AS
SELECT l.fid AS fid, l.geom AS geom, {", ".join("l." + c for c in LOG_COLUMNS)},
  (SELECT COUNT(*) FROM {LOG} AS c
    WHERE c.layer = l.layer AND c.feature_id = l.feature_id) AS record_count
FROM {LOG} AS l
WHERE l.fid = (SELECT m.fid FROM {LOG} AS m
               WHERE {" AND ".join(f"m.{c} = l.{c}" for c in LATEST_KEY)}
               ORDER BY {LATEST_SQL_ORDER.format(alias="m")} LIMIT 1);
"""

_GPKG_SQL = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
"""

_DESCRIPTIONS = {
    LOG: "Field verification records (append-only; one row per record, linyuan verify)",
    LATEST: "Latest verification record per (layer, feature_id): device_time, then import",
}


def photo_dir(store: str | os.PathLike[str]) -> Path:
    """Return the photo folder of a store: ``FIELD.gpkg`` → ``FIELD.photos``."""
    p = Path(store)
    return p.with_name(p.stem + ".photos")


def photo_relpath(photo: Photo) -> str:
    """Return a photo's path inside the photo folder: ``ab/abcdef….jpg``."""
    return f"{photo.sha256[:2]}/{photo.sha256}.{PHOTO_MIMES[photo.mime]}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


PHOTO_PAUSE_ENV = "LINYUAN_VERIFY_TEST_PAUSE_PHOTO"
"""Test hook: ``<marker file>:<seconds>`` makes an import touch the marker and sleep after
writing a photo's staged file, before renaming it, so a test can kill it there. Never set in
normal use."""


def staged_photo(target: Path, pid: int) -> Path:
    """Return the staged name of a photo being written by process ``pid``: ``.<name>.<pid>.tmp``."""
    return target.with_name(f".{target.name}.{pid}.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep_staged_photos(folder: Path) -> int:
    """Remove staged photos (:func:`staged_photo`) of processes that no longer run.

    A killed import leaves its half-written ``.tmp`` files; the next import into the same
    store removes them. Those of a running import (a concurrent one) are left alone.
    Returns how many were removed.
    """
    removed = 0
    for tmp in folder.glob("*/.*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def pause_for_tests(env: str) -> None:
    """Touch the marker and sleep when the test hook ``env`` (``<marker>:<seconds>``) is set."""
    hook = os.environ.get(env)
    if hook:
        marker, _, seconds = hook.rpartition(":")
        Path(marker).write_text("paused")
        time.sleep(float(seconds))


def write_photo(folder: Path, photo: Photo) -> Path | None:
    """Write one photo content-addressed under ``folder``; return its path, None if present.

    The bytes go to a staged sibling (:func:`staged_photo`) that is fsynced and renamed; the
    caller fsyncs the folders (:func:`write_photos`), so a photo is either whole or absent,
    and a staged file a kill left behind is swept by the next import.
    """
    target = folder / photo_relpath(photo)
    if target.exists() and target.stat().st_size == len(photo.data):
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = staged_photo(target, os.getpid())
    with tmp.open("wb") as fh:
        fh.write(photo.data)
        fh.flush()
        os.fsync(fh.fileno())
    pause_for_tests(PHOTO_PAUSE_ENV)
    os.replace(tmp, target)
    return target


def write_photos(
    store: str | os.PathLike[str], photos: Iterable[Photo], *, progress: Progress | None = None
) -> int:
    """Write photos beside the store and fsync them and their folders; return how many were new.

    Staged photos a killed import left in the folder are swept first
    (:func:`sweep_staged_photos`). ``progress(photos_done, photos_total)`` as they are written.

    Files are written and synced on a few threads: the disk flushes their journal
    commits together, which is several times faster than one photo after another.
    """
    folder = photo_dir(store)
    if folder.is_dir():
        sweep_staged_photos(folder)
    unique = {p.sha256: p for p in photos}
    with ThreadPoolExecutor(max_workers=PHOTO_THREADS) as pool:
        done = pool.map(lambda p: write_photo(folder, p), unique.values())
        written = [p for p in counted(done, progress, len(unique)) if p]
        dirs = {p.parent for p in written} | ({folder} if written else set())
        list(pool.map(_fsync_dir, dirs))
    return len(written)


def gpkg_point(lonlat: tuple[float, float] | None) -> bytes | None:
    """Return a GeoPackage geometry blob (EPSG:4326, no envelope) for a lon/lat point."""
    if lonlat is None:
        return None
    header = b"GP" + bytes([0, 0b0000_0001]) + struct.pack("<i", SRS_ID)
    return header + struct.pack("<BIdd", 1, 1, float(lonlat[0]), float(lonlat[1]))


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open (or create) the store file; transactions are explicit (``isolation_level=None``).

    Raises
    ------
    DataSourceError
        When the file exists but is not an SQLite/GeoPackage file.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = sqlite3.connect(p, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        con.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        raise DataSourceError(
            f"{p} is not a GeoPackage (SQLite) file ({exc}); give a new or existing field "
            "store with --into FIELD.gpkg",
            zh=f"{p} 不是 GeoPackage（SQLite）文件（{exc}）；请用 --into FIELD.gpkg 给出新的或"
            "已有的外业记录库",
        ) from exc
    return con


@contextlib.contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in ``BEGIN IMMEDIATE`` … ``COMMIT``; roll back on any exception."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _srs_rows() -> list[tuple[Any, ...]]:
    wgs84 = CRS.from_epsg(SRS_ID).to_wkt("WKT1_GDAL")
    return [
        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic"),
        ("WGS 84 geodetic", SRS_ID, "EPSG", SRS_ID, wgs84, "longitude/latitude WGS 84"),
    ]


def log_columns(con: sqlite3.Connection) -> set[str]:
    """Return the columns of the open file's ``verification_log`` (empty when it has none)."""
    return {r[1] for r in con.execute(f"PRAGMA table_info({LOG})")}


def _add_columns(con: sqlite3.Connection) -> None:
    """Give a log of an earlier layout the columns of :data:`ADDED_COLUMNS`, and a new view."""
    present = log_columns(con)
    missing = [name for name in ADDED_COLUMNS if name not in present]
    if not present or not missing:
        return
    for name in missing:
        con.execute(f"ALTER TABLE {LOG} ADD COLUMN {name} {ADDED_COLUMNS[name]}")
    con.execute(f"DROP VIEW IF EXISTS {LATEST}")  # rebuilt below with every column


def ensure_schema(con: sqlite3.Connection) -> None:
    """Create the GeoPackage tables, the log and the view if missing (call in a transaction).

    A log of an earlier layout gets the columns added since (:data:`ADDED_COLUMNS`).
    """
    known = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    _add_columns(con)
    if "gpkg_contents" not in known:
        con.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
        con.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")
    for statement in (_GPKG_SQL + _LOG_SQL).split(";\n"):
        if statement.strip():
            con.execute(statement)
    con.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)", _srs_rows())
    for table, description in _DESCRIPTIONS.items():
        con.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
            "description, srs_id) VALUES (?, 'features', ?, ?, ?)",
            (table, table, description, SRS_ID),
        )
        con.execute(
            "INSERT OR IGNORE INTO gpkg_geometry_columns VALUES (?, 'geom', 'POINT', ?, 0, 0)",
            (table, SRS_ID),
        )


def touch_contents(con: sqlite3.Connection) -> None:
    """Update ``last_change`` and the extent of the log and the view in ``gpkg_contents``."""
    extent = con.execute(f"SELECT MIN(lon), MIN(lat), MAX(lon), MAX(lat) FROM {LOG}").fetchone()
    con.execute(
        "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now'), "
        "min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name IN (?, ?)",
        (*extent, LOG, LATEST),
    )


def known_hashes(con: sqlite3.Connection, record_ids: Sequence[str]) -> dict[str, str]:
    """Return record_id → record_sha256 of the given ids already in the log."""
    out: dict[str, str] = {}
    for start in range(0, len(record_ids), 500):
        chunk = list(record_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        rows = con.execute(
            f"SELECT record_id, record_sha256 FROM {LOG} WHERE record_id IN ({marks})", chunk
        )
        out.update(dict(rows.fetchall()))
    return out


def insert_rows(con: sqlite3.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Append rows (dicts with ``geom`` and :data:`LOG_COLUMNS`); return how many were new.

    A row whose ``record_id`` is already in the log is ignored (``INSERT OR IGNORE``).
    """
    columns = ("geom", *LOG_COLUMNS)
    sql = (
        f"INSERT OR IGNORE INTO {LOG} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    before = con.total_changes
    con.executemany(sql, [tuple(row.get(c) for c in columns) for row in rows])
    return con.total_changes - before


def read_log_frame(
    con: sqlite3.Connection, *, where: str = "", params: Sequence[Any] = ()
) -> pd.DataFrame:
    """Return log rows (without geometry) as a DataFrame; booleans as pandas ``boolean``."""
    cols = ("fid", *LOG_COLUMNS)
    present = log_columns(con)
    picked = [c if c in present else f"NULL AS {c}" for c in cols]  # a store not yet migrated
    sql = f"SELECT {', '.join(picked)} FROM {LOG} {where} ORDER BY fid"
    frame = pd.DataFrame(con.execute(sql, list(params)).fetchall(), columns=list(cols))
    for name in BOOLEAN_COLUMNS:
        frame[name] = frame[name].astype("boolean")
    frame["burned_area_est_ha"] = frame["burned_area_est_ha"].astype("float64")
    frame["verified_cause_code"] = frame["verified_cause_code"].astype("Int64")
    return frame


def own_tables(con: sqlite3.Connection) -> list[str]:
    """Return the tables and views of an open file other than SQLite's and the GeoPackage's."""
    rows = con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    return sorted(r[0] for r in rows if not r[0].startswith(("sqlite_", "gpkg_", "rtree_")))


def _missing_store(p: Path) -> DataSourceError:
    return DataSourceError(f"field store {p} does not exist; import records first with "
                           f"linyuan verify import FILE.geojson --into {p}",
                           zh=f"外业库 {p} 不存在；请先用 "
                           f"linyuan verify import FILE.geojson --into {p} 导入记录")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class FieldStore:
    """An existing field store, read through :mod:`sqlite3` (each call opens and closes it).

    The one reader of the store: ``verify status``, the reports and the maps read records
    through it. Open one with :func:`open_store`. Frames come without geometry (a record
    without a GPS fix still counts); ``lon``/``lat`` carry the position.
    """

    path: Path

    def _read(self, where: str = "", params: Sequence[Any] = ()) -> pd.DataFrame:
        # read-write, so that a journal left by a killed import is rolled back first
        with contextlib.closing(connect(self.path)) as con:
            return read_log_frame(con, where=where, params=params)

    def log(self, *, layer: str | None = None, kind: str | None = None) -> pd.DataFrame:
        """Return the records of ``verification_log`` in ``fid`` (import) order.

        Parameters
        ----------
        layer : {"patches_checked", "discolored_points", "hotspots_checked"}, optional
            Keep the records about features of this results layer.
        kind : {"field", "lab"}, optional
            Keep field visits or lab results.
        """
        tests = {"layer": layer, "kind": kind}
        chosen = {name: value for name, value in tests.items() if value is not None}
        where = " AND ".join(f"{name} = ?" for name in chosen)
        return self._read(f"WHERE {where}" if where else "", tuple(chosen.values()))

    def latest(self, *, layer: str | None = None, kind: str | None = None) -> pd.DataFrame:
        """Return the latest of the selected records per feature.

        The rule is :func:`gis.verify.recency.latest` (device time, then the later import).
        Without ``kind`` these are the records of the ``verification_latest`` view; with
        ``kind`` the latest field visit or the latest lab result of each feature with one.
        """
        return latest(self.log(layer=layer, kind=kind))

    def lab_results(self, *, layer: str | None = None) -> pd.DataFrame:
        """Return the latest lab result (``lab_positive``/``lab_negative``) per feature."""
        return self.latest(layer=layer, kind="lab")

    def photos(self, *, layer: str | None = None) -> pd.DataFrame:
        """Return one row per photo of a record, with the path of its file beside the store.

        Returns
        -------
        pandas.DataFrame
            ``record_id, layer, feature_id, sha256, mime, bytes, path`` (``path`` absolute,
            in :func:`photo_dir`), in record then photo order.
        """
        log = self.log(layer=layer)
        folder = photo_dir(self.path).resolve()
        cols = ["record_id", "layer", "feature_id", "sha256", "mime", "bytes", "path"]
        rows = [
            (rid, lay, fid, item["sha256"], item["mime"], item["bytes"], str(folder / item["path"]))
            for rid, lay, fid, text in log[
                ["record_id", "layer", "feature_id", "photos"]
            ].itertuples(index=False)
            for item in json.loads(text or "[]")
        ]
        return pd.DataFrame(rows, columns=cols)


def open_store(path: str | os.PathLike[str]) -> FieldStore:
    """Return the field store at ``path`` for reading.

    Raises
    ------
    DataSourceError
        When the file does not exist, is not an SQLite/GeoPackage file, or holds no
        ``verification_log`` (it is not a field store).
    """
    p = Path(path)
    if not p.is_file():
        raise _missing_store(p)
    with contextlib.closing(connect(p)) as con:
        names = own_tables(con)
    if LOG not in names:
        raise DataSourceError(
            f"{p} is not a field store (it holds no {LOG}; its tables: "
            f"{', '.join(names) or 'none'}); pass the GeoPackage written by "
            "`linyuan verify import … --into FIELD.gpkg`",
            zh=f"{p} 不是外业记录库（没有 {LOG}；其表为：{'、'.join(names) or '无'}）；"
            "请给出 `linyuan verify import … --into FIELD.gpkg` 写出的 GeoPackage",
        )
    return FieldStore(p)


def read_log(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Return the whole ``verification_log`` of a store: ``open_store(path).log()``.

    Raises
    ------
    DataSourceError
        When the file does not exist or holds no ``verification_log``.
    """
    return open_store(path).log()


def photos_json(store_photos: Sequence[Photo]) -> str:
    """Return the ``photos`` column value: digests, media types, sizes and relative paths."""
    items = [
        {"sha256": p.sha256, "mime": p.mime, "bytes": len(p.data), "path": photo_relpath(p)}
        for p in store_photos
    ]
    return json.dumps(items, ensure_ascii=False)
