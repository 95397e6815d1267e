"""Linyuan (林园): checks, offline field maps and reports for a forestry and landscape bureau.

The library composes geopandas, shapely, pyogrio, rasterio, folium and Dask; it does not
re-implement them. Only :mod:`gis.io` opens files; everything else takes frames and lazy
raster sources and returns frames.
"""

from gis.crs import WORKING_CRS
from gis.errors import GisError
from gis.findings import Finding, Findings, Severity
from gis.units import M2_PER_HA, M2_PER_MU, area_ha, area_m2, area_mu, length_km, length_m

__version__ = "0.1.0"

__all__ = [
    "M2_PER_HA",
    "M2_PER_MU",
    "WORKING_CRS",
    "Finding",
    "Findings",
    "GisError",
    "Severity",
    "__version__",
    "area_ha",
    "area_m2",
    "area_mu",
    "length_km",
    "length_m",
]
