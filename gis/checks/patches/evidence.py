"""Vector evidence for change patches: areas, land, protection, administration, permits.

Every function takes frames in one projected working CRS (checked) and returns a frame or
series indexed like the patches. Overlaps are found with one spatial join and measured with
vectorised shapely intersections; a patch covered by several overlapping features (two
permits over one clearing) counts the union of their pieces, never the sum. Areas come from
:func:`gis.units.area_m2`, so shares are ratios of ellipsoid-corrected areas.

Permit validity (``permit_valid``): a permit is valid for a patch when its validity period
overlaps the period between the two images, ``valid_from <= image_date_after`` and
``valid_to >= image_date_before`` — the change happened somewhere between the two images, so a
permit in force at any time in between may have authorised it.

Examples
--------
>>> import geopandas as gpd, shapely
>>> p = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 100, 100)], crs=4551)
>>> z = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 50, 100), shapely.box(25, 0, 75, 100)],
...                      crs=4551)
>>> round(float(covered_share(p, z).iloc[0]), 4)
0.75
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gis.crs import assert_same_crs
from gis.findings import Findings
from gis.layers import is_forest_land, leaf_habit
from gis.units import M2_PER_HA, M2_PER_MU, area_m2

CHIEF_LEVEL_RANK = {"村": 5, "乡": 4, "县": 3, "市": 2, "省": 1}
"""Among zones holding a patch equally, the most local forest chief answers for it."""

LOGGING_PERMIT = "林木采伐许可"
LAND_USE_PERMIT = "使用林地审核审批"
NON_GYL = ("商品林", "", "无")


def patch_areas(patches: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return ``area_ha`` and ``area_mu`` of each patch (ellipsoidal, see :mod:`gis.units`)."""
    m2 = _area_m2(patches)
    return pd.DataFrame({"area_ha": m2 / M2_PER_HA, "area_mu": m2 / M2_PER_MU}, index=patches.index)


_SCALES: ContextVar[dict[Any, NDArray[np.float64]] | None] = ContextVar("scales", default=None)
"""Areas and scale factors already computed, per patches frame, inside :func:`same_patches`."""


@contextmanager
def same_patches() -> Iterator[None]:
    """Compute each patches frame's scale factors once in this block.

    All the evidence of a check measures the same patches against several layers.
    """
    token = _SCALES.set({})
    try:
        yield
    finally:
        _SCALES.reset(token)


def _scale(patches: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """Ellipsoidal m² per planar m² at each patch (see :mod:`gis.units`)."""
    memo = _SCALES.get()
    if memo is not None and id(patches) in memo:
        return memo[id(patches)]
    planar = shapely.area(np.asarray(patches.geometry.values))
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.asarray(np.where(planar > 0, _area_m2(patches) / planar, 1.0))
    if memo is not None:
        memo[id(patches)] = scale
    return scale


def _area_m2(patches: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """:func:`gis.units.area_m2` of the patches (once per frame inside :func:`same_patches`)."""
    memo = _SCALES.get()
    key = ("area_m2", id(patches))
    if memo is not None and key in memo:
        return memo[key]
    m2 = area_m2(patches.geometry)
    if memo is not None:
        memo[key] = m2
    return m2


def overlay_pieces(patches: gpd.GeoDataFrame, layer: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the intersecting pairs of patches and layer features with their overlap.

    A patch wholly covered by a feature is its own piece (no intersection is computed, which
    makes large zones such as districts cheap).

    Returns
    -------
    pandas.DataFrame
        Columns ``patch`` (position in ``patches``), ``feature`` (position in ``layer``),
        ``piece`` (the intersection geometry) and ``overlap_m2`` (its area, m² on the
        ellipsoid with the scale factor of the patch); pairs that only touch are dropped.
    """
    assert_same_crs(patches, layer, names=("patches", "layer"))
    pg = np.asarray(patches.geometry.values)
    lg = np.asarray(layer.geometry.values)
    patch, feature = layer.sindex.query(pg)  # then the features prepared once, not each patch
    shapely.prepare(lg)
    hit = shapely.intersects(lg[feature], pg[patch])
    patch, feature = patch[hit], feature[hit]
    covered = shapely.covers(lg[feature], pg[patch])
    pieces = pg[patch].copy()
    rest = ~covered
    pieces[rest] = shapely.intersection(pg[patch[rest]], lg[feature[rest]])
    scale = _scale(patches)
    overlap = shapely.area(pieces) * scale[patch] if len(patch) else np.zeros(0)
    out = pd.DataFrame({"patch": patch, "feature": feature, "piece": pieces, "overlap_m2": overlap})
    return out[out["overlap_m2"] > 0].reset_index(drop=True)


def clashing_features(layer: gpd.GeoDataFrame, features: NDArray[Any]) -> set[int]:
    """Return which of ``features`` (positions) overlap another feature with area."""
    feats = np.unique(features)
    lg = np.asarray(layer.geometry.values)[feats]
    a, b = shapely.STRtree(lg).query(lg)
    keep = a < b
    a, b = a[keep], b[keep]
    shapely.prepare(lg)
    keep = shapely.intersects(lg[a], lg[b])
    a, b = a[keep], b[keep]
    keep = shapely.relate_pattern(lg[a], lg[b], "2********")
    return {int(f) for f in feats[a[keep]]} | {int(f) for f in feats[b[keep]]}


def _union_m2(pieces: pd.DataFrame, clash: set[int], scale: NDArray[Any]) -> pd.Series:
    """Area of the union of the pieces of each patch.

    Pieces are summed unless two features of one patch overlap each other (``clash``: two
    permits over one clearing); only those patches are unioned.
    """
    summed = pieces.groupby("patch")["overlap_m2"].sum()
    if not clash:
        return summed
    has_clash = pieces["feature"].isin(clash).groupby(pieces["patch"]).transform("sum") > 1
    multi = pieces.loc[has_clash]
    if multi.empty:
        return summed
    idx, unions = _grouped_unions(multi["patch"].to_numpy(), multi["piece"].to_numpy())
    summed.loc[pd.Index(idx)] = shapely.area(unions) * scale[idx]
    return summed


def _grouped_unions(
    groups: NDArray[np.intp], geoms: NDArray[Any]
) -> tuple[NDArray[np.intp], NDArray[Any]]:
    """Return the sorted distinct ``groups`` and the union of each one's ``geoms`` (in order).

    One GEOS union per group, as ``union_all`` of the group, from a table with a row per group
    (missing cells are ignored).
    """
    keys, codes, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    table = np.full((len(keys), int(sizes.max(initial=0))), None, dtype=object)
    table[codes[order], np.arange(len(order)) - starts[codes[order]]] = geoms[order]
    return keys, shapely.union_all(table, axis=1)


def covered_share(
    patches: gpd.GeoDataFrame,
    layer: gpd.GeoDataFrame,
    *,
    pieces: pd.DataFrame | None = None,
    where: Callable[[pd.DataFrame], pd.Series] | None = None,
    scale: NDArray[Any] | None = None,
    clash: set[int] | None = None,
) -> pd.Series:
    """Return the share (0-1) of each patch covered by the union of ``layer``'s features.

    Parameters
    ----------
    patches, layer : geopandas.GeoDataFrame
        In the same projected CRS.
    pieces : pandas.DataFrame, optional
        :func:`overlay_pieces` of the two, when already computed.
    where : callable, optional
        Takes ``layer`` and returns a boolean mask of the features that count.
    scale, clash : optional
        Cached :func:`_scale` of the patches and :func:`clashing_features` of the layer.
    """
    pieces = overlay_pieces(patches, layer) if pieces is None else pieces
    scale = _scale(patches) if scale is None else scale
    if where is not None and not pieces.empty:
        keep = np.asarray(where(layer), dtype=bool)
        pieces = pieces[keep[pieces["feature"].to_numpy()]]
    covered = np.zeros(len(patches))
    if not pieces.empty:
        if clash is None:
            clash = clashing_features(layer, pieces["feature"].to_numpy())
        union = _union_m2(pieces, clash, scale)
        covered[union.index.to_numpy()] = union.to_numpy()
    total = shapely.area(np.asarray(patches.geometry.values)) * scale
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.clip(np.where(total > 0, covered / total, np.nan), 0.0, 1.0)
    return pd.Series(share, index=patches.index)


def largest_overlap(
    patches: gpd.GeoDataFrame,
    layer: gpd.GeoDataFrame,
    field: str,
    *,
    rank: pd.Series | None = None,
    pieces: pd.DataFrame | None = None,
) -> pd.Series:
    """Return, per patch, ``field`` of the layer feature overlapping it most.

    Ties (a patch wholly inside nested zones) go to the feature with the highest ``rank``.
    Patches overlapping nothing get ``None``. ``pieces`` as in :func:`covered_share`.
    """
    out = pd.Series(None, index=patches.index, dtype=object)
    if field not in layer:
        return out
    pieces = overlay_pieces(patches, layer) if pieces is None else pieces
    if pieces.empty:
        return out
    feature, patch = pieces["feature"].to_numpy(), pieces["patch"].to_numpy()
    ranks = np.zeros(len(feature)) if rank is None else rank.to_numpy(dtype="f8")[feature]
    rounded = pieces["overlap_m2"].round(1).to_numpy()
    order = np.lexsort((-ranks, -rounded, patch))  # stable: the first piece wins a full tie
    first = np.ones(len(order), dtype=bool)
    first[1:] = patch[order][1:] != patch[order][:-1]
    best = order[first]
    out.iloc[patch[best]] = layer[field].to_numpy()[feature[best]]
    return out


def land_evidence(
    patches: gpd.GeoDataFrame,
    subcompartments: gpd.GeoDataFrame | None,
    *,
    pieces: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return ``forest_share``, ``gyl_share`` and the dominant ``land_class`` per patch.

    ``forest_share`` counts subcompartments whose 地类 is forest land
    (:func:`gis.layers.is_forest_land`); ``gyl_share`` those with a 公益林 level (national or
    local; 商品林 does not count). Without subcompartments every column is missing.
    ``pieces``: :func:`overlay_pieces` of the two, when already computed.
    """
    cols = ("forest_share", "gyl_share", "land_class")
    if subcompartments is None:
        return pd.DataFrame({c: pd.Series(np.nan, index=patches.index) for c in cols})
    sub = subcompartments
    pieces = overlay_pieces(patches, sub) if pieces is None else pieces
    out = pd.DataFrame(index=patches.index)
    scale, clash = _scale(patches), clashing_features(sub, pieces["feature"].to_numpy())
    if "land_class" in sub:
        forest = sub["land_class"].map(lambda v: bool(is_forest_land(v)) if pd.notna(v) else False)
        out["forest_share"] = covered_share(
            patches, sub, pieces=pieces, where=lambda _: forest, scale=scale, clash=clash
        )
        out["land_class"] = largest_overlap(patches, sub, "land_class", pieces=pieces)
    else:
        out["forest_share"], out["land_class"] = np.nan, None
    if "gyl_level" in sub:
        level = sub["gyl_level"].fillna("").astype(str).str.strip()
        gyl = ~level.isin(NON_GYL)
        out["gyl_share"] = covered_share(
            patches, sub, pieces=pieces, where=lambda _: gyl, scale=scale, clash=clash
        )
    else:
        out["gyl_share"] = np.nan
    return out[list(cols)]


def stand_class(species: pd.Series) -> pd.Series:
    """Return the class a stand is compared with: the leaf habit of its 优势树种, else the name.

    Stands of one leaf habit (:func:`gis.layers.leaf_habit`) leaf out, colour and drop their
    leaves together; a species the catalog does not list is its own class. Missing → None.

    Examples
    --------
    >>> stand_class(pd.Series(["柞树", "白桦", "银杏 ", None])).tolist()
    ['deciduous_broadleaf', 'deciduous_broadleaf', '银杏', None]
    """

    def one(value: Any) -> str | None:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None
        text = str(value).strip()
        return (leaf_habit(text) or text) if text else None

    return pd.Series([one(v) for v in species], index=species.index, dtype=object)


def class_evidence(
    patches: gpd.GeoDataFrame,
    subcompartments: gpd.GeoDataFrame | None,
    *,
    pieces: pd.DataFrame | None = None,
) -> pd.Series:
    """Return per patch the class (:func:`stand_class`) of the subcompartment it overlaps most.

    None without subcompartments or without their ``dominant_species``.
    """
    if subcompartments is None or "dominant_species" not in subcompartments:
        return pd.Series(None, index=patches.index, dtype=object, name="stand_class")
    sub = subcompartments.assign(stand_class=stand_class(subcompartments["dominant_species"]))
    out = largest_overlap(patches, sub, "stand_class", pieces=pieces)
    return out.rename("stand_class")


def admin_evidence(
    patches: gpd.GeoDataFrame,
    *,
    districts: gpd.GeoDataFrame | None = None,
    forest_chiefs: gpd.GeoDataFrame | None = None,
    subcompartments: gpd.GeoDataFrame | None = None,
    sub_pieces: pd.DataFrame | None = None,
    findings: Findings | None = None,
) -> pd.DataFrame:
    """Return ``district``, ``township`` and ``forest_chief`` per patch (largest overlap).

    The township comes from township-level features of ``districts`` (``level ==
    "township"``), else from the subcompartments' 乡 field, else from the patch's own
    ``township`` attribute (with a finding); the forest chief from the zone overlapping most,
    the most local chief on a tie. ``sub_pieces``: :func:`overlay_pieces` of the patches and
    subcompartments, when already computed.
    """
    log = findings if findings is not None else Findings()
    out = pd.DataFrame(index=patches.index)
    out["district"] = None
    out["township"] = None
    out["forest_chief"] = None
    if districts is not None and "district" in districts:
        level = districts.get("level", pd.Series("district", index=districts.index))
        town = level.astype(str).eq("township")
        out["district"] = largest_overlap(patches, districts[~town], "district")
        if town.any():
            out["township"] = largest_overlap(patches, districts[town], "district")
    if out["township"].isna().all() and subcompartments is not None:
        if "township" in subcompartments:
            pieces = sub_pieces
            out["township"] = largest_overlap(patches, subcompartments, "township", pieces=pieces)
    if out["township"].isna().all() and "township" in patches:
        out["township"] = patches["township"].astype(object)
        log.add(
            "township_from_patch",
            "no township layer: the township is the patch's own 乡 attribute, not checked "
            "against boundaries; pass township features (level=township) in --districts",
            severity="info",
            field="township",
            zh="无乡镇图层：乡镇取图斑自带的乡属性，未与界线核对；请在 --districts 中提供乡镇"
            "界线要素（level=township）",
        )
    if forest_chiefs is not None and "forest_chief" in forest_chiefs:
        rank = forest_chiefs.get("level", pd.Series(None, index=forest_chiefs.index))
        rank = rank.map(CHIEF_LEVEL_RANK).fillna(0)
        out["forest_chief"] = largest_overlap(patches, forest_chiefs, "forest_chief", rank=rank)
    return out


PERMIT_COLUMNS = (
    "permit_ids",
    "permit_count",
    "permit_share",
    "valid_permit_share",
    "valid_logging_permit_share",
    "valid_landuse_permit_share",
    "permit_valid",
)


def image_period(
    patches: pd.DataFrame, image_dates: tuple[Any, Any] | None = None
) -> tuple[pd.Series, pd.Series]:
    """Return the (before, after) image dates of each patch as timestamps.

    The patch's own ``image_date_before`` / ``image_date_after`` win; ``image_dates`` fills
    what they leave missing. Missing dates are ``NaT``.
    """
    fill = (None, None) if image_dates is None else image_dates
    dates = []
    for col, default in zip(("image_date_before", "image_date_after"), fill, strict=True):
        own = patches[col] if col in patches else pd.Series(None, index=patches.index)
        value = pd.to_datetime(own, errors="coerce")
        if default is not None:
            value = value.fillna(pd.Timestamp(default))
        dates.append(value)
    return dates[0], dates[1]


def image_days(patches: pd.DataFrame, image_dates: tuple[Any, Any] | None = None) -> pd.DataFrame:
    """Return ``doy_before`` and ``doy_after``: the day of year of each patch's image dates.

    The rules compare them with the full-leaf window (``full_leaf_first_doy`` …
    ``full_leaf_last_doy``): two dates inside it see the same phenology, so the whole scene's
    change is a reference for every cover class. Missing dates are NaN (no condition holds).

    Examples
    --------
    >>> image_days(pd.DataFrame({"image_date_before": ["2025-06-15"],
    ...     "image_date_after": ["2026-10-12"]})).values.tolist()
    [[166.0, 285.0]]
    """
    before, after = image_period(patches, image_dates)
    return pd.DataFrame(
        {
            "doy_before": before.dt.day_of_year.astype("f8"),
            "doy_after": after.dt.day_of_year.astype("f8"),
        },
        index=patches.index,
    )


EVERGREEN = ("evergreen_conifer",)
"""Stand classes whose canopy stands the year round (a clearing shows in any season)."""


def canopy_seen(
    stand_class: pd.Series, days: pd.DataFrame, first_doy: float, last_doy: float
) -> pd.Series:
    """Return per patch 1 where a clearing would show against the standing canopy, else 0.

    Evergreen stands (:data:`EVERGREEN`) show their canopy on any date; any other stand (or
    one of unknown class) only when both image dates lie in the leaf-on window ``first_doy``
    … ``last_doy``: out of it a leafless deciduous canopy (stems, branches, litter) looks like
    a clearing. NaN where a date is missing and the stand is not evergreen.

    Examples
    --------
    >>> days = pd.DataFrame({"doy_before": [166.0, 166.0, 166.0, None],
    ...                      "doy_after": [285.0, 108.0, 108.0, 108.0]})
    >>> cls = pd.Series(["deciduous_broadleaf", "deciduous_broadleaf", "evergreen_conifer", None])
    >>> canopy_seen(cls, days, 135, 295).tolist()
    [1.0, 0.0, 1.0, nan]
    """
    b, a = days["doy_before"].astype("f8"), days["doy_after"].astype("f8")
    inside = b.between(first_doy, last_doy) & a.between(first_doy, last_doy)
    out = inside.astype("f8").where(b.notna() & a.notna())
    return out.mask(stand_class.reindex(days.index).isin(EVERGREEN), 1.0).rename("canopy_seen")


def _permit_validity(
    pieces: pd.DataFrame, permits: pd.DataFrame, before: pd.Series, after: pd.Series
) -> pd.Series:
    """True/False per piece when the permit's dates and the image dates are known, else NA."""
    f = pieces["feature"].to_numpy()
    p = pieces["patch"].to_numpy()
    start = pd.to_datetime(permits["valid_from"], errors="coerce").to_numpy()[f]
    end = pd.to_datetime(permits["valid_to"], errors="coerce").to_numpy()[f]
    b, a = before.to_numpy()[p], after.to_numpy()[p]
    known = ~(pd.isna(start) | pd.isna(end) | pd.isna(b) | pd.isna(a))
    valid = pd.Series(pd.NA, index=pieces.index, dtype="boolean")
    valid[known] = (start[known] <= a[known]) & (end[known] >= b[known])
    return valid


def _permit_kind_mask(permits: pd.DataFrame, kind: str) -> pd.Series:
    if "permit_kind" not in permits:
        return pd.Series(True, index=permits.index)
    return permits["permit_kind"].astype(str).eq(kind) | permits["permit_kind"].isna()


def permit_evidence(
    patches: gpd.GeoDataFrame,
    permits: gpd.GeoDataFrame | None,
    *,
    image_dates: tuple[Any, Any] | None = None,
    findings: Findings | None = None,
) -> pd.DataFrame:
    """Return the permit evidence of each patch (see :data:`PERMIT_COLUMNS`).

    ``permit_ids`` joins the document numbers of every overlapping permit with ``"; "``;
    ``permit_share`` is the share of the patch covered by their union; the ``valid_*`` shares
    count only permits valid for the image period (of the given kind); ``permit_valid`` is
    true when some overlapping permit is valid, false when all are known to be invalid and
    missing when no permit overlaps or dates are missing (a permits layer without
    ``valid_from``/``valid_to`` gives a finding).
    """
    log = findings if findings is not None else Findings()
    out = pd.DataFrame(index=patches.index)
    out["permit_ids"], out["permit_count"] = None, 0
    for col in PERMIT_COLUMNS[2:6]:
        out[col] = 0.0 if permits is not None else np.nan
    out["permit_valid"] = pd.Series(pd.NA, index=patches.index, dtype="boolean")
    if permits is None:
        return out[list(PERMIT_COLUMNS)]
    permits = _permits_with_dates(permits, log)
    pieces = overlay_pieces(patches, permits)
    if pieces.empty:
        return out[list(PERMIT_COLUMNS)]
    before, after = image_period(patches, image_dates)
    if before.isna().any() or after.isna().any():
        log.add(
            "image_dates_missing",
            f"{int((before.isna() | after.isna()).sum())} patches have no image dates "
            "(image_date_before/after); their permits cannot be checked for validity — "
            "fill QQYXSJ/HQYXSJ or pass image_dates",
            field="image_date_before",
            zh=f"{int((before.isna() | after.isna()).sum())} 个图斑没有影像时间"
            "（image_date_before/after）；无法判断其审批是否在有效期内——"
            "请填写 QQYXSJ/HQYXSJ（前期/后期影像时间）或传入 image_dates",
        )
    pieces["valid"] = _permit_validity(pieces, permits, before, after)
    _fill_permit_ids(out, pieces, permits)
    scale, clash = _scale(patches), clashing_features(permits, pieces["feature"].to_numpy())
    out["permit_share"] = covered_share(patches, permits, pieces=pieces, scale=scale, clash=clash)
    valid_pieces = pieces[pieces["valid"].fillna(False).to_numpy(dtype=bool)]
    for col, kind in (
        ("valid_permit_share", None),
        ("valid_logging_permit_share", LOGGING_PERMIT),
        ("valid_landuse_permit_share", LAND_USE_PERMIT),
    ):
        mask = None if kind is None else (lambda layer, k=kind: _permit_kind_mask(layer, k))
        out[col] = covered_share(
            patches, permits, pieces=valid_pieces, where=mask, scale=scale, clash=clash
        )
    patch, verdict = _any_valid(pieces["patch"].to_numpy(), pieces["valid"])
    out.loc[out.index[patch], "permit_valid"] = verdict
    unknown = out["permit_valid"].isna() & (out["permit_count"] > 0)
    for col in PERMIT_COLUMNS[3:6]:
        out.loc[unknown, col] = np.nan
    return out[list(PERMIT_COLUMNS)]


def _any_valid(patch: NDArray[np.intp], valid: pd.Series) -> tuple[NDArray[np.intp], Any]:
    """Per patch (sorted): True if any permit is valid, False if all are known invalid, else NA."""
    keys, codes = np.unique(patch, return_inverse=True)
    hit = np.zeros(len(keys), dtype=bool)
    unknown = np.zeros(len(keys), dtype=bool)
    hit[codes[valid.fillna(False).to_numpy(dtype=bool)]] = True
    unknown[codes[valid.isna().to_numpy()]] = True
    verdict = pd.Series(hit, dtype="boolean")
    verdict[~hit & unknown] = pd.NA
    return keys, verdict.array


def _permits_with_dates(permits: gpd.GeoDataFrame, log: Findings) -> gpd.GeoDataFrame:
    missing = [c for c in ("valid_from", "valid_to") if c not in permits]
    if missing:
        log.add(
            "permit_dates_missing",
            f"the permits layer has no {' / '.join(missing)} (有效期起/止): permit_valid is left "
            "empty and covered patches go to a field check; add the validity dates",
            source=str(permits.attrs.get("source", "permits")),
            field=missing[0],
            zh=f"审批图层缺少 {' / '.join(missing)}（有效期起/止）：permit_valid 留空，"
            "被审批覆盖的图斑转为现地核实；请补充有效期",
        )
        permits = permits.assign(**dict.fromkeys(missing, pd.NaT))
    return permits


def _fill_permit_ids(out: pd.DataFrame, pieces: pd.DataFrame, permits: pd.DataFrame) -> None:
    if "permit_id" in permits:
        ids = permits["permit_id"].astype(str).to_numpy()
    else:
        ids = np.array([f"#{i + 1}" for i in range(len(permits))])
    pairs = pd.DataFrame({"patch": pieces["patch"].to_numpy()})
    pairs["pid"] = ids[pieces["feature"].to_numpy()]
    pairs = pairs.drop_duplicates().sort_values(["patch", "pid"], kind="stable")
    patch, pid = pairs["patch"].to_numpy(), pairs["pid"].tolist()
    keys, starts, count = np.unique(patch, return_index=True, return_counts=True)
    joined = [
        "; ".join(pid[a : a + k]) for a, k in zip(starts.tolist(), count.tolist(), strict=True)
    ]
    out.loc[out.index[keys], "permit_ids"] = np.array(joined, dtype=object)
    out.loc[out.index[keys], "permit_count"] = count
