"""森林防火: satellite hotspots, burned area and fire grade, lookout coverage for the plan.

The pure cores take frames and lazy raster sources and return frames:

- :mod:`~gis.checks.fire.hotspots` — :func:`check_hotspots`, the hotspot orchestrator;
- :mod:`~gis.checks.fire.detections` — FIRMS VIIRS/MODIS and provincial tables: product,
  UTC time, confidence, pixel footprint;
- :mod:`~gis.checks.fire.surroundings` — land under the footprint, nearest forest, zones,
  administration, heat sources;
- :mod:`~gis.checks.fire.events` — repeat detections grouped into events;
- :mod:`~gis.checks.fire.seasons` — fire-prevention periods as data;
- :mod:`~gis.checks.fire.triage` — the hotspot rules file, verdict, priority, deadline, reasons;
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
from gis.checks.fire.events import EVENT_COLUMNS, event_labels, event_table, summarise_events
from gis.checks.fire.hotspots import (
    RESULT_COLUMNS,
    HotspotCheckResult,
    check_hotspots,
    prepare_hotspots,
    spatial_evidence,
)
from gis.checks.fire.risk import risk_classes
from gis.checks.fire.rules import fire_grade, load_fire_rules
from gis.checks.fire.seasons import Seasons, load_seasons, season_of
from gis.checks.fire.triage import FIRE_KINDS, HOTSPOT_SCHEMA, decide, load_hotspot_rules
from gis.checks.fire.viewshed import Dem, Tower, ViewshedUnavailableError, seen_count

__all__ = [
    "EVENT_COLUMNS",
    "FIRE_KINDS",
    "HOTSPOT_SCHEMA",
    "RESULT_COLUMNS",
    "BurnedRaster",
    "CoverageResult",
    "Dem",
    "FireDamage",
    "HotspotCheckResult",
    "Seasons",
    "Tower",
    "ViewshedUnavailableError",
    "assess_coverage",
    "assess_damage",
    "check_hotspots",
    "decide",
    "event_labels",
    "event_table",
    "fire_grade",
    "load_fire_rules",
    "load_hotspot_rules",
    "load_seasons",
    "nbr",
    "prepare_hotspots",
    "risk_classes",
    "season_of",
    "seen_count",
    "spatial_evidence",
    "summarise_events",
    "trace_burned",
]
