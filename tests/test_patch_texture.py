"""Issue 16, 8-bit GF deliveries without SWIR: a clearing loses its crowns' texture, a stand's
autumn colour does not (gis.zonal.texture, rule C04_loss_texture)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from scipy.ndimage import gaussian_filter

from gis.checks.patches import check_patches, derive_evidence
from gis.crs import WORKING_CRS
from gis.demo import robust
from gis.findings import Findings
from gis.io import write_geotiff
from gis.raster import raster_source
from gis.zonal.inside import Normaliser
from gis.zonal.texture import TEXTURE_COLUMNS, texture_stats

X0, Y0, PX, SIZE = 500_000.0, 4_850_000.0, 10.0, 90
ROLES = "R,G,B,NIR"
# R, G, B, NIR reflectance
BROADLEAF = np.array([0.030, 0.055, 0.025, 0.34], dtype="f4")
LEAFOFF = np.array([0.090, 0.075, 0.060, 0.19], dtype="f4")  # stems, branches and litter
SLASH = np.array([0.090, 0.070, 0.050, 0.20], dtype="f4")
BARE = np.array([0.150, 0.110, 0.080, 0.23], dtype="f4")
CROP = np.array([0.045, 0.070, 0.035, 0.33], dtype="f4")
WATER = np.array([0.030, 0.040, 0.050, 0.015], dtype="f4")
STAND = (slice(8, 82), slice(8, 70))  # a broadleaf stand around the patch
PATCH = (slice(30, 50), slice(30, 50))


def _box(c, r, w, h):
    return shapely.box(X0 + c * PX, Y0 - (r + h) * PX, X0 + (c + w) * PX, Y0 - r * PX)


def _scene(tmp_path, *, cleared, autumn=True):
    """Write a June (before) and an October (after) 8-bit R,G,B,NIR pair of a broadleaf stand
    among bare land, fields and water; crowns vary 10 % from pixel to pixel, open land only by
    the sensor's noise (3 %). In autumn the whole stand colours (60 % towards leaf-off); with
    ``cleared`` the patch is half slash, half shrubs (no crowns) after. Return the two sources."""
    rng = np.random.default_rng(8)
    crowns = gaussian_filter(rng.standard_normal((SIZE, SIZE)), 0.7)
    crowns = (0.10 * crowns / crowns.std()).astype("f4")
    cover = np.broadcast_to(BARE[:, None, None], (4, SIZE, SIZE)).copy()
    cover[:, :, 70:] = CROP[:, None, None]
    cover[:, 82:, :40] = WATER[:, None, None]
    canopy = np.zeros((SIZE, SIZE), dtype="f4")
    canopy[STAND] = 1.0
    before = np.where(canopy > 0, BROADLEAF[:, None, None], cover)
    after = before.copy()
    if autumn:
        after[(slice(None), *STAND)] = 0.4 * BROADLEAF[:, None, None] + 0.6 * LEAFOFF[:, None, None]
    if cleared:  # slash and the coloured shrubs left standing: NDVI falls less than to bare slash
        shrubs = after[(slice(None), *PATCH)]
        after[(slice(None), *PATCH)] = 0.5 * SLASH[:, None, None] + 0.5 * shrubs
    canopy_after = canopy.copy()
    if cleared:
        canopy_after[PATCH] = 0.0
    out = []
    for name, refl, crown in (("before", before, canopy), ("after", after, canopy_after)):
        refl = refl * (1 + crown * crowns) * rng.normal(1.0, 0.03, refl.shape)
        full = np.zeros((len(robust.ROLES), SIZE, SIZE), dtype="f4")  # B,G,R,RE,NIR,SWIR1,2
        full[[robust.ROLES.index(r) for r in ROLES.split(",")]] = refl
        invalid = np.zeros((SIZE, SIZE), dtype=bool)  # the suite's 8-bit delivery: 2-98 %
        data, _ = robust._deliver(full, invalid, "byte", seed=8, date=name)
        path = tmp_path / f"{name}.tif"
        write_geotiff(path, data, transform=Affine(PX, 0, X0, 0, -PX, Y0), crs=WORKING_CRS,
                      nodata=0, overwrite=True)  # fmt: skip
        out.append(raster_source(path, bands=",".join(robust.delivered_roles("byte"))))
    return out


def _check(tmp_path, *, cause=1, mmu_mu=None, **scene):
    before, after = _scene(tmp_path, **scene)
    patches = gpd.GeoDataFrame(
        {
            "patch_id": ["P0"],
            "interp_cause": [cause],
            "image_date_before": ["2025-06-15"],
            "image_date_after": ["2026-10-12"],
        },
        geometry=[_box(30, 30, 20, 20)],
        crs=WORKING_CRS,
    )
    subs = gpd.GeoDataFrame(
        {"subcompartment_id": ["S0"], "land_class": ["乔木林地"], "gyl_level": ["商品林"]},
        geometry=[_box(8, 8, 62, 74)],
        crs=WORKING_CRS,
    )
    out = check_patches(
        patches,
        before=before,
        after=after,
        subcompartments=subs,
        findings=Findings(),
        min_mapping_unit_mu=mmu_mu,
    )
    return out.patches_checked.iloc[0]


def test_a_clearing_loses_its_texture_and_a_coloured_stand_keeps_it(tmp_path):
    geoms = np.array([_box(30, 30, 20, 20)], dtype=object)
    rel = {}
    for cleared in (False, True):
        before, after = _scene(tmp_path, cleared=cleared)
        t = texture_stats(geoms, before, after, norm=Normaliser({}, {}))
        assert t.columns.tolist() == list(TEXTURE_COLUMNS) and (t.iloc[0] > 0).all()
        rel[cleared] = float(derive_evidence(t)["rel_texture"].iloc[0])
    assert abs(rel[False]) < 0.2  # the stand coloured as a whole: patch and ring alike
    assert rel[True] < -0.7  # the crowns are gone in the patch only


def test_a_clearing_on_8bit_autumn_imagery_without_swir_is_suspected_illegal(tmp_path):
    # its lost pixels form a mapped cluster
    assert "C02_loss_cluster" in _check(tmp_path, cleared=True)["rules_fired"]
    # with a larger mapping unit (a province's 技术方案) the cluster is short of it; the
    # texture still tells the clearing from the stand's colour
    row = _check(tmp_path, cleared=True, mmu_mu=10.0)
    assert "C04_loss_texture" in row["rules_fired"]
    assert row["is_real_change"] and row["change_type"] == "logging"
    assert row["legality"] == "suspected_illegal"
    # the reason states the numbers it used
    assert f"相对周边变化 {row['rel_dndvi']:+.2f}" in row["reasons"]
    assert f"仅为周边的 {np.exp(row['rel_texture']):.0%}" in row["reasons"]
    assert f"不高于 {np.exp(-0.5):.0%}" in row["reasons"]


@pytest.mark.parametrize("cause", [1, 2])
def test_a_stand_coloured_in_autumn_is_not_a_texture_loss(tmp_path, cause):
    row = _check(tmp_path, cleared=False, cause=cause)
    assert "C04_loss_texture" not in row["rules_fired"]
    assert row["legality"] in ("needs_field_check", "no_change")
    # its NDVI fell like the ring's: no rule may read the texture, so it is not read
    assert abs(row["rel_dndvi"]) < 0.1 and np.isnan(row["rel_texture"])
