"""A raster as the bureau receives it: a file, a product, a folder or a list of scenes.

:func:`raster_source` is where every raster input enters (``--before/--after``,
``detect discolored RASTER``, ``--previous``, ``map --quicklook``):

==========================================  ==================================================
input                                       read as
==========================================  ==================================================
a GeoTIFF (or any GDAL raster, a ``.vrt``)  that file (:func:`gis.raster.source.file_source`)
a Sentinel-2 ``.SAFE`` folder or ``.zip``   its band files (:mod:`gis.raster.sentinel2`)
a Landsat folder or ``.tar`` with an MTL    its band files (:mod:`gis.raster.landsat`)
a STAC Item ``.json`` (local file)          its assets by band name (:mod:`gis.raster.stac`)
a folder of scenes or products              one mosaic, by file name (:mod:`gis.raster.mosaic`)
``a.tif,b.tif`` (comma-separated)           one mosaic, in the order given
==========================================  ==================================================

A product is read through a VRT (XML held in the source, nothing written) that stacks its
band files in role order on its finest grid; :func:`stack_vrt` builds it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gis.errors import ConflictingOptionsError, DataSourceError, RasterError
from gis.findings import Findings
from gis.raster import landsat, sentinel2, stac
from gis.raster.analysis_grid import common_grid, pixel_size_m
from gis.raster.dates import with_tag_date
from gis.raster.mosaic import OVERLAP_RULE, mosaic_source
from gis.raster.source import RasterSource, file_source
from gis.sensors import Sensor

SCENE_SUFFIXES = (".tif", ".tiff", ".jp2", ".img", ".vrt")
"""Raster files a folder of scenes is made of (products inside it count too)."""


def raster_source(
    path: str | os.PathLike[str],
    *,
    sensor: str | Sensor = "generic",
    bands: str | Sequence[str] | None = None,
    mask: str | os.PathLike[str] | None = None,
    mask_values: Sequence[int] | None = None,
    crs: Any = None,
    findings: Findings | None = None,
) -> RasterSource:
    """Return the :class:`RasterSource` of a file, a product, a folder or a list of scenes.

    Parameters are those of :func:`gis.raster.source.file_source`; a product's own metadata
    (band roles, scale, offset, validity mask, date) wins over ``sensor``/``bands``/``mask``
    (with a finding when they were given).

    Raises
    ------
    DataSourceError
        A file or product cannot be read (missing band, corrupt file, tar without MTL).
    RasterError
        Scenes of one date with different bands, a mask raster with several scenes, an empty
        folder.
    """
    options = {"sensor": sensor, "bands": bands, "crs": crs, "findings": findings}
    text = os.fspath(path)
    scenes = split_scenes(text)
    if len(scenes) > 1:
        if mask is not None:
            raise RasterError(
                f"a mask raster ({os.fspath(mask)}) is on one grid, but {text} is "
                f"{len(scenes)} scenes; give products that carry their masks (SCL, QA_PIXEL), "
                "or one scene with its mask",
                zh=f"掩膜影像（{os.fspath(mask)}）只对应一个格网，但 {text} 有 {len(scenes)} 景；"
                "请给出自带掩膜（SCL、QA_PIXEL）的产品，或只给一景及其掩膜",
            )
        parts = [raster_source(s, **options) for s in scenes]  # type: ignore[arg-type]
        return mosaic_source(parts, name=text, findings=findings)
    text = scenes[0]  # a folder holding one scene or product: that scene
    product = _product_reader(text)
    if product is not None:
        return product(text, findings=findings, given=(sensor, bands, mask))
    return with_tag_date(file_source(
        text, sensor=sensor, bands=bands, mask=mask, mask_values=mask_values, crs=crs,
        findings=findings,
    ))  # fmt: skip


PER_DATE = ("sensor", "bands", "radiometry")
"""What can differ between the two dates of a pair (``--sensor`` and ``--after-sensor`` …)."""


@dataclass(frozen=True)
class ImageSpec:
    """How one date's image is read: sensor profile, band roles and radiometry.

    ``sensor`` and ``bands`` are those of :func:`raster_source`; ``radiometry`` is
    ``auto``, ``reflectance`` or ``dn`` (:func:`gis.zonal.inside.resolve_radiometry`).
    """

    sensor: str | Sensor = "generic"
    bands: str | Sequence[str] | None = None
    radiometry: str = "auto"

    def source(
        self,
        path: str | os.PathLike[str],
        *,
        mask: str | os.PathLike[str] | None = None,
        findings: Findings | None = None,
    ) -> RasterSource:
        """Return the :class:`RasterSource` of ``path`` read with this spec."""
        return raster_source(
            path, sensor=self.sensor, bands=self.bands, mask=mask, findings=findings
        )


def image_specs(
    shared: Mapping[str, Any], before: Mapping[str, Any], after: Mapping[str, Any]
) -> dict[str, ImageSpec]:
    """Return the :class:`ImageSpec` of each date (``before``, ``after``) of a pair.

    Each of :data:`PER_DATE` is given for both dates (``shared``) or for one date; ``None`` is
    not given (then the :class:`ImageSpec` default). A shared value is the default of both
    dates, so giving one key both shared and for a date is ambiguous and refused.

    Raises
    ------
    ConflictingOptionsError
        A key given both for both dates and for one date (``--bands`` with ``--after-bands``).

    Examples
    --------
    >>> specs = image_specs({"sensor": "sentinel2-l2a"}, {}, {"bands": "NIR,R,G,B"})
    >>> specs["before"].sensor, specs["after"].sensor, specs["after"].bands
    ('sentinel2-l2a', 'sentinel2-l2a', 'NIR,R,G,B')
    """
    out = {}
    for role, own in (("before", before), ("after", after)):
        for key in PER_DATE:
            if shared.get(key) is not None and own.get(key) is not None:
                flag, dated = f"--{key}", f"--{role}-{key}"
                raise ConflictingOptionsError(
                    f"{flag} and {dated} are both given: {flag} applies to both dates, "
                    f"{dated} to the {role} date only; give {flag} alone (the same for both "
                    f"dates) or --before-{key} and --after-{key}",
                    zh=f"同时给出了 {flag} 和 {dated}：{flag} 用于前后两期，{dated} 只用于"
                    f"{'前期' if role == 'before' else '后期'}；请只给 {flag}（两期相同），"
                    f"或分别给 --before-{key} 和 --after-{key}",
                )
        merged = {k: own.get(k) if own.get(k) is not None else shared.get(k) for k in PER_DATE}
        given = {k: v for k, v in merged.items() if v is not None}
        out[role] = ImageSpec(**given)
    return out


def split_scenes(text: str) -> list[str]:
    """Return the scenes ``text`` names: a comma-separated list, a folder of scenes, or itself.

    A folder that is itself a product (``.SAFE``, a Landsat folder with an MTL) is one scene.

    Raises
    ------
    RasterError
        A folder holding no raster.
    """
    if "," in text and not os.path.exists(text):
        return [t.strip() for t in text.split(",") if t.strip()]
    if not os.path.isdir(text) or _product_reader(text) is not None:
        return [text]
    entries = sorted(Path(text).iterdir())
    scenes = [
        str(e)
        for e in entries
        if e.suffix.lower() in SCENE_SUFFIXES or _product_reader(str(e)) is not None
    ]
    if not scenes:
        raise RasterError(
            f"folder {text} holds no raster (looked for {', '.join(SCENE_SUFFIXES)}, .SAFE "
            "folders or .zip, Landsat folders or .tar); give a raster file, a product, or a "
            "folder of scenes",
            zh=f"文件夹 {text} 中没有影像（查找了 {'、'.join(SCENE_SUFFIXES)}、"
            ".SAFE 文件夹或 .zip、"
            "Landsat 文件夹或 .tar）；请给出影像文件、产品或存放各景的文件夹",
        )
    return scenes


def _product_reader(text: str) -> Any:
    """Return the reader of the product ``text`` is (Sentinel-2, Landsat, STAC Item), or None."""
    if text.startswith(("http://", "https://")) and text.lower().endswith(".json"):
        raise DataSourceError(
            f"{text} is a remote JSON (a STAC Item?): Linyuan reads an Item from a local file "
            "— download it first (curl -O); its assets may stay remote (read through /vsicurl/)",
            zh=f"{text} 是远程 JSON（STAC Item？）：Linyuan 只从本地文件读取 Item——请先下载"
            "（`curl -O`）；其中的资源可以留在远程（通过 /vsicurl/ 读取）",
        )
    if text.startswith("/vsi"):
        return None
    if text.lower().endswith((".tar.gz", ".tgz")):
        raise DataSourceError(
            f"{text} is a compressed tar: reading its bands in place would decompress it again "
            "for every window — extract it first (tar xzf) and give the folder",
            zh=f"{text} 是压缩包：直接读取其中的波段，每个窗口都要重新解压一次——"
            "请先解压（`tar xzf`），再给出解压后的文件夹",
        )
    if sentinel2.is_safe(text):
        return sentinel2.safe_source
    if landsat.is_landsat(text):
        return landsat.landsat_source
    if stac.is_stac_item(text):
        return stac.stac_source
    return None


def describe_source(src: RasterSource) -> dict[str, Any]:
    """Return what ``src`` was read as, for the run table (product, scenes, grid, date)."""
    from pyproj import CRS

    return {
        "input": src.path,
        "read_as": src.product or "raster file",
        "scenes": max(1, len(src.parts)),
        "crs": CRS.from_wkt(src.crs_wkt).to_string(),
        "pixel_m": round(pixel_size_m(src.grid), 4),
        "scale": src.scale,
        "offset": src.offset,
        "acquired": src.acquired,
    }


def describe_rasters(before: RasterSource, after: RasterSource) -> dict[str, Any]:
    """Return the run table's ``rasters`` section: each date, the analysis grid, the rules.

    Examples
    --------
    >>> from affine import Affine
    >>> from pyproj import CRS
    >>> from gis.sensors import Sensor
    >>> src = RasterSource("a.tif", Sensor.GENERIC, ("R", "NIR"), 1.0, 0.0, None,
    ...     crs_wkt=CRS.from_epsg(4551).to_wkt(), transform=Affine(10, 0, 0, 0, -10, 0),
    ...     width=5, height=5)
    >>> describe_rasters(src, src)["analysis_grid"]
    'EPSG:4551, 10 m pixels, 5x5 (both dates on one grid: read as they are)'
    """
    from pyproj import CRS

    b, a = common_grid(before, after)
    g = b.grid
    same = before.grid.same_as(after.grid)
    how = "both dates on one grid: read as they are" if same else "aligned to the before image"
    out: dict[str, Any] = {
        "before": describe_source(before),
        "after": describe_source(after),
        "analysis_grid": f"{CRS.from_wkt(g.crs_wkt).to_string()}, {pixel_size_m(g):g} m "
        f"pixels, {g.width}x{g.height} ({how})",
        "resampling": {d: _resampling(s) for d, s in (("before", b), ("after", a))},
    }
    if before.parts or after.parts:
        out["overlap_rule"] = OVERLAP_RULE
    return out


def _resampling(src: RasterSource) -> str:
    sources = src.parts or (src,)
    used = sorted({s.warp.resampling for s in sources if s.warp is not None})
    return ", ".join(used) if used else "none (read as it is)"


def note_mixed_sensors(
    before: RasterSource, after: RasterSource, findings: Findings | None
) -> None:
    """Add the finding ``mixed_sensors`` when the dates come from two known sensors."""
    kinds = {before.sensor.value, after.sensor.value}
    if findings is None or len(kinds) < 2 or "generic" in kinds:
        return
    findings.add(
        "mixed_sensors",
        f"the before date is {before.sensor.value} and the after date {after.sensor.value}: "
        "their bands and calibration differ, so an index change of a few hundredths can be "
        "the sensors, not the ground — the ring (surroundings) comparison takes that out",
        severity="info",
        source=after.path,
        zh=f"前期影像为 {before.sensor.value}，后期影像为 {after.sensor.value}："
        "两者波段与定标不同，"
        "指数变化中几个百分点可能来自传感器而非地表——与周边环的比较可消除这一影响",
    )
