"""Patch evidence on real Sentinel-2 data: the eo-learn NDVI pair and its land-use polygons.

The pair (``derived_ndvi_2016-08-04.tif`` → ``derived_ndvi_2017-08-04.tif``, both cloud-free,
one year apart, Slovenia; see ``../shared/data/SOURCES.md``) carries NDVI only, so the check
runs on NDVI evidence (no NBR, no SWIR; ``swir_used`` 0). There is no truth of change: the
forest polygons are checked as if they were 督查图斑 (interpreter's cause unknown) and the
output is compared with what the data can show — the per-polygon NDVI change against the
scene's, and the changed pixels found by a plain per-pixel threshold on the same pair.

Run from the repository root::

    .venv/bin/python scripts/real_eolearn_patches.py [DATA_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio

from gis.checks.patches import check_patches
from gis.findings import Findings
from gis.raster import raster_source

data = Path(
    sys.argv[1]
    if len(sys.argv) > 1
    else Path(__file__).resolve().parents[2] / "shared/data/eolearn_s2_ndvi_timeseries"
)
polygons = gpd.read_file(data / "LULC_polygons.gpkg")
before = raster_source(data / "derived_ndvi_2016-08-04.tif", bands="NDVI")
after = raster_source(data / "derived_ndvi_2017-08-04.tif", bands="NDVI")
with rasterio.open(before.path) as b, rasterio.open(after.path) as a:
    d = a.read(1) - b.read(1)
print(f"scene: median dNDVI {np.median(d):+.3f}, pixels falling > 0.15: {(d < -0.15).mean():.1%}")
big = polygons[polygons.area >= 5_000].copy()
big["patch_id"] = big["RABA_ID"].astype(str) + "_" + big.index.astype(str)
for name, subset in (("forest", big[big["LULC_NAME"] == "forest"]), ("all >= 0.5 ha", big)):
    result = check_patches(subset, before=before, after=after, findings=Findings())
    out = pd.DataFrame(result.patches_checked.drop(columns="geometry"))
    cols = [
        "patch_id",
        "LULC_NAME",
        "area_mu",
        "dndvi",
        "ring_dndvi",
        "loss_share",
        "largest_cluster_mu",
        "changed_area_mu",
        "legality",
        "rules_fired",
    ]
    print(f"\n## {name}: {len(out)} polygons, radiometry {result.run['radiometry']['used']}")
    print(out["legality"].value_counts().to_string())
    print(out[cols].round(3).to_string(index=False))
