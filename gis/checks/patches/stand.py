"""The patch against the rest of its own subcompartment: a background of the same stand.

The ring (``ring_m`` around a patch) is the local background, and the whole scene's median
change the seasonal one. Neither tells a stand-wide pest or disease outbreak from the season
on uncalibrated (8-bit stretched or DN) imagery out of full leaf: the outbreak browns the patch
and its ring together, and the scene's median mixes leaf fall, dormant grass and harvest of
every cover. A subcompartment (小班) is mapped as one stand of one species, origin and age, so
its pixels share one phenology: leaf fall, larch yellowing or spring leaf-out move the whole
小班 alike, while an outbreak around the patch leaves the rest of its 小班 greener.

:func:`stand_evidence` measures, per patch, the NDVI change of the rest of the subcompartment
that holds most of the patch — the 小班 less the patch, its ring and every other patch — with
the same zonal pass as the patch's own (:func:`gis.checks.patches.check.raster_evidence`: the
mean NDVI change on reflectance, the relative one of the scene-normalised bands on
uncalibrated imagery), so ``dndvi − stand_dndvi`` compares like with like.

It is read only for patches interpreted as disaster or other loss (:data:`STAND_CAUSES`): the
only rules reading it (``C05_stand_disturbance``, ``T16_dieback_stand``) ask for those causes,
and a 小班 is ten times a patch's area (the other patches are not read twice).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.checks.patches import evidence as ev

STAND_CAUSES = (4, 6)
"""Interpreter's causes (灾害, 其他减少) whose patches get the stand background."""

STAND_COLUMNS = ("stand_dndvi",)
"""The column :func:`stand_evidence` adds (NaN where not read or nothing of the stand is left)."""


def stand_zones(
    patches: gpd.GeoDataFrame,
    subcompartments: gpd.GeoDataFrame,
    ring_m: float,
    only: Any = None,
) -> gpd.GeoSeries:
    """Return, per patch, its main subcompartment less the patch, its ring and all patches.

    The main subcompartment is the one holding the largest part of the patch
    (:func:`gis.checks.patches.evidence.overlay_pieces`); a patch on no subcompartment, or not
    in the boolean array ``only`` (default: all), gets an empty geometry. Geometries are in
    the patches' CRS.

    Examples
    --------
    >>> from shapely import box
    >>> p = gpd.GeoDataFrame(geometry=[box(100, 100, 200, 200)], crs=32650)
    >>> s = gpd.GeoDataFrame(geometry=[box(0, 0, 500, 500), box(500, 0, 900, 500)], crs=32650)
    >>> round(stand_zones(p, s, 30.0).area.iloc[0])
    225191
    """
    sub = subcompartments if subcompartments.crs == patches.crs else None
    if sub is None:
        sub = subcompartments.to_crs(patches.crs)
    pieces = ev.overlay_pieces(patches, sub)
    main = pieces.sort_values("overlap_m2").drop_duplicates("patch", keep="last")
    stands = np.full(len(patches), shapely.Polygon(), dtype=object)
    stands[main["patch"].to_numpy()] = sub.geometry.to_numpy()[main["feature"].to_numpy()]
    geoms = patches.geometry.to_numpy()
    if only is not None:
        stands[~np.asarray(only, dtype=bool)] = shapely.Polygon()
    others = shapely.STRtree(geoms)
    out = []
    for k, stand in enumerate(stands):
        if stand.is_empty:
            out.append(stand)
            continue
        near = geoms[others.query(stand)]
        rest = shapely.difference(stand, shapely.buffer(geoms[k], ring_m))
        if len(near):
            rest = shapely.difference(rest, shapely.union_all(near))
        out.append(rest)
    return gpd.GeoSeries(out, index=patches.index, crs=patches.crs)


def stand_evidence(
    patches: gpd.GeoDataFrame,
    causes: pd.Series,
    subcompartments: gpd.GeoDataFrame | None,
    zonal: Any,
    *,
    ring_m: float,
) -> pd.DataFrame:
    """Return :data:`STAND_COLUMNS` per patch.

    ``causes``: the interpreter's cause per patch (only :data:`STAND_CAUSES` are read);
    ``zonal(zones, usable)``: the patch check's raster evidence for other zones (the same
    rasters, grid, radiometry and thresholds), whose ``dndvi`` is taken.
    """
    out = pd.DataFrame({"stand_dndvi": np.nan}, index=patches.index)
    wanted = pd.to_numeric(causes, errors="coerce").isin(STAND_CAUSES).to_numpy()
    if subcompartments is None or subcompartments.empty or not wanted.any():
        return out
    zones = stand_zones(patches, subcompartments, ring_m, only=wanted)
    picked = patches.loc[wanted].set_geometry(zones.loc[wanted].to_numpy())
    usable = pd.Series(~picked.geometry.is_empty.to_numpy(), index=picked.index)
    if not usable.any():
        return out
    stats = zonal(picked, usable)
    out.loc[picked.index, "stand_dndvi"] = stats["dndvi"].astype("f8").to_numpy()
    return out
