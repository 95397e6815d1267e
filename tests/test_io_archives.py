"""Zips as Chinese Windows writes them: GBK member names, folders, several layers, unsafe paths."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from gis.errors import DataSourceError, UnsafeArchiveError
from gis.findings import Findings
from gis.io import list_layers, read_layer
from gis.io.archives import decode_member_name, extract_zip, find_datasets

SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def _shapefile(folder: Path, stem: str = "layer", n: int = 2) -> list[Path]:
    frame = gpd.GeoDataFrame(
        {"name": [f"图斑{i}" for i in range(n)]},
        geometry=[
            shapely.box(500_000 + i * 200, 4_850_000, 500_100 + i * 200, 4_850_100)
            for i in range(n)
        ],
        crs=4551,
    )
    path = folder / f"{stem}.shp"
    pyogrio.write_dataframe(frame, path, encoding="GBK")
    return [path.with_suffix(s) for s in SHP_PARTS if path.with_suffix(s).exists()]


def _zip(target: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return target


def _gbk_zip(target: Path, members: dict[str, bytes]) -> Path:
    """Write a zip whose member names are GBK bytes without the UTF-8 flag (Chinese Windows).

    zipfile always writes non-ASCII names as UTF-8 with flag bit 11, so each name is written
    as an ASCII placeholder of the same byte length and then patched in the file.
    """
    placeholders = {}
    for i, name in enumerate(members):
        raw = name.encode("gbk")
        stub = f"{i:03d}".encode() + b"_" * (len(raw) - 3)
        assert len(stub) == len(raw) and len(raw) > 3
        placeholders[stub] = raw
    _zip(
        target,
        {stub.decode(): data for stub, data in zip(placeholders, members.values(), strict=True)},
    )
    data = target.read_bytes()
    for stub, raw in placeholders.items():
        assert data.count(stub) == 2  # local header and central directory
        data = data.replace(stub, raw)
    target.write_bytes(data)
    return target


def _shp_members(parts: list[Path], prefix: str) -> dict[str, bytes]:
    return {f"{prefix}{p.suffix}": p.read_bytes() for p in parts}


def test_gbk_member_names_are_decoded(tmp_path):
    parts = _shapefile(tmp_path)
    archive = _gbk_zip(tmp_path / "图斑.zip", _shp_members(parts, "森林督查图斑"))
    raw = [i.filename for i in zipfile.ZipFile(archive).infolist()]
    assert "森林督查图斑.shp" not in raw  # zipfile alone gives cp437 mojibake
    assert all(not (i.flag_bits & 0x800) for i in zipfile.ZipFile(archive).infolist())
    decoded = [decode_member_name(i) for i in zipfile.ZipFile(archive).infolist()]
    assert "森林督查图斑.shp" in decoded
    log = Findings()
    frame = read_layer(archive, findings=log)
    assert frame["name"].tolist() == ["图斑0", "图斑1"]
    assert frame.attrs["source"].endswith("图斑.zip!森林督查图斑.shp")
    assert "森林督查图斑.shp" in log.of("encoding_decided")[0].source
    assert list_layers(archive) == ["森林督查图斑"]


def test_utf8_flagged_names_are_kept(tmp_path):
    parts = _shapefile(tmp_path)
    archive = _zip(tmp_path / "u.zip", _shp_members(parts, "小班"))
    assert all(i.flag_bits & 0x800 for i in zipfile.ZipFile(archive).infolist())
    assert list_layers(archive) == ["小班"]
    assert len(read_layer(archive)) == 2


def test_zip_with_folders_and_gbk_folder_names(tmp_path):
    parts = _shapefile(tmp_path)
    members = _shp_members(parts, "成果/2024年/图斑")
    members["成果/说明.txt"] = "说明".encode("gbk")
    archive = _gbk_zip(tmp_path / "deep.zip", members)
    assert list_layers(archive) == ["成果/2024年/图斑"]
    frame = read_layer(archive)
    assert len(frame) == 2 and frame.crs.to_epsg() == 4551


def test_backslash_member_paths(tmp_path):
    parts = _shapefile(tmp_path)
    archive = _zip(tmp_path / "win.zip", _shp_members(parts, "data\\layer"))
    assert list_layers(archive) == ["data/layer"]
    assert len(read_layer(archive)) == 2


def test_several_layers_need_layer(tmp_path):
    a = _shapefile(tmp_path, "a")
    b = _shapefile(tmp_path, "b", n=3)
    archive = _zip(tmp_path / "two.zip", _shp_members(a, "x/甲") | _shp_members(b, "y/乙"))
    with pytest.raises(DataSourceError) as err:
        read_layer(archive)
    message = str(err.value)
    assert "two.zip" in message and "x/甲" in message and "y/乙" in message
    assert "--layer" in message
    assert f"'{archive}|layername=x/甲'" in message  # for commands without --layer
    assert f"{archive} 含有多个图层" in err.value.zh
    assert len(read_layer(f"{archive}|layername=x/甲")) == 2
    assert len(read_layer(archive, layer="乙")) == 3
    assert len(read_layer(archive, layer="x/甲")) == 2
    with pytest.raises(DataSourceError, match=r"no single layer '丙'.*x/甲, y/乙"):
        read_layer(archive, layer="丙")


@pytest.mark.parametrize(
    "evil", ["../evil.shp", "a/../../evil.shp", "/abs/evil.shp", "C:/evil.shp", "..\\evil.shp"]
)
def test_unsafe_member_paths_are_refused(tmp_path, evil):
    parts = _shapefile(tmp_path)
    members = _shp_members(parts, "ok") | {evil: b"x"}
    archive = _zip(tmp_path / "evil.zip", members)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UnsafeArchiveError) as err:
        extract_zip(archive, out)
    assert "evil.zip" in str(err.value) and "evil.shp" in str(err.value)
    assert "re-create the zip" in str(err.value)
    assert list(out.iterdir()) == []  # nothing written before refusing
    assert not (tmp_path / "evil.shp").exists()
    with pytest.raises(UnsafeArchiveError):
        read_layer(archive)


def test_not_a_zip(tmp_path):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK not really")
    with pytest.raises(DataSourceError, match=r"broken.zip is not a readable zip.*re-create"):
        read_layer(bad)


def test_zip_without_a_dataset(tmp_path):
    archive = _zip(tmp_path / "docs.zip", {"readme.txt": b"hi"})
    with pytest.raises(DataSourceError, match=r"docs.zip holds no vector dataset"):
        read_layer(archive)


def test_zipped_geopackage_lists_and_reads_its_layers(tmp_path):
    gpkg = tmp_path / "两层.gpkg"
    for name, n in (("parks", 2), ("greenways", 3)):
        frame = gpd.GeoDataFrame(
            {"i": range(n)},
            geometry=[shapely.Point(500_000 + i, 4_850_000) for i in range(n)],
            crs=4551,
        )
        pyogrio.write_dataframe(frame, gpkg, layer=name, append=gpkg.exists())
    archive = _zip(tmp_path / "g.zip", {"两层.gpkg": gpkg.read_bytes()})
    assert sorted(list_layers(archive)) == ["greenways", "parks"]
    assert len(read_layer(archive, layer="greenways")) == 3
    with pytest.raises(
        DataSourceError, match=r"several layers: (parks, greenways|greenways, parks)"
    ):
        read_layer(archive)


def test_find_datasets_treats_gdb_folders_as_one(tmp_path):
    (tmp_path / "a.gdb").mkdir()
    (tmp_path / "a.gdb" / "a00000001.gdbtable").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.shp").write_bytes(b"")
    (tmp_path / "sub" / "b.dbf").write_bytes(b"")
    assert find_datasets(tmp_path) == [tmp_path / "a.gdb", tmp_path / "sub" / "b.shp"]


def test_zip_datasets_lists_each_dataset_with_the_members_it_needs(tmp_path):
    from gis.io.archives import zip_datasets

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in (
            "d/图斑.shp",
            "d/图斑.shx",
            "d/图斑.dbf",
            "d/图斑.prj",
            "d/图斑2.dbf",
            "x.gdb/a00000001.gdbtable",
            "x.gdb/gdb",
            "junk.bin",
            "__MACOSX/._y.shp",
        ):
            zf.writestr(name, b"0")  # fmt: skip
    found = zip_datasets(archive)
    assert list(found) == ["d/图斑.shp", "x.gdb"]
    assert sorted(found["d/图斑.shp"]) == ["d/图斑.dbf", "d/图斑.prj", "d/图斑.shp", "d/图斑.shx"]
    assert sorted(found["x.gdb"]) == ["x.gdb/a00000001.gdbtable", "x.gdb/gdb"]


def test_extract_refuses_members_over_the_cap_and_clashing_names(tmp_path, monkeypatch):
    from gis.io.archives import member_cap

    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.geojson", b" " * 5000)
    with pytest.raises(UnsafeArchiveError, match="larger than the 4096-byte cap"):
        extract_zip(big, tmp_path / "out", max_member_bytes=4096)
    monkeypatch.setenv("LINYUAN_ZIP_MAX_MEMBER", "4K")
    assert member_cap() == 4096
    with pytest.raises(UnsafeArchiveError, match="LINYUAN_ZIP_MAX_MEMBER"):
        extract_zip(big, tmp_path / "out2")
    clash = tmp_path / "clash.zip"
    with zipfile.ZipFile(clash, "w") as zf:
        zf.writestr("a", b"file")
        zf.writestr("a/x.shp", b"shp")
    with pytest.raises(UnsafeArchiveError, match=r"clash.*: a"):
        extract_zip(clash, tmp_path / "out3")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_zipped_filegdb_of_several_layers_names_the_path_that_works(tmp_path):
    """The suggestion is the zip's path with |layername=, which reads the layer."""
    gdb = tmp_path / "src" / "数据" / "县级 数据.gdb"
    gdb.parent.mkdir(parents=True)
    frame = gpd.read_file(_shapefile(tmp_path, "a", n=3)[0])
    for name, part in (("督查图斑", frame), ("图斑备份", frame.iloc[:1])):
        pyogrio.write_dataframe(part, gdb, layer=name, driver="OpenFileGDB")
    members = {f.relative_to(tmp_path / "src").as_posix(): f.read_bytes()
               for f in gdb.rglob("*") if f.is_file()}  # fmt: skip
    archive = _zip(tmp_path / "县级.zip", members)
    with pytest.raises(DataSourceError) as err:
        read_layer(archive)
    suggested = f"{archive}|layername=督查图斑"
    assert f"'{suggested}'" in str(err.value) and f"'{suggested}'" in err.value.zh
    assert len(read_layer(suggested)) == 3
