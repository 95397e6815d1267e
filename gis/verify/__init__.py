"""gis.verify — field records back from the offline map into the field store.

The export contract (:mod:`gis.verify.contract`, ``docs/field-records.md``), parsing and
validation (:mod:`gis.verify.records`), the field store GeoPackage (:mod:`gis.verify.store`),
imports (:mod:`gis.verify.imports`) and 核查率 / outcomes / conflicts
(:mod:`gis.verify.status`).
"""

from gis.verify.contract import SCHEMA_VERSION, contract_json, contract_schema, validate
from gis.verify.imports import ImportReport, import_exports, import_lab
from gis.verify.records import FieldRecord, Rejection, example_feature, parse_export
from gis.verify.results import Results, read_results, results_run_id, run_id_of
from gis.verify.status import GroupBy, conflicts, latest, verification_status
from gis.verify.store import LATEST, LOG, photo_dir, read_log

__all__ = [
    "LATEST",
    "LOG",
    "SCHEMA_VERSION",
    "FieldRecord",
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
    "parse_export",
    "photo_dir",
    "read_log",
    "read_results",
    "results_run_id",
    "run_id_of",
    "validate",
    "verification_status",
]
