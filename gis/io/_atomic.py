"""Atomic outputs: write to a temporary sibling, then rename into place.

A failure (exception, kill) leaves either the old file or no file, never a partial one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from gis.errors import GisError, OutputError, OutputExistsError, output_error

WRITE_ERRNOS = frozenset(
    {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EXDEV, errno.EFBIG}
)
"""OS errors that mean "this output cannot be written here" (not a bug, not a bad input)."""


@contextlib.contextmanager
def output_os_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an OS error of writing ``path`` (read-only, full, …) into :class:`OutputError`.

    Errors Linyuan raises on purpose and OS errors of other kinds pass unchanged.

    Examples
    --------
    >>> with output_os_errors("/r/a.gpkg"):
    ...     raise OSError(errno.EROFS, "Read-only file system")
    Traceback (most recent call last):
    ...
    gis.errors.OutputError: cannot write /r/a.gpkg: the filesystem is read-only; ...
    """
    try:
        yield
    except GisError:
        raise
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        raise output_error(exc, path) from exc


FULL_BYTES = 1024 * 1024
"""Free space under which a failed write is reported as "the disk is full"."""


def full_disk_error(path: str | os.PathLike[str], exc: BaseException) -> OutputError | None:
    """Return an :class:`OutputError` saying the disk is full when a write failed for it.

    GDAL and SQLite report a full disk in their own words ("Failed to commit transaction",
    "no such table"); when the folder of ``path`` has (almost) no free space left, that is
    the reason to give.
    """
    folder = Path(path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free >= FULL_BYTES:
        return None
    return OutputError(
        f"cannot write {path}: the disk is full ({free} bytes free; 磁盘已满) — {exc}; free some "
        "space or write to another disk",
        zh=f"无法写入 {path}：磁盘已满（剩余 {free} 字节）；请清理磁盘空间或写到另一块磁盘",
    )


def require_writable(path: str | os.PathLike[str]) -> None:
    """Raise :class:`OutputError` when ``path`` (or its folder, for a new file) is read-only.

    For callers that open a file in place (SQLite), where the OS error would otherwise
    surface as "unable to open database file".
    """
    p = Path(path)
    refuse_file_on_path(p)
    where = p if p.exists() else p.parent
    while not where.exists() and where != where.parent:
        where = where.parent
    if os.statvfs(where).f_flag & os.ST_RDONLY:
        raise output_error(OSError(errno.EROFS, os.strerror(errno.EROFS)), p)
    if not os.access(where, os.W_OK):
        raise output_error(OSError(errno.EACCES, os.strerror(errno.EACCES)), p)


def refuse_file_on_path(path: str | os.PathLike[str]) -> None:
    """Raise :class:`OutputError` when a folder on the way to ``path`` is a file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> _ = f.write_text("x")
    >>> refuse_file_on_path(f / "out" / "r.gpkg")
    Traceback (most recent call last):
    ...
    gis.errors.OutputError: cannot write .../notes.txt/out/r.gpkg: a part of the path is a file, ...
    """
    p = Path(path)
    for folder in p.parents:
        if folder.exists():
            if not folder.is_dir():
                raise output_error(OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)), p)
            return


def check_overwrite(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Return ``path`` as a Path; raise when it exists and ``overwrite`` is false."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise OutputExistsError(
            f"{p} already exists; pass --overwrite to replace it, or choose another output path",
            zh=f"{p} 已存在；加 --overwrite 覆盖，或换一个输出路径",
        )
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("ok")
    >>> (d / "a.txt").read_text()
    'ok'
    """
    target = check_overwrite(path, overwrite=overwrite)
    with output_os_errors(target):
        tmpdir = _stage_dir(target)
        tmp = tmpdir / target.name
        try:
            yield tmp
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _stage_dir(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))


@contextlib.contextmanager
def atomic_fileset(
    path: str | os.PathLike[str], suffixes: Sequence[str], *, overwrite: bool = False
) -> Iterator[Path]:
    """Like :func:`atomic_path` for multi-file formats (Shapefile: .shp .shx .dbf .prj .cpg).

    All sidecars are written in a temporary folder and renamed only once the writer returned;
    the main file (``path``) is renamed last, so a reader never sees it without its sidecars.
    Stale sidecars of a replaced output are removed.
    """
    target = check_overwrite(path, overwrite=overwrite)
    with output_os_errors(target):
        tmpdir = _stage_dir(target)
        tmp = tmpdir / target.name
        try:
            yield tmp
            _move_fileset(tmpdir, target, suffixes)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _move_fileset(tmpdir: Path, target: Path, suffixes: Sequence[str]) -> None:
    produced = {p.suffix.lower(): p for p in tmpdir.iterdir()}
    for suffix in suffixes:
        old = target.with_suffix(suffix)
        if suffix.lower() not in produced and old.exists():
            old.unlink()
    main = target.suffix.lower()
    for suffix, p in produced.items():
        if suffix != main:
            os.replace(p, target.with_suffix(p.suffix))
    if main in produced:
        os.replace(produced[main], target)
