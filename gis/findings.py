"""Findings: data problems reported, not raised.

A check or a reader returns (or collects) :class:`Finding` objects; the CLI prints them,
writes them to a ``findings`` table, and exits 1 when any has severity ``error``.

Every finding carries its text in two languages: ``message`` in English and ``zh`` in Chinese
(user-facing text is Chinese by default, English on request). :meth:`Finding.text` picks one,
falling back to English when a Chinese text is missing; :meth:`Findings.to_frame` writes the
``message`` column in the language asked for plus ``message_en`` always, so an English report
can be rendered from a results file written in Chinese (:func:`message_column` picks it).

Examples
--------
>>> log = Findings()
>>> _ = log.add("encoding", "decided GBK from the DBF language driver", source="a.shp",
...             zh="根据 DBF 语言驱动字节判定为 GBK")
>>> _ = log.add("missing_field", "required field patch_id is missing", severity="error",
...             zh="缺少必填字段 patch_id")
>>> len(log), log.has_errors
(2, True)
>>> log[1].text("zh"), log[1].text("en")
('缺少必填字段 patch_id', 'required field patch_id is missing')
>>> log.to_frame(lang="zh")[["message", "message_en"]].iloc[0].tolist()
['根据 DBF 语言驱动字节判定为 GBK', 'decided GBK from the DBF language driver']
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from gis.enums import Lang, ParamEnum

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


class Severity(ParamEnum):
    """How serious a finding is: ``info`` < ``warning`` < ``error``."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    def label(self, lang: str | Lang = Lang.ZH) -> str:
        """Return the severity as a user reads it: 提示/警告/错误 in Chinese, else the value.

        >>> Severity.ERROR.label(), Severity.ERROR.label("en")
        ('错误', 'error')
        """
        if Lang.get(lang) is Lang.ZH:
            return {"info": "提示", "warning": "警告", "error": "错误"}[self.value]
        return self.value


@dataclass(frozen=True)
class Finding:
    """One data problem or decision worth telling the user.

    Parameters
    ----------
    code : str
        Stable machine-readable code, e.g. ``"crs_guessed"`` or ``"invalid_geometry"``.
    message : str
        What happened and what to do about it, in plain words (English).
    severity : Severity
        ``info``, ``warning`` or ``error``.
    source : str, optional
        File (and layer) the finding is about.
    feature : str, optional
        Feature id or row number.
    field : str, optional
        Field name.
    zh : str, optional
        The same text in Chinese: the bureau's terms, file names, fields and numbers kept
        as they are, and the fix stated as in ``message``.
    """

    code: str
    message: str
    severity: Severity = Severity.WARNING
    source: str | None = None
    feature: str | None = None
    field: str | None = None
    zh: str | None = None

    def text(self, lang: str | Lang = Lang.ZH) -> str:
        """Return the message in ``lang`` (``zh`` or ``en``); English when no Chinese is given."""
        if Lang.get(lang) is Lang.ZH and self.zh:
            return self.zh
        return self.message

    def to_dict(self, *, lang: str | Lang = Lang.ZH) -> dict[str, Any]:
        """Return the finding as a plain dict with :data:`FINDING_COLUMNS` as keys.

        ``message`` is in ``lang``, ``message_en`` always English; severity is its string value.
        """
        d = asdict(self)
        del d["zh"]
        d["severity"] = str(self.severity)
        d["message"] = self.text(lang)
        d["message_en"] = self.message
        return {c: d[c] for c in FINDING_COLUMNS}


FINDING_COLUMNS = ("severity", "code", "message", "message_en", "source", "feature", "field")
"""Columns of a findings table: ``message`` in the table's language, ``message_en`` English."""


def message_column(frame: pd.DataFrame, lang: str | Lang = Lang.ZH) -> pd.Series:
    """Return the findings' text in ``lang`` from a findings table (e.g. read from results).

    ``message`` is the text in the language the table was written in; ``message_en`` (absent
    in files written before it existed) the English one. English asked for → ``message_en``
    where present, else ``message``; Chinese → ``message``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"message": ["坐标系已猜测", "x"], "message_en": ["CRS guessed", None]})
    >>> message_column(t, "en").tolist(), message_column(t, "zh").tolist()
    (['CRS guessed', 'x'], ['坐标系已猜测', 'x'])
    """
    text = frame["message"]
    if Lang.get(lang) is Lang.EN and "message_en" in frame.columns:
        english = frame["message_en"]
        text = english.where(english.notna() & (english.astype(str) != ""), text)
    return text


class Findings(list[Finding]):
    """A list of findings with helpers to add, filter and tabulate them."""

    def add(
        self,
        code: str,
        message: str,
        *,
        severity: str | Severity = Severity.WARNING,
        source: str | None = None,
        feature: Any = None,
        field: str | None = None,
        zh: str | None = None,
    ) -> Finding:
        """Create a finding, append it and log it; return it.

        ``message`` is the English text, ``zh`` the Chinese one (see :class:`Finding`). The
        log record carries the finding as ``record.finding``, so a handler can show it in the
        user's language (the CLI does).
        """
        finding = Finding(
            code=code,
            message=message,
            severity=Severity.get(severity),
            source=None if source is None else str(source),
            feature=None if feature is None else str(feature),
            field=field,
            zh=zh,
        )
        self.append(finding)
        level = {
            Severity.INFO: logging.INFO,
            Severity.WARNING: logging.WARNING,
            Severity.ERROR: logging.ERROR,
        }
        logger.log(level[finding.severity], "%s: %s", code, message, extra={"finding": finding})
        return finding

    @property
    def has_errors(self) -> bool:
        """Whether any finding has severity ``error``."""
        return any(f.severity is Severity.ERROR for f in self)

    def of(self, code: str) -> list[Finding]:
        """Return the findings with the given code."""
        return [f for f in self if f.code == code]

    def to_frame(self, *, lang: str | Lang = Lang.ZH) -> pd.DataFrame:
        """Return the findings as a DataFrame with :data:`FINDING_COLUMNS`.

        ``message`` is in ``lang`` (Chinese by default), ``message_en`` always English.
        """
        import pandas as pd  # deferred: heavy, loaded when the command runs (fast --help)

        rows = [f.to_dict(lang=lang) for f in self]
        return pd.DataFrame(rows, columns=list(FINDING_COLUMNS))

    @classmethod
    def collect(cls, items: Iterable[Finding]) -> Findings:
        """Return a :class:`Findings` holding ``items``."""
        out = cls()
        out.extend(items)
        return out


_GEOS_REASONS_ZH = {
    "Ring Self-intersection": "环自相交",
    "Self-intersection": "自相交",
    "Repeated Point": "重复点",
    "Hole lies outside shell": "内环位于外环之外",
    "Holes are nested": "内环相互嵌套",
    "Interior is disconnected": "内部不连通",
    "Nested shells": "外环相互嵌套",
    "Duplicate Rings": "重复的环",
    "Too few distinct points in geometry component": "几何部件的不同点数过少",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合",
}


def geometry_reason_zh(reason: str) -> str:
    """Return a GEOS validity reason (``shapely.is_valid_reason``) in Chinese, location kept.

    Examples
    --------
    >>> geometry_reason_zh("Self-intersection[459906.3 4854743.7]")
    '自相交[459906.3 4854743.7]'
    >>> geometry_reason_zh("Ring Self-intersection[1 2]"), geometry_reason_zh("odd")
    ('环自相交[1 2]', 'odd')
    """
    for english, chinese in _GEOS_REASONS_ZH.items():
        if reason.startswith(english):
            return chinese + reason[len(english) :]
    return reason
