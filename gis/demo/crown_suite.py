"""Robustness scenes for the discolored-tree detector (变色立木), independent of the demo scene.

Each :class:`SuiteCase` is one small UAV scene drawn from a seed: stand layout (a random split
of the extent into 4-6 stands), species mix (red and Mongolian pine, larch, broadleaf; pine
stands may hold larch and broadleaf crowns), season (summer; autumn with larch stands turning
yellow-orange together, each stand at its own stage and crowns spread around it, birch
yellow, oak yellow or red), sensor (four-band multispectral or RGB only), ground sample distance
(5-50 cm), sensor noise and scene brightness with a gradient across the mosaic. Discolored
host crowns are planted isolated among green ones, from yellow-green (early) to red-brown
(late), with NIR falling with severity. Reflectances and ranges are justified in
``docs/robustness.md`` (section *Discolored trees*).

:func:`build_case` writes the image (uint16 reflectance x 10 000, tags with the date) and
returns the stands and the truth; :func:`score_case` runs the detector with the catalog's
default host list and matches its points against the truth.

Examples
--------
>>> [c.season for c in suite_cases([0])]
['summer', 'summer', 'autumn', 'autumn']
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from numpy.typing import NDArray
from scipy.ndimage import distance_transform_edt, gaussian_filter

CRS = "EPSG:4551"
ORIGIN = (520_000.0, 4_860_000.0)
MAX_PX = 1100
"""Edge of a scene in pixels at most (extent = min(240 m, MAX_PX x GSD))."""
GSDS_M = (0.05, 0.1, 0.2, 0.3, 0.5)
MIXES = ("pine", "pine_larch", "mixed")
PINES = ("红松", "樟子松")
BROADLEAF = ("蒙古栎", "白桦")
SUN = np.array([0.7071, 0.7071])

# Reflectance (B, G, R, NIR) of healthy summer crowns and of the colours they turn to.
LOOKS = {
    "红松": (0.025, 0.050, 0.030, 0.280),
    "樟子松": (0.028, 0.056, 0.036, 0.300),
    "落叶松": (0.030, 0.065, 0.040, 0.360),
    "蒙古栎": (0.030, 0.060, 0.035, 0.400),
    "白桦": (0.032, 0.066, 0.038, 0.420),
    "larch_yellow": (0.045, 0.110, 0.105, 0.330),
    "larch_orange": (0.045, 0.085, 0.120, 0.275),
    "birch_yellow": (0.050, 0.115, 0.100, 0.370),
    "oak_red": (0.040, 0.060, 0.110, 0.300),
    "early": (0.035, 0.085, 0.075, 0.200),
    "red_brown": (0.045, 0.065, 0.140, 0.140),
    "understory": (0.035, 0.070, 0.055, 0.260),
    "understory_autumn": (0.040, 0.072, 0.070, 0.230),
    "soil": (0.090, 0.120, 0.150, 0.220),
}


@dataclass(frozen=True)
class SuiteCase:
    """One robustness scene: its seed and what it varies."""

    seed: int
    season: str
    sensor: str
    gsd_m: float
    noise: float
    gain: float
    mix: str

    @property
    def name(self) -> str:
        """Return a file-name stem naming the case."""
        return f"s{self.seed}_{self.season}_{self.sensor}_{round(self.gsd_m * 100)}cm_{self.mix}"

    @property
    def date(self) -> str:
        """Return the acquisition date (summer: late July; autumn: early October)."""
        return "2026-07-25" if self.season == "summer" else "2026-10-05"


def suite_cases(seeds: list[int] | range) -> list[SuiteCase]:
    """Return four cases per seed (summer/autumn x multispectral/RGB), the rest drawn.

    GSD, noise (2-6 % per pixel), brightness (0.75-1.25) and species mix are drawn from the
    seed, so that every category sees the whole range over the seeds.
    """
    out = []
    for seed in seeds:
        rng = np.random.default_rng(10_000 + seed)
        for season in ("summer", "autumn"):
            for sensor in ("ms", "rgb"):
                out.append(
                    SuiteCase(
                        seed, season, sensor, float(rng.choice(GSDS_M)),
                        float(rng.uniform(0.02, 0.06)), float(rng.uniform(0.75, 1.25)),
                        str(rng.choice(MIXES)),
                    )
                )  # fmt: skip
    return out


# ----------------------------------------------------------------------------- layout


def _stands(rng: np.random.Generator, extent_m: float, mix: str) -> gpd.GeoDataFrame:
    """Split the extent into 2 x 2 or 3 x 2 stands at random lines; give each a species."""
    nx = int(rng.choice([2, 3]))
    xs = np.sort(rng.uniform(0.25, 0.75, nx - 1)) if nx == 2 else np.array([0.33, 0.66])
    xs = np.r_[0.0, xs + rng.uniform(-0.05, 0.05, xs.size), 1.0] * extent_m
    ys = np.r_[0.0, rng.uniform(0.35, 0.65), 1.0] * extent_m
    x0, y0 = ORIGIN
    geoms, species = [], []
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            geoms.append(shapely.box(x0 + xs[i], y0 + ys[j], x0 + xs[i + 1], y0 + ys[j + 1]))
            species.append(_stand_species(rng, mix))
    if mix != "pine" and "落叶松" not in species:
        species[int(rng.integers(len(species)))] = "落叶松"
    if not any(s in PINES for s in species):
        species[0] = str(rng.choice(PINES))
    ids = [f"C{k + 1:03d}" for k in range(len(geoms))]
    return gpd.GeoDataFrame({"stand_id": ids, "dominant_species": species}, geometry=geoms,
                            crs=CRS)  # fmt: skip


def _stand_species(rng: np.random.Generator, mix: str) -> str:
    if mix == "pine":
        return str(rng.choice(PINES))
    if mix == "pine_larch":
        return str(rng.choice([*PINES, "落叶松"], p=[0.3, 0.3, 0.4]))
    return str(rng.choice([*PINES, "落叶松", *BROADLEAF], p=[0.25, 0.25, 0.3, 0.1, 0.1]))


def _crowns(
    rng: np.random.Generator, stands: gpd.GeoDataFrame, extent_m: float, mix: str
) -> pd.DataFrame:
    """Crowns on a jittered grid (spacing 6-9 m, radius 1.4 m to 45 % of it), species drawn."""
    cell = float(rng.uniform(6.0, 9.0))
    n = int(extent_m // cell)
    ci, cj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    radius = rng.uniform(1.4, 0.45 * cell, ci.shape)
    slack = cell / 2 - radius - 0.1
    x = ORIGIN[0] + (cj + 0.5) * cell + rng.uniform(-1, 1, ci.shape) * slack
    y = ORIGIN[1] + extent_m - (ci + 0.5) * cell + rng.uniform(-1, 1, ci.shape) * slack
    frame = pd.DataFrame({"x": x.ravel(), "y": y.ravel(), "radius": radius.ravel()})
    frame["present"] = rng.uniform(size=len(frame)) > 0.12
    hit = stands.sindex.query(shapely.points(frame["x"], frame["y"]), predicate="within")
    stand = np.full(len(frame), -1)
    stand[hit[0]] = hit[1]
    frame["stand"] = stand
    frame = frame[stand >= 0].reset_index(drop=True)
    sp = stands["dominant_species"].to_numpy()[frame["stand"]].astype(object)
    if mix != "pine":  # pine stands hold some larch (and broadleaf) crowns
        in_pine = np.isin(sp, PINES)
        larch_share = rng.uniform(0.05, 0.25)
        u = rng.uniform(size=len(frame))
        sp[in_pine & (u < larch_share)] = "落叶松"
        if mix == "mixed":
            broad = in_pine & (u >= larch_share) & (u < larch_share + 0.1)
            sp[broad] = rng.choice(BROADLEAF, int(broad.sum()))
    frame["species"] = sp
    frame["cell"] = cell
    return frame


def composition(frame: pd.DataFrame, n_stands: int) -> list[str]:
    """树种组成 of each stand as an inventory writes it, from the crowns standing in it.

    Shares in tenths of the crowns (十分法), largest first, the dominant species taking the
    rounding; a species under half a tenth but at least 2 % is written ``+`` (a trace).

    Examples
    --------
    >>> f = pd.DataFrame({"stand": [0] * 20, "species": ["红松"] * 13 + ["落叶松"] * 6 + ["白桦"]})
    >>> composition(f, 1)
    ['7红松3落叶松+白桦']
    """
    out = []
    for k in range(n_stands):
        share = frame.loc[frame["stand"] == k, "species"].value_counts(normalize=True)
        tenths = (share * 10).round().astype(int)
        if len(tenths):
            tenths.iloc[0] += 10 - int(tenths.sum())
        terms = [f"{n}{sp}" if n > 0 else f"+{sp}"
                 for sp, n, s in zip(tenths.index, tenths, share, strict=True)
                 if n > 0 or s >= 0.02]  # fmt: skip
        out.append("".join(terms))
    return out


def _clear_gaps(
    rng: np.random.Generator, frame: pd.DataFrame, n_px: int, res: float
) -> NDArray[np.bool_]:
    """Draw bare-soil gaps (about a tenth of the ground) and take out crowns standing in them.

    A crown stands clear of a gap by its radius (as in the demo: gaps are between crowns);
    cast shadows still fall on the gaps' edges.
    """
    field = gaussian_filter(rng.standard_normal((n_px, n_px)).astype("f4"), 6.0 / res)
    soil = field > 1.2 * field.std()
    clear = distance_transform_edt(~soil) * res
    row = np.clip(((ORIGIN[1] + n_px * res - frame["y"]) / res).astype(int), 0, n_px - 1)
    col = np.clip(((frame["x"] - ORIGIN[0]) / res).astype(int), 0, n_px - 1)
    frame["present"] &= clear[row, col] > frame["radius"].to_numpy()
    return soil


def _plant(rng: np.random.Generator, frame: pd.DataFrame, season: str, mix: str) -> None:
    """Set ``kind`` (healthy, discolored), severity and phenology stage of every crown."""
    frame["kind"] = "healthy"
    frame["severity"] = np.nan
    host = frame["present"] & frame["species"].isin([*PINES, "落叶松"])
    pine = frame["present"] & frame["species"].isin(PINES)
    n = max(2, round(float(0.03 * pine.sum())))
    pool = np.flatnonzero(pine if season == "autumn" else host)
    pick = rng.choice(pool, min(n, pool.size), replace=False)
    frame.loc[pick, "kind"] = "discolored"
    frame.loc[pick, "severity"] = rng.uniform(0.0, 1.0, pick.size)
    # autumn: each stand its own stage, crowns spread around it (whole stands turn together)
    stage = rng.uniform(0.2, 1.0, frame["stand"].max() + 1)
    own = np.clip(stage[frame["stand"]] + rng.normal(0, 0.2, len(frame)), 0, 1)
    frame["stage"] = own if season == "autumn" else 0.0
    # autumn tone: birch leaves turn yellow (carotenoids), Mongolian oak yellow-brown or red;
    # the draw is kept for every crown so the other draws of a seed do not move
    tone = rng.choice(["birch_yellow", "oak_red"], len(frame))
    frame["tone"] = np.where(frame["species"] == "白桦", "birch_yellow", tone)


def _colours(
    rng: np.random.Generator, frame: pd.DataFrame, variation: tuple[Any, Any] | None = None
) -> tuple[NDArray[np.float32], tuple[Any, Any]]:
    """(crowns, 4) reflectance of each crown: species, phenology, discoloration, variation.

    ``variation`` (per-band and brightness factors of each crown) is drawn unless given (the
    same crowns on another date keep theirs).
    """
    out = np.array([LOOKS[s] for s in frame["species"]], dtype="f4")
    stage = frame["stage"].to_numpy("f4")[:, None]
    larch = (frame["species"] == "落叶松").to_numpy()
    green, yellow, orange = (np.array(LOOKS[k], "f4") for k in ("落叶松", "larch_yellow",
                                                                "larch_orange"))  # fmt: skip
    first = green + np.clip(stage * 2, 0, 1) * (yellow - green)
    late = first + np.clip(stage * 2 - 1, 0, 1) * (orange - yellow)
    out[larch] = late[larch]
    broad = frame["species"].isin(BROADLEAF).to_numpy()
    tone = np.array([LOOKS[t] for t in frame["tone"]], dtype="f4")
    out[broad] = (out + np.clip(stage * 1.5, 0, 1) * (tone - out))[broad]
    disc = (frame["kind"] == "discolored").to_numpy()
    sev = frame["severity"].fillna(0).to_numpy("f4")[:, None]
    blend = (1 - sev) * np.array(LOOKS["early"], "f4") + sev * np.array(LOOKS["red_brown"], "f4")
    out[disc] = blend[disc]
    if variation is None:
        per_band = rng.normal(1.0, 0.06, out.shape).astype("f4")  # crown to crown, per band
        variation = (per_band, rng.uniform(0.85, 1.15, (len(out), 1)).astype("f4"))
    return out * variation[0] * variation[1], variation


def _render(
    rng: np.random.Generator,
    case: SuiteCase,
    frame: pd.DataFrame,
    soil: NDArray[np.bool_],
    variation: tuple[Any, Any] | None = None,
) -> tuple[NDArray[np.uint16], tuple[Any, Any]]:
    """(bands, n, n) uint16 image: crowns with sunlit side and cast shadow on understory."""
    res, n_px = case.gsd_m, soil.shape[0]
    centres = np.c_[(ORIGIN[1] + n_px * res - frame["y"]) / res, (frame["x"] - ORIGIN[0]) / res]
    rad = frame["radius"].to_numpy() / res
    colours, variation = _colours(rng, frame, variation)
    dry = rng.uniform(0.0, 1.0) if case.season == "autumn" else 0.0  # grass drying up
    under = (1 - dry) * np.array(LOOKS["understory"]) + dry * np.array(LOOKS["understory_autumn"])
    img = np.where(soil[None], np.array(LOOKS["soil"], "f4")[:, None, None],
                   np.array(under, "f4")[:, None, None]).astype("f4")  # fmt: skip
    for k in np.flatnonzero(frame["present"].to_numpy()):
        _paint(img, centres[k], rad[k], colours[k])
    gradient = np.linspace(1 - 0.1, 1 + 0.1, n_px, dtype="f4")[None, None, :]
    img *= case.gain * gradient
    img *= 1 + case.noise * rng.standard_normal(img.shape, dtype="f4")
    bands = img if case.sensor == "ms" else img[:3]
    return np.clip(np.rint(bands * 10_000), 1, 65_535).astype("uint16"), variation


def _paint(img: NDArray[np.float32], centre: NDArray[Any], r: float, colour: NDArray[Any]) -> None:
    """Paint one crown (lit south-east, shaded north-west) and its cast shadow into ``img``."""
    n = img.shape[1]
    reach = int(np.ceil(1.8 * r)) + 1
    r0, c0 = int(centre[0]) - reach, int(centre[1]) - reach
    rs, cs = slice(max(r0, 0), min(r0 + 2 * reach, n)), slice(max(c0, 0), min(c0 + 2 * reach, n))
    yy, xx = np.mgrid[rs, cs]
    dy, dx = yy + 0.5 - centre[0], xx + 0.5 - centre[1]
    d = np.hypot(dx, dy)
    inside = d < r
    shadow = ~inside & (np.hypot(dx + 0.7 * r * SUN[1], dy + 0.7 * r * SUN[0]) < r)
    shade = 0.92 + 0.25 * (dy * SUN[0] + dx * SUN[1]) / r - 0.12 * (d / r) ** 2
    view = img[:, rs, cs]
    view[:, shadow] *= 0.45
    view[:, inside] = colour[:, None] * shade[inside][None, :]


# ----------------------------------------------------------------------------- build / score


@dataclass
class BuiltCase:
    """A written scene and what it holds.

    The image, its band roles, stands, truth (x, y, kind, species), all crowns, and the image
    of the same season a year before.
    """

    case: SuiteCase
    image: Path
    roles: str
    stands: gpd.GeoDataFrame
    truth: pd.DataFrame
    crowns: pd.DataFrame
    previous: Path


def build_case(case: SuiteCase, folder: Path) -> BuiltCase:
    """Write the scene of ``case`` into ``folder`` and return it with its truth."""
    salt = ("summer", "autumn").index(case.season) * 2 + ("ms", "rgb").index(case.sensor)
    rng = np.random.default_rng(case.seed * 7919 + salt)
    n_px = int(min(240.0, MAX_PX * case.gsd_m) / case.gsd_m)
    extent = n_px * case.gsd_m
    stands = _stands(rng, extent, case.mix)
    frame = _crowns(rng, stands, extent, case.mix)
    soil = _clear_gaps(rng, frame, n_px, case.gsd_m)
    stands["species_composition"] = composition(frame[frame["present"]], len(stands))
    _plant(rng, frame, case.season, case.mix)
    img, variation = _render(rng, case, frame, soil)
    path = Path(folder) / f"{case.name}.tif"
    roles = "B,G,R,NIR" if case.sensor == "ms" else "B,G,R"
    transform = Affine(case.gsd_m, 0, ORIGIN[0], 0, -case.gsd_m, ORIGIN[1] + extent)
    profile = {"driver": "GTiff", "width": n_px, "height": n_px, "count": img.shape[0],
               "dtype": "uint16", "crs": CRS, "transform": transform, "tiled": True,
               "blockxsize": 256, "blockysize": 256, "compress": "deflate"}  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(img)
        ds.update_tags(TIFFTAG_DATETIME=case.date.replace("-", ":") + " 10:30:00")
    # the same ground a year earlier, same season: discolored crowns still green, larch and
    # broadleaf at about the same stage, another flight's brightness and noise
    before = frame.assign(kind="healthy", stage=np.clip(frame["stage"] + rng.normal(0, 0.1,
                          len(frame)), 0, 1) * (case.season == "autumn"))  # fmt: skip
    flight = replace(case, gain=case.gain * float(rng.uniform(0.9, 1.1)))
    previous = path.with_name(f"{case.name}_prev.tif")
    with rasterio.open(previous, "w", **profile) as ds:
        ds.write(_render(rng, flight, before, soil, variation)[0])
    truth = frame[frame["present"] & (frame["kind"] != "healthy")]
    truth = truth[["x", "y", "kind", "species", "severity", "radius"]].reset_index(drop=True)
    return BuiltCase(case, path, roles, stands, truth, frame[frame["present"]], previous)


def score_case(
    built: BuiltCase,
    *,
    image_date: str | None = None,
    previous: bool = False,
    rules: Any = None,
) -> dict[str, Any]:
    """Detect with the default (catalog) host list and return precision/recall counts.

    The date is the image's TIFFTAG_DATETIME unless ``image_date`` is given; ``previous``
    gives the image of a year before as ``--previous``; ``rules`` (a
    :class:`~gis.checks.discolored.DiscoloredRules`) replaces the default rules.

    A point within 2.5 m of a planted discolored crown is a hit; one elsewhere (a yellow
    larch, a coloured broadleaf, a shadow) is a false alarm.
    """
    from gis.checks.discolored import detect_discolored
    from gis.checks.discolored.accuracy import match_truth
    from gis.findings import Findings
    from gis.raster import raster_source

    src = raster_source(built.image, bands=built.roles)
    prev = raster_source(built.previous, bands=built.roles) if previous else None
    res = detect_discolored(
        src, built.stands, previous=prev, image_date=image_date, rules=rules, findings=Findings()
    )
    score = match_truth(res.points, built.truth, within_m=2.5)
    c = built.case
    tp = round(score["precision"] * score["points"])
    found = round(score["recall"] * score["planted"])
    return {"seed": c.seed, "season": c.season, "sensor": c.sensor, "gsd_cm": round(c.gsd_m * 100),
            "mix": c.mix, "noise": round(c.noise, 3), "gain": round(c.gain, 2),
            "previous": previous, "points": score["points"], "true_points": tp,
            "planted": score["planted"], "found": found}  # fmt: skip
