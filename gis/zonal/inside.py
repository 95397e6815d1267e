"""Changed pixels inside each patch: how much of it changed beyond its surroundings, and where.

The means of :func:`gis.zonal.change_stats` say how a patch changed on average; a clearing of
a third of a patch hardly moves the mean. This pass classifies every pixel of a patch instead,
against the patch's own surroundings, in a window around each patch (patch bounds grown by the
ring and one pixel; no whole-raster array):

1. per pixel, the misregistration-tolerant change of NDVI and (with SWIR2 on both dates) NBR:
   ``loss = after − min(before over the (2t+1)² neighbourhood)``, ``gain = after − max(...)``,
   so an edge shifted by up to ``t`` pixels matches its own value and does not count;
2. the surroundings' change is the median of the same per-pixel change over the ring (pixels
   within ``ring_m`` of the patch and in no patch); a whole-scene phenology, illumination or
   haze shift moves both and cancels;
3. a pixel *lost* vegetation when its NDVI loss beyond the ring's is at least ``drop``, its
   NBR loss at least ``nbr_drop`` or its SWIR2 rise (log ratio) at least :data:`SWIR_RISE`, or
   when these three, each scaled by its threshold, add up to :data:`COMBINED_LOSS` (NBR falls
   and SWIR rises where a forest becomes a green crop or lawn while NDVI stays high); it
   *gained* when its NDVI gain beyond the ring's is at least ``drop``. On uncalibrated imagery
   each threshold is also at least three robust standard deviations of the ring's own change;
4. the largest 8-connected cluster of lost (gained) pixels;
5. burned pixels with the one definition of :func:`gis.severity.burned_mask` (Key & Benson
   dNBR, reflectance only), inside and in the ring.

Radiometry. ``reflectance`` uses the pixels as read; ``dn`` (8-bit stretched or raw DN
deliveries) first normalises each band of each date against its own scene (its 2nd and 98th
percentiles, from a decimated read of the whole raster or a sample of its blocks:
:mod:`gis.zonal.sample`), so that only relative evidence is used; Key & Benson thresholds do
not apply there and burned pixels are not counted.

Examples
--------
>>> sorted(INSIDE_DEFINITIONS)[:3]
['burned_share', 'dndvi_px', 'gain_share']
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.windows import Window
from scipy import ndimage

from gis.compiled import jit
from gis.errors import RasterError
from gis.indices import nbr, ndvi
from gis.raster import RasterReader, RasterSource
from gis.sensors import RADIOMETRIES
from gis.severity import burn_dnbr, burned_mask
from gis.zonal.burn import centre_pixels
from gis.zonal.sample import (
    BlockSample,
    blocks_to_sample,
    in_parts,
    paired_rows,
    read_block_sample,
    sample_values,
)

INSIDE_DEFINITIONS: dict[str, str] = {
    "seen_px": "pixels of the patch valid on both dates and not within MASK_BUFFER_PX (2) "
    "pixels of an invalid one",
    "loss_share": "share of the seen pixels that lost vegetation beyond the surroundings: NDVI "
    "loss (after − min before within tolerance_px) minus the ring's median loss <= -drop, or "
    "the same for NBR <= -nbr_drop",
    "gain_share": "share of the seen pixels whose NDVI gain beyond the ring's median is >= drop",
    "largest_loss_px": "pixels of the largest 8-connected cluster of lost pixels in the patch",
    "largest_gain_px": "pixels of the largest 8-connected cluster of gained pixels",
    "ring_loss_share": "share of the ring's seen pixels lost by the same test (how unusual the "
    "patch is against its surroundings)",
    "burned_share": "share of the seen pixels burned: Key & Benson dNBR = NBR before − NBR "
    "after >= 0.1 (gis.severity.burned_mask); NULL without SWIR2 or on uncalibrated imagery",
    "ring_burned_share": "the same share over the ring's seen pixels",
    "lost_ndvi_after": "mean after-date NDVI of the patch's lost pixels (a standing canopy that "
    "yellowed keeps it high; a clearing does not); NULL on uncalibrated imagery",
    "lost_ndvi_vs_ring": "median after-date NDVI of the lost pixels minus the ring's "
    "(uncalibrated: in units of the scene's range): a yellowing canopy stays near its "
    "surroundings, a clearing falls far below",
    "swir_used": "1 when SWIR2 was on both dates (NBR and SWIR2 evidence used), else 0",
    "dndvi_px": "median over the patch's seen pixels of the per-pixel NDVI change (after − "
    "before; on uncalibrated imagery of the scene-normalised bands)",
    "ring_dndvi_px": "the same median over the ring's seen pixels (on uncalibrated imagery "
    "both less the scene's median change of the normalised NDVI)",
    "obscured_before": "share of the patch's pixels valid on both dates that lie under unmasked "
    "snow (NDSI of green and SWIR2 >= 0.4, NIR >= 0.11, green >= 0.1; on uncalibrated imagery "
    "green in the top of its scene) or cloud shadow (every band darker than on the other date "
    "beyond the scene's own change, NIR most: SHADOW_REL_NIR) on the before date; they are not "
    "seen",
    "obscured_after": "the same on the after date",
}
"""Definition of every column :func:`inside_stats` returns (written to the run table)."""

INSIDE_COLUMNS = (
    "seen_px",
    "loss_share",
    "gain_share",
    "largest_loss_px",
    "largest_gain_px",
    "ring_loss_share",
    "burned_share",
    "ring_burned_share",
    "lost_ndvi_after",
    "lost_ndvi_vs_ring",
    "swir_used",
    "dndvi_px",
    "ring_dndvi_px",
    "obscured_before",
    "obscured_after",
)

SWIR_RISE = 0.35
"""log(SWIR2 after / before) beyond the ring's that counts alone as a loss: +42 %. Canopy
shadow keeps a forest's SWIR2 low (0.04-0.09); open ground, crops and lawn reflect 0.12-0.25."""

MASK_BUFFER_PX = 2
"""Pixels within this many pixels of an invalid one (cloud, shadow, nodata) are not seen: masks
miss the thin fringe of a cloud (Fmask and s2cloudless deliveries are commonly dilated by 2-3
pixels for the same reason)."""

RED_RISE = 0.5
"""Without SWIR (R,G,B,NIR deliveries): log(red after / before) beyond the ring's that counts
alone as a loss: +65 %. A closed canopy absorbs red (0.02-0.04); crops, lawn and soil reflect
0.045-0.15."""

COMBINED_LOSS = 1.5
"""Sum of the loss signals, each scaled by its own threshold, that marks a lost pixel."""

SNOW_NDSI, SNOW_NIR, SNOW_GREEN = 0.4, 0.11, 0.1
"""Snow: NDSI = (green − SWIR) / (green + SWIR) at least 0.4 with NIR above 0.11 (not water) and
green above 0.1 (SNOMAP, Hall et al. 1995, as Fmask uses it; with SWIR2 for SWIR1, where snow is
darker still and soil and vegetation keep NDSI below 0); red above 0.1 as well (snow is white,
vegetation absorbs red)."""

SNOW_GREEN_DN = 0.8
"""Uncalibrated imagery: snow's green and red lie at the top of their scene's range (0-1 from the
2nd to the 98th percentile); bright built land has a high SWIR2 and fails the NDSI test."""

SHADOW_NIR, SHADOW_RED = -0.7, -0.2
"""Cloud shadow on one date: log(NIR / NIR on the other date) at most −0.7 (halved; direct sun
gone, diffuse sky light only) and red down too (log at most −0.2). Clearing, fire, flooding,
dieback, leaf fall, harvest and snow all raise or keep red; a darker sun or terrain alone keeps
NIR within ±40 %. Reflectance only; :data:`SHADOW_REL_NIR` is the test against the scene."""

SHADOW_REL_NIR, SHADOW_REL_VISIBLE, SHADOW_KEEPS_NIR, SHADOW_KEEPS_RATIO = 0.5, 0.2, 1.8, 0.7
"""Cloud shadow judged against what the whole scene did between the dates (each band's median
log(after / before) over the scene sample, :attr:`Normaliser.shift`): a shadowed pixel lost
the direct beam in every band at once — NIR (and SWIR2, where both dates have it) at least
40 % (log −0.5) and each visible band (blue, green, red) at least 18 % (log −0.2) beyond the
scene's own change, while keeping the diffuse sky light: NIR not below a sixth (log −1.8;
water does fall below it). Haze, gain, sun elevation and the season move the whole scene and
cancel; clearing, fire, leaf fall, dieback, harvest and flooding of vegetation raise red or
blue. The log ratios of positions in each date's scene range (uncalibrated imagery) keep the
test for a shadow on the after date: a shadow sits at the bottom of its scene in every band on
that date only (the bounds below are of reflectance, not applied there). And the band
ratios nearly stay, in the order of the sky light: NIR falls at least as much as red (less
0.1) and log(NIR / red) moves by at most 0.7 against the scene (shadow: 0.2-0.4; a clearing
turned bright bare ground — the mirror case, brighter in every band — raises red far more
than NIR)."""

_RING_MIN_PX = 8
"""Fewer seen ring pixels than this: no local reference (the ring's change counts as 0)."""


@dataclass(frozen=True)
class Normaliser:
    """Per-band (low, high) of each date's scene for uncalibrated imagery; empty = as read."""

    before: dict[str, tuple[float, float]]
    after: dict[str, tuple[float, float]]
    scene_dndvi: float = 0.0
    index_scale: float = 1.0
    scene_change: float = float("nan")
    shift: tuple[tuple[str, float], ...] = ()
    """Per band the scene's median log(after / before) of the values as the windows see them
    (the shadow test's reference; empty: none)."""


@dataclass(frozen=True)
class InsideOptions:
    """The options of the inside statistics besides the pixels (picklable)."""

    roles: tuple[str, ...]
    norm: Normaliser
    ring_m: float = 30.0
    drop: float = 0.15
    nbr_drop: float = 0.2
    tol: int = 1
    radiometry: str = "reflectance"

    @classmethod
    def of(
        cls,
        before: RasterSource,
        after: RasterSource,
        *,
        ring_m: float = 30.0,
        drop: float = 0.15,
        nbr_drop: float = 0.2,
        tolerance_px: int = 1,
        radiometry: str = "reflectance",
    ) -> InsideOptions:
        """Return the options for a pair: the roles to read, the scene normaliser (``dn``)."""
        with_nbr = before.has("NIR", "SWIR2") and after.has("NIR", "SWIR2")
        roles: tuple[str, ...] = ("NIR", "R", "SWIR2") if with_nbr else ("NIR", "R")
        if not (before.has("NIR", "R") and after.has("NIR", "R")):
            roles = ("NDVI",)  # a precomputed NDVI band: NDVI evidence only
        if with_nbr and before.has("G") and after.has("G"):
            roles = (*roles, "G")  # snow: green against SWIR2
        if "R" in roles:  # shadow: every visible band darker (R,G,B,NIR deliveries too)
            roles = (*roles, *(r for r in ("G", "B") if r not in roles and _both(r, before, after)))
        if radiometry == "dn":  # the scene's change (taken off the relative evidence)
            norm = scene_normaliser(before, after, roles)
            norm = replace(norm, scene_change=norm.scene_dndvi)
        else:
            change, shift = scene_change_and_shift(before, after, roles)
            norm = Normaliser({}, {}, scene_change=change, shift=shift)
        return cls(roles, norm, ring_m, drop, nbr_drop, tolerance_px, radiometry)


def _both(role: str, before: RasterSource, after: RasterSource) -> bool:
    return bool(before.has(role) and after.has(role))


def sampled_source(src: RasterSource) -> RasterSource:
    """Return the plain file a source's values are sampled from for scene statistics.

    A warped source samples its base file, a mosaic its first scene (the decimated scene
    statistics of uncalibrated imagery come from that one file).
    """
    while True:
        parts = getattr(src, "parts", ())
        warp = getattr(src, "warp", None)
        if parts:
            src = parts[0]
        elif warp is not None:
            src = warp.base
        else:
            return src


def resolve_radiometry(src: RasterSource, requested: str = "auto") -> tuple[str, str]:
    """Return (``reflectance`` or ``dn``, why) for ``src``.

    An NDVI band is NDVI (``reflectance``), whatever is requested, once its values are checked
    to lie within -1..1 (else :class:`RasterError`, naming the scale to set). Otherwise
    ``requested`` other than ``auto`` wins; then the source's own ``radiometry`` attribute (a
    hook for product readers that know it from metadata); then the data: 8-bit bands are
    stretched deliveries, and a generic raster (scale 1) whose NIR reaches beyond 1.5 holds DN,
    not reflectance.
    """
    if src.has("NDVI") and not src.has("NIR"):
        base = sampled_source(src)
        with base.open() as reader:
            shape = (RADIOMETRY_SAMPLE_PX,) * 2
            _require_ndvi_range(base, decimated(base, reader.dataset, "NDVI", shape))
        return "reflectance", "an NDVI band"
    if requested in RADIOMETRIES:
        return requested, "given"
    own = getattr(src, "radiometry", "auto")
    if own in RADIOMETRIES:
        return own, "from the raster source"
    src = sampled_source(src)
    with src.open() as reader:
        ds = reader.dataset
        if ds.dtypes[0] == "uint8":
            return "dn", "8-bit bands"
        if src.scale == 1.0 and src.offset == 0.0 and src.has("NIR"):
            sample = _samples(src, ds)
            if isinstance(sample, BlockSample):
                band = sample_values(sample, "NIR")
            else:
                band = decimated(src, ds, "NIR", (RADIOMETRY_SAMPLE_PX,) * 2)
            values = band[np.isfinite(band)].astype("f8")
            if src.nodata is not None:
                values = values[values != src.nodata]
            if values.size and float(np.percentile(values, 98)) > 1.5:
                return "dn", "values beyond reflectance (NIR above 1.5)"
    return "reflectance", "calibrated values"


def _require_ndvi_range(src: RasterSource, raw: NDArray[Any]) -> None:
    """Refuse an NDVI band whose values, as scaled, are not NDVI (-1 to 1).

    NDVI is often delivered as integers (x 10000 in int16, or stretched to 0-255) without the
    scale that makes it NDVI again; read as it is, every patch would change by thousands.
    """
    values = raw[np.isfinite(raw)].astype("f8")
    if src.nodata is not None:
        values = values[values != src.nodata]
    values = values * src.scale + src.offset
    if not values.size or float(np.percentile(np.abs(values), 98)) <= NDVI_LIMIT:
        return
    top = float(values.max())
    raise RasterError(
        f"raster {src.path}: its NDVI band reaches {top:g}, but NDVI lies between -1 and 1; "
        "an NDVI stored as integers needs its scale in the file, e.g. gdal_edit.py -scale "
        "0.0001 for NDVI x 10000 (or convert it to Float32 NDVI)",
        zh=f"影像 {src.path}：NDVI 波段的值达到 {top:g}，而 NDVI 应在 -1 到 1 之间；以整数存储的"
        "NDVI 需要在文件中写明比例系数，如 NDVI×10000 用 `gdal_edit.py -scale 0.0001`"
        "（或转为 Float32 的 NDVI）",
    )


NDVI_LIMIT = 1.05
"""Largest NDVI magnitude (98th percentile) read as NDVI: above it the band is scaled integers."""

RADIOMETRY_SAMPLE_PX = 64
"""Side of the decimated NIR read that tells DN from reflectance."""

SCENE_SAMPLE_PX = 512
"""Longest side of the decimated read of the scene statistics of uncalibrated imagery."""

_SAMPLED_ROLES = ("NIR", "R", "SWIR2", "NDVI", "G", "B")
_Samples = dict[tuple[str, tuple[int, int]], NDArray[Any]] | BlockSample
"""A file's samples: the decimated reads by (role, shape), or a sample of its blocks."""
_SAMPLES: dict[tuple[Any, ...], Future[_Samples]] = {}
_SAMPLES_LOCK = threading.Lock()


def _scene_shape(base: RasterSource, size: int = SCENE_SAMPLE_PX) -> tuple[int, int]:
    scale = max(base.width, base.height) / size
    return (max(1, int(base.height / max(scale, 1))), max(1, int(base.width / max(scale, 1))))


def decimated(src: RasterSource, dataset: Any, role: str, shape: tuple[int, int]) -> NDArray[Any]:
    """Return band ``role`` of a plain file read at ``shape`` by nearest neighbour, as GDAL does.

    A decimated read decodes every block of a file without overviews. The radiometry test and
    the scene statistics of a GeoTIFF without overviews are therefore taken in one pass over
    its blocks (memoised per file): every band and sample shape they use, the pixels GDAL's
    nearest neighbour picks (row ``floor((i + 0.5) * height / rows)``, and so for columns).
    Other files are read by GDAL.
    """
    samples = _samples(src, dataset)
    if isinstance(samples, dict) and (role, shape) in samples:
        return samples[(role, shape)]
    return dataset.read(src.band_index(role), out_shape=shape, resampling=Resampling.nearest)


def _samples(src: RasterSource, dataset: Any) -> _Samples | None:
    key = _sample_key(src, dataset)
    if key is None:
        return None
    future, mine = _claim(key)
    if mine:
        _fill(future, key, lambda: _sample_pass(src))
    return future.result()  # another thread's pass of the same file: wait for it


def _claim(key: tuple[Any, ...]) -> tuple[Future[_Samples], bool]:
    """Return the memo entry of ``key`` and whether this thread is to fill it."""
    with _SAMPLES_LOCK:
        if key in _SAMPLES:
            return _SAMPLES[key], False
        done = [k for k, f in _SAMPLES.items() if f.done()]
        for k in done[: max(0, len(_SAMPLES) - 3)]:  # keep a few files' samples
            del _SAMPLES[k]
        future: Future[_Samples] = Future()
        _SAMPLES[key] = future
        return future, True


def _fill(future: Future[_Samples], key: tuple[Any, ...], work: Any) -> None:
    try:
        future.set_result(work())
    except BaseException as exc:  # the waiting threads get it too; nothing is memoised
        with _SAMPLES_LOCK:
            _SAMPLES.pop(key, None)
        future.set_exception(exc)
        raise


def _sample_key(src: RasterSource, dataset: Any) -> tuple[Any, ...] | None:
    """Memo key of a plain GeoTIFF without overviews (else None: GDAL reads it)."""
    if dataset.driver != "GTiff" or any(dataset.overviews(i) for i in dataset.indexes):
        return None
    try:
        st = os.stat(src.path)
    except OSError:
        return None
    return (src.path, st.st_mtime_ns, st.st_size, src.roles)


def prefetch_samples(*sources: RasterSource, threads: int | None = None) -> None:
    """Take the radiometry samples of the sources' files at once, on ``threads`` threads.

    Only files whose radiometry test reads them (8-bit, or unscaled with NIR) are read.
    """
    files: list[tuple[tuple[Any, ...], RasterSource, Future[_Samples]]] = []
    for src in sources:
        base = sampled_source(src)
        if getattr(src, "radiometry", "auto") in RADIOMETRIES:
            continue
        with base.open() as reader:
            ds = reader.dataset
            wanted = ds.dtypes[0] == "uint8" or (base.scale, base.offset) == (1.0, 0.0)
            key = _sample_key(base, ds) if wanted and base.has("NIR") else None
        if key is not None and all(k != key for k, _, _ in files):
            future, mine = _claim(key)
            if mine:
                files.append((key, base, future))
    if not files:
        return
    n = threads or min(2, os.cpu_count() or 1)
    parts = max(1, n // len(files))

    def run(item: tuple[tuple[Any, ...], RasterSource, Future[_Samples]]) -> None:
        key, base, future = item
        _fill(future, key, lambda: _sample_pass(base, parts=parts))

    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(run, files))


def _sample_pass(src: RasterSource, parts: int = 1) -> _Samples:
    """Read the sample pixels of every role and shape in one pass over block rows.

    A large file gives a sample of its blocks instead (:mod:`gis.zonal.sample`). ``parts``
    threads each read a run of block rows (or of blocks) with their own handle of the file.
    """
    with src.open() as reader:
        ds = reader.dataset
        h, w, dtype, step = ds.height, ds.width, ds.dtypes[0], max(ds.block_shapes[0][0], 1)
        n_blocks = blocks_to_sample(h, w, ds.block_shapes[0])
    roles = [r for r in _SAMPLED_ROLES if src.has(r)]
    if n_blocks and roles:
        return read_block_sample(src, roles, n_blocks, parts=parts)
    shapes = {(RADIOMETRY_SAMPLE_PX,) * 2, _scene_shape(src)}
    rows = {s: np.minimum(np.floor((np.arange(s[0]) + 0.5) * (h / s[0])).astype(int), h - 1)
            for s in shapes}  # fmt: skip
    cols = {s: np.minimum(np.floor((np.arange(s[1]) + 0.5) * (w / s[1])).astype(int), w - 1)
            for s in shapes}  # fmt: skip
    out = {(r, s): np.zeros(s, dtype) for r in roles for s in shapes}
    starts = list(range(0, h, step))

    def run(chunk: NDArray[np.int64]) -> None:
        with src.open() as reader:
            for r0 in map(int, chunk):
                r1 = min(h, r0 + step)
                hit = {s: np.flatnonzero((rows[s] >= r0) & (rows[s] < r1)) for s in shapes}
                if any(len(v) for v in hit.values()):
                    _sample_rows(reader.dataset, src, roles, (r0, r1), hit, rows, cols, out)

    in_parts(run, np.array(starts), parts)
    return out


def _sample_rows(
    dataset: Any,
    src: RasterSource,
    roles: list[str],
    span: tuple[int, int],
    hit: dict[tuple[int, int], NDArray[np.int64]],
    rows: dict[tuple[int, int], NDArray[np.int64]],
    cols: dict[tuple[int, int], NDArray[np.int64]],
    out: dict[tuple[str, tuple[int, int]], NDArray[Any]],
) -> None:
    """Copy the samples of one block row (read in column chunks) into ``out``."""
    r0, r1 = span
    bands = [src.band_index(r) for r in roles]
    for c0 in range(0, dataset.width, 8192):  # column chunks bound the memory of a block row
        c1 = min(dataset.width, c0 + 8192)
        block = dataset.read(bands, window=Window(c0, r0, c1 - c0, r1 - r0))
        for s, at_rows in hit.items():
            at = np.flatnonzero((cols[s] >= c0) & (cols[s] < c1))
            sub = block[:, rows[s][at_rows][:, None] - r0, cols[s][at][None, :] - c0]
            for i, r in enumerate(roles):
                out[(r, s)][np.ix_(at_rows, at)] = sub[i]


SCENE_NDVI_RANGE = 0.8
"""On uncalibrated imagery NDVI differences are expressed in units of the scene's own NDVI range
(2nd to 98th percentile of the before date), scaled to 0.8 — the range of a Sentinel-2 scene of
forest, fields and built land — so that the rules' tolerances keep their meaning."""


MIN_SCENE_RANGE = 0.4
"""A scene of one cover (all forest) has a narrow NDVI range: it is taken as at least this, so
that noise is not magnified (the scale is at most 2)."""


def scene_normaliser(
    before: RasterSource, after: RasterSource, roles: Sequence[str], *, size: int = 512
) -> Normaliser:
    """Per-band 2nd/98th percentiles of each date and the scene's median NDVI change.

    From a decimated read of each raster (nearest, at most ``size`` pixels a side), or on a
    large GeoTIFF from a sample of its blocks (:mod:`gis.zonal.sample`; the same blocks of
    both dates when they share a layout): the position of a value between its scene's
    percentiles is comparable between dates whatever the gain, offset or stretch of the
    delivery; the median change of the normalised NDVI over the scene is what an unchanged
    landscape did (subtracted from every patch and ring).
    """
    bases = (sampled_source(before), sampled_source(after))
    sb, sa = (_block_sample(src) for src in bases)
    if sb is not None and sa is not None and sb.layout == sa.layout:
        raws = [{r: s.values[r] for r in roles} for s in (sb, sa)]
        return _scene_constants(raws, bases, paired_rows(sb, sa))
    shape = _scene_shape(bases[0], size)
    raws = []
    for src in bases:
        with src.open() as reader:
            raws.append({r: decimated(src, reader.dataset, r, shape).astype("f8") for r in roles})
    return _scene_constants(raws, bases, None)


def scene_change(
    before: RasterSource, after: RasterSource, roles: Sequence[str], *, size: int = 512
) -> float:
    """Return the scene's median NDVI change (after − before) from the same samples.

    What the whole scene did between the dates (season, illumination): a patch's surroundings
    that changed much more than this changed for a local reason (pest, flood, fire, a wider
    clearing), and are no reference for "no change". NaN when no pixel is valid on both dates.
    """
    return scene_change_and_shift(before, after, roles, size=size)[0]


def scene_change_and_shift(
    before: RasterSource, after: RasterSource, roles: Sequence[str], *, size: int = 512
) -> tuple[float, tuple[tuple[str, float], ...]]:
    """Return :func:`scene_change` and each band's median log(after / before) over the scene.

    The shift per band is the reference of the cloud-shadow test (:data:`SHADOW_REL_NIR`).
    """
    bases = (sampled_source(before), sampled_source(after))
    wanted = [r for r in ("NIR", "R", "NDVI", "SWIR2", "G", "B") if r in roles]
    sb, sa = (_block_sample(src) for src in bases)
    pairs = None
    if sb is not None and sa is not None and sb.layout == sa.layout:
        raws = [{r: s.values[r].astype("f8") for r in wanted} for s in (sb, sa)]
        pairs = paired_rows(sb, sa)
    else:
        shape = _scene_shape(bases[0], size)
        raws = []
        for src in bases:
            with src.open() as reader:
                raws.append(
                    {r: decimated(src, reader.dataset, r, shape).astype("f8") for r in wanted}
                )
    values = []
    for raw, src in zip(raws, bases, strict=True):
        ok = np.all([np.isfinite(v) for v in raw.values()], axis=0)
        if src.nodata is not None:
            ok &= np.all([v != src.nodata for v in raw.values()], axis=0)
        values.append({r: np.where(ok, v * src.scale + src.offset, np.nan) for r, v in raw.items()})
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvis = [_ndvi({r: v.astype("f4") for r, v in b.items()}) for b in values]
    d = _paired(ndvis[0], ndvis[1], pairs, np.subtract)
    change = float(np.nanmedian(d)) if np.isfinite(d).any() else float("nan")
    return change, band_shift(values[0], values[1], pairs)


def _paired(b: NDArray[Any], a: NDArray[Any], pairs: Any, func: Any) -> NDArray[Any]:
    """``func(a, b)`` of the sampled pixels of both dates (``pairs``: their rows; else all)."""
    return func(a, b) if pairs is None else func(a[pairs[1]], b[pairs[0]])


def band_shift(
    before: dict[str, NDArray[Any]],
    after: dict[str, NDArray[Any]],
    pairs: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
) -> tuple[tuple[str, float], ...]:
    """Return per band (not NDVI) the median log(after / before) of the sampled pixels.

    What the scene did in each band between the dates — gain, haze, sun, season — against
    which a cloud shadow is a fall in every band (:data:`SHADOW_REL_NIR`).
    """
    out = []
    for r, vb in before.items():
        if r == "NDVI" or r not in after:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            lr = _paired(np.log(vb), np.log(after[r]), pairs, np.subtract)
        ok = np.isfinite(lr)
        if ok.any():
            out.append((r, float(np.median(lr[ok]))))
    return tuple(out)


def _block_sample(src: RasterSource) -> BlockSample | None:
    with src.open() as reader:
        sample = _samples(src, reader.dataset)
    return sample if isinstance(sample, BlockSample) else None


def _scene_constants(
    raws: list[dict[str, NDArray[np.float64]]],
    bases: tuple[RasterSource, RasterSource],
    pairs: tuple[NDArray[np.int64], NDArray[np.int64]] | None,
) -> Normaliser:
    """Return the normaliser of the sampled pixels of each date.

    ``pairs``: the rows of each date's arrays sampled at the same pixels (default: all).
    """
    limits, bands = [], []
    for raw, src in zip(raws, bases, strict=True):
        ok = np.all([np.isfinite(v) for v in raw.values()], axis=0)
        if src.nodata is not None:
            ok &= np.all([v != src.nodata for v in raw.values()], axis=0)
        lim = {}
        # limits of the values as read (scale and offset applied), as the windows are read
        scaled = {r: v * src.scale + src.offset for r, v in raw.items()}
        for r, v in scaled.items():
            lo, hi = np.percentile(v[ok], [2, 98]) if ok.any() else (0.0, 1.0)
            lim[r] = (float(lo), float(max(hi, lo + 1e-6)))
        limits.append(lim)
        bands.append({r: _normalised(v, lim[r], ok) for r, v in scaled.items()})
    with np.errstate(invalid="ignore", divide="ignore"):
        v0 = ndvi(bands[0]["NIR"], bands[0]["R"])
        if pairs is None:
            d = ndvi(bands[1]["NIR"], bands[1]["R"]) - v0
        else:
            i0, i1 = pairs
            d = ndvi(bands[1]["NIR"][i1], bands[1]["R"][i1]) - v0[i0]
    shift = band_shift(_floored(bands[0]), _floored(bands[1]), pairs)
    if not np.isfinite(d).any():
        return Normaliser(limits[0], limits[1], shift=shift)
    lo, hi = np.nanpercentile(v0, [2, 98])
    scale = SCENE_NDVI_RANGE / max(float(hi - lo), MIN_SCENE_RANGE)
    return Normaliser(limits[0], limits[1], float(np.nanmedian(d)) * scale, scale, shift=shift)


SHADOW_FLOOR_DN = 0.06
"""Uncalibrated imagery: a band whose after value lies at the clipped bottom of its scene (at
most 1 % of the range above the 2nd percentile, where a 2-98 % stretch puts 0) cannot show a
shadow's darkening — a dark canopy's red sits near there on both dates and the stretch clips
the shadow to 0 — and counts as darkened. A burn scar's char, as dark in the visible, stays
just above it in red (without SWIR the two are otherwise alike)."""

SHADOW_NIR_DN = 0.25
"""Uncalibrated imagery: a shadowed pixel's NIR lies in the lowest fifth of its scene's range
(a shadow keeps a third of a canopy's NIR, which sits mid-range). A June crop or broadleaf at
the top of the before scene's NIR that went dormant sits mid-range in an autumn scene whose
red range widened with the harvest: all its positions fall, but it is lit."""

POSITION_FLOOR = 0.02
"""Uncalibrated imagery: positions in the scene's range below this (a value under the 2nd
percentile, e.g. a shadow clipped to 0 by an 8-bit stretch) count as this in log ratios."""


def _floored(bands: dict[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
    return {r: np.maximum(v, POSITION_FLOOR) for r, v in bands.items()}


def _normalised(v: NDArray[Any], limits: tuple[float, float], ok: Any) -> NDArray[Any]:
    """Position of ``v`` between a scene's percentiles, + 0.05 (no zero denominators)."""
    lo, hi = limits
    return np.where(ok, (v - lo) / (hi - lo) + 0.05, np.nan)


def inside_stats(
    zones: NDArray[Any],
    before: RasterSource,
    after: RasterSource,
    *,
    index: Any = None,
    threads: int | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Return :data:`INSIDE_COLUMNS` per zone (geometries in the rasters' CRS, one grid).

    ``options``: ``ring_m`` (30), ``drop`` (0.15), ``nbr_drop`` (0.2), ``tolerance_px`` (1),
    ``radiometry`` ("reflectance") as :meth:`InsideOptions.of` takes them. Each zone is read
    in its own window (bounds + ``ring_m`` + the tolerance), both dates once, on ``threads``
    threads (default ``min(2, cpu count)``) over contiguous runs of zones: the reference of
    the windowed pass (:mod:`gis.zonal.inside_pass`), which computes the same values.
    """
    opt = InsideOptions.of(before, after, **options)
    geoms = np.asarray(zones, dtype=object)
    rows = zone_rows(geoms, np.arange(len(geoms)), before, after, opt, threads=threads)
    return pd.DataFrame(rows, columns=list(INSIDE_COLUMNS), index=index)


def zone_rows(
    geoms: NDArray[Any],
    positions: NDArray[np.int64],
    before: RasterSource,
    after: RasterSource,
    opt: InsideOptions,
    *,
    threads: int | None = None,
) -> list[list[float]]:
    """Return the rows of the zones at ``positions``, each read in its own window.

    Rings leave out every zone of ``geoms``.
    """
    if len(positions) == 0:
        return []
    job = _Job(geoms, shapely.STRtree(geoms), before, after, opt.roles, opt.norm, opt.ring_m,
               opt.drop, opt.nbr_drop, opt.tol, opt.radiometry)  # fmt: skip
    n = max(1, min(threads or min(2, os.cpu_count() or 1), len(positions)))
    chunks = [c.tolist() for c in np.array_split(np.asarray(positions), n)]
    with ThreadPoolExecutor(max_workers=n) as pool:  # reads and numpy release the GIL
        return [row for part in pool.map(job.run, chunks) for row in part]


@dataclass(frozen=True)
class _Job:
    """What every zone's window needs: the zones, their tree, both rasters, the options."""

    geoms: NDArray[Any]
    tree: Any
    before: RasterSource
    after: RasterSource
    roles: tuple[str, ...]
    norm: Normaliser
    ring_m: float
    drop: float
    nbr_drop: float
    tol: int
    radiometry: str

    def run(self, positions: list[int]) -> list[list[float]]:
        """Return the rows of the zones at ``positions`` (both rasters opened once)."""
        with self.before.open(cachemax_mb=16) as rb, self.after.open(cachemax_mb=16) as ra:
            return [self.one(self.geoms[k], rb, ra) for k in positions]

    def one(self, geom: Any, rb: RasterReader, ra: RasterReader) -> list[float]:
        """Return the row of one zone."""
        if geom is None or shapely.is_empty(geom):
            return _empty_row()
        win = _window_of(geom, self.before, self.ring_m, self.tol)
        if win is None:
            return _empty_row()
        norm = self.norm
        bands = (_read(rb, win, self.roles, norm.before), _read(ra, win, self.roles, norm.after))
        transform = self.before.grid.transform @ Affine.translation(win.col_off, win.row_off)
        near = self.geoms[self.tree.query(shapely.buffer(geom, self.ring_m))]
        options = (self.ring_m, self.drop, self.nbr_drop, self.tol, self.radiometry)
        row = _one_zone(geom, near, bands, transform, *options, norm.index_scale, norm.shift)
        row[11:13] = [v - norm.scene_dndvi for v in row[11:13]]
        return row


def _empty_row() -> list[float]:
    return [0.0] + [np.nan] * (len(INSIDE_COLUMNS) - 1)


def _window_of(geom: Any, src: RasterSource, ring_m: float, tol: int) -> Window | None:
    t = src.grid.transform
    x0, y0, x1, y1 = shapely.bounds(shapely.buffer(geom, ring_m + 2 * abs(t.a)))
    c0, c1 = int(np.floor((x0 - t.c) / t.a)), int(np.ceil((x1 - t.c) / t.a))
    r0, r1 = int(np.floor((y1 - t.f) / t.e)), int(np.ceil((y0 - t.f) / t.e))
    c0, r0 = max(c0 - tol, 0), max(r0 - tol, 0)
    c1, r1 = min(c1 + tol, src.width), min(r1 + tol, src.height)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def _read(
    reader: RasterReader,
    win: Window,
    roles: Sequence[str],
    norm: dict[str, tuple[float, float]],
) -> dict[str, NDArray[np.float32]]:
    values, _ = reader.read_array(win, roles)
    return scene_bands(dict(zip(roles, values, strict=True)), norm)


def scene_bands(
    bands: dict[str, NDArray[np.float32]], norm: dict[str, tuple[float, float]]
) -> dict[str, NDArray[np.float32]]:
    """Return the bands as read, or each band's position within its scene's own range.

    ``norm`` (per role the scene's 2nd and 98th percentiles) is given on uncalibrated imagery.
    """
    if not norm:
        return bands
    return {r: _scaled(v, *norm[r]) for r, v in bands.items()}


def _scaled(v: NDArray[np.float32], lo: float, hi: float) -> NDArray[np.float32]:
    """``(v - lo) / (hi - lo) + 0.05`` in float32, as :func:`_normalised` (in place, no copy)."""
    out = np.subtract(v, lo, dtype=np.float32)
    out /= hi - lo
    out += 0.05
    return out


def _shifted(a: NDArray[Any], tol: int, func: Any) -> NDArray[Any]:
    """``func`` (np.fmin/np.fmax) of ``a`` over the (2*tol+1)² neighbourhood (NaN edges).

    Separable: along rows, then along columns (``fmin``/``fmax`` ignore NaN and are
    associative, so the square's value is the same; pixels beyond the edge add nothing).
    """
    if tol <= 0:
        return a
    return _along(_along(a, tol, func, 1), tol, func, 0)


def _along(a: NDArray[Any], tol: int, func: Any, axis: int) -> NDArray[Any]:
    """``func`` of ``a`` over ``tol`` neighbours either side along ``axis``."""
    out = a.copy()
    n = a.shape[axis]
    for k in range(1, min(tol, n - 1) + 1):
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis], hi[axis] = slice(k, None), slice(None, n - k)
        head, tail = tuple(lo), tuple(hi)
        func(out[head], a[tail], out=out[head])
        func(out[tail], a[head], out=out[tail])
    return out


def _changes(
    b: dict[str, NDArray[np.float32]],
    a: dict[str, NDArray[np.float32]],
    tol: int,
    *,
    dn: bool = False,
    shift: tuple[tuple[str, float], ...] = (),
) -> dict[str, NDArray[Any]]:
    """Per-pixel changes of a window; pixels under unmasked snow or shadow are NaN.

    ``obscured_before`` / ``obscured_after`` mark them, ``raw_valid`` the pixels valid on both
    dates before they were taken out; ``shift``: the scene's change per band
    (:attr:`Normaliser.shift`), the reference of the shadow test.
    """

    def near(wanted: list[tuple[NDArray[Any], Any]]) -> list[NDArray[Any]]:
        return [_shifted(v, tol, func) for v, func in wanted]

    return _pixel_changes(b, a, dn, shift, near, Ellipsis)[0]


def _pixel_changes(
    b: Mapping[str, NDArray[np.float32]],
    a: Mapping[str, NDArray[np.float32]],
    dn: bool,
    shift: tuple[tuple[str, float], ...],
    near: Any,
    at: Any,
) -> tuple[dict[str, NDArray[Any]], NDArray[Any]]:
    """:func:`_changes` of the pixels ``at`` of the bands, and the NDVI change of every pixel.

    ``near([(values, func), ...])``: for each, ``func`` (np.fmin/np.fmax) of ``values`` over
    each pixel's tolerance neighbourhood, at the pixels ``at`` (an index into the bands'
    arrays, or ``Ellipsis``: every pixel of a 2-D window).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        vb, va = _ndvi(b), _ndvi(a)
        raw_valid = np.isfinite(vb) & np.isfinite(va)
        obs_b, obs_a = _obscured(b, a, dn, shift)
        hide = obs_b | obs_a
        if hide.any():
            vb, va = np.where(hide, np.nan, vb), np.where(hide, np.nan, va)
        d = va - vb
        hide, va_at = hide[at], va[at]
        wanted = [(vb, np.fmin), (vb, np.fmax)]
        red = "R" in b and "SWIR2" not in b  # without SWIR, open ground shows as a brighter red
        if red:
            wanted.append((b["R"], np.fmax))
        elif "SWIR2" in b:
            nb, na = nbr(b["NIR"], b["SWIR2"]), nbr(a["NIR"], a["SWIR2"])
            wanted += [(nb, np.fmin), (b["SWIR2"], np.fmax)]
        low, high, *rest = near(wanted)
        out = {"loss": va_at - low, "gain": va_at - high, "d": d[at], "va": va_at}
        if red:
            out["red_rise"] = np.log(a["R"][at]) - np.log(rest[0])
        elif "SWIR2" in b:
            out["nbr_loss"] = na[at] - rest[0]
            out["swir_rise"] = np.log(a["SWIR2"][at]) - np.log(rest[1])
            out["kb_dnbr"] = burn_dnbr(nb[at], na[at])
            if hide.any():
                for key in ("nbr_loss", "swir_rise", "kb_dnbr"):
                    out[key] = np.where(hide, np.nan, out[key])
        if hide.any() and "red_rise" in out:
            out["red_rise"] = np.where(hide, np.nan, out["red_rise"])
    out.update(raw_valid=raw_valid[at], obscured_before=obs_b[at], obscured_after=obs_a[at])
    return out, d


DENSE_AT = 0.4
"""More pixels asked for than this share of the window (rings overlap where patches are
dense): :func:`changes_at` takes every pixel and the separable neighbourhood filter."""


def changes_at(
    before: dict[str, NDArray[np.float32]],
    after: dict[str, NDArray[np.float32]],
    opt: InsideOptions,
    outside: NDArray[np.bool_],
    at: NDArray[np.int64],
) -> tuple[dict[str, NDArray[Any]], NDArray[np.bool_]]:
    """Return :func:`_changes` and whether each pixel is seen, at the flat pixels ``at``.

    ``before``/``after``: a window's bands as read (NaN invalid), ``outside``: its pixels
    beyond the raster (never invalid for the mask buffer). The NDVI changes are in units of
    the scene's range (:attr:`Normaliser.index_scale`). Only the pixels ``at`` and those within
    the tolerance or the mask buffer of them are computed (where a patch window holds few
    patches and rings, a small part of it): each value equals the whole window's, pixel by
    pixel, as every step is per pixel or over a pixel's neighbourhood.
    """
    shape = outside.shape
    dense = len(at) > DENSE_AT * outside.size
    if dense:
        where = np.arange(outside.size)
    else:
        where = pixels_near(at, shape, max(opt.tol, MASK_BUFFER_PX))
    rank = np.empty(outside.size, np.int32)  # pixel → its place in ``where`` (set there only)
    rank[where] = np.arange(len(where), dtype=np.int32)
    norm = opt.norm
    b, a = Gathered(before, where, norm.before), Gathered(after, where, norm.after)

    def near(wanted: list[tuple[NDArray[Any], Any]]) -> list[NDArray[Any]]:
        if dense:  # every pixel: the separable filter over the window, then gathered
            return [_shifted(v.reshape(shape), opt.tol, func).ravel()[at] for v, func in wanted]
        arrays = list({id(v): v for v, _ in wanted}.values())  # each array once
        ext = extremes_at(np.stack(arrays), where, at, shape, opt.tol)
        row = {id(v): i for i, v in enumerate(arrays)}
        return [ext[int(func is np.fmax), row[id(v)]].astype(v.dtype, copy=False)
                for v, func in wanted]  # fmt: skip

    c, d = _pixel_changes(b, a, opt.radiometry == "dn", norm.shift, near, rank[at])
    if norm.index_scale != 1.0:  # uncalibrated imagery: in units of the scene's NDVI range
        for key in ("loss", "gain", "d"):
            c[key] *= norm.index_scale
        d *= norm.index_scale
    invalid = ~np.isfinite(d) & ~outside.ravel()[where]
    seen = np.ones(len(at), dtype=bool)  # nothing to dilate without invalid pixels (most)
    if invalid.any():
        seen = ~_near_any(where[invalid], shape, MASK_BUFFER_PX).ravel()[at]
    seen &= np.isfinite(c["loss"])
    return c, seen


class Gathered(Mapping[str, NDArray[np.float32]]):
    """A window's bands (:func:`scene_bands`) at its flat pixels ``where``, gathered when used.

    The shadow test reads its visible bands at a few pixels only (:meth:`at`).
    """

    def __init__(
        self,
        bands: dict[str, NDArray[np.float32]],
        where: NDArray[np.int64],
        norm: dict[str, tuple[float, float]],
    ) -> None:
        self.bands, self.where, self.norm = bands, where, norm
        self.done: dict[str, NDArray[np.float32]] = {}

    def __getitem__(self, role: str) -> NDArray[np.float32]:
        if role not in self.done:
            self.done[role] = self._values(role, self.where)
        return self.done[role]

    def __contains__(self, role: object) -> bool:
        return role in self.bands  # without gathering it

    def __iter__(self) -> Iterator[str]:
        return iter(self.bands)

    def __len__(self) -> int:
        return len(self.bands)

    def at(self, index: NDArray[np.int64]) -> dict[str, NDArray[np.float32]]:
        """Every band at ``where[index]`` (those not gathered yet read there only)."""
        return {r: self.done[r][index] if r in self.done else self._values(r, self.where[index])
                for r in self.bands}  # fmt: skip

    def _values(self, role: str, pixels: NDArray[np.int64]) -> NDArray[np.float32]:
        values = self.bands[role].ravel()[pixels]
        return _scaled(values, *self.norm[role]) if self.norm else values


def pixels_near(at: NDArray[np.int64], shape: tuple[int, int], n: int) -> NDArray[np.int64]:
    """Return the flat pixels of a window of ``shape`` within ``n`` pixels (a square) of ``at``."""
    mark = np.zeros(shape, dtype=bool)
    mark.ravel()[at] = True
    return np.flatnonzero(_shifted(mark, n, np.logical_or))


def extremes_at(
    values: NDArray[Any],
    where: NDArray[np.int64],
    at: NDArray[np.int64],
    shape: tuple[int, int],
    tol: int,
) -> NDArray[Any]:
    """Return (2, bands, pixels): ``np.fmin`` and ``np.fmax`` over each pixel's square.

    ``values`` (bands, pixels ``where``): values of the flat pixels ``where`` of a window of
    ``shape``, which hold every pixel within ``tol`` of the pixels ``at``; the result equals
    :func:`_shifted` of the whole window at ``at``.
    """
    full = np.empty((len(values), shape[0] * shape[1]), values.dtype)
    for row, v in zip(full, values, strict=True):  # row by row: 3× faster than full[:, where]
        row[where] = v  # set where given only: the kernel reads no other pixel
    return _extremes_near(full, at, shape[0], shape[1], tol)  # type: ignore[no-any-return]


def _near_any(pixels: NDArray[np.int64], shape: tuple[int, int], n: int) -> NDArray[np.bool_]:
    """Return the pixels within ``n`` steps (city block) of the flat ``pixels`` of a window.

    ``ndimage.binary_dilation`` of them with ``iterations=n``, set pixel by pixel (a window
    holds few invalid pixels).
    """
    out = np.zeros(shape, dtype=bool)
    r, c = np.divmod(pixels, shape[1])
    for dy in range(-n, n + 1):
        for dx in range(abs(dy) - n, n - abs(dy) + 1):
            ok = (r + dy >= 0) & (r + dy < shape[0]) & (c + dx >= 0) & (c + dx < shape[1])
            out[r[ok] + dy, c[ok] + dx] = True
    return out


@jit
def _fmin(a: Any, b: Any) -> Any:
    return b if (a != a or b < a) else a  # np.fmin: NaN only where both are


@jit
def _fmax(a: Any, b: Any) -> Any:
    return b if (a != a or b > a) else a


@jit
def _extremes_near(full: Any, at: Any, rows: int, cols: int, tol: int) -> Any:
    """``np.fmin`` and ``np.fmax`` of each row of ``full`` over (2*tol+1)² squares.

    ``full``: values of the flat pixels of a window of ``rows`` × ``cols``, read only within
    ``tol`` of the pixels ``at``; returns (2, rows of ``full``, pixels ``at``): the minima and
    maxima, as :func:`_shifted` gives them (pixels beyond the window add nothing, nor does
    NaN; the extremes are exact, so the order of the pixels is free).
    """
    out = np.empty((2, full.shape[0], at.size), full.dtype)
    for k in range(full.shape[0]):
        v = full[k]
        for i in range(at.size):
            p = at[i]
            r = p // cols
            c = p - r * cols
            if tol == 1 and 0 < r < rows - 1 and 0 < c < cols - 1:  # 3 × 3, unrolled
                x = (v[p - cols - 1], v[p - cols], v[p - cols + 1], v[p - 1], v[p],
                     v[p + 1], v[p + cols - 1], v[p + cols], v[p + cols + 1])  # fmt: skip
                out[0, k, i] = _fmin(
                    _fmin(_fmin(x[0], x[1]), _fmin(x[2], x[3])),
                    _fmin(_fmin(x[4], x[5]), _fmin(_fmin(x[6], x[7]), x[8])),
                )
                out[1, k, i] = _fmax(
                    _fmax(_fmax(x[0], x[1]), _fmax(x[2], x[3])),
                    _fmax(_fmax(x[4], x[5]), _fmax(_fmax(x[6], x[7]), x[8])),
                )
                continue
            low = high = v[p]
            for rr in range(max(r - tol, 0), min(r + tol + 1, rows)):
                for cc in range(max(c - tol, 0), min(c + tol + 1, cols)):
                    low, high = _fmin(low, v[rr * cols + cc]), _fmax(high, v[rr * cols + cc])
            out[0, k, i], out[1, k, i] = low, high
    return out


def _obscured(
    b: Mapping[str, NDArray[np.float32]],
    a: Mapping[str, NDArray[np.float32]],
    dn: bool,
    shift: tuple[tuple[str, float], ...] = (),
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(before, after) pixels under unmasked snow or cloud shadow on that date.

    Snow needs green and SWIR2 on that date (:data:`SNOW_NDSI`); shadow is a pixel darker in
    every band than on the other date beyond the scene's own change ``shift``
    (:data:`SHADOW_REL_NIR`) or, on reflectance, NIR halved and red down
    (:data:`SHADOW_NIR`). A precomputed NDVI band tells neither (nothing is marked).
    """
    shape = next(iter(b.values())).shape
    if "NIR" not in b or "R" not in b:
        none = np.zeros(shape, dtype=bool)
        return none, none
    dark_b, dark_a = _shadow(b, a, dn, dict(shift))
    if not dn:
        nir = np.log(a["NIR"]) - np.log(b["NIR"])
        red = np.log(a["R"]) - np.log(b["R"])
        dark_a |= (nir <= SHADOW_NIR) & (red <= SHADOW_RED)
        dark_b |= (nir >= -SHADOW_NIR) & (red >= -SHADOW_RED)
    return dark_b | _snow(b, dn), dark_a | _snow(a, dn)


def _shadow(
    b: Mapping[str, NDArray[np.float32]],
    a: Mapping[str, NDArray[np.float32]],
    dn: bool,
    shift: dict[str, float],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(before, after) pixels darker in every band than on the other date, beyond the scene.

    Only the pixels that can pass are tested band by band (:func:`_shadow_at`): those whose
    NIR changed by the threshold beyond the scene (a ratio test, with slack) and, on
    positions, a shadowed after date's NIR at the bottom of its scene.
    """
    shape = a["NIR"].shape
    nb, na = (_floored({"NIR": v["NIR"]})["NIR"] if dn else v["NIR"] for v in (b, a))
    s = shift.get("NIR", 0.0)  # NIR fell (or rose) by the threshold beyond the scene, with
    can = na <= nb * np.float32(np.exp(s - SHADOW_REL_NIR) * 1.001)  # slack for rounding
    if dn:
        can &= a["NIR"] <= SHADOW_NIR_DN
    else:
        can |= na >= nb * np.float32(np.exp(s + SHADOW_REL_NIR) * 0.999)
    at = np.flatnonzero(can)
    dark_b, dark_a = np.zeros(can.size, bool), np.zeros(can.size, bool)
    if at.size:
        pick = [d.at(at) if isinstance(d, Gathered) else {r: v.ravel()[at] for r, v in d.items()}
                for d in (b, a)]  # fmt: skip
        dark_b[at], dark_a[at] = _shadow_at(pick[0], pick[1], dn, shift)
    return dark_b.reshape(shape), dark_a.reshape(shape)


def _shadow_at(
    b: dict[str, NDArray[np.float32]],
    a: dict[str, NDArray[np.float32]],
    dn: bool,
    shift: dict[str, float],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """:func:`_shadow`'s band-by-band test on the pixels given (any shape)."""

    def rel(role: str) -> NDArray[Any]:
        vb, va = (_floored({role: v[role]})[role] if dn else v[role] for v in (b, a))
        return np.log(va) - np.log(vb) - shift.get(role, 0.0)

    def floor(role: str) -> NDArray[np.bool_]:  # at the bottom of the after scene (stretched)
        return np.asarray(a[role] <= SHADOW_FLOOR_DN) if dn else np.zeros(nir.shape, bool)

    def visible(role: str) -> NDArray[Any]:  # darkness scaled to NIR's threshold
        d = -rel(role) / SHADOW_REL_VISIBLE * SHADOW_REL_NIR
        return np.where(floor(role), np.fmax(d, SHADOW_REL_NIR), d)

    nir = rel("NIR")
    dark = [-nir, *(visible(r) for r in ("B", "G", "R") if r in b and r in a)]
    if "SWIR2" in b and "SWIR2" in a:
        dark.append(-rel("SWIR2"))
    # every band darker on the after date (brighter: shadow on the before date) by at least its
    # threshold, each scaled to NIR's; NIR keeps the diffuse sky light, NIR / red its ratio
    ratio = nir - rel("R")  # the darker date's NIR fell most: shadowed after, below 0
    after = (np.min(dark, axis=0) >= SHADOW_REL_NIR) & ((ratio <= 0.1) | floor("R"))
    if dn:  # positions: a shadow falls to the floor of its scene (no magnitude bounds); a
        # date whose scene range shrank (leaf fall) lifts what kept its value: no mirror test
        return np.zeros_like(after), after & (a["NIR"] <= SHADOW_NIR_DN)
    keeps = (np.abs(nir) <= SHADOW_KEEPS_NIR) & (np.abs(ratio) <= SHADOW_KEEPS_RATIO)
    before = (np.max(dark, axis=0) <= -SHADOW_REL_NIR) & (ratio >= -0.1)
    return before & keeps, after & keeps


def _snow(bands: Mapping[str, NDArray[np.float32]], dn: bool) -> NDArray[np.bool_]:
    if "G" not in bands or "SWIR2" not in bands:
        return np.zeros(bands["NIR"].shape, dtype=bool)
    g, s, nir, red = bands["G"], bands["SWIR2"], bands["NIR"], bands["R"]
    ndsi = (g - s) / (g + s)
    if dn:  # normalised positions (+0.05): snow at the top of its scene's green and red
        return (ndsi >= SNOW_NDSI) & (g >= SNOW_GREEN_DN) & (red >= SNOW_GREEN_DN)
    return (ndsi >= SNOW_NDSI) & (nir >= SNOW_NIR) & (g >= SNOW_GREEN) & (red >= SNOW_GREEN)


def _ndvi(bands: Mapping[str, NDArray[np.float32]]) -> NDArray[Any]:
    if "NDVI" in bands:
        return np.clip(bands["NDVI"], -1.0, 1.0)
    return np.asarray(ndvi(bands["NIR"], bands["R"]))


def _mask_of(geoms: Any, transform: Any, shape: tuple[int, int]) -> NDArray[np.bool_]:
    pos, _ = centre_pixels(np.asarray(geoms, dtype=object), transform, shape)
    m = np.zeros(shape[0] * shape[1], dtype=bool)
    m[pos] = True
    return m.reshape(shape)


def _share(mask: NDArray[np.bool_], within: NDArray[np.bool_]) -> float:
    n = int(within.sum())
    return float((mask & within).sum() / n) if n else np.nan


def _largest(mask: NDArray[np.bool_]) -> int:
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    return int(np.bincount(labels.ravel())[1:].max()) if n else 0


def _one_zone(
    geom: Any,
    near: NDArray[Any],
    bands: tuple[dict[str, NDArray[np.float32]], dict[str, NDArray[np.float32]]],
    transform: Any,
    ring_m: float,
    drop: float,
    nbr_drop: float,
    tol: int,
    radiometry: str,
    index_scale: float = 1.0,
    shift: tuple[tuple[str, float], ...] = (),
) -> list[float]:
    shape = next(iter(bands[0].values())).shape
    inside = _mask_of([geom], transform, shape)
    ring = _mask_of([shapely.buffer(geom, ring_m, quad_segs=4)], transform, shape)
    ring &= ~_mask_of(near, transform, shape)
    c = _changes(*bands, tol, dn=radiometry == "dn", shift=shift)
    for key in ("loss", "gain", "d"):
        c[key] = c[key] * index_scale
    valid = np.isfinite(c["d"])
    # a cloud's or shadow's unmasked fringe (and the misregistration) changes the pixels next
    # to a masked one: they are not seen either
    seen = ~ndimage.binary_dilation(~valid, iterations=MASK_BUFFER_PX) & np.isfinite(c["loss"])
    zin, rin = inside & seen, ring & seen
    lost, gained = _classify(c, rin, drop, nbr_drop, radiometry)
    burned = burned_mask(c["kb_dnbr"]) if "kb_dnbr" in c and radiometry != "dn" else None
    return [
        float(zin.sum()),
        _share(lost, zin),
        _share(gained, zin),
        float(_largest(lost & zin)),
        float(_largest(gained & zin)),
        _share(lost, rin),
        np.nan if burned is None else _share(burned, zin),
        np.nan if burned is None else _share(burned, rin),
        np.nan if radiometry == "dn" else _mean(c["va"], lost & zin),
        (_median(c["va"], lost & zin) - _median(c["va"], rin)) * index_scale,
        float("nbr_loss" in c),
        _median(c["d"], zin),
        _median(c["d"], rin),
        _share(c["obscured_before"], inside & c["raw_valid"]),
        _share(c["obscured_after"], inside & c["raw_valid"]),
    ]


def _mean(values: NDArray[Any], where: NDArray[np.bool_]) -> float:
    return float(np.nanmean(values[where])) if where.any() else np.nan


def _median(values: NDArray[Any], where: NDArray[np.bool_]) -> float:
    return float(np.median(values[where])) if where.any() else np.nan


def _classify(
    c: dict[str, NDArray[Any]],
    rin: NDArray[np.bool_],
    drop: float,
    nbr_drop: float,
    radiometry: str,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Return the (lost, gained) pixels of the window.

    Each loss signal beyond the ring (NDVI fall, NBR fall, SWIR2 rise) is scaled by its
    threshold: a pixel is lost when one reaches 1, or when together they reach
    :data:`COMBINED_LOSS` (a forest turned lawn loses a little of each).
    """
    enough = int(rin.sum()) >= _RING_MIN_PX

    def beyond(v: NDArray[Any], floor: float) -> NDArray[Any]:
        if not enough:
            return v / floor
        ref = v[rin & np.isfinite(v)]
        med = float(np.median(ref)) if ref.size else 0.0
        if radiometry == "dn" and ref.size:  # relative evidence: beyond the ring's own spread
            floor = max(floor, 3.0 * 1.4826 * float(np.median(np.abs(ref - med))))
        return (v - med) / floor

    with np.errstate(invalid="ignore"):
        terms = [np.clip(-beyond(c["loss"], drop), 0, None)]
        if "nbr_loss" in c:
            terms.append(np.clip(-beyond(c["nbr_loss"], nbr_drop), 0, None))
            terms.append(np.clip(beyond(c["swir_rise"], SWIR_RISE), 0, None))
        if "red_rise" in c:
            terms.append(np.clip(beyond(c["red_rise"], RED_RISE), 0, None))
        stack = np.nan_to_num(np.stack(terms))
        lost = (stack.max(axis=0) >= 1.0) | (stack.sum(axis=0) >= COMBINED_LOSS)
        gained = (beyond(c["gain"], drop) >= 1.0) & ~lost
    return lost, gained
