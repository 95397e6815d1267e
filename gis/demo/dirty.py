"""Small deliveries with planted defects, for the validation and the checks' bad-input paths."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely


def dirty_patches(patches: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Return a small delivery with planted defects, and what is wrong with each row.

    Defects: a duplicated patch ID (an exact duplicate record and a second patch reusing the
    ID), a self-intersecting (bow-tie) polygon, an empty geometry, an interpreted cause outside
    1-7, a missing county code, dates in mixed formats, and a missing ID with a negative area.
    """
    base = patches.iloc[:8].copy().reset_index(drop=True)
    base["TBBH"] = [f"9{k + 1:03d}" for k in range(len(base))]
    x, y = base.geometry.iloc[2].centroid.coords[0]
    bowtie = shapely.Polygon([(x, y), (x + 90, y + 90), (x + 90, y), (x, y + 90)])
    base.loc[1, "TBBH"] = base.loc[0, "TBBH"]
    base = pd.concat([base.iloc[[0]], base], ignore_index=True)
    base.loc[3, "geometry"] = bowtie
    base.loc[4, "geometry"] = shapely.Polygon()
    base.loc[5, "PAN_BHYY"] = 9
    base.loc[6, "XIAN"] = None
    base.loc[7, ["QQYXSJ", "HQYXSJ"]] = ["2025.09", "2026-09-18"]
    base.loc[8, ["TBBH", "MIAN_JI"]] = ["", -1.0]
    problems = [
        "duplicate_record",
        "duplicate_id",
        "duplicate_id",
        "invalid_geometry",
        "empty_geometry",
        "cause_outside_code_list",
        "missing_county_code",
        "mixed_date_formats",
        "missing_id_negative_area",
    ]
    truth = pd.DataFrame({"row": range(len(base)), "TBBH": base["TBBH"], "problem": problems})
    return gpd.GeoDataFrame(base, geometry="geometry", crs=patches.crs), truth
