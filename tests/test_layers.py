"""The layer catalog: structure, lookups, canonicalize (aliases, types, codes)."""

from __future__ import annotations

import datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from gis.crs import WORKING_CRS
from gis.errors import SchemaError
from gis.findings import Findings
from gis.io import read_layer
from gis.layers import (
    CATALOG_PATH,
    GeometryKind,
    canonicalize,
    catalog,
    code_meaning,
    gbk_bytes,
    host_species,
    is_forest_land,
    label,
    labels,
    layer_kind,
    load_catalog,
    national_names,
    normalize_name,
    parse_date,
    shapefile_cut,
    shapefile_names,
)
from gis.layers.canonical import text_values
from gis.layers.values import as_text

DESIGN_KINDS = (
    "districts",
    "forest_chief_zones",
    "subcompartments",
    "change_patches",
    "permits",
    "protected_areas",
    "parks",
    "greenways",
    "villages",
    "fire_zones",
    "hotspots",
    "heat_sources",
    "lookout_towers",
    "roads",
    "water_sources",
    "pest_points",
    "residential",
)

VERIFIED_CAUSES = {
    10: "造林更新",
    11: "人工造林或飞播造林",
    12: "人工更新",
    20: "森林采伐",
    30: "规划调整",
    41: "经审批使用林地",
    42: "未审批使用林地",
    50: "毁林开垦",
    71: "火灾",
    72: "地质灾害",
    73: "其它灾害因素",
    81: "封山育林",
    82: "其他自然更新",
    91: "漏划",
    92: "错划",
    93: "其它调查因素",
    96: "行政界线调整",
    97: "边界引起的细碎合并",
    98: "新增管理界线",
    99: "管理因子变化",
}


def _frame(columns: dict, n: int | None = None) -> gpd.GeoDataFrame:
    n = n if n is not None else len(next(iter(columns.values())))
    geoms = [shapely.box(i * 200, 0, i * 200 + 100, 100) for i in range(n)]
    return gpd.GeoDataFrame(columns, geometry=geoms, crs=WORKING_CRS)


# --------------------------------------------------------------------------- the catalog


def test_catalog_has_every_design_kind():
    assert tuple(catalog().kinds) == DESIGN_KINDS


@pytest.mark.parametrize("kind", DESIGN_KINDS)
def test_every_kind_has_geometry_fields_and_labels(kind):
    spec = layer_kind(kind)
    assert spec.geometry in tuple(GeometryKind)
    assert spec.fields and spec.label_zh and spec.label_en
    assert spec.id_field is None or spec.id_field in spec.fields
    for f in spec.fields.values():
        assert f.type in ("text", "int", "float", "date", "bool")
        assert f.label_zh and f.label_en
        assert f.unit is None or f.unit in catalog().units
        for code, meaning in (f.codes or {}).items():
            assert isinstance(code, int if f.type == "int" else str)
            assert meaning["zh"] and meaning["en"]


@pytest.mark.parametrize("kind", DESIGN_KINDS)
def test_aliases_are_unique_within_a_kind(kind):
    owner: dict[str, str] = {}
    for f in layer_kind(kind).fields.values():
        for alias in (f.name, f.label_zh, f.label_en, *f.aliases):
            assert owner.setdefault(normalize_name(alias), f.name) == f.name, alias


def test_change_patch_contract():
    spec = layer_kind("change_patches")
    assert spec.geometry == "polygon" and spec.id_field == "patch_id"
    assert {"patch_id", "county_code", "interp_cause"} <= set(spec.required_fields)
    alias_map = spec.alias_map
    for alias, canonical in [
        ("判读图斑编号", "patch_id"),
        ("TBBH", "patch_id"),
        ("PAN_NO_TB", "patch_id"),
        ("XIAN", "county_code"),
        ("乡", "township"),
        ("XIANG", "township"),
        ("CUN", "village"),
        ("期", "batch"),
        ("PICI", "batch"),
        ("QQYXSJ", "image_date_before"),
        ("后期影像时间", "image_date_after"),
        ("MIAN_JI", "interp_area_ha"),
        ("判读面积", "interp_area_ha"),
        ("PAN_BHYY", "interp_cause"),
        ("BHYY", "verified_cause_code"),
        ("核实变化原因", "verified_cause_code"),
    ]:
        assert alias_map[normalize_name(alias)] == canonical, alias
    causes = spec.fields["interp_cause"].codes
    assert [causes[i]["zh"] for i in range(1, 8)] == [
        "采伐",
        "占地",
        "毁林开垦",
        "灾害",
        "造林",
        "其他减少",
        "其他增加",
    ]
    verified = spec.fields["verified_cause_code"].codes or {}
    assert {k: v["zh"] for k, v in verified.items()} == VERIFIED_CAUSES
    assert spec.fields["patch_id"].type == "text"
    assert spec.fields["interp_area_ha"].unit == "ha"


def test_subcompartment_and_permit_contracts():
    sub = layer_kind("subcompartments")
    for alias, canonical in [
        ("林班", "compartment"),
        ("LIN_BAN", "compartment"),
        ("XIAO_BAN", "subcompartment_no"),
        ("DI_LEI", "land_class"),
        ("YOU_SHI_SZ", "dominant_species"),
        ("起源", "origin"),
        ("林长", "forest_chief"),
    ]:
        assert sub.alias_map[normalize_name(alias)] == canonical
    permits = layer_kind("permits")
    for alias in ("审核文号", "采伐许可证号", "SH_WH", "CFZH"):
        assert permits.alias_map[normalize_name(alias)] == "permit_id"
    assert {"valid_from", "valid_to", "area_ha", "permit_kind", "holder"} <= set(permits.fields)


def test_host_species_and_forest_land():
    assert set(host_species()) >= {"红松", "樟子松", "油松", "落叶松", "云杉"}
    assert not {"杨树", "柳树", "蒙古栎", "白桦", "榆树"} & set(host_species())
    for name in ("乔木林地", "竹林地", "疏林地", "未成林造林地", "苗圃地", "采伐迹地", "火烧迹地"):
        assert is_forest_land(name), name
    assert is_forest_land("国家特别规定灌木林地")  # a meaning, not the code
    assert is_forest_land("宜林荒山荒地")  # a synonym
    for name in ("耕地", "建设用地", "水域", "unknown", None):
        assert not is_forest_land(name)


def test_labels_and_national_names():
    assert label("area_mu") == "面积（亩）"
    assert label("length_km", lang="en") == "Length (km)"
    assert label("forest_chief") == "林长"
    assert label("patch_id", kind="change_patches") == "判读图斑编号"
    assert label("valid_to") == "有效期止"  # found in a kind when not shared
    assert label("whatever_else") == "whatever_else"
    assert labels("parks")["category"] == "公园类别"
    names = national_names("change_patches")
    assert names["image_date_before"] == "前期影像时间"
    assert names["verified_cause_code"] == "核实变化原因"
    with pytest.raises(ValueError, match="zh, en"):
        label("area_ha", lang="fr")


def test_code_meaning():
    assert code_meaning("change_patches", "interp_cause", 3) == "毁林开垦"
    assert code_meaning("change_patches", "interp_cause", "3") == "毁林开垦"
    assert code_meaning("change_patches", "verified_cause_code", 71, lang="en") == "fire"
    assert code_meaning("change_patches", "interp_cause", 8) is None
    assert code_meaning("pest_points", "status", "lab_positive") == "检测阳性（松材线虫）"
    assert code_meaning("parks", "category", "口袋公园") == "游园（口袋公园）"
    with pytest.raises(SchemaError, match="no field 'nope'"):
        code_meaning("parks", "nope", 1)


def test_unknown_kind_lists_the_valid_kinds():
    with pytest.raises(SchemaError, match="valid kinds: districts, forest_chief_zones"):
        layer_kind("patches")


def test_shapefile_names_and_cuts():
    names = shapefile_names("change_patches")
    assert all(gbk_bytes(v) <= 10 for v in names.values())
    assert names["image_date_before"] == "QQYXSJ"
    assert gbk_bytes("前期影像时间") == 12
    assert shapefile_cut("前期影像时间") == "前期影像时"
    assert shapefile_cut("前期影像时间", encoding="utf-8") == "前期影"


# --------------------------------------------------------------------------- malformed catalogs

GOOD = """
units: {ha: {zh: 公顷, en: ha}}
labels: {area_ha: {zh: 面积（公顷）, en: Area (ha)}}
kinds:
  things:
    label_zh: 东西
    label_en: Things
    geometry: polygon
    id: thing_id
    fields:
      thing_id: {type: text, label_zh: 编号, label_en: ID, aliases: [BH]}
      cause: {type: int, label_zh: 原因, label_en: Cause, codes: {1: {zh: 甲, en: a}}}
      area_ha: {type: float, label_zh: 面积, label_en: Area, unit: ha}
"""


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("type: text", "type: txt", r"kinds\.things\.fields\.thing_id\.type is 'txt'"),
        ("geometry: polygon", "geometry: polygons", r"kinds\.things\.geometry is 'polygons'"),
        ("unit: ha", "unit: acre", r"fields\.area_ha\.unit is 'acre'"),
        ("id: thing_id", "id: nope", r"kinds\.things\.id names 'nope'"),
        ("aliases: [BH]", "aliases: [BH, 原因]", r"'原因' names both thing_id and cause"),
        ("{1: {zh: 甲", "{'1': {zh: 甲", r"codes\.1: code should be int"),
        ("{zh: 甲, en: a}", "{zh: 甲}", r"codes\.1\.en is missing"),
        ("aliases: [BH]", "aliases: [yes]", r"thing_id\.aliases should be a list of strings"),
        ("    label_zh: 东西\n", "", r"kinds\.things\.label_zh is missing"),
        ("kinds:", "kind:", r"\.kinds is missing"),
        ("label_en: ID,", "label_en: [ID],", r"thing_id\.label_en should be a str"),
    ],
)
def test_malformed_catalog_names_the_key(tmp_path, old, new, match):
    assert old in GOOD
    path = tmp_path / "catalog.yaml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SchemaError, match=match):
        load_catalog(path)


def test_good_minimal_catalog_and_unreadable_ones(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(GOOD, encoding="utf-8")
    cat = load_catalog(path)
    assert cat.kinds["things"].alias_map["bh"] == "thing_id"
    path.write_text("kinds: [unclosed", encoding="utf-8")
    with pytest.raises(SchemaError, match="not valid YAML"):
        load_catalog(path)
    with pytest.raises(SchemaError, match="cannot read the layer catalog"):
        load_catalog(tmp_path / "missing.yaml")


def test_shipped_catalog_path():
    assert CATALOG_PATH.name == "catalog.yaml" and CATALOG_PATH.parent.name == "layers"


# --------------------------------------------------------------------------- canonicalize


def test_canonicalize_gbk_and_pinyin_names():
    raw = _frame(
        {
            "判读图斑编号": [101.0, 102.0],
            "XIAN": [220112, 220112],
            "乡镇": ["净月街道", "新湖镇"],
            "QQYXSJ": ["20230415", "2023-05-02"],
            "HQYXSJ": ["2024.09", "2024/9/30"],
            "判读面积": ["1.25", "0.5"],
            "PAN_BHYY": [1, "2"],
            "备注": ["保留", "原样"],
        }
    )
    log = Findings()
    out = canonicalize(raw, "change_patches", findings=log, source="patches.shp")
    assert list(out.columns) == [
        "patch_id",
        "county_code",
        "township",
        "image_date_before",
        "image_date_after",
        "interp_area_ha",
        "interp_cause",
        "备注",
        "geometry",
    ]
    assert out["patch_id"].tolist() == ["101", "102"]
    assert out["county_code"].tolist() == ["220112", "220112"]
    assert out["interp_cause"].tolist() == [1, 2]
    assert str(out["interp_cause"].dtype) == "Int64"
    assert out["interp_area_ha"].tolist() == [1.25, 0.5]
    assert [d.date() for d in out["image_date_after"]] == [
        datetime.date(2024, 9, 1),
        datetime.date(2024, 9, 30),
    ]
    assert out["备注"].tolist() == ["保留", "原样"]
    assert out.attrs["renamed"]["判读图斑编号"] == "patch_id"
    assert out.attrs["kind"] == "change_patches"
    (renamed,) = log.of("fields_renamed")
    assert renamed.severity == "info" and "XIAN → county_code" in renamed.message
    assert not log.has_errors
    assert "判读图斑编号" in raw.columns  # the input is not modified


@pytest.mark.parametrize(
    "name",
    ["tbbh", " TBBH ", "ＴＢＢＨ", "Pan_No_Tb", "判读图斑编", "图斑编号", "Patch ID"],
)
def test_alias_matching_is_tolerant(name):
    out = canonicalize(_frame({name: ["A"]}), "change_patches")
    assert "patch_id" in out.columns


def test_national_name_beats_an_alias_of_the_same_field():
    log = Findings()
    raw = _frame({"小班号": ["001-01"], "小班": ["01"], "林班": ["001"], "DI_LEI": ["耕地"]})
    out = canonicalize(raw, "subcompartments", findings=log)
    assert out["subcompartment_no"].tolist() == ["01"] and out["小班号"].tolist() == ["001-01"]
    assert log.of("alias_conflict")[0].field == "小班号"


def test_empty_strings_are_missing_values():
    raw = _frame({"TBBH": ["", " "], "QQYXSJ": ["", None], "起源": ["", "x"]})
    log = Findings()
    out = canonicalize(raw, "change_patches", findings=log)
    assert out["patch_id"].isna().all() and out["image_date_before"].isna().all()
    assert not log.of("unparsed_value")


def test_alias_conflict_keeps_the_first_and_warns():
    log = Findings()
    out = canonicalize(_frame({"MIAN_JI": [1.0], "面积": [2.0]}), "change_patches", findings=log)
    assert out["interp_area_ha"].tolist() == [1.0] and out["面积"].tolist() == [2.0]
    assert log.of("alias_conflict")[0].field == "面积"


def test_unparsed_values_are_findings_not_exceptions():
    raw = _frame(
        {
            "patch_id": ["a", "b", "c"],
            "interp_cause": ["1", "x", None],
            "image_date_before": ["2023-02-30", "20230101", ""],
            "suspected_illegal": ["是", "否", "maybe"],
        }
    )
    log = Findings()
    out = canonicalize(raw, "change_patches", findings=log)
    by_field = {f.field: f for f in log.of("unparsed_value")}
    assert set(by_field) == {"interp_cause", "image_date_before", "suspected_illegal"}
    assert by_field["interp_cause"].severity == "error"  # required, closed code list
    assert by_field["image_date_before"].severity == "warning"
    assert "2023-02-30" in by_field["image_date_before"].message
    assert by_field["interp_cause"].feature == "1"
    assert out["interp_cause"].isna().tolist() == [False, True, True]
    assert out["suspected_illegal"].tolist()[:2] == [True, False]


def test_numbers_with_their_unit_word_are_read(tmp_path):
    """As a county's Excel-made table writes them: 80%, 2019年, 1,200人 — in a GBK Shapefile."""
    raw = gpd.GeoDataFrame(
        {
            "公园名称": ["甲", "乙", "丙", "丁"],
            "建设进度": ["80%", "100％", " 35 % ", "八成"],
            "建成年份": ["2019年", "2021", "2020.0", "去年"],
        },
        geometry=[shapely.box(500_000 + i, 4_850_000, 500_001 + i, 4_850_001) for i in range(4)],
        crs=WORKING_CRS,
    )
    path = tmp_path / "公园.shp"
    raw.to_file(path, encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    log = Findings()
    out = read_layer(path, kind="parks", findings=log)
    assert out["progress_pct"].tolist()[:3] == [80.0, 100.0, 35.0]
    assert out["year_built"].tolist()[:3] == [2019, 2021, 2020]
    bad = {f.field: f.message for f in log.of("unparsed_value")}
    assert set(bad) == {"progress_pct", "year_built"}  # words are not numbers
    assert "八成" in bad["progress_pct"] and "去年" in bad["year_built"]
    people = _frame({"population": ["1,200人", "35 persons", "1.5公顷"]})
    coerced = canonicalize(people, "residential", findings=Findings())["population"]
    assert coerced.tolist()[:2] == [1200, 35] and pd.isna(coerced.iloc[2])


def test_excel_date_serials_in_a_geopackage_are_dates(tmp_path):
    """A table joined from Excel carries its date cells as numbers (45905 = 2025-09-05)."""
    raw = gpd.GeoDataFrame(
        {"TBBH": ["1", "2"], "QQYXSJ": [45905, 45906], "HQYXSJ": ["46283", None]},
        geometry=[shapely.box(500_000 + i, 4_850_000, 500_001 + i, 4_850_001) for i in range(2)],
        crs=WORKING_CRS,
    )
    raw.to_file(tmp_path / "图斑.gpkg")
    log = Findings()
    out = read_layer(tmp_path / "图斑.gpkg", kind="change_patches", findings=log)
    assert [d.date() for d in out["image_date_before"]] == [
        datetime.date(2025, 9, 5),
        datetime.date(2025, 9, 6),
    ]
    assert out["image_date_after"].iloc[0].date() == datetime.date(2026, 9, 18)
    assert not log.of("unparsed_value")


def test_code_meanings_and_synonyms_become_codes():
    log = Findings()
    parks = canonicalize(
        _frame({"名称": ["甲", "乙", "丙"], "类别": ["口袋公园", "G11", "社区公园"]}),
        "parks",
        findings=log,
    )
    assert parks["category"].tolist() == ["游园", "综合公园", "社区公园"]
    assert log.of("codes_normalized")[0].text("zh").startswith("字段 category 有 2 个值")
    assert log.of("codes_normalized")[0].message.startswith("field category: 2 value(s)")
    patches = canonicalize(_frame({"PAN_BHYY": ["采伐", "占地", "7"]}), "change_patches")
    assert patches["interp_cause"].tolist() == [1, 2, 7]
    stands = canonicalize(
        _frame({"DI_LEI": ["有林地", "耕地"], "QI_YUAN": [1.0, 2.0]}), "subcompartments"
    )
    assert stands["land_class"].tolist() == ["乔木林地", "耕地"]
    assert stands["origin"].tolist() == ["天然", "人工"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20230415", datetime.date(2023, 4, 15)),
        (20230415, datetime.date(2023, 4, 15)),
        (20230415.0, datetime.date(2023, 4, 15)),
        ("2023-04-15", datetime.date(2023, 4, 15)),
        ("2023/4/5", datetime.date(2023, 4, 5)),
        ("2023.04.05", datetime.date(2023, 4, 5)),
        ("2023.04", datetime.date(2023, 4, 1)),
        ("2023.4", datetime.date(2023, 4, 1)),
        (2023.10, datetime.date(2023, 10, 1)),  # a DBF numeric YYYY.MM: 2023.1 means October
        ("202310", datetime.date(2023, 10, 1)),
        ("2023年10月", datetime.date(2023, 10, 1)),
        ("2023年10月8日", datetime.date(2023, 10, 8)),
        ("2023-04-15 10:30:00", datetime.date(2023, 4, 15)),
        ("２０２３－０４－１５", datetime.date(2023, 4, 15)),
        (datetime.date(2023, 4, 15), datetime.date(2023, 4, 15)),
        (pd.Timestamp("2023-04-15"), datetime.date(2023, 4, 15)),
        (45905, datetime.date(2025, 9, 5)),  # an Excel date serial (a date cell as a number)
        ("45905", datetime.date(2025, 9, 5)),
        (45905.0, datetime.date(2025, 9, 5)),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value).date() == expected


@pytest.mark.parametrize(
    "value", ["2023", "2023-13-01", "2023-02-30", "15/04/2023", "abc", "12345", 99999]
)
def test_parse_date_rejects(value):
    assert parse_date(value) is not None and not isinstance(parse_date(value), pd.Timestamp)


@pytest.mark.parametrize("value", [None, float("nan"), pd.NaT])
def test_parse_date_missing(value):
    assert parse_date(value) is None


def test_dbf_dates_read_from_a_real_shapefile(tmp_path: Path):
    """A DBF Date field comes back as datetime and stays as it is."""
    from gis.io import read_layer, write_layer

    path = tmp_path / "permits.shp"
    raw = _frame(
        {
            "SH_WH": ["吉林审字〔2023〕1号"],
            "类型": ["采伐"],
            "YXQQ": pd.to_datetime(["2023-03-01"]),
            "YXQZ": pd.to_datetime(["2023-12-31"]),
        }
    )
    write_layer(raw, path, encoding="GBK")
    out = read_layer(path, kind="permits")
    assert out["permit_id"].tolist() == ["吉林审字〔2023〕1号"]
    assert out["permit_kind"].tolist() == ["林木采伐许可"]
    assert out["valid_to"].dt.date.tolist() == [datetime.date(2023, 12, 31)]


ALIAS_POOL = [
    "TBBH",
    "判读图斑编号",
    "XIAN",
    "乡",
    "QQYXSJ",
    "判读面积",
    "PAN_BHYY",
    "BHYY",
    "期",
    "备注",
]
VALUES = st.one_of(
    st.none(),
    st.integers(-5, 30_000_000),
    st.floats(allow_nan=True, allow_infinity=False, width=32),
    st.sampled_from(["20230415", "2023.10", "采伐", "占地", "是", "", " 1 ", "x", "01"]),
    st.text(max_size=4),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(st.sampled_from(ALIAS_POOL), min_size=1, max_size=6, unique=True),
    rows=st.integers(1, 4),
    data=st.data(),
)
def test_canonicalize_is_idempotent(names, rows, data):
    columns = {n: data.draw(st.lists(VALUES, min_size=rows, max_size=rows)) for n in names}
    raw = _frame({n: pd.Series(v, dtype=object) for n, v in columns.items()}, n=rows)
    once = canonicalize(raw, "change_patches")
    log = Findings()
    twice = canonicalize(once, "change_patches", findings=log)
    assert_frame_equal(pd.DataFrame(once), pd.DataFrame(twice))
    assert not log.of("fields_renamed") and not log.of("unparsed_value")
    assert len(once.columns) == len(raw.columns)


_TEXTS = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from(" \t\n\x1c\x85\u3000S01-_.中文ｌ１Ａ　"), max_size=6),
    st.text(max_size=4),
)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(_TEXTS, max_size=30), dtype=st.sampled_from(["str", "string", object]))
def test_text_values_equal_as_text_on_every_value(values: list[str | None], dtype: str) -> None:
    series = pd.Series(values, dtype=dtype)
    expected = [as_text(v) for v in series.astype(object)]
    got = text_values(series).tolist()
    assert [None if pd.isna(v) else v for v in got] == expected
