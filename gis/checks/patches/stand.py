"""Backgrounds from the subcompartments (小班): the scene's NDVI change per stand class.

Like compared with like.

A whole-scene median change (:func:`gis.zonal.inside.scene_change`) mixes every cover. In
autumn broadleaf stands colour and drop their leaves and in spring they are still bare, while
evergreen conifers keep their needles: a broadleaf patch and its ring then fall well beyond the
scene's median although nothing happened to them. What an interpreter compares them with is the
other stands of the same kind: here the subcompartments (小班) of the same 优势树种
(``dominant_species``) elsewhere in the scene.

:func:`class_changes` reads the same decimated samples of both dates as the scene statistics
(at most :data:`gis.zonal.inside.SCENE_SAMPLE_PX` pixels a side), takes each stand's median
per-pixel NDVI change, and per class the median over its stands: one vote per stand, so one
disturbed stand (the patch's own, a pest outbreak) does not move its class. A class needs
:data:`CLASS_MIN_STANDS` stands with :data:`STAND_MIN_PX` sampled pixels each, else its change is
unknown (NaN) and no rule can use it. On uncalibrated imagery the change is that of the
scene-normalised NDVI less the scene's median (the units of the relative ``ring_dndvi``).

Examples
--------
>>> CLASS_MIN_STANDS, STAND_MIN_PX
(3, 9)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.features import rasterize

from gis.checks.patches.evidence import stand_class
from gis.indices import ndvi
from gis.raster import RasterSource
from gis.raster.analysis_grid import common_grid
from gis.zonal.inside import _normalised, _scene_shape, decimated, sampled_source, scene_normaliser

CLASS_MIN_STANDS = 3
"""Stands a class needs for its change to be known: the median of three is not moved by one
disturbed stand (the patch's own among them)."""

STAND_MIN_PX = 9
"""Sampled pixels a stand needs to count (a 3 × 3 block of the decimated scene)."""

CLASS_COLUMNS = ("class_dndvi", "class_stands")
"""Per class: the median over its stands of each stand's median NDVI change, and their number."""

CLASS_DEFINITIONS: dict[str, str] = {
    "stand_class": "leaf habit of the 优势树种 (dominant_species) of the subcompartment the patch "
    "overlaps most (evergreen_conifer, deciduous_conifer, deciduous_broadleaf, mixed; a species "
    "the catalog does not list is its own class)",
    "class_dndvi": "median over the scene's subcompartments of that class (at least "
    f"{CLASS_MIN_STANDS}, each with {STAND_MIN_PX} sampled pixels) of each one's median NDVI "
    "change in the decimated scene sample (uncalibrated imagery: of the scene-normalised NDVI, "
    "less the scene's median change)",
    "ring_vs_class": "ring_dndvi − class_dndvi: the surroundings against the other stands of "
    "their class",
}
"""Definitions of the class evidence (written to the run table)."""


def class_changes(
    before: RasterSource,
    after: RasterSource,
    stands: Any,
    labels: Sequence[Any],
    *,
    radiometry: str = "reflectance",
) -> pd.DataFrame:
    """Return :data:`CLASS_COLUMNS` per class label (index: the labels seen in the scene).

    ``stands``: the stands' geometries in the rasters' CRS (a GeoSeries or a sequence);
    ``labels``: each stand's class (``None``/NaN: no class). Empty when the two dates are not
    on one grid or lack NIR and red.

    Examples
    --------
    >>> import tempfile, numpy as np, rasterio, shapely
    >>> from affine import Affine
    >>> from gis.raster import raster_source
    >>> t = Affine(10, 0, 0, 0, -10, 300)
    >>> d = tempfile.mkdtemp()
    >>> def write(name, nir):
    ...     red = np.full((30, 30), 0.03, "f4")
    ...     with rasterio.open(f"{d}/{name}", "w", driver="GTiff", width=30, height=30,
    ...             count=2, dtype="float32", crs="EPSG:32651", transform=t) as dst:
    ...         dst.write(np.stack([red, nir]))
    >>> nir_b = np.full((30, 30), 0.3, "f4")
    >>> nir_a = nir_b.copy(); nir_a[:, 15:] = 0.15   # the east half browned
    >>> write("b.tif", nir_b); write("a.tif", nir_a)
    >>> b, a = (raster_source(f"{d}/{n}", bands="R,NIR") for n in ("b.tif", "a.tif"))
    >>> boxes = [shapely.box(x, y, x + 50, y + 100) for x in (0, 150) for y in (0, 100, 200)]
    >>> out = class_changes(b, a, boxes, ["oak"] * 3 + ["birch"] * 3)
    >>> out["class_dndvi"].round(2).to_dict(), out["class_stands"].to_dict()
    ({'birch': -0.15, 'oak': 0.0}, {'birch': 3.0, 'oak': 3.0})
    """
    empty = pd.DataFrame(columns=list(CLASS_COLUMNS), dtype="f8")
    d, transform = _sample_change(before, after, radiometry)
    if d is None:
        return empty
    names = pd.Series(list(labels), dtype=object)
    named = names.notna() & names.astype(str).str.strip().ne("")
    pairs = [
        (i, g)
        for i, (g, k) in enumerate(zip(stands, named, strict=True))
        if k and g is not None and not g.is_empty
    ]
    if not pairs:
        return empty
    ids = np.array([i for i, _ in pairs])
    geoms = [g for _, g in pairs]
    zone = rasterize(
        zip(geoms, range(1, len(geoms) + 1), strict=True),
        out_shape=d.shape,
        transform=transform,
        fill=0,
        dtype="int32",
    )
    ok = (zone > 0) & np.isfinite(d)
    per_stand = pd.DataFrame({"stand": zone[ok], "d": d[ok]}).groupby("stand")["d"]
    counted = per_stand.median()[per_stand.size() >= STAND_MIN_PX]
    if counted.empty:
        return empty
    label_of = names.to_numpy()[ids[counted.index.to_numpy() - 1]]
    by_class = pd.Series(counted.to_numpy(), index=label_of).groupby(level=0)
    out = pd.DataFrame({"class_dndvi": by_class.median(), "class_stands": by_class.size()})
    out["class_stands"] = out["class_stands"].astype("f8")
    out.loc[out["class_stands"] < CLASS_MIN_STANDS, "class_dndvi"] = np.nan
    return out


def _sample_change(
    before: RasterSource, after: RasterSource, radiometry: str
) -> tuple[NDArray[np.float64] | None, Affine]:
    """Return the per-pixel NDVI change of the decimated scene and the sample's transform."""
    bases = (sampled_source(before), sampled_source(after))
    g0, g1 = bases[0].grid, bases[1].grid
    if (g0.width, g0.height, g0.transform) != (g1.width, g1.height, g1.transform):
        return None, Affine.identity()
    if not all(b.has("NIR", "R") for b in bases):
        return None, Affine.identity()
    shape = _scene_shape(bases[0])
    values = []
    for src in bases:
        with src.open() as reader:
            raw = {r: decimated(src, reader.dataset, r, shape).astype("f8") for r in ("NIR", "R")}
        ok = np.all([np.isfinite(v) for v in raw.values()], axis=0)
        if src.nodata is not None:
            ok &= np.all([v != src.nodata for v in raw.values()], axis=0)
        values.append(({r: v * src.scale + src.offset for r, v in raw.items()}, ok))
    with np.errstate(invalid="ignore", divide="ignore"):
        if radiometry == "dn":  # positions in each date's scene range, as the windows see them
            norm = scene_normaliser(before, after, ("NIR", "R"))
            v = [
                {r: _normalised(x, lim[r], ok) for r, x in bands.items()}
                for (bands, ok), lim in zip(values, (norm.before, norm.after), strict=True)
            ]
            d = ndvi(v[1]["NIR"], v[1]["R"]) - ndvi(v[0]["NIR"], v[0]["R"])
            d = d * norm.index_scale - norm.scene_dndvi
        else:
            (b, okb), (a, oka) = values
            d = np.where(okb & oka, ndvi(a["NIR"], a["R"]) - ndvi(b["NIR"], b["R"]), np.nan)
    t = g0.transform @ Affine.scale(g0.width / shape[1], g0.height / shape[0])
    return np.asarray(d, dtype="f8"), t


def class_dndvi(
    labels: pd.Series,
    stands: gpd.GeoDataFrame | None,
    before: Any,
    after: Any,
    radiometry: str,
) -> pd.Series:
    """Return per patch the scene's NDVI change of its class (:func:`class_changes`).

    ``labels``: each patch's class (:func:`gis.checks.patches.evidence.class_evidence`);
    ``stands``: the subcompartments. NaN where the class is unknown or has too few stands.
    """
    out = pd.Series(np.nan, index=labels.index, dtype="f8")
    if stands is None or "dominant_species" not in stands or labels.isna().all():
        return out
    before, after = common_grid(before, after)
    crs = CRS.from_wkt(before.crs_wkt)
    geoms = stands.geometry if stands.crs is None else stands.geometry.to_crs(crs)
    table = class_changes(
        before,
        after,
        list(geoms),
        stand_class(stands["dominant_species"]).tolist(),
        radiometry=radiometry,
    )
    return labels.map(table["class_dndvi"]).astype("f8").fillna(out)
