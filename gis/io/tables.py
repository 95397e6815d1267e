"""Tables for people: XLSX (openpyxl) and CSV that Excel on Chinese Windows opens correctly.

- Headers: a mapping canonical name → display name (e.g. the catalog's Chinese names) renames
  columns; columns not in it keep their names.
- Geometry is never written as an object: it is dropped, or given as ``wkt`` (in the frame's
  CRS) and/or ``lon``/``lat`` columns in EPSG:4490 (CGCS2000) — a point's own position, the
  centroid of a polygon (a point on its surface when the centroid falls outside), the
  midpoint of a line. This is the only table with lon/lat (for phone apps).
- XLSX: numbers stay numbers, booleans booleans (是/否 with ``lang="zh"``), dates Excel dates
  (time zones dropped, the wall-clock time kept) shown ``yyyy-mm-dd`` — with ``hh:mm`` where a
  column has a time of day; decimals shown rounded to two places (lon/lat to seven), the
  stored value unrounded; text starting with ``=`` stays text (never a formula); a bold, frozen
  header row with an auto-filter; column widths from the content (a Chinese character counts
  two); summary frames go to further sheets (a non-default index is written as columns).
- CSV: UTF-8 with a BOM (``utf-8-sig``), so Excel shows Chinese text instead of mojibake.
- Lists and dicts become JSON text. Every file is written to a temporary path and renamed.
"""

from __future__ import annotations

import functools
import math
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gis.crs import CGCS2000, require_crs
from gis.errors import DataSourceError, SchemaError
from gis.findings import Findings
from gis.io._atomic import atomic_path
from gis.io.formats import json_text

if TYPE_CHECKING:  # openpyxl is imported only where an XLSX is written (~0.07 s of import)
    from openpyxl import Workbook
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

XLSX_MAX_ROWS = 1_048_576
SHEET_NAME_CHARS = 31
WIDTH_MIN, WIDTH_MAX = 6, 60
WIDTH_SAMPLE_ROWS = 2_000
LONLAT_DECIMALS = 7
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DECIMAL_FORMAT = "#,##0.00"
LONLAT_FORMAT = "0.0000000"
YES_NO = {"zh": ("否", "是")}
"""Booleans as words in an XLSX of this language (False, True); other languages keep TRUE/FALSE."""
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _label_points(geoms: np.ndarray) -> np.ndarray:
    """Return one point per geometry: itself, line midpoint, or polygon centroid/inside."""
    points = shapely.centroid(geoms)
    kind = shapely.get_type_id(geoms)
    lines = np.isin(kind, (1, 2, 5))
    if lines.any():
        points[lines] = shapely.line_interpolate_point(geoms[lines], 0.5, normalized=True)
    polys = np.isin(kind, (3, 6)) & ~shapely.is_empty(geoms)
    outside = polys & ~shapely.intersects(geoms, points)
    if outside.any():
        points[outside] = shapely.point_on_surface(geoms[outside])
    return points


def lonlat_columns(frame: Any) -> pd.DataFrame:
    """Return ``lon``/``lat`` (EPSG:4490, degrees) of each feature's label point.

    Parameters
    ----------
    frame : GeoDataFrame
        Features in any CRS (a metric one gives true centroids).

    Returns
    -------
    DataFrame
        Columns ``lon`` and ``lat``, 7 decimals (≈ 1 cm), the frame's index; NaN for
        features without geometry.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame(geometry=[shapely.box(500_000, 4_850_000, 500_100, 4_850_100)],
    ...                      crs=4551)
    >>> lonlat_columns(g).round(4).values.tolist()
    [[126.0006, 43.786]]
    """
    crs = require_crs(frame.crs, "the frame (lon/lat columns need its CRS)")
    geoms = np.asarray(frame.geometry.values)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    lon, lat = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
    if present.any():
        points = _label_points(geoms[present])
        to_ll = Transformer.from_crs(crs, CGCS2000, always_xy=True)
        lon[present], lat[present] = to_ll.transform(shapely.get_x(points), shapely.get_y(points))
    out = pd.DataFrame({"lon": lon, "lat": lat}, index=frame.index)
    return out.round(LONLAT_DECIMALS)


def distinct_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return ``headers`` (column → header) with every header that is shared made unique.

    Two columns can carry one national name (an input field and the check's own column);
    a table needs them apart, so a shared header gets its column name: ``面积 [area_ha]``.

    Examples
    --------
    >>> distinct_headers({"a": "面积", "b": "面积", "c": "编号"})
    {'a': '面积 [a]', 'b': '面积 [b]', 'c': '编号'}
    """
    counts = Counter(headers.values())
    return {c: (h if counts[h] == 1 else f"{h} [{c}]") for c, h in headers.items()}


def to_table(
    frame: pd.DataFrame,
    *,
    headers: Mapping[str, str] | None = None,
    lonlat: bool = False,
    wkt: bool = False,
) -> pd.DataFrame:
    """Return ``frame`` as a plain table: geometry dropped or as text/lon-lat, headers renamed.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        What to tabulate.
    headers : mapping of str to str, optional
        Column name → header (e.g. ``{"area_mu": "面积（亩）"}``); also applies to ``lon``,
        ``lat`` and ``wkt``.
    lonlat : bool
        Add ``lon``/``lat`` in EPSG:4490 (see :func:`lonlat_columns`).
    wkt : bool
        Add the geometry as ``wkt`` in the frame's own CRS.

    Raises
    ------
    SchemaError
        When renaming makes two headers equal, or lon/lat/WKT is asked of a frame without
        geometry.

    Examples
    --------
    >>> to_table(pd.DataFrame({"area_mu": [15.0]}), headers={"area_mu": "面积（亩）"})
       面积（亩）
    0   15.0
    """
    geom = getattr(frame, "_geometry_column_name", None)
    has_geom = geom is not None and geom in frame.columns
    if (lonlat or wkt) and not has_geom:
        raise SchemaError(
            "lon/lat or WKT columns need a GeoDataFrame with geometry",
            zh="经纬度或 WKT 列需要带几何的图层",
        )
    table = pd.DataFrame(frame.drop(columns=geom) if has_geom else frame)
    if wkt:
        table["wkt"] = shapely.to_wkt(np.asarray(frame.geometry.values), rounding_precision=-1)
    if lonlat:
        table = table.join(lonlat_columns(frame))
    table = table.rename(columns=dict(headers or {}))
    dupes = sorted({str(c) for c in table.columns[table.columns.duplicated()]})
    if dupes:
        raise SchemaError(
            f"headers {', '.join(dupes)} appear more than once after renaming; give each "
            "column its own header",
            zh=f"改名后表头 {', '.join(dupes)} 出现不止一次；请给每列不同的表头",
        )
    return table


def _cell(value: Any) -> Any:
    """Return ``value`` as something openpyxl stores with the right Excel type."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, (bool, int, date)):
        return value
    return _XLSX_ILLEGAL.sub("", str(json_text(value)))


def _width(value: Any) -> int:
    text = str(value) if value is not None else ""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _column_widths(header: list[str], rows: list[list[Any]]) -> list[float]:
    sample = rows[:WIDTH_SAMPLE_ROWS]
    widths = []
    for j, name in enumerate(header):
        longest = max([_width(name)] + [_width(r[j]) for r in sample])
        widths.append(float(min(max(longest + 2, WIDTH_MIN), WIDTH_MAX)))
    return widths


def _check_sheet_name(name: str, taken: set[str]) -> None:
    problem = None
    if not name or len(name) > SHEET_NAME_CHARS:
        problem = f"must have 1-{SHEET_NAME_CHARS} characters"
    elif _SHEET_BAD.search(name):
        problem = "may not contain [ ] : * ? / \\"
    elif name.lower() in taken:
        problem = "is used twice"
    if problem:
        raise SchemaError(
            f"sheet name {name!r} {problem}; choose another sheet or summary name",
            zh=f"工作表名 {name!r} 不可用（{problem}）；请换一个工作表名",
        )
    taken.add(name.lower())


def _column_format(col: pd.Series, *, lonlat: bool) -> str | None:
    """Return the Excel number format of a column: dates, decimals; None for the rest."""
    if col.dtype.kind == "f":
        return LONLAT_FORMAT if lonlat else DECIMAL_FORMAT
    values = col.dropna()
    if col.dtype.kind == "M" or (
        col.dtype == object and len(values) and all(isinstance(v, date) for v in values)
    ):
        stamps = pd.to_datetime(values.map(_cell).dropna())
        return DATE_FORMAT if bool((stamps == stamps.dt.normalize()).all()) else DATETIME_FORMAT
    return None


def _styled(new_cell: Callable[..., Any], value: Any, number_format: str | None) -> Any:
    """Return ``value`` as a cell: text never a formula, numbers and dates in their format.

    ``new_cell(value=…)`` makes a cell of the sheet (openpyxl's ``WriteOnlyCell``).
    """
    if isinstance(value, str) and value.startswith("="):
        cell = new_cell(value=value)
        cell.data_type = "s"  # text, never a formula
        return cell
    if number_format is None or value is None or isinstance(value, (bool, str)):
        return value
    cell = new_cell(value=value)
    cell.number_format = number_format
    return cell


def _shown(value: Any, number_format: str | None) -> Any:
    """Return roughly what Excel shows for ``value`` (for column widths)."""
    if isinstance(value, float) and number_format == DECIMAL_FORMAT:
        return f"{value:,.2f}"
    if isinstance(value, date) and number_format == DATE_FORMAT:
        return value.strftime("%Y-%m-%d")
    return value


def _sheet_rows(
    ws: WriteOnlyWorksheet, table: pd.DataFrame, *, lang: str | None, lonlat: set[str]
) -> tuple[list[list[Any]], list[list[Any]]]:
    """Return the rows as cells for the sheet, and as the values shown (for the widths)."""
    formats = [_column_format(table[c], lonlat=str(c) in lonlat) for c in table.columns]
    words = YES_NO.get(lang or "")
    columns = [table[c].astype(object).tolist() for c in table.columns]
    values = [[_cell(v) for v in row] for row in zip(*columns, strict=True)]
    if words:
        values = [[words[v] if isinstance(v, bool) else v for v in row] for row in values]
    from openpyxl.cell import WriteOnlyCell  # deferred with openpyxl (see the imports)

    new_cell = functools.partial(WriteOnlyCell, ws)
    cells = [[_styled(new_cell, v, f) for v, f in zip(row, formats, strict=True)] for row in values]
    shown = [[_shown(v, f) for v, f in zip(row, formats, strict=True)] for row in values]
    return cells, shown


def _add_sheet(
    wb: Workbook,
    name: str,
    table: pd.DataFrame,
    *,
    lang: str | None = None,
    lonlat: set[str] | None = None,
) -> None:
    if len(table) >= XLSX_MAX_ROWS:
        raise SchemaError(
            f"sheet {name!r} has {len(table)} rows; Excel holds {XLSX_MAX_ROWS - 1} below the "
            "header. Write CSV or GeoPackage instead, or split the table",
            zh=f"工作表 {name!r} 有 {len(table)} 行，Excel 表头下最多 {XLSX_MAX_ROWS - 1} 行；"
            "请改写 CSV 或 GeoPackage，或拆分表格",
        )
    from openpyxl.cell import WriteOnlyCell  # deferred with openpyxl (see the imports)
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title=name)
    header = [str(c) for c in table.columns]
    rows, shown = _sheet_rows(ws, table, lang=lang, lonlat=lonlat or set())
    for j, width in enumerate(_column_widths(header, shown), start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = "A2"
    if header:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(rows) + 1}"
    bold = Font(bold=True)
    cells = []
    for text in header:
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        cell.data_type = "s"
        cells.append(cell)
    ws.append(cells)
    for row in rows:
        ws.append(row)


def _summary_table(frame: pd.DataFrame, headers: Mapping[str, str] | None) -> pd.DataFrame:
    table = frame
    if not isinstance(table.index, pd.RangeIndex) or table.index.name is not None:
        table = table.reset_index()
    if isinstance(table.columns, pd.MultiIndex):
        table.columns = [" / ".join(str(p) for p in c if str(p)) for c in table.columns]
    return to_table(table, headers=headers)


def _write_xlsx(
    tmp: Path,
    table: pd.DataFrame,
    *,
    sheet_name: str,
    summary: Mapping[str, pd.DataFrame],
    headers: Mapping[str, str] | None,
    lang: str | None,
) -> None:
    taken: set[str] = set()
    _check_sheet_name(sheet_name, taken)
    for name in summary:
        _check_sheet_name(name, taken)
    from openpyxl import Workbook  # deferred (see the imports)

    lonlat = {dict(headers or {}).get(c, c) for c in ("lon", "lat")}
    wb = Workbook(write_only=True)
    _add_sheet(wb, sheet_name, table, lang=lang, lonlat=lonlat)
    for name, frame in summary.items():
        _add_sheet(wb, name, _summary_table(frame, headers), lang=lang)
    wb.save(tmp)


def _write_csv(tmp: Path, table: pd.DataFrame) -> None:
    out = table.copy()
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = out[name].map(json_text)
    out.to_csv(tmp, index=False, encoding="utf-8-sig")


def write_table(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    headers: Mapping[str, str] | None = None,
    sheet_name: str = "数据",
    overwrite: bool = False,
    summary: Mapping[str, pd.DataFrame] | None = None,
    lonlat: bool = False,
    wkt: bool = False,
    findings: Findings | None = None,
    lang: str | None = None,
) -> Path:
    """Write a table as XLSX or CSV (by the suffix), atomically.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        The main table; geometry is dropped unless ``lonlat``/``wkt`` ask for it as columns.
    path : path-like
        ``.xlsx`` or ``.csv``.
    headers : mapping of str to str, optional
        Column name → header shown (e.g. Chinese names from the catalog); applied to the
        summary sheets too.
    sheet_name : str
        Name of the main sheet (XLSX).
    overwrite : bool
        Replace an existing file.
    summary : mapping of str to DataFrame, optional
        Sheet name → further table (XLSX only), e.g. counts and 亩 by district × legality.
    lonlat : bool
        Add ``lon``/``lat`` columns in EPSG:4490 (see :func:`lonlat_columns`).
    wkt : bool
        Add the geometry as WKT in the frame's CRS.
    findings : Findings, optional
        Receives ``geometry_dropped`` when a geometry column is left out.
    lang : {"zh", "en"}, optional
        XLSX only: ``zh`` writes booleans as 是/否; otherwise they stay Excel TRUE/FALSE.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    DataSourceError
        The suffix is neither ``.xlsx`` nor ``.csv``, or ``summary`` is given for CSV.
    SchemaError
        Duplicate headers, bad sheet names, or more rows than Excel holds.
    OutputExistsError
        The output exists and ``overwrite`` is false.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise DataSourceError(
            f"cannot write {target} as a table: use a .xlsx or .csv suffix",
            zh=f"无法把 {target} 写成表格：请用 .xlsx 或 .csv 后缀",
        )
    if suffix == ".csv" and summary:
        raise DataSourceError(
            f"cannot write summary sheets to {target}: CSV holds one table; write .xlsx, "
            "or each summary to its own CSV",
            zh=f"无法把汇总表写入 {target}：CSV 只能存一张表；"
            "请写 .xlsx，或把每张汇总表各写一个 CSV",
        )
    table = to_table(frame, headers=headers, lonlat=lonlat, wkt=wkt)
    _note_geometry_dropped(frame, target, findings, kept=lonlat or wkt)
    with atomic_path(target, overwrite=overwrite) as tmp:
        if suffix == ".csv":
            _write_csv(tmp, table)
        else:
            _write_xlsx(
                tmp,
                table,
                sheet_name=sheet_name,
                summary=summary or {},
                headers=headers,
                lang=lang,
            )
    return target


def _note_geometry_dropped(
    frame: pd.DataFrame, target: Path, findings: Findings | None, *, kept: bool
) -> None:
    geom = getattr(frame, "_geometry_column_name", None)
    if findings is None or kept or geom is None or geom not in frame.columns:
        return
    findings.add(
        "geometry_dropped",
        f"{target.name} is a table: the geometry was left out (pass lonlat=True or wkt=True "
        "to keep positions as columns)",
        severity="info",
        source=str(target),
        zh=f"{target.name} 是表格：未写出几何（如需以列保留位置，请传 lonlat=True 或 wkt=True）",
    )
