"""Issue 8: the same checks on a Dask cluster — identical results, worker loss, bad input."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from progress_helpers import Recorder

pytest.importorskip("distributed")

from gis import progress
from gis.checks.patches import EVIDENCE_COLUMNS, VERDICT_COLUMNS
from gis.checks.patches.run import run_patch_check
from gis.cli.main import cli
from gis.demo import build_demo
from gis.distributed import (
    ClusterError,
    check_workers,
    dask_client,
    map_frames,
    peak_memory_mb,
    worker_pids,
)
from gis.errors import DataSourceError
from gis.io import read_layer
from gis.raster import raster_source
from gis.units import GEOD, area_m2
from gis.zonal import change_stats, combine, plan_windows
from gis.zonal.reduce import has_nbr
from gis.zonal.stats import run_windows_dask


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2) as c:
        yield c


def _run(demo, out, **kw):
    return run_patch_check(
        demo.layers["change_patches"],
        before=demo.rasters["s2_before"],
        after=demo.rasters["s2_after"],
        after_mask=demo.rasters["s2_after_scl"],
        sensor="sentinel2-l2a",
        subcompartments=demo.out_dir / "subcompartments.shp",
        permits=demo.layers["permits"],
        out=out,
        **kw,
    )


def test_demo_scene_on_two_workers_is_bit_identical(demo, tmp_path):
    one = _run(demo, tmp_path / "one.gpkg")
    two = _run(demo, tmp_path / "two.gpkg", workers=2)
    cols = ["patch_id", *EVIDENCE_COLUMNS, *VERDICT_COLUMNS]
    a, b = one.result.patches_checked, two.result.patches_checked
    assert a["n_pixels"].gt(0).sum() > 50  # real raster evidence, not NaN everywhere
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)
    written = [
        pyogrio.read_dataframe(tmp_path / f, layer="patches_checked")
        for f in ("one.gpkg", "two.gpkg")
    ]
    pd.testing.assert_frame_equal(written[0][cols], written[1][cols], check_exact=True)
    assert one.result.run["engine"]["engine"] == "one process"
    assert two.result.run["engine"]["engine"] == "dask"
    assert two.result.run["engine"]["workers"] == 2
    peak = two.result.run["peak_memory_mb"]
    assert len(peak) == 2 and all(v > 50 for v in peak.values())
    run = pyogrio.read_dataframe(tmp_path / "two.gpkg", layer="run")
    assert (run["section"] == "peak_memory_mb").sum() == 2


def test_cli_workers_option_prints_peak_memory(demo, tmp_path):
    args = ["check", "patches", str(demo.layers["change_patches"]), "--before",
            str(demo.rasters["s2_before"]), "--after", str(demo.rasters["s2_after"]),
            "--sensor", "sentinel2-l2a", "--out", str(tmp_path / "r.gpkg"), "--workers", "2",
            "--lang", "en"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Peak memory: worker 1 " in result.output
    assert result.output.count(" MB") == 2


def test_one_process_path_never_imports_dask(demo, tmp_path):
    code = (
        "import sys; from gis.cli.main import cli\n"
        "from click.testing import CliRunner\n"
        f"r = CliRunner().invoke(cli, ['check', 'patches', {str(demo.layers['change_patches'])!r},"
        f" '--before', {str(demo.rasters['s2_before'])!r}, '--after',"
        f" {str(demo.rasters['s2_after'])!r}, '--sensor', 'sentinel2-l2a', '--out',"
        f" {str(tmp_path / 'r.gpkg')!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert '峰值内存：本进程 ' in r.output, r.output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_areas_of_a_multi_zone_province_are_identical_on_the_cluster(client):
    """Jilin spans GK zones 41-44: each feature is measured in its own zone (or geodesically)."""
    lonlat = [(123.2, 43.5), (126.1, 43.9), (129.3, 42.9), (131.0, 43.2)] * 5
    squares = [
        shapely.box(x, y, x + 0.01 * (1 + i % 3), y + 0.01) for i, (x, y) in enumerate(lonlat)
    ]
    geo = gpd.GeoDataFrame({"i": range(len(squares))}, geometry=squares, crs="EPSG:4490")
    layer = geo.to_crs("EPSG:4551")  # one working CRS (zone 42, CM 126°E) for the whole province
    local = area_m2(layer)
    remote = map_frames(client, area_m2, layer, chunks=4)
    np.testing.assert_array_equal(local, remote)
    geodesic = np.array([abs(GEOD.geometry_area_perimeter(g)[0]) for g in squares])
    np.testing.assert_allclose(local, geodesic, rtol=1e-6)  # planar TM area would be off 0.1 %
    planar = shapely.area(np.asarray(layer.geometry.values))
    assert np.abs(planar / geodesic - 1).max() > 1e-3


def _retiled(demo, tmp_path):
    """The demo pair re-tiled in 64-pixel blocks: 64-pixel windows, hundreds of tasks."""
    paths = []
    for name in ("s2_before", "s2_after"):
        dst = tmp_path / f"{name}_64.tif"
        with rasterio.open(demo.rasters[name]) as src:
            profile = src.profile | {"blockxsize": 64, "blockysize": 64, "tiled": True}
            with rasterio.open(dst, "w", **profile) as out:
                out.write(src.read())
        paths.append(raster_source(dst, sensor="sentinel2-l2a"))
    return paths


def test_killed_worker_is_retried_and_the_result_is_identical(demo, client, tmp_path):
    before, after = _retiled(demo, tmp_path)
    zones = read_layer(demo.layers["change_patches"], kind="change_patches")
    local = change_stats(zones, before, after, window_px=64, threads=1)
    geoms = zones.to_crs(before.crs_wkt).geometry.values
    groups = plan_windows(geoms, before.grid, 64, ring_m=30.0, block_shape=(64, 64))
    assert len(groups) > 100
    pids = worker_pids(client)
    victim = sorted(pids.values())[0]
    killed = []

    def kill_once(done, total):
        if not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(done)

    parts = run_windows_dask(client, groups, before, after, progress=kill_once, task_windows=1)
    remote = combine(parts, len(zones), index=zones.index, with_nbr=has_nbr(before, after))
    pd.testing.assert_frame_equal(local, remote, check_exact=True)
    assert killed and killed[0] < len(groups)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(worker_pids(client)) < 2:
        time.sleep(0.2)
    now = set(worker_pids(client).values())
    assert victim not in now and len(now) == 2  # the nanny replaced the killed worker


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_scheduler_that_does_not_answer_fails_fast_naming_it(demo, tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    start = time.monotonic()
    with pytest.raises(ClusterError, match=address), dask_client(scheduler=address, timeout_s=2):
        pass
    assert time.monotonic() - start < 10
    args = ["check", "patches", str(demo.layers["change_patches"]), "--before",
            str(demo.rasters["s2_before"]), "--after", str(demo.rasters["s2_after"]),
            "--sensor", "sentinel2-l2a", "--out", str(tmp_path / "r.gpkg"),
            "--scheduler", address]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3 and address in result.output
    assert not (tmp_path / "r.gpkg").exists()


def test_both_options_or_bad_address_are_usage_errors(demo):
    with (
        pytest.raises(ClusterError, match="not both"),
        dask_client(workers=1, scheduler="tcp://h:1"),
    ):
        pass
    result = CliRunner().invoke(cli, ["check", "patches", "x.gpkg", "--before", "a.tif",
                                      "--after", "b.tif", "--out", "o.gpkg",
                                      "--scheduler", "http://h"])  # fmt: skip
    assert result.exit_code == 2 and "tcp://HOST:PORT" in result.output


def test_raster_workers_cannot_see_is_named(demo, client, tmp_path):
    before, after = _retiled(demo, tmp_path)
    zones = read_layer(demo.layers["change_patches"], kind="change_patches")
    os.remove(after.path)  # validated here, gone by the time the workers read
    with pytest.raises(
        DataSourceError, match=f"Dask worker tcp://.* cannot read raster {after.path}"
    ):
        change_stats(zones, before, after, client=client)
    with pytest.raises(DataSourceError, match=r"/nowhere/x\.tif"):
        check_workers(client, ["/nowhere/x.tif"])
    assert check_workers(client, [before.path]) == 2


def test_gdal_virtual_paths_are_accepted_locally_and_on_workers(demo, client, tmp_path):
    archive = tmp_path / "imagery.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("s2_before", "s2_after"):
            zf.write(demo.rasters[name], f"{name}.tif")
    vsi = [
        raster_source(f"/vsizip/{archive}/{n}.tif", sensor="sentinel2-l2a")
        for n in ("s2_before", "s2_after")
    ]
    plain = [
        raster_source(demo.rasters[n], sensor="sentinel2-l2a") for n in ("s2_before", "s2_after")
    ]
    zones = read_layer(demo.layers["change_patches"], kind="change_patches")
    expected = change_stats(zones, *plain)
    pd.testing.assert_frame_equal(change_stats(zones, *vsi), expected, check_exact=True)
    pd.testing.assert_frame_equal(
        change_stats(zones, *vsi, client=client), expected, check_exact=True
    )


def test_product_on_another_grid_on_workers_equals_one_process(demo, client, tmp_path):
    from gis.demo.delivered import write_s2_product

    product = write_s2_product(
        demo.rasters["s2_after"], demo.rasters["s2_after_scl"], tmp_path, sensing="2026-09-18"
    )
    before = raster_source(demo.rasters["s2_before"], sensor="sentinel2-l2a")
    after = raster_source(product)  # a .SAFE zip on UTM 51N: warped onto the before grid
    zones = read_layer(demo.layers["change_patches"], kind="change_patches")
    expected = change_stats(zones, before, after)
    assert expected["n_pixels"].gt(0).all()
    pd.testing.assert_frame_equal(
        change_stats(zones, before, after, client=client), expected, check_exact=True
    )


def test_peak_memory_of_one_process_and_of_workers(client):
    local = peak_memory_mb(None)
    assert len(local) == 1 and next(iter(local)).startswith("local:")
    workers = peak_memory_mb(client)
    assert set(workers) == set(worker_pids(client)) and min(workers.values()) > 10


def _discolored_plan(demo):
    """The discolored detector's plan on the demo's UAV image, in 256 px windows."""
    from gis.checks.discolored import host_list, host_stands, load_discolored_rules, make_plan
    from gis.findings import Findings

    source = raster_source(demo.rasters["uav_current"], bands="B,G,R,NIR")
    rules = load_discolored_rules()
    stands = read_layer(demo.layers["subcompartments"], kind="subcompartments", working_crs=None)
    host = host_stands(
        stands, hosts=host_list(None, rules), crs_wkt=source.crs_wkt, findings=Findings()
    )
    return make_plan(source, host, rules.crowns, window_size=256)


def test_discolored_passes_on_the_cluster_equal_one_process(demo, client):
    from gis.checks.discolored import run_passes
    from gis.checks.discolored.dask import run_passes_dask

    plan = _discolored_plan(demo)
    assert len(plan.windows) > 8
    base1, res1 = run_passes(plan, threads=1)
    base2, res2 = run_passes_dask(client, plan)
    for name, value in vars(base1).items():
        np.testing.assert_array_equal(value, getattr(base2, name), err_msg=name)
    assert len(res1) == len(res2) == len(plan.windows)
    crowns1 = pd.concat([r.crowns for r in res1], ignore_index=True)
    crowns2 = pd.concat([r.crowns for r in res2], ignore_index=True)
    assert len(crowns1) > 50
    pd.testing.assert_frame_equal(crowns1, crowns2, check_exact=True)
    assert [r.stand_pixels for r in res1] == [r.stand_pixels for r in res2]


def test_discolored_rgb_passes_on_the_cluster_equal_one_process(demo, client):
    """Without NIR pass 1 runs twice (canopy-only baselines, issue 16): equal on the cluster."""
    from dataclasses import replace

    from gis.checks.discolored import run_passes
    from gis.checks.discolored.dask import run_passes_dask

    plan = replace(_discolored_plan(demo), roles=("B", "G", "R"))
    base1, res1 = run_passes(plan, threads=2)
    base2, res2 = run_passes_dask(client, plan)
    for name, value in vars(base1).items():
        np.testing.assert_array_equal(value, getattr(base2, name), err_msg=name)
    crowns1 = pd.concat([r.crowns for r in res1], ignore_index=True)
    crowns2 = pd.concat([r.crowns for r in res2], ignore_index=True)
    assert len(crowns1) > 10
    pd.testing.assert_frame_equal(crowns1, crowns2, check_exact=True)


def test_dask_tasks_report_progress_to_the_end(demo, client, tmp_path):
    """On the cluster, the patch check and the discolored passes count their Dask tasks."""
    from gis.checks.discolored.dask import run_passes_dask

    recorder = Recorder()
    plan = _discolored_plan(demo)
    with progress.showing(recorder):
        run_passes_dask(client, plan)
        run = _run(demo, tmp_path / "r.gpkg", scheduler=client.scheduler.address)
    tasks = recorder.reports["detection tasks (Dask)"]
    assert tasks[-1][0] == tasks[-1][1] == len(tasks) > 1  # one report per task, to the end
    assert recorder.reports["stand baseline tasks (Dask)"][-1][0] > 0
    windows = recorder.reports["raster windows (on Dask)"]
    assert windows[-1][0] == windows[-1][1]
    assert len(run.result.patches_checked) > 0  # inside statistics come from the same windows
    assert set(recorder.closed) == set(
        recorder.reports
    )  # every bar closed (the stand pass has its own windows)


def test_worker_without_the_package_is_a_clear_error(client, tmp_path, monkeypatch):
    """A module only this process can import stands in for linyuan missing on the workers."""
    import importlib

    import gis.distributed

    (tmp_path / "only_here_pkg.py").write_text("def probe(paths):\n    return {}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    only_here = importlib.import_module("only_here_pkg")
    monkeypatch.setattr(gis.distributed, "_probe", only_here.probe)
    with pytest.raises(ClusterError, match=r"cannot run Linyuan .*install linyuan"):
        check_workers(client, ["/any.tif"])


def test_detect_discolored_cli_on_workers_equals_one_process(demo, tmp_path):
    import pyogrio

    base = ["detect", "discolored", str(demo.rasters["uav_current"]), "--stands",
            str(demo.layers["subcompartments"]), "--bands", "B,G,R,NIR"]  # fmt: skip
    one = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "one.gpkg")])
    assert one.exit_code == 0, one.output
    two = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "two.gpkg"), "--workers", "2"])
    assert two.exit_code == 0, two.output
    a = pyogrio.read_dataframe(tmp_path / "one.gpkg", layer="discolored_points")
    b = pyogrio.read_dataframe(tmp_path / "two.gpkg", layer="discolored_points")
    assert len(a) > 150
    pd.testing.assert_frame_equal(
        a.drop(columns="geometry"), b.drop(columns="geometry"), check_exact=True
    )
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()
    run = pyogrio.read_dataframe(tmp_path / "two.gpkg", layer="run")
    assert (run["section"] == "peak_memory_mb").sum() == 2


def test_local_workers_run_without_profiler_and_with_glibc_malloc_defaults(client):
    """The settings of LOCAL_WORKER_CONFIG reach the worker processes themselves."""
    from gis.distributed import LOCAL_WORKER_CONFIG, worker_config

    seen = worker_config(client)
    assert len(seen) == 2
    for settings in seen.values():
        assert settings["distributed.worker.profile.enabled"] is False
        assert settings["env:MALLOC_TRIM_THRESHOLD_"] is None
        assert settings["distributed.admin.tick.interval"] == "500ms"
        assert set(LOCAL_WORKER_CONFIG) <= set(settings)
    profiling = client.run(lambda dask_worker: "profile" in dask_worker.periodic_callbacks)
    assert not any(profiling.values())
    ticks = client.run(lambda dask_worker: dask_worker.periodic_callbacks["tick"].callback_time)
    assert set(ticks.values()) == {500.0}  # milliseconds


def test_map_ordered_submits_in_batches_and_keeps_item_order(client):
    from gis.distributed import SUBMIT_BATCHES, map_ordered

    items = list(range(-40, 37))
    calls: list[tuple[int, int]] = []
    prepared: list[int] = []

    def prepare(x: int) -> int:
        prepared.append(x)
        return 3 * x

    out = map_ordered(
        client, abs, items, prepare=prepare, progress=lambda d, t: calls.append((d, t))
    )
    assert out == [abs(3 * x) for x in items]
    assert prepared == items  # each item prepared once, in order, batch by batch
    assert [d for d, _ in calls] == list(range(1, len(items) + 1)) and calls[-1] == (77, 77)
    assert map_ordered(client, abs, [], prepare=prepare) == []
    assert len(items) > 2 * -(-len(items) // SUBMIT_BATCHES)  # more than the first two batches


def test_packed_window_groups_send_each_patch_once_and_rebuild_exactly():
    from dataclasses import replace

    from affine import Affine
    from pyproj import CRS

    from gis.raster import Grid
    from gis.zonal.stats import _pack

    rng = np.random.default_rng(8)
    x, y = rng.uniform(0, 990, 60), rng.uniform(-990, 0, 60)
    geoms = shapely.buffer(shapely.points(x, y), rng.uniform(2.0, 9.0, 60), quad_segs=3)
    grid = Grid(CRS.from_epsg(32651).to_wkt(), Affine(1.0, 0, 0, 0, -1.0, 0), 1000, 1000)
    groups = plan_windows(geoms, grid, 256, ring_m=30.0, block_shape=(128, 128))
    assert len(groups) > 4
    for g in groups:
        bare, wkb, zone_take, ring_take = _pack(g)
        assert len(wkb) == len(g.ring_geoms) >= len(g.zone_geoms)  # zones are among the rings
        rebuilt = shapely.from_wkb(wkb)
        assert shapely.equals_exact(rebuilt[zone_take], g.zone_geoms, tolerance=0).all()
        assert shapely.equals_exact(rebuilt[ring_take], g.ring_geoms, tolerance=0).all()
        assert len(bare.zone_geoms) == len(bare.ring_geoms) == 0
        assert (bare.zone_pos == g.zone_pos).all() and bare.ring_buffer == g.ring_buffer
    # rings that are other objects (a geographic grid buffers them in the plan): both are sent
    g = groups[0]
    other = replace(g, ring_geoms=np.asarray(shapely.buffer(g.ring_geoms, 1.0)), ring_buffer=0.0)
    bare, wkb, zone_take, ring_take = _pack(other)
    assert len(wkb) == len(g.zone_geoms) + len(g.ring_geoms)
    rebuilt = shapely.from_wkb(wkb)
    assert shapely.equals_exact(rebuilt[ring_take], other.ring_geoms, tolerance=0).all()
    assert shapely.equals_exact(rebuilt[zone_take], g.zone_geoms, tolerance=0).all()


def _kill_own_worker(item):
    """A task that takes its worker process down every time it runs (e.g. out of memory)."""
    os._exit(1)


def test_task_that_keeps_killing_workers_is_a_clear_error():
    """After Dask's allowed failures the run stops with ClusterError naming the task and the fix."""
    import dask

    from gis.distributed import map_ordered

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        dask_client(workers=1) as c,
    ):
        t = time.monotonic()
        with pytest.raises(ClusterError, match=r"_kill_own_worker killed its Dask worker.*memory"):
            map_ordered(c, _kill_own_worker, [1, 2])
        assert time.monotonic() - t < 60
