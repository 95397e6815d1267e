"""Pixels of the discolored-tree detection (变色立木), shared by both passes.

The thresholds (:class:`CrownRules`), the per-pixel layers of a window (indices, brightness),
the stand raster, the soil/road/water mask, window cores and the spectral-shape score. Pass 1
(stand baselines, :mod:`gis.checks.discolored.baselines`) and pass 2 (crowns,
:mod:`gis.checks.discolored.crowns`) both build on these; neither imports the other's pass.

Examples
--------
>>> r = CrownRules()
>>> r.z_grvi, r.min_crown_m2
(3.0, 4.0)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rasterio.features import rasterize
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from gis.checks.discolored.kernels import soil_array
from gis.indices import normalized_difference
from gis.indices import rg_ratio as rg_index
from gis.raster import RasterReader, RasterSource

BASE_NAMES = ("med_grvi", "sig_grvi", "med_ndvi", "sig_ndvi", "bright", "green", "nir", "blue")
"""Baseline quantities per stand, in the field order of
:class:`~gis.checks.discolored.baselines.Baselines`."""


@dataclass(frozen=True)
class CrownRules:
    """Thresholds of the detector (``layers/rules/discolored.yaml`` holds the defaults).

    Parameters
    ----------
    z_grvi : float
        A canopy pixel is anomalous when its GRVI lies this many robust sigmas below its
        stand's median.
    min_sigma : float
        Floor of the GRVI/NDVI sigma (index units), so a very uniform stand does not turn
        sensor noise into detections.
    shadow_ratio : float
        Brightness below this fraction of the stand median is shadow (excluded).
    soil_ndvi, soil_rg, soil_blue_ratio : float
        With NIR: bare soil, road or water has NDVI below ``soil_ndvi`` and is either bright
        in blue (``blue >= soil_blue_ratio`` × the stand's median) or not red
        (``R/G < soil_rg``); a red-brown dead crown is dark in blue and red (its NDVI can be
        as low as soil's).
    bright_ratio : float
        Without NIR: blue (else brightness) above this multiple of the stand median is
        soil/road.
    soil_blue_red : float
        Without NIR, on reflectance (``reflectance``): a crown candidate whose mean blue is at
        least this fraction of its mean red is bare ground in shade, not a discolored crown
        (:mod:`gis.checks.discolored.ground`).
    reflectance : bool
        The image holds reflectance, linear up to a gain (set from the image's radiometry,
        :func:`gis.zonal.inside.resolve_radiometry`, not from the rules file); 8-bit
        stretched or raw DN deliveries do not, and band ratios there have no fixed meaning.
    smooth_px : int
        GRVI is averaged over ``smooth_px`` × ``smooth_px`` canopy pixels before scoring
        (sensor noise down by about that factor; a crown spans many pixels).
    min_crown_m2, max_crown_m2 : float
        Crown area range in m² (ground units of the raster CRS).
    typical_crown_m2 : tuple of float
        Area range in m² with full size fit in the confidence.
    max_elongation : float
        Largest ratio of a component's principal axes (roads and edges are long).
    yellow_green_ratio : float
        Decoy rule: green at least this multiple of the stand median = yellowing.
    nir_kept_ratio : float
        Decoy rule: NIR at least this multiple of the stand median = NIR kept.
    ndvi_kept_z : float
        Decoy rule: crown NDVI z-score at or above this = NDVI near healthy.
    autumn : bool
        The image is of the autumn colour season (set from the image date, not the rules
        file): yellow, orange or red colour is expected, so NIR kept alone makes a decoy.
    autumn_nir_kept_ratio : float
        In autumn a crown keeping at least this multiple of its stand's median NIR is a decoy
        (senescing larch and broadleaf crowns among the pines keep most of their NIR; a dying
        pine crown loses a fifth or more).
    turning_nir_ratio : float
        In a stand turning colour as a whole (autumn larch), a crown counts only when its NIR
        fell below this multiple of the stand median (a dying crown loses NIR, a senescing
        larch keeps most of it); without NIR such stands are not screened.
    autumn_population : int
        Autumn, no NIR: a host stand holding at least this many bright-yellow crowns (green
        at least ``yellow_green_ratio`` × its median) holds a deciduous population turning
        colour together (:mod:`gis.checks.discolored.autumn`).
    golden_green_ratio : float
        Autumn, no NIR, in such a stand: a coloured crown whose green is at least this
        multiple of the stand median is golden-orange autumn foliage, not a point.
    red_brown_rg : float
        Autumn, no NIR: R/G at or above this is red-brown (dead pine needles ≈ 2; golden to
        orange larch 1.0-1.5): never autumn colour, kept also in stands turning as a whole.
    autumn_min_candidates : int
        Autumn, no NIR: candidates a stand holding deciduous crowns needs before their colour
        population is estimated (:func:`gis.checks.discolored.autumn.colour_population`).
    autumn_population_z : float
        ... a candidate within this many robust spreads of the stand's candidate colour centre
        belongs to the deciduous population turning together, not a point ...
    autumn_darker_z : float
        ... unless it is darker (green against the stand) than the centre by more than this
        many spreads (golden foliage keeps its green bright).
    autumn_colour_sigma : float
        Least spread of the log colour (crown-to-crown variation within a species and stage).
    turning_grvi_shift : float
        A host stand whose median GRVI lies this far below the median of all host stands'
        medians is turning colour as a whole (whatever the date).
    z_ndvi_loss : float
        With NIR, a canopy pixel is also a candidate when its crown-scale NDVI lies this many
        robust sigmas below its stand's median; it counts only when it lost NIR against its
        neighbouring crowns (:mod:`gis.checks.discolored.neighbours`).
    crown_ndvi_quantile : float
        A stand's pixels at or above this quantile of its NDVI are its crowns, whose NIR the
        candidates are compared with (:mod:`gis.checks.discolored.neighbours`).
    z_ndvi_full : float
        NDVI loss (robust sigmas) giving the full NDVI term of the confidence.
    min_stand_pixels : int
        Canopy pixels a stand needs for its own baseline (else the pooled baseline is used).
    coarse_pixel_m : float
        Pixels this size or larger cannot resolve single crowns: report stand-level patches.
    max_pixel_m : float
        Pixels larger than this (MODIS 250 m) cannot show discolored patches either: refused.
    """

    z_grvi: float = 3.0
    min_sigma: float = 0.01
    shadow_ratio: float = 0.4
    soil_ndvi: float = 0.3
    soil_rg: float = 1.3
    soil_blue_ratio: float = 2.0
    bright_ratio: float = 2.0
    soil_blue_red: float = 0.55
    reflectance: bool = False
    smooth_px: int = 3
    min_crown_m2: float = 4.0
    max_crown_m2: float = 100.0
    typical_crown_m2: tuple[float, float] = (6.0, 60.0)
    max_elongation: float = 3.0
    yellow_green_ratio: float = 1.15
    nir_kept_ratio: float = 0.9
    ndvi_kept_z: float = 0.0
    autumn: bool = False
    autumn_nir_kept_ratio: float = 0.8
    turning_nir_ratio: float = 0.7
    autumn_population: int = 2
    golden_green_ratio: float = 1.0
    red_brown_rg: float = 1.7
    autumn_min_candidates: int = 4
    autumn_population_z: float = 2.0
    autumn_darker_z: float = 1.0
    autumn_colour_sigma: float = 0.05
    turning_grvi_shift: float = 0.08
    z_ndvi_loss: float = 3.0
    crown_ndvi_quantile: float = 0.85
    z_ndvi_full: float = 6.0
    min_stand_pixels: int = 200
    coarse_pixel_m: float = 2.0
    max_pixel_m: float = 30.0

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Return the names of the thresholds."""
        return tuple(f.name for f in fields(cls))


# ----------------------------------------------------------------------------- tables

Table = dict[str, NDArray[Any]]
"""A window's crown table as columns of equal length: a window builds no DataFrame; the
driver makes one frame of all windows' tables (:func:`concat_tables`)."""


def table_rows(table: Table) -> int:
    """Return the number of rows of ``table`` (0 when it has no column)."""
    return len(next(iter(table.values()))) if table else 0


def take_rows(table: Table, keep: NDArray[Any]) -> Table:
    """Return the rows of ``table`` that ``keep`` (a mask or positions) selects."""
    return {k: v[keep] for k, v in table.items()}


def concat_tables(tables: Sequence[Table]) -> Table:
    """Return the rows of ``tables`` one after another, as ``pandas.concat`` of frames would.

    Columns in the order they first appear; a table without a column gives it NaN there.

    Examples
    --------
    >>> t = concat_tables([{"x": np.array([1.0])}, {"x": np.array([2.0]), "y": np.array([3.0])}])
    >>> t["x"].tolist(), t["y"].tolist()
    ([1.0, 2.0], [nan, 3.0])
    """
    names = list(dict.fromkeys(k for t in tables for k in t))
    parts = {k: [t[k] if k in t else np.full(table_rows(t), np.nan) for t in tables]
             for k in names}  # fmt: skip
    return {k: np.concatenate(v) for k, v in parts.items()}


# ----------------------------------------------------------------------------- pixels


def pixel_layers(values: NDArray[np.float32], roles: Sequence[str]) -> dict[str, NDArray[Any]]:
    """Return per-pixel ``grvi``, ``rg_ratio``, ``bright``, ``green``, ``red`` (+ NDVI, NIR).

    ``values`` is (bands, rows, cols) reflectance in the order of ``roles`` (G and R needed).
    Brightness is the mean of the visible bands present (B, G, R).

    Examples
    --------
    >>> v = np.array([[[0.2]], [[0.1]], [[0.5]]], dtype=np.float32)
    >>> out = pixel_layers(v, ("G", "R", "NIR"))
    >>> round(float(out["grvi"][0, 0]), 4), round(float(out["ndvi"][0, 0]), 4)
    (0.3333, 0.6667)
    """
    band = {r: values[i] for i, r in enumerate(roles)}
    g, r = band["G"], band["R"]
    visible = [band[k] for k in ("B", "G", "R") if k in band]
    bright = visible[0].copy()
    for extra in visible[1:]:
        bright += extra
    bright /= np.float32(len(visible))
    out = {
        "grvi": normalized_difference(g, r),
        "bright": bright,
        "green": g,
        "red": r,
        "blue": band.get("B", None),
        "rg_ratio": rg_index(r, g),
    }
    if out["blue"] is None:
        out["blue"] = out["bright"]
    if "NIR" in band:
        out["ndvi"] = normalized_difference(band["NIR"], r)
        out["nir"] = band["NIR"]
    return out


def stand_raster(
    shapes: Sequence[tuple[Any, int]],
    window: Window,
    base_transform: Any,
    *,
    dtype: Any = np.int32,
) -> NDArray[Any]:
    """Burn ``(geometry, stand number)`` pairs into the window (pixel centres, 0 = none)."""
    shape = (int(window.height), int(window.width))
    if not shapes:
        return np.zeros(shape, dtype=dtype)
    return rasterize(
        shapes,
        out_shape=shape,
        transform=window_transform(window, base_transform),
        fill=0,
        dtype=np.dtype(dtype).name,
    )


def local_stand_raster(
    shapes: Sequence[tuple[Any, int]], window: Window, base_transform: Any
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """Burn shape ``i`` of ``shapes`` as ``i`` (1..k); return it and the stand number of each.

    ``numbers[i]`` is the stand number of local number ``i`` (``numbers[0] = 0``: none). The
    raster is uint16 up to 65535 shapes: GDAL burns it several times faster than int32 and the
    per-pixel lookups read half the bytes; a later shape overwrites an earlier one, as when
    the stand numbers themselves are burnt.
    """
    dtype = np.uint16 if len(shapes) < 65535 else np.int32
    local = [(geom, i) for i, (geom, _) in enumerate(shapes, start=1)]
    numbers = np.array([0, *(n for _, n in shapes)], dtype=np.int64)
    return stand_raster(local, window, base_transform, dtype=dtype), numbers


def soil_mask(px: Mapping[str, NDArray[Any]], blue_med: Any, rules: CrownRules) -> NDArray[Any]:
    """Bare soil, roads, water (see :class:`CrownRules`): low NDVI and blue-bright or not red.

    With NIR this is :func:`gis.checks.discolored.kernels.soil_pixel` over the arrays.
    """
    if "ndvi" in px:
        limit = rules.soil_blue_ratio * np.asarray(blue_med)
        with np.errstate(invalid="ignore"):  # NaN (invalid) pixels compare False: not soil
            soil = soil_array(
                px["ndvi"], px["blue"], px["red"], px["green"], limit, rules.soil_ndvi,
                rules.soil_rg,
            )  # fmt: skip
        return np.asarray(soil, dtype=bool)
    return np.asarray(px["blue"] > rules.bright_ratio * blue_med)


# ----------------------------------------------------------------------------- windows


def grown(window: Window, halo: int) -> Window:
    """Return ``window`` grown by ``halo`` pixels on every side."""
    return Window(
        window.col_off - halo, window.row_off - halo, window.width + 2 * halo,
        window.height + 2 * halo,
    )  # fmt: skip


def core_slices(halo: int, window: Window) -> tuple[slice, slice]:
    """Return the (rows, cols) slices of ``window``'s core inside its ``halo``-grown array."""
    return slice(halo, halo + int(window.height)), slice(halo, halo + int(window.width))


@contextlib.contextmanager
def opened(source: RasterSource | RasterReader) -> Iterator[RasterReader]:
    """Yield a reader: ``source`` itself when already opened, else open it for this block."""
    if isinstance(source, RasterReader):
        yield source
    else:
        with source.open() as reader:
            yield reader


@dataclass(frozen=True)
class WindowPixels:
    """A window's pixels as read, converted to reflectance where they are used.

    ``raw`` (bands, rows, cols) holds the values the file stores on the halo-grown window
    (padded where it passes the raster's edge); ``extra`` the pixels invalid by the raster's
    masks or outside the raster (a 1 × 1 array: none); ``conversion`` is
    ``(nodata, has nodata, scale, offset)`` of
    :func:`gis.raster.kernels.to_reflectance`, or ``None`` when ``raw`` is reflectance
    already (a mosaic's reader converts each scene itself). The kernels convert rows as
    they go (:func:`gis.checks.discolored.kernels.canopy_layers_raw`); no float copy of the
    whole window is made.
    """

    raw: NDArray[Any]
    extra: NDArray[np.bool_]
    conversion: NDArray[np.float64] | None

    def at(self, rows: NDArray[Any], cols: NDArray[Any]) -> NDArray[np.float32]:
        """Reflectance (bands, n) of the valid pixels at ``rows``, ``cols``."""
        picked = self.raw[:, rows, cols]
        return picked if self.conversion is None else self._convert(picked)

    def bands(self, which: Sequence[int]) -> NDArray[np.float32]:
        """Reflectance of the bands at positions ``which`` (at the valid pixels; NaN not set)."""
        if self.conversion is None:
            return self.raw[list(which)]
        out = np.empty((len(which), *self.raw.shape[1:]), dtype=np.float32)
        for i, k in enumerate(which):
            out[i] = self.raw[k]
        return self._convert(out)

    def _convert(self, raw: NDArray[Any]) -> NDArray[np.float32]:
        """``float32(raw) * scale + offset`` (what ``to_reflectance`` gives at valid pixels)."""
        assert self.conversion is not None
        values = raw.astype(np.float32, copy=False)  # the callers pass an array of their own
        values *= np.float32(self.conversion[2])
        values += np.float32(self.conversion[3])
        return values


def read_pixels(
    reader: RasterReader, window: Window, roles: Sequence[str], *, halo: int = 0
) -> WindowPixels:
    """Read ``roles`` in ``window`` grown by ``halo`` as :class:`WindowPixels`.

    A plain file's reader (its :meth:`~gis.raster.RasterReader.read_array` converts
    :meth:`~gis.raster.RasterReader.read_raw`) gives the raw values; another reader (a
    mosaic) gives its reflectance and invalid mask.
    """
    if type(reader).read_array is not RasterReader.read_array:
        values, invalid = reader.read_array(window, roles, halo=halo)
        return WindowPixels(values, invalid, None)
    raw, masked, pads = reader.read_raw(window, roles, halo=halo)
    src = reader.source
    conversion = np.array([0.0 if src.nodata is None else float(src.nodata),
                           src.nodata is not None, src.scale, src.offset])  # fmt: skip
    if not any(pads):
        extra = masked if masked is not None else np.zeros((1, 1), dtype=np.bool_)
        return WindowPixels(raw, extra, conversion)
    top, bottom, left, right = pads
    h, w = raw.shape[1] + top + bottom, raw.shape[2] + left + right
    inner = (slice(top, h - bottom), slice(left, w - right))
    padded = np.zeros((raw.shape[0], h, w), dtype=raw.dtype)
    padded[:, inner[0], inner[1]] = raw
    extra = np.ones((h, w), dtype=np.bool_)  # outside the raster: invalid
    extra[inner] = masked if masked is not None else False
    return WindowPixels(padded, extra, conversion)


# ----------------------------------------------------------------------------- score


def shape_scores(
    grvi: NDArray[Any],
    ndvi: NDArray[Any] | None,
    green: NDArray[Any],
    nir: NDArray[Any] | None,
    base: Mapping[str, Any],
    rules: CrownRules,
) -> dict[str, NDArray[Any]]:
    """Robust z-scores, spectral shape and the wilt score of pixels, crowns or segments.

    ``base`` holds ``med_grvi, sig_grvi, med_ndvi, sig_ndvi, green, nir`` (scalars or arrays
    broadcasting with the inputs). The score is the GRVI drop ``-z_grvi``. A yellow decoy
    (autumn larch or broadleaf) keeps its NIR (``nir / median >= nir_kept_ratio``) and either
    got greener-brighter (``green / median >= yellow_green_ratio``: yellow = green + red up)
    or kept a healthy NDVI (``z_ndvi >= ndvi_kept_z``); a red-brown dying pine loses NIR.
    Without NIR only the green rule applies.

    Autumn (``rules.autumn``): colour is expected, so NIR kept alone
    (``nir / median >= autumn_nir_kept_ratio``) makes a decoy. In a stand
    turning colour as a whole (``base["turning"]``, autumn larch) the stand's median moved
    with it: a crown counts only when its NIR fell below ``turning_nir_ratio`` × the median;
    without NIR every crown of such a stand is a decoy (colour alone cannot tell them apart).
    """
    z_grvi = (grvi - base["med_grvi"]) / base["sig_grvi"]
    green_ratio = green / base["green"]
    turning = np.asarray(base.get("turning", False), dtype=bool)
    out = {"z_grvi": z_grvi, "green_ratio": green_ratio, "score": -z_grvi}
    if ndvi is None or nir is None:
        out["decoy"] = np.asarray((green_ratio >= rules.yellow_green_ratio) | turning)
        return out
    z_ndvi = (ndvi - base["med_ndvi"]) / base["sig_ndvi"]
    nir_ratio = nir / base["nir"]
    kept_ratio = rules.autumn_nir_kept_ratio if rules.autumn else rules.nir_kept_ratio
    kept = nir_ratio >= np.where(turning, rules.turning_nir_ratio, kept_ratio)
    yellow = (green_ratio >= rules.yellow_green_ratio) | (z_ndvi >= rules.ndvi_kept_z)
    yellow |= turning | rules.autumn
    out |= {"z_ndvi": z_ndvi, "nir_ratio": nir_ratio, "decoy": np.asarray(kept & yellow)}
    return out
