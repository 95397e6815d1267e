"""The demo's greening layers: parks, residential blocks, greenways and villages.

Parks and residential blocks fill the city's built-up edge in the north (blocks of 250 m);
greenways run round 净月潭 and through the city and the forest; villages sit on cropland.
Field names are those of the bureau's own tables (公园名称, 公园类别, 建设状态, 建设进度,
开放共享, 建成年份; 绿道名称; 村屯名称, 完成情况, 示范村屯; 小区名称, 人口).

Examples
--------
>>> parks, homes = make_parks_and_residential(1)
>>> sorted(set(parks["公园类别"]))
['专类公园', '游园', '社区公园', '综合公园']
>>> bool(homes["人口"].gt(0).all())
True
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from gis.demo.scene import BOUNDS, BUILT_X_MAX, BUILT_Y, SURNAMES, frame_of, lake_polygon, rng_for

PARK_SPECS = (
    # name, category, status, progress %, shared, year, size in blocks (2 = 2×2), count
    ("劝农山公园", "综合公园", "已建成", 100, "是", 2019, 2),
    ("咏春公园", "综合公园", "在建", 50, "否", None, 2),
    ("同心湖公园", "综合公园", "在建", 26, "否", None, 2),
    ("南溪湿地公园", "综合公园", "已建成", 100, "是", 2021, 2),
    ("百草园", "专类公园", "在建", 20, "否", None, 1),
    ("长春植物园", "专类公园", "已建成", 100, "否", 2015, 1),
)
BLOCK_M = 250.0
STREET_M = 25.0


def _blocks() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    xs = np.arange(BOUNDS[0] + 100.0, BUILT_X_MAX - BLOCK_M, BLOCK_M)
    ys = np.arange(BUILT_Y + 50.0, BOUNDS[3] - BLOCK_M, BLOCK_M)
    return xs, ys


def _block_box(xs: NDArray[np.float64], ys: NDArray[np.float64], i: int, j: int, size: int = 1):
    x, y = xs[i], ys[j]
    return shapely.box(x, y, x + size * BLOCK_M - STREET_M, y + size * BLOCK_M - STREET_M)


def make_parks_and_residential(seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return (parks, residential) in the built-up north: city blocks of 250 m.

    Parks: 综合公园 and 专类公园 (some under construction with a progress %), 8 社区公园
    (half a block) and 16 游园 (口袋公园, 600-3 600 m², carved out of a residential block).
    Residential blocks carry a population (``人口``) for the service-coverage check.
    """
    rng = rng_for(seed, "parks")
    xs, ys = _blocks()
    free = np.ones((len(xs), len(ys)), dtype=bool)
    rows: list[tuple[object, ...]] = []
    anchors = ((3, 1), (12, 4), (19, 1), (6, 7), (15, 8), (22, 6))
    for (i, j), spec in zip(anchors, PARK_SPECS, strict=True):
        size = spec[6]
        free[i : i + size, j : j + size] = False
        rows.append((*spec[:6], _block_box(xs, ys, i, j, size)))
    cells = rng.permutation(np.argwhere(free))
    for k, (i, j) in enumerate(cells[:8]):
        free[i, j] = False
        box = _block_box(xs, ys, int(i), int(j))
        half = shapely.box(*box.bounds[:3], box.bounds[1] + (BLOCK_M - STREET_M) / 2)
        rows.append(
            (
                f"社区公园{k + 1:02d}",
                "社区公园",
                "已建成",
                100,
                "是" if k % 3 == 0 else "否",
                2010 + k,
                half,
            )
        )
    resid, pockets = _residential_blocks(rng, xs, ys, free)
    rows.extend(pockets)
    cols = ("公园名称", "公园类别", "建设状态", "建设进度", "开放共享", "建成年份")
    parks = frame_of({c: [r[k] for r in rows] for k, c in enumerate(cols)}, [r[6] for r in rows])
    parks["建成年份"] = parks["建成年份"].astype("Int32")
    return parks, resid


def _residential_blocks(
    rng: np.random.Generator, xs: NDArray[np.float64], ys: NDArray[np.float64], free: NDArray
) -> tuple[gpd.GeoDataFrame, list[tuple[object, ...]]]:
    blocks = [(int(i), int(j)) for i, j in np.argwhere(free)]
    pocket_at = set(rng.choice(len(blocks), 16, replace=False).tolist())
    geoms: list[Any] = []
    pockets: list[tuple[object, ...]] = []
    for k, (i, j) in enumerate(blocks):
        box = _block_box(xs, ys, i, j)
        if k in pocket_at:
            side = float(rng.uniform(25.0, 60.0))
            x, y = box.bounds[:2]
            pocket = shapely.box(x, y, x + side, y + side)
            year = int(rng.choice([2022, 2023, 2024, 2024, 2025]))
            pockets.append(
                (
                    f"口袋公园{len(pockets) + 1:02d}",
                    "游园",
                    "已建成",
                    100,
                    "是" if len(pockets) % 4 == 0 else "否",
                    year,
                    pocket,
                )
            )
            box = box.difference(pocket)
        geoms.append(box)
    density = rng.uniform(120.0, 420.0, len(geoms))  # people per hectare
    people = np.round(shapely.area(np.asarray(geoms)) / 10_000.0 * density).astype("int64")
    data = {"小区名称": [f"居住区{k + 1:03d}" for k in range(len(geoms))], "人口": people}
    return frame_of(data, geoms), pockets


GREENWAYS = (
    ("净月潭环湖绿道", "已建成", 2021, None),
    ("北部城市绿道", "已建成", 2023, ((452_000, 4_855_120), (458_400, 4_855_150))),
    ("新湖绿道", "在建", 2025, ((458_000, 4_849_000), (460_800, 4_853_000))),
    ("玉潭绿道", "规划", 2026, ((452_200, 4_848_200), (452_900, 4_851_500), (452_700, 4_853_500))),
    ("劝农山绿道", "已建成", 2024, ((456_000, 4_855_300), (456_500, 4_858_200))),
    ("净月大街绿道", "已建成", 2022, ((451_900, 4_856_600), (458_400, 4_857_900))),
    ("东环绿道", "规划", 2027, ((460_200, 4_848_000), (460_600, 4_857_000))),
    ("南部林间绿道", "在建", 2025, ((454_500, 4_849_300), (459_000, 4_849_000))),
)


def _wiggle(rng: np.random.Generator, coords: tuple[tuple[int, int], ...]) -> shapely.LineString:
    line = shapely.segmentize(shapely.LineString(coords), 250.0)
    xy = shapely.get_coordinates(line)
    xy[1:-1] += rng.normal(0.0, 40.0, xy[1:-1].shape)
    return shapely.LineString(xy)


def make_greenways(seed: int) -> gpd.GeoDataFrame:
    """Return eight 绿道 lines with status (已建成 / 在建 / 规划) and year (built or planned)."""
    rng = rng_for(seed, "greenways")
    geoms = []
    for _, _, _, coords in GREENWAYS:
        if coords is None:
            ring = lake_polygon().buffer(80.0).exterior
            geoms.append(shapely.LineString(shapely.get_coordinates(ring)))
        else:
            geoms.append(_wiggle(rng, coords))
    data = {
        "绿道名称": [g[0] for g in GREENWAYS],
        "建设状态": [g[1] for g in GREENWAYS],
        "建成年份": np.array([g[2] for g in GREENWAYS], dtype="int32"),
    }
    return frame_of(data, geoms)


def make_villages(seed: int, subcompartments: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return 30 村屯 points on cropland: greening done or only tasked, demonstration flag."""
    rng = rng_for(seed, "villages")
    crop = subcompartments[subcompartments["地类"] == "耕地"]
    pick = rng.choice(len(crop), 30, replace=False)
    geoms = shapely.point_on_surface(crop.geometry.to_numpy()[pick])
    done = rng.uniform(size=30) < 0.7
    demo = done & (rng.uniform(size=30) < 0.3)
    yes_no = np.array(["否", "是"])
    data = {
        "村屯名称": [f"{s}家屯" for s in SURNAMES[:30]],
        "乡镇": crop["乡镇"].to_numpy()[pick],
        "完成情况": np.where(done, "已完成", "未完成"),
        "示范村屯": yes_no[demo.astype(int)],
        "绿化亩数": np.where(done, rng.uniform(15.0, 120.0, 30).round(1), 0.0),
        "年度": np.full(30, 2024, dtype="int32"),
    }
    return frame_of(data, geoms)
