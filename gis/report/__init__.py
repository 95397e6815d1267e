"""gis.report — verification reports from results GeoPackages and the field store.

Notebooks (``notebooks/*.ipynb``) open a report and call one section function per cell; they
hold no logic. ``linyuan report …`` runs them with :func:`render_report`::

    rep = report.open_patch_report("patches_checked.gpkg", field="field.gpkg", lang="zh")
    report.title(rep)
    report.patch_summary(rep)

Modules: :mod:`~gis.report.data` (load results and field records), :mod:`~gis.report.tables`
(summary tables), :mod:`~gis.report.figures` (charts and maps), :mod:`~gis.report.blocks`
(what a section shows), the four reports' sections, :mod:`~gis.report.render`.
"""

from gis.report.common import Report, findings_section, title
from gis.report.data import ReportInputError, load_field_records, load_results
from gis.report.discolored_report import (
    discolored_field_outcomes,
    discolored_map,
    discolored_summary,
    discolored_tables,
    open_discolored_report,
    point_verification,
)
from gis.report.fire_report import (
    burned_section,
    fire_map,
    hotspot_section,
    open_fire_report,
)
from gis.report.fire_report import coverage_section as fire_coverage_section
from gis.report.greenery_report import (
    coverage_section,
    kpi_charts,
    kpi_section,
    open_greenery_report,
    underserved_section,
)
from gis.report.patch_report import (
    open_patch_report,
    patch_breakdown,
    patch_field_outcome,
    patch_map,
    patch_summary,
    patch_verification,
    suspected_illegal_list,
)
from gis.report.render import ReportError, render_report

__all__ = [
    "Report",
    "ReportError",
    "ReportInputError",
    "burned_section",
    "coverage_section",
    "discolored_field_outcomes",
    "discolored_map",
    "discolored_summary",
    "discolored_tables",
    "findings_section",
    "fire_coverage_section",
    "fire_map",
    "hotspot_section",
    "kpi_charts",
    "kpi_section",
    "load_field_records",
    "load_results",
    "open_discolored_report",
    "open_fire_report",
    "open_greenery_report",
    "open_patch_report",
    "patch_breakdown",
    "patch_field_outcome",
    "patch_map",
    "patch_summary",
    "patch_verification",
    "point_verification",
    "render_report",
    "suspected_illegal_list",
    "title",
    "underserved_section",
]
