"""Tests of ``linyuan check patches``: outputs, exit codes, JSON, atomicity."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pytest
import rasterio
import shapely
import yaml
from click.testing import CliRunner
from test_io_read import _shp_without_prj
from test_patches import build_scene

from gis.checks.patches import DEFAULT_RULES

pytest.importorskip("gis.zonal")
pytest.importorskip("gis.cli.check")
from gis.cli.main import cli


@pytest.fixture
def scene(tmp_path):
    return build_scene(tmp_path)


def _args(scene, out, *extra):
    return [
        "check",
        "patches",
        str(scene["patches"]),
        "--before",
        str(scene["before"]),
        "--after",
        str(scene["after"]),
        "--bands",
        "R,NIR,SWIR2",
        "--subcompartments",
        str(scene["subcompartments"]),
        "--permits",
        str(scene["permits"]),
        "--out",
        str(out),
        *extra,
    ]


def test_check_patches_writes_gpkg_xlsx_kmz(scene, tmp_path):
    out, xlsx, kmz = tmp_path / "r.gpkg", tmp_path / "r.xlsx", tmp_path / "r.kmz"
    result = CliRunner().invoke(cli, _args(scene, out, "--xlsx", str(xlsx), "--kml", str(kmz)))
    assert result.exit_code == 0, result.output
    assert "核查图斑 5 个" in result.output and "疑似违法" not in result.output
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert {"patches_checked", "findings", "run"} <= layers
    checked = pyogrio.read_dataframe(out, layer="patches_checked")
    assert sorted(checked["patch_id"]) == ["P1", "P2", "P3", "P4", "P5"]
    assert {"reasons", "rules_fired", "legality", "area_mu", "permit_valid"} <= set(checked)
    run = pyogrio.read_dataframe(out, layer="run")
    sha = run[run["section"] == "sha256"].set_index("key")["value"]
    assert len(sha["patches"]) == 64 and len(sha["before"]) == 64
    assert (run["section"] == "stat_definitions").sum() >= 10
    book = openpyxl.load_workbook(xlsx)
    assert book.sheetnames == ["图斑核查", "汇总"]
    header = [c.value for c in book["图斑核查"][1]]
    assert "判读图斑编号" in header and "合法性" in header and "判定理由" in header
    legal = header.index("合法性")
    values = {row[legal].value for row in book["图斑核查"].iter_rows(min_row=2)}
    assert {"有审批", "非林地", "需现地核实"} <= values
    summary = list(book["汇总"].iter_rows(values_only=True))
    assert summary[0] == ("行政区", "合法性", "变化类型", "数量", "面积（亩）")
    assert summary[-1][0] == "合计" and summary[-1][3] == 5
    assert summary[-1][4] == pytest.approx(75.0, rel=1e-3)
    with zipfile.ZipFile(kmz) as zf:
        doc = zf.read("doc.kml").decode("utf-8")
    assert "P1" in doc and "凭证采伐" in doc and "<name>r</name>" in doc


def test_json_english_and_exit_codes(scene, tmp_path):
    out = tmp_path / "r.gpkg"
    result = CliRunner().invoke(cli, _args(scene, out, "--json", "--lang", "en"))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["patches"] == 5
    assert payload["counts"]["legality"]["needs_field_check"] == 1
    reasons = pyogrio.read_dataframe(out, layer="patches_checked")["reasons"]
    assert reasons.str.contains("→").all() and not reasons.str.contains("像元").any()
    # the output exists: refused without --overwrite (exit 3), replaced with it
    again = CliRunner().invoke(cli, _args(scene, out))
    assert again.exit_code == 3 and "--overwrite" in again.output
    assert CliRunner().invoke(cli, _args(scene, out, "--overwrite")).exit_code == 0


def test_bad_rules_file_exit_3_names_the_key(scene, tmp_path):
    rules = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    rules["thresholds"]["min_valid_fraction"] = 0.5
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "r.gpkg"
    result = CliRunner().invoke(cli, _args(scene, out, "--rules", str(path)))
    assert result.exit_code == 3
    assert "min_valid_fraction" in result.output and "min_valid_frac" in result.output
    assert not out.exists()


def test_failed_run_leaves_no_partial_output(scene, tmp_path):
    out, bad = tmp_path / "r.gpkg", tmp_path / "r.txt"
    result = CliRunner().invoke(cli, _args(scene, out, "--xlsx", str(bad)))
    assert result.exit_code == 3
    assert not out.exists() and not bad.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".r.")] == []


def test_duplicate_ids_exit_1(scene, tmp_path):
    import geopandas as gpd

    frame = gpd.read_file(scene["patches"])
    frame.loc[1, "TBBH"] = "P1"
    frame.loc[2, "geometry"] = None
    dup = tmp_path / "dup.gpkg"
    frame.to_file(dup)
    scene = {**scene, "patches": dup}
    out = tmp_path / "r.gpkg"
    result = CliRunner().invoke(cli, _args(scene, out))
    assert result.exit_code == 1
    findings = pyogrio.read_dataframe(out, layer="findings")
    assert {"duplicate_id", "patch_not_checked"} <= set(findings["code"])
    assert "P3" in set(findings.loc[findings["code"] == "patch_not_checked", "feature"])


def test_raster_with_wrong_band_count_exit_3(scene, tmp_path):
    out = tmp_path / "r.gpkg"
    args = _args(scene, out)
    args[args.index("R,NIR,SWIR2")] = "B,G,R,NIR"
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3 and "band" in result.output
    assert not out.exists()


def test_cloud_mask_makes_patch_undecided(scene, tmp_path):
    import numpy as np
    import rasterio

    from gis.io import write_geotiff

    with rasterio.open(scene["after"]) as ds:
        transform, crs = ds.transform, ds.crs
    mask = np.zeros((100, 100), dtype="uint8")
    mask[10:20, 10:20] = 1  # a cloud over P1 (the permitted clear-cut)
    path = tmp_path / "after_mask.tif"
    write_geotiff(path, mask, transform=transform, crs=crs)
    out = tmp_path / "r.gpkg"
    result = CliRunner().invoke(cli, _args(scene, out, "--after-mask", str(path)))
    assert result.exit_code == 0, result.output
    checked = pyogrio.read_dataframe(out, layer="patches_checked").set_index("patch_id")
    assert checked.loc["P1", "legality"] == "needs_field_check"
    assert checked.loc["P1", "valid_frac_after"] == 0.0
    assert checked.loc["P2", "legality"] == "lawful_no_permit"


def test_imagery_covering_none_of_the_patches_stops_with_exit_3(scene, tmp_path):
    # issue 15 ("Bad input"): scenes that cover none of the patches are exit 3 naming the
    # file and the fix — the wrong scene or the patches' wrong CRS, not results to write
    import geopandas as gpd

    frame = gpd.read_file(scene["patches"])
    frame["geometry"] = frame.translate(50_000, 0)
    far = tmp_path / "far.gpkg"
    frame.to_file(far)
    out = tmp_path / "r.gpkg"
    result = CliRunner().invoke(cli, _args({**scene, "patches": far}, out))
    assert result.exit_code == 3, result.output
    assert str(scene["before"]) in result.output
    assert f"未覆盖 {len(frame)} 个图斑中的任何一个" in result.output
    assert "坐标系" in result.output and "请给出图斑所在区域的影像" in result.output
    assert not out.exists()


def test_patches_partly_outside_the_rasters_need_field_check(scene, tmp_path):
    import geopandas as gpd

    frame = gpd.read_file(scene["patches"])
    moved = frame.index[:1]
    frame.loc[moved, "geometry"] = frame.loc[moved].translate(50_000, 0)
    part = tmp_path / "part.gpkg"
    frame.to_file(part)
    out = tmp_path / "r.gpkg"
    result = CliRunner().invoke(cli, _args({**scene, "patches": part}, out))
    assert result.exit_code in (0, 1), result.output
    checked = pyogrio.read_dataframe(out, layer="patches_checked").set_index("patch_id")
    gone = checked.loc[frame.loc[moved, "TBBH"]]
    assert (gone["legality"] == "needs_field_check").all()
    assert gone["reasons"].str.contains("有效像元不足").all()
    assert (checked.drop(gone.index)["n_pixels"] > 0).all()
    findings = pyogrio.read_dataframe(out, layer="findings")
    assert "no_pixels" in set(findings["code"])


def _tagged(scene, tmp_path, before_date, after_date):
    """Copies of the scene's rasters whose tags give their dates (GDAL IMAGERY domain, TIFF)."""
    import shutil

    import rasterio

    paths = {}
    for role, tags in (
        ("before", {"ns": "IMAGERY", "ACQUISITIONDATETIME": f"{before_date} 02:30:00"}),
        ("after", {"TIFFTAG_DATETIME": after_date.replace("-", ":") + " 10:30:00"}),
    ):
        paths[role] = tmp_path / f"{role}_tagged.tif"
        shutil.copy(scene[role], paths[role])
        with rasterio.open(paths[role], "r+") as ds:
            ds.update_tags(**tags)
    return {**scene, **paths}


def test_image_dates_from_geotiff_tags_fill_missing_patch_dates(scene, tmp_path):
    # issue 15: dates come from the images' metadata when the patches lack them — for a plain
    # GeoTIFF its tags, read as detect discolored reads them (gis.raster.dates.tags_date)
    import geopandas as gpd

    frame = gpd.read_file(scene["patches"]).drop(columns=["QQYXSJ", "HQYXSJ"])
    nodates = tmp_path / "nodates.gpkg"
    frame.to_file(nodates)
    tagged = _tagged(scene, tmp_path, "2024-09-01", "2025-09-01")
    out = tmp_path / "r.gpkg"
    result = CliRunner().invoke(cli, _args({**tagged, "patches": nodates}, out))
    assert result.exit_code == 0, result.output
    checked = pyogrio.read_dataframe(out, layer="patches_checked").set_index("patch_id")
    assert checked.loc["P1", "legality"] == "permitted"  # as with --image-dates
    findings = pyogrio.read_dataframe(out, layer="findings")
    note = findings[findings["code"] == "image_dates_from_metadata"]
    assert len(note) == 1 and "前期 2024-09-01，后期 2025-09-01" in note["message"].iloc[0]
    assert "image_date_mismatch" not in set(findings["code"])


def test_patch_dates_far_from_the_geotiff_tags_are_a_finding(scene, tmp_path):
    tagged = _tagged(scene, tmp_path, "2024-09-03", "2025-05-20")  # the patches say 2025-09-01
    out = tmp_path / "r.gpkg"
    result = CliRunner().invoke(cli, _args(tagged, out))
    assert result.exit_code in (0, 1), result.output
    findings = pyogrio.read_dataframe(out, layer="findings")
    off = findings[findings["code"] == "image_date_mismatch"]
    assert len(off) == 1  # the after date only: 2 days off the before is within tolerance
    assert off["field"].iloc[0] == "image_date_after"
    assert off["message"].iloc[0].startswith("5 个图斑") and "2025-05-20" in off["message"].iloc[0]


def test_image_dates_option_fills_missing_patch_dates(scene, tmp_path):
    import geopandas as gpd

    frame = gpd.read_file(scene["patches"]).drop(columns=["QQYXSJ", "HQYXSJ"])
    nodates = tmp_path / "nodates.gpkg"
    frame.to_file(nodates)
    out = tmp_path / "r.gpkg"
    args = _args({**scene, "patches": nodates}, out)
    result = CliRunner().invoke(cli, args)
    checked = pyogrio.read_dataframe(out, layer="patches_checked").set_index("patch_id")
    assert checked.loc["P1", "legality"] == "needs_field_check"  # permit dates not checkable
    result = CliRunner().invoke(cli, [*args, "--overwrite", "--image-dates", "20240901,20250901"])
    assert result.exit_code == 0, result.output
    checked = pyogrio.read_dataframe(out, layer="patches_checked").set_index("patch_id")
    assert checked.loc["P1", "legality"] == "permitted"
    bad = CliRunner().invoke(cli, [*args, "--overwrite", "--image-dates", "20250901"])
    assert bad.exit_code == 2 and "BEFORE,AFTER" in bad.output


def test_image_without_crs_message_advice_works(scene, tmp_path):
    """The no-CRS error names a fix this command accepts: the .prj it names, beside the image."""
    out = tmp_path / "declared.gpkg"
    declared = CliRunner().invoke(cli, [*_args(scene, out), "--lang", "en"])
    assert declared.exit_code in (0, 1), declared.output
    with rasterio.open(scene["after"]) as ds:
        data, profile = ds.read(), {**ds.profile, "crs": None}
    bare = tmp_path / "bare" / "after.tif"
    bare.parent.mkdir()
    with rasterio.open(bare, "w", **profile) as ds:
        ds.write(data)
    args = _args(scene, tmp_path / "r.gpkg")
    args[args.index(str(scene["after"]))] = str(bare)
    for lang in ("en", "zh"):
        refused = CliRunner().invoke(cli, [*args, "--lang", lang])
        assert refused.exit_code == 3, refused.output
        assert "--crs" not in refused.output  # no image-reading command has such an option
    prj = re.search(
        r"beside it as (\S+\.prj)", CliRunner().invoke(cli, [*args, "--lang", "en"]).output
    )
    assert prj is not None and prj[1] == str(bare.with_suffix(".prj"))
    with rasterio.open(scene["before"]) as ds:  # the .prj delivered with the image
        Path(prj[1]).write_text(ds.crs.to_wkt())
    followed = CliRunner().invoke(cli, [*args, "--lang", "en"])
    assert followed.exit_code == declared.exit_code, followed.output
    verdicts = [pyogrio.read_dataframe(p, layer="patches_checked") for p in (out, args[-1])]
    assert verdicts[0]["legality"].tolist() == verdicts[1]["legality"].tolist()
    findings = pyogrio.read_dataframe(args[-1], layer="findings")
    assert "crs_from_prj" in set(findings["code"])


def _patches_without_crs(scene, folder: Path, suffix: str) -> Path:
    """The scene's patches (EPSG:4551, eastings without a zone prefix) with no CRS declared."""
    frame = gpd.read_file(scene["patches"]).set_crs(None, allow_override=True)
    return _shp_without_prj(folder, frame, "图斑", suffix)


@pytest.mark.skipif(shutil.which("gdalsrsinfo") is None, reason="gdal-bin not installed")
@pytest.mark.parametrize(("suffix", "command"), [(".shp", "gdalsrsinfo"), (".fgb", "ogr2ogr")])
@pytest.mark.parametrize("folder", ["plain", "林业 数据"])
def test_patches_without_crs_message_advice_works(scene, tmp_path, suffix, command, folder):
    """A patch layer whose CRS cannot be guessed: the error gives a command that works here.

    Also from a folder whose name holds a space, as office PCs have: the command quotes paths.
    """
    out = tmp_path / "declared.gpkg"
    declared = CliRunner().invoke(cli, [*_args(scene, out), "--lang", "en"])
    assert declared.exit_code in (0, 1), declared.output
    (tmp_path / folder).mkdir()
    bare = _patches_without_crs(scene, tmp_path / folder, suffix)
    args = _args(scene, tmp_path / "r.gpkg")
    args[2] = str(bare)
    found = {}
    for lang in ("en", "zh"):
        refused = CliRunner().invoke(cli, [*args, "--lang", lang])
        assert refused.exit_code == 3, refused.output
        assert str(bare) in refused.output and "EPSG:4551" in refused.output
        assert "pass --crs" not in refused.output and "请用 --crs" not in refused.output
        assert (".prj" in refused.output) == (suffix == ".shp")  # a .prj is for a Shapefile
        found[lang] = re.search(rf"({command} .+?)(?: and read (.+?))? ?[`(（]", refused.output)
        assert found[lang] is not None, refused.output
    assert found["en"][1] == found["zh"][1]
    done = subprocess.run(found["en"][1], shell=True, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    if found["en"][2]:  # a copy with the CRS is read instead
        args[2] = found["en"][2]
    followed = CliRunner().invoke(cli, [*args, "--lang", "en"])
    assert followed.exit_code == declared.exit_code, followed.output
    verdicts = [
        pyogrio.read_dataframe(p, layer="patches_checked").set_index("patch_id")["legality"]
        for p in (out, args[-1])
    ]
    assert verdicts[0].sort_index().tolist() == verdicts[1].sort_index().tolist()


def test_union_output_with_collections_is_checked_and_mapped(scene, tmp_path):
    """Polygons + MultiPolygons + collections (a QGIS union): checked, mapped; a line refused."""
    frame = gpd.read_file(scene["patches"])
    geoms = list(frame.geometry)
    edge = shapely.LineString(np.reshape(geoms[0].bounds, (2, 2)))
    geoms[0] = shapely.GeometryCollection([geoms[0], edge])
    geoms[1] = shapely.MultiPolygon([geoms[1]])
    union = tmp_path / "union.gpkg"
    frame.set_geometry(gpd.GeoSeries(geoms, crs=frame.crs)).to_file(union)
    args = _args(scene, tmp_path / "r.gpkg", "--lang", "en")
    args[2] = str(union)
    done = CliRunner().invoke(cli, args)
    assert done.exit_code in (0, 1), done.output
    checked = gpd.read_file(tmp_path / "r.gpkg", layer="patches_checked")
    assert set(checked.geom_type) <= {"Polygon", "MultiPolygon"} and len(checked) == len(frame)
    findings = pyogrio.read_dataframe(tmp_path / "r.gpkg", layer="findings")
    assert findings.loc[findings["code"] == "collection_polygons_kept", "feature"].tolist() == [
        frame["TBBH"][0]
    ]
    mapped = CliRunner().invoke(
        cli, ["map", str(tmp_path / "r.gpkg"), "--out", str(tmp_path / "m.html")]
    )
    assert mapped.exit_code == 0, mapped.output
    geoms[2] = edge
    frame.set_geometry(gpd.GeoSeries(geoms, crs=frame.crs)).to_file(union)
    args = _args(scene, tmp_path / "r2.gpkg", "--lang", "en")
    args[2] = str(union)
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 3
    assert f"feature(s) {frame['TBBH'][2]} hold no polygon (LineString×1)" in refused.output
