"""Landsat 4-9 products (folder, or ``.tar`` read in place through ``/vsitar/``), driven by the MTL.

The MTL text file (``*_MTL.txt``; ``GROUP = …`` / ``KEY = VALUE``) gives the band files, the
scale and offset, the sun elevation and the date (``DATE_ACQUIRED``):

- **Collection 2 Level-2** (``PROCESSING_LEVEL = "L2SP"``): surface reflectance from
  ``LEVEL2_SURFACE_REFLECTANCE_PARAMETERS`` (``REFLECTANCE_MULT_BAND_n`` = 2.75e-5,
  ``REFLECTANCE_ADD_BAND_n`` = -0.2), bands ``SR_B2``-``SR_B7``;
- **Collection 2 Level-1** and **pre-Collection L1T**: top-of-atmosphere reflectance,
  ``(REFLECTANCE_MULT_BAND_n * DN + REFLECTANCE_ADD_BAND_n) / sin(SUN_ELEVATION)``.

Roles B, G, R, NIR, SWIR1, SWIR2 are OLI bands 2-7 (Landsat 8/9), TM/ETM+ bands 1-5 and 7
(Landsat 4, 5 and 7, told by ``SPACECRAFT_ID`` or the product id); Landsat 7's SLC-off gaps
are fill (nodata 0, QA_PIXEL bit 0). The validity mask is the quality band:
Collection 2 ``QA_PIXEL`` — invalid where fill, dilated cloud, cirrus, cloud, cloud shadow or
snow (bits 0-5) is set; pre-Collection ``BQA`` — fill (bit 0), cloud confidence medium or high
(bits 14-15 ≥ 10), cirrus or snow/ice confidence high (bits 12-13, 10-11 = 11).
"""

from __future__ import annotations

import math
import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gis.errors import DataSourceError, RasterError
from gis.findings import Findings
from gis.raster.source import RasterSource
from gis.raster.stacking import BandFile, product_source, reject_given
from gis.sensors import Sensor

ROLE_BANDS = {"B": 2, "G": 3, "R": 4, "NIR": 5, "SWIR1": 6, "SWIR2": 7}
"""OLI band of each role (Landsat 8/9)."""

TM_ROLE_BANDS = {"B": 1, "G": 2, "R": 3, "NIR": 4, "SWIR1": 5, "SWIR2": 7}
"""TM/ETM+ band of each role (Landsat 4, 5 and 7; band 6 is thermal)."""

TM_SPACECRAFT = re.compile(r"^(LANDSAT_[457]|L[TE]0[457])")
"""A ``SPACECRAFT_ID`` or product id of Landsat 4, 5 or 7."""

QA_PIXEL_INVALID = ((1, 1), (2, 2), (4, 4), (8, 8), (16, 16), (32, 32))
"""Collection 2 QA_PIXEL (bits, value) tests: fill, dilated cloud, cirrus, cloud, shadow, snow."""

BQA_INVALID = ((1, 1), (0x8000, 0x8000), (0x3000, 0x3000), (0x0C00, 0x0C00))
"""Pre-Collection BQA tests: fill, cloud confidence ≥ medium, cirrus high, snow/ice high."""


@dataclass(frozen=True)
class LandsatProduct:
    """What a Landsat MTL says: level, band files (GDAL paths), scale, offset, date."""

    path: str
    level: str
    collection: str
    files: dict[str, str] = field(default_factory=dict)
    bands: dict[str, int] = field(default_factory=lambda: dict(ROLE_BANDS))
    qa: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    acquired: str | None = None


def is_landsat(path: str) -> bool:
    """Whether ``path`` is a folder holding an MTL, or a ``.tar`` (holding one or not)."""
    p = Path(path)
    if p.is_dir():
        return any(p.glob("*MTL.txt"))
    return p.is_file() and p.suffix.lower() == ".tar"


def parse_mtl(text: str) -> dict[str, dict[str, str]]:
    r"""Return the MTL as {group: {key: value}} (innermost group; quotes removed).

    Examples
    --------
    >>> parse_mtl('GROUP = A\n  GROUP = B\n    K = "v"\n  END_GROUP = B\nEND_GROUP = A')
    {'A': {}, 'B': {'K': 'v'}}
    """
    groups: dict[str, dict[str, str]] = {}
    stack: list[str] = []
    for line in text.splitlines():
        if "=" not in line:
            continue
        key, value = (s.strip() for s in line.split("=", 1))
        if key == "GROUP":
            stack.append(value)
            groups.setdefault(value, {})
        elif key == "END_GROUP":
            if stack:
                stack.pop()
        elif stack:
            groups[stack[-1]][key] = value.strip('"')
    return groups


def read_landsat(path: str) -> LandsatProduct:
    """Read a Landsat folder or tar: its MTL, band files, scale and offset.

    Raises
    ------
    DataSourceError
        No MTL, a band file missing.
    """
    names, root, mtl_text = _listing(path)
    mtl = parse_mtl(mtl_text)
    flat = {k: v for g in mtl.values() for k, v in g.items()}
    collection = "pre-Collection" if "L1_METADATA_FILE" in mtl else "Collection 2"
    level = flat.get("PROCESSING_LEVEL") or flat.get("DATA_TYPE", "L1")
    l2 = level.startswith("L2")
    bands = role_bands(flat)
    files = {role: _band_file(names, root, flat, n, l2, path) for role, n in bands.items()}
    scale, offset = _rescaling(mtl, flat, bands, l2, path)
    qa_names = ("QA_PIXEL.TIF", "BQA.TIF")
    qa = next((f"{root}/{n}" for n in names if n.upper().endswith(qa_names)), None)
    return LandsatProduct(
        path=path,
        level=level,
        collection=collection,
        files=files,
        bands=bands,
        qa=qa,
        scale=scale,
        offset=offset,
        acquired=flat.get("DATE_ACQUIRED"),
    )


def role_bands(flat: dict[str, str]) -> dict[str, int]:
    """Band number of each role: TM/ETM+ for Landsat 4, 5 and 7, else OLI (Landsat 8/9).

    Examples
    --------
    >>> role_bands({"SPACECRAFT_ID": "LANDSAT_7"})["NIR"], role_bands({})["NIR"]
    (4, 5)
    """
    ids = (flat.get(k, "") for k in ("SPACECRAFT_ID", "LANDSAT_PRODUCT_ID", "LANDSAT_SCENE_ID"))
    return dict(TM_ROLE_BANDS if any(TM_SPACECRAFT.match(i) for i in ids) else ROLE_BANDS)


def _listing(path: str) -> tuple[list[str], str, str]:
    """Return (member file names, GDAL root, MTL text) of a folder or tar."""
    p = Path(path)
    if p.is_dir():
        names = sorted(e.name for e in p.iterdir() if e.is_file())
        mtl = next((n for n in names if n.upper().endswith("MTL.TXT")), None)
        text = (p / mtl).read_text(errors="replace") if mtl else ""
        root = str(p)
    else:
        try:
            with tarfile.open(p) as tar:
                members = [m for m in tar.getmembers() if m.isfile()]
                mtl_m = next((m for m in members if m.name.upper().endswith("MTL.TXT")), None)
                extracted = tar.extractfile(mtl_m) if mtl_m is not None else None
                text = extracted.read().decode(errors="replace") if extracted else ""
        except (tarfile.TarError, OSError) as exc:
            raise DataSourceError(
                f"cannot read the tar archive {path}: {exc}; copy it again (a truncated "
                "download is the usual cause)",
                zh=f"无法读取压缩包 {path}；请重新拷贝（常见原因是下载不完整）",
            ) from exc
        names, mtl = [m.name for m in members], mtl_m.name if mtl_m is not None else None
        root = f"/vsitar/{os.path.abspath(p)}"
    if mtl is None:
        raise DataSourceError(
            f"Landsat product {path} has no MTL file (*_MTL.txt): scale, offset and quality "
            "bits cannot be known — use the complete product as USGS delivers it (with its "
            "MTL), or pass a stacked GeoTIFF with --sensor/--bands",
            zh=f"Landsat 产品 {path} 没有 MTL 文件（*_MTL.txt）：无法得知缩放系数、偏移量和质量位"
            "——请使用 USGS 交付的完整产品（含 MTL），或给出多波段 GeoTIFF 并配合 --sensor/--bands",
        )
    return names, root, text


def _band_file(
    names: list[str], root: str, flat: dict[str, str], band: int, l2: bool, product: str
) -> str:
    """GDAL path of OLI ``band``: the MTL's file name, else the file ending ``_B<n>.TIF``."""
    named = flat.get(f"FILE_NAME_BAND_{band}")
    if named and named in names:
        return f"{root}/{named}"
    suffix = f"SR_B{band}.TIF" if l2 else f"_B{band}.TIF"
    found = [n for n in names if n.upper().endswith(suffix)]
    if not found:
        raise DataSourceError(
            f"Landsat product {product} lacks band {band} ({named or '*' + suffix}); the "
            "product is incomplete — download it again with all bands",
            zh=f"Landsat 产品 {product} 缺少波段 {band}（{named or '*' + suffix}）；产品不完整"
            "——请重新下载全部波段",
        )
    return f"{root}/{found[0]}"


def _rescaling(
    mtl: dict[str, dict[str, str]],
    flat: dict[str, str],
    bands: dict[str, int],
    l2: bool,
    product: str,
) -> tuple[float, float]:
    """Return (scale, offset) of reflectance: L2 surface, or L1 TOA with the sun elevation."""
    group = mtl.get("LEVEL2_SURFACE_REFLECTANCE_PARAMETERS", {}) if l2 else {}
    if not group:
        group = mtl.get("LEVEL1_RADIOMETRIC_RESCALING") or mtl.get("RADIOMETRIC_RESCALING", {})
    pairs = set()
    for band in bands.values():
        mult, add = (
            group.get(f"REFLECTANCE_MULT_BAND_{band}"),
            group.get(f"REFLECTANCE_ADD_BAND_{band}"),
        )
        if mult is None or add is None:
            raise DataSourceError(
                f"the MTL of {product} has no REFLECTANCE_MULT/ADD_BAND_{band}; reflectance "
                "cannot be computed — use the product's complete MTL",
                zh=f"{product} 的 MTL 中没有 REFLECTANCE_MULT/ADD_BAND_{band}；无法计算反射率"
                "——请使用该产品完整的 MTL",
            )
        pairs.add((float(mult), float(add)))
    if len(pairs) > 1:
        raise RasterError(
            f"{product}: the MTL gives different rescaling per band ({sorted(pairs)}); "
            "Linyuan reads one scale and offset for all bands",
            zh=f"{product}：MTL 中各波段的缩放参数不同（{sorted(pairs)}）；"
            "Linyuan 对所有波段只用一个缩放系数和偏移量",
        )
    scale, offset = pairs.pop()
    if l2:
        return scale, offset
    sun = float(flat.get("SUN_ELEVATION", "90"))
    sine = math.sin(math.radians(sun))
    return scale / sine, offset / sine


def landsat_source(
    path: str, *, findings: Findings | None = None, given: tuple[Any, Any, Any] = (None,) * 3
) -> RasterSource:
    """Return the :class:`RasterSource` of a Landsat folder or tar (see the module)."""
    product = read_landsat(path)
    l2 = product.level.startswith("L2")
    what = f"Landsat {product.collection} {product.level} product"
    reject_given(path, given, what, findings)
    files = [BandFile(product.files[r], f"B{n}") for r, n in product.bands.items()]
    mask: dict[str, Any] = {}
    if product.qa is not None:
        bits = BQA_INVALID if product.qa.upper().endswith("BQA.TIF") else QA_PIXEL_INVALID
        mask = {"mask_path": product.qa, "mask_bits": bits}
    src = product_source(
        path,
        files,
        roles=tuple(product.bands),
        findings=findings,
        sensor=Sensor.LANDSAT8_L2 if l2 else Sensor.LANDSAT8_L1,
        scale=product.scale,
        offset=product.offset,
        nodata=0.0,
        acquired=product.acquired,
        product=what,
        **mask,
    )
    if findings is not None:
        kind = "surface" if l2 else "top-of-atmosphere (sun elevation from the MTL)"
        qa = re.sub(r".*/", "", product.qa) if product.qa else "none"
        findings.add(
            "landsat_product",
            f"{what} {path}: {kind} reflectance = DN * {product.scale:.6g} + "
            f"{product.offset:.6g} (MTL); quality band {qa}; acquired "
            f"{product.acquired or 'on an unknown date'}",
            severity="info" if l2 else "warning",
            source=path,
            zh=f"{what} {path}：{'地表' if l2 else '大气层顶（太阳高度角取自 MTL）'}反射率 = DN * "
            f"{product.scale:.6g} + {product.offset:.6g}（MTL）；质量波段 {qa}；成像日期 "
            f"{product.acquired or '未知'}",
        )
    return src
