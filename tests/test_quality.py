"""数据质检: validate_frame on built frames, validate_file on real and built files."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gis.checks.quality import validate_frame
from gis.checks.quality.run import validate_file
from gis.crs import WORKING_CRS
from gis.errors import DataSourceError, SchemaError
from gis.findings import Findings
from gis.layers import canonicalize


def _patches(**overrides) -> gpd.GeoDataFrame:
    columns = {
        "判读图斑编号": ["P1", "P2", "P3"],
        "XIAN": ["220112", "220112", "220183"],
        "PAN_BHYY": [1, 2, 5],
        "QQYXSJ": ["20230415", "20230415", "20230415"],
    }
    columns.update(overrides)
    geoms = [shapely.box(i * 200, 0, i * 200 + 100, 100) for i in range(3)]
    return gpd.GeoDataFrame(columns, geometry=geoms, crs=WORKING_CRS)


def _codes(log: Findings, severity: str | None = None) -> set[str]:
    return {f.code for f in log if severity is None or f.severity == severity}


def test_clean_layer_has_no_errors_or_warnings():
    log = validate_frame(_patches(), "change_patches", source="p.gpkg")
    assert _codes(log) == {"fields_renamed"}
    assert all(f.source == "p.gpkg" for f in log)


def test_duplicate_ids():
    log = validate_frame(_patches(判读图斑编号=["P1", "P1", "P3"]), "change_patches")
    (dup,) = log.of("duplicate_id")
    assert dup.severity == "error" and dup.field == "patch_id"
    assert "1 个重复值" in dup.text("zh") and "P1" in dup.text("zh")
    assert "1 duplicated value(s)" in dup.message and dup.text("en") == dup.message


def test_duplicate_ids_from_float_and_text_are_the_same_id():
    log = validate_frame(_patches(判读图斑编号=[7.0, "7", "8"]), "change_patches")
    assert "7" in log.of("duplicate_id")[0].message


def test_missing_required_field_names_aliases():
    frame = _patches().drop(columns=["XIAN"])
    log = validate_frame(frame, "change_patches", lang="en")
    (missing,) = log.of("missing_field")
    assert missing.severity == "error" and missing.field == "county_code"
    assert "XIAN" in missing.message and "县代码" in missing.message


def test_null_required_values_name_the_features():
    log = validate_frame(_patches(XIAN=["220112", None, " "]), "change_patches")
    (null,) = log.of("null_required")
    assert null.severity == "error" and null.field == "county_code"
    assert "2 个要素为空" in null.text("zh") and null.feature == "P2, P3"
    assert "empty in 2 feature(s)" in null.message


def test_values_outside_code_lists_with_counts_and_examples():
    log = validate_frame(_patches(PAN_BHYY=[9, 9, 1]), "change_patches", lang="en")
    (bad,) = log.of("code_outside_list")
    assert bad.severity == "error" and bad.field == "interp_cause"
    assert "2 feature(s)" in bad.message and "9×2" in bad.message
    assert bad.feature == "P1, P2"


def test_open_code_list_is_a_warning():
    stands = gpd.GeoDataFrame(
        {
            "LIN_BAN": ["1", "1"],
            "XIAO_BAN": ["1", "2"],
            "DI_LEI": ["乔木林地", "乔木林地"],
            "YOU_SHI_SZ": ["红松", "黄菠萝"],
        },
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)],
        crs=WORKING_CRS,
    )
    log = validate_frame(stands, "subcompartments")
    (species,) = log.of("code_outside_list")
    assert species.severity == "warning" and "黄菠萝" in species.message
    assert not log.has_errors


def test_pattern_mismatch_is_a_warning():
    log = validate_frame(_patches(XIAN=["220112", "22011", "abc123"]), "change_patches")
    (bad,) = log.of("pattern_mismatch")
    assert bad.severity == "warning" and "'22011'" in bad.message and bad.feature == "P2, P3"


def test_wrong_geometry_type():
    frame = _patches()
    frame.geometry = [
        shapely.Point(0, 0),
        shapely.box(0, 0, 1, 1),
        shapely.LineString([(0, 0), (1, 1)]),
    ]
    log = validate_frame(frame, "change_patches", lang="en")
    (wrong,) = log.of("wrong_geometry_type")
    assert wrong.severity == "error"
    assert "2 feature(s)" in wrong.message and "Point×1" in wrong.message
    assert wrong.feature == "P1, P3"


def test_villages_accept_points_and_polygons():
    villages = gpd.GeoDataFrame(
        {"名称": ["甲村", "乙村"], "状态": ["完成", "tasked"]},
        geometry=[shapely.Point(0, 0), shapely.box(0, 0, 1, 1)],
        crs=WORKING_CRS,
    )
    log = validate_frame(villages, "villages")
    assert not log.has_errors, [f.message for f in log]


def test_empty_invalid_and_missing_geometry():
    frame = _patches()
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    frame.geometry = [bowtie, shapely.Polygon(), shapely.box(0, 0, 1, 1)]
    log = validate_frame(frame, "change_patches")
    assert log.of("invalid_geometry")[0].feature == "P1"
    assert "Self-intersection" in log.of("invalid_geometry")[0].message
    assert log.of("empty_geometry")[0].feature == "P2"
    assert not log.of("wrong_geometry_type")  # empty is reported once, as empty
    table = pd.DataFrame(_patches().drop(columns="geometry"))
    assert "no_geometry" in _codes(validate_frame(table, "change_patches"), "error")


def test_shapefile_field_names_over_ten_gbk_bytes():
    frame = _patches(现地核查情况说明=["", "", ""], note_long_name=["", "", ""])
    log = validate_frame(frame, "change_patches")
    fields = {f.field: f for f in log.of("shapefile_field_name")}
    assert set(fields) == {"现地核查情况说明", "note_long_name"}
    assert "16 字节" in fields["现地核查情况说明"].text("zh")
    assert "现地核查情" in fields["现地核查情况说明"].text("zh")
    assert "16 bytes in GBK" in fields["现地核查情况说明"].message
    # canonical fields export under their national short names (QQYXSJ), so no warning
    assert "image_date_before" not in fields


def test_already_canonical_frame_is_not_renamed_twice():
    log = Findings()
    frame = canonicalize(_patches(), "change_patches", findings=log)
    validate_frame(frame, "change_patches", findings=log)
    assert len(log.of("fields_renamed")) == 1


def test_without_kind_only_generic_checks():
    frame = _patches(PAN_BHYY=[99, 99, 99]).drop(columns=["XIAN"])
    log = validate_frame(frame, None)
    assert _codes(log) == {"shapefile_field_name"}  # 判读图斑编号 is 12 GBK bytes
    assert log.of("shapefile_field_name")[0].field == "判读图斑编号"


def test_unknown_kind():
    with pytest.raises(SchemaError, match="valid kinds"):
        validate_frame(_patches(), "patch")


# --------------------------------------------------------------------------- files


def test_validate_file_gpkg_with_chinese_names(tmp_path):
    from gis.io import write_layer

    path = tmp_path / "督查图斑.gpkg"
    write_layer(_patches(判读图斑编号=["P1", "P1", "P3"]), path, layer="图斑")
    log = validate_file(path, kind="change_patches")
    assert _codes(log, "error") == {"duplicate_id"}
    assert log.of("fields_renamed")


def test_validate_file_gbk_shapefile_with_pinyin_names(tmp_path):
    from gis.io import write_layer

    frame = _patches(XIANG=["净月街道", "新湖镇", "玉潭镇"], PAN_BHYY=[1, 3, 8])
    frame = frame.rename(columns={"判读图斑编号": "PAN_NO_TB"})
    path = tmp_path / "patches.shp"
    write_layer(frame, path, encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)  # a legacy GBK file without .cpg
    log = validate_file(path, kind="change_patches", lang="en")
    assert log.of("encoding_decided")
    (bad,) = log.of("code_outside_list")
    assert bad.feature == "P3" and "8×1" in bad.message


def test_validate_file_unknown_kind_fails_before_reading(tmp_path):
    with pytest.raises(SchemaError):
        validate_file(tmp_path / "missing.shp", kind="nope")
    with pytest.raises(DataSourceError):
        validate_file(tmp_path / "missing.shp", kind="parks")


def test_real_changchun_districts(shared_data):
    log = validate_file(
        shared_data / "changchun_admin" / "220100_full.json", kind="districts", crs="gcj02"
    )
    assert not log.has_errors
    repaired = log.of("invalid_geometry_repaired")
    assert {f.feature for f in repaired} == {"220182", "220183"}  # 榆树市, 德惠市
    assert log.of("gcj02_converted")
    assert "adcode → district_code" in log.of("fields_renamed")[0].message


def test_real_gbk_provinces(shared_data):
    log = validate_file(shared_data / "china_gbk_shapefiles" / "bou2_4p.shp", kind="districts")
    assert log.of("encoding_decided") and log.of("crs_guessed")
    # provinces stored as several polygons (islands) repeat their ADCODE99
    assert log.of("duplicate_id")[0].field == "district_code"


def test_real_points_are_not_protected_area_polygons(shared_data):
    path = shared_data / "china_forest_parks_points" / "nature_2016_protect.json"
    log = validate_file(path, kind="protected_areas", lang="en")
    (wrong,) = log.of("wrong_geometry_type")
    assert "428 feature(s) are Point×428" in wrong.message
