"""gis.io — the only place that opens files.

Readers turn files as the bureau receives them (GBK shapefiles, zips, GeoPackage, FileGDB,
GeoJSON, KML, CSV, GeoTIFF) into frames in the working CRS, with findings; writers write
every output atomically (temporary file, then rename), sharing the value rules of
:mod:`gis.io.formats`. :mod:`gis.io.outputs` is the one results edge of the checks' ``run.py``:
output planning, input checksums, engine metadata and staged all-or-nothing writes of every
output of a run.
"""

from gis.io._atomic import atomic_path, check_overwrite, require_writable
from gis.io.containers import list_layers
from gis.io.kml import write_kml
from gis.io.rasters import open_raster, write_geotiff
from gis.io.shapefile_write import shapefile_field_map, write_shapefile
from gis.io.tables import distinct_headers, lonlat_columns, to_table, write_table
from gis.io.text import write_text
from gis.io.vector_fix import GCJ02
from gis.io.vector_read import read_layer, read_layers, read_table
from gis.io.vector_write import write_layer, write_layers

__all__ = [
    "GCJ02",
    "atomic_path",
    "check_overwrite",
    "distinct_headers",
    "list_layers",
    "lonlat_columns",
    "open_raster",
    "read_layer",
    "read_layers",
    "read_table",
    "require_writable",
    "shapefile_field_map",
    "to_table",
    "write_geotiff",
    "write_kml",
    "write_layer",
    "write_layers",
    "write_shapefile",
    "write_table",
    "write_text",
]
