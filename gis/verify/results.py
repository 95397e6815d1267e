"""What verification needs from the checks' results GeoPackages: ids, groups and run ids.

``results_run_id`` identifies the run that wrote a results file; the field map writes it into
every record (``properties.results_run_id``) so a record can be traced to the results it was
made against. It is the ``run_id`` row of the ``run`` table when a check writes one, else
``run-`` + the first 16 hex digits of the SHA-256 of the run table (section, key, value rows
in order): every run records its inputs' checksums and parameters, so two runs differ exactly
when their inputs or settings do.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyogrio

from gis.errors import DataSourceError
from gis.io import list_layers
from gis.verify.contract import ID_FIELDS

GROUP_FIELDS = ("district", "township", "forest_chief", "batch")
"""Grouping columns read from the results when present."""

TIME_FIELDS = ("detected_utc", "feedback_due_utc")
"""When a hotspot was detected and its feedback is due (``linyuan fire hotspots``), read
when present: ``verify status`` measures feedback times against them."""

FEATURE_COLUMNS = ("layer", "feature_id", *GROUP_FIELDS, *TIME_FIELDS)


def run_id_of(run: pd.DataFrame) -> str:
    """Return the results run id of a ``run`` table (section, key, value).

    Examples
    --------
    >>> run = pd.DataFrame({"section": ["check"], "key": [""], "value": ["patches"]})
    >>> run_id_of(run)
    'run-cd1b8d56bb176d10'
    >>> run_id_of(pd.DataFrame({"section": ["run_id"], "key": [""], "value": ["r1"]}))
    'r1'
    """
    own = run.loc[run["section"] == "run_id", "value"]
    if len(own):
        return str(own.iloc[0])
    rows = run[["section", "key", "value"]].astype(str).values.tolist()
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return "run-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Results:
    """Features of one or more results files: one row per (layer, feature_id), groups.

    ``run_ids`` maps each layer to the run ids of the files it came from.
    """

    features: pd.DataFrame
    run_ids: dict[str, set[str]]
    sources: tuple[str, ...]

    def ids(self, layer: str) -> set[str] | None:
        """Return the feature ids of ``layer``, or None when no results file has it."""
        if layer not in self.run_ids:
            return None
        return set(self.features.loc[self.features["layer"] == layer, "feature_id"])


def _read_layer_ids(path: Path, layer: str) -> pd.DataFrame:
    info = pyogrio.read_info(path, layer=layer)
    wanted = (ID_FIELDS[layer], *GROUP_FIELDS, *TIME_FIELDS)
    fields = [f for f in wanted if f in set(info["fields"])]
    if ID_FIELDS[layer] not in fields:
        raise DataSourceError(
            f"{path} layer {layer} has no {ID_FIELDS[layer]} column; give the results file "
            "the check wrote (linyuan check patches / detect discolored / fire hotspots)",
            zh=f"{path} 的图层 {layer} 没有 {ID_FIELDS[layer]} 列；请给出检查写出的结果文件"
            "（`linyuan check patches` / `linyuan detect discolored` / `linyuan fire hotspots`）",
        )
    frame = pyogrio.read_dataframe(path, layer=layer, columns=fields, read_geometry=False)
    frame = frame.rename(columns={ID_FIELDS[layer]: "feature_id"})
    frame.insert(0, "layer", layer)
    frame["feature_id"] = frame["feature_id"].astype(str)
    for name in GROUP_FIELDS:
        if name not in frame:
            frame[name] = None
    for name in TIME_FIELDS:
        frame[name] = pd.to_datetime(frame[name], utc=True) if name in frame else pd.NaT
    return pd.DataFrame(frame[list(FEATURE_COLUMNS)])


def read_results(paths: Iterable[str | os.PathLike[str]]) -> Results:
    """Read the patch, point and hotspot layers of results GeoPackages (others are ignored).

    Raises
    ------
    DataSourceError
        When a file cannot be read or holds none of ``patches_checked``,
        ``discolored_points`` and ``hotspots_checked``.
    """
    frames: list[pd.DataFrame] = []
    run_ids: dict[str, set[str]] = {}
    sources: list[str] = []
    for source in paths:
        path = Path(source)
        names = list_layers(path)
        layers = [n for n in names if n in ID_FIELDS]
        if not layers:
            raise DataSourceError(
                f"{path} holds no patches_checked, discolored_points or hotspots_checked "
                f"layer (layers: {', '.join(names)}); give a results file of check patches / "
                "detect discolored / fire hotspots",
                zh=f"{path} 中没有 patches_checked、discolored_points 或 hotspots_checked 图层"
                f"（现有：{', '.join(names)}）；请给出 `linyuan check patches` / `linyuan detect "
                "discolored` / `linyuan fire hotspots` 的结果文件",
            )
        run = "run" in names and pyogrio.read_dataframe(path, layer="run", read_geometry=False)
        run_id = run_id_of(run) if isinstance(run, pd.DataFrame) else "run-unknown"
        for layer in layers:
            frames.append(_read_layer_ids(path, layer))
            run_ids.setdefault(layer, set()).add(run_id)
        sources.append(str(path))
    features = pd.concat(frames, ignore_index=True).drop_duplicates(["layer", "feature_id"])
    return Results(features.reset_index(drop=True), run_ids, tuple(sources))


def results_run_id(path: str | os.PathLike[str]) -> str:
    """Return the results run id of a results GeoPackage (what maps write into records)."""
    table = pyogrio.read_dataframe(Path(path), layer="run", read_geometry=False)
    return run_id_of(table)
