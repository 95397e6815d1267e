"""Points of the discolored-tree detection: ids, --previous, known points, summaries.

Pure functions on frames (and, for ``--previous``, small reads around each crown) used by
:func:`gis.checks.discolored.detect_discolored`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS
from rasterio.windows import Window

from gis.checks.discolored.baselines import Baselines
from gis.checks.discolored.crowns import confidence
from gis.checks.discolored.pixels import CrownRules, pixel_layers, soil_mask
from gis.errors import RasterError, SchemaError
from gis.findings import Findings
from gis.raster import RasterSource
from gis.raster.analysis_grid import previous_on
from gis.raster.grid import Grid
from gis.units import M2_PER_HA

POINT_COLUMNS = (
    "point_id", "stand_id", "species", "crown_m2", "ndvi", "grvi", "rg_ratio", "confidence",
    "status", "image_date", "status_note", "is_new", "detected", "district", "township",
    "forest_chief",
    "z_grvi", "z_ndvi",
)  # fmt: skip
"""Columns of ``discolored_points`` (then ``geometry``)."""


def read_roles_of(source: RasterSource) -> tuple[str, ...]:
    """Roles the detector reads: G and R (required), B and NIR when present."""
    if not source.has("G", "R"):
        raise RasterError(
            f"{source.path} has bands {','.join(source.roles)}; the detector needs at least "
            "G and R (and NIR for NDVI) — give the roles with --bands, e.g. --bands B,G,R,NIR",
            zh=f"{source.path} 的波段为 {','.join(source.roles)}；检测至少需要 G 和 R（计算 NDVI "
            "还需 NIR）——请用 --bands 写出波段角色，例如 --bands B,G,R,NIR",
        )
    return tuple(r for r in ("B", "G", "R", "NIR") if source.has(r))


def pixel_size_m(source: RasterSource) -> float:
    """Return the pixel size in metres (geographic rasters: at the raster's centre)."""
    crs = CRS.from_wkt(source.crs_wkt)
    res = math.sqrt(abs(source.transform.a * source.transform.e))
    if crs.is_projected:
        return res * float(crs.axis_info[0].unit_conversion_factor)
    lat = (source.transform @ (source.width / 2, source.height / 2))[1]
    return res * 111_320.0 * math.sqrt(abs(math.cos(math.radians(lat))))


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
    floats = ("crown_m2", "ndvi", "grvi", "rg_ratio", "confidence", "z_grvi", "z_ndvi")
    flags = ("is_new", "detected")
    cols = {
        c: pd.Series(dtype=float if c in floats else bool if c in flags else object)
        for c in POINT_COLUMNS
    }
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def crown_points(
    crowns: pd.DataFrame,
    host: gpd.GeoDataFrame,
    *,
    crs_wkt: str,
    has_nir: bool,
    rules: CrownRules,
    snap_m: float,
    image_date: str | None = None,
) -> gpd.GeoDataFrame:
    """One point per non-decoy crown (raster CRS), with stand, indices and confidence."""
    crs = CRS.from_wkt(crs_wkt)
    keep = crowns[~crowns["decoy"].astype(bool)] if len(crowns) else crowns
    if keep.empty:
        return _empty_points(crs)
    by_no = host.set_index("stand_no")
    st = by_no.loc[keep["stand"].to_numpy()]
    z_ndvi = keep["z_ndvi"].to_numpy() if has_nir else None
    conf = confidence(keep["z_grvi"].to_numpy(), z_ndvi, keep["crown_m2"].to_numpy(), rules)
    frame = pd.DataFrame(
        {
            "point_id": point_ids(keep["x"], keep["y"], crs_wkt, snap_m),
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
            "township": _col(st, "township"),
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
    rules: CrownRules,
    context_m: float = 10.0,
    findings: Findings,
    grid: Grid | None = None,
) -> gpd.GeoDataFrame:
    """Mark crowns already discolored (or not canopy) in the earlier image as not new.

    Each crown is compared, in the earlier image, with a box of ``context_m`` around it: its
    GRVI z-score against the box's canopy pixels (median, IQR/1.349) at or below ``-z_grvi``
    gives ``status_note = discolored_before``; a crown area that was mostly no canopy (soil,
    gap, nodata) gives ``absent_before``. A crown whose earlier GRVI was already nearer its
    GRVI now than the box's median (it had about this colour then: larch or broadleaf that
    colour every autumn, an earlier image of the same season) gives ``coloured_before``.

    ``grid`` is the grid of the image analysed: an earlier image on another grid, CRS or
    resolution is read on the pair's analysis grid
    (:func:`~gis.raster.analysis_grid.previous_on`, finding ``previous_aligned``).
    """
    values = previous_values(
        points, previous, rules=rules, context_m=context_m, grid=grid, findings=findings
    )
    notes = [_previous_note(v, now, rules) for v, now in zip(values, points["grvi"], strict=True)]
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
            zh=f"{marked} 个树冠在前期影像（{previous.path}）中已变色或不存在；"
            "已标注（status_note），不计为新增",
        )
    return out


def previous_values(
    points: gpd.GeoDataFrame,
    previous: RasterSource,
    *,
    rules: CrownRules,
    context_m: float = 10.0,
    grid: Grid | None = None,
    findings: Findings | None = None,
) -> list[tuple[float, float, float, float]]:
    """Each crown in the earlier image: (canopy share, mean GRVI, context median, sigma).

    The crown is the disc of its area around the point; the context the canopy pixels of the
    box of ``context_m`` around it outside the disc (median and IQR/1.349, at least
    ``rules.min_sigma``; NaN with fewer than 10 pixels). With ``grid`` (the image analysed)
    the earlier image is read on the pair's analysis grid.
    """
    if grid is not None:
        previous = previous_on(grid, previous, findings=findings)
    pts = points.to_crs(CRS.from_wkt(previous.crs_wkt))
    roles = read_roles_of(previous)
    res = pixel_size_m(previous)
    with previous.open() as reader:
        return [
            _crown_before(reader, previous, roles, (geom, area), rules, (context_m, res))
            for geom, area in zip(pts.geometry, pts["crown_m2"], strict=True)
        ]


def _crown_before(
    reader: Any,
    src: RasterSource,
    roles: tuple[str, ...],
    spot: tuple[Any, float],
    rules: CrownRules,
    scale: tuple[float, float],
) -> tuple[float, float, float, float]:
    (geom, area), (context_m, res) = spot, scale
    col, row = ~src.transform @ (geom.x, geom.y)
    half = math.ceil(context_m / res)
    win = Window(int(col) - half, int(row) - half, 2 * half + 1, 2 * half + 1)
    values, invalid = reader.read_array(win, roles)
    px = pixel_layers(values, roles)
    yy, xx = np.mgrid[0 : 2 * half + 1, 0 : 2 * half + 1]
    crown = np.hypot(yy - half, xx - half) <= max(math.sqrt(area / math.pi) / res, 1.0)
    canopy = ~invalid & ~soil_mask(px, np.inf, rules)
    share = float((canopy & crown).sum() / crown.sum())
    mean = float(np.mean(px["grvi"][canopy & crown])) if (canopy & crown).any() else np.nan
    ctx = px["grvi"][canopy & ~crown]
    if ctx.size < 10:
        return share, mean, np.nan, np.nan
    q25, med, q75 = np.quantile(ctx, [0.25, 0.5, 0.75])
    return share, mean, float(med), float(max((q75 - q25) / 1.349, rules.min_sigma))


def _previous_note(
    values: tuple[float, float, float, float], now: float, rules: CrownRules
) -> str | None:
    share, before, med, sig = values
    if share < 0.5:
        return "absent_before"
    if not np.isfinite(med):
        return None
    if (before - med) / sig <= -rules.z_grvi:
        return "discolored_before"
    if np.isfinite(now) and before - now < 0.5 * (med - now):
        return "coloured_before"
    return None


def merge_known(
    points: gpd.GeoDataFrame,
    known: gpd.GeoDataFrame | None,
    *,
    match_m: float = 5.0,
    findings: Findings,
) -> gpd.GeoDataFrame:
    """Take over id and status of known points within ``match_m`` metres; keep the others.

    A detection near a known point (an earlier detection or a field result) becomes that
    point (its ``point_id``, ``status``; ``is_new`` False). Known points not detected again
    are carried over with ``detected`` False, so the list is complete and never doubled.
    """
    if known is None or known.empty:
        return points
    kn = known.to_crs(points.crs).reset_index(drop=True)
    if "point_id" not in kn.columns:
        raise SchemaError(
            "the known points have no point_id (点位编号) field; add it",
            zh="已知点位没有 point_id（点位编号）字段；请补上",
        )
    kn["status"] = kn["status"].fillna("unverified") if "status" in kn else "unverified"
    out = points.copy()
    taken: set[int] = set()
    if len(out):
        near = gpd.sjoin_nearest(
            out[["geometry"]], kn[["geometry"]], max_distance=match_m,
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
        zh=f"{len(taken)} 个检测结果与已知点位匹配（沿用其编号和状态）；"
        f"{len(carried)} 个未再次检出的已知点位已保留",
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

VERIFIED_LEVELS = ("stand_id", "township", "district", "forest_chief")
"""Levels of the 核查率 table; district/township/forest chief come from the stands (or the
known points) when they carry them."""


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
