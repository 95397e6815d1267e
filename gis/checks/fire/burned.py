"""Burned area after a fire (过火区): dNBR per pixel, severity classes, fire-scar polygons.

The pixels are :mod:`gis.severity`'s: ``NBR = (NIR − SWIR2) / (NIR + SWIR2)`` on each date,
:func:`~gis.severity.burn_dnbr` (before − after), :func:`~gis.severity.burned_mask` and
:func:`~gis.severity.severity_class` (Key & Benson 2006). Nothing here redefines "burned".

Memory is bounded by the window: the pair is read in full-width strips (whole blocks) with a
halo as wide as the minimum mapping unit, so the sieve that drops speckle sees every small
group whole; each window's burned pixels are traced to polygons
(:func:`rasterio.features.shapes`), and the polygons touching a window edge are unioned with
their neighbours across the seams at the end.

Examples
--------
>>> import numpy as np
>>> [round(float(v), 3) for v in nbr(np.array([0.4, 0.0]), np.array([0.1, 0.0]))]
[0.6, nan]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from rasterio import features
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform
from scipy import ndimage

from gis.errors import RasterError
from gis.findings import Findings
from gis.progress import counted, step
from gis.raster import RasterSource
from gis.raster.analysis_grid import common_grid
from gis.severity import (
    NO_DATA_CLASS,
    SEVERITY_CODES,
    burn_dnbr,
    burned_mask,
    rdnbr,
    severity_class,
    severity_label,
)

NBR_ROLES = ("NIR", "SWIR2")
"""Band roles the NBR needs (Landsat 5, Sentinel-2 B8/B12)."""

EIGHT = np.ones((3, 3), dtype=bool)
"""8-connectivity structure of :func:`scipy.ndimage.label`."""

BURNED_CLASSES = tuple(c for c in SEVERITY_CODES if c >= 2)
"""Severity codes of burned pixels (low … high)."""


def nbr(nir: NDArray[Any], swir2: NDArray[Any]) -> NDArray[np.float32]:
    """Return the Normalized Burn Ratio ``(NIR − SWIR2) / (NIR + SWIR2)`` (NaN where 0/0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (nir - swir2) / (nir + swir2)
    return np.asarray(out, dtype=np.float32)


@dataclass
class WindowResult:
    """What one strip gave: burned polygons (class, geometry) and pixel tallies.

    ``counts[0]`` counts invalid pixels, ``counts[c + 1]`` mapped burned pixels of class ``c``.
    """

    geoms: list[Any] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)
    seams: list[bool] = field(default_factory=list)
    scar_geoms: list[Any] = field(default_factory=list)
    scar_seams: list[bool] = field(default_factory=list)
    part_xy: list[NDArray[Any]] = field(default_factory=list)
    part_sums: list[NDArray[Any]] = field(default_factory=list)
    counts: NDArray[np.int64] = field(default_factory=lambda: np.zeros(7, dtype=np.int64))
    dnbr_sum: float = 0.0
    rdnbr_sum: float = 0.0
    burned: int = 0
    valid: int = 0


@dataclass
class BurnedRaster:
    """The burned area of a pair, in the raster's CRS.

    Attributes
    ----------
    severity : GeoDataFrame
        One polygon per connected area of one severity class (``severity``, ``severity_zh``).
    scars : GeoDataFrame
        Fire scars (过火区): connected burned areas, ``scar_id``, ``burned_pixels``,
        ``mean_dnbr`` and ``mean_rdnbr`` (relative dNBR, Miller & Thode 2007: comparable
        between sparse and dense stands) of the scar's burned pixels.
    tallies : dict
        Pixel counts per severity class (``nodata`` for -1), valid and burned pixels, mean
        dNBR and RdNBR of the burned pixels, pixel area in m².
    """

    severity: gpd.GeoDataFrame
    scars: gpd.GeoDataFrame
    tallies: dict[str, Any]


def check_pair(before: RasterSource, after: RasterSource) -> None:
    """Refuse a pair on different grids or without NIR and SWIR2.

    Raises
    ------
    gis.errors.RasterError
        Another grid (the message says how to align them), or a band missing.
    """
    for src in (before, after):
        if not src.has(*NBR_ROLES):
            raise RasterError(
                f"{src.path} has no NIR and SWIR2 bands (its bands are {','.join(src.roles)}); "
                "the burn ratio needs both: give --sensor sentinel2-l2a / landsat8-l2 or "
                "--bands B,G,R,NIR,SWIR1,SWIR2",
                zh=f"{src.path} 没有 NIR 和 SWIR2 波段（其波段为 {','.join(src.roles)}）；"
                "燃烧比需要这两个波段：请给出 --sensor sentinel2-l2a / landsat8-l2 或 "
                "--bands B,G,R,NIR,SWIR1,SWIR2",
            )
    same = (before.width, before.height) == (after.width, after.height)
    if not (same and before.grid.transform.almost_equals(after.grid.transform, precision=1e-6)):
        raise RasterError(
            f"{before.path} and {after.path} are not on one grid ({before.width}x{before.height} "
            f"vs {after.width}x{after.height}, or another origin/pixel size); warp the later "
            "image onto the earlier one first (gdalwarp -tr … -te … -r bilinear)",
            zh=f"{before.path} 与 {after.path} 不在同一格网上（{before.width}x{before.height} 对 "
            f"{after.width}x{after.height}，或原点/像元大小不同）；请先把后期影像重采样到前期影像"
            "的格网上（`gdalwarp -tr … -te … -r bilinear`）",
        )


@dataclass
class Strip:
    """One strip's pixels: its window, dNBR and NBR before (float, NaN where invalid)."""

    window: Window
    dnbr: NDArray[Any]
    nbr_before: NDArray[Any]


def read_strips(
    before: RasterSource, after: RasterSource, windows: list[Window]
) -> Iterator[Strip]:
    """Yield the dNBR of each strip, reading both rasters once, side by side (two threads).

    Each raster stays open for the whole pass, so every block is decoded once. A date on
    another grid or a mosaic is read in a worker too (its warped datasets open there inside
    the reader's own GDAL environment, :class:`gis.raster.warped.WarpedReader`).
    """
    with before.open() as rb, after.open() as ra, ThreadPoolExecutor(2) as io:
        for win in windows:
            fb = io.submit(rb.read_array, win, NBR_ROLES)
            fa = io.submit(ra.read_array, win, NBR_ROLES)
            (vb, _), (va, _) = fb.result(), fa.result()
            nbr_before = nbr(vb[0], vb[1])
            yield Strip(win, burn_dnbr(nbr_before, nbr(va[0], va[1])), nbr_before)


def _with_halo(prev: Strip | None, cur: Strip, nxt: Strip | None, halo: int) -> NDArray[Any]:
    """``cur``'s dNBR with up to ``halo`` rows of its neighbours above and below."""
    parts = [prev.dnbr[-halo:]] if prev is not None and halo else []
    parts.append(cur.dnbr)
    if nxt is not None and halo:
        parts.append(nxt.dnbr[:halo])
    return np.concatenate(parts) if len(parts) > 1 else cur.dnbr


def drop_specks(burned: NDArray[np.bool_], min_pixels: int) -> NDArray[np.bool_]:
    """Return ``burned`` without its 8-connected groups smaller than ``min_pixels``."""
    if min_pixels <= 1 or not burned.any():
        return burned
    labels, _ = ndimage.label(burned, structure=EIGHT)
    small = np.bincount(labels.ravel()) < min_pixels
    small[0] = False
    if not small.any():
        return burned
    return burned & ~small[labels]


def mapped_classes(dnbr: NDArray[Any], burned: NDArray[np.bool_], min_pixels: int) -> NDArray[Any]:
    """Severity class (:mod:`gis.severity`) of the ``burned`` pixels, 0 elsewhere, mapped.

    Severity patches smaller than ``min_pixels`` take the class of their largest burned
    neighbour (GDAL's sieve, 4-connected, over the burned pixels only).
    """
    mapped = np.zeros(dnbr.shape, dtype=np.uint8)
    mapped[burned] = severity_class(dnbr[burned])
    if min_pixels > 1 and burned.any():
        sieved = features.sieve(mapped, size=min_pixels, mask=burned, connectivity=4)
        mapped = np.where(burned & (sieved > 0), sieved, mapped)
    return mapped


def _bbox(mask: NDArray[np.bool_]) -> tuple[slice, slice]:
    """Rows and columns spanning the set pixels of ``mask`` (which has some)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _trace(values: NDArray[np.uint8], mask: NDArray[np.bool_], affine: Any, edge: Any) -> Any:
    """Polygons of ``values`` under ``mask``: (geometries, values, touches the window edge)."""
    shapes = features.shapes(values, mask=mask, transform=affine, connectivity=4)
    pairs = [(shapely.geometry.shape(g), int(v)) for g, v in shapes]
    geoms = np.asarray([g for g, _ in pairs], dtype=object)
    return list(geoms), [v for _, v in pairs], list(shapely.intersects(geoms, edge))


def strip_result(
    strips: tuple[Strip | None, Strip, Strip | None],
    transform: Any,
    min_pixels: int,
) -> WindowResult:
    """Trace the burned pixels of the middle strip to polygons and tally its pixels."""
    prev, cur, nxt = strips
    halo = min_pixels if min_pixels > 1 else 0
    top = min(halo, prev.dnbr.shape[0]) if prev is not None else 0
    inner = slice(top, top + cur.dnbr.shape[0])
    haloed = _with_halo(prev, cur, nxt, halo)
    out = WindowResult()
    out.counts[0] = int(np.isnan(cur.dnbr).sum())
    out.valid = cur.dnbr.size - int(out.counts[0])
    cleaned = drop_specks(burned_mask(haloed), min_pixels)
    if not cleaned[inner].any():
        return out
    rows, cols = _bbox(cleaned)  # the burned part of the strip and its halo
    mapped = mapped_classes(haloed[rows, cols], cleaned[rows, cols], min_pixels)
    keep = slice(max(inner.start, rows.start), min(inner.stop, rows.stop))
    local = slice(keep.start - rows.start, keep.stop - rows.start)
    mapped, burned = mapped[local], cleaned[rows, cols][local]
    out.counts += np.bincount(mapped[burned] + 1, minlength=7)[:7]
    win = Window(
        cur.window.col_off + cols.start, cur.window.row_off + keep.start - top,
        cols.stop - cols.start, keep.stop - keep.start,
    )  # fmt: skip
    affine = window_transform(win, transform)
    edge = shapely.box(*window_bounds(cur.window, transform)).exterior
    out.geoms, out.classes, out.seams = _trace(mapped, burned, affine, edge)
    out.scar_geoms, _, out.scar_seams = _trace(burned.view(np.uint8), burned, affine, edge)
    sub = (slice(keep.start - top, keep.stop - top), cols)
    dnbr, nbr_before = cur.dnbr[sub], cur.nbr_before[sub]
    out.burned = int(burned.sum())
    out.dnbr_sum = float(dnbr[burned].sum())
    rel = np.zeros(dnbr.shape)
    rel[burned] = rdnbr(dnbr[burned], nbr_before[burned])
    out.rdnbr_sum = float(rel[burned].sum())
    xy, sums = part_sums(burned, dnbr, rel, affine)
    out.part_xy, out.part_sums = [xy], [sums]
    return out


FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])
"""The connectivity of the traced polygons (``rasterio.features.shapes(connectivity=4)``)."""


def part_sums(
    burned: NDArray[np.bool_], dnbr: NDArray[Any], rel: NDArray[Any], affine: Any
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Return, per 4-connected part of ``burned``, a pixel centre and (pixels, ΣdNBR, ΣRdNBR).

    The parts are those :func:`_trace` draws as polygons; a part's first pixel centre lies
    inside the polygon of its part, and so inside the one fire scar the part belongs to
    once the strips are unioned, which is how :func:`scar_means` finds its scar.

    Examples
    --------
    >>> from affine import Affine
    >>> burned = np.array([[1, 0, 1], [1, 0, 0]], dtype=bool)
    >>> d = np.array([[0.4, 0.0, 0.2], [0.6, 0.0, 0.0]])
    >>> xy, sums = part_sums(burned, d, d * 2, Affine(10, 0, 0, 0, -10, 100))
    >>> xy.tolist(), sums.tolist()
    ([[5.0, 95.0], [25.0, 95.0]], [[2.0, 1.0, 2.0], [1.0, 0.2, 0.4]])
    """
    labels, n = ndimage.label(burned, structure=FOUR_CONNECTED)
    flat = labels.ravel()
    ids, first = np.unique(flat, return_index=True)
    first = first[ids > 0]
    rows, cols = np.divmod(first, burned.shape[1])
    cx, cy = cols + 0.5, rows + 0.5
    x = affine.c + affine.a * cx + affine.b * cy
    y = affine.f + affine.d * cx + affine.e * cy
    inside = flat > 0
    per = [np.bincount(flat[inside], weights=w, minlength=n + 1)[1:]
           for w in (None, dnbr.ravel()[inside], rel.ravel()[inside])]  # fmt: skip
    return np.column_stack([x, y]), np.column_stack(per)


def scar_means(scars: NDArray[Any], xy: NDArray[Any], sums: NDArray[Any]) -> pd.DataFrame:
    """Return ``burned_pixels``, ``mean_dnbr`` and ``mean_rdnbr`` of each scar, in order.

    Each part (:func:`part_sums`) is found in its scar by its pixel centre (one bulk
    ``within`` query) and the parts' sums are added per scar.
    """
    totals = np.zeros((len(scars), 3))
    if len(scars) and len(xy):
        part, scar = shapely.STRtree(scars).query(shapely.points(xy), predicate="within")
        np.add.at(totals, scar, sums[part])
    n = totals[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "burned_pixels": n.astype("int64"),
                "mean_dnbr": np.where(n > 0, totals[:, 1] / n, np.nan),
                "mean_rdnbr": np.where(n > 0, totals[:, 2] / n, np.nan),
            }
        )


def _triples(strips: Iterator[Strip]) -> Iterator[tuple[Strip | None, Strip, Strip | None]]:
    """Yield (previous, current, next) over a stream of strips."""
    prev: Strip | None = None
    cur = next(strips, None)
    while cur is not None:
        nxt = next(strips, None)
        yield prev, cur, nxt
        prev, cur = cur, nxt


def _bounded(
    strips: Iterator[Strip], transform: Any, min_pixels: int, threads: int
) -> Iterator[WindowResult]:
    """Yield :func:`strip_result` of each strip, run on ``threads`` threads.

    At most ``threads + 1`` strips are in flight (reading waits for the oldest to finish), so
    memory stays bounded by the strip size.
    """
    pending: deque[Future[WindowResult]] = deque()
    with ThreadPoolExecutor(threads) as pool:
        for triple in _triples(strips):
            pending.append(pool.submit(strip_result, triple, transform, min_pixels))
            if len(pending) > threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _merge(parts: Iterator[WindowResult]) -> WindowResult:
    total = WindowResult()
    for part in parts:
        for name in ("geoms", "classes", "seams", "scar_geoms", "scar_seams", "part_xy",
                     "part_sums"):  # fmt: skip
            getattr(total, name).extend(getattr(part, name))
        total.counts += part.counts
        total.burned += part.burned
        total.valid += part.valid
        total.dnbr_sum += part.dnbr_sum
        total.rdnbr_sum += part.rdnbr_sum
    return total


def strip_windows(src: RasterSource, size: int) -> list[Window]:
    """Full-width strips of about ``size``² pixels, whole blocks high (seams only between rows).

    Examples
    --------
    >>> from gis.sensors import Sensor
    >>> src = RasterSource("a.tif", Sensor.GENERIC, ("NIR",), 1.0, 0.0, None, width=1000,
    ...     height=700, block_shape=(256, 256))
    >>> [(int(w.row_off), int(w.height)) for w in strip_windows(src, 512)]
    [(0, 512), (512, 188)]
    """
    bh = max(1, src.block_shape[0])
    rows = max(bh, -(-(size * size // max(1, src.width)) // bh) * bh)
    return [Window(0, r, src.width, min(rows, src.height - r)) for r in range(0, src.height, rows)]


def _union(geoms: list[Any], seams: Any) -> list[Any]:
    """Union polygons that touch across window seams; return the connected parts.

    Only polygons touching a window edge (``seams``) can continue in the next window: the
    others are final as traced. The seam ones are unioned with :func:`shapely.union_all`
    (their edges along a seam are noded differently on each side, which a coverage union
    refuses).
    """
    if not geoms:
        return []
    arr = np.asarray(geoms, dtype=object)
    seam = np.asarray(seams, dtype=bool)
    merged = shapely.get_parts(shapely.union_all(arr[seam])) if seam.any() else []
    return [*arr[~seam], *merged]


def trace_burned(
    before: RasterSource,
    after: RasterSource,
    *,
    min_pixels: int = 9,
    window: int = 1024,
    threads: int = 2,
    findings: Findings | None = None,
) -> BurnedRaster:
    """Return the burned area of a before/after pair (see the module docstring).

    Parameters
    ----------
    before, after : RasterSource
        The pair with NIR and SWIR2 (reflectance: the thresholds assume it); dates on
        different grids are read on one analysis grid (finding ``grids_aligned``).
    min_pixels : int
        Minimum mapping unit: smaller 8-connected groups of burned pixels are dropped.
    window : int
        Strips of about ``window``² pixels (whole blocks high); memory grows with it.
    threads : int
        Windows processed at once (GDAL and numpy release the GIL).
    findings : Findings, optional
        Receives ``no_burned_pixels`` and ``burned_nodata`` findings.
    """
    log = findings if findings is not None else Findings()
    before, after = common_grid(before, after, findings=log)
    check_pair(before, after)
    windows = strip_windows(before, window)
    strips = read_strips(before, after, windows)
    with step("burned-area strips", zh="火烧迹地条带") as progress:
        done = _bounded(strips, before.transform, min_pixels, max(1, threads))
        total = _merge(counted(done, progress, len(windows)))
    crs = before.crs_wkt
    frame = gpd.GeoDataFrame(
        {"severity": total.classes, "seam": total.seams}, geometry=total.geoms, crs=crs
    )
    severity = _severity_polygons(frame, crs)
    scars = _scars(_union(total.scar_geoms, total.scar_seams), crs)
    xy = np.concatenate(total.part_xy) if total.part_xy else np.zeros((0, 2))
    sums = np.concatenate(total.part_sums) if total.part_sums else np.zeros((0, 3))
    for name, values in scar_means(scars.geometry.to_numpy(), xy, sums).items():
        scars[name] = values.to_numpy()
    tallies = _tallies(total, before)
    _tell(tallies, before, after, log)
    return BurnedRaster(severity, scars, tallies)


def _severity_polygons(frame: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    rows: list[tuple[int, Any]] = []
    for code, group in frame.groupby("severity"):
        parts = _union(list(group.geometry), group["seam"])
        rows += [(int(code), g) for g in parts]  # type: ignore[call-overload]
    out = gpd.GeoDataFrame(
        {"severity": pd.Series([r[0] for r in rows], dtype="int64")},
        geometry=[r[1] for r in rows],
        crs=crs,
    )
    out["severity_zh"] = [severity_label(c) for c in out["severity"]]
    out["severity_en"] = [severity_label(c, "en") for c in out["severity"]]
    return out


def _scars(parts: list[Any], crs: str) -> gpd.GeoDataFrame:
    """Fire scars (connected burned areas); ``scar_id`` numbered by size (largest first)."""
    scars = gpd.GeoDataFrame(geometry=parts, crs=crs)
    scars = scars.iloc[np.argsort(-shapely.area(np.asarray(parts, dtype=object)), kind="stable")]
    scars = scars.reset_index(drop=True)
    scars.insert(0, "scar_id", [f"F{i + 1:03d}" for i in range(len(scars))])
    return scars


def _tallies(total: WindowResult, src: RasterSource) -> dict[str, Any]:
    counts = {
        ("nodata" if code == NO_DATA_CLASS else str(code)): int(total.counts[code + 1])
        for code in (NO_DATA_CLASS, *BURNED_CLASSES)
    }
    pixel_m2 = abs(src.transform.a * src.transform.e)
    return {
        "pixels": counts,
        "valid_pixels": total.valid,
        "burned_pixels": total.burned,
        "mean_dnbr": total.dnbr_sum / total.burned if total.burned else None,
        "mean_rdnbr": total.rdnbr_sum / total.burned if total.burned else None,
        "pixel_m2": pixel_m2,
    }


def _tell(
    tallies: dict[str, Any], before: RasterSource, after: RasterSource, log: Findings
) -> None:
    if tallies["burned_pixels"] == 0:
        log.add(
            "no_burned_pixels",
            f"no pixel of {after.path} burned against {before.path} (dNBR below the low-severity "
            "threshold everywhere, or only groups below the minimum mapping unit): 火场面积 0",
            severity="warning",
            source=after.path,
            zh=f"{after.path} 相对 {before.path} 没有过火像元（dNBR 处处低于轻度阈值，"
            "或只有小于最小成图单元的像元群）：火场面积为 0",
        )
    nodata = tallies["pixels"]["nodata"]
    share = nodata / max(1, nodata + tallies["valid_pixels"])
    if share > 0.01:
        log.add(
            "burned_nodata",
            f"{share:.1%} of the pixels are invalid on one date (nodata, cloud mask): burned "
            "area there is unknown and not counted",
            source=after.path,
            zh=f"{share:.1%} 的像元在某一期无效（无数据、云掩膜）：那里是否过火未知，不计入面积",
        )
