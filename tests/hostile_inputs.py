"""Builders of the hostile-input corpus (tests/test_hostile.py): good inputs and bad ones.

A :class:`Ctx` gives a case its input folder (every file in it is hashed before and after
the run), its output folder (only the files a case allows may be there afterwards) and the
good inputs built once per session, copied in on demand (``ctx.good("after")``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sqlite3
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import rasterio.shutil
import shapely
from affine import Affine
from rasterio.transform import from_origin

from gis.io import write_layer
from gis.verify import example_feature, import_exports
from tests.test_crowns import DEAD, scene
from tests.test_fire_burned import X0 as FIRE_X0
from tests.test_fire_burned import Y0 as FIRE_Y0
from tests.test_fire_burned import _layers as burned_layers
from tests.test_fire_burned import _pair as burned_pair
from tests.test_fire_hotspots import _lonlat as hotspot_lonlat
from tests.test_fire_hotspots import build_layers as build_hotspot_layers
from tests.test_fire_hotspots import viirs_frame
from tests.test_patches import build_scene
from tests.verify_helpers import photo, record, write_export, write_results

BANDS = ["--bands", "R,NIR,SWIR2"]
X0, Y0 = 500_000.0, 4_850_000.0


def build_good(folder: Path) -> dict[str, Path]:
    """Write every good input once: the patch scene, a detect scene, results and a store."""
    good: dict[str, Path] = dict(build_scene(folder))
    scene(folder / "img.tif", [(50, 50, 6, DEAD), (150, 120, 5, DEAD)])
    good["img"] = folder / "img.tif"
    stands = gpd.GeoDataFrame(
        {"标识码": ["S1"], "优势树种": ["红松"]},
        geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100)],
        crs=4551,
    )
    good["stands"] = write_layer(stands, folder / "stands.gpkg")
    results = folder / "results"
    results.mkdir()
    good["results"], good["points"] = write_results(results)
    store = folder / "field.gpkg"
    feature = record("DP1", layer="discolored_points", sample_taken=True, sample_id="S-001")
    import_exports([write_export(folder / "phone.geojson", [feature])], into=store)
    good["store"] = store
    good.update(build_fire_goods(folder))
    good["shp"] = write_layer(
        gpd.read_file(good["patches"]), folder / "shp" / "patches.shp", encoding="utf-8"
    )
    return good


@dataclass
class Ctx:
    """One case's folders: ``inp`` (hashed inputs), ``out`` (outputs) and the good inputs."""

    inp: Path
    out: Path
    goods: dict[str, Path]

    def good(self, key: str, name: str | None = None) -> Path:
        """Copy a good input (with a Shapefile's sidecars) into ``inp``; return its path."""
        src = self.goods[key]
        target = self.inp / (name or src.name)
        if src.suffix == ".shp":
            for side in src.parent.glob(src.stem + ".*"):
                shutil.copy(side, target.with_suffix(side.suffix))
        else:
            shutil.copy(src, target)
        return target


# ------------------------------------------------------------------------- vector files


def frame(coords: list[tuple[float, float]] | None = None, crs: Any = 4551) -> gpd.GeoDataFrame:
    """A small patch layer (5 m squares at ``coords``; default near Changchun in EPSG:4551)."""
    coords = coords or [(X0 + 100, Y0 - 100), (X0 + 300, Y0 - 300)]
    geoms = [shapely.box(x, y, x + 5, y + 5) for x, y in coords]
    return gpd.GeoDataFrame({"TBBH": [f"P{i}" for i in range(len(geoms))]}, geometry=geoms, crs=crs)


def _bytes(name: str, data: bytes) -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        path = ctx.inp / name
        path.write_bytes(data)
        return path

    return make


def _truncated(key: str, keep: float) -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        data = ctx.goods[key].read_bytes()
        path = ctx.inp / f"cut_{ctx.goods[key].name}"
        path.write_bytes(data[: int(len(data) * keep)])
        return path

    return make


def _gpkg(gdf: Callable[[], gpd.GeoDataFrame], name: str = "bad.gpkg") -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        return write_layer(gdf(), ctx.inp / name)

    return make


def _geojson(doc: Any, name: str = "bad.geojson") -> Callable[[Ctx], Path]:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    return _bytes(name, text.encode("utf-8"))


def _shp_without(suffix: str) -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        path = ctx.good("shp", "bad.shp")
        path.with_suffix(suffix).unlink()
        return path

    return make


def _shp_replace(suffix: str, data: bytes) -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        path = ctx.good("shp", "bad.shp")
        path.with_suffix(suffix).write_bytes(data)
        return path

    return make


def _sqlite(sql: str, name: str = "bad.gpkg") -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        path = ctx.inp / name
        con = sqlite3.connect(path)
        con.executescript(sql)
        con.commit()
        con.close()
        return path

    return make


def _folder(name: str) -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        path = ctx.inp / name
        path.mkdir()
        (path / "readme.txt").write_text("not a dataset")
        return path

    return make


def _collection(features: list[Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _feature(geometry: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": {"TBBH": "P1"}}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


BAD_VECTORS: dict[str, Callable[[Ctx], Path]] = {
    "empty-gpkg": _bytes("bad.gpkg", b""),
    "random-gpkg": _bytes("bad.gpkg", bytes(np.random.default_rng(1).integers(0, 256, 4096, "u1"))),
    "text-as-gpkg": _bytes("bad.gpkg", "这不是GeoPackage\n".encode() * 50),
    "truncated-gpkg": _truncated("patches", 0.3),
    "sqlite-not-gpkg": _sqlite("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);"),
    "gpkg-no-layers": _sqlite("PRAGMA application_id = 1196444487;"),
    "folder-as-gpkg": _folder("bad.gpkg"),
    "unknown-suffix": _bytes("bad.xyz", b"1,2,3\n"),
    "shp-no-dbf": _shp_without(".dbf"),
    "shp-empty": _shp_replace(".shp", b""),
    "shp-garbage": _shp_replace(".shp", b"\x00\x00\x27\x0a" + b"\xff" * 300),
    "dbf-garbage": _shp_replace(".dbf", b"\x03garbage" * 20),
    "prj-garbage": _shp_replace(".prj", b"GEOGCS[this is not WKT"),
    "geojson-not-json": _geojson("{not json"),
    "geojson-empty-file": _bytes("bad.geojson", b""),
    "geojson-binary": _bytes("bad.geojson", b"\xff\xfe\x00\x01" * 100),
    "geojson-no-features": _geojson(_collection([])),
    "geojson-null-geometries": _geojson(_collection([_feature(None), _feature(None)])),
    "geojson-deep": _geojson('{"type": "FeatureCollection", "features": ' + _nested(100_000) + "}"),
    "geojson-nan-coords": _geojson(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        '"geometry":{"type":"Point","coordinates":[NaN, Infinity]}}]}'
    ),
    "geojson-huge-coords": _geojson(
        _collection([_feature({"type": "Point", "coordinates": [1e300, -1e300]})])
    ),
    "geojson-latlon-swapped-4490": _geojson(
        _collection([_feature({"type": "Point", "coordinates": [43.8, 125.4]})])
    ),
    "zone-prefixed-as-4551": _gpkg(lambda: frame([(42_453_400, 4_850_000)]), "prefixed.gpkg"),
    "far-away-as-4551": _gpkg(lambda: frame([(9e9, 9e9)]), "far.gpkg"),
    "metres-as-4326": _gpkg(lambda: frame(crs=4326), "metres.gpkg"),
    "kml-broken": _bytes("bad.kml", b"<kml><Document><Placemark><Point><coordinates>1,2"),
    "csv-garbage": _bytes("bad.csv", b"\x00\x01\x02lon,lat\n\xff,\xfe\n"),
    "parquet-garbage": _bytes("bad.parquet", b"PAR1" + b"\x00" * 64),
    "fgb-garbage": _bytes("bad.fgb", b"fgb\x03fgb\x00" + b"\x11" * 64),
}
"""Vector inputs no command can use: each must give exit 3 naming the file."""


# ----------------------------------------------------------------------------- zips


def _zip(members: dict[str, bytes], name: str = "bad.zip", **kw: Any) -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        path = ctx.inp / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, **kw) as zf:
            for member, data in members.items():
                zf.writestr(member, data)
        return path

    return make


def _zip_with_shp(
    extra: dict[str, bytes], *, drop: str = "", prefix: str = ""
) -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        shp = ctx.goods["shp"]
        path = ctx.inp / "bad.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for side in sorted(shp.parent.glob(shp.stem + ".*")):
                if side.suffix != drop:
                    zf.write(side, prefix + side.name)
            for member, data in extra.items():
                zf.writestr(member, data)
        return path

    return make


def _zip_corrupt(ctx: Ctx) -> Path:
    path = _zip_with_shp({})(ctx)
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x03\x04", 10)
    data[at + 60 : at + 200] = b"\x00" * 140  # damage a member's compressed data
    path.write_bytes(bytes(data))
    return path


def _zip_dup(ctx: Ctx) -> Path:
    path = ctx.inp / "bad.zip"
    with zipfile.ZipFile(path, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name" is the point
        zf.writestr("a.geojson", json.dumps(_collection([])))
        zf.writestr("a.geojson", json.dumps(_collection([])))
    return path


BIG = 3 * 1024 * 1024
"""Bytes of a member over the cap the zip cases set (LINYUAN_ZIP_MAX_MEMBER=1M)."""

BAD_ZIPS: dict[str, Callable[[Ctx], Path]] = {
    "zip-random-bytes": _bytes("bad.zip", b"PK\x03\x04" + b"\x01" * 500),
    "zip-empty-file": _bytes("bad.zip", b""),
    "zip-no-members": _zip({}),
    "zip-only-text": _zip({"readme.txt": b"hello"}),
    "zip-escape-dotdot": _zip_with_shp({"../../evil.txt": b"x"}),
    "zip-escape-absolute": _zip_with_shp({"/etc/evil.txt": b"x"}),
    "zip-clash-file-folder": _zip_with_shp({"a": b"file", "a/x.shp": b"shp"}),
    "zip-duplicate-names": _zip_dup,
    "zip-member-over-cap": _zip_with_shp({"patches.dbf": b"\x00" * BIG}, drop=".dbf"),
    "zip-truncated": _truncated("zipped", 0.5),
    "zip-corrupt-data": _zip_corrupt,
    "zip-two-layers-no-choice": _zip_with_shp({"other/b.geojson": json.dumps(_collection([]))}),
    "zip-in-zip": _zip({"inner.zip": b"PK\x05\x06" + b"\x00" * 18}),
    "zip-gdb-garbage": _zip({"x.gdb/a00000001.gdbtable": b"\x00" * 40, "x.gdb/gdb": b"\x01"}),
}
"""Zip inputs no command can use (exit 3 naming the zip)."""

GOOD_ZIPS: dict[str, Callable[[Ctx], Path]] = {
    "zip-junk-over-cap-ignored": _zip_with_shp({"junk.bin": b"\x00" * BIG}),
    "zip-gbk-names": _zip_with_shp({}, prefix="数据/"),
    "zip-macosx-junk": _zip_with_shp({"__MACOSX/._patches.shp": b"\x00\x05\x16\x07"}),
    # sent without its .shx: GDAL rebuilds the index from the .shp, in a temporary folder
    "zip-shp-no-shx": _zip_with_shp({}, drop=".shx"),
}
"""Zips that are read (what the layer needs is there; the rest is not extracted)."""


# --------------------------------------------------------------------------- rasters


def _raster(key: str, fill: str, name: str) -> Callable[[Ctx], Path]:
    """A copy of a good raster with every pixel nodata (``fill="nodata"``) or NaN."""

    def make(ctx: Ctx) -> Path:
        with rasterio.open(ctx.goods[key]) as ds:
            arr, profile = ds.read().astype("float32"), ds.profile
        profile.update(dtype="float32", nodata=-1.0 if fill == "nodata" else None)
        path = ctx.inp / name
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(np.full_like(arr, -1.0 if fill == "nodata" else np.nan))
        return path

    return make


def _one_band(key: str) -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        path = ctx.inp / "bad.tif"
        with rasterio.open(ctx.goods[key]) as ds:
            profile = ds.profile
            profile.update(count=1)
            with rasterio.open(path, "w", **profile) as dst:
                dst.write(ds.read(1), 1)
        return path

    return make


def _plain(count: int, *, crs: str | None, x0: float) -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        path = ctx.inp / "bad.tif"
        geo = {"crs": crs, "transform": from_origin(x0, 5_000_000, 10, 10)} if crs else {}
        with rasterio.open(
            path, "w", driver="GTiff", width=20, height=20, count=count, dtype="float32", **geo
        ) as dst:
            dst.write(np.ones((count, 20, 20), "float32"))
        return path

    return make


def bad_rasters(key: str, count: int) -> dict[str, Callable[[Ctx], Path]]:
    """Raster inputs a check cannot use, made from the good raster ``key`` of ``count`` bands."""
    return {
        "tif-empty-file": _bytes("bad.tif", b""),
        "tif-random-bytes": _bytes("bad.tif", b"II*\x00" + b"\x07" * 2000),
        "tif-text": _bytes("bad.tif", b"not an image\n" * 20),
        "tif-truncated": _truncated(key, 0.4),
        "tif-all-nodata": _raster(key, "nodata", "nodata.tif"),
        "tif-all-nan": _raster(key, "nan", "nan.tif"),
        "tif-one-band": _one_band(key),
        "tif-no-crs": _plain(count, crs=None, x0=0),
        "tif-elsewhere": _plain(count, crs="EPSG:4551", x0=600_000),
    }


def _edited(
    key: str,
    name: str,
    edit: Callable[[dict[str, Any], Any], Any] | None = None,
    descriptions: Sequence[str] = (),
) -> Callable[[Ctx], Path]:
    """A copy of a good raster written by GTiff: ``edit(profile, array)``, band descriptions."""

    def make(ctx: Ctx) -> Path:
        with rasterio.open(ctx.goods[key]) as ds:
            arr, profile = ds.read(), ds.profile
        arr = edit(profile, arr) if edit is not None else arr
        path = ctx.inp / name
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(arr)
            for i, text in enumerate(descriptions, 1):
                dst.set_band_description(i, text)
        return path

    return make


def _relabel(crs: str, dx: float = 0.0) -> Callable[[dict[str, Any], Any], Any]:
    def edit(profile: dict[str, Any], arr: Any) -> Any:
        t = profile["transform"]
        profile.update(crs=crs, transform=Affine(t.a, 0, t.c + dx, 0, t.e, t.f))
        return arr

    return edit


def _south_up(profile: dict[str, Any], arr: Any) -> Any:
    t = profile["transform"]
    profile["transform"] = Affine(t.a, 0, t.c, 0, -t.e, t.f + t.e * arr.shape[1])
    return arr[:, ::-1, :].copy()


def _rotated(profile: dict[str, Any], arr: Any) -> Any:
    t = profile["transform"]
    profile["transform"] = Affine(t.a, 0.5, t.c, 0.5, t.e, t.f)
    return arr


def _vrt_missing(key: str) -> Callable[[Ctx], Path]:
    """A VRT (gdalbuildvrt's XML, by GDAL's VRT driver) whose source file was deleted."""

    def make(ctx: Ctx) -> Path:
        source = ctx.inp / "scene_part.tif"
        shutil.copy(ctx.goods[key], source)
        path = ctx.inp / "mosaic.vrt"
        with rasterio.open(source) as ds:
            rasterio.shutil.copy(ds, path, driver="VRT")
        source.unlink()
        return path

    return make


def modis_like(key: str) -> Callable[[Ctx], Path]:
    """A good raster relabelled to 250 m pixels over the same corner (a MODIS product)."""

    def edit(profile: dict[str, Any], arr: Any) -> Any:
        t = profile["transform"]
        profile["transform"] = Affine(250, 0, t.c, 0, -250, t.f)
        return arr

    return _edited(key, "modis.tif", edit)


LOCAL_CS = 'LOCAL_CS["unnamed",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
"""A local (engineering) CRS as some UAV software writes it: metres placed nowhere."""


def misread_rasters(key: str, bands: str) -> dict[str, tuple[Callable[[Ctx], Path], str]]:
    """Rasters GDAL opens that would be misplaced or misread: (builder, what the error says)."""
    x0 = 42_000_000.0  # a zone-42 prefix on the eastings of EPSG:4551 (CM 126E = zone 42)
    return {
        "tif-4490-over-metres": (_edited(key, "m.tif", _relabel("EPSG:4490")), "EPSG:4490"),
        "tif-zone-prefix": (_edited(key, "z.tif", _relabel("EPSG:4551", x0)), "EPSG:4530"),
        "tif-local-crs": (_edited(key, "l.tif", _relabel(LOCAL_CS)), "局部（工程）坐标系"),
        "tif-south-up": (_edited(key, "s.tif", _south_up), "南方朝上"),
        "tif-rotated": (_edited(key, "r.tif", _rotated), "旋转"),
        "tif-bands-described": (  # the file's order is the reverse of --bands
            _edited(key, "d.tif", descriptions=bands.split(",")[::-1]),
            "波段描述",
        ),
        "vrt-source-missing": (_vrt_missing(key), "scene_part.tif"),
    }


# ----------------------------------------------------------------------- field exports


def _export(*features: dict[str, Any], raw: str | None = None) -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        path = ctx.inp / "phone.geojson"
        if raw is not None:
            path.write_text(raw, encoding="utf-8")
            return path
        return write_export(path, list(features))

    return make


def _prop(**props: Any) -> dict[str, Any]:
    return record("0001", **props)


def _raw_prop(name: str, token: str) -> str:
    """A one-record export whose property ``name`` is the raw JSON ``token`` (NaN, 1e999 …)."""
    feature = record("0001")
    feature["properties"][name] = "@@TOKEN@@"
    return json.dumps(_collection([feature])).replace('"@@TOKEN@@"', token)


def _photo_big(ctx: Ctx) -> Path:
    data = b"\xff\xd8\xff\xe0" + b"\x00" * (10 * 1024 * 1024 + 10)
    item = {
        "mime": "image/jpeg",
        "sha256": hashlib.sha256(data).hexdigest(),
        "data": base64.b64encode(data).decode(),
    }
    return write_export(ctx.inp / "phone.geojson", [record("0001", photos=[item])])


def _geometry(coords: Any) -> dict[str, Any]:
    feature = record("0001")
    feature["geometry"] = {"type": "Point", "coordinates": coords}
    return feature


def _same_id_twice() -> list[dict[str, Any]]:
    a = record("0001")
    b = json.loads(json.dumps(a))
    b["properties"]["note"] = "changed"
    return [a, b]


BAD_EXPORTS: dict[str, Callable[[Ctx], Path]] = {
    "device-time-year-1": _export(_prop(device_time="0001-01-01T00:00:00+08:00")),
    "device-time-year-9999": _export(_prop(device_time="9999-12-31T23:59:59-12:00")),
    "device-time-no-offset": _export(_prop(device_time="2026-06-01T09:30:00")),
    "device-time-garbage": _export(_prop(device_time="2026-13-45T99:99:99+08:00")),
    "gps-nan": _export(raw=_raw_prop("gps_accuracy_m", "NaN")),
    "gps-infinity": _export(raw=_raw_prop("gps_accuracy_m", "Infinity")),
    "gps-minus-infinity": _export(raw=_raw_prop("gps_accuracy_m", "-Infinity")),
    "gps-1e999": _export(raw=_raw_prop("gps_accuracy_m", "1e999")),
    "gps-huge-int": _export(raw=_raw_prop("gps_accuracy_m", "9" * 400)),
    "gps-negative": _export(_prop(gps_accuracy_m=-1)),
    "gps-string": _export(_prop(gps_accuracy_m="5")),
    "coords-nan": _export(
        raw=json.dumps(_collection([record("0001")])).replace("[125.45, 43.79]", "[NaN, NaN]")
    ),
    "coords-out-of-range": _export(_geometry([500_000, 4_850_000])),
    "coords-one-number": _export(_geometry([125.4])),
    "coords-strings": _export(_geometry(["125.4", "43.8"])),
    "nested-200000": _export(
        raw='{"type":"FeatureCollection","features":' + _nested(200_000) + "}"
    ),
    "nested-in-extension": _export(_prop(x_extra=json.loads(_nested(40)))),
    "note-too-long": _export(_prop(note="长" * 2001)),
    "inspector-1mb": _export(_prop(inspector="王" * 1_000_000)),
    "inspector-empty": _export(_prop(inspector="   ")),
    "lone-surrogate": _export(
        raw=json.dumps(_collection([record("0001")])).replace("\\u738b", "\\ud800")
    ),
    "photo-over-cap": _photo_big,
    "photos-21": _export(_prop(photos=[photo(str(i))[0] for i in range(21)])),
    "photo-bad-base64": _export(_prop(photos=[{**photo("a")[0], "data": "!!!"}])),
    "photo-digest-mismatch": _export(_prop(photos=[{**photo("a")[0], "sha256": "0" * 64}])),
    "photo-bad-mime": _export(_prop(photos=[{**photo("a")[0], "mime": "text/html"}])),
    "record-id-not-uuid": _export(_prop(record_id="1")),
    "record-id-reused": _export(*_same_id_twice()),
    "schema-version-2": _export(_prop(schema_version=2)),
    "layer-unknown": _export(_prop(layer="secret")),
    "cause-code-float": _export(_prop(verified_cause_code=42.0000001)),
    "unknown-property": _export(_prop(evil="<script>")),
    "feature-not-object": _export(raw=json.dumps(_collection([1, "x", None]))),
    "not-json": _export(raw="{oops"),
    "json-array": _export(raw="[]"),
    "features-not-list": _export(raw='{"type": "FeatureCollection", "features": {}}'),
    "empty-file": _export(raw=""),
    "utf16-file": _bytes(
        "phone.geojson", json.dumps(_collection([record("0001")])).encode("utf-16")
    ),
}
"""Field exports with bad records: exit 1, nothing imported, the store not even created."""

GOOD_EXPORTS: dict[str, Callable[[Ctx], Path]] = {
    "bom-export": _bytes(
        "phone.geojson", b"\xef\xbb\xbf" + json.dumps(_collection([record("0001")])).encode()
    ),
    "altitude-kept-out": _export(_geometry([125.45, 43.79, 250.0])),
    "extension-ignored": _export(_prop(x_app_version="1.2.3")),
    "example-of-contract": _export(example_feature()),
}
"""Exports that import (exit 0): the tolerated variants of the contract."""


# -------------------------------------------------------------------------- lab tables


def _lab(text: str | bytes, name: str = "lab.csv") -> Callable[[Ctx], Path]:
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    return _bytes(name, data)


LAB_HEAD = "样品编号,检测结果,检测日期\n"

BAD_LAB_ROWS: dict[str, Callable[[Ctx], Path]] = {
    "lab-date-2026-13-45": _lab(LAB_HEAD + "S-001,阳性,2026-13-45\n"),
    "lab-date-year-0": _lab(LAB_HEAD + "S-001,阳性,0000-01-01\n"),
    "lab-date-year-9999": _lab(LAB_HEAD + "S-001,阳性,9999-12-31\n"),
    "lab-date-words": _lab(LAB_HEAD + "S-001,阳性,yesterday\n"),
    "lab-result-garbage": _lab(LAB_HEAD + "S-001,maybe,2026-06-01\n"),
    "lab-unknown-sample": _lab(LAB_HEAD + "S-999,阳性,2026-06-01\n"),
    "lab-nul-bytes": _lab(LAB_HEAD.encode() + b"S-\x00001,\x00,2026-06-01\n"),
    "lab-huge-field": _lab(LAB_HEAD + "S-" + "9" * 100_000 + ",阳性,2026-06-01\n"),
}
"""Lab tables with rows that cannot be used: exit 1, the store unchanged."""

BAD_LAB_FILES: dict[str, Callable[[Ctx], Path]] = {
    "lab-empty-file": _lab(b""),
    "lab-no-columns": _lab("a,b\n1,2\n"),
    "lab-binary": _lab(bytes(range(256)) * 4),
    "lab-utf16": _lab((LAB_HEAD + "S-001,阳性,2026-06-01\n").encode("utf-16")),
    "lab-unbalanced-quote": _lab(LAB_HEAD + 'S-001,"阳性,2026-06-01\n'),
    "lab-folder": _folder("lab.csv"),
}
"""Lab files that cannot be read at all: exit 3 naming the file."""


def good_results_zip(folder: Path, goods: dict[str, Path]) -> Path:
    """A zip of the good Shapefile (the base of the truncated-zip case)."""
    shp = goods["shp"]
    path = folder / "zipped.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for side in sorted(shp.parent.glob(shp.stem + ".*")):
            zf.write(side, side.name)
    return path


# ------------------------------------------------------------------------------- fire


def build_fire_goods(folder: Path) -> dict[str, Path]:
    """Good inputs of the three fire commands (the scenes of tests/test_fire_*.py)."""
    fire = folder / "fire"
    fire.mkdir()
    scene = build_hotspot_layers(fire)
    firms = fire / "firms.csv"
    viirs_frame().to_csv(firms, index=False)
    burn = fire / "burn"
    burn.mkdir()
    before, after = burned_pair(burn)
    dem = fire / "dem.tif"
    with rasterio.open(
        dem, "w", driver="GTiff", width=100, height=100, count=1, dtype="float32",
        crs="EPSG:32651", transform=from_origin(FIRE_X0, FIRE_Y0, 10, 10), nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(np.full((1, 100, 100), 100.0, dtype=np.float32))
    return {
        "fire_sub": scene["sub"],
        "fire_districts": scene["districts"],
        "firms": firms,
        "burn_before": before,
        "burn_after": after,
        "burn_sub": burned_layers(burn)["subcompartments"],
        "dem": dem,
        "towers": _towers(fire / "towers.gpkg", FIRE_X0 + 500),
    }


def _towers(path: Path, x: float) -> Path:
    towers = gpd.GeoDataFrame(
        {"编号": ["T1"], "塔高": [20.0], "监控半径": [3000]},
        geometry=[shapely.Point(x, FIRE_Y0 - 500)],
        crs="EPSG:32651",
    )
    return write_layer(towers.to_crs(4551), path)


def _firms(
    edit: Callable[[Any], Any], name: str = "firms.csv", sep: str = ","
) -> Callable[[Ctx], Path]:
    """A FIRMS VIIRS download changed by ``edit`` (a function of the frame)."""

    def make(ctx: Ctx) -> Path:
        path = ctx.inp / name
        edit(viirs_frame().astype(object)).to_csv(path, index=False, sep=sep)
        return path

    return make


def _set(**columns: Any) -> Callable[[Any], Any]:
    return lambda frame: frame.assign(**columns)


def _dms(*columns: str) -> Callable[[Any], Any]:
    """Write ``columns`` as degrees-minutes-seconds text (43°47′30.1″N, 125°27′45″E)."""

    def text(value: float, hemisphere: str) -> str:
        minutes, seconds = divmod(abs(value) * 3600, 60)
        degrees, minutes = divmod(minutes, 60)
        return f"{degrees:.0f}°{minutes:.0f}′{seconds:.2f}″{hemisphere}"

    def edit(frame: Any) -> Any:
        return frame.assign(
            **{c: [text(v, "N" if c == "latitude" else "E") for v in frame[c]] for c in columns}
        )

    return edit


def _province_table(ctx: Ctx) -> Path:
    """The provincial hotspot table with 时间 written without a time zone."""
    lat, lon = hotspot_lonlat(1000, 1500)
    path = ctx.inp / "省热点.csv"
    path.write_text(
        f"热点编号,经度,纬度,时间,卫星\nH1,{lon},{lat},2025-04-02 13:12,NPP\n", encoding="utf-8"
    )
    return path


def _after_elsewhere(ctx: Ctx) -> Path:
    """The burned pair's later image moved 50 km east: the two do not overlap."""
    with rasterio.open(ctx.goods["burn_after"]) as src:
        profile, data = src.profile, src.read()
    profile["transform"] = from_origin(FIRE_X0 + 50_000, FIRE_Y0, 10, 10)
    path = ctx.inp / "after_elsewhere.tif"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def _dem_in_degrees(ctx: Ctx) -> Path:
    path = ctx.inp / "dem_4326.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=100, height=100, count=1, dtype="float32",
        crs="EPSG:4326", transform=from_origin(125.3, 43.9, 1e-4, 1e-4), nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(np.full((1, 100, 100), 100.0, dtype=np.float32))
    return path


BAD_HOTSPOTS: dict[str, tuple[Callable[[Ctx], Path], int, str | None]] = {
    # name: (builder, exit code, what the output must say)
    "outside-the-area": (_firms(_set(latitude=39.9, longitude=116.4)), 0, "hotspot_outside_area"),
    "times-without-zone": (_province_table, 0, "time_without_zone"),
    "no-times": (_firms(_set(acq_date=None, acq_time=None)), 1, "time_missing"),
    "empty-file": (_bytes("firms.csv", b""), 3, "是空文件"),
    "header-only": (_firms(lambda f: f.iloc[0:0]), 0, "empty_layer"),
    "binary-garbage": (_bytes("firms.csv", b"\xff\xfe\x00garbage\x00\x01,\n\x02"), 3, None),
    "no-latitude": (_firms(lambda f: f.drop(columns=["latitude"])), 3, "没有坐标列"),
    "latitude-95": (_firms(_set(latitude=95.0)), 3, None),
    "coordinates-as-words": (_firms(_set(latitude="北纬四十三度")), 3, "没有可读的坐标"),
    # a provincial table's degrees-minutes-seconds (北纬43度 is one too) are read
    "coordinates-in-dms": (_firms(_dms("latitude", "longitude")), 0, None),
    "semicolon-delimited": (_firms(lambda f: f, sep=";"), 0, None),
    "truncated": (_bytes("firms.csv", viirs_frame().to_csv(index=False).encode()[:-40]), 1, None),
}
"""Hotspot files ``fire hotspots`` is fed: a clear finding, or exit 3 naming the file."""


# ------------------------------------------------------------ as counties deliver them


def _delivered(
    edit: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame], name: str, **write: Any
) -> Callable[[Ctx], Path]:
    """The good patches, edited as a county's delivery would have them, written to ``name``."""

    def make(ctx: Ctx) -> Path:
        path = ctx.inp / name
        frame = edit(gpd.read_file(ctx.goods["patches"]))
        with warnings.catch_warnings():  # GDAL's notice that it cut a long field name
            warnings.simplefilter("ignore", RuntimeWarning)
            pyogrio.write_dataframe(frame, path, **write)
        path.with_suffix(".cpg").unlink(missing_ok=True)
        return path

    return make


def _lat_first(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    lonlat = frame.to_crs(4490)
    return lonlat.set_geometry(shapely.transform(lonlat.geometry, lambda xy: xy[:, ::-1]))


def _gdb_layer(ctx: Ctx) -> Path:
    """A county FileGDB with the patches and two other layers, one named in the path."""
    gdb = ctx.inp / "县级数据.gdb"
    patches = gpd.read_file(ctx.goods["patches"])
    for name, frame in (("督查图斑", patches), ("图斑_备份", patches.iloc[:2]), ("小班", patches)):
        pyogrio.write_dataframe(frame, gdb, layer=name, driver="OpenFileGDB")
    return Path(f"{gdb}|layername=督查图斑")


DELIVERED: dict[str, tuple[Callable[[Ctx], Path], int, str | None]] = {
    # a FileGDB of several layers, the layer named as QGIS shows a layer's source
    "gdb-layer-named-in-path": (_gdb_layer, 0, None),
    # GDAL and ArcGIS cut a UTF-8 name at 10 bytes, inside a character (pyogrio cannot read it)
    "shp-utf8-names-cut-no-cpg": (
        _delivered(lambda f: f.rename(columns={"QQYXSJ": "前期影像时间"}), "图斑.shp"),
        0,
        "field_names_cut",
    ),
    # an ArcGIS .prj on Xian 1980 (replaced by CGCS2000; PROJ has no parameters for it)
    "shp-xian-1980-esri-prj": (
        _delivered(lambda f: f.to_crs(2387), "xian80.shp", encoding="GBK"),
        0,
        "datum_not_converted",
    ),
    # a Shapefile sent without its .shx: the index is rebuilt from the .shp (not beside it)
    "shp-no-shx": (_shp_without(".shx"), 0, "已根据 .shp 重建"),
    # EPSG:4490 written latitude first (its authority axis order)
    "gpkg-4490-lat-first": (_delivered(_lat_first, "图斑.gpkg"), 3, "X、Y 互换"),
}
"""Inputs as counties deliver them (validate's exit code, and what its output must say)."""
