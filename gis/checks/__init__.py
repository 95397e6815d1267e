"""The domain checks: each takes frames (and lazy raster sources) and returns frames or findings.

- :mod:`gis.checks.quality` — 数据质检: a layer against its catalog contract.
- :mod:`gis.checks.patch_evidence` and the patches check — 森林督查图斑核查.
- :mod:`gis.checks.greenery`, :mod:`gis.checks.coverage` — greening KPIs, park service coverage.

Modules are imported on use (``from gis.checks.quality import validate_frame``), so importing
this package stays cheap.
"""
