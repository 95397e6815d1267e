"""Shared fixtures: tiny data in the working CRS and the path to ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from browser import browser, playwright_api  # noqa: F401  (one browser for every test module)

from gis.crs import WORKING_CRS

SHARED_DATA = Path(
    os.environ.get("LINYUAN_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real third-party data in ../shared/data.

    Skipped when absent on a developer's machine; in CI (``CI=true``) its absence fails,
    so the real-data tests cannot silently stop running.
    """
    if not SHARED_DATA.is_dir():
        message = f"shared data not found at {SHARED_DATA} (set LINYUAN_SHARED_DATA)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture
def squares() -> gpd.GeoDataFrame:
    """Three 100 m × 100 m squares (1 ha = 15 亩 each) near Changchun, in EPSG:4551."""
    x0, y0 = 500_000.0, 4_850_000.0
    geoms = [shapely.box(x0 + i * 200, y0, x0 + i * 200 + 100, y0 + 100) for i in range(3)]
    return gpd.GeoDataFrame({"patch_id": ["A1", "A2", "A3"]}, geometry=geoms, crs=WORKING_CRS)
