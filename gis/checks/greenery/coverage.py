"""Park service coverage (公园绿地服务半径覆盖率) and "300 米见绿，500 米见园".

The headline measure follows GB/T 50563-2010 (城市园林绿化评价标准): the residential land
inside the service areas of the park green spaces, divided by all residential land. The
service radius depends on the park's size; the default classes (:data:`DEFAULT_RADIUS_CLASSES`)
are the ones commonly quoted from that standard — parks of 5000 m² and more serve 500 m, parks
of 2000-5000 m² serve 300 m. They were not checked against the standard's printed text in this
repository, so they are options (``radius_classes=``). GB 55014-2021 asks for more than 80 %.
With a population field the share is of population instead, each parcel's population
apportioned by the covered share of its area. Beside it, separately: within 300 m of a green
space of at least 400 m² (300 米见绿) and within 500 m of a park of at least 1 ha (500 米见园).

How it is fast (see ``docs/coverage.md``): no global buffer-union-overlay. An STRtree query
gives, for each source (park), the parcels within its radius; a parcel whose farthest point is
inside the radius of one park (distance from its centroid + its own radius, no geometry built)
is covered whole; only the remaining, partly reached parcels are intersected with the buffers
of the parks that reach them. The buffers are the same polygons the plain geopandas way builds
(``GeoSeries.buffer``: 16 segments per quarter circle), so both give the same share.

With roads, walking distance is the road-network distance from the park's boundary (road nodes
within ``entrance_m`` of the park), one multi-source Dijkstra per radius class with a cutoff
(networkx), then a straight snap from each reached node to the parcels (at most ``snap_m`` and
at most the distance left). Memory grows with the road graph, not with the number of parks
(:mod:`gis.checks.greenery.network`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gis.checks.greenery.districts import CITY, assign_districts, require_geometry
from gis.checks.greenery.network import network_sources, road_network
from gis.crs import assert_same_crs, require_projected
from gis.errors import SchemaError
from gis.findings import Findings
from gis.units import M2_PER_HA, area_m2

Array = NDArray[Any]

COVERAGE_TARGET_PCT = 80.0
"""GB 55014-2021: park service coverage must exceed 80 %."""


class RadiusClass(NamedTuple):
    """Parks of at least ``min_area_m2`` serve residential land within ``radius_m`` metres."""

    min_area_m2: float
    radius_m: float


DEFAULT_RADIUS_CLASSES = (RadiusClass(5000.0, 500.0), RadiusClass(2000.0, 300.0))
"""GB/T 50563-2010 as commonly quoted: ≥ 5000 m² → 500 m; 2000-5000 m² → 300 m."""


class Measure(enum.StrEnum):
    """The three coverage measures."""

    SERVICE = "service"
    GREEN_300 = "green_300"
    PARK_500 = "park_500"


MEASURE_LABELS = {
    Measure.SERVICE: ("公园绿地服务半径覆盖率", "park service coverage"),
    Measure.GREEN_300: ("300米见绿", "within 300 m of green space"),
    Measure.PARK_500: ("500米见园", "within 500 m of a park"),
}


@dataclass(frozen=True)
class CoverageOptions:
    """Radii and size thresholds (metres and m², in the working CRS)."""

    radius_classes: tuple[RadiusClass, ...] = DEFAULT_RADIUS_CLASSES
    radius_green_m: float = 300.0
    min_green_m2: float = 400.0
    radius_park_m: float = 500.0
    min_park_m2: float = 10_000.0
    quad_segs: int = 16
    entrance_m: float = 50.0
    snap_m: float = 100.0


@dataclass
class Reach:
    """What a set of sources reaches: covered fraction (0-1) and uncovered part per parcel."""

    fraction: Array
    uncovered: Array | None = None


@dataclass
class CoverageResult:
    """Coverage per district and city, the underserved parts, and findings."""

    coverage: pd.DataFrame
    underserved: gpd.GeoDataFrame
    findings: Findings = field(default_factory=Findings)


SIZE_TOLERANCE = 1e-6
"""Relative slack on size thresholds, so a park drawn at exactly 1 ha counts as 1 ha."""


def _at_least(area: Array, minimum: float) -> Array:
    return np.asarray(area) >= minimum * (1 - SIZE_TOLERANCE)


def service_radius(area: Array, classes: tuple[RadiusClass, ...]) -> Array:
    """Return each park's service radius in metres (0 for parks below every class).

    Areas are ellipsoidal m² (:func:`gis.units.area_m2`), compared with a relative slack of
    :data:`SIZE_TOLERANCE`.

    Examples
    --------
    >>> service_radius(np.array([1000.0, 2000.0, 4999.0, 5000.0]), DEFAULT_RADIUS_CLASSES)
    array([  0., 300., 300., 500.])
    """
    out = np.zeros(len(area), dtype="f8")
    for cls in classes:
        out = np.where(_at_least(area, cls.min_area_m2), np.maximum(out, cls.radius_m), out)
    return out


@dataclass(frozen=True)
class ParcelIndex:
    """What :func:`reach` needs of the parcels whatever the sources: built once per layer.

    ``tree`` indexes the parcels; ``centre`` holds each parcel's bounding-box centre (points)
    and ``far`` its farthest vertex from it (m): every point of the parcel lies within ``far``
    of ``centre``, so a source closer than ``radius - far`` reaches all of it.
    """

    tree: shapely.STRtree
    centre: Array
    far: Array


def parcel_index(parcels: Array) -> ParcelIndex:
    """Return the :class:`ParcelIndex` of ``parcels`` (pass it to every :func:`reach` call)."""
    bounds = shapely.bounds(parcels)
    cx, cy = (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2
    coords, idx = shapely.get_coordinates(parcels, return_index=True)
    d = np.hypot(coords[:, 0] - cx[idx], coords[:, 1] - cy[idx])
    far = np.zeros(len(parcels), dtype="f8")
    np.maximum.at(far, idx, d)
    return ParcelIndex(shapely.STRtree(parcels), shapely.points(cx, cy), far)


def _pairs(index: ParcelIndex, n: int, sources: Array, radii: Array) -> tuple[Array, Array]:
    """Return candidate (parcel, source) pairs: parcel boxes meeting the source box + radius."""
    use = np.flatnonzero(radii > 0)
    if len(use) == 0 or n == 0:
        return np.empty(0, dtype="i8"), np.empty(0, dtype="i8")
    b, r = shapely.bounds(sources[use]), radii[use]
    grown = shapely.box(b[:, 0] - r, b[:, 1] - r, b[:, 2] + r, b[:, 3] + r)
    src, par = index.tree.query(grown)
    return par, use[src]


def _classify(
    index: ParcelIndex, sources: Array, radii: Array, pairs: tuple[Array, Array], quad_segs: int
) -> tuple[Array, Array]:
    """Return, per pair, whether the source reaches the whole parcel, and whether any of it."""
    par, src = pairs
    d = shapely.distance(index.centre[par], sources[src])
    inscribed = radii[src] * np.cos(np.pi / (4 * quad_segs))  # inside the buffer polygon
    whole = d + index.far[par] <= inscribed * (1 - 1e-9)
    some = d - index.far[par] <= radii[src]
    return whole, some


def _union_pieces(pieces: Array, groups: Array) -> tuple[Array, Array]:
    """Union the pieces of each group (groups sorted); return (group ids, unions)."""
    ids, starts, counts = np.unique(groups, return_index=True, return_counts=True)
    out = pieces[starts].copy()
    for k in np.flatnonzero(counts > 1):
        out[k] = shapely.union_all(pieces[starts[k] : starts[k] + counts[k]])
    return ids, out


def reach(
    parcels: Array,
    sources: Array,
    radii: Array,
    *,
    quad_segs: int = 16,
    uncovered: bool = False,
    index: ParcelIndex | None = None,
) -> Reach:
    """Return the share of each parcel inside the union of the sources' buffers.

    Parameters
    ----------
    parcels, sources : numpy.ndarray of shapely geometries
        Residential polygons and the green spaces (or points) that serve them, one projected CRS.
    radii : numpy.ndarray
        Buffer distance of each source in metres (0 = serves nothing).
    quad_segs : int
        Segments per quarter circle of the buffers (16, as ``GeoSeries.buffer``; a 64-gon
        misses 0.16 % of a circle's area).
    uncovered : bool
        Also return the uncovered part of each parcel (``None`` where fully covered).
    index : ParcelIndex, optional
        :func:`parcel_index` of ``parcels``, when several measures reach the same parcels.

    Examples
    --------
    >>> homes = np.array([shapely.box(0, 0, 100, 100), shapely.box(900, 0, 1000, 100)])
    >>> park = np.array([shapely.box(-50, 0, 0, 100)])
    >>> reach(homes, park, np.array([50.0])).fraction.round(3).tolist()
    [0.5, 0.0]
    """
    fraction = np.zeros(len(parcels), dtype="f8")
    index = index if index is not None else parcel_index(parcels)
    par, src = _pairs(index, len(parcels), sources, radii)
    whole, some = _classify(index, sources, radii, (par, src), quad_segs)
    full = np.zeros(len(parcels), dtype=bool)
    full[par[whole]] = True
    fraction[full] = 1.0
    keep = some & ~full[par]
    par, src = par[keep], src[keep]
    order = np.argsort(par, kind="stable")
    par, src = par[order], src[order]
    buffers = np.empty(len(sources), dtype=object)
    used = np.unique(src)
    buffers[used] = shapely.buffer(sources[used], radii[used], quad_segs=quad_segs)
    ids, covered = _union_pieces(shapely.intersection(parcels[par], buffers[src]), par)
    total = shapely.area(parcels[ids])
    fraction[ids] = np.clip(shapely.area(covered) / np.where(total > 0, total, 1), 0, 1)
    if not uncovered:
        return Reach(fraction)
    rest = np.array(parcels, dtype=object)
    rest[full] = None
    rest[ids] = shapely.difference(parcels[ids], covered)
    return Reach(fraction, rest)


def _sources(
    parks: gpd.GeoDataFrame, green: gpd.GeoDataFrame | None, opts: CoverageOptions
) -> dict[Measure, tuple[Array, Array]]:
    """Return the sources and radii of each measure."""
    park_geoms = np.asarray(parks.geometry.values)
    park_m2 = area_m2(parks)
    all_green = park_geoms if green is None else np.concatenate([park_geoms, green.geometry.values])
    green_m2 = park_m2 if green is None else np.concatenate([park_m2, area_m2(green)])
    return {
        Measure.SERVICE: (park_geoms, service_radius(park_m2, opts.radius_classes)),
        Measure.GREEN_300: (
            all_green,
            np.where(_at_least(green_m2, opts.min_green_m2), opts.radius_green_m, 0.0),
        ),
        Measure.PARK_500: (
            park_geoms,
            np.where(_at_least(park_m2, opts.min_park_m2), opts.radius_park_m, 0.0),
        ),
    }


def _population(
    residential: gpd.GeoDataFrame, population_field: str | None, findings: Findings
) -> Array | None:
    if population_field is None:
        return None
    if population_field not in residential.columns:
        raise SchemaError(
            f"the residential layer has no field {population_field!r} "
            f"(fields: {', '.join(map(str, residential.columns))}); "
            "pass --population-field with one of them",
            zh=f"居住区图层没有字段 {population_field!r}（已有字段："
            f"{'、'.join(map(str, residential.columns))}）；请用 --population-field 指定其中之一",
        )
    pop = pd.to_numeric(residential[population_field], errors="coerce")
    if pop.isna().any():
        findings.add(
            "missing_population",
            f"{int(pop.isna().sum())} residential parcels have no number in "
            f"{population_field!r}; counted as 0",
            field=population_field,
            zh=f"{int(pop.isna().sum())} 个居住地块的 {population_field!r} 没有数值；按 0 计",
        )
    return pop.fillna(0).to_numpy(dtype="f8")


def _measure_rows(
    district: pd.Series, parcel_m2: Array, pop: Array | None, fractions: dict[Measure, Array]
) -> pd.DataFrame:
    """Sum residential and covered area (and population) per district and measure."""
    rows = []
    for measure, frac in fractions.items():
        part = pd.DataFrame(
            {
                "district": district.to_numpy(),
                "residential_area_ha": parcel_m2 / M2_PER_HA,
                "covered_area_ha": parcel_m2 * frac / M2_PER_HA,
                "population": np.nan if pop is None else pop,
                "covered_population": np.nan if pop is None else pop * frac,
            }
        )
        sums = part.groupby("district", sort=False).sum(min_count=1)
        sums.loc[CITY] = part.drop(columns="district").sum(min_count=1)
        sums.insert(0, "measure", str(measure))
        rows.append(sums.reset_index())
    return pd.concat(rows, ignore_index=True)


def _summarise(
    district: pd.Series, parcel_m2: Array, pop: Array | None, fractions: dict[Measure, Array]
) -> pd.DataFrame:
    """Return the ``coverage`` frame: one row per district (and city) and measure."""
    out = _measure_rows(district, parcel_m2, pop, fractions)
    if pop is None:
        share = out["covered_area_ha"] / out["residential_area_ha"]
    else:
        share = out["covered_population"] / out["population"]
    out["basis"] = "area" if pop is None else "population"
    out["coverage_pct"] = 100.0 * share.where(np.isfinite(share))
    service = out["measure"] == str(Measure.SERVICE)
    out["target_pct"] = np.where(service, COVERAGE_TARGET_PCT, np.nan)
    met = (out["coverage_pct"] > COVERAGE_TARGET_PCT).astype("boolean")
    out["met"] = met.where(service & out["coverage_pct"].notna())
    return out


def _underserved(
    residential: gpd.GeoDataFrame,
    service: Reach,
    district: pd.Series,
    pop: Array | None,
) -> gpd.GeoDataFrame:
    """Return the uncovered parts of residential parcels, ranked (most unserved first)."""
    assert service.uncovered is not None
    rest = gpd.GeoSeries(service.uncovered, index=residential.index, crs=residential.crs)
    keep = ~(rest.isna() | rest.is_empty)
    ids = [c for c in ("parcel_id", "name") if c in residential.columns]
    out = gpd.GeoDataFrame(residential.loc[keep, ids], geometry=rest[keep], crs=residential.crs)
    out["district"] = district[keep].to_numpy()
    out["unserved_area_ha"] = area_m2(out) / M2_PER_HA
    out["covered_pct"] = 100.0 * service.fraction[keep.to_numpy()]
    if pop is not None:
        out["unserved_population"] = pop[keep.to_numpy()] * (1 - service.fraction[keep.to_numpy()])
    by = ["unserved_population", "unserved_area_ha"] if pop is not None else ["unserved_area_ha"]
    out = out.sort_values(by, ascending=False, kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)


def _check_inputs(
    parks: gpd.GeoDataFrame,
    residential: gpd.GeoDataFrame,
    green_spaces: gpd.GeoDataFrame | None,
    roads: gpd.GeoDataFrame | None,
) -> tuple[gpd.GeoDataFrame, ...]:
    parks = require_geometry(parks, "polygon", what="parks (--parks)")
    residential = require_geometry(residential, "polygon", what="residential (--residential)")
    frames = [parks, residential]
    if green_spaces is not None:
        frames.append(require_geometry(green_spaces, "polygon", what="--green-spaces"))
    if roads is not None:
        frames.append(require_geometry(roads, "line", what="roads (--roads)"))
    assert_same_crs(*frames)
    require_projected(parks.crs, "parks")
    return tuple(frames)


def park_coverage(
    parks: gpd.GeoDataFrame,
    residential: gpd.GeoDataFrame,
    *,
    districts: gpd.GeoDataFrame | None = None,
    green_spaces: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    population_field: str | None = None,
    options: CoverageOptions = CoverageOptions(),
) -> CoverageResult:
    """Compute park service coverage, 300 米见绿 and 500 米见园, per district and city.

    Parameters
    ----------
    parks : GeoDataFrame
        Park green-space polygons in the working CRS (metres).
    residential : GeoDataFrame
        Residential land polygons (居住用地), same CRS.
    districts : GeoDataFrame, optional
        District polygons with a ``district`` field; without it only the city row is given.
    green_spaces : GeoDataFrame, optional
        Other green-space polygons counted for 300 米见绿 (the parks always count).
    roads : GeoDataFrame, optional
        Road lines: walking distance along them instead of straight-line buffers.
    population_field : str, optional
        Field of ``residential`` holding population; the shares become population shares,
        each parcel's population apportioned by its covered area share.
    options : CoverageOptions
        Radius classes, radii (m), size thresholds (m²), buffer segments, snap distances (m).

    Returns
    -------
    CoverageResult
        ``coverage`` (district, measure, residential_area_ha, covered_area_ha, population,
        covered_population, basis, coverage_pct, target_pct, met), ``underserved`` (the
        uncovered parts of the parcels for the service measure, ranked by unserved population,
        else area) and findings.

    Raises
    ------
    gis.errors.SchemaError
        Lines or points where polygons are expected; a missing population field.
    gis.errors.CRSMismatchError
        When the inputs are in different CRSs.
    """
    findings = Findings()
    frames = _check_inputs(parks, residential, green_spaces, roads)
    parks, residential = frames[0], frames[1]
    green = frames[2] if green_spaces is not None else None
    pop = _population(residential, population_field, findings)
    parcels = np.asarray(residential.geometry.values)
    fractions, service = {}, None
    network = None if roads is None else road_network(roads.geometry.values)
    index = parcel_index(parcels)  # shared by the three measures
    for measure, (geoms, radii) in _sources(parks, green, options).items():
        if network is not None:
            geoms, radii = network_sources(
                geoms, radii, network, entrance_m=options.entrance_m, snap_m=options.snap_m
            )
        got = reach(
            parcels, geoms, radii, quad_segs=options.quad_segs,
            uncovered=measure is Measure.SERVICE, index=index,
        )  # fmt: skip
        fractions[measure] = got.fraction
        service = got if measure is Measure.SERVICE else service
    district = (
        pd.Series(CITY, index=residential.index)
        if districts is None
        else assign_districts(residential, districts, what="residential", findings=findings)
    )
    coverage = _summarise(district, area_m2(residential), pop, fractions)
    assert service is not None
    return CoverageResult(coverage, _underserved(residential, service, district, pop), findings)
