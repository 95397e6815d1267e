"""The demo's change patches (督查图斑), permits and clouds, with the truth for each patch.

Each patch is planted from a :class:`Scenario`: where it lies (land class), what really changed
on the ground between the two image dates (the cover painted into the after image), what the
interpreter called it (判读变化原因 1-7), and the verdict a careful check should reach. Clouds
and cloud shadows of the after date are planned here too, as discs, so that the patches they
are meant to touch are touched and no other patch is.

The truth's ``legality`` is the verdict expected from the data as delivered:
``needs_field_check`` for patches hidden under cloud on the after date (``hidden_by_cloud``),
even though ``is_real_change`` and ``change_type`` still say what truly happened there, and for
the false changes from cloud and shadow (``false_cloud``, ``false_shadow``): the part of them
that is seen is unchanged, but the part under the cloud or shadow is not seen, and 无变化 needs
the whole patch seen (issue 16) — they are 伪变化 (``is_real_change`` false, code 93) that a
field check confirms.
``verified_cause_code`` is the national 核实变化原因 code: 93 其它调查因素 for false changes
from cloud, shadow and for changes on land that is not forest land, 92 错划 for the
phenology/illumination ones (the interpreter drew a change that is not there).

Truth columns (``DemoScene.truth["patches"]``, ``truth/patches_truth.csv``): ``patch_id``
(= TBBH, text), ``scenario`` (a :data:`SCENARIOS` key), ``interp_cause``, ``is_real_change``,
``change_type``, ``legality``, ``verified_cause_code``, ``hidden_by_cloud``, ``after_cover``
(what the ground became; empty when nothing changed), ``land_class``, ``species``,
``stand_id`` (the subcompartment's 标识码), ``in_protected``, ``permit_ids`` (审批文号 of the
permit planted for it), ``permit_kind`` (``cutting_valid``, ``cutting_expired``,
``cutting_partial``, ``landuse_valid``, ``landuse_expired`` or empty), and, measured on the
written SCL, ``cloud_frac_after`` and ``shadow_frac_after`` (share of the patch's pixels).

Examples
--------
>>> sum(s.count for s in SCENARIOS) >= 60
True
>>> sorted({c for s in SCENARIOS for c in s.interp_causes})
[1, 2, 3, 4, 5, 6, 7]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gis.crs import WORKING_CRS
from gis.demo import permits
from gis.demo.scene import BROADLEAVES, CONIFERS, CROWN_WINDOW, rng_for
from gis.errors import GisError
from gis.units import area_ha

IMAGE_DATE_BEFORE = "20250905"
IMAGE_DATE_AFTER = "20260918"
BATCH = "2026年第1期"
SHADOW_OFFSET = (-150.0, 250.0)
"""Where a cloud's shadow lies relative to the cloud (metres east, north): sun from the SSE."""
CLOUD_R = 170.0
HIDE_R = 230.0
PATCH_R = (55.0, 90.0)
MIN_SPACING = 420.0


@dataclass(frozen=True)
class Scenario:
    """One kind of planted patch and the verdict expected for it."""

    key: str
    count: int
    interp_causes: tuple[int, ...]
    land: str
    after_cover: str | None
    is_real_change: bool
    change_type: str
    legality: str
    verified_cause_code: int
    permit: str | None = None
    cloud: str | None = None


SCENARIOS = (
    Scenario(
        "logging_permitted",
        6,
        (1,),
        "conifer",
        "slash",
        True,
        "logging",
        "permitted",
        20,
        "cutting_valid",
    ),
    Scenario(
        "logging_expired_permit",
        4,
        (1,),
        "forest",
        "slash",
        True,
        "logging",
        "suspected_illegal",
        20,
        "cutting_expired",
    ),
    Scenario(
        "logging_beyond_permit",
        3,
        (1,),
        "conifer",
        "slash",
        True,
        "logging",
        "suspected_illegal",
        20,
        "cutting_partial",
    ),
    Scenario(
        "logging_no_permit", 5, (1,), "forest", "slash", True, "logging", "suspected_illegal", 20
    ),
    Scenario(
        "construction_permitted",
        4,
        (2,),
        "forest",
        "site",
        True,
        "construction",
        "permitted",
        41,
        "landuse_valid",
    ),
    Scenario(
        "construction_no_permit",
        5,
        (2,),
        "forest",
        "site",
        True,
        "construction",
        "suspected_illegal",
        42,
    ),
    Scenario(
        "construction_expired_permit",
        2,
        (2,),
        "forest",
        "site",
        True,
        "construction",
        "suspected_illegal",
        42,
        "landuse_expired",
    ),
    Scenario(
        "cultivation", 5, (3,), "forest", "tilled", True, "cultivation", "suspected_illegal", 50
    ),
    Scenario("fire", 4, (4,), "conifer", "burned", True, "disaster", "lawful_no_permit", 71),
    Scenario(
        "afforestation",
        5,
        (5,),
        "plantable",
        "young",
        True,
        "afforestation",
        "lawful_no_permit",
        11,
    ),
    Scenario(
        "other_loss", 3, (6,), "forest", "dieback", True, "other_loss", "lawful_no_permit", 73
    ),
    Scenario(
        "other_gain", 3, (7,), "plantable", "young", True, "other_gain", "lawful_no_permit", 82
    ),
    Scenario(
        "not_forest_land", 4, (2,), "cropland", "site", True, "construction", "not_forest_land", 93
    ),
    Scenario(
        "false_cloud",
        5,
        (2, 1, 6, 2, 1),
        "forest",
        None,
        False,
        "none",
        "needs_field_check",
        93,
        cloud="edge",
    ),
    Scenario(
        "false_shadow",
        4,
        (4, 6, 1, 4),
        "forest",
        None,
        False,
        "none",
        "needs_field_check",
        93,
        cloud="shadow",
    ),
    Scenario(
        "false_phenology", 5, (6, 4, 6, 3, 6), "broadleaf", None, False, "none", "no_change", 92
    ),
    Scenario(
        "hidden_logging",
        2,
        (1,),
        "forest",
        "slash",
        True,
        "logging",
        "needs_field_check",
        20,
        cloud="hide",
    ),
    Scenario(
        "hidden_construction",
        1,
        (2,),
        "forest",
        "site",
        True,
        "construction",
        "needs_field_check",
        42,
        cloud="hide",
    ),
    Scenario(
        "hidden_no_change",
        1,
        (6,),
        "forest",
        None,
        False,
        "none",
        "needs_field_check",
        93,
        cloud="hide",
    ),
)
"""The planted patch kinds, in planting order (cloud-linked ones are placed first)."""


@dataclass(frozen=True)
class Disc:
    """A circular cloud, cloud shadow or cirrus sheet on the after date (metres, EPSG:4551)."""

    x: float
    y: float
    r: float
    kind: str  # "cloud", "shadow" or "cirrus"


@dataclass
class _Placement:
    centres: list[tuple[float, float]] = field(default_factory=list)
    discs: list[Disc] = field(default_factory=list)


@dataclass
class PatchPlan:
    """Everything planted about the change patches.

    Attributes
    ----------
    patches : GeoDataFrame
        The delivery, with national field names (TBBH, XIAN, XIANG, CUN, 期, QQYXSJ, HQYXSJ,
        MIAN_JI, PAN_BHYY).
    truth : DataFrame
        One row per patch (see the module docstring).
    permits : GeoDataFrame
        审核审批 and 采伐许可 polygons in the working CRS (written in EPSG:4530).
    discs : list of Disc
        Clouds, their shadows and a cirrus sheet on the after date.
    """

    patches: gpd.GeoDataFrame
    truth: pd.DataFrame
    permits: gpd.GeoDataFrame
    discs: list[Disc]


def _candidates(stands: gpd.GeoDataFrame, land: str) -> NDArray[np.int_]:
    lc, sp = stands["地类"].to_numpy(), stands["优势树种"].to_numpy()
    masks = {
        "forest": lc == "乔木林地",
        "conifer": (lc == "乔木林地") & np.isin(sp, CONIFERS),
        "broadleaf": (lc == "乔木林地") & np.isin(sp, BROADLEAVES),
        "plantable": lc == "宜林地",
        "cropland": lc == "耕地",
    }
    far = ~shapely.intersects(stands.geometry.to_numpy(), shapely.box(*CROWN_WINDOW).buffer(150.0))
    return np.flatnonzero(masks[land] & far)


def _blob(rng: np.random.Generator, x: float, y: float, r: float) -> shapely.Polygon:
    t = np.linspace(0, 2 * np.pi, 14, endpoint=False) + rng.uniform(0, 0.4)
    rr = r * (1 + rng.uniform(-0.22, 0.22, t.size))
    return shapely.Polygon(np.column_stack([x + rr * np.cos(t), y + rr * np.sin(t)]))


def _cloud_discs(
    rng: np.random.Generator, x: float, y: float, mode: str | None
) -> tuple[list[Disc], list[Disc]]:
    """Return (discs meant to touch the patch, discs that must touch no patch)."""
    if mode is None:
        return [], []
    a = rng.uniform(0, 2 * np.pi)
    u = np.array([np.cos(a), np.sin(a)])
    off = np.array(SHADOW_OFFSET)
    if mode == "hide":
        return [Disc(x, y, HIDE_R, "cloud"), Disc(x + off[0], y + off[1], HIDE_R, "shadow")], []
    # the masked edge passes ~15 m short of the centre (shadows: ~5 m beyond, as the
    # misregistration moves them away from the patch)
    tx, ty = (
        float(v) for v in np.array([x, y]) + u * (CLOUD_R + (10.0 if mode == "edge" else -10.0))
    )
    if mode == "edge":
        return [Disc(tx, ty, CLOUD_R, "cloud")], [Disc(tx + off[0], ty + off[1], CLOUD_R, "shadow")]
    return [Disc(tx, ty, CLOUD_R, "shadow")], [Disc(tx - off[0], ty - off[1], CLOUD_R, "cloud")]


def _discs_clear(discs: list[Disc], state: _Placement) -> bool:
    """Whether no disc comes near any placed patch."""
    c = np.array(state.centres).reshape(-1, 2)
    margin = PATCH_R[1] * 1.25 + 60.0
    return all(
        not len(c) or np.min(np.hypot(c[:, 0] - d.x, c[:, 1] - d.y)) >= d.r + margin for d in discs
    )


def _fits(x: float, y: float, own: list[Disc], other: list[Disc], state: _Placement) -> bool:
    """Whether a patch at (x, y) with its discs keeps clear of every other patch and disc."""
    c = np.array(state.centres).reshape(-1, 2)
    if len(c) and np.min(np.hypot(c[:, 0] - x, c[:, 1] - y)) < MIN_SPACING:
        return False
    margin = PATCH_R[1] * 1.25 + 60.0
    if any(np.hypot(d.x - x, d.y - y) < d.r + margin for d in state.discs + other):
        return False
    return _discs_clear(own + other, state)


def _place_one(
    rng: np.random.Generator,
    stands: gpd.GeoDataFrame,
    scenario: Scenario,
    state: _Placement,
) -> tuple[shapely.Polygon, int]:
    """Place one patch of ``scenario`` inside a suitable stand; return (polygon, stand row)."""
    cand = _candidates(stands, scenario.land)
    geoms = stands.geometry.to_numpy()
    for _ in range(400):
        i = int(rng.choice(cand))
        inner = geoms[i].buffer(-35.0)
        if inner.is_empty:
            continue
        x0, y0, x1, y1 = inner.bounds
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if not inner.contains(shapely.Point(x, y)):
            continue
        blob = _blob(rng, x, y, rng.uniform(*PATCH_R))
        poly = blob.intersection(geoms[i].buffer(-10.0))
        if poly.geom_type != "Polygon" or poly.area < 0.75 * blob.area:
            continue
        x, y = poly.centroid.x, poly.centroid.y
        own, other = _cloud_discs(rng, x, y, scenario.cloud)
        if not _fits(x, y, own, other, state):
            continue
        state.centres.append((x, y))
        state.discs.extend(own + other)
        return poly, i
    raise GisError(
        f"demo scene: could not place a {scenario.key} patch; change the seed",
        zh=f"示例场景：无法放置 {scenario.key} 图斑；请换一个随机种子（--seed）",
    )


def _free_clouds(rng: np.random.Generator, state: _Placement) -> None:
    """Add three clouds (with their shadows) away from every patch."""
    x0, y0, x1, y1 = 452_500.0, 4_848_200.0, 460_500.0, 4_857_600.0
    added = 0
    for _ in range(2_000):
        if added == 3:
            return
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        other = [
            Disc(x, y, 260.0, "cloud"),
            Disc(x + SHADOW_OFFSET[0], y + SHADOW_OFFSET[1], 260.0, "shadow"),
        ]
        if _discs_clear(other, state) and not shapely.box(*CROWN_WINDOW).intersects(
            shapely.Point(x, y).buffer(600)
        ):
            state.discs.extend(other)
            added += 1
    raise GisError(
        "demo scene: could not place the free clouds; change the seed",
        zh="示例场景：无法放置独立的云；请换一个随机种子（--seed）",
    )


def _planned_patches(
    seed: int, stands: gpd.GeoDataFrame
) -> tuple[list[tuple[Scenario, shapely.Polygon, int, int]], list[Disc]]:
    """Place every scenario's patches; return (scenario, polygon, stand row, cause), discs."""
    rng = rng_for(seed, "patches")
    state = _Placement(discs=[Disc(460_400.0, 4_848_300.0, 550.0, "cirrus")])
    ordered = sorted(SCENARIOS, key=lambda s: s.cloud is None)
    placed = []
    for k, scenario in enumerate(ordered):
        if k and scenario.cloud is None and ordered[k - 1].cloud is not None:
            _free_clouds(rng, state)
        for j in range(scenario.count):
            poly, row = _place_one(rng, stands, scenario, state)
            cause = scenario.interp_causes[j % len(scenario.interp_causes)]
            placed.append((scenario, poly, row, cause))
    return placed, state.discs


def plan_patches(seed: int, stands: gpd.GeoDataFrame, protected: shapely.Geometry) -> PatchPlan:
    """Plant the change patches, their permits and the after-date clouds.

    Parameters
    ----------
    seed : int
        Scene seed.
    stands : GeoDataFrame
        The subcompartments from :func:`gis.demo.scene.make_subcompartments`.
    protected : shapely geometry
        The protected area (for the ``in_protected`` truth column).

    Returns
    -------
    PatchPlan
    """
    rng = rng_for(seed, "permits")
    placed, discs = _planned_patches(seed, stands)
    order = rng_for(seed, "patch-ids").permutation(len(placed))
    ids = [f"{k + 1:04d}" for k in np.argsort(order)]
    permit_rows: list[tuple[Any, str, tuple[str, str], str]] = []
    permit_of: dict[int, int] = {}
    for k, (scenario, poly, row, _) in enumerate(placed):
        if scenario.permit:
            shape, kind_zh, dates = permits.permit_shape(rng, poly, scenario.permit)
            permit_of[k] = len(permit_rows)
            permit_rows.append((shape, kind_zh, dates, stands["县"].iloc[row]))
    used = {p[2] for p in placed}
    free = [int(i) for i in _candidates(stands, "forest") if i not in used]
    permit_rows.extend(permits.distractor_permits(stands, free))
    permit_frame, numbers = permits.permits_frame(permit_rows)
    patches = _delivery(rng, stands, placed, ids)
    truth = _truth(stands, placed, ids, permit_of, numbers, protected)
    return PatchPlan(patches, truth, permit_frame, discs)


def _delivery(
    rng: np.random.Generator, stands: gpd.GeoDataFrame, placed: list, ids: list[str]
) -> gpd.GeoDataFrame:
    rows = [p[2] for p in placed]
    geoms = [p[1] for p in placed]
    frame = gpd.GeoDataFrame(
        {
            "TBBH": ids,
            "XIAN": stands["县"].to_numpy()[rows],
            "XIANG": stands["乡镇"].to_numpy()[rows],
            "CUN": stands["村"].to_numpy()[rows],
            "期": [BATCH] * len(placed),
            "QQYXSJ": [IMAGE_DATE_BEFORE] * len(placed),
            "HQYXSJ": [IMAGE_DATE_AFTER] * len(placed),
            "PAN_BHYY": np.array([p[3] for p in placed], dtype="int32"),
        },
        geometry=geoms,
        crs=WORKING_CRS,
    )
    # the interpreter's area: measured on the drawn polygon, rounded as in deliveries
    frame["MIAN_JI"] = (area_ha(frame) * rng.uniform(0.97, 1.03, len(frame))).round(2)
    return frame.sort_values("TBBH", ignore_index=True)


def _truth(
    stands: gpd.GeoDataFrame,
    placed: list,
    ids: list[str],
    permit_of: dict[int, int],
    numbers: list[str],
    protected: shapely.Geometry,
) -> pd.DataFrame:
    sc = [p[0] for p in placed]
    rows = [p[2] for p in placed]
    geoms = np.array([p[1] for p in placed], dtype=object)
    land = stands["地类"].to_numpy()[rows]
    truth = pd.DataFrame(
        {
            "patch_id": ids,
            "scenario": [s.key for s in sc],
            "interp_cause": [p[3] for p in placed],
            "is_real_change": [s.is_real_change for s in sc],
            "change_type": [s.change_type for s in sc],
            "legality": [s.legality for s in sc],
            "verified_cause_code": np.array([s.verified_cause_code for s in sc], dtype="int32"),
            "hidden_by_cloud": [s.cloud == "hide" for s in sc],
            "after_cover": [s.after_cover or "" for s in sc],
            "land_class": land,
            "species": stands["优势树种"].to_numpy()[rows],
            "stand_id": stands["标识码"].to_numpy()[rows],
            "in_protected": shapely.intersects(geoms, protected),
            "permit_ids": [numbers[permit_of[k]] if k in permit_of else "" for k in range(len(sc))],
            "permit_kind": [s.permit or "" for s in sc],
        }
    )
    return truth.sort_values("patch_id", ignore_index=True)
