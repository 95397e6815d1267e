r"""Build a field map from result layers: a folium map of Linyuan's elements.

Why not folium's stock elements (``GeoJson``, ``MarkerCluster`` of ``Marker``\ s): they emit
one style case per feature (``style_function``: 12 s vs 2 s to draw 50k polygons), insert
layer names, popups and tooltips as HTML (injected markup executes), and serialise GeoJSON
with 15-digit coordinates; folium 0.20 also loads its assets from CDNs. So each layer here is
one :class:`gis.maps.elements.PackedLayer`: the data as one compact JSON block
(:mod:`gis.maps.encode`) drawn on canvas by the map runtime (``templates/runtime.js``) —
polygon layers through a subclass of ``L.Canvas`` that draws straight from typed arrays,
points as ``L.circleMarker`` in a markercluster group — with popups built with
``textContent``. The map itself is a :class:`gis.maps.page.FieldMap` (a ``folium.Map``)
whose page inlines the vendored assets and carries a Content-Security-Policy.

Measured by ``scripts/bench_map.py`` (40k subcompartments + 10k patches + 100k points, headless
Chromium, against plain folium): see the numbers in the module ``gis.maps`` docstring.

Examples
--------
>>> import geopandas as gpd, shapely
>>> frame = gpd.GeoDataFrame(
...     {"patch_id": ["P1"], "legality": ["suspected_illegal"]},
...     geometry=[shapely.box(500_000, 4_850_000, 500_100, 4_850_100)], crs="EPSG:4551")
>>> m = build_map({"patches_checked": frame}, title="测试")
>>> import folium
>>> isinstance(m, folium.Map)
True
>>> html = m.to_html()
>>> html.startswith("<!DOCTYPE html>"), "<script src=" in html, "<link" in html
(True, False, False)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement

from gis.crs import require_crs
from gis.findings import Findings
from gis.layers import catalog, code_text, coded_fields, layer_kind, yes_no
from gis.maps import assets, elements
from gis.maps.encode import (
    SCALE,
    encode_geometry,
    escape_script_json,
    geometry_kind,
    int_array_json,
    json_object,
    script_json,
)
from gis.maps.page import FieldMap
from gis.maps.quicklook import Quicklook
from gis.maps.style import (
    DEFAULT_STYLES,
    FIELD_LABELS,
    POINT_OUTCOMES,
    UI_TEXT,
    Geometry,
    Lang,
    LayerStyle,
    TileSource,
    style_for,
)
from gis.progress import counted, step

LONLAT = "EPSG:4326"
UNKNOWN_RUN = "run-unknown"
"""Run id written into field records when the map's results have none (as gis.verify reads)."""
METRES_PER_DEGREE = 111_320.0
"""Rough length of one degree of latitude, to express a tolerance for lon/lat inputs."""


def _lang_index(lang: Lang) -> int:
    return 0 if lang is Lang.ZH else 1


def _run_id(run_ids: str | Mapping[str, str] | None, layer: str) -> str:
    if isinstance(run_ids, str):
        return run_ids
    return (run_ids or {}).get(layer, UNKNOWN_RUN)


def draw_order(
    layers: Mapping[str, gpd.GeoDataFrame], styles: Mapping[str, LayerStyle] = DEFAULT_STYLES
) -> list[tuple[str, gpd.GeoDataFrame]]:
    """Return the non-empty layers bottom to top: context, then other shapes, then points.

    The given order is kept within each group; a click goes to the topmost layer hit.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> poly = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=4551)
    >>> point = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], crs=4551)
    >>> [n for n, _ in draw_order({"pts": point, "patches": poly, "subcompartments": poly})]
    ['subcompartments', 'patches', 'pts']
    """

    def rank(item: tuple[str, gpd.GeoDataFrame]) -> int:
        name, frame = item
        if style_for(name, styles).context:
            return 0
        return 2 if frame.geom_type.isin(["Point", "MultiPoint"]).all() else 1

    present = [(n, f) for n, f in layers.items() if not f.empty]
    return sorted(present, key=rank)


def cause_choices(lang: Lang) -> list[list[str]]:
    """``[code, "code label"]`` of 核实变化原因 from the layer catalog, for the patch form."""
    codes = layer_kind("change_patches").fields["verified_cause_code"].codes or {}
    key = "zh" if lang is Lang.ZH else "en"
    return [[str(code), f"{code} {meaning[key]}"] for code, meaning in sorted(codes.items())]


def fire_type_choices(lang: Lang) -> list[list[str]]:
    """``[code, label]`` of 火情类型 from the layer catalog, for the hotspot form."""
    codes = layer_kind("hotspots").fields["fire_type"].codes or {}
    key = "zh" if lang is Lang.ZH else "en"
    return [[str(code), meaning[key]] for code, meaning in codes.items()]


def simplify_context(
    frame: gpd.GeoDataFrame, *, tolerance_m: float, name: str, findings: Findings
) -> gpd.GeoDataFrame:
    """Simplify a polygon coverage so that shared boundaries stay shared.

    Parameters
    ----------
    frame : GeoDataFrame
        Polygons that tile without overlaps (subcompartments, districts).
    tolerance_m : float
        Metres, in the frame's projected CRS (converted roughly to degrees for lon/lat).
    name : str
        Layer name, for the finding when the frame is not a valid coverage.
    findings : Findings
        Receives a warning when the layer overlaps itself and is left unsimplified.

    Returns
    -------
    GeoDataFrame
        A copy with simplified geometry (or the frame itself when it was not simplified).
    """
    if tolerance_m <= 0 or frame.empty:
        return frame
    tolerance = tolerance_m / METRES_PER_DEGREE if frame.crs.is_geographic else tolerance_m
    geoms = frame.geometry.to_numpy()
    if not shapely.coverage_is_valid(geoms):
        findings.add(
            "map_coverage_invalid",
            f"layer {name!r} has overlapping or misaligned polygons, so it is drawn without "
            "simplification (bigger map file); run the quality check to find the overlaps",
            severity="info",
            source=name,
            zh=f"图层 {name!r} 有重叠或未对齐的多边形，因此不简化绘制（地图文件更大）；"
            "请运行数据质检找出重叠处",
        )
        return frame
    out = frame.copy()
    out.geometry = shapely.coverage_simplify(geoms, tolerance, simplify_boundary=True)
    return out


def _clean(frame: gpd.GeoDataFrame, name: str, findings: Findings) -> gpd.GeoDataFrame:
    require_crs(frame.crs, what=f"map layer {name!r}")
    missing = frame.geometry.isna() | frame.geometry.is_empty
    if missing.any():
        findings.add(
            "map_geometry_missing",
            f"{int(missing.sum())} feature(s) of layer {name!r} have no geometry and are not "
            "on the map",
            source=name,
            zh=f"图层 {name!r} 有 {int(missing.sum())} 个要素没有几何，未上图",
        )
        frame = frame.loc[~missing]
    if (frame.geom_type == "MultiPoint").any():
        frame = frame.explode(index_parts=False)
    return frame


def _rows_json(frame: gpd.GeoDataFrame) -> str:
    table = frame.drop(columns=frame.geometry.name)
    table.columns = [str(c) for c in table.columns]
    text: str = table.to_json(
        orient="values", force_ascii=False, date_format="iso", default_handler=str
    )
    return escape_script_json(text)


def _legend(style: LayerStyle, values: set[str], lang: Lang) -> list[list[str]]:
    i = 1 + _lang_index(lang)
    entries = [[c[0], c[i]] for v, c in style.colors.items() if v in values]
    if style.field and values - set(style.colors):
        entries.append([style.color, UI_TEXT["other"][_lang_index(lang)]])
    return entries


def _style_json(style: LayerStyle, fields: list[str]) -> str:
    field_index = fields.index(style.field) if style.field in fields else None
    return script_json(
        {
            "field": field_index,
            "colors": {k: v[0] for k, v in style.colors.items()},
            "color": style.color,
            "context": style.context,
            "fill_opacity": style.fill_opacity,
        }
    )


def _id_index(style: LayerStyle, fields: list[str]) -> int | None:
    if style.id_field in fields:
        return fields.index(style.id_field)
    if style.id_field is None:
        return next((fields.index(f) for f in ("patch_id", "point_id", "id") if f in fields), None)
    return None


LAYER_KINDS: Mapping[str, str] = {
    "patches_checked": "change_patches",
    "discolored_points": "pest_points",
}
"""Catalog kind of the results layers whose name is not a kind (others: their own name)."""


def _value_words(
    name: str, frame: gpd.GeoDataFrame, style: LayerStyle, lang: Lang
) -> list[dict[str, str] | None]:
    """Per field, value → the words a popup shows (codes by meaning, 是/否), or None.

    Only the values the layer holds are listed; the rows keep the codes (the colours, the
    search and the verification form work on them).
    """
    kind = LAYER_KINDS.get(name, name)
    coded = set(coded_fields(kind)) if kind in catalog().kinds else set()
    out: list[dict[str, str] | None] = []
    for field in (c for c in frame.columns if c != frame.geometry.name):
        column = frame[field]
        if field == style.field:
            i = 1 + _lang_index(lang)
            out.append({k: v[i] for k, v in style.colors.items()})
        elif field in coded:
            values = column.dropna().unique()
            out.append({_key(v): code_text(kind, field, v, lang=lang.value) for v in values})
        elif column.dtype == bool or str(column.dtype) == "boolean":
            out.append({"true": yes_no(True, lang.value), "false": yes_no(False, lang.value)})
        else:
            out.append(None)
    return out


def _key(value: Any) -> str:
    """Return a value as the browser's ``String(value)`` writes it (3.0 → "3")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _field_meta(fields: list[str], style: LayerStyle, lang: Lang) -> dict[str, str]:
    i = _lang_index(lang)
    aliases = [FIELD_LABELS[f][i] if f in FIELD_LABELS else f for f in fields]
    return {
        "fields": script_json(fields),
        "aliases": script_json(aliases),
        "id_field": script_json(_id_index(style, fields)),
        "style": _style_json(style, fields),
    }


def _nav_points(frame: gpd.GeoDataFrame, kind: Geometry, style: LayerStyle) -> str:
    """Absolute microdegree lon/lat of a point inside each feature (the "navigate" target)."""
    if kind is Geometry.POINT or style.context:
        return "null"
    points = frame.geometry.representative_point().to_crs(LONLAT)
    xy = shapely.get_coordinates(points.to_numpy())
    return int_array_json(np.round(xy * SCALE).astype(np.int64).ravel())


def encode_layer(
    name: str,
    frame: gpd.GeoDataFrame,
    *,
    style: LayerStyle,
    lang: Lang,
    simplify_m: float,
    findings: Findings,
    run_id: str = "run-unknown",
) -> tuple[str, Any]:
    """Return the JSON of one layer for the map script, and its lon/lat bounds.

    Parameters
    ----------
    name : str
        Layer name (shown when the style has no label).
    frame : GeoDataFrame
        The layer in any declared CRS; reprojected to EPSG:4326 here.
    style, lang
        Look and language.
    simplify_m : float
        Coverage simplification tolerance of context layers, metres in the layer's CRS.
    findings : Findings
        Receives data problems (missing geometry, overlapping coverage).
    run_id : str
        Run id of the results file the layer came from (copied into field records).
    """
    frame = _clean(frame, name, findings)
    kind = geometry_kind(frame, name)
    if style.context and kind is Geometry.POLYGON:
        frame = simplify_context(frame, tolerance_m=simplify_m, name=name, findings=findings)
    nav = _nav_points(frame, kind, style)
    lonlat = frame.to_crs(LONLAT)
    fields = [str(c) for c in frame.columns if c != frame.geometry.name]
    values: set[str] = set()
    if style.field in frame.columns:
        values = {str(v) for v in frame[style.field].dropna().unique()}
    label = style.label[_lang_index(lang)] or name
    parts = {
        "name": script_json(name),
        "label": script_json(label),
        "geom": script_json(kind.value),
        "legend": script_json(_legend(style, values, lang)),
        **_field_meta(fields, style, lang),
        "words": script_json(_value_words(name, frame, style, lang)),
        "rows": _rows_json(lonlat),
        **encode_geometry(lonlat.geometry.to_numpy(), kind),
        "nav": nav,
        "verify": script_json(style.verify),
        "run_id": script_json(run_id),
    }
    return json_object(parts), lonlat.total_bounds if len(lonlat) else None


def _bounds(encoded: list[tuple[str, Any, LayerStyle]]) -> list[float] | None:
    """Lon/lat bounds of the non-context layers (all layers when every one is context)."""
    main = [b for _, b, s in encoded if b is not None and not s.context]
    boxes = main or [b for _, b, _ in encoded if b is not None]
    if not boxes:
        return None
    stack = np.asarray(boxes, dtype=float)
    return [*stack[:, :2].min(axis=0).tolist(), *stack[:, 2:].max(axis=0).tolist()]


def _basemap(basemap: TileSource) -> elements.Basemap:
    data = script_json(
        {
            "url": basemap.url,
            "attribution": basemap.attribution,
            "subdomains": list(basemap.subdomains),
            "max_zoom": basemap.max_zoom,
            "overlays": list(basemap.overlays),
        }
    )
    return elements.Basemap(data, tile_urls=(basemap.url, *basemap.overlays))


def _quicklook(image: Quicklook, lang: Lang) -> elements.Quicklook:
    west, south, east, north = image.bounds
    label = f"{UI_TEXT['imagery'][_lang_index(lang)]} {image.label}"
    return elements.Quicklook(
        script_json(
            {
                "image": image.image,
                "mask": image.mask,
                "bounds": [[south, west], [north, east]],
                "label": label,
            }
        )
    )


def _controls(title: str, form: str | None) -> list[MacroElement]:
    """Return the controls in the order they stack (the order of the map before folium)."""
    controls: list[MacroElement] = [
        elements.LayerSwitcher(),
        elements.ScaleBar(),
        elements.Fullscreen(),
        elements.Locate(),
        elements.Measure(),
        elements.Title(title),
        elements.Search(),
        elements.Legend(),
    ]
    if form is not None:
        controls.append(elements.VerificationForm(form))
    return controls


def build_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    title: str,
    lang: str | Lang = Lang.ZH,
    basemap: TileSource | None = None,
    styles: Mapping[str, LayerStyle] = DEFAULT_STYLES,
    map_id: str | None = None,
    simplify_m: float = 2.0,
    results_run_id: str | Mapping[str, str] | None = None,
    findings: Findings | None = None,
    quicklook: Quicklook | None = None,
    verification: bool = True,
) -> FieldMap:
    """Return the field map of ``layers``: a folium map whose saved page needs no network.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Layer name → frame in any declared CRS (reprojected to EPSG:4326 here). Each layer
        holds one geometry family. Drawn bottom to top: context layers, other polygons and
        lines, points (:func:`draw_order`). Empty layers are left out.
    title : str
        Title shown on the map and in the browser tab (escaped).
    lang : {"zh", "en"}
        Interface language.
    basemap : TileSource, optional
        Tiles under the layers (:func:`gis.maps.style.tianditu` or a custom
        :class:`~gis.maps.style.TileSource`); none by default, so the map needs no network.
    styles : mapping of str to LayerStyle
        Looks by layer name; unknown layers get a plain style.
    map_id : str, optional
        Stable identifier of the map (the verification records are keyed by it); by default a
        digest of the data.
    simplify_m : float
        Tolerance of the coverage simplification of context layers, metres in the layers' CRS;
        0 keeps every vertex.
    results_run_id : str or mapping of str to str, optional
        Run id of the results shown (``gis.verify.results_run_id(path)``), or layer name → run
        id when layers come from several results files; copied into every field record made
        in the map. Missing: ``"run-unknown"``.
    findings : Findings, optional
        Receives data problems (features without geometry, overlapping context coverage).
    quicklook : Quicklook, optional
        An image of a raster (:func:`gis.maps.quicklook.quicklook`) drawn under the layers as
        an embedded ``data:`` image (no network); it frames the view when no layer does.
    verification : bool
        Give patches, points and hotspots the "核查" form (records kept in the browser).
        ``False`` for maps that are not for field work (the overview in a report).

    Returns
    -------
    FieldMap
        A ``folium.Map`` (:class:`gis.maps.page.FieldMap`) holding Linyuan's elements
        (:mod:`gis.maps.elements`). Add folium elements to it, show it in a notebook, or
        write the page with ``.save(path)`` (``.to_html()`` returns the text).

    Raises
    ------
    CRSError
        When a layer has no CRS.
    SchemaError
        When a layer mixes polygons, lines and points.
    """
    lang = Lang.get(lang)
    log = Findings() if findings is None else findings
    layers_out = []
    order = draw_order(layers, styles)
    with step("map layers encoded", zh="地图图层编码") as progress:
        for name, frame in counted(order, progress, len(order)):
            style = style_for(name, styles)
            text, bounds = encode_layer(
                name,
                frame,
                style=style,
                lang=lang,
                simplify_m=simplify_m,
                findings=log,
                run_id=_run_id(results_run_id, name),
            )
            layers_out.append((name, text, bounds, style))
    layers_json = "[" + ",".join(t for _, t, _, _ in layers_out) + "]"
    digest = hashlib.sha256(layers_json.encode("utf-8"))
    map_id = map_id or "map-" + digest.hexdigest()[:16]
    i = _lang_index(lang)
    ui = {k: v[i] for k, v in UI_TEXT.items()}
    bounds = _bounds([(t, b, s) for _, t, b, s in layers_out])
    config = {
        "ui": ui,
        "icons": assets.default_icons(),
        "bounds": bounds or (list(quicklook.bounds) if quicklook else None),
    }
    fmap = FieldMap(config=script_json(config), title=title, lang=lang.value, map_id=map_id)
    if quicklook is not None:
        _quicklook(quicklook, lang).add_to(fmap)
    if basemap is not None:
        _basemap(basemap).add_to(fmap)
    for name, text, _, _ in layers_out:
        elements.PackedLayer(text, name=name).add_to(fmap)
    form = {
        "map_id": map_id,
        "ui": ui,
        "causes": cause_choices(lang),
        "outcomes": [[v, t[i]] for v, *t in POINT_OUTCOMES],
        "fire_types": fire_type_choices(lang),
    }
    for control in _controls(title, script_json(form) if verification else None):
        control.add_to(fmap)
    return fmap
