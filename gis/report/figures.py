r"""Report charts and static overview maps (matplotlib, no basemap, CJK font from gis.charts).

Every figure is rendered to PNG by :func:`png`, inside :func:`gis.charts.glyphs_checked`: a
label the font cannot draw fails the report instead of printing tofu boxes. Without a CJK
font the charts fall back to English labels (a :class:`gis.charts.FontWarning`) and names
that need CJK glyphs become ``#1``, ``#2`` ….

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"label": ["a", "b"], "value": [2.0, 1.0]})
>>> png(bar_chart(t, label="label", value="value", title="t", lang="en"))[:4]
b'\x89PNG'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from gis.charts import Lang, chart_language, glyphs_checked, png_bytes

PALETTE = (
    "#c62828",
    "#1565c0",
    "#2e7d32",
    "#f9a825",
    "#6a1b9a",
    "#00838f",
    "#ef6c00",
    "#5d4037",
    "#757575",
)
"""Category colours, in order of first appearance."""

FIXED_COLOURS = {
    "suspected_illegal": "#c62828",
    "needs_field_check": "#ef6c00",
    "permitted": "#2e7d32",
    "lawful_no_permit": "#1565c0",
    "not_forest_land": "#8d6e63",
    "no_change": "#9e9e9e",
    "unverified": "#ef6c00",
}


def _font_kw(font: str | None) -> dict[str, Any]:
    return {} if font is None else {"fontfamily": [font, "DejaVu Sans"]}


def _names(values: Sequence[Any], font: str | None) -> list[str]:
    """Labels as given with a CJK font; without one, non-ASCII labels become #1, #2, …."""
    names = [str(v) for v in values]
    if font is not None:
        return names
    return [n if n.isascii() else f"#{k + 1}" for k, n in enumerate(names)]


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    fig.set_facecolor("white")
    return fig


def png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes; a glyph missing from the font raises ``UserWarning``."""
    with glyphs_checked():
        return png_bytes(fig)


def bar_chart(
    table: pd.DataFrame,
    *,
    label: str,
    value: str,
    title: str,
    lang: str | Lang = "zh",
    percent: bool = False,
    colours: Sequence[str] | None = None,
) -> Figure:
    """Return a horizontal bar chart of ``value`` per ``label`` (first row on top).

    Parameters
    ----------
    table : DataFrame
        One row per bar.
    label, value : str
        Columns with the bar names and lengths.
    title : str
        Chart title (already in the chart's language).
    lang : {"zh", "en"}
        Label language; Chinese falls back to English without a CJK font.
    percent : bool
        ``value`` is a share 0–1, drawn as percent with a 0–100 axis.
    colours : sequence of str, optional
        One colour per row.
    """
    _, font = chart_language(lang)
    n = len(table)
    fig = _figure(7.0, 0.42 * max(n, 1) + 1.3)
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    vals = table[value].astype("f8").fillna(0).to_numpy() * (100.0 if percent else 1.0)
    ax.barh(y, vals, color=list(colours) if colours else "#2e7d32")
    for yi, v in zip(y, vals, strict=True):
        ax.text(v, yi, f" {v:,.1f}{'%' if percent else ''}", va="center", fontsize=9)
    ax.set_yticks(y, _names(list(table[label]), font), **_font_kw(font))
    if percent:
        ax.set_xlim(0, 115)
    else:
        ax.set_xlim(0, (vals.max() if n else 1) * 1.18 or 1)
    ax.set_title(title, **_font_kw(font))
    return fig


def category_map(
    frame: gpd.GeoDataFrame,
    *,
    column: str,
    names: Mapping[Any, str],
    title: str,
    lang: str | Lang = "zh",
    outline: gpd.GeoDataFrame | None = None,
) -> Figure:
    """Return a static overview map of features coloured by ``column`` (no basemap).

    Parameters
    ----------
    frame : GeoDataFrame
        Polygons or points in a projected CRS (metres); axes are labelled in km.
    column : str
        Category column (codes); ``names`` maps codes to legend text.
    names : mapping
        Code → legend label, in the chart's language.
    title : str
        Map title.
    lang : {"zh", "en"}
        Label language.
    outline : GeoDataFrame, optional
        Polygons drawn as grey outlines beneath (e.g. host stands).
    """
    _, font = chart_language(lang)
    fig = _figure(7.5, 6.5)
    ax = fig.add_subplot()
    if outline is not None and not outline.empty:
        outline.boundary.plot(ax=ax, color="#9e9e9e", linewidth=0.5)
    handles = []
    codes = list(dict.fromkeys(frame[column].fillna("—")))
    for k, code in enumerate(codes):
        colour = FIXED_COLOURS.get(str(code), PALETTE[k % len(PALETTE)])
        part = frame[frame[column].fillna("—") == code]
        _draw(part, ax, colour)
        handles.append(_handle(part, colour, names.get(code, str(code))))
    ax.legend(handles=handles, loc="best", fontsize=8, prop=_legend_prop(font))
    _km_axes(ax)
    ax.set_title(title, **_font_kw(font))
    return fig


def _draw(part: gpd.GeoDataFrame, ax: Any, colour: str) -> None:
    if part.geom_type.isin(["Point", "MultiPoint"]).all():
        part.plot(ax=ax, color=colour, markersize=9)
    else:
        part.plot(ax=ax, color=colour, edgecolor="#333333", linewidth=0.4)


def _handle(part: gpd.GeoDataFrame, colour: str, name: str) -> Any:
    label = f"{name} ({len(part)})"
    if part.geom_type.isin(["Point", "MultiPoint"]).all():
        return Line2D([], [], marker="o", linestyle="", color=colour, label=label)
    return Patch(facecolor=colour, edgecolor="#333333", label=label)


def _legend_prop(font: str | None) -> dict[str, Any]:
    return {"size": 8} if font is None else {"family": [font, "DejaVu Sans"], "size": 8}


def _km_axes(ax: Any) -> None:
    """Equal aspect, ticks in km with as many decimals as the extent needs."""
    ax.set_aspect("equal")
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    extent_km = max(x1 - x0, y1 - y0) / 1000
    digits = 0 if extent_km > 8 else (1 if extent_km > 0.8 else 2)
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v / 1000:.{digits}f}")
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v / 1000:.{digits}f}")
    ax.set_xlabel("km")
    ax.set_ylabel("km")
    ax.tick_params(labelsize=8)


def value_map(
    frame: gpd.GeoDataFrame, *, column: str, title: str, lang: str | Lang = "zh"
) -> Figure:
    """Return a static map of polygons shaded by a numeric ``column`` with a colour bar."""
    _, font = chart_language(lang)
    fig = _figure(7.5, 6.5)
    ax = fig.add_subplot()
    frame.plot(ax=ax, column=column, cmap="OrRd", edgecolor="#555555", linewidth=0.3)
    mappable = ax.collections[0] if ax.collections else None
    if mappable is not None:
        fig.colorbar(mappable, ax=ax, shrink=0.7)
    _km_axes(ax)
    ax.set_title(title, **_font_kw(font))
    return fig
