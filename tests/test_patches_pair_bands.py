"""``linyuan check patches`` with a before and an after image from different products.

A Sentinel-2 before image and a GF-like after image (four bands, NIR first with band
descriptions, or B,G,R,NIR stretched to 8 bits) written from the demo pair: the per-date
options (``--before-sensor``/``--after-bands`` …) read each date with its own bands, and the
verdicts agree with the same pair given with matching bands on both dates; an option given both
for both dates and for one is a usage error (exit 2) in Chinese and in English.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
from click.testing import CliRunner

from gis.cli.main import cli
from gis.demo import DemoScene, build_demo
from gis.demo.score import score_patches

S2_ROLES = ("B", "G", "R", "RE", "NIR", "SWIR1", "SWIR2")
VERDICT = ["is_real_change", "change_type", "legality"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoScene:
    return build_demo(tmp_path_factory.mktemp("pair_bands"))


def _reflectance(path: Path) -> tuple[dict[str, np.ndarray], dict, dict[str, str]]:
    """The demo image's bands as reflectance (NaN at nodata), its profile and date tag."""
    with rasterio.open(path) as src:
        dn = src.read().astype("f4")
        profile, nodata = src.profile, src.nodata
        date = {k: v for k, v in src.tags().items() if k == "ACQUISITION_DATE"}
    refl = dn * np.float32(1e-4) - np.float32(0.1)  # the demo's Sentinel-2 L2A convention
    refl[:, (dn == nodata).any(axis=0)] = np.nan
    return dict(zip(S2_ROLES, refl, strict=True)), profile, date


def write_nir_first(src: Path, out: Path) -> Path:
    """NIR,R,G,B float reflectance with band descriptions (a GF-like 4-band delivery)."""
    bands, profile, date = _reflectance(src)
    order = ("NIR", "R", "G", "B")
    profile |= {"count": 4, "dtype": "float32", "nodata": float("nan")}
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(np.stack([bands[r] for r in order]))
        for i, role in enumerate(order, 1):
            dst.set_band_description(i, role)
        dst.update_tags(**date)
    return out


def write_8bit(src: Path, out: Path) -> Path:
    """B,G,R,NIR stretched to 1..255 between each band's 2nd and 98th percentile (0 nodata)."""
    bands, profile, date = _reflectance(src)
    stretched = []
    for role in ("B", "G", "R", "NIR"):
        v = bands[role]
        lo, hi = np.nanpercentile(v, (2, 98))
        scaled = np.clip(np.rint(1 + 254 * (v - lo) / (hi - lo)), 1, 255)
        stretched.append(np.where(np.isfinite(v), scaled, 0).astype("uint8"))
    profile |= {"count": 4, "dtype": "uint8", "nodata": 0, "photometric": "MINISBLACK"}
    with rasterio.open(out, "w", **profile) as dst:  # MINISBLACK: band 4 is not alpha
        dst.write(np.stack(stretched))
        dst.update_tags(**date)
    return out


def check(demo: DemoScene, out: Path, before: Path, after: Path, *options: str) -> Path:
    """Run ``linyuan check patches`` on the demo layers; return the results GeoPackage."""
    layers = demo.layers
    args = [
        "check", "patches", str(layers["change_patches"]),
        "--before", str(before), "--after", str(after),
        "--after-mask", str(demo.rasters["s2_after_scl"]),
        "--subcompartments", str(layers["subcompartments"]),
        "--permits", str(layers["permits"]),
        "--protected", str(layers["protected_areas"]),
        "--districts", str(layers["districts"]),
        "--forest-chiefs", str(layers["forest_chief_zones"]),
        "--out", str(out), *options,
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return out


def verdicts(path: Path):
    return pyogrio.read_dataframe(path, layer="patches_checked").set_index("patch_id")


def codes(path: Path) -> dict[str, list[str]]:
    findings = pyogrio.read_dataframe(path, layer="findings")
    return findings.groupby("code")["message"].agg(list).to_dict()


@pytest.fixture(scope="module")
def runs(demo: DemoScene, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The normal run, the per-date runs and the runs with matching bands on both dates."""
    tmp = tmp_path_factory.mktemp("pair_runs")
    s2b, s2a = demo.rasters["s2_before"], demo.rasters["s2_after"]
    nir_a, nir_b = write_nir_first(s2a, tmp / "nir_a.tif"), write_nir_first(s2b, tmp / "nir_b.tif")
    gf_a, gf_b = write_8bit(s2a, tmp / "gf_a.tif"), write_8bit(s2b, tmp / "gf_b.tif")
    s2 = "sentinel2-l2a"
    nir_pair = ("--before-sensor", s2, "--after-bands", "NIR,R,G,B")
    gf_pair = ("--before-sensor", s2, "--after-sensor", "gf2", "--after-radiometry", "dn")
    return {
        "normal": check(demo, tmp / "normal.gpkg", s2b, s2a, "--sensor", s2),
        "nir_pair": check(demo, tmp / "nir_pair.gpkg", s2b, nir_a, *nir_pair),
        "nir_both": check(demo, tmp / "nir_both.gpkg", nir_b, nir_a, "--bands", "NIR,R,G,B"),
        "gf_pair": check(demo, tmp / "gf_pair.gpkg", s2b, gf_a, *gf_pair),
        "gf_both": check(demo, tmp / "gf_both.gpkg", gf_b, gf_a, "--sensor", "gf2"),
        "s2_dn": check(demo, tmp / "s2_dn.gpkg", s2b, s2a, "--sensor", s2, "--radiometry", "dn"),
    }


def test_per_date_bands_agree_with_matching_bands(runs: dict[str, Path]) -> None:
    """S2 before + NIR-first after: the verdicts of the same pair with NIR,R,G,B on both dates."""
    pair, both = verdicts(runs["nir_pair"]), verdicts(runs["nir_both"])
    assert len(pair) == len(both) >= 60
    for col in VERDICT:
        assert pair[col].astype(str).equals(both[col].astype(str)), col
    np.testing.assert_allclose(pair["rel_dndvi"], both["rel_dndvi"], atol=1e-4)
    # the evidence used what both dates have: no SWIR2 on the after date → no NBR
    assert pair["dnbr"].isna().all()
    found = codes(runs["nir_pair"])
    assert "nbr_unavailable" in found and "NIR,R,G,B" in found["nbr_unavailable"][0]
    assert "后期" in found["nbr_unavailable"][0]
    assert "nbr_unavailable" not in codes(runs["nir_both"])  # neither date has SWIR2
    run = pyogrio.read_dataframe(runs["nir_pair"], layer="run")
    sensor = run[run["section"] == "sensor"].set_index("key")["value"]
    bands = run[run["section"] == "bands"].set_index("key")["value"]
    assert sensor["before"] == "sentinel2-l2a" and sensor["after"] == "generic"
    assert bands["after"] == "NIR,R,G,B"


def test_per_date_run_against_the_demo_truth(demo: DemoScene, runs: dict[str, Path]) -> None:
    """Where the normal run saw a patch clear, the NDVI evidence alone gives the same verdict.

    The patches it differs on are those whose cause needs SWIR2 (``loss_cause_unverifiable``:
    no SWIR band to rule out a green crop after clearing), never a clear patch read wrong.
    """
    normal, pair = verdicts(runs["normal"]), verdicts(runs["nir_pair"])
    truth = demo.truth["patches"]
    full = score_patches(normal.reset_index(), truth)
    scores = score_patches(pair.reset_index(), truth)
    print(f"normal {full} / per-date {scores}")
    assert full["real_change"] == 1.0
    assert scores["real_change"] >= 0.85 and scores["change_type"] >= 0.85
    clear = ~normal["rules_fired"].str.contains("clouded|hidden|partly_seen", regex=True)
    clear &= normal["seen_frac"] >= 0.99
    assert clear.sum() >= 40
    same = np.ones(len(normal), dtype=bool)
    for col in ("is_real_change", "change_type"):
        same &= (normal[col].astype(str) == pair.loc[normal.index, col].astype(str)).to_numpy()
    differs = normal.index[clear.to_numpy() & ~same]
    assert same[clear.to_numpy()].mean() >= 0.95
    assert pair.loc[differs, "rules_fired"].str.contains("loss_cause_unverifiable").all()


def test_8bit_after_image_with_a_reflectance_before_image(runs: dict[str, Path]) -> None:
    """S2 reflectance before + 8-bit GF after: as the 8-bit pair (each date on its own scene)."""
    pair, both = verdicts(runs["gf_pair"]), verdicts(runs["gf_both"])
    for col in VERDICT:
        assert pair[col].astype(str).equals(both[col].astype(str)), col
    assert (pair["legality"] == "needs_field_check").mean() < 0.3
    found = codes(runs["gf_pair"])
    assert "uncalibrated_imagery" in found and "nbr_unavailable" in found
    assert "mixed_sensors" in found
    run = pyogrio.read_dataframe(runs["gf_pair"], layer="run")
    radio = run[run["section"] == "radiometry"].set_index("key")["value"]
    assert radio["used"] == "dn" and radio["after"].startswith("dn (given")
    assert radio["before"].startswith("reflectance")


def test_dn_scene_limits_of_a_scaled_sensor(demo: DemoScene, runs: dict[str, Path]) -> None:
    """``--radiometry dn`` on Sentinel-2 L2A (scale 1e-4): the scene percentiles of the values
    as read, as the windows are (they were of the raw DN: real change 0.21 on the demo)."""
    scores = score_patches(verdicts(runs["s2_dn"]).reset_index(), demo.truth["patches"])
    assert scores["real_change"] >= 0.95 and scores["change_type"] >= 0.95
    assert scores["legality"] >= 0.9


def cli_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gis", *args], check=False, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("shared", "dated"),
    [
        (["--bands", "B,G,R,NIR"], ["--after-bands", "NIR,R,G,B"]),
        (["--sensor", "gf2"], ["--before-sensor", "sentinel2-l2a"]),
        (["--radiometry", "reflectance"], ["--after-radiometry", "dn"]),
    ],
)
def test_shared_and_per_date_option_refused(
    demo: DemoScene, tmp_path: Path, shared: list[str], dated: list[str]
) -> None:
    """``--bands`` with ``--after-bands``: exit 2 in Chinese, in English with --lang en."""
    rasters = demo.rasters
    args = [
        "check", "patches", str(demo.layers["change_patches"]),
        "--before", str(rasters["s2_before"]), "--after", str(rasters["s2_after"]),
        "--out", str(tmp_path / "r.gpkg"), *shared, *dated,
    ]  # fmt: skip
    zh = cli_run(*args)
    assert zh.returncode == 2, zh.stderr
    flag, other = shared[0], dated[0]
    assert f"错误：同时给出了 {flag} 和 {other}" in zh.stderr and "用法：" in zh.stderr
    en = cli_run(*args, "--lang", "en")
    assert en.returncode == 2, en.stderr
    assert f"Error: {flag} and {other} are both given" in en.stderr
    assert not (tmp_path / "r.gpkg").exists()
