"""变色立木监测: discolored standing trees in host (pine) stands as points to verify.

:func:`detect_discolored` is the driver of two windowed passes over a lazy
:class:`~gis.raster.RasterSource` (the per-window work is in :mod:`gis.checks.crowns`, pure
functions a Dask task can run): stand baselines (histograms, summed), then crowns (windows
with a halo; a crown belongs to the window whose core holds its centroid). It returns frames;
:mod:`gis.checks.discolored_run` reads inputs and writes the outputs.

Points get a ``point_id`` that is stable across reruns (a hash of the location snapped to
``id_snap_m``), or that of a known point within ``known_match_m`` (``--known-points``), whose
field status it keeps, so that a tree is never reported twice.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.windows import Window

from gis.checks.crowns import CrownRules, WindowResult, detect_window
from gis.checks.discolored_points import (
    crown_points,
    discolored_patches,
    mark_previous,
    merge_known,
    pixel_size_m,
    read_roles_of,
    stand_summary,
    verification_rates,
)
from gis.checks.stand_baselines import (
    Baselines,
    baselines_from_histograms,
    merge_histograms,
    window_histograms,
)
from gis.errors import RasterError, RulesError, SchemaError
from gis.findings import Findings
from gis.raster import RasterReader, RasterSource
from gis.resources import resource_path

logger = logging.getLogger(__name__)

RULES_PATH = resource_path("layers/rules/discolored.yaml")
POINT_KEYS = ("known_match_m", "id_snap_m", "context_m")


@dataclass(frozen=True)
class DiscoloredRules:
    """Detector thresholds plus point rules and the host species list (``None`` = catalog)."""

    crowns: CrownRules = field(default_factory=CrownRules)
    known_match_m: float = 5.0
    id_snap_m: float = 2.0
    context_m: float = 10.0
    host_species: tuple[str, ...] | None = None
    source: str = "<defaults>"


def load_discolored_rules(path: str | os.PathLike[str] | None = None) -> DiscoloredRules:
    """Read ``layers/rules/discolored.yaml`` (or ``path``); unknown keys raise RulesError."""
    p = Path(path) if path is not None else RULES_PATH
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    _check_keys(raw, ("version", "host_species", "thresholds", "points"), p, "top level")
    th = raw.get("thresholds") or {}
    _check_keys(th, CrownRules.keys(), p, "thresholds")
    pts = raw.get("points") or {}
    _check_keys(pts, POINT_KEYS, p, "points")
    try:
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in th.items()}
        crowns = CrownRules(**values)
        floats = {k: float(v) for k, v in pts.items()}
    except (TypeError, ValueError) as exc:
        raise RulesError(f"{p}: a threshold has the wrong type: {exc}") from exc
    hosts = raw.get("host_species", "catalog")
    species = None if hosts in (None, "catalog") else tuple(str(s) for s in hosts)
    return DiscoloredRules(crowns, **floats, host_species=species, source=str(p))


def _check_keys(obj: Any, valid: Sequence[str], path: Path, where: str) -> None:
    if not isinstance(obj, dict):
        raise RulesError(f"{path}: {where}: expected a mapping, got {type(obj).__name__}")
    bad = [k for k in obj if k not in valid]
    if bad:
        raise RulesError(f"{path}: {where}: unknown key(s) {bad}; valid keys: {', '.join(valid)}")


# ----------------------------------------------------------------------------- stands


def host_list(species: Iterable[str] | None, rules: DiscoloredRules) -> tuple[str, ...]:
    """Return the host species codes: ``species`` (names or synonyms), rules, else catalog."""
    from gis.layers import host_species, layer_kind, normalize_code

    if species is None:
        return rules.host_species or host_species()
    spec = layer_kind("subcompartments").fields["dominant_species"]
    return tuple(str(normalize_code(spec, s) or s).strip() for s in species if str(s).strip())


def host_stands(
    stands: gpd.GeoDataFrame,
    *,
    hosts: Sequence[str],
    crs_wkt: str,
    findings: Findings,
    source: str = "stands",
) -> gpd.GeoDataFrame:
    """Return the host stands in the raster CRS with ``stand_no`` 1..N and ``area_m2``.

    Raises
    ------
    SchemaError
        The stands have no ``dominant_species`` (优势树种) field.
    """
    from gis.layers import layer_kind, normalize_code

    if "dominant_species" not in stands.columns:
        raise SchemaError(
            f"{source} has no dominant species field (优势树种 / dominant_species / YSSZ); the "
            "detector keeps only host stands — add the field, or give the subcompartments layer"
        )
    spec = layer_kind("subcompartments").fields["dominant_species"]
    code = stands["dominant_species"].map(lambda v: normalize_code(spec, v) or v)
    hosts_set = {str(h) for h in hosts}
    out = stands[code.astype(str).isin(hosts_set)].copy()
    out["species"] = code[out.index].astype(str)
    raster_crs = CRS.from_wkt(crs_wkt)
    if out.crs is not None and not CRS.from_user_input(out.crs).equals(raster_crs):
        findings.add(
            "stands_reprojected",
            f"stands transformed from {out.crs.to_string()} to the raster's CRS "
            f"({raster_crs.to_string()}) for the pixel work",
            severity="info",
            source=source,
            zh=f"小班已由 {out.crs.to_string()} 转换到影像坐标系（{raster_crs.to_string()}）"
            "以做像元计算",
        )
        out = out.to_crs(raster_crs)
    if "stand_id" not in out.columns:
        out["stand_id"] = [str(i) for i in out.index]
    out["stand_no"] = np.arange(1, len(out) + 1, dtype=np.int32)
    out["area_m2"] = _area_m2(out)
    return out.reset_index(drop=True)


def _area_m2(frame: gpd.GeoDataFrame) -> Any:
    from gis.units import area_m2, geodesic_area_m2

    if CRS.from_user_input(frame.crs).is_geographic:
        return geodesic_area_m2(np.asarray(frame.geometry.values), frame.crs)
    return area_m2(frame)


# ----------------------------------------------------------------------------- driver


@dataclass
class DiscoloredResult:
    """Frames of one detection run (``patches`` only at coarse resolution)."""

    points: gpd.GeoDataFrame
    stand_summary: gpd.GeoDataFrame
    verification: pd.DataFrame
    patches: gpd.GeoDataFrame | None
    findings: Findings
    run: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """Everything the per-window functions need besides the window (picklable)."""

    source: RasterSource
    roles: tuple[str, ...]
    stands: gpd.GeoDataFrame
    rules: CrownRules
    halo: int
    pixel_m2: float
    windows: tuple[Window, ...]


WINDOW_PX = (1024, 2048)
"""Automatic window edge: the smallest, and the largest (memory: ~0.4 GB a thread at 2048)."""
HALO_SHARE = 8
"""Automatic windows are at least this many halos wide, so the halo adds at most ~56 %."""


def auto_window(halo: int, block_rows: int = 256) -> int:
    """Window edge for a halo: 1024, widened (in whole blocks, up to 2048) for fine pixels.

    At 0.5 m the largest crown needs a 25 px halo and 1024 windows; at 5 cm it needs 228 px,
    which around a 1024 window would read twice the window's area.

    Examples
    --------
    >>> auto_window(25), auto_window(115), auto_window(228), auto_window(600)
    (1024, 1024, 2048, 2048)
    """
    lo, hi = WINDOW_PX
    block = max(int(block_rows), 1)
    return int(min(max(lo, -(-HALO_SHARE * halo // block) * block), hi))


def make_plan(
    source: RasterSource,
    stands: gpd.GeoDataFrame,
    rules: CrownRules,
    *,
    window_size: int | None = None,
) -> Plan:
    """Windows over the stands' extent and the halo that holds the largest crown.

    ``window_size`` (pixels) defaults to :func:`auto_window` of the halo.
    """
    pixel_m = pixel_size_m(source)
    diameter_px = 2 * math.sqrt(rules.max_crown_m2 / math.pi) / pixel_m
    halo = math.ceil(diameter_px) + 2
    size = window_size or auto_window(halo, source.block_shape[0])
    windows = tuple(w for w in source.block_windows(size) if _touches(source, w, stands))
    return Plan(source, read_roles_of(source), stands, rules, halo, pixel_m**2, windows)


def _touches(source: RasterSource, window: Window, stands: gpd.GeoDataFrame) -> bool:
    from rasterio.windows import bounds

    box = shapely.box(*bounds(window, source.transform))
    return bool(len(stands.sindex.query(box, predicate="intersects")))


def window_shapes(
    plan: Plan, window: Window, halo: int = 0, *, stands: gpd.GeoDataFrame | None = None
) -> list[tuple[Any, int]]:
    """Host stands (geometry, stand number) overlapping ``window`` grown by ``halo``.

    ``stands`` restricts them to a subset of ``plan.stands`` (default all).
    """
    from rasterio.windows import bounds

    frame = plan.stands if stands is None else stands
    w = Window(window.col_off - halo, window.row_off - halo, window.width + 2 * halo,
               window.height + 2 * halo)  # fmt: skip
    tree, geoms, numbers = _stand_index(frame)
    idx = np.sort(tree.query(shapely.box(*bounds(w, plan.source.transform))))
    return list(zip(geoms[idx], numbers[idx].tolist(), strict=True))


_INDEX: dict[int, tuple[Any, gpd.GeoDataFrame]] = {}


def _stand_index(frame: gpd.GeoDataFrame) -> tuple[Any, NDArray[Any], NDArray[np.int64]]:
    """STRtree, geometries and stand numbers of ``frame`` as arrays (cached per frame)."""
    hit = _INDEX.get(id(frame))
    if hit is not None and hit[1] is frame:
        return hit[0]  # type: ignore[no-any-return]
    geoms = np.asarray(frame.geometry.values, dtype=object)
    arrays = (shapely.STRtree(geoms), geoms, frame["stand_no"].to_numpy(np.int64))
    _INDEX.clear()  # one frame at a time: the plan being run
    _INDEX[id(frame)] = (arrays, frame)
    return arrays


def baseline_task(
    plan: Plan,
    window: Window,
    reader: RasterReader | None = None,
    *,
    stands: gpd.GeoDataFrame | None = None,
) -> dict[int, Any]:
    """First pass on one window (pure: a Dask task may run it without ``reader``)."""
    shapes = window_shapes(plan, window, stands=stands)
    src = reader if reader is not None else plan.source
    return window_histograms(src, window, shapes, roles=plan.roles, rules=plan.rules)


STRIP_ROWS = 256
"""Pass 1 reads every other strip of this many rows (whole block rows): half the decoding."""
COMPLETE_BELOW = 100_000
"""Stands with fewer vegetation pixels in the read strips get their skipped strips read too."""


def sample_strips(windows: Sequence[Window], block_rows: int) -> tuple[list[Window], list[Window]]:
    """Split ``windows`` into strips of whole block rows: (every other strip, the others).

    Examples
    --------
    >>> kept, skipped = sample_strips([Window(0, 0, 100, 1024)], 256)
    >>> [int(w.row_off) for w in kept], [int(w.row_off) for w in skipped]
    ([0, 512], [256, 768])
    """
    h = block_rows * max(1, STRIP_ROWS // max(block_rows, 1))
    kept: list[Window] = []
    skipped: list[Window] = []
    for w in windows:
        r0, r1 = int(w.row_off), int(w.row_off + w.height)
        for top in range(r0 - r0 % h, r1, h):
            a, b = max(top, r0), min(top + h, r1)
            strip = Window(w.col_off, a, w.width, b - a)
            (kept if (top // h) % 2 == 0 else skipped).append(strip)
    return kept, skipped


def stand_histograms(plan: Plan, *, threads: int = 1) -> dict[int, Any]:
    """Pass 1 on local threads (see :func:`sampled_histograms` for the sampling rule)."""

    def run(windows: Sequence[Window], stands: gpd.GeoDataFrame | None) -> list[Any]:
        task = lambda r, w: baseline_task(plan, w, r, stands=stands)  # noqa: E731
        return _run_chunks(plan, task, threads, windows)

    return sampled_histograms(plan, run)


def sampled_histograms(plan: Plan, run: Any) -> dict[int, Any]:
    """Pass 1: per-stand histograms from every other strip of rows (counts doubled).

    A stand with fewer than :data:`COMPLETE_BELOW` vegetation pixels there (small, or in
    the skipped strips) gets its skipped strips read as well: its histograms are complete.
    ``run(windows, stands)`` returns the window histograms of :func:`baseline_task` in
    window order (``stands``: a subset of the host stands, ``None`` for all) — on local
    threads or as Dask tasks: the integer sums, hence the baselines, are the same.
    """
    kept, skipped = sample_strips(plan.windows, plan.source.block_shape[0])
    hists: dict[int, Any] = {}
    for part in run(kept, None):
        merge_histograms(hists, part)
    seen = {sid: int(h[0].sum()) for sid, h in hists.items()}
    thin = plan.stands[[seen.get(int(s), 0) < COMPLETE_BELOW for s in plan.stands["stand_no"]]]
    todo = [w for w in skipped if window_shapes(plan, w, stands=thin)] if len(thin) else []
    extra: dict[int, Any] = {}
    for part in run(todo, thin):
        merge_histograms(extra, part)
    full = set(thin["stand_no"].astype(int))
    for sid, hist in hists.items():
        if sid not in full:
            hist *= 2  # every other strip was read
    return merge_histograms(hists, extra)


def detect_task(
    plan: Plan, base: Baselines, window: Window, reader: RasterReader | None = None
) -> WindowResult:
    """Second pass on one window (pure: a Dask task may run it without ``reader``)."""
    shapes = window_shapes(plan, window, plan.halo)
    src = reader if reader is not None else plan.source
    return detect_window(
        src, window, shapes, base, roles=plan.roles, rules=plan.rules,
        halo=plan.halo, pixel_m2=plan.pixel_m2,
    )  # fmt: skip


CACHE_MB = 256
"""GDAL block cache while a thread reads its band of windows (holds the tiles halos reuse)."""


DECODE_SHARE = 0.6
"""Share of a window's cost that its host pixels do not change (reading, decoding: ~60 %)."""


def window_work(plan: Plan, windows: Sequence[Window]) -> NDArray[np.float64]:
    """Relative cost of each window: the decode plus the share of it under host stands.

    The host share is the overlap of the window with the stands' bounding boxes (capped at
    1): cheap, and enough to balance threads when pine stands cluster in part of the image.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from gis.raster import RasterSource
    >>> src = RasterSource("x.tif", "generic", ("G", "R"), 1.0, 0.0, None, width=20, height=10)
    >>> stands = gpd.GeoDataFrame({"stand_no": [1]}, geometry=[shapely.box(0, 0, 10, 10)])
    >>> plan = Plan(src, ("G", "R"), stands, CrownRules(), 0, 1.0, ())
    >>> window_work(plan, [Window(0, 0, 10, 10), Window(10, 0, 10, 10)]).round(2).tolist()
    [1.0, 0.6]
    """
    from rasterio.windows import bounds

    raw = np.array([bounds(w, plan.source.transform) for w in windows], dtype=float)
    xs, ys = np.sort(raw[:, [0, 2]], axis=1), np.sort(raw[:, [1, 3]], axis=1)
    boxes = np.column_stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]])
    tree, geoms, _ = _stand_index(plan.stands)
    win, stand = tree.query(shapely.box(*boxes.T))
    sb, wb = shapely.bounds(geoms[stand]), boxes[win]
    dx = np.minimum(sb[:, 2], wb[:, 2]) - np.maximum(sb[:, 0], wb[:, 0])
    dy = np.minimum(sb[:, 3], wb[:, 3]) - np.maximum(sb[:, 1], wb[:, 1])
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    overlap = np.bincount(win, weights=np.clip(dx, 0, None) * np.clip(dy, 0, None),
                          minlength=len(windows))  # fmt: skip
    share = np.minimum(overlap / np.where(area > 0, area, 1), 1.0)
    return np.asarray(DECODE_SHARE + (1 - DECODE_SHARE) * share)


def _chunks(
    windows: Sequence[Window], n: int, work: NDArray[np.float64] | None = None
) -> list[Sequence[Window]]:
    """Split ``windows`` into ``n`` contiguous runs of about equal ``work`` (default: count).

    Examples
    --------
    >>> ws = [Window(i, 0, 1, 1) for i in range(6)]
    >>> work = np.array([5.0, 1, 1, 1, 1, 1])
    >>> [len(c) for c in _chunks(ws, 2)], [len(c) for c in _chunks(ws, 2, work)]
    ([3, 3], [1, 5])
    """
    weights = np.ones(len(windows)) if work is None else np.asarray(work, dtype=float)
    cum = np.cumsum(weights)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, max(n, 1)) / max(n, 1), side="left") + 1
    edges = [0, *np.minimum(cuts, len(windows)).tolist(), len(windows)]
    runs = [windows[a:b] for a, b in itertools.pairwise(edges) if b > a]
    return runs or [windows]


def _run_chunks(
    plan: Plan, fn: Any, threads: int, windows: Sequence[Window] | None = None
) -> list[Any]:
    """Run ``fn(reader, window)`` over contiguous bands of windows, one reader per band.

    The bands carry about equal work (:func:`window_work`), so that a thread whose band holds
    the pine stands is not left working alone; a band keeps its reader and block cache, which
    serve the halos. ``windows`` defaults to ``plan.windows``; results come in window order.
    """

    def band(part: Sequence[Window]) -> list[Any]:
        with plan.source.open(cachemax_mb=CACHE_MB) as reader:
            return [fn(reader, w) for w in part]

    todo = plan.windows if windows is None else windows
    if not todo:
        return []
    with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
        work = window_work(plan, todo) if threads > 1 else None
        parts = list(pool.map(band, _chunks(todo, threads, work)))
    return [r for part in parts for r in part]


def run_passes(plan: Plan, *, threads: int = 1) -> tuple[Baselines, list[WindowResult]]:
    """Run both passes over ``plan.windows`` (in order; results identical for any threads)."""
    hists = stand_histograms(plan, threads=threads)
    base = baselines_from_histograms(hists, len(plan.stands), rules=plan.rules)
    results = _run_chunks(plan, lambda r, w: detect_task(plan, base, w, r), threads)
    return base, results


def detect_discolored(
    source: RasterSource,
    stands: gpd.GeoDataFrame,
    *,
    previous: RasterSource | None = None,
    species: Iterable[str] | None = None,
    known_points: gpd.GeoDataFrame | None = None,
    rules: DiscoloredRules | None = None,
    image_date: str | None = None,
    window_size: int | None = None,
    threads: int = 1,
    client: Any = None,
    findings: Findings | None = None,
) -> DiscoloredResult:
    """Find discolored crowns in host stands and return points, stand summary and findings.

    Parameters
    ----------
    source : RasterSource
        The image (G and R bands at least; NIR enables NDVI and the decoy NIR rule).
    stands : GeoDataFrame
        Subcompartments with ``dominant_species`` (any CRS; transformed to the raster's).
    previous : RasterSource, optional
        An earlier image: crowns already discolored or absent there are marked, not new.
    species : iterable of str, optional
        Host species (names or synonyms); default the rules' list, else the catalog's.
    known_points : GeoDataFrame, optional
        Earlier detections / field results (``pest_points``): ids and status are taken over.
    rules : DiscoloredRules, optional
        Thresholds (default ``layers/rules/discolored.yaml``).
    image_date : str, optional
        Date of the image, written to every point.
    window_size : int, optional
        Window edge in pixels (memory is set by it, not by the raster; the results do not
        depend on it); default 1024, wider for pixels finer than ~10 cm (:func:`auto_window`).
    threads : int
        Threads reading and computing windows (results do not depend on it).
    client : distributed.Client, optional
        Run both passes as Dask tasks on this client (:mod:`gis.distributed`); the results
        equal the one-process run.
    findings : Findings, optional
        Receives the findings.

    Raises
    ------
    RasterError
        Missing G/R bands, no host stand overlaps the raster, or no valid canopy pixel.
    SchemaError
        The stands have no species field.
    """
    log = findings if findings is not None else Findings()
    rules = rules or load_discolored_rules()
    hosts = host_list(species, rules)
    host = host_stands(stands, hosts=hosts, crs_wkt=source.crs_wkt, findings=log)
    plan = make_plan(source, host, rules.crowns, window_size=window_size)
    if host.empty or not plan.windows:
        raise RasterError(
            f"no host stand ({','.join(hosts)}) overlaps {source.path}; check that the stands "
            "and the image cover the same area, or choose other species with --species"
        )
    if client is None:
        base, results = run_passes(plan, threads=threads)
    else:
        from gis.checks.discolored_dask import run_passes_dask

        base, results = run_passes_dask(client, plan)
    if not (base.pixels[1:] > 0).any():
        raise RasterError(
            f"{source.path}: no valid canopy pixel inside the host stands (all nodata, masked "
            "or soil); check the nodata value and the band roles (--bands)"
        )
    _baseline_findings(host, base, rules.crowns, log)
    coarse = math.sqrt(plan.pixel_m2) >= rules.crowns.coarse_pixel_m
    counts = _merge_counts(results)
    crowns = _all_crowns(results, log)
    points = crown_points(
        crowns if not coarse else crowns.iloc[:0], host, crs_wkt=source.crs_wkt,
        has_nir="NIR" in plan.roles, rules=rules.crowns, snap_m=rules.id_snap_m,
        image_date=image_date,
    )  # fmt: skip
    if previous is not None and len(points):
        points = mark_previous(
            points, previous, rules=rules.crowns, context_m=rules.context_m, findings=log
        )
    points = merge_known(points, known_points, match_m=rules.known_match_m, findings=log)
    summary = stand_summary(host, points, counts, base)
    patches = discolored_patches(host, counts, plan.pixel_m2) if coarse else None
    if coarse:
        _coarse_finding(plan, rules, log, source.path)
    run = _run_info(plan, hosts, rules, crowns, points, coarse)
    return DiscoloredResult(points, summary, verification_rates(points), patches, log, run)


def _all_crowns(results: Sequence[WindowResult], log: Findings) -> pd.DataFrame:
    frames = [r.crowns for r in results if len(r.crowns)]
    crowns = pd.concat(frames, ignore_index=True) if frames else results[0].crowns.iloc[:0]
    n_decoy = int(crowns["decoy"].sum())
    if n_decoy:
        log.add(
            "decoys_suppressed",
            f"{n_decoy} yellow crown(s) with NIR kept (autumn larch/broadleaf) not reported",
            severity="info",
            zh=f"{n_decoy} 个近红外未下降的黄色树冠（秋季落叶松/阔叶树）未作为变色立木上报",
        )
    return crowns


def _merge_counts(results: Sequence[WindowResult]) -> dict[int, tuple[int, int]]:
    out: dict[int, tuple[int, int]] = {}
    for r in results:
        for sid, (c, a) in r.stand_pixels.items():
            c0, a0 = out.get(sid, (0, 0))
            out[sid] = (c0 + c, a0 + a)
    return out


def _baseline_findings(
    host: gpd.GeoDataFrame, base: Baselines, rules: CrownRules, log: Findings
) -> None:
    thin = host[base.pooled[host["stand_no"].to_numpy()]]
    if len(thin):
        ids = ", ".join(thin["stand_id"].astype(str).head(10))
        log.add(
            "pooled_baseline",
            f"{len(thin)} stand(s) have fewer than {rules.min_stand_pixels} canopy pixels and "
            f"are compared with the pooled baseline of all host stands: {ids}",
            severity="info",
            zh=f"{len(thin)} 个小班的冠层像元少于 {rules.min_stand_pixels} 个，"
            f"改用全部寄主小班的合并基线比较：{ids}",
        )


def _coarse_finding(plan: Plan, rules: DiscoloredRules, log: Findings, path: str) -> None:
    size = math.sqrt(plan.pixel_m2)
    log.add(
        "coarse_pixels",
        f"pixels of {size:.1f} m (>= {rules.crowns.coarse_pixel_m:g} m) cannot resolve single "
        "crowns: discolored patches are reported per stand (layer discolored_patches), "
        "not points",
        severity="warning",
        source=path,
        zh=f"像元 {size:.1f} 米（>= {rules.crowns.coarse_pixel_m:g} 米）分辨不出单株树冠："
        "变色区域按小班上报（图层 discolored_patches），不上报单株点位",
    )


def _run_info(
    plan: Plan,
    hosts: Sequence[str],
    rules: DiscoloredRules,
    crowns: pd.DataFrame,
    points: gpd.GeoDataFrame,
    coarse: bool,
) -> dict[str, Any]:
    new = int(points["is_new"].fillna(False).astype(bool).sum()) if len(points) else 0
    return {
        "mode": "patches" if coarse else "points",
        "parameters": {
            **{k: getattr(rules.crowns, k) for k in CrownRules.keys()},
            "known_match_m": rules.known_match_m, "id_snap_m": rules.id_snap_m,
            "context_m": rules.context_m, "rules": rules.source,
            "host_species": list(hosts), "roles": list(plan.roles),
            "pixel_m": round(math.sqrt(plan.pixel_m2), 4), "halo_px": plan.halo,
            "windows": len(plan.windows),
        },
        "counts": {
            "host_stands": len(plan.stands), "candidates": len(crowns),
            "decoys": int(crowns["decoy"].sum()) if len(crowns) else 0,
            "points": len(points), "new_points": new,
        },
    }  # fmt: skip


def with_rules(rules: DiscoloredRules, **crowns: Any) -> DiscoloredRules:
    """Return ``rules`` with some crown thresholds replaced (tests, notebooks)."""
    return replace(rules, crowns=replace(rules.crowns, **crowns))
