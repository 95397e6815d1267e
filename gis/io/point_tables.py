"""Point tables: CSV and Excel sheets with lon/lat (经度/纬度, x/y) or WKT columns, as points.

:func:`read_csv_points` decodes a CSV (UTF-8, else GB18030, or ``encoding``) and finds its
delimiter; :func:`read_xlsx_points` reads a workbook's one filled sheet or the one named.
Coordinates may be decimal degrees or degrees-minutes-seconds (:mod:`gis.io.degrees`); the
frame has no CRS yet (:func:`gis.io.read_layer` resolves it).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.errors import DataSourceError, EncodingError, SchemaError
from gis.findings import Findings
from gis.io.degrees import parse_degrees
from gis.io.sheets import drop_blank_rows, read_workbook
from gis.io.sources import ReadOptions
from gis.io.vector_fix import find_column
from gis.layers.names import normalize_name

__all__ = ["read_csv_points", "read_xlsx_points"]

_X_NAMES = ("lon", "lng", "long", "longitude", "经度", "东经", "x", "point_x")
_Y_NAMES = ("lat", "latitude", "纬度", "北纬", "y", "point_y")
_UNIT_SUFFIX = re.compile(r"\s*(\([^()]*\)|°|度)$")
"""A unit after a coordinate column's name: 经度(°), 纬度（度）, 经度(E), 经度°."""


def _coordinate_column(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    """Return the column named by one of ``candidates``, full-width forms and a unit allowed."""
    bare = {_UNIT_SUFFIX.sub("", normalize_name(c)): c for c in columns}
    return find_column(columns, candidates) or next(
        (bare[c] for c in candidates if c in bare), None
    )


_WKT_NAMES = ("wkt", "geometry", "geom")


def _csv_text(path: Path, encoding: str | None, log: Findings, label: str) -> str:
    data = path.read_bytes()
    codecs = (encoding,) if encoding else ("utf-8-sig", "gb18030")
    for codec in codecs:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        how = "given" if encoding else "the first of UTF-8, GB18030 that decodes the whole file"
        how_zh = "已指定" if encoding else "UTF-8、GB18030 中第一个能解码整个文件的编码"
        log.add(
            "encoding_decided",
            f"{label}: read as {codec} ({how})",
            severity="info",
            source=label,
            zh=f"{label}：按 {codec} 编码读取（{how_zh}）",
        )
        return text
    raise EncodingError(
        f"{label} decodes neither as {' nor as '.join(codecs)}; pass --encoding",
        zh=f"{label} 既不能按 {'，也不能按 '.join(codecs)} 解码；请用 --encoding 指定编码",
    )


def _delimiter(text: str) -> str:
    """Return the CSV's delimiter: a comma, else the semicolon or tab its header line uses."""
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    if "," in header:
        return ","
    return max((";", "\t", "|"), key=header.count) if any(c in header for c in ";\t|") else ","


def _check_coordinates(
    table: pd.DataFrame, columns: tuple[str, str], values: tuple[Any, Any], label: str
) -> None:
    """Refuse a table whose coordinate column holds values but none of them is a number."""
    for column, parsed in zip(columns, values, strict=True):
        given = table[column].dropna().astype(str).str.strip()
        given = given[given != ""]
        if len(given) and np.isnan(parsed).all():
            raise SchemaError(
                f"{label}: column {column} holds no coordinate Linyuan can read (e.g. "
                f"{given.iloc[0]!r}); write decimal degrees (125.4625) or degrees-minutes-seconds "
                "(125°27′45″)",
                zh=f"{label}：列 {column} 中没有可读的坐标（如 {given.iloc[0]!r}）；请写成十进制度"
                "（125.4625）或度分秒（125°27′45″）",
            )


def read_csv_points(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    findings: Findings | None = None,
    source: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a CSV with lon/lat, x/y (经度/纬度 …) or WKT columns as points, without a CRS.

    Columns other than the coordinates are kept as text (codes keep their leading zeros).
    Rows without coordinates get no geometry (:func:`gis.io.read_layer` drops them with a finding).

    Raises
    ------
    SchemaError
        When no coordinate or WKT column is found; the message lists the columns.
    """
    p = Path(path)
    label = source or str(p)
    log = findings if findings is not None else Findings()
    text = _csv_text(p, encoding, log, label)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, sep=_delimiter(text))
    except pd.errors.EmptyDataError as exc:
        raise DataSourceError(
            f"{label} is empty (no header line, no rows); check that it is the right file",
            zh=f"{label} 是空文件（没有表头也没有数据行）；请确认文件是否正确",
        ) from exc
    return _points(table, label)


def _points(table: pd.DataFrame, label: str) -> gpd.GeoDataFrame:
    """Points of a table's lon/lat (经度/纬度, x/y) or WKT column, without a CRS.

    Rows blank in every cell (Excel's trailing ``,,,`` rows) are not records and are left out.
    """
    table = drop_blank_rows(table)
    columns = [str(c) for c in table.columns]
    wkt = find_column(columns, _WKT_NAMES)
    if wkt is not None:
        geoms = shapely.from_wkt(table.pop(wkt).to_numpy(), on_invalid="ignore")
        return gpd.GeoDataFrame(table, geometry=geoms)
    xcol, ycol = _coordinate_column(columns, _X_NAMES), _coordinate_column(columns, _Y_NAMES)
    if xcol is None or ycol is None:
        raise SchemaError(
            f"{label} has no coordinate columns (lon/lng/longitude/经度/东经/x and lat/latitude/"
            f"纬度/北纬/y) and no WKT column; its columns are: {', '.join(columns)}; rename them",
            zh=f"{label} 没有坐标列（经度/东经/lon/x 与 纬度/北纬/lat/y）也没有 WKT 列；现有列为："
            f"{', '.join(columns)}；请改列名",
        )
    x, y = parse_degrees(table[xcol]), parse_degrees(table[ycol])
    _check_coordinates(table, (xcol, ycol), (x, y), label)
    table[xcol], table[ycol] = x, y
    geoms = shapely.points(x, y)
    geoms[np.isnan(x) | np.isnan(y)] = None
    return gpd.GeoDataFrame(table, geometry=geoms)


def read_xlsx_points(path: Path, opts: ReadOptions) -> gpd.GeoDataFrame:
    """Read an Excel point table (a province's hotspot sheet): its one sheet, or ``layer``.

    A title row above the header and blank rows below the table are left out
    (:func:`gis.io.sheets.read_workbook`).
    """
    sheets = read_workbook(path, label=opts.label)
    filled = [name for name, sheet in sheets.items() if not sheet.empty]
    name = opts.layer or (filled[0] if len(filled) == 1 else None)
    if name not in sheets:
        raise DataSourceError(
            f"{opts.label}: name the sheet to read — its sheets are: {', '.join(sheets)} "
            f"(--layer, or '{opts.label}|layername={next(iter(sheets))}')",
            zh=f"{opts.label}：请指定要读的工作表——其工作表为：{'、'.join(sheets)}"
            f"（--layer，或写作 '{opts.label}|layername={next(iter(sheets))}'）",
        )
    return _points(sheets[name], opts.label)
