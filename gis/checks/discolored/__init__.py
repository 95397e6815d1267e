"""变色立木监测: discolored standing trees in host (pine) stands as points to verify.

The pure core takes a lazy :class:`~gis.raster.RasterSource` and frames and returns frames:

- :mod:`~gis.checks.discolored.detect` — :func:`detect_discolored`, the rules file and the
  host stands;
- :mod:`~gis.checks.discolored.passes` — the plan and the two windowed passes in threads;
  :mod:`~gis.checks.discolored.dask` — the same tasks on a Dask cluster;
- :mod:`~gis.checks.discolored.pixels` — thresholds, pixel layers, masks and the spectral
  shape both passes use; :mod:`~gis.checks.discolored.kernels` — their compiled loops;
- :mod:`~gis.checks.discolored.baselines` — pass 1, robust stand baselines from histograms;
- :mod:`~gis.checks.discolored.crowns` — pass 2, crowns per window;
- :mod:`~gis.checks.discolored.season` — the image date's season and stands turning colour
  as a whole (autumn larch), judged by NIR loss;
- :mod:`~gis.checks.discolored.points` — point ids, ``--previous``, known points, summaries;
- :mod:`~gis.checks.discolored.accuracy` — accuracy on segment data and planted crowns.

:mod:`gis.checks.discolored.run` is the one edge: it reads the inputs and writes the outputs
(``linyuan detect discolored``).
"""

from gis.checks.discolored.baselines import Baselines
from gis.checks.discolored.crowns import WindowResult, detect_window
from gis.checks.discolored.detect import (
    RULES_PATH,
    DiscoloredResult,
    DiscoloredRules,
    detect_discolored,
    host_list,
    host_stands,
    load_discolored_rules,
    with_rules,
)
from gis.checks.discolored.passes import Plan, make_plan, run_passes, stand_histograms
from gis.checks.discolored.pixels import CrownRules

__all__ = [
    "RULES_PATH",
    "Baselines",
    "CrownRules",
    "DiscoloredResult",
    "DiscoloredRules",
    "Plan",
    "WindowResult",
    "detect_discolored",
    "detect_window",
    "host_list",
    "host_stands",
    "load_discolored_rules",
    "make_plan",
    "run_passes",
    "stand_histograms",
    "with_rules",
]
