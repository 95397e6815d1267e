"""Zip archives as Chinese Windows writes them: GBK member names, folders, several layers.

A zip's member names are UTF-8 only when flag bit 11 is set; otherwise :mod:`zipfile` decodes
them as cp437, which turns ``图斑.shp`` (written by Windows' "send to compressed folder" or
WinRAR on a Chinese system, in GBK) into mojibake. :func:`member_names` recovers the raw bytes
and decodes them as UTF-8 when they are valid UTF-8, else as GB18030. Members whose paths would
escape the extraction folder (``../``, absolute paths, drive letters) are refused with
:class:`~gis.errors.UnsafeArchiveError` before anything is written.

Examples
--------
>>> info = zipfile.ZipInfo("图斑.shp".encode("gbk").decode("cp437"))  # as zipfile reads it
>>> info.filename != "图斑.shp", decode_member_name(info)
(True, '图斑.shp')
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from gis.errors import DataSourceError, UnsafeArchiveError

_UTF8_FLAG = 0x800
# Files and folders inside an archive that are vector datasets of their own.
DATASET_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".fgb", ".kml", ".parquet", ".csv")
_DRIVE = re.compile(r"^[A-Za-z]:")


def decode_member_name(info: zipfile.ZipInfo) -> str:
    """Return a member's name as its writer meant it (UTF-8 flag, else UTF-8 or GB18030 bytes).

    Parameters
    ----------
    info : zipfile.ZipInfo
        The member.
    """
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:  # zipfile already decoded it some other way
        return info.filename
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return info.filename


def _is_unsafe(name: str) -> bool:
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        return True
    return ".." in PurePosixPath(posix).parts


def member_names(archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, str]]:
    """Return ``(info, decoded name)`` for every member; refuse unsafe paths.

    Raises
    ------
    UnsafeArchiveError
        When a member's path is absolute or climbs out with ``..``.
    """
    pairs = [(info, decode_member_name(info)) for info in archive.infolist()]
    bad = [name for _, name in pairs if _is_unsafe(name)]
    if bad:
        where = archive.filename or "the archive"
        raise UnsafeArchiveError(
            f"{where} has member paths that would escape the extraction folder: "
            f"{', '.join(bad[:5])}; refusing to read it — re-create the zip with relative "
            "paths inside one folder"
        )
    return pairs


def extract_zip(path: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Extract a zip into ``dest`` with decoded member names; return ``dest``.

    Raises
    ------
    DataSourceError
        When the file is not a readable zip.
    UnsafeArchiveError
        When a member path would escape ``dest``.
    """
    out = Path(dest)
    try:
        with zipfile.ZipFile(path) as archive:
            for info, name in member_names(archive):
                target = out.joinpath(*PurePosixPath(name.replace("\\", "/")).parts)
                if info.is_dir() or name.endswith(("/", "\\")):
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile as exc:
        raise DataSourceError(
            f"{path} is not a readable zip archive ({exc}); re-create it"
        ) from exc
    return out


@contextlib.contextmanager
def extracted(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder holding the zip's contents; remove it afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="linyuan-zip-"))
    try:
        yield extract_zip(path, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def find_datasets(folder: str | os.PathLike[str]) -> list[Path]:
    """Return the vector datasets inside an extracted archive, sorted.

    ``.gdb`` folders count as one dataset; files inside them are not listed. Lone ``.dbf``
    files beside a ``.shp`` belong to it and are not listed.
    """
    root = Path(folder)
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        gdbs = [d for d in dirnames if d.lower().endswith(".gdb")]
        found.extend(here / d for d in gdbs)
        dirnames[:] = sorted(d for d in dirnames if d not in gdbs and not d.startswith("__MACOSX"))
        found.extend(here / f for f in filenames if f.lower().endswith(DATASET_SUFFIXES))
    return sorted(found)


def dataset_name(path: Path, root: Path) -> str:
    """Return the name a dataset is known by inside an archive: its relative path, no suffix.

    Examples
    --------
    >>> dataset_name(Path("/t/data/图斑.shp"), Path("/t"))
    'data/图斑'
    """
    return path.relative_to(root).with_suffix("").as_posix()
