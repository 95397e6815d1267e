"""Benchmark the patch-evidence engine (issue 3: "Speed and memory").

Generates once (cached in a bench folder) a 4-band uint16 tiled GeoTIFF pair per size and random
change patches, then prints, in one run: Linyuan's ``change_stats`` (both dates, rings included),
exactextract (default strategy, ``mean`` of NDVI per patch per date, read from a VRT whose
``norm_diff`` pixel function computes NDVI from the same 4-band files; and, for reference, from
a precomputed NDVI GeoTIFF whose writing is not timed), rasterstats (``boundless=False``,
``mean``, from the same VRT), a plain single-threaded full read of both rasters (the floor),
and peak RSS per raster size. Each measurement runs in a fresh process; wall and CPU seconds
are printed (the machine may be shared: CPU seconds are the steadier figure).

Usage::

    .venv/bin/python scripts/bench_patches.py                       # the issue's full run
    .venv/bin/python scripts/bench_patches.py --sizes 2000 --patches 1000 --skip-rasterstats
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np
from benchkit import bench_dir, cpu_seconds, peak_rss_mb

CRS = "EPSG:32651"  # UTM 51N: Changchun
X0, Y0, RES = 300_000.0, 4_900_000.0, 10.0
BLOCK = 256
_CPU: list[float] = []  # CPU seconds of the timed section (user + system, all threads)


def _bench_dir(arg: str | None) -> Path:
    """The bench folder shared with ``bench_scale.py``."""
    return bench_dir(arg, "linyuan_bench")


def _field(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Return a smooth 0..1 field: coarse noise upsampled by ``cell`` (blocky land cover)."""
    coarse = rng.random((shape[0] // cell + 2, shape[1] // cell + 2))
    big = np.kron(coarse, np.ones((cell, cell)))
    return big[: shape[0], : shape[1]]


def _write_pair(
    d: Path,
    size: int,
    *,
    block: int = BLOCK,
    predictor: int = 2,
    crs: str = CRS,
    origin: tuple[float, float] = (X0, Y0),
) -> tuple[Path, Path]:
    """Write ``before``/``after`` 4-band (B,G,R,NIR) uint16 rasters of ``size``² pixels.

    DEFLATE-compressed, tiled ``block``² with ``predictor`` (1: none), in ``crs`` with its
    lower-left corner at ``origin``; files of other settings than the defaults are named apart.
    """
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    tag = _tag(block=block, predictor=predictor, crs=crs, origin=origin)
    paths = (d / f"before_{size}{tag}.tif", d / f"after_{size}{tag}.tif")
    if all(p.exists() for p in paths):
        return paths
    need = size * size * 4 * 2 * 2 * 0.6
    if shutil.disk_usage(d).free < need * 2:
        sys.exit(f"not enough free disk in {d} for {need / 1e9:.1f} GB of rasters")
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 4,
        "dtype": "uint16",
        "crs": crs,
        "transform": from_origin(origin[0], origin[1] + size * RES, RES, RES),
        "nodata": 0,
        "tiled": True,
        "blockxsize": block,
        "blockysize": block,
        "compress": "deflate",
        "predictor": predictor,
    }
    for k, path in enumerate(paths):
        tmp = path.with_suffix(".tmp.tif")
        with rasterio.open(tmp, "w", **profile) as dst:
            for row in range(0, size, 1024):
                h = min(1024, size - row)
                rng = np.random.default_rng(row)  # same landscape on both dates
                forest = _field(rng, (h, size), 64)
                noise = np.random.default_rng(row + 1 + 7919 * k).normal(0, 60, (4, h, size))
                b = 300 + 200 * (1 - forest)
                g = 500 + 300 * (1 - forest)
                r = 400 + 900 * (1 - forest)
                nir = 2000 + 1800 * forest
                if k == 1:  # after: a cleared band every ~7 km (real change)
                    cleared = _field(np.random.default_rng(row + 99), (h, size), 64) > 0.93
                    r = np.where(cleared, 1300.0, r)
                    nir = np.where(cleared, 1900.0, nir)
                data = np.stack([b, g, r, nir]) + noise
                win = Window(0, row, size, h)
                dst.write(np.clip(data, 1, 10000).astype("uint16"), window=win)
        os.replace(tmp, path)
    return paths


def _tag(**settings: object) -> str:
    """File-name suffix of raster/patch settings other than this script's defaults."""
    default = {"block": BLOCK, "predictor": 2, "crs": CRS, "origin": (X0, Y0)}
    if all(settings[k] == default[k] for k in settings):
        return ""
    crs, (x, y) = str(settings["crs"]).replace(":", ""), settings["origin"]  # type: ignore[misc]
    extra = "".join(f"_{k[0]}{settings[k]}" for k in ("block", "predictor") if k in settings)
    return f"{extra}_{crs}_{x:.0f}_{y:.0f}"


def _patches(
    d: Path,
    size: int,
    n: int,
    seed: int = 3,
    *,
    crs: str = CRS,
    origin: tuple[float, float] = (X0, Y0),
) -> Path:
    """Write ``n`` random patches (0.1-5 ha, irregular 12-gons) inside the raster; cached."""
    import geopandas as gpd
    import shapely

    x0, y0 = origin
    path = d / f"patches_{size}_{n}{_tag(crs=crs, origin=origin)}.gpkg"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    area_m2 = np.exp(rng.uniform(np.log(1_000), np.log(50_000), n))
    radius = np.sqrt(area_m2 / np.pi)
    margin = 400.0
    cx = rng.uniform(x0 + margin, x0 + size * RES - margin, n)
    cy = rng.uniform(y0 + margin, y0 + size * RES - margin, n)
    k = 12
    ang = np.sort(rng.uniform(0, 2 * np.pi, (n, k)), axis=1)
    rad = radius[:, None] * rng.uniform(0.7, 1.3, (n, k)) * rng.uniform(0.6, 1.4, (n, 1))
    xs = cx[:, None] + rad * np.cos(ang)
    ys = cy[:, None] + rad * np.sin(ang) / rng.uniform(0.6, 1.4, (n, 1)) ** 2
    ring = np.stack([xs, ys], axis=-1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    geoms = shapely.make_valid(shapely.polygons(ring))
    frame = gpd.GeoDataFrame({"patch_id": [f"P{i:06d}" for i in range(n)]}, geometry=geoms, crs=crs)
    frame = frame[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
    frame.to_file(path, engine="pyogrio")
    return path


def _ndvi_raster(d: Path, src_path: Path) -> tuple[Path, float]:
    """Write the float32 NDVI of a B,G,R,NIR raster (for exactextract/rasterstats); cached."""
    import rasterio

    from gis.indices import ndvi

    out = d / f"ndvi_{src_path.name}"
    if out.exists():
        return out, float("nan")
    t = time.perf_counter()
    with rasterio.open(src_path) as src:
        profile = src.profile | {"count": 1, "dtype": "float32", "nodata": float("nan")}
        profile.pop("predictor", None)
        with rasterio.open(out.with_suffix(".tmp.tif"), "w", **profile) as dst:
            for _, win in src.block_windows(1):
                x = src.read([3, 4], window=win).astype("float32")
                v = ndvi(x[1], x[0])
                v[(x == 0).any(axis=0)] = np.nan
                dst.write(v, 1, window=win)
    os.replace(out.with_suffix(".tmp.tif"), out)
    return out, time.perf_counter() - t


def _ndvi_vrt(src_path: Path) -> Path:
    """Write a VRT whose band is NDVI = norm_diff(NIR, R) of a B,G,R,NIR raster (no pixels)."""
    import rasterio

    out = src_path.with_name(f"ndvi_{src_path.stem}.vrt")
    with rasterio.open(src_path) as src:
        gt = ", ".join(repr(v) for v in src.transform.to_gdal())
        size, srs = (src.width, src.height), src.crs.to_wkt()
    sources = "".join(
        f"<SimpleSource><SourceFilename relativeToVRT='0'>{src_path}</SourceFilename>"
        f"<SourceBand>{b}</SourceBand></SimpleSource>"
        for b in (4, 3)
    )
    out.write_text(
        f"<VRTDataset rasterXSize='{size[0]}' rasterYSize='{size[1]}'><SRS>{srs}</SRS>"
        f"<GeoTransform>{gt}</GeoTransform><VRTRasterBand dataType='Float32' band='1' "
        "subClass='VRTDerivedRasterBand'><NoDataValue>nan</NoDataValue>"
        f"<PixelFunctionType>norm_diff</PixelFunctionType>{sources}</VRTRasterBand></VRTDataset>"
    )
    return out


def _plain_read(paths: tuple[Path, Path]) -> float:
    """Single-threaded full read of both rasters, all bands, by 1024² windows (the floor)."""
    from gis.raster import raster_source

    t, c = time.perf_counter(), cpu_seconds()
    for p in paths:
        src = raster_source(p, bands="B,G,R,NIR")
        with src.open() as reader:
            for win in src.block_windows(1024):
                reader.dataset.read(window=win)
    _CPU.append(cpu_seconds() - c)
    return time.perf_counter() - t


def _linyuan(
    paths: tuple[Path, Path], patches: Path, threads: int, window_px: int
) -> tuple[float, int]:
    import geopandas as gpd

    from gis.raster import raster_source
    from gis.zonal import change_stats

    zones = gpd.read_file(patches)
    before, after = (raster_source(p, bands="B,G,R,NIR") for p in paths)
    t, c = time.perf_counter(), cpu_seconds()
    out = change_stats(zones, before, after, threads=threads, window_px=window_px)
    elapsed = time.perf_counter() - t
    _CPU.append(cpu_seconds() - c)
    return elapsed, int(out["n_pixels"].gt(0).sum())


def _exactextract(ndvis: tuple[Path, Path], patches: Path) -> float:
    import geopandas as gpd
    from exactextract import exact_extract

    zones = gpd.read_file(patches)
    t, c = time.perf_counter(), cpu_seconds()
    for p in ndvis:
        exact_extract(str(p), zones, ["mean"], output="pandas")
    _CPU.append(cpu_seconds() - c)
    return time.perf_counter() - t


def _rasterstats(ndvis: tuple[Path, Path], patches: Path, subset: int) -> tuple[float, int]:
    import geopandas as gpd
    from rasterstats import zonal_stats

    zones = gpd.read_file(patches)
    part = zones.iloc[:subset] if subset and subset < len(zones) else zones
    t, c = time.perf_counter(), cpu_seconds()
    for p in ndvis:
        zonal_stats(part, str(p), stats=["mean"], boundless=False)
    _CPU.append((cpu_seconds() - c) * len(zones) / len(part))
    return (time.perf_counter() - t) * len(zones) / len(part), len(part)


def _child(args: argparse.Namespace) -> None:
    """Run one timing in this (fresh) process; print JSON with time and peak RSS."""
    d = _bench_dir(args.dir)
    paths = _write_pair(d, args.size)
    patches = _patches(d, args.size, args.n)
    result: dict[str, object] = {}
    vrts = tuple(_ndvi_vrt(p) for p in paths)
    if args.child == "linyuan":
        result["time"], result["covered"] = _linyuan(paths, patches, args.threads, args.window_px)
    elif args.child == "plain":
        result["time"] = _plain_read(paths)
    elif args.child == "exactextract":
        result["time"] = _exactextract(vrts, patches)
    elif args.child == "exactextract-tif":
        result["time"] = _exactextract(tuple(_ndvi_raster(d, p)[0] for p in paths), patches)
    elif args.child == "rasterstats":
        result["time"], result["subset"] = _rasterstats(vrts, patches, args.subset)
    result["cpu"] = _CPU[-1]
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def _best(what: str, size: int, n: int, args: argparse.Namespace) -> dict[str, float]:
    """Run a measurement ``--repeat`` times and keep the fastest (others may share the box)."""
    runs = [_run_child(what, size, n, args) for _ in range(max(args.repeat, 1))]
    return min(runs, key=lambda r: r["time"])


def _run_child(what: str, size: int, n: int, args: argparse.Namespace) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", what, "--size", str(size), "--n", str(n)]
    cmd += ["--threads", str(args.threads), "--subset", str(args.subset)]
    cmd += ["--window-px", str(args.window_px)]
    cmd += ["--dir", str(_bench_dir(args.dir))]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _prepare(args: argparse.Namespace, sizes: list[int], counts: list[int]) -> Path:
    d = _bench_dir(args.dir)
    for size in sizes:
        _write_pair(d, size)
        for n in counts:
            _patches(d, size, n)
    big = max(sizes)
    for p in _write_pair(d, big):
        _, secs = _ndvi_raster(d, p)
        if secs == secs:
            print(f"NDVI raster for exactextract/rasterstats written in {secs:.1f} s (not timed)")
    return d


def main() -> None:
    """Parse options and print the benchmark table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="4000,10000", help="raster sizes (pixels a side)")
    ap.add_argument("--patches", default="1000,10000,50000", help="patch counts")
    ap.add_argument("--threads", type=int, default=2, help="threads for change_stats")
    ap.add_argument("--subset", type=int, default=2000, help="rasterstats subset (extrapolated)")
    ap.add_argument("--window-px", type=int, default=1024, help="change_stats window size")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for plain read and linyuan")
    ap.add_argument("--skip-rasterstats", action="store_true")
    ap.add_argument("--skip-exactextract", action="store_true")
    ap.add_argument("--dir", default=None, help="bench folder (default: $TMPDIR/linyuan_bench)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    counts = [int(n) for n in args.patches.split(",")]
    d = _prepare(args, sizes, counts)
    print(f"bench folder {d}; machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(
        "patches: irregular 12-gons of 0.1-5 ha (log-uniform), random positions (some overlap);"
        " linyuan = change_stats: ndvi/valid/drop_frac per date + 30 m rings, exact centre-in-"
        "pixel means; exactextract = coverage-weighted mean NDVI per date (no rings)"
    )
    _timings(args, max(sizes), counts)
    _memory(args, sizes, max(counts))


def _timings(args: argparse.Namespace, size: int, counts: list[int]) -> None:
    plain = _best("plain", size, counts[0], args)
    print(f"\n{size}x{size} 4-band uint16 pair (deflate, 256² tiles), both dates;")
    print(
        "wall seconds (CPU seconds), ratio = other method / linyuan;"
        f" plain read and linyuan: best of {args.repeat}:"
    )
    print(f"  plain full read, both rasters, 1 thread: {_fmt(plain)}  (the floor)")
    for n in counts:
        ly = _best("linyuan", size, n, args)
        print(
            f"  {n:>6} patches  linyuan {_fmt(ly)} with {args.threads} threads = "
            f"{ly['time'] / plain['time']:.2f}x the plain read",
            flush=True,
        )
        others = [] if args.skip_exactextract else ["exactextract", "exactextract-tif"]
        others += [] if args.skip_rasterstats else ["rasterstats"]
        for what in others:
            r = _run_child(what, size, n, args)
            note = f", extrapolated from {r['subset']:.0f}" if r.get("subset", n) < n else ""
            print(
                f"          {what:<16} {_fmt(r)} 1 thread{note}: "
                f"{r['time'] / ly['time']:.1f}x linyuan's time",
                flush=True,
            )


def _fmt(r: dict[str, float]) -> str:
    return f"{r['time']:7.2f} s ({r['cpu']:6.2f} cpu)"


def _memory(args: argparse.Namespace, sizes: list[int], n: int) -> None:
    print(f"\npeak RSS of change_stats with {n} patches in each raster ({args.threads} threads):")
    for size in sizes:
        ly = _run_child("linyuan", size, n, args)
        print(f"  {size:>6}²: {ly['peak_rss_mb']:.0f} MB  ({_fmt(ly)})", flush=True)


if __name__ == "__main__":
    main()
