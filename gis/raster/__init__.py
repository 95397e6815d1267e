"""Lazy raster sources: sensor profiles, band roles, windows, reflectance.

A :class:`RasterSource` is a path plus what is needed to read it as reflectance by band role
(``B, G, R, RE, NIR, SWIR1, SWIR2``, or ``NDVI`` for a precomputed index band) and the facts of
its grid. An alpha band (``A``) is not a spectral role: where it is 0, as where a GDAL mask
(internal or ``.msk``) is 0, pixels are invalid. It holds no open file: it is picklable and is
opened where it is read (a thread, a Dask worker), so memory depends on the window read, never
on the raster.

Reflectance is ``DN * scale + offset`` (GDAL's convention). Sentinel-2 L2A from processing
baseline 04.00 stores ``BOA_ADD_OFFSET = -1000`` DN, i.e. ``(DN - 1000) / 10000`` = ``DN * 1e-4
- 0.1``; Landsat 8/9 Collection 2 Level-2 is ``DN * 2.75e-5 - 0.2``. GF-1/GF-2 and UAV
cameras arrive as DN (scale 1): normalized-difference indices (NDVI, NBR, …) computed on DN are
acceptable for change screening because both dates of one sensor share the gains, but they are
not surface-reflectance indices and should not be compared across sensors. A Sentinel-2 raster
without offset tags is judged by its darkest DN (an Earth Engine harmonised export has no
offset), and a float raster of a scaled sensor that holds reflectance already is read as it is
(:mod:`gis.raster.baseline`). Grids are north-up with coordinates that fit their CRS, else the
file is refused with the GDAL command that fixes it (:mod:`gis.raster.georeference`).

Products (Sentinel-2 ``.SAFE``, Landsat with its MTL), folders and lists of scenes enter
through :func:`raster_source` (:mod:`gis.raster.products`); two dates on different grids are
read on one analysis grid (:mod:`gis.raster.analysis_grid`).

Examples
--------
>>> sensor_profile("sentinel2-l2a").roles
('B', 'G', 'R', 'RE', 'NIR', 'SWIR1', 'SWIR2')
>>> parse_roles("b,g,r,nir")
('B', 'G', 'R', 'NIR')
"""

from gis.raster.analysis_grid import analysis_grid, common_grid, on_grid
from gis.raster.grid import Grid, grid_windows, tile_shape
from gis.raster.products import ImageSpec, image_specs, raster_source
from gis.raster.source import (
    DatasetMask,
    RasterReader,
    RasterSource,
    ReaderInUseError,
    file_source,
    require_usable,
)
from gis.sensors import (
    ALPHA,
    BINARY_MASK_INVALID,
    INDEX_ROLES,
    ROLES,
    SCL_INVALID,
    Sensor,
    SensorProfile,
    parse_roles,
    sensor_profile,
)

__all__ = [
    "ALPHA",
    "BINARY_MASK_INVALID",
    "INDEX_ROLES",
    "ROLES",
    "SCL_INVALID",
    "DatasetMask",
    "Grid",
    "ImageSpec",
    "RasterReader",
    "RasterSource",
    "ReaderInUseError",
    "Sensor",
    "SensorProfile",
    "analysis_grid",
    "common_grid",
    "file_source",
    "grid_windows",
    "image_specs",
    "on_grid",
    "parse_roles",
    "raster_source",
    "require_usable",
    "sensor_profile",
    "tile_shape",
]
