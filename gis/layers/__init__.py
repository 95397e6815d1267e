"""The layer catalog: layer kinds, canonical fields, Chinese/national aliases, code lists.

``layers/catalog.yaml`` is the contract between the bureau's files and the code. This package
reads it once and offers what readers, checks and exchange writers need, one idea per module:

- :mod:`gis.layers.catalog` — the catalog model (:class:`LayerKind`, :class:`FieldSpec`), its
  parsing and validation, and lookups on it (:func:`layer_kind`, :func:`code_meaning`,
  :func:`code_text`, :func:`is_forest_land` …);
- :mod:`gis.layers.labels` — what a field is called: :func:`label` (Chinese or English
  headers), :func:`national_names` and :func:`shapefile_names` for exchange writers;
- :mod:`gis.layers.values` — value coercion (是/否, dates, numbers): :func:`parse_date`;
- :mod:`gis.layers.names` — name comparison and Shapefile field-name cutting
  (:func:`normalize_name`, :func:`shapefile_cut`);
- :mod:`gis.layers.canonical` — :func:`canonicalize`, which renames known aliases to canonical
  English names and coerces the catalog's types.

Every public name is re-exported here: ``from gis.layers import canonicalize``.
"""

from gis.layers.canonical import canonicalize, coerce_field, message
from gis.layers.catalog import (
    CATALOG_PATH,
    Catalog,
    FieldSpec,
    GeometryKind,
    LayerKind,
    catalog,
    code_meaning,
    code_text,
    coded_fields,
    codes_as_text,
    host_species,
    is_forest_land,
    layer_kind,
    leaf_habit,
    load_catalog,
    normalize_code,
    parse_catalog,
)
from gis.layers.labels import label, labels, national_names, shapefile_names, unit_label
from gis.layers.names import SHAPEFILE_NAME_BYTES, gbk_bytes, normalize_name, shapefile_cut
from gis.layers.values import UNPARSED, FieldType, parse_date, yes_no

__all__ = [
    "CATALOG_PATH",
    "SHAPEFILE_NAME_BYTES",
    "UNPARSED",
    "Catalog",
    "FieldSpec",
    "FieldType",
    "GeometryKind",
    "LayerKind",
    "canonicalize",
    "catalog",
    "code_meaning",
    "code_text",
    "coded_fields",
    "codes_as_text",
    "coerce_field",
    "gbk_bytes",
    "host_species",
    "is_forest_land",
    "label",
    "labels",
    "layer_kind",
    "leaf_habit",
    "load_catalog",
    "message",
    "national_names",
    "normalize_code",
    "normalize_name",
    "parse_catalog",
    "parse_date",
    "shapefile_cut",
    "shapefile_names",
    "unit_label",
    "yes_no",
]
