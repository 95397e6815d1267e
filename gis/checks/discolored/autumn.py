"""Autumn colour in an RGB image (变色立木, no NIR): deciduous populations and hue.

Without NIR a senescing larch or broadleaf crown among the pines and a dying pine differ
only in colour and in how they occur (``docs/robustness.md``, *Autumn without NIR*):

- **Which stands hold deciduous crowns.** The subcompartment's 树种组成
  (``species_composition``, e.g. ``6红松4落叶松``, ``10樟子松+白桦``) names them
  (:func:`colour_stands`); where it is not recorded, a host stand holding at least
  ``autumn_population`` bright-yellow crowns (green at least ``yellow_green_ratio`` × the
  stand's median green — the colour decoys of
  :func:`~gis.checks.discolored.pixels.shape_scores`) holds a turning deciduous population.
  A stand whose composition names only evergreen species is not screened here, and its
  bright-yellow crowns are no autumn colour: nothing there turns golden, so a yellow-green
  crown is an early-stage pine (chlorophyll lost, green and red up) and stays a point.
- **Phenology is synchronous, wilt is scattered.** Larch and broadleaf crowns of a stand turn
  together and outnumber the dying pines (a few % of the crowns, spread from yellow-green to
  red-brown): the centre of the stand's candidate colours is theirs
  (:func:`colour_population`), compared in relative measures that scene brightness and
  8-bit stretches do not move.
- **Golden is bright, red-brown is dark.** Carotenoid-coloured (golden to orange) foliage
  keeps its green reflectance high; browning needles lose it as red rises. In a stand with
  deciduous crowns a coloured crown whose green is still at least ``golden_green_ratio`` ×
  the stand's median green and whose R/G stays below ``red_brown_rg`` is autumn colour; a
  candidate darker than the stand's colour population is kept.
- **Red-brown is not autumn colour.** Golden-orange larch reads R/G ≈ 1.0-1.5; dead pine
  needles ≈ 2. In a stand turning as a whole (larch-dominant, not screened by colour in RGB:
  :mod:`gis.checks.discolored.season`) a crown at or above ``red_brown_rg`` is kept.

The rest stays ambiguous (an orange larch dimmed by the crown-to-crown spread, a red oak):
the points keep ``status_note = autumn_colour_rgb`` and the warning quotes the suite's
precision.

Examples
--------
>>> crowns = pd.DataFrame({"stand": [1, 1, 1, 1, 2], "green_ratio": [1.3, 1.2, 1.02, 0.85, 0.8],
...                        "rg_ratio": [1.0, 1.1, 1.3, 1.9, 2.1],
...                        "decoy": [True, True, False, False, True]})
>>> turning = np.array([False, False, True])
>>> autumn_rgb_decoys(crowns, turning, CrownRules(autumn=True))["decoy"].tolist()
[True, True, True, False, False]
>>> parse_composition("6红松3落叶松1白桦"), parse_composition("10樟子松+落叶松")
(('红松', '落叶松', '白桦'), ('樟子松', '落叶松'))
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gis.checks.discolored.pixels import CrownRules
from gis.layers import layer_kind, normalize_code
from gis.layers.values import is_missing

_TERM = re.compile(r"(?:\d+(?:\.\d+)?|[+\-－＋])?\s*([^\d+\-－＋\s,，、;；]+)")
"""One term of a 树种组成 formula: a share in tenths (or + / - for a trace) and a species."""


def parse_composition(text: Any) -> tuple[str, ...]:
    """Return the species a 树种组成 formula names (``6红松4落叶松`` → 红松, 落叶松).

    Names are normalised to the catalog's codes of ``dominant_species`` (synonyms such as
    长白落叶松 → 落叶松); an unknown name is kept as written. Missing → ().
    """
    if is_missing(text):
        return ()
    spec = layer_kind("subcompartments").fields["dominant_species"]
    names = (m.group(1) for m in _TERM.finditer(str(text)))
    return tuple(str(normalize_code(spec, n) or n) for n in names)


def colour_stands(host: Any, evergreen: Sequence[str]) -> NDArray[np.int8] | None:
    """Return per stand number whether its 树种组成 names a species that colours in autumn.

    1 = it does, 0 = it names only ``evergreen`` species, -1 = not recorded; None when the
    stands have no ``species_composition`` field.
    """
    if "species_composition" not in host.columns or not len(host):
        return None
    out = np.full(int(host["stand_no"].max()) + 1, -1, dtype=np.int8)
    keep = set(evergreen)
    for no, text in zip(host["stand_no"], host["species_composition"], strict=True):
        names = parse_composition(text)
        if names:
            out[int(no)] = int(any(n not in keep for n in names))
    return out


def colour_population(crowns: Any, gate: NDArray[np.bool_], rules: CrownRules) -> NDArray[np.bool_]:
    """Which candidate crowns belong to their stand's autumn-colour population (no NIR).

    In each stand marked by ``gate`` (per candidate: its stand holds deciduous crowns) with at
    least ``autumn_min_candidates`` candidates, the candidates' colour — ``log(green_ratio)``
    (brightness against the stand) and ``log(rg_ratio)`` (hue) — has a robust centre (median)
    and spread (1.4826 × MAD, at least ``autumn_colour_sigma``: the crown-to-crown variation
    within one species and stage). Deciduous crowns outnumber the diseased ones and turn
    together, so the centre is theirs: a candidate within ``autumn_population_z`` spreads of
    it is one of them, unless it is darker than the centre by more than ``autumn_darker_z``
    spreads (golden foliage keeps its green bright; browning needles and a dull early-stage
    pine are darker at the same hue). Gain, scene brightness and a per-band stretch move
    every crown of a stand alike and cancel.

    Examples
    --------
    >>> c = pd.DataFrame({"stand": [1] * 6, "green_ratio": [1.0, 1.05, 0.97, 1.0, 1.02, 0.7],
    ...                   "rg_ratio": [1.2, 1.25, 1.15, 1.3, 1.2, 1.25]})
    >>> colour_population(c, np.ones(6, bool), CrownRules()).tolist()
    [True, True, True, True, True, False]
    """
    stand = crowns["stand"].to_numpy().astype(np.intp)
    with np.errstate(divide="ignore", invalid="ignore"):
        colour = np.log(crowns[["green_ratio", "rg_ratio"]].to_numpy(dtype=float))
    frame = pd.DataFrame(colour, columns=["u", "v"])
    by = frame.groupby(stand)
    centre = by.transform("median").to_numpy()
    mad = pd.DataFrame(np.abs(colour - centre)).groupby(stand).transform("median").to_numpy()
    spread = np.maximum(1.4826 * mad, rules.autumn_colour_sigma)
    z = (colour - centre) / spread
    near = np.hypot(z[:, 0], z[:, 1]) < rules.autumn_population_z
    enough = by["u"].transform("size").to_numpy() >= rules.autumn_min_candidates
    return np.asarray(gate & enough & near & (z[:, 0] >= -rules.autumn_darker_z))


def autumn_rgb_decoys(
    crowns: Any,
    turning: NDArray[np.bool_] | None,
    rules: CrownRules,
    colour: NDArray[np.int8] | None = None,
    population: bool = True,
) -> Any:
    """Return ``crowns`` with ``decoy`` decided by population and hue (autumn, no NIR).

    ``crowns`` holds ``stand`` (stand number), ``green_ratio``, ``rg_ratio`` and ``decoy``
    (:data:`~gis.checks.discolored.crowns.CROWN_COLUMNS`); ``turning`` is indexed by stand
    number (None: no stand turns as a whole); ``colour`` (:func:`colour_stands`) says which
    stands hold deciduous crowns by their 树种组成 (None or -1: judged from the golden
    population); ``population`` screens the stands' colour populations
    (:func:`colour_population`) — off when last autumn's image is given as ``--previous``,
    which tells the crowns coloured a year before from the new ones without the population's
    cost in recall.
    """
    if not len(crowns):
        return crowns
    stand = crowns["stand"].to_numpy().astype(np.intp)
    green = crowns["green_ratio"].to_numpy(dtype=float)
    rg = crowns["rg_ratio"].to_numpy(dtype=float)
    whole = np.zeros(stand.shape, dtype=bool) if turning is None else turning[stand]
    yellow = green >= rules.yellow_green_ratio
    counts = pd.Series(yellow & ~whole).groupby(stand).transform("sum").to_numpy()
    gate = counts >= rules.autumn_population
    if colour is not None:
        known = colour[np.clip(stand, 0, len(colour) - 1)]
        gate = np.where(known >= 0, known == 1, gate)
        yellow &= known != 0  # only evergreen species named: a yellow crown is an early pine
    golden = gate & (green >= rules.golden_green_ratio)
    red_brown = rg >= rules.red_brown_rg
    in_population = colour_population(crowns, gate & ~whole & population, rules)
    decoy = np.where(whole, ~red_brown, yellow | (golden & ~red_brown) | in_population)
    return crowns.assign(decoy=decoy)
