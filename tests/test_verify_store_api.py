"""The field-store API: one "latest record per feature", the same in the SQL view and in Python."""

from __future__ import annotations

import contextlib
import random
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from report_helpers import make_field_store
from report_helpers import record as report_record
from verify_helpers import photo, record, write_export

from gis.errors import DataSourceError
from gis.report.data import load_field_records
from gis.verify import (
    LATEST,
    LATEST_KEY,
    LATEST_ORDER,
    FieldStore,
    import_exports,
    latest,
    open_store,
    photo_dir,
    verification_status,
)
from gis.verify import store as store_module


def _view_fids(path: Path) -> list[int]:
    with sqlite3.connect(path) as con:
        return sorted(r[0] for r in con.execute(f"SELECT fid FROM {LATEST}"))


def _random_store(path: Path, seed: int, n: int = 300) -> Path:
    """Records on 12 features with device times from only 4 values: many exact ties."""
    rng = random.Random(seed)
    times = [f"2026-06-0{d}T0{h}:00:00.000Z" for d, h in ((1, 1), (1, 2), (2, 1), (3, 0))]
    rows = []
    for k in range(n):
        layer = rng.choice(("patches_checked", "discolored_points"))
        rec = report_record(layer, f"F{rng.randrange(6)}", k)
        rec.update(record_id=f"r{seed}-{k:05d}", device_time_utc=rng.choice(times),
                   kind=rng.choice(("field", "field", "lab")))  # fmt: skip
        rows.append(rec)
    return make_field_store(path, rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_view_and_python_pick_the_same_record_on_equal_times(tmp_path: Path, seed: int) -> None:
    path = _random_store(tmp_path / "field.gpkg", seed)
    fs = open_store(path)
    log = fs.log()
    by_key = log.groupby(list(LATEST_KEY))
    assert (by_key["device_time_utc"].nunique() < by_key.size()).any()  # there are ties
    picked = fs.latest()
    assert picked["fid"].tolist() == _view_fids(path)
    # the rule, spelled out: greatest device time, then greatest fid
    for (layer, fid), group in by_key:
        newest = group[group["device_time_utc"] == group["device_time_utc"].max()]
        row = picked[(picked["layer"] == layer) & (picked["feature_id"] == fid)]
        assert row["fid"].tolist() == [newest["fid"].max()]
    # the reports and verify status use the same records
    for layer in ("patches_checked", "discolored_points"):
        report = load_field_records(path, layer=layer)
        assert report.latest["fid"].tolist() == picked[picked["layer"] == layer]["fid"].tolist()
        lab = fs.lab_results(layer=layer)
        assert lab["fid"].tolist() == report.lab["fid"].tolist()
        assert (lab["kind"] == "lab").all()


def test_ties_within_one_import_and_across_imports(tmp_path: Path) -> None:
    store = tmp_path / "field.gpkg"
    same = "2026-06-01T09:30:00+08:00"
    one = [record("0001", device_time=same, note=f"file1-{i}") for i in range(3)]
    import_exports([write_export(tmp_path / "1.geojson", one)], into=store)
    assert open_store(store).latest()["note"].tolist() == ["file1-2"]  # later in the file
    two = [record("0001", device_time=same, note="file2")]
    import_exports([write_export(tmp_path / "2.geojson", two)], into=store)
    picked = open_store(store).latest()
    assert picked["note"].tolist() == ["file2"]  # the later import
    assert picked["fid"].tolist() == _view_fids(store)
    features = pd.DataFrame({"layer": ["patches_checked"], "feature_id": ["0001"]})
    status = verification_status(features, open_store(store).log())
    assert status.loc[0, ["features", "verified"]].tolist() == [1, 1]


def test_latest_follows_the_declared_order() -> None:
    assert LATEST_KEY == ("layer", "feature_id")
    assert LATEST_ORDER == ("device_time_utc", "fid")
    log = pd.DataFrame({
        "fid": [5, 3, 9], "layer": ["x"] * 3, "feature_id": ["a"] * 3,
        "device_time_utc": ["2026-01-01T00:00:00.000Z"] * 2 + ["2025-12-31T23:59:59.999Z"],
    })  # fmt: skip
    assert latest(log)["fid"].tolist() == [5]
    assert latest(log.iloc[0:0]).empty


def test_log_filters_and_photos(tmp_path: Path) -> None:
    store = tmp_path / "field.gpkg"
    item, data = photo("a")
    feats = [
        record("0001", photos=[item]),
        record("DP1", layer="discolored_points", outcome="not_found"),
    ]
    import_exports([write_export(tmp_path / "a.geojson", feats)], into=store)
    fs = open_store(store)
    assert isinstance(fs, FieldStore)
    assert fs.log(layer="discolored_points")["feature_id"].tolist() == ["DP1"]
    assert fs.log(kind="lab").empty and len(fs.log(kind="field")) == 2
    photos = fs.photos()
    assert photos[["feature_id", "sha256", "bytes"]].values.tolist() == [
        ["0001", item["sha256"], len(data)]
    ]
    on_disk = Path(photos.loc[0, "path"])
    assert on_disk.parent.parent == photo_dir(store).resolve() and on_disk.read_bytes() == data
    assert fs.photos(layer="discolored_points").empty


def test_open_store_refuses_what_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="does not exist"):
        open_store(tmp_path / "missing.gpkg")
    other = tmp_path / "other.gpkg"
    with contextlib.closing(sqlite3.connect(other)) as con:
        con.execute("CREATE TABLE kpi (x)")
    with pytest.raises(DataSourceError, match=r"other.gpkg is not a field store .*kpi"):
        open_store(other)
    text = tmp_path / "x.gpkg"
    text.write_text("not sqlite " * 50)
    with pytest.raises(DataSourceError, match="is not a GeoPackage"):
        open_store(text)


def test_the_view_sql_is_built_from_the_rule() -> None:
    assert "ORDER BY m.device_time_utc DESC, m.fid DESC" in store_module._LOG_SQL
    assert "m.layer = l.layer AND m.feature_id = l.feature_id" in store_module._LOG_SQL
