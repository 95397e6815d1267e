"""Value coercion: text, numbers, yes/no (是/否) and dates as the bureau's files write them.

Pure functions of one value, with no catalog: :func:`parse_date` reads ``20230415``,
``2023.10`` or ``2023年4月15日``; the parsers in :data:`VALUE_PARSERS` turn a value into its
:class:`FieldType` or :data:`UNPARSED`. :func:`gis.layers.coerce_field` applies them to a column.
"""

from __future__ import annotations

import datetime
import enum
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from gis.layers.names import normalize_name


class FieldType(enum.StrEnum):
    """Attribute types a catalog field may have."""

    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    DATE = "date"
    BOOL = "bool"


_DATE_PATTERNS = (
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
    re.compile(r"^(?P<y>\d{4})[-./年](?P<m>\d{1,2})[-./月](?P<d>\d{1,2})日?(?:[T ].*)?$"),
    re.compile(r"^(?P<y>\d{4})[-./年](?P<m>\d{1,2})月?$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})$"),
)
_TRUE = frozenset({"1", "true", "t", "yes", "y", "是", "对", "√", "有"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "否", "不是", "×", "无"})


YES_NO_WORDS = {"zh": ("否", "是"), "en": ("no", "yes")}
"""How a boolean reads in each language (False, True)."""


def yes_no(value: bool, lang: str = "zh") -> str:
    """Return a boolean as a word: 是/否 in Chinese, yes/no in English.

    Examples
    --------
    >>> yes_no(True), yes_no(False, "en")
    ('是', 'no')
    """
    return YES_NO_WORDS["en" if str(lang) == "en" else "zh"][bool(value)]


class _Unparsed:
    """Marker for a value that could not be converted."""


UNPARSED: Any = _Unparsed()


def is_missing(value: Any) -> bool:
    """Return whether a value is missing (None, NaN, NaT, pandas NA); text never is."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def as_text(value: Any) -> str | None:
    """Text of a value: integral floats lose their ``.0``; strings are NFKC-trimmed."""
    if is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value).strip() or None
    return str(value)


EXCEL_EPOCH = pd.Timestamp(1899, 12, 30)
"""Day 0 of Excel's (Windows) date serials: a date cell copied as a number counts from it."""
EXCEL_SERIALS = (18_264, 73_050)
"""Five-digit numbers read as Excel date serials in a date field: 1950-01-01 … 2099-12-31."""


def parse_date(value: Any) -> pd.Timestamp | None:
    """Parse a date from YYYYMMDD, YYYY-MM-DD, YYYY/MM/DD, YYYY.MM(.DD), YYYYMM or a date.

    Month-only values give the first of the month. A five-digit number is an Excel date
    serial (a date cell pasted or joined as a number: 45905 is 2025-09-05). Returns ``None``
    for missing values and :data:`UNPARSED` for values that are not a date.

    Examples
    --------
    >>> str(parse_date("2023.10").date()), str(parse_date(20230415).date())
    ('2023-10-01', '2023-04-15')
    >>> str(parse_date(45905).date()), str(parse_date(45905.0).date())
    ('2025-09-05', '2025-09-05')
    """
    if is_missing(value):
        return None
    if isinstance(value, datetime.date | np.datetime64):
        return pd.Timestamp(value)
    # A DBF numeric 2023.10 arrives as the float 2023.1: keep two decimals for YYYY.MM.
    text = f"{value:.2f}" if isinstance(value, float) and not value.is_integer() else as_text(value)
    if text is None:
        return None
    if text.isdigit() and EXCEL_SERIALS[0] <= int(text) <= EXCEL_SERIALS[1]:
        return EXCEL_EPOCH + pd.Timedelta(days=int(text))
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            parts = match.groupdict()
            try:
                return pd.Timestamp(int(parts["y"]), int(parts["m"]), int(parts.get("d") or 1))
            except ValueError:
                return UNPARSED
    return UNPARSED


def _parse_int(value: Any) -> Any:
    number = _parse_float(value)
    if number is UNPARSED or number is None:
        return number
    fits = float(number).is_integer() and abs(number) < 2**63
    return int(number) if fits else UNPARSED


def _parse_float(value: Any) -> Any:
    if isinstance(value, bool):
        return float(value)
    text = as_text(value)
    if text is None or text == "":
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return UNPARSED


def _parse_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    text = as_text(value)
    if text is None or text == "":
        return None
    key = normalize_name(text)
    return True if key in _TRUE else False if key in _FALSE else UNPARSED


VALUE_PARSERS: dict[str, Callable[[Any], Any]] = {
    FieldType.TEXT: as_text,
    FieldType.INT: _parse_int,
    FieldType.FLOAT: _parse_float,
    FieldType.DATE: parse_date,
    FieldType.BOOL: _parse_bool,
}
VALUE_DTYPES: dict[str, Any] = {
    FieldType.TEXT: "str" if int(pd.__version__.split(".")[0]) >= 3 else object,
    FieldType.INT: "Int64",
    FieldType.FLOAT: "float64",
    FieldType.BOOL: "boolean",
}
