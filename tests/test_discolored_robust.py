"""Discolored trees on robustness scenes (gis.demo.crown_suite) with the DEFAULT host list.

The fast subset of ``scripts/eval_discolored_robust.py``: two seeds, four scenes each
(summer/autumn x multispectral/RGB), larch included as a host as the catalog says.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import rasterio

from gis.checks.discolored import detect_discolored, load_discolored_rules
from gis.checks.discolored.autumn import (
    autumn_rgb_decoys,
    colour_population,
    colour_stands,
    parse_composition,
)
from gis.checks.discolored.baselines import HIST_BINS, Baselines
from gis.checks.discolored.detect import with_rules
from gis.checks.discolored.neighbours import crown_nir, nir_lost, with_crown_cut
from gis.checks.discolored.pixels import CrownRules, shape_scores
from gis.checks.discolored.season import date_in_window, image_date_of, parse_date, with_turning
from gis.demo.crown_suite import build_case, score_case, suite_cases
from gis.errors import RulesError
from gis.findings import Findings
from gis.raster import raster_source
from tests.test_discolored_canopy_baseline import larch_stand_with_a_dead_pine


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("suite")
    return [score_case(build_case(c, folder)) for c in suite_cases([0, 1])]


def _pooled(rows, **where):
    sel = [r for r in rows if all(r[k] == v for k, v in where.items())]
    points = sum(r["points"] for r in sel)
    planted = sum(r["planted"] for r in sel)
    return sum(r["true_points"] for r in sel) / max(points, 1), sum(r["found"] for r in sel) / max(
        planted, 1
    )


def test_multispectral_floors_with_default_hosts(scored):
    for season in ("summer", "autumn"):
        precision, recall = _pooled(scored, sensor="ms", season=season)
        assert precision >= 0.90, (season, precision)
        assert recall >= 0.80, (season, recall)
        assert recall >= 0.90, (season, recall)  # with the neighbouring-crowns test (#16)


def test_neighbouring_crowns_find_pines_the_dry_grass_hides(tmp_path):
    case = next(c for c in suite_cases([3]) if c.season == "autumn" and c.sensor == "ms")
    built = build_case(case, tmp_path)
    off = with_rules(load_discolored_rules(), z_ndvi_loss=1e9)  # no NDVI-test candidates
    on, without = score_case(built), score_case(built, rules=off)
    assert on["found"] > without["found"], (on, without)
    assert on["points"] - on["true_points"] <= without["points"] - without["true_points"]


def test_crown_cut_and_neighbours_nir():
    hist = np.zeros((6, HIST_BINS), dtype=np.int64)
    ndvi_bins = ((np.array([0.5] * 80 + [0.8] * 20) + 1) / 2 * HIST_BINS).astype(int)
    np.add.at(hist[1], ndvi_bins, 1)  # 80 % grass at NDVI 0.5, 20 % crowns at 0.8
    base = with_crown_cut(_base([np.nan, 0.2]), {1: hist}, CrownRules())
    assert 0.5 < base.crown_ndvi[1] <= 0.81
    ndvi = np.full((9, 9), 0.5, dtype=np.float32)
    ndvi[:, 6:] = 0.82  # crowns to the east
    values = np.stack([np.full((9, 9), 0.07, "f4"), np.where(ndvi > 0.6, 0.3, 0.24)]).astype("f4")
    stands = np.ones((9, 9), dtype=np.uint16)
    ref = crown_nir(values, ("R", "NIR"), ndvi, np.ones((9, 9), bool), stands, base,
                    (np.array([4, 4]), np.array([1, 1])), half=5)  # fmt: skip
    assert ref[0] == pytest.approx(0.3)  # the crowns' NIR, not the grass's
    assert np.isnan(crown_nir(values, ("R", "NIR"), ndvi, np.ones((9, 9), bool), stands, base,
                              (np.array([4]), np.array([1])), half=2))[0]  # fmt: skip
    assert nir_lost(np.array([0.2, 0.28]), ref, CrownRules(autumn=True)).tolist() == [True, False]


def test_rgb_summer_floor(scored):
    precision, recall = _pooled(scored, sensor="rgb", season="summer")
    assert precision >= 0.80 and recall >= 0.90, (precision, recall)
    assert precision >= 0.90, precision  # shaded bare ground dropped by its B/R (#16)


def test_autumn_date_turns_larch_stands(tmp_path):
    case = next(c for c in suite_cases([2]) if c.season == "autumn" and c.sensor == "ms")
    built = build_case(case, tmp_path)
    assert image_date_of(raster_source(built.image, bands=built.roles)) == "2026-10-05"
    with_date = score_case(built)
    summer = score_case(built, image_date="2026-07-25")
    assert (
        with_date["points"] - with_date["true_points"] <= summer["points"] - summer["true_points"]
    )
    assert with_date["true_points"] / max(with_date["points"], 1) >= 0.9, with_date


def test_season_helpers():
    assert parse_date("2026:10:05 10:30:00") == "2026-10-05"
    assert parse_date("2026-13-05") is None and parse_date(None) is None
    assert date_in_window("2026-09-01", ("09-01", "11-15"))
    assert not date_in_window("2026-11-16", ("09-01", "11-15"))
    assert date_in_window("2027-01-10", ("12-01", "02-15"))  # a window across the new year
    assert not date_in_window(None, ("09-01", "11-15"))


def test_date_tag_order(tmp_path):
    path = tmp_path / "t.tif"
    profile = {
        "driver": "GTiff",
        "width": 8,
        "height": 8,
        "count": 3,
        "dtype": "uint16",
        "crs": "EPSG:4551",
        "transform": rasterio.Affine(0.1, 0, 5e5, 0, -0.1, 4.8e6),
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.ones((3, 8, 8), "uint16"))
        ds.update_tags(TIFFTAG_DATETIME="2026:05:01 09:00:00", ACQUISITIONDATETIME="2026-10-02")
    assert image_date_of(raster_source(path, bands="B,G,R")) == "2026-10-02"


def _base(med_grvi, pooled=None):
    n = len(med_grvi)
    arr = np.asarray(med_grvi, dtype=float)
    ones = np.ones(n)
    return Baselines(
        arr,
        ones * 0.05,
        ones * 0.7,
        ones * 0.05,
        ones,
        ones,
        ones,
        ones,
        np.full(n, 1000),
        np.zeros(n, bool) if pooled is None else pooled,
    )


def test_stand_wide_shift_marks_turning_whatever_the_date():
    base = with_turning(_base([np.nan, 0.22, 0.2, 0.21, 0.02]), np.zeros(5, bool), CrownRules())
    assert base.turning.tolist() == [False, False, False, False, True]
    by_date = np.array([False, True, False, False, False])
    assert with_turning(_base([np.nan, 0.2, 0.2]), by_date, CrownRules()).turning[1]


def test_turning_stand_needs_nir_loss():
    rules = CrownRules(autumn=True)
    base = {"med_grvi": 0.2, "sig_grvi": 0.05, "med_ndvi": 0.7, "sig_ndvi": 0.05,
            "green": 0.07, "nir": 0.3, "turning": np.array([True, True, False])}  # fmt: skip
    nir = np.array([0.25, 0.15, 0.2])  # orange larch, dead larch, early-dying pine
    sc = shape_scores(np.full(3, -0.1), np.full(3, 0.3), np.full(3, 0.08), nir, base, rules)
    assert sc["decoy"].tolist() == [True, False, False]
    rgb = shape_scores(np.full(3, -0.1), None, np.full(3, 0.06), None, base, rules)
    assert rgb["decoy"].tolist() == [True, True, False]


def test_rules_season_section(tmp_path):
    rules = load_discolored_rules()
    assert rules.autumn == ("09-01", "11-15") and "落叶松" in rules.deciduous_hosts
    bad = tmp_path / "r.yaml"
    bad.write_text("season:\n  autumn: [9-1]\n", encoding="utf-8")
    with pytest.raises(RulesError, match="MM-DD"):
        load_discolored_rules(bad)
    bad.write_text("season:\n  spring: [03-01, 05-01]\n", encoding="utf-8")
    with pytest.raises(RulesError, match="spring"):
        load_discolored_rules(bad)


def test_autumn_rgb_findings(tmp_path):
    case = next(
        c for c in suite_cases(range(10)) if c.season == "autumn" and c.sensor == "rgb"
        and c.mix != "pine"
    )  # fmt: skip
    built = build_case(case, tmp_path)
    log = Findings()
    res = detect_discolored(
        raster_source(built.image, bands=built.roles), built.stands, findings=log
    )
    assert log.of("autumn_without_nir") and log.of("stands_turning")
    turning = built.stands[built.stands["dominant_species"] == "落叶松"]["stand_id"]
    assert set(turning) <= set(log.of("stands_turning")[0].message.split(": ")[-1].split(", "))
    assert res.points["stand_id"].isin(turning).sum() == 0  # larch stands not screened in RGB
    assert len(res.points) and (res.points["status_note"] == "autumn_colour_rgb").all()
    assert "status_note=autumn_colour_rgb" in log.of("autumn_without_nir")[0].message


def test_autumn_rgb_golden_crowns_in_turning_populations_are_not_points(tmp_path):
    case = next(c for c in suite_cases([10]) if c.season == "autumn" and c.sensor == "rgb")
    assert case.mix == "pine_larch"  # pine stands holding larch crowns that turn together
    built = build_case(case, tmp_path)
    # the golden rule alone, where the stands record no 树种组成 (the population rule off)
    built = replace(built, stands=built.stands.drop(columns="species_composition"))
    golden = with_rules(load_discolored_rules(), autumn_population_z=0.0)
    off = with_rules(golden, autumn_population=10**6, red_brown_rg=99.0)
    on, without = score_case(built, rules=golden), score_case(built, rules=off)
    assert on["points"] - on["true_points"] < without["points"] - without["true_points"]
    assert on["found"] == without["found"], (on, without)


def test_autumn_rgb_colour_population_of_larch_in_pine_stands(tmp_path):
    case = next(c for c in suite_cases([8]) if c.season == "autumn" and c.sensor == "rgb")
    assert case.mix == "pine_larch"  # pine stands holding 5-25 % larch crowns, turning together
    built = build_case(case, tmp_path)
    assert built.stands["species_composition"].str.contains("落叶松").all()
    off = with_rules(load_discolored_rules(), autumn_population_z=0.0)
    on, without = score_case(built), score_case(built, rules=off)
    false_on = on["points"] - on["true_points"]
    false_off = without["points"] - without["true_points"]
    assert false_off >= 10 and false_on <= 0.5 * false_off, (on, without)
    # the diseased crowns of the population's colour go with it: far fewer than the larch
    assert without["found"] - on["found"] <= 0.2 * (false_off - false_on), (on, without)
    # without the 树种组成 field the golden population gates the same stands
    bare = replace(built, stands=built.stands.drop(columns="species_composition"))
    assert score_case(bare)["points"] - score_case(bare)["true_points"] <= 0.5 * false_off


def test_colour_population_is_relative_to_the_stand():
    rng = np.random.default_rng(5)
    larch = np.exp(rng.normal([0.0, 0.2], 0.06, (30, 2)))  # one stage, crown-to-crown spread
    pine = np.array([[0.8, 1.25], [0.78, 1.9], [1.0, 1.22]])  # darker at the hue; red-brown
    colour = np.r_[larch, pine]
    crowns = pd.DataFrame({"stand": 1, "green_ratio": colour[:, 0], "rg_ratio": colour[:, 1]})
    rules = CrownRules(autumn=True)
    base = colour_population(crowns, np.ones(len(crowns), bool), rules)
    assert base[:30].mean() > 0.85 and base[30:].tolist() == [False, False, True]
    # a darker delivery with a per-band stretch (8-bit, gain) moves every crown alike
    shifted = crowns.assign(
        green_ratio=crowns["green_ratio"] * 0.7, rg_ratio=crowns["rg_ratio"] * 1.3
    )
    assert (colour_population(shifted, np.ones(len(crowns), bool), rules) == base).all()
    assert not colour_population(crowns, np.zeros(len(crowns), bool), rules).any()
    assert not colour_population(crowns.iloc[:3], np.ones(3, bool), rules).any()  # too few


def test_species_composition_says_which_stands_colour():
    assert parse_composition("6红松3长白落叶松1白桦") == ("红松", "落叶松", "白桦")
    assert parse_composition("10樟子松+落叶松-蒙古栎") == ("樟子松", "落叶松", "蒙古栎")
    assert parse_composition(None) == () and parse_composition("") == ()
    host = pd.DataFrame(
        {
            "stand_no": [1, 2, 3, 4],
            "species_composition": ["8红松2落叶松", "10红松", None, "9樟子松+柞树"],
        }
    )
    evergreen = load_discolored_rules().evergreen
    assert colour_stands(host, evergreen).tolist() == [-1, 1, 0, -1, 1]
    assert colour_stands(host.drop(columns="species_composition"), evergreen) is None
    # a pure pine stand (10红松) is not screened even with a yellow pair among its candidates,
    # and the pair is no autumn colour either: no deciduous species grows there, so bright
    # yellow-green crowns are early-stage pines (session 7; they were decoys before)
    crowns = pd.DataFrame(
        {
            "stand": [2, 2, 2, 2],
            "green_ratio": [1.2, 1.18, 1.02, 0.95],
            "rg_ratio": [1.0, 1.0, 1.3, 1.2],
            "decoy": [True, True, False, False],
        }
    )
    out = autumn_rgb_decoys(crowns, None, CrownRules(autumn=True), colour_stands(host, evergreen))
    assert out["decoy"].tolist() == [False, False, False, False]
    larch = autumn_rgb_decoys(crowns.assign(stand=1), None, CrownRules(autumn=True),
                              colour_stands(host, evergreen))  # fmt: skip
    assert larch["decoy"].tolist()[:2] == [True, True]  # 8红松2落叶松: yellow larch stay decoys
    fallback = autumn_rgb_decoys(crowns, None, CrownRules(autumn=True))
    # without the field the yellow pair makes a population: the golden crown goes, the
    # crown darker than the population stays
    assert fallback["decoy"].tolist() == [True, True, True, False]


def test_autumn_rgb_red_brown_kept_in_a_stand_turning_as_a_whole(tmp_path):
    # was seed 14, whose pine stand C006 "turned as a whole" only because its soil gaps pulled
    # its median GRVI down (baselines now over pass 2's canopy; the suite's pine stands that
    # still "turn" are mostly bare ground): a larch stand turning golden with a dead pine in it
    built = larch_stand_with_a_dead_pine(tmp_path)
    off = with_rules(load_discolored_rules(), red_brown_rg=99.0)  # turning stands unscreened
    on, without = score_case(built), score_case(built, rules=off)
    assert on["found"] > without["found"], (on, without)
    assert on["points"] == on["true_points"], on


def test_autumn_rgb_pure_pine_stands_keep_their_yellow_green_pines(tmp_path):
    # seed 28, autumn R,G,B at 5 cm, pure pine (树种组成 10红松 / 10樟子松): both discolored
    # pines are early, bright yellow-green crowns; with no deciduous species named nothing
    # there turns golden, so they are points (session 7; before, the yellow rule took them)
    case = next(c for c in suite_cases([28]) if c.season == "autumn" and c.sensor == "rgb")
    built = build_case(case, tmp_path)
    on = score_case(built)
    assert on["found"] == on["planted"] == 2 and on["points"] == on["true_points"], on
    unnamed = replace(built, stands=built.stands.drop(columns="species_composition"))
    assert score_case(unnamed)["found"] < on["found"]  # without 树种组成 the yellow rule stays


def test_autumn_rgb_decoys_population_and_hue():
    rules = CrownRules(autumn=True)
    crowns = pd.DataFrame(
        {"stand": [1, 1, 1, 1, 2, 2, 3], "green_ratio": [1.3, 1.2, 1.02, 0.85, 1.02, 1.25, 0.8],
         "rg_ratio": [1.0, 1.1, 1.3, 1.9, 1.3, 1.0, 1.5], "decoy": [False] * 7}
    )  # fmt: skip
    turning = np.array([False, False, False, True])
    out = autumn_rgb_decoys(crowns, turning, rules)["decoy"].tolist()
    # stand 1: two yellow crowns = a turning population: golden crown out, red-brown kept;
    # stand 2: one yellow crown is no population: the golden-ish crown stays a point;
    # stand 3 turns as a whole: only red-brown would be kept
    assert out == [True, True, True, False, False, True, True]
    assert autumn_rgb_decoys(crowns.iloc[:0], turning, rules).empty


def test_last_autumn_image_marks_crowns_coloured_before(tmp_path):
    case = next(  # seed 1's mixed scene has no false point left since birch turns yellow
        c for c in suite_cases(range(2, 10)) if c.season == "autumn" and c.sensor == "rgb"
        and c.mix == "mixed"
    )  # fmt: skip
    built = build_case(case, tmp_path)
    # against the same screening alone: with --previous the colour-population screen is off
    same = with_rules(load_discolored_rules(), autumn_population_z=0.0)
    alone, with_previous = score_case(built, rules=same), score_case(built, previous=True)
    assert with_previous == score_case(built, previous=True, rules=same)
    false_alone = alone["points"] - alone["true_points"]
    false_previous = with_previous["points"] - with_previous["true_points"]
    assert false_alone > 0 and false_previous <= 0.5 * false_alone, (alone, with_previous)
    assert with_previous["found"] == alone["found"]  # new discolored crowns stay new


def test_rgb_shaded_ground_is_not_a_crown(tmp_path):
    case = next(c for c in suite_cases([3]) if c.season == "summer" and c.sensor == "rgb")
    built = build_case(case, tmp_path)
    off = with_rules(load_discolored_rules(), soil_blue_red=9.0)  # the B/R ground test off
    on, without = score_case(built), score_case(built, rules=off)
    assert on["found"] == without["found"], (on, without)
    assert on["points"] - on["true_points"] < without["points"] - without["true_points"]
