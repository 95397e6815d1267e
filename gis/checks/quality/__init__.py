"""数据质检: a layer against its catalog contract.

The pure core is :mod:`~gis.checks.quality.contract` (:func:`validate_frame`: a frame in,
findings out); :mod:`gis.checks.quality.run` is the one edge (:func:`validate_file` reads the
layer, ``linyuan validate``).
"""

from gis.checks.quality.contract import validate_frame

__all__ = ["validate_frame"]
