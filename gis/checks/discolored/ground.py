"""Bare ground in shade among the crown candidates of an RGB image (变色立木, no NIR).

Without NIR the soil test of the canopy mask is blue brightness (``bright_ratio`` × the
stand's median blue): sunlit bare ground, roads and sand are bright in blue. In the shade of
the crowns at a gap's edge the same ground is dark, passes that test, and its colour — red a
little above green, GRVI about −0.1 — is that of a pine between yellow-green and red-brown.
Its *hue* still differs: mineral soil and litter reflect blue at more than half their red
(their spectra rise slowly from blue to red; skylight in shade makes them bluer still), while
a discolored crown's pigments absorb blue: red-brown needles B/R ≈ 0.3, yellow-green ≈ 0.45
(``docs/robustness.md``). A candidate whose mean blue is at least ``soil_blue_red`` × its
mean red is ground, not a crown. The ratio is free of gain and illumination, so it holds in
shade and across a mosaic's brightness — on reflectance (``CrownRules.reflectance``, from
the image's radiometry). An 8-bit stretched delivery (gamma, white balance) moves every
ratio towards 1 — a red-brown crown in camera DN reads B/R ≈ 0.5 — so the test is not made
there. With NIR the canopy mask's NDVI test does this.

Examples
--------
>>> crowns = {"x": np.array([0.0, 1.0])}
>>> blue_red = np.array([0.33, 0.60])  # a red-brown crown, shaded bare soil
>>> len(drop_shaded_ground(crowns, blue_red, CrownRules(reflectance=True)))
1
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gis.checks.discolored.pixels import CrownRules, Table, take_rows


def drop_shaded_ground(crowns: Table, blue_red: NDArray[Any], rules: CrownRules) -> Table:
    """Return the crown table (columns) without the rows of mean B/R >= ``soil_blue_red``.

    ``blue_red`` is each row's mean blue over its mean red (NaN: kept).
    """
    ground = np.asarray(blue_red, dtype=float) >= rules.soil_blue_red
    return take_rows(crowns, ~ground)
