"""Lazy raster sources: sensor profiles, band roles, windows, reflectance.

A :class:`RasterSource` is a path plus what is needed to read it as reflectance by band role
(``B, G, R, RE, NIR, SWIR1, SWIR2``, or ``NDVI`` for a precomputed index band) and the facts of
its grid. It holds no open file: it is picklable and is opened where it is read (a thread, a
Dask worker), so memory depends on the window read, never on the raster.

Reflectance is ``DN * scale + offset`` (GDAL's convention). Sentinel-2 L2A from processing
baseline 04.00 stores ``BOA_ADD_OFFSET = -1000`` DN, i.e. ``(DN - 1000) / 10000`` = ``DN * 1e-4
- 0.1``; Landsat 8/9 Collection 2 Level-2 is ``DN * 2.75e-5 - 0.2``. GF-1/GF-2 and UAV
cameras arrive as DN (scale 1): normalized-difference indices (NDVI, NBR, …) computed on DN are
acceptable for change screening because both dates of one sensor share the gains, but they are
not surface-reflectance indices and should not be compared across sensors.

Examples
--------
>>> sensor_profile("sentinel2-l2a").roles
('B', 'G', 'R', 'RE', 'NIR', 'SWIR1', 'SWIR2')
>>> parse_roles("b,g,r,nir")
('B', 'G', 'R', 'NIR')
"""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from affine import Affine
from numpy.typing import NDArray
from rasterio.windows import Window

from gis.errors import CRSError, RasterError
from gis.findings import Findings
from gis.io.rasters import open_raster, raster_env

_IDENTITY = Affine.identity()

ROLES = ("B", "G", "R", "RE", "NIR", "SWIR1", "SWIR2")
"""Spectral band roles, in wavelength order."""

INDEX_ROLES = ("NDVI",)
"""Roles of precomputed index bands a generic raster may carry (used as they are, scale 1)."""

SCL_INVALID = (0, 1, 3, 8, 9, 10)
"""Sentinel-2 scene classes that are not clear land: no data, saturated, cloud shadow, cloud
medium/high probability, thin cirrus."""

BINARY_MASK_INVALID = (1,)
"""Default invalid value of a 0/1 mask raster (1 = cloud or otherwise unusable, as s2cloudless)."""


class Sensor(enum.StrEnum):
    """Sensors Linyuan knows the band order, scale and offset of."""

    SENTINEL2_L2A = "sentinel2-l2a"
    LANDSAT8_L2 = "landsat8-l2"
    GF1 = "gf1"
    GF2 = "gf2"
    UAV_RGB = "uav-rgb"
    UAV_MS = "uav-ms"
    GENERIC = "generic"

    @classmethod
    def get(cls, value: str | Sensor) -> Sensor:
        """Return the member for ``value``; the error lists the valid sensors."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise RasterError(
                f"unknown sensor {value!r}; valid sensors: {valid} (use --sensor generic "
                "--bands B,G,R,NIR,… for anything else)"
            ) from None


@dataclass(frozen=True)
class SensorProfile:
    """Band roles in file order and the DN-to-reflectance conversion of one sensor.

    Parameters
    ----------
    sensor : Sensor
        The sensor.
    roles : tuple of str
        Role of each band, in file order (empty for ``generic``: given by ``bands=``).
    scale, offset : float
        Reflectance = DN * scale + offset.
    nodata : float, optional
        Fill value of the product when the file does not declare one.
    resolution_m : float, optional
        Typical pixel size in metres (a hint, never used to resample).
    """

    sensor: Sensor
    roles: tuple[str, ...]
    scale: float = 1.0
    offset: float = 0.0
    nodata: float | None = None
    resolution_m: float | None = None


_PROFILES = {
    Sensor.SENTINEL2_L2A: SensorProfile(Sensor.SENTINEL2_L2A, ROLES, 1e-4, -0.1, 0, 10.0),
    Sensor.LANDSAT8_L2: SensorProfile(
        Sensor.LANDSAT8_L2, ("B", "G", "R", "NIR", "SWIR1", "SWIR2"), 2.75e-5, -0.2, 0, 30.0
    ),
    Sensor.GF1: SensorProfile(Sensor.GF1, ("B", "G", "R", "NIR"), 1.0, 0.0, 0, 8.0),
    Sensor.GF2: SensorProfile(Sensor.GF2, ("B", "G", "R", "NIR"), 1.0, 0.0, 0, 4.0),
    Sensor.UAV_RGB: SensorProfile(Sensor.UAV_RGB, ("R", "G", "B"), 1.0, 0.0, None, 0.05),
    Sensor.UAV_MS: SensorProfile(Sensor.UAV_MS, ("B", "G", "R", "RE", "NIR"), 1.0, 0.0, None, 0.1),
    Sensor.GENERIC: SensorProfile(Sensor.GENERIC, (), 1.0, 0.0, None, None),
}


def sensor_profile(sensor: str | Sensor) -> SensorProfile:
    """Return the :class:`SensorProfile` of ``sensor``.

    Sentinel-2 L2A bands are B2, B3, B4, B5, B8, B11, B12 (roles B, G, R, RE, NIR, SWIR1,
    SWIR2); Landsat 8 C2 L2 bands SR_B2-SR_B7; GF-1/GF-2 PMS multispectral B1-B4; UAV RGB is
    R, G, B; a multispectral UAV (DJI P4M order) B, G, R, RE, NIR. ``generic`` has no roles: pass
    ``bands=`` to :func:`raster_source`.

    Examples
    --------
    >>> p = sensor_profile("landsat8-l2")
    >>> p.scale, p.offset, p.roles[3]
    (2.75e-05, -0.2, 'NIR')
    """
    return _PROFILES[Sensor.get(sensor)]


def parse_roles(bands: str | Sequence[str]) -> tuple[str, ...]:
    """Parse ``"B,G,R,NIR"`` (or a sequence) into role names; unknown roles raise.

    Examples
    --------
    >>> parse_roles(["r", " nir "])
    ('R', 'NIR')
    """
    items = bands.split(",") if isinstance(bands, str) else list(bands)
    roles = tuple(str(b).strip().upper() for b in items if str(b).strip())
    valid = ROLES + INDEX_ROLES
    unknown = [r for r in roles if r not in valid]
    if unknown or not roles:
        raise RasterError(
            f"unknown band role(s) {unknown or bands!r}; valid roles: {', '.join(valid)} "
            "(e.g. --bands B,G,R,NIR,SWIR1,SWIR2)"
        )
    if len(set(roles)) != len(roles):
        raise RasterError(f"band roles {','.join(roles)} name a role twice; give each once")
    return roles


@dataclass(frozen=True)
class Grid:
    """The pixel grid of a raster: CRS (WKT), transform and size.

    Statistics are taken on this grid; rasters are never resampled.
    """

    crs_wkt: str
    transform: Affine
    width: int
    height: int

    def same_as(self, other: Grid) -> bool:
        """Whether both grids have the same CRS, transform and size."""
        from pyproj import CRS

        return (
            self.width == other.width
            and self.height == other.height
            and self.transform.almost_equals(other.transform, precision=1e-9)
            and CRS.from_wkt(self.crs_wkt).equals(CRS.from_wkt(other.crs_wkt))
        )

    @property
    def res(self) -> tuple[float, float]:
        """Pixel width and height in CRS units."""
        return abs(self.transform.a), abs(self.transform.e)


@dataclass(frozen=True)
class RasterSource:
    """A raster to read by band role: path, roles, conversion, mask and cached grid facts.

    Build it with :func:`raster_source`, which validates the file. It opens nothing itself
    (picklable); :meth:`open` or :meth:`read_roles` open it where it is read.

    Parameters
    ----------
    path : str
        The raster file (or a GDAL ``/vsi…`` path).
    sensor : Sensor
        The sensor profile the roles and conversion came from.
    roles : tuple of str
        Role of each band in file order.
    scale, offset : float
        Reflectance = DN * scale + offset.
    nodata : float, optional
        Pixel value meaning "no data" (any role read at that value makes the pixel invalid).
    mask_path : str, optional
        A mask raster on the same grid (Sentinel-2 SCL, or a 0/1 cloud mask).
    mask_values : tuple of int
        Mask values that make a pixel invalid.
    crs_wkt, transform, width, height, count, block_shape
        Grid facts read once at validation.
    """

    path: str
    sensor: Sensor
    roles: tuple[str, ...]
    scale: float
    offset: float
    nodata: float | None
    mask_path: str | None = None
    mask_values: tuple[int, ...] = ()
    crs_wkt: str = ""
    transform: Affine = _IDENTITY
    width: int = 0
    height: int = 0
    count: int = 0
    block_shape: tuple[int, int] = (256, 256)

    @property
    def grid(self) -> Grid:
        """The raster's :class:`Grid`."""
        return Grid(self.crs_wkt, self.transform, self.width, self.height)

    def band_index(self, role: str) -> int:
        """Return the 1-based band index of ``role``; raise naming the roles present."""
        if role not in self.roles:
            raise RasterError(
                f"{self.path} has no {role} band (its bands are {','.join(self.roles)}); "
                "give the roles with --bands or choose another raster"
            )
        return self.roles.index(role) + 1

    def has(self, *roles: str) -> bool:
        """Whether every role in ``roles`` is present."""
        return all(r in self.roles for r in roles)

    @contextlib.contextmanager
    def open(self, *, cachemax_mb: int = 64) -> Iterator[RasterReader]:
        """Open the raster (and its mask) for windowed reads inside a bounded GDAL cache."""
        with contextlib.ExitStack() as stack:
            stack.enter_context(raster_env(cachemax_mb=cachemax_mb))
            ds = stack.enter_context(open_raster(self.path))
            mask = stack.enter_context(open_raster(self.mask_path)) if self.mask_path else None
            yield RasterReader(self, ds, mask)

    def read_roles(
        self, window: Window, roles: Sequence[str], *, boundless: bool = False
    ) -> dict[str, np.ma.MaskedArray]:
        """Read ``roles`` in ``window`` as float32 reflectance, masked where invalid.

        Opens the file for this one read; use :meth:`open` to read many windows.
        """
        with self.open() as reader:
            return reader.read_roles(window, roles, boundless=boundless)

    def block_windows(self, size: int = 1024) -> list[Window]:
        """Tile the raster in row-major windows of about ``size`` pixels, block-aligned."""
        return grid_windows(self.grid, size, self.block_shape)

    def with_mask(self, mask_path: str | None, mask_values: tuple[int, ...]) -> RasterSource:
        """Return a copy with another mask."""
        return replace(self, mask_path=mask_path, mask_values=tuple(mask_values))


def grid_windows(grid: Grid, size: int, block_shape: tuple[int, int] = (1, 1)) -> list[Window]:
    """Tile ``grid`` in row-major windows of ``size`` pixels rounded up to whole blocks.

    Examples
    --------
    >>> g = Grid("", Affine.identity(), 5, 3)
    >>> [tuple(w.flatten()) for w in grid_windows(g, 2)][:3]
    [(0, 0, 2, 2), (2, 0, 2, 2), (4, 0, 1, 2)]
    """
    sh, sw = tile_shape(size, block_shape)
    return [
        Window(c, r, min(sw, grid.width - c), min(sh, grid.height - r))
        for r in range(0, grid.height, sh)
        for c in range(0, grid.width, sw)
    ]


def tile_shape(size: int, block_shape: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    """Return the (rows, cols) of :func:`grid_windows` tiles: ``size`` rounded up to blocks.

    Examples
    --------
    >>> tile_shape(1000, (256, 256))
    (1024, 1024)
    """
    bh, bw = block_shape
    return max(bh, -(-size // bh) * bh), max(bw, -(-size // bw) * bw)


class RasterReader:
    """An opened :class:`RasterSource`: reads windows by role as reflectance."""

    def __init__(self, source: RasterSource, dataset: Any, mask: Any = None) -> None:
        self.source = source
        self.dataset = dataset
        self.mask = mask

    def read_array(
        self, window: Window, roles: Sequence[str], *, halo: int = 0
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """Read ``roles`` in ``window`` grown by ``halo`` pixels on every side.

        Returns
        -------
        values : numpy.ndarray
            float32 reflectance, shape (len(roles), rows, cols); invalid pixels hold NaN.
        invalid : numpy.ndarray
            bool (rows, cols): nodata in any role read, masked, or outside the raster.
        """
        src = self.source
        win, pads = _clip_window(window, halo, src.width, src.height)
        idx = [src.band_index(r) for r in roles]
        raw = self.dataset.read(idx, window=win)
        invalid = np.zeros(raw.shape[1:], dtype=bool)
        if src.nodata is not None:
            invalid |= (raw == src.nodata).any(axis=0)
        if raw.dtype.kind == "f":
            invalid |= np.isnan(raw).any(axis=0)
        if self.mask is not None:
            invalid |= np.isin(self.mask.read(1, window=win), src.mask_values)
        values = _to_reflectance(raw, src.scale, src.offset)
        values[:, invalid] = np.nan
        if any(pads):
            (top, bottom), (left, right) = pads[:2], pads[2:]
            values = np.pad(values, ((0, 0), (top, bottom), (left, right)), constant_values=np.nan)
            invalid = np.pad(invalid, ((top, bottom), (left, right)), constant_values=True)
        return values, invalid

    def read_roles(
        self, window: Window, roles: Sequence[str], *, boundless: bool = False
    ) -> dict[str, np.ma.MaskedArray]:
        """Read ``roles`` in ``window`` as masked float32 reflectance.

        With ``boundless=False`` the window is clipped to the raster; with ``boundless=True``
        the result has the window's full shape and pixels outside the raster are masked.
        """
        win = window if boundless else _intersect(window, self.source)
        values, invalid = self.read_array(win, roles)
        return {r: np.ma.MaskedArray(values[i], mask=invalid.copy()) for i, r in enumerate(roles)}


def _intersect(window: Window, src: RasterSource) -> Window:
    win, _ = _clip_window(window, 0, src.width, src.height)
    return win


def _clip_window(
    window: Window, halo: int, width: int, height: int
) -> tuple[Window, tuple[int, int, int, int]]:
    """Grow ``window`` by ``halo``; clip to the raster; return it and the pads (t, b, l, r)."""
    c0, r0 = int(window.col_off) - halo, int(window.row_off) - halo
    c1, r1 = c0 + int(window.width) + 2 * halo, r0 + int(window.height) + 2 * halo
    cc0, rr0 = min(max(c0, 0), width), min(max(r0, 0), height)
    cc1, rr1 = max(min(c1, width), cc0), max(min(r1, height), rr0)
    pads = (rr0 - r0, r1 - rr1, cc0 - c0, c1 - cc1)
    return Window(cc0, rr0, cc1 - cc0, rr1 - rr0), pads


def _to_reflectance(raw: NDArray[Any], scale: float, offset: float) -> NDArray[np.float32]:
    values = raw.astype(np.float32)
    if scale != 1.0:
        values *= np.float32(scale)
    if offset != 0.0:
        values += np.float32(offset)
    return values


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
    """Validate a raster and return its :class:`RasterSource`.

    Parameters
    ----------
    path : path-like
        The raster file.
    sensor : str or Sensor
        One of :class:`Sensor`; fixes band order, scale and offset.
    bands : str or sequence of str, optional
        Roles of the bands in file order (``"B,G,R,NIR,SWIR1,SWIR2"``, or ``"NDVI"`` for a
        precomputed NDVI raster). Required for ``generic``; overrides the sensor's order.
    mask : path-like, optional
        A mask raster on the same grid: Sentinel-2 SCL, or a 0/1 mask where 1 is invalid.
    mask_values : sequence of int, optional
        Invalid mask values; default :data:`SCL_INVALID` for Sentinel-2, else ``(1,)``.
    crs : CRS-like, optional
        CRS of a raster that declares none (never overrides a declared one).
    findings : Findings, optional
        Receives decisions worth telling (the Sentinel-2 offset used).

    Raises
    ------
    DataSourceError
        The file cannot be read.
    CRSError
        The raster has no CRS and ``crs`` is not given, or ``crs`` contradicts it.
    RasterError
        Unknown sensor or roles, band count not matching, mask on another grid.
    """
    p = os.fspath(path)
    profile = sensor_profile(sensor)
    roles = parse_roles(bands) if bands is not None else profile.roles
    if not roles:
        raise RasterError(
            f"{p}: sensor 'generic' needs the band roles in file order, e.g. "
            "--bands B,G,R,NIR,SWIR1,SWIR2 (or --bands NDVI for an NDVI raster)"
        )
    with open_raster(p) as ds:
        facts = _grid_facts(ds, p, crs)
        _check_count(p, ds.count, roles, profile.sensor)
        nodata = ds.nodata if ds.nodata is not None else profile.nodata
        offset = _s2_offset(ds, p, profile, findings)
    src = RasterSource(p, profile.sensor, roles, profile.scale, offset, nodata, **facts)
    if mask is None:
        return src
    default = SCL_INVALID if profile.sensor is Sensor.SENTINEL2_L2A else BINARY_MASK_INVALID
    values = tuple(int(v) for v in (mask_values if mask_values is not None else default))
    _check_mask_grid(os.fspath(mask), src)
    return src.with_mask(os.fspath(mask), values)


def _grid_facts(ds: Any, path: str, crs: Any) -> dict[str, Any]:
    from pyproj import CRS

    if ds.crs is None and crs is None:
        raise CRSError(
            f"raster {path} has no coordinate reference system; pass --crs EPSG:… (crs=) to "
            "state it, or fix the file with gdal_edit.py -a_srs EPSG:…"
        )
    declared = CRS.from_wkt(ds.crs.to_wkt()) if ds.crs is not None else None
    if declared is not None and crs is not None and not declared.equals(CRS.from_user_input(crs)):
        raise CRSError(
            f"raster {path} declares {declared.to_string()} but crs={crs!r} was given; a "
            "declared CRS is never relabelled — drop --crs, or reproject the raster with gdalwarp"
        )
    wkt = declared.to_wkt() if declared is not None else CRS.from_user_input(crs).to_wkt()
    bh, bw = ds.block_shapes[0]
    return {
        "crs_wkt": wkt,
        "transform": ds.transform,
        "width": ds.width,
        "height": ds.height,
        "count": ds.count,
        "block_shape": (int(bh), int(bw)),
    }


def _check_count(path: str, count: int, roles: tuple[str, ...], sensor: Sensor) -> None:
    if count != len(roles):
        raise RasterError(
            f"raster {path} has {count} band(s) but sensor {sensor.value!r} expects "
            f"{len(roles)} ({','.join(roles)}); give the roles of its bands in order with "
            "--bands (e.g. --bands B,G,R,NIR), or choose the right --sensor"
        )


def _s2_offset(ds: Any, path: str, profile: SensorProfile, findings: Findings | None) -> float:
    """Sentinel-2 L2A offset in reflectance from the file's tags (default baseline >= 04.00)."""
    if profile.sensor is not Sensor.SENTINEL2_L2A:
        return profile.offset
    tags: dict[str, str] = dict(ds.tags())
    for i in range(1, ds.count + 1):
        tags.update({k: v for k, v in ds.tags(i).items() if k not in tags})
    add = next((v for k, v in tags.items() if "BOA_ADD_OFFSET" in k.upper()), None)
    baseline = next((v for k, v in tags.items() if "PROCESSING_BASELINE" in k.upper()), None)
    if add is not None:
        offset, why = float(add) * profile.scale, f"BOA_ADD_OFFSET={add} from the file's tags"
    elif baseline is not None and float(baseline) < 4.0:
        offset, why = 0.0, f"processing baseline {baseline} < 04.00 (no offset)"
    else:
        offset = profile.offset
        why = f"processing baseline {baseline or 'not tagged, assumed'} >= 04.00: -1000 DN"
    if findings is not None:
        findings.add(
            "s2_offset",
            f"Sentinel-2 L2A reflectance = DN * 1e-4 + {offset:g} ({why})",
            severity="info",
            source=path,
        )
    return offset


def _check_mask_grid(mask_path: str, src: RasterSource) -> None:
    with open_raster(mask_path) as m:
        same = (m.width, m.height) == (src.width, src.height) and m.transform.almost_equals(
            src.transform, precision=1e-9
        )
    if not same:
        raise RasterError(
            f"mask {mask_path} is not on the grid of {src.path} ({m.width}x{m.height} vs "
            f"{src.width}x{src.height}, or another transform); a 20 m SCL must be resampled to "
            "the 10 m grid first (gdalwarp -r near -tr 10 10 -tap)"
        )
