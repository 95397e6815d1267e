"""Read vector layers as the bureau receives them, into the working CRS, with findings.

:func:`read_layer` is an orchestrator of named steps::

    open (format, zip, sidecars, encoding) → read (pyogrio or fiona, errors caught once)
    → resolve CRS (declared, crs=, gcj02, guessed) → repair geometry → working CRS → kind

Opening is spread over the modules of its ideas: :mod:`gis.io.sources` (formats, engine,
GDAL errors and warnings caught once), :mod:`gis.io.containers` (GeoPackage/FileGDB/KML
layers, zips, folders), :mod:`gis.io.shapefile_read` (sidecars, counts, encodings) and
:mod:`gis.io.point_tables` (CSV/XLSX points). The last three steps are pure functions on
frames in :mod:`gis.io.vector_fix`.

Every decision (encoding, CRS guessed or filled, GCJ-02 converted, geometry repaired, empty
features dropped, reprojected) is a :class:`~gis.findings.Finding`; what cannot go on is a
:class:`~gis.errors.GisError` naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from gis.crs import WORKING_CRS
from gis.errors import DataSourceError, EncodingError, NoGeometryError
from gis.extras import require
from gis.findings import Findings
from gis.io import archives
from gis.io.containers import choose_layer, layer_names, list_layers, refuse_folder, zip_member
from gis.io.encoding import xml_as_utf8, xml_codec_to_recode
from gis.io.point_tables import read_csv_points, read_xlsx_points
from gis.io.shapefile_read import read_dbf_encoded, read_shapefile, shapefile_encoding
from gis.io.sources import (
    MULTI_LAYER,
    Engine,
    Format,
    ReadOptions,
    existing_path,
    format_of,
    gdal_errors,
    gdal_warnings,
    read_gdal,
)
from gis.io.vector_fix import repair_geometries, resolve_crs, to_working_crs
from gis.layers import GeometryKind, canonicalize, layer_kind
from gis.paths import split_layer

logger = logging.getLogger(__name__)

__all__ = ["read_layer", "read_layers", "read_table"]


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
    NoGeometryError
        The layer asked for (or the source's one layer) is a table without geometry
        (a :class:`DataSourceError`); read it with :func:`read_table`.
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
    path = existing_path(text)
    opts = ReadOptions(str(path), layer or named, encoding, crs, Engine.get(engine))
    with gdal_warnings(opts.label, log):
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
    path = existing_path(source)
    opts = ReadOptions(str(path), layer, encoding, None, Engine.PYOGRIO)
    with gdal_warnings(opts.label, log):
        if format_of(path) in MULTI_LAYER:
            return _read_named_table(path, opts)
        decision = shapefile_encoding(path, opts, log)
        return pd.DataFrame(read_dbf_encoded(path, opts, decision.encoding, log, geometry=False))


def _read_named_table(path: Path, opts: ReadOptions) -> pd.DataFrame:
    names = list_layers(path)
    if opts.layer not in names:
        raise DataSourceError(
            f"{path} has no table {opts.layer!r}; its tables are: {', '.join(names)} (pass layer=)",
            zh=f"{path} 中没有表 {opts.layer!r}；其表为：{', '.join(names)}",
        )
    return pd.DataFrame(read_gdal(path, opts, layer=opts.layer, geometry=False))


def _read_path(path: Path, opts: ReadOptions, log: Findings) -> gpd.GeoDataFrame:
    if path.is_dir() and path.suffix.lower() != ".gdb":
        refuse_folder(path, opts.label)
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
        spatial = layer_names(path, opts.label, spatial=True) if fmt in MULTI_LAYER else []
        others = f"; its layers with geometry: {', '.join(spatial)} (--layer)" if spatial else ""
        others_zh = f"；有几何的图层：{'、'.join(spatial)}（--layer）" if spatial else ""
        raise NoGeometryError(
            f"{opts.label}: {opts.layer or path.stem!r} has no geometry (a table, not a "
            f"layer){others}; read tables with gis.io.read_table",
            zh=f"{opts.label}：{opts.layer or path.stem!r} 是没有几何的表，不是图层{others_zh}",
        )
    frame.attrs["source"] = opts.label
    return frame


def _read_by_format(path: Path, fmt: Format, opts: ReadOptions, log: Findings) -> gpd.GeoDataFrame:
    if fmt is Format.SHAPEFILE:
        return read_shapefile(path, opts, log)
    if fmt in (Format.KML, Format.KMZ):
        return _read_kml(path, opts, log)
    if fmt in MULTI_LAYER:
        return read_gdal(path, opts, layer=choose_layer(path, opts))
    if fmt is Format.PARQUET:
        require(
            "pyarrow",
            purpose=f"reading GeoParquet {opts.label}",
            purpose_zh=f"读取 GeoParquet {opts.label} ",
        )
        with gdal_errors(opts.label):
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
        return read_xlsx_points(path, opts)
    return read_gdal(path, opts)


def _read_zip(path: Path, opts: ReadOptions, log: Findings) -> gpd.GeoDataFrame:
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
        rel, layer = zip_member(path, inside, opts.layer), None
    with archives.extracted(path, members=found[rel]) as folder:
        inner = folder.joinpath(*PurePosixPath(rel).parts)
        return _read_path(inner, replace(opts, label=f"{path}!{rel}", layer=layer), log)


def _read_kml(path: Path, opts: ReadOptions, log: Findings) -> gpd.GeoDataFrame:
    if opts.engine is Engine.FIONA:
        raise DataSourceError(
            f"{opts.label}: the fiona engine does not read KML/KMZ; read it with --engine pyogrio "
            "(the default)",
            zh=f"{opts.label}：fiona 引擎不能读 KML/KMZ；请用 --engine pyogrio（默认）读取",
        )
    with _readable_xml(path, opts.label, log) as readable:
        frame = read_gdal(readable, opts, layer=choose_layer(readable, opts))
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
