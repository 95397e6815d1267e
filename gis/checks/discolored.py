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

import hashlib
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
from pyproj import CRS
from rasterio.windows import Window

from gis.checks.crowns import (
    Baselines,
    CrownRules,
    WindowResult,
    baselines_from_histograms,
    confidence,
    detect_window,
    merge_histograms,
    pixel_layers,
    soil_mask,
    window_histograms,
)
from gis.errors import RasterError, RulesError, SchemaError
from gis.findings import Findings
from gis.raster import RasterReader, RasterSource
from gis.units import M2_PER_HA

logger = logging.getLogger(__name__)

RULES_PATH = Path(__file__).resolve().parents[2] / "layers" / "rules" / "discolored.yaml"
POINT_KEYS = ("known_match_m", "id_snap_m", "context_m")
POINT_COLUMNS = (
    "point_id", "stand_id", "species", "crown_m2", "ndvi", "grvi", "rg_ratio", "confidence",
    "status", "image_date", "status_note", "is_new", "detected", "district", "forest_chief",
    "z_grvi", "z_ndvi",
)  # fmt: skip
"""Columns of ``discolored_points`` (then ``geometry``)."""


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


def pixel_size_m(source: RasterSource) -> float:
    """Return the pixel size in metres (geographic rasters: at the raster's centre)."""
    crs = CRS.from_wkt(source.crs_wkt)
    res = math.sqrt(abs(source.transform.a * source.transform.e))
    if crs.is_projected:
        return res * float(crs.axis_info[0].unit_conversion_factor)
    lat = (source.transform * (source.width / 2, source.height / 2))[1]
    return res * 111_320.0 * math.sqrt(abs(math.cos(math.radians(lat))))


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


def read_roles_of(source: RasterSource) -> tuple[str, ...]:
    """Roles the detector reads: G and R (required), B and NIR when present."""
    if not source.has("G", "R"):
        raise RasterError(
            f"{source.path} has bands {','.join(source.roles)}; the detector needs at least "
            "G and R (and NIR for NDVI) — give the roles with --bands, e.g. --bands B,G,R,NIR"
        )
    return tuple(r for r in ("B", "G", "R", "NIR") if source.has(r))


def make_plan(
    source: RasterSource, stands: gpd.GeoDataFrame, rules: CrownRules, *, window_size: int
) -> Plan:
    """Windows over the stands' extent and the halo that holds the largest crown."""
    pixel_m = pixel_size_m(source)
    diameter_px = 2 * math.sqrt(rules.max_crown_m2 / math.pi) / pixel_m
    halo = math.ceil(diameter_px) + 2
    windows = tuple(w for w in source.block_windows(window_size) if _touches(source, w, stands))
    return Plan(source, read_roles_of(source), stands, rules, halo, pixel_m**2, windows)


def _touches(source: RasterSource, window: Window, stands: gpd.GeoDataFrame) -> bool:
    from rasterio.windows import bounds

    box = shapely.box(*bounds(window, source.transform))
    return bool(len(stands.sindex.query(box, predicate="intersects")))


def window_shapes(plan: Plan, window: Window, halo: int = 0) -> list[tuple[Any, int]]:
    """Host stands (geometry, stand number) overlapping ``window`` grown by ``halo``."""
    from rasterio.windows import bounds

    w = Window(window.col_off - halo, window.row_off - halo, window.width + 2 * halo,
               window.height + 2 * halo)  # fmt: skip
    idx = plan.stands.sindex.query(shapely.box(*bounds(w, plan.source.transform)))
    sub = plan.stands.iloc[np.sort(idx)]
    return list(zip(sub.geometry.values, sub["stand_no"].astype(int), strict=True))


def baseline_task(plan: Plan, window: Window, reader: RasterReader | None = None) -> dict[int, Any]:
    """First pass on one window (pure: a Dask task may run it without ``reader``)."""
    shapes = window_shapes(plan, window)
    src = reader if reader is not None else plan.source
    return window_histograms(src, window, shapes, roles=plan.roles, rules=plan.rules)


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


def _chunks(windows: Sequence[Window], n: int) -> list[Sequence[Window]]:
    size = -(-len(windows) // max(n, 1))
    return [windows[i : i + size] for i in range(0, len(windows), size)] or [windows]


def _run_chunks(plan: Plan, fn: Any, threads: int) -> list[Any]:
    """Run ``fn(reader, window)`` over contiguous bands of windows, one reader per band."""

    def band(windows: Sequence[Window]) -> list[Any]:
        with plan.source.open(cachemax_mb=CACHE_MB) as reader:
            return [fn(reader, w) for w in windows]

    with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
        parts = list(pool.map(band, _chunks(plan.windows, threads)))
    return [r for part in parts for r in part]


def run_passes(plan: Plan, *, threads: int = 1) -> tuple[Baselines, list[WindowResult]]:
    """Run both passes over ``plan.windows`` (in order; results identical for any threads)."""
    hists: dict[int, Any] = {}
    for part in _run_chunks(plan, lambda r, w: baseline_task(plan, w, r), threads):
        merge_histograms(hists, part)
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
    window_size: int = 1024,
    threads: int = 1,
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
    window_size : int
        Window edge in pixels (memory is set by it, not by the raster).
    threads : int
        Threads reading and computing windows (results do not depend on it).
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
    base, results = run_passes(plan, threads=threads)
    if not (base.pixels[1:] > 0).any():
        raise RasterError(
            f"{source.path}: no valid canopy pixel inside the host stands (all nodata, masked "
            "or soil); check the nodata value and the band roles (--bands)"
        )
    _baseline_findings(host, base, rules.crowns, log)
    coarse = math.sqrt(plan.pixel_m2) >= rules.crowns.coarse_pixel_m
    counts = _merge_counts(results)
    crowns = _all_crowns(results, log)
    points = _points(crowns, host, plan, rules, image_date, coarse)
    if previous is not None and len(points):
        points = mark_previous(points, previous, rules=rules, findings=log)
    points = merge_known(points, known_points, rules=rules, findings=log)
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
    )


# ----------------------------------------------------------------------------- points


def point_ids(xs: Iterable[float], ys: Iterable[float], crs_wkt: str, snap_m: float) -> list[str]:
    """Stable ids: ``DP`` + hash of the CRS and the location snapped to ``snap_m``.

    Examples
    --------
    >>> a = point_ids([500000.2], [4850000.4], "EPSG:4551", 2.0)
    >>> a == point_ids([500000.6], [4850000.1], "EPSG:4551", 2.0), a[0][:2]
    (True, 'DP')
    """
    crs = CRS.from_user_input(crs_wkt)
    tag = crs.to_string() if crs.to_epsg() else hashlib.sha1(crs_wkt.encode()).hexdigest()[:8]
    out: list[str] = []
    seen: dict[str, int] = {}
    for x, y in zip(xs, ys, strict=True):
        key = f"{tag}:{round(x / snap_m)}:{round(y / snap_m)}"
        pid = "DP" + hashlib.sha1(key.encode()).hexdigest()[:10].upper()
        seen[pid] = seen.get(pid, 0) + 1
        out.append(pid if seen[pid] == 1 else f"{pid}-{seen[pid]}")
    return out


def _empty_points(crs: Any) -> gpd.GeoDataFrame:
    cols: dict[str, Any] = {c: pd.Series(dtype=object) for c in POINT_COLUMNS}
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _points(
    crowns: pd.DataFrame,
    host: gpd.GeoDataFrame,
    plan: Plan,
    rules: DiscoloredRules,
    image_date: str | None,
    coarse: bool,
) -> gpd.GeoDataFrame:
    crs = CRS.from_wkt(plan.source.crs_wkt)
    keep = crowns[~crowns["decoy"].astype(bool)] if len(crowns) else crowns
    if coarse or keep.empty:
        return _empty_points(crs)
    by_no = host.set_index("stand_no")
    st = by_no.loc[keep["stand"].to_numpy()]
    has_nir = "NIR" in plan.roles
    z_ndvi = keep["z_ndvi"].to_numpy() if has_nir else None
    conf = confidence(keep["z_grvi"].to_numpy(), z_ndvi, keep["crown_m2"].to_numpy(), rules.crowns)
    frame = pd.DataFrame(
        {
            "point_id": point_ids(keep["x"], keep["y"], plan.source.crs_wkt, rules.id_snap_m),
            "stand_id": st["stand_id"].astype(str).to_numpy(),
            "species": st["species"].to_numpy(),
            "crown_m2": keep["crown_m2"].round(2).to_numpy(),
            "ndvi": keep["ndvi"].round(4).to_numpy(),
            "grvi": keep["grvi"].round(4).to_numpy(),
            "rg_ratio": keep["rg_ratio"].round(4).to_numpy(),
            "confidence": conf,
            "status": "unverified",
            "image_date": image_date,
            "status_note": None,
            "is_new": True,
            "detected": True,
            "district": _col(st, "district"),
            "forest_chief": _col(st, "forest_chief"),
            "z_grvi": keep["z_grvi"].round(2).to_numpy(),
            "z_ndvi": keep["z_ndvi"].round(2).to_numpy(),
        }
    )
    geom = gpd.points_from_xy(keep["x"], keep["y"], crs=crs)
    return gpd.GeoDataFrame(frame, geometry=geom, crs=crs)


def _col(frame: pd.DataFrame, name: str) -> Any:
    return frame[name].to_numpy() if name in frame.columns else None


def mark_previous(
    points: gpd.GeoDataFrame,
    previous: RasterSource,
    *,
    rules: DiscoloredRules,
    findings: Findings,
) -> gpd.GeoDataFrame:
    """Mark crowns already discolored (or not canopy) in the earlier image as not new.

    Each crown is compared, in the earlier image, with a box of ``context_m`` around it: its
    GRVI z-score against the box's canopy pixels (median, IQR/1.349) at or below ``-z_grvi``
    gives ``status_note = discolored_before``; a crown area that was mostly no canopy (soil,
    gap, nodata) gives ``absent_before``.
    """
    pts = points.to_crs(CRS.from_wkt(previous.crs_wkt))
    roles = read_roles_of(previous)
    res = pixel_size_m(previous)
    with previous.open() as reader:
        notes = [
            _previous_note(reader, previous, roles, geom, area, rules, res)
            for geom, area in zip(pts.geometry, pts["crown_m2"], strict=True)
        ]
    out = points.copy()
    out["status_note"] = notes
    out["is_new"] = [n is None for n in notes]
    marked = sum(n is not None for n in notes)
    if marked:
        findings.add(
            "seen_before",
            f"{marked} crown(s) were already discolored or absent in the earlier image "
            f"({previous.path}); they are marked (status_note) and not counted as new",
            severity="info",
        )
    return out


def _previous_note(
    reader: Any,
    src: RasterSource,
    roles: tuple[str, ...],
    geom: Any,
    area: float,
    rules: DiscoloredRules,
    res: float,
) -> str | None:
    col, row = ~src.transform * (geom.x, geom.y)
    half = math.ceil(rules.context_m / res)
    win = Window(int(col) - half, int(row) - half, 2 * half + 1, 2 * half + 1)
    values, invalid = reader.read_array(win, roles)
    px = pixel_layers(values, roles)
    yy, xx = np.mgrid[0 : 2 * half + 1, 0 : 2 * half + 1]
    crown = np.hypot(yy - half, xx - half) <= max(math.sqrt(area / math.pi) / res, 1.0)
    canopy = ~invalid & ~soil_mask(px, np.inf, rules.crowns)
    if (canopy & crown).sum() < 0.5 * crown.sum():
        return "absent_before"
    ctx = px["grvi"][canopy & ~crown]
    if ctx.size < 10:
        return None
    q25, med, q75 = np.quantile(ctx, [0.25, 0.5, 0.75])
    sig = max((q75 - q25) / 1.349, rules.crowns.min_sigma)
    z = (float(np.mean(px["grvi"][canopy & crown])) - med) / sig
    return "discolored_before" if z <= -rules.crowns.z_grvi else None


def merge_known(
    points: gpd.GeoDataFrame,
    known: gpd.GeoDataFrame | None,
    *,
    rules: DiscoloredRules,
    findings: Findings,
) -> gpd.GeoDataFrame:
    """Take over id and status of known points within ``known_match_m``; keep the others.

    A detection near a known point (an earlier detection or a field result) becomes that
    point (its ``point_id``, ``status``; ``is_new`` False). Known points not detected again
    are carried over with ``detected`` False, so the list is complete and never doubled.
    """
    if known is None or known.empty:
        return points
    kn = known.to_crs(points.crs).reset_index(drop=True)
    if "point_id" not in kn.columns:
        raise SchemaError("the known points have no point_id (点位编号) field; add it")
    kn["status"] = kn["status"].fillna("unverified") if "status" in kn else "unverified"
    out = points.copy()
    taken: set[int] = set()
    if len(out):
        near = gpd.sjoin_nearest(
            out[["geometry"]], kn[["geometry"]], max_distance=rules.known_match_m,
            distance_col="dist_m",
        ).sort_values("dist_m", kind="stable")  # fmt: skip
        for det, k in zip(near.index, near["index_right"], strict=True):
            if k in taken or out.at[det, "status_note"] == "known":
                continue
            taken.add(int(k))
            out.at[det, "point_id"] = kn.at[k, "point_id"]
            out.at[det, "status"] = kn.at[k, "status"]
            out.at[det, "is_new"] = False
            out.at[det, "status_note"] = "known"
    rest = kn.drop(index=sorted(taken))
    carried = _carried(rest, points)
    findings.add(
        "known_points",
        f"{len(taken)} detection(s) matched known points (ids and status taken over); "
        f"{len(carried)} known point(s) not detected again were carried over",
        severity="info",
    )
    merged = pd.concat([out, carried], ignore_index=True) if len(carried) else out
    return merged.astype({"is_new": bool, "detected": bool})


def _carried(rest: gpd.GeoDataFrame, like: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    cols = {c: rest[c] if c in rest.columns else None for c in POINT_COLUMNS}
    frame = pd.DataFrame(cols, index=rest.index)
    frame["is_new"], frame["detected"] = False, False
    frame["status_note"] = frame["status_note"].where(
        frame["status_note"].notna(), "not_redetected"
    )
    return gpd.GeoDataFrame(frame, geometry=rest.geometry.values, crs=like.crs)


# ----------------------------------------------------------------------------- summaries

VERIFIED_LEVELS = ("stand_id", "district", "forest_chief")


def _verified(points: pd.DataFrame) -> pd.Series:
    return points["status"].fillna("unverified").astype(str) != "unverified"


def verification_rates(points: pd.DataFrame) -> pd.DataFrame:
    """核查率 (verified / detected) per stand, district and forest chief."""
    rows = []
    ver = _verified(points)
    for level in VERIFIED_LEVELS:
        if level not in points.columns or points[level].isna().all():
            continue
        grouped = pd.DataFrame({"key": points[level], "v": ver}).dropna(subset=["key"])
        for key, g in grouped.groupby("key", sort=True):
            n, v = len(g), int(g["v"].sum())
            rows.append((level, str(key), n, v, round(v / n, 4) if n else None))
    cols = ["level", "key", "detected", "verified", "verify_rate"]
    return pd.DataFrame(rows, columns=cols)


def stand_summary(
    host: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    counts: dict[int, tuple[int, int]],
    base: Baselines,
) -> gpd.GeoDataFrame:
    """Per host stand: new points, density per ha, crown share, anomalous share, 核查率."""
    no = host["stand_no"].to_numpy()
    pts = points.assign(ver=_verified(points), new=points["is_new"].fillna(False).astype(bool))
    g = pts.groupby(pts["stand_id"].astype(str))
    detected = g.size()
    area_ha = host["area_m2"].to_numpy() / M2_PER_HA
    sid = host["stand_id"].astype(str)
    count = sid.map(g["new"].sum()).fillna(0).astype(int).to_numpy()
    crown = sid.map(pts[pts["new"]].groupby(pts["stand_id"].astype(str))["crown_m2"].sum())
    canopy = np.array([counts.get(int(n), (0, 0))[0] for n in no])
    anomalous = np.array([counts.get(int(n), (0, 0))[1] for n in no])
    n_det = sid.map(detected).fillna(0).astype(int).to_numpy()
    n_ver = sid.map(g["ver"].sum()).fillna(0).astype(int).to_numpy()
    table = pd.DataFrame(
        {
            "stand_id": sid.to_numpy(), "species": host["species"].to_numpy(),
            "area_ha": np.round(area_ha, 4), "count": count,
            "density_per_ha": np.round(count / np.maximum(area_ha, 1e-9), 3),
            "crown_share": np.round(crown.fillna(0).to_numpy() / host["area_m2"].to_numpy(), 5),
            "canopy_px": canopy,
            "anomalous_share": np.round(anomalous / np.maximum(canopy, 1), 5),
            "grvi_median": np.round(base.med_grvi[no], 4),
            "ndvi_median": np.round(base.med_ndvi[no], 4),
            "pooled_baseline": base.pooled[no], "detected": n_det, "verified": n_ver,
            "verify_rate": np.where(n_det > 0, np.round(n_ver / np.maximum(n_det, 1), 4), np.nan),
        }
    )  # fmt: skip
    return gpd.GeoDataFrame(table, geometry=host.geometry.values, crs=host.crs)


def discolored_patches(
    host: gpd.GeoDataFrame, counts: dict[int, tuple[int, int]], pixel_m2: float
) -> gpd.GeoDataFrame:
    """Coarse pixels: per stand, share and area of anomalous (non-yellow) canopy pixels."""
    no = host["stand_no"].to_numpy()
    canopy = np.array([counts.get(int(n), (0, 0))[0] for n in no])
    anomalous = np.array([counts.get(int(n), (0, 0))[1] for n in no])
    table = pd.DataFrame(
        {
            "stand_id": host["stand_id"].astype(str).to_numpy(),
            "species": host["species"].to_numpy(),
            "canopy_px": canopy,
            "anomalous_px": anomalous,
            "anomalous_share": np.round(anomalous / np.maximum(canopy, 1), 5),
            "anomalous_area_ha": np.round(anomalous * pixel_m2 / M2_PER_HA, 4),
        }
    )
    return gpd.GeoDataFrame(table, geometry=host.geometry.values, crs=host.crs)


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


def average_precision(score: Any, positive: Any) -> float:
    """Return the average precision (area under the precision-recall steps).

    Examples
    --------
    >>> average_precision([0.9, 0.8, 0.1], [True, False, True])
    0.8333333333333333
    """
    s, y = np.asarray(score, dtype=float), np.asarray(positive, dtype=bool)
    order = np.argsort(-s, kind="stable")
    hits = y[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / max(hits.sum(), 1))


def evaluate_segments(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    target_recall: float = 0.9,
    positive: str = "w",
    rules: DiscoloredRules | None = None,
) -> dict[str, float]:
    """Score wilt segments (UCI *Wilt*: Mean_Green, Mean_Red, Mean_NIR, class) like the detector.

    The baseline (median, lower-half sigma) comes from the training segments, as a stand's canopy
    pixels are the baseline of that stand; :func:`gis.checks.crowns.wilt_score` gates out
    shadow and soil and suppresses yellow decoys; the threshold is the highest score that
    keeps ``target_recall`` of the training positives; the test set is scored with it.

    Precision depends on prevalence: at a fixed threshold recall and the false-positive rate
    do not, but precision = TPR·p / (TPR·p + FPR·(1 − p)). With 1.7 % diseased segments in
    training and 37 % in testing, the same threshold gives a far higher precision on the test
    set than on training; a threshold tuned for F1 on training would be much stricter and lose
    recall here. Average precision (PR-AUC) moves with prevalence the same way.
    """
    from gis.checks.crowns import pixel_layers, segment_baseline, wilt_score

    crowns = (rules or load_discolored_rules()).crowns
    bands = ("Mean_Green", "Mean_Red", "Mean_NIR")
    px = pixel_layers(np.stack([train[b].to_numpy(float) for b in bands]), ("G", "R", "NIR"))
    base = segment_baseline(px, crowns)
    score = {
        name: wilt_score(*(f[b] for b in bands), baseline=base, rules=crowns)["score"].to_numpy()
        for name, f in (("train", train), ("test", test))
    }
    y_train = train["class"].astype(str).str.strip().to_numpy() == positive
    y_test = test["class"].astype(str).str.strip().to_numpy() == positive
    pos = np.sort(score["train"][y_train])[::-1]
    threshold = float(pos[math.ceil(target_recall * len(pos)) - 1])
    pred = score["test"] >= threshold
    tp = int((pred & y_test).sum())
    finite = np.where(np.isfinite(score["test"]), score["test"], -1e9)
    return {
        "threshold_z": round(threshold, 4),
        "recall": tp / max(int(y_test.sum()), 1),
        "precision": tp / max(int(pred.sum()), 1),
        "average_precision": average_precision(finite, y_test),
        "prevalence_train": float(y_train.mean()),
        "prevalence_test": float(y_test.mean()),
    }


def match_truth(
    points: gpd.GeoDataFrame,
    truth: pd.DataFrame,
    *,
    kind: str = "discolored",
    within_m: float = 2.0,
) -> dict[str, float]:
    """Precision and recall of new points against planted crowns (``x, y, kind`` columns).

    A new point within ``within_m`` of a planted crown of ``kind`` is a hit; a planted crown
    with a new point within ``within_m`` is found. Points and truth share the points' CRS.
    """
    from scipy.spatial import cKDTree

    new = points[points["is_new"].astype(bool)]
    xy = np.c_[new.geometry.x, new.geometry.y]
    target = truth[truth["kind"] == kind]
    txy = np.c_[target["x"], target["y"]]
    if len(new) == 0 or len(target) == 0:
        return {"precision": float(len(new) == 0), "recall": float(len(target) == 0),
                "points": len(new), "planted": len(target)}  # fmt: skip
    hit = cKDTree(txy).query(xy)[0] <= within_m
    found = cKDTree(xy).query(txy)[0] <= within_m
    return {"precision": float(hit.mean()), "recall": float(found.mean()),
            "points": len(new), "planted": len(target)}  # fmt: skip
