"""Issue 16, widened suite: what the desk truly sees. The truth compares the change with the
after image on the after image's own (misregistered) grid and judges visibility over the
changed ground, not pixel by pixel."""

from __future__ import annotations

import numpy as np
import pytest

from gis.demo import robust_wide
from gis.demo.robust import COVERS, Look
from gis.demo.robust_wide import _visible

LOOK = Look("reflectance", 1.0, 0.0, 1.0, 1.0, 0.0, (0, 0), ("north", 0))


def _scene(cover_in, cover_out, shape=(20, 20), block=(slice(8, 11), slice(8, 11)), noise=0.0):
    """7-band images: ``cover_out`` everywhere, ``cover_in`` on ``block`` (after date only)."""
    rng = np.random.default_rng(0)
    unchanged = np.empty((7, *shape), dtype="f4")
    unchanged[:] = np.asarray(COVERS[cover_out][0], dtype="f4")[:, None, None]
    after = unchanged.copy()
    after[:, block[0], block[1]] = np.asarray(COVERS[cover_in][0], dtype="f4")[:, None, None]
    after *= 1.0 + noise * rng.standard_normal(after.shape).astype("f4")
    changed = np.zeros(shape, dtype=bool)
    changed[block] = True
    return after, unchanged, changed


def test_every_pixel_of_a_small_clearing_is_seen():
    """A 3 × 3 pixel clearing (1.35 亩 at 10 m): its rim is as visible as its middle.

    Smoothing the per-pixel test over unchanged pixels as well kept 5 of the 9.
    """
    after, unchanged, changed = _scene("slash", "conifer")
    seen = _visible(after, unchanged, LOOK, changed)
    assert seen.sum() == changed.sum() == 9


def test_sensor_noise_alone_is_not_a_visible_change():
    """Changed pixels whose after value is the unchanged one plus 2 % noise are not seen."""
    after, unchanged, changed = _scene("conifer", "conifer", noise=0.02)
    assert not _visible(after, unchanged, LOOK, changed).any()


@pytest.mark.parametrize("seed", [15, 17])
def test_a_wholly_seen_clearing_is_never_hidden_by_the_misregistration(seed):
    """Seeds with a one-pixel shift between the dates: every summer clearing of the plain
    logging kinds that lies wholly in the clear scene is seen, as the desk check sees it (the
    changed mask used to be compared with the after image one pixel off, hiding a clearing's
    edge or a whole small part)."""
    scene = robust_wide.make_wide_scene(seed)
    assert scene.look.shift != (0, 0) and scene.look.season == "summer"
    t = scene.truth
    plain = t["scenario"].isin(["logging_no_permit", "logging_bare_no_permit", "logging_expired"])
    clear = plain & (t["seen_frac"] >= 0.98)
    assert clear.sum() >= 1
    assert not t.loc[clear, "hidden_by_cloud"].any()
