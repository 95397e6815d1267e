"""Read Excel workbooks as offices fill them: a title row above the header, blank rows below.

A province's hotspot sheet or a lab's 检测结果 workbook often starts with a title merged across
the columns (``松材线虫病检测结果报告单``) and ends with rows that are formatted but empty;
:func:`read_workbook` finds each sheet's header and leaves both out. Every cell is text, as
the callers coerce values themselves.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pandas as pd

from gis.errors import DataSourceError

__all__ = ["drop_blank_rows", "read_workbook"]


def drop_blank_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` without the rows whose every cell is missing or blank text.

    Examples
    --------
    >>> t = pd.DataFrame({"a": ["1", "", None], "b": ["x", " ", None]})
    >>> drop_blank_rows(t)["a"].tolist()
    ['1']
    """
    blank = table.apply(lambda col: col.isna() | col.astype(str).str.strip().eq(""))
    return table[~blank.all(axis=1)].copy()


def _is_number(value: object) -> bool:
    try:
        float(str(value).replace(",", ""))
    except ValueError:
        return False
    return True


def _sub_header(header: pd.Series, below: pd.Series) -> bool:
    """Whether ``below`` names the columns under a merged header cell (坐标 over 经度, 纬度).

    It does when it fills a cell the header left empty (the merged cell's span) and holds
    words only, no numbers.
    """
    filled = below.notna()
    spans = (filled & header.isna()).any()
    return bool(spans) and not any(_is_number(v) for v in below[filled])


def _headed(raw: pd.DataFrame) -> pd.DataFrame:
    """Return the table below a sheet's header: the first row with two or more filled cells.

    A title merged across the columns fills one cell; a one-column sheet has its header in
    its first filled row. A header of two rows (坐标 merged over 经度 and 纬度) takes its
    names from the lower row where it has them.
    """
    rows = drop_blank_rows(raw)
    if rows.empty:
        return pd.DataFrame()
    filled = rows.notna().sum(axis=1)
    at = filled.index[filled >= 2][0] if (filled >= 2).any() else rows.index[0]
    names = raw.loc[at]
    after = rows.index[rows.index > at]
    if len(after) and _sub_header(names, rows.loc[after[0]]):
        names = rows.loc[after[0]].fillna(names)
        at = after[0]
    header = [str(v).strip() if pd.notna(v) else f"column_{i + 1}" for i, v in enumerate(names)]
    body = rows.loc[rows.index > at].set_axis(header, axis=1)
    named = [c for c in body.columns if not c.startswith("column_") or body[c].notna().any()]
    return body[named].reset_index(drop=True)


def read_workbook(
    path: str | os.PathLike[str], *, label: str | None = None
) -> dict[str, pd.DataFrame]:
    """Read every sheet of an ``.xlsx`` workbook as text, each from its header row down.

    Parameters
    ----------
    path : path-like
        The workbook.
    label : str, optional
        How errors name the file (a zip member by its zip); the path by default.

    Returns
    -------
    dict of str to pandas.DataFrame
        Sheet name → its table (empty for an empty sheet), cells as text (``None`` when empty).

    Raises
    ------
    DataSourceError
        When the file is not a readable workbook.
    """
    name = label or str(path)
    try:
        sheets = pd.read_excel(Path(path), sheet_name=None, header=None, dtype=str)
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
        raise DataSourceError(
            f"{name} is not a readable Excel workbook ({type(exc).__name__}: {exc}); open "
            "it in Excel and save it again as .xlsx",
            zh=f"{name} 不是可读的 Excel 工作簿（{type(exc).__name__}: {exc}）；"
            "请用 Excel 打开后另存为 .xlsx",
        ) from exc
    return {str(sheet): _headed(raw) for sheet, raw in sheets.items()}
