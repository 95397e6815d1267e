"""Greenery checks: greening KPIs against targets, and park service coverage.

The pure core takes frames and returns frames:

- :mod:`~gis.checks.greenery.kpi` — :func:`greenery_kpi`: greenway km, parks by category,
  pocket parks, village greening, afforestation 亩, parks under construction and opened for
  sharing, per district and city, per year, against ``layers/targets.yaml``;
- :mod:`~gis.checks.greenery.coverage` — :func:`park_coverage`: 公园绿地服务半径覆盖率 and
  the "300 米见绿，500 米见园" figures, straight-line or along the road network
  (:mod:`~gis.checks.greenery.network`), with the underserved residential land ranked as
  candidate pocket-park sites;
- :mod:`~gis.checks.greenery.districts` — what both share: the city and district rows, the
  geometry-type guard and the district join.

:mod:`gis.checks.greenery.run` is the one edge: it reads the layers and writes the results
(``linyuan greenery kpi``, ``linyuan greenery coverage``).
"""

from gis.checks.greenery.coverage import (
    CoverageOptions,
    CoverageResult,
    Measure,
    RadiusClass,
    park_coverage,
)
from gis.checks.greenery.districts import (
    CITY,
    OUTSIDE,
    assign_districts,
    district_names,
    require_geometry,
)
from gis.checks.greenery.kpi import KPI_COLUMNS, KpiResult, greenery_kpi

__all__ = [
    "CITY",
    "KPI_COLUMNS",
    "OUTSIDE",
    "CoverageOptions",
    "CoverageResult",
    "KpiResult",
    "Measure",
    "RadiusClass",
    "assign_districts",
    "district_names",
    "greenery_kpi",
    "park_coverage",
    "require_geometry",
]
