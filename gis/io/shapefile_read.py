"""Read Shapefiles and lone DBFs as the bureau receives them: sidecars, counts, encodings.

Before GDAL reads a Shapefile, :func:`read_shapefile` checks its parts: a missing .dbf or a
truncated .shp is an error, a missing .shx is rebuilt in a temporary folder (a finding), and a
.dbf holding another number of records than the .shp has shapes is an error. The attributes'
encoding is decided once (:func:`shapefile_encoding`) and read by :func:`read_dbf_encoded`,
which also reads field names cut inside a character and a field name written twice.
"""

from __future__ import annotations

import contextlib
import glob
import re
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from gis.errors import DataSourceError
from gis.findings import Findings
from gis.io.encoding import (
    EncodingDecision,
    cut_field_names,
    decode_cut,
    detect_shapefile_encoding,
)
from gis.io.sources import ReadOptions, gdal_errors, read_gdal

__all__ = ["read_dbf_encoded", "read_shapefile", "shapefile_encoding"]


def read_shapefile(path: Path, opts: ReadOptions, log: Findings) -> gpd.GeoDataFrame:
    """Read a Shapefile: sidecars and header checked, encoding decided, .shx rebuilt if missing.

    Raises
    ------
    DataSourceError
        No .dbf beside it, a truncated .shp, or a .dbf and .shp of different feature counts.
    """
    _check_shapefile(path, opts.label)
    decision = shapefile_encoding(path, opts, log)
    with _with_shx(path, opts.label, log) as readable:
        _check_record_counts(readable, opts.label)
        frame = read_dbf_encoded(readable, opts, decision.encoding, log)
    return cast(gpd.GeoDataFrame, frame)


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


def _has_sidecar(path: Path, suffix: str) -> bool:
    return path.with_suffix(suffix).exists() or path.with_suffix(suffix.upper()).exists()


def _sidecar(path: Path, suffix: str) -> Path:
    lower = path.with_suffix(suffix)
    return lower if lower.exists() else path.with_suffix(suffix.upper())


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
            with gdal_errors(label):
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


def shapefile_encoding(path: Path, opts: ReadOptions, log: Findings) -> EncodingDecision:
    """Decide the text encoding of a Shapefile's or DBF's attributes, with findings.

    ``opts.encoding`` wins over detection (:func:`gis.io.encoding.detect_shapefile_encoding`);
    the decision is an ``encoding_decided`` finding, a doubtful one ``encoding_suspect``.
    """
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


def read_dbf_encoded(
    path: Path, opts: ReadOptions, codec: str, log: Findings, *, geometry: bool = True
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
    with gdal_errors(opts.label):
        names = [str(name) for name in pyogrio.read_info(path, encoding="ISO-8859-1")["fields"]]
    repeated: list[tuple[int, int]] = []
    if len(set(names)) == len(names):
        frame = read_gdal(path, replace(opts, encoding=read_as), geometry=geometry)
    else:
        frame, repeated = _read_fields_apart(path, replace(opts, encoding=read_as), geometry)
    if read_as != codec:
        frame = _redecode(frame, codec)
    if repeated:
        _note_repeated_fields(frame, repeated, opts.label, log)
    return frame


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


def _read_fields_apart(
    path: Path, opts: ReadOptions, geometry: bool
) -> tuple[pd.DataFrame, list[tuple[int, int]]]:
    """Read a DBF that holds one field name twice, by position, the repeats as ``NAME_1`` ….

    Tools that cut names at the DBF's 10 bytes without making them unique (older ArcView,
    Excel and MapInfo exports) write one name twice; pyogrio's frame would give both columns
    the values of the last. Returns the frame and the (first, repeat) column positions.
    """
    with gdal_errors(opts.label):
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
