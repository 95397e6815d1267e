"""The edge of the patch check: read the inputs, run :func:`check_patches`, write the results.

:func:`run_patch_check` is what ``linyuan check patches`` calls (and what a notebook calls to
get the same files). Every frame is built before anything is written; the outputs (results
GeoPackage, optional XLSX and KMZ) go through the one results edge of :mod:`gis.io.outputs`
(staged beside each target, renamed into place only when all of them succeeded, so a failed
run leaves no partial output). The KMZ is :func:`gis.maps.kml.export_kml`'s, the file
``linyuan export kml`` writes from the results.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gis.checks.patches.check import PatchCheckResult, check_patches
from gis.checks.patches.verdict import load_patch_rules
from gis.distributed import cluster_info, dask_client
from gis.errors import GisError
from gis.findings import Findings
from gis.io import distinct_headers, read_layers, write_layers, write_table
from gis.io.outputs import (
    plain_dtypes,
    plan_outputs,
    record_engine,
    record_inputs,
    run_table,
    staged_outputs,
)
from gis.layers import code_text, coded_fields, label
from gis.raster import ImageSpec, image_specs, require_usable
from gis.raster.coverage import require_covers
from gis.raster.dates import reconcile_dates
from gis.raster.products import describe_rasters, note_mixed_sensors
from gis.zonal.inside import prefetch_samples

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

LAYER_KINDS = {
    "patches": "change_patches",
    "subcompartments": "subcompartments",
    "permits": "permits",
    "protected": "protected_areas",
    "districts": "districts",
    "forest_chiefs": "forest_chief_zones",
}
"""Input role → catalog layer kind."""


EXTRA_HEADERS = {
    "zh": {
        "land_class": "主要地类",
        "ring_ndvi_before": "周边前期NDVI",
        "ring_ndvi_after": "周边后期NDVI",
        "rel_dndvi": "相对周边NDVI变化",
        "n_pixels": "像元数",
        "permit_count": "审批数",
        "valid_permit_share": "有效审批覆盖比例",
        "valid_logging_permit_share": "有效采伐许可覆盖比例",
        "valid_landuse_permit_share": "有效使用林地审批覆盖比例",
        "township": "乡镇",
        "seen_frac": "两期可见像元比例",
        "changed_share": "变化像元比例",
        "changed_area_ha": "变化面积（公顷，内业估计）",
        "changed_area_mu": "变化面积（亩，内业估计）",
        "loss_share": "植被减少像元比例",
        "loss_area_mu": "植被减少面积（亩）",
        "gain_share": "植被增加像元比例",
        "largest_loss_cluster_mu": "最大减少连片（亩）",
        "largest_gain_cluster_mu": "最大增加连片（亩）",
        "largest_cluster_mu": "最大变化连片（亩）",
        "ring_loss_share": "周边减少像元比例",
        "burned_share": "过火像元比例",
        "burned_area_ha": "过火面积（公顷）",
        "burned_area_mu": "过火面积（亩）",
        "ring_burned_share": "周边过火像元比例",
        "lost_ndvi_after": "减少像元后期NDVI",
        "radiometry": "辐射定标",
    },
    "en": {
        "land_class": "Main land class",
        "ring_ndvi_before": "NDVI of surroundings (before)",
        "ring_ndvi_after": "NDVI of surroundings (after)",
        "rel_dndvi": "NDVI change beyond surroundings",
        "n_pixels": "Pixels",
        "permit_count": "Permits",
        "valid_permit_share": "Share covered by valid permits",
        "valid_logging_permit_share": "Share covered by valid logging permits",
        "valid_landuse_permit_share": "Share covered by valid land-use approvals",
        "township": "Township",
        "seen_frac": "Share seen on both dates",
        "changed_share": "Share of pixels changed",
        "changed_area_ha": "Changed area, ha (desk estimate)",
        "changed_area_mu": "Changed area, mu (desk estimate)",
        "loss_share": "Share of pixels lost",
        "loss_area_mu": "Lost area, mu",
        "gain_share": "Share of pixels gained",
        "largest_loss_cluster_mu": "Largest lost cluster, mu",
        "largest_gain_cluster_mu": "Largest gained cluster, mu",
        "largest_cluster_mu": "Largest changed cluster, mu",
        "ring_loss_share": "Share of surroundings lost",
        "burned_share": "Share of pixels burned",
        "burned_area_ha": "Burned area, ha",
        "burned_area_mu": "Burned area, mu",
        "ring_burned_share": "Share of surroundings burned",
        "lost_ndvi_after": "NDVI after of lost pixels",
        "radiometry": "Radiometry",
    },
}
"""Headers of evidence columns the catalog does not list (yet)."""


@dataclass
class PatchRun:
    """What :func:`run_patch_check` did: the result and the files it wrote."""

    result: PatchCheckResult
    outputs: dict[str, Path] = field(default_factory=dict)


def _report_dropped_patches(log: Findings, start: int) -> None:
    """Every delivered patch must be checked (核查率 100%): a dropped one is an error."""
    for f in list(log[start:]):
        if f.code == "empty_geometry_dropped":
            log.add(
                "patch_not_checked",
                f"patch {f.feature} was delivered without geometry and is not in the results; "
                "ask the supplier for its polygon (核查率 counts it as unchecked)",
                severity="error",
                source=f.source,
                feature=f.feature,
                zh=f"图斑 {f.feature} 下发时没有几何，不在结果中；请向下发单位索取其多边形"
                "（核查率按未核查计）",
            )


def run_patch_check(
    patches: PathLike,
    *,
    before: PathLike,
    after: PathLike,
    out: PathLike,
    subcompartments: PathLike | None = None,
    permits: PathLike | None = None,
    protected: PathLike | None = None,
    districts: PathLike | None = None,
    forest_chiefs: PathLike | None = None,
    rules: PathLike | None = None,
    sensor: str | None = None,
    bands: str | None = None,
    before_mask: PathLike | None = None,
    after_mask: PathLike | None = None,
    xlsx: PathLike | None = None,
    kml: PathLike | None = None,
    overwrite: bool = False,
    image_dates: tuple[Any, Any] | None = None,
    lang: str = "zh",
    findings: Findings | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    radiometry: str | None = None,
    min_mapping_unit_mu: float | None = None,
    engine: str = "pyogrio",
    before_sensor: str | None = None,
    after_sensor: str | None = None,
    before_bands: str | None = None,
    after_bands: str | None = None,
    before_radiometry: str | None = None,
    after_radiometry: str | None = None,
) -> PatchRun:
    """Read the layers and rasters, check every patch and write the results.

    Parameters
    ----------
    patches : path-like
        The 督查图斑 delivery (any format :func:`gis.io.read_layer` reads).
    before, after : path-like
        The two images; ``sensor``/``bands`` name the bands of both (see :mod:`gis.raster`,
        default ``generic``), ``before_sensor``/``after_sensor`` and ``before_bands``/
        ``after_bands`` those of one date when the dates come from different products
        (:func:`gis.raster.image_specs`: a key given both ways is refused);
        ``before_mask``/``after_mask`` are optional cloud masks on the same grids.
    out : path-like
        Results GeoPackage: layers ``patches_checked``, ``findings`` and ``run``.
    subcompartments, permits, protected, districts, forest_chiefs : path-like, optional
        Context layers.
    rules : path-like, optional
        Rules YAML (default ``layers/rules/patches.yaml``).
    xlsx, kml : path-like, optional
        Also write the table (national Chinese headers, summary sheet) and a KMZ/KML.
    overwrite : bool
        Replace existing outputs.
    image_dates : (date, date), optional
        Image dates for patches that carry none (permit validity).
    lang : {"zh", "en"}
        Language of reasons, headers and labels.
    findings : Findings, optional
        Receives the findings.
    workers : int, optional
        Reduce the rasters on a local Dask cluster of this many worker processes.
    scheduler : str, optional
        Reduce the rasters on the existing Dask cluster at ``tcp://HOST:PORT``. With neither,
        the run stays in this process. The run table records the engine and the peak memory
        per worker (section ``peak_memory_mb``).
    radiometry : {"auto", "reflectance", "dn"}, optional
        Radiometry of both images (see :func:`~gis.checks.patches.check.check_patches`;
        default ``auto``); ``before_radiometry``/``after_radiometry`` that of one date.
    min_mapping_unit_mu : float, optional
        Minimum mapping unit, 亩 (default: the rules' ``min_mapping_unit_mu``).
    engine : {"pyogrio", "fiona"}
        Engine reading the vector layers (:func:`gis.io.read_layer`; ``--engine``).

    Returns
    -------
    PatchRun

    Raises
    ------
    gis.errors.GisError
        Unreadable input, bad rules, existing output without ``overwrite``, an option given
        both for both dates and for one (:class:`~gis.errors.ConflictingOptionsError`).
    """
    log = findings if findings is not None else Findings()
    specs = image_specs(
        {"sensor": sensor, "bands": bands, "radiometry": radiometry},
        {"sensor": before_sensor, "bands": before_bands, "radiometry": before_radiometry},
        {"sensor": after_sensor, "bands": after_bands, "radiometry": after_radiometry},
    )
    paths = {
        "patches": patches,
        "subcompartments": subcompartments,
        "permits": permits,
        "protected": protected,
        "districts": districts,
        "forest_chiefs": forest_chiefs,
    }
    images = (before, after, before_mask, after_mask, rules)
    outputs = plan_outputs(
        {"gpkg": out, "xlsx": xlsx, "kml": kml},
        overwrite=overwrite,
        inputs=(*paths.values(), *images),
    )
    ruleset = load_patch_rules(rules)
    inputs = {**paths, "before": before, "after": after, "before_mask": before_mask}
    inputs |= {"after_mask": after_mask, "rules": ruleset.source}
    recorded: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=3) as pool:  # checksums and layers while the check runs
        checksums = pool.submit(record_inputs, recorded, inputs, engine=engine)
        # the radiometry samples of both images while the layers are read
        pool.submit(_prefetch, {"before": before, "after": after}, specs)
        start = len(log)
        frames = read_layers(
            {"patches": paths["patches"]}, LAYER_KINDS, findings=log, engine=engine,
            stage_log=logger,
        )  # fmt: skip
        _report_dropped_patches(log, start)  # before the other layers add their own findings
        # the context layers are read while the rasters are checked and their windows decode
        others = {k: v for k, v in paths.items() if k != "patches"}
        read_log, at = Findings(), len(log)
        reading = pool.submit(
            read_layers, others, LAYER_KINDS, findings=read_log, engine=engine, stage_log=logger
        )
        patch_frame = frames.pop("patches")
        assert patch_frame is not None
        try:
            result, rasters = _check_with_rasters(
                patch_frame,
                reading,
                {"before": (before, before_mask), "after": (after, after_mask)},
                specs=specs,
                check={
                    "rules": ruleset,
                    "image_dates": image_dates,
                    "lang": lang,
                    "findings": log,
                    "min_mapping_unit_mu": min_mapping_unit_mu,
                },
                cluster={"workers": workers, "scheduler": scheduler},
            )
        except Exception:
            error = reading.exception()  # a layer that cannot be read is told first, as before
            if error is not None:
                raise error from None
            raise
        finally:
            reading.exception()  # wait for it: its findings go where its reading began
            log[at:at] = read_log
        frames = reading.result()
        checksums.result()
    result.run |= recorded
    result.run["renamed"] = _renamed({"patches": patch_frame, **frames})
    for key in ("sensor", "bands"):  # one value when both dates share it
        values = {role: _text(getattr(spec, key)) for role, spec in specs.items()}
        result.run[key] = values["before"] if len(set(values.values())) == 1 else values
    result.run["rasters"] = describe_rasters(rasters["before"], rasters["after"])
    written = write_results(result, outputs, overwrite=overwrite, lang=lang)
    return PatchRun(result, written)


def _check_with_rasters(
    patch_frame: gpd.GeoDataFrame,
    reading: Future[dict[str, gpd.GeoDataFrame | None]],
    images: Mapping[str, tuple[PathLike, PathLike | None]],
    *,
    specs: Mapping[str, ImageSpec],
    check: dict[str, Any],
    cluster: Mapping[str, Any],
) -> tuple[PatchCheckResult, dict[str, Any]]:
    """Open and vet the rasters, then :func:`check_patches` with the layers ``reading`` reads.

    Returns the result and the opened rasters (image role → source).
    """
    log: Findings = check["findings"]
    rasters = {
        role: specs[role].source(path, mask=mask, findings=log)
        for role, (path, mask) in images.items()
    }
    for role, src in rasters.items():  # all nodata or NaN: exit 3, not empty results
        require_usable(src, role=f"{role} image")
    require_covers(patch_frame, {f"{role} image": src for role, src in rasters.items()})
    check["image_dates"] = reconcile_dates(
        patch_frame, rasters["before"], rasters["after"], given=check["image_dates"], findings=log
    )
    note_mixed_sensors(rasters["before"], rasters["after"], log)
    with dask_client(**cluster) as client:
        result = check_patches(
            patch_frame,
            before=rasters["before"],
            after=rasters["after"],
            client=client,
            radiometry=(specs["before"].radiometry, specs["after"].radiometry),
            layers=reading.result,
            **check,
        )
        record_engine(result.run, cluster_info(client))
    return result, rasters


def _prefetch(paths: Mapping[str, PathLike], specs: Mapping[str, ImageSpec]) -> None:
    """Take the radiometry samples of both images (memoised; a bad input is reported later)."""
    try:
        prefetch_samples(*[specs[role].source(p, findings=Findings()) for role, p in paths.items()])
    except GisError:
        return


def _text(value: Any) -> Any:
    """Return a sensor or band list as the run table shows it (``B,G,R,NIR``)."""
    if value is None or isinstance(value, str):
        return value
    return getattr(value, "value", None) or ",".join(map(str, value))


def _renamed(frames: Mapping[str, Any]) -> dict[str, Any]:
    return {role: dict(f.attrs.get("renamed", {})) for role, f in frames.items() if f is not None}


def summary_sheet(checked: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """Return counts and 亩 by district × legality × change type (labels in ``lang``)."""
    frame = checked.assign(
        district=checked["district"].fillna("—"),
        legality=checked["legality"].map(lambda c: _meaning("legality", c, lang)),
        change_type=checked["change_type"].map(lambda c: _meaning("change_type", c, lang)),
    )
    grouped = frame.groupby(["district", "legality", "change_type"], dropna=False)
    table = grouped.agg(count=("patch_id", "size"), area_mu=("area_mu", "sum")).reset_index()
    total = pd.DataFrame(
        [
            {
                "district": "合计" if lang == "zh" else "Total",
                "legality": "",
                "change_type": "",
                "count": int(table["count"].sum()),
                "area_mu": float(table["area_mu"].sum()),
            }
        ]
    )
    return pd.concat([table, total], ignore_index=True).round({"area_mu": 2})


def _meaning(field: str, code: Any, lang: str) -> str:
    return code_text("change_patches", field, code, lang=lang)


def headers_for(columns: Any, *, lang: str = "zh") -> dict[str, str]:
    """Return column → national (or English) header for the results table."""
    out = {}
    for col in [*columns, "lon", "lat", "count"]:
        base = col[: -len("_input")] if col.endswith("_input") else col
        text = label(base, kind="change_patches", lang=lang)
        suffix = ("（原始）" if lang == "zh" else " (input)") if base != col else ""
        out[col] = f"{text}{suffix}"
    return distinct_headers(out)


def exchange_frame(checked: gpd.GeoDataFrame, *, lang: str = "zh") -> gpd.GeoDataFrame:
    """Return the results with code values shown as their meaning (the XLSX table)."""
    out = checked.copy()
    for col in [c for c in coded_fields("change_patches") if c in out.columns]:
        out[col] = out[col].map(lambda c, col=col: _meaning(col, c, lang))
    if "stand_class" in out:  # the leaf habit as a word (the rules' label), not its code
        rules = load_patch_rules()
        out["stand_class"] = out["stand_class"].map(
            lambda v: rules.label("stand_class", v, lang) if isinstance(v, str) else v
        )
    digits = {c: 3 for c in out.columns if out[c].dtype == "float64"}
    digits |= {"area_ha": 4, "area_mu": 2}
    return out.round({c: d for c, d in digits.items() if c in out})


def write_results(
    result: PatchCheckResult,
    outputs: Mapping[str, Path],
    *,
    overwrite: bool,
    lang: str = "zh",
) -> dict[str, Path]:
    """Write the results GeoPackage (and XLSX/KMZ when asked), all or nothing."""
    checked = result.patches_checked
    layers = {
        "patches_checked": checked,
        "findings": result.findings.to_frame(lang=lang),
        "run": run_table(result.run),
    }
    with staged_outputs(outputs, overwrite=overwrite) as stage:
        write_layers(stage["gpkg"], layers)
        if "xlsx" in stage:
            shown = exchange_frame(checked, lang=lang)
            headers = headers_for(checked.columns, lang=lang)
            sheet = "汇总" if lang == "zh" else "Summary"
            write_table(
                plain_dtypes(shown),
                stage["xlsx"],
                headers=headers,
                sheet_name="图斑核查" if lang == "zh" else "Patches",
                summary={sheet: summary_sheet(checked, lang=lang)},
                lonlat=True,
                lang=lang,
            )
        if "kml" in stage:  # what the findings say of these patches is in the GeoPackage already
            # deferred: gis.maps loads folium, branca and their templates (~0.2 s); only a KMZ
            # needs it
            from gis.maps.kml import export_results_kml

            export_results_kml(
                stage["gpkg"], stage["kml"], layer="patches_checked", lang=lang, findings=Findings()
            )
    return dict(outputs)
