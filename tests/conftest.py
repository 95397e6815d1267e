"""Shared fixtures: tiny data in the working CRS and the path to ../shared/data."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gis.crs import WORKING_CRS

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real third-party data in ../shared/data (skip when absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def squares() -> gpd.GeoDataFrame:
    """Three 100 m × 100 m squares (1 ha = 15 亩 each) near Changchun, in EPSG:4551."""
    x0, y0 = 500_000.0, 4_850_000.0
    geoms = [shapely.box(x0 + i * 200, y0, x0 + i * 200 + 100, y0 + 100) for i in range(3)]
    return gpd.GeoDataFrame({"patch_id": ["A1", "A2", "A3"]}, geometry=geoms, crs=WORKING_CRS)
