r"""Linyuan's folium elements: packed layers, legend, search, locate, measure, the form, imagery.

Each element follows the folium plugin shape (options in ``__init__``, a Jinja ``_template``
with ``html`` and ``script`` macros): its options travel as one JSON block
(``<script type="application/json">``, ``<``, ``>`` and ``&`` escaped by
:func:`gis.maps.encode.script_json`) in the page body, and its script is one call of the map
runtime (``templates/runtime.js``) that reads that block. No element writes a value, field
name, layer name or title into HTML or into a script: the runtime puts them on the page with
``textContent`` (or one strict escape where Leaflet takes HTML: layer switcher, attribution).

Add them to a :class:`gis.maps.page.FieldMap` in this order (controls stack in the order they
are added): :class:`Quicklook`, :class:`Basemap`, :class:`PackedLayer` (bottom to top),
:class:`LayerSwitcher`, :class:`ScaleBar`, :class:`Fullscreen`, :class:`Locate`,
:class:`Measure`, :class:`Title`, :class:`Search`, :class:`Legend`,
:class:`VerificationForm`. :func:`gis.maps.build_map` does.

Examples
--------
>>> title = Title("<b>南关区</b>")
>>> title.get_name().startswith("ly_title_")
True
>>> "&lt;b&gt;" in title.data or "\\u003cb\\u003e" in title.data
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from gis.maps.assets import npm_url
from gis.maps.encode import script_json

PREFIX = "ly_"
"""Start of the JavaScript names of Linyuan's elements (``ly_packed_layer_<id>``)."""


def _call_template(call: str) -> Template:
    """Return the template of an element whose script is ``LY.<call>(parent, options)``."""
    return Template(
        """
{% macro html(this, kwargs) %}
<script type="application/json" id="{{ this.get_name() }}_data">{{ this.data|safe }}</script>
{% endmacro %}
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = LY."""
        + call
        + """({{ this._parent.get_name() }}, LY.data({{ (this.get_name() ~ "_data")|tojson }}));
{% endmacro %}
"""
    )


class LinyuanElement(JSCSSMixin):
    """A part of a field map: one JSON block of options, one call of the runtime.

    Its assets are named like folium's (``default_js``/``default_css``, by their npm URL:
    :func:`gis.maps.assets.npm_url`) from the vendored files in ``_js``/``_css``; the page
    inlines them.

    Parameters
    ----------
    data : str
        The options as JSON text, already safe inside ``<script>`` (``script_json``).
    """

    _js: ClassVar[tuple[str, ...]] = ()
    _css: ClassVar[tuple[str, ...]] = ()

    def __init__(self, data: str = "{}") -> None:
        super().__init__()
        self._name = "Ly" + type(self).__name__  # JavaScript name: ly_<class>_<id>
        self.data = data
        self.default_js = [(path, npm_url(path)) for path in self._js]
        self.default_css = [(path, npm_url(path)) for path in self._css]


class PackedLayer(LinyuanElement):
    """One layer of the map: packed integer geometry, a row table, styles by a colour table.

    Polygons are drawn by one canvas per layer straight from typed arrays, lines as canvas
    paths, points as circle markers in a markercluster group. A click opens a popup built
    with ``textContent`` (and the "核查" button when the layer has a form).

    Parameters
    ----------
    data : str
        The layer's JSON (:func:`gis.maps.build.encode_layer`).
    name : str
        The layer's name (for Python code; the page reads it from ``data``).
    """

    _template = _call_template("addLayer")
    _js = ("leaflet.markercluster/leaflet.markercluster.js",)
    _css = (
        "leaflet.markercluster/MarkerCluster.css",
        "leaflet.markercluster/MarkerCluster.Default.css",
    )

    def __init__(self, data: str, *, name: str) -> None:
        super().__init__(data)
        self.layer_name = name


class Quicklook(LinyuanElement):
    """An embedded image of a raster under the layers (``data:`` URIs, nodata masked)."""

    _template = _call_template("quicklook")


class Basemap(LinyuanElement):
    """Tiles under the layers (the only network requests a map may make; CSP allows them).

    Parameters
    ----------
    data : str
        JSON of the tile source (url, attribution, subdomains, max_zoom, overlays).
    tile_urls : sequence of str
        The URL templates, whose hosts the page's CSP allows.
    """

    _template = _call_template("basemap")

    def __init__(self, data: str, *, tile_urls: Sequence[str]) -> None:
        super().__init__(data)
        self.tile_urls = list(tile_urls)


class LayerSwitcher(LinyuanElement):
    """Leaflet's layer control over the map's layers; names escaped.

    Folium layers added to the map later (``folium.GeoJson``, ``HeatMap``, a
    ``FeatureGroup``) join it when the map is rendered, also escaped.
    """

    _template = _call_template("layerSwitcher")


class ScaleBar(LinyuanElement):
    """A metric scale bar, bottom left."""

    _template = _call_template("scale")


class Fullscreen(LinyuanElement):
    """Full-screen button (leaflet.fullscreen)."""

    _template = _call_template("fullscreen")
    _js = ("leaflet.fullscreen/Control.FullScreen.umd.js",)
    _css = ("leaflet.fullscreen/Control.FullScreen.css",)


class Locate(LinyuanElement):
    """Locate me: centres on the phone's GPS fix (leaflet.locatecontrol)."""

    _template = _call_template("locate")
    _js = ("leaflet.locatecontrol/L.Control.Locate.min.js",)
    _css = ("leaflet.locatecontrol/L.Control.Locate.min.css",)


class Measure(LinyuanElement):
    """Distance measuring (Leaflet.PolylineMeasure, see ``vendor/VENDOR.md`` for why)."""

    _template = _call_template("measure")
    _js = ("leaflet.polylinemeasure/Leaflet.PolylineMeasure.js",)
    _css = ("leaflet.polylinemeasure/Leaflet.PolylineMeasure.css",)


class Search(LinyuanElement):
    """Search by feature ID over every layer with an ID field; opens the feature's popup."""

    _template = _call_template("search")


class Legend(LinyuanElement):
    """The legend of every layer drawn with a colour table."""

    _template = _call_template("legend")


class Title(LinyuanElement):
    """The map's title, top right (text, never HTML).

    Parameters
    ----------
    title : str
        Any text.
    """

    _template = _call_template("title")

    def __init__(self, title: str) -> None:
        super().__init__(script_json({"title": title}))


class VerificationForm(LinyuanElement):
    """The "核查" form of patches and points; records in IndexedDB, exported as GeoJSON.

    The record format is the contract in ``docs/field-records.md`` (``templates/verify.js``
    writes it). ``data`` holds the map id, the interface words and the code lists.
    """

    _template = _call_template("verification")


class Finish(MacroElement):
    r"""The last call of the map script: folium layers join the switcher, then "ready".

    Also brings the layers of folium's ``Map.keep_in_front`` to the front (folium does that on
    jQuery's "document ready"; here the layers exist by then).

    :class:`gis.maps.page.FieldMap` keeps it last among its children. The layers of the map
    that are folium ``Layer``\ s with ``control=True`` (and not Linyuan's) are listed with
    their names, which the runtime escapes before Leaflet's layer control shows them.
    """

    _template = Template(
        """
{% macro html(this, kwargs) %}
<script type="application/json" id="{{ this.get_name() }}_data">{{ this.labels()|safe }}</script>
{% endmacro %}
{% macro script(this, kwargs) %}
LY.finish({{ this._parent.get_name() }}, LY.data({{ (this.get_name() ~ "_data")|tojson }}), {
{%- for layer in this.user_layers() %}
  {{ layer.get_name()|tojson }}: {{ layer.get_name() }},
{%- endfor %}
}, [{% for layer in this.in_front() %}{{ layer.get_name() }}, {% endfor %}]);
{% endmacro %}
"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "LyFinish"

    def user_layers(self) -> list[folium.map.Layer]:
        """Folium layers on the map that belong in the layer switcher."""
        parent = self._parent
        if parent is None:
            return []
        return [
            child
            for child in parent._children.values()
            if isinstance(child, folium.map.Layer)
            and child.control
            and not child.get_name().startswith(PREFIX)
        ]

    def in_front(self) -> list[folium.map.Layer]:
        """Layers folium's ``Map.keep_in_front`` asked to keep on top."""
        return list(getattr(self._parent, "objects_to_stay_in_front", []))

    def labels(self) -> str:
        """JSON: JavaScript name → [layer name (text), overlay?] of :meth:`user_layers`."""
        return script_json(
            {
                layer.get_name(): [str(layer.layer_name), bool(layer.overlay)]
                for layer in self.user_layers()
            }
        )
