"""Issue 16, widened suite: a background is compared with the stands of its own class.

Broadleaf stands colour and drop their leaves in autumn and are bare in April while evergreen
conifers keep their needles: the scene's change is taken per leaf habit of the subcompartments'
优势树种 (:mod:`gis.checks.patches.stand`), and 无变化 like the class needs a canopy that would
show a clearing (evergreen, or both dates in leaf). Scenes are written as GeoTIFF files and run
through the check.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine

from gis.checks.patches import decide, derive_evidence, load_patch_rules
from gis.checks.patches.evidence import canopy_seen, stand_class
from gis.checks.patches.stand import CLASS_MIN_STANDS, class_changes
from gis.demo import robust, robust_wide
from gis.raster import raster_source
from tests.test_patch_wide_pests import BASE as DN_BASE

LIKE_RULES = ("C04_no_change_like_class", "C04_no_change_like_class_without_swir")


def _write(path, red, nir):
    with rasterio.open(
        path, "w", driver="GTiff", width=red.shape[1], height=red.shape[0], count=2,
        dtype="float32", crs="EPSG:32651", transform=Affine(10, 0, 0, 0, -10, 400),
    ) as dst:  # fmt: skip
        dst.write(np.stack([red, nir]).astype("float32"))
    return raster_source(path, bands="R,NIR")


def test_class_change_is_one_vote_per_stand_and_needs_three_stands(tmp_path):
    """Four oak stands lose leaves (NIR −30 %), one of them is cleared as well; three pines
    keep their needles; two larch stands are too few to be a reference."""
    rng = np.random.default_rng(3)
    red = np.full((40, 80), 0.03) * rng.uniform(0.98, 1.02, (40, 80))
    nir = np.full((40, 80), 0.34) * rng.uniform(0.98, 1.02, (40, 80))
    stands = [shapely.box(x, y, x + 80, y + 200) for y in (0, 200) for x in range(0, 800, 100)]
    species = ["蒙古栎", "白桦", "杨树", "柞树", "红松", "樟子松", "红松", "落叶松"]
    species += ["落叶松", None, None, None, None, None, None, None]
    after_red, after_nir = red.copy(), nir.copy()
    after_nir[20:, :40] *= 0.7  # the four deciduous stands (south row, first four columns)
    after_red[20:, :8], after_nir[20:, :8] = 0.09, 0.2  # … the first one cleared
    before = _write(tmp_path / "b.tif", red, nir)
    after = _write(tmp_path / "a.tif", after_red, after_nir)
    table = class_changes(before, after, stands, stand_class(pd.Series(species)).tolist())
    oak = table.loc["deciduous_broadleaf"]
    assert oak["class_stands"] == 4 >= CLASS_MIN_STANDS
    # a leaf-off oak stand's own change, not the cleared stand's and not the pines'
    v = lambda r, n: (n - r) / (n + r)  # noqa: E731
    leaf_off = v(0.03, 0.34 * 0.7) - v(0.03, 0.34)
    assert oak["class_dndvi"] == pytest.approx(leaf_off, abs=0.01)
    assert table.loc["evergreen_conifer", "class_dndvi"] == pytest.approx(0.0, abs=0.01)
    assert table.loc["deciduous_conifer", "class_stands"] == 2
    assert np.isnan(table.loc["deciduous_conifer", "class_dndvi"])


def test_canopy_is_seen_on_evergreen_stands_always_and_on_deciduous_ones_in_leaf():
    days = pd.DataFrame({"doy_before": [166.0] * 3, "doy_after": [108.0, 285.0, 108.0]})
    cls = pd.Series(["deciduous_broadleaf", "deciduous_broadleaf", "evergreen_conifer"])
    assert canopy_seen(cls, days, 135, 295).tolist() == [0.0, 1.0, 1.0]


def _row(**values):
    row = {**DN_BASE, "interp_cause": 1, "stand_class": "evergreen_conifer", "canopy_seen": 1.0}
    row.update(swir_used=0.0, doy_after=285.0, scene_dndvi=0.0, **values)
    return pd.DataFrame([row]).assign(permit_valid=pd.array([pd.NA], dtype="boolean"))


@pytest.mark.parametrize(
    ("dndvi", "ring", "klass", "canopy", "lost", "fires"),
    [
        (0.12, 0.12, 0.09, 1.0, 0.0, True),  # rose with its class (autumn, uncalibrated)
        (0.12, 0.12, 0.01, 1.0, 0.0, False),  # the ring 0.11 beyond its class (tolerance 0.1)
        (-0.20, -0.21, -0.20, 1.0, 0.0, True),
        (-0.20, -0.14, -0.20, 1.0, 0.0, False),  # the patch 0.06 beyond its ring: not quiet
        (-0.20, -0.21, -0.20, 0.0, 0.0, False),  # leafless: a clearing would not show
        (-0.20, -0.21, -0.20, 1.0, 0.02, False),  # a few pixels lost (red or NDVI)
        (-0.20, -0.21, np.nan, 1.0, 0.0, False),  # no class of three stands
    ],
)
def test_no_change_like_the_class_reasons_match_their_numbers(
    dndvi, ring, klass, canopy, lost, fires
):
    frame = _row(dndvi=dndvi, ring_dndvi=ring, class_dndvi=klass, canopy_seen=canopy)
    frame["loss_share"] = lost
    out = decide(derive_evidence(frame), load_patch_rules()).iloc[0]
    fired = out["rules_fired"].split("; ")[0]
    assert (fired in LIKE_RULES) == fires, out["rules_fired"]
    if not fires:
        assert out["legality"] in ("needs_field_check", "suspected_illegal")
        return
    assert out["legality"] == "no_change"
    numbers = [float(x) for x in re.findall(r"[+-]?\d+\.\d+", out["reasons"])]
    assert round(ring - klass, 2) in numbers and abs(ring - klass) <= 0.1
    assert round(dndvi - ring, 2) in numbers and abs(dndvi - ring) <= 0.05
    assert klass in numbers and "常绿针叶林" in out["reasons"]


def _checked(scene, folder):
    checked = robust.check_scene(scene, folder)
    truth = scene.truth.set_index("patch_id").add_suffix("_t")
    return checked.set_index("patch_id").join(truth)


def test_autumn_patch_like_its_class_without_swir_is_no_change_and_needs_the_class(tmp_path):
    """Sentinel-2 before, GF 8-bit R,G,B,NIR after in October (seed 24): an unchanged conifer
    patch interpreted as logging rose with the other evergreen stands."""
    scene = robust_wide.make_wide_scene(24)
    assert (scene.look.sensor, scene.look.season) == ("s2_gf", "autumn")
    got = _checked(scene, tmp_path / "with")
    p = got.loc["R012"]
    assert p["scenario_t"] == "false_phenology" and p["interp_cause"] == 1
    assert p["rules_fired"].startswith("C04_no_change_like_class_without_swir")
    assert p["legality"] == "no_change" and p["stand_class"] == "evergreen_conifer"
    assert abs(p["ring_vs_class"]) <= 0.1 and abs(p["rel_dndvi"]) <= 0.05
    assert f"{p['ring_vs_class']:+.2f}" in p["reasons"]
    # no real change in the scene was answered 无变化 by the class rules
    like = got["rules_fired"].str.split("; ").str[0].isin(LIKE_RULES)
    assert not (like & got["is_real_change_t"].astype(bool) & ~got["hidden_by_cloud_t"]).any()
    # without the 优势树种 there is no class to compare with: the loss cause stays unverified
    bare = scene.subcompartments.drop(columns="dominant_species")
    got = _checked(replace(scene, subcompartments=bare), tmp_path / "n")
    assert got.loc["R012", "legality"] == "needs_field_check"
    assert got["class_dndvi"].isna().all()


def test_leafless_spring_stands_are_never_shown_unchanged(tmp_path):
    """April, 8-bit (seed 29): an unchanged broadleaf patch and a logged one look alike against
    their leafless class — both go to the field, neither is cleared."""
    scene = robust_wide.make_wide_scene(29)
    assert scene.look.season == "spring"
    got = _checked(scene, tmp_path / "s")
    broad = got["stand_class"].eq("deciduous_broadleaf")
    assert broad.sum() >= 3 and (got.loc[broad, "canopy_seen"] == 0).all()
    fired = got.loc[broad, "rules_fired"].str.split("; ").str[0]
    assert not fired.isin(LIKE_RULES).any()
    assert got.loc[["R013", "R015"], "legality"].eq("needs_field_check").all()
    assert got.loc[["R013", "R015"], "scenario_t"].tolist() == [
        "false_phenology",
        "logging_no_permit",
    ]
