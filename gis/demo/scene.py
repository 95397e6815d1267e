"""The demo scene's vector layers, built in the working CRS around 净月潭 (Changchun).

Every generator here is pure: it takes a seeded :class:`numpy.random.Generator` (or the frames
built before it) and returns frames in :data:`gis.crs.WORKING_CRS`. Field names are those of
real deliveries (Chinese or national pinyin short names); the readers rename the aliases.

The extent is a 9.6 km × 11 km box, about 125.40-125.52°E, 43.76-43.86°N. Land use follows the
real place loosely: the city's built-up edge in the north, 净月潭 lake and its forest park in the
middle, cropland in the east and south.

Examples
--------
>>> import numpy as np
>>> districts = make_districts()
>>> sorted(districts["行政区"])
['二道区', '净月区', '南关区']
>>> round(float(districts.area.sum()) / 1e6, 1)  # km², the three districts tile the box
105.6
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gis.crs import WORKING_CRS
from gis.units import area_ha

BOUNDS = (451_700.0, 4_847_400.0, 461_300.0, 4_858_400.0)
"""Scene extent (minx, miny, maxx, maxy), metres in EPSG:4551."""

CROWN_WINDOW = (453_300.0, 4_849_800.0, 454_300.0, 4_850_800.0)
"""Extent of the 0.5 m crown scene (1 km × 1 km), metres in EPSG:4551."""

LAKE_CENTRE = (457_300.0, 4_851_900.0)
BUILT_Y = 4_855_200.0
"""North of this line (and west of :data:`BUILT_X_MAX`) is the city's built-up edge."""
BUILT_X_MAX = 458_600.0

DISTRICTS = (
    ("南关区", "220102", (("幸福街道", 0), ("新立城镇", 1))),
    ("二道区", "220105", (("劝农山镇", 0), ("英俊镇", 1))),
    ("净月区", "220172", (("净月街道", 0), ("玉潭镇", 1), ("新湖镇", 2))),
)
"""District name, 6-digit code (净月 = 长春净月高新技术产业开发区) and townships."""

SURNAMES = tuple(
    "张王李刘陈杨赵黄周吴徐孙胡朱高何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
    "潘田姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺"
)
VILLAGE_NAMES = (
    "东湖村",
    "西岗村",
    "双顶村",
    "小河台村",
    "太平村",
    "长岭村",
    "王家村",
    "李家屯",
    "卡伦村",
    "兴隆村",
    "永安村",
    "民主村",
    "和平村",
    "红旗村",
    "东风村",
    "前进村",
    "光明村",
    "胜利村",
    "团结村",
    "友谊村",
    "向阳村",
    "富强村",
    "新农村",
    "四家子村",
    "五里堡村",
    "腰站村",
    "北沟村",
    "南岭村",
    "大房身村",
    "小南沟村",
    "靠山屯",
    "柳条沟村",
    "榆树沟村",
    "三道村",
)

CONIFERS = ("红松", "樟子松", "落叶松")
BROADLEAVES = ("蒙古栎", "白桦", "杨树")
CROWN_SPECIES_CYCLE = ("红松", "落叶松", "樟子松", "蒙古栎", "落叶松", "红松", "樟子松", "落叶松")
"""Species forced on the stands under the 0.5 m crown scene, in order of stand id."""


def rng_for(seed: int, part: str) -> np.random.Generator:
    """Return an independent generator for one part of the scene (stable across edits)."""
    return np.random.default_rng([seed, zlib.crc32(part.encode())])


def frame_of(data: Mapping[str, Any], geoms: Any) -> gpd.GeoDataFrame:
    """Return a GeoDataFrame of ``data`` and ``geoms`` in the working CRS."""
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms), crs=WORKING_CRS)


def scene_box() -> shapely.Polygon:
    """Return the scene extent as a polygon."""
    return shapely.box(*BOUNDS)


def make_districts() -> gpd.GeoDataFrame:
    """Return three districts (南关区, 二道区, 净月区) that tile the scene exactly."""
    x0, y0, x1, y1 = BOUNDS
    p1, p2, p3 = (x0, 4_853_000.0), (453_500.0, 4_852_700.0), (455_400.0, 4_853_600.0)
    p4, p5 = (455_600.0, 4_855_600.0), (455_500.0, y1)
    p6, p7 = (458_300.0, 4_855_300.0), (x1, 4_855_800.0)
    rings = (
        ((x0, y1), p5, p4, p3, p2, p1),
        (p5, (x1, y1), p7, p6, p4),
        (p1, p2, p3, p4, p6, p7, (x1, y0), (x0, y0)),
    )
    data = {
        "行政区": [d[0] for d in DISTRICTS],
        "XZQDM": [d[1] for d in DISTRICTS],
    }
    return frame_of(data, [shapely.Polygon(r) for r in rings])


def _voronoi(points: NDArray[np.float64], clip: shapely.Geometry) -> NDArray[np.object_]:
    """Return the Voronoi cells of ``points`` clipped to ``clip``, in the order of the points."""
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points), extend_to=clip))
    pts = shapely.points(points)
    order = np.empty(len(points), dtype=int)
    for i, cell in enumerate(cells):
        order[np.flatnonzero(shapely.contains(cell, pts))[0]] = i
    return np.asarray(shapely.intersection(cells[order], clip))


def _jittered_grid(
    rng: np.random.Generator, step: float, jitter: float
) -> tuple[NDArray[np.float64], NDArray[np.int_], NDArray[np.int_]]:
    x0, y0, x1, y1 = BOUNDS
    xs = np.arange(x0 + step / 2, x1, step)
    ys = np.arange(y1 - step / 2, y0, -step)
    cols, rows = np.meshgrid(np.arange(len(xs)), np.arange(len(ys)))
    pts = np.column_stack([xs[cols.ravel()], ys[rows.ravel()]])
    pts += rng.uniform(-jitter, jitter, pts.shape)
    return pts, rows.ravel(), cols.ravel()


def _merge_slivers(pieces: NDArray[np.object_], min_m2: float = 20_000.0) -> list[Any]:
    """Return the pieces; a sliver under ``min_m2`` joins the neighbour it shares most with."""
    parts = [g for g in pieces if not g.is_empty and g.area > 0]
    big = [g for g in parts if g.area >= min_m2]
    for sliver in (g for g in parts if g.area < min_m2):
        shared = [shapely.length(shapely.intersection(sliver.boundary, g.boundary)) for g in big]
        k = int(np.argmax(shared))
        big[k] = shapely.union(big[k], sliver)
    return big


def make_forest_chief_zones(seed: int, districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return village-level 林长责任区 tiling the scene, each inside one district.

    Each zone names its village forest chief (``林长``, level ``村``) and the township and
    county chiefs above it (``乡级林长``, ``县级林长``).
    """
    rng = rng_for(seed, "chiefs")
    pts, _, _ = _jittered_grid(rng, 2_400.0, 700.0)
    cells = _voronoi(pts, scene_box())
    rows = []
    for d_idx, (name, code, towns) in enumerate(DISTRICTS):
        dist = districts.geometry.iloc[d_idx]
        parts = _merge_slivers(shapely.intersection(cells, dist))
        parts.sort(key=lambda g: (g.centroid.x, -g.centroid.y))
        for k, geom in enumerate(parts):
            town = towns[min(k * len(towns) // len(parts), len(towns) - 1)][0]
            rows.append((name, code, town, geom))
    surnames = rng.permutation(SURNAMES)
    n = len(rows)
    towns_all = sorted({r[2] for r in rows})
    town_chief = {t: f"{surnames[n + i]}林长" for i, t in enumerate(towns_all)}
    county_chief = {
        d[0]: f"{surnames[n + len(towns_all) + i]}林长" for i, d in enumerate(DISTRICTS)
    }
    data = {
        "ZRQBH": [f"ZRQ{i + 1:03d}" for i in range(n)],
        "村": list(VILLAGE_NAMES[:n]),
        "乡镇": [r[2] for r in rows],
        "行政区": [r[0] for r in rows],
        "XIAN": [r[1] for r in rows],
        "林长": [f"{surnames[i]}林长" for i in range(n)],
        "林长级别": ["村"] * n,
        "乡级林长": [town_chief[r[2]] for r in rows],
        "县级林长": [county_chief[r[0]] for r in rows],
    }
    return frame_of(data, [r[3] for r in rows])


def lake_polygon() -> shapely.Polygon:
    """Return 净月潭 as an irregular crescent-like polygon (about 1.9 km × 0.8 km)."""
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    r = 1.0 + 0.18 * np.sin(3 * t) + 0.08 * np.cos(5 * t)
    x = LAKE_CENTRE[0] + 950 * r * np.cos(t)
    y = LAKE_CENTRE[1] + 420 * r * np.sin(t) + 180 * np.cos(t) ** 2
    return shapely.Polygon(np.column_stack([x, y]))


def protected_polygon() -> shapely.Polygon:
    """Return 净月潭国家森林公园 (synthetic outline around the lake and its forest)."""
    return shapely.Polygon(
        [
            (454_300, 4_849_000),
            (458_200, 4_848_700),
            (459_500, 4_850_200),
            (459_700, 4_853_600),
            (458_400, 4_854_900),
            (455_200, 4_854_800),
            (454_000, 4_853_000),
        ]
    )


def _land_zone(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.str_]:
    """Return the land-use zone (water, built, crop, forest) at each point."""
    lake = shapely.contains_xy(lake_polygon(), x, y)
    built = (y > BUILT_Y) & (x < BUILT_X_MAX)
    crop = (x > 459_900) | (y < 4_848_500) | ((y > BUILT_Y) & ~built)
    return np.select([lake, built, crop], ["water", "built", "crop"], "forest")


def _species(rng: np.random.Generator, n: int) -> NDArray[np.str_]:
    species = np.array(CONIFERS + BROADLEAVES)
    return np.asarray(rng.choice(species, n, p=[0.2, 0.2, 0.25, 0.15, 0.1, 0.1]))


def _land_classes(
    rng: np.random.Generator, zone: NDArray[np.str_]
) -> tuple[NDArray[np.str_], NDArray[np.str_]]:
    """Return (地类, 优势树种) per stand from its land-use zone."""
    n = len(zone)
    u = rng.uniform(size=n)
    forest = (zone == "forest") | ((zone == "crop") & (u < 0.12)) | ((zone == "built") & (u < 0.06))
    land = np.select(
        [forest & (u > 0.9), forest, zone == "water", zone == "built"],
        ["宜林地", "乔木林地", "水域", "建设用地"],
        "耕地",
    )
    species = np.where(land == "乔木林地", _species(rng, n), "")
    return land, species


def _force_crown_window(
    cells: NDArray[np.object_], land: NDArray[np.str_], species: NDArray[np.str_]
) -> None:
    """Make every stand under the 0.5 m crown scene a forest stand of a cycled species."""
    under = np.flatnonzero(shapely.intersects(cells, shapely.box(*CROWN_WINDOW)))
    for k, i in enumerate(under):
        land[i] = "乔木林地"
        species[i] = CROWN_SPECIES_CYCLE[k % len(CROWN_SPECIES_CYCLE)]


def _attributes_by_zone(geoms: NDArray[np.object_], zones: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the zone row (village, township, county, chief) holding each geometry's point."""
    pts = gpd.GeoDataFrame(geometry=shapely.point_on_surface(geoms), crs=WORKING_CRS)
    joined = gpd.sjoin(pts, zones, how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]
    return joined.drop(columns=["geometry", "index_right"]).reset_index(drop=True)


def make_subcompartments(seed: int, zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return about 550 森林资源小班 tiling the scene, with GBK-safe Chinese field names.

    Fields: 标识码 (unique, ``林班-小班``), 县, 行政区, 乡镇, 村, 林班, 小班, 地类, 优势树种, 起源,
    公益林, 保护等级, 郁闭度, 林长, 面积 (公顷). Every field name fits 10 bytes in GBK.
    """
    rng = rng_for(seed, "subcompartments")
    pts, rows, cols = _jittered_grid(rng, 440.0, 150.0)
    cells = _voronoi(pts, scene_box())
    cent = shapely.centroid(cells)
    land, species = _land_classes(rng, _land_zone(shapely.get_x(cent), shapely.get_y(cent)))
    _force_crown_window(cells, land, species)
    n = len(cells)
    lin_ban = (rows // 3) * (cols.max() // 3 + 1) + cols // 3 + 1
    xiao_ban = (rows % 3) * 3 + cols % 3 + 1
    conifer = np.isin(species, CONIFERS)
    origin = np.where(rng.uniform(size=n) < np.where(conifer, 0.9, 0.2), "人工", "天然")
    inside = shapely.contains(protected_polygon(), cent)
    gyl = _public_welfare(rng, inside, np.isin(land, ("乔木林地", "宜林地")))
    where = _attributes_by_zone(cells, zones)
    data = {
        "标识码": [f"{a:03d}-{b:02d}" for a, b in zip(lin_ban, xiao_ban, strict=True)],
        "县": where["XIAN"].to_numpy(),
        "行政区": where["行政区"].to_numpy(),
        "乡镇": where["乡镇"].to_numpy(),
        "村": where["村"].to_numpy(),
        "林班": [f"{a:03d}" for a in lin_ban],
        "小班": [f"{b:02d}" for b in xiao_ban],
        "地类": land,
        "优势树种": species,
        "起源": np.where(land == "乔木林地", origin, ""),
        "公益林": gyl,
        "保护等级": np.select(
            [gyl == "国家一级", gyl == "国家二级", gyl == "地方公益林", gyl == "商品林"],
            ["I", "II", "III", "IV"],
            "",
        ),
        "郁闭度": np.where(land == "乔木林地", rng.uniform(0.55, 0.9, n).round(2), 0.0),
        "林长": where["林长"].to_numpy(),
    }
    frame = frame_of(data, cells)
    frame["面积"] = area_ha(frame).round(4)
    return frame


def _public_welfare(
    rng: np.random.Generator, inside: NDArray[np.bool_], forest: NDArray[np.bool_]
) -> NDArray[np.str_]:
    u = rng.uniform(size=len(inside))
    level = np.where(
        inside,
        np.where(u < 0.35, "国家一级", "国家二级"),
        np.where(u < 0.35, "地方公益林", "商品林"),
    )
    return np.where(forest, level, "")


def make_protected_areas() -> gpd.GeoDataFrame:
    """Return the protected area layer: 净月潭国家森林公园 (synthetic outline)."""
    data = {"名称": ["净月潭国家森林公园"], "类型": ["森林公园"], "级别": ["国家级"]}
    return frame_of(data, [protected_polygon()])


def make_fire_zones() -> gpd.GeoDataFrame:
    """Return two 森林防火重点区域: the forest park (一级) and the western forest belt (二级)."""
    first = protected_polygon().buffer(-150.0)
    west = shapely.box(BOUNDS[0], 4_848_500.0, 454_200.0, BUILT_Y).difference(first)
    data = {
        "区域名称": ["净月潭森林防火重点区", "玉潭西部林区"],
        "防火等级": ["一级", "二级"],
        "行政区": ["净月区", "南关区"],
    }
    return frame_of(data, [first, west])


def with_district(frame: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return ``frame`` with a ``行政区`` column: the district holding each feature's point."""
    pts = gpd.GeoDataFrame(geometry=frame.geometry.representative_point(), crs=frame.crs)
    joined = gpd.sjoin(pts, districts[["行政区", "geometry"]], how="left", predicate="within")
    out = frame.copy()
    out["行政区"] = joined[~joined.index.duplicated()]["行政区"].to_numpy()
    return out
