"""The table of ``linyuan`` commands; each lives in its own module under :mod:`gis.cli`.

The table names a command's module and attribute and keeps its short help, so that
``linyuan --help`` lists every command without importing any of them (start-up stays well
under 0.3 s; geopandas, rasterio and the checks load only when a command runs).
``tests/test_cli_startup.py`` checks that each short help here equals the command's own.
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    """Where a command lives and the one line ``linyuan --help`` shows for it."""

    module: str
    attribute: str
    short_help: str


COMMANDS: dict[str, Entry] = {
    "validate": Entry(
        "gis.cli.validate", "validate", "Check a layer against the catalog (数据质检)."
    ),
    "map": Entry(
        "gis.cli.map", "map_command", "Offline HTML field maps (one file, no network needed)."
    ),
    "check": Entry("gis.cli.check", "check", "Run a check (patches: 森林督查图斑核查)."),
    "greenery": Entry(
        "gis.cli.greenery",
        "greenery",
        "Greening KPIs (绿美城市) and park service coverage (公园绿地服务半径覆盖率).",
    ),
    "detect": Entry(
        "gis.cli.detect", "detect", "Detections from imagery (discolored: 变色立木监测)."
    ),
    "demo": Entry(
        "gis.cli.demo", "demo", "Build the demo scene (净月潭) and run every check on it."
    ),
    "verify": Entry(
        "gis.cli.verify", "verify", "Field verification: import records, lab results, 核查率."
    ),
    "report": Entry("gis.cli.report", "report", "Verification reports (核查报告) as HTML or DOCX."),
    "export": Entry(
        "gis.cli.export",
        "export",
        "Export results for other tools (KMZ for 奥维互动地图 / Google Earth).",
    ),
    "fire": Entry(
        "gis.cli.fire", "fire", "森林防火: hotspots, burned area and grade, lookout coverage."
    ),
}
