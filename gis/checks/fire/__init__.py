"""森林防火: burned area and fire grade after a fire, lookout coverage for the plan.

The pure cores take frames and lazy raster sources and return frames:

- :mod:`~gis.checks.fire.burned` — dNBR, severity classes and fire-scar polygons of a
  before/after pair, windowed (:func:`trace_burned`);
- :mod:`~gis.checks.fire.damage` — 火场面积, 受害森林面积 per subcompartment, district and
  forest chief, the grade by 《森林防火条例》 Article 40 (:func:`assess_damage`);
- :mod:`~gis.checks.fire.coverage` — lookout coverage of forest land and fire zones, blind
  areas (:func:`assess_coverage`), through :mod:`~gis.checks.fire.viewshed` (GDAL's
  ``gdal_viewshed`` per tower) and :mod:`~gis.checks.fire.risk` (risk class per subcompartment);
- :mod:`~gis.checks.fire.rules` — ``layers/rules/fire.yaml``.

:mod:`gis.checks.fire.run` is the one edge (``linyuan fire …``).
"""

from gis.checks.fire.burned import BurnedRaster, nbr, trace_burned
from gis.checks.fire.coverage import CoverageResult, assess_coverage
from gis.checks.fire.damage import FireDamage, assess_damage
from gis.checks.fire.risk import risk_classes
from gis.checks.fire.rules import fire_grade, load_fire_rules
from gis.checks.fire.viewshed import Dem, Tower, ViewshedUnavailableError, seen_count

__all__ = [
    "BurnedRaster",
    "CoverageResult",
    "Dem",
    "FireDamage",
    "Tower",
    "ViewshedUnavailableError",
    "assess_coverage",
    "assess_damage",
    "fire_grade",
    "load_fire_rules",
    "nbr",
    "risk_classes",
    "seen_count",
    "trace_burned",
]
