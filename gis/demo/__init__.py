"""gis.demo — a deterministic synthetic scene around 净月潭 (Changchun) that every check runs on.

:func:`build_demo` writes, into one folder:

====================================  ========================================================
``subcompartments.shp``               森林资源小班, GBK attributes, **no .cpg** (legacy file)
``permits.gpkg``                      审核审批 / 采伐许可 in **EPSG:4530** (zone-prefixed 42…)
``<kind>.gpkg`` (layer ``<kind>``)    districts, forest_chief_zones, protected_areas,
                                      fire_zones, parks, greenways, villages, residential,
                                      change_patches — EPSG:4551, one GeoPackage per layer
``s2_before.tif`` ``s2_after.tif``    Sentinel-2-like L2A, 10 m, B2 B3 B4 B5 B8 B11 B12, uint16,
                                      ``DN = reflectance × 10000 + 1000`` (nodata 0)
``s2_after_scl.tif``                  SCL codes of the after date (uint8, same grid)
``uav_current.tif``                   0.5 m B, G, R, NIR, uint16 reflectance × 10000
``uav_previous.tif``                  the same ground a year earlier
``hotspots_firms.csv``                 卫星热点 as a NASA FIRMS VIIRS download (lon/lat, UTC)
``heat_sources.gpkg``                 固定热源 (a brick kiln), EPSG:4551
``truth/*.csv``, ``truth/truth.gpkg``  patches, crowns, greening and hotspot truth
``dirty/*.gpkg``                      small deliveries with planted defects
``roads.gpkg`` ``ortho_rgba.tif``     what the README's tour needs besides (:mod:`gis.demo.tour`):
``earlier.gpkg`` ``220100_full.json`` roads, an RGBA orthophoto, earlier points, DataV districts
====================================  ========================================================

After the checks, ``linyuan demo`` adds the inspectors' phone exports and the lab's CSV
(:func:`gis.demo.tour.write_field_returns`).

Every file name, the truth tables and the scene's conventions are in the returned
:class:`DemoScene`. Field names are those of real deliveries; :func:`gis.io.read_layer` renames
the aliases to the catalog's canonical names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gis.crs import WORKING_CRS
from gis.demo import crowns, dirty, greening, hotspots, imagery, patches, scene
from gis.demo.tour import tour_paths, write_tour_inputs
from gis.demo.truth import greenery_truth
from gis.io import check_overwrite, write_geotiff, write_layer, write_layers, write_table

DEFAULT_SEED = 20261130
PERMITS_CRS = "EPSG:4530"
GPKG_KINDS = (
    "districts",
    "forest_chief_zones",
    "protected_areas",
    "fire_zones",
    "parks",
    "greenways",
    "villages",
    "residential",
    "change_patches",
    "heat_sources",
)
RASTER_FILES = {
    "s2_before": "s2_before.tif",
    "s2_after": "s2_after.tif",
    "s2_after_scl": "s2_after_scl.tif",
    "uav_current": "uav_current.tif",
    "uav_previous": "uav_previous.tif",
}
UAV_DATE, UAV_PREVIOUS_DATE = "20260925", "20250922"

__all__ = ["DEFAULT_SEED", "DemoScene", "build_demo", "demo_paths"]


@dataclass(frozen=True)
class DemoScene:
    """Where every file of a built demo scene is, its truth tables and its conventions.

    Attributes
    ----------
    out_dir : pathlib.Path
        The folder holding the scene.
    seed : int
        The seed it was built from.
    layers : dict of str to Path
        Layer kind (catalog name) → file. GeoPackages hold one layer named like the kind.
    rasters : dict of str to Path
        Raster role (``s2_before``, ``s2_after``, ``s2_after_scl``, ``uav_current``,
        ``uav_previous``) → file.
    truth : dict of str to DataFrame
        ``patches`` (per patch_id), ``crowns`` (per planted crown), ``greenery`` (indicator
        values), ``dirty`` (the defect planted in each row of the dirty delivery),
        ``hotspots`` (kind and event of each planted hotspot).
    truth_files : dict of str to Path
        The same tables on disk (CSV), plus ``gpkg`` (patches and crowns with geometry).
    dirty : dict of str to Path
        Small deliveries with defects: ``change_patches``, ``permits_no_dates``.
    meta : dict
        Image dates, DN convention, band names and roles, the after date's misregistration,
        the crown window, counts.
    downloads : dict of str to Path
        Files as downloaded from outside, not layers of the bureau: ``hotspots`` (a NASA
        FIRMS VIIRS CSV, lon/lat without a declared CRS).
    tour : dict of str to Path
        What the README's tour runs on besides the scene (:data:`gis.demo.tour.TOUR_FILES`):
        ``roads``, ``ortho_rgba``, ``earlier_points``, ``districts_gcj02``.
    """

    out_dir: Path
    seed: int
    layers: dict[str, Path]
    rasters: dict[str, Path]
    truth: dict[str, pd.DataFrame]
    truth_files: dict[str, Path]
    dirty: dict[str, Path]
    meta: dict[str, Any] = field(default_factory=dict)
    downloads: dict[str, Path] = field(default_factory=dict)
    tour: dict[str, Path] = field(default_factory=dict)


def demo_paths(out_dir: str | Path) -> dict[str, dict[str, Path]]:
    """Return the paths :func:`build_demo` writes, grouped as in :class:`DemoScene`.

    Examples
    --------
    >>> demo_paths("demo")["layers"]["subcompartments"].name
    'subcompartments.shp'
    """
    out = Path(out_dir)
    layers = {kind: out / f"{kind}.gpkg" for kind in GPKG_KINDS}
    layers["subcompartments"] = out / "subcompartments.shp"
    layers["permits"] = out / "permits.gpkg"
    truth = {
        name: out / "truth" / f"{name}_truth.csv"
        for name in ("patches", "crowns", "greenery", "dirty", "hotspots")
    }
    truth["gpkg"] = out / "truth" / "truth.gpkg"
    return {
        "layers": layers,
        "rasters": {role: out / name for role, name in RASTER_FILES.items()},
        "truth_files": truth,
        "dirty": {
            "change_patches": out / "dirty" / "change_patches_dirty.gpkg",
            "permits_no_dates": out / "dirty" / "permits_no_dates.gpkg",
        },
        "downloads": {"hotspots": out / "hotspots_firms.csv"},
        "tour": tour_paths(out),
    }


def _vectors(seed: int) -> tuple[dict[str, gpd.GeoDataFrame], patches.PatchPlan]:
    districts = scene.make_districts()
    zones = scene.make_forest_chief_zones(seed, districts)
    stands = scene.make_subcompartments(seed, zones)
    parks, residential = greening.make_parks_and_residential(seed)
    plan = patches.plan_patches(seed, stands, scene.protected_polygon())
    frames = {
        "districts": districts,
        "forest_chief_zones": zones,
        "subcompartments": stands,
        "protected_areas": scene.make_protected_areas(),
        "fire_zones": scene.make_fire_zones(),
        "parks": scene.with_district(parks, districts),
        "greenways": greening.make_greenways(seed),
        "villages": scene.with_district(greening.make_villages(seed, stands), districts),
        "residential": scene.with_district(residential, districts),
        "change_patches": plan.patches,
        "permits": plan.permits,
    }
    return frames, plan


def _patch_truth(plan: patches.PatchPlan, pair: imagery.S2Pair) -> pd.DataFrame:
    """Add the masked shares seen on the after date (SCL) to the planted patch truth."""
    truth = plan.truth.set_index("patch_id").loc[plan.patches["TBBH"]].reset_index()
    codes = imagery.SCL
    cloud = (codes["cloud_medium"], codes["cloud_high"], codes["cirrus"])
    truth["cloud_frac_after"] = imagery.patch_fractions(pair, plan.patches, cloud).round(4)
    truth["shadow_frac_after"] = imagery.patch_fractions(
        pair, plan.patches, (codes["shadow"],)
    ).round(4)
    return truth


def _write_rasters(
    paths: dict[str, Path], pair: imagery.S2Pair, uav: tuple, grid: Any, *, overwrite: bool
) -> None:
    t = pair.grid.transform
    dates = {"s2_before": patches.IMAGE_DATE_BEFORE, "s2_after": patches.IMAGE_DATE_AFTER}
    for role, array in (("s2_before", pair.before), ("s2_after", pair.after)):
        write_geotiff(
            paths[role],
            array,
            transform=t,
            crs=WORKING_CRS,
            nodata=0,
            band_names=imagery.S2_BANDS,
            tags=imagery.s2_tags(dates[role]),
            overwrite=overwrite,
        )
    write_geotiff(
        paths["s2_after_scl"],
        pair.scl_after,
        transform=t,
        crs=WORKING_CRS,
        nodata=0,
        band_names=("SCL",),
        overwrite=overwrite,
    )
    uav_dates = {"uav_current": UAV_DATE, "uav_previous": UAV_PREVIOUS_DATE}
    for role, array in zip(("uav_current", "uav_previous"), uav, strict=True):
        write_geotiff(
            paths[role],
            array,
            transform=grid.transform,
            crs=WORKING_CRS,
            nodata=0,
            band_names=("B", "G", "R", "NIR"),
            tags=crowns.crown_tags(uav_dates[role]),
            overwrite=overwrite,
        )


def _write_vectors(
    paths: dict[str, Path], frames: dict[str, gpd.GeoDataFrame], *, overwrite: bool
) -> None:
    for kind in GPKG_KINDS:
        write_layers(paths[kind], {kind: frames[kind]}, overwrite=overwrite)
    write_layers(
        paths["permits"], {"permits": frames["permits"].to_crs(PERMITS_CRS)}, overwrite=overwrite
    )
    write_layer(
        frames["subcompartments"],
        paths["subcompartments"],
        encoding="GBK",
        write_cpg=False,
        overwrite=overwrite,
    )


def _write_truth(
    paths: dict[str, Path],
    truth: dict[str, pd.DataFrame],
    frames: dict[str, gpd.GeoDataFrame],
    *,
    overwrite: bool,
) -> None:
    for name, table in truth.items():
        write_layer(table, paths[name], overwrite=overwrite)
    crowns_t = truth["crowns"]
    points = gpd.GeoDataFrame(
        crowns_t, geometry=gpd.points_from_xy(crowns_t.x, crowns_t.y), crs=WORKING_CRS
    )
    polys = gpd.GeoDataFrame(
        truth["patches"], geometry=frames["change_patches"].geometry.values, crs=WORKING_CRS
    )
    write_layers(
        paths["gpkg"], {"patches_truth": polys, "crowns_truth": points}, overwrite=overwrite
    )


def _check_targets(paths: dict[str, dict[str, Path]], *, overwrite: bool) -> None:
    """Raise before writing anything when an output exists and ``overwrite`` is false."""
    for group in paths.values():
        for path in group.values():
            check_overwrite(path, overwrite=overwrite)


def _meta(plan: patches.PatchPlan, pair: imagery.S2Pair, table: crowns.CrownTable) -> dict:
    return {
        "image_date_before": patches.IMAGE_DATE_BEFORE,
        "image_date_after": patches.IMAGE_DATE_AFTER,
        "uav_date": UAV_DATE,
        "uav_previous_date": UAV_PREVIOUS_DATE,
        "s2_bands": imagery.S2_BANDS,
        "s2_roles": imagery.S2_ROLES,
        "s2_tags_before": imagery.s2_tags(patches.IMAGE_DATE_BEFORE),
        "s2_tags_after": imagery.s2_tags(patches.IMAGE_DATE_AFTER),
        "uav_tags": crowns.crown_tags(UAV_DATE),
        "boa_add_offset": imagery.BOA_ADD_OFFSET,
        "boa_quantification": imagery.BOA_QUANTIFICATION,
        "misregistration_px": imagery.MISREGISTRATION_PX,
        "s2_shape": pair.grid.shape,
        "uav_shape": table.grid.shape,
        "crown_window": scene.CROWN_WINDOW,
        "bounds": scene.BOUNDS,
        "n_patches": len(plan.patches),
        "n_crowns": int(table.frame["present"].sum()),
    }


@dataclass
class _Generated:
    frames: dict[str, gpd.GeoDataFrame]
    plan: patches.PatchPlan
    pair: imagery.S2Pair
    table: crowns.CrownTable
    uav: tuple[Any, Any]
    truth: dict[str, pd.DataFrame]
    dirty_patches: gpd.GeoDataFrame


def _add_hotspots(seed: int, frames: dict[str, Any], truth: dict[str, pd.DataFrame]) -> None:
    """Plant the satellite hotspots and the heat source (see :mod:`gis.demo.hotspots`)."""
    rng = scene.rng_for(seed, "hotspots")
    firms, sources, hotspot_truth = hotspots.make_hotspots(frames["subcompartments"], rng)
    frames["hotspots"], frames["heat_sources"] = firms, sources
    truth["hotspots"] = hotspot_truth


def _generate(seed: int) -> _Generated:
    """Generate every layer, raster and truth table in memory."""
    frames, plan = _vectors(seed)
    after_cover = plan.truth.set_index("patch_id").loc[plan.patches["TBBH"], "after_cover"]
    stands = frames["subcompartments"]
    pair = imagery.make_s2_pair(
        scene.rng_for(seed, "s2"),
        stands,
        frames["parks"],
        plan.patches,
        list(after_cover),
        plan.discs,
    )
    table = crowns.plant_crowns(scene.rng_for(seed, "crowns"), stands)
    uav = crowns.make_crown_images(scene.rng_for(seed, "uav"), table)
    dirty_frame, dirty_truth = dirty.dirty_patches(plan.patches)
    truth = {
        "patches": _patch_truth(plan, pair),
        "crowns": crowns.crown_truth(table),
        "greenery": greenery_truth(
            frames["greenways"], frames["parks"], frames["villages"], frames["residential"]
        ),
        "dirty": dirty_truth,
    }
    _add_hotspots(seed, frames, truth)
    return _Generated(frames, plan, pair, table, uav, truth, dirty_frame)


def _write_all(paths: dict[str, dict[str, Path]], made: _Generated, *, overwrite: bool) -> None:
    """Write every file of the scene (each one atomically)."""
    _write_vectors(paths["layers"], made.frames, overwrite=overwrite)
    write_table(made.frames["hotspots"], paths["downloads"]["hotspots"], overwrite=overwrite)
    _write_rasters(paths["rasters"], made.pair, made.uav, made.table.grid, overwrite=overwrite)
    _write_truth(paths["truth_files"], made.truth, made.frames, overwrite=overwrite)
    dirty_paths = paths["dirty"]
    write_layers(
        dirty_paths["change_patches"], {"change_patches": made.dirty_patches}, overwrite=overwrite
    )
    no_dates = made.plan.permits.drop(columns=["有效期起", "有效期止"]).head(4)
    write_layers(dirty_paths["permits_no_dates"], {"permits": no_dates}, overwrite=overwrite)


def build_demo(
    out_dir: str | Path, *, seed: int = DEFAULT_SEED, overwrite: bool = False
) -> DemoScene:
    """Build the demo scene into ``out_dir`` and return where everything is.

    Parameters
    ----------
    out_dir : path-like
        Folder to write into (created when missing).
    seed : int
        Seed of every random choice; the same seed gives the same files.
    overwrite : bool
        Replace existing outputs; without it an existing output raises before anything is
        written.

    Returns
    -------
    DemoScene

    Raises
    ------
    gis.errors.OutputExistsError
        When an output exists and ``overwrite`` is false.
    """
    paths = demo_paths(out_dir)
    _check_targets(paths, overwrite=overwrite)
    made = _generate(seed)
    _write_all(paths, made, overwrite=overwrite)
    write_tour_inputs(
        Path(out_dir), seed, made.frames, made.truth["crowns"],
        (made.uav[0], made.table.grid.transform), overwrite=overwrite,
    )  # fmt: skip
    return DemoScene(
        Path(out_dir),
        seed,
        paths["layers"],
        paths["rasters"],
        made.truth,
        paths["truth_files"],
        paths["dirty"],
        _meta(made.plan, made.pair, made.table),
        paths["downloads"],
        paths["tour"],
    )
