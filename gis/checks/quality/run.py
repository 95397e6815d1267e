"""The edge of 数据质检: read a layer with :func:`gis.io.read_layer`, then validate it.

:func:`validate_file` is what ``linyuan validate`` calls; the checks themselves are the pure
:func:`~gis.checks.quality.contract.validate_frame`.
"""

from __future__ import annotations

import os
from typing import Any

from gis.checks.quality.contract import validate_frame
from gis.crs import WORKING_CRS
from gis.findings import Findings
from gis.io import read_layer
from gis.layers import layer_kind


def validate_file(
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    crs: Any = None,
    working_crs: Any = WORKING_CRS,
    lang: str = "zh",
    engine: str = "pyogrio",
) -> Findings:
    """Read a layer with :func:`gis.io.read_layer` and validate it; return all findings.

    The reader's findings (encoding decided, CRS guessed, geometries repaired or dropped,
    fields renamed) come first, then those of :func:`validate_frame`.

    Parameters
    ----------
    path : path-like
        Any vector source :func:`gis.io.read_layer` reads.
    kind : str, optional
        Layer kind of the catalog.
    layer, encoding, crs, working_crs, engine
        Passed to :func:`gis.io.read_layer` (``working_crs="auto"`` for data outside
        Changchun's zone).
    lang : {"zh", "en"}
        Kept for callers that pass it; findings carry both languages
        (:meth:`gis.findings.Finding.text` picks one).

    Raises
    ------
    GisError
        When the file cannot be read (missing, truncated, no CRS to be had …).
    """
    if kind is not None:
        layer_kind(kind)  # an unknown kind fails before the file is read
    findings = Findings()
    frame = read_layer(
        path,
        kind=kind,
        layer=layer,
        encoding=encoding,
        crs=crs,
        working_crs=working_crs,
        findings=findings,
        engine=engine,
    )
    source = str(frame.attrs.get("source", path))
    return validate_frame(frame, kind, source=source, findings=findings, lang=lang)
