"""森林督查图斑核查: evidence and a reasoned verdict for every suspicious change patch.

The pure core takes frames and lazy raster sources and returns frames:

- :mod:`~gis.checks.patches.check` — :func:`check_patches`, the orchestrator (patch ids and
  geometry, raster evidence from :func:`gis.zonal.change_stats`, vector evidence, verdict);
- :mod:`~gis.checks.patches.evidence` — vector evidence: areas, land, protection,
  administration, permits;
- :mod:`~gis.checks.patches.verdict` — the rules file, derived evidence, the decision table
  and the reasons.

:mod:`gis.checks.patches.run` is the one edge: it reads the inputs and writes the results
(``linyuan check patches``).
"""

from gis.checks.patches.check import (
    PatchCheckResult,
    assemble,
    check_patches,
    prepare_patches,
    raster_evidence,
    run_metadata,
    summary_counts,
    vector_evidence,
)
from gis.checks.patches.verdict import (
    CHANGE_TYPES,
    DEFAULT_RULES,
    EVIDENCE_COLUMNS,
    LEGALITIES,
    PATCH_SCHEMA,
    RASTER_COLUMNS,
    VECTOR_COLUMNS,
    VERDICT_COLUMNS,
    decide,
    derive_evidence,
    load_patch_rules,
    reasons,
)

__all__ = [
    "CHANGE_TYPES",
    "DEFAULT_RULES",
    "EVIDENCE_COLUMNS",
    "LEGALITIES",
    "PATCH_SCHEMA",
    "RASTER_COLUMNS",
    "VECTOR_COLUMNS",
    "VERDICT_COLUMNS",
    "PatchCheckResult",
    "assemble",
    "check_patches",
    "decide",
    "derive_evidence",
    "load_patch_rules",
    "prepare_patches",
    "raster_evidence",
    "reasons",
    "run_metadata",
    "summary_counts",
    "vector_evidence",
]
