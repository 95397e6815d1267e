"""森林防火: satellite hotspots checked and sent to the field (``linyuan fire hotspots``).

The pure core takes frames and returns frames:

- :mod:`~gis.checks.fire.hotspots` — :func:`check_hotspots`, the orchestrator;
- :mod:`~gis.checks.fire.detections` — FIRMS VIIRS/MODIS and provincial tables: product,
  UTC time, confidence, pixel footprint;
- :mod:`~gis.checks.fire.surroundings` — land under the footprint, nearest forest, zones,
  administration, heat sources;
- :mod:`~gis.checks.fire.events` — repeat detections grouped into events;
- :mod:`~gis.checks.fire.seasons` — fire-prevention periods as data;
- :mod:`~gis.checks.fire.triage` — the rules file, verdict, priority, deadline, reasons.

:mod:`gis.checks.fire.run` is the one edge: it reads the inputs and writes the results.
"""

from gis.checks.fire.events import EVENT_COLUMNS, event_labels, event_table, summarise_events
from gis.checks.fire.hotspots import (
    RESULT_COLUMNS,
    HotspotCheckResult,
    check_hotspots,
    prepare_hotspots,
    spatial_evidence,
)
from gis.checks.fire.seasons import Seasons, load_seasons, season_of
from gis.checks.fire.triage import FIRE_KINDS, HOTSPOT_SCHEMA, decide, load_hotspot_rules

__all__ = [
    "EVENT_COLUMNS",
    "FIRE_KINDS",
    "HOTSPOT_SCHEMA",
    "RESULT_COLUMNS",
    "HotspotCheckResult",
    "Seasons",
    "check_hotspots",
    "decide",
    "event_labels",
    "event_table",
    "load_hotspot_rules",
    "load_seasons",
    "prepare_hotspots",
    "season_of",
    "spatial_evidence",
    "summarise_events",
]
