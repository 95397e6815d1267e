"""Results open cleanly in older clients: GeoPackage 1.2, typed dates, Chinese aliases.

GDAL 3.6 (Debian 12's, and the GDAL under QGIS 3.22 LTR) warns "may only be partially
supported" on a GeoPackage 1.4. The last test opens every GeoPackage, XLSX and KMZ the demo's
checks write with Debian's ``ogrinfo`` (package ``gdal-bin``, installed by
``.ci/system-packages``); outside CI it is skipped when ``ogrinfo`` is absent.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from report_helpers import demo_results
from verify_helpers import record, write_export

from gis.cli.main import cli
from gis.io import write_layers
from gis.io.geopackage import date_columns
from gis.verify import import_exports

OGRINFO = shutil.which("ogrinfo")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "patch_id": ["220102-001", "220102-002"],
            "image_date_before": pd.to_datetime(["2025-09-05", None]),
            "checked_at": pd.to_datetime(["2026-09-18 10:30", "2026-09-18 11:00"]),
            "permit_end": [dt.date(2026, 12, 31), None],
            "dndvi": [-0.31, 0.02],
            "note": ["a", "b"],
        },
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(200, 0, 300, 100)],
        crs="EPSG:4551",
    )


def _columns(con: sqlite3.Connection, table: str) -> dict[str, str]:
    return {row[1]: row[2] for row in con.execute(f'PRAGMA table_info("{table}")')}


def test_geopackage_is_version_1_2_with_dates_and_chinese_aliases(tmp_path: Path) -> None:
    path = write_layers(
        tmp_path / "结果.gpkg",
        {"patches_checked": _frame(), "run": pd.DataFrame({"key": ["x"], "value": ["1"]})},
    )
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA application_id").fetchone() == (0x47504B47,)  # "GPKG"
        assert con.execute("PRAGMA user_version").fetchone() == (10200,)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        types = _columns(con, "patches_checked")
        stored = con.execute('SELECT image_date_before, permit_end FROM "patches_checked"')
        values = stored.fetchall()
        aliases = dict(
            con.execute(
                "SELECT column_name, name FROM gpkg_data_columns WHERE table_name = ?",
                ("patches_checked",),
            )
        )
        extensions = {r[0] for r in con.execute("SELECT table_name FROM gpkg_extensions")}
    assert types["image_date_before"] == "DATE" and types["permit_end"] == "DATE"
    assert types["checked_at"] == "DATETIME"  # a time of day: stays a timestamp
    assert values == [("2025-09-05", "2026-12-31"), (None, None)]
    assert aliases["patch_id"] == "判读图斑编号"
    assert aliases["image_date_before"] == "前期影像时间"
    assert "note" not in aliases and "geometry" not in aliases
    assert {"gpkg_data_columns", "gpkg_data_column_constraints"} <= extensions
    back = pyogrio.read_dataframe(path, layer="patches_checked")
    assert back["image_date_before"].iloc[0] == pd.Timestamp("2025-09-05")
    assert back["checked_at"].iloc[1] == pd.Timestamp("2026-09-18 11:00")
    assert back["dndvi"].tolist() == [-0.31, 0.02]
    info = pyogrio.read_info(path, layer="patches_checked")
    assert info["features"] == 2


def test_date_columns_are_midnight_datetimes_or_dates() -> None:
    assert date_columns(_frame()) == ["image_date_before", "permit_end"]
    assert date_columns(pd.DataFrame({"d": pd.to_datetime([None, None])})) == []


@pytest.fixture(scope="module")
def demo_outputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The demo's results GeoPackages, plus the XLSX and KMZ its checks write on request."""
    results = demo_results(tmp_path_factory.getbasetemp())
    scene = results["patches"].parents[1]
    extra = tmp_path_factory.mktemp("exchange")
    args = [
        "check",
        "patches",
        str(scene / "change_patches.gpkg"),
        "--before",
        str(scene / "s2_before.tif"),
        "--after",
        str(scene / "s2_after.tif"),
        "--sensor",
        "sentinel2-l2a",
        "--out",
        str(extra / "patches.gpkg"),
        "--xlsx",
        str(extra / "核查表.xlsx"),
        "--kml",
        str(extra / "图斑.kmz"),
    ]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code in (0, 1), done.output
    store = extra / "外业记录.gpkg"  # the field store QGIS users open too
    import_exports([write_export(extra / "1.geojson", [record("0003")])], into=store)
    exchange = [extra / "patches.gpkg", extra / "核查表.xlsx", extra / "图斑.kmz", store]
    return [*results.values(), *exchange]


@pytest.mark.skipif(
    OGRINFO is None and not IN_CI, reason="ogrinfo (Debian gdal-bin) is not installed"
)
def test_gdal_ogrinfo_opens_every_output_without_warnings(demo_outputs: list[Path]) -> None:
    assert OGRINFO is not None, "CI must install gdal-bin (.ci/system-packages)"
    version = subprocess.run([OGRINFO, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("GDAL 3.")
    for path in demo_outputs:
        assert path.is_file(), path
        done = subprocess.run(
            [OGRINFO, "-al", "-so", str(path)],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        log = done.stdout + done.stderr
        assert done.returncode == 0, f"{path.name}: {log[-2000:]}"
        assert "Warning" not in log and "ERROR" not in log, f"{path.name}: {log[-2000:]}"
        assert "Layer name:" in done.stdout
        if path.suffix == ".gpkg":
            with sqlite3.connect(path) as con:
                assert con.execute("PRAGMA user_version").fetchone() == (10200,), path.name
