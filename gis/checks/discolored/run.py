"""The edge of the discolored-tree detection: read inputs, detect, write outputs all or nothing.

:func:`run_discolored` is what ``linyuan detect discolored`` calls. The results GeoPackage has
``discolored_points``, ``stand_summary``, ``verification`` (核查率 per stand, district, forest
chief), ``discolored_patches`` (coarse pixels only), ``findings`` and ``run``; ``kml`` and
``csv`` (lon/lat, columns from ``layers/templates/discolored_points_csv.yaml``) are optional.
The KMZ is :func:`gis.maps.kml.export_kml`'s (descriptions, district folders, status colours):
the file ``linyuan export kml`` writes from the results. Every file goes through the one
results edge of :mod:`gis.io.outputs`: staged beside its target and renamed into place only
when all succeeded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from gis.checks.discolored.detect import DiscoloredResult, detect_discolored, load_discolored_rules
from gis.distributed import cluster_info, dask_client
from gis.errors import SchemaError
from gis.findings import Findings
from gis.io import list_layers, lonlat_columns, read_layer, write_layers, write_table
from gis.io.outputs import (
    plan_outputs,
    record_engine,
    record_inputs,
    run_table,
    staged_outputs,
)
from gis.layers import code_meaning
from gis.maps.kml import export_results_kml
from gis.raster import raster_source
from gis.resources import resource_path

PathLike = str | os.PathLike[str]
TEMPLATE_PATH = resource_path("layers/templates/discolored_points_csv.yaml")


@dataclass
class DiscoloredRun:
    """What :func:`run_discolored` did: the result and the files it wrote."""

    result: DiscoloredResult
    outputs: dict[str, Path] = field(default_factory=dict)


def csv_template(path: PathLike | None = None) -> dict[str, str]:
    """Return the CSV column template: canonical field → header, in order."""
    p = Path(path) if path is not None else TEMPLATE_PATH
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    cols = raw.get("columns")
    if not isinstance(cols, dict) or not cols:
        raise SchemaError(
            f"{p}: needs a 'columns' mapping of field → header",
            zh=f"{p}：需要 'columns' 映射（字段 → 表头）",
        )
    return {str(k): str(v) for k, v in cols.items()}


def run_discolored(
    raster: PathLike,
    *,
    stands: PathLike,
    out: PathLike,
    previous: PathLike | None = None,
    sensor: str = "generic",
    bands: str | None = None,
    species: tuple[str, ...] | None = None,
    known_points: PathLike | None = None,
    rules: PathLike | None = None,
    image_date: str | None = None,
    kml: PathLike | None = None,
    csv: PathLike | None = None,
    overwrite: bool = False,
    window_size: int | None = None,
    threads: int = 2,
    workers: int | None = None,
    scheduler: str | None = None,
    lang: str = "zh",
    findings: Findings | None = None,
    engine: str = "pyogrio",
) -> DiscoloredRun:
    """Read the image and layers, detect discolored crowns and write the results.

    Parameters are those of ``linyuan detect discolored`` (``workers`` / ``scheduler``: run
    on a local or existing Dask cluster, see :func:`gis.distributed.dask_client`); see
    :func:`gis.checks.discolored.detect_discolored` for the method. ``known_points`` may be
    an earlier results GeoPackage (its ``discolored_points`` layer is read) or any point
    layer of the ``pest_points`` kind (编号/状态 … are renamed by the catalog). ``lang``
    (``zh``/``en``) is the language of the findings table (English always in ``message_en``).

    Raises
    ------
    gis.errors.GisError
        Unreadable input, missing bands or species field, no overlap, existing outputs.
    """
    log = findings if findings is not None else Findings()
    outputs = plan_outputs(
        {"gpkg": out, "kml": kml, "csv": csv},
        overwrite=overwrite,
        inputs=(raster, stands, previous, known_points, rules),
    )
    ruleset = load_discolored_rules(rules)
    src = raster_source(raster, sensor=sensor, bands=bands, findings=log)
    prev = raster_source(previous, sensor=sensor, bands=bands, findings=log) if previous else None
    frame = read_layer(
        stands, kind="subcompartments", working_crs=None, findings=log, engine=engine
    )
    known = None
    if known_points is not None:
        layers = list_layers(known_points)
        layer = "discolored_points" if "discolored_points" in layers else None
        known = read_layer(
            known_points,
            kind="pest_points",
            layer=layer,
            working_crs=None,
            findings=log,
            engine=engine,
        )
    with dask_client(workers=workers, scheduler=scheduler) as client:
        result = detect_discolored(
            src, frame, previous=prev, species=species, known_points=known, rules=ruleset,
            image_date=image_date, window_size=window_size, threads=threads, client=client,
            findings=log,
        )  # fmt: skip
        record_engine(result.run, cluster_info(client))
    inputs = {"raster": raster, "stands": stands, "previous": previous}
    record_inputs(result.run, inputs | {"known_points": known_points}, engine=engine)
    result.run["sensor"], result.run["bands"] = sensor, bands
    written = write_discolored(result, outputs, overwrite=overwrite, lang=lang)
    return DiscoloredRun(result, written)


def write_discolored(
    result: DiscoloredResult, outputs: dict[str, Path], *, overwrite: bool, lang: str = "zh"
) -> dict[str, Path]:
    """Write the GeoPackage (and KMZ/CSV when asked), all or nothing."""
    layers: dict[str, Any] = {
        "discolored_points": result.points,
        "stand_summary": result.stand_summary,
        "verification": result.verification,
    }
    if result.patches is not None:
        layers["discolored_patches"] = result.patches
    layers |= {"findings": result.findings.to_frame(lang=lang), "run": run_table(result.run)}
    with staged_outputs(outputs, overwrite=overwrite) as stage:
        write_layers(stage["gpkg"], layers)
        if "kml" in stage:  # what the findings say of these points is in the GeoPackage already
            kmz, layer = stage["kml"], "discolored_points"
            export_results_kml(stage["gpkg"], kmz, layer=layer, lang=lang, findings=Findings())
        if "csv" in stage:
            write_table(csv_frame(result.points), stage["csv"], headers=csv_template())
    return dict(outputs)


def csv_frame(points: Any, template: dict[str, str] | None = None) -> pd.DataFrame:
    """Return the points as the CSV table: template columns in order, lon/lat in EPSG:4490.

    ``status`` is shown by its Chinese meaning (未核查, 确认为枯死松树 …) for people in the field.
    """
    template = template or csv_template()
    table = pd.DataFrame(points.drop(columns=points.geometry.name)).join(lonlat_columns(points))
    table["status"] = [code_meaning("pest_points", "status", c) or c for c in table["status"]]
    cols = [c for c in template if c in table.columns]
    return table[cols]
