"""Shapefile encoding detection: .cpg, LDID, strict UTF-8, GB18030 — never silently wrong."""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from gis.errors import EncodingError
from gis.findings import Findings
from gis.io import read_layer, read_table
from gis.io.encoding import (
    LDID_CODECS,
    Method,
    codec_from_cpg,
    dbf_text,
    decide_encoding,
    detect_shapefile_encoding,
)

NAMES = ["黑龙江省", "吉林省", "净月潭国家森林公园"]


def _write_shp(
    folder: Path,
    encoding: str,
    *,
    cpg: str | None,
    ldid: int = 0,
    columns: dict[str, list[str]] | None = None,
) -> Path:
    """Write a 3-feature Shapefile in ``encoding``, then set the .cpg and the LDID byte."""
    frame = gpd.GeoDataFrame(
        columns or {"name": NAMES, "code": ["220100", "220102", "220106"], "n": [1, 2, 3]},
        geometry=[shapely.box(125 + i, 43, 125.5 + i, 43.5) for i in range(3)],
        crs=4490,
    )
    path = folder / "layer.shp"
    pyogrio.write_dataframe(frame, path, encoding=encoding)
    path.with_suffix(".cpg").unlink(missing_ok=True)
    if cpg is not None:
        path.with_suffix(".cpg").write_text(cpg)
    dbf = path.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = ldid
    dbf.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("ANSI 936", "gbk"),
        ("936", "gbk"),
        ("CP936", "gbk"),
        ("GBK", "gbk"),
        ("GB2312", "gbk"),
        ("gb18030", "gb18030"),
        ("UTF-8", "utf-8"),
        ("utf8", "utf-8"),
        ("65001", "utf-8"),
        (" 936\r\n", "gbk"),
        ("1252", "cp1252"),
        ("ANSI 1251", "cp1251"),
        ("88591", "latin-1"),
        ("BIG5", "cp950"),
        ("SYSTEM", ""),
        ("klingon", None),
    ],
)
def test_cpg_values(text, codec):
    assert codec_from_cpg(text) == codec


def test_ldid_table_has_the_chinese_entries_and_no_ansi_guess():
    assert LDID_CODECS[0x4D] == "gbk"
    assert LDID_CODECS[0x7A] == "gbk"
    assert LDID_CODECS[0x4F] == "cp950"
    assert 0x57 not in LDID_CODECS  # "current ANSI code page": no information
    assert 0x00 not in LDID_CODECS


GBK = "黑龙江省".encode("gbk")
UTF8 = "黑龙江省".encode()


@pytest.mark.parametrize(
    ("kwargs", "encoding", "method"),
    [
        (
            {"explicit": "UTF-8", "cpg_text": "936", "ldid": 0x4D, "text_bytes": GBK},
            "utf-8",
            "explicit",
        ),
        ({"cpg_text": "UTF-8", "ldid": 0x4D, "text_bytes": UTF8}, "utf-8", "cpg"),
        ({"cpg_text": "ANSI 936", "text_bytes": GBK}, "gbk", "cpg"),
        ({"cpg_text": "SYSTEM", "ldid": 0x4D, "text_bytes": GBK}, "gbk", "ldid"),
        ({"ldid": 0x4D, "text_bytes": GBK}, "gbk", "ldid"),
        ({"ldid": 0x57, "text_bytes": GBK}, "gb18030", "gb18030_content"),
        ({"ldid": 0x57, "text_bytes": UTF8}, "utf-8", "utf8_content"),
        ({"text_bytes": UTF8}, "utf-8", "utf8_content"),
        ({"text_bytes": GBK}, "gb18030", "gb18030_content"),
        ({"text_bytes": b"ABC 123"}, "utf-8", "ascii"),
        ({"cpg_text": "klingon", "text_bytes": GBK}, "gb18030", "gb18030_content"),
    ],
)
def test_order_of_evidence(kwargs, encoding, method):
    decision = decide_encoding(**kwargs)
    assert (decision.encoding, str(decision.method)) == (encoding, method)
    assert decision.warning is None


def test_declared_encoding_that_does_not_decode_is_refused_with_the_fix():
    with pytest.raises(EncodingError, match=r"does not decode as utf-8.*encoding='gb18030'"):
        decide_encoding(cpg_text="UTF-8", text_bytes=GBK)


def test_declared_gbk_over_utf8_text_is_flagged():
    decision = decide_encoding(ldid=0x4D, text_bytes=UTF8)
    assert decision.method is Method.LDID
    assert "also valid UTF-8" in decision.warning


def test_undecodable_text_is_an_error_not_a_guess():
    with pytest.raises(EncodingError, match="--encoding"):
        decide_encoding(text_bytes=b"\xff\xfe\xff\x80")


def test_unknown_explicit_encoding():
    with pytest.raises(EncodingError, match="GBK or UTF-8"):
        decide_encoding(explicit="klingon")


def test_dbf_text_reads_only_character_fields(tmp_path):
    path = _write_shp(tmp_path, "GBK", cpg=None, ldid=0x4D)
    parsed = dbf_text(path.with_suffix(".dbf").read_bytes())
    assert parsed.ldid == 0x4D
    assert parsed.n_records == 3
    text = parsed.text_bytes.decode("gbk")
    assert text.startswith("name\ncode\nn\n")  # field names first: they may be Chinese too
    assert all(name in text for name in NAMES)
    assert "220102" in text  # text field
    assert text.count("\n") == 3 + 3 * 2  # names, then a newline after each text value


def test_chinese_field_names_with_ascii_values(tmp_path):
    frame = gpd.GeoDataFrame(
        {"小班号": ["001", "002"], "面积": [1.5, 2.0]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        crs=4490,
    )
    path = tmp_path / "fields.shp"
    pyogrio.write_dataframe(frame, path, encoding="GBK")
    path.with_suffix(".cpg").unlink()
    assert detect_shapefile_encoding(path).method is Method.GB18030
    out = read_layer(path, working_crs=None)
    assert ["小班号", "面积"] == [c for c in out.columns if c != "geometry"]
    assert out["小班号"].tolist() == ["001", "002"]


def test_codec_gdal_does_not_know_is_decoded_in_python(tmp_path):
    # LDID 0x04 is the Macintosh code page: byte 0xE9 is "È" there (and "é" in cp1252).
    frame = gpd.GeoDataFrame({"name": ["é"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4490)
    path = tmp_path / "mac.shp"
    pyogrio.write_dataframe(frame, path, encoding="cp1252")
    path.with_suffix(".cpg").unlink()
    data = bytearray(path.with_suffix(".dbf").read_bytes())
    data[29] = 0x04
    path.with_suffix(".dbf").write_bytes(bytes(data))
    for engine in ("pyogrio", "fiona"):
        assert read_layer(path, engine=engine)["name"].tolist() == ["È"]
    assert read_table(path.with_suffix(".dbf"))["name"].tolist() == ["È"]


@pytest.mark.parametrize(
    ("write_as", "cpg", "ldid", "method"),
    [
        ("GBK", None, 0, "gb18030_content"),  # the usual Chinese delivery: nothing declared
        ("GBK", "ANSI 936", 0, "cpg"),  # a .cpg GDAL ignores
        ("GBK", "936", 0, "cpg"),
        ("GBK", None, 0x4D, "ldid"),
        ("GBK", None, 0x57, "gb18030_content"),
        ("UTF-8", None, 0, "utf8_content"),
        ("UTF-8", "65001", 0, "cpg"),  # another value GDAL ignores
        ("UTF-8", "UTF-8", 0, "cpg"),
    ],
)
@pytest.mark.parametrize("engine", ["pyogrio", "fiona"])
def test_read_layer_decodes_chinese(tmp_path, write_as, cpg, ldid, method, engine):
    path = _write_shp(tmp_path, write_as, cpg=cpg, ldid=ldid)
    log = Findings()
    frame = read_layer(path, engine=engine, findings=log)
    assert frame["name"].tolist() == NAMES
    (finding,) = log.of("encoding_decided")
    assert finding.severity == "info"
    assert finding.source == str(path)
    assert str(path) in finding.message
    assert detect_shapefile_encoding(path).method == method


def test_gdal_alone_garbles_ansi_936_which_we_read(tmp_path):
    path = _write_shp(tmp_path, "GBK", cpg="ANSI 936", ldid=0)
    assert pyogrio.read_dataframe(path)["name"].tolist() != NAMES
    assert read_layer(path)["name"].tolist() == NAMES


def test_explicit_encoding_wins(tmp_path):
    path = _write_shp(tmp_path, "GBK", cpg="UTF-8", ldid=0)
    log = Findings()
    frame = read_layer(path, encoding="GBK", findings=log)
    assert frame["name"].tolist() == NAMES
    assert "encoding='GBK' given" in log.of("encoding_decided")[0].message


def test_mislabelled_cpg_is_an_error_naming_file_and_fix(tmp_path):
    path = _write_shp(tmp_path, "GBK", cpg="UTF-8", ldid=0)
    with pytest.raises(EncodingError) as err:
        read_layer(path)
    assert "layer.dbf" in str(err.value)
    assert "encoding='gb18030'" in str(err.value)


def test_ldid_gbk_over_utf8_text_is_refused(tmp_path):
    path = _write_shp(tmp_path, "UTF-8", cpg=None, ldid=0x4D)
    with pytest.raises(EncodingError, match=r"LDID\) 0x4D.*encoding='utf-8'"):
        read_layer(path)


def test_ldid_gbk_over_text_that_is_also_utf8_gives_a_warning_finding(tmp_path):
    frame = gpd.GeoDataFrame({"name": ["黑龙江省"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4490)
    path = tmp_path / "doubt.shp"
    pyogrio.write_dataframe(frame, path, encoding="UTF-8")
    path.with_suffix(".cpg").unlink()
    data = bytearray(path.with_suffix(".dbf").read_bytes())
    data[29] = 0x4D
    path.with_suffix(".dbf").write_bytes(bytes(data))
    log = Findings()
    read_layer(path, findings=log)
    (warning,) = log.of("encoding_suspect")
    assert warning.severity == "warning"
    assert "doubt.shp" in warning.message and "encoding='utf-8'" in warning.message


@pytest.mark.parametrize(("write_as", "cpg"), [("UTF-8", None), ("UTF-8", "UTF-8"), ("GBK", None)])
@pytest.mark.parametrize("engine", ["pyogrio", "fiona"])
def test_field_names_cut_inside_a_character_are_read(tmp_path, write_as, cpg, engine):
    """GDAL cuts a long name at 10 bytes, inside a character; pyogrio alone cannot read it."""
    columns = {"前期影像时间": ["20250905"] * 3, "X前期影像时间": ["a", "b", "c"], "name": NAMES}
    path = _write_shp(tmp_path, write_as, cpg=cpg, columns=columns)
    if write_as == "UTF-8":  # GDAL's recoding from GBK makes the stump a "?"
        with pytest.raises(UnicodeDecodeError):
            pyogrio.read_dataframe(path, encoding=write_as)
    log = Findings()
    read = read_layer(path, engine=engine, findings=log)
    names = {"UTF-8": ["前期影", "X前期影"], "GBK": ["前期影像时", "X前期影像"]}[write_as]
    assert read.columns.tolist() == [*names, "name", "geometry"]
    assert read[names[0]].tolist() == ["20250905"] * 3
    assert read["name"].tolist() == NAMES
    (finding,) = log.of("field_names_cut")
    cut = names[:1] if write_as == "UTF-8" else names[1:]
    assert finding.feature is None and all(name in finding.message for name in cut)


# --- the real files -------------------------------------------------------------------------


def test_real_gbk_without_cpg_or_ldid(shared_data):
    path = shared_data / "china_gbk_shapefiles" / "bou2_4p.shp"
    log = Findings()
    frame = read_layer(path, findings=log, working_crs=None)
    assert "黑龙江省" in set(frame["NAME"])
    (finding,) = log.of("encoding_decided")
    assert "GB18030" in finding.message and "not UTF-8" in finding.message
    assert "bou2_4p.shp" in finding.message


def test_real_dbf_with_ldid_0x4d(shared_data):
    path = shared_data / "china_gbk_shapefiles" / "county_2004.dbf"
    log = Findings()
    table = read_table(path, findings=log)
    assert "漠河县" in set(table["NAME2004"])
    assert len(table) == 2387
    (finding,) = log.of("encoding_decided")
    assert "LDID" in finding.message and "0x4D" in finding.message


def test_real_utf8_without_cpg(shared_data):
    path = shared_data / "changchun_admin_amap_shp" / "changchun_districts_amap_2020.shp"
    decision = detect_shapefile_encoding(path)
    assert decision.method is Method.UTF8
    names = set(read_layer(path, working_crs=None)["name"])
    assert {"南关区", "德惠市", "榆树市"} <= names


def test_sniff_is_cheap(shared_data):
    """The sniff reads DBF bytes only; it costs less than the read itself."""
    path = shared_data / "china_gbk_shapefiles" / "bou2_4p.shp"
    t0 = time.perf_counter()
    for _ in range(5):
        detect_shapefile_encoding(path)
    sniff = (time.perf_counter() - t0) / 5
    t0 = time.perf_counter()
    for _ in range(5):
        pyogrio.read_dataframe(path, encoding="GB18030")
    read = (time.perf_counter() - t0) / 5
    assert sniff < 0.05
    assert sniff < read


@pytest.mark.parametrize(("cpg", "ldid"), [("936", 0), (None, 0x4D)])
def test_gbk_declared_over_gb18030_only_characters_reads_them(tmp_path, cpg, ldid):
    """A rare name beyond GBK (𡒄, 4 bytes in GB18030) under a GBK declaration."""
    names = ["𡒄家村", "红松林", "樟子松林"]
    path = _write_shp(tmp_path, "GB18030", cpg=cpg, ldid=ldid, columns={"name": names})
    log = Findings()
    frame = read_layer(path, findings=log)
    assert frame["name"].tolist() == names
    (decided,) = log.of("encoding_decided")
    assert "gb18030" in decided.message and "GB18030" in decided.zh
