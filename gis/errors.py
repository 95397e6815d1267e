"""Linyuan's exceptions: one root, typed children, messages a person can act on.

Every message names what was being read (file, layer, feature or field), what is wrong,
and the fix (the flag to pass or the other call that may have been meant). Data-quality
problems that do not stop the work are findings (:mod:`gis.findings`), not exceptions.
"""

from __future__ import annotations


class GisError(Exception):
    """Root of every error Linyuan raises on purpose."""


class CRSError(GisError, ValueError):
    """A coordinate reference system is missing, unknown or not usable here."""


class CRSMismatchError(CRSError):
    """Two inputs of one computation are in different coordinate reference systems."""


class DataSourceError(GisError, OSError):
    """A file or database cannot be opened or read as a layer or raster."""


class SchemaError(GisError, ValueError):
    """A layer lacks required fields or has fields of the wrong kind."""


class EncodingError(DataSourceError):
    """The text encoding of an attribute table cannot be decided."""


class RasterError(GisError, ValueError):
    """A raster does not fit the task (bands, sensor, grid, overlap)."""


class OutputExistsError(GisError, FileExistsError):
    """An output file exists and ``overwrite`` was not requested."""


class UnsafeArchiveError(DataSourceError):
    """A zip archive has member paths that would escape the extraction folder."""


class RulesError(GisError, ValueError):
    """A rules or targets file is malformed: unknown key, missing value, wrong type."""


class OptionError(GisError, ValueError):
    """A string option (language, sensor, engine, grouping …) has a value outside its list."""
