"""gis.verify — field records back from the offline map into the field store.

The export contract (:mod:`gis.verify.contract`, ``docs/field-records.md``), parsing and
validation (:mod:`gis.verify.records`), the field store GeoPackage (:mod:`gis.verify.store`),
imports (:mod:`gis.verify.imports`) and 核查率 / outcomes / conflicts
(:mod:`gis.verify.status`). What makes a file a field store (its mark, and the refusal of any
other file as ``--into``) is :mod:`gis.verify.identity`.

This package is the only code that reads or writes the field store. Readers open it with
:func:`open_store` and ask the :class:`FieldStore` for its ``log``, the ``latest`` record per
feature, ``lab_results`` and ``photos``; "latest" has one definition, :func:`latest`
(:mod:`gis.verify.recency`), which the store's ``verification_latest`` view mirrors.
"""

from gis.verify.contract import SCHEMA_VERSION, contract_json, contract_schema, validate
from gis.verify.imports import ImportReport, import_exports, import_lab
from gis.verify.recency import LATEST_KEY, LATEST_ORDER, latest
from gis.verify.records import FieldRecord, Rejection, example_feature, parse_export
from gis.verify.results import Results, read_results, results_run_id, run_id_of
from gis.verify.status import GroupBy, conflicts, verification_status
from gis.verify.store import LATEST, LOG, FieldStore, open_store, photo_dir, read_log

__all__ = [
    "LATEST",
    "LATEST_KEY",
    "LATEST_ORDER",
    "LOG",
    "SCHEMA_VERSION",
    "FieldRecord",
    "FieldStore",
    "GroupBy",
    "ImportReport",
    "Rejection",
    "Results",
    "conflicts",
    "contract_json",
    "contract_schema",
    "example_feature",
    "import_exports",
    "import_lab",
    "latest",
    "open_store",
    "parse_export",
    "photo_dir",
    "read_log",
    "read_results",
    "results_run_id",
    "run_id_of",
    "validate",
    "verification_status",
]
