"""Atomic outputs: write to a temporary sibling, then rename into place.

A failure (exception, kill) leaves either the old file or no file, never a partial one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from gis.errors import OutputExistsError


def check_overwrite(path: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Return ``path`` as a Path; raise when it exists and ``overwrite`` is false."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise OutputExistsError(
            f"{p} already exists; pass --overwrite (overwrite=True) to replace it, "
            "or choose another output path"
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
    target.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp = tmpdir / target.name
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


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
    target.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp = tmpdir / target.name
    try:
        yield tmp
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
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
