"""Issue 16, widened suite (seasons): gains are shown by what the season cannot do.

Leaf fall, dormant grass and harvest only lower NDVI between a June image and an autumn or
spring one, and a scene-normalised background that rose strongly still shows a patch that rose
further. Both are checked on rule rows (the reason states its numbers) and on scenes of the
widened suite written as GeoTIFF files and run through the check.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis.checks.patches import decide, derive_evidence, load_patch_rules
from gis.demo import robust, robust_wide
from tests.test_patch_robust_wide import _row as _wide_row

GAIN = {
    "dndvi": 0.16,
    "ring_dndvi": -0.31,
    "scene_dndvi": -0.21,
    "drop_frac": 0.0,
    "ndvi_before": 0.38,
    "ndvi_after": 0.55,
    "gain_share": 0.55,
    "largest_gain_px": 90,
    "interp_cause": 7,
}
"""A regrowing patch in an autumn scene whose broadleaf surroundings lost their leaves."""


def _row(**values):
    return _wide_row(**{**GAIN, **values})


def _decide(**values):
    return decide(derive_evidence(_row(**values)), load_patch_rules()).iloc[0]


def test_a_patch_that_rose_while_the_season_lowered_everything_gained():
    out = _decide()
    assert "C03_gain_against_season" in out["rules_fired"]
    assert out["change_type"] == "other_gain" and out["legality"] == "lawful_no_permit"
    # the reason states the numbers it used
    assert "+0.16" in out["reasons"] and "-0.31" in out["reasons"] and "-0.21" in out["reasons"]


@pytest.mark.parametrize(
    "values",
    [
        {"dndvi": -0.03},  # kept its NDVI (an evergreen among leafless broadleaf): not a gain
        {"interp_cause": 1},  # interpreted as logging: a green crop after clearing?
        {"scene_dndvi": 0.02},  # the scene did not fall: no season to argue from
        {"largest_loss_px": 40},  # part of it lost vegetation as well
    ],
)
def test_without_the_seasons_argument_a_fallen_background_still_decides_nothing(values):
    out = _decide(**values)
    assert "C03_gain_against_season" not in out["rules_fired"]
    assert out["legality"] in ("needs_field_check", "suspected_illegal")


def _checked(seed, tmp_path):
    scene = robust_wide.make_wide_scene(seed)
    checked = robust.check_scene(scene, tmp_path / str(seed))
    got = robust.compare(checked, scene.truth)
    return got, checked.set_index(checked["patch_id"].astype(str))


def test_autumn_regrowth_under_leaf_fall_is_a_lawful_gain_on_geotiffs(tmp_path):
    """Seed 1 of the widened suite: a regrowing clearing in an autumn scene whose broadleaf
    surroundings lost their leaves (ring −0.31) was 需现地核实 (C01_background_fell)."""
    got, checked = _checked(1, tmp_path)
    regrowth = got.index[
        got["scenario"].eq("regrowth") & got["truth_legality"].ne("needs_field_check")
    ]
    fired = checked.loc[regrowth, "rules_fired"]
    assert fired.str.contains("C03_gain_against_season").any()
    assert got.loc[regrowth, "legal_ok"].all()
    assert not got["cleared"].any()


def test_a_patch_that_rose_beyond_a_rising_background_gained():
    """Scene-normalised imagery: open land rises in an autumn scene's shrunken NDVI range."""
    values = {"dndvi": 0.53, "ring_dndvi": 0.36, "scene_dndvi": -0.01, "interp_cause": 5}
    out = _decide(**values, ndvi_before=None, ndvi_after=None, largest_gain_px=81)
    assert "C03_gain_beyond_rising_background" in out["rules_fired"]
    assert out["change_type"] == "afforestation" and out["legality"] == "lawful_no_permit"
    assert "+0.36" in out["reasons"] and "+0.53" in out["reasons"] and "+0.17" in out["reasons"]
    # rising with its background (no more than the gain threshold beyond it), a loss cluster,
    # or a cause other than a gain: the rising background still decides nothing
    for other in ({"dndvi": 0.40}, {"largest_loss_px": 40}, {"interp_cause": 6}):
        out = _decide(**{**values, **other}, ndvi_before=None, ndvi_after=None)
        assert "C03_gain_beyond_rising_background" not in out["rules_fired"]
        assert out["legality"] in ("needs_field_check", "suspected_illegal")


def test_planting_on_8_bit_after_imagery_in_autumn_is_a_lawful_gain_on_geotiffs(tmp_path):
    """Seed 7 of the widened suite: Sentinel-2 before, GF 8-bit after in October; the
    planting's surroundings rose +0.36 in scene units and it was 需现地核实."""
    got, checked = _checked(7, tmp_path)
    fired = checked.loc[got.index, "rules_fired"]
    hit = fired.str.contains("C03_gain_beyond_rising_background")
    assert hit.any()
    assert got.loc[hit[hit].index, "legal_ok"].all()
    assert not got["cleared"].any()


def test_seen_share_of_the_truth_is_not_a_rasterisation_artefact():
    """A pixel count × pixel area is not a 1-3 ha outline's area: wholly visible patches were
    "partly hidden" (seen 0.97 < 0.98) in the truth. Edge patches keep their share inside."""
    scene = robust_wide.make_wide_scene(42)
    t = scene.truth.set_index("patch_id")
    assert t.loc["R007", "seen_frac"] == 1.0 and t.loc["R007", "legality"] == "no_change"
    side = 201 * robust.PIXEL_M
    box = shapely.box(*robust.ORIGIN, robust.ORIGIN[0] + side, robust.ORIGIN[1] + side)
    geoms = scene.patches.set_index("patch_id").geometry
    edge = t.index[t["scenario"].str.startswith("edge_")]
    assert len(edge)
    for pid in edge:
        inside = geoms[pid].intersection(box).area / geoms[pid].area
        assert t.loc[pid, "seen_frac"] <= round(inside, 3) + 1e-9


def test_covered_share_is_the_outline_inside_the_raster_on_geotiffs(tmp_path):
    """Seed 25 (Landsat, 30 m): an unchanged patch 94 % inside by pixel count was 无变化; by its
    outline less of it lies in the imagery, and the part outside is not seen."""
    got, checked = _checked(25, tmp_path)
    scene = robust_wide.make_wide_scene(25)
    geoms = scene.patches.set_index("patch_id").geometry
    side = 201 * robust.PIXEL_M
    box = shapely.box(*robust.ORIGIN, robust.ORIGIN[0] + side, robust.ORIGIN[1] + side)
    share = geoms.intersection(box).area / geoms.area
    seen = checked["n_pixels"] > 0
    assert np.allclose(checked.loc[seen, "covered_frac"], share[seen[seen].index], atol=1e-6)
    edge = got.index[got["scenario"].eq("edge_unchanged")]
    assert len(edge) and (checked.loc[edge, "legality"] == "needs_field_check").all()
    assert not got["cleared"].any()
