"""Crowns compared with their neighbouring host crowns (变色立木, multispectral only).

A stand's baseline (:mod:`gis.checks.discolored.baselines`) is taken over all its vegetation
pixels, and in a stocked stand most of those are understory. In autumn the grass dries to
about the colour of a pine that is just turning yellow-green: such a crown shows no GRVI
drop against its stand, and its NIR is near the stand median (grass NIR) — the two tests of
pass 2 cannot see it. Against the *healthy crowns around it* it has plainly lost NIR (a
third, the early signal of pine wilt), while a yellow or orange larch, a yellow birch or a
red oak among the pines keeps its NIR (senescing leaves keep their cell structure until
they fall). This module adds that comparison; it needs NIR and is skipped without it.

1. **Crown pixels of a stand** (:func:`with_crown_cut`, after pass 1): the stand's pixels
   whose NDVI is at or above the stand's ``crown_ndvi_quantile`` (0.85) NDVI — healthy
   conifer crowns are the greenest part of a pine stand (NDVI ~0.8 against grass 0.5-0.7),
   and a stocked stand (郁闭度 >= 0.2, the forest definition) has more than 15 % of them. The
   cut is one number per stand from the pass-1 NDVI histogram, so it does not depend on the
   windows.
2. **NIR-loss candidates** (:func:`ndvi_loss_pixels`): canopy pixels whose NDVI averaged over
   the crown-scale box lies ``z_ndvi_loss`` robust sigmas below the stand's median — the
   NDVI twin of pass 2's GRVI test (a dying crown loses NDVI before its colour turns).
3. **The neighbours' NIR** (:func:`crown_nir`): for each crown candidate, the mean NIR of the
   crown pixels (step 1) of its stand in the box of ± ``halo`` pixels around its centroid —
   the largest crown diameter: a few neighbouring crowns. The box lies inside the window's
   halo, so the value does not depend on the windows either.
4. **Verdict** (:func:`judge`): an NDVI-test crown holding no pixel of a crown-sized GRVI
   component (those are pass 2's candidates, judged against their stand as before) counts
   only when it kept less than the season's NIR-kept ratio (``autumn_nir_kept_ratio`` in
   autumn, else ``nir_kept_ratio``) of its neighbours' NIR (:func:`nir_lost`), is not soil
   by its mean (:func:`~gis.checks.discolored.kernels.soil_pixel`: shadowed bare ground at
   gap edges) and lies in a stand that does not turn as a whole. The GRVI candidates keep
   their stand verdict: an orange larch among pines keeps ~0.9 of their NIR, inside the
   crown-to-crown brightness spread (±15 %) around the 0.8 ratio, so the neighbours would
   overrule a coloured crown's stand verdict only at the price of false points; a crown
   without colour change has no larch or broadleaf colour to explain, its NIR loss is the
   evidence.

Examples
--------
>>> r = CrownRules(autumn=True)
>>> nir_lost(np.array([0.20, 0.27]), np.array([0.29, 0.29]), r).tolist()  # early pine, larch
[True, False]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gis.checks.discolored.baselines import Baselines, hist_quantile
from gis.checks.discolored.kernels import (
    anomalous_pixels,
    normalized_difference_px,
    soil_pixel,
)
from gis.checks.discolored.pixels import CrownRules, Table, table_rows, take_rows
from gis.compiled import jit

NDVI_ROW = 1
"""Row of the NDVI histogram in pass 1's per-stand histograms (``baselines.QUANTITIES``)."""


def with_crown_cut(base: Baselines, hists: Mapping[int, Any], rules: CrownRules) -> Baselines:
    """Return ``base`` with ``crown_ndvi``: each stand's ``crown_ndvi_quantile`` NDVI.

    Stands without an NDVI histogram (no NIR, or no pixel) get NaN: no crown pixels, and the
    comparison with neighbouring crowns is skipped there.
    """
    cut = np.full(len(base.med_ndvi), np.nan)
    for sid, hist in hists.items():
        if 0 < sid < len(cut):
            cut[sid] = hist_quantile(hist[NDVI_ROW], rules.crown_ndvi_quantile, -1.0, 1.0)
    return replace(base, crown_ndvi=cut)


def _band(values: NDArray[np.float32], roles: Sequence[str], role: str) -> NDArray[np.float32]:
    return values[list(roles).index(role)]


def window_ndvi(
    values: NDArray[np.float32], roles: Sequence[str], canopy: NDArray[np.bool_]
) -> NDArray[np.float32]:
    """NDVI of a window's canopy pixels, float32: 0 outside the canopy, 1 where NIR + R = 0.

    0 outside the canopy is what the box average of
    :func:`~gis.checks.discolored.kernels.anomalous_pixels` expects; 1 (no NDVI) is never
    anomalous.
    """
    where = list(roles)
    return _canopy_ndvi(values, where.index("NIR"), where.index("R"), canopy)  # type: ignore[no-any-return]


@jit
def _canopy_ndvi(values: Any, inir: int, ir: int, canopy: Any) -> Any:
    """One pass over the window: NDVI at canopy pixels (see :func:`window_ndvi`)."""
    h, w = canopy.shape
    out = np.zeros((h, w), dtype=np.float32)
    for i in range(h):
        for j in range(w):
            if canopy[i, j]:
                nd = normalized_difference_px(values[inir, i, j], values[ir, i, j])
                out[i, j] = np.float32(1) if np.isnan(nd) else nd
    return out


def ndvi_loss_pixels(
    ndvi: NDArray[np.float32],
    canopy: NDArray[np.bool_],
    stands: NDArray[Any],
    base: Baselines,
    rules: CrownRules,
    core: tuple[slice, slice],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Canopy pixels whose crown-scale NDVI is ``z_ndvi_loss`` sigmas below the stand's.

    ``base`` is indexed by the window's local stand numbers (as ``stands``). Returns the
    anomalous mask (smoothed NDVI) and the pixels whose own NDVI passes too, as
    :func:`~gis.checks.discolored.kernels.anomalous_pixels` does for GRVI.
    """
    box = np.array([core[0].start, core[0].stop, core[1].start, core[1].stop], dtype=np.int64)
    anomalous, own, _ = anomalous_pixels(
        ndvi, canopy, stands, ndvi_loss_threshold(base, rules), rules.smooth_px, box,
        len(base.pixels) - 1,
    )  # fmt: skip
    return anomalous, own


def ndvi_loss_threshold(base: Baselines, rules: CrownRules) -> NDArray[np.float32]:
    """Per-stand float32 threshold of :func:`ndvi_loss_pixels` (-inf: no NDVI baseline)."""
    thr = np.nan_to_num(base.med_ndvi - rules.z_ndvi_loss * base.sig_ndvi, nan=-np.inf)
    return thr.astype(np.float32)


def crown_nir(
    values: NDArray[np.float32],
    roles: Sequence[str],
    ndvi: NDArray[np.float32],
    canopy: NDArray[np.bool_],
    stands: NDArray[Any],
    base: Baselines,
    centres: tuple[NDArray[Any], NDArray[Any]],
    half: int,
) -> NDArray[np.float64]:
    """Mean NIR of the crown pixels of each candidate's stand around its centre pixel.

    ``centres`` are the candidates' (row, col) pixels in the window array; the box is
    ± ``half`` pixels (clipped to the array). Crown pixels: canopy, NDVI at or above the
    stand's ``crown_ndvi`` (:func:`with_crown_cut`). NaN where the box holds none.
    """
    rows, cols = (np.asarray(c, dtype=np.int64) for c in centres)
    out = np.full(rows.shape, np.nan)
    if base.crown_ndvi is None or not rows.size:
        return out
    cut = np.nan_to_num(base.crown_ndvi, nan=np.inf).astype(np.float32)
    nir = _band(values, roles, "NIR")
    h, w = canopy.shape
    r0, r1 = np.clip(rows - half, 0, h), np.clip(rows + half + 1, 0, h)
    c0, c1 = np.clip(cols - half, 0, w), np.clip(cols + half + 1, 0, w)
    own = stands[np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)]
    for k in range(rows.size):  # the few candidates left; each box is a view
        box = (slice(r0[k], r1[k]), slice(c0[k], c1[k]))
        crown = canopy[box] & (stands[box] == own[k]) & (ndvi[box] >= cut[own[k]])
        n = int(np.count_nonzero(crown))
        if n:
            out[k] = float(nir[box][crown].sum(dtype=np.float64)) / n
    return out


def nir_lost(nir: NDArray[Any], neighbours: NDArray[Any], rules: CrownRules) -> NDArray[np.bool_]:
    """Whether candidates kept less than the season's NIR-kept ratio of their neighbours' NIR.

    ``nir`` is each candidate's mean NIR, ``neighbours`` its neighbours' (:func:`crown_nir`;
    NaN = no neighbouring crown: not lost). The ratio is ``autumn_nir_kept_ratio`` in autumn,
    else ``nir_kept_ratio`` — those the stand test uses for NIR kept.
    """
    kept_ratio = rules.autumn_nir_kept_ratio if rules.autumn else rules.nir_kept_ratio
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.asarray(nir, dtype=float) / np.asarray(neighbours, dtype=float)
    return np.asarray(np.isfinite(ratio) & (ratio < kept_ratio))


def judge(
    crowns: Table,
    means: Mapping[str, NDArray[Any]],
    kept: NDArray[np.bool_],
    window: Mapping[str, Any],
    base: Baselines,
    rules: CrownRules,
) -> Table:
    """Return the NDVI-test crowns that lost NIR against their neighbouring crowns.

    ``crowns`` is the crown table (columns) of the NDVI test's components ``kept``, ``means`` the
    per-component means (``row``, ``col``, ``core``, ``nir_core``, ``by_grvi``, ``ndvi``,
    ``rg_ratio``, ``blue``), ``window`` the window's arrays (``values``, ``roles``, ``ndvi``,
    ``canopy``, ``stands`` with local numbers, ``half``: the box half-width in pixels).
    Dropped: components holding a pixel of a GRVI-test crown (``by_grvi``: they are its
    candidates already, decoys included),
    those in stands turning as a whole (their neighbours turn too: the rule of
    :mod:`gis.checks.discolored.season` applies there), soil by their means, and those that
    kept their NIR (:func:`nir_lost`). The rows kept get ``nir_crowns`` (NIR / neighbours').
    """
    if not table_rows(crowns):
        return crowns
    sel = {k: np.asarray(v)[kept] for k, v in means.items()}
    centres = (np.floor(sel["row"]).astype(int), np.floor(sel["col"]).astype(int))
    st = window["stands"][centres]
    keep = sel["by_grvi"] == 0
    if base.turning is not None:
        keep &= ~base.turning[st]
    limit = rules.soil_blue_ratio * base.blue[st]
    # a few candidates: the scalar soil rule (no ufunc compiled per dtype in each thread)
    for k in np.flatnonzero(keep):
        args = (sel["ndvi"][k], sel["blue"][k], sel["rg_ratio"][k], 1.0, limit[k])
        keep[k] = not soil_pixel(*args, rules.soil_ndvi, rules.soil_rg)
    ref = np.full(keep.shape, np.nan)  # the neighbours, for the candidates still in
    ref[keep] = crown_nir(window["values"], window["roles"], window["ndvi"], window["canopy"],
                          window["stands"], base, (centres[0][keep], centres[1][keep]),
                          window["half"])  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        nir = sel["nir_core"] / sel["core"]
    keep &= nir_lost(nir, ref, rules)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = crowns | {"decoy": np.zeros(len(keep), dtype=bool), "nir_crowns": nir / ref}
    return take_rows(out, keep)
