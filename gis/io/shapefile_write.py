"""Shapefile output that ArcGIS 10.x and 奥维互动地图 read correctly, written atomically.

- attributes in GBK with a ``.cpg`` of ``936`` by default; ``encoding="UTF-8"`` writes UTF-8
  with a ``.cpg`` of ``UTF-8``; ``write_cpg=False`` leaves the ``.cpg`` out (a legacy file);
- a field name longer than 10 bytes in the target encoding (a Chinese character is 2 bytes in
  GBK, 3 in UTF-8) is refused with :class:`~gis.errors.SchemaError`, or, with
  ``field_map=True``, shortened on a character boundary (numeric suffix when two collide) and
  listed in a ``<name>.fields.csv`` sidecar (``short_name,full_name``, UTF-8 with BOM) that
  :func:`shapefile_field_map` reads back;
- a text value that the encoding cannot hold, or longer than 254 bytes (the DBF limit), is
  refused with :class:`~gis.errors.EncodingError` / :class:`~gis.errors.SchemaError` naming the
  field and the row — never replaced by ``?`` or cut mid-character;
- datetime columns: DBF has only Date. Columns whose values are all at midnight (and have no
  time zone) become Date fields; others become text ``YYYY-MM-DD HH:MM:SS`` (``+HH:MM`` when
  tz-aware), with an ``datetime_as_text`` finding — the time of day is kept, not dropped.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio.raw
import shapely

from gis.errors import DataSourceError, EncodingError, SchemaError
from gis.findings import Findings
from gis.io._atomic import atomic_fileset, atomic_path
from gis.io.formats import GDAL_ERRORS, geometry_name, json_text

SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
FIELD_MAP_SUFFIX = ".fields.csv"
DBF_NAME_BYTES = 10
DBF_TEXT_BYTES = 254


class ShapefileEncoding(enum.Enum):
    """Attribute encodings for Shapefile output: (Python codec, GDAL name, ``.cpg`` text)."""

    GBK = ("gbk", "CP936", "936")
    UTF8 = ("utf-8", "UTF-8", "UTF-8")

    @property
    def codec(self) -> str:
        """Python codec name."""
        return self.value[0]

    @property
    def gdal(self) -> str:
        """Encoding name passed to GDAL."""
        return self.value[1]

    @property
    def cpg(self) -> str:
        """Text of the ``.cpg`` sidecar."""
        return self.value[2]

    @classmethod
    def get(cls, value: str | ShapefileEncoding) -> ShapefileEncoding:
        """Return the member for ``value`` (GBK, CP936, 936, UTF-8, UTF8; any case).

        Examples
        --------
        >>> ShapefileEncoding.get("cp936").cpg
        '936'
        """
        if isinstance(value, cls):
            return value
        key = str(value).upper().replace("-", "").replace("_", "")
        aliases = {"GBK": cls.GBK, "CP936": cls.GBK, "936": cls.GBK, "UTF8": cls.UTF8}
        if key not in aliases:
            raise ValueError(
                f"unknown Shapefile encoding {value!r}; valid values: GBK (default, .cpg 936, "
                "for ArcGIS 10.x and 奥维), UTF-8"
            )
        return aliases[key]


def _nbytes(text: str, codec: str) -> int:
    return len(text.encode(codec, errors="replace"))


def _truncate(name: str, codec: str, limit: int) -> str:
    """Return the longest prefix of ``name`` that fits ``limit`` bytes (whole characters)."""
    out = ""
    for ch in name:
        if _nbytes(out + ch, codec) > limit:
            break
        out += ch
    return out


def _too_long_error(path: Path, long: list[str], enc: ShapefileEncoding) -> SchemaError:
    listed = "; ".join(f"{n} ({_nbytes(n, enc.codec)} bytes)" for n in long)
    listed_zh = "；".join(f"{n}（{_nbytes(n, enc.codec)} 字节）" for n in long)
    per_char = 2 if enc is ShapefileEncoding.GBK else 3
    return SchemaError(
        f"cannot write {path}: Shapefile (DBF) field names hold at most {DBF_NAME_BYTES} bytes "
        f"in {enc.gdal}, and these are longer: {listed}. They would be cut, possibly in the "
        f"middle of a Chinese character ({per_char} bytes each in {enc.gdal}). Rename them to "
        f"at most {DBF_NAME_BYTES} bytes, pass field_map=True (--field-map) to write short "
        f"names with a {path.stem}{FIELD_MAP_SUFFIX} sidecar, or write a GeoPackage instead",
        zh=f"无法写入 {path}：Shapefile（DBF）字段名在 {enc.gdal} 下最多 {DBF_NAME_BYTES} 字节，"
        f"以下字段名超长：{listed_zh}。它们会被截断，可能截在汉字中间（{enc.gdal} 下每个汉字"
        f" {per_char} 字节）。请把字段名改到 {DBF_NAME_BYTES} 字节以内，或加 field_map=True"
        f"（--field-map）写出短字段名并附 {path.stem}{FIELD_MAP_SUFFIX} 对照文件，或改写为 "
        "GeoPackage",
    )


def shapefile_field_names(
    names: list[str],
    *,
    encoding: str | ShapefileEncoding = "GBK",
    field_map: bool = False,
    path: str | os.PathLike[str] = "the Shapefile",
) -> dict[str, str]:
    """Return the DBF name for each field name (full name → name written).

    Parameters
    ----------
    names : list of str
        Attribute field names (without the geometry column).
    encoding : str or ShapefileEncoding
        Target encoding; the 10-byte limit is counted in it.
    field_map : bool
        Shorten long names (on a character boundary, numeric suffix when two collide)
        instead of raising.
    path : path-like
        Output path, for messages.

    Raises
    ------
    SchemaError
        When a name is over 10 bytes and ``field_map`` is false, lists each with its length.
    EncodingError
        When a name has characters the encoding cannot hold.

    Examples
    --------
    >>> shapefile_field_names(["图斑编号", "判读变化原因", "判读变化原因2"], field_map=True)
    {'图斑编号': '图斑编号', '判读变化原因': '判读变化原', '判读变化原因2': '判读变化1'}
    """
    enc = ShapefileEncoding.get(encoding)
    for name in names:
        _require_encodable(
            str(name), enc, Path(path), what=(f"field name {name!r}", f"字段名 {name!r}")
        )
    long = [n for n in names if _nbytes(n, enc.codec) > DBF_NAME_BYTES]
    if long and not field_map:
        raise _too_long_error(Path(path), long, enc)
    taken = {n.lower() for n in names if n not in long}
    out: dict[str, str] = {}
    for name in names:
        if name not in long:
            out[name] = name
            continue
        short, i = _truncate(name, enc.codec, DBF_NAME_BYTES), 0
        while short.lower() in taken:
            i += 1
            short = _truncate(name, enc.codec, DBF_NAME_BYTES - len(str(i))) + str(i)
        taken.add(short.lower())
        out[name] = short
    return out


def _require_encodable(
    text: str, enc: ShapefileEncoding, path: Path, *, what: tuple[str, str]
) -> None:
    try:
        text.encode(enc.codec)
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        raise EncodingError(
            f"cannot write {path}: {what[0]} contains {bad!r} (U+{ord(bad[0]):04X}), which "
            f"{enc.gdal} cannot encode; write with encoding='UTF-8' (--encoding UTF-8), "
            "replace the character, or write a GeoPackage",
            zh=f"无法写入 {path}：{what[1]} 含有 {enc.gdal} 无法编码的字符 {bad!r}"
            f"（U+{ord(bad[0]):04X}）；请用 encoding='UTF-8'（--encoding UTF-8）写出、"
            "替换该字符，或改写为 GeoPackage",
        ) from None


def _text_array(col: pd.Series, enc: ShapefileEncoding, path: Path) -> np.ndarray:
    values = np.empty(len(col), dtype=object)
    for i, (label, value) in enumerate(col.items()):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            continue
        text = str(json_text(value))
        where = f"field {col.name!r}, row {label}"
        where_zh = f"字段 {col.name!r} 第 {label} 行"
        _require_encodable(text, enc, path, what=(where, where_zh))
        if len(text.encode(enc.codec)) > DBF_TEXT_BYTES:
            raise SchemaError(
                f"cannot write {path}: {where} is {len(text.encode(enc.codec))} bytes in "
                f"{enc.gdal}; DBF text holds at most {DBF_TEXT_BYTES} and the value would be "
                "cut. Shorten it, drop the field, or write a GeoPackage / XLSX instead",
                zh=f"无法写入 {path}：{where_zh} 在 {enc.gdal} 下为 "
                f"{len(text.encode(enc.codec))} 字节；DBF 文本最多 {DBF_TEXT_BYTES} 字节，该值会被"
                "截断。请缩短它、删去该字段，或改写为 GeoPackage / XLSX",
            )
        values[i] = text
    return values


def _datetime_array(
    col: pd.Series, path: Path, findings: Findings | None
) -> tuple[np.ndarray, np.ndarray | None]:
    valid = col.dropna()
    naive = getattr(col.dt, "tz", None) is None
    if naive and (valid.dt.normalize() == valid).all():
        days = col.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        return days, None
    fmt = "%Y-%m-%d %H:%M:%S" if naive else "%Y-%m-%d %H:%M:%S%:z"
    text = col.dt.strftime(fmt)
    if findings is not None:
        findings.add(
            "datetime_as_text",
            f"field {col.name!r} has times of day, which a DBF Date cannot hold; written as "
            "text YYYY-MM-DD HH:MM:SS so nothing is lost",
            severity="info",
            source=str(path),
            field=str(col.name),
            zh=f"字段 {col.name!r} 含时刻，DBF 日期类型存不下；已按文本 YYYY-MM-DD HH:MM:SS 写出，"
            "信息不丢失",
        )
    return np.array(text.where(text.notna(), None).tolist(), dtype=object), None


def _field_array(
    col: pd.Series, enc: ShapefileEncoding, path: Path, findings: Findings | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (values, mask) for one DBF field, the way ``pyogrio.raw.write`` takes them."""
    dtype = col.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _datetime_array(col, path, findings)
    if isinstance(dtype, pd.CategoricalDtype):
        return _text_array(col.astype(object), enc, path), None
    if pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype):
        mask = col.isna().to_numpy()
        kind = "float64" if pd.api.types.is_float_dtype(dtype) else "int64"
        kind = "bool" if pd.api.types.is_bool_dtype(dtype) else kind
        return col.fillna(0).to_numpy(dtype=kind), mask
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return col.to_numpy(), None
    if pd.api.types.infer_dtype(col, skipna=True) == "date":
        return _datetime_array(pd.to_datetime(col), path, findings)
    return _text_array(col, enc, path), None


def _shapefile_geometry_type(geoms: np.ndarray, path: Path) -> str:
    kinds = set(shapely.get_type_id(geoms[~shapely.is_missing(geoms)]).tolist()) - {-1}
    families = {0: "Point", 4: "Point", 1: "LineString", 2: "LineString"}
    families |= {5: "LineString", 3: "Polygon", 6: "Polygon"}
    names = {families.get(k, "GeometryCollection") for k in kinds}
    if len(names) > 1 or "GeometryCollection" in names:
        raise SchemaError(
            f"cannot write {path}: a Shapefile holds one geometry type, but the frame has "
            f"{', '.join(sorted(names))}; split it by type or write a GeoPackage",
            zh=f"无法写入 {path}：一个 Shapefile 只能有一种几何类型，但数据中有 "
            f"{'、'.join(sorted(names))}；请按类型拆分，或改写为 GeoPackage",
        )
    family = names.pop() if names else "Point"
    multi = family != "Point" or 4 in kinds
    gtype = f"Multi{family}" if multi else family
    return f"{gtype} Z" if shapely.has_z(geoms).any() else gtype


def _shapefile_payload(
    frame: pd.DataFrame, path: Path, enc: ShapefileEncoding, findings: Findings | None
) -> dict[str, Any]:
    geom = geometry_name(frame)
    if geom is None or getattr(frame, "crs", None) is None:
        raise SchemaError(
            f"cannot write {path}: a Shapefile needs geometries with a CRS; give the frame "
            "one (GeoDataFrame with .crs), or write the table with gis.io.write_table (CSV/XLSX)",
            zh=f"无法写入 {path}：Shapefile 需要带坐标系的几何；请为数据设定坐标系"
            "（GeoDataFrame 的 .crs），或用 `gis.io.write_table` 写成表格（CSV/XLSX）",
        )
    geoms = np.asarray(frame.geometry.values)
    data, masks = [], []
    for name in frame.columns:
        if name != geom:
            values, mask = _field_array(frame[name], enc, path, findings)
            data.append(values)
            masks.append(mask)
    return {
        "geometry": shapely.to_wkb(geoms),
        "field_data": data,
        "field_mask": masks if any(m is not None for m in masks) else None,
        "geometry_type": _shapefile_geometry_type(geoms, path),
        "crs": frame.crs.to_wkt(),
        "encoding": enc.gdal,
    }


def field_map_path(path: str | os.PathLike[str]) -> Path:
    """Return the ``<name>.fields.csv`` sidecar path of a Shapefile.

    Examples
    --------
    >>> field_map_path("out/图斑.shp").name
    '图斑.fields.csv'
    """
    p = Path(path)
    return p.with_name(p.stem + FIELD_MAP_SUFFIX)


def shapefile_field_map(path: str | os.PathLike[str]) -> dict[str, str]:
    """Return the short → full field names of a Shapefile written with ``field_map=True``.

    Readers rename with it: ``frame.rename(columns=shapefile_field_map(path))``. Returns an
    empty dict when the Shapefile has no ``.fields.csv`` sidecar.

    Raises
    ------
    DataSourceError
        When the sidecar exists but is not a ``short_name,full_name`` table.
    """
    sidecar = field_map_path(path)
    if not sidecar.exists():
        return {}
    try:
        table = pd.read_csv(sidecar, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        return dict(zip(table["short_name"], table["full_name"], strict=True))
    except (KeyError, ValueError, pd.errors.ParserError) as exc:
        raise DataSourceError(
            f"{sidecar} is not a field-name map (columns short_name,full_name): {exc}; "
            "delete it or rewrite the Shapefile with field_map=True",
            zh=f"{sidecar} 不是字段名对照表（应有 short_name,full_name 两列）；"
            "请删除它，或用 field_map=True 重新写出该 Shapefile",
        ) from exc


def _finish_shapefile(tmp: Path, enc: ShapefileEncoding, *, write_cpg: bool) -> None:
    cpg = tmp.with_suffix(".cpg")
    if write_cpg:
        cpg.write_text(enc.cpg, encoding="ascii")
    else:
        cpg.unlink(missing_ok=True)


def _write_field_map(target: Path, names: Mapping[str, str]) -> None:
    sidecar = field_map_path(target)
    if all(k == v for k, v in names.items()):
        sidecar.unlink(missing_ok=True)  # a stale map must not rename the new file's fields
        return
    table = pd.DataFrame({"short_name": list(names.values()), "full_name": list(names)})
    with atomic_path(sidecar, overwrite=True) as tmp:
        table.to_csv(tmp, index=False, encoding="utf-8-sig")


def write_shapefile(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    encoding: str | ShapefileEncoding = "GBK",
    write_cpg: bool = True,
    field_map: bool = False,
    overwrite: bool = False,
    findings: Findings | None = None,
) -> Path:
    """Write a Shapefile that ArcGIS 10.x and 奥维 read correctly, atomically.

    All parts (``.shp .shx .dbf .prj .cpg`` and the ``.fields.csv`` map) are written in a
    temporary folder; sidecars are renamed first and the ``.shp`` last; stale sidecars of a
    replaced file are removed. Rules for names, text and datetimes: see
    :mod:`gis.io.vector_write`.

    Parameters
    ----------
    frame : GeoDataFrame
        Features with a CRS; one geometry family (points, lines or polygons).
    path : path-like
        The ``.shp`` to write.
    encoding : {"GBK", "UTF-8"}
        Attribute encoding; GBK writes a ``.cpg`` of ``936``.
    write_cpg : bool
        Write the ``.cpg``; ``False`` makes a legacy file (e.g. for reader tests).
    field_map : bool
        Shorten names over 10 bytes and write ``<name>.fields.csv`` instead of raising.
    overwrite : bool
        Replace an existing Shapefile (all its parts).
    findings : Findings, optional
        Receives ``datetime_as_text`` and ``field_names_shortened`` findings.

    Returns
    -------
    pathlib.Path
        The ``.shp`` written.

    Raises
    ------
    SchemaError
        Field names over 10 bytes (without ``field_map``), text over 254 bytes, mixed
        geometry types, or no geometry / CRS.
    EncodingError
        A field name or value the encoding cannot hold (names the field and row).
    OutputExistsError
        The output exists and ``overwrite`` is false.
    """
    target = Path(path)
    enc = ShapefileEncoding.get(encoding)
    fields = [str(c) for c in frame.columns if c != geometry_name(frame)]
    names = shapefile_field_names(fields, encoding=enc, field_map=field_map, path=target)
    payload = _shapefile_payload(frame, target, enc, findings)
    with atomic_fileset(target, SHAPEFILE_PARTS, overwrite=overwrite) as tmp:
        try:
            pyogrio.raw.write(
                tmp, fields=[names[f] for f in fields], driver="ESRI Shapefile", **payload
            )
        except GDAL_ERRORS as exc:
            raise DataSourceError(
                f"cannot write {target}: {exc}", zh=f"无法写入 {target}：GDAL 报错 {exc}"
            ) from exc
        _finish_shapefile(tmp, enc, write_cpg=write_cpg)
        _write_field_map(target, names)
    _note_shortened(names, target, findings)
    return target


def _note_shortened(names: Mapping[str, str], target: Path, findings: Findings | None) -> None:
    if findings is None:
        return
    for full, short in names.items():
        if full != short:
            findings.add(
                "field_name_shortened",
                f"field {full!r} written as {short!r} (10-byte DBF limit); the full name is in "
                f"{field_map_path(target).name}",
                severity="info",
                source=str(target),
                field=full,
                zh=f"字段 {full!r} 写为 {short!r}（DBF 字段名上限 10 字节）；完整名称见 "
                f"{field_map_path(target).name}",
            )
