"""First pass of the discolored-tree detection: robust stand baselines from histograms.

:func:`window_histograms` takes one window: per host stand, histograms of the (crown-scale
smoothed) GRVI and of NDVI over the stand's vegetation pixels, and of log2 brightness, G, NIR
and B over a sample of them — exact integer counts, so merging windows (in any grouping, on
any worker) is a sum. :func:`baselines_from_histograms` turns them into :class:`Baselines`:
median and lower-half sigma ``(median − q25) / 0.6745`` per stand (only the lower tail is
tested, and the upper half of a stand mixes crowns with understory), medians of the
brightness-like quantities; thin stands fall back to the pooled baseline. Memory is bounded by
stands × quantities × bins, not by the raster.

:func:`wilt_score` scores segment (or pixel) tables with the same indices, baseline
statistics, canopy gate and decoy rule as the raster detector.

Examples
--------
>>> hist = np.zeros(HIST_BINS); hist[[10, 11, 12, 13]] = 1
>>> round(hist_quantile(hist, 0.5, -1.0, 1.0), 4)
-0.9531
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from rasterio.windows import Window

from gis.checks.discolored.kernels import (
    band_positions,
    strip_histograms,
    strip_histograms_raw,
)
from gis.checks.discolored.pixels import (
    BASE_NAMES,
    CrownRules,
    local_stand_raster,
    opened,
    pixel_layers,
    read_pixels,
    shape_scores,
    soil_mask,
)
from gis.raster import RasterReader, RasterSource

STEP = 2
"""Pass 1 histograms smoothed GRVI and NDVI on every 2nd raster row and column (1/4 of the
pixels: the quantiles of a stand's hundreds of thousands of pixels do not move)."""
SAMPLE = 4
"""Pass 1 takes the medians of brightness, G, NIR and B from every 4th pixel of rows/cols."""
HIST_BINS = 512
"""Bins of the index histograms over [-1, 1] (step 0.0039; quantiles interpolate inside)."""
LOG_RANGE = (-16.0, 20.0)
"""log2 range of the brightness histograms (reflectance 1.5e-5 … DN 1e6)."""
QUANTITIES = ("grvi", "ndvi", "bright", "green", "nir", "blue")
"""Per-stand histograms: two indices (GRVI smoothed), then log2 of brightness, G, NIR and B."""
_RANGES = {"grvi": (-1.0, 1.0), "ndvi": (-1.0, 1.0)}
Q25_TO_SIGMA = 0.6745
"""(median - 25th percentile) of a normal distribution, in sigmas."""


@dataclass(frozen=True)
class Baselines:
    """Per-stand robust baselines, as arrays indexed by stand number (0 = no stand).

    ``med_*``/``sig_*`` are index medians and lower-half sigmas; ``bright``, ``green``,
    ``nir`` and ``blue`` are medians in the raster's units; ``pixels`` counts vegetation
    pixels (estimated from the sample for large stands, see
    :func:`gis.checks.discolored.strip_histograms`); ``pooled`` marks stands that fell back
    to the pooled baseline of all stands; ``turning`` those that turn colour as a whole.
    """

    med_grvi: NDArray[np.float64]
    sig_grvi: NDArray[np.float64]
    med_ndvi: NDArray[np.float64]
    sig_ndvi: NDArray[np.float64]
    bright: NDArray[np.float64]
    green: NDArray[np.float64]
    nir: NDArray[np.float64]
    blue: NDArray[np.float64]
    pixels: NDArray[np.int64]
    pooled: NDArray[np.bool_]
    turning: NDArray[np.bool_] | None = None
    """Stands whose canopy turns colour as a whole (autumn larch; see
    :mod:`gis.checks.discolored.season`): set after pass 1, ``None`` = none."""
    crown_ndvi: NDArray[np.float64] | None = None
    """NDVI at or above which a stand's pixels are its crowns (set after pass 1 with NIR, see
    :mod:`gis.checks.discolored.neighbours`), ``None`` = not set."""


def _log2(a: NDArray[Any]) -> NDArray[Any]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log2(np.where(a > 0, a, np.nan))


def _bins(q: str, a: NDArray[Any]) -> NDArray[np.int64]:
    lo, hi = _RANGES.get(q, LOG_RANGE)
    x = a if q in _RANGES else _log2(a)
    idx = np.floor((x - lo) / (hi - lo) * HIST_BINS)
    return np.clip(np.nan_to_num(idx, nan=0), 0, HIST_BINS - 1).astype(np.int64)


def window_histograms(
    source: RasterSource | RasterReader,
    window: Window,
    shapes: Sequence[tuple[Any, int]],
    *,
    roles: Sequence[str],
    rules: CrownRules,
    gate: NDArray[np.float32] | None = None,
) -> dict[int, NDArray[np.int64]]:
    """First pass on one window: stand number → histograms (len(QUANTITIES), HIST_BINS).

    Counts pixels that are valid, inside a host stand and vegetation (NDVI >= ``soil_ndvi``
    with NIR) — shadows and discolored crowns are left to the robust statistics. ``gate``
    (:func:`canopy_gate`, images without NIR) keeps only pass 2's canopy pixels. GRVI is
    smoothed inside the window (no halo: a halo would decode the neighbouring tiles too);
    it and NDVI are histogrammed on the pixels of every :data:`STEP`-th raster row and
    column, each counted ``STEP²`` times (the quantiles do not move); brightness,
    G, NIR and B on every :data:`SAMPLE`-th. ``source`` may be an opened
    :class:`~gis.raster.RasterReader`. Merge windows by summing.
    """
    ids = np.unique(np.fromiter((s for _, s in shapes), dtype=np.int64, count=len(shapes)))
    if not ids.size:
        return {}
    with opened(source) as reader:
        pixels = read_pixels(reader, window, roles)
        transform = reader.source.transform
    stands, slot = _local_stands(shapes, ids, window, transform)
    if gate is not None:  # the second sweep without NIR: pass 2's canopy only
        off = off_canopy(pixels.bands(range(len(roles))), roles, stands, gate[:, ids[slot]])
        pixels = replace(pixels, extra=pixels.extra | off)
    out = np.zeros((ids.size, len(QUANTITIES), HIST_BINS), dtype=np.int64)
    grid = np.array([[*_start(window, STEP), STEP], [*_start(window, SAMPLE), SAMPLE]])
    bands, log_range = band_positions(roles), np.array(LOG_RANGE)
    if pixels.conversion is None:  # reflectance already (a mosaic)
        seen = strip_histograms(pixels.raw, bands, stands, pixels.extra, rules.soil_ndvi, slot,
                                rules.smooth_px, grid, log_range, out)  # fmt: skip
    else:
        seen = strip_histograms_raw(pixels.raw, bands, stands, pixels.extra, pixels.conversion,
                                    rules.soil_ndvi, slot, rules.smooth_px, grid, log_range,
                                    out)  # fmt: skip
    if not seen:
        return {}
    seen = out[:, 0, :].sum(axis=1) > 0
    return {int(s): out[i] for i, s in enumerate(ids) if seen[i]}


def canopy_gate(base: Baselines, rules: CrownRules) -> NDArray[np.float32]:
    """(2, stands + 1) float32: pass 2's shadow and blue limits per stand, without NIR.

    The limits of :func:`gis.checks.discolored.crowns.detect_window` (brightness below
    ``shadow_ratio`` × the stand's median is shadow; blue above ``bright_ratio`` × its median
    is bare ground or road), computed by the same float32 expressions, so that a second
    pass-1 sweep with them (:func:`off_canopy`) counts exactly the pixels pass 2 tests.
    """
    shadow = (rules.shadow_ratio * base.bright).astype(np.float32)
    blue = (rules.bright_ratio * base.blue.astype(np.float32)).astype(np.float32)
    return np.stack([shadow, blue])


def off_canopy(
    values: NDArray[Any], roles: Sequence[str], stands: NDArray[Any], gate: NDArray[Any]
) -> NDArray[np.bool_]:
    """Pixels that pass 2 does not call canopy (image without NIR): shadow or blue-bright.

    ``gate`` holds the (shadow, blue) limits of each local stand number of ``stands``; the
    brightness is that of :func:`gis.checks.discolored.kernels.canopy_layers` (mean of the
    visible bands in float32, B + G + R in that order), blue falls back to it.

    Examples
    --------
    >>> v = np.array([[[0.02, 0.20]], [[0.05, 0.20]], [[0.03, 0.22]]], dtype=np.float32)
    >>> gate = np.array([[0.0, 0.01], [0.0, 0.05]], dtype=np.float32)
    >>> off_canopy(v, ("B", "G", "R"), np.array([[1, 1]]), gate).tolist()
    [[False, True]]
    """
    band = {r: values[i] for i, r in enumerate(roles)}
    visible = [band[k] for k in ("B", "G", "R") if k in band]
    bright = visible[0].copy()
    for extra in visible[1:]:
        bright += extra
    bright /= np.asarray(len(visible), dtype=bright.dtype)
    blue = band.get("B", bright)
    return np.asarray(~(bright >= gate[0][stands]) | (blue > gate[1][stands]))


def _local_stands(
    shapes: Sequence[tuple[Any, int]], ids: NDArray[np.int64], window: Window, transform: Any
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """Return the window's :func:`local_stand_raster` and each local number's histogram row.

    Shape ``i`` maps to the row of its stand number in ``ids`` (sorted), so the histograms
    are those of the stand numbers burnt themselves.
    """
    stands, numbers = local_stand_raster(shapes, window, transform)
    slot = np.zeros(len(numbers), dtype=np.int64)
    slot[1:] = np.searchsorted(ids, numbers[1:])
    return stands, slot


def _start(window: Window, step: int) -> NDArray[np.int64]:
    """First (row, col) of a window's array on raster rows and columns divisible by ``step``."""
    return np.array([-int(window.row_off) % step, -int(window.col_off) % step], dtype=np.int64)


def merge_histograms(
    into: dict[int, NDArray[np.int64]], part: Mapping[int, NDArray[np.int64]]
) -> dict[int, NDArray[np.int64]]:
    """Add the histograms of ``part`` into ``into`` (exact integer sums) and return it."""
    for sid, hist in part.items():
        if sid in into:
            into[sid] += hist
        else:
            into[sid] = hist.copy()
    return into


def hist_quantile(hist: NDArray[Any], q: float, lo: float, hi: float) -> float:
    """Return the ``q`` quantile of a histogram over [lo, hi], interpolating inside the bin."""
    total = float(hist.sum())
    if total <= 0:
        return float("nan")
    cum = np.cumsum(hist)
    target = q * total
    i = int(np.searchsorted(cum, target, side="left"))
    before = float(cum[i - 1]) if i > 0 else 0.0
    frac = (target - before) / float(hist[i]) if hist[i] else 0.5
    return lo + (i + frac) * (hi - lo) / len(hist)


def _stand_stats(hist: NDArray[np.int64], rules: CrownRules) -> tuple[float, ...]:
    """median/sigma of GRVI and NDVI, medians of brightness, G, NIR and B, pixel count.

    Sigma is the lower-half spread ``(median - q25) / 0.6745``: only the lower tail is tested,
    and the upper half of a stand mixes crowns with understory (a bimodal spread).
    """
    out: list[float] = []
    for k, q in enumerate(QUANTITIES):
        lo, hi = _RANGES.get(q, LOG_RANGE)
        med = hist_quantile(hist[k], 0.5, lo, hi)
        if q in _RANGES:
            low = med - hist_quantile(hist[k], 0.25, lo, hi)
            out += [med, max(low / Q25_TO_SIGMA, rules.min_sigma)]
        else:
            out.append(2.0**med)
    return (*out, float(hist[0].sum()))


def baselines_from_histograms(
    hists: Mapping[int, NDArray[np.int64]], n_stands: int, *, rules: CrownRules
) -> Baselines:
    """Return the :class:`Baselines` of stands 1..n_stands; thin stands use the pooled one."""
    n = len(BASE_NAMES)
    table = np.full((n_stands + 1, n + 1), np.nan)
    table[:, n] = 0
    total = sum(hists.values()) if hists else None
    pooled = _stand_stats(np.asarray(total), rules) if total is not None else (np.nan,) * (n + 1)
    is_pooled = np.ones(n_stands + 1, dtype=bool)
    for sid, hist in hists.items():
        stats = _stand_stats(hist, rules)
        own = stats[-1] >= rules.min_stand_pixels
        table[sid] = stats if own else (*pooled[:-1], stats[-1])
        is_pooled[sid] = not own
    missing = np.isnan(table[:, 0])
    table[missing, :n] = pooled[:n]
    cols = {name: table[:, i] for i, name in enumerate(BASE_NAMES)}
    return Baselines(**cols, pixels=table[:, n].astype(np.int64), pooled=is_pooled)


def wilt_score(
    green: Any,
    red: Any,
    nir: Any = None,
    *,
    baseline: Mapping[str, float] | None = None,
    rules: CrownRules | None = None,
) -> pd.DataFrame:
    """Score segments (or pixels) with the detector's indices and rules: higher = more wilted.

    The same function family as the raster detector: GRVI and NDVI, a robust baseline of the
    population (median, lower-half sigma from the same histograms; by default of the inputs
    themselves, as a stand's canopy pixels are the baseline of that stand), the canopy gate
    (shadow: brightness below ``shadow_ratio`` × median; soil/road: NDVI below ``soil_ndvi``)
    and the yellow-decoy rule. Gated or decoy rows score ``-inf``.

    Returns
    -------
    pandas.DataFrame
        ``grvi, ndvi, z_grvi, z_ndvi, canopy, decoy, score``.

    Examples
    --------
    >>> g = np.r_[np.full(50, 200.0), 180.0]; r = np.r_[np.full(50, 100.0), 150.0]
    >>> n = np.r_[np.full(50, 500.0), 300.0]
    >>> s = wilt_score(g + np.arange(51) % 5, r, n)["score"]
    >>> bool(s.iloc[-1] > 3 > s.iloc[:50].max())
    True
    """
    rules = rules or CrownRules()
    g, r = np.asarray(green, dtype=float), np.asarray(red, dtype=float)
    nir_a = None if nir is None else np.asarray(nir, dtype=float)
    bands = [g, r] + ([] if nir_a is None else [nir_a])
    px = pixel_layers(np.stack(bands), ("G", "R", "NIR")[: len(bands)])
    base = dict(baseline) if baseline is not None else segment_baseline(px, rules)
    sc = shape_scores(px["grvi"], px.get("ndvi"), g, nir_a, base, rules)
    canopy = ~soil_mask(px, base["blue"], rules) & (
        px["bright"] >= rules.shadow_ratio * base["bright"]
    )
    score = np.where(canopy & ~sc["decoy"], sc["score"], -np.inf)
    nan = np.full(g.shape, np.nan)
    return pd.DataFrame(
        {
            "grvi": px["grvi"],
            "ndvi": px.get("ndvi", nan),
            "z_grvi": sc["z_grvi"],
            "z_ndvi": sc.get("z_ndvi", nan),
            "canopy": canopy,
            "decoy": sc["decoy"],
            "score": score,
        }
    )


def segment_baseline(px: Mapping[str, NDArray[Any]], rules: CrownRules) -> dict[str, float]:
    """Return the one-population baseline of :func:`wilt_score` (same histograms as stands)."""
    keep = px["ndvi"] >= rules.soil_ndvi if "ndvi" in px else np.ones(px["grvi"].shape, bool)
    hist = np.zeros((len(QUANTITIES), HIST_BINS), dtype=np.int64)
    for k, q in enumerate(QUANTITIES):
        if q in px:
            hist[k] = np.bincount(_bins(q, px[q][keep]), minlength=HIST_BINS)
    stats = _stand_stats(hist, rules)
    return dict(zip(BASE_NAMES, stats[: len(BASE_NAMES)], strict=True))
