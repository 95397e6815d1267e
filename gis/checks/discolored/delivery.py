"""How the image was delivered: lossy JPEG compression takes colour detail (变色立木).

Orthophotos are often delivered as JPEG-compressed GeoTIFFs, usually in YCbCr with the
chroma at half resolution (4:2:0). The detector's signal is colour (GRVI from G and R), and
JPEG quantizes exactly that: the chroma of each 16 × 16 pixel block carries block-scale
error. On the robustness suite's R,G,B scenes stretched to 8 bits
(``scripts/eval_discolored_jpeg.py``, 10 seeds) JPEG at quality 75 widened the GRVI spread
of a 50 cm scene's stands up to 2.7-fold (seed 6, autumn: lower-half sigma 0.010-0.013 →
0.021-0.028 in three of its six stands), so small crowns (a few pixels across) fell below the
anomaly threshold or the minimum crown size: recall at 50 cm 0.62 lossless → 0.52 at
quality 90 → 0.38 at quality 75; at 20 cm 0.92 → 0.90 → 0.87; at 5-10 cm and 30 cm
unchanged. Precision moved by at most 0.03 (JPEG removed candidates rather than adding
them). The lost colour cannot be recovered — by reasoning, not tried: smoothing below the
16-pixel block scale leaves the block error, above it blurs the crowns — so the run says
so: a ``lossy_delivery`` finding, and the advice to ask for a lossless delivery.

Examples
--------
>>> import rasterio, numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "j.tif")
>>> with rasterio.open(path, "w", driver="GTiff", width=32, height=32, count=3, dtype="uint8",
...                    compress="JPEG", photometric="YCBCR") as ds:
...     ds.write(np.full((3, 32, 32), 90, dtype="uint8"))
>>> lossy_compression(path)
'JPEG YCbCr'
"""

from __future__ import annotations

import os

import rasterio

from gis.findings import Findings
from gis.raster import RasterSource


def lossy_compression(path: str | os.PathLike[str]) -> str | None:
    """Return ``"JPEG"`` or ``"JPEG YCbCr"`` for a JPEG-compressed raster, else None."""
    with rasterio.open(path) as ds:
        compression = ds.compression.value if ds.compression is not None else ""
        photometric = ds.photometric.value if ds.photometric is not None else ""
    if compression.upper() != "JPEG":
        return None
    return "JPEG YCbCr" if photometric.upper() == "YCBCR" else "JPEG"


def lossy_finding(source: RasterSource, pixel_m: float, findings: Findings) -> None:
    """Add ``lossy_delivery`` when the (plain-file) image is JPEG-compressed.

    A product or mosaic (``source.parts``, ``source.dataset``) is not looked into: their
    band files are the product's own (JPEG 2000 in Sentinel-2 is lossless in L2A).
    """
    if source.parts or source.dataset:
        return
    kind = lossy_compression(source.path)
    if kind is None:
        return
    findings.add(
        "lossy_delivery",
        f"the image is {kind}-compressed: its colour (GRVI) carries the compression's "
        f"8-16 pixel block error; at {pixel_m:.2f} m pixels crowns of a few pixels may be "
        "missed (suite, 10 seeds, 8-bit R,G,B: recall at 50 cm 0.62 lossless, 0.52 JPEG "
        "quality 90, 0.38 quality 75; at 20 cm 0.92, 0.90, 0.87) — ask for a lossless "
        "GeoTIFF (DEFLATE/LZW)",
        severity="warning" if pixel_m >= 0.3 else "info",
        source=source.path,
        zh=f"影像为 {kind} 有损压缩：颜色（GRVI）带有压缩的 8–16 像元块误差；像元 "
        f"{pixel_m:.2f} 米时仅数个像元大小的树冠可能漏检（稳健性测试 10 组、8 位红绿蓝："
        "50 厘米像元召回率无损 0.62、JPEG 质量 90 时 0.52、质量 75 时 0.38；20 厘米 0.92、"
        "0.90、0.87）"
        "——请索取无损 GeoTIFF（DEFLATE/LZW）",
    )
