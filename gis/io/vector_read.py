"""Read vector layers as the bureau receives them, into the working CRS, with findings.

:func:`read_layer` is an orchestrator of named steps::

    open (format, zip, sidecars, encoding) → read (pyogrio or fiona, errors caught once)
    → resolve CRS (declared, crs=, gcj02, guessed) → repair geometry → working CRS → kind

The last three steps are pure functions on frames in :mod:`gis.io.vector_fix`.

Every decision (encoding, CRS guessed or filled, GCJ-02 converted, geometry repaired, empty
features dropped, reprojected) is a :class:`~gis.findings.Finding`; what cannot go on is a
:class:`~gis.errors.GisError` naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import enum
import glob
import io
import logging
import os
import re
import shutil
import struct
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely

from gis.crs import WORKING_CRS
from gis.enums import ParamEnum
from gis.errors import DataSourceError, EncodingError, GisError, SchemaError
from gis.extras import require
from gis.findings import Findings
from gis.io import archives, geopackage
from gis.io.degrees import parse_degrees
from gis.io.encoding import (
    EncodingDecision,
    cut_field_names,
    decode_cut,
    detect_shapefile_encoding,
    xml_as_utf8,
    xml_codec_to_recode,
)
from gis.io.formats import split_layer
from gis.io.sheets import drop_blank_rows, read_workbook
from gis.io.vector_fix import (
    GCJ02,
    find_column,
    repair_geometries,
    resolve_crs,
    to_working_crs,
)
from gis.layers import GeometryKind, canonicalize, layer_kind
from gis.layers.names import normalize_name

logger = logging.getLogger(__name__)

__all__ = [
    "GCJ02",
    "Engine",
    "Format",
    "format_of",
    "list_layers",
    "read_csv_points",
    "read_layer",
    "read_layers",
    "read_table",
]


class Engine(ParamEnum):
    """Vector reading engine."""

    PYOGRIO = "pyogrio"
    FIONA = "fiona"


class Format(enum.StrEnum):
    """Input formats :func:`read_layer` understands, by file suffix."""

    SHAPEFILE = "shapefile"
    DBF = "dbf"
    ZIP = "zip"
    GPKG = "gpkg"
    GEOJSON = "geojson"
    FLATGEOBUF = "flatgeobuf"
    FILEGDB = "filegdb"
    PARQUET = "parquet"
    KML = "kml"
    KMZ = "kmz"
    CSV = "csv"
    XLSX = "xlsx"


SUFFIX_FORMATS = {
    ".shp": Format.SHAPEFILE,
    ".dbf": Format.DBF,
    ".zip": Format.ZIP,
    ".gpkg": Format.GPKG,
    ".geojson": Format.GEOJSON,
    ".json": Format.GEOJSON,
    ".fgb": Format.FLATGEOBUF,
    ".gdb": Format.FILEGDB,
    ".parquet": Format.PARQUET,
    ".geoparquet": Format.PARQUET,
    ".kml": Format.KML,
    ".kmz": Format.KMZ,
    ".csv": Format.CSV,
    ".xlsx": Format.XLSX,
}
MULTI_LAYER = (Format.GPKG, Format.FILEGDB, Format.KML, Format.KMZ)
_GDAL_ERRORS: tuple[type[BaseException], ...] = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.FieldError,
    pyogrio.errors.CRSError,
    ValueError,
    IndexError,
    RuntimeError,
    OSError,
)


@dataclass(frozen=True)
class _Options:
    """What one read was asked for; ``label`` names the source in messages and findings."""

    label: str
    layer: str | None
    encoding: str | None
    crs: Any
    engine: Engine


def format_of(path: str | os.PathLike[str]) -> Format:
    """Return the :class:`Format` for a path from its suffix.

    Raises
    ------
    DataSourceError
        For a suffix Linyuan does not read; the message lists the ones it does.

    Examples
    --------
    >>> str(format_of("图斑.SHP")), str(format_of("x.gdb"))
    ('shapefile', 'filegdb')
    """
    suffix = Path(path).suffix.lower()
    try:
        return SUFFIX_FORMATS[suffix]
    except KeyError:
        valid = " ".join(sorted(SUFFIX_FORMATS))
        raise DataSourceError(
            f"{path}: cannot read files ending in {suffix or '(no suffix)'!r}; "
            f"convert it to one of: {valid}",
            zh=f"{path}：无法读取后缀为 {suffix or '（无后缀）'!r} 的文件；"
            f"请转换为以下格式之一：{valid}",
        ) from None


def _existing(source: str | os.PathLike[str]) -> Path:
    path = Path(source)
    if not path.exists():
        raise DataSourceError(
            f"{path} does not exist; check the path (relative paths start at {Path.cwd()})",
            zh=f"{path} 不存在；请检查路径（相对路径从 {Path.cwd()} 算起）",
        )
    return path


@contextlib.contextmanager
def _gdal_errors(label: str) -> Iterator[None]:
    """Re-raise what a GDAL read raises, once, as our error naming the source.

    Wraps only the library call itself: pyogrio/fiona report corrupt or unreadable files
    not only with their own error classes but also with ValueError (fiona "Null layer"),
    IndexError (pyogrio on a dataset without layers), RuntimeError and OSError.
    """
    try:
        yield
    except GisError:
        raise
    except Exception as exc:
        known = isinstance(exc, _GDAL_ERRORS) or type(exc).__module__.startswith("fiona")
        if not known:
            raise
        fix, fix_zh = (
            ("pass --encoding with the text's real code page", "请用 --encoding 指定文本的实际编码")
            if isinstance(exc, UnicodeError)
            else (
                "check that the file is complete and in a format GDAL reads (open it in QGIS)",
                "请检查文件是否完整、是否为 GDAL 能读的格式（可先用 QGIS 打开）",
            )
        )
        raise DataSourceError(
            f"{label} cannot be read ({type(exc).__name__}: {exc}); {fix}",
            zh=f"无法读取 {label}（{type(exc).__name__}: {exc}）；{fix_zh}",
        ) from exc


_WARNINGS_SHOWN = 10
"""GDAL warnings of one read shown one by one; the rest are counted in one more finding."""


@contextlib.contextmanager
def _gdal_warnings(label: str, log: Findings) -> Iterator[None]:
    """Turn what GDAL warns while reading (a value it could parse only in part) into findings.

    GDAL reads a DBF number such as ``abc`` as 0 with a RuntimeWarning that would otherwise
    be printed raw, naming pyogrio's source line; other warnings pass on unchanged.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    from_gdal = [
        issubclass(w.category, RuntimeWarning)
        and ("pyogrio" in w.filename or "fiona" in w.filename)
        for w in caught
    ]
    gdal = [str(w.message) for w, ours in zip(caught, from_gdal, strict=True) if ours]
    for w, ours in zip(caught, from_gdal, strict=True):
        if not ours:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for message in gdal[:_WARNINGS_SHOWN]:
        log.add(
            "gdal_warning",
            f"{label}: GDAL warns while reading: {message}; check the source there",
            source=label,
            zh=f"{label}：GDAL 读取时提示：{message}；请核对源数据中的该值",
        )
    if len(gdal) > _WARNINGS_SHOWN:
        more = len(gdal) - _WARNINGS_SHOWN
        log.add(
            "gdal_warning",
            f"{label}: {more} more GDAL warnings of the same kind",
            source=label,
            zh=f"{label}：另有 {more} 条同类 GDAL 提示",
        )


def list_layers(source: str | os.PathLike[str]) -> list[str]:
    """Return the layer names in a source (GeoPackage, FileGDB, KML, zip; else its one layer).

    Inside a zip, each dataset is named by its relative path without suffix; a zip holding one
    GeoPackage or FileGDB lists that dataset's layers. QGIS's tables in a GeoPackage
    (``layer_styles``, ``qgis_projects``) are left out.

    Parameters
    ----------
    source : path-like
        The file, ``.gdb`` folder or zip.
    """
    path = _existing(source)
    fmt = format_of(path)
    if fmt is Format.ZIP:
        found = archives.zip_datasets(path)
        inside = list(found)
        if len(inside) == 1 and format_of(inside[0]) in MULTI_LAYER:
            with archives.extracted(path, members=found[inside[0]]) as folder:
                inner = folder.joinpath(*PurePosixPath(inside[0]).parts)
                return _layer_names(inner, f"{path}!{inside[0]}")
        return [PurePosixPath(r).with_suffix("").as_posix() for r in inside]
    if fmt in MULTI_LAYER:
        return _layer_names(path, str(path))
    return [path.stem]


def _layer_names(path: Path, label: str, *, spatial: bool = False) -> list[str]:
    """Layers of a multi-layer dataset; errors name it by ``label`` (a zip member by its zip).

    QGIS's own tables (``layer_styles`` …, :data:`gis.io.geopackage.QGIS_TABLES`) are not data;
    ``spatial`` leaves out the tables without geometry too (a code list beside the layer).
    """
    with _gdal_errors(label):
        layers = pyogrio.list_layers(path)
    return [
        str(name)
        for name, geometry_type in layers
        if str(name) not in geopackage.QGIS_TABLES and (geometry_type or not spatial)
    ]


def _choose_layer(path: Path, opts: _Options) -> str | None:
    """Return the layer asked for, else the dataset's one layer (or one with geometry)."""
    names = _layer_names(path, opts.label) if format_of(path) in MULTI_LAYER else [path.stem]
    if opts.layer is None and len(names) > 1:
        spatial = _layer_names(path, opts.label, spatial=True)
        names = spatial if len(spatial) == 1 else names
    if opts.layer is not None:
        if opts.layer not in names:
            raise DataSourceError(
                f"{opts.label} has no layer {opts.layer!r}; its layers are: {', '.join(names)}",
                zh=f"{opts.label} 中没有图层 {opts.layer!r}；其图层为：{', '.join(names)}",
            )
        return opts.layer
    if len(names) > 1:
        typed = opts.label.split("!")[0]  # a dataset in a zip is named in the path as the zip
        raise DataSourceError(
            f"{opts.label} holds several layers: {', '.join(names)}; pass --layer "
            f"with the one to read, or name it in the path: '{typed}|layername={names[0]}'",
            zh=f"{opts.label} 含有多个图层：{', '.join(names)}；请用 --layer 指定要读的图层，"
            f"或在路径中写明：'{typed}|layername={names[0]}'",
        )
    return names[0] if names else None


def _check_shapefile(path: Path, label: str) -> None:
    """Raise when the .dbf is missing or the .shp is shorter than its header says."""
    for suffix, what in ((".dbf", "attribute table"),):
        if not _has_sidecar(path, suffix):
            raise DataSourceError(
                f"{label} has no {suffix} ({what}) beside it ({path.with_suffix(suffix).name} is "
                "missing); copy every part of the Shapefile (.shp .shx .dbf .prj .cpg) together",
                zh=f"{label} 旁边缺少 {path.with_suffix(suffix).name}；请把 Shapefile 的各个文件"
                "（.shp .shx .dbf .prj .cpg）一起复制",
            )
    with path.open("rb") as fh:
        header = fh.read(100)
    size = path.stat().st_size
    if len(header) < 100 or header[:4] != b"\x00\x00\x27\x0a":  # file code 9994
        raise DataSourceError(
            f"{label} is truncated or corrupt: it has no valid 100-byte Shapefile header "
            f"({size} bytes); copy the .shp again from its source",
            zh=f"{label} 不完整或已损坏：没有有效的 100 字节 Shapefile 文件头（{size} 字节）；"
            "请从来源重新复制 .shp",
        )
    declared = struct.unpack(">i", header[24:28])[0] * 2
    if size < declared:  # trailing bytes beyond the declared length are harmless
        raise DataSourceError(
            f"{label} is truncated: the header says {declared} bytes but the file has {size}; "
            "copy the .shp again from its source",
            zh=f"{label} 不完整：文件头记载 {declared} 字节，实际只有 {size} 字节；"
            "请从来源重新复制 .shp",
        )


def _read_gdal(
    path: Path, opts: _Options, *, layer: str | None = None, geometry: bool = True
) -> gpd.GeoDataFrame:
    kwargs: dict[str, Any] = {}
    if layer is not None:
        kwargs["layer"] = layer
    if opts.encoding is not None:
        kwargs["encoding"] = opts.encoding
    with _gdal_errors(opts.label):
        if opts.engine is Engine.FIONA:
            return gpd.read_file(path, engine="fiona", ignore_geometry=not geometry, **kwargs)
        return pyogrio.read_dataframe(path, read_geometry=geometry, **kwargs)


def _gdal_knows(codec: str) -> bool:
    """Whether GDAL's recoding (iconv) knows this Python codec name as it is spelled."""
    return re.fullmatch(r"utf-8|gbk|gb18030|big5|cp\d+|iso8859-\d+", codec) is not None


def _redecode(frame: pd.DataFrame, codec: str) -> pd.DataFrame:
    """Re-decode names and text read as ISO-8859-1 (byte-preserving) with ``codec``.

    A character cut at a field's byte limit (names hold 10 bytes) is dropped.
    """

    def fix(value: Any) -> Any:
        return decode_cut(value.encode("latin-1"), codec) if isinstance(value, str) else value

    out = frame.rename(columns=fix)
    geometry = getattr(out, "_geometry_column_name", None)
    for name in out.columns:
        if name != geometry and pd.api.types.is_string_dtype(out[name].dtype):
            out[name] = out[name].map(fix)
    return out


def _read_dbf_encoded(
    path: Path, opts: _Options, codec: str, log: Findings, *, geometry: bool = True
) -> pd.DataFrame:
    """Read a Shapefile/DBF with ``codec``, through GDAL when it knows the codec.

    Field names cut inside a character (GDAL and ArcGIS cut a UTF-8 or GBK name at 10 bytes)
    are read without the stump, with a finding: GDAL's and pyogrio's own decoding refuses them.
    """
    cut = cut_field_names(path, codec)
    if cut:
        log.add(
            "field_names_cut",
            f"{opts.label}: field names cut inside a character at the DBF's 10-byte limit "
            f"({', '.join(cut)}); read without the incomplete character",
            severity="info",
            source=opts.label,
            zh=f"{opts.label}：字段名在 DBF 的 10 字节上限处被截断在汉字中间"
            f"（{'、'.join(cut)}）；已去掉不完整的字节读取",
        )
    read_as = codec if _gdal_knows(codec) and not cut else "ISO-8859-1"
    with _gdal_errors(opts.label):
        names = [str(name) for name in pyogrio.read_info(path, encoding="ISO-8859-1")["fields"]]
    repeated: list[tuple[int, int]] = []
    if len(set(names)) == len(names):
        frame = _read_gdal(path, replace(opts, encoding=read_as), geometry=geometry)
    else:
        frame, repeated = _read_fields_apart(path, replace(opts, encoding=read_as), geometry)
    if read_as != codec:
        frame = _redecode(frame, codec)
    if repeated:
        _note_repeated_fields(frame, repeated, opts.label, log)
    return frame


def _read_fields_apart(
    path: Path, opts: _Options, geometry: bool
) -> tuple[pd.DataFrame, list[tuple[int, int]]]:
    """Read a DBF that holds one field name twice, by position, the repeats as ``NAME_1`` ….

    Tools that cut names at the DBF's 10 bytes without making them unique (older ArcView,
    Excel and MapInfo exports) write one name twice; pyogrio's frame would give both columns
    the values of the last. Returns the frame and the (first, repeat) column positions.
    """
    with _gdal_errors(opts.label):
        meta, _, wkb, arrays = pyogrio.raw.read(
            path, encoding=opts.encoding, read_geometry=geometry
        )
    names: list[str] = []
    repeated: list[tuple[int, int]] = []
    for name in map(str, meta["fields"]):
        new, n = name, 0
        while new in names:
            n += 1
            new = f"{name}_{n}"
        if n:
            repeated.append((names.index(name), len(names)))
        names.append(new)
    data = pd.DataFrame(dict(zip(names, arrays, strict=True)))
    if not geometry:
        return data, repeated
    return gpd.GeoDataFrame(data, geometry=shapely.from_wkb(wkb), crs=meta["crs"]), repeated


def _note_repeated_fields(
    frame: pd.DataFrame, repeated: list[tuple[int, int]], label: str, log: Findings
) -> None:
    names = [str(name) for name in frame.columns]
    twice = ", ".join(dict.fromkeys(names[first] for first, _ in repeated))
    renamed = ", ".join(names[repeat] for _, repeat in repeated)
    log.add(
        "duplicate_field_names",
        f"{label}: the attribute table holds the field name {twice} more than once; the "
        f"first keeps the name, the others are read as {renamed}; check which holds the "
        "values meant and rename the fields in the source",
        source=label,
        field=twice,
        zh=f"{label}：属性表中字段名 {twice} 出现了不止一次；第一个保留原名，其余读作 "
        f"{renamed}；请核对哪个字段是要用的值，并在源数据中改名",
    )


def _has_sidecar(path: Path, suffix: str) -> bool:
    return path.with_suffix(suffix).exists() or path.with_suffix(suffix.upper()).exists()


@contextlib.contextmanager
def _with_shx(path: Path, label: str, log: Findings) -> Iterator[Path]:
    """Yield ``path``, or a copy with the .shx index GDAL rebuilt from the .shp when it is missing.

    The index is rebuilt in a temporary folder (``SHAPE_RESTORE_SHX``), never beside the input.
    """
    if _has_sidecar(path, ".shx"):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="linyuan-shx-") as tmp:
        copy = Path(tmp) / f"layer{path.suffix}"
        for part in path.parent.glob(f"{glob.escape(path.stem)}.*"):
            if part.suffix.lower() in (".shp", ".dbf", ".prj", ".cpg"):
                shutil.copyfile(part, copy.with_suffix(part.suffix))
        pyogrio.set_gdal_config_options({"SHAPE_RESTORE_SHX": "YES"})
        try:
            with _gdal_errors(label):
                pyogrio.read_info(copy)
        finally:
            pyogrio.set_gdal_config_options({"SHAPE_RESTORE_SHX": None})
        log.add(
            "shx_restored",
            f"{label}: the .shx index is missing; rebuilt from the .shp to read it (the input "
            "is unchanged) — copy every part of the Shapefile (.shp .shx .dbf .prj .cpg) together",
            source=label,
            zh=f"{label}：缺少 .shx 索引文件；已根据 .shp 重建后读取（输入文件未改动）——"
            "请把 Shapefile 的各个文件（.shp .shx .dbf .prj .cpg）一起复制",
        )
        yield copy


def _read_shapefile(path: Path, opts: _Options, log: Findings) -> gpd.GeoDataFrame:
    _check_shapefile(path, opts.label)
    decision = _encoding(path, opts, log)
    with _with_shx(path, opts.label, log) as readable:
        _check_record_counts(readable, opts.label)
        frame = _read_dbf_encoded(readable, opts, decision.encoding, log)
    return cast(gpd.GeoDataFrame, frame)


def _sidecar(path: Path, suffix: str) -> Path:
    lower = path.with_suffix(suffix)
    return lower if lower.exists() else path.with_suffix(suffix.upper())


def _check_record_counts(path: Path, label: str) -> None:
    """Raise when the .dbf and the .shp (its .shx index) hold different numbers of features.

    A .dbf from another version of the layer pairs attributes with the wrong shapes; GDAL
    reads as many as both have, without a word.
    """
    shapes = (_sidecar(path, ".shx").stat().st_size - 100) // 8
    with _sidecar(path, ".dbf").open("rb") as fh:
        header = fh.read(8)
    records = struct.unpack("<I", header[4:8])[0] if len(header) == 8 else shapes
    if records != shapes:
        raise DataSourceError(
            f"{label}: the .dbf holds {records} records but the .shp {shapes} shapes, so the "
            "attributes cannot be matched to the shapes (parts of different versions?); copy "
            "the .shp, .shx and .dbf of one version together",
            zh=f"{label}：.dbf 有 {records} 条记录，而 .shp 有 {shapes} 个图形，属性无法与图形"
            "对应（是否混用了不同版本的文件？）；请把同一版本的 .shp、.shx、.dbf 一起复制",
        )


def _encoding(path: Path, opts: _Options, log: Findings) -> EncodingDecision:
    decision = detect_shapefile_encoding(path, explicit=opts.encoding)
    log.add(
        "encoding_decided",
        f"{opts.label}: attributes read as {decision.encoding} ({decision.reason})",
        severity="info",
        source=opts.label,
        zh=f"{opts.label}：属性按 {decision.encoding} 编码读取"
        f"（{decision.reason_zh or decision.reason}）",
    )
    if decision.warning:
        log.add(
            "encoding_suspect",
            f"{opts.label}: {decision.warning}; pass encoding= if the text looks wrong",
            source=opts.label,
            zh=f"{opts.label}：{decision.warning_zh or decision.warning}；"
            "如文字显示不对，请用 --encoding 指定编码",
        )
    return decision


def _read_kml(path: Path, opts: _Options, log: Findings) -> gpd.GeoDataFrame:
    if opts.engine is Engine.FIONA:
        raise DataSourceError(
            f"{opts.label}: the fiona engine does not read KML/KMZ; read it with --engine pyogrio "
            "(the default)",
            zh=f"{opts.label}：fiona 引擎不能读 KML/KMZ；请用 --engine pyogrio（默认）读取",
        )
    with _readable_xml(path, opts.label, log) as readable:
        frame = _read_gdal(readable, opts, layer=_choose_layer(readable, opts))
    return frame.set_geometry(shapely.force_2d(frame.geometry.values))


@contextlib.contextmanager
def _readable_xml(path: Path, label: str, log: Findings) -> Iterator[Path]:
    """Yield ``path``, or a UTF-8 copy of a KML declared in an encoding GDAL cannot parse (GBK)."""
    with path.open("rb") as fh:
        codec = xml_codec_to_recode(fh.read(256)) if format_of(path) is Format.KML else None
    if codec is None:
        yield path
        return
    try:
        data = xml_as_utf8(path.read_bytes(), codec)
    except UnicodeDecodeError as exc:
        raise EncodingError(
            f"{label} declares the encoding {codec} but its text does not decode as it ({exc}); "
            "save it again as UTF-8",
            zh=f"{label} 声明编码为 {codec}，但文本不能按其解码（{exc}）；请另存为 UTF-8",
        ) from exc
    log.add(
        "encoding_decided",
        f"{label}: read as {codec} (its XML declaration), through a UTF-8 copy GDAL can parse",
        severity="info",
        source=label,
        zh=f"{label}：按 XML 声明的 {codec} 编码读取（转为 UTF-8 副本供 GDAL 解析）",
    )
    with tempfile.TemporaryDirectory(prefix="linyuan-kml-") as tmp:
        copy = Path(tmp) / path.name
        copy.write_bytes(data)
        yield copy


def _read_by_format(path: Path, fmt: Format, opts: _Options, log: Findings) -> gpd.GeoDataFrame:
    if fmt is Format.SHAPEFILE:
        return _read_shapefile(path, opts, log)
    if fmt in (Format.KML, Format.KMZ):
        return _read_kml(path, opts, log)
    if fmt in MULTI_LAYER:
        return _read_gdal(path, opts, layer=_choose_layer(path, opts))
    if fmt is Format.PARQUET:
        require(
            "pyarrow",
            purpose=f"reading GeoParquet {opts.label}",
            purpose_zh=f"读取 GeoParquet {opts.label} ",
        )
        with _gdal_errors(opts.label):
            try:
                return gpd.read_parquet(path)
            except (ValueError, OSError) as exc:
                raise DataSourceError(
                    f"{opts.label} is not a readable GeoParquet: {exc}",
                    zh=f"{opts.label} 不是可读的 GeoParquet：{exc}",
                ) from exc
    if fmt is Format.CSV:
        return read_csv_points(path, encoding=opts.encoding, findings=log, source=opts.label)
    if fmt is Format.XLSX:
        return _read_xlsx_points(path, opts)
    return _read_gdal(path, opts)


def _read_xlsx_points(path: Path, opts: _Options) -> gpd.GeoDataFrame:
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


def _read_zip(path: Path, opts: _Options, log: Findings) -> gpd.GeoDataFrame:
    found = archives.zip_datasets(path)
    if not found:
        raise DataSourceError(
            f"{path} holds no vector dataset (.shp .gpkg .gdb .geojson …)",
            zh=f"{path} 中没有矢量数据（.shp .gpkg .gdb .geojson …）",
        )
    inside = list(found)
    if len(inside) == 1 and format_of(inside[0]) in MULTI_LAYER:
        rel, layer = inside[0], opts.layer
    else:
        rel, layer = _zip_member(path, inside, opts.layer), None
    with archives.extracted(path, members=found[rel]) as folder:
        inner = folder.joinpath(*PurePosixPath(rel).parts)
        return _read_path(inner, replace(opts, label=f"{path}!{rel}", layer=layer), log)


def _zip_member(path: Path, inside: list[str], layer: str | None) -> str:
    if layer is None and len(inside) == 1:
        return inside[0]
    names = [PurePosixPath(r).with_suffix("").as_posix() for r in inside]
    matches = [r for r, n in zip(inside, names, strict=True) if layer in (n, PurePosixPath(r).stem)]
    if layer is None or len(matches) != 1:
        what, what_zh = (
            ("several layers", "含有多个图层")
            if layer is None
            else (f"no single layer {layer!r}", f"中没有唯一的图层 {layer!r}")
        )
        raise DataSourceError(
            f"{path} holds {what}; its layers are: {', '.join(names)}; pass --layer with one "
            f"of them, or name it in the path: '{path}|layername={names[0]}'",
            zh=f"{path} {what_zh}；其图层为：{', '.join(names)}；请用 --layer 指定其一，"
            f"或在路径中写明：'{path}|layername={names[0]}'",
        )
    return matches[0]


def _refuse_folder(path: Path, label: str) -> None:
    """Raise for a plain folder given where a file is read, naming the datasets in it."""
    inside = [str(p) for p in archives.find_datasets(path)[:_FOLDER_LISTED]]
    listed = ", ".join(inside) or "none"
    raise DataSourceError(
        f"{label} is a folder, not a file; give the file to read — datasets in it: {listed}",
        zh=f"{label} 是文件夹，不是文件；请给出要读的文件——其中的数据：{'、'.join(inside) or '无'}",
    )


_FOLDER_LISTED = 10
"""How many datasets a folder given in place of a file lists in the error."""


def _read_path(path: Path, opts: _Options, log: Findings) -> gpd.GeoDataFrame:
    if path.is_dir() and path.suffix.lower() != ".gdb":
        _refuse_folder(path, opts.label)
    fmt = format_of(path)
    if fmt is Format.ZIP:
        return _read_zip(path, opts, log)
    if fmt is Format.DBF:
        shp = path.with_suffix(".shp")
        if not shp.exists():
            raise DataSourceError(
                f"{opts.label} is an attribute table without geometry (no {shp.name} beside "
                "it); read it with gis.io.read_table, or supply the .shp",
                zh=f"{opts.label} 是没有几何的属性表（旁边没有 {shp.name}）；请提供 .shp",
            )
        path, fmt = shp, Format.SHAPEFILE
    if fmt not in (*MULTI_LAYER, Format.XLSX) and opts.layer not in (None, path.stem):
        raise DataSourceError(
            f"{opts.label} holds one layer, {path.stem!r}, not {opts.layer!r}; drop layer=",
            zh=f"{opts.label} 只有一个图层 {path.stem!r}，没有 {opts.layer!r}；请去掉 --layer",
        )
    frame = _read_by_format(path, fmt, opts, log)
    if not isinstance(frame, gpd.GeoDataFrame):
        spatial = _layer_names(path, opts.label, spatial=True) if fmt in MULTI_LAYER else []
        others = f"; its layers with geometry: {', '.join(spatial)} (--layer)" if spatial else ""
        others_zh = f"；有几何的图层：{'、'.join(spatial)}（--layer）" if spatial else ""
        raise DataSourceError(
            f"{opts.label}: {opts.layer or path.stem!r} has no geometry (a table, not a "
            f"layer){others}; read tables with gis.io.read_table",
            zh=f"{opts.label}：{opts.layer or path.stem!r} 是没有几何的表，不是图层{others_zh}",
        )
    frame.attrs["source"] = opts.label
    return frame


def read_table(
    source: str | os.PathLike[str],
    *,
    layer: str | None = None,
    encoding: str | None = None,
    findings: Findings | None = None,
) -> pd.DataFrame:
    """Read an attribute table without geometry, decoding text correctly.

    Parameters
    ----------
    source : path-like
        A lone ``.dbf``, or a GeoPackage / FileGDB holding the table ``layer`` (a results
        file's ``run`` or ``findings`` table, a field store's ``verification_log``).
    layer : str, optional
        Table name inside a GeoPackage / FileGDB (required there; the error lists them).
    encoding : str, optional
        Text encoding of a ``.dbf``; detected as for Shapefiles when not given.
    findings : Findings, optional
        Receives the ``encoding_decided`` finding.

    Returns
    -------
    pandas.DataFrame
        Geometry, when the layer has one, is left out.
    """
    log = findings if findings is not None else Findings()
    path = _existing(source)
    opts = _Options(str(path), layer, encoding, None, Engine.PYOGRIO)
    with _gdal_warnings(opts.label, log):
        if format_of(path) in MULTI_LAYER:
            return _read_named_table(path, opts)
        decision = _encoding(path, opts, log)
        return pd.DataFrame(_read_dbf_encoded(path, opts, decision.encoding, log, geometry=False))


def _read_named_table(path: Path, opts: _Options) -> pd.DataFrame:
    names = list_layers(path)
    if opts.layer not in names:
        raise DataSourceError(
            f"{path} has no table {opts.layer!r}; its tables are: {', '.join(names)} (pass layer=)",
            zh=f"{path} 中没有表 {opts.layer!r}；其表为：{', '.join(names)}",
        )
    return pd.DataFrame(_read_gdal(path, opts, layer=opts.layer, geometry=False))


def read_layer(
    source: str | os.PathLike[str],
    *,
    kind: str | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    crs: Any = None,
    working_crs: Any = WORKING_CRS,
    engine: str = "pyogrio",
    findings: Findings | None = None,
) -> gpd.GeoDataFrame:
    """Read one vector layer into the working CRS, repaired, with findings.

    Parameters
    ----------
    source : path-like
        ``.shp`` (or a ``.zip`` of one or more, GBK member names and folders allowed),
        ``.gpkg``, ``.geojson``/``.json``, ``.fgb``, ``.gdb`` folder (also zipped),
        ``.parquet`` (GeoParquet), ``.kml``/``.kmz``, or ``.csv`` with lon/lat or x/y columns.
    kind : str, optional
        Layer kind from the catalog; known Chinese/national field aliases are renamed to
        canonical names (``frame.attrs["renamed"]`` holds the mapping).
    layer : str, optional
        Layer name; required when the source holds several (the error lists them).
    encoding : str, optional
        Attribute encoding; wins over detection (Shapefile, DBF, CSV).
    crs : optional
        CRS the source is in when it declares none (EPSG code, ``"EPSG:4530"``, CRS), or
        ``"gcj02"`` for AMap/Gaode/DataV lon/lat, converted to WGS84/CGCS2000. Never replaces
        a declared CRS: a different declared CRS is an error.
    working_crs : optional
        CRS to transform to; ``None`` keeps the source CRS, ``"auto"`` picks the CGCS2000 3°
        Gauss-Krüger zone of the layer's centre. Defaults to :data:`gis.crs.WORKING_CRS`.
    engine : {"pyogrio", "fiona"}
        Reading engine (fiona does not read KML/KMZ).
    findings : Findings, optional
        Receives the findings; a private list is used (and logged) when ``None``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``attrs["source"]`` names what was read. An empty layer is returned empty, with an
        ``empty_layer`` warning.

    Raises
    ------
    DataSourceError
        Missing file, missing sidecar, truncated file, unknown layer, unsupported suffix.
    UnsafeArchiveError
        A zip with ``../`` or absolute member paths.
    EncodingError
        Text that decodes neither as UTF-8 nor as GB18030, with no declaration.
    CRSError
        No CRS and none can be guessed; ``crs=`` contradicts the declared CRS; coordinates
        contradict the declared CRS.
    SchemaError
        A polygon layer (by ``kind``, or by its features) with features holding no polygon;
        a geometry collection keeps its polygons (:func:`gis.io.vector_fix.repair_geometries`).
    """
    log = findings if findings is not None else Findings()
    text, named = split_layer(source)
    path = _existing(text)
    opts = _Options(str(path), layer or named, encoding, crs, Engine.get(engine))
    with _gdal_warnings(opts.label, log):
        frame = _read_path(path, opts, log)
    label = str(frame.attrs.get("source", opts.label))
    if frame.empty:
        log.add(
            "empty_layer",
            f"{label} has no features; check that it is the right file and layer",
            source=label,
            zh=f"{label} 没有要素；请检查文件和图层是否选对",
        )
    frame = resolve_crs(frame, crs=crs, source=label, findings=log)
    polygons = GeometryKind.POLYGON.geom_types
    polygonal = None if kind is None else set(layer_kind(kind).geom_types) <= set(polygons)
    frame = repair_geometries(frame, source=label, findings=log, polygonal=polygonal)
    frame = to_working_crs(frame, working_crs, source=label, findings=log)
    if kind is not None:
        frame = canonicalize(frame, kind, findings=log, source=label)
    frame.attrs["source"] = label
    return frame


# --- CSV with coordinate columns ---------------------------------------------------------

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
    Rows without coordinates get no geometry (:func:`read_layer` drops them with a finding).

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


def read_layers(
    paths: Mapping[str, str | os.PathLike[str] | None],
    kinds: Mapping[str, str | None],
    *,
    findings: Findings,
    engine: str = "pyogrio",
    crs: Mapping[str, Any] | None = None,
    stage_log: logging.Logger = logger,
) -> dict[str, gpd.GeoDataFrame | None]:
    """Read every layer a run takes, role by role, each as its catalog kind (None: not given).

    The one reading loop of the checks' edges: one stage line per layer on ``stage_log`` (the
    calling run's logger, so the command shows it; ``读取森林资源小班：…`` in Chinese, ``reading
    subcompartments: …`` in English), then :func:`read_layer` with the role's kind, ``crs`` (a
    role → CRS for files that declare none) and ``engine``.

    Examples
    --------
    >>> read_layers({"districts": None}, {"districts": "districts"}, findings=Findings())
    {'districts': None}
    """
    frames: dict[str, gpd.GeoDataFrame | None] = {}
    for role, path in paths.items():
        if path is None:
            frames[role] = None
            continue
        kind = kinds[role]
        name = layer_kind(kind).label_zh if kind else role
        logger.info(
            "reading %s: %s", role, path, extra={"zh": "读取%s：%s", "zh_args": (name, path)}
        )
        frames[role] = read_layer(
            path, kind=kind, crs=(crs or {}).get(role), findings=findings, engine=engine
        )
    return frames
