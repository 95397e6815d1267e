"""Issue 16, widened suite: stand-wide pests seen against a full-leaf scene (any radiometry), and
undecided changes off forest land. Scenes are written as GeoTIFF files and run through the check.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine

from gis.checks.patches import check_patches, decide, derive_evidence, load_patch_rules
from gis.checks.patches.evidence import image_days
from gis.crs import WORKING_CRS
from gis.findings import Findings
from gis.io import write_geotiff
from gis.raster import raster_source
from tests.test_patch_verdicts import BASE as VERDICT_BASE

X0, Y0, PX, SIZE = 500_000.0, 4_850_000.0, 10.0, 90
# R, NIR, SWIR2 reflectance
CONIFER = np.array([0.022, 0.26, 0.055], dtype="f4")
DIEBACK = np.array([0.060, 0.23, 0.120], dtype="f4")  # pest browning: red up, NIR kept
CROP = np.array([0.045, 0.33, 0.130], dtype="f4")
SLASH = np.array([0.090, 0.20, 0.190], dtype="f4")
BARE = np.array([0.150, 0.23, 0.250], dtype="f4")
BROADLEAF = np.array([0.030, 0.34, 0.080], dtype="f4")
BUILT = np.array([0.130, 0.17, 0.180], dtype="f4")
WATER = np.array([0.030, 0.015, 0.005], dtype="f4")
SUMMER = ("2025-06-15", "2026-06-20")
AUTUMN = ("2025-06-15", "2026-10-12")


def _box(c, r, w, h):
    return shapely.box(X0 + c * PX, Y0 - (r + h) * PX, X0 + (c + w) * PX, Y0 - r * PX)


def _scene(tmp_path, paint, *, roles="R,NIR,SWIR2", cropland=False):
    """Write an 8-bit stretched pair of a conifer scene with broadleaf, fields, bare and built
    land and water (a delivery's 2-98 % stretch spans them; with ``cropland``, a field under the
    patch) with ``paint(after)`` applied; return the sources."""
    rng = np.random.default_rng(16)
    cover = np.broadcast_to(CONIFER[:, None, None], (3, SIZE, SIZE)).copy()
    cover[:, :, :8] = BARE[:, None, None]
    cover[:, :, 70:] = CROP[:, None, None]
    cover[:, :12, 8:70] = BROADLEAF[:, None, None]
    cover[:, 80:, 8:40] = BUILT[:, None, None]
    cover[:, 80:, 40:70] = WATER[:, None, None]
    if cropland:
        cover[:, 25:55, 25:55] = CROP[:, None, None]
    before = (cover * rng.uniform(0.97, 1.03, cover.shape)).astype("f4")
    after = (before * rng.uniform(0.99, 1.01, before.shape)).astype("f4")
    paint(after)
    keep = [("R", "NIR", "SWIR2").index(r) for r in roles.split(",")]
    out = []
    for name, arr in (("before", before[keep]), ("after", after[keep])):
        lo, hi = np.percentile(arr, [2, 98], axis=(1, 2), keepdims=True)
        data = np.clip(1 + 254 * (arr - lo) / (hi - lo), 1, 255).astype("uint8")
        path = tmp_path / f"{name}.tif"
        write_geotiff(path, data, transform=Affine(PX, 0, X0, 0, -PX, Y0), crs=WORKING_CRS,
                      nodata=0, overwrite=True)  # fmt: skip
        out.append(raster_source(path, bands=roles))
    return out


def _browned(after):
    """Pests brown a 44 × 44 px stand (80 % towards dieback) around the 20 × 20 px patch."""
    after[:, 18:62, 18:62] = 0.2 * after[:, 18:62, 18:62] + 0.8 * DIEBACK[:, None, None]


def _cleared(after):
    after[:, 18:62, 18:62] = SLASH[:, None, None]


def _check(tmp_path, paint, cause, dates, stand=None, **scene):
    """Check the patch (columns and rows 30-50) of ``_scene``; its 小班 ``stand`` (default
    columns and rows 25-55)."""
    before, after = _scene(tmp_path, paint, **scene)
    patches = gpd.GeoDataFrame(
        {
            "patch_id": ["P0"],
            "interp_cause": [cause],
            "image_date_before": [dates[0]],
            "image_date_after": [dates[1]],
        },
        geometry=[_box(30, 30, 20, 20)],
        crs=WORKING_CRS,
    )
    land = "耕地" if scene.get("cropland") else "乔木林地"
    subs = gpd.GeoDataFrame(
        {"subcompartment_id": ["S0"], "land_class": [land], "gyl_level": ["商品林"]},
        geometry=[_box(25, 25, 30, 30) if stand is None else stand],
        crs=WORKING_CRS,
    )
    out = check_patches(
        patches, before=before, after=after, subcompartments=subs, findings=Findings()
    )
    return out.patches_checked.iloc[0]


def test_image_days_are_days_of_the_year_and_missing_dates_are_null():
    frame = pd.DataFrame({"image_date_before": ["2025-06-15", None]})
    days = image_days(frame, ("2025-07-01", "2026-08-31"))
    assert days["doy_before"].tolist() == [166.0, 182.0]  # the patch's own date wins
    assert days["doy_after"].tolist() == [243.0, 243.0]
    assert image_days(frame)["doy_after"].isna().all()


def test_stand_wide_browning_on_8bit_imagery_in_full_leaf_is_lawful_dieback(tmp_path):
    row = _check(tmp_path, _browned, 6, SUMMER)
    assert "C05_wide_disturbance_full_leaf" in row["rules_fired"]
    assert row["change_type"] == "other_loss" and row["legality"] == "lawful_no_permit"
    assert "T16_dieback_wide_relative" in row["rules_fired"]
    # the reason states the days and the fall it used
    assert "第 166、171 天" in row["reasons"]
    assert f"多降 {-row['ring_vs_scene']:.2f}" in row["reasons"]
    assert f"相对整景变化 {row['dndvi']:+.2f}" in row["reasons"]


def test_stand_wide_browning_across_seasons_or_called_logging_goes_to_the_field(tmp_path):
    # June against October: leaf fall or larch yellowing may move a stand as far → field
    row = _check(tmp_path, _browned, 6, AUTUMN)
    assert "full_leaf" not in row["rules_fired"]
    assert row["legality"] == "needs_field_check"
    # a clearing as wide, interpreted as 其他减少: its fall against the scene is no canopy's
    row = _check(tmp_path, _cleared, 6, SUMMER)
    assert "C05_wide_disturbance_full_leaf" in row["rules_fired"]
    assert row["dndvi"] < -0.3 and row["legality"] == "suspected_illegal"
    # interpreted as logging in full leaf: the rule is for disasters and other losses only
    row = _check(tmp_path, _browned, 1, SUMMER)
    assert "full_leaf" not in row["rules_fired"]
    assert row["legality"] in ("needs_field_check", "suspected_illegal")


def test_undecided_change_off_forest_land_is_not_forest_land(tmp_path):
    """A cropland patch interpreted as 占地 on R,NIR imagery: the check cannot rule out a change
    that keeps NDVI (no SWIR), but off forest land that need not be decided."""
    scene = {"roles": "R,NIR", "cropland": True}
    row = _check(tmp_path, lambda a: None, 2, SUMMER, **scene)
    assert row["is_real_change"] is pd.NA or pd.isna(row["is_real_change"])
    assert "L01_not_forest_land_undecided" in row["rules_fired"]
    assert row["legality"] == "not_forest_land"
    assert "林地仅占 0%" in row["reasons"]
    # the same patch on forest land goes to the field
    row = _check(tmp_path, lambda a: None, 2, SUMMER, roles="R,NIR")
    assert row["legality"] == "needs_field_check"


BASE = {
    **VERDICT_BASE,  # a clear forest patch (tests/test_patch_verdicts.py), here uncalibrated
    "covered_frac": 1.0,
    "ndvi_before": np.nan,
    "ndvi_after": np.nan,
    "dnbr": np.nan,
    "n_pixels": 200,
    "seen_px": 200,
    "pixel_m2": 100.0,
    "area_ha": 2.0,
    "area_mu": 30.0,
    "interp_cause": 6,
    "doy_before": 166.0,
    "doy_after": 171.0,
    "scene_dndvi": 0.0,
}


@pytest.mark.parametrize(
    ("dndvi", "ring", "ndvi_after", "doy_after", "wide"),
    [
        (-0.20, -0.19, np.nan, 171.0, True),  # uncalibrated, in full leaf
        (-0.12, -0.11, np.nan, 171.0, True),
        (-0.12, -0.09, np.nan, 171.0, False),  # ring within 0.1 of the scene
        (-0.32, -0.20, np.nan, 171.0, False),  # the patch fell 0.12 beyond the ring
        (-0.20, -0.19, np.nan, 285.0, False),  # October: not full leaf
        (-0.13, -0.12, 0.62, 171.0, True),  # reflectance
        (-0.13, -0.12, 0.30, 171.0, True),  # reflectance, canopy gone: not dieback
    ],
)
def test_full_leaf_reasons_match_their_numbers(dndvi, ring, ndvi_after, doy_after, wide):
    row = {**BASE, "dndvi": dndvi, "ring_dndvi": ring, "ndvi_after": ndvi_after}
    row["doy_after"] = doy_after
    if not np.isnan(ndvi_after):
        row["ndvi_before"] = 0.8
    frame = pd.DataFrame([row]).assign(permit_valid=pd.array([pd.NA], dtype="boolean"))
    ev = derive_evidence(frame)
    out = decide(ev, load_patch_rules()).iloc[0]
    assert ("C05_wide_disturbance_full_leaf" in out["rules_fired"]) == wide
    if not wide:
        return
    numbers = [float(x) for x in re.findall(r"[+-]?\d+\.\d+", out["reasons"])]
    assert -ring in numbers  # the surroundings' fall beyond the scene
    assert round(dndvi - ring, 2) in numbers  # the difference, within the tolerance
    assert abs(dndvi - ring) <= 0.1
    if np.isnan(ndvi_after):
        assert out["legality"] == "lawful_no_permit" and dndvi in numbers
    elif ndvi_after >= 0.4:
        assert out["legality"] == "lawful_no_permit" and ndvi_after in numbers
    else:  # no canopy left: not dieback, never cleared
        assert out["legality"] == "suspected_illegal"


def test_a_cluster_lost_beyond_a_browned_ring_is_not_stand_wide_dieback():
    """Salvage logging in a pest stand: the cluster decides (C02), not the stand-wide rule."""
    row = {**BASE, "dndvi": -0.20, "ring_dndvi": -0.19, "loss_share": 0.1, "largest_loss_px": 20}
    frame = pd.DataFrame([row]).assign(permit_valid=pd.array([pd.NA], dtype="boolean"))
    out = decide(derive_evidence(frame), load_patch_rules()).iloc[0]
    assert "C02_loss_cluster" in out["rules_fired"]
    assert "wide" not in out["rules_fired"]
    assert out["legality"] == "suspected_illegal"
