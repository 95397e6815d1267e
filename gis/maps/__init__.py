"""Offline field maps: folium maps of Linyuan's elements, saved as one self-contained HTML file.

Usage::

    m = build_map({"subcompartments": subs, "patches_checked": patches,
                   "discolored_points": points}, title="南关区 督查图斑")
    folium.Marker([43.79, 125.46], tooltip="集合点").add_to(m)   # any folium element
    m                                   # in a notebook: the map, inline
    m.save("南关区.html")                # one offline file (offline=True: refuse the network)

or ``linyuan map RESULTS.gpkg [more layers…] --out MAP.html [--by district]``.

:func:`build_map` returns a :class:`FieldMap`, a ``folium.Map`` whose layers, legend, search,
locate, measure, imagery and verification form are folium elements (:mod:`gis.maps.elements`)
drawn by one runtime script; its page (:mod:`gis.maps.page`) inlines every asset from the
vendored npm packages, folium's own included (jQuery for popups, leaflet.heat, Leaflet.draw):
a folium element whose asset is not vendored is named in a :class:`MapAssetWarning` (or
refused with ``offline=True``), never fetched silently.

What a map guarantees
---------------------
- **Offline.** Leaflet 1.9.4 and its plugins (markercluster, locate control, full screen,
  PolylineMeasure; for folium's elements jQuery, leaflet.heat, Leaflet.draw) are vendored from
  npm (``vendor/VENDOR.md``) and inlined, images as ``data:`` URIs. A Content-Security-Policy
  allows no network except the optional basemap's tile host. The browser tests record every
  request and fail on any that is not ``data:``, ``blob:`` or ``file:``.
- **Hostile text stays text.** Values, field names, aliases, layer names, titles and the
  attribution reach the page through ``textContent`` (or one strict escape where Leaflet wants
  HTML); the data blocks escape ``<``, ``>`` and ``&``; the CSP allows only the page's own
  scripts by hash (hashed from what the elements rendered, not found in the page), so injected
  markup would not run even if an escape were missed. Tested in Chromium with and without
  the CSP.
- **Fast with a whole city as context.** Geometry is sent as packed integer microdegrees
  (≈ 0.1 m), context polygons are coverage-simplified (shared boundaries stay shared), polygon
  layers are drawn by one canvas each straight from typed arrays, styles come from a colour
  table in JavaScript, points are clustered (markercluster).

Measured (``scripts/bench_map.py``, headless Chromium 156, shared 2-core VM; 40 000
subcompartments + 10 000 patches + 100 000 points). Before the map was a folium map (two
runs): file 15.0 MB (plain folium: 147.8 MB), built in 4-7 s; all layers drawn after 2.2-2.6 s
(folium 15.6-31.7 s: 6.0-14x sooner) on desktop and 8.3-8.6 s (folium 59.3-63.4 s: 7.2-7.4x)
with a 4x CPU throttle. As a folium map (two runs, the VM loaded by other jobs, load average
5-12): file 15.0 MB, built and rendered in 7.8-9.0 s; drawn after 1.7-3.9 s (folium
15.9-32.6 s: 8.3-9.2x sooner) on desktop and 5.8-9.4 s (folium 48.3-81.4 s: 8.4-8.7x) with the
4x throttle. Both sides of a run are measured in the same run; absolute times vary most with
the machine's load.

Verification: patches and discolored points carry a "核查" form (verdict, 核实变化原因, permit
number, sample taken, note, inspector, photos downscaled on the phone, the GPS fix). Records
are kept in the browser's IndexedDB, keyed by the map's id, and exported as one GeoJSON file or
copied as text (for WeChat, whose browser blocks downloads); the format is the contract in
``docs/field-records.md`` (read by ``linyuan verify import``; see ``FIELD_EXPORT.md``).

Browsers: current Chromium-based browsers (Android Chrome, Edge, desktop Chrome) and Firefox;
GPS "locate" works from ``file://`` because browsers treat local files as a secure context.
Tested: headless Chromium (desktop and Pixel 7 emulation). Untested: real phones, Safari/iOS,
WeChat's browser, Android's ``content://`` file opening.
A half-filled form survives a reload (photos excepted). See ``docs/field-maps.md``.

Imagery offline: ``--quicklook RASTER`` (:func:`gis.maps.quicklook.quicklook`) embeds a
true- or false-colour image of a raster, warped to Web Mercator, at most 4096 px and 5 MB,
nodata transparent; measured on a 10 000 x 10 000 4-band uint16 GeoTIFF without overviews:
about 8 s, 4083 x 4096 px, 4.2-4.8 MB of base64, peak RSS about 610 MB.
KMZ for 奥维互动地图 / Google Earth: :func:`gis.maps.kml.export_kml` (``linyuan export kml``).
"""

from gis.maps.build import build_map
from gis.maps.page import FieldMap, MapAssetWarning, OfflineAssetError
from gis.maps.style import DEFAULT_STYLES, Lang, LayerStyle, MapOptionError, TileSource, tianditu

__all__ = [
    "DEFAULT_STYLES",
    "FieldMap",
    "Lang",
    "LayerStyle",
    "MapAssetWarning",
    "MapOptionError",
    "OfflineAssetError",
    "TileSource",
    "build_map",
    "tianditu",
]
