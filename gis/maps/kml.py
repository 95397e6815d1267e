"""KMZ of check results for 奥维互动地图 and Google Earth, styled like the field map.

Patches (``patches_checked``) are named by patch ID, described by their reasons and coloured
by legality; discolored points (``discolored_points``) are named by point ID, described by
their crown facts and coloured by status. Colours come from :mod:`gis.maps.style` (the map,
this export and the checks' own KMZ use one table). Placemarks are grouped in one folder per
district (per township or forest chief when no feature has a district). Writing is
:func:`gis.io.write_kml`; every attribute also travels as ``<ExtendedData>``.

:func:`export_results_kml` is the one results KMZ: ``linyuan export kml`` and the ``--kml``
of ``check patches`` and ``detect discolored`` all write a layer of a results GeoPackage
with it, so the same results give the same file.

Examples
--------
>>> KmlKind.get("points")
<KmlKind.POINTS: 'points'>
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gis.enums import ParamEnum
from gis.errors import SchemaError
from gis.findings import Findings
from gis.io import read_layer, write_kml
from gis.layers import code_text, coded_fields, yes_no
from gis.maps.style import (
    DISCOLORED,
    FIELD_LABELS,
    HOTSPOTS,
    PATCHES,
    Lang,
    MapOptionError,
    colour_table,
)

DESCRIPTION = "description"
FOLDER_FIELDS: tuple[str, ...] = ("district", "township", "forest_chief")
"""Folder field: the first of these that some feature has."""
UNGROUPED = ("未分组", "Ungrouped")


class KmlKind(ParamEnum):
    """What a KMZ shows: ``patches`` (督查图斑), ``points`` (变色立木), ``hotspots`` (热点)."""

    PATCHES = "patches"
    POINTS = "points"
    HOTSPOTS = "hotspots"

    @classmethod
    def describe(cls) -> str:
        """Name of the option in error messages."""
        return "KMZ kind"

    @classmethod
    def describe_zh(cls) -> str:
        """Name of the option in Chinese error messages."""
        return "KMZ 类型"

    @classmethod
    def error(cls, message: str, zh: str) -> Exception:
        """Exception raised for a value outside the list."""
        return MapOptionError(message, zh=zh)


ID_FIELD = {KmlKind.PATCHES: "patch_id", KmlKind.POINTS: "point_id", KmlKind.HOTSPOTS: "hotspot_id"}
STYLE_OF = {KmlKind.PATCHES: PATCHES, KmlKind.POINTS: DISCOLORED, KmlKind.HOTSPOTS: HOTSPOTS}
CATALOG_KIND = {
    KmlKind.PATCHES: "change_patches",
    KmlKind.POINTS: "pest_points",
    KmlKind.HOTSPOTS: None,
}
"""Catalog kind whose code lists name the values of each KMZ kind (hotspots: the rules do)."""
FACTS: Mapping[KmlKind, tuple[str, ...]] = {
    KmlKind.PATCHES: ("legality", "area_ha", "area_mu", "change_type", "reasons"),
    KmlKind.POINTS: (
        "status",
        "species",
        "crown_m2",
        "ndvi",
        "grvi",
        "confidence",
        "stand_id",
        "image_date",
        "status_note",
    ),
    KmlKind.HOTSPOTS: (
        "fire_kind",
        "field_priority",
        "feedback_hours",
        "detected_bjt",
        "event_id",
        "forest_share",
        "district",
        "township",
        "forest_chief",
        "reasons",
    ),
}
"""Fields shown in the description, in order (those the frame has)."""


def kind_of(frame: pd.DataFrame, *, source: str = "the layer") -> KmlKind:
    """Return the kind of a results layer from its ID column (``patch_id`` / ``point_id``)."""
    for kind, field in ID_FIELD.items():
        if field in frame.columns:
            return kind
    raise SchemaError(
        f"{source} has neither patch_id nor point_id (nor hotspot_id); export the "
        "patches_checked layer of a patch-check result, the discolored_points layer of a "
        "detection or the hotspots_checked layer of a hotspot check (--layer)",
        zh=f"{source} 既没有 patch_id，也没有 point_id（或 hotspot_id）；请用 --layer 导出"
        "图斑核查结果的 patches_checked 图层、变色立木检测结果的 discolored_points 图层"
        "或热点核查结果的 hotspots_checked 图层",
    )


def _shown(value: Any, field: str, kind: KmlKind, lang: Lang) -> str:
    """Return a value as the description shows it: codes by meaning, 是/否, rounded numbers."""
    style, catalog_kind = STYLE_OF[kind], CATALOG_KIND[kind]
    if field == style.field and str(value) in style.colors:  # the legend's words
        return style.colors[str(value)][1 if lang is Lang.ZH else 2]
    if catalog_kind is not None and field in coded_fields(catalog_kind):
        return code_text(catalog_kind, field, value, lang=lang.value)
    if isinstance(value, bool | np.bool_):
        return yes_no(bool(value), lang)
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 10 else f"{value:,.2f}"
    return str(value)


def describe(row: Mapping[str, Any], kind: KmlKind, lang: Lang) -> str:
    """Return the plain-text description of one feature: ``label: value`` lines."""
    i = 0 if lang is Lang.ZH else 1
    sep = "：" if lang is Lang.ZH else ": "
    lines = []
    for field in FACTS[kind]:
        value = row.get(field)
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            continue
        label = FIELD_LABELS[field][i] if field in FIELD_LABELS else field
        lines.append(f"{label}{sep}{_shown(value, field, kind, lang)}")
    return "\n".join(lines)


def _folder_field(frame: pd.DataFrame) -> str | None:
    for field in FOLDER_FIELDS:
        if field in frame.columns and frame[field].notna().any():
            return field
    return None


def export_kml(
    frame: Any,
    path: str | os.PathLike[str],
    *,
    kind: str | KmlKind | None = None,
    lang: str | Lang = Lang.ZH,
    overwrite: bool = False,
    findings: Findings | None = None,
) -> Path:
    """Write check results as a styled KMZ (or KML by the suffix) for phone map apps.

    Parameters
    ----------
    frame : GeoDataFrame
        ``patches_checked`` or ``discolored_points`` (any CRS; written as lon/lat).
    path : path-like
        ``.kmz`` (recommended: one small file for WeChat / QQ transfer) or ``.kml``.
    kind : {"patches", "points", "hotspots"}, optional
        Default: from the ID column (``patch_id`` → patches, ``point_id`` → points).
    lang : {"zh", "en"}
        Language of descriptions, legend values and the ungrouped folder.
    overwrite : bool
        Replace an existing file.
    findings : Findings, optional
        Receives ``empty_geometry`` when features without geometry are left out.

    Raises
    ------
    SchemaError
        The frame lacks the ID column of its kind.
    MapOptionError
        Unknown ``kind`` or ``lang``.
    OutputExistsError
        The file exists and ``overwrite`` is false.
    """
    lang = Lang.get(lang)
    kind = kind_of(frame, source=str(path)) if kind is None else KmlKind.get(kind)
    style = STYLE_OF[kind]
    rows = frame.drop(columns=frame.geometry.name).to_dict("records")
    out = frame.assign(**{DESCRIPTION: [describe(r, kind, lang) for r in rows]})
    return write_kml(
        out,
        path,
        name_field=ID_FIELD[kind],
        description_field=DESCRIPTION,
        style_field=style.field if style.field in frame.columns else None,
        styles=colour_table(style),
        folder_field=_folder_field(frame),
        ungrouped=UNGROUPED[0 if lang is Lang.ZH else 1],
        overwrite=overwrite,
        findings=findings,
    )


def export_results_kml(
    results: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    layer: str,
    lang: str | Lang = Lang.ZH,
    overwrite: bool = False,
    findings: Findings | None = None,
    engine: str = "pyogrio",
) -> tuple[Path, int]:
    """Write ``layer`` of a results GeoPackage as the styled KMZ; return it and its features.

    The layer is read as written (codes, plain dtypes), whichever command wrote it, so
    ``check patches --kml``, ``detect discolored --kml`` and ``linyuan export kml`` give the
    same file for the same results. See :func:`export_kml` for ``lang``, ``overwrite`` and
    ``findings``; ``engine`` reads the layer (:func:`gis.io.read_layer`).
    """
    frame = read_layer(results, layer=layer, findings=findings, engine=engine)
    return export_kml(frame, path, lang=lang, overwrite=overwrite, findings=findings), len(frame)
