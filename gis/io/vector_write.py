"""Vector outputs, each written to a temporary file and renamed into place.

GeoPackage (several layers and attribute tables in one atomic file), GeoJSON, FlatGeobuf and
Shapefile; ``.csv``/``.xlsx`` go to :func:`gis.io.tables.write_table`.

Values are normalised the same way for every format: lists, tuples and dicts become JSON text
(``ensure_ascii=False``), categoricals their values; booleans, numbers and datetimes keep their
types where the format has them.

Shapefile output is for ArcGIS 10.x and 奥维互动地图:

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
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import shapely
from pyogrio.errors import DataSourceError as PyogrioDataSourceError
from pyogrio.errors import FieldError, GeometryError

from gis.errors import DataSourceError, EncodingError, SchemaError
from gis.findings import Findings
from gis.io._atomic import atomic_fileset, atomic_path

DRIVERS = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".shp": "ESRI Shapefile",
    ".csv": "CSV",
    ".xlsx": "XLSX",
}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
FIELD_MAP_SUFFIX = ".fields.csv"
DBF_NAME_BYTES = 10
DBF_TEXT_BYTES = 254
_GDAL_ERRORS = (PyogrioDataSourceError, FieldError, GeometryError, ValueError, RuntimeError)


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


def driver_for(path: str | os.PathLike[str], driver: str | None = None) -> str:
    """Return the OGR driver for ``path`` (from its suffix unless ``driver`` is given).

    Examples
    --------
    >>> driver_for("out/结果.gpkg")
    'GPKG'
    """
    if driver:
        return driver
    suffix = Path(path).suffix.lower()
    try:
        return DRIVERS[suffix]
    except KeyError:
        valid = ", ".join(sorted([*DRIVERS, ".kml", ".kmz"]))
        raise DataSourceError(
            f"cannot tell the format of {path} from its suffix; use one of {valid}"
        ) from None


def json_text(value: Any) -> Any:
    """Return lists, tuples, sets and dicts as JSON text; other values unchanged.

    Examples
    --------
    >>> json_text(["林班", 3])
    '["林班", 3]'
    """
    if isinstance(value, (list, tuple, set, dict, np.ndarray)):
        items = sorted(value, key=str) if isinstance(value, set) else value
        if isinstance(items, np.ndarray):
            items = items.tolist()
        return json.dumps(items, ensure_ascii=False, default=str)
    return value


def normalize_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with list/dict values as JSON text and categoricals as their values.

    The geometry column (if any) is left alone; the input is not modified.
    """
    out = frame.copy()
    geom = _geometry_name(frame)
    for name in out.columns:
        if name == geom:
            continue
        col = out[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            out[name] = col.astype(object).where(col.notna(), None)
        elif col.dtype == object:
            out[name] = col.map(json_text)
    return out


def _geometry_name(frame: pd.DataFrame) -> str | None:
    """Return the active geometry column name, or ``None`` for a plain table."""
    name = getattr(frame, "_geometry_column_name", None)
    return name if name is not None and name in frame.columns else None


def _write_frame(
    frame: pd.DataFrame, path: Path, *, layer: str | None, driver: str, target: Path
) -> None:
    """Write (append) one layer to ``path``, a temporary stand-in for ``target``."""
    kwargs: dict[str, Any] = {"driver": driver}
    if layer is not None and driver == "GPKG":
        kwargs["layer"] = layer
    try:
        pyogrio.write_dataframe(normalize_columns(frame), path, append=path.exists(), **kwargs)
    except _GDAL_ERRORS as exc:
        raise DataSourceError(
            f"cannot write layer {layer or target.stem!r} to {target}: {exc}"
        ) from exc


def _check_layer_names(path: Path, names: list[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        if not str(name).strip():
            raise SchemaError(f"{path}: a layer has an empty name; give every layer a name")
        other = seen.setdefault(str(name).lower(), name)
        if other != name:
            raise SchemaError(
                f"{path}: layer names {other!r} and {name!r} differ only in case, which "
                "GeoPackage treats as the same table; rename one of them"
            )


def write_layers(
    path: str | os.PathLike[str],
    layers: Mapping[str, pd.DataFrame],
    *,
    overwrite: bool = False,
) -> Path:
    """Write several layers (and attribute-only tables) into one GeoPackage, atomically.

    Parameters
    ----------
    path : path-like
        The ``.gpkg`` to create.
    layers : mapping of str to DataFrame
        Layer name (Chinese is fine) to frame. GeoDataFrames become feature layers; plain
        DataFrames become attribute tables (``gpkg_contents.data_type = 'attributes'``), e.g.
        ``findings`` and ``run``. Lists and dicts are stored as JSON text.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OutputExistsError
        When ``path`` exists and ``overwrite`` is false.
    SchemaError
        When two layer names differ only in case, or one is empty.
    DataSourceError
        When GDAL cannot write a layer (nothing is left behind).
    """
    target = Path(path)
    _check_layer_names(target, list(layers))
    with atomic_path(target, overwrite=overwrite) as tmp:
        for name, frame in layers.items():
            _write_frame(frame, tmp, layer=name, driver="GPKG", target=target)
    return target


def write_layer(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    driver: str | None = None,
    overwrite: bool = False,
    encoding: str | None = None,
    write_cpg: bool = True,
    field_map: bool = False,
    findings: Findings | None = None,
) -> Path:
    """Write one frame to a vector file, atomically.

    Parameters
    ----------
    frame : GeoDataFrame or DataFrame
        What to write.
    path : path-like
        Output file; the format follows the suffix (``.gpkg .geojson .json .fgb .shp .csv
        .xlsx``) unless ``driver`` is given. CSV and XLSX go to
        :func:`gis.io.tables.write_table` (geometry dropped); KML/KMZ need
        :func:`gis.io.kml.write_kml`.
    layer : str, optional
        Layer name (GeoPackage).
    driver : str, optional
        OGR driver name.
    overwrite : bool
        Replace an existing output.
    encoding : str, optional
        Shapefile attribute encoding: ``GBK`` (default) or ``UTF-8``.
    write_cpg : bool
        Shapefile only: write the ``.cpg`` (``936`` for GBK). ``False`` makes a legacy file.
    field_map : bool
        Shapefile only: shorten field names over 10 bytes and write ``<name>.fields.csv``
        instead of refusing them.
    findings : Findings, optional
        Collects decisions such as ``datetime_as_text``.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OutputExistsError, SchemaError, EncodingError, DataSourceError
        See :mod:`gis.io.vector_write`.
    """
    target = Path(path)
    drv = driver_for(target, driver)
    if drv in ("CSV", "XLSX"):
        from gis.io.tables import write_table

        return write_table(frame, target, overwrite=overwrite, findings=findings)
    if drv == "ESRI Shapefile":
        return write_shapefile(
            frame,
            target,
            encoding=encoding or "GBK",
            write_cpg=write_cpg,
            field_map=field_map,
            overwrite=overwrite,
            findings=findings,
        )
    with atomic_path(target, overwrite=overwrite) as tmp:
        _write_frame(frame, tmp, layer=layer, driver=drv, target=target)
    return target


# --- Shapefile ------------------------------------------------------------------------------


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


def _too_long_message(path: Path, long: list[str], enc: ShapefileEncoding) -> str:
    listed = "; ".join(f"{n} ({_nbytes(n, enc.codec)} bytes)" for n in long)
    per_char = 2 if enc is ShapefileEncoding.GBK else 3
    return (
        f"cannot write {path}: Shapefile (DBF) field names hold at most {DBF_NAME_BYTES} bytes "
        f"in {enc.gdal}, and these are longer: {listed}. They would be cut, possibly in the "
        f"middle of a Chinese character ({per_char} bytes each in {enc.gdal}). Rename them to "
        f"at most {DBF_NAME_BYTES} bytes, pass field_map=True (--field-map) to write short "
        f"names with a {path.stem}{FIELD_MAP_SUFFIX} sidecar, or write a GeoPackage instead"
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
        _require_encodable(str(name), enc, Path(path), what=f"field name {name!r}")
    long = [n for n in names if _nbytes(n, enc.codec) > DBF_NAME_BYTES]
    if long and not field_map:
        raise SchemaError(_too_long_message(Path(path), long, enc))
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


def _require_encodable(text: str, enc: ShapefileEncoding, path: Path, *, what: str) -> None:
    try:
        text.encode(enc.codec)
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        raise EncodingError(
            f"cannot write {path}: {what} contains {bad!r} (U+{ord(bad[0]):04X}), which "
            f"{enc.gdal} cannot encode; write with encoding='UTF-8' (--encoding UTF-8), "
            "replace the character, or write a GeoPackage"
        ) from None


def _text_array(col: pd.Series, enc: ShapefileEncoding, path: Path) -> np.ndarray:
    values = np.empty(len(col), dtype=object)
    for i, (label, value) in enumerate(col.items()):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            continue
        text = str(json_text(value))
        where = f"field {col.name!r}, row {label}"
        _require_encodable(text, enc, path, what=where)
        if len(text.encode(enc.codec)) > DBF_TEXT_BYTES:
            raise SchemaError(
                f"cannot write {path}: {where} is {len(text.encode(enc.codec))} bytes in "
                f"{enc.gdal}; DBF text holds at most {DBF_TEXT_BYTES} and the value would be "
                "cut. Shorten it, drop the field, or write a GeoPackage / XLSX instead"
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
            f"{', '.join(sorted(names))}; split it by type or write a GeoPackage"
        )
    family = names.pop() if names else "Point"
    multi = family != "Point" or 4 in kinds
    gtype = f"Multi{family}" if multi else family
    return f"{gtype} Z" if shapely.has_z(geoms).any() else gtype


def _shapefile_payload(
    frame: pd.DataFrame, path: Path, enc: ShapefileEncoding, findings: Findings | None
) -> dict[str, Any]:
    geom = _geometry_name(frame)
    if geom is None or getattr(frame, "crs", None) is None:
        raise SchemaError(
            f"cannot write {path}: a Shapefile needs geometries with a CRS; give the frame "
            "one (GeoDataFrame with .crs), or write the table with gis.io.write_table (CSV/XLSX)"
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
            "delete it or rewrite the Shapefile with field_map=True"
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
    fields = [str(c) for c in frame.columns if c != _geometry_name(frame)]
    names = shapefile_field_names(fields, encoding=enc, field_map=field_map, path=target)
    payload = _shapefile_payload(frame, target, enc, findings)
    with atomic_fileset(target, SHAPEFILE_PARTS, overwrite=overwrite) as tmp:
        try:
            pyogrio.raw.write(
                tmp, fields=[names[f] for f in fields], driver="ESRI Shapefile", **payload
            )
        except _GDAL_ERRORS as exc:
            raise DataSourceError(f"cannot write {target}: {exc}") from exc
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
            )
