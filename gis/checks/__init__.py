"""The domain checks: one package per check, each a pure core and one edge (``run.py``).

- :mod:`gis.checks.quality` — 数据质检: a layer against its catalog contract.
- :mod:`gis.checks.patches` — 森林督查图斑核查: evidence and a reasoned verdict per patch.
- :mod:`gis.checks.discolored` — 变色立木监测: discolored trees in host stands as points.
- :mod:`gis.checks.greenery` — greening KPIs against targets, park service coverage.

The core of a check takes frames and lazy raster sources and returns frames (no paths, no
charts, no map styles); its ``run.py`` alone reads the inputs and writes the outputs through
:mod:`gis.io` (``tests/test_house_rules.py`` holds every check to this). Packages are
imported on use (``from gis.checks.quality import validate_frame``), so importing this package
stays cheap.
"""
