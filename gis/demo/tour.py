"""What the README's tour runs on besides the scene, generated from the scene and its truth.

Written with the scene (:func:`write_tour_inputs`):

====================  =================================================================
``roads.gpkg``        道路: the street grid between the city blocks and two forest roads
                      (noded where they cross), for ``greenery coverage --roads`` (walking
                      distance) and ``fire coverage --roads``
``ortho_rgba.tif``    a UAV orthophoto as DJI Terra / Pix4D deliver it: 8-bit R,G,B and an
                      alpha band (ColorInterp alpha), transparent outside the flight area;
                      the 0.5 m crown image's red, green and blue
``earlier.gpkg``      变色立木 points known before this flight (CGCS2000 lon/lat): the 2025
                      survey's trees (the crowns already dead a year ago) and the trees a
                      ranger reported in August 2026 — for ``--known-points``
``220100_full.json``  the districts as the DataV atlas serves them: GeoJSON in GCJ-02
                      (``--crs gcj02``), ``adcode`` and ``name``
====================  =================================================================

Written after the checks and the field map (:func:`write_field_returns`), in the exact format
the map's "导出 GeoJSON" button writes (``docs/field-records.md``):

- ``field_exports/<map id>-records-<date>.geojson``: one export per inspector's phone, made in
  ``maps/field_map.html`` on ``results/patches_checked.gpkg`` and ``results/discolored.gpkg``
  (their map id and results run ids). Inspectors report what the truth says: whether a patch
  changed and its 核实变化原因, whether a point is a discolored pine (a sample taken from
  every third) or something else.
- ``检测结果.csv``: the lab's results for those samples (样品编号, 检测结果, 检测日期, 检测单位).
  Which samples are positive is drawn from the seed: no image shows the nematode.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import WORKING_CRS
from gis.demo import greening, scene
from gis.gcj02 import wgs84_to_gcj02
from gis.io import check_overwrite, read_layer, write_geotiff, write_layers, write_table
from gis.io.text import write_text
from gis.verify import results_run_id

TOUR_FILES = {
    "roads": "roads.gpkg",
    "ortho_rgba": "ortho_rgba.tif",
    "earlier_points": "earlier.gpkg",
    "districts_gcj02": "220100_full.json",
}
"""Tour input → file name in the demo folder."""

EXPORTS_DIR = "field_exports"
LAB_CSV = "检测结果.csv"
LAB_NAME = "长春市森林病虫害防治检疫站"
RANGER_REPORTS = 12
"""Discolored trees a ranger reported before the flight (in ``earlier.gpkg``)."""

PATCH_INSPECTORS = {"净月区": "王护林员", "南关区": "李技术员", "二道区": "李技术员"}
POINT_INSPECTOR = "赵森防员"
VISIT_DAYS = {"王护林员": "2026-10-08", "李技术员": "2026-10-09", "赵森防员": "2026-10-10"}
"""The day each inspector went out (from 08:30, a record every few minutes) and exported."""
NOTES = {
    "logging": "现场为采伐迹地",
    "construction": "现场有施工，已动土",
    "cultivation": "林地被开垦种植",
    "disaster": "风倒木成片",
    "afforestation": "新造林，苗木成活",
    "none": "现地无明显变化",
}


def tour_paths(out_dir: str | Path) -> dict[str, Path]:
    """Return the tour inputs written with the scene (:data:`TOUR_FILES`) under ``out_dir``.

    Examples
    --------
    >>> tour_paths("demo")["roads"].as_posix()
    'demo/roads.gpkg'
    """
    return {key: Path(out_dir) / name for key, name in TOUR_FILES.items()}


# ----------------------------------------------------------------------------- with the scene


def make_roads() -> gpd.GeoDataFrame:
    """Return 道路: the streets between the 250 m city blocks and two forest roads.

    Streets run along the middle of the gaps between blocks; every crossing is a vertex of
    both lines (a noded network), and vertices lie at most 50 m apart, as on digitized roads.
    The forest roads leave the grid southward and cross.
    """
    xs, ys = greening._blocks()
    half = greening.STREET_M / 2
    sx = np.append(xs, xs[-1] + greening.BLOCK_M) - half
    sy = np.append(ys, ys[-1] + greening.BLOCK_M) - half
    names, grades, geoms = [], [], []
    for k, x in enumerate(sx):
        names.append(f"南北{k + 1}街")
        geoms.append(shapely.LineString([(x, y) for y in sy]))
    for k, y in enumerate(sy):
        names.append(f"东西{k + 1}路")
        geoms.append(shapely.LineString([(x, y) for x in sx]))
    grades += ["城市道路"] * len(geoms)
    x_road = float(sx[np.argmin(np.abs(sx - 455_000.0))])
    y_cross = 4_850_500.0
    south = np.arange(sy[0], 4_848_000.0, -greening.BLOCK_M)
    south = np.sort(np.append(south, y_cross))[::-1]
    geoms.append(shapely.LineString([(x_road, y) for y in south]))
    west_east = sorted({*np.arange(452_000.0, 460_600.0, 500.0), x_road})
    geoms.append(shapely.LineString([(x, y_cross) for x in west_east]))
    names += ["林区防火道一号", "林区防火道二号"]
    grades += ["林区道路", "林区道路"]
    digitized = shapely.segmentize(np.asarray(geoms), 50.0)  # a vertex every 50 m or less
    return scene.frame_of({"道路名称": names, "道路等级": grades}, digitized)


def _rgba(uav: np.ndarray) -> np.ndarray:
    """Return the crown image's R,G,B as 8 bits with an alpha band (B,G,R,NIR × 10 000 in)."""
    rgb = uav[[2, 1, 0]].astype("f8") / 10_000.0
    data = np.clip(np.round(rgb / 0.25 * 255.0), 1, 255).astype("uint8")
    rows, cols = data.shape[1:]
    # the flight area: a polygon inside the image, transparent (and black) outside it
    yy, xx = np.mgrid[0:rows, 0:cols]
    inside = (xx > 0.04 * cols + 0.08 * yy) & (yy > 0.03 * rows) & (xx < 0.97 * cols)
    inside &= yy < 0.98 * rows - 0.05 * xx
    alpha = np.where(inside, 255, 0).astype("uint8")
    data[:, ~inside] = 0
    return np.concatenate([data, alpha[np.newaxis]])


def _earlier_points(seed: int, crowns: pd.DataFrame) -> gpd.GeoDataFrame:
    """Return the points known before the flight, as a field survey delivers them."""
    rng = scene.rng_for(seed, "earlier")
    dead = crowns[crowns["kind"] == "already_dead"]
    fresh = crowns[crowns["kind"] == "discolored"]
    reported = fresh.iloc[np.sort(rng.choice(len(fresh), RANGER_REPORTS, replace=False))]
    status = np.where(rng.uniform(size=len(dead)) < 0.7, "检测阳性", "确认为枯死松树")
    frame = pd.DataFrame(
        {
            "点位编号": [f"JY2025-{k + 1:03d}" for k in range(len(dead))]
            + [f"JY2026-{k + 1:03d}" for k in range(len(reported))],
            "树种": [*dead["species"], *reported["species"]],
            "核查状态": [*status, *["未核查"] * len(reported)],
            "来源": ["2025年秋季普查"] * len(dead) + ["护林员报告"] * len(reported),
        }
    )
    xy = pd.concat([dead, reported])
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(xy["x"], xy["y"]), crs=WORKING_CRS)
    return points.to_crs("EPSG:4490")


def _datav_districts(districts: gpd.GeoDataFrame) -> str:
    """Return the districts as DataV's ``220100_full.json``: GCJ-02 lon/lat, adcode, name."""
    lonlat = districts.to_crs("EPSG:4326")

    def shift(coords: np.ndarray) -> np.ndarray:
        lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat]).round(6)

    features = []
    for code, name, geom in zip(
        districts["XZQDM"], districts["行政区"], lonlat.geometry, strict=True
    ):
        shifted = shapely.transform(geom, shift)
        features.append(
            {
                "type": "Feature",
                "properties": {"adcode": int(code), "name": name, "level": "district"},
                "geometry": shapely.geometry.mapping(shifted),
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def write_tour_inputs(
    out_dir: Path,
    seed: int,
    frames: Mapping[str, gpd.GeoDataFrame],
    crowns: pd.DataFrame,
    uav: tuple[np.ndarray, Any],
    *,
    overwrite: bool,
) -> dict[str, Path]:
    """Write roads, the RGBA orthophoto, the earlier points and the DataV districts.

    ``uav`` is the current crown image (B, G, R, NIR) and its transform.
    """
    paths = tour_paths(out_dir)
    write_layers(paths["roads"], {"roads": make_roads()}, overwrite=overwrite)
    write_geotiff(
        paths["ortho_rgba"], _rgba(uav[0]), transform=uav[1], crs=WORKING_CRS,
        band_names=("R", "G", "B", "A"), overwrite=overwrite,
    )  # fmt: skip
    points = _earlier_points(seed, crowns)
    write_layers(paths["earlier_points"], {"pest_points": points}, overwrite=overwrite)
    text = _datav_districts(frames["districts"])
    write_text(paths["districts_gcj02"], text, overwrite=overwrite)
    return paths


# ------------------------------------------------------------------- after the checks and map


@dataclass(frozen=True)
class FieldReturns:
    """Files the inspectors' phones and the lab sent back (:func:`write_field_returns`)."""

    exports: tuple[Path, ...]
    lab: Path
    records: int
    samples: int


def map_id_of(html: str) -> str:
    """Return the map id a field map page carries (``<meta name="linyuan-map-id">``).

    Examples
    --------
    >>> map_id_of('<meta name="linyuan-map-id" content="map-0123">')
    'map-0123'
    """
    found = re.search(r'<meta name="linyuan-map-id" content="([^"]+)"', html)
    if found is None:
        raise ValueError("not a Linyuan field map: no linyuan-map-id")
    return found.group(1)


def _fix(rng: np.random.Generator, where: shapely.Point) -> tuple[dict[str, Any], float]:
    """Return a GPS fix near ``where`` (working CRS) as GeoJSON, and its accuracy in metres."""
    accuracy = float(np.round(rng.uniform(3.0, 12.0), 1))
    jitter = rng.normal(0.0, accuracy / 2.0, 2)
    point = gpd.GeoSeries(
        [shapely.Point(where.x + jitter[0], where.y + jitter[1])], crs=WORKING_CRS
    ).to_crs("EPSG:4326")[0]
    return {"type": "Point", "coordinates": [round(point.x, 7), round(point.y, 7)]}, accuracy


class _Phone:
    """One inspector's phone: records in save order, the map's export of them."""

    def __init__(self, inspector: str, map_id: str, rng: np.random.Generator) -> None:
        self.inspector, self.map_id, self.rng = inspector, map_id, rng
        self.start = dt.datetime.fromisoformat(VISIT_DAYS[inspector] + "T08:30:00+08:00")
        self.features: list[dict[str, Any]] = []

    def record(self, layer: str, run_id: str, feature_id: str, where: Any, **verdict: Any) -> None:
        geometry, accuracy = _fix(self.rng, where)
        step = 4 if layer == "discolored_points" else 12  # minutes: points stand close together
        when = self.start + dt.timedelta(minutes=step * len(self.features))
        props = {
            "schema_version": 1,
            "record_id": self.record_id(layer, feature_id),
            "map_id": self.map_id,
            "results_run_id": run_id,
            "layer": layer,
            "feature_id": feature_id,
            "inspector": self.inspector,
            "device_time": when.isoformat(timespec="seconds"),
            "gps_accuracy_m": accuracy,
            "photos": [],
            **verdict,
        }
        self.features.append({"type": "Feature", "geometry": geometry, "properties": props})

    def record_id(self, layer: str, feature_id: str) -> str:
        """Return a UUID v4 made from the map, the feature and the inspector.

        A phone draws it at random; here it is reproducible, yet new for every map, as a
        record made in another run's map is another record (its map and run ids differ).
        """
        key = f"{self.map_id}|{layer}|{feature_id}|{self.inspector}|{len(self.features)}"
        return str(uuid.UUID(bytes=hashlib.sha256(key.encode()).digest()[:16], version=4))

    def export(self, folder: Path, *, overwrite: bool) -> Path:
        """Write what the map's 导出 GeoJSON writes (its file name, compact JSON)."""
        path = folder / f"{self.map_id}-records-{VISIT_DAYS[self.inspector]}.geojson"
        doc = {"type": "FeatureCollection", "features": self.features}
        return write_text(path, json.dumps(doc, ensure_ascii=False), overwrite=overwrite)


def _patch_records(
    phones: dict[str, _Phone], results: Path, truth: pd.DataFrame, rng: np.random.Generator
) -> None:
    run_id = results_run_id(results)
    patches = read_layer(results, layer="patches_checked")
    known = truth.set_index("patch_id")
    visited = rng.uniform(size=len(patches)) < 0.75
    for row, seen in zip(patches.itertuples(), visited, strict=True):
        if not seen:
            continue
        t = known.loc[row.patch_id]
        real = bool(t["is_real_change"])
        code = t["verified_cause_code"]
        permit = t["permit_ids"] if isinstance(t["permit_ids"], str) and t["permit_ids"] else None
        phones[PATCH_INSPECTORS[row.district]].record(
            "patches_checked", run_id, str(row.patch_id), row.geometry.representative_point(),
            is_real_change=real, verified_cause_code=None if pd.isna(code) else int(code),
            permit_no=permit.split(",")[0] if permit else None,
            note=NOTES.get(str(t["change_type"])),
        )  # fmt: skip


def _point_records(
    phone: _Phone, results: Path, crowns: pd.DataFrame, rng: np.random.Generator
) -> list[str]:
    """Record a verdict on two points in three; return the sample ids taken."""
    run_id = results_run_id(results)
    points = read_layer(results, layer="discolored_points")
    trees = gpd.GeoDataFrame(
        crowns[["kind"]], geometry=gpd.points_from_xy(crowns["x"], crowns["y"]), crs=WORKING_CRS
    )
    near = gpd.sjoin_nearest(points[["geometry"]], trees, max_distance=3.0, how="left")
    kind = near[~near.index.duplicated()]["kind"].reindex(points.index)
    samples: list[str] = []
    confirmed = 0
    rows = zip(points["point_id"], points.geometry, kind, strict=True)
    for k, (pid, geom, what) in enumerate(rows):
        if k % 3 == 2:  # not visited yet
            continue
        sample: str | None = None
        note: str | None = None
        if what in ("discolored", "already_dead"):
            confirmed += 1
            if what == "discolored" and confirmed % 3 == 1:
                sample = f"JY-S{len(samples) + 1:03d}"
                samples.append(sample)
            outcome, note = "confirmed_dead_pine", "针叶红褐，树脂分泌少"
        else:
            outcome = "other_cause" if isinstance(what, str) else "not_found"
            note = "落叶松秋季变黄" if what == "decoy_larch" else None
        phone.record(
            "discolored_points", run_id, str(pid), geom, outcome=outcome,
            sample_taken=sample is not None, sample_id=sample, note=note,
        )  # fmt: skip
    return samples


def _lab_table(samples: list[str], rng: np.random.Generator) -> pd.DataFrame:
    positive = rng.uniform(size=len(samples)) < 0.7
    return pd.DataFrame(
        {
            "样品编号": samples,
            "检测结果": np.where(positive, "阳性", "阴性"),
            "检测日期": "2026-10-17",
            "检测单位": LAB_NAME,
            "备注": ["检出松材线虫" if p else "" for p in positive],
        }
    )


def write_field_returns(
    out_dir: Path,
    seed: int,
    truth: Mapping[str, pd.DataFrame],
    *,
    field_map: Path,
    patches: Path,
    points: Path,
    overwrite: bool,
) -> FieldReturns:
    """Write the inspectors' exports and the lab CSV for the results shown in ``field_map``.

    With ``overwrite``, exports made in an earlier run's map (another map id) are removed, so
    ``field_exports/*.geojson`` is the exports of this run's map.
    """
    rng = scene.rng_for(seed, "field")
    map_id = map_id_of(field_map.read_text(encoding="utf-8"))
    phones = {name: _Phone(name, map_id, rng) for name in VISIT_DAYS}
    _patch_records(phones, patches, truth["patches"], rng)
    samples = _point_records(phones[POINT_INSPECTOR], points, truth["crowns"], rng)
    folder = out_dir / EXPORTS_DIR
    targets = [folder / f"{map_id}-records-{day}.geojson" for day in VISIT_DAYS.values()]
    for target in [*targets, out_dir / LAB_CSV]:
        check_overwrite(target, overwrite=overwrite)
    if overwrite:  # exports of an earlier run's map would be imported with these
        for stale in set(folder.glob("map-*-records-*.geojson")) - set(targets):
            stale.unlink()
    exports = tuple(p.export(folder, overwrite=overwrite) for p in phones.values() if p.features)
    lab = write_table(_lab_table(samples, rng), out_dir / LAB_CSV, overwrite=overwrite)
    records = sum(len(p.features) for p in phones.values())
    return FieldReturns(exports, lab, records, len(samples))
