"""The field map as a folium map, and the one offline HTML page it saves as.

:class:`FieldMap` is a ``folium.Map``: analysts display it in a notebook, add folium elements
to it (``folium.Marker``, ``folium.GeoJson``, ``folium.plugins.HeatMap``, ``Draw``…) and pass
it to code that expects a folium map. Its figure, :class:`OfflineFigure`, renders the page:

- **Assets inlined, never fetched.** Every script and style sheet an element asks for
  (folium's ``default_js``/``default_css``, by URL) is replaced by the vendored copy that
  serves it (:func:`gis.maps.assets.vendored_file`): Leaflet, the plugins of the map, and for
  folium's own elements jQuery (popups), leaflet.heat, Leaflet.draw. An asset with no vendored
  copy (e.g. ``MeasureControl``'s leaflet-measure, ``folium.Icon``'s Font Awesome) is named in
  a :class:`MapAssetWarning` and linked from its CDN, or refused with ``offline=True``
  (:class:`OfflineAssetError`). Folium tile layers added by a user are treated the same way.
- **A Content-Security-Policy**: scripts only by the SHA-256 of the page's own script
  elements, computed from the parts the elements rendered (the vendored scripts, the runtime,
  the one map script) — so markup injected into the page would not run — no network except
  the basemap's tiles and, with a warning, the assets named above.

Examples
--------
>>> m = FieldMap(config="{}", title="t", lang="zh", map_id="m1")
>>> html = m.to_html()
>>> "<script src=" in html, "Content-Security-Policy" in html, 'content="m1"' in html
(False, True, True)
"""

from __future__ import annotations

import base64
import hashlib
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from typing import IO, Any

import folium
import jinja2
from branca.element import CssLink, Element, Figure, Link
from folium.template import Template

from gis import __version__
from gis.io.text import write_text
from gis.maps import assets
from gis.maps.elements import PREFIX, Basemap, Finish
from gis.maps.style import MapOptionError, TileSource

FIELD_JS = (("leaflet", assets.npm_url("leaflet/leaflet.js")),)
"""Scripts of the map itself (folium ``default_js``); the elements bring their plugins."""

FIELD_CSS = (("leaflet_css", assets.npm_url("leaflet/leaflet.css")),)
"""Style sheets of the map itself."""

_FOLIUM_JS = dict(folium.Map.default_js)
_FOLIUM_CSS = dict(folium.Map.default_css)
ICON_CSS = (
    "glyphicons_css",
    "awesome_markers_font_css",
    "awesome_markers_css",
    "awesome_rotate_css",
)
"""folium.Map style sheets that ``folium.Icon`` needs (fonts from CDNs: not vendored)."""

_INLINE_SCRIPT = re.compile(
    r"<script(?:\s+type=[\"']?(?:text/javascript|module)[\"']?)?\s*>(.*?)</script>", re.S | re.I
)


class MapAssetWarning(UserWarning):
    """A folium element on the map needs a file or tiles from the network (named)."""


class OfflineAssetError(MapOptionError):
    """``offline=True``, but an element on the map needs the network (the assets are named)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def script_hash(text: str) -> str:
    """Return the CSP source of one inline script: ``'sha256-…'`` of its text."""
    return "'sha256-" + _b64(hashlib.sha256(text.encode("utf-8")).digest()) + "'"


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].replace("{s}", "*")
    return f"{scheme}://{host}" if "{" not in host else f"{scheme}:"


@dataclass
class Network:
    """What a page may fetch: tile URL templates and (with a warning) unvendored assets."""

    tiles: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)

    def policy(self, scripts: Iterable[str]) -> str:
        """Return the page's CSP, allowing ``scripts`` (inline texts) by hash."""
        script_src = " ".join([*map(script_hash, scripts), *self.scripts])
        style_origins = sorted({_origin(u) for u in self.styles})
        style_src = " ".join(["'unsafe-inline'", *self.styles])
        img = " ".join(["data: blob:", *sorted({_origin(u) for u in self.tiles}), *style_origins])
        font = " ".join(["data:", *style_origins])
        return (
            f"default-src 'none'; script-src {script_src}; style-src {style_src}; "
            f"img-src {img}; font-src {font}; connect-src 'none'; base-uri 'none'; "
            "form-action 'none'"
        )


def content_security_policy(basemap: TileSource | None, scripts: Iterable[str]) -> str:
    """Return a map's CSP: no network except the basemap's tiles, only ``scripts`` run.

    Inline scripts are allowed by their SHA-256 hash, so markup injected into the page (an
    ``onerror`` attribute, a ``<script>``) would not run even if an escape were missed.

    Examples
    --------
    >>> tiles = TileSource(url="https://{s}.t.example.org/{z}/{x}/{y}.png", attribution="t")
    >>> csp = content_security_policy(tiles, ["a"])
    >>> "img-src data: blob: https://*.t.example.org;" in csp, "connect-src 'none'" in csp
    (True, True)
    """
    tiles = [] if basemap is None else [basemap.url, *basemap.overlays]
    return Network(tiles=tiles).policy(scripts)


_PAGE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!DOCTYPE html>
<html lang="{{ this.html_lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport"
 content="width=device-width, initial-scale=1, maximum-scale=1, user-scalable=no">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="generator" content="linyuan {{ version }}">
<meta name="linyuan-map-id" content="{{ this.map_id }}">
<title>{{ this.title }}</title>
{{ header|safe }}
</head>
<body>
{{ html|safe }}
<script>{{ script|safe }}</script>
</body>
</html>
"""
)


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in element._children.values():
        yield from _walk(child)


class OfflineFigure(Figure):
    """The page of a field map: vendored assets inlined, a CSP, our meta data.

    Parameters
    ----------
    title : str
        Page title (escaped).
    html_lang : str
        ``lang`` of the page (``zh-CN``, ``en``).
    map_id : str
        The map's id (``<meta name="linyuan-map-id">``; field records are keyed by it).
    """

    def __init__(self, *, title: str, html_lang: str, map_id: str) -> None:
        super().__init__(title=title)
        self._name = "OfflineFigure"
        self.html_lang = html_lang
        self.map_id = map_id

    def render(self, **kwargs: Any) -> str:
        """Return the page: one self-contained HTML text.

        Parameters
        ----------
        offline : bool, default False
            Refuse (:class:`OfflineAssetError`) instead of warning when an element needs the
            network.
        """
        offline = bool(kwargs.pop("offline", False))
        for child in self._children.values():
            child.render(**kwargs)
        network = Network(tiles=self._tile_urls())
        header = self._header(network, **kwargs)
        _refuse_or_warn(network, self._tile_urls(), self._user_tiles(), offline=offline)
        html = assets.normalize_newlines(self.html.render(**kwargs))
        script = "\n" + assets.normalize_newlines(self.script.render(**kwargs)) + "\n"
        scripts = [*self._inline_scripts(header), *self._user_html_scripts(**kwargs), script]
        return _PAGE.render(
            this=self,
            csp=network.policy(scripts),
            version=__version__,
            header=header,
            html=html,
            script=script,
        )

    def _header(self, network: Network, **kwargs: Any) -> str:
        """Header children rendered, asset links replaced by the vendored files (once each)."""
        parts, seen = [], set()
        for name, child in self.header._children.items():
            if name == "meta_http":  # branca's charset meta; the page has its own
                continue
            if not isinstance(child, Link):
                parts.append(assets.normalize_newlines(child.render(**kwargs)))
                continue
            relpath = assets.vendored_file(child.url)
            if relpath is None:
                parts.append(_link(child, network))
            elif relpath not in seen:
                seen.add(relpath)
                parts.append(assets.inline_asset(relpath))
        return "\n".join(parts)

    @staticmethod
    def _inline_scripts(text: str) -> list[str]:
        return [m.group(1) for m in _INLINE_SCRIPT.finditer(text)]

    def _user_html_scripts(self, **kwargs: Any) -> list[str]:
        """Inline scripts that folium elements of a user put in the body (not Linyuan's)."""
        found: list[str] = []
        for name, child in self.html._children.items():
            if not name.startswith(PREFIX) and not isinstance(self._children.get(name), FieldMap):
                found += self._inline_scripts(child.render(**kwargs))
        return found

    def _tile_urls(self) -> list[str]:
        urls: list[str] = []
        for element in _walk(self):
            if isinstance(element, Basemap):
                urls += element.tile_urls
            elif isinstance(element, folium.TileLayer):
                urls.append(str(element.tiles))
        return urls

    def _user_tiles(self) -> list[str]:
        return [str(e.tiles) for e in _walk(self) if isinstance(e, folium.TileLayer)]


def _link(link: Link, network: Network) -> str:
    """Link an unvendored asset from its CDN and allow it in the CSP (a warning follows)."""
    if isinstance(link, CssLink):
        network.styles.append(link.url)
    else:
        network.scripts.append(link.url)
    return str(link.render())


def _refuse_or_warn(
    network: Network, tiles: list[str], user_tiles: list[str], *, offline: bool
) -> None:
    """Refuse (``offline``) or warn of what needs the network; a basemap asked for is silent."""
    needs = [*network.scripts, *network.styles]
    if offline and (needs or tiles):
        raise OfflineAssetError(
            "the map must work offline, but these need the network (tiles, or assets with no "
            "vendored copy in gis/maps/vendor): " + ", ".join([*needs, *tiles]) + "; remove "
            "the basemap or the folium elements that use them, or save without offline=True "
            "(--offline)",
            zh="地图须能离线使用，但以下内容需要联网（底图瓦片，"
            "或在 gis/maps/vendor 中没有本地副本的资源）："
            + "、".join([*needs, *tiles])
            + "；请去掉该底图或使用这些资源的 folium 元素，"
            "或不加 offline=True（--offline）保存",
        )
    for url in needs:
        warnings.warn(
            f"{url} is not vendored: the saved map loads it from the network (without it "
            "the element that needs it does not work offline); pass offline=True to refuse",
            MapAssetWarning,
            stacklevel=4,
        )
    for url in user_tiles:
        warnings.warn(
            f"tiles {url} need the network; the map shows them only online",
            MapAssetWarning,
            stacklevel=4,
        )


_FIELD_MAP = Template(
    """
{% macro header(this, kwargs) %}
<style>
{{ this.runtime_css() }}
</style>
<script>
{{ this.runtime_js() }}
</script>
{% endmacro %}
{% macro html(this, kwargs) %}
<div class="folium-map ly-map" id="{{ this.get_name() }}"></div>
<script type="application/json" id="{{ this.get_name() }}_data">{{ this.config }}</script>
{% endmacro %}
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.map({{ this.get_name()|tojson }}, {{ this.options|tojavascript }});
LY.init({{ this.get_name() }}, LY.data({{ (this.get_name() ~ "_data")|tojson }}));
{% endmacro %}
"""
)


class FieldMap(folium.Map):
    """A Linyuan field map: a ``folium.Map`` whose page works offline (see module docstring).

    Made by :func:`gis.maps.build_map`; add folium elements to it as to any folium map.

    Parameters
    ----------
    config : str
        JSON of the map's settings for the runtime (``ui`` words, ``icons``, ``bounds``),
        already safe inside ``<script>``.
    title : str
        Page title.
    lang : {"zh", "en"}
        Interface language.
    map_id : str
        The map's id.
    """

    _template = _FIELD_MAP

    def __init__(self, *, config: str, title: str, lang: str, map_id: str) -> None:
        super().__init__(location=None, tiles=None, prefer_canvas=True)
        self.options.update(min_zoom=5, max_zoom=19)
        self.options.pop("zoom", None)  # the runtime frames the layers
        self.config = config
        self.map_id = map_id
        self.default_js = list(FIELD_JS)  # never mutate the class lists (folium's _add_link does)
        self.default_css = list(FIELD_CSS)
        html_lang = "zh-CN" if lang == "zh" else "en"
        OfflineFigure(title=title, html_lang=html_lang, map_id=map_id).add_child(self)
        self._finish = Finish()
        self.add_child(self._finish)

    @staticmethod
    def runtime_css() -> str:
        """Vendored style sheets are separate elements; this is the map's own style."""
        return assets.template_text("map.css").replace("</", "<\\/")

    @staticmethod
    def runtime_js() -> str:
        """Return the runtime behind the elements (``runtime.js`` and the form's ``verify.js``)."""
        return assets.script_safe(
            assets.template_text("runtime.js") + "\n" + assets.template_text("verify.js")
        )

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # as folium.Map
        """Render into the figure: implicit folium assets added, :class:`Finish` kept last."""
        js, css = _implicit_assets(self)
        self.default_js = [*FIELD_JS, *js]
        self.default_css = [*FIELD_CSS, *css]
        self.add_child(self._finish)  # moves it after elements added since
        self._children.move_to_end(self._finish.get_name())
        super().render(**kwargs)

    def to_html(self, *, offline: bool = False) -> str:
        """Return the page (one self-contained HTML text).

        Parameters
        ----------
        offline : bool
            Raise :class:`OfflineAssetError` instead of warning when a folium element added
            to the map needs the network.
        """
        root = self.get_root()
        if not isinstance(root, OfflineFigure):
            raise MapOptionError(
                "a FieldMap renders only in its own figure; do not re-parent it",
                zh="FieldMap 只能在它自己的 figure 中渲染；请不要把它挂到别的父元素下",
            )
        return root.render(offline=offline)

    def save(  # type: ignore[override]
        self,
        outfile: str | PathLike[str] | IO[bytes],
        close_file: bool = True,
        *,
        offline: bool = False,
        overwrite: bool = False,
    ) -> int:
        """Write the page (atomically for a path); return its size in bytes.

        Parameters
        ----------
        outfile : path or binary file
            Where to write.
        close_file : bool
            Close a file object afterwards (folium's parameter).
        offline : bool
            See :meth:`to_html`.
        overwrite : bool
            Replace an existing file.
        """
        html = self.to_html(offline=offline)
        data = html.encode("utf-8")
        if isinstance(outfile, (str, PathLike)):
            write_text(outfile, html, overwrite=overwrite)
        else:
            outfile.write(data)
            if close_file:
                outfile.close()
        return len(data)

    def _repr_html_(self, **kwargs: Any) -> str:
        """Return the map for a notebook (an ``<iframe srcdoc>`` of the page, as folium)."""
        root = self.get_root()
        if not isinstance(root, Figure):
            raise MapOptionError(
                "a FieldMap renders only in its own figure; do not re-parent it",
                zh="FieldMap 只能在它自己的 figure 中渲染；请不要把它挂到别的父元素下",
            )
        return str(root._repr_html_(**kwargs))


def _implicit_assets(root: Element) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Assets folium elements rely on folium.Map for: jQuery (popups), awesome markers (icons)."""
    kinds = {type(e) for e in _walk(root)}
    js: list[tuple[str, str]] = []
    css: list[tuple[str, str]] = []
    if any(issubclass(k, folium.Popup) for k in kinds):
        js.append(("jquery", _FOLIUM_JS["jquery"]))
    if any(issubclass(k, folium.Icon) for k in kinds):
        js.append(("awesome_markers", _FOLIUM_JS["awesome_markers"]))
        css += [(name, _FOLIUM_CSS[name]) for name in ICON_CSS]
    return js, css


__all__ = [
    "FIELD_CSS",
    "FIELD_JS",
    "FieldMap",
    "MapAssetWarning",
    "OfflineAssetError",
    "OfflineFigure",
    "content_security_policy",
]
