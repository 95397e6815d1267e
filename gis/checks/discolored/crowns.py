"""Second pass of the discolored-tree detection (变色立木): crowns per window.

Pure functions of one raster window, so that a driver (:mod:`gis.checks.discolored.passes`,
or a Dask task) can map them over windows and merge the results in window order. The first
pass (stand baselines) is :mod:`gis.checks.discolored.baselines`; the pixel layers, masks and
spectral-shape score both passes use are in :mod:`gis.checks.discolored.pixels`. This module
holds the crown confidence and :func:`detect_window` — robust z-scores of (crown-scale
smoothed) GRVI against the pixel's own stand, anomalous canopy pixels → 8-connected
components → crown candidates with their spectral shape. A crown is kept by the window whose
*core* holds its centroid pixel, so a crown on a window edge is found exactly once (the halo
must exceed the largest crown diameter).

Examples
--------
>>> r = CrownRules()
>>> float(confidence(np.array([-9.0]), np.array([-6.0]), np.array([20.0]), r)[0])
1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from rasterio.windows import Window

from gis.checks.discolored.baselines import Baselines
from gis.checks.discolored.ground import drop_shaded_ground
from gis.checks.discolored.kernels import (
    anomalous_pair,
    anomalous_pixels,
    band_positions,
    canopy_layers,
    canopy_layers_raw,
    label_pixels,
)
from gis.checks.discolored.neighbours import judge, ndvi_loss_threshold
from gis.checks.discolored.pixels import (
    BASE_NAMES,
    CrownRules,
    Table,
    WindowPixels,
    concat_tables,
    core_slices,
    grown,
    local_stand_raster,
    opened,
    pixel_layers,
    read_pixels,
    shape_scores,
    table_rows,
)
from gis.raster import RasterReader, RasterSource


def confidence(
    z_grvi: NDArray[Any], z_ndvi: NDArray[Any] | None, crown_m2: NDArray[Any], rules: CrownRules
) -> NDArray[np.float64]:
    """Confidence 0–1 of crowns: GRVI drop, NDVI loss and size fit.

    ``g = clip((-z_grvi - z) / (2 z), 0, 1)`` with ``z = rules.z_grvi`` (0 at the threshold,
    1 at three times it); ``n = clip(-z_ndvi / z_ndvi_full, 0, 1)``; size fit ``s`` is 1 inside
    ``typical_crown_m2`` and falls linearly to 0.5 at the size limits. Confidence is
    ``0.5 g + 0.3 n + 0.2 s`` with NIR, ``0.8 g + 0.2 s`` without.

    Examples
    --------
    >>> r = CrownRules()
    >>> float(confidence(np.array([-9.0]), np.array([-6.0]), np.array([20.0]), r)[0])
    1.0
    """
    zt = rules.z_grvi
    g = np.clip((-np.asarray(z_grvi, dtype=float) - zt) / (2 * zt), 0, 1)
    lo, hi = rules.typical_crown_m2
    a = np.asarray(crown_m2, dtype=float)
    below = 0.5 + 0.5 * np.clip((a - rules.min_crown_m2) / max(lo - rules.min_crown_m2, 1e-9), 0, 1)
    above = 0.5 + 0.5 * np.clip((rules.max_crown_m2 - a) / max(rules.max_crown_m2 - hi, 1e-9), 0, 1)
    s = np.where(a < lo, below, np.where(a > hi, above, 1.0))
    if z_ndvi is None:
        return np.round(0.8 * g + 0.2 * s, 3)
    n = np.clip(-np.asarray(z_ndvi, dtype=float) / rules.z_ndvi_full, 0, 1)
    return np.round(0.5 * g + 0.3 * n + 0.2 * s, 3)


# ----------------------------------------------------------------------------- pass 2

CROWN_COLUMNS = (
    "x", "y", "stand", "n_px", "crown_m2", "grvi", "ndvi", "rg_ratio", "z_grvi", "z_ndvi",
    "green_ratio", "nir_ratio", "elongation", "decoy",
)  # fmt: skip


@dataclass(frozen=True)
class WindowResult:
    """What :func:`detect_window` found in one window's core.

    ``table`` has :data:`CROWN_COLUMNS` (x, y in the raster CRS; decoys included, flagged) as
    columns (:data:`~gis.checks.discolored.pixels.Table`), :attr:`crowns` as a frame;
    ``stand_pixels`` maps stand number → (canopy pixels, anomalous non-yellow pixels).
    """

    table: Table
    stand_pixels: dict[int, tuple[int, int]]
    rejected_size: int = 0

    @property
    def crowns(self) -> pd.DataFrame:
        """The crowns as a frame (:data:`CROWN_COLUMNS`)."""
        return pd.DataFrame(self.table)


def _pixel_state(
    pixels: WindowPixels,
    roles: Sequence[str],
    stands: NDArray[Any],
    base: Baselines,
    rules: CrownRules,
    core: tuple[slice, slice],
) -> dict[str, NDArray[Any]]:
    """Canopy, anomalous (smoothed GRVI), own (own GRVI too) masks; canopy pixels per stand.

    With NIR also the canopy ``ndvi`` and the NDVI test's masks ``loss`` and ``loss_own``
    (:func:`~gis.checks.discolored.neighbours.ndvi_loss_pixels`, computed in the same passes).
    The per-pixel loops are :func:`~gis.checks.discolored.kernels.canopy_layers` and
    :func:`~gis.checks.discolored.kernels.anomalous_pair`; the counts cover the window core.
    """
    bands = band_positions(roles)
    shadow = (rules.shadow_ratio * base.bright).astype(np.float32)
    ratio = rules.soil_blue_ratio if "NIR" in roles else rules.bright_ratio
    blue_limit = (ratio * base.blue.astype(np.float32)).astype(np.float32)
    soil = np.array([rules.soil_ndvi, rules.soil_rg])
    raw, extra, conversion = pixels.raw, pixels.extra, pixels.conversion
    if conversion is None:  # reflectance already (a mosaic)
        grvi, ndvi, canopy = canopy_layers(raw, bands, stands, extra, shadow, blue_limit, soil)
    else:
        grvi, ndvi, canopy = canopy_layers_raw(raw, bands, stands, extra, conversion, shadow,
                                               blue_limit, soil)  # fmt: skip
    thr = (base.med_grvi - rules.z_grvi * base.sig_grvi).astype(np.float32)
    box = np.array([core[0].start, core[0].stop, core[1].start, core[1].stop], dtype=np.int64)
    n = len(base.pixels) - 1
    if "NIR" not in roles:
        anomalous, own, counts = anomalous_pixels(grvi, canopy, stands, thr, rules.smooth_px,
                                                  box, n)  # fmt: skip
        return {"canopy": canopy, "anomalous": anomalous, "own": own, "counts": counts}
    anomalous, own, counts, loss, loss_own = anomalous_pair(
        grvi, ndvi, canopy, stands, thr, ndvi_loss_threshold(base, rules), rules.smooth_px,
        box, n,
    )  # fmt: skip
    return {"canopy": canopy, "anomalous": anomalous, "own": own, "counts": counts,
            "ndvi": ndvi, "loss": loss, "loss_own": loss_own}  # fmt: skip


def _dead_pixels(
    px: Mapping[str, NDArray[Any]],
    stands: NDArray[Any],
    is_core: NDArray[np.bool_],
    base: Baselines,
    rules: CrownRules,
) -> NDArray[np.bool_]:
    """Which of the ``is_core`` pixels are not yellow decoys (per pixel).

    ``px`` and ``stands`` hold the values at the anomalous pixels, ``is_core`` selects some.
    """
    st = stands[is_core]
    b = stand_base(base, st)
    at = {k: px[k][is_core] for k in ("grvi", "green", "ndvi", "nir") if k in px}
    sc = shape_scores(at["grvi"], at.get("ndvi"), at["green"], at.get("nir"), b, rules)
    return ~np.asarray(sc["decoy"], dtype=bool)


def stand_base(base: Baselines, st: NDArray[Any]) -> dict[str, Any]:
    """Return the baseline quantities (and the turning flag) of the stands ``st``."""
    b: dict[str, Any] = {n: getattr(base, n)[st] for n in BASE_NAMES}
    if base.turning is not None:
        b["turning"] = base.turning[st]
    return b


def _components(
    where: tuple[NDArray[np.intp], NDArray[np.intp]],
    lab: NDArray[np.int64],
    n: int,
    layers: Mapping[str, NDArray[Any]],
) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """Pixel counts and per-component means of labelled pixels.

    ``where`` are the pixels' (rows, cols), ``lab`` their component 1..``n``
    (:func:`~gis.checks.discolored.kernels.label_pixels`); ``layers`` hold values at them.
    """
    rows, cols = where
    count = np.bincount(lab, minlength=n + 1).astype(float)[1:]
    safe = np.maximum(count, 1)

    def mean(values: NDArray[Any]) -> NDArray[np.float64]:
        return np.bincount(lab, weights=values, minlength=n + 1)[1:] / safe

    r, c = rows.astype(float), cols.astype(float)
    means = {"row": mean(r), "col": mean(c), "rr": mean(r * r), "cc": mean(c * c)}
    means["rc"] = mean(r * c)
    for name, arr in layers.items():
        means[name] = mean(np.nan_to_num(arr.astype(float)))
    return count, means


def _elongation(m: Mapping[str, NDArray[np.float64]]) -> NDArray[np.float64]:
    vr = m["rr"] - m["row"] ** 2 + 1 / 12
    vc = m["cc"] - m["col"] ** 2 + 1 / 12
    cov = m["rc"] - m["row"] * m["col"]
    half_tr, det = (vr + vc) / 2, vr * vc - cov**2
    disc = np.sqrt(np.maximum(half_tr**2 - det, 0))
    return np.asarray(np.sqrt((half_tr + disc) / np.maximum(half_tr - disc, 1e-9)))


def _stand_counts(
    canopy_counts: NDArray[np.int64],
    stands: NDArray[Any],
    dead: tuple[NDArray[np.intp], NDArray[np.intp]],
    core: tuple[slice, slice],
) -> dict[int, tuple[int, int]]:
    """Stand number → (canopy pixels, dead pixels at ``dead``) inside the ``core`` slices."""
    n = len(canopy_counts)
    rows, cols = dead
    inside = (rows >= core[0].start) & (rows < core[0].stop)
    inside &= (cols >= core[1].start) & (cols < core[1].stop)
    ano = np.bincount(stands[rows[inside], cols[inside]], minlength=n)
    found = np.nonzero(canopy_counts)[0]
    return {int(i): (int(canopy_counts[i]), int(ano[i])) for i in found if i > 0}


def _fits(
    count: NDArray[np.float64],
    m: dict[str, NDArray[np.float64]],
    rules: CrownRules,
    pixel_m2: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Area (m²), elongation and whether each component is sized and shaped like a crown."""
    area = count * m["core"] * pixel_m2
    elong = _elongation(m)
    fits = (area >= rules.min_crown_m2) & (area <= rules.max_crown_m2)
    fits &= elong <= rules.max_elongation
    return area, elong, fits


def _crown_table(
    count: NDArray[np.float64],
    m: dict[str, NDArray[np.float64]],
    stands: NDArray[np.int32],
    base: Baselines,
    rules: CrownRules,
    place: tuple[Window, int, Any, float],
) -> tuple[Table, int, NDArray[np.bool_]]:
    """Crowns whose centroid pixel lies in the core and in a host stand, sized like a crown.

    Returns the table, the number rejected by size or shape, and which components are kept.
    """
    window, halo, transform, pixel_m2 = place
    ri, ci = np.floor(m["row"]).astype(int), np.floor(m["col"]).astype(int)
    core = (ri >= halo) & (ri < halo + int(window.height))
    core &= (ci >= halo) & (ci < halo + int(window.width))
    stand = np.where(core, stands[np.clip(ri, 0, None), np.clip(ci, 0, None)], 0)
    area, elong, fits = _fits(count, m, rules, pixel_m2)
    keep = (stand > 0) & fits
    rejected = int(((stand > 0) & ~fits).sum())
    sel = {k: v[keep] for k, v in m.items()}
    st = stand[keep]
    b = stand_base(base, st)
    sc = shape_scores(sel["grvi"], sel.get("ndvi"), sel["green"], sel.get("nir"), b, rules)
    gx = sel["col"] - halo + float(window.col_off) + 0.5
    gy = sel["row"] - halo + float(window.row_off) + 0.5
    x, y = transform @ (gx, gy)
    nan = np.full(st.shape, np.nan)
    table = {
        "x": x, "y": y, "stand": st, "n_px": count[keep].astype(int),
        "crown_m2": area[keep], "grvi": sel["grvi"], "ndvi": sel.get("ndvi", nan),
        "rg_ratio": sel["rg_ratio"], "z_grvi": sc["z_grvi"], "z_ndvi": sc.get("z_ndvi", nan),
        "green_ratio": sc["green_ratio"], "nir_ratio": sc.get("nir_ratio", nan),
        "elongation": elong[keep], "decoy": np.asarray(sc["decoy"], dtype=bool),
    }  # fmt: skip
    return table, rejected, keep


def detect_window(
    source: RasterSource | RasterReader,
    window: Window,
    shapes: Sequence[tuple[Any, int]],
    base: Baselines,
    *,
    roles: Sequence[str],
    rules: CrownRules,
    halo: int,
    pixel_m2: float,
) -> WindowResult:
    """Second pass on one window (read with ``halo`` pixels around it): crowns in its core.

    Parameters
    ----------
    source : RasterSource or RasterReader
        The image (opened here, so the function runs on any thread or worker), or a reader
        a driver keeps open across windows (GDAL's block cache then serves the halos).
    window : rasterio.windows.Window
        The core window; crowns are kept when their centroid pixel lies in it.
    shapes : sequence of (geometry, int)
        Host stands overlapping the window (raster CRS) and their stand numbers.
    base : Baselines
        Stand baselines from the first pass.
    roles : sequence of str
        Band roles to read (G and R at least; B, NIR when present).
    rules : CrownRules
        Thresholds.
    halo : int
        Pixels read around the window; must exceed the largest crown diameter in pixels.
    pixel_m2 : float
        Ground area of one pixel in m².
    """
    with opened(source) as reader:
        pixels = read_pixels(reader, window, roles, halo=halo)
        transform = reader.source.transform
    stands, numbers = local_stand_raster(shapes, grown(window, halo), transform)
    base = _local(numbers, base)
    inner = core_slices(halo, window)
    state = _pixel_state(pixels, roles, stands, base, rules, inner)
    anomalous, core, canopy_counts = state["anomalous"], state["own"], state["counts"]
    rows, cols, lab, n = label_pixels(anomalous)  # 8-connected, raster order
    px = pixel_layers(pixels.at(rows, cols), roles)  # the few anomalous pixels only
    is_core = core[rows, cols]
    dead = _dead_pixels(px, stands[rows, cols], is_core, base, rules)
    rc, cc = rows[is_core], cols[is_core]
    counts = _stand_counts(canopy_counts, stands, (rc[dead], cc[dead]), inner)
    counts = {int(numbers[i]): v for i, v in counts.items()}
    layers: dict[str, NDArray[Any]] = {
        k: px[k] for k in ("grvi", "rg_ratio", "green", "ndvi", "nir") if k in px
    }
    layers["core"] = is_core
    if "B" in roles:
        layers |= {"blue": px["blue"], "red": px["red"]}
    count, means = _components((rows, cols), lab, n, layers)
    place = (window, halo, transform, pixel_m2)
    crowns, rejected, kept = _crown_table(count, means, stands, base, rules, place)
    if rules.reflectance and "B" in roles and "NIR" not in roles:  # shaded ground (no NDVI)
        with np.errstate(invalid="ignore", divide="ignore"):
            crowns = drop_shaded_ground(crowns, (means["blue"] / means["red"])[kept], rules)
    if "NIR" in roles:
        claimed = np.zeros(anomalous.shape, dtype=bool)  # pixels of the GRVI test's crowns
        fits = _fits(count, means, rules, pixel_m2)[2][lab - 1]
        claimed[rows[fits], cols[fits]] = True
        arrays = state | {"pixels": pixels, "roles": roles, "stands": stands,
                          "claimed": claimed}  # fmt: skip
        more = _ndvi_loss_crowns(arrays, base, rules, place)
        crowns = concat_tables([crowns, more]) if table_rows(more) else crowns
    crowns["stand"] = numbers[crowns["stand"].astype(np.intp)].astype(np.int32)
    return WindowResult(crowns, counts, rejected)


def _ndvi_loss_crowns(
    arrays: dict[str, Any],
    base: Baselines,
    rules: CrownRules,
    place: tuple[Window, int, Any, float],
) -> Table:
    """Crowns of the NDVI test that lost NIR against their neighbouring crowns (NIR only).

    Components of :func:`~gis.checks.discolored.neighbours.ndvi_loss_pixels` (``loss``, with
    ``loss_own`` the pixels whose own NDVI passes, from :func:`_pixel_state`) that hold no
    pixel of a crown-sized component of the GRVI test (``claimed``: those are its candidates,
    decoys included), judged by :func:`~gis.checks.discolored.neighbours.judge`. ``arrays``
    holds the window's ``pixels`` (:class:`~gis.checks.discolored.pixels.WindowPixels`),
    ``roles``, ``canopy``, ``ndvi``, ``stands`` (local numbers), ``loss``, ``loss_own`` and
    ``claimed``.
    """
    pixels, roles, stands = arrays["pixels"], arrays["roles"], arrays["stands"]
    halo = place[1]
    own = arrays["loss_own"]
    rows, cols, lab, n = label_pixels(arrays["loss"])
    px = pixel_layers(pixels.at(rows, cols), roles)
    is_core = own[rows, cols]
    layers = {k: px[k] for k in ("grvi", "rg_ratio", "green", "ndvi", "nir", "blue")}
    layers |= {"core": is_core, "nir_core": np.where(is_core, px["nir"], 0),
               "by_grvi": arrays["claimed"][rows, cols]}  # fmt: skip
    count, means = _components((rows, cols), lab, n, layers)
    crowns, _, kept = _crown_table(count, means, stands, base, rules, place)
    if not table_rows(crowns):
        return crowns
    nir = pixels.bands([list(roles).index("NIR")])  # the neighbours' NIR: one band converted
    return judge(crowns, means, kept, arrays | {"values": nir, "roles": ("NIR",), "half": halo},
                 base, rules)  # fmt: skip


def _local(numbers: NDArray[np.int64], base: Baselines) -> Baselines:
    """Return the baselines of the window's local stand numbers (``numbers``: their stands)."""
    local: dict[str, Any] = {
        f.name: None if getattr(base, f.name) is None else getattr(base, f.name)[numbers]
        for f in fields(base)
    }
    return type(base)(**local)
