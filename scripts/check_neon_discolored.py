"""Discolored-tree detection on the real NEON crowns image (no truth for discoloration).

Runs ``detect_discolored`` on ``OSBS_029.tif`` (NEON 10 cm RGB, pine flatwoods; 61 labelled
crown boxes) as one stand of 樟子松, then on a copy where 8 labelled crowns are recoloured
rust-brown (RGB 150/105/80 times each pixel's own relative brightness, a disk of 80 % of the
box) — with and without an autumn date — and prints the points, how many fall on the
recoloured crowns and how many of those were found.

Usage::

    .venv/bin/python scripts/check_neon_discolored.py [--data DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from scipy.spatial import cKDTree

from gis.checks.discolored import detect_discolored
from gis.findings import Findings
from gis.raster import raster_source

RUST = np.array([150.0, 105.0, 80.0])


def recolour(img: np.ndarray, boxes: pd.DataFrame) -> list[tuple[float, float]]:
    """Paint the boxes' crowns rust-brown in place; return their centres (pixels: col, row)."""
    yy, xx = np.mgrid[0 : img.shape[1], 0 : img.shape[2]]
    centres = []
    for r in boxes.itertuples():
        cx, cy = (r.xmin + r.xmax) / 2, (r.ymin + r.ymax) / 2
        disk = np.hypot(xx - cx, yy - cy) < 0.4 * min(r.xmax - r.xmin, r.ymax - r.ymin)
        rel = img[:, disk].mean(0) / img[:, disk].mean()
        for b in range(3):
            img[b][disk] = np.clip(RUST[b] * rel, 0, 255)
        centres.append((cx, cy))
    return centres


def main() -> None:
    """Run the checks and print what they show."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data/deepforest_neon_crowns")
    d = Path(ap.parse_args().data)
    with rasterio.open(d / "OSBS_029.tif") as src:
        img, profile, t, bounds, crs = (
            src.read().astype(float),
            src.profile,
            src.transform,
            src.bounds,
            src.crs,
        )
    stands = gpd.GeoDataFrame({"stand_id": ["N1"], "dominant_species": ["樟子松"]},
                              geometry=[shapely.box(*bounds)], crs=crs)  # fmt: skip
    res = detect_discolored(raster_source(d / "OSBS_029.tif", bands="R,G,B"), stands,
                            findings=Findings())  # fmt: skip
    print(f"OSBS_029 as delivered: {len(res.points)} point(s)")
    pick = pd.read_csv(d / "OSBS_029.csv").sample(8, random_state=1)
    centres = np.array([t * c for c in recolour(img, pick)])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "planted.tif"
        with rasterio.open(path, "w", **(profile | {"driver": "GTiff"})) as ds:
            ds.write(img.round().astype("uint8"))
        for date in (None, "2026-10-05"):
            pts = detect_discolored(raster_source(path, bands="R,G,B"), stands, image_date=date,
                                    findings=Findings()).points  # fmt: skip
            xy = np.c_[pts.geometry.x, pts.geometry.y]
            on = int((cKDTree(centres).query(xy)[0] < 1.5).sum()) if len(pts) else 0
            found = int((cKDTree(xy).query(centres)[0] < 1.5).sum()) if len(pts) else 0
            print(f"8 crowns recoloured, date {date}: {len(pts)} point(s), {on} on them, "
                  f"{found}/8 found")  # fmt: skip


if __name__ == "__main__":
    main()
