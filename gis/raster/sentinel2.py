"""Sentinel-2 ``.SAFE`` products (folder or ``.zip``), Level-2A or Level-1C, read by band file.

The product metadata (``MTD_MSIL2A.xml`` / ``MTD_MSIL1C.xml``, ESA's User Product schema)
gives everything: the band files (``IMAGE_FILE``), the quantification value
(``BOA_QUANTIFICATION_VALUE``, or ``QUANTIFICATION_VALUE`` in L1C), the offsets
(``BOA_ADD_OFFSET`` / ``RADIO_ADD_OFFSET`` per ``band_id``, -1000 from processing baseline
04.00, absent before), the processing baseline and the sensing time (``PRODUCT_START_TIME``).

Roles B, G, R, RE, NIR, SWIR1, SWIR2 are bands B02, B03, B04, B05, B08, B11, B12. The 10 m
bands give the grid; B05, B11 and B12 (20 m) are brought to it with **bilinear** resampling,
and the scene classification SCL (20 m, L2A) with **nearest**, as the validity mask (classes
:data:`~gis.raster.SCL_INVALID`). A zip is read in place through GDAL's ``/vsizip/``.
Level-1C is top-of-atmosphere reflectance without SCL (a finding says so).
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from gis.errors import DataSourceError, RasterError
from gis.findings import Findings
from gis.raster.source import RasterSource
from gis.raster.stacking import BandFile, product_source, reject_given, stack_vrt
from gis.sensors import ROLES, SCL_INVALID, Sensor

BANDS = {"B": "B02", "G": "B03", "R": "B04", "RE": "B05", "NIR": "B08", "SWIR1": "B11",
         "SWIR2": "B12"}  # fmt: skip
"""Band of each role."""

BAND_IDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
            "B11", "B12")  # fmt: skip
"""``band_id`` 0-12 of the metadata's offset lists."""

FINE = ("B02", "B03", "B04", "B08")
"""The 10 m bands (they give the grid)."""

METADATA = ("MTD_MSIL2A.xml", "MTD_MSIL1C.xml")
COARSE_RESAMPLING = "bilinear"
"""How 20 m bands are brought to the 10 m grid."""


@dataclass(frozen=True)
class SafeProduct:
    """What a ``.SAFE`` product's metadata says.

    ``files`` maps band names (``B02`` …, ``SCL``) to GDAL paths of their finest file.
    """

    path: str
    level: str
    baseline: str
    quantification: float
    offsets: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    sensing: str | None = None
    nodata: float = 0.0


def is_safe(path: str) -> bool:
    """Whether ``path`` is a Sentinel-2 ``.SAFE`` folder or a ``.zip`` holding one."""
    p = Path(path)
    if p.is_dir():
        return any((p / m).is_file() for m in METADATA)
    return p.suffix.lower() == ".zip" and p.is_file() and _zip_metadata(p) is not None


def _zip_metadata(p: Path) -> str | None:
    """Return the member holding the product metadata, at any depth (a re-zipped download).

    Raises
    ------
    DataSourceError
        The zip holds several products.
    """
    try:
        with zipfile.ZipFile(p) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    found = [n for n in names if n.rsplit("/", 1)[-1] in METADATA and not n.startswith("__MACOSX/")]
    if len(found) > 1:
        products = ", ".join(n.rsplit("/", 1)[0] or "/" for n in found)
        raise DataSourceError(
            f"{p} holds {len(found)} Sentinel-2 products ({products}); extract them into one "
            "folder and give the folder (its scenes are read as one mosaic), or zip each alone",
            zh=f"{p} 中有 {len(found)} 个 Sentinel-2 产品（{products}）；请解压到一个文件夹并给出"
            "该文件夹（其中各景按一幅镶嵌读取），或每个产品单独压缩",
        )
    return found[0] if found else None


def read_safe(path: str) -> SafeProduct:
    """Read the metadata of a ``.SAFE`` folder or zip.

    Raises
    ------
    DataSourceError
        No metadata, unreadable XML.
    """
    root, xml = _metadata(path)
    try:
        tree = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise DataSourceError(
            f"the metadata of {path} is not valid XML ({exc}); the product is damaged — "
            "download it again",
            zh=f"{path} 的元数据不是有效的 XML（第 {exc.position[0]} 行）；产品已损坏——请重新下载",
        ) from exc
    values = _by_tag(tree)
    level = "L2A" if "BOA_QUANTIFICATION_VALUE" in values or "L2A" in tree.tag else "L1C"
    quant = values.get("BOA_QUANTIFICATION_VALUE") or values.get("QUANTIFICATION_VALUE")
    offsets = _offsets(tree, "BOA_ADD_OFFSET" if level == "L2A" else "RADIO_ADD_OFFSET")
    files = _image_files(tree, root)
    start = values.get("PRODUCT_START_TIME") or values.get("DATATAKE_SENSING_START")
    return SafeProduct(
        path=path,
        level=level,
        baseline=values.get("PROCESSING_BASELINE", [""])[0],
        quantification=float(quant[0]) if quant else 10000.0,
        offsets=offsets,
        files=files,
        sensing=start[0][:10] if start else None,
    )


def _metadata(path: str) -> tuple[str, bytes]:
    """Return (GDAL path of the .SAFE folder, metadata XML bytes)."""
    p = Path(path)
    if p.is_dir():
        meta = next(p / m for m in METADATA if (p / m).is_file())
        return str(p), meta.read_bytes()
    name = _zip_metadata(p)
    if name is None:
        raise DataSourceError(
            f"{path} holds no MTD_MSIL2A.xml / MTD_MSIL1C.xml",
            zh=f"{path} 中没有 MTD_MSIL2A.xml / MTD_MSIL1C.xml；请给出完整的 Sentinel-2 产品",
        )
    with zipfile.ZipFile(p) as z:
        xml = z.read(name)
    folder = name.rsplit("/", 1)[0] if "/" in name else ""
    return f"/vsizip/{os.path.abspath(p)}" + (f"/{folder}" if folder else ""), xml


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _by_tag(tree: ElementTree.Element) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for el in tree.iter():
        if el.text and el.text.strip():
            tag = _local(el.tag)
            out.setdefault(tag.removeprefix("L2A_"), []).append(el.text.strip())
    return out


def _offsets(tree: ElementTree.Element, tag: str) -> dict[str, float]:
    out = {}
    for el in tree.iter():
        if _local(el.tag) == tag and el.get("band_id") is not None and el.text:
            out[BAND_IDS[int(el.get("band_id", 0))]] = float(el.text)
    return out


def _image_files(tree: ElementTree.Element, root: str) -> dict[str, str]:
    """Band name → GDAL path of its finest file (``_10m`` before ``_20m`` before ``_60m``)."""
    found: dict[str, tuple[int, str]] = {}
    granules = set()
    for el in tree.iter():
        if _local(el.tag) != "IMAGE_FILE" or not el.text:
            continue
        rel = el.text.strip()
        granules.add(rel.split("/")[1] if rel.startswith("GRANULE/") else "")
        m = re.search(r"_(B\d[\dA]|SCL)(?:_(\d+)m)?$", rel)
        if m is None:
            continue
        band, res = m.group(1), int(m.group(2) or 0)
        if band not in found or res < found[band][0]:
            found[band] = (res, f"{root}/{rel}.jp2")
    if len(granules) > 1:
        raise RasterError(
            f"Sentinel-2 product {root} holds {len(granules)} granules (an old multi-tile "
            "product); Linyuan reads one granule per product — give the granules' band files "
            "as scenes, or the single-tile products of the same date",
            zh=f"Sentinel-2 产品 {root} 含 {len(granules)} 个 granule（旧式多图幅产品）；Linyuan "
            "每个产品只读一个 granule——请把各 granule 的波段文件作为多景给出，"
            "或改用同日期的单图幅产品",
        )
    return {band: p for band, (_, p) in found.items()}


def safe_source(
    path: str, *, findings: Findings | None = None, given: tuple[Any, Any, Any] = (None,) * 3
) -> RasterSource:
    """Return the :class:`RasterSource` of a Sentinel-2 ``.SAFE`` folder or zip.

    Raises
    ------
    DataSourceError
        A band file the roles need is missing from the product or cannot be read.
    """
    product = read_safe(path)
    missing = [b for b in BANDS.values() if b not in product.files]
    if missing:
        raise DataSourceError(
            f"Sentinel-2 product {path} lacks band(s) {', '.join(missing)} in its metadata "
            "(IMAGE_FILE); the product is incomplete — download the full product again",
            zh=f"Sentinel-2 产品 {path} 的元数据（IMAGE_FILE）中缺少波段 {'、'.join(missing)}；"
            "产品不完整——请重新下载完整产品",
        )
    for band in (*BANDS.values(), "SCL"):
        if band in product.files:
            _require_file(product.files[band], path)
    files = [
        BandFile(product.files[b], b, resampling="nearest" if b in FINE else COARSE_RESAMPLING)
        for b in BANDS.values()
    ]
    scale, offset = _scale_offset(product)
    what = f"Sentinel-2 {product.level} .SAFE"
    reject_given(path, given, what, findings)
    mask: dict[str, Any] = {}
    if "SCL" in product.files:
        _, grid = stack_vrt(files[:1])
        scl, _ = stack_vrt([BandFile(product.files["SCL"], "SCL")], grid=grid)
        mask = {"mask_path": scl, "mask_values": SCL_INVALID}
    src = product_source(
        path,
        files,
        roles=ROLES,
        findings=findings,
        sensor=Sensor.SENTINEL2_L2A if product.level == "L2A" else Sensor.SENTINEL2_L1C,
        scale=scale,
        offset=offset,
        nodata=product.nodata,
        acquired=product.sensing,
        product=f"{what} (baseline {product.baseline or '?'})",
        **mask,
    )
    _tell(product, scale, offset, findings)
    return src


def _require_file(gdal_path: str, product: str) -> None:
    if gdal_path.startswith("/vsizip/"):
        return  # checked when the VRT is opened (names the member)
    if not os.path.isfile(gdal_path):
        raise DataSourceError(
            f"Sentinel-2 product {product} lacks the band file {gdal_path} its metadata "
            "lists; the product is incomplete — download it again",
            zh=f"Sentinel-2 产品 {product} 缺少元数据中列出的波段文件 {gdal_path}；"
            "产品不完整——请重新下载",
        )


def _scale_offset(product: SafeProduct) -> tuple[float, float]:
    """Reflectance = DN * scale + offset, from the quantification value and the offsets."""
    scale = 1.0 / product.quantification
    used = {product.offsets.get(b, 0.0) for b in BANDS.values()}
    if len(used) > 1:
        raise RasterError(
            f"Sentinel-2 product {product.path} has different offsets per band "
            f"({sorted(used)}); Linyuan reads one offset for all bands",
            zh=f"Sentinel-2 产品 {product.path} 各波段的偏移量不同（{sorted(used)}）；"
            "Linyuan 对所有波段只用一个偏移量",
        )
    return scale, used.pop() * scale


def _tell(product: SafeProduct, scale: float, offset: float, findings: Findings | None) -> None:
    if findings is None:
        return
    why = (
        "ADD_OFFSET from the metadata"
        if product.offsets
        else f"processing baseline {product.baseline or '?'}: no offset in the metadata"
    )
    findings.add(
        "s2_product",
        f"Sentinel-2 {product.level} product {product.path}: reflectance = DN * {scale:g} + "
        f"{offset:g} ({why}); 20 m bands B05/B11/B12 brought to the 10 m grid with "
        f"{COARSE_RESAMPLING}; sensed {product.sensing or 'on an unknown date'}",
        severity="info",
        source=product.path,
        zh=f"Sentinel-2 {product.level} 产品 {product.path}：反射率 = DN * {scale:g} + "
        f"{offset:g}（{'偏移取自元数据' if product.offsets else '元数据无偏移'}）；"
        f"20 米波段 B05/B11/B12 以 {COARSE_RESAMPLING} 重采样到 10 米格网；"
        f"成像日期 {product.sensing or '未知'}",
    )
    if product.level == "L1C":
        findings.add(
            "s2_top_of_atmosphere",
            f"{product.path} is Level-1C: top-of-atmosphere reflectance is used (no "
            "atmospheric correction, no SCL cloud mask); prefer the L2A product, or pass a "
            "cloud mask",
            source=product.path,
            zh=f"{product.path} 为 L1C 级：使用大气层顶反射率（未做大气校正，无 SCL 云掩膜）；"
            "宜改用 L2A 产品，或提供云掩膜",
        )
