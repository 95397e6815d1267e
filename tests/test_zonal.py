from fractions import Fraction

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin
from scipy import ndimage

from gis.crs import WORKING_CRS
from gis.errors import CRSError, RasterError
from gis.findings import Findings
from gis.io import write_geotiff
from gis.raster import raster_source
from gis.zonal import (
    COLUMNS,
    STAT_DEFINITIONS,
    centre_pixels,
    change_stats,
    combine,
    plan_windows,
    reduce_windows,
)
from gis.zonal.burn import centre_pairs
from gis.zonal.definitions import QUANTUM
from gis.zonal.reduce import _sum_by

X0, Y0 = 500_000.0, 4_850_100.0
T10 = from_origin(X0, Y0, 10, 10)


def _bands(red, nir):
    red, nir = np.asarray(red, "uint16"), np.asarray(nir, "uint16")
    return np.stack([np.full_like(red, 500), np.full_like(red, 700), red, nir])


def _src(path, data, *, transform=T10, bands="B,G,R,NIR", nodata=0, blocksize=256, **kw):
    write_geotiff(
        path, data, transform=transform, crs=WORKING_CRS, nodata=nodata, blocksize=blocksize
    )
    return raster_source(path, bands=bands, **kw)


def _zones(*geoms, crs=WORKING_CRS):
    return gpd.GeoDataFrame(
        {"patch_id": [f"P{i}" for i in range(len(geoms))]}, geometry=list(geoms), crs=crs
    )


def _px_box(c0, r0, c1, r1):
    """Box over pixel columns c0..c1-1 and rows r0..r1-1 of the 10 m grid."""
    return shapely.box(X0 + 10 * c0, Y0 - 10 * r1, X0 + 10 * c1, Y0 - 10 * r0)


@pytest.fixture
def pair(tmp_path):
    """10x10: NDVI 0.5 before (one nodata pixel); after the right half drops to -0.5."""
    red, nir = np.full((10, 10), 1000), np.full((10, 10), 3000)
    before = _bands(red, nir)
    before[:, 0, 0] = 0
    red_a, nir_a = red.copy(), nir.copy()
    red_a[:, 5:], nir_a[:, 5:] = 3000, 1000
    return _src(tmp_path / "b.tif", before), _src(tmp_path / "a.tif", _bands(red_a, nir_a))


def test_hand_computed(pair):
    zones = _zones(_px_box(0, 0, 10, 10), _px_box(0, 0, 3, 2), _px_box(6, 6, 8, 8))
    zones.index = ["a", "b", "c"]
    out = change_stats(zones, *pair, ring_m=0)
    assert list(out.columns) == list(COLUMNS)
    assert list(out.index) == ["a", "b", "c"]
    assert out["n_pixels"].tolist() == [100, 6, 4]
    assert out.loc["a", "valid_frac_before"] == 0.99
    assert out.loc["b", "valid_frac_before"] == 5 / 6
    assert out["valid_frac_after"].tolist() == [1.0, 1.0, 1.0]
    assert out["ndvi_before"].tolist() == [0.5, 0.5, 0.5]
    assert out["ndvi_after"].tolist() == [0.0, 0.5, -0.5]
    assert out["dndvi"].tolist() == [-0.5, 0.0, -1.0]
    # cols 5-9 dropped by 1.0 on all 50 pixels; 99 pixels valid on both dates
    assert out["drop_frac"].tolist() == [50 / 99, 0.0, 1.0]
    assert out["dnbr"].isna().all()  # no SWIR2
    assert set(STAT_DEFINITIONS) == set(COLUMNS)


def test_scl_like_mask(tmp_path, pair):
    before, after = pair
    mask = np.zeros((10, 10), "uint8")
    mask[:2, :] = 1  # cloud on the two top rows of the after date
    write_geotiff(tmp_path / "clm.tif", mask, transform=T10, crs=WORKING_CRS)
    masked = raster_source(after.path, bands="B,G,R,NIR", mask=tmp_path / "clm.tif")
    out = change_stats(_zones(_px_box(0, 0, 10, 10)), before, masked, ring_m=0)
    assert out["valid_frac_after"].iloc[0] == 0.8
    assert out["drop_frac"].iloc[0] == 40 / 80  # both-valid: rows 2-9 (80 px), 40 dropped


def _edge(tmp_path, name, forest_cols):
    red, nir = np.full((10, 10), 4000), np.full((10, 10), 6000)  # bare: NDVI 0.2
    red[:, :forest_cols], nir[:, :forest_cols] = 1000, 9000  # forest: NDVI 0.8
    return _src(tmp_path / name, _bands(red, nir))


def test_shifted_edge_is_not_a_drop(tmp_path):
    before = _edge(tmp_path, "b.tif", 5)
    shifted = _edge(tmp_path, "a.tif", 4)  # the edge moved one pixel: misregistration
    zones = _zones(_px_box(0, 0, 10, 10))
    naive = change_stats(zones, before, shifted, ring_m=0, tolerance_px=0)
    assert naive["drop_frac"].iloc[0] == pytest.approx(0.1)
    tolerant = change_stats(zones, before, shifted, ring_m=0)
    assert tolerant["drop_frac"].iloc[0] == 0.0
    cleared = _edge(tmp_path, "c.tif", 0)  # a real clearing of the 5 forest columns
    real = change_stats(zones, before, cleared, ring_m=0)
    assert real["drop_frac"].iloc[0] == pytest.approx(0.4)  # the edge column is forgiven


def test_rings_exclude_other_patches(tmp_path):
    red, nir = np.full((10, 10), 1000), np.full((10, 10), 3000)
    red[4:6, 5:7], nir[4:6, 5:7] = 3000, 1000  # patch 2 is bare: NDVI -0.5
    data = _bands(red, nir)
    b, a = _src(tmp_path / "b.tif", data), _src(tmp_path / "a.tif", data)
    p1, p2 = _px_box(2, 4, 4, 6), _px_box(5, 4, 7, 6)
    out = change_stats(_zones(p1, p2), b, a, ring_m=20)
    ring = shapely.buffer(p1, 20, quad_segs=4)
    inside = rasterize([(ring, 1)], out_shape=(10, 10), transform=T10).astype(bool)
    patches = rasterize([(p1, 1), (p2, 1)], out_shape=(10, 10), transform=T10).astype(bool)
    assert out["ring_n_pixels"].iloc[0] == (inside & ~patches).sum()
    assert out["ring_ndvi_before"].tolist() == [0.5, 0.5]  # patch 2's -0.5 never leaks in
    assert out["ring_dndvi"].tolist() == [0.0, 0.0]
    assert out["ndvi_before"].tolist() == [0.5, -0.5]


def _random_pair(tmp_path, size=64, seed=0, swir=False):
    rng = np.random.default_rng(seed)
    n = 6 if swir else 4
    data = [rng.integers(200, 6000, (n, size, size)).astype("uint16") for _ in range(2)]
    for d in data:
        d[:, rng.random((size, size)) < 0.05] = 0
    bands = "B,G,R,NIR,SWIR1,SWIR2" if swir else "B,G,R,NIR"
    t = from_origin(X0, Y0, 10, 10)
    return tuple(
        _src(tmp_path / f"{k}.tif", d, transform=t, bands=bands, blocksize=16)
        for k, d in zip("ba", data, strict=True)
    )


def _random_zones(size=64, n=25, seed=1):
    rng = np.random.default_rng(seed)
    geoms = []
    for _ in range(n):
        cx, cy = X0 + rng.uniform(0, size * 10), Y0 - rng.uniform(0, size * 10)
        geoms.append(shapely.Point(cx, cy).buffer(rng.uniform(8, 90), quad_segs=5))
    donut = shapely.box(X0 + 50, Y0 - 350, X0 + 350, Y0 - 50).difference(
        shapely.box(X0 + 150, Y0 - 250, X0 + 250, Y0 - 150)
    )
    multi = shapely.MultiPolygon(
        [
            shapely.box(X0 + 400, Y0 - 100, X0 + 460, Y0 - 40),
            shapely.box(X0 + 500, Y0 - 300, X0 + 580, Y0 - 210),
        ]
    )
    return _zones(
        *geoms, donut, multi, shapely.Polygon(), shapely.box(X0 - 500, Y0, X0 - 400, Y0 + 80)
    )


def _reference(zones, b, a, *, ring_m=30.0, thr=0.15):
    """Plain numpy: rasterize each zone, mask, mean of float32 per-pixel indices."""

    def load(src):
        with rasterio.open(src.path) as ds:
            x = ds.read().astype("float32")
        x[:, (x == 0).any(axis=0)] = np.nan
        bad = np.isnan(x).any(axis=0)
        nd = (x[3] - x[2]) / (x[3] + x[2])
        nb = (x[3] - x[5]) / (x[3] + x[5]) if x.shape[0] == 6 else None
        nd[bad] = np.nan
        if nb is not None:
            nb[bad] = np.nan
        return nd, nb

    (vb, nbb), (va, nba) = load(b), load(a)
    shape = vb.shape
    masks = [
        rasterize([(g, 1)], out_shape=shape, transform=b.transform).astype(bool)
        if not g.is_empty
        else np.zeros(shape, bool)
        for g in zones.geometry
    ]
    anyp = np.any(masks, axis=0)
    minb = ndimage.minimum_filter(
        np.where(np.isnan(vb), np.inf, vb), size=3, mode="constant", cval=np.inf
    )
    rows = []
    for g, m in zip(zones.geometry, masks, strict=True):
        okb, oka = m & ~np.isnan(vb), m & ~np.isnan(va)
        both = okb & oka
        ring = (
            (
                rasterize(
                    [(shapely.buffer(g, ring_m, quad_segs=4), 1)],
                    out_shape=shape,
                    transform=b.transform,
                ).astype(bool)
                & ~anyp
            )
            if not g.is_empty
            else np.zeros(shape, bool)
        )
        mean = lambda v, k: v[k].astype(np.float64).mean() if k.any() else np.nan  # noqa: E731
        rows.append(
            {
                "n_pixels": m.sum(),
                "valid_frac_before": okb.sum() / m.sum() if m.any() else np.nan,
                "ndvi_before": mean(vb, okb),
                "ndvi_after": mean(va, oka),
                "drop_frac": ((minb[both] - va[both].astype(np.float64)) > thr).sum() / both.sum()
                if both.any()
                else np.nan,
                "dnbr": mean(nba, oka) - mean(nbb, okb) if nbb is not None else np.nan,
                "ring_n_pixels": ring.sum(),
                "ring_ndvi_after": mean(va, ring & ~np.isnan(va)),
            }
        )
    return pd.DataFrame(rows, index=zones.index)


def test_against_plain_numpy_reference(tmp_path):
    b, a = _random_pair(tmp_path, swir=True)
    zones = _random_zones()
    out = change_stats(zones, b, a, window_px=16)
    ref = _reference(zones, b, a)
    for col in ("n_pixels", "ring_n_pixels"):
        np.testing.assert_array_equal(out[col], ref[col])
    for col in (
        "valid_frac_before",
        "ndvi_before",
        "ndvi_after",
        "drop_frac",
        "dnbr",
        "ring_ndvi_after",
    ):
        np.testing.assert_allclose(out[col], ref[col], rtol=0, atol=1e-10, err_msg=col)
    assert out["n_pixels"].iloc[-2:].tolist() == [0, 0]  # empty, outside the raster


def test_windows_threads_and_order_are_bit_identical(tmp_path):
    b, a = _random_pair(tmp_path)
    zones = _random_zones()
    one = change_stats(zones, b, a, window_px=1024, threads=1)
    many = change_stats(zones, b, a, window_px=16, threads=2)
    pd.testing.assert_frame_equal(one, many, check_exact=True)
    groups = plan_windows(zones.geometry.values, b.grid, 3, ring_m=30.0)
    assert len(groups) > 100
    parts = reduce_windows(groups, b, a)
    shuffled = [parts[i] for i in np.random.default_rng(0).permutation(len(parts))]
    tiny = combine(shuffled, len(zones), index=zones.index, with_nbr=False)
    pd.testing.assert_frame_equal(one, tiny, check_exact=True)


def test_zones_in_another_crs_are_reprojected(tmp_path):
    b, a = _random_pair(tmp_path)
    zones = _random_zones()
    log = Findings()
    out = change_stats(zones.to_crs(4490), b, a, findings=log)
    (moved,) = log.of("zones_reprojected")  # CRSs named as crs_label names them, both languages
    assert (
        "由 EPSG:4490（CGCS2000 经纬度）转换到影像坐标系 EPSG:4551（CGCS2000 3度带"
        in moved.text("zh")
    )
    assert "from EPSG:4490 (China Geodetic Coordinate System 2000) to" in moved.text("en")
    same = change_stats(zones, b, a)
    np.testing.assert_array_equal(out["n_pixels"], same["n_pixels"])
    np.testing.assert_allclose(out["ndvi_before"], same["ndvi_before"], atol=1e-12)
    with pytest.raises(CRSError, match="patches has no coordinate"):
        change_stats(zones.set_crs(None, allow_override=True), b, a)


def test_mismatched_grids_are_read_on_one_analysis_grid(tmp_path, pair):
    # issue 15 replaced "different grids fail": the after date is warped onto the before grid
    before, _ = pair
    shifted = _src(
        tmp_path / "s.tif",
        _bands(np.full((10, 10), 1000), np.full((10, 10), 3000)),
        transform=from_origin(X0 + 5, Y0, 10, 10),
    )
    log = Findings()
    out = change_stats(_zones(_px_box(1, 1, 3, 3)), before, shifted, ring_m=0, findings=log)
    assert out["ndvi_after"].iloc[0] == pytest.approx(0.5, abs=1e-6)
    assert [f.code for f in log] == ["grids_aligned"]
    far = _src(tmp_path / "f.tif", _bands(np.ones((10, 10)), np.ones((10, 10))),
               transform=from_origin(X0 + 5000, Y0, 10, 10))  # fmt: skip
    with pytest.raises(RasterError, match="does not overlap"):
        change_stats(_zones(_px_box(0, 0, 2, 2)), before, far)


def test_precomputed_ndvi_band(tmp_path):
    v = np.linspace(-0.2, 0.9, 100, dtype="float32").reshape(10, 10)
    b = _src(tmp_path / "b.tif", v, bands="NDVI", nodata=None)
    a = _src(tmp_path / "a.tif", v - np.float32(0.3), bands="NDVI", nodata=None)
    out = change_stats(_zones(_px_box(1, 1, 4, 5)), b, a, ring_m=0)
    assert out["ndvi_before"].iloc[0] == v[1:5, 1:4].astype(np.float64).mean()
    assert out["drop_frac"].iloc[0] == 1.0


def test_centre_pixels_matches_gdal(tmp_path):
    zones = _random_zones(n=40, seed=5)
    geoms = zones.geometry.values
    pos, ids = centre_pixels(geoms, T10, (64, 64))
    for i, g in enumerate(geoms):
        ref = (
            np.flatnonzero(rasterize([(g, 1)], out_shape=(64, 64), transform=T10))
            if not g.is_empty
            else []
        )
        np.testing.assert_array_equal(np.sort(pos[ids == i]), ref)


def test_exactextract_agrees_within_coverage_weighting(tmp_path):
    exactextract = pytest.importorskip("exactextract")
    b, a = _random_pair(tmp_path)
    with rasterio.open(b.path) as ds:
        x = ds.read().astype("float32")
    x[:, (x == 0).any(axis=0)] = np.nan
    nd = (x[3] - x[2]) / (x[3] + x[2])
    write_geotiff(tmp_path / "ndvi.tif", nd, transform=b.transform, crs=WORKING_CRS, nodata=np.nan)
    aligned = _zones(*[_px_box(c, r, c + 5, r + 4) for c, r in ((0, 0), (7, 3), (20, 30))])
    zones = pd.concat([aligned, _random_zones(n=20).iloc[:20]], ignore_index=True)
    ours = change_stats(zones, b, a, ring_m=0)
    ee = exactextract.exact_extract(str(tmp_path / "ndvi.tif"), zones, ["mean"], output="pandas")
    diff = (ours["ndvi_before"] - ee["mean"]).abs()
    assert (diff[:3] < 1e-6).all()  # pixel-aligned boxes: coverage is 0 or 1, same mean
    # elsewhere the difference is at most the value spread times the boundary pixels' share
    boundary = 2 * zones.length / 10 + 4
    bound = (np.nanmax(nd) - np.nanmin(nd)) * boundary / ours["n_pixels"]
    assert (diff[3:] <= bound[3:]).all()
    assert diff[3:].max() > 1e-6  # the two definitions really differ


def test_real_ndvi_pair_equals_plain_numpy(shared_data):
    d = shared_data / "eolearn_s2_ndvi_timeseries"
    b = raster_source(d / "derived_ndvi_2016-08-04.tif", bands="NDVI")
    a = raster_source(d / "derived_ndvi_2017-08-04.tif", bands="NDVI")
    zones = gpd.read_file(d / "LULC_polygons.gpkg")
    assert len(zones) == 88
    out = change_stats(zones, b, a, window_px=32)
    for src, col in ((b, "ndvi_before"), (a, "ndvi_after")):
        with rasterio.open(src.path) as ds:
            v = ds.read(1)
        for i, g in enumerate(zones.geometry):
            m = rasterize([(g, 1)], out_shape=v.shape, transform=src.transform).astype(bool)
            expected = v[m].astype(np.float64).mean() if m.any() else np.nan
            assert out[col].iloc[i] == expected or (
                np.isnan(expected) and np.isnan(out[col].iloc[i])
            )
    assert out["n_pixels"].gt(0).sum() == 81


def test_progress_and_findings_for_blind_patches(tmp_path, pair):
    before, after = pair
    mask = np.zeros((10, 10), "uint8")
    mask[:, :3] = 1
    write_geotiff(tmp_path / "m.tif", mask, transform=T10, crs=WORKING_CRS)
    cloudy = raster_source(after.path, bands="B,G,R,NIR", mask=tmp_path / "m.tif")
    log = Findings()
    zones = _zones(_px_box(0, 0, 2, 2), _px_box(5, 5, 7, 7), _px_box(20, 20, 22, 22))
    out = change_stats(zones, before, cloudy, findings=log)
    assert np.isnan(out["ndvi_after"].iloc[0]) and out["valid_frac_after"].iloc[0] == 0
    assert "1 patches have no valid pixel on the after date" in log.of("no_valid_pixels")[0].message
    assert log.of("no_pixels")[0].message.startswith("1 of 3 patches")


def test_progress(tmp_path):
    b, a = _random_pair(tmp_path)
    calls = []
    change_stats(_random_zones(), b, a, window_px=16, progress=lambda *x: calls.append(x))
    assert len(calls) > 1 and calls[-1] == (16, 16)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_rasters_without_ndvi_bands(tmp_path):
    rgb = _src(tmp_path / "rgb.tif", np.ones((3, 10, 10), "uint16"), bands="R,G,B")
    with pytest.raises(RasterError, match="neither R and NIR nor an NDVI band"):
        change_stats(_zones(_px_box(0, 0, 2, 2)), rgb, rgb)


def test_sparse_boxes_read_equal_whole_windows(tmp_path):
    b, a = _random_pair(tmp_path, size=256)
    zones = _random_zones(size=256, n=6, seed=9)
    groups = plan_windows(zones.geometry.values, b.grid, 1024, ring_m=30.0)
    assert len(groups) == 1 and 1 < len(groups[0].boxes) < 10
    whole = plan_windows(zones.geometry.values, b.grid, 1024, ring_m=30.0, max_box_fill=0)
    assert whole[0].boxes == ((0, 0, 256, 256),)
    sparse = combine(reduce_windows(groups, b, a), len(zones), index=zones.index, with_nbr=False)
    dense = combine(reduce_windows(whole, b, a), len(zones), index=zones.index, with_nbr=False)
    pd.testing.assert_frame_equal(sparse, dense, check_exact=True)
    assert sparse["n_pixels"].gt(0).sum() >= 5


def test_geographic_raster_rings_in_metres(tmp_path):
    """A raster in lon/lat (GF-2 products often are): rings are still ring_m metres wide."""
    d = 0.0001  # ~11 m in latitude, ~7.5 m in longitude at 43.8°N
    t = from_origin(125.3, 43.8 + 40 * d, d, d)
    data = _bands(np.full((40, 40), 1000), np.full((40, 40), 3000))
    for k in ("b", "a"):
        write_geotiff(tmp_path / f"{k}.tif", data, transform=t, crs="EPSG:4490", nodata=0)
    b = raster_source(tmp_path / "b.tif", bands="B,G,R,NIR")
    a = raster_source(tmp_path / "a.tif", bands="B,G,R,NIR")
    patch = shapely.box(125.3 + 15 * d, 43.8 + 15 * d, 125.3 + 25 * d, 43.8 + 25 * d)
    zones = _zones(patch, crs="EPSG:4490").to_crs(WORKING_CRS)
    out = change_stats(zones, b, a, ring_m=20.0)
    # ring area ≈ 4 * side * 20 m + corners, side ≈ 80-110 m; pixel ≈ 8 m x 11 m
    assert 60 < out["ring_n_pixels"].iloc[0] < 140, out["ring_n_pixels"].iloc[0]
    assert out["ring_ndvi_before"].iloc[0] == 0.5


def test_window_groups_reduce_in_other_processes(tmp_path):
    """plan/reduce/combine are the pieces a Dask run maps: picklable, exact in any process."""
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    b, a = _random_pair(tmp_path, swir=True)
    zones = _random_zones()
    groups = plan_windows(zones.geometry.values, b.grid, 16, ring_m=30.0, block_shape=(16, 16))
    chunks = [groups[i::3] for i in range(3)]
    assert pickle.loads(pickle.dumps(chunks[0]))[0].key == chunks[0][0].key
    with ProcessPoolExecutor(max_workers=2) as pool:
        parts = [p for part in pool.map(reduce_windows, chunks, [b] * 3, [a] * 3) for p in part]
    remote = combine(parts, len(zones), index=zones.index, with_nbr=True)
    local = change_stats(zones, b, a, window_px=16)
    pd.testing.assert_frame_equal(remote, local, check_exact=True)


def test_centre_pixels_of_nested_collections_and_lines():
    inner = shapely.MultiPolygon([_px_box(0, 0, 2, 2), _px_box(5, 5, 6, 6)])
    nested = shapely.GeometryCollection([inner, shapely.LineString([(X0, Y0), (X0 + 50, Y0 - 50)])])
    pos, ids = centre_pixels(np.array([nested, inner], dtype=object), T10, (10, 10))
    assert sorted(pos[ids == 0].tolist()) == sorted(pos[ids == 1].tolist()) == [0, 1, 10, 11, 55]


def test_centre_pairs_are_the_distinct_sorted_centre_pixels():
    zones = _random_zones(n=40, seed=9)
    overlapping = shapely.GeometryCollection([_px_box(0, 0, 4, 4), _px_box(2, 2, 6, 6)])
    geoms = np.array([*zones.geometry.values, overlapping], dtype=object)
    pos, ids = centre_pixels(geoms, T10, (64, 64))
    pair_ids, pair_pos = centre_pairs(geoms, T10, (64, 64))
    keys = np.unique(ids.astype(np.int64) * 64 * 64 + pos)
    np.testing.assert_array_equal(pair_ids, keys // (64 * 64))
    np.testing.assert_array_equal(pair_pos, keys % (64 * 64))
    last = len(geoms) - 1  # even-odd within one geometry: the parts' overlap is out
    assert (pair_ids == last).sum() == (ids == last).sum() == 16 + 16 - 2 * 4


def test_fixed_point_sums_are_the_exact_float32_sums():
    rng = np.random.default_rng(4)
    ids = np.sort(rng.integers(0, 50, 20_000))
    values = rng.uniform(-1, 1, ids.size).astype(np.float32)
    values[::37] = np.nan
    count, total = _sum_by(ids, values, 52)
    ok = np.isfinite(values)
    np.testing.assert_array_equal(count, np.bincount(ids[ok], minlength=52))
    for i in (0, 17, 49):
        exact = sum(Fraction(float(v)) for v in values[ok & (ids == i)])
        assert Fraction(int(total[i])) * Fraction(QUANTUM) == exact
    assert total[50] == total[51] == 0
