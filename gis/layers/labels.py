"""What each canonical field is called: headers, national names, Shapefile names.

Examples
--------
>>> label("area_ha"), label("area_ha", lang="en")
('面积（公顷）', 'Area (ha)')
"""

from __future__ import annotations

from gis.layers.catalog import catalog, check_lang, layer_kind
from gis.layers.names import SHAPEFILE_NAME_BYTES, gbk_bytes, is_short_name


def label(field: str, *, kind: str | None = None, lang: str = "zh") -> str:
    """Return the Chinese (or English) header for a column; the name itself when unknown.

    Looks in the kind's fields first, then in the catalog's shared ``labels``, then in any
    kind that has the field.

    Examples
    --------
    >>> label("patch_id", kind="change_patches")
    '判读图斑编号'
    >>> label("no_such_column")
    'no_such_column'
    """
    lang = check_lang(lang)
    cat = catalog()
    if kind is not None and field in layer_kind(kind).fields:
        return layer_kind(kind).fields[field].label(lang)
    if field in cat.labels:
        return cat.labels[field][lang]
    for spec in cat.kinds.values():
        if field in spec.fields:
            return spec.fields[field].label(lang)
    return field


def unit_label(unit: str, lang: str = "zh") -> str:
    """Return the label of a unit code in ``lang`` ("zh" or "en"): the catalog's ``units``.

    Examples
    --------
    >>> unit_label("mu"), unit_label("mu", "en"), unit_label("km"), unit_label("count")
    ('亩', 'mu', '公里', '个')
    """
    return catalog().units[unit]["en" if lang == "en" else "zh"]


def labels(kind: str | None = None, *, lang: str = "zh") -> dict[str, str]:
    """Return column → header for the shared labels and (optionally) one kind's fields."""
    out = {name: value[check_lang(lang)] for name, value in catalog().labels.items()}
    if kind is not None:
        out.update({n: f.label(lang) for n, f in layer_kind(kind).fields.items()})
    return out


def national_names(kind: str) -> dict[str, str]:
    """Return canonical field → national Chinese column name, for exchange writers.

    Examples
    --------
    >>> national_names("change_patches")["interp_cause"]
    '判读变化原因'
    """
    return {name: spec.label_zh for name, spec in layer_kind(kind).fields.items()}


def shapefile_names(kind: str) -> dict[str, str]:
    """Return canonical field → the name it takes in a national Shapefile, where one fits.

    The national pinyin short name (``PAN_NO_TB``) when the catalog lists one, else the
    national Chinese name or the canonical name when it fits in 10 GBK bytes. Fields with no
    such name are left out (a writer must shorten them, e.g. with a field-name map).

    Examples
    --------
    >>> names = shapefile_names("change_patches")
    >>> names["patch_id"], names["interp_cause"], "valid_frac_before" in names
    ('TBBH', 'PAN_BHYY', False)
    """
    out: dict[str, str] = {}
    for name, spec in layer_kind(kind).fields.items():
        short = [a for a in spec.aliases if is_short_name(a)]
        fits = [n for n in (spec.label_zh, name) if gbk_bytes(n) <= SHAPEFILE_NAME_BYTES]
        if short or fits:
            out[name] = (short or fits)[0]
    return out
