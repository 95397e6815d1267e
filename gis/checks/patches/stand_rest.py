"""The patch against the rest of its own subcompartment: a background of the same stand.

The ring (``ring_m`` around a patch) is the local background, and the whole scene's median
change the seasonal one. Neither tells a stand-wide pest or disease outbreak from the season
on uncalibrated (8-bit stretched or DN) imagery out of full leaf: the outbreak browns the patch
and its ring together, and the scene's median mixes leaf fall, dormant grass and harvest of
every cover. A subcompartment (小班) is mapped as one stand of one species, origin and age, so
its pixels share one phenology: leaf fall, larch yellowing or spring leaf-out move the whole
小班 alike, while an outbreak around the patch leaves the rest of its 小班 greener.

:func:`stand_evidence` measures, per patch, the NDVI change of the rest of the subcompartment
that holds most of the patch — the 小班 less every patch and its ring (:func:`stand_zones`) —
as the patch's own ``dndvi`` is defined (:func:`gis.checks.patches.check.raster_evidence`: the
mean NDVI change on reflectance, the median relative change of the scene-normalised bands on
uncalibrated imagery), so ``dndvi − stand_dndvi`` compares like with like.

It is read only for patches interpreted as disaster or other loss (:data:`STAND_CAUSES`): the
only rules reading it (``C05_stand_disturbance``, ``T16_dieback_stand``) ask for those causes,
and a 小班 is ten times a patch's area; each subcompartment is read once, whatever number of
patches it holds.

Cost. The 小班 of such patches can cover a third of a scene (50 000 patches, 14 000 of them
cause 4 or 6, in 12 000 of 40 000 小班 of 25 ha), and a second zonal pass over them
(:func:`stand_zones`, then the patches' zonal pass on those zones) decoded the rasters again
and classified every pixel of them. :class:`StandTap` takes the stands from the patch pass's
own windows instead (``change_stats(..., tap=)``): in each window read whole it burns the
stands on a lattice of every :attr:`StandTap.step`-th pixel (about :data:`STAND_SAMPLE_PX`
pixels a typical stand), leaves out every patch and ring as rasterised for the patches, and
takes at those pixels the per-pixel NDVI change as the patches' own pass does
(scene-normalised on uncalibrated imagery; pixels under unmasked snow or shadow not seen).
Windows of a stand the pass did not read whole (boxes around sparse patches, windows no patch
touches, a Dask cluster) it reads itself afterwards, with the same rings and lattice.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from numpy.typing import NDArray
from pyproj import CRS
from rasterio import windows as rwindows

from gis.checks.patches import evidence as ev
from gis.findings import Findings
from gis.raster import grid_windows
from gis.zonal.burn import centre_pixels
from gis.zonal.definitions import QUANTUM, SUM_SPLIT
from gis.zonal.inside import Gathered, _ndvi, _obscured
from gis.zonal.inside_pass import _group_median
from gis.zonal.kernels import fixed_sums
from gis.zonal.plan import _ring_sources, _touching, tile_shape_of, window_transform
from gis.zonal.stats import _zones_in_raster_crs

STAND_CAUSES = (4, 6)
"""Interpreter's causes (灾害, 其他减少) whose patches get the stand background."""

STAND_SAMPLE_PX = 256
"""Pixels a typical stand is sampled at (lattice step ``floor(sqrt(median stand px / this))``):
the median of 256 pixels is within about 0.01 of the stand's (1.25 σ / √n for a pixel spread
σ of 0.1), a fifth of ``stand_drop``; a stand of up to 1024 pixels is read pixel by pixel."""

STAND_REST_COLUMNS = ("stand_dndvi",)
"""The column :func:`stand_evidence` adds (NaN where not read or nothing of the stand is left)."""


def stand_zones(
    patches: gpd.GeoDataFrame,
    subcompartments: gpd.GeoDataFrame,
    ring_m: float,
    only: Any = None,
) -> tuple[gpd.GeoSeries, NDArray[np.int64]]:
    """Return the rest of each patch's main subcompartment, and which one each patch has.

    The main subcompartment is the one holding the largest part of the patch
    (:func:`gis.checks.patches.evidence.overlay_pieces`). Its rest is the subcompartment less
    every patch grown by ``ring_m`` (its ring), so that each subcompartment is one zone read
    once, however many patches lie in it. Returns the zones (in the patches' CRS) and, per
    patch, the position of its zone (−1: on no subcompartment, or not in the boolean array
    ``only``, default all).

    Examples
    --------
    >>> from shapely import box
    >>> p = gpd.GeoDataFrame(geometry=[box(100, 100, 200, 200)], crs=32650)
    >>> s = gpd.GeoDataFrame(geometry=[box(0, 0, 500, 500), box(500, 0, 900, 500)], crs=32650)
    >>> zones, which = stand_zones(p, s, 30.0)
    >>> round(zones.area.iloc[0]), which.tolist()
    (225191, [0])
    """
    sub = subcompartments if subcompartments.crs == patches.crs else None
    if sub is None:
        sub = subcompartments.to_crs(patches.crs)
    pieces = ev.overlay_pieces(patches, sub)
    if only is not None:
        pieces = pieces[np.asarray(only, dtype=bool)[pieces["patch"].to_numpy()]]
    main = pieces.sort_values("overlap_m2").drop_duplicates("patch", keep="last")
    features, position = np.unique(main["feature"].to_numpy(), return_inverse=True)
    which = np.full(len(patches), -1, dtype=np.int64)
    which[main["patch"].to_numpy()] = position
    grown = shapely.buffer(patches.geometry.to_numpy(), ring_m)
    tree = shapely.STRtree(grown)
    zones = []
    for stand in sub.geometry.to_numpy()[features]:
        near = grown[tree.query(stand)]
        zones.append(shapely.difference(stand, shapely.union_all(near)) if len(near) else stand)
    return gpd.GeoSeries(zones, crs=patches.crs), which


def main_stands(
    patches: gpd.GeoDataFrame, subcompartments: gpd.GeoDataFrame, only: Any = None
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return the subcompartments holding most of some patch, and each patch's among them.

    (positions in ``subcompartments``; per patch the position in that array, −1: on none or
    not in the boolean array ``only``). The subcompartments are in the patches' CRS.
    """
    which = np.full(len(patches), -1, dtype=np.int64)
    at = np.arange(len(patches)) if only is None else np.flatnonzero(np.asarray(only, bool))
    if not len(at):
        return np.zeros(0, np.int64), which
    pieces = ev.overlay_pieces(patches.iloc[at], subcompartments)
    main = pieces.sort_values("overlap_m2").drop_duplicates("patch", keep="last")
    features, position = np.unique(main["feature"].to_numpy(), return_inverse=True)
    which[at[main["patch"].to_numpy()]] = position
    return features.astype(np.int64), which


class StandTap:
    """The rest of each wanted patch's subcompartment, reduced in the patch pass's windows.

    Pass it as ``tap`` to :func:`gis.zonal.change_stats` (through
    :func:`gis.checks.patches.check.raster_evidence`); then :meth:`values` gives per stand
    its NDVI change as the zonal pass defines ``dndvi`` (reflectance: mean NDVI after − mean
    before, or with unmasked snow or shadow the median per-pixel change of the seen pixels;
    uncalibrated: that median, less the scene's). ``patches``: the usable patches (as the
    patch pass gets them); ``wanted``: which need it; ``stands_of()``: the subcompartments
    (called once, at the first window: the layers may still be read on another thread).

    The windows of a stand that the pass did not read whole (boxes around sparse patches,
    windows no patch touches, every window on a Dask cluster) are read by :meth:`values`
    itself, with the same rings and lattice: the values do not depend on how the pass ran.
    """

    def __init__(
        self,
        patches: gpd.GeoDataFrame,
        wanted: NDArray[np.bool_],
        stands_of: Callable[[], gpd.GeoDataFrame | None],
    ) -> None:
        self.patches, self.wanted, self.stands_of = patches, wanted, stands_of
        self.lock = threading.Lock()
        self.ready = False
        self.n = 0
        self.step = 1
        self.which = np.full(len(patches), -1, dtype=np.int64)
        self.src: tuple[Any, Any] | None = None
        self.keys: set[int] = set()
        self.ids: list[NDArray[np.int64]] = []
        self.d: list[NDArray[np.float32]] = []

    def start(self, before: Any, after: Any, window_px: int, inside: Any) -> None:
        """Take the pass's rasters (on one grid), window size and inside options."""
        self.src, self.opt = (before, after), inside
        self.grid = before.grid
        self.tile = tile_shape_of(before.grid, window_px, before.block_shape)
        self.windows = grid_windows(before.grid, window_px, before.block_shape)

    def _prepare(self) -> None:
        with self.lock:
            if self.ready:
                return
            try:
                self._stands()
            finally:
                self.ready = True

    def _stands(self) -> None:
        sub = self.stands_of()
        if sub is None or sub.empty or not self.wanted.any() or self.src is None:
            return
        if sub.crs != self.patches.crs:
            sub = sub.to_crs(self.patches.crs)
        else:  # own geometry objects: the vector evidence prepares the layer's on its thread
            own = shapely.from_wkb(shapely.to_wkb(sub.geometry.to_numpy()))
            sub = gpd.GeoDataFrame(geometry=gpd.GeoSeries(own, index=sub.index, crs=sub.crs))
        features, self.which = main_stands(self.patches, sub, only=self.wanted)
        geoms = gpd.GeoSeries(sub.geometry.to_numpy()[features], crs=sub.crs)
        crs = CRS.from_wkt(self.grid.crs_wkt)
        if geoms.crs is not None and geoms.crs != crs:
            geoms = geoms.to_crs(crs)
        self.geoms = np.asarray(geoms.to_numpy(), dtype=object)
        self.n = len(self.geoms)
        if not self.n:
            return
        t = self.grid.transform
        px = shapely.area(self.geoms) / abs(t.a * t.e)
        self.step = max(1, int(math.sqrt(float(np.median(px)) / STAND_SAMPLE_PX)))
        self.tree = shapely.STRtree(self.geoms)
        self.need_idx, self.need_keys = _touching(shapely.bounds(self.geoms), self.grid, self.tile)
        z = np.zeros(self.n, np.int64)
        self.sb, self.sa, self.nb, self.na, self.nobs = z.copy(), z.copy(), z.copy(), z.copy(), z

    def __call__(
        self,
        key: int,
        window: rwindows.Window,
        before: dict[str, NDArray[np.float32]],
        after: dict[str, NDArray[np.float32]],
        free: NDArray[np.bool_],
        margin: int,
        opt: Any,
    ) -> None:
        """Reduce the stands' pixels in the core of one window read whole (grown by ``margin``).

        ``free``: the flat mask of the grown window's pixels in no patch and no ring.
        """
        if not self.ready:
            self._prepare()
        if not self.n:
            return
        s, m = self.step, margin
        rows, cols = int(window.height), int(window.width)
        r0, c0 = int(window.row_off), int(window.col_off)
        rf, cf = (s // 2 - r0) % s, (s // 2 - c0) % s  # the lattice: global rows ≡ s // 2 (mod s)
        lr, lc = -(-(rows - rf) // s), -(-(cols - cf) // s)
        t = window_transform(window, self.grid.transform)
        cand = self.tree.query(shapely.box(*rwindows.bounds(window, self.grid.transform)))
        if lr <= 0 or lc <= 0 or not len(cand):
            with self.lock:
                self.keys.add(key)
            return
        lattice = t @ Affine.translation(cf + 0.5 - s / 2, rf + 0.5 - s / 2) @ Affine.scale(s)
        pos, ids = centre_pixels(self.geoms[cand], lattice, (lr, lc))
        pos = pos.astype(np.int64)
        at = (rf + s * (pos // lc) + m) * (cols + 2 * m) + cf + s * (pos % lc) + m
        keep = free[at]
        at, sid = at[keep], cand[ids[keep]].astype(np.int64)
        norm = opt.norm
        b = Gathered({r: before[r] for r in opt.roles}, at, norm.before)
        a = Gathered({r: after[r] for r in opt.roles}, at, norm.after)
        with np.errstate(invalid="ignore", divide="ignore"):
            vb, va = _ndvi(b), _ndvi(a)
            raw = np.isfinite(vb) & np.isfinite(va)
            obs_b, obs_a = _obscured(b, a, opt.radiometry == "dn", norm.shift)
            hide = obs_b | obs_a
            d = np.where(hide, np.nan, va - vb)
            if norm.index_scale != 1.0:
                d *= norm.index_scale
        seen = np.isfinite(d)
        k = self.n
        nb, sb = fixed_sums(sid, np.clip(vb, -1.0, 1.0), k, QUANTUM, SUM_SPLIT)
        na, sa = fixed_sums(sid, np.clip(va, -1.0, 1.0), k, QUANTUM, SUM_SPLIT)
        nobs = np.bincount(sid[raw & hide], minlength=k)
        with self.lock:
            self.keys.add(key)
            self.nb += nb
            self.sb += sb
            self.na += na
            self.sa += sa
            self.nobs += nobs
            self.ids.append(sid[seen])
            self.d.append(np.asarray(d[seen], dtype=np.float32))

    def _read_missing(self) -> None:
        """Reduce the stands' windows the pass did not read whole, reading them here.

        Of each window, the box that holds every stand touching it (sparse stands do not make
        the whole window read); the lattice is the raster's, so it is the same in any box.
        """
        done = np.fromiter(self.keys, np.int64, len(self.keys))
        missing = np.unique(self.need_keys[~np.isin(self.need_keys, done)])
        if not len(missing) or self.src is None:
            return
        before, after = self.src
        geoms = _zones_in_raster_crs(self.patches, before, Findings())
        rg, buffer = _ring_sources(geoms, self.opt.ring_m, 1, self.grid.crs_wkt)
        tree = shapely.STRtree(rg)
        roles = list(self.opt.roles)
        with before.open() as rb, after.open() as ra:
            for key in map(int, missing):
                win = self._box(key)
                t = window_transform(win, self.grid.transform)
                box = shapely.box(*rwindows.bounds(win, self.grid.transform))
                near = rg[tree.query(shapely.buffer(box, buffer) if buffer > 0 else box)]
                rings = shapely.buffer(near, buffer, quad_segs=4) if buffer > 0 else near
                shape = (int(win.height), int(win.width))
                if not shape[0] or not shape[1]:
                    continue
                pos, _ = centre_pixels(np.asarray(rings, dtype=object), t, shape)
                free = np.ones(shape[0] * shape[1], dtype=bool)
                free[pos] = False
                vb = dict(zip(roles, rb.read_array(win, roles)[0], strict=True))
                va = dict(zip(roles, ra.read_array(win, roles)[0], strict=True))
                self(key, win, vb, va, free, 0, self.opt)

    def _box(self, key: int) -> rwindows.Window:
        """Return the part of window ``key`` that holds the pixels of every stand touching it."""
        win = self.windows[key]
        b = shapely.bounds(self.geoms[self.need_idx[self.need_keys == key]])
        t = self.grid.transform
        c0 = math.floor((b[:, 0].min() - t.c) / t.a - 0.5) - 1
        c1 = math.floor((b[:, 2].max() - t.c) / t.a - 0.5) + 2
        r0 = math.floor((b[:, 3].max() - t.f) / t.e - 0.5) - 1
        r1 = math.floor((b[:, 1].min() - t.f) / t.e - 0.5) + 2
        c0, r0 = max(c0, int(win.col_off)), max(r0, int(win.row_off))
        c1 = min(c1, int(win.col_off + win.width))
        r1 = min(r1, int(win.row_off + win.height))
        return rwindows.Window(c0, r0, max(c1 - c0, 0), max(r1 - r0, 0))

    def values(self) -> NDArray[np.float64]:
        """Return per stand its NDVI change (NaN where none of its rest is seen)."""
        self._prepare()  # no window reached the tap: the stands are read here
        if not self.n:
            return np.zeros(0)
        self._read_missing()
        ids = np.concatenate([*self.ids, np.zeros(0, np.int64)])
        d = np.concatenate([*self.d, np.zeros(0, np.float32)])
        norm = self.opt.norm
        med = _group_median(ids, d, self.n) - norm.scene_dndvi  # float32: sorted by keys
        if self.opt.radiometry == "dn":
            return med
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (self.sa / self.na - self.sb / self.nb) * QUANTUM
        return np.where(self.nobs > 0, med, mean)


def stand_evidence(
    patches: gpd.GeoDataFrame, causes: pd.Series, tap: StandTap | None
) -> pd.DataFrame:
    """Return :data:`STAND_REST_COLUMNS` per patch.

    ``causes``: the interpreter's cause per patch (only :data:`STAND_CAUSES` are read);
    ``tap``: the stands reduced in the patch pass (:class:`StandTap`, for the same ``patches``).
    """
    out = pd.DataFrame({"stand_dndvi": np.nan}, index=patches.index)
    if tap is None or not stand_wanted(causes).any():
        return out
    value = tap.values()
    has = tap.which >= 0
    out.loc[out.index[has], "stand_dndvi"] = value[tap.which[has]]
    return out


def stand_wanted(causes: pd.Series) -> NDArray[np.bool_]:
    """Which patches get the stand background (their cause is one of :data:`STAND_CAUSES`)."""
    return np.asarray(pd.to_numeric(causes, errors="coerce").isin(STAND_CAUSES).to_numpy(), bool)
