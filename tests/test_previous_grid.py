"""``detect discolored --previous`` on another grid: read on the pair's analysis grid.

Earlier images are delivered by GDAL itself (whole-raster reprojects of the previous scene)
in another CRS, at another resolution (coarser, finer) and with a shifted origin. The crown
values read through the warped virtual dataset must equal, within a stated tolerance, those
read from a reference: the delivered file reprojected whole onto the analysis grid with the
same resampling.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import from_origin
from rasterio.warp import reproject

from gis.checks.discolored import detect_discolored
from gis.checks.discolored.pixels import CrownRules
from gis.checks.discolored.points import mark_previous, previous_values
from gis.errors import RasterError
from gis.findings import Findings
from gis.raster import raster_source
from gis.raster.analysis_grid import analysis_grid, previous_on
from tests.test_crowns import scene
from tests.test_discolored import CROWNS, _stands

CASES = {  # delivered: CRS, pixel (m), origin shift (m), the resampling the rule takes
    "other_crs": ("EPSG:32651", 0.5, (0.13, -0.21), "nearest"),
    "coarser": ("EPSG:4551", 1.0, (0.3, -0.2), "nearest"),
    "finer": ("EPSG:4551", 0.25, (0.1, -0.05), "average"),
    "shifted": ("EPSG:4551", 0.5, (0.2, -0.15), "nearest"),
}
TOL_SHARE, TOL_GRVI = 0.02, 0.005
"""Tolerance: canopy share of a crown, and GRVI (crown mean, context median and sigma)."""


def _deliver(src_path, out, crs, res, shift):
    """Write ``src_path`` reprojected whole (bilinear) onto ``crs`` at ``res``, origin shifted."""
    with rasterio.open(src_path) as src:
        left, bottom, right, top = rasterio.warp.transform_bounds(src.crs, crs, *src.bounds)
        t = from_origin(left - 2 + shift[0], top + 2 + shift[1], res, res)
        w, h = int((right - left + 4) / res), int((top - bottom + 4) / res)
        profile = src.profile | {"crs": crs, "transform": t, "width": w, "height": h, "nodata": 0}
        with rasterio.open(out, "w", **profile) as dst:
            for b in range(1, src.count + 1):
                reproject(rasterio.band(src, b), rasterio.band(dst, b), dst_nodata=0,
                          resampling=Resampling.bilinear)  # fmt: skip
    return raster_source(out, bands="B,G,R,NIR")


def _reference(delivered, grid, resampling, out):
    """The delivered file reprojected whole onto ``grid`` (the statistics' reference)."""
    with rasterio.open(delivered.path) as src:
        profile = src.profile | {
            "crs": grid.crs_wkt, "transform": grid.transform, "width": grid.width,
            "height": grid.height,
        }  # fmt: skip
        with rasterio.open(out, "w", **profile) as dst:
            for b in range(1, src.count + 1):
                reproject(rasterio.band(src, b), rasterio.band(dst, b), src_nodata=0,
                          dst_nodata=0, resampling=Resampling[resampling])  # fmt: skip
    return raster_source(out, bands="B,G,R,NIR")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("previous")
    current = scene(d / "current.tif", CROWNS)
    previous = scene(d / "previous.tif", CROWNS[:1], seed=1)
    points = detect_discolored(current, _stands()).points
    return d, current, previous, points


@pytest.mark.parametrize("case", sorted(CASES))
def test_previous_on_another_grid_matches_a_whole_reproject(pair, case):
    d, current, previous, points = pair
    crs, res, shift, resampling = CASES[case]
    delivered = _deliver(previous.path, d / f"{case}.tif", crs, res, shift)
    log = Findings()
    on = previous_on(current.grid, delivered, findings=log)
    grid = analysis_grid(current.grid, delivered.grid)
    assert on.grid.same_as(grid) and on.warp is not None and on.warp.resampling == resampling
    note = log.of("previous_aligned")[0]
    assert f"warped with {resampling}" in note.message and "像元" in note.zh
    rules = CrownRules()
    got = previous_values(points, delivered, rules=rules, grid=current.grid)
    ref = _reference(delivered, grid, resampling, d / f"{case}_ref.tif")
    want = previous_values(points, ref, rules=rules)
    got_a, want_a = np.array(got), np.array(want)
    assert np.all(np.isfinite(got_a)) and got_a.shape == (len(points), 4)
    assert np.abs(got_a[:, 0] - want_a[:, 0]).max() <= TOL_SHARE, (got_a, want_a)
    assert np.abs(got_a[:, 1:] - want_a[:, 1:]).max() <= TOL_GRVI, (got_a, want_a)
    # the crown dead in the earlier image is still the one marked, whatever its grid
    res_ = detect_discolored(current, _stands(), previous=delivered, findings=Findings())
    marked = res_.points.loc[~res_.points["is_new"]]
    assert marked["status_note"].tolist() == ["discolored_before"]
    dead = points.geometry.distance(marked.geometry.iloc[0]).idxmin()
    assert points.geometry.iloc[dead].distance(marked.geometry.iloc[0]) < 1e-6


def test_previous_on_the_same_grid_is_read_as_it_is(pair):
    _, current, previous, points = pair
    log = Findings()
    assert previous_on(current.grid, previous, findings=log) is previous
    assert not log.of("previous_aligned")
    rules = CrownRules()
    with_grid = mark_previous(points, previous, rules=rules, findings=log, grid=current.grid)
    as_is = mark_previous(points, previous, rules=rules, findings=Findings())
    assert with_grid.equals(as_is)
    assert with_grid["status_note"].notna().sum() == 1


def test_previous_elsewhere_is_an_error(pair):
    d, current, previous, _ = pair
    far = _deliver(previous.path, d / "far.tif", "EPSG:4551", 0.5, (5000.0, 0.0))
    with pytest.raises(RasterError, match="does not overlap"):
        previous_on(current.grid, far)
