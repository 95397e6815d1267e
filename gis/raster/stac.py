"""A STAC Item (a local JSON file) whose assets carry common band names, read as a product.

The Item's assets are read like a product's band files (:func:`gis.raster.stacking.
product_source`: one VRT stacking them on the finest grid, nothing copied). What is read:

- **band roles** from the common band names of the electro-optical extension — STAC 1.0
  ``eo:bands[].common_name`` on an asset, STAC 1.1 ``bands[]["eo:common_name"]`` or an asset's
  own ``eo:common_name`` — else the asset's key when it is a common name (``red``, ``nir`` …,
  as Element 84's Earth Search names them). ``blue``, ``green``, ``red``, ``rededge``,
  ``nir`` (else ``nir08``), ``swir16``, ``swir22`` give B, G, R, RE, NIR, SWIR1, SWIR2. An
  asset of several bands gives each of its bands. Where several assets give one role, a
  single-band asset wins over a multi-band one (a ``visual`` 8-bit composite), then the first
  in the Item's order (a COG before its ``-jp2`` copy);
- **hrefs**: relative to the Item's file; ``http(s)://`` read in place through GDAL's
  ``/vsicurl/`` (a window reads only the bytes it needs from a cloud-optimised GeoTIFF);
  ``/vsi…`` paths as they are; other schemes (``s3://``) are refused with the fix;
- **scale and offset** from the raster extension — STAC 1.0 ``raster:bands[].scale/offset``,
  STAC 1.1 ``bands[]["raster:scale"/"raster:offset"]`` or the asset's own — one pair for all
  bands (reflectance = DN * scale + offset); none given: the values are read as they are;
- **nodata** from ``raster:bands[].nodata`` / ``bands[].nodata`` / the asset's ``nodata``,
  else the first band file's own;
- **validity mask**: a Sentinel-2 scene classification asset (``scl``) or a Landsat
  ``qa_pixel`` asset, as for the products themselves;
- **date** from ``properties.datetime`` (else ``start_datetime``);
- **sensor** from ``properties.platform`` (``sentinel-2…``: L2A, or L1C when
  ``processing:level`` or the Item's id says L1C; ``landsat…``; else generic), for the run
  table and the mixed-sensors finding only — scale and offset come from the Item.

The Item JSON itself must be local (download it first); its assets may be remote.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gis.errors import DataSourceError, RasterError, os_reason
from gis.findings import Findings
from gis.io.rasters import open_raster
from gis.raster.dates import parse_date
from gis.raster.landsat import QA_PIXEL_INVALID
from gis.raster.source import RasterSource
from gis.raster.stacking import BandFile, product_source, reject_given, stack_vrt
from gis.sensors import SCL_INVALID, Sensor

COMMON_ROLES = {"blue": "B", "green": "G", "red": "R", "rededge": "RE", "nir": "NIR",
                "nir08": "NIR", "swir16": "SWIR1", "swir22": "SWIR2"}  # fmt: skip
"""Role of each common band name (eo extension) Linyuan reads; ``nir`` wins over ``nir08``."""

COARSE_RESAMPLING = "bilinear"
"""Resampling of band files coarser than the finest (a 20 m ``swir16`` onto 10 m)."""

MASKS = {"scl": ("SCL", SCL_INVALID, ()), "qa_pixel": ("QA_PIXEL", (), QA_PIXEL_INVALID)}
"""Mask assets (key, case-insensitive): description, invalid values, invalid bit tests."""


@dataclass(frozen=True)
class StacBand:
    """One band an asset gives: role, GDAL path, band in the file, scale, offset, nodata."""

    role: str
    path: str
    band: int
    asset: str
    single: bool
    common: str
    scale: float | None = None
    offset: float | None = None
    nodata: float | None = None


@dataclass(frozen=True)
class StacItem:
    """What an Item says: its bands by role, the mask asset, the date and the platform."""

    path: str
    bands: dict[str, StacBand] = field(default_factory=dict)
    mask: tuple[str, str] | None = None  # (mask key, GDAL path)
    acquired: str | None = None
    platform: str = ""
    level: str = ""


def is_stac_item(path: str) -> bool:
    """Whether ``path`` is a local JSON file holding a STAC Item (``type`` Feature, assets)."""
    if not path.lower().endswith(".json") or not os.path.isfile(path):
        return False
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return False
    return (
        isinstance(doc, dict)
        and doc.get("type") == "Feature"
        and "stac_version" in doc
        and isinstance(doc.get("assets"), dict)
    )


def gdal_href(href: str, item_path: str) -> str:
    """Return the GDAL path of an asset ``href`` (relative to the Item's file, or remote).

    Examples
    --------
    >>> gdal_href("https://example.com/T51/B04.tif", "/data/item.json")
    '/vsicurl/https://example.com/T51/B04.tif'
    >>> gdal_href("B04.tif", "/data/item.json"), gdal_href("file:///x/B04.tif", "/d/i.json")
    ('/data/B04.tif', '/x/B04.tif')
    """
    if href.startswith(("http://", "https://")):
        return f"/vsicurl/{href}"
    if href.startswith("/vsi"):
        return href
    if href.startswith("file://"):
        return href[len("file://") :]
    if "://" in href:
        raise DataSourceError(
            f"STAC Item {item_path}: asset {href} uses a scheme Linyuan does not read in place "
            "(only http(s) through /vsicurl/, local files and GDAL /vsi paths); download the "
            "asset and give its local path as the href",
            zh=f"STAC Item {item_path}：资源 {href} 使用的协议 Linyuan 不能直接读取（只支持经 "
            "/vsicurl/ 的 http(s)、本地文件和 GDAL /vsi 路径）；"
            "请下载该资源，并把 href 改为本地路径",
        )
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(item_path)), href))


def read_item(path: str) -> StacItem:
    """Read a STAC Item JSON: its bands by role, mask asset, date and platform (no raster opened).

    Raises
    ------
    DataSourceError
        The JSON cannot be read, or no asset carries a common band name Linyuan reads.
    """
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        why_zh = os_reason(exc)[1] if isinstance(exc, OSError) else "不是有效的 JSON"
        raise DataSourceError(
            f"cannot read STAC Item {path}: {exc}; check the JSON",
            zh=f"无法读取 STAC Item {path}：{why_zh}；请检查该 JSON 文件",
        ) from exc
    props = doc.get("properties") or {}
    chosen: dict[str, StacBand] = {}
    mask = None
    for key, asset in (doc.get("assets") or {}).items():
        if not isinstance(asset, dict) or "href" not in asset:
            continue
        if key.lower() in MASKS and mask is None:
            mask = (key.lower(), gdal_href(str(asset["href"]), path))
            continue
        for band in _asset_bands(key, asset, path):
            _choose(chosen, band)
    if not chosen:
        raise DataSourceError(
            f"no asset of STAC Item {path} carries a common band name Linyuan reads "
            f"({', '.join(COMMON_ROLES)}) in eo:bands / bands, nor is keyed by one; give an "
            "Item with the eo extension, or the band files as a GeoTIFF with --bands",
            zh=f"STAC Item {path} 的资源在 eo:bands / bands 中都没有 Linyuan 能读的通用波段名"
            f"（{'、'.join(COMMON_ROLES)}），键名也不是；请给出带 eo 扩展的 Item，或把波段文件"
            "作为 GeoTIFF 并配合 --bands 给出",
        )
    acquired = parse_date(props.get("datetime") or props.get("start_datetime"))
    level = str(props.get("processing:level") or doc.get("id") or "")
    return StacItem(path, chosen, mask, acquired, str(props.get("platform") or ""), level)


def _choose(chosen: dict[str, StacBand], band: StacBand) -> None:
    """Keep ``band`` for its role unless one already there is preferred (see the module)."""
    old = chosen.get(band.role)
    if old is None:
        chosen[band.role] = band
    elif (band.single, old.common == "nir08" and band.common == "nir") > (old.single, False):
        chosen[band.role] = band


def _asset_bands(key: str, asset: dict[str, Any], item: str) -> Iterator[StacBand]:
    """Yield the bands of one asset that have a role (common names, else the asset key)."""
    described = asset.get("bands") or asset.get("eo:bands") or []
    raster = asset.get("raster:bands") or []
    if not described and key.lower() in COMMON_ROLES:
        described = [{"common_name": key.lower()}]
    single = len(described) == 1
    for i, desc in enumerate(described):
        if not isinstance(desc, dict):
            continue
        name = desc.get("eo:common_name") or desc.get("common_name")
        if name is None and single:
            name = asset.get("eo:common_name")
        role = COMMON_ROLES.get(str(name or "").lower())
        if role is None:
            continue
        values = {**_asset_level(asset), **(raster[i] if i < len(raster) else {}), **desc}
        yield StacBand(
            role,
            gdal_href(str(asset["href"]), item),
            i + 1,
            key,
            single,
            str(name).lower(),
            _number(values.get("raster:scale", values.get("scale"))),
            _number(values.get("raster:offset", values.get("offset"))),
            _number(values.get("nodata")),
        )


def _asset_level(asset: dict[str, Any]) -> dict[str, Any]:
    """Return the raster fields an asset gives for all its bands (STAC 1.1)."""
    keys = ("raster:scale", "raster:offset", "nodata")
    return {k: asset[k] for k in keys if k in asset}


def _number(value: Any) -> float | None:
    """Return ``value`` as a float (``"nan"`` included), or None."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _one(values: set[float | None], what: str, item: str, default: float) -> float:
    """Return the one value all bands share (None: ``default``); refuse several."""
    if len(values) > 1:
        raise RasterError(
            f"STAC Item {item} gives different {what} per band ({sorted(map(str, values))}); "
            "Linyuan reads one scale and offset for all bands — give bands of one product",
            zh=f"STAC Item {item} 各波段的 {what} 不同（{sorted(map(str, values))}）；Linyuan "
            "对所有波段只用一个缩放系数和偏移量——请给出同一产品的波段",
        )
    value = values.pop() if values else None
    return default if value is None else value


def stac_source(
    path: str, *, findings: Findings | None = None, given: tuple[Any, Any, Any] = (None,) * 3
) -> RasterSource:
    """Return the :class:`RasterSource` of a STAC Item JSON (see the module).

    Raises
    ------
    DataSourceError
        The Item or a band file cannot be read (named, with the fix).
    RasterError
        Bands with different scale or offset.
    """
    item = read_item(path)
    bands = [item.bands[r] for r in COMMON_ROLES.values() if r in item.bands]
    bands = list({b.role: b for b in bands}.values())
    scale = _one({b.scale for b in bands}, "scales", path, 1.0)
    offset = _one({b.offset for b in bands}, "offsets", path, 0.0)
    given_nodata: set[float | None] = {b.nodata for b in bands if b.nodata is not None}
    if given_nodata:
        nodata: float | None = _one(given_nodata, "nodata values", path, 0.0)
    else:  # not in the Item: the first band file's own
        with open_raster(bands[0].path) as ds:
            nodata = ds.nodata
    # a band file at the stack's (finest) pixel size is read as it is whatever the resampling
    # named; only coarser ones are resampled — no file is opened to tell them apart
    files = [
        BandFile(b.path, f"{b.asset}:{b.common}", band=b.band, resampling=COARSE_RESAMPLING)
        for b in bands
    ]
    what = "STAC Item"
    reject_given(path, given, what, findings)
    mask: dict[str, Any] = {}
    if item.mask is not None:
        name, values, bits = MASKS[item.mask[0]]
        _, grid = stack_vrt(files)  # the stack's own (finest) grid
        vrt, _ = stack_vrt([BandFile(item.mask[1], name)], grid=grid)
        mask = {"mask_path": vrt, "mask_values": values, "mask_bits": bits}
    src = product_source(
        path,
        files,
        roles=tuple(b.role for b in bands),
        findings=findings,
        sensor=_sensor(item),
        scale=scale,
        offset=offset,
        nodata=nodata,
        acquired=item.acquired,
        product=f"{what} ({item.platform or 'platform not given'})",
        **mask,
    )
    _tell(item, bands, scale, offset, findings)
    return src


def _sensor(item: StacItem) -> Sensor:
    """Return the sensor of the Item's ``platform`` (Sentinel-2 L1C when its level says so)."""
    p = item.platform.lower()
    if p.startswith("sentinel-2"):
        return Sensor.SENTINEL2_L1C if "L1C" in item.level.upper() else Sensor.SENTINEL2_L2A
    if p.startswith("landsat"):
        return Sensor.LANDSAT8_L2
    return Sensor.GENERIC


def _tell(
    item: StacItem, bands: list[StacBand], scale: float, offset: float, findings: Findings | None
) -> None:
    if findings is None:
        return
    roles = ", ".join(
        f"{b.role}={b.asset}" + (f"[{b.band}]" if not b.single else "") for b in bands
    )
    mask = MASKS[item.mask[0]][0] if item.mask else "none"
    remote = any(b.path.startswith("/vsicurl/") for b in bands)
    where = " (assets read in place over HTTP)" if remote else ""
    findings.add(
        "stac_item",
        f"STAC Item {item.path}: bands {roles}{where}; reflectance = DN * {scale:g} + "
        f"{offset:g} (raster extension, else as stored); bands coarser than the finest "
        f"brought to its grid with {COARSE_RESAMPLING}; mask {mask}; acquired "
        f"{item.acquired or 'on an unknown date'}",
        severity="info",
        source=item.path,
        zh=f"STAC Item {item.path}：波段 {roles}{'（资产经 HTTP 就地读取）' if remote else ''}；"
        f"反射率 = DN * {scale:g} + {offset:g}（取自 raster 扩展，否则按原值）；"
        f"较粗波段以 {COARSE_RESAMPLING} 重采样到最细格网；掩膜 {mask}；"
        f"成像日期 {item.acquired or '未知'}",
    )
