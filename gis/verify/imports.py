"""``verify import`` and ``verify lab``: append records to the field store, all or nothing.

Order of work in :func:`import_exports`: read and validate every file (no store access),
check feature ids against the results, check that ``into`` is a field store
(:func:`gis.verify.identity.check_target`: a results GeoPackage or a non-SQLite file is
refused here, before anything is written), then write the photos (fsynced), then one
``BEGIN IMMEDIATE`` transaction that marks the store, refuses reused record ids, appends the
new records and finds conflicts, then ``COMMIT``. Any rejection without ``skip_invalid`` stops
before the store is touched (or rolls the transaction back), so a failed import changes
nothing.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gis.errors import DataSourceError, SchemaError
from gis.io.outputs import refuse_inputs
from gis.io.sheets import drop_blank_rows, read_workbook
from gis.layers.names import normalize_name
from gis.layers.values import parse_date
from gis.paths import sha256_of
from gis.progress import Progress, counted, step
from gis.verify import identity, store
from gis.verify.contract import DEVICE_YEARS, LAYERS
from gis.verify.records import FieldRecord, Rejection, parse_export, utc_text
from gis.verify.results import Results
from gis.verify.status import conflicts

PathLike = str | os.PathLike[str]

PAUSE_ENV = "LINYUAN_VERIFY_TEST_PAUSE"
"""Test hook: ``<marker file>:<seconds>`` makes an import touch the marker and sleep inside its
open transaction, so a test can kill it there. Never set in normal use."""

LAB_NAMESPACE = uuid.UUID("5b0f3f4e-8d1c-4c57-9a3e-1f4c7d2b9a10")


@dataclass
class ImportReport:
    """What an import did: counts, rejections and conflicts (``imported`` 0 when refused)."""

    store: Path
    files: list[dict[str, Any]] = field(default_factory=list)
    imported: int = 0
    already: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    conflicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    photos_written: int = 0
    other_run: int = 0
    committed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "store": str(self.store),
            "files": self.files,
            "imported": self.imported,
            "already_imported": self.already,
            "rejected": [r.to_dict() for r in self.rejected],
            "conflicts": self.conflicts.to_dict(orient="records"),
            "photos_written": self.photos_written,
            "records_from_other_runs": self.other_run,
            "committed": self.committed,
        }


def _read_file(path: Path) -> tuple[bytes, str]:
    if not path.is_file():
        raise DataSourceError(
            f"field export {path} does not exist; check the file name",
            zh=f"外业导出文件 {path} 不存在；请检查文件名",
        )
    return path.read_bytes(), sha256_of(path)


def _parse_all(
    paths: Sequence[Path], report: ImportReport, progress: Progress | None = None
) -> list[FieldRecord]:
    records: list[FieldRecord] = []
    for path in counted(paths, progress, len(paths)):
        data, digest = _read_file(path)
        found, rejected = parse_export(data, source=str(path))
        report.files.append({"file": str(path), "sha256": digest, "records": len(found)})
        for rec in found:
            rec.row.update(source_file=str(path), source_sha256=digest, source_index=rec.index)
        records += found
        report.rejected += rejected
    return records


def _dedupe(records: list[FieldRecord], report: ImportReport) -> list[FieldRecord]:
    seen: dict[str, str] = {}
    out = []
    for rec in records:
        if rec.record_id not in seen:
            seen[rec.record_id] = rec.record_sha256
            out.append(rec)
        elif seen[rec.record_id] == rec.record_sha256:
            report.already += 1
        else:
            report.rejected.append(
                _reject(
                    rec,
                    "record_id used by another, different record of this import",
                    "本次导入中另一条不同的记录用了同一 record_id",
                )
            )
    return out


def _reject(rec: FieldRecord, reason: str, zh: str | None = None) -> Rejection:
    return Rejection(rec.source, rec.index, reason, rec.record_id, rec.feature_id, zh=zh)


def _check_features(
    records: list[FieldRecord], results: Results | None, report: ImportReport
) -> list[FieldRecord]:
    if results is None:
        return records
    ids = {layer: results.ids(layer) for layer in LAYERS}
    out = []
    for rec in records:
        known = ids[rec.layer]
        if known is None:
            report.rejected.append(
                _reject(
                    rec,
                    f"no --results file has layer {rec.layer}",
                    f"所给 --results 文件中没有图层 {rec.layer}",
                )
            )
        elif rec.feature_id not in known:
            report.rejected.append(_reject(rec, *_unknown_feature(rec, known)))
        else:
            out.append(rec)
            report.other_run += rec.row.get("results_run_id") not in results.run_ids[rec.layer]
    return out


def _unknown_feature(rec: FieldRecord, known: set[str]) -> tuple[str, str]:
    """Why a record's feature is refused (en, zh); names the id meant when only its form differs.

    An export edited in Excel or by hand loses leading zeros (``1`` for ``0001``) or gains
    spaces; the id the results hold is named, never substituted.
    """
    fid = rec.feature_id
    en = f"feature {fid} is not in {rec.layer} of the results"
    zh = f"要素 {fid} 不在结果的 {rec.layer} 图层中"
    bare = fid.strip().lstrip("0")
    meant = sorted(k for k in known if k.strip().lstrip("0") == bare)
    if len(meant) == 1:
        en += f"; the results have {meant[0]!r} — was the id edited (leading zeros lost)?"
        zh += f"；结果中有 {meant[0]!r}——编号是否被改动（如前导零丢失）？"
    return en, zh


def _rows(records: Iterable[FieldRecord], imported_at: str) -> list[dict[str, Any]]:
    rows = []
    for rec in records:
        row = dict(rec.row)
        row.update(
            geom=store.gpkg_point(rec.lonlat),
            lon=None if rec.lonlat is None else rec.lonlat[0],
            lat=None if rec.lonlat is None else rec.lonlat[1],
            photos=store.photos_json(rec.photos),
            photo_count=len(rec.photos),
            imported_at=imported_at,
            record_sha256=rec.record_sha256,
        )
        rows.append(row)
    return rows


def _test_pause() -> None:
    store.pause_for_tests(PAUSE_ENV)


def _commit_records(
    con: Any, records: list[FieldRecord], report: ImportReport, *, skip_invalid: bool
) -> None:
    """Inside the transaction: refuse reused ids, insert, collect conflicts."""
    stored = store.known_hashes(con, [r.record_id for r in records])
    fresh = []
    for rec in records:
        if rec.record_id not in stored:
            fresh.append(rec)
        elif stored[rec.record_id] == rec.record_sha256:
            report.already += 1
        else:
            report.rejected.append(
                _reject(
                    rec,
                    "record_id already imported with other content",
                    "该 record_id 已导入过，内容不同",
                )
            )
    if report.rejected and not skip_invalid:
        raise _Refused
    now = utc_text(datetime.datetime.now(datetime.UTC))
    report.imported = store.insert_rows(con, _rows(fresh, now))
    store.touch_contents(con)
    touched = {(r.layer, r.feature_id) for r in records}
    if touched:
        log = store.read_log_frame(con, where="WHERE kind = 'field'")
        found = conflicts(log)  # the codes, and the words people read beside them
        found["verdicts_zh"] = conflicts(log, lang="zh")["verdicts"].to_numpy()
        keys = list(zip(found["layer"], found["feature_id"], strict=True))
        report.conflicts = found[[k in touched for k in keys]].reset_index(drop=True)
    _test_pause()


class _Refused(Exception):
    """Raised inside the transaction to roll it back when records are rejected."""


def import_exports(
    sources: Sequence[PathLike],
    *,
    into: PathLike,
    results: Results | None = None,
    skip_invalid: bool = False,
) -> ImportReport:
    """Import field export files into the field store ``into``, all files in one transaction.

    Parameters
    ----------
    sources : sequence of path-like
        GeoJSON exports of the field map (docs/field-records.md).
    into : path-like
        The field store GeoPackage; created (and marked) when missing, marked when made by
        the previous version.
    results : Results, optional
        Results features (:func:`gis.verify.results.read_results`); records about features
        that are not in them are rejected.
    skip_invalid : bool
        Import the valid records and list the rest, instead of importing nothing.

    Returns
    -------
    ImportReport
        ``committed`` is False when rejections stopped the import.

    Raises
    ------
    DataSourceError
        When a file does not exist, or ``into`` is not SQLite or is a GeoPackage of other
        data (:func:`gis.verify.identity.check_target`): refused before anything is written.
    """
    read = (*sources, *(results.sources if results is not None else ()))
    refuse_inputs({"into": into}, read)  # the store is never an export or a results file
    report = ImportReport(store=Path(into))
    with step("field export files", zh="外业导出文件") as progress:
        records = _parse_all([Path(s) for s in sources], report, progress)
    records = _check_features(_dedupe(records, report), results, report)
    if report.rejected and not skip_invalid:
        return report
    identity.check_target(into)  # before the photos: nothing is written into another file
    photos = [p for r in records for p in r.photos]
    with step("photos", zh="照片") as progress:
        report.photos_written = store.write_photos(into, photos, progress=progress)
    with contextlib.closing(store.connect(into)) as con:
        try:
            with store.transaction(con):
                identity.claim(con, into)
                _commit_records(con, records, report, skip_invalid=skip_invalid)
        except _Refused:
            report.imported = 0
            return report
    report.committed = True
    return report


# ---------------------------------------------------------------------------------- lab

LAB_COLUMNS = {
    "sample_id": ("sample_id", "样品编号", "样本编号", "编号"),
    "result": ("result", "检测结果", "结果"),
    "tested_on": ("tested_on", "检测日期", "日期"),
    "lab": ("lab", "检测单位", "检测机构"),
    "note": ("note", "备注"),
}
LAB_RESULTS = {
    "lab_positive": ("lab_positive", "positive", "pos", "+", "阳性", "检测阳性", "检出"),
    "lab_negative": ("lab_negative", "negative", "neg", "-", "阴性", "检测阴性", "未检出"),
}


def _lab_csv(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    for codec in ("utf-8-sig", "gb18030"):
        with contextlib.suppress(UnicodeDecodeError):
            text = data.decode(codec)
            break
    else:
        raise DataSourceError(
            f"{path} decodes neither as UTF-8 nor as GB18030; save it as UTF-8",
            zh=f"{path} 既不能按 UTF-8 也不能按 GB18030 解码；请另存为 UTF-8",
        )
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise DataSourceError(
            f"{path} is not a readable CSV table ({exc}); save it from Excel as CSV (UTF-8)",
            zh=f"{path} 不是可读的 CSV 表（{exc}）；请在 Excel 中另存为 CSV（UTF-8）",
        ) from exc


def _lab_sheet(path: Path) -> pd.DataFrame:
    """Return the lab workbook's one filled sheet (a title row and blank rows left out)."""
    sheets = {name: t for name, t in read_workbook(path).items() if not t.empty}
    if len(sheets) != 1:
        names = "、".join(sheets) or "—"
        raise DataSourceError(
            f"{path} has {len(sheets)} filled sheets ({names}); keep the results on one sheet "
            "or save that sheet as CSV",
            zh=f"{path} 有 {len(sheets)} 个有内容的工作表（{names}）；"
            "请把检测结果放在一个工作表中，或把该表另存为 CSV",
        )
    return next(iter(sheets.values())).fillna("")


def _lab_table(path: Path) -> pd.DataFrame:
    xlsx = path.suffix.lower() in (".xlsx", ".xlsm")
    table = drop_blank_rows(_lab_sheet(path) if xlsx else _lab_csv(path))
    rename = {}
    for canonical, names in LAB_COLUMNS.items():
        for col in table.columns:
            if str(col).strip().lower() in names:
                rename[col] = canonical
    table = table.rename(columns=rename)
    missing = [c for c in ("sample_id", "result") if c not in table]
    if missing:
        raise SchemaError(
            f"{path} lacks column(s) {', '.join(missing)} (样品编号 / 检测结果); its columns "
            f"are: {', '.join(map(str, table.columns))}",
            zh=f"{path} 缺少列 {', '.join(missing)}（样品编号 / 检测结果）；现有列："
            f"{', '.join(map(str, table.columns))}",
        )
    return table


def _lab_outcome(value: str) -> str | None:
    """Return the outcome a lab's word means: 阳性, 阳性(+), ＋, 未检出 … (None when unknown)."""
    text = _LAB_SIGN.sub("", normalize_name(value))
    return next((k for k, names in LAB_RESULTS.items() if text in names), None)


_LAB_SIGN = re.compile(r"\s*\(\s*[+-]\s*\)$")
"""The sign a lab writes after the word: 阳性(+), 阴性（-）."""


def _lab_day(text: str) -> datetime.date | tuple[str, str]:
    """Return the date of a ``tested_on`` text, or why it is not a usable date (en, zh)."""
    parsed = parse_date(text)
    if not isinstance(parsed, pd.Timestamp):
        return (
            f"tested_on {text.strip()!r} is not a date YYYY-MM-DD",
            f"检测日期 tested_on {text.strip()!r} 不是 YYYY-MM-DD 格式的日期",
        )
    day = parsed.date()
    first, last = DEVICE_YEARS
    if not first <= day.year <= last:
        return (
            f"tested_on {text.strip()!r} is outside the years {first} to {last}",
            f"检测日期 tested_on {text.strip()!r} 不在 {first} 至 {last} 年之间",
        )
    return day


def _lab_time(tested_on: str, fallback: str) -> tuple[str, str]:
    text = tested_on.strip()
    if not text:
        return fallback, fallback
    day = _lab_day(text)
    assert isinstance(day, datetime.date)  # checked by _lab_reason
    local = datetime.datetime.combine(
        day, datetime.time(), datetime.timezone(datetime.timedelta(hours=8))
    )
    return local.isoformat(), utc_text(local)


def _lab_row(
    row: pd.Series, match: pd.Series, source: tuple[str, str, int], now: str
) -> dict[str, Any]:
    outcome = _lab_outcome(str(row["result"]))
    device_time, device_utc = _lab_time(str(row.get("tested_on", "")), now)
    key = f"{row['sample_id'].strip()}|{outcome}|{device_time}"
    return {
        "record_id": str(uuid.uuid5(LAB_NAMESPACE, key)),
        "kind": "lab", "layer": match["layer"], "feature_id": match["feature_id"],
        "outcome": outcome, "sample_taken": True, "sample_id": row["sample_id"].strip(),
        "note": (str(row.get("note", "")).strip() or None),
        "inspector": str(row.get("lab", "")).strip() or "lab",
        "device_time": device_time, "device_time_utc": device_utc,
        "photos": "[]", "photo_count": 0, "imported_at": now,
        "source_file": source[0], "source_sha256": source[1], "source_index": source[2],
        "record_sha256": uuid.uuid5(LAB_NAMESPACE, key + "|sha").hex,
    }  # fmt: skip


def _lab_reason(row: pd.Series, matches: pd.DataFrame, sample: str) -> tuple[str, str] | None:
    """Return why a lab row cannot be imported (English, Chinese), else None."""
    tested_on = str(row.get("tested_on", "")).strip()
    day = _lab_day(tested_on) if tested_on else None
    if _lab_outcome(str(row["result"])) is None:
        return (
            f"result {row['result']!r} is neither 阳性/positive nor 阴性/negative",
            f"检测结果 {row['result']!r} 既不是阳性也不是阴性",
        )
    if isinstance(day, tuple):
        return day
    if matches.empty:
        return (
            f"sample {sample!r} is not in the field log (no record took this sample)",
            f"样品 {sample!r} 不在外业记录中（没有记录采过这个样品）",
        )
    if len(matches) > 1:
        points = ", ".join(matches["feature_id"])
        return (
            f"sample {sample!r} was recorded on {len(matches)} points: {points}",
            f"样品 {sample!r} 记录在 {len(matches)} 个点位上：{points}",
        )
    return None


def _lab_rows(
    table: pd.DataFrame, log: pd.DataFrame, source: tuple[str, str], report: ImportReport
) -> list[dict[str, Any]]:
    now = utc_text(datetime.datetime.now(datetime.UTC))
    sampled = log[(log["kind"] == "field") & log["sample_id"].notna()]
    rows = []
    for index, row in table.iterrows():
        sample = str(row["sample_id"]).strip()
        where = (
            source[0],
            int(str(index)),
        )
        matches = sampled[sampled["sample_id"] == sample].drop_duplicates(["layer", "feature_id"])
        reason = _lab_reason(row, matches, sample)
        if reason:
            en, zh = reason
            report.rejected.append(Rejection(where[0], where[1], en, None, None, zh=zh))
            continue
        rows.append(_lab_row(row, matches.iloc[0], (*source, where[1]), now))
    return rows


def import_lab(source: PathLike, *, into: PathLike, skip_invalid: bool = False) -> ImportReport:
    """Append lab results (sample id → 阳性/阴性) as records of kind ``lab``.

    Each sample is matched to the point through the ``sample_id`` of the field records;
    unknown or ambiguous samples and unreadable results are rejected (nothing is imported
    unless ``skip_invalid``). Re-importing the same rows adds nothing.

    Parameters
    ----------
    source : path-like
        CSV or ``.xlsx`` (one filled sheet; a title row and blank rows are left out) with
        ``sample_id``/样品编号 and ``result``/检测结果 (阳性, 阴性, positive, negative), optional
        ``tested_on``/检测日期 (a date as :func:`gis.layers.values.parse_date` reads it:
        2026-06-01, 2026/6/1, 2026年6月1日 …), ``lab``/检测单位, ``note``.
    into : path-like
        The field store (a store of the previous version is marked as one here).
    skip_invalid : bool
        Import the matched rows and list the rest.

    Raises
    ------
    DataSourceError
        When a file does not exist, or ``into`` is not a field store
        (:func:`gis.verify.identity.check_target`): refused before anything is written.
    """
    path = Path(source)
    if not path.is_file():
        raise DataSourceError(
            f"lab results file {path} does not exist", zh=f"检测结果文件 {path} 不存在"
        )
    refuse_inputs({"into": into}, (path,))
    table = _lab_table(path)
    report = ImportReport(store=Path(into))
    report.files.append({"file": str(path), "sha256": sha256_of(path), "records": len(table)})
    identity.check_target(into)
    store.open_store(into)  # the store must exist and hold a log
    with contextlib.closing(store.connect(into)) as con, store.transaction(con):
        identity.claim(con, into)
        log = store.read_log_frame(con)
        rows = _lab_rows(table, log, (str(path), report.files[0]["sha256"]), report)
        if report.rejected and not skip_invalid:
            return report
        report.imported = store.insert_rows(con, rows)
        report.already = len(rows) - report.imported
        store.touch_contents(con)
    report.committed = True
    return report
