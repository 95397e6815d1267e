"""KML/KMZ for phone map apps (奥维互动地图) and Google Earth, written with the standard library.

GDAL's LIBKML driver may be missing on a bureau PC, and its KML driver writes no styles, so the
document is built with :mod:`xml.etree.ElementTree`, which escapes every text node and
attribute. Coordinates are lon/lat (EPSG:4326; CGCS2000 and WGS 84 agree to a few centimetres
here), 7 decimals (≈ 1 cm).

- ``<name>`` is the ID (plain text).
- ``<description>`` is shown as HTML by Google Earth and 奥维, so the text is HTML-escaped
  first (``<`` shows as ``<``; nothing in a value can inject markup) and newlines become
  ``<br/>``; the XML layer then escapes it again.
- ``<ExtendedData>`` carries every attribute as plain text, so readers (GDAL's KML/LIBKML
  drivers) get the original values back exactly.
- Styles: one ``<Style>`` per value of ``style_field`` (KML colours are ``aabbggrr``; inputs are
  CSS ``#rrggbb`` or ``#rrggbbaa``); polygons get a translucent fill and an opaque outline.
- Folders: one ``<Folder>`` per value of ``folder_field`` (e.g. district), sorted.

Examples
--------
>>> kml_color("#ff8000")
'ff0080ff'
>>> kml_color("#ff800080", fill=True)
'800080ff'
"""

from __future__ import annotations

import html
import io
import os
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.crs import require_crs
from gis.errors import DataSourceError, SchemaError
from gis.findings import Findings
from gis.io._atomic import atomic_path
from gis.io.vector_write import json_text

KML_NS = "http://www.opengis.net/kml/2.2"
LONLAT_EPSG = 4326
FILL_ALPHA = "66"
DEFAULT_COLOR = "#808080"
PALETTE = (
    "#e41a1c",
    "#377eb8",
    "#4daf4a",
    "#984ea3",
    "#ff7f00",
    "#ffff33",
    "#a65628",
    "#f781bf",
    "#999999",
    "#66c2a5",
)
NO_FOLDER = "未分组"
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_HEX = re.compile(r"^#([0-9a-fA-F]{6})([0-9a-fA-F]{2})?$")


def kml_color(color: str, *, fill: bool = False) -> str:
    """Return a CSS colour ``#rrggbb`` / ``#rrggbbaa`` as KML ``aabbggrr``.

    Parameters
    ----------
    color : str
        CSS hex colour; the alpha defaults to opaque (``ff``), or to ``66`` when ``fill``.
    fill : bool
        A polygon fill: translucent unless the colour gives its own alpha.

    Raises
    ------
    SchemaError
        When ``color`` is not ``#rrggbb`` or ``#rrggbbaa``.
    """
    match = _HEX.match(str(color).strip())
    if not match:
        raise SchemaError(
            f"colour {color!r} is not #rrggbb or #rrggbbaa (CSS hex, e.g. '#e41a1c'); "
            "give styles as {value: '#rrggbb'}"
        )
    rgb, alpha = match.group(1).lower(), match.group(2)
    alpha = (alpha or (FILL_ALPHA if fill else "ff")).lower()
    return alpha + rgb[4:6] + rgb[2:4] + rgb[0:2]


def _text(value: Any) -> str:
    """Return ``value`` as XML-safe text ('' for missing values, JSON for lists and dicts)."""
    value = json_text(value)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return _XML_ILLEGAL.sub("", str(value))


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def _coords(geom: BaseGeometry) -> str:
    xy = shapely.get_coordinates(geom)
    return " ".join(f"{x:.7f},{y:.7f}" for x, y in xy)


def _geometry(parent: ET.Element, geom: BaseGeometry) -> None:
    """Append ``geom`` (lon/lat) to ``parent`` as KML geometry elements."""
    kind = geom.geom_type
    if kind == "Point":
        _sub(_sub(parent, "Point"), "coordinates", _coords(geom))
    elif kind in ("LineString", "LinearRing"):
        line = _sub(parent, "LineString")
        _sub(line, "tessellate", "1")
        _sub(line, "coordinates", _coords(geom))
    elif kind == "Polygon":
        poly = _sub(parent, "Polygon")
        _sub(poly, "tessellate", "1")
        oriented = shapely.geometry.polygon.orient(geom, 1.0)
        rings = [("outerBoundaryIs", oriented.exterior)]
        rings += [("innerBoundaryIs", r) for r in oriented.interiors]
        for tag, ring in rings:
            _sub(_sub(_sub(poly, tag), "LinearRing"), "coordinates", _coords(ring))
    else:  # Multi* and GeometryCollection
        multi = _sub(parent, "MultiGeometry")
        for part in getattr(geom, "geoms", ()):
            _geometry(multi, part)


def _style(doc: ET.Element, style_id: str, color: str) -> None:
    style = ET.SubElement(doc, "Style", id=style_id)
    icon = _sub(style, "IconStyle")
    _sub(icon, "color", kml_color(color))
    line = _sub(style, "LineStyle")
    _sub(line, "color", kml_color(color))
    _sub(line, "width", "2")
    _sub(_sub(style, "PolyStyle"), "color", kml_color(color, fill=True))


def _style_ids(
    values: Iterable[Hashable], styles: Mapping[Any, str] | None
) -> dict[Hashable, tuple[str, str]]:
    """Return value → (style id, CSS colour); unknown values share a grey default."""
    uniq = sorted({v for v in values if _text(v)}, key=str)
    out: dict[Hashable, tuple[str, str]] = {}
    for i, value in enumerate(uniq):
        if styles is None:
            color = PALETTE[i % len(PALETTE)]
        else:
            color = styles.get(value, styles.get(str(value), DEFAULT_COLOR))
        out[value] = (f"s{i}", color)
    return out


def _description(value: Any) -> str:
    return html.escape(_text(value)).replace("\n", "<br/>")


def _extended(parent: ET.Element, row: Mapping[Hashable, Any]) -> None:
    data = _sub(parent, "ExtendedData")
    for name, value in row.items():
        item = ET.SubElement(data, "Data", name=_text(name))
        _sub(item, "value", _text(value))


def _require_fields(frame: pd.DataFrame, fields: Mapping[str, str | None], path: Path) -> None:
    for option, field in fields.items():
        if field is not None and field not in frame.columns:
            have = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)
            raise SchemaError(
                f"cannot write {path}: {option}={field!r} is not a column; the frame has {have}"
            )


def _lonlat_frame(frame: Any, path: Path, findings: Findings | None) -> Any:
    if getattr(frame, "_geometry_column_name", None) not in frame.columns:
        raise SchemaError(
            f"cannot write {path}: KML needs geometries; write tables with gis.io.write_table"
        )
    require_crs(frame.crs, f"the frame written to {path}")
    missing = shapely.is_missing(frame.geometry.values) | shapely.is_empty(frame.geometry.values)
    if missing.any() and findings is not None:
        ids = ", ".join(str(i) for i in frame.index[missing][:10])
        findings.add(
            "empty_geometry",
            f"{int(missing.sum())} features without geometry left out of the KML (rows {ids})",
            source=str(path),
        )
    return frame.loc[~missing].to_crs(LONLAT_EPSG)


def _placemark(
    parent: ET.Element, row: pd.Series, geom: BaseGeometry, opts: Mapping[str, Any]
) -> None:
    mark = _sub(parent, "Placemark")
    _sub(mark, "name", _text(row[opts["name_field"]]))
    if opts["description_field"] is not None:
        _sub(mark, "description", _description(row[opts["description_field"]]))
    if opts["style_field"] is not None:
        style = opts["style_ids"].get(row[opts["style_field"]])
        _sub(mark, "styleUrl", f"#{style[0] if style else 'default'}")
    if opts["extended_data"]:
        _extended(mark, row.to_dict())
    _geometry(mark, geom)


def build_kml(
    frame: Any,
    *,
    name_field: str,
    description_field: str | None = None,
    style_field: str | None = None,
    styles: Mapping[Any, str] | None = None,
    folder_field: str | None = None,
    document_name: str = "Linyuan",
    extended_data: bool = True,
) -> bytes:
    """Return a KML document (UTF-8 bytes) for a lon/lat frame; see :func:`write_kml`.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame({"id": ["净月潭"]}, geometry=[shapely.Point(125.45, 43.8)],
    ...                      crs=4326)
    >>> "<name>净月潭</name>" in build_kml(g, name_field="id").decode("utf-8")
    True
    """
    root = ET.Element("kml", xmlns=KML_NS)
    doc = _sub(root, "Document")
    _sub(doc, "name", _text(document_name))
    attrs = frame.drop(columns=frame.geometry.name)
    opts: dict[str, Any] = {
        "name_field": name_field,
        "description_field": description_field,
        "style_field": style_field,
        "extended_data": extended_data,
        "style_ids": {},
    }
    if style_field is not None:
        opts["style_ids"] = _style_ids(attrs[style_field], styles)
        _style(doc, "default", DEFAULT_COLOR)
        for style_id, color in opts["style_ids"].values():
            _style(doc, style_id, color)
    folders = _folders(doc, attrs, folder_field)
    for (_, row), geom, folder in zip(
        attrs.iterrows(), frame.geometry.values, folders, strict=True
    ):
        _placemark(folder, row, geom, opts)
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _folders(doc: ET.Element, attrs: pd.DataFrame, folder_field: str | None) -> list[ET.Element]:
    """Return the parent element of each row: the document, or its value's folder."""
    if folder_field is None:
        return [doc] * len(attrs)
    keys = [_text(v) or NO_FOLDER for v in attrs[folder_field]]
    elements: dict[str, ET.Element] = {}
    for key in sorted(set(keys)):
        elements[key] = _sub(doc, "Folder")
        _sub(elements[key], "name", key)
    return [elements[k] for k in keys]


def write_kml(
    frame: Any,
    path: str | os.PathLike[str],
    *,
    name_field: str,
    description_field: str | None = None,
    style_field: str | None = None,
    styles: Mapping[Any, str] | None = None,
    folder_field: str | None = None,
    document_name: str | None = None,
    extended_data: bool = True,
    overwrite: bool = False,
    findings: Findings | None = None,
) -> Path:
    """Write features as KML, or KMZ (a zip holding ``doc.kml``) by the suffix, atomically.

    Parameters
    ----------
    frame : GeoDataFrame
        Points, lines and/or polygons in any CRS (reprojected to lon/lat).
    path : path-like
        ``.kml`` or ``.kmz``.
    name_field : str
        Column shown as each placemark's name (the patch or point ID).
    description_field : str, optional
        Column shown as the description (e.g. ``reasons``); HTML-escaped.
    style_field : str, optional
        Column whose values pick the colour (e.g. ``legality``).
    styles : mapping of value to str, optional
        Value → CSS colour ``#rrggbb[aa]``; values not listed are grey. Default: a fixed
        palette in sorted value order.
    folder_field : str, optional
        Column whose values group placemarks into folders (e.g. ``district``).
    document_name : str, optional
        Name of the document (default: the file stem).
    extended_data : bool
        Add every attribute as ``<ExtendedData>``.
    overwrite : bool
        Replace an existing file.
    findings : Findings, optional
        Receives ``empty_geometry`` when features without geometry are left out.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    SchemaError
        A named field is missing, a colour is malformed, or the frame has no geometry.
    CRSError
        The frame has no CRS.
    OutputExistsError
        The output exists and ``overwrite`` is false.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".kml", ".kmz"):
        raise DataSourceError(f"cannot write {target} as KML: use a .kml or .kmz suffix")
    fields = {"name_field": name_field, "description_field": description_field}
    fields |= {"style_field": style_field, "folder_field": folder_field}
    _require_fields(frame, fields, target)
    for color in (styles or {}).values():
        kml_color(color)
    lonlat = _lonlat_frame(frame, target, findings)
    data = build_kml(
        lonlat,
        name_field=name_field,
        description_field=description_field,
        style_field=style_field,
        styles=styles,
        folder_field=folder_field,
        document_name=document_name or target.stem,
        extended_data=extended_data,
    )
    with atomic_path(target, overwrite=overwrite) as tmp:
        if suffix == ".kml":
            tmp.write_bytes(data)
        else:
            _write_kmz(tmp, data)
    return target


def _write_kmz(path: Path, data: bytes) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", data)
    path.write_bytes(buffer.getvalue())


__all__ = ["build_kml", "kml_color", "write_kml"]
