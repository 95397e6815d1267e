"""Burned area after a fire (过火区): dNBR per pixel, severity classes, fire-scar polygons.

The pixels are :mod:`gis.severity`'s: ``NBR = (NIR − SWIR2) / (NIR + SWIR2)`` on each date,
:func:`~gis.severity.burn_dnbr` (before − after), :func:`~gis.severity.burned_mask` and
:func:`~gis.severity.severity_class` (Key & Benson 2006). Nothing here redefines "burned".

Memory is bounded by the window: the pair is read window by window (block-aligned) with a
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

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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

from gis.errors import RasterError
from gis.findings import Findings
from gis.raster import RasterSource
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

BURNED_CLASSES = tuple(c for c in SEVERITY_CODES if c >= 2)
"""Severity codes of burned pixels (low … high)."""


def nbr(nir: NDArray[Any], swir2: NDArray[Any]) -> NDArray[np.float32]:
    """Return the Normalized Burn Ratio ``(NIR − SWIR2) / (NIR + SWIR2)`` (NaN where 0/0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (nir - swir2) / (nir + swir2)
    return np.asarray(out, dtype=np.float32)


@dataclass
class WindowResult:
    """What one window gave: burned polygons (class, geometry) and pixel tallies."""

    geoms: list[Any] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)
    seams: list[bool] = field(default_factory=list)
    counts: NDArray[np.int64] = field(default_factory=lambda: np.zeros(7, dtype=np.int64))
    dnbr_sum: float = 0.0
    rdnbr_sum: float = 0.0
    burned: int = 0


@dataclass
class BurnedRaster:
    """The burned area of a pair, in the raster's CRS.

    Attributes
    ----------
    severity : GeoDataFrame
        One polygon per connected area of one severity class (``severity``, ``severity_zh``).
    scars : GeoDataFrame
        Fire scars (过火区): connected burned areas, ``scar_id`` and pixel area per class.
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
                "--bands B,G,R,NIR,SWIR1,SWIR2"
            )
    same = (before.width, before.height) == (after.width, after.height)
    if not (same and before.grid.transform.almost_equals(after.grid.transform, precision=1e-6)):
        raise RasterError(
            f"{before.path} and {after.path} are not on one grid ({before.width}x{before.height} "
            f"vs {after.width}x{after.height}, or another origin/pixel size); warp the later "
            "image onto the earlier one first (gdalwarp -tr … -te … -r bilinear)"
        )


def _window_pixels(
    readers: tuple[Any, Any], win: Window, halo: int, min_pixels: int
) -> tuple[NDArray[np.int8], NDArray[Any], NDArray[Any], NDArray[np.bool_]]:
    """Severity class, dNBR, NBR before and the sieved burned mask of ``win`` (halo cut off)."""
    (vb, _), (va, _) = (r.read_array(win, NBR_ROLES, halo=halo) for r in readers)
    nbr_before = nbr(vb[0], vb[1])
    dnbr = burn_dnbr(nbr_before, nbr(va[0], va[1]))
    burned = burned_mask(dnbr)
    if min_pixels > 1 and burned.any():
        burned = features.sieve(burned.astype(np.uint8), size=min_pixels, connectivity=8) > 0
        burned &= ~np.isnan(dnbr)
    inner = (slice(halo, halo + int(win.height)), slice(halo, halo + int(win.width)))
    return severity_class(dnbr[inner]), dnbr[inner], nbr_before[inner], burned[inner]


def window_result(
    before: RasterSource, after: RasterSource, win: Window, min_pixels: int
) -> WindowResult:
    """Trace the burned pixels of one window to polygons and tally its pixels."""
    halo = min_pixels if min_pixels > 1 else 0
    with before.open() as rb, after.open() as ra:
        cls, dnbr, nbr_before, burned = _window_pixels((rb, ra), win, halo, min_pixels)
    out = WindowResult()
    out.counts += np.bincount((cls.ravel() + 1).astype(np.intp), minlength=7)[:7]
    if not burned.any():
        return out
    shown = np.where(burned, cls, 0).astype(np.uint8)
    affine = window_transform(win, before.transform)
    for geom, value in features.shapes(shown, mask=burned, transform=affine, connectivity=4):
        out.geoms.append(shapely.geometry.shape(geom))
        out.classes.append(int(value))
    edge = shapely.box(*window_bounds(win, before.transform)).exterior
    out.seams = list(shapely.intersects(np.asarray(out.geoms, dtype=object), edge))
    out.burned = int(burned.sum())
    out.dnbr_sum = float(dnbr[burned].sum())
    out.rdnbr_sum = float(rdnbr(dnbr[burned], nbr_before[burned]).sum())
    return out


def _merge(parts: Iterator[WindowResult]) -> WindowResult:
    total = WindowResult()
    for part in parts:
        total.geoms += part.geoms
        total.classes += part.classes
        total.seams += part.seams
        total.counts += part.counts
        total.burned += part.burned
        total.dnbr_sum += part.dnbr_sum
        total.rdnbr_sum += part.rdnbr_sum
    return total


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
        The pair, on one grid, with NIR and SWIR2 (reflectance: the thresholds assume it).
    min_pixels : int
        Minimum mapping unit: smaller 8-connected groups of burned pixels are dropped.
    window : int
        Window size in pixels (rounded up to blocks); memory grows with its square.
    threads : int
        Windows processed at once (GDAL and numpy release the GIL).
    findings : Findings, optional
        Receives ``no_burned_pixels`` and ``burned_nodata`` findings.
    """
    check_pair(before, after)
    log = findings if findings is not None else Findings()
    wins = before.block_windows(window)
    with ThreadPoolExecutor(max(1, threads)) as pool:
        total = _merge(pool.map(lambda w: window_result(before, after, w, min_pixels), wins))
    crs = before.crs_wkt
    frame = gpd.GeoDataFrame(
        {"severity": total.classes, "seam": total.seams}, geometry=total.geoms, crs=crs
    )
    severity = _severity_polygons(frame, crs)
    scars = _scars(severity, crs)
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


def _scars(severity: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """Fire scars: all burned classes unioned; ``scar_id`` numbered by size (largest first)."""
    parts = _union(list(severity.geometry), np.ones(len(severity), dtype=bool))
    scars = gpd.GeoDataFrame(geometry=parts, crs=crs)
    scars = scars.iloc[np.argsort(-shapely.area(np.asarray(parts, dtype=object)), kind="stable")]
    scars = scars.reset_index(drop=True)
    scars.insert(0, "scar_id", [f"F{i + 1:03d}" for i in range(len(scars))])
    return scars


def _tallies(total: WindowResult, src: RasterSource) -> dict[str, Any]:
    counts = {
        ("nodata" if code == NO_DATA_CLASS else str(code)): int(total.counts[code + 1])
        for code in (NO_DATA_CLASS, *SEVERITY_CODES)
    }
    pixel_m2 = abs(src.transform.a * src.transform.e)
    return {
        "pixels": counts,
        "valid_pixels": int(total.counts[1:].sum()),
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
