"""Shared by the report tests: the demo results (built once per test session) and a field store."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

RESULTS = {
    "patches": "patches_checked.gpkg",
    "discolored": "discolored.gpkg",
    "kpi": "kpi.gpkg",
    "coverage": "coverage.gpkg",
}


@functools.cache
def demo_results(root: Path) -> dict[str, Path]:
    """Build the demo scene under ``root`` and run its checks once; return the results files."""
    from gis.demo import build_demo
    from gis.demo.run import check_patches, detect_discolored, greenery_coverage, greenery_kpi

    scene = build_demo(root / "report_demo")
    for step in (check_patches, detect_discolored, greenery_kpi):
        assert step(scene).ok
    assert greenery_coverage(scene).ok
    folder = root / "report_demo" / "results"
    return {name: folder / file for name, file in RESULTS.items()}


LOG_COLUMNS = (
    "record_id",
    "kind",
    "layer",
    "feature_id",
    "is_real_change",
    "verified_cause_code",
    "outcome",
    "sample_taken",
    "sample_id",
    "inspector",
    "device_time",
    "device_time_utc",
)


def make_field_store(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """Write a field store as `linyuan verify import` lays it out: the log and the latest view.

    The log is written by GDAL (an attribute table); the view is added with SQL and registered
    in ``gpkg_contents``, as the import does, so GDAL lists it.
    """
    import pandas as pd
    import pyogrio

    frame = pd.DataFrame([{c: r.get(c) for c in LOG_COLUMNS} for r in records], columns=LOG_COLUMNS)
    for col in ("is_real_change", "sample_taken"):
        frame[col] = frame[col].astype("boolean")
    frame["verified_cause_code"] = frame["verified_cause_code"].astype("Int64")
    pyogrio.write_dataframe(frame, path, layer="verification_log", driver="GPKG")
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE VIEW verification_latest AS SELECT l.* FROM verification_log AS l
          WHERE l.fid = (SELECT m.fid FROM verification_log AS m WHERE m.layer = l.layer
            AND m.feature_id = l.feature_id ORDER BY m.device_time_utc DESC, m.fid DESC LIMIT 1);
        INSERT INTO gpkg_contents (table_name, data_type, identifier)
          VALUES ('verification_latest', 'attributes', 'verification_latest');
        """
    )
    con.commit()
    con.close()
    return path


def record(layer: str, feature_id: str, k: int, **verdict: Any) -> dict[str, Any]:
    """One field record (``kind`` field unless given) with a device time ``k`` minutes in."""
    time = f"2026-10-01T08:{k % 60:02d}:00+08:00"
    utc = f"2026-10-01T00:{k % 60:02d}:00Z"
    return {
        "record_id": f"r{k:05d}",
        "kind": "field",
        "layer": layer,
        "feature_id": feature_id,
        "inspector": "王护林员",
        "device_time": time,
        "device_time_utc": utc,
        **verdict,
    }
