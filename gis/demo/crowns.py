"""The demo's 0.5 m four-band scene (B, G, R, NIR) over pine and larch stands, with crowns.

Crowns sit one per 8 m cell of a jittered grid (3-7 m across; some cells empty), coloured by
the species of the stand under their centre, with a sunlit south-east side, a shaded
north-west side and a cast shadow; understory, bare soil and two forest roads between them.
Planted among the healthy crowns (the truth table lists each):

- ``discolored``: pine (and a few larch) crowns from yellow-green to red-brown, NIR falling with
  severity — what the detector must find;
- ``already_dead``: grey crowns, already dead in the previous image — to be marked, not
  re-reported;
- ``decoy_larch``: autumn-yellow larch crowns that keep their NIR;
- ``decoy_broadleaf``: autumn-red oak crowns, outside the host stands.

Pixels are uint16 reflectance × 10 000 (no offset). The previous image is the same ground a
year earlier: discolored crowns still healthy, decoys still green, dead crowns already grey.

Examples
--------
>>> grid = crown_grid()
>>> grid.shape, grid.transform.a
((2000, 2000), 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio.features import rasterize
from scipy.ndimage import binary_dilation, gaussian_filter

from gis.demo.imagery import Grid
from gis.demo.scene import CROWN_WINDOW

PIXEL_M = 0.5
CELL_PX = 16
SUN = np.array([0.7071, 0.7071])  # (rows, cols): sunlit side faces south-east
LOOKS = {
    "pine": (0.025, 0.050, 0.030, 0.280),
    "larch": (0.030, 0.065, 0.040, 0.360),
    "oak": (0.030, 0.060, 0.035, 0.380),
    "larch_yellow": (0.045, 0.110, 0.115, 0.340),
    "oak_red": (0.040, 0.060, 0.110, 0.300),
    "dead_grey": (0.075, 0.085, 0.095, 0.150),
    "early": (0.035, 0.085, 0.075, 0.200),
    "red_brown": (0.045, 0.065, 0.140, 0.140),
    "understory": (0.035, 0.070, 0.055, 0.260),
    "soil": (0.090, 0.120, 0.150, 0.220),
    "road": (0.140, 0.160, 0.180, 0.210),
}
"""Reflectance (B, G, R, NIR) of each look; ``discolored`` blends ``early`` → ``red_brown``."""
KIND_COUNTS = {
    "discolored_pine": 160,
    "discolored_larch": 15,
    "already_dead": 30,
    "decoy_larch": 80,
    "decoy_broadleaf": 40,
}
HOST_PINES = ("红松", "樟子松")


def crown_grid() -> Grid:
    """Return the 0.5 m grid of the crown scene (:data:`gis.demo.scene.CROWN_WINDOW`)."""
    x0, y0, x1, y1 = CROWN_WINDOW
    shape = (round((y1 - y0) / PIXEL_M), round((x1 - x0) / PIXEL_M))
    return Grid(Affine(PIXEL_M, 0.0, x0, 0.0, -PIXEL_M, y1), shape)


def _roads(grid: Grid) -> list[shapely.LineString]:
    x0, y0, x1, y1 = CROWN_WINDOW
    return [
        shapely.LineString([(x0, y0 + 300.0), (x1, y0 + 520.0)]),
        shapely.LineString([(x0 + 640.0, y0), (x0 + 560.0, y1)]),
    ]


@dataclass
class CrownTable:
    """One row per crown cell (centre and radius in pixels, stand, species, kind, look).

    ``soil`` and ``road`` are the ground masks: canopy gaps of bare soil (no crown stands in
    them) and two 5 m forest roads.
    """

    frame: pd.DataFrame
    grid: Grid
    soil: NDArray[np.bool_]
    road: NDArray[np.bool_]


def _crown_cells(
    rng: np.random.Generator, grid: Grid, stands: gpd.GeoDataFrame, gaps: NDArray[np.bool_]
) -> pd.DataFrame:
    n_r, n_c = grid.shape[0] // CELL_PX, grid.shape[1] // CELL_PX
    ci, cj = np.meshgrid(np.arange(n_r), np.arange(n_c), indexing="ij")
    radius = rng.uniform(3.0, 7.0, ci.shape)
    slack = CELL_PX / 2 - radius - 0.5
    row = ci * CELL_PX + CELL_PX / 2 + rng.uniform(-1, 1, ci.shape) * slack
    col = cj * CELL_PX + CELL_PX / 2 + rng.uniform(-1, 1, ci.shape) * slack
    t = grid.transform
    x, y = t.c + col * t.a, t.f + row * t.e
    pts = shapely.points(x.ravel(), y.ravel())
    road = shapely.union_all([r.buffer(6.0) for r in _roads(grid)])
    stand_idx = np.full(pts.size, -1)
    hits = stands.sindex.query(pts, predicate="within")
    stand_idx[hits[0]] = hits[1]
    present = (rng.uniform(size=pts.size) > 0.12) & ~shapely.intersects(pts, road)
    present &= stand_idx >= 0
    centre = (
        np.clip(row, 0, grid.shape[0] - 1).astype(int),
        np.clip(col, 0, grid.shape[1] - 1).astype(int),
    )
    present &= ~gaps[centre].ravel()
    frame = pd.DataFrame(
        {
            "row": row.ravel(),
            "col": col.ravel(),
            "radius": radius.ravel(),
            "x": x.ravel(),
            "y": y.ravel(),
            "stand": stand_idx,
            "present": present,
        }
    )
    frame["species"] = np.where(
        stand_idx >= 0, stands["优势树种"].to_numpy()[np.maximum(stand_idx, 0)], ""
    )
    frame["stand_id"] = np.where(
        stand_idx >= 0, stands["标识码"].to_numpy()[np.maximum(stand_idx, 0)], ""
    )
    return frame


def _assign_kinds(rng: np.random.Generator, frame: pd.DataFrame) -> None:
    """Choose the planted crowns; set ``kind``, ``severity`` and both dates' ``look``."""
    sp = frame["species"].to_numpy()
    base = np.select([np.isin(sp, HOST_PINES), sp == "落叶松"], ["pine", "larch"], "oak")
    frame["kind"] = "healthy"
    frame["severity"] = np.nan
    pools = {"pine": HOST_PINES, "larch": ("落叶松",), "oak": ("蒙古栎",)}
    plan = (
        ("discolored", "pine", KIND_COUNTS["discolored_pine"]),
        ("discolored", "larch", KIND_COUNTS["discolored_larch"]),
        ("already_dead", "pine", KIND_COUNTS["already_dead"]),
        ("decoy_larch", "larch", KIND_COUNTS["decoy_larch"]),
        ("decoy_broadleaf", "oak", KIND_COUNTS["decoy_broadleaf"]),
    )
    for kind, pool, count in plan:
        free = np.flatnonzero(
            frame["present"].to_numpy() & np.isin(sp, pools[pool]) & (frame["kind"] == "healthy")
        )
        # Another seed may put fewer stands of a species in the crown window: plant what fits.
        pick = rng.choice(free, min(count, free.size), replace=False)
        frame.loc[pick, "kind"] = kind
        if kind == "discolored":
            frame.loc[pick, "severity"] = rng.uniform(0.0, 1.0, pick.size).round(3)
    frame["look_before"] = np.where(frame["kind"] == "already_dead", "dead_grey", base)
    frame["look_after"] = frame["look_before"]
    frame.loc[frame["kind"] == "decoy_larch", "look_after"] = "larch_yellow"
    frame.loc[frame["kind"] == "decoy_broadleaf", "look_after"] = "oak_red"
    frame.loc[frame["kind"] == "discolored", "look_after"] = "discolored"


def _crown_colours(frame: pd.DataFrame, look: str) -> NDArray[np.float32]:
    """Return (cells, 4) reflectance of each crown for one date's look column."""
    names = frame[look].to_numpy()
    colours = np.zeros((len(frame), 4), dtype="f4")
    for name, refl in LOOKS.items():
        colours[names == name] = refl
    sev = frame["severity"].fillna(0.0).to_numpy(dtype="f4")[:, np.newaxis]
    blend = (1 - sev) * np.array(LOOKS["early"]) + sev * np.array(LOOKS["red_brown"])
    disc = names == "discolored"
    colours[disc] = blend[disc]
    return colours


def plant_crowns(rng: np.random.Generator, stands: gpd.GeoDataFrame) -> CrownTable:
    """Lay out every crown of the 0.5 m scene and choose the planted ones."""
    grid = crown_grid()
    window = shapely.box(*CROWN_WINDOW)
    local = stands[stands.intersects(window)].reset_index(drop=True)
    soil, road = _ground(rng, grid)
    gaps = binary_dilation(soil, iterations=3)  # crowns stand clear of the canopy gaps
    frame = _crown_cells(rng, grid, local, gaps)
    _assign_kinds(rng, frame)
    frame["brightness"] = rng.uniform(0.9, 1.1, len(frame))
    return CrownTable(frame, grid, soil, road)


def crown_truth(table: CrownTable) -> pd.DataFrame:
    """Return the truth table of the planted crowns (x, y in EPSG:4551; diameter in metres)."""
    f = table.frame[table.frame["kind"] != "healthy"].reset_index(drop=True)
    return pd.DataFrame(
        {
            "crown_id": [f"T{k + 1:04d}" for k in range(len(f))],
            "x": f["x"].round(2),
            "y": f["y"].round(2),
            "crown_d_m": (2 * f["radius"] * PIXEL_M).round(2),
            "kind": f["kind"],
            "species": f["species"],
            "stand_id": f["stand_id"],
            "severity": f["severity"],
        }
    )


def _geometry(table: CrownTable) -> dict[str, NDArray]:
    """Per-pixel crown geometry shared by both dates: cell, inside, shade, shadow."""
    rows, cols = table.grid.shape
    f = table.frame
    n_c = cols // CELL_PX
    cell = (np.arange(rows) // CELL_PX)[:, None] * n_c + (np.arange(cols) // CELL_PX)[None, :]
    dy = (np.arange(rows, dtype="f4") + 0.5)[:, None] - f["row"].to_numpy("f4")[cell]
    dx = (np.arange(cols, dtype="f4") + 0.5)[None, :] - f["col"].to_numpy("f4")[cell]
    r = f["radius"].to_numpy("f4")[cell]
    present = f["present"].to_numpy()[cell]
    d = np.hypot(dx, dy)
    inside = present & (d < r)
    shade = 0.92 + 0.25 * (dy * SUN[0] + dx * SUN[1]) / r - 0.12 * (d / r) ** 2
    sx, sy = dx + 0.7 * r * SUN[1], dy + 0.7 * r * SUN[0]
    shadow = present & ~inside & (np.hypot(sx, sy) < r)
    return {"cell": cell, "inside": inside, "shade": shade.astype("f4"), "shadow": shadow}


def _ground(rng: np.random.Generator, grid: Grid) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Return (soil, road) masks of the ground between crowns."""
    field = gaussian_filter(rng.standard_normal(grid.shape).astype("f4"), 12.0)
    soil = field > 1.0 * field.std()
    shapes = [r.buffer(2.5) for r in _roads(grid)]
    road = rasterize(shapes, out_shape=grid.shape, transform=grid.transform).astype(bool)
    return soil, road


def render(
    table: CrownTable,
    geometry: dict[str, NDArray],
    rng: np.random.Generator,
    *,
    look: str,
    brightness: float,
) -> NDArray[np.uint16]:
    """Return the (4, rows, cols) uint16 image (reflectance × 10 000) of one date."""
    colours = _crown_colours(table.frame, look)
    crown_gain = table.frame["brightness"].to_numpy("f4")[geometry["cell"]] * geometry["shade"]
    soil, road = table.soil, table.road
    out = np.empty((4, *table.grid.shape), dtype="uint16")
    for b in range(4):
        ground_b = np.where(soil, LOOKS["soil"][b], LOOKS["understory"][b]).astype("f4")
        ground_b[road] = LOOKS["road"][b]
        band = np.where(geometry["inside"], colours[:, b][geometry["cell"]] * crown_gain, ground_b)
        band[geometry["shadow"]] *= 0.45
        band *= brightness * (1.0 + 0.04 * rng.standard_normal(band.shape, dtype="f4"))
        out[b] = np.clip(np.rint(band * 10_000.0), 1, 65_535)
    return out


def make_crown_images(
    rng: np.random.Generator, table: CrownTable
) -> tuple[NDArray[np.uint16], NDArray[np.uint16]]:
    """Return the (current, previous) 0.5 m images of the crown scene."""
    geometry = _geometry(table)
    current = render(table, geometry, rng, look="look_after", brightness=1.0)
    previous = render(table, geometry, rng, look="look_before", brightness=1.04)
    return current, previous


def crown_tags(date: str) -> dict[str, str]:
    """Return the GeoTIFF tags of the 0.5 m images."""
    return {
        "SENSOR": "uav-ms",
        "BAND_ROLES": "B,G,R,NIR",
        "SCALE": "0.0001",
        "OFFSET": "0",
        "ACQUISITION_DATE": date,
        "DEMO": "synthetic scene from gis.demo; not real imagery",
    }
