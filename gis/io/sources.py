"""What one vector read is, and the one GDAL call every reader goes through.

The input :class:`Format` of a path by its suffix (:func:`format_of`), the reading
:class:`Engine`, the :class:`ReadOptions` of one read, and GDAL's errors and warnings caught
once, at the library call, as our errors (:func:`gdal_errors`) and findings
(:func:`gdal_warnings`). :mod:`gis.io.vector_read`, :mod:`gis.io.containers`,
:mod:`gis.io.shapefile_read` and :mod:`gis.io.point_tables` build on it.
"""

from __future__ import annotations

import contextlib
import enum
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pyogrio.errors

from gis.enums import ParamEnum
from gis.errors import DataSourceError, GisError
from gis.findings import Findings

__all__ = [
    "MULTI_LAYER",
    "SUFFIX_FORMATS",
    "Engine",
    "Format",
    "ReadOptions",
    "existing_path",
    "format_of",
    "gdal_errors",
    "gdal_warnings",
    "read_gdal",
]


class Engine(ParamEnum):
    """Vector reading engine."""

    PYOGRIO = "pyogrio"
    FIONA = "fiona"


class Format(enum.StrEnum):
    """Input formats :func:`gis.io.read_layer` understands, by file suffix."""

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
class ReadOptions:
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


def existing_path(source: str | os.PathLike[str]) -> Path:
    """Return ``source`` as a path, or raise naming it when it does not exist.

    Raises
    ------
    DataSourceError
        The path does not exist; the message says where relative paths start.
    """
    path = Path(source)
    if not path.exists():
        raise DataSourceError(
            f"{path} does not exist; check the path (relative paths start at {Path.cwd()})",
            zh=f"{path} 不存在；请检查路径（相对路径从 {Path.cwd()} 算起）",
        )
    return path


@contextlib.contextmanager
def gdal_errors(label: str) -> Iterator[None]:
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
def gdal_warnings(label: str, log: Findings) -> Iterator[None]:
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


def read_gdal(
    path: Path, opts: ReadOptions, *, layer: str | None = None, geometry: bool = True
) -> gpd.GeoDataFrame:
    """Read ``path`` (its ``layer``) through the engine of ``opts``, errors caught once.

    Parameters
    ----------
    path : Path
        The dataset GDAL opens.
    opts : ReadOptions
        Its label, encoding and engine.
    layer : str, optional
        Layer of a multi-layer dataset.
    geometry : bool
        ``False`` reads the attributes only (a :class:`pandas.DataFrame`).
    """
    kwargs: dict[str, Any] = {}
    if layer is not None:
        kwargs["layer"] = layer
    if opts.encoding is not None:
        kwargs["encoding"] = opts.encoding
    with gdal_errors(opts.label):
        if opts.engine is Engine.FIONA:
            return gpd.read_file(path, engine="fiona", ignore_geometry=not geometry, **kwargs)
        return pyogrio.read_dataframe(path, read_geometry=geometry, **kwargs)
