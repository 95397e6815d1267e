import numpy as np
import pytest

from gis import indices


@pytest.mark.parametrize(
    ("func", "a", "b", "expected"),
    [
        (indices.ndvi, 0.5, 0.1, 0.4 / 0.6),
        (indices.gndvi, 0.5, 0.3, 0.2 / 0.8),
        (indices.grvi, 0.3, 0.1, 0.5),
        (indices.nbr, 0.4, 0.1, 0.6),
        (indices.ndre, 0.4, 0.2, 0.2 / 0.6),
        (indices.rg_ratio, 0.2, 0.1, 2.0),
    ],
)
def test_index_values(func, a, b, expected):
    assert float(func(np.array([a]), np.array([b]))[0]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("func", [indices.ndvi, indices.gndvi, indices.nbr, indices.grvi])
def test_zero_denominator_is_nan_without_warning(func):
    with np.errstate(all="raise"):
        out = func(np.array([0.0, 0.2, -0.1]), np.array([0.0, 0.2, 0.1]))
    assert np.isnan(out[0]) and np.isnan(out[2])
    assert out[1] == 0.0


def test_rg_ratio_zero_green_is_nan():
    assert np.isnan(indices.rg_ratio(np.array([0.3]), np.array([0.0]))[0])


def test_float32_stays_float32_and_matches_plain_formula():
    rng = np.random.default_rng(1)
    nir = rng.random((4, 5), dtype=np.float32)
    red = rng.random((4, 5), dtype=np.float32)
    out = indices.ndvi(nir, red)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, (nir - red) / (nir + red))


def test_integer_dn_and_broadcasting():
    out = indices.ndvi(np.array([[3000], [1000]], dtype=np.uint16), np.array([1000, 3000]))
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, [[0.5, 0.0], [0.0, -0.5]])


def test_index_roles_name_every_function():
    for name, roles in indices.INDEX_ROLES.items():
        assert callable(getattr(indices, name))
        assert len(roles) == 2
