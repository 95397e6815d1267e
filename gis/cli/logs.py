"""Log output of the command line: findings shown in the command's ``--lang``.

:meth:`gis.findings.Findings.add` logs every finding with the :class:`~gis.findings.Finding`
attached to the record (``record.finding``); :class:`FindingFormatter` prints its text in the
language chosen with ``--lang`` (:func:`set_lang`, called by the option), Chinese by default.
A stage line logged with a Chinese template (``logger.info("rules", extra={"zh": "规则"})``,
same ``%`` arguments, or ``zh_args`` when given) is printed in Chinese unless ``--lang en``;
other records are printed as their message.

Examples
--------
>>> import logging
>>> from gis.findings import Finding
>>> f = Finding("crs_guessed", "a.shp declares no CRS", zh="a.shp 未声明坐标系")
>>> record = logging.makeLogRecord({"msg": "%s: %s", "args": (f.code, f.message), "finding": f})
>>> set_lang("zh"); FindingFormatter().format(record)
'crs_guessed: a.shp 未声明坐标系'
>>> set_lang("en"); FindingFormatter().format(record)
'crs_guessed: a.shp declares no CRS'
>>> stage = logging.makeLogRecord({"msg": "%d patches", "args": (3,), "zh": "%d 个图斑"})
>>> set_lang("zh"); FindingFormatter().format(stage)
'3 个图斑'
>>> set_lang("zh")
"""

from __future__ import annotations

import logging
from typing import Any

from gis.enums import Lang

_STATE: dict[str, Lang] = {"lang": Lang.ZH}


def set_lang(lang: str | Lang) -> None:
    """Show findings logged from now on in ``lang`` (``zh`` or ``en``)."""
    _STATE["lang"] = Lang.get(lang)


def current_lang() -> Lang:
    """Return the language chosen for this command's messages (Chinese unless ``--lang en``)."""
    return _STATE["lang"]


def error_prefix() -> str:
    """Return the prefix of a fatal error line in the chosen language."""
    return "错误：" if current_lang() is Lang.ZH else "Error: "


def lang_callback(ctx: Any, param: Any, value: str | None) -> str | None:
    """Click callback of ``--lang``: remember the language for the log output."""
    if value is not None:
        set_lang(value)
    return value


class FindingFormatter(logging.Formatter):
    """Format a finding's log record as ``code: text`` in the chosen language."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record's text; a finding's in the language set by :func:`set_lang`."""
        finding = getattr(record, "finding", None)
        if finding is None:
            zh = getattr(record, "zh", None)
            if zh is not None and _STATE["lang"] is Lang.ZH:
                args = getattr(record, "zh_args", record.args)
                record = logging.makeLogRecord({**record.__dict__, "msg": zh, "args": args})
            return super().format(record)
        return f"{finding.code}: {finding.text(_STATE['lang'])}"
