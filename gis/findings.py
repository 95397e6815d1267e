"""Findings: data problems reported, not raised.

A check or a reader returns (or collects) :class:`Finding` objects; the CLI prints them,
writes them to a ``findings`` table, and exits 1 when any has severity ``error``.

Examples
--------
>>> log = Findings()
>>> _ = log.add("encoding", "decided GBK from the DBF language driver", source="a.shp")
>>> _ = log.add("missing_field", "required field patch_id is missing", severity="error")
>>> len(log), log.has_errors
(2, True)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from gis.enums import ParamEnum

logger = logging.getLogger(__name__)


class Severity(ParamEnum):
    """How serious a finding is: ``info`` < ``warning`` < ``error``."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    """One data problem or decision worth telling the user.

    Parameters
    ----------
    code : str
        Stable machine-readable code, e.g. ``"crs_guessed"`` or ``"invalid_geometry"``.
    message : str
        What happened and what to do about it, in plain words.
    severity : Severity
        ``info``, ``warning`` or ``error``.
    source : str, optional
        File (and layer) the finding is about.
    feature : str, optional
        Feature id or row number.
    field : str, optional
        Field name.
    """

    code: str
    message: str
    severity: Severity = Severity.WARNING
    source: str | None = None
    feature: str | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as a plain dict (severity as its string value)."""
        d = asdict(self)
        d["severity"] = str(self.severity)
        return d


FINDING_COLUMNS = ("severity", "code", "message", "source", "feature", "field")


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
    ) -> Finding:
        """Create a finding, append it and log it; return it."""
        finding = Finding(
            code=code,
            message=message,
            severity=Severity.get(severity),
            source=None if source is None else str(source),
            feature=None if feature is None else str(feature),
            field=field,
        )
        self.append(finding)
        level = {
            Severity.INFO: logging.INFO,
            Severity.WARNING: logging.WARNING,
            Severity.ERROR: logging.ERROR,
        }
        logger.log(level[finding.severity], "%s: %s", code, message)
        return finding

    @property
    def has_errors(self) -> bool:
        """Whether any finding has severity ``error``."""
        return any(f.severity is Severity.ERROR for f in self)

    def of(self, code: str) -> list[Finding]:
        """Return the findings with the given code."""
        return [f for f in self if f.code == code]

    def to_frame(self) -> pd.DataFrame:
        """Return the findings as a DataFrame with :data:`FINDING_COLUMNS`."""
        rows = [f.to_dict() for f in self]
        return pd.DataFrame(rows, columns=list(FINDING_COLUMNS))

    @classmethod
    def collect(cls, items: Iterable[Finding]) -> Findings:
        """Return a :class:`Findings` holding ``items``."""
        out = cls()
        out.extend(items)
        return out
