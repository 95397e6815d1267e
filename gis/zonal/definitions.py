"""Definitions of the change statistics and of their exact fixed-point sums."""

from __future__ import annotations

QUANTUM = 2.0**-34
"""Fixed-point step of per-pixel index values before summing. A float32 value ``|v| >= 2**-11``
is an exact multiple of it, so the integer sums are the exact sums of the float32 values:
means equal a plain float64 numpy mean of the same pixels, bit for bit, and do not depend on
how pixels are grouped into windows, threads or tasks (values nearer 0 are rounded by at most
``2**-35``)."""

SUM_SPLIT = 2**17
"""Sums are taken as high and low parts so every float64 ``bincount`` stays exact."""

STAT_DEFINITIONS: dict[str, str] = {
    "n_pixels": "number of raster pixels whose centre lies in the patch (GDAL rasterize, "
    "all_touched=False), counted on the raster's own grid; vectors are transformed to the "
    "raster's CRS, rasters are never resampled",
    "valid_frac_before": "share of the patch's pixels that are valid on the before date: not "
    "nodata in any band used, not masked (cloud/SCL mask), and with a finite NDVI",
    "valid_frac_after": "the same for the after date",
    "ndvi_before": "mean of per-pixel NDVI = (NIR - R) / (NIR + R) (float32 reflectance, or a "
    "precomputed NDVI band, clipped to [-1, 1]) over the patch's valid pixels on the before "
    "date; not the NDVI of the mean bands, not coverage-weighted",
    "ndvi_after": "the same mean on the after date",
    "dndvi": "ndvi_after - ndvi_before (difference of the two means; negative = vegetation loss)",
    "drop_frac": "share of the patch's pixels valid on both dates whose NDVI dropped by more "
    "than drop_threshold, misregistration-tolerant: drop = min(before NDVI over the "
    "(2*tolerance_px+1)^2 neighbourhood) - after NDVI, so an after pixel that matches any "
    "before pixel within tolerance_px (a shifted edge) is not a drop",
    "dnbr": "nbr_after - nbr_before: difference of the mean per-pixel NBR = (NIR - SWIR2) / "
    "(NIR + SWIR2) over valid pixels (negative = burn or clearing); NULL unless both rasters "
    "have NIR and SWIR2",
    "ring_n_pixels": "number of pixels of the ring: centre within ring_m metres of the patch "
    "(buffer with 4 segments per quarter circle) and in no patch at all (local background)",
    "ring_ndvi_before": "mean per-pixel NDVI over the ring's valid pixels, before date",
    "ring_ndvi_after": "the same on the after date",
    "ring_dndvi": "ring_ndvi_after - ring_ndvi_before: the background's change (phenology, "
    "illumination) to compare dndvi with",
}
"""Definition of every statistic :func:`change_stats` returns (written to the run table)."""

COLUMNS = (
    "n_pixels",
    "valid_frac_before",
    "valid_frac_after",
    "ndvi_before",
    "ndvi_after",
    "dndvi",
    "drop_frac",
    "dnbr",
    "ring_n_pixels",
    "ring_ndvi_before",
    "ring_ndvi_after",
    "ring_dndvi",
)
"""Columns of the :func:`change_stats` frame, in order."""

ZONE_SUMS = ("n", "nvb", "nva", "sb", "sa", "nboth", "ndrop", "nnb", "snb", "nna", "sna")
RING_SUMS = ("n", "nvb", "nva", "sb", "sa")
