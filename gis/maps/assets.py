r"""Vendored web assets (Leaflet and plugins), inlined so a map needs no network.

The files under ``gis/maps/vendor/`` are copied unchanged from npm packages (see
``vendor/VENDOR.md``). They are package data, read with :mod:`importlib.resources` like a
template — not user files, so this is not an exception to "only gis.io opens files".

Inlining does three things: CSS ``url(relative.png)`` becomes a ``data:`` URI, the
``sourceMappingURL`` comments are dropped (they would make developer tools fetch ``.map``
files), and every ``</`` inside a script is written ``<\/`` so no vendored string can close the
``<script>`` element early.

Examples
--------
>>> css = inline_css(VENDOR_CSS)
>>> "url(images/layers.png)" in css, "data:image/png;base64," in css
(False, True)
>>> "sourceMappingURL" in inline_js(VENDOR_JS)
False
"""

from __future__ import annotations

import base64
import functools
import mimetypes
import posixpath
import re
from importlib import resources
from importlib.resources.abc import Traversable

VENDOR_JS: tuple[str, ...] = (
    "leaflet/leaflet.js",
    "leaflet.markercluster/leaflet.markercluster.js",
    "leaflet.locatecontrol/L.Control.Locate.min.js",
    "leaflet.fullscreen/Control.FullScreen.umd.js",
    "leaflet.polylinemeasure/Leaflet.PolylineMeasure.js",
)
"""Scripts of a field map, in load order (Leaflet first)."""

VENDOR_CSS: tuple[str, ...] = (
    "leaflet/leaflet.css",
    "leaflet.markercluster/MarkerCluster.css",
    "leaflet.markercluster/MarkerCluster.Default.css",
    "leaflet.locatecontrol/L.Control.Locate.min.css",
    "leaflet.fullscreen/Control.FullScreen.css",
    "leaflet.polylinemeasure/Leaflet.PolylineMeasure.css",
)
"""Style sheets of a field map."""

NPM_CDN = "https://cdn.jsdelivr.net/npm/"
"""Where an npm package's files are published; assets are named by their URL there."""

VENDORED: dict[str, str] = {
    "leaflet": "1.9.4",
    "leaflet.markercluster": "1.5.3",
    "leaflet.locatecontrol": "0.90.1",
    "leaflet.fullscreen": "5.3.3",
    "leaflet.polylinemeasure": "3.0.0",
    "jquery": "3.7.1",
    "leaflet.heat": "0.2.0",
    "leaflet-draw": "1.0.4",
}
"""npm package → vendored version; its files are in ``vendor/<package>/`` (``VENDOR.md``)."""

FOLIUM_ALIASES: dict[str, str] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/jquery/3.7.1/jquery.min.js": "jquery/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/"
    "leaflet.markercluster.js": "leaflet.markercluster/leaflet.markercluster.js",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/"
    "MarkerCluster.css": "leaflet.markercluster/MarkerCluster.css",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/"
    "MarkerCluster.Default.css": "leaflet.markercluster/MarkerCluster.Default.css",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet-locatecontrol/0.66.2/"
    "L.Control.Locate.min.js": "leaflet.locatecontrol/L.Control.Locate.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet-locatecontrol/0.66.2/"
    "L.Control.Locate.min.css": "leaflet.locatecontrol/L.Control.Locate.min.css",
    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/"
    "Control.FullScreen.min.js": "leaflet.fullscreen/Control.FullScreen.umd.js",
    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/"
    "Control.FullScreen.css": "leaflet.fullscreen/Control.FullScreen.css",
    "https://cdn.jsdelivr.net/gh/python-visualization/folium@main/folium/templates/"
    "leaflet_heat.min.js": "leaflet.heat/leaflet-heat.js",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.draw/1.0.2/"
    "leaflet.draw.js": "leaflet-draw/leaflet.draw.js",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.draw/1.0.2/"
    "leaflet.draw.css": "leaflet-draw/leaflet.draw.css",
}
"""folium 0.20's CDN URLs (other CDNs or versions) served by a vendored file of the same API."""

_NPM_URL = re.compile(
    r"https://(?:cdn\.jsdelivr\.net/npm/|unpkg\.com/)((?:@[^/]+/)?[^/@]+)@[^/]+/(.+)$"
)


def npm_url(relpath: str) -> str:
    """Return the npm CDN URL of a vendored file (``leaflet/leaflet.js`` → ``…/leaflet@1.9.4/…``).

    Elements name their assets by this URL (folium's ``default_js``); the page inlines the
    vendored copy in its place.

    Examples
    --------
    >>> npm_url("leaflet/leaflet.js")
    'https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js'
    >>> vendored_file(npm_url("leaflet/leaflet.js"))
    'leaflet/leaflet.js'
    """
    package, _, name = relpath.partition("/")
    folder = "" if package == "leaflet.polylinemeasure" else "dist/"
    return f"{NPM_CDN}{package}@{VENDORED[package]}/{folder}{name}"


def vendored_file(url: str) -> str | None:
    """Return the vendored file that serves an asset URL, or ``None`` when none does.

    An npm CDN URL (jsDelivr, unpkg) of a vendored package is served by the vendored file of
    the same name, whatever the version asked; folium's other CDN URLs by
    :data:`FOLIUM_ALIASES`.

    Examples
    --------
    >>> vendored_file("https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css")
    'leaflet/leaflet.css'
    >>> vendored_file("https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css")
    """
    if url in FOLIUM_ALIASES:
        return FOLIUM_ALIASES[url]
    match = _NPM_URL.match(url)
    if match is None or match.group(1) not in VENDORED:
        return None
    relpath = f"{match.group(1)}/{posixpath.basename(match.group(2))}"
    return relpath if _resource(_vendor_root(), relpath).is_file() else None


def inline_asset(relpath: str) -> str:
    """Return a vendored script or style sheet as one ``<script>`` / ``<style>`` element."""
    if relpath.endswith(".css"):
        return f"<style>\n{inline_css((relpath,))}\n</style>"
    return f"<script>\n{inline_js((relpath,))}\n</script>"


_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
_SOURCE_MAP = re.compile(r"//[#@] sourceMappingURL=\S*|/\*[#@] sourceMappingURL=[^*]*\*/")


def _vendor_root() -> Traversable:
    return resources.files("gis.maps").joinpath("vendor")


def _resource(root: Traversable, relpath: str) -> Traversable:
    node = root
    for part in relpath.split("/"):
        node = node.joinpath(part)
    return node


@functools.cache
def vendor_text(relpath: str) -> str:
    """Return the text of one vendored file, e.g. ``"leaflet/leaflet.js"``."""
    return _resource(_vendor_root(), relpath).read_text(encoding="utf-8")


@functools.cache
def data_uri(relpath: str) -> str:
    """Return a vendored binary file (an image) as a ``data:`` URI."""
    mime = mimetypes.guess_type(relpath)[0] or "application/octet-stream"
    payload = base64.b64encode(_resource(_vendor_root(), relpath).read_bytes()).decode("ascii")
    return f"data:{mime};base64,{payload}"


def _rewrite_urls(css: str, base: str) -> str:
    def replace(match: re.Match[str]) -> str:
        url = match.group(2).strip()
        if url.startswith(("data:", "#")):
            return match.group(0)
        return f'url("{data_uri(posixpath.normpath(posixpath.join(base, url)))}")'

    return _CSS_URL.sub(replace, css)


def script_safe(text: str) -> str:
    r"""Make text safe inside a ``<script>`` element: ``</`` → ``<\/``, ``<!--`` → ``<\!--``.

    Examples
    --------
    >>> script_safe("a='</script>'")
    "a='<\\/script>'"
    """
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def inline_css(relpaths: tuple[str, ...] = VENDOR_CSS) -> str:
    """Return the vendored style sheets as one string, images as ``data:`` URIs."""
    parts = []
    for relpath in relpaths:
        css = _SOURCE_MAP.sub("", vendor_text(relpath))
        parts.append(f"/* {relpath} */\n{_rewrite_urls(css, posixpath.dirname(relpath))}")
    return "\n".join(parts).replace("</", "<\\/")


def inline_js(relpaths: tuple[str, ...] = VENDOR_JS) -> str:
    """Return the vendored scripts as one string, safe to put inside ``<script>``."""
    parts = [f"/* {p} */\n{_SOURCE_MAP.sub('', vendor_text(p))}" for p in relpaths]
    return script_safe(normalize_newlines("\n;\n".join(parts)))


def normalize_newlines(text: str) -> str:
    """Return text with LF line ends, as the HTML parser sees it (CSP hashes depend on it)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@functools.cache
def template_text(name: str) -> str:
    """Return one of the map's own templates (``runtime.js``, ``verify.js``, ``map.css``)."""
    text = resources.files("gis.maps").joinpath("templates", name).read_text(encoding="utf-8")
    return normalize_newlines(text)


def default_icons() -> dict[str, str]:
    """Leaflet's default marker images as ``data:`` URIs (``L.Icon.Default`` options)."""
    return {
        "iconUrl": data_uri("leaflet/images/marker-icon.png"),
        "iconRetinaUrl": data_uri("leaflet/images/marker-icon-2x.png"),
        "shadowUrl": data_uri("leaflet/images/marker-shadow.png"),
    }
