"""Hotspots in gis.verify: the hotspot verdict into the store, 热点核查率 and feedback times.

On the demo's real ``linyuan fire hotspots`` results; the expectations are counted by hand
from the records the test makes against each hotspot's own detection time and deadline.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from verify_helpers import record, write_export

from gis.cli.main import cli
from gis.verify import (
    import_exports,
    open_store,
    read_log,
    read_results,
    results_run_id,
    store,
    verification_status,
)
from gis.verify.identity import StoreState, store_state
from gis.verify.status import hotspot_feedback

H = "hotspots_checked"
BJT = "+08:00"


@pytest.fixture(scope="module")
def hotspot_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gis.demo import build_demo
    from gis.demo.run import fire_hotspots

    scene = build_demo(tmp_path_factory.mktemp("demo_hotspots") / "demo")
    step = fire_hotspots(scene)
    assert step.status == "clean", step.detail
    return Path(step.outputs[0])


def _spots(path: Path) -> pd.DataFrame:
    frame = pyogrio.read_dataframe(path, layer=H, read_geometry=False)
    return frame.sort_values("hotspot_id").reset_index(drop=True)


def _bjt(moment: pd.Timestamp) -> str:
    return moment.tz_convert("Asia/Shanghai").strftime("%Y-%m-%dT%H:%M:%S") + BJT


def _hotspot(fid: str, when: pd.Timestamp, run: str, **props: object) -> dict[str, object]:
    return record(fid, layer=H, device_time=_bjt(when), results_run_id=run, **props)


def test_hotspot_verdicts_round_trip_and_feedback_is_counted_by_hand(
    hotspot_results: Path, tmp_path: Path
) -> None:
    spots = _spots(hotspot_results)
    dated = spots[spots["feedback_due_utc"].notna()].reset_index(drop=True)
    assert len(dated) >= 4
    run = results_run_id(hotspot_results)
    early = [(r.hotspot_id, r.detected_utc + (r.feedback_due_utc - r.detected_utc) / 2)
             for r in dated.iloc[:2].itertuples()]  # fmt: skip
    late = [(r.hotspot_id, r.feedback_due_utc + pd.Timedelta(hours=3))
            for r in dated.iloc[2:4].itertuples()]  # fmt: skip
    fire = {"is_fire": True, "fire_type": "forest_fire", "extinguished": False,
            "burned_area_est_ha": 2.5, "note": "明火，已组织扑救"}  # fmt: skip
    no_fire = {"is_fire": False, "fire_type": "industrial", "extinguished": None,
               "burned_area_est_ha": None}  # fmt: skip
    feats = [_hotspot(fid, when, run, **fire) for fid, when in early]
    feats += [_hotspot(fid, when, run, **no_fire) for fid, when in late]
    # a second inspector a day later disagrees on the first hotspot: a conflict, same feedback
    feats.append(_hotspot(early[0][0], early[0][1] + pd.Timedelta(days=1), run,
                          inspector="李", **no_fire))  # fmt: skip
    field = tmp_path / "field.gpkg"
    known = read_results([hotspot_results])
    report = import_exports([write_export(tmp_path / "phone.geojson", feats)], into=field,
                            results=known)  # fmt: skip
    assert report.committed and report.imported == 5 and report.rejected == []
    assert report.conflicts["feature_id"].tolist() == [early[0][0]]

    # nothing lost: every verdict value is in the log as it was sent
    log = open_store(field).log(layer=H).set_index("record_id")
    for feat in feats:
        props = feat["properties"]
        row = log.loc[props["record_id"]]
        for name in ("is_fire", "fire_type", "extinguished", "burned_area_est_ha", "note"):
            value = None if pd.isna(row[name]) else row[name]
            assert value == props[name], name

    # by hand: on time = first record before the deadline; the revision a day later is not
    # the first feedback; hotspots without a record are missing, those without a deadline
    # have no deadline
    n_all, n_dated = len(spots), len(dated)
    table = verification_status(known.features, read_log(field)).set_index(["layer", "group"])
    row = table.loc[(H, "全部")]
    assert (row["features"], row["verified"]) == (n_all, 4)
    assert row["verify_rate"] == pytest.approx(round(4 / n_all, 4))
    assert (row["on_time"], row["late"]) == (2, 2)
    assert row["missing"] == n_dated - 4
    assert row["no_deadline"] == n_all - n_dated
    assert (row["fire"], row["no_fire"]) == (1, 3)  # the latest record of the first is 李's
    visits = zip(early + late, dated.iloc[:4].itertuples(), strict=True)
    hours = [(when - r.detected_utc).total_seconds() / 3600 for (_, when), r in visits]
    assert row["feedback_median_h"] == pytest.approx(pd.Series(hours).median(), abs=0.01)
    per = hotspot_feedback(known.features, read_log(field)).set_index("feature_id")
    assert per.loc[early[0][0], "feedback"] == "on_time"
    assert per.loc[late[0][0], "feedback"] == "late"


def test_status_cli_gives_the_hotspot_rate_and_plain_json(
    hotspot_results: Path, tmp_path: Path
) -> None:
    spots = _spots(hotspot_results)
    first = spots[spots["feedback_due_utc"].notna()].iloc[0]
    verdict = {"is_fire": True, "fire_type": "agricultural_burning", "extinguished": True,
               "burned_area_est_ha": 0.4}  # fmt: skip
    when = first.detected_utc + pd.Timedelta(minutes=20)
    feat = _hotspot(first.hotspot_id, when, results_run_id(hotspot_results), **verdict)
    field = tmp_path / "field.gpkg"
    export = write_export(tmp_path / "phone.geojson", [feat])
    runner = CliRunner()
    done = runner.invoke(cli, ["verify", "import", str(export), "--into", str(field),
                               "--results", str(hotspot_results)])  # fmt: skip
    assert done.exit_code == 0, done.output
    args = ["verify", "status", str(field), "--results", str(hotspot_results)]
    text = runner.invoke(cli, [*args, "--by", "district"])
    assert text.exit_code == 0, text.output
    assert "[卫星热点]" in text.output and "热点核查率" in text.output
    assert "按时反馈" in text.output and "0.3" in text.output  # 20 minutes
    out = runner.invoke(cli, [*args, "--json"])
    assert out.exit_code == 0 and "NaN" not in out.output
    (total,) = [r for r in json.loads(out.output)["status"] if r["group"] == "全部"]
    assert (total["layer"], total["verified"], total["on_time"]) == (H, 1, 1)
    assert total["feedback_median_h"] == pytest.approx(1 / 3, abs=0.01)


def _store_of_the_first_layout(path: Path) -> Path:
    """A marked store as written before hotspots: no hotspot columns, its view without them."""
    rec = record("0001")
    export = write_export(path.with_suffix(".geojson"), [rec])
    assert import_exports([export], into=path).committed
    base = [c for c in store.LOG_COLUMNS if c not in store.ADDED_COLUMNS]
    with contextlib.closing(sqlite3.connect(path)) as con:
        con.execute(f"DROP VIEW {store.LATEST}")
        for name in store.ADDED_COLUMNS:
            con.execute(f"ALTER TABLE {store.LOG} DROP COLUMN {name}")
        con.execute(f"CREATE VIEW {store.LATEST} AS SELECT fid, geom, {', '.join(base)} "
                    f"FROM {store.LOG}")  # fmt: skip
        con.commit()
    return path


def test_a_store_without_hotspot_columns_reads_and_gains_them_on_import(tmp_path: Path) -> None:
    old = _store_of_the_first_layout(tmp_path / "field.gpkg")
    with contextlib.closing(sqlite3.connect(old)) as con:
        assert "is_fire" not in store.log_columns(con)
    before = open_store(old).log()
    assert before["is_fire"].isna().all() and before["record_id"].size == 1
    feat = record("H1", layer=H, is_fire=False, fire_type=None, extinguished=None,
                  burned_area_est_ha=None)  # fmt: skip
    assert import_exports([write_export(tmp_path / "h.geojson", [feat])], into=old).committed
    with contextlib.closing(sqlite3.connect(old)) as con:
        assert set(store.ADDED_COLUMNS) <= store.log_columns(con)
        assert store_state(con)[0] is StoreState.MARKED
    after = open_store(old).log()
    assert after["record_id"].iloc[0] == before["record_id"].iloc[0]
    assert after["is_fire"].tolist() == [pd.NA, False]
    view = pyogrio.read_dataframe(old, layer=store.LATEST, read_geometry=False)  # GDAL sees it
    assert {"is_fire", "fire_type", "record_count"} <= set(view.columns) and len(view) == 2


def test_a_previous_store_without_hotspot_columns_is_still_a_store(tmp_path: Path) -> None:
    path = tmp_path / "field.gpkg"
    _store_of_the_first_layout(path)
    with contextlib.closing(sqlite3.connect(path)) as con:
        con.execute("DELETE FROM gpkg_metadata_reference")
        con.execute("DELETE FROM gpkg_metadata")
        assert store_state(con)[0] is StoreState.PREVIOUS
