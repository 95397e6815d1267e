"""Offline field maps: one self-contained HTML file per map, drawn with vendored Leaflet."""

from gis.maps.build import build_map
from gis.maps.style import DEFAULT_STYLES, Lang, LayerStyle, MapOptionError, TileSource, tianditu

__all__ = [
    "DEFAULT_STYLES",
    "Lang",
    "LayerStyle",
    "MapOptionError",
    "TileSource",
    "build_map",
    "tianditu",
]
