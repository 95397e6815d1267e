"""Shared by the report tests: the demo results (built once per test session) and a field store."""

from __future__ import annotations

import contextlib
import functools
import re
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


FIRE_RESULTS = {
    "hotspots": "hotspots.gpkg",
    "burned": "fire_burned.gpkg",
    "coverage": "fire_coverage.gpkg",
}


@functools.cache
def fire_results(root: Path) -> dict[str, Path]:
    """Build the demo scene under ``root`` and run the three fire steps once; return their files."""
    from gis.demo import build_demo
    from gis.demo.run import fire_checks, fire_hotspots

    scene = build_demo(root / "fire_report_demo")
    assert fire_hotspots(scene).ok
    assert all(step.ok for step in fire_checks(scene))
    folder = root / "fire_report_demo" / "results"
    return {name: folder / file for name, file in FIRE_RESULTS.items()}


def html_figure(html: str, key: str) -> str:
    """Return the value of the key figure ``data-key=key`` of a rendered HTML report."""
    m = re.search(rf'data-key="{key}">([^<]*)</span>', html)
    assert m, key
    return m.group(1)


def make_field_store(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """Write a field store as `linyuan verify import` lays it out, through gis.verify.store.

    Each record is a row of the log; the columns an import fills from the export file
    (photos, source file and digests, import time) get neutral values.
    """
    from gis.verify import store

    filled = {
        "photos": "[]",
        "photo_count": 0,
        "imported_at": "2026-10-02T00:00:00.000Z",
        "source_file": "helper.geojson",
        "source_sha256": "0" * 64,
    }
    rows = [{**filled, "record_sha256": f"sha-{r['record_id']}", **r} for r in records]
    with contextlib.closing(store.connect(path)) as con, store.transaction(con):
        store.ensure_schema(con)
        assert store.insert_rows(con, rows) == len(rows)
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
