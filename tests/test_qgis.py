"""QGIS 3.22 LTR (Debian 12's ``python3-qgis``) loads every results layer with Chinese headers.

QGIS runs on Debian's GDAL 3.6, which does not read the ``gpkg_data_columns`` aliases (GDAL
3.7+ does), so the headers come from the default style Linyuan writes into ``layer_styles``
(:mod:`gis.io.geopackage`). QGIS is driven by Debian's ``/usr/bin/python3`` in a subprocess
(``QT_QPA_PLATFORM=offscreen``), never from the project's venv. ``.ci/system-packages``
installs it; outside CI the test is skipped when it is absent.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pyogrio
import pytest
from report_helpers import demo_results, fire_results

from gis.io import list_layers

SYSTEM_PYTHON = Path("/usr/bin/python3")
HAVE_QGIS = SYSTEM_PYTHON.exists() and Path("/usr/lib/python3/dist-packages/qgis/core").is_dir()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CJK = re.compile(r"[\u4e00-\u9fff]")

LOADER = """
import json, sys
from osgeo import gdal
from qgis.core import Qgis, QgsApplication, QgsVectorLayer

app = QgsApplication([], False)
app.initQgis()
out = {"qgis": Qgis.QGIS_VERSION, "gdal": gdal.__version__, "layers": []}
for path, name in json.load(sys.stdin):
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    fields = layer.fields()
    out["layers"].append({
        "path": path, "layer": name, "valid": layer.isValid(),
        "features": layer.featureCount(), "fields": fields.names(),
        "aliases": {fields.at(i).name(): layer.attributeAlias(i) for i in range(fields.count())},
    })
    del layer, fields
app.exitQgis()
json.dump(out, sys.stdout, ensure_ascii=False)
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every results GeoPackage of the demo's checks (patches, points, greening, fire)."""
    root = tmp_path_factory.getbasetemp()
    return [*demo_results(root).values(), *fire_results(root).values()]


def _recorded_aliases(path: Path, table: str) -> dict[str, str]:
    with sqlite3.connect(path) as con:
        rows = con.execute(
            "SELECT column_name, name FROM gpkg_data_columns WHERE table_name = ?", (table,)
        )
        return dict(rows.fetchall())


def _qgis_load(layers: list[tuple[str, str]]) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", LOADER],
        input=json.dumps(layers),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.skipif(
    not HAVE_QGIS and not IN_CI, reason="QGIS (Debian python3-qgis) is not installed"
)
def test_qgis_3_22_loads_every_results_layer_with_chinese_aliases(results: list[Path]) -> None:
    assert HAVE_QGIS, "CI must install python3-qgis (.ci/system-packages)"
    wanted = [(str(path), name) for path in results for name in list_layers(path)]
    assert len(wanted) >= 3 * len(results)  # each has its layers, findings and run
    assert all(name != "layer_styles" for _, name in wanted)
    got = _qgis_load(wanted)
    assert got["qgis"].startswith("3.")
    loaded = {(item["path"], item["layer"]): item for item in got["layers"]}
    chinese = 0
    for path, name in wanted:
        item = loaded[(path, name)]
        info = pyogrio.read_info(path, layer=name)
        assert item["valid"], (path, name)
        assert item["features"] == info["features"], (path, name)
        assert [f for f in item["fields"] if f != "fid"] == list(info["fields"]), (path, name)
        recorded = _recorded_aliases(Path(path), name)
        shown = {k: v for k, v in item["aliases"].items() if v}
        assert shown == recorded, (path, name)
        chinese += sum(bool(CJK.search(v)) for v in shown.values())
    assert chinese >= 100  # most result columns have a Chinese header
    patches = next(v for (p, n), v in loaded.items() if n == "patches_checked")
    assert patches["aliases"]["patch_id"] == "判读图斑编号"
    points = next(v for (p, n), v in loaded.items() if n == "discolored_points")
    assert points["aliases"]["point_id"] == "点位编号"
    assert CJK.search(points["aliases"]["status"])
    major, minor = (int(x) for x in got["gdal"].split(".")[:2])
    if (major, minor) < (3, 7):  # gpkg_data_columns unread: the aliases came from layer_styles
        assert got["qgis"].startswith("3.22"), got["qgis"]
