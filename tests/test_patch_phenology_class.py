"""Issue 16, widened suite: backgrounds by stand class, and no change only where a clearing shows.

Broadleaf stands colour and drop their leaves in autumn and are bare in April while evergreen
conifers keep their needles: the scene's change is taken per leaf habit of the subcompartments'
优势树种 (:mod:`gis.checks.patches.stand`, evidence ``class_dndvi``/``ring_vs_class``), and 无变化
needs a canopy against which a clearing would show (``canopy_seen``: evergreen, or both dates
in leaf). Scenes are written as GeoTIFF files and run through the check.
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
    row = {**DN_BASE, "interp_cause": 6, "dndvi": -0.05, "ring_dndvi": -0.06, **values}
    return pd.DataFrame([row]).assign(permit_valid=pd.array([pd.NA], dtype="boolean"))


@pytest.mark.parametrize(
    ("klass", "doy_after", "leafless"),
    [
        ("deciduous_broadleaf", 108.0, True),  # April: bare
        ("deciduous_broadleaf", 285.0, False),  # October: colouring, leaves still on
        ("deciduous_conifer", 300.0, True),  # larch needles down
        (None, 108.0, True),  # species unknown: possibly deciduous
        ("evergreen_conifer", 108.0, False),  # pines keep their needles
        ("deciduous_broadleaf", np.nan, False),  # no date: as before (no season known)
    ],
)
def test_no_change_needs_a_canopy_a_clearing_would_show_against(klass, doy_after, leafless):
    days = pd.DataFrame({"doy_before": [166.0], "doy_after": [doy_after]})
    t = load_patch_rules().thresholds
    seen = canopy_seen(pd.Series([klass]), days, t["leaf_on_first_doy"], t["leaf_on_last_doy"])
    frame = _row(stand_class=klass, doy_after=doy_after, canopy_seen=seen.iloc[0])
    out = decide(derive_evidence(frame), load_patch_rules()).iloc[0]
    first = out["rules_fired"].split("; ")[0]
    if not leafless:
        assert first == "C04_no_change" and out["legality"] == "no_change"
        return
    assert first == "C06_leafless_stand" and out["legality"] == "needs_field_check"
    numbers = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", out["reasons"])]
    assert {166.0, doy_after, t["leaf_on_first_doy"], t["leaf_on_last_doy"]} <= set(numbers)
    label = {None: "树种未知的林分", "deciduous_broadleaf": "落叶阔叶林"}.get(klass, "落叶松林")
    assert label in out["reasons"]


def _checked(scene, folder):
    checked = robust.check_scene(scene, folder)
    truth = scene.truth.set_index("patch_id").add_suffix("_t")
    return checked.set_index("patch_id").join(truth)


def test_class_evidence_through_the_check_and_without_the_species(tmp_path):
    """Sentinel-2 before, GF 8-bit R,G,B,NIR after in October (seed 24): each patch's class
    change is its class's, the same for every patch of the class; without 优势树种 none."""
    scene = robust_wide.make_wide_scene(24)
    assert (scene.look.sensor, scene.look.season) == ("s2_gf", "autumn")
    got = _checked(scene, tmp_path / "with")
    forest = got[got["stand_class"].notna()]
    assert set(forest["stand_class"]) >= {"evergreen_conifer", "deciduous_broadleaf"}
    per_class = forest.groupby("stand_class")["class_dndvi"].nunique(dropna=False)
    assert (per_class == 1).all()
    ring_vs = forest["ring_dndvi"] - forest["class_dndvi"]
    assert np.allclose(forest["ring_vs_class"], ring_vs, equal_nan=True)
    assert (forest["canopy_seen"] == 1).all()  # June and October: leaves still on
    bare = scene.subcompartments.drop(columns="dominant_species")
    none = _checked(replace(scene, subcompartments=bare), tmp_path / "n")
    assert none["class_dndvi"].isna().all() and none["stand_class"].isna().all()
    assert none["legality"].tolist() == got["legality"].tolist()  # in leaf: no verdict moves


def test_leafless_spring_stands_are_never_shown_unchanged(tmp_path):
    """April, 8-bit (seed 29): an unchanged broadleaf patch and a logged one look alike against
    their leafless neighbours — both go to the field, neither is cleared."""
    scene = robust_wide.make_wide_scene(29)
    assert scene.look.season == "spring"
    got = _checked(scene, tmp_path / "s")
    broad = got["stand_class"].eq("deciduous_broadleaf")
    assert broad.sum() >= 3 and (got.loc[broad, "canopy_seen"] == 0).all()
    assert not got.loc[got["canopy_seen"] == 0, "legality"].eq("no_change").any()
    assert got.loc[["R013", "R015"], "legality"].eq("needs_field_check").all()
    kinds = got.loc[["R013", "R015"], "scenario_t"].tolist()
    assert kinds == ["false_phenology", "logging_no_permit"]
