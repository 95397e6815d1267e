"""Builders for the gis.verify tests: tiny results GeoPackages and field exports."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from gis.crs import WORKING_CRS
from gis.io import write_layers
from gis.verify import example_feature

PATCHES = {
    # patch_id: district, forest_chief, batch
    "0001": ("南关区", "张林长", "2026年第1期"),
    "0002": ("南关区", "张林长", "2026年第1期"),
    "0003": ("南关区", "李林长", "2026年第2期"),
    "0004": ("净月区", "李林长", "2026年第2期"),
    "0005": ("净月区", None, "2026年第2期"),
}
POINTS = {"DP1": ("净月区", "王林长"), "DP2": ("净月区", "王林长"), "DP3": (None, "王林长")}


def write_results(folder: Path) -> tuple[Path, Path]:
    """Write a patches_checked and a discolored results GeoPackage (with run tables)."""
    x0, y0 = 500_000.0, 4_850_000.0
    patches = gpd.GeoDataFrame(
        {
            "patch_id": list(PATCHES),
            "district": [v[0] for v in PATCHES.values()],
            "forest_chief": [v[1] for v in PATCHES.values()],
            "batch": [v[2] for v in PATCHES.values()],
        },
        geometry=[shapely.box(x0 + i * 200, y0, x0 + i * 200 + 100, y0 + 100) for i in range(5)],
        crs=WORKING_CRS,
    )
    points = gpd.GeoDataFrame(
        {
            "point_id": list(POINTS),
            "district": [v[0] for v in POINTS.values()],
            "forest_chief": [v[1] for v in POINTS.values()],
            "status": "unverified",
        },
        geometry=[shapely.Point(x0 + i * 10, y0 - 50) for i in range(3)],
        crs=WORKING_CRS,
    )
    run = pd.DataFrame({"section": ["check"], "key": [""], "value": ["patches"]})
    a = write_layers(folder / "patches_checked.gpkg", {"patches_checked": patches, "run": run})
    run2 = pd.DataFrame({"section": ["mode"], "key": [""], "value": ["points"]})
    b = write_layers(folder / "discolored.gpkg", {"discolored_points": points, "run": run2})
    return a, b


def photo(seed: str, mime: str = "image/jpeg") -> tuple[dict[str, str], bytes]:
    """Return a contract photo item and its bytes."""
    data = b"\xff\xd8\xff\xe0" + seed.encode() * 50
    item = {"mime": mime, "sha256": hashlib.sha256(data).hexdigest(),
            "data": base64.b64encode(data).decode()}  # fmt: skip
    return item, data


def record(
    feature_id: str,
    *,
    layer: str = "patches_checked",
    inspector: str = "王护林员",
    device_time: str = "2026-06-01T09:30:00+08:00",
    **props: Any,
) -> dict[str, Any]:
    """Return a valid Feature with a fresh record id; ``props`` override properties."""
    feature = example_feature(
        layer=layer,
        feature_id=feature_id,
        record_id=str(uuid.uuid4()),
        inspector=inspector,
        device_time=device_time,
    )
    feature["properties"].update(props)
    return feature


def write_export(path: Path, features: list[dict[str, Any]]) -> Path:
    """Write a FeatureCollection of ``features`` to ``path``."""
    doc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path
