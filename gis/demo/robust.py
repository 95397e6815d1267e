"""Robustness scenes for the patch check: many small scenes unlike the demo, with their truth.

The demo scene is one place with one set of spectra; a check tuned on it can fail on the next
delivery. :func:`make_scene` draws a new small scene per seed (2 km × 2 km at 10 m by default)
that varies what real deliveries vary — the ranges and their justification are in
``docs/robustness.md``:

- layout: Voronoi stands of conifer, broadleaf, cropland, grass, sparse (宜林地) and built land;
  irregular patches of 1–3 ha (16–45 亩), some elongated;
- spectra: every cover's reflectance drawn per scene within ±15 % per band of its nominal
  value, and per stand within ±5 %; sensor noise 1–3 % per pixel;
- partial change: the changed part of a patch is a share of 10–100 % of it (cut by a random
  half-plane), never smaller than 1.5 × the 1 亩 minimum mapping unit;
- the after date: illumination gain 0.88–1.12, additive haze up to the blue 0.03, phenology
  (vegetation NIR × 0.85–1.05, red × 0.95–1.25), misregistration of −1, 0 or +1 pixel per axis,
  a nodata collar of 0–15 pixels on one side, clouds with shadows (masked), patches hidden
  wholly or partly under cloud;
- losses that keep NDVI (forest cleared to a green crop, construction on lawn), fires whose
  surroundings burned too, dieback, planting;
- the delivery: float reflectance, raw 16-bit DN with a gain and offset per date and band
  (uncalibrated), or 8-bit R,G,B,NIR stretched per band and date (2–98 % clip, no SWIR).

The truth of every patch is what a careful desk check can reach from the data as delivered:
``needs_field_check`` where the patch is not seen (less than half valid), where an unchanged
patch is only partly seen, or where less than 1.5 × the minimum mapping unit of its change is
seen; otherwise the planted change and its legality.

Examples
--------
>>> s = make_scene(3, size_px=120, n_patches=6)
>>> len(s.patches) == len(s.truth) > 0
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio.features import rasterize
from scipy.ndimage import gaussian_filter

from gis.checks.patches import check_patches
from gis.crs import WORKING_CRS
from gis.demo.imagery import COVERS as DEMO_COVERS
from gis.findings import Findings
from gis.raster import raster_source
from gis.units import M2_PER_MU

PIXEL_M = 10.0
ORIGIN = (500_000.0, 4_850_000.0)
ROLES = ("B", "G", "R", "RE", "NIR", "SWIR1", "SWIR2")
MMU_MU = 1.0

COVERS: dict[str, tuple[tuple[float, ...], float]] = {
    **DEMO_COVERS,
    "green_crop": ((0.035, 0.070, 0.045, 0.140, 0.330, 0.240, 0.130), 1.0),
    "lawn": ((0.040, 0.075, 0.050, 0.140, 0.300, 0.230, 0.125), 1.0),
}
"""Nominal surface reflectance per cover (B, G, R, RE, NIR, SWIR1, SWIR2), vegetation weight."""
CODES = {name: k for k, name in enumerate(COVERS)}

STAND_COVERS = {
    "conifer": ("乔木林地", 0.33),
    "broadleaf": ("乔木林地", 0.25),
    "cropland": ("耕地", 0.14),
    "grass": ("草地", 0.08),
    "sparse": ("宜林地", 0.14),
    "built": ("建设用地", 0.06),
}
FOREST = ("conifer", "broadleaf")
VEGETATED = ("conifer", "broadleaf", "grass", "cropland", "sparse")
LOGGING, LANDUSE = "林木采伐许可", "使用林地审核审批"
DATES = ("2025-06-15", "2026-06-20")
PERMIT_DATES = {
    "valid": ("2025-05-01", "2026-12-31"),
    "expired": ("2022-01-01", "2024-12-31"),
}


@dataclass(frozen=True)
class Kind:
    """One kind of planted patch: where, what it became, the interpreter's cause, the truth."""

    key: str
    land: tuple[str, ...]
    after: str | None
    causes: tuple[int, ...]
    change_type: str
    legality: str
    permit: tuple[str, str] | None = None
    partial: bool = False
    extra: str | None = None
    weight: float = 1.0


KINDS = (
    Kind("logging_no_permit", FOREST, "slash", (1,), "logging", "suspected_illegal", partial=True),
    Kind(
        "logging_bare_no_permit", FOREST, "bare", (1,), "logging", "suspected_illegal", partial=True
    ),
    Kind("logging_permitted", FOREST, "slash", (1,), "logging", "permitted", (LOGGING, "valid")),
    Kind(
        "logging_expired",
        FOREST,
        "slash",
        (1,),
        "logging",
        "suspected_illegal",
        (LOGGING, "expired"),
        partial=True,
    ),
    Kind(
        "construction_no_permit",
        FOREST,
        "site",
        (2,),
        "construction",
        "suspected_illegal",
        partial=True,
    ),
    Kind(
        "construction_on_lawn",
        FOREST,
        "lawn",
        (2,),
        "construction",
        "suspected_illegal",
        partial=True,
    ),
    Kind(
        "construction_permitted",
        FOREST,
        "site",
        (2,),
        "construction",
        "permitted",
        (LANDUSE, "valid"),
    ),
    Kind("cultivation", FOREST, "tilled", (3,), "cultivation", "suspected_illegal", partial=True),
    Kind(
        "green_crop", FOREST, "green_crop", (3,), "cultivation", "suspected_illegal", partial=True
    ),
    Kind("fire", ("conifer",), "burned", (4,), "disaster", "lawful_no_permit"),
    Kind(
        "fire_wide", ("conifer",), "burned", (4,), "disaster", "lawful_no_permit", extra="wide_fire"
    ),
    Kind("afforestation", ("sparse",), "young", (5,), "afforestation", "lawful_no_permit"),
    Kind("dieback", FOREST, "dieback", (6,), "other_loss", "lawful_no_permit"),
    Kind("not_forest_land", ("cropland",), "site", (2,), "construction", "not_forest_land"),
    Kind("false_phenology", FOREST, None, (1, 2, 3, 4, 6), "none", "no_change", weight=1.5),
    Kind("false_cloud", FOREST, None, (1, 2, 6), "none", "needs_field_check", extra="part_cloud"),
    Kind("hidden_logging", FOREST, "slash", (1,), "logging", "needs_field_check", extra="hide"),
)
"""The planted kinds; ``needs_field_check`` truths are recomputed from what is seen."""


@dataclass
class Look:
    """How the scene is delivered and what differs on the after date."""

    delivery: str
    gain: float
    haze: float
    nir_pheno: float
    red_pheno: float
    noise: float
    shift: tuple[int, int]
    collar: tuple[str, int]
    before_delivery: str | None = None
    season: str = "summer"
    sensor: str = "same"

    def deliveries(self) -> tuple[str, str]:
        """Return the (before, after) deliveries (a sensor pair delivers the dates differently)."""
        return (self.before_delivery or self.delivery, self.delivery)


@dataclass
class RobustScene:
    """A generated scene: frames in the working CRS, the two images, a cloud mask, the truth."""

    seed: int
    look: Look
    patches: gpd.GeoDataFrame
    subcompartments: gpd.GeoDataFrame
    permits: gpd.GeoDataFrame
    before: NDArray[np.float32]
    after: NDArray[np.float32]
    after_mask: NDArray[np.uint8]
    transform: Affine
    truth: pd.DataFrame


def draw_look(rng: np.random.Generator, delivery: str | None = None) -> Look:
    """Draw the after date's differences and the delivery (see the module docstring)."""
    if delivery is None:
        delivery = str(rng.choice(["reflectance", "dn16", "byte"], p=[0.5, 0.25, 0.25]))
    side = str(rng.choice(["west", "east", "north", "south"]))
    return Look(
        delivery=delivery,
        gain=float(rng.uniform(0.88, 1.12)),
        haze=float(rng.uniform(0.0, 1.0)),
        nir_pheno=float(rng.uniform(0.85, 1.05)),
        red_pheno=float(rng.uniform(0.95, 1.25)),
        noise=float(rng.uniform(0.01, 0.03)),
        shift=(int(rng.integers(-1, 2)), int(rng.integers(-1, 2))),
        collar=(side, int(rng.integers(0, 16))),
    )


def _stands(rng: np.random.Generator, box: shapely.Polygon, n: int) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = box.bounds
    pts = shapely.points(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box))
    cells = shapely.intersection(cells, box)
    cells = cells[shapely.area(cells) > 0]
    names = list(STAND_COVERS)
    p = np.array([STAND_COVERS[c][1] for c in names])
    cover = rng.choice(names, size=len(cells), p=p / p.sum())
    cover[: min(4, len(cover))] = ["conifer", "broadleaf", "sparse", "cropland"][: len(cover)]
    gyl = rng.choice(["国家级", "地方级", "商品林"], size=len(cells), p=[0.2, 0.2, 0.6])
    return gpd.GeoDataFrame(
        {
            "subcompartment_id": [f"S{k:03d}" for k in range(len(cells))],
            "land_class": [STAND_COVERS[c][0] for c in cover],
            "gyl_level": gyl,
            "dominant_species": [_species(c, k) for k, c in enumerate(cover)],
            "cover": cover,
        },
        geometry=cells,
        crs=WORKING_CRS,
    )


SPECIES = {"conifer": ("红松", "樟子松"), "broadleaf": ("蒙古栎", "白桦", "杨树")}
"""优势树种 recorded for the forest stands (in turn, drawing nothing: the scenes are unchanged)."""


def _species(cover: str, k: int) -> str | None:
    names = SPECIES.get(cover)
    return names[k % len(names)] if names else None


def _blob(rng: np.random.Generator, x: float, y: float) -> shapely.Polygon:
    r = rng.uniform(55.0, 95.0)
    t = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(8, 18))))
    stretch = rng.uniform(1.0, 1.8)
    rr = r * (1 + rng.uniform(-0.25, 0.25, t.size))
    ang = rng.uniform(0, np.pi)
    px, py = rr * np.cos(t) * stretch, rr * np.sin(t) / stretch
    c, s = np.cos(ang), np.sin(ang)
    poly = shapely.Polygon(np.column_stack([x + c * px - s * py, y + s * px + c * py]))
    return shapely.make_valid(poly).buffer(0)


def _part(rng: np.random.Generator, poly: Any, share: float) -> Any:
    """Return the part of ``poly`` (``share`` of its area) on one side of a random line."""
    if share >= 0.999:
        return poly
    a = rng.uniform(0, 2 * np.pi)
    u = np.array([np.cos(a), np.sin(a)])
    xy = shapely.get_coordinates(poly)
    proj = xy @ u
    lo, hi = float(proj.min()), float(proj.max())
    big = 1e4
    centre = xy.mean(axis=0)
    n = np.array([-u[1], u[0]])
    for _ in range(30):
        mid = (lo + hi) / 2
        c = centre + u * (mid - float(centre @ u))
        corners = [c + n * big, c + n * big - u * big, c - n * big - u * big, c - n * big]
        half = shapely.Polygon(corners)
        piece = poly.intersection(half)
        if piece.area / poly.area > share:
            hi = mid
        else:
            lo = mid
    return piece


def _place(
    rng: np.random.Generator, stands: gpd.GeoDataFrame, kinds: list[Kind], box: Any
) -> list[tuple[Kind, Any, int]]:
    placed: list[tuple[Kind, Any, int]] = []
    centres: list[tuple[float, float]] = []
    inner = box.buffer(-60.0)
    for kind in kinds:
        cand = np.flatnonzero(stands["cover"].isin(kind.land).to_numpy())
        for _ in range(200):
            if not len(cand):
                break
            i = int(rng.choice(cand))
            stand = stands.geometry.iloc[i].buffer(-25.0)
            if stand.is_empty:
                continue
            x0, y0, x1, y1 = stand.bounds
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if centres and min(np.hypot(cx - x, cy - y) for cx, cy in centres) < 330.0:
                continue
            poly = _blob(rng, x, y).intersection(stand)
            if poly.geom_type != "Polygon" or not inner.contains(poly.centroid):
                continue
            if poly.area < 1.0 * 10_000:
                continue
            placed.append((kind, poly, i))
            centres.append((x, y))
            break
    return placed


def _texture(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> NDArray[Any]:
    f = gaussian_filter(rng.standard_normal(shape).astype("f4"), sigma)
    return np.asarray(f / f.std(), dtype="f4")


def _paint(
    shape: tuple[int, int], transform: Affine, pairs: list[tuple[Any, int]], out: NDArray[Any]
) -> NDArray[Any]:
    if not pairs:
        return out
    return rasterize(pairs, out=out, transform=transform)


def _reflectance(
    rng: np.random.Generator,
    cover: NDArray[Any],
    stand_id: NDArray[Any],
    table: NDArray[Any],
    stand_factor: NDArray[Any],
    texture: NDArray[Any],
    noise: float,
) -> NDArray[np.float32]:
    refl = np.moveaxis(table[cover] * stand_factor[stand_id], -1, 0)
    refl *= 1.0 + 0.06 * texture[0]
    refl[4] *= 1.0 + 0.03 * texture[1]
    refl *= 1.0 + noise * rng.standard_normal(refl.shape).astype("f4")
    return np.asarray(refl, dtype="f4")


def _after_look(refl: NDArray[Any], cover: NDArray[Any], look: Look) -> NDArray[np.float32]:
    veg = np.array([v[1] for v in COVERS.values()], dtype="f4")[cover]
    refl = refl.copy()
    refl[4] *= 1.0 + veg * (look.nir_pheno - 1.0)
    refl[2] *= 1.0 + veg * (look.red_pheno - 1.0)
    refl *= look.gain
    haze = look.haze * np.array([0.03, 0.025, 0.02, 0.015, 0.01, 0.005, 0.003], dtype="f4")
    refl += haze[:, np.newaxis, np.newaxis]
    dx, dy = look.shift
    return np.asarray(np.roll(refl, (dy, dx), axis=(1, 2)), dtype="f4")


def _disc(transform: Affine, shape: tuple[int, int], x: float, y: float, r: float) -> Any:
    cols = transform.c + (np.arange(shape[1]) + 0.5) * transform.a
    rows = transform.f + (np.arange(shape[0]) + 0.5) * transform.e
    return np.hypot(cols[np.newaxis, :] - x, rows[:, np.newaxis] - y) <= r


def _collar(shape: tuple[int, int], look: Look) -> NDArray[np.bool_]:
    side, w = look.collar
    m = np.zeros(shape, dtype=bool)
    if not w:
        return m
    if side == "west":
        m[:, :w] = True
    elif side == "east":
        m[:, -w:] = True
    elif side == "north":
        m[:w] = True
    else:
        m[-w:] = True
    return m


def make_scene(
    seed: int, *, size_px: int = 200, n_patches: int = 24, delivery: str | None = None
) -> RobustScene:
    """Draw one robustness scene (see the module docstring)."""
    rng = np.random.default_rng([seed, 16])
    look = draw_look(rng, delivery)
    side = size_px * PIXEL_M
    box = shapely.box(ORIGIN[0], ORIGIN[1], ORIGIN[0] + side, ORIGIN[1] + side)
    transform = Affine(PIXEL_M, 0, ORIGIN[0], 0, -PIXEL_M, ORIGIN[1] + side)
    shape = (size_px, size_px)
    stands = _stands(rng, box, max(12, int(size_px**2 / 1500)))
    weights = np.array([k.weight for k in KINDS])
    kinds = [KINDS[i] for i in rng.choice(len(KINDS), size=n_patches, p=weights / weights.sum())]
    placed = _place(rng, stands, kinds, box)
    table, sf, stand_id, cover_b = draw_covers(rng, stands, shape, transform)
    cover_a = cover_b.copy()
    changed = np.zeros(shape, dtype="int32")
    cloud = _collar(shape, look)
    rows, hidden_geoms = [], []
    for k, (kind, poly, _) in enumerate(placed):
        share = float(rng.uniform(0.1, 1.0)) if kind.partial else 1.0
        part = _part(rng, poly, max(share, 1.5 * MMU_MU * M2_PER_MU / poly.area))
        if kind.after:
            cover_a = _paint(shape, transform, [(part, CODES[kind.after])], cover_a)
            changed = _paint(shape, transform, [(part, k + 1)], changed)
        if kind.extra == "wide_fire":
            c = poly.centroid
            grow = float(rng.uniform(60.0, 120.0))
            disc = _disc(transform, shape, c.x, c.y, np.sqrt(poly.area / np.pi) + grow)
            veg = np.isin(cover_a, [CODES[n] for n in VEGETATED])
            cover_a[disc & veg] = CODES["burned"]
        if kind.extra in ("hide", "part_cloud"):
            hidden_geoms.append((poly, kind.extra))
        rows.append((kind, poly, part, share))
    for poly, mode in hidden_geoms:
        c = poly.centroid
        if mode == "hide":
            cloud |= _disc(transform, shape, c.x, c.y, np.sqrt(poly.area / np.pi) + 80.0)
        else:
            a = rng.uniform(0, 2 * np.pi)
            r = 150.0
            off = r + np.sqrt(poly.area / np.pi) * rng.uniform(-0.2, 0.3)
            cloud |= _disc(transform, shape, c.x + off * np.cos(a), c.y + off * np.sin(a), r)
    texture = np.stack([_texture(rng, shape, s) for s in (1.5, 3.0)])
    before = _reflectance(rng, cover_b, stand_id, table, sf, texture, look.noise)
    after = _reflectance(rng, cover_a, stand_id, table, sf, texture, look.noise)
    after = _after_look(after, cover_a, look)
    dx, dy = look.shift
    cloud_shifted = np.roll(cloud, (dy, dx), axis=(0, 1))
    after[:, cloud_shifted] = np.array([0.4, 0.4, 0.42, 0.43, 0.45, 0.38, 0.3], "f4")[:, None]
    mask = cloud_shifted.astype("uint8")
    frames = _frames(rng, rows, stands)
    truth = _truth(rows, frames[0], changed, mask, transform, shape)
    return RobustScene(seed, look, *frames, before, after, mask, transform, truth)


def draw_covers(
    rng: np.random.Generator, stands: gpd.GeoDataFrame, shape: tuple[int, int], transform: Affine
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[Any], NDArray[np.uint8]]:
    """Draw the scene's spectra; return them, the per-stand factors, stand ids and covers."""
    table = np.array([v[0] for v in COVERS.values()], dtype="f4")
    table *= rng.uniform(0.85, 1.15, table.shape).astype("f4")
    sf = rng.uniform(0.95, 1.05, (len(stands), 7)).astype("f4")
    stand_id = rasterize(
        zip(stands.geometry, range(len(stands)), strict=True),
        out_shape=shape,
        transform=transform,
        dtype="int32",
    )
    cover_b = np.asarray([CODES[c] for c in stands["cover"]], dtype="uint8")[stand_id]
    return table, sf, stand_id, cover_b


def _frames(
    rng: np.random.Generator, rows: list[tuple[Kind, Any, Any, float]], stands: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    ids = [f"R{k + 1:03d}" for k in range(len(rows))]
    patches = gpd.GeoDataFrame(
        {
            "patch_id": ids,
            "interp_cause": [int(rng.choice(r[0].causes)) for r in rows],
            "image_date_before": DATES[0],
            "image_date_after": DATES[1],
        },
        geometry=[r[1] for r in rows],
        crs=WORKING_CRS,
    )
    prow = [
        (pid, r[0].permit, r[1].buffer(12.0))
        for pid, r in zip(ids, rows, strict=True)
        if r[0].permit
    ]
    permits = gpd.GeoDataFrame(
        {
            "permit_id": [f"P-{p[0]}" for p in prow],
            "permit_kind": [p[1][0] for p in prow],
            "valid_from": pd.to_datetime([PERMIT_DATES[p[1][1]][0] for p in prow]),
            "valid_to": pd.to_datetime([PERMIT_DATES[p[1][1]][1] for p in prow]),
        },
        geometry=[p[2] for p in prow],
        crs=WORKING_CRS,
    )
    return patches, stands.drop(columns=["cover"]), permits


def _truth(
    rows: list[tuple[Kind, Any, Any, float]],
    patches: gpd.GeoDataFrame,
    changed: NDArray[Any],
    mask: NDArray[Any],
    transform: Affine,
    shape: tuple[int, int],
) -> pd.DataFrame:
    ids = rasterize(
        zip(patches.geometry, range(1, len(patches) + 1), strict=True),
        out_shape=shape,
        transform=transform,
        dtype="int32",
    ).ravel()
    k = len(patches) + 1
    n = np.bincount(ids, minlength=k)[1:]
    seen = np.bincount(ids, weights=mask.ravel() == 0, minlength=k)[1:]
    clear = mask.ravel() == 0
    ch_seen = np.bincount(ids, weights=(changed.ravel() > 0) & clear, minlength=k)[1:]
    px_mu = PIXEL_M**2 / M2_PER_MU
    out = []
    for j, (kind, _, _, share) in enumerate(rows):
        frac = seen[j] / max(n[j], 1)
        real = kind.after is not None
        legality = kind.legality if kind.legality != "needs_field_check" else "no_change"
        hidden = frac < 0.5 or (not real and frac < 0.98)
        if real and ch_seen[j] * px_mu < 1.5 * MMU_MU:
            hidden = True
        out.append(truth_row(patches.iloc[j], kind, legality, hidden, frac, share))
    return pd.DataFrame(out)


def truth_row(
    patch: pd.Series, kind: Kind, legality: str, hidden: bool, frac: float, share: float
) -> dict[str, Any]:
    """Return one patch's truth (``hidden``: the desk check cannot reach it → field check)."""
    return {
        "patch_id": patch["patch_id"],
        "scenario": kind.key,
        "is_real_change": kind.after is not None,
        "change_type": kind.change_type,
        "legality": "needs_field_check" if hidden else legality,
        "hidden_by_cloud": hidden,
        "seen_frac": round(float(frac), 3),
        "changed_share": round(float(share), 3),
        "interp_cause": int(patch["interp_cause"]),
    }


def write_scene(scene: RobustScene, folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the two images (as delivered), the after mask and the layers; return the paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"before": out / "before.tif", "after": out / "after.tif", "mask": out / "mask.tif"}
    nodata = ~np.isfinite(scene.after).all(axis=0) | _collar(scene.after.shape[1:], scene.look)
    for key, refl, invalid, delivery in zip(
        ("before", "after"),
        (scene.before, scene.after),
        (np.zeros(scene.before.shape[1:], bool), nodata),
        scene.look.deliveries(),
        strict=True,
    ):
        data, profile = _deliver(refl, invalid, delivery, seed=scene.seed, date=key)
        profile.update(
            driver="GTiff",
            width=refl.shape[2],
            height=refl.shape[1],
            crs=WORKING_CRS.to_wkt(),
            transform=scene.transform,
            count=data.shape[0],
        )
        with rasterio.open(paths[key], "w", **profile) as ds:
            ds.write(data)
    with rasterio.open(
        paths["mask"],
        "w",
        driver="GTiff",
        width=scene.after_mask.shape[1],
        height=scene.after_mask.shape[0],
        count=1,
        dtype="uint8",
        crs=WORKING_CRS.to_wkt(),
        transform=scene.transform,
    ) as ds:
        ds.write(scene.after_mask[np.newaxis])
    return paths


def delivered_roles(delivery: str) -> tuple[str, ...]:
    """Band roles of a delivery, in file order."""
    return ("R", "G", "B", "NIR") if delivery == "byte" else ROLES


def _deliver(
    refl: NDArray[np.float32], invalid: NDArray[np.bool_], delivery: str, *, seed: int, date: str
) -> tuple[NDArray[Any], dict[str, Any]]:
    if delivery == "reflectance":
        data = refl.copy()
        data[:, invalid] = np.nan
        return data, {"dtype": "float32", "nodata": float("nan")}
    rng = np.random.default_rng([seed, 7, len(date)])
    if delivery == "dn16":
        gain = rng.uniform(300.0, 1000.0, (7, 1, 1))
        offset = rng.uniform(0.0, 100.0, (7, 1, 1))
        data = np.clip(np.rint(refl * gain + offset), 1, 65535).astype("uint16")
        data[:, invalid] = 0
        return data, {"dtype": "uint16", "nodata": 0}
    order = [ROLES.index(r) for r in delivered_roles("byte")]
    sub = refl[order]
    out = np.zeros(sub.shape, dtype="uint8")
    for b in range(sub.shape[0]):
        lo, hi = np.percentile(sub[b][~invalid], [2, 98])
        out[b] = np.clip(np.rint(1 + 254 * (sub[b] - lo) / (hi - lo)), 1, 255)
    out[:, invalid] = 0
    return out, {"dtype": "uint8", "nodata": 0}


def check_scene(scene: RobustScene, folder: str | os.PathLike[str], **options: Any) -> pd.DataFrame:
    """Write ``scene`` to ``folder``, run the patch check on it, return ``patches_checked``."""
    paths = write_scene(scene, folder)
    roles = [",".join(delivered_roles(d)) for d in scene.look.deliveries()]
    before = raster_source(paths["before"], bands=roles[0])
    after = raster_source(paths["after"], bands=roles[1], mask=paths["mask"], mask_values=[1])
    result = check_patches(
        scene.patches,
        before=before,
        after=after,
        subcompartments=scene.subcompartments,
        permits=scene.permits,
        findings=Findings(),
        **options,
    )
    return pd.DataFrame(result.patches_checked.drop(columns="geometry"))


FIELD = "needs_field_check"
CLEARING = ("no_change", "permitted", "lawful_no_permit", "not_forest_land")
"""Answers that clear a patch: given to a truly suspected-illegal patch, a violation is lost."""


def compare(checked: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Return one row per patch: truth, answer and whether each part is right.

    ``real_ok`` and ``type_ok`` are judged only on patches that are seen (not hidden);
    ``legal_ok`` on all; a borderline change (truth ``grey``: seen over 1-1.5 × the mapping
    unit, widened suite) may also be sent to the field; ``cleared`` marks a truly
    suspected-illegal patch answered with one of :data:`CLEARING`.
    """
    got = checked.set_index(checked["patch_id"].astype(str))
    t = truth.set_index("patch_id")
    got = got.reindex(t.index)
    seen = ~t["hidden_by_cloud"].astype(bool)
    grey = t["grey"].astype(bool) if "grey" in t else pd.Series(False, index=t.index)
    seen &= ~(grey & got["legality"].eq(FIELD))  # a borderline change sent to the field
    real = got["is_real_change"].astype("boolean").fillna(pd.NA)
    out = pd.DataFrame(
        {
            "scenario": t["scenario"],
            "seen": seen,
            "truth_legality": t["legality"],
            "legality": got["legality"],
            "truth_type": t["change_type"],
            "change_type": got["change_type"],
            "real_ok": (real == t["is_real_change"].astype("boolean")).fillna(False) | ~seen,
            "type_ok": (got["change_type"] == t["change_type"]) | ~seen,
            "legal_ok": (got["legality"] == t["legality"]) | (grey & got["legality"].eq(FIELD)),
            "cleared": (t["legality"] == "suspected_illegal") & got["legality"].isin(CLEARING),
        },
        index=t.index,
    )
    return out


def category_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: patches, shares right (real change and type over seen patches), cleared."""
    g = rows.groupby("scenario")
    seen = rows[rows["seen"]].groupby("scenario")
    table = pd.DataFrame(
        {
            "n": g.size(),
            "seen": seen.size(),
            "real_change": seen["real_ok"].mean(),
            "change_type": seen["type_ok"].mean(),
            "legality": g["legal_ok"].mean(),
            "cleared": g["cleared"].sum(),
        }
    ).fillna({"seen": 0})
    return table


def summary(rows: pd.DataFrame) -> dict[str, float]:
    """Overall shares right, cleared-violation rate (cleared / truly suspected illegal)."""
    seen = rows[rows["seen"]]
    illegal = int((rows["truth_legality"] == "suspected_illegal").sum())
    return {
        "patches": len(rows),
        "real_change": float(seen["real_ok"].mean()),
        "change_type": float(seen["type_ok"].mean()),
        "legality": float(rows["legal_ok"].mean()),
        "violations": illegal,
        "cleared": int(rows["cleared"].sum()),
        "cleared_rate": float(rows["cleared"].sum() / illegal) if illegal else 0.0,
    }
