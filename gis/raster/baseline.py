"""The DN offset of a Sentinel-2 raster that is not a product: tags, else the data.

A float raster of a sensor whose DN are scaled integers (Sentinel-2, Landsat L2) may hold the
reflectance itself (SNAP, Earth Engine ``.divide(10000)`` exports): :func:`holds_reflectance`.

From processing baseline 04.00 (January 2022) ESA adds 1000 to every DN (``BOA_ADD_OFFSET`` in
L2A, ``RADIO_ADD_OFFSET`` in L1C = -1000): reflectance is ``(DN - 1000) / 10000``. A stacked
GeoTIFF may keep the tags (``BOA_ADD_OFFSET``, ``PROCESSING_BASELINE``); many exports keep none,
and some have the offset taken out already — Google Earth Engine's ``S2_SR_HARMONIZED`` shifts
newer scenes back to the old range. Without tags the data decide: where the darkest valid
pixels (2nd percentile of blue, green, red) lie below DN 1000, no offset was added (with it,
even water and shadow stay above 1000).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rasterio.windows import Window

from gis.findings import Findings
from gis.sensors import Sensor, SensorProfile

ADDED_DN = 1000
"""The DN ESA adds from processing baseline 04.00."""

SAMPLE_BLOCKS = 4
"""Blocks read along each side (a lattice of SAMPLE_BLOCKS² blocks) to tell the offset."""

_TAGS = {Sensor.SENTINEL2_L2A: "BOA_ADD_OFFSET", Sensor.SENTINEL2_L1C: "RADIO_ADD_OFFSET"}


def s2_offset(
    ds: Any, path: str, profile: SensorProfile, indexes: Sequence[int], findings: Findings | None
) -> float:
    """Offset in reflectance of a Sentinel-2 raster: from its tags, else from its darkest DN.

    ``indexes``: the file's bands read, in the sensor's role order (blue, green, red first).
    Adds the finding ``s2_offset`` saying which and why.
    """
    name = _TAGS.get(profile.sensor)
    if name is None:
        return profile.offset
    tags: dict[str, str] = dict(ds.tags())
    for i in range(1, ds.count + 1):
        tags.update({k: v for k, v in ds.tags(i).items() if k not in tags})
    add = next((v for k, v in tags.items() if name in k.upper()), None)
    baseline = next((v for k, v in tags.items() if "PROCESSING_BASELINE" in k.upper()), None)
    if add is not None:
        offset, why = float(add) * profile.scale, f"{name}={add} from the file's tags"
        why_zh = f"取自文件标签 {name}={add}"
    elif baseline is not None:
        old = float(baseline) < 4.0
        offset = 0.0 if old else profile.offset
        why = f"processing baseline {baseline} {'< 04.00 (no offset)' if old else '>= 04.00'}"
        why_zh = f"处理基线 {baseline} {'< 04.00（无偏移）' if old else '>= 04.00'}"
    else:
        offset, why, why_zh = _offset_from_data(ds, profile, indexes)
    if findings is not None:
        level = "L2A" if profile.sensor is Sensor.SENTINEL2_L2A else "L1C"
        findings.add(
            "s2_offset",
            f"Sentinel-2 {level} reflectance = DN * 1e-4 + {offset:g} ({why})",
            severity="info",
            source=path,
            zh=f"Sentinel-2 {level} 反射率 = DN * 1e-4 + {offset:g}（{why_zh}）",
        )
    return offset


def _offset_from_data(
    ds: Any, profile: SensorProfile, indexes: Sequence[int]
) -> tuple[float, str, str]:
    """(offset, why, why in Chinese) of an untagged raster, from its darkest DN.

    With the offset no band goes below DN 1000 (reflectance 0); the first three bands read
    (blue, green, red in the sensor's order) hold the darkest pixels of a scene.
    """
    dark = darkest_dn(ds, indexes[:3])
    if dark is not None and dark < ADDED_DN:
        why = (
            f"not tagged; its darkest pixels are DN {dark:.0f} < {ADDED_DN}, so no offset was "
            "added (baseline < 04.00, or a harmonised export such as Earth Engine's "
            "S2_SR_HARMONIZED)"
        )
        why_zh = (
            f"未标注；其最暗像元 DN 为 {dark:.0f} < {ADDED_DN}，说明没有加偏移"
            "（处理基线 < 04.00，或 Earth Engine S2_SR_HARMONIZED 等已统一的导出）"
        )
        return 0.0, why, why_zh
    seen = f"; darkest pixels DN {dark:.0f}" if dark is not None else ""
    seen_zh = f"；最暗像元 DN {dark:.0f}" if dark is not None else ""
    return (
        profile.offset,
        f"processing baseline not tagged, assumed >= 04.00: -1000 DN{seen}",
        f"处理基线未标注，假定 >= 04.00：-1000 DN{seen_zh}",
    )


def holds_reflectance(
    ds: Any, path: str, profile: SensorProfile, findings: Findings | None
) -> bool:
    """Whether a float raster of a scaled-integer sensor holds reflectance (98 % of it <= 1.5).

    Adds the finding ``float_reflectance`` when it does: the sensor's scale and offset are
    then not applied.
    """
    if profile.scale == 1.0 or not np.issubdtype(np.dtype(ds.dtypes[0]), np.floating):
        return False
    bright = dn_percentile(ds, range(1, ds.count + 1), 98)
    if bright is None or bright > FLOAT_REFLECTANCE_MAX:
        return False
    if findings is not None:
        findings.add(
            "float_reflectance",
            f"{path}: float values up to {bright:.2f} (98th percentile) are reflectance "
            f"already; the {profile.sensor.value} scale and offset are not applied",
            severity="info",
            source=path,
            zh=f"{path}：浮点值最高约 {bright:.2f}（第 98 百分位），已是反射率；"
            f"不再套用 {profile.sensor.value} 的比例系数和偏移",
        )
    return True


FLOAT_REFLECTANCE_MAX = 1.5
"""Largest 98th percentile of a float raster read as reflectance (DN are in the thousands)."""


def darkest_dn(ds: Any, indexes: Sequence[int]) -> float | None:
    """Return the 2nd percentile of the valid DN of ``indexes`` (see :func:`dn_percentile`)."""
    return dn_percentile(ds, indexes, 2)


def dn_percentile(ds: Any, indexes: Sequence[int], q: float) -> float | None:
    """Return percentile ``q`` of the valid DN of ``indexes`` on a lattice of blocks.

    Valid: not nodata (0 when the file declares none: Sentinel-2's fill), finite, above 0;
    ``None`` when no pixel is.
    """
    bh, bw = ds.block_shapes[0]
    rows = np.linspace(0, max(ds.height - bh, 0), SAMPLE_BLOCKS).astype(int)
    cols = np.linspace(0, max(ds.width - bw, 0), SAMPLE_BLOCKS).astype(int)
    values = []
    for r in sorted(set(rows)):
        for c in sorted(set(cols)):
            win = Window(int(c), int(r), min(bw, ds.width), min(bh, ds.height))
            values.append(ds.read(list(indexes), window=win).astype("f8").ravel())
    v = np.concatenate(values)
    v = v[np.isfinite(v) & (v > 0) & (v != (ds.nodata if ds.nodata is not None else 0))]
    return float(np.percentile(v, q)) if v.size else None
