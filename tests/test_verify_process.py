"""verify import under SIGKILL and concurrency: real subprocesses on a real GeoPackage."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyogrio
from verify_helpers import photo, record, write_export

from gis.verify import read_log
from gis.verify.imports import PAUSE_ENV
from gis.verify.store import PHOTO_PAUSE_ENV

ROOT = Path(__file__).resolve().parents[1]


def _export(path: Path, n: int, tag: str, note: str = "") -> Path:
    features = []
    for i in range(n):
        extra = {"photos": [photo(f"{tag}{i}")[0]]} if i % 50 == 0 else {}
        features.append(record(f"{tag}-{i:04d}", inspector=tag, note=note or None, **extra))
    return write_export(path, features)


def _start(
    export: Path, store: Path, pause: str | None = None, hook: str = PAUSE_ENV
) -> subprocess.Popen[bytes]:
    env = {**os.environ}
    env.pop(PAUSE_ENV, None)
    env.pop(PHOTO_PAUSE_ENV, None)
    if pause:
        env[hook] = pause
    cmd = [sys.executable, "-m", "gis", "verify", "import", str(export), "--into", str(store)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(marker: Path, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the import never reached its transaction"
        time.sleep(0.05)


def _log(store: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return con.execute("SELECT * FROM verification_log ORDER BY fid").fetchall()


def test_sigkill_inside_the_transaction_leaves_the_store_unchanged(tmp_path: Path) -> None:
    store = tmp_path / "field.gpkg"
    first = _start(_export(tmp_path / "base.geojson", 20, "base"), store)
    assert first.wait(60) == 0, first.communicate()
    before = _log(store)
    # ~6 kB notes: 600 records overflow SQLite's 2 MB page cache, so pages of the open
    # transaction are already written into the GeoPackage itself when the process is killed
    export = _export(tmp_path / "big.geojson", 600, "big", note="林" * 1900)
    size = store.stat().st_size
    marker = tmp_path / "in-transaction"
    proc = _start(export, store, pause=f"{marker}:120")
    _wait_for(marker, proc)
    assert Path(f"{store}-journal").exists()  # the write transaction is open
    assert store.stat().st_size > size + 1_000_000  # and has spilled into the file
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    assert len(read_log(store)) == 20  # status reads roll the hot journal back
    assert _log(store) == before
    assert len(pyogrio.read_dataframe(store, layer="verification_log")) == 20
    assert any((tmp_path / "field.photos").rglob("*.jpg"))  # orphans of the killed run: harmless
    rerun = _start(export, store)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()
    assert "导入 600 条" in out.decode()
    after = _log(store)
    assert after[:20] == before and len(after) == 620


def test_two_imports_at_once_lose_nothing(tmp_path: Path) -> None:
    store = tmp_path / "field.gpkg"
    a = _export(tmp_path / "a.geojson", 300, "a")
    b = _export(tmp_path / "b.geojson", 300, "b")
    procs = [_start(a, store), _start(b, store)]  # both race to create the new store too
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert len(_log(store)) == 600
    # one import holds the write lock for a while; the other queues behind it
    c = _export(tmp_path / "c.geojson", 100, "c")
    d = _export(tmp_path / "d.geojson", 100, "d")
    marker = tmp_path / "holding"
    holder = _start(c, store, pause=f"{marker}:2")
    _wait_for(marker, holder)
    waiter = _start(d, store)
    for proc in (holder, waiter):
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    rows = _log(store)
    assert len(rows) == 800
    frame = pyogrio.read_dataframe(store, layer="verification_log", read_geometry=False)
    assert frame["record_id"].is_unique
    assert frame["inspector"].value_counts().to_dict() == {"a": 300, "b": 300, "c": 100, "d": 100}


def test_sigkill_while_writing_photos_leaves_no_tmp_after_the_next_import(tmp_path: Path) -> None:
    """Photos are staged as ``.<name>.<pid>.tmp``; the next import sweeps a dead run's ones."""
    store = tmp_path / "field.gpkg"
    export = _export(tmp_path / "photos.geojson", 300, "ph")  # 6 photos
    marker = tmp_path / "writing-photos"
    proc = _start(export, store, pause=f"{marker}:120", hook=PHOTO_PAUSE_ENV)
    _wait_for(marker, proc)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    photos = tmp_path / "field.photos"
    assert list(photos.rglob(".*.tmp"))  # what the kill left: staged, never a photo's name
    assert not list(photos.rglob("*.jpg"))
    assert not store.exists() or not _log(store)  # no record of the killed run
    rerun = _start(export, store)
    _out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()
    assert not list(photos.rglob(".*.tmp")), list(photos.rglob("*"))
    assert len(list(photos.rglob("*.jpg"))) == 6 and len(_log(store)) == 300
