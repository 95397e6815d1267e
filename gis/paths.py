"""Input paths as users give them, and the SHA-256 a run records of each.

- :func:`split_layer` reads QGIS's ``path|layername=NAME`` form;
- :func:`input_files` lists the files an input stands for (a folder's, a comma-separated list
  of scenes');
- :func:`sha256_of` and :func:`input_checksum` give the digest the run table records.

Hashing a 10000² image pair reads over a gigabyte. :func:`prefetch_checksums` starts it on a
background thread as soon as a command knows its inputs: hashlib releases the GIL, so the
digests are taken on the second core while the command's modules load and its layers are
read, instead of competing with the raster windows later. :func:`sha256_of` takes such a
digest (waiting for it if it is not done) instead of reading the file again — once, and only
if the files' sizes and modification times are still those it was taken for.

Only the standard library is imported here: the command line calls this before the heavy
modules load.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path

PathLike = str | os.PathLike[str]

LAYER_IN_PATH = "|layername="
"""How a path names one layer of a GeoPackage, FileGDB or zip (QGIS's data source form)."""

REMOTE_CHECKSUM = "not computed (remote /vsi path)"
"""The checksum recorded for a GDAL ``/vsi…`` input (it is not fetched to be hashed)."""

Stamp = tuple[tuple[str, int, int], ...]

_AHEAD: dict[str, tuple[Stamp, Future[str]]] = {}
_AHEAD_LOCK = threading.Lock()


def split_layer(source: PathLike) -> tuple[str, str | None]:
    """Return (path, layer) of ``path|layername=NAME`` (as QGIS shows a layer's source).

    Examples
    --------
    >>> split_layer("县.gdb|layername=督查图斑"), split_layer("a.shp")
    (('县.gdb', '督查图斑'), ('a.shp', None))
    """
    text = os.fspath(source)
    path, found, rest = text.partition(LAYER_IN_PATH)
    if not found or os.path.exists(text):
        return text, None
    return path, rest.split("|", 1)[0] or None


def input_files(path: PathLike) -> list[Path]:
    """Return the files whose bytes make an input's checksum.

    A folder (a FileGDB, a Sentinel-2 ``.SAFE``) stands for every file inside it, by name; a
    comma-separated list of scenes for each file in the order given.
    """
    p = Path(split_layer(path)[0])
    if not p.exists() and "," in str(path):
        return [Path(t.strip()) for t in str(path).split(",") if t.strip()]
    return sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]


def sha256_of(path: PathLike) -> str:
    """Return the SHA-256 of a file, or of the files of a folder or a list of scenes.

    The files are those of :func:`input_files`, hashed one after the other; a digest that
    :func:`prefetch_checksums` took of the same unchanged files is used instead.
    """
    with _AHEAD_LOCK:
        ahead = _AHEAD.pop(os.fspath(path), None)
    if ahead is not None:
        stamp, future = ahead
        try:
            digest = future.result()
        except Exception:  # read again below, where its error is raised
            digest = None
        if digest is not None and _stamp(path) == stamp:
            return digest
    return _digest(path)


def input_checksum(path: PathLike) -> str:
    """Return the SHA-256 of a local input; a GDAL ``/vsi…`` path is not fetched.

    Examples
    --------
    >>> input_checksum("/vsicurl/https://example.com/a.tif")
    'not computed (remote /vsi path)'
    """
    return REMOTE_CHECKSUM if os.fspath(path).startswith("/vsi") else sha256_of(path)


@contextmanager
def prefetch_checksums(paths: Iterable[PathLike | None]) -> Iterator[None]:
    """Take the SHA-256 of the local inputs ``paths`` on a background thread, for a block.

    ``None``, ``/vsi…`` paths and paths that do not exist are skipped (the run reports them);
    :func:`sha256_of` takes each digest once. Digests the block did not take are dropped when
    it ends (a command that stopped early, say on a bad input, leaves nothing behind).
    """
    jobs: list[tuple[str, Future[str]]] = []
    with _AHEAD_LOCK:
        for path in paths:
            key = None if path is None else os.fspath(path)
            if key is None or key.startswith("/vsi") or key in _AHEAD:
                continue
            try:
                stamp = _stamp(key)
            except OSError:
                continue
            future: Future[str] = Future()
            _AHEAD[key] = (stamp, future)
            jobs.append((key, future))
    if jobs:
        threading.Thread(target=_take, args=(jobs,), name="checksums", daemon=True).start()
    try:
        yield
    finally:
        with _AHEAD_LOCK:
            for key, future in jobs:
                if _AHEAD.get(key, (None, None))[1] is future:
                    del _AHEAD[key]


def _take(jobs: list[tuple[str, Future[str]]]) -> None:
    for path, future in jobs:
        try:
            future.set_result(_digest(path))
        except BaseException as exc:  # handed to the reader of the future
            future.set_exception(exc)


def _digest(path: PathLike) -> str:
    digest = hashlib.sha256()
    for q in input_files(path):
        with q.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _stamp(path: PathLike) -> Stamp:
    """Name, size and modification time (ns) of each file of the input."""
    out = []
    for q in input_files(path):
        st = q.stat()
        out.append((str(q), st.st_size, st.st_mtime_ns))
    return tuple(out)
