"""The demo's Sentinel-2-like L2A pair (10 m) and the after date's scene classification.

Pure array generation: covers are painted from the vector layers with
:func:`rasterio.features.rasterize`, turned into surface reflectance per cover, given texture
and noise, and encoded as processing-baseline-04.00 DN (``DN = reflectance × 10000 + 1000``,
i.e. ``BOA_ADD_OFFSET = -1000``, ``BOA_QUANTIFICATION_VALUE = 10000``; DN 0 is nodata).

What differs between the dates, on purpose:

- the planted changes, inside the real-change patches only;
- a whole-scene phenology and illumination shift: every vegetated cover's after-date NDVI is
  lower by about 0.05-0.09 (NIR down, red up), and the whole after image is 3 % darker;
- clouds, cloud shadows and a cirrus sheet on the after date, with an SCL-like raster;
- a deliberate misregistration: the after date's content lies one pixel east and one pixel
  south of its true place (:data:`MISREGISTRATION_PX`); the first row and column are nodata.

Examples
--------
>>> round(float(ndvi_of("conifer")), 2), round(float(ndvi_of("slash")), 2)
(0.84, 0.38)
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from affine import Affine
from numpy.typing import NDArray
from rasterio.features import rasterize
from scipy.ndimage import gaussian_filter

from gis.demo.patches import Disc
from gis.demo.scene import BOUNDS, BROADLEAVES, CONIFERS

PIXEL_M = 10.0
S2_BANDS = ("B2", "B3", "B4", "B5", "B8", "B11", "B12")
S2_ROLES = ("B", "G", "R", "RE", "NIR", "SWIR1", "SWIR2")
BOA_ADD_OFFSET = -1000
BOA_QUANTIFICATION = 10_000
MISREGISTRATION_PX = (1, 1)
"""(columns east, rows south) by which the after date's content is displaced."""

# Surface reflectance per cover: B2, B3, B4, B5, B8, B11, B12; then the vegetation weight
# that the phenology shift acts on.
COVERS: dict[str, tuple[tuple[float, ...], float]] = {
    "conifer": ((0.020, 0.040, 0.022, 0.080, 0.260, 0.120, 0.055), 1.0),
    "broadleaf": ((0.025, 0.055, 0.030, 0.110, 0.340, 0.170, 0.080), 1.0),
    "grass": ((0.035, 0.070, 0.050, 0.130, 0.280, 0.220, 0.120), 1.0),
    "bare": ((0.080, 0.110, 0.150, 0.180, 0.230, 0.300, 0.250), 0.0),
    "built": ((0.110, 0.120, 0.130, 0.140, 0.170, 0.200, 0.180), 0.0),
    "water": ((0.040, 0.050, 0.030, 0.020, 0.015, 0.008, 0.005), 0.0),
    "burned": ((0.030, 0.040, 0.050, 0.060, 0.100, 0.170, 0.160), 0.2),
    "cropland": ((0.045, 0.075, 0.070, 0.150, 0.300, 0.240, 0.150), 1.0),
    "slash": ((0.050, 0.070, 0.090, 0.130, 0.200, 0.260, 0.190), 0.3),
    "sparse": ((0.060, 0.090, 0.100, 0.150, 0.220, 0.260, 0.190), 0.5),
    "site": ((0.120, 0.140, 0.160, 0.180, 0.220, 0.280, 0.240), 0.0),
    "tilled": ((0.070, 0.095, 0.120, 0.160, 0.220, 0.280, 0.230), 0.0),
    "young": ((0.030, 0.065, 0.040, 0.130, 0.320, 0.200, 0.100), 1.0),
    "dieback": ((0.035, 0.058, 0.060, 0.110, 0.230, 0.200, 0.120), 0.7),
}
COVER_CODES = {name: k for k, name in enumerate(COVERS)}
PHENOLOGY = np.array([1.0, 1.03, 1.20, 0.97, 0.88, 1.0, 1.0], dtype="f4")
"""Per-band factor of the after date on fully vegetated covers (NDVI falls 0.05-0.09)."""
ILLUMINATION = 0.97
CLOUD_REFL = np.array([0.45, 0.45, 0.46, 0.47, 0.48, 0.40, 0.30], dtype="f4")
SCL = {
    "nodata": 0,
    "shadow": 3,
    "vegetation": 4,
    "bare": 5,
    "water": 6,
    "cloud_medium": 8,
    "cloud_high": 9,
    "cirrus": 10,
}


def ndvi_of(cover: str) -> float:
    """Return the NDVI of a cover's before-date reflectance (no texture, no noise)."""
    refl = COVERS[cover][0]
    return (refl[4] - refl[2]) / (refl[4] + refl[2])


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid: transform and (rows, cols), in EPSG:4551."""

    transform: Affine
    shape: tuple[int, int]


def s2_grid() -> Grid:
    """Return the 10 m grid of the Sentinel-2-like pair over the whole scene."""
    x0, y0, x1, y1 = BOUNDS
    shape = (round((y1 - y0) / PIXEL_M), round((x1 - x0) / PIXEL_M))
    return Grid(Affine(PIXEL_M, 0.0, x0, 0.0, -PIXEL_M, y1), shape)


def _stand_cover(stands: gpd.GeoDataFrame) -> NDArray[np.int_]:
    land, species = stands["地类"].to_numpy(), stands["优势树种"].to_numpy()
    names = np.select(
        [
            (land == "乔木林地") & np.isin(species, CONIFERS),
            (land == "乔木林地") & np.isin(species, BROADLEAVES),
            land == "宜林地",
            land == "建设用地",
            land == "水域",
        ],
        ["conifer", "broadleaf", "sparse", "built", "water"],
        "cropland",
    )
    return np.array([COVER_CODES[n] for n in names])


def cover_maps(
    grid: Grid,
    stands: gpd.GeoDataFrame,
    parks: gpd.GeoDataFrame,
    patches: gpd.GeoDataFrame,
    after_cover: list[str],
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Return the cover code per pixel before and after (patch covers painted in)."""
    shapes = zip(stands.geometry, _stand_cover(stands), strict=True)
    before = rasterize(shapes, out_shape=grid.shape, transform=grid.transform, dtype="uint8")
    green = [(g, COVER_CODES["grass"]) for g in parks.geometry]
    before = rasterize(green, out=before, transform=grid.transform)
    changed = [(g, COVER_CODES[c]) for g, c in zip(patches.geometry, after_cover, strict=True) if c]
    after = rasterize(changed, out=before.copy(), transform=grid.transform)
    return before, after


def _texture(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> NDArray[np.float32]:
    field = gaussian_filter(rng.standard_normal(shape).astype("f4"), sigma)
    return np.asarray(field / field.std(), dtype="f4")


def reflectance(
    cover: NDArray[np.uint8],
    texture: NDArray[np.float32],
    rng: np.random.Generator,
    *,
    phenology: bool = False,
) -> NDArray[np.float32]:
    """Return (7, rows, cols) reflectance for a cover map, with texture and sensor noise."""
    table = np.array([v[0] for v in COVERS.values()], dtype="f4")  # (covers, bands)
    veg = np.array([v[1] for v in COVERS.values()], dtype="f4")
    refl = np.moveaxis(table[cover], -1, 0)
    if phenology:
        w = veg[cover]
        refl *= 1.0 + w[np.newaxis] * (PHENOLOGY[:, np.newaxis, np.newaxis] - 1.0)
        refl *= ILLUMINATION
    refl *= 1.0 + 0.07 * texture[0]
    refl[4] *= 1.0 + 0.04 * texture[1]
    refl *= 1.0 + 0.015 * rng.standard_normal(refl.shape, dtype="f4")
    return refl


def _disc_field(grid: Grid, discs: list[Disc], kind: str, soft: float) -> NDArray[np.float32]:
    """Return 0-1 coverage of the discs of one kind: 1 inside, a soft edge of ``soft`` × r."""
    rows, cols = grid.shape
    t = grid.transform
    x = t.c + (np.arange(cols) + 0.5) * t.a
    y = t.f + (np.arange(rows) + 0.5) * t.e
    out = np.zeros(grid.shape, dtype="f4")
    for d in (d for d in discs if d.kind == kind):
        dist = np.hypot(x[np.newaxis, :] - d.x, y[:, np.newaxis] - d.y)
        np.maximum(out, np.clip((d.r - dist) / (soft * d.r), 0.0, 1.0), out=out)
    return out


def add_clouds(
    refl: NDArray[np.float32], grid: Grid, discs: list[Disc], wisp: NDArray[np.float32]
) -> tuple[NDArray[np.float32], dict[str, NDArray[np.float32]]]:
    """Darken the shadows and blend the clouds and cirrus into ``refl`` (in place)."""
    fields = {
        "cloud": _disc_field(grid, discs, "cloud", 0.25) * (0.85 + 0.1 * np.tanh(wisp)),
        "shadow": _disc_field(grid, discs, "shadow", 0.25) * 0.6,
        "cirrus": _disc_field(grid, discs, "cirrus", 0.4) * 0.12,
    }
    refl *= 1.0 - fields["shadow"] * (fields["cloud"] < 0.05)
    for name in ("cirrus", "cloud"):
        a = fields[name][np.newaxis]
        refl *= 1.0 - a
        refl += a * CLOUD_REFL[:, np.newaxis, np.newaxis]
    return refl, fields


def scene_classification(
    cover: NDArray[np.uint8], fields: dict[str, NDArray[np.float32]]
) -> NDArray[np.uint8]:
    """Return Sentinel-2 SCL codes for the after date (before the misregistration shift)."""
    veg = np.array([v[1] >= 0.5 for v in COVERS.values()])
    scl = np.where(veg[cover], SCL["vegetation"], SCL["bare"]).astype("uint8")
    scl[cover == COVER_CODES["water"]] = SCL["water"]
    scl[fields["cirrus"] > 0.02] = SCL["cirrus"]
    scl[(fields["shadow"] > 0.1) & (fields["cloud"] < 0.2)] = SCL["shadow"]
    scl[fields["cloud"] >= 0.2] = SCL["cloud_medium"]
    scl[fields["cloud"] >= 0.6] = SCL["cloud_high"]
    return scl


def to_dn(refl: NDArray[np.float32]) -> NDArray[np.uint16]:
    """Encode reflectance as baseline-04.00 L2A DN (offset 1000; 0 stays nodata)."""
    dn = np.rint(refl * BOA_QUANTIFICATION - BOA_ADD_OFFSET)
    return np.clip(dn, 1, 65_535).astype("uint16")


def misregister(array: NDArray, shift: tuple[int, int] = MISREGISTRATION_PX) -> NDArray:
    """Return ``array`` with its content moved ``shift`` = (cols east, rows south); fill 0."""
    dx, dy = shift
    out = np.zeros_like(array)
    out[..., dy:, dx:] = array[..., : array.shape[-2] - dy, : array.shape[-1] - dx]
    return out


@dataclass
class S2Pair:
    """The generated Sentinel-2-like pair: DN arrays, the after date's SCL, and the grid."""

    before: NDArray[np.uint16]
    after: NDArray[np.uint16]
    scl_after: NDArray[np.uint8]
    grid: Grid


def make_s2_pair(
    rng: np.random.Generator,
    stands: gpd.GeoDataFrame,
    parks: gpd.GeoDataFrame,
    patches: gpd.GeoDataFrame,
    after_cover: list[str],
    discs: list[Disc],
) -> S2Pair:
    """Generate the before/after DN stacks and the after SCL (see the module docstring)."""
    grid = s2_grid()
    before_cover, after_cover_map = cover_maps(grid, stands, parks, patches, after_cover)
    texture = np.stack([_texture(rng, grid.shape, s) for s in (2.0, 4.0)])
    for cover in (before_cover, after_cover_map):  # open ground between the buildings
        cover[(cover == COVER_CODES["built"]) & (texture[1] > 1.2)] = COVER_CODES["bare"]
    before = reflectance(before_cover, texture, rng)
    after = reflectance(after_cover_map, texture, rng, phenology=True)
    after, fields = add_clouds(after, grid, discs, _texture(rng, grid.shape, 3.0))
    scl = scene_classification(after_cover_map, fields)
    return S2Pair(to_dn(before), misregister(to_dn(after)), misregister(scl), grid)


def patch_fractions(
    pair: S2Pair, patches: gpd.GeoDataFrame, codes: tuple[int, ...]
) -> NDArray[np.float64]:
    """Return, per patch, the fraction of its pixels (centre inside) whose SCL is in ``codes``."""
    shapes = zip(patches.geometry, range(1, len(patches) + 1), strict=True)
    ids = rasterize(shapes, out_shape=pair.grid.shape, transform=pair.grid.transform, dtype="int32")
    hit = np.isin(pair.scl_after, codes)
    total = np.bincount(ids.ravel(), minlength=len(patches) + 1)[1:]
    inside = np.bincount(ids.ravel(), weights=hit.ravel(), minlength=len(patches) + 1)[1:]
    return np.asarray(inside / np.maximum(total, 1))


def s2_tags(date: str) -> dict[str, str]:
    """Return the GeoTIFF tags that describe the DN convention of the pair."""
    return {
        "SENSOR": "sentinel2-l2a",
        "PROCESSING_BASELINE": "04.00",
        "BOA_ADD_OFFSET": str(BOA_ADD_OFFSET),
        "BOA_QUANTIFICATION_VALUE": str(BOA_QUANTIFICATION),
        "SCALE": "0.0001",
        "BAND_ROLES": ",".join(S2_ROLES),
        "ACQUISITION_DATE": date,
        "DEMO": "synthetic scene from gis.demo; not real imagery",
    }
