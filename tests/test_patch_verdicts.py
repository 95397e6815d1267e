"""Issue 16: changed area inside patches, no-change on positive evidence, reasons that match
their numbers, losses that keep NDVI, fires with their surroundings, uncalibrated imagery, and
the robustness suite's floors on a fast subset of its scenes."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine

from gis.checks.patches import check_patches, decide, derive_evidence, load_patch_rules
from gis.crs import WORKING_CRS
from gis.demo import robust
from gis.findings import Findings
from gis.io import write_geotiff
from gis.raster import raster_source
from gis.units import M2_PER_MU
from gis.zonal.inside import inside_stats, resolve_radiometry

X0, Y0, PX = 500_000.0, 4_850_000.0, 10.0
FOREST = (0.04, 0.35, 0.07)  # R, NIR, SWIR2: NDVI 0.79, NBR 0.67
SLASH = (0.12, 0.22, 0.20)
GREEN_CROP = (0.05, 0.34, 0.14)  # NDVI 0.74: kept; NBR 0.42: fell
CHAR = (0.06, 0.10, 0.22)


def _pair(tmp_path, paint, *, size=80, dtype="float32"):
    """Write a forest pair with ``paint(after)`` applied; return (before, after) sources.

    ``uint8``: delivered 8-bit stretched like 森林督查 imagery — a strip of bare land makes the
    scene's range, each band of each date is stretched over its own 2–98 % range.
    """
    rng = np.random.default_rng(5)
    before = np.stack([v * rng.uniform(0.97, 1.03, (size, size)) for v in FOREST]).astype("f4")
    if dtype == "uint8":
        _paint(before, (0.15, 0.23, 0.25), 0, 0, 12, size)
    after = before * rng.uniform(0.99, 1.01, before.shape).astype("f4")
    paint(after)
    transform = Affine(PX, 0, X0, 0, -PX, Y0)
    out = []
    for name, arr in (("before", before), ("after", after)):
        data, nodata = arr, -1.0
        if dtype == "uint8":
            lo, hi = np.percentile(arr, [2, 98], axis=(1, 2), keepdims=True)
            data, nodata = np.clip(1 + 254 * (arr - lo) / (hi - lo), 1, 255).astype("uint8"), 0
        path = tmp_path / f"{name}.tif"
        write_geotiff(path, data, transform=transform, crs=WORKING_CRS, nodata=nodata)
        out.append(raster_source(path, bands="R,NIR,SWIR2"))
    return out


def _box(c, r, w, h):
    return shapely.box(X0 + c * PX, Y0 - (r + h) * PX, X0 + (c + w) * PX, Y0 - r * PX)


def _paint(arr, cover, c, r, w, h):
    for b, v in enumerate(cover):
        arr[b, r : r + h, c : c + w] = v


def test_partial_clearing_is_measured_inside_the_patch(tmp_path):
    # a 20 × 20 px patch (4 ha, 60 亩); its western 6 columns cleared (30 %)
    before, after = _pair(tmp_path, lambda a: _paint(a, SLASH, 20, 20, 6, 20))
    zones = np.array([_box(20, 20, 20, 20), _box(50, 50, 20, 20)], dtype=object)
    out = inside_stats(zones, before, after, ring_m=30.0)
    assert out.loc[0, "seen_px"] == 400
    assert out.loc[0, "loss_share"] == pytest.approx(0.30, abs=0.02)
    assert out.loc[0, "largest_loss_px"] == pytest.approx(120, abs=6)
    assert out.loc[1, "loss_share"] == 0.0 and out.loc[1, "largest_loss_px"] == 0
    assert out.loc[0, "ring_loss_share"] < 0.05


def test_green_crop_after_clearing_is_a_loss_by_swir_not_ndvi(tmp_path):
    before, after = _pair(tmp_path, lambda a: _paint(a, GREEN_CROP, 20, 20, 20, 20))
    out = inside_stats(np.array([_box(20, 20, 20, 20)], dtype=object), before, after)
    assert abs(out.loc[0, "dndvi_px"]) < 0.1  # NDVI kept
    assert out.loc[0, "loss_share"] > 0.9  # NBR fell, SWIR2 doubled


def test_burned_share_uses_the_one_severity_definition(tmp_path):
    def fire(a):
        _paint(a, CHAR, 10, 10, 50, 50)  # the patch and all its surroundings burned

    before, after = _pair(tmp_path, fire)
    out = inside_stats(np.array([_box(25, 25, 20, 20)], dtype=object), before, after)
    assert out.loc[0, "burned_share"] == 1.0 and out.loc[0, "ring_burned_share"] == 1.0


def test_eight_bit_imagery_is_recognised_as_uncalibrated(tmp_path):
    before, _ = _pair(tmp_path, lambda a: None, dtype="uint8")
    assert resolve_radiometry(before)[0] == "dn"
    assert resolve_radiometry(before, "reflectance")[0] == "reflectance"


def _patches(boxes, causes):
    return gpd.GeoDataFrame(
        {"patch_id": [f"P{k}" for k in range(len(boxes))], "interp_cause": causes},
        geometry=boxes,
        crs=WORKING_CRS,
    )


def test_a_changed_cluster_above_the_mapping_unit_is_never_no_change(tmp_path):
    # 4 × 4 px = 0.16 ha = 2.4 亩 cleared in a 60 亩 patch: the mean barely moves
    before, after = _pair(tmp_path, lambda a: _paint(a, SLASH, 30, 30, 4, 4))
    patches = _patches([_box(20, 20, 20, 20)], [1])
    out = check_patches(patches, before=before, after=after, findings=Findings())
    row = out.patches_checked.iloc[0]
    assert row["largest_loss_cluster_mu"] == pytest.approx(16 * PX * PX / M2_PER_MU, rel=0.1)
    assert row["changed_area_mu"] == pytest.approx(2.4, abs=0.3)
    assert row["legality"] == "suspected_illegal"
    assert "最小上图面积 1 亩" in row["reasons"]
    # a larger minimum mapping unit leaves the same patch undecided, never cleared
    out = check_patches(
        patches, before=before, after=after, findings=Findings(), min_mapping_unit_mu=3.0
    )
    assert out.patches_checked.iloc[0]["legality"] in ("needs_field_check", "suspected_illegal")


def test_uncalibrated_run_says_so_in_reasons_and_run(tmp_path):
    before, after = _pair(tmp_path, lambda a: _paint(a, SLASH, 20, 20, 20, 20), dtype="uint8")
    patches = _patches([_box(20, 20, 20, 20), _box(50, 50, 20, 20)], [1, 6])
    out = check_patches(patches, before=before, after=after, findings=Findings())
    checked = out.patches_checked.set_index("patch_id")
    assert out.run["radiometry"]["used"] == "dn"
    assert checked["reasons"].str.startswith("【未定标影像").all()
    assert checked["ndvi_before"].isna().all()  # no reflectance levels on DN
    assert checked.loc["P0", "legality"] == "suspected_illegal"
    assert checked.loc["P1", "legality"] == "no_change"


# --- reasons that match their numbers ---------------------------------------------------

BASE = {
    "valid_frac_before": 1.0,
    "valid_frac_after": 1.0,
    "ndvi_before": 0.8,
    "ndvi_after": 0.8,
    "dnbr": -0.02,
    "drop_frac": 0.0,
    "n_pixels": 100.0,
    "seen_px": 100.0,
    "area_ha": 1.0,
    "area_mu": 15.0,
    "loss_share": 0.0,
    "gain_share": 0.0,
    "largest_loss_px": 0.0,
    "largest_gain_px": 0.0,
    "ring_loss_share": 0.0,
    "forest_share": 1.0,
    "gyl_share": 0.0,
    "protected_share": 0.0,
    "land_class": "乔木林地",
    "permit_share": 0.0,
    "valid_permit_share": 0.0,
    "valid_logging_permit_share": 0.0,
    "valid_landuse_permit_share": 0.0,
    "permit_valid": pd.NA,
    "interp_cause": 1,
}


def _edge_cases():
    """Patch/ring NDVI changes around the tolerance, and clusters around the mapping unit."""
    rows = []
    for d, ring in [(-0.31, -0.03), (-0.12, -0.03), (-0.13, -0.03), (-0.05, -0.03), (0.0, 0.0),
                    (0.08, -0.03), (0.1, 0.0), (-0.25, -0.2), (0.2, 0.05)]:  # fmt: skip
        for cluster_px in (0.0, 6.0, 7.0, 30.0):
            rows.append(
                {
                    **BASE,
                    "dndvi": d,
                    "ring_dndvi": ring,
                    "dnbr": d,  # no burn signature
                    "largest_loss_px": cluster_px,
                    "loss_share": cluster_px / 100,
                    "drop_frac": cluster_px / 100,
                }
            )
    return pd.DataFrame(rows).assign(permit_valid=lambda f: f["permit_valid"].astype("boolean"))


def _numbers(text):
    return [float(x) for x in re.findall(r"[-+]?\d+\.\d+", text)]


def test_reasons_never_call_values_alike_beyond_the_tolerance():
    rules = load_patch_rules()
    tol = rules.thresholds["like_tolerance"]
    evidence = derive_evidence(_edge_cases())
    out = decide(evidence, rules)
    for (_, ev), reason, legality in zip(
        evidence.iterrows(), out["reasons"], out["legality"], strict=True
    ):
        rel = ev["dndvi"] - ev["ring_dndvi"]
        if "超出容差" in reason:  # the sentence's claim holds for its numbers
            assert abs(rel) > tol, reason
        if "容差 ±0.10 内" in reason:
            assert abs(rel) <= tol + 1e-9, reason
        if "相当" in reason:
            assert abs(rel) <= tol + 1e-9, reason
            # the sentence states the two values and their difference, as computed
            nums = _numbers(reason)
            assert round(ev["dndvi"], 2) in nums and round(ev["ring_dndvi"], 2) in nums
            assert round(rel, 2) in nums and tol in nums
        if legality == "no_change":
            assert (
                "相当" in reason and ev["largest_cluster_mu"] < rules.thresholds["clean_cluster_mu"]
            )
        if ev["largest_cluster_mu"] >= 1.0:  # a cluster of the mapping unit: never cleared
            assert legality not in ("no_change", "lawful_no_permit", "permitted"), reason
    # the case: −0.31 against −0.03 is not "alike", and is not cleared
    first = out.iloc[0]
    assert "相当" not in first["reasons"]
    assert first["legality"] == "needs_field_check" and int(first["field_priority"]) == 1
    assert out.iloc[3]["legality"] == "suspected_illegal"  # with a 30-pixel (4.5 亩) cluster


def test_gain_against_a_loss_cause_goes_to_the_field():
    row = {**BASE, "dndvi": 0.2, "ring_dndvi": 0.0, "ndvi_before": 0.8, "interp_cause": 3}
    frame = pd.DataFrame([row]).assign(permit_valid=pd.array([pd.NA], dtype="boolean"))
    out = decide(derive_evidence(frame), load_patch_rules()).iloc[0]
    assert out["legality"] == "needs_field_check" and int(out["field_priority"]) == 1
    assert "毁林开垦" in out["reasons"]


# --- the robustness suite, fast subset ------------------------------------------------------


@pytest.mark.parametrize("delivery", ["reflectance", "byte", "dn16"])
def test_robust_scene_truth_is_consistent(delivery):
    scene = robust.make_scene(11, size_px=140, n_patches=10, delivery=delivery)
    t = scene.truth
    assert len(t) == len(scene.patches) >= 5
    assert (t.loc[t["hidden_by_cloud"], "legality"] == "needs_field_check").all()
    assert t["changed_share"].between(0.1, 1.0).all()


def test_robustness_floors_on_a_fast_subset(tmp_path):
    rows = []
    for seed, delivery in ((101, "reflectance"), (102, "byte"), (103, "dn16")):
        scene = robust.make_scene(seed, size_px=160, n_patches=16, delivery=delivery)
        checked = robust.check_scene(scene, tmp_path / str(seed))
        rows.append(robust.compare(checked, scene.truth).assign(seed=seed))
    all_rows = pd.concat(rows)
    per_seed = pd.DataFrame([robust.summary(g) for _, g in all_rows.groupby("seed")])
    total = robust.summary(all_rows)
    print(per_seed, total)
    # the floor on cleared violations holds on every subset; the accuracy floors of issue 16
    # (97/92/95 %) are measured on 30 seeds by scripts/eval_patches_robust.py — here one
    # patch of ~40 moves a share by 2.5 %, so the subset asserts 90 %
    assert total["violations"] >= 5
    assert total["cleared_rate"] <= 0.01
    assert per_seed["real_change"].mean() >= 0.90
    assert per_seed["change_type"].mean() >= 0.90
    assert per_seed["legality"].mean() >= 0.90
