"""Zip archives as Chinese Windows writes them: GBK member names, folders, several layers.

A zip's member names are UTF-8 only when flag bit 11 is set; otherwise :mod:`zipfile` decodes
them as cp437, which turns ``图斑.shp`` (written by Windows' "send to compressed folder" or
WinRAR on a Chinese system, in GBK) into mojibake. :func:`member_names` recovers the raw bytes
and decodes them as UTF-8 when they are valid UTF-8, else as GB18030. Members whose paths would
escape the extraction folder (``../``, absolute paths, drive letters), names that clash (a
file ``a`` and a member ``a/x.shp``, or one name twice) and members over a size cap are refused
with :class:`~gis.errors.UnsafeArchiveError` before anything is written.

Only what a layer needs is extracted: :func:`zip_datasets` lists the datasets from the member
names alone, and :func:`extracted` writes the members of the chosen one (a Shapefile with its
sidecars, a ``.gdb`` folder, one file), after checking that they fit the free space.

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
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from gis.errors import DataSourceError, UnsafeArchiveError, listed

_UTF8_FLAG = 0x800
# Files and folders inside an archive that are vector datasets of their own.
DATASET_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".fgb", ".kml", ".parquet", ".csv")
_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_MEMBER_ENV = "LINYUAN_ZIP_MAX_MEMBER"
"""Environment variable: the largest member (bytes; ``K``/``M``/``G`` suffixes) a zip may have."""
DEFAULT_MAX_MEMBER = 2 * 1024**3
"""Largest member extracted when neither ``max_member_bytes`` nor the variable is given."""
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def member_cap(value: int | str | None = None) -> int:
    """Return the member size cap: ``value``, else ``$LINYUAN_ZIP_MAX_MEMBER``, else 2 GiB.

    Examples
    --------
    >>> member_cap("512M"), member_cap(1000)
    (536870912, 1000)
    """
    raw = value if value is not None else os.environ.get(MAX_MEMBER_ENV)
    if raw is None:
        return DEFAULT_MAX_MEMBER
    if isinstance(raw, int):
        return raw
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*", str(raw), flags=re.IGNORECASE)
    if not match:
        raise DataSourceError(
            f"{MAX_MEMBER_ENV}={raw!r} is not a size; give bytes, e.g. 2G, 500M or 1048576",
            zh=f"{MAX_MEMBER_ENV}={raw!r} 不是大小；请给出字节数，如 2G、500M 或 1048576",
        )
    return int(match[1]) * _UNITS[match[2].upper()]


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
            f"{listed(bad)}; refusing to read it — re-create the zip with relative "
            "paths inside one folder",
            zh=f"{where} 中有成员路径会越出解压文件夹：{listed(bad, lang='zh')}；拒绝读取——"
            "请用同一文件夹内的相对路径重新打包",
        )
    _refuse_clashes(archive, [name for _, name in pairs])
    return pairs


def _refuse_clashes(archive: zipfile.ZipFile, names: Iterable[str]) -> None:
    files: set[str] = set()
    folders: set[str] = set()
    twice: list[str] = []
    for name in names:
        parts = PurePosixPath(name.replace("\\", "/")).parts
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if name.endswith(("/", "\\")):
            folders.add("/".join(parts))
        elif "/".join(parts) in files:
            twice.append(name)
        else:
            files.add("/".join(parts))
    clash = sorted(files & folders) + twice
    if clash:
        where = archive.filename or "the archive"
        raise UnsafeArchiveError(
            f"{where} has member names that clash (a file and a folder of the same name, or one "
            f"name twice): {listed(clash)}; refusing to read it — re-create the zip",
            zh=f"{where} 中有重名成员（同名的文件和文件夹，或同一名称出现两次）："
            f"{listed(clash, lang='zh')}；拒绝读取——请重新打包",
        )


def _limits(where: object, infos: list[tuple[zipfile.ZipInfo, str]], cap: int, dest: Path) -> None:
    big = [f"{name} ({info.file_size} bytes)" for info, name in infos if info.file_size > cap]
    if big:
        raise UnsafeArchiveError(
            f"{where} has members larger than the {cap}-byte cap: {listed(big)}; "
            f"refusing to extract them — set {MAX_MEMBER_ENV} (e.g. {MAX_MEMBER_ENV}=8G) if "
            "they are genuine",
            zh=f"{where} 中有成员超过 {cap} 字节上限：{listed(big, lang='zh')}；拒绝解压——"
            f"如确属正常，请设置 {MAX_MEMBER_ENV}（如 {MAX_MEMBER_ENV}=8G）",
        )
    total = sum(info.file_size for info, _ in infos)
    free = shutil.disk_usage(dest).free
    if total > free:
        raise DataSourceError(
            f"{where} needs {total} bytes to extract, but only {free} are free in {dest}; "
            "free some space or set TMPDIR to a folder on a larger disk",
            zh=f"解压 {where} 需要 {total} 字节，但 {dest} 只剩 {free} 字节；"
            "请清理磁盘空间，或把 TMPDIR 设为更大磁盘上的文件夹",
        )


def _copy_capped(src: IO[bytes], dst: IO[bytes], cap: int, where: str) -> None:
    written = 0
    while chunk := src.read(1024 * 1024):
        written += len(chunk)
        if written > cap:  # the header under-stated the size
            raise UnsafeArchiveError(
                f"{where} expands past the {cap}-byte cap; refusing to extract it — set "
                f"{MAX_MEMBER_ENV} if it is genuine",
                zh=f"{where} 解压后超过 {cap} 字节上限；拒绝解压——如确属正常，请设置 "
                f"{MAX_MEMBER_ENV}",
            )
        dst.write(chunk)


def extract_zip(
    path: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    members: Iterable[str] | None = None,
    max_member_bytes: int | str | None = None,
) -> Path:
    """Extract a zip (or only ``members``, decoded names) into ``dest``; return ``dest``.

    Parameters
    ----------
    path, dest : path-like
        The zip and the folder to extract into.
    members : iterable of str, optional
        Decoded member names to extract (:func:`zip_datasets` gives them); default all.
    max_member_bytes : int or str, optional
        Size cap of one member (:func:`member_cap`; default 2 GiB).

    Raises
    ------
    DataSourceError
        When the file is not a readable zip, or the members do not fit the free space.
    UnsafeArchiveError
        When a member path would escape ``dest``, names clash or a member is over the cap.
    """
    out = Path(dest)
    cap = member_cap(max_member_bytes)
    try:
        with zipfile.ZipFile(path) as archive:
            pairs = member_names(archive)
            if members is not None:
                wanted = set(members)
                pairs = [(info, name) for info, name in pairs if name in wanted]
            _limits(path, pairs, cap, out)
            for info, name in pairs:
                target = out.joinpath(*PurePosixPath(name.replace("\\", "/")).parts)
                if info.is_dir() or name.endswith(("/", "\\")):
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, target.open("wb") as dst:
                    _copy_capped(src, dst, cap, f"{path}!{name}")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise DataSourceError(
            f"{path} is not a readable zip archive ({exc}); re-create it",
            zh=f"{path} 不是可读的 zip 压缩包（{exc}）；请重新打包",
        ) from exc
    return out


def _dataset_of(name: str) -> str | None:
    """Return the dataset a member belongs to as a path inside the zip (or None)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if any(p.startswith("__MACOSX") for p in parts):
        return None
    for i, part in enumerate(parts[:-1]):
        if part.lower().endswith(".gdb"):
            return "/".join(parts[: i + 1])
    if name.endswith(("/", "\\")) or not parts:
        return None
    return "/".join(parts) if parts[-1].lower().endswith(DATASET_SUFFIXES) else None


def zip_datasets(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Return the vector datasets of a zip (path inside it → the members it needs), sorted.

    Read from the member names only, nothing is extracted. A Shapefile needs its sidecars
    (same folder and stem: ``.shx .dbf .prj .cpg …``), a ``.gdb`` folder all it holds.

    Raises
    ------
    DataSourceError, UnsafeArchiveError
        As :func:`extract_zip`, for an unreadable zip or unsafe or clashing names.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = [name for _, name in member_names(archive)]
    except zipfile.BadZipFile as exc:
        raise DataSourceError(
            f"{path} is not a readable zip archive ({exc}); re-create it",
            zh=f"{path} 不是可读的 zip 压缩包（{exc}）；请重新打包",
        ) from exc
    found: dict[str, list[str]] = {}
    for name in names:
        owner = _dataset_of(name)
        if owner is not None:
            found.setdefault(owner, [])
    for dataset in found:
        stem = dataset[: -len(".shp")].lower() + "." if dataset.lower().endswith(".shp") else None
        found[dataset] = [
            n
            for n in names
            if n.replace("\\", "/") == dataset
            or n.replace("\\", "/").startswith(dataset + "/")
            or (stem is not None and n.replace("\\", "/").lower().startswith(stem)
                and "/" not in n.replace("\\", "/")[len(stem):])
        ]  # fmt: skip
    return dict(sorted(found.items()))


@contextlib.contextmanager
def extracted(
    path: str | os.PathLike[str],
    *,
    members: Iterable[str] | None = None,
    max_member_bytes: int | str | None = None,
) -> Iterator[Path]:
    """Yield a temporary folder holding the zip's contents (or ``members``); remove it after."""
    tmp = Path(tempfile.mkdtemp(prefix="linyuan-zip-"))
    try:
        yield extract_zip(path, tmp, members=members, max_member_bytes=max_member_bytes)
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
