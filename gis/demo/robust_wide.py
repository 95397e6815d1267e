"""The robustness suite widened: seasons, sensor pairs, terrain, shadow, snow, shapes, kinds.

:func:`gis.demo.robust.make_scene` varies one season (a June pair), one sensor per pair and
blob-shaped patches. :func:`make_wide_scene` draws, per seed, what real deliveries also vary
(ranges and their justification in ``docs/robustness.md``, section *The widened suite*):

- season of the after date: summer, autumn (mid October: broadleaf colouring and partial
  leaf fall, larch yellowing in conifer stands, grass browning, crops harvested) or spring
  (mid April in north-east China: deciduous leaf-off, larch bare, dormant grass and fields,
  lingering snow on open land);
- sensor pair: one sensor (as the base suite), Sentinel-2 reflectance before against a GF-1/GF-2
  8-bit R,G,B,NIR stretched delivery after (no SWIR on the after date), or a Landsat-like pair
  at 30 m (each 30 m pixel the mean of nine 10 m ones: mixed pixels);
- terrain illumination: a smooth after/before illumination ratio over the scene (slopes lit
  differently by a different sun elevation), ±0–24 % at two standard deviations;
- kinds: selective thinning (择伐: canopy thinned, not removed), regrowth after earlier logging
  (a gain), pest browning over a whole stand (patch and surroundings), flooding, a new road
  (a long narrow patch), patches cut by the raster edge, multipart patches, patches with holes,
  two interpreters' overlapping patches of one clearing, small patches of 1–3 亩, an unmasked
  cloud shadow on one date over unchanged and logged patches, unmasked snow over an unchanged
  patch (spring only); besides every kind of the base suite.

The truth is what a careful desk check can reach from the data as delivered (as in the base
suite), with three additions: pixels under an unmasked shadow or snow are not seen; a change
counts as seen only on pixels where it differs visibly from what the same pixel would look like
unchanged on the same date (the counterfactual after image: a clearing of a leaf-off deciduous
stand in April may look like its leaf-off neighbours); and a change must cover at least three
pixels of the delivered grid as well as 1.5 × the mapping unit (at 30 m, 4 亩).

Examples
--------
>>> s = make_wide_scene(3, size_px=120, n_patches=8)
>>> len(s.patches) == len(s.truth) > 0
True
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio.features import rasterize
from rasterio.transform import array_bounds
from scipy.ndimage import gaussian_filter

from gis.demo import robust
from gis.demo.robust import (
    CODES,
    COVERS,
    FOREST,
    LOGGING,
    MMU_MU,
    PIXEL_M,
    Kind,
    Look,
    RobustScene,
)
from gis.units import M2_PER_MU

BLEND_TARGETS: dict[str, tuple[float, ...]] = {
    "snow": (0.80, 0.78, 0.74, 0.70, 0.66, 0.12, 0.07),
    "flood": (0.070, 0.080, 0.060, 0.040, 0.025, 0.012, 0.008),
    "leafoff": (0.060, 0.075, 0.090, 0.120, 0.190, 0.230, 0.170),
    "dormant": (0.065, 0.085, 0.110, 0.140, 0.190, 0.270, 0.220),
    "larch_yellow": (0.030, 0.070, 0.075, 0.120, 0.240, 0.150, 0.080),
    "slash": COVERS["slash"][0],
    "dieback": COVERS["dieback"][0],
}
"""Reflectance (B, G, R, RE, NIR, SWIR1, SWIR2) a pixel is blended towards: snow (fresh to
old, SWIR low), turbid floodwater, leafless broadleaf (stems, branches and litter), dormant or
harvested grass and fields, yellowing larch (NIR kept, red up), thinning slash, dieback."""

SHADOW_FACTOR = np.array([0.55, 0.50, 0.45, 0.40, 0.35, 0.30, 0.30], dtype="f4")
"""Reflectance kept in a cloud's shadow (diffuse sky light, bluer than the direct beam)."""

SEASON_DATES = {"summer": "2026-06-20", "autumn": "2026-10-12", "spring": "2026-04-18"}
OPEN = ("cropland", "grass", "sparse", "lawn", "green_crop", "tilled")
DORMANT = ("grass", "sparse", "lawn", "young")
CROPS = ("cropland", "green_crop")

WIDE_KINDS = (
    Kind(
        "thinning_no_permit", FOREST, "thinned", (1,), "logging", "suspected_illegal", partial=True
    ),
    Kind("thinning_permitted", FOREST, "thinned", (1,), "logging", "permitted", (LOGGING, "valid")),
    Kind("regrowth", FOREST, "young", (7,), "other_gain", "lawful_no_permit", extra="regrowth"),
    Kind("pest_wide", FOREST, "pest", (6,), "other_loss", "lawful_no_permit", extra="wide"),
    Kind("flood", FOREST, "flood", (4,), "disaster", "lawful_no_permit", extra="wide"),
    Kind("road", FOREST, "site", (2,), "construction", "suspected_illegal", extra="road"),
    Kind("edge_logging", FOREST, "slash", (1,), "logging", "suspected_illegal", extra="edge"),
    Kind("edge_unchanged", FOREST, None, (1, 2, 6), "none", "no_change", extra="edge"),
    Kind(
        "multipart_logging",
        FOREST,
        "slash",
        (1,),
        "logging",
        "suspected_illegal",
        extra="multipart",
    ),
    Kind("holed_logging", FOREST, "bare", (1,), "logging", "suspected_illegal", extra="holed"),
    Kind("overlap_logging", FOREST, "slash", (1,), "logging", "suspected_illegal", extra="overlap"),
    Kind("small_logging", FOREST, "slash", (1,), "logging", "suspected_illegal", extra="small"),
    Kind("false_shadow", FOREST, None, (1, 2, 3, 6), "none", "no_change", extra="shadow"),
    Kind(
        "shadow_logging",
        FOREST,
        "slash",
        (1,),
        "logging",
        "suspected_illegal",
        partial=True,
        extra="shadow",
    ),
    Kind("false_snow", FOREST, None, (1, 2, 6), "none", "no_change", extra="snow"),
)
"""The kinds the widened suite adds to :data:`gis.demo.robust.KINDS`."""

CROWN_CV = (0.05, 0.10)
"""Range of the crowns' pixel-to-pixel variation of a closed canopy (coefficient of variation
at 10 m, drawn per scene): lit and shaded crowns and the gaps between them. Open land (slash,
bare soil, crops, grass, built) has only the scene's common texture and the sensor noise."""
CANOPY = np.array(
    [
        {"conifer": 1.0, "broadleaf": 1.0, "dieback": 1.0, "young": 0.5, "burned": 0.5}.get(c, 0.0)
        for c in COVERS
    ],
    dtype="f4",
)
"""Per cover code the share of :data:`CROWN_CV` it carries (standing crowns, snags: half)."""

BLENDED = {
    "thinned": ("slash", 0.3, 0.6),
    "pest": ("dieback", 0.6, 1.0),
    "flood": ("flood", 0.7, 1.0),
}
"""After-date covers drawn as a blend of the standing cover and a target, share drawn per patch."""


def draw_wide_look(rng: np.random.Generator) -> tuple[Look, float]:
    """Draw the base look, then season and sensor pair; return it and the illumination spread."""
    look = robust.draw_look(rng)
    season = str(rng.choice(["summer", "autumn", "spring"], p=[0.3, 0.35, 0.35]))
    sensor = str(rng.choice(["same", "s2_gf", "landsat"], p=[0.45, 0.35, 0.2]))
    before = None
    delivery = look.delivery
    if sensor == "s2_gf":
        before, delivery = "reflectance", "byte"
    elif sensor == "landsat":
        delivery = str(rng.choice(["reflectance", "dn16"], p=[0.7, 0.3]))
    illum = float(rng.uniform(0.0, 0.12))
    look = replace(look, delivery=delivery, before_delivery=before, season=season, sensor=sensor)
    return look, illum


def _kinds(rng: np.random.Generator, season: str, n: int) -> list[Kind]:
    pool = [*robust.KINDS, *(k for k in WIDE_KINDS if k.extra != "snow" or season == "spring")]
    w = np.array([k.weight * (1.0 if k in robust.KINDS else 1.4) for k in pool])
    return [pool[i] for i in rng.choice(len(pool), size=n, p=w / w.sum())]


def _shape(rng: np.random.Generator, kind: Kind, stand: Any, box: Any) -> Any:
    """Return a patch geometry of ``kind`` in ``stand`` (None when it does not fit)."""
    x0, y0, x1, y1 = stand.bounds
    x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
    extra = kind.extra
    if extra == "road":
        a = rng.uniform(0, np.pi)
        length, bend = rng.uniform(250.0, 450.0), rng.uniform(-0.6, 0.6)
        half = length / 2
        pts = [
            (x - half * np.cos(a), y - half * np.sin(a)),
            (x, y),
            (x + half * np.cos(a + bend), y + half * np.sin(a + bend)),
        ]
        geom = shapely.LineString(pts).buffer(rng.uniform(6.0, 15.0), cap_style="flat")
        geom = geom.intersection(stand.buffer(-10.0))
        parts = shapely.get_parts(geom)
        return max(parts, key=lambda p: p.area) if len(parts) else None
    if extra == "small":
        r = np.sqrt(rng.uniform(1.0, 3.0) * M2_PER_MU / np.pi)
        disc = shapely.Point(x, y).buffer(r * rng.uniform(0.9, 1.1), quad_segs=6)
        return disc if stand.contains(disc) else None
    blob = robust._blob(rng, x, y)
    if extra == "multipart":
        d, a = rng.uniform(140.0, 220.0), rng.uniform(0, 2 * np.pi)
        second = robust._blob(rng, x + d * np.cos(a), y + d * np.sin(a))
        scale = rng.uniform(0.55, 0.75)
        parts = [shapely.affinity.scale(g, scale, scale) for g in (blob, second)]
        pieces = [p.intersection(stand) for p in parts]
        if any(p.geom_type != "Polygon" or p.area < 0.3e4 for p in pieces):
            return None
        geom = shapely.MultiPolygon(pieces)
        return geom if len(shapely.get_parts(shapely.make_valid(geom))) == 2 else None
    if extra == "holed":
        hole = shapely.Point(blob.centroid).buffer(
            np.sqrt(blob.area / np.pi) * rng.uniform(0.3, 0.5)
        )
        return blob.intersection(stand).difference(hole)
    if extra == "edge":  # the stand reaches the scene edge; the patch is cut by it
        return blob.difference(box.difference(stand))
    return blob.intersection(stand)


def _fits(kind: Kind, poly: Any, box: Any) -> bool:
    if poly is None or poly.is_empty:
        return False
    if kind.extra == "edge":
        inside = poly.intersection(box).area / poly.area
        return 0.45 <= inside <= 0.9
    if kind.extra == "multipart":
        return box.buffer(-60.0).contains(poly)
    if poly.geom_type != "Polygon" or not box.buffer(-60.0).contains(poly.centroid):
        return False
    least = (
        0.5 * M2_PER_MU if kind.extra == "small" else (0.5 if kind.extra == "road" else 1.0) * 1e4
    )
    return poly.area >= least


def place(
    rng: np.random.Generator, stands: gpd.GeoDataFrame, kinds: list[Kind], box: Any
) -> list[tuple[Kind, Any]]:
    """Place the patches; an ``overlap`` kind adds a second outline of its clearing."""
    placed: list[tuple[Kind, Any]] = []
    centres: list[tuple[float, float]] = []
    for kind in kinds:
        cand = np.flatnonzero(stands["cover"].isin(kind.land).to_numpy())
        for _ in range(200 if len(cand) else 0):
            i = int(rng.choice(cand))
            poly = _shape_in(rng, kind, stands.geometry.iloc[i], box)
            if poly is None:
                continue
            c = poly.centroid
            if centres and min(np.hypot(cx - c.x, cy - c.y) for cx, cy in centres) < 330.0:
                continue
            placed.append((kind, poly))
            centres.append((c.x, c.y))
            if kind.extra == "overlap":  # a second interpreter's outline, shifted 15-40 m
                d, a = rng.uniform(15.0, 40.0), rng.uniform(0, 2 * np.pi)
                other = robust._blob(rng, c.x + d * np.cos(a), c.y + d * np.sin(a))
                other = other.intersection(stands.geometry.iloc[i])
                if other.geom_type == "Polygon":
                    placed.append((replace(kind, extra="overlap2"), other))
            break
    return placed


def _shape_in(rng: np.random.Generator, kind: Kind, stand: Any, box: Any) -> Any:
    """Return a patch of ``kind`` in ``stand`` that fits the scene, or None."""
    if kind.extra != "edge":
        stand = stand.buffer(-25.0)
    elif stand.intersection(box.exterior).length < 100.0:
        return None
    if stand.is_empty:
        return None
    poly = _shape(rng, kind, stand, box)
    return poly if _fits(kind, poly, box) else None


def _soft_disc(
    transform: Affine, shape: tuple[int, int], x: float, y: float, r: float
) -> NDArray[np.float32]:
    """1 inside a disc of radius ``r``, falling to 0 over about 15 m outside it."""
    cols = transform.c + (np.arange(shape[1]) + 0.5) * transform.a
    rows = transform.f + (np.arange(shape[0]) + 0.5) * transform.e
    d = np.hypot(cols[np.newaxis, :] - x, rows[:, np.newaxis] - y) - r
    return np.asarray(np.clip(1.0 - d / 15.0, 0.0, 1.0), dtype="f4")


def _blend(refl: NDArray[Any], frac: NDArray[Any], target: str) -> None:
    """Blend ``refl`` towards ``BLEND_TARGETS[target]`` by ``frac`` (0-1 per pixel), in place."""
    t = np.array(BLEND_TARGETS[target], dtype="f4")[:, None, None]
    f = frac[np.newaxis].astype("f4")
    refl *= 1.0 - f
    refl += f * t


def _season(
    rng: np.random.Generator, stand_id: NDArray[Any], n_stands: int, season: str
) -> dict[str, NDArray[np.float32]]:
    """Draw the after date's season per stand: the share of each blend (none in summer)."""
    if season == "summer":
        return {}
    spring = season == "spring"
    lo, hi = (0.7, 0.95) if spring else (0.3, 0.7)
    draws = {
        "leaf": rng.uniform(lo, hi, n_stands),
        "dormant": rng.uniform(0.6 if spring else 0.3, 0.95 if spring else 0.7, n_stands),
        "harvest": rng.uniform(0.6 if spring else 0.5, 1.0, n_stands),
        "larch": rng.uniform(0.0, 0.6, n_stands) * rng.uniform(0.4, 1.0, n_stands),
    }
    out = {k: v.astype("f4")[stand_id] for k, v in draws.items()}
    out["larch_by_stand"] = draws["larch"].astype("f4")
    return out


LARCH_SPECIES_SHARE = 0.2
"""A conifer stand whose larch share (yellowing in autumn, bare in spring) is at least this is
recorded as 落叶松 in the subcompartments; below it, by its evergreen species (a pine stand with
some larch mixed in)."""


def _record_larch(stands: gpd.GeoDataFrame, shares: dict[str, NDArray[np.float32]]) -> None:
    """Record the larch stands' 优势树种 as 落叶松 (in place; summer scenes draw no larch)."""
    if "larch_by_stand" not in shares:
        return
    larch = (shares["larch_by_stand"] >= LARCH_SPECIES_SHARE) & (stands["cover"] == "conifer")
    stands.loc[larch.to_numpy(), "dominant_species"] = "落叶松"


def _apply_season(
    refl: NDArray[Any], cover: NDArray[Any], shares: dict[str, NDArray[Any]], season: str
) -> None:
    """Blend each pixel by its own cover towards its season's look, in place."""
    if not shares:
        return
    spring = season == "spring"
    conifer = cover == CODES["conifer"]
    for covers, key, target in (
        (("broadleaf",), "leaf", "leafoff"),
        (DORMANT, "dormant", "dormant"),
        (CROPS, "harvest", "dormant"),
        (("conifer",), "larch", "leafoff" if spring else "larch_yellow"),
    ):
        where = np.isin(cover, [CODES[c] for c in covers])
        _blend(refl, np.where(where, shares[key], 0.0), target)
    if spring:  # evergreen needles lose some NIR over winter
        refl[4][conifer] *= 0.92


def _snow_on_open_land(
    rng: np.random.Generator, cover: NDArray[Any], shape: tuple[int, int]
) -> NDArray[np.float32]:
    """Lingering snow on open land in spring: a smooth field, 0-30 % of the open land."""
    field = gaussian_filter(rng.standard_normal(shape).astype("f4"), 6.0)
    open_land = np.isin(cover, [CODES[c] for c in OPEN])
    share = rng.uniform(0.0, 0.3)
    if not open_land.any() or share < 0.02:
        return np.zeros(shape, dtype="f4")
    cut = np.quantile(field[open_land], 1.0 - share)
    depth = rng.uniform(0.5, 1.0)
    return np.where(open_land & (field >= cut), depth, 0.0).astype("f4")


def _crowns(seed: int, shape: tuple[int, int]) -> NDArray[np.float32]:
    """Crown light and shade of a canopy: a pixel-scale field × the scene's amplitude.

    Drawn from its own generator (the other draws of the scene stay as they were).
    """
    rng = np.random.default_rng([seed, 16, 2, 5])
    amplitude = rng.uniform(*CROWN_CV)
    return (amplitude * robust._texture(rng, shape, 0.7)).astype("f4")


def make_wide_scene(seed: int, *, size_px: int = 201, n_patches: int = 28) -> RobustScene:
    """Draw one scene of the widened suite (see the module docstring)."""
    rng = np.random.default_rng([seed, 16, 2])
    look, illum = draw_wide_look(rng)
    side = size_px * PIXEL_M
    box = shapely.box(
        robust.ORIGIN[0], robust.ORIGIN[1], robust.ORIGIN[0] + side, robust.ORIGIN[1] + side
    )
    transform = Affine(PIXEL_M, 0, robust.ORIGIN[0], 0, -PIXEL_M, robust.ORIGIN[1] + side)
    shape = (size_px, size_px)
    stands = robust._stands(rng, box, max(12, int(size_px**2 / 1500)))
    placed = place(rng, stands, _kinds(rng, look.season, n_patches), box)
    table, sf, stand_id, cover_b = robust.draw_covers(rng, stands, shape, transform)
    plan = _plan(rng, placed, cover_b, transform, shape)
    texture = np.stack([robust._texture(rng, shape, s) for s in (1.5, 3.0)])
    before = robust._reflectance(rng, plan.cover_b, stand_id, table, sf, texture, look.noise)
    after = robust._reflectance(rng, plan.cover_a, stand_id, table, sf, texture, look.noise)
    unchanged = robust._reflectance(rng, plan.cover_b, stand_id, table, sf, texture, look.noise)
    for frac, target in plan.blends:
        _blend(after, frac, target)
    snow = plan.snow
    if look.season == "spring":
        snow = np.maximum(snow, _snow_on_open_land(rng, plan.cover_a, shape))
    shares = _season(rng, stand_id, len(stands), look.season)
    _record_larch(stands, shares)
    _apply_season(after, plan.cover_a, shares, look.season)
    _apply_season(unchanged, plan.cover_b, shares, look.season)
    # crowns cast light and shade whatever their colour: after the season's blend, which
    # changes the level of a stand's reflectance (leaf colour, leaf fall), not its crowns
    crowns = _crowns(seed, shape)
    for refl, cover in ((before, plan.cover_b), (after, plan.cover_a), (unchanged, plan.cover_b)):
        refl *= 1.0 + CANOPY[cover][np.newaxis] * crowns[np.newaxis]
    _blend(after, snow, "snow")
    _blend(unchanged, snow, "snow")
    light = np.clip(1.0 + illum * robust._texture(rng, shape, 25.0), 0.6, 1.4)
    after *= light[np.newaxis]
    unchanged *= light[np.newaxis]
    after = robust._after_look(after, plan.cover_a, look)
    unchanged = robust._after_look(unchanged, plan.cover_b, look)
    shade = 1.0 - plan.shadow[np.newaxis] * (1.0 - SHADOW_FACTOR[:, None, None])
    dx, dy = look.shift
    after *= np.roll(shade, (dy, dx), axis=(1, 2))
    cloud = robust._collar(shape, look) | plan.cloud
    cloud = np.roll(cloud, (dy, dx), axis=(0, 1))
    after[:, cloud] = np.array([0.4, 0.4, 0.42, 0.43, 0.45, 0.38, 0.3], "f4")[:, None]
    obscured = np.roll((plan.shadow >= 0.25) | (snow >= 0.1), (dy, dx), axis=(0, 1))
    # the change where the after image shows it (misregistered by the shift, as ``visible``)
    changed = np.roll(plan.changed, (dy, dx), axis=(0, 1))
    visible = _visible(after, unchanged, look, changed)
    frames = robust._frames(rng, [(k, p, None, s) for k, p, s in plan.rows], stands)
    frames[0]["image_date_after"] = SEASON_DATES[look.season]
    unseen = cloud | obscured
    gsd = 30.0 if look.sensor == "landsat" else PIXEL_M
    truth = wide_truth(plan.rows, frames[0], visible, unseen, transform, gsd)
    mask = cloud.astype("uint8")
    if look.sensor == "landsat":
        before, after, mask, transform = _landsat(before, after, cloud, transform)
        look = replace(look, collar=(look.collar[0], -(-look.collar[1] // 3)))
    return RobustScene(seed, look, *frames, before, after, mask, transform, truth)


class _Plan:
    """Covers of both dates, blends, shadow, snow, clouds and the changed pixels of a scene."""

    def __init__(self, cover_b: NDArray[Any], shape: tuple[int, int]) -> None:
        self.cover_b = cover_b.copy()
        self.cover_a = cover_b.copy()
        self.changed = np.zeros(shape, dtype=bool)
        self.blends: list[tuple[NDArray[Any], str]] = []
        self.shadow = np.zeros(shape, dtype="f4")
        self.snow = np.zeros(shape, dtype="f4")
        self.cloud = np.zeros(shape, dtype=bool)
        self.rows: list[tuple[Kind, Any, float]] = []


def _plan(
    rng: np.random.Generator,
    placed: list[tuple[Kind, Any]],
    cover_b: NDArray[Any],
    transform: Affine,
    shape: tuple[int, int],
) -> _Plan:
    plan = _Plan(cover_b, shape)
    polys = [p for _, p in placed]
    hidden: list[tuple[Any, str]] = []
    for k, (kind, poly) in enumerate(placed):
        share = float(rng.uniform(0.1, 1.0)) if kind.partial else 1.0
        part = robust._part(rng, poly, max(share, 1.5 * MMU_MU * M2_PER_MU / poly.area))
        plan.rows.append((kind, poly, share))
        if kind.extra == "overlap2":  # a second outline of the clearing placed just before
            continue
        if kind.after is None:
            pass
        elif kind.after in BLENDED:
            target, lo, hi = BLENDED[kind.after]
            area = part
            if kind.extra == "wide":  # the surroundings too, short of the other patches
                others = shapely.union_all([p for j, p in enumerate(polys) if j != k])
                grow = float(rng.uniform(40.0, 150.0))
                area = poly.buffer(grow).difference(others.buffer(10.0)).union(poly)
            inside = _mask(area, transform, shape)
            if kind.after != "flood":
                inside &= np.isin(plan.cover_a, [CODES[c] for c in FOREST])
            f = float(rng.uniform(lo, hi))
            frac = np.clip(f + 0.1 * rng.standard_normal(shape), 0, 1).astype("f4")
            plan.blends.append((np.where(inside, frac, 0.0).astype("f4"), target))
            plan.changed |= _mask(part, transform, shape)
        else:
            if kind.extra == "regrowth":
                plan.cover_b[_mask(part, transform, shape)] = CODES["slash"]
            plan.cover_a = robust._paint(
                shape, transform, [(part, CODES[kind.after])], plan.cover_a
            )
            plan.changed |= _mask(part, transform, shape)
        _obscure(rng, plan, kind, poly, transform, shape, hidden)
    for poly, mode in hidden:
        c = poly.centroid
        if mode == "hide":
            plan.cloud |= robust._disc(
                transform, shape, c.x, c.y, np.sqrt(poly.area / np.pi) + 80.0
            )
        else:
            a = rng.uniform(0, 2 * np.pi)
            off = 150.0 + np.sqrt(poly.area / np.pi) * rng.uniform(-0.2, 0.3)
            plan.cloud |= robust._disc(
                transform, shape, c.x + off * np.cos(a), c.y + off * np.sin(a), 150.0
            )
    return plan


def _obscure(
    rng: np.random.Generator,
    plan: _Plan,
    kind: Kind,
    poly: Any,
    transform: Affine,
    shape: tuple[int, int],
    hidden: list[tuple[Any, str]],
) -> None:
    """Add the masked cloud, unmasked shadow or unmasked snow a kind asks for."""
    c, r = poly.centroid, np.sqrt(poly.area / np.pi)
    if kind.extra in ("hide", "part_cloud"):
        hidden.append((poly, kind.extra))
    elif kind.extra == "shadow":
        a, rs = rng.uniform(0, 2 * np.pi), rng.uniform(60.0, 140.0)
        off = rs + r * rng.uniform(-0.8, 0.3)
        disc = _soft_disc(transform, shape, c.x + off * np.cos(a), c.y + off * np.sin(a), rs)
        plan.shadow = np.maximum(plan.shadow, disc * float(rng.uniform(0.8, 1.0)))
    elif kind.extra == "snow":
        rs = r * rng.uniform(0.6, 1.4)
        a, off = rng.uniform(0, 2 * np.pi), r * rng.uniform(0.0, 0.6)
        disc = _soft_disc(transform, shape, c.x + off * np.cos(a), c.y + off * np.sin(a), rs)
        plan.snow = np.maximum(plan.snow, disc * float(rng.uniform(0.3, 0.7)))


def _mask(geom: Any, transform: Affine, shape: tuple[int, int]) -> NDArray[np.bool_]:
    if geom is None or geom.is_empty:
        return np.zeros(shape, dtype=bool)
    return rasterize([(geom, 1)], out_shape=shape, transform=transform, dtype="uint8") > 0


VISIBLE_NDVI = 0.07
"""NDVI difference from the unchanged counterfactual that an interpreter sees as a change (three
to four times the NDVI noise of the suite's 1-3 % sensor noise)."""
VISIBLE_LOG = 0.2
"""|log ratio| of red or SWIR2 against the counterfactual that is seen as a change (±22 %)."""


def _visible(
    after: NDArray[Any], unchanged: NDArray[Any], look: Look, changed: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """Return the changed pixels whose after value differs visibly from the pixel unchanged.

    The bands both deliveries carry decide: SWIR2 only when both dates have it. Each difference
    is the mean over the changed pixels around the pixel (Gaussian weights, σ one pixel), as an
    interpreter judges a patch of ground, not a pixel: sensor noise does not make speckles
    seen, and the rim of a clearing is as visible as its middle (smoothing a per-pixel test
    over unchanged pixels too ate the rim of every clearing and small patches whole).
    """
    weight = gaussian_filter(changed.astype("f4"), 1.0)

    def near(diff: NDArray[Any]) -> NDArray[Any]:
        """Return the mean of ``diff`` over the changed pixels near each pixel."""
        summed = gaussian_filter(np.where(changed, diff, 0.0).astype("f4"), 1.0)
        return np.abs(summed / np.maximum(weight, 1e-6))

    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi_a = (after[4] - after[2]) / (after[4] + after[2])
        ndvi_u = (unchanged[4] - unchanged[2]) / (unchanged[4] + unchanged[2])
        seen = near(np.nan_to_num(ndvi_a - ndvi_u)) >= VISIBLE_NDVI
        seen |= near(np.nan_to_num(np.log(after[2] / unchanged[2]))) >= VISIBLE_LOG
        if "byte" not in look.deliveries():
            seen |= near(np.nan_to_num(np.log(after[6] / unchanged[6]))) >= VISIBLE_LOG
    return np.asarray(changed & seen)


def _landsat(
    before: NDArray[Any], after: NDArray[Any], cloud: NDArray[Any], transform: Affine
) -> tuple[NDArray[Any], NDArray[Any], NDArray[np.uint8], Affine]:
    """Aggregate to 30 m: each pixel the mean of nine (mixed pixels); a cloud taints its pixel."""
    n = before.shape[1] // 3 * 3

    def agg(a: NDArray[Any]) -> NDArray[Any]:
        return a[:, :n, :n].reshape(a.shape[0], n // 3, 3, n // 3, 3).mean(axis=(2, 4))

    mask = cloud[:n, :n].reshape(n // 3, 3, n // 3, 3).any(axis=(1, 3))
    after = agg(after).astype("f4")
    after[:, mask] = np.array([0.4, 0.4, 0.42, 0.43, 0.45, 0.38, 0.3], "f4")[:, None]
    t = transform @ Affine.scale(3.0)
    return agg(before).astype("f4"), after, mask.astype("uint8"), t


def wide_truth(
    rows: list[tuple[Kind, Any, float]],
    patches: gpd.GeoDataFrame,
    changed: NDArray[np.bool_],
    unseen: NDArray[np.bool_],
    transform: Affine,
    gsd: float,
) -> pd.DataFrame:
    """Return the truth of each patch from what is seen of it (each patch rasterised alone).

    ``changed``: the pixels whose change is visible; ``unseen``: masked, shadowed or snowed
    pixels; ``gsd``: the delivered pixel size (a change needs three of its pixels).
    """
    shape = changed.shape
    px_m2 = abs(transform.a * transform.e)
    scene_box = shapely.box(*array_bounds(shape[0], shape[1], transform))
    least_m2 = max(MMU_MU * M2_PER_MU, 3 * gsd * gsd)
    sure_m2 = max(1.5 * MMU_MU * M2_PER_MU, 3 * gsd * gsd)
    out = []
    for j, (kind, poly, share) in enumerate(rows):
        inside = _mask(poly, transform, shape)
        seen = inside & ~unseen
        # the share of its pixels seen × the share of its area inside the scene: a pixel count
        # times the pixel area differs from a 1-3 ha outline's area by a few per cent either way
        # (pixel centres), which made wholly visible patches "partly hidden" (0.97 < 0.98)
        in_scene = poly.intersection(scene_box).area / poly.area
        frac = seen.sum() / max(int(inside.sum()), 1) * in_scene
        real = kind.after is not None
        legality = kind.legality if kind.legality != "needs_field_check" else "no_change"
        changed_m2 = (changed & seen).sum() * px_m2
        # a change seen is a change (however little of the patch is seen); between the mapping
        # unit and 1.5 times it a desk check may decide either way (grey)
        hidden = changed_m2 < least_m2 if real else frac < 0.98
        row = robust.truth_row(patches.iloc[j], kind, legality, hidden, frac, share)
        row["grey"] = real and least_m2 <= changed_m2 < sure_m2
        out.append(row)
    return pd.DataFrame(out)
