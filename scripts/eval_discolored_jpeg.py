"""Discolored trees on lossy (JPEG-YCbCr) against lossless deliveries of the same scenes.

For the R, G, B scenes of :mod:`gis.demo.crown_suite` (two per seed: summer and autumn), the
reflectance image is stretched to 8 bits as orthophoto deliveries are (99.5th percentile to
255, gamma 1/2.2, bands R, G, B) and written twice with the same pixels: DEFLATE (lossless) and
JPEG-compressed YCbCr (``photometric=YCBCR``, 4:2:0 chroma, ``--quality``), tiled 256. Both
are run through ``detect_discolored`` with the catalog's default hosts and the image's date,
and scored against the planted truth (a point within 2.5 m of a planted crown is a hit).
Prints pooled precision / recall per season and per GSD for both deliveries.

Usage::

    .venv/bin/python scripts/eval_discolored_jpeg.py                  # seeds 0-9, quality 75
    .venv/bin/python scripts/eval_discolored_jpeg.py --seeds 20 --quality 90
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
import rasterio
from eval_discolored_robust import table  # pooled precision / recall per group

from gis.demo.crown_suite import build_case, suite_cases

DELIVERIES = {
    "lossless": {"compress": "deflate"},
    "jpeg": {"compress": "JPEG", "photometric": "YCBCR"},
}


def stretched(path: Path) -> tuple[np.ndarray, dict, dict]:
    """The image as an 8-bit delivery (99.5th percentile → 255, gamma 1/2.2), profile, tags."""
    with rasterio.open(path) as ds:
        v = ds.read().astype("f4")
        profile, tags = ds.profile, ds.tags()
    hi = np.percentile(v, 99.5)
    dn = np.clip(np.rint(255 * (v / hi) ** (1 / 2.2)), 1, 255).astype("uint8")
    return dn, profile, tags


def score(built, path: Path) -> dict:
    """Detect on ``path`` (the scene's stands, default hosts) and match the truth."""
    from gis.checks.discolored import detect_discolored
    from gis.checks.discolored.accuracy import match_truth
    from gis.findings import Findings
    from gis.raster import raster_source

    res = detect_discolored(raster_source(path, bands=built.roles), built.stands,
                            findings=Findings())  # fmt: skip
    s = match_truth(res.points, built.truth, within_m=2.5)
    return {"points": s["points"], "true_points": round(s["precision"] * s["points"]),
            "planted": s["planted"], "found": round(s["recall"] * s["planted"])}  # fmt: skip


def run(seeds: int, quality: int, folder: Path) -> pd.DataFrame:
    """One row per scene and delivery."""
    rows = []
    for case in suite_cases(range(seeds)):
        if case.sensor != "rgb":
            continue
        built = build_case(case, folder)
        dn, profile, tags = stretched(built.image)
        dn = dn[::-1]  # B,G,R → R,G,B: the order JPEG's YCbCr conversion assumes
        built.roles = "R,G,B"
        for kind, opts in DELIVERIES.items():
            path = folder / f"{case.name}_{kind}.tif"
            prof = profile | {"dtype": "uint8", **opts}
            if kind == "jpeg":
                prof["jpeg_quality"] = quality
            prof.pop("nodata", None)
            with rasterio.open(path, "w", **prof) as ds:
                ds.write(dn)
                ds.update_tags(**tags)
            rows.append({"scene": case.name, "season": case.season,
                         "gsd_cm": round(case.gsd_m * 100), "delivery": kind,
                         **score(built, path)})  # fmt: skip
            path.unlink()
        built.image.unlink()
        built.previous.unlink()
    return pd.DataFrame(rows)


def main() -> None:
    """Run and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--quality", type=int, default=75)
    args = ap.parse_args()
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="linyuan_jpeg_") as tmp:
        frame = run(args.seeds, args.quality, Path(tmp))
    print(f"seeds 0-{args.seeds - 1}, JPEG quality {args.quality}, {time.time() - t0:.0f} s")
    print(table(frame, ["season", "delivery"]).to_string(index=False))
    print(table(frame, ["gsd_cm", "delivery"]).to_string(index=False))


if __name__ == "__main__":
    main()
