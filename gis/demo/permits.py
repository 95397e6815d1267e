"""The demo's permits: 林木采伐许可 and 使用林地审核审批 polygons with validity dates.

A patch planted with a permit gets one shaped to fit it (valid, expired, or covering only
part of the patch — 超证 logging); two more valid permits cover no patch at all.

Examples
--------
>>> permit_number(LANDUSE, 3, "2025")
'吉林资许准〔2025〕103号'
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gis.crs import WORKING_CRS
from gis.units import area_ha

PermitRow = tuple[Any, str, tuple[str, str], str]
"""(polygon, permit kind, (valid from, valid to), county code)."""
CUTTING, LANDUSE = "林木采伐许可", "使用林地审核审批"
HOLDERS = ("净月林场", "新湖镇人民政府", "长春某建设有限公司", "玉潭林场", "某农业合作社")
PERMIT_DATES = {
    "valid": ("2025-10-08", "2026-12-31"),
    "expired": ("2023-11-01", "2024-10-31"),
    "landuse_valid": ("2025-06-20", "2027-06-19"),
    "landuse_expired": ("2022-05-01", "2024-04-30"),
}


def permit_shape(
    rng: np.random.Generator, patch: shapely.Polygon, kind: str
) -> tuple[shapely.Geometry, str, tuple[str, str]]:
    """Return (polygon, permit type, validity) for a patch's permit."""
    if kind == "cutting_partial":
        x0, y0, x1, y1 = patch.bounds
        cut = x0 + (x1 - x0) * rng.uniform(0.35, 0.45)
        return (
            patch.intersection(shapely.box(x0 - 1, y0 - 1, cut, y1 + 1)),
            CUTTING,
            (PERMIT_DATES["valid"]),
        )
    shape = patch.buffer(15.0).simplify(3.0)
    table = {
        "cutting_valid": (CUTTING, PERMIT_DATES["valid"]),
        "cutting_expired": (CUTTING, PERMIT_DATES["expired"]),
        "landuse_valid": (LANDUSE, PERMIT_DATES["landuse_valid"]),
        "landuse_expired": (LANDUSE, PERMIT_DATES["landuse_expired"]),
    }
    kind_zh, dates = table[kind]
    return shape, kind_zh, dates


def permit_number(kind_zh: str, k: int, year: str) -> str:
    """Return a document number in the style of the permit kind."""
    if kind_zh == CUTTING:
        return f"吉长林采字〔{year}〕第{k:04d}号"
    return f"吉林资许准〔{year}〕{k + 100}号"


def permits_frame(rows: list[PermitRow]) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Return the permits frame (delivery field names) and the permit numbers, in row order."""
    numbers = [permit_number(r[1], k + 1, r[2][0][:4]) for k, r in enumerate(rows)]
    data = {
        "审批文号": numbers,
        "许可类型": [r[1] for r in rows],
        "有效期起": [r[2][0] for r in rows],
        "有效期止": [r[2][1] for r in rows],
        "申请单位": [HOLDERS[k % len(HOLDERS)] for k in range(len(rows))],
        "县": [r[3] for r in rows],
    }
    frame = gpd.GeoDataFrame(data, geometry=[r[0] for r in rows], crs=WORKING_CRS)
    frame["批准面积"] = area_ha(frame).round(4)
    return frame, numbers


def distractor_permits(stands: gpd.GeoDataFrame, free: list[int]) -> list[PermitRow]:
    """Two valid permits inside the first two ``free`` stands (rows holding no patch)."""
    rows = []
    for i, (kind_zh, dates) in zip(
        free[:2],
        ((CUTTING, PERMIT_DATES["valid"]), (LANDUSE, PERMIT_DATES["landuse_valid"])),
        strict=True,
    ):
        geom = stands.geometry.iloc[i].buffer(-60.0).simplify(5.0)
        rows.append((geom, kind_zh, dates, stands["县"].iloc[i]))
    return rows
