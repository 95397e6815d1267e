"""森林防火: burned area and fire grade after a fire, lookout coverage for the plan.

The pure cores take frames and lazy raster sources and return frames:

- :mod:`~gis.checks.fire.burned` — dNBR, severity classes and fire-scar polygons of a
  before/after pair, windowed (:func:`trace_burned`);
- :mod:`~gis.checks.fire.damage` — 火场面积, 受害森林面积 per subcompartment, district and
  forest chief, the grade by 《森林防火条例》 Article 40 (:func:`assess_damage`);
- :mod:`~gis.checks.fire.rules` — ``layers/rules/fire.yaml``.

:mod:`gis.checks.fire.run` is the one edge (``linyuan fire …``).
"""

from gis.checks.fire.burned import BurnedRaster, nbr, trace_burned
from gis.checks.fire.damage import FireDamage, assess_damage
from gis.checks.fire.rules import fire_grade, load_fire_rules

__all__ = [
    "BurnedRaster",
    "FireDamage",
    "assess_damage",
    "fire_grade",
    "load_fire_rules",
    "nbr",
    "trace_burned",
]
