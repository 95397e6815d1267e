"""Autumn colour in an RGB image (变色立木, no NIR): deciduous populations and hue.

Without NIR a senescing larch or broadleaf crown among the pines and a dying pine differ
only in colour and in how they occur (``docs/robustness.md``, *Autumn without NIR*):

- **Phenology is synchronous.** Larch (and birch) turn golden-yellow, then orange, every crown
  of a stand within days; pine wilt kills isolated crowns whose brief yellow-green stage is
  dull. A host stand holding at least ``autumn_population`` bright-yellow crowns (green at
  least ``yellow_green_ratio`` × the stand's median green — the colour decoys of
  :func:`~gis.checks.discolored.pixels.shape_scores`) holds a turning deciduous population.
- **Golden is bright, red-brown is dark.** Carotenoid-coloured (golden to orange) foliage
  keeps its green reflectance high; browning needles lose it as red rises. In a stand with a
  turning population a coloured crown whose green is still at least ``golden_green_ratio`` ×
  the stand's median green and whose R/G stays below ``red_brown_rg`` is autumn colour, not
  a point.
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
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gis.checks.discolored.pixels import CrownRules


def autumn_rgb_decoys(crowns: Any, turning: NDArray[np.bool_] | None, rules: CrownRules) -> Any:
    """Return ``crowns`` with ``decoy`` decided by population and hue (autumn, no NIR).

    ``crowns`` holds ``stand`` (stand number), ``green_ratio``, ``rg_ratio`` and ``decoy``
    (:data:`~gis.checks.discolored.crowns.CROWN_COLUMNS`); ``turning`` is indexed by stand
    number (None: no stand turns as a whole).
    """
    if not len(crowns):
        return crowns
    stand = crowns["stand"].to_numpy().astype(np.intp)
    green = crowns["green_ratio"].to_numpy(dtype=float)
    rg = crowns["rg_ratio"].to_numpy(dtype=float)
    whole = np.zeros(stand.shape, dtype=bool) if turning is None else turning[stand]
    yellow = green >= rules.yellow_green_ratio
    counts = pd.Series(yellow & ~whole).groupby(stand).transform("sum").to_numpy()
    golden = (counts >= rules.autumn_population) & (green >= rules.golden_green_ratio)
    red_brown = rg >= rules.red_brown_rg
    decoy = np.where(whole, ~red_brown, yellow | (golden & ~red_brown))
    return crowns.assign(decoy=decoy)
