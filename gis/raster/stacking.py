"""A product's band files stacked into one raster source (the floor Sentinel-2 and Landsat share).

A product is one file per band (JPEG 2000 or GeoTIFF), sometimes at two pixel sizes. Nothing is
copied: :func:`stack_vrt` writes the XML of a VRT that GDAL opens, and :func:`product_source`
makes it a :class:`~gis.raster.source.RasterSource` with the product's facts (scale, offset,
mask, date) taken from its metadata by :mod:`gis.raster.sentinel2` and :mod:`gis.raster.landsat`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from xml.sax.saxutils import escape

from gis.errors import DataSourceError
from gis.findings import Findings
from gis.io.rasters import GDAL_TYPES, open_raster, vrt_header
from gis.raster.grid import Grid
from gis.raster.source import RasterSource, file_source, note_validity
from gis.sensors import Sensor


@dataclass(frozen=True)
class BandFile:
    """One band of a product: the GDAL path of its file, its band, and how it is resampled.

    ``resampling`` (a VRT source resampling: ``nearest``, ``bilinear``) brings a band of
    coarser pixels (Sentinel-2 20 m) to the stack's grid.
    """

    path: str
    description: str
    band: int = 1
    resampling: str = "nearest"


def stack_vrt(
    files: Sequence[BandFile], *, nodata: float | None = None, grid: Grid | None = None
) -> tuple[str, Grid]:
    """Return the XML of a VRT stacking ``files`` (one band each) on the finest one's grid.

    ``grid`` (another stack's grid, same extent) puts them on it instead (a 20 m mask on the
    10 m bands).

    The band files must cover one extent (the bands of one product). Nothing is written: the
    XML is what GDAL opens.

    Raises
    ------
    DataSourceError
        A band file cannot be opened (named, with the fix).
    """
    facts = [_band_facts(f) for f in files]
    if grid is None:
        finest = min(facts, key=lambda f: abs(f["transform"].a))
        grid = Grid(finest["crs_wkt"], finest["transform"], finest["width"], finest["height"])
    width, height = grid.width, grid.height
    bands = []
    for i, (f, fact) in enumerate(zip(files, facts, strict=True), start=1):
        nd = f"<NoDataValue>{nodata!r}</NoDataValue>" if nodata is not None else ""
        bands.append(
            f'<VRTRasterBand dataType="{fact["dtype"]}" band="{i}">{nd}'
            f"<Description>{escape(f.description)}</Description>"
            f'<SimpleSource resampling="{f.resampling}">'
            f'<SourceFilename relativeToVRT="0">{escape(f.path)}</SourceFilename>'
            f"<SourceBand>{f.band}</SourceBand>"
            f'<SrcRect xOff="0" yOff="0" xSize="{fact["width"]}" ySize="{fact["height"]}"/>'
            f'<DstRect xOff="0" yOff="0" xSize="{width}" ySize="{height}"/>'
            "</SimpleSource></VRTRasterBand>"
        )
    xml = vrt_header(width, height, grid.crs_wkt, grid.transform) + "".join(bands)
    xml += "</VRTDataset>"
    return xml, grid


def _band_facts(f: BandFile) -> dict[str, Any]:
    with open_raster(f.path) as ds:
        if ds.crs is None:
            raise DataSourceError(
                f"band file {f.path} has no CRS; the product is incomplete or damaged — "
                "download it again",
                zh=f"波段文件 {f.path} 没有坐标系；产品不完整或已损坏——请重新下载",
            )
        return {
            "crs_wkt": ds.crs.to_wkt(),
            "transform": ds.transform,
            "width": ds.width,
            "height": ds.height,
            "dtype": GDAL_TYPES.get(ds.dtypes[f.band - 1], "Float32"),
        }


def product_source(
    name: str,
    files: Sequence[BandFile],
    *,
    roles: Sequence[str],
    findings: Findings | None,
    **fields: Any,
) -> RasterSource:
    """Return the :class:`RasterSource` of a product's band files stacked by :func:`stack_vrt`.

    ``name`` names the product in messages; ``fields`` set the product's facts (sensor,
    scale, offset, nodata, mask, date …) on the source.
    """
    xml, _ = stack_vrt(files, nodata=fields.get("nodata"))
    src = file_source(xml, sensor="generic", bands=list(roles))
    src = replace(src, path=name, dataset=xml, **fields)
    note_validity(src, findings)
    return src


def reject_given(
    name: str, given: tuple[Any, Any, Any], what: str, findings: Findings | None
) -> None:
    """Note (finding) that ``--sensor``/``--bands``/a mask given for a product are not used."""
    sensor, bands, mask = given
    if sensor is not None and Sensor.get(sensor) is Sensor.GENERIC:
        sensor = None
    named = (("--sensor", sensor), ("--bands", bands), ("mask", mask))
    used = [label for label, value in named if value is not None]
    if used and findings is not None:
        findings.add(
            "product_overrides_options",
            f"{name} is a {what}: its metadata gives the bands, scale, offset and validity "
            f"mask, so {', '.join(used)} is not used",
            severity="info",
            source=name,
            zh=f"{name} 是 {what}：波段、比例、偏移与有效性掩膜取自其元数据，"
            f"未使用 {'、'.join(used)}",
        )
