"""Benchmark the offline field map against plain folium on the same data, in headless Chromium.

Data (synthetic, deterministic, near Changchun in EPSG:4551): a subcompartment coverage
(Voronoi cells with wiggly shared boundaries), change patches, and discolored points — by
default 40 000 + 10 000 polygons and 100 000 points.

Pages compared:
- ours: ``gis.maps.build_map`` (canvas, JS styling, compact geometry, coverage-simplified context);
- plain folium 0.20: ``folium.GeoJson`` per polygon layer (patches styled with a
  ``style_function``, as folium is used) and a ``MarkerCluster`` of ``Marker``s, its CDN assets
  replaced by the same vendored Leaflet/markercluster inlined (jQuery, Bootstrap and
  awesome-markers dropped: these layers do not use them) so it loads offline.

"Drawn" is the same for both: a hook sets ``window.__ready = performance.now()`` once every
overlay has been added and one animation frame has passed. Reported: file size, Python build
time, and time-to-__ready on desktop and with a 4x CPU throttle (CDP
``Emulation.setCPUThrottlingRate``). Floors: our file <= 20 MB and drawn >= 4x sooner.

Run: ``.venv/bin/python scripts/bench_map.py`` (about 5 minutes; ``--points 10000
--subcompartments 4000 --patches 1000`` for a quick look). Exit 1 when a floor is missed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from folium.plugins import MarkerCluster
from playwright.sync_api import sync_playwright

from gis.crs import WORKING_CRS
from gis.io.text import write_text
from gis.maps import build_map
from gis.maps.assets import default_icons, inline_css, inline_js, script_safe

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
X0, Y0, SIDE = 470_000.0, 4_840_000.0, 60_000.0
LEGALITY = ("suspected_illegal", "needs_field_check", "permitted", "lawful_no_permit", "no_change")
STATUS = ("unverified", "confirmed_dead_pine", "other_cause", "not_found")
SPECIES = ("红松", "樟子松", "落叶松", "蒙古栎", "杨树")
HOOK = "<script>requestAnimationFrame(function(){window.__ready=performance.now();});</script>"
MAX_SIZE_MB = 20.0
MIN_SPEEDUP = 4.0


# ---- data -------------------------------------------------------------------------------


def wiggle(geoms: np.ndarray, step_m: float, amp_m: float) -> np.ndarray:
    """Densify and displace the added vertices by a function of their position.

    The same point gets the same displacement in every polygon, so shared edges stay shared;
    original corners and the outer frame do not move, so no polygon becomes invalid.
    """
    corners = shapely.get_coordinates(geoms)
    fixed = np.unique(np.round(corners[:, 0], 1) + 1j * np.round(corners[:, 1], 1))

    def move(xy: np.ndarray) -> np.ndarray:
        key = np.round(xy, 1)
        phase = np.sin(key[:, 0] * 12.9898 + key[:, 1] * 78.233) * 43758.5453
        noise = (phase - np.floor(phase)) - 0.5
        still = np.isin(key[:, 0] + 1j * key[:, 1], fixed)
        still |= (np.abs(key[:, 0] - X0) < 0.05) | (np.abs(key[:, 0] - X0 - SIDE) < 0.05)
        still |= (np.abs(key[:, 1] - Y0) < 0.05) | (np.abs(key[:, 1] - Y0 - SIDE) < 0.05)
        out = xy.copy()
        out[~still] += np.c_[noise, -noise][~still] * 2 * amp_m
        return np.round(out, 2)  # identical vertices on both sides of a shared edge

    return shapely.transform(shapely.segmentize(geoms, step_m), move)


def subcompartments(n: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    seeds = shapely.multipoints(rng.uniform([X0, Y0], [X0 + SIDE, Y0 + SIDE], size=(n, 2)))
    cells = shapely.get_parts(
        shapely.voronoi_polygons(seeds, extend_to=shapely.box(X0, Y0, X0 + SIDE, Y0 + SIDE))
    )
    cells = shapely.intersection(cells, shapely.box(X0, Y0, X0 + SIDE, Y0 + SIDE))
    cells = wiggle(cells, 20.0, 1.0)
    return gpd.GeoDataFrame(
        {
            "subcompartment_id": [f"XB{i:06d}" for i in range(len(cells))],
            "species": rng.choice(SPECIES, len(cells)),
            "area_ha": np.round(shapely.area(cells) / 10_000, 2),
        },
        geometry=cells,
        crs=WORKING_CRS,
    )


def patches(n: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    centres = rng.uniform([X0, Y0], [X0 + SIDE, Y0 + SIDE], size=(n, 2))
    radius = rng.uniform(30, 90, n)
    geoms = [shapely.Point(c).buffer(r, quad_segs=3) for c, r in zip(centres, radius, strict=True)]
    legality = rng.choice(LEGALITY, n)
    return gpd.GeoDataFrame(
        {
            "patch_id": [f"TB{i:06d}" for i in range(n)],
            "legality": legality,
            "reasons": [
                f"NDVI 下降 {v:.2f}；{lg}"
                for v, lg in zip(rng.uniform(0, 0.6, n), legality, strict=True)
            ],
            "area_ha": np.round(np.pi * radius**2 / 10_000, 2),
        },
        geometry=geoms,
        crs=WORKING_CRS,
    )


def points(n: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    xy = rng.uniform([X0, Y0], [X0 + SIDE, Y0 + SIDE], size=(n, 2))
    return gpd.GeoDataFrame(
        {
            "point_id": [f"BS{i:07d}" for i in range(n)],
            "status": rng.choice(STATUS, n),
            "confidence": np.round(rng.uniform(0.3, 1, n), 2),
        },
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=WORKING_CRS,
    )


# ---- plain folium -----------------------------------------------------------------------

COLOURS = {"suspected_illegal": "#d7191c", "needs_field_check": "#fdae61", "permitted": "#1a9641"}


def folium_page(layers: dict[str, gpd.GeoDataFrame]) -> str:
    subs, tb, pts = (
        layers[k].to_crs(4326) for k in ("subcompartments", "patches_checked", "discolored_points")
    )
    x0, y0, x1, y1 = tb.total_bounds
    fmap = folium.Map(location=[(y0 + y1) / 2, (x0 + x1) / 2], zoom_start=10, tiles=None)
    fmap.options["maxZoom"] = 20  # folium passes max_zoom only to tile layers; none here
    folium.GeoJson(
        subs,
        name="subcompartments",
        style_function=lambda f: {"color": "#2b8a3e", "weight": 1, "fillOpacity": 0.05},
    ).add_to(fmap)
    folium.GeoJson(
        tb,
        name="patches",
        style_function=lambda f: {
            "color": COLOURS.get(f["properties"]["legality"], "#7b3294"),
            "weight": 2,
        },
    ).add_to(fmap)
    cluster = MarkerCluster(name="points").add_to(fmap)
    for lat, lon in zip(pts.geometry.y, pts.geometry.x, strict=True):
        folium.Marker([lat, lon]).add_to(cluster)
    folium.LayerControl().add_to(fmap)
    return offline(fmap.get_root().render())


def offline(html: str) -> str:
    """Inline the vendored Leaflet + markercluster in place of folium's CDN tags; drop the rest."""
    scripts = (
        "<script>"
        + inline_js(("leaflet/leaflet.js", "leaflet.markercluster/leaflet.markercluster.js"))
        + "</script>"
    )
    options = script_safe(json.dumps(default_icons()))
    icons = f"<script>L.Icon.Default.imagePath='';L.Icon.Default.mergeOptions({options});</script>"
    css = (
        "<style>"
        + inline_css(
            (
                "leaflet/leaflet.css",
                "leaflet.markercluster/MarkerCluster.css",
                "leaflet.markercluster/MarkerCluster.Default.css",
            )
        )
        + "</style>"
    )
    html = re.sub(r'<script src="https?://[^"]+"></script>\s*', "", html)
    html = re.sub(r'<link rel="stylesheet" href="https?://[^"]+"/>\s*', "", html)
    html = html.replace("<head>", "<head>" + css + scripts + icons, 1)
    head, _, tail = html.rpartition("</html>")
    return head + HOOK + "</html>" + tail  # after folium's map script, which follows </body>


# ---- measuring --------------------------------------------------------------------------


def _route(foreign: list[str]) -> Any:
    def handle(route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            foreign.append(url)
            route.abort()

    return handle


def time_to_ready(browser: Any, path: Path, *, throttle: float) -> tuple[float, list[str]]:
    """Seconds from navigation to ``window.__ready``; problems (requests, errors) listed."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    problems: list[str] = []
    context.route("**/*", _route(problems))
    page = context.new_page()
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    if throttle > 1:
        context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    page.goto(path.as_uri(), timeout=600_000)
    page.wait_for_function("() => window.__ready !== undefined", timeout=600_000, polling=100)
    ready = float(page.evaluate("() => window.__ready"))
    context.close()
    return ready / 1000, problems


def build_pages(args: argparse.Namespace, out: Path) -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(20261130)
    layers = {
        "subcompartments": subcompartments(args.subcompartments, rng),
        "patches_checked": patches(args.patches, rng),
        "discolored_points": points(args.points, rng),
    }
    pages: dict[str, dict[str, Any]] = {}
    for name, build in (
        ("linyuan", lambda: build_map(layers, title="bench").to_html()),
        ("folium", lambda: folium_page(layers)),
    ):
        start = time.perf_counter()
        html = build()
        path = out / f"{name}.html"
        write_text(path, html, overwrite=True)
        pages[name] = {
            "path": path,
            "size_mb": path.stat().st_size / 1e6,
            "build_s": time.perf_counter() - start,
        }
        print(
            f"{name}: built in {pages[name]['build_s']:.1f} s, {pages[name]['size_mb']:.1f} MB",
            flush=True,
        )
    return pages


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subcompartments", type=int, default=40_000)
    parser.add_argument("--patches", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    out = args.out_dir or Path(tempfile.mkdtemp(prefix="bench_map_"))
    pages = build_pages(args, out)
    with sync_playwright() as api:
        browser = api.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for name, page in pages.items():
            for label, rate in (("desktop", 1.0), ("cpu4x", 4.0)):
                seconds, problems = time_to_ready(browser, page["path"], throttle=rate)
                page[f"ready_{label}_s"] = seconds
                page["problems"] = page.get("problems", []) + problems
                print(f"{name} {label}: drawn after {seconds:.2f} s", flush=True)
        browser.close()
    ours, base = pages["linyuan"], pages["folium"]
    result = {
        "features": {
            "subcompartments": args.subcompartments,
            "patches": args.patches,
            "points": args.points,
        },
        "linyuan": {k: v for k, v in ours.items() if k != "path"},
        "folium": {k: v for k, v in base.items() if k != "path"},
        "speedup_desktop": base["ready_desktop_s"] / ours["ready_desktop_s"],
        "speedup_cpu4x": base["ready_cpu4x_s"] / ours["ready_cpu4x_s"],
    }
    ok = (
        ours["size_mb"] <= MAX_SIZE_MB
        and min(result["speedup_desktop"], result["speedup_cpu4x"]) >= MIN_SPEEDUP
    )
    ok = ok and not ours["problems"] and not base["problems"]
    result["floors_met"] = ok
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        mine, theirs = ours["size_mb"], base["size_mb"]
        print(f"size: linyuan {mine:.1f} MB (floor {MAX_SIZE_MB} MB), folium {theirs:.1f} MB")
        for label in ("desktop", "cpu4x"):
            a, b = ours[f"ready_{label}_s"], base[f"ready_{label}_s"]
            print(
                f"{label}: linyuan {a:.2f} s, folium {b:.2f} s "
                f"→ {result[f'speedup_{label}']:.1f}x sooner (floor {MIN_SPEEDUP}x)"
            )
        print("floors met" if ok else "FLOOR MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
