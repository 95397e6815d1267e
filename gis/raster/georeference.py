"""Whether a raster's georeferencing can be used: a geotransform, north-up, a CRS its numbers fit.

Counties receive rasters whose placement is wrong in ways GDAL does not object to: a scan with
no geotransform (GDAL reports the identity), a south-up or rotated grid, metre coordinates
labelled EPSG:4490 (degrees), Gauss-Krüger eastings carrying the zone number under a CRS
without it. Each is refused here with the file named and the GDAL command that fixes it; a
declared CRS is never relabelled (the checks of vectors: :func:`gis.crs.check_declared_crs`).
"""

from __future__ import annotations

from typing import Any

from pyproj import CRS

from gis.crs import check_declared_crs
from gis.errors import CRSError, RasterError, shell_arg


def check_georeferenced(ds: Any, path: str) -> None:
    """Refuse a raster without a geotransform, or whose grid is rotated or not north-up.

    Without a geotransform (a scan, a photo, an image placed by GCPs only) GDAL reports the
    identity transform (pixel (col, row) = coordinates (x, y)), which would silently put the
    image at the CRS origin with 1-unit pixels. Windows, grids and zones are north-up
    throughout Linyuan; ``gdalwarp`` makes any grid north-up.

    Raises
    ------
    RasterError
        No geotransform, or a rotated, sheared or south-up one.
    """
    if ds.transform.is_identity:
        raise _not_georeferenced(ds, path)
    t = ds.transform
    if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
        kind = "rotated or sheared" if t.b != 0 or t.d != 0 else "not north-up (south-up)"
        kind_zh = "有旋转或错切" if t.b != 0 or t.d != 0 else "不是正北朝上（南方朝上）"
        raise RasterError(
            f"raster {path}: its grid is {kind} (geotransform {tuple(t)[:6]}); Linyuan reads "
            f"north-up grids — warp it first: gdalwarp -r bilinear {shell_arg(path)} north_up.tif",
            zh=f"影像 {path} 的格网{kind_zh}（地理变换 {tuple(t)[:6]}）；林园只读正北朝上的格网——"
            f"请先重采样：`gdalwarp -r bilinear {shell_arg(path)} north_up.tif`",
        )


def _not_georeferenced(ds: Any, path: str) -> RasterError:
    gcps = ds.gcps[0] if ds.gcps else []
    how = "give a georeferenced GeoTIFF, or put a world file (.tfw/.jgw) beside the image"
    how_zh = "请给出有地理参考的 GeoTIFF，或在影像旁放置坐标文件（.tfw/.jgw）"
    if gcps:
        how = (
            f"it has {len(gcps)} ground control points but no geotransform: warp it first, "
            "e.g. gdalwarp -r bilinear in.tif out.tif"
        )
        how_zh = (
            f"它有 {len(gcps)} 个控制点但没有地理变换：请先纠正，如 "
            "`gdalwarp -r bilinear in.tif out.tif`"
        )
    return RasterError(
        f"raster {path} is not georeferenced (no geotransform); {how}",
        zh=f"影像 {path} 没有地理参考（无地理变换）；{how_zh}",
    )


def check_coordinates(ds: Any, path: str, crs_wkt: str) -> None:
    """Refuse a raster whose coordinates contradict its CRS (metres labelled degrees, …).

    Raises
    ------
    CRSError
        A local (engineering) CRS, not tied to the earth; metre coordinates under a
        geographic CRS (EPSG:4490 on a Gauss-Krüger image), degrees
        under a projected one, zone-prefixed eastings under a CRS without the prefix, or
        coordinates far outside the CRS's area of use.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> ds = SimpleNamespace(bounds=(451700, 4847400, 461300, 4858400))
    >>> check_coordinates(ds, "a.tif", CRS.from_epsg(4490).to_wkt())
    Traceback (most recent call last):
    ...
    gis.errors.CRSError: raster a.tif: declared EPSG:4490 (China ...), in degrees, but ...
    """
    x0, y0, x1, y1 = ds.bounds
    bounds = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    crs = CRS.from_wkt(crs_wkt)
    epsg = crs.to_epsg()  # a GeoTIFF's WKT has no area of use; its EPSG entry has
    crs = CRS.from_epsg(epsg) if epsg is not None else crs
    reason = check_declared_crs(crs, bounds)
    if reason is None:
        return
    raise CRSError(
        f"raster {path}: {reason}; set the right CRS in the file (gdal_edit.py -a_srs "
        "EPSG:…): a declared CRS is never relabelled",
        zh=f"影像 {path}：{check_declared_crs(crs, bounds, lang='zh')}；请用 "
        "`gdal_edit.py -a_srs EPSG:…` 在文件中写入正确的坐标系（已声明的坐标系不会被改标）",
    )
