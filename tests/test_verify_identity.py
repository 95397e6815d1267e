"""The field store is marked as one; `--into` refuses every other file before writing anything."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import warnings
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from verify_helpers import photo, record, write_export, write_results

from gis.cli.main import cli
from gis.errors import DataSourceError
from gis.io import write_layers
from gis.verify import import_exports, open_store, photo_dir, store
from gis.verify.identity import StoreState, check_target, is_marked, store_state


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _export_with_photo(tmp_path: Path, feature_id: str = "0001") -> Path:
    item, _ = photo(feature_id)
    return write_export(tmp_path / f"{feature_id}.geojson", [record(feature_id, photos=[item])])


def _state(path: Path) -> StoreState:
    with contextlib.closing(sqlite3.connect(path)) as con:
        return store_state(con)[0]


def _previous_store(path: Path, feature_ids: list[str]) -> Path:
    """A store as the previous version wrote it: same schema and rows, no mark."""
    rows = [
        {
            "record_id": f"old-{i}", "kind": "field", "layer": "patches_checked",
            "feature_id": fid, "inspector": "王", "device_time": "2026-06-01T09:00:00+08:00",
            "device_time_utc": "2026-06-01T01:00:00.000Z", "photos": "[]", "photo_count": 0,
            "imported_at": "2026-06-02T00:00:00.000Z", "source_file": "old.geojson",
            "source_sha256": "0" * 64, "record_sha256": f"sha-{i}", "is_real_change": True,
        }
        for i, fid in enumerate(feature_ids)
    ]  # fmt: skip
    with contextlib.closing(store.connect(path)) as con, store.transaction(con):
        store.ensure_schema(con)
        store.insert_rows(con, rows)
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _kpi_file(folder: Path) -> Path:
    kpi = pd.DataFrame({"district": ["南关区"], "indicator": ["green_cover"], "value": [0.4]})
    run = pd.DataFrame({"section": ["check"], "key": [""], "value": ["kpi"]})
    return write_layers(folder / "kpi.gpkg", {"kpi": kpi, "run": run})


@pytest.mark.parametrize("which", ["patches", "kpi"])
def test_import_into_a_results_file_is_refused_and_changes_nothing(
    tmp_path: Path, which: str
) -> None:
    patches, _ = write_results(tmp_path)
    target = patches if which == "patches" else _kpi_file(tmp_path)
    before = _digest(target)
    code, output = _invoke("verify", "import", str(_export_with_photo(tmp_path)),
                           "--into", str(target))  # fmt: skip
    assert code == 3
    assert str(target) in output and "不是外业库" in output
    assert "--into" in output and "结果" in output  # the fix
    assert _digest(target) == before
    assert not photo_dir(target).exists()
    with contextlib.closing(sqlite3.connect(target)) as con:
        assert not is_marked(con)


def test_lab_into_a_results_file_is_refused(tmp_path: Path) -> None:
    patches, _ = write_results(tmp_path)
    lab = tmp_path / "lab.csv"
    lab.write_text("样品编号,检测结果\nS1,阳性\n", encoding="utf-8")
    before = _digest(patches)
    code, output = _invoke("verify", "lab", str(lab), "--into", str(patches))
    assert code == 3 and str(patches) in output and "不是外业库" in output
    assert _digest(patches) == before


def test_a_non_sqlite_file_is_refused_before_any_photo_is_written(tmp_path: Path) -> None:
    target = tmp_path / "x.gpkg"
    target.write_text("hello, not sqlite " * 20)
    before = _digest(target)
    code, output = _invoke("verify", "import", str(_export_with_photo(tmp_path)),
                           "--into", str(target))  # fmt: skip
    assert code == 3 and str(target) in output and "不是 GeoPackage" in output
    assert not photo_dir(target).exists()
    assert _digest(target) == before


def test_a_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "dir.gpkg"
    folder.mkdir()
    with pytest.raises(DataSourceError, match=r"dir.gpkg is not a GeoPackage \(SQLite\) file"):
        check_target(folder)


def test_a_new_store_is_marked_and_gdal_sees_only_log_and_view(tmp_path: Path) -> None:
    target = tmp_path / "field.gpkg"
    assert check_target(target) is StoreState.NEW
    assert import_exports([_export_with_photo(tmp_path)], into=target).committed
    assert _state(target) is StoreState.MARKED
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # GDAL knows the metadata extension: no warning
        layers = dict(pyogrio.list_layers(target))
        assert layers == {"verification_log": "Point", "verification_latest": "Point"}
        assert len(pyogrio.read_dataframe(target, layer="verification_log")) == 1
        notes = pd.DataFrame({"text": ["看过"]})
        pyogrio.write_dataframe(notes, target, layer="notes", driver="GPKG", append=True)
    assert _state(target) is StoreState.MARKED
    with contextlib.closing(sqlite3.connect(target)) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # marked only once, however many imports
    import_exports([_export_with_photo(tmp_path, "0002")], into=target)
    with contextlib.closing(sqlite3.connect(target)) as con:
        assert con.execute("SELECT COUNT(*) FROM gpkg_metadata").fetchone()[0] == 1


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    target = tmp_path / "field.gpkg"
    target.touch()
    assert import_exports([_export_with_photo(tmp_path)], into=target).committed
    assert _state(target) is StoreState.MARKED


def test_a_store_of_the_previous_version_opens_and_is_marked_by_its_next_import(
    tmp_path: Path,
) -> None:
    old = _previous_store(tmp_path / "field.gpkg", ["0001", "0002"])
    with contextlib.closing(sqlite3.connect(old)) as con:
        con.execute("CREATE TABLE layer_styles (id INTEGER PRIMARY KEY)")  # QGIS saved a style
    assert _state(old) is StoreState.PREVIOUS
    assert open_store(old).log()["record_id"].tolist() == ["old-0", "old-1"]
    before = open_store(old).latest()
    assert check_target(old) is StoreState.PREVIOUS
    assert import_exports([_export_with_photo(tmp_path, "0003")], into=old).committed
    assert _state(old) is StoreState.MARKED
    after = open_store(old).latest()
    assert after["feature_id"].tolist() == ["0001", "0002", "0003"]
    assert after.iloc[:2]["record_id"].tolist() == before["record_id"].tolist()


def test_lab_marks_a_previous_store(tmp_path: Path) -> None:
    old = _previous_store(tmp_path / "field.gpkg", ["0001"])
    lab = tmp_path / "lab.csv"
    lab.write_text("样品编号,检测结果\nS9,阳性\n", encoding="utf-8")
    code, output = _invoke("verify", "lab", str(lab), "--into", str(old), "--skip-invalid")
    assert code == 1, output  # S9 was sampled nowhere: rejected, the rest committed
    assert _state(old) is StoreState.MARKED


def test_field_records_already_in_a_results_file_are_not_taken_as_a_store(
    tmp_path: Path,
) -> None:
    patches, _ = write_results(tmp_path)
    with contextlib.closing(store.connect(patches)) as con, store.transaction(con):
        store.ensure_schema(con)  # what the previous version did on `--into results.gpkg`
    before = _digest(patches)
    code, output = _invoke("verify", "import", str(_export_with_photo(tmp_path)),
                           "--into", str(patches))  # fmt: skip
    assert code == 3 and "其中已有外业记录" in output
    assert _digest(patches) == before
    assert open_store(patches).log().empty  # still readable
