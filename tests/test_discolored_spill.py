"""Pass 1's raw pixels kept for pass 2 (gis.checks.discolored.spill): same arrays, same points."""

from __future__ import annotations

import contextlib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from rasterio.windows import Window

from gis.checks.discolored import detect_discolored
from gis.checks.discolored import spill as spill_module
from gis.checks.discolored.passes import sample_strips
from gis.checks.discolored.pixels import read_pixels
from gis.checks.discolored.spill import Spill
from gis.raster import raster_source
from tests.test_crowns import DEAD, YELLOW, scene


def _tiled(path, kind):
    """A 600 x 520 raster tiled 64: uint16 with nodata 0, or uint8 RGBA (alpha 0 = invalid)."""
    rng = np.random.default_rng(3)
    h, w = 600, 520
    profile = {"driver": "GTiff", "width": w, "height": h, "tiled": True, "blockxsize": 64,
               "blockysize": 64, "compress": "deflate", "crs": "EPSG:4551",
               "transform": from_origin(500_000, 4_850_300, 0.5, 0.5)}  # fmt: skip
    if kind == "nodata":
        img = rng.integers(0, 4000, (4, h, w), dtype="uint16")
        img[:, 100:140, 30:90] = 0
        profile |= {"count": 4, "dtype": "uint16", "nodata": 0}
        bands = "B,G,R,NIR"
    else:
        img = rng.integers(1, 255, (4, h, w), dtype="uint8")
        img[3] = np.where(rng.random((h, w)) < 0.1, 0, 255)
        profile |= {"count": 4, "dtype": "uint8", "photometric": "RGB"}
        bands = "R,G,B,A"
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(img)
    return raster_source(path, bands=bands)


@pytest.mark.parametrize(("kind", "limit"), [("nodata", None), ("alpha", None),
                                             ("nodata", 300_000)])  # fmt: skip
def test_replayed_windows_equal_the_raster_reads(tmp_path, kind, limit):
    """Windows with halos assembled from pass 1's tiles and the raster equal plain reads.

    With a ``limit`` the spill keeps the tiles up to it and pass 2 reads the others.
    """
    src = _tiled(tmp_path / f"{kind}.tif", kind)
    roles = src.roles
    windows = src.block_windows(128)
    kept, _ = sample_strips(windows, src.block_shape[0])
    with Spill.open(src, roles) as spill, src.open() as reader:
        assert spill is not None
        spill.limit = limit or spill.limit
        recording = spill.recording(reader)
        for strip in kept[::2] + kept[1::4]:  # not all: gaps between the tiles too
            recording.read_array(strip, roles)
        assert spill._tiles and spill._end <= spill.limit
        replaying = spill.replaying(reader)
        used = bad = 0
        for win in [*windows, Window(-30, 250, 200, 300), Window(400, 500, 200, 200)]:
            for halo in (0, 27):
                used += bool(spill._held(int(win.row_off) - halo, int(win.row_off + win.height)
                                         + halo, int(win.col_off) - halo,
                                         int(win.col_off + win.width) + halo))  # fmt: skip
                want, want_bad = reader.read_array(win, roles, halo=halo)
                got, got_bad = replaying.read_array(win, roles, halo=halo)
                assert np.array_equal(got, want, equal_nan=True)
                assert np.array_equal(got_bad, want_bad)
                bad += int(want_bad.any())
        assert used > (0 if limit else len(windows)) and bad


def test_same_points_with_and_without_the_spill(tmp_path, monkeypatch):
    """detect_discolored finds the same points, value for value, spilling or decoding twice."""
    crowns = [(r, c, 5 + (r + c) % 3, DEAD if (r * c) % 7 else YELLOW)
              for r in range(30, 600, 70) for c in range(40, 600, 90)]  # fmt: skip
    src = scene(tmp_path / "s.tif", crowns, size=600)
    frame = gpd.GeoDataFrame(
        {"stand_id": ["S1", "S2"], "dominant_species": ["红松", "红松"]},
        geometry=[shapely.box(500_000, 4_850_000, 500_150, 4_850_300),
                  shapely.box(500_150, 4_850_000, 500_300, 4_850_300)],
        crs=4551,
    )  # fmt: skip
    replayed = []
    get = Spill._get
    monkeypatch.setattr(Spill, "_get", lambda self, *a: replayed.append(a) or get(self, *a))

    def points():
        res = detect_discolored(src, frame, window_size=128, threads=2)
        return pd.DataFrame(res.points.drop(columns="geometry"))

    spilled = points()
    assert replayed and len(spilled) > 20

    @contextlib.contextmanager
    def no_spill(*args, **kwargs):
        yield None

    monkeypatch.setattr(spill_module.Spill, "open", no_spill)
    pd.testing.assert_frame_equal(spilled, points(), check_exact=True)


@pytest.mark.parametrize("kind", ["nodata", "alpha"])
def test_read_pixels_convert_to_the_reflectance_read_array_gives(tmp_path, kind):
    """WindowPixels of a plain reader (raw, masks, pads at the raster's edge) = read_array."""
    src = _tiled(tmp_path / f"{kind}.tif", kind)
    roles = ("G", "R", "B")
    with src.open() as reader:
        for window in (Window(0, 0, 128, 128), Window(448, 512, 72, 88), Window(64, 64, 64, 64)):
            values, invalid = reader.read_array(window, roles, halo=25)
            pixels = read_pixels(reader, window, roles, halo=25)
            assert pixels.conversion is not None and pixels.raw.dtype != np.float32
            assert pixels.raw.shape == values.shape
            extra = pixels.extra if pixels.extra.shape == invalid.shape else np.zeros_like(invalid)
            nodata = (pixels.raw == 0).any(axis=0) if kind == "nodata" else False
            np.testing.assert_array_equal(extra | nodata, invalid)  # extra: masks and pads
            assert invalid.any() and not invalid.all()
            rows, cols = np.nonzero(~invalid)
            np.testing.assert_array_equal(pixels.at(rows, cols), values[:, rows, cols])
            np.testing.assert_array_equal(pixels.bands([1])[0][~invalid], values[1][~invalid])
