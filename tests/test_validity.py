"""gis.validity: GEOS is asked once whether a geometry is valid (issue 17)."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import shapely

from gis import validity


def _counting(monkeypatch):
    asked: list[int] = []
    real = shapely.is_valid

    def is_valid(values):
        asked.append(len(values))
        return real(values)

    monkeypatch.setattr(validity.shapely, "is_valid", is_valid)
    return asked


def test_a_valid_geometry_is_tested_once_an_invalid_one_each_time(monkeypatch):
    square = shapely.box(0, 0, 100, 100)
    bowtie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    values = np.array([square, bowtie, None, shapely.Polygon()], dtype=object)
    expected = shapely.is_valid(values).tolist()
    asked = _counting(monkeypatch)
    first = validity.is_valid(values)
    again = validity.is_valid(values.copy())  # the same geometries in another array
    assert first.tolist() == again.tolist() == expected
    assert first.tolist() == [True, False, False, True]
    assert asked == [4, 2]  # the square and the empty polygon are not asked again


def test_an_equal_geometry_that_is_another_object_is_tested(monkeypatch):
    asked = _counting(monkeypatch)
    validity.is_valid(np.array([shapely.box(0, 0, 1, 1)], dtype=object))
    assert validity.is_valid(np.array([shapely.box(0, 0, 1, 1)], dtype=object)).tolist() == [True]
    assert asked == [1, 1]


def test_the_memo_keeps_no_geometry_alive():
    values = np.array([shapely.box(i, 0, i + 1, 1) for i in range(100)], dtype=object)
    validity.is_valid(values)
    refs = [weakref.ref(g) for g in values]
    del values
    gc.collect()
    assert all(r() is None for r in refs)
