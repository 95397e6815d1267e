"""The patch against the rest of its own subcompartment: a background of the same stand.

The ring (``ring_m`` around a patch) is the local background, and the whole scene's median
change the seasonal one. Neither tells a stand-wide pest or disease outbreak from the season
on uncalibrated (8-bit stretched or DN) imagery out of full leaf: the outbreak browns the patch
and its ring together, and the scene's median mixes leaf fall, dormant grass and harvest of
every cover. A subcompartment (小班) is mapped as one stand of one species, origin and age, so
its pixels share one phenology: leaf fall, larch yellowing or spring leaf-out move the whole
小班 alike, while an outbreak around the patch leaves the rest of its 小班 greener.

:func:`stand_evidence` measures, per patch, the NDVI change of the rest of the subcompartment
that holds most of the patch — the 小班 less every patch and its ring — with
the same zonal pass as the patch's own (:func:`gis.checks.patches.check.raster_evidence`: the
mean NDVI change on reflectance, the relative one of the scene-normalised bands on
uncalibrated imagery), so ``dndvi − stand_dndvi`` compares like with like.

It is read only for patches interpreted as disaster or other loss (:data:`STAND_CAUSES`): the
only rules reading it (``C05_stand_disturbance``, ``T16_dieback_stand``) ask for those causes,
and a 小班 is ten times a patch's area; each subcompartment is read once, whatever number of
patches it holds.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gis.checks.patches import evidence as ev

STAND_CAUSES = (4, 6)
"""Interpreter's causes (灾害, 其他减少) whose patches get the stand background."""

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


def stand_evidence(
    patches: gpd.GeoDataFrame,
    causes: pd.Series,
    subcompartments: gpd.GeoDataFrame | None,
    zonal: Any,
    *,
    ring_m: float,
) -> pd.DataFrame:
    """Return :data:`STAND_REST_COLUMNS` per patch.

    ``causes``: the interpreter's cause per patch (only :data:`STAND_CAUSES` are read);
    ``zonal(zones, usable)``: the patch check's raster evidence for other zones (the same
    rasters, grid, radiometry and thresholds), whose ``dndvi`` is taken.
    """
    out = pd.DataFrame({"stand_dndvi": np.nan}, index=patches.index)
    wanted = pd.to_numeric(causes, errors="coerce").isin(STAND_CAUSES).to_numpy()
    if subcompartments is None or subcompartments.empty or not wanted.any():
        return out
    zones, which = stand_zones(patches, subcompartments, ring_m, only=wanted)
    usable = pd.Series(~zones.is_empty.to_numpy(), index=zones.index)
    if not usable.any():
        return out
    stats = zonal(gpd.GeoDataFrame(geometry=zones), usable)
    dndvi = stats["dndvi"].astype("f8").to_numpy()
    has = which >= 0
    out.loc[out.index[has], "stand_dndvi"] = dndvi[which[has]]
    return out
