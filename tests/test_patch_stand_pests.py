"""Issue 16, widened suite: a pest outbreak around a patch, seen against the rest of its own
subcompartment (one stand: one phenology) on 8-bit imagery out of full leaf. Scenes are written
as GeoTIFF files and run through the check.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.checks.patches import stand_rest
from gis.checks.patches.check import raster_evidence
from gis.checks.patches.stand_rest import stand_zones
from gis.checks.patches.verdict import load_patch_rules
from gis.crs import WORKING_CRS
from gis.findings import Findings
from gis.zonal import reduce
from gis.zonal.inside import resolve_radiometry
from tests import test_patch_wide_pests as wide
from tests.test_patch_wide_pests import AUTUMN, DIEBACK, SLASH, _box

# R, NIR, SWIR2 reflectance of the season's targets (gis.demo.robust_wide.BLEND_TARGETS)
LARCH_YELLOW = np.array([0.075, 0.24, 0.080], dtype="f4")
LEAF_OFF = np.array([0.090, 0.19, 0.170], dtype="f4")
STAND = _box(8, 12, 62, 68)  # the conifer stand of the scene (columns 8-70, rows 12-80)


def _autumn(after):
    """October: the conifer stand yellows (larch, 30 %), the broadleaf strip drops leaves."""
    conifer = after[:, 12:80, 8:70]
    after[:, 12:80, 8:70] = 0.7 * conifer + 0.3 * LARCH_YELLOW[:, None, None]
    after[:, :12, 8:70] = 0.5 * after[:, :12, 8:70] + 0.5 * LEAF_OFF[:, None, None]


def _outbreak(after):
    """Autumn, and pests brown 44 × 44 px (80 % towards dieback) around the 20 × 20 px patch."""
    _autumn(after)
    after[:, 18:62, 18:62] = 0.2 * after[:, 18:62, 18:62] + 0.8 * DIEBACK[:, None, None]


def _cleared(after):
    _autumn(after)
    after[:, 18:62, 18:62] = SLASH[:, None, None]


def _check(tmp_path, paint, cause, stand=STAND):
    return wide._check(tmp_path, paint, cause, AUTUMN, stand=stand)


def test_outbreak_beyond_the_rest_of_its_stand_in_autumn_is_lawful_dieback(tmp_path):
    row = _check(tmp_path, _outbreak, 6)
    assert "C05_stand_disturbance" in row["rules_fired"]
    assert "T16_dieback_" in row["rules_fired"]  # the stand's or the wide one's wording
    assert row["change_type"] == "other_loss" and row["legality"] == "lawful_no_permit"
    # the patch fell with its ring, and beyond the rest of its stand (yellowed as much by autumn)
    assert abs(row["rel_dndvi"]) <= 0.1
    assert row["rel_stand_dndvi"] == pytest.approx(row["dndvi"] - row["stand_dndvi"])
    assert row["rel_stand_dndvi"] <= -0.05
    # the reason states the values it used
    assert f"所在小班其余部分 {row['stand_dndvi']:+.2f}" in row["reasons"]
    assert row["ring_vs_stand"] <= -0.05
    assert (
        f"多降 {row['rel_stand_dndvi']:+.2f}、周边多降 {row['ring_vs_stand']:+.2f}（阈值 -0.05）"
        in row["reasons"]
    )


def test_a_stand_that_only_turned_with_the_season_is_not_an_outbreak(tmp_path):
    row = _check(tmp_path, _autumn, 6)
    assert abs(row["rel_stand_dndvi"]) < 0.02
    assert "stand" not in row["rules_fired"]
    assert row["legality"] in ("no_change", "needs_field_check")


def test_a_patch_darker_alone_is_not_a_stand_outbreak(tmp_path):
    """Only the patch darkened (as under unmasked snow or a shadow): the ring kept its stand's
    change, so patch and surroundings did not fall together."""

    def patch_only(after):
        _autumn(after)
        after[:, 30:50, 30:50] = 0.65 * after[:, 30:50, 30:50] + 0.35 * DIEBACK[:, None, None]

    row = _check(tmp_path, patch_only, 6)
    assert row["rel_stand_dndvi"] <= -0.05 < row["ring_vs_stand"]
    assert "C05_stand_disturbance" not in row["rules_fired"]


def test_an_outbreak_over_the_whole_stand_has_no_stand_background(tmp_path):
    """The 小班 is the browned area itself: the rest of it browned too → field, as before."""
    row = _check(tmp_path, _outbreak, 6, stand=_box(18, 18, 44, 44))
    assert "stand" not in row["rules_fired"]
    assert row["legality"] == "needs_field_check"


def test_stand_background_is_for_disasters_and_other_losses_only(tmp_path):
    # interpreted as logging: not read, the rule does not apply
    row = _check(tmp_path, _outbreak, 1)
    assert pd.isna(row["stand_dndvi"]) and "stand" not in row["rules_fired"]
    assert row["legality"] in ("needs_field_check", "suspected_illegal")
    # a clearing as wide, interpreted as 其他减少: fell to a clearing's level, never lawful
    row = _check(tmp_path, _cleared, 6)
    assert row["legality"] in ("needs_field_check", "suspected_illegal")


def test_stand_zones_leave_out_every_patch_and_its_ring_and_are_read_once():
    patches = gpd.GeoDataFrame(
        geometry=[
            shapely.box(100, 100, 200, 200),
            shapely.box(300, 300, 350, 350),
            shapely.box(600, 100, 700, 200),
        ],
        crs=WORKING_CRS,
    )
    subs = gpd.GeoDataFrame(
        geometry=[shapely.box(0, 0, 500, 500), shapely.box(500, 0, 900, 500)], crs=WORKING_CRS
    )
    zones, which = stand_zones(patches, subs, 30.0, only=np.array([True, True, False]))
    assert which.tolist() == [0, 0, -1]  # one zone for both patches of the first 小班
    grown = shapely.buffer(patches.geometry.to_numpy()[:2], 30.0)
    expected = shapely.box(0, 0, 500, 500).difference(shapely.union_all(grown))
    assert len(zones) == 1 and zones.iloc[0].symmetric_difference(expected).area < 1e-6


def test_stands_from_the_patch_pass_windows_agree_with_their_own_zonal_pass(tmp_path, monkeypatch):
    """The stand tap (the patch pass's windows, read whole) gives the zonal pass's change of
    the rest of the 小班 (8-bit imagery: the median relative per-pixel change), and the same
    values where the pass reads boxes around the patch only (or runs on a Dask cluster) and
    the tap reads the stand's windows itself."""
    calls = []
    tap_call = stand_rest.StandTap.__call__

    def counted(self, *args, **kwargs):
        calls.append(args[5])  # the margin: the pass's grown windows, or 0 when read here
        return tap_call(self, *args, **kwargs)

    monkeypatch.setattr(stand_rest.StandTap, "__call__", counted)
    for name in ("tap", "own"):
        (tmp_path / name).mkdir()
    with monkeypatch.context() as whole:  # the pass reads whole windows (dense patches)
        whole.setattr(reduce, "_reads_whole", lambda *a: True)
        tapped = _check(tmp_path / "tap", _outbreak, 6)
    assert calls and min(calls) > 0  # the patch pass's windows fed the stand
    assert tapped["legality"] == "lawful_no_permit"
    # the zonal pass over the rest of the 小班 (the patch and its ring left out)
    before, after = wide._scene(tmp_path / "tap", _outbreak)
    patch = gpd.GeoDataFrame(geometry=[_box(30, 30, 20, 20)], crs=WORKING_CRS)
    zones, _ = stand_zones(patch, gpd.GeoDataFrame(geometry=[STAND], crs=WORKING_CRS), 30.0)
    zones = gpd.GeoDataFrame(geometry=zones)
    radio = resolve_radiometry(before)[0]
    zonal = raster_evidence(
        zones,
        pd.Series(True, index=zones.index),
        before,
        after,
        rules=load_patch_rules(None),
        findings=Findings(),
        radiometry=radio,
    )
    assert radio == "dn"
    assert tapped["stand_dndvi"] == pytest.approx(zonal["dndvi"].iloc[0], abs=0.01)
    # one patch: the pass reads a box around it, the tap reads the stand's windows itself
    calls.clear()
    own = _check(tmp_path / "own", _outbreak, 6)
    assert calls and max(calls) == 0
    assert own["stand_dndvi"] == tapped["stand_dndvi"]
    assert own["rules_fired"] == tapped["rules_fired"]
