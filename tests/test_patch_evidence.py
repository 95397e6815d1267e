"""Tests of gis.checks.patches.evidence: overlay shares, admin units and permits."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.checks.patches import evidence as ev
from gis.crs import WORKING_CRS
from gis.errors import CRSMismatchError
from gis.findings import Findings

X0, Y0 = 500_000.0, 4_850_000.0


def box(x, y, w=100, h=100):
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def frame(geoms, **cols):
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=WORKING_CRS)


@pytest.fixture
def patches():
    # three 1 ha squares: A at 0, B at 200, C at 400 (east)
    return frame(
        [box(0, 0), box(200, 0), box(400, 0)],
        patch_id=["A", "B", "C"],
        township=["净月街道", "净月街道", "新湖镇"],
        image_date_before=["2024-05-01", "2024-05-01", None],
        image_date_after=["2024-09-01", "2024-09-01", None],
    )


def test_areas_are_1_ha_and_15_mu(patches):
    areas = ev.patch_areas(patches)
    np.testing.assert_allclose(areas["area_ha"], 1.0, rtol=1e-3)
    np.testing.assert_allclose(areas["area_mu"], 15.0, rtol=1e-3)


def test_covered_share_counts_overlapping_features_once(patches):
    layer = frame([box(0, 0, 50), box(25, 0, 50), box(200, 0, 100, 10)])
    share = ev.covered_share(patches, layer)
    np.testing.assert_allclose(share.to_numpy(), [0.75, 0.10, 0.0], atol=1e-6)


def test_crs_mismatch_raises(patches):
    other = frame([box(0, 0)]).to_crs(4490)
    with pytest.raises(CRSMismatchError):
        ev.covered_share(patches, other)


def test_land_evidence_forest_gyl_and_dominant_class(patches):
    sub = frame(
        [box(0, 0, 60), box(60, 0, 40), box(200, 0), box(400, 0)],
        land_class=["乔木林地", "耕地", "耕地", "采伐迹地"],
        gyl_level=["国家二级", None, "商品林", "地方公益林"],
    )
    out = ev.land_evidence(patches, sub)
    np.testing.assert_allclose(out["forest_share"], [0.6, 0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(out["gyl_share"], [0.6, 0.0, 1.0], atol=1e-6)
    assert out["land_class"].tolist() == ["乔木林地", "耕地", "采伐迹地"]
    assert ev.land_evidence(patches, None)["forest_share"].isna().all()


def test_admin_evidence_largest_overlap_and_most_local_chief(patches):
    districts = frame(
        [box(-100, -100, 370, 300), box(270, -100, 300, 300)],
        district=["南关区", "双阳区"],
    )
    chiefs = frame(
        [box(-100, -100, 700, 300), box(-50, -50, 200, 200)],
        forest_chief=["市级林长", "村级林长"],
        level=["市", "村"],
    )
    log = Findings()
    out = ev.admin_evidence(patches, districts=districts, forest_chiefs=chiefs, findings=log)
    assert out["district"].tolist() == ["南关区", "南关区", "双阳区"]
    assert out["forest_chief"].tolist() == ["村级林长", "市级林长", "市级林长"]
    # no township layer: the patch's own attribute, with a finding
    assert out["township"].tolist() == ["净月街道", "净月街道", "新湖镇"]
    assert log.of("township_from_patch")


def test_admin_evidence_township_from_level_features(patches):
    districts = frame(
        [box(-100, -100, 800, 300), box(-100, -100, 250, 300), box(150, -100, 550, 300)],
        district=["南关区", "净月街道", "新湖镇"],
        level=["district", "township", "township"],
    )
    out = ev.admin_evidence(patches, districts=districts)
    assert out["district"].tolist() == ["南关区"] * 3
    assert out["township"].tolist() == ["净月街道", "新湖镇", "新湖镇"]


def _permits(**over):
    cols = {
        "permit_id": ["吉林采〔2024〕1号", "吉林审〔2023〕9号", "吉林采〔2020〕3号"],
        "permit_kind": ["林木采伐许可", "使用林地审核审批", "林木采伐许可"],
        "valid_from": pd.to_datetime(["2024-03-01", "2023-01-01", "2020-01-01"]),
        "valid_to": pd.to_datetime(["2024-12-31", "2024-06-30", "2020-12-31"]),
    }
    cols.update(over)
    return frame([box(0, 0, 90), box(200, 0, 50), box(250, 0, 50)], **cols)


def test_permit_evidence_shares_validity_and_ids(patches):
    out = ev.permit_evidence(patches, _permits())
    assert out["permit_ids"].tolist() == [
        "吉林采〔2024〕1号",
        "吉林审〔2023〕9号; 吉林采〔2020〕3号",
        None,
    ]
    assert out["permit_count"].tolist() == [1, 2, 0]
    np.testing.assert_allclose(out["permit_share"], [0.9, 1.0, 0.0], atol=1e-6)
    # B: the land-use approval (to 2024-06-30) overlaps the image period, the 2020 permit not
    np.testing.assert_allclose(out["valid_permit_share"], [0.9, 0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(out["valid_logging_permit_share"], [0.9, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(out["valid_landuse_permit_share"], [0.0, 0.5, 0.0], atol=1e-6)
    assert out["permit_valid"].tolist() == [True, True, pd.NA]


def test_expired_permit_is_invalid(patches):
    permits = _permits(valid_to=pd.to_datetime(["2024-04-30", "2023-02-01", "2020-12-31"]))
    out = ev.permit_evidence(patches, permits)
    assert out["permit_valid"].tolist()[:2] == [False, False]
    np.testing.assert_allclose(out["valid_permit_share"], [0.0, 0.0, 0.0])


def test_permits_without_dates_give_finding_and_null_validity(patches):
    permits = _permits().drop(columns=["valid_from", "valid_to"])
    log = Findings()
    out = ev.permit_evidence(patches, permits, findings=log)
    assert log.of("permit_dates_missing")
    assert out["permit_valid"].isna().all()
    np.testing.assert_allclose(out["permit_share"], [0.9, 1.0, 0.0], atol=1e-6)
    assert out["valid_permit_share"].iloc[:2].isna().all()


def test_image_dates_argument_fills_missing_patch_dates(patches):
    permits = frame(
        [box(400, 0)],
        permit_id=["P9"],
        permit_kind=["林木采伐许可"],
        valid_from=pd.to_datetime(["2024-01-01"]),
        valid_to=pd.to_datetime(["2024-12-31"]),
    )
    log = Findings()
    out = ev.permit_evidence(patches, permits, findings=log)
    assert out["permit_valid"].tolist() == [pd.NA, pd.NA, pd.NA]
    assert log.of("image_dates_missing")
    out = ev.permit_evidence(patches, permits, image_dates=("2024-04-01", "2024-10-01"))
    assert out["permit_valid"].tolist()[2] is True


def test_grouped_unions_equal_one_union_per_group():
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 6, 40)
    xy = rng.uniform(0, 100, (40, 2))
    geoms = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + 30, xy[:, 1] + 20)
    keys, unions = ev._grouped_unions(groups, geoms)
    assert keys.tolist() == sorted(set(groups.tolist()))
    for key, union in zip(keys, unions, strict=True):
        assert shapely.equals_exact(union, shapely.union_all(geoms[groups == key]), 0.0)


def test_covered_share_unions_clashing_permits_of_each_patch(patches):
    # A: two overlapping halves (60 + 60 wide, 20 shared); B: one; C: three, two overlapping
    layer = frame(
        [box(0, 0, 60), box(40, 0, 60), box(200, 0, 30), box(400, 0, 20), box(410, 0, 20),
         box(450, 0, 10)]
    )  # fmt: skip
    share = ev.covered_share(patches, layer)
    np.testing.assert_allclose(share.to_numpy(), [1.0, 0.30, 0.40], atol=1e-6)
