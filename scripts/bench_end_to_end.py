"""Benchmark ``linyuan check patches`` end to end against the plain read (issue 17).

Builds once (cached in the bench folder, shared with ``bench_patches.py``) a ``--size``²
4-band uint16 pair tiled 512², DEFLATE without predictor, in EPSG:4551 (CGCS2000 3° GK,
CM 126°E: Changchun), ``--patches`` random change patches (0.1-5 ha 12-gons with a 判读变化原因)
and the context layers covering the scene: subcompartments (Voronoi cells of about 25 ha with
地类, 公益林 and 乡镇), permits (one per ten patches, over patches, with validity dates, both
kinds) and districts (3×3 districts and 10×10 township features).

Then, each in a fresh process, alternating and ``--repeat`` times:

* ``plain``: the single-threaded full read of both rasters (``bench_patches._plain_read``);
* ``raster``: the raster evidence step alone (:func:`gis.checks.patches.check.raster_evidence`,
  default rules, timed inside the process);
* ``cli``: ``linyuan check patches`` with all three layers, end to end (the whole process:
  interpreter start, imports, reading, evidence, verdicts, writing, checksums).

It prints medians of wall and CPU seconds (user + system, all threads), peak RSS, the ratios to
the plain read and the floors of issue 17 (CLI ≤ 2.0× at 50 000 patches, ≤ 3.0× at 200 000;
raster evidence ≤ 1.3×), and the load average (other processes on the machine inflate wall
times; CPU seconds are the steadier figure). Exit status 1 when a floor is missed.

Usage::

    .venv/bin/python scripts/bench_end_to_end.py                      # 10000², 50k and 200k
    .venv/bin/python scripts/bench_end_to_end.py --size 4000 --patches 10000 --repeat 1
    .venv/bin/python scripts/bench_end_to_end.py --profile --patches 50000   # + cProfile of the CLI
    .venv/bin/python scripts/bench_end_to_end.py --keep DIR   # keep each count's results GeoPackage
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout
sys.path.insert(0, str(ROOT / "scripts"))

import bench_patches as bp  # noqa: E402 (the same rasters and patches as bench_patches.py)
from benchkit import cpu_seconds, peak_rss_mb  # noqa: E402

CRS = "EPSG:4551"
ORIGIN = (470_000.0, 4_840_000.0)
BLOCK, PREDICTOR = 512, 1
BANDS = "B,G,R,NIR"
IMAGE_DATES = "20250905,20260918"
FLOORS = {50_000: 2.0, 200_000: 3.0}
RASTER_FLOOR = 1.3
LINYUAN = Path(sys.executable).with_name("linyuan")


def _pair(args: argparse.Namespace) -> tuple[Path, Path]:
    d = bp._bench_dir(args.dir)
    return bp._write_pair(d, args.size, block=BLOCK, predictor=PREDICTOR, crs=CRS, origin=ORIGIN)


def _inputs(args: argparse.Namespace, n: int) -> dict[str, Path]:
    """The patches (with 判读变化原因) and context layers of ``n`` patches; cached."""
    d = bp._bench_dir(args.dir)
    out = {k: d / f"e2e_{k}_{args.size}_{n}.gpkg" for k in ("patches", "permits")}
    out |= {k: d / f"e2e_{k}_{args.size}.gpkg" for k in ("subcompartments", "districts")}
    if all(p.exists() for p in out.values()):
        return out
    import geopandas as gpd
    import numpy as np

    base = gpd.read_file(bp._patches(d, args.size, n, crs=CRS, origin=ORIGIN))
    rng = np.random.default_rng(17)
    base["interp_cause"] = rng.integers(1, 8, len(base))
    frames = {"patches": base, "permits": _permits(base, rng)}
    frames |= {
        "subcompartments": _subcompartments(args.size, rng),
        "districts": _districts(args.size),
    }
    for k, frame in frames.items():
        tmp = out[k].with_suffix(".tmp.gpkg")
        frame.to_file(tmp, engine="pyogrio")
        os.replace(tmp, out[k])
    return out


def _scene(size: int) -> tuple[float, float, float, float]:
    return (ORIGIN[0], ORIGIN[1], ORIGIN[0] + size * bp.RES, ORIGIN[1] + size * bp.RES)


def _subcompartments(size: int, rng: object) -> object:
    """Voronoi cells of about 25 ha tiling the scene, with 地类, 公益林 and 乡镇."""
    import geopandas as gpd
    import numpy as np
    import shapely

    x0, y0, x1, y1 = _scene(size)
    n = max(10, int((x1 - x0) * (y1 - y0) / 250_000))
    pts = rng.uniform([x0, y0], [x1, y1], size=(n, 2))  # type: ignore[attr-defined]
    frame = shapely.box(x0, y0, x1, y1)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame))
    cells = shapely.intersection(cells, frame)
    k = len(cells)
    land = np.array(["乔木林地", "其他灌木林地", "宜林地", "耕地", "建设用地"])
    gyl = np.array(["国家二级", "地方公益林", "商品林", ""])
    return gpd.GeoDataFrame(
        {
            "subcompartment_id": [f"XB{i:06d}" for i in range(k)],
            "land_class": land[rng.choice(5, k, p=[0.55, 0.1, 0.05, 0.2, 0.1])],  # type: ignore[attr-defined]
            "gyl_level": gyl[rng.integers(0, 4, k)],  # type: ignore[attr-defined]
            "township": [f"乡{i % 37:02d}" for i in range(k)],
        },
        geometry=cells,
        crs=CRS,
    )


def _permits(patches: object, rng: object) -> object:
    """One permit per ten patches: the patch's box grown or shrunk, with validity dates."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    pick = np.sort(rng.choice(len(patches), len(patches) // 10, replace=False))  # type: ignore[arg-type,attr-defined]
    b = shapely.bounds(np.asarray(patches.geometry.values)[pick])  # type: ignore[attr-defined]
    grow = rng.uniform(-20, 40, (len(pick), 1))  # type: ignore[attr-defined]
    boxes = shapely.box(b[:, 0] - grow[:, 0], b[:, 1] - grow[:, 0], b[:, 2] + grow[:, 0], b[:, 3])
    start = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 900, len(pick)), "D")  # type: ignore[attr-defined]
    return gpd.GeoDataFrame(
        {
            "permit_id": [f"吉林采〔2025〕{i}号" for i in range(len(pick))],
            "permit_kind": np.where(np.arange(len(pick)) % 3, "林木采伐许可", "使用林地审核审批"),
            "valid_from": start,
            "valid_to": start + pd.Timedelta(days=365),
        },
        geometry=boxes,
        crs=CRS,
    )


def _districts(size: int) -> object:
    """3×3 districts and 10×10 township features (``level=township``) over the scene."""
    import geopandas as gpd
    import numpy as np
    import shapely

    x0, y0, x1, y1 = _scene(size)
    rows = []
    for level, k in (("district", 3), ("township", 10)):
        xs, ys = np.linspace(x0, x1, k + 1), np.linspace(y0, y1, k + 1)
        for i in range(k):
            for j in range(k):
                name = f"区{i * k + j}" if level == "district" else f"镇{i * k + j:03d}"
                rows.append((name, level, shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1])))
    names, levels, geoms = zip(*rows, strict=True)
    return gpd.GeoDataFrame({"district": names, "level": levels}, geometry=list(geoms), crs=CRS)


def _cli_command(args: argparse.Namespace, n: int, out: Path) -> list[str]:
    before, after = _pair(args)
    i = _inputs(args, n)
    cmd = [str(LINYUAN), "check", "patches", str(i["patches"]), "--before", str(before)]
    cmd += ["--after", str(after), "--bands", BANDS, "--subcompartments", str(i["subcompartments"])]
    cmd += ["--permits", str(i["permits"]), "--districts", str(i["districts"])]
    return [*cmd, "--image-dates", IMAGE_DATES, "--out", str(out), "--overwrite", "--json"]


def _spawn(cmd: list[str]) -> tuple[dict[str, float], str]:
    """Run ``cmd``; return (its wall and CPU seconds and peak RSS, its stdout).

    CPU (user + system, all threads) and peak RSS are the child's own (``wait4``).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if proc.returncode:
            sys.exit(f"{' '.join(cmd[:4])} failed:\n{err.read()[-3000:]}")
        cpu = usage.ru_utime + usage.ru_stime
        return {"time": wall, "cpu": cpu, "peak_rss_mb": usage.ru_maxrss / 1024}, out.read()


def _run_cli(args: argparse.Namespace, n: int, out: Path) -> dict[str, float]:
    """The CLI as a child process: whole-process wall, CPU (user + sys) and peak RSS."""
    return _spawn(_cli_command(args, n, out))[0]


def _run_child(args: argparse.Namespace, what: str, n: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", what, "--size", str(args.size), "--n", str(n)]
    cmd += ["--dir", str(bp._bench_dir(args.dir))]
    _, stdout = _spawn(cmd)
    return json.loads(stdout.strip().splitlines()[-1])


def _raster_step(args: argparse.Namespace, n: int) -> float:
    """Time :func:`raster_evidence` as ``check_patches`` calls it (default rules)."""
    import geopandas as gpd

    from gis.checks.patches.check import prepare_patches, radiometry_of, raster_evidence
    from gis.checks.patches.verdict import load_patch_rules
    from gis.findings import Findings
    from gis.raster import raster_source

    before, after = (raster_source(p, bands=BANDS) for p in _pair(args))
    zones = gpd.read_file(_inputs(args, n)["patches"])
    log = Findings()
    rules = load_patch_rules(None)
    t = time.perf_counter()
    prepared, usable = prepare_patches(zones, findings=log)
    radio = radiometry_of(before, after, "auto", log)["used"]
    raster_evidence(prepared, usable, before, after, rules=rules, findings=log, radiometry=radio)
    return time.perf_counter() - t


def _child(args: argparse.Namespace) -> None:
    """One measurement in this fresh process: print JSON (wall, CPU, peak RSS)."""
    c = cpu_seconds()
    if args.child == "plain":
        wall = bp._plain_read(_pair(args))
    else:
        wall = _raster_step(args, args.n)
    print(json.dumps({"time": wall, "cpu": cpu_seconds() - c, "peak_rss_mb": peak_rss_mb()}))


def _profile(args: argparse.Namespace, n: int, top: int = 30) -> None:
    """cProfile the CLI in a child process; print the top entries by cumulative and own time."""
    out = Path(tempfile.mkdtemp()) / "profiled.gpkg"
    prof = out.with_suffix(".prof")
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), str(LINYUAN)]
    done = subprocess.run(
        [*cmd, *_cli_command(args, n, out)[1:]], capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"profiled run failed:\n{done.stderr[-3000:]}")
    import pstats

    for key in ("cumulative", "tottime"):
        print(f"\n--- cProfile of the CLI, {n:,} patches, top {top} by {key} ---")
        pstats.Stats(str(prof)).sort_stats(key).print_stats(top)
    shutil.rmtree(out.parent, ignore_errors=True)


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _row(label: str, runs: list[dict[str, float]], plain: list[dict[str, float]]) -> str:
    t, c = _median(runs, "time"), _median(runs, "cpu")
    ratio = t / _median(plain, "time")
    return (
        f"  {label:<34} {t:7.2f} s wall {c:7.2f} s CPU  {_median(runs, 'peak_rss_mb'):6.0f} MB"
        f"  = {ratio:4.2f}x wall, {c / _median(plain, 'cpu'):4.2f}x CPU of the plain read"
    )


def _bench(args: argparse.Namespace, n: int, keep: Path | None) -> list[bool]:
    """Alternate plain read, raster step and CLI ``--repeat`` times; print the rows."""
    plain: list[dict[str, float]] = []
    raster: list[dict[str, float]] = []
    cli: list[dict[str, float]] = []
    work = Path(tempfile.mkdtemp(prefix="e2e_"))
    for _ in range(max(1, args.repeat)):
        plain.append(_run_child(args, "plain", n))
        if not args.skip_raster:
            raster.append(_run_child(args, "raster", n))
        cli.append(_run_cli(args, n, work / "results.gpkg"))
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(work / "results.gpkg", keep / f"e2e_{args.size}_{n}.gpkg")
    shutil.rmtree(work, ignore_errors=True)
    print(f"\n{n:,} patches (median of {len(cli)}; load average now {_load()}):", flush=True)
    print(_row("plain read, both rasters, 1 thread", plain, plain))
    ok = []
    ratio = _median(cli, "time") / _median(plain, "time")
    if raster:
        print(_row("raster evidence step (in process)", raster, plain))
        r = _median(raster, "time") / _median(plain, "time")
        ok.append(r <= RASTER_FLOOR)
        print(f"    floor raster evidence <= {RASTER_FLOOR}x: {r:.2f}x {_ok(ok[-1])}")
    print(_row("linyuan check patches, whole process", cli, plain), flush=True)
    floor = FLOORS.get(n)
    if floor is not None:
        ok.append(ratio <= floor)
        print(f"    floor end to end <= {floor}x at {n:,} patches: {ratio:.2f}x {_ok(ok[-1])}")
    return ok


def _ok(good: bool) -> str:
    return "ok" if good else "MISSED"


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    """Parse options, prepare the data, run the measurements and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", type=int, default=10000, help="raster pixels a side")
    ap.add_argument("--patches", default="50000,200000", help="patch counts, comma-separated")
    ap.add_argument("--repeat", type=int, default=3, help="alternating repeats (medians)")
    ap.add_argument("--skip-raster", action="store_true", help="skip the raster-step child")
    ap.add_argument("--profile", action="store_true", help="also cProfile one CLI run per count")
    ap.add_argument("--keep", type=Path, help="copy each count's results GeoPackage here")
    ap.add_argument("--dir", default=None, help="bench folder (default: $TMPDIR/linyuan_bench)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    counts = [int(n) for n in args.patches.split(",")]
    before, after = _pair(args)
    for n in counts:
        _inputs(args, n)
    mb = sum(p.stat().st_size for p in (before, after)) / 1e6
    print(
        f"{args.size}² 4-band uint16 pair, {BLOCK}² tiles, DEFLATE without predictor, {CRS} "
        f"({mb:.0f} MB); subcompartments, permits, districts; {os.cpu_count()} cores, "
        f"load average {_load()} (1, 5, 15 min)"
    )
    ok = []
    for n in counts:
        ok += _bench(args, n, args.keep)
        if args.profile:
            _profile(args, n)
    verdict = "none at these sizes" if not ok else "all ok" if all(ok) else "MISSED"
    print(f"\nload average at the end {_load()}; floors: {verdict}")
    sys.exit(0 if all(ok) else 1)


if __name__ == "__main__":
    main()
