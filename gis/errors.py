"""Linyuan's exceptions: one root, typed children, messages a person can act on.

Every message names what was being read (file, layer, feature or field), what is wrong,
and the fix (the flag to pass or the other call that may have been meant). Data-quality
problems that do not stop the work are findings (:mod:`gis.findings`), not exceptions.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable


class GisError(Exception):
    """Root of every error Linyuan raises on purpose.

    Like a :class:`~gis.findings.Finding`, an error carries its text in two languages: the
    message (English, ``str(exc)``) and ``zh=`` (Chinese); :meth:`text` picks one, falling
    back to English when no Chinese was given. The command line shows ``text`` in the
    language of ``--lang``.

    Examples
    --------
    >>> exc = DataSourceError("a.shp does not exist", zh="a.shp 不存在")
    >>> exc.text("zh"), exc.text("en"), str(exc)
    ('a.shp 不存在', 'a.shp does not exist', 'a.shp does not exist')
    """

    def __init__(self, *args: object, zh: str | None = None) -> None:
        super().__init__(*args)
        self.zh = zh

    def text(self, lang: str = "zh") -> str:
        """Return the message in ``lang`` (``zh`` or ``en``); English when no Chinese is given."""
        if str(lang) == "zh" and self.zh:
            return self.zh
        return str(self)


class CRSError(GisError, ValueError):
    """A coordinate reference system is missing, unknown or not usable here."""


class CRSMismatchError(CRSError):
    """Two inputs of one computation are in different coordinate reference systems."""


class DataSourceError(GisError, OSError):
    """A file or database cannot be opened or read as a layer or raster."""


class SchemaError(GisError, ValueError):
    """A layer lacks required fields or has fields of the wrong kind."""


class NoGeometryError(DataSourceError):
    """A layer was asked for, but what the source holds under that name is a table without geometry.

    Callers that read tables and layers alike (the report) catch it and read the table with
    :func:`gis.io.read_table`.
    """


class EncodingError(DataSourceError):
    """The text encoding of an attribute table cannot be decided."""


class RasterError(GisError, ValueError):
    """A raster does not fit the task (bands, sensor, grid, overlap)."""


class OutputExistsError(GisError, FileExistsError):
    """An output file exists and ``overwrite`` was not requested."""


class UnsafeArchiveError(DataSourceError):
    """A zip archive has member paths that would escape the extraction folder."""


class RulesError(GisError, ValueError):
    """A rules or targets file is malformed: unknown key, missing value, wrong type."""


class OptionError(GisError, ValueError):
    """A string option (language, sensor, engine, grouping …) has a value outside its list."""


class ConflictingOptionsError(OptionError):
    """Two options that say the same thing differently (``--bands`` with ``--after-bands``).

    The command line shows it as a usage error (exit 2), not as an unusable input.
    """


class OutputError(GisError, OSError):
    """An output cannot be written: read-only, no permission, disk full, another filesystem."""


_OS_REASONS = {
    errno.EROFS: ("the filesystem is read-only", "文件系统为只读"),
    errno.EACCES: ("permission denied", "没有写入权限"),
    errno.EPERM: ("operation not permitted", "操作不被允许"),
    errno.ENOSPC: ("the disk is full", "磁盘已满"),
    errno.EDQUOT: ("the disk quota is exceeded", "磁盘配额已用完"),
    errno.EXDEV: ("it is on another filesystem (cross-device rename)", "目标位于另一文件系统"),
    errno.ENOENT: ("a folder on the path does not exist", "路径中的文件夹不存在"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "路径中有一段是文件而不是文件夹"),
    errno.EISDIR: ("it is a folder", "该路径是文件夹"),
    errno.ENAMETOOLONG: ("the file name is too long", "文件名过长"),
}

_FREE = ("free some space or write to another disk", "请清理磁盘空间或写到另一块磁盘")
_OS_FIXES = {
    errno.ENOSPC: _FREE,
    errno.EDQUOT: _FREE,
    errno.EXDEV: (
        "write the outputs to one folder on the same disk",
        "请把输出写到同一磁盘的同一文件夹",
    ),
}
_WRITABLE = ("choose a writable output folder (--out)", "请换一个可写的输出文件夹（--out）")


def os_reason(exc: OSError) -> tuple[str, str]:
    """Return what an OS error means in English and Chinese (``strerror`` when unlisted).

    Examples
    --------
    >>> os_reason(OSError(errno.ENOSPC, "No space left on device"))[0]
    'the disk is full'
    """
    if exc.errno in _OS_REASONS:
        return _OS_REASONS[exc.errno]
    text = exc.strerror or str(exc)
    return text, text


def output_error(exc: OSError, path: object) -> OutputError:
    """Return an :class:`OutputError` naming ``path`` and what the OS error means.

    Examples
    --------
    >>> str(output_error(OSError(errno.EROFS, "Read-only file system"), "/mnt/r.gpkg"))[:53]
    'cannot write /mnt/r.gpkg: the filesystem is read-only'
    """
    en, zh = os_reason(exc)
    where = exc.filename if path is None else path
    fix, fix_zh = _OS_FIXES.get(exc.errno or 0, _WRITABLE)
    return OutputError(f"cannot write {where}: {en}; {fix}", zh=f"无法写入 {where}：{zh}；{fix_zh}")


def listed(items: Iterable[object], first: int = 5, lang: str = "en") -> str:
    """Return the first ``first`` items of a message's list, then how many there are in all.

    Examples
    --------
    >>> listed(["a", "b"]), listed(range(8), 3), listed(range(8), 3, lang="zh")
    ('a, b', '0, 1, 2 … (8 in all)', '0、1、2 …（共 8 个）')
    """
    names = [str(item) for item in items]
    shown = ("、" if lang == "zh" else ", ").join(names[:first])
    if len(names) <= first:
        return shown
    return shown + (f" …（共 {len(names)} 个）" if lang == "zh" else f" … ({len(names)} in all)")


_SHELL_SPECIAL = frozenset(" \t&()[]{};'$`!^%<>|")


def shell_arg(path: object) -> str:
    """Return ``path`` as one argument of a suggested command, double-quoted when it needs it.

    Folders on office PCs hold spaces (``林业 数据``); a command copied from a message must
    still run. Double quotes work in ``cmd.exe``, PowerShell and POSIX shells alike.

    Examples
    --------
    >>> shell_arg("/d/gk.shp"), shell_arg("/d/林业 数据/gk.shp")
    ('/d/gk.shp', '"/d/林业 数据/gk.shp"')
    """
    text = str(path)
    return f'"{text}"' if any(c in text for c in _SHELL_SPECIAL) else text


def yaml_where_zh(exc: Exception) -> str:
    """Return where a YAML parse error is, in Chinese (``（第 3 行第 5 列）``), or ``""``.

    The English text of a PyYAML error names the line and column itself; a Chinese message
    quotes only the place, so it reads as one language.

    Examples
    --------
    >>> class Mark:
    ...     line, column = 2, 4
    >>> exc = ValueError("bad"); exc.problem_mark = Mark()
    >>> yaml_where_zh(exc), yaml_where_zh(ValueError("no mark"))
    ('（第 3 行第 5 列）', '')
    """
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return ""
    return f"（第 {mark.line + 1} 行第 {mark.column + 1} 列）"


def unreadable_zh(exc: Exception) -> str:
    """Return why a settings file could not be read, in Chinese: the OS reason or the YAML place.

    Examples
    --------
    >>> unreadable_zh(OSError(errno.ENOENT, "No such file"))
    '路径中的文件夹不存在'
    >>> unreadable_zh(ValueError("mapping values are not allowed here"))
    '不是有效的 YAML'
    """
    if isinstance(exc, OSError):
        return os_reason(exc)[1]
    return f"不是有效的 YAML{yaml_where_zh(exc)}"
