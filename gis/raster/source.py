"""RasterSource: a validated, picklable raster to read by band role, and its reader."""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from affine import Affine
from numpy.typing import NDArray
from rasterio.enums import ColorInterp, MaskFlags
from rasterio.windows import Window

from gis.crs import crs_label
from gis.enums import Lang, ParamEnum
from gis.errors import CRSError, GisError, RasterError, shell_arg
from gis.findings import Findings
from gis.io.rasters import open_raster, raster_env, read_window
from gis.raster.baseline import holds_reflectance, s2_offset
from gis.raster.georeference import check_coordinates, check_georeferenced
from gis.raster.grid import Grid, grid_windows
from gis.raster.kernels import to_reflectance
from gis.sensors import (
    ALPHA,
    BINARY_MASK_INVALID,
    SCL_INVALID,
    Sensor,
    SensorProfile,
    parse_roles,
    sensor_profile,
)

_IDENTITY = Affine.identity()


class DatasetMask(ParamEnum):
    """Which of the raster's own masks marks invalid pixels (nodata and NaN always do).

    ``none``: no alpha band and no GDAL mask; ``alpha``: the alpha band, 0 outside the imaged
    area (RGBA orthomosaics); ``per_dataset``: GDAL's per-dataset mask, internal (JPEG-in-TIFF
    deliveries, ``GDAL_TIFF_INTERNAL_MASK``) or a ``.msk`` file next to the raster, 0 invalid;
    ``per_band``: GDAL per-band masks, 0 in any band read is invalid.
    """

    NONE = "none"
    ALPHA = "alpha"
    PER_DATASET = "per_dataset"
    PER_BAND = "per_band"


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
        Grid facts read once at validation (``count`` is every band, alpha included).
    indexes : tuple of int
        1-based file band of each role (empty: bands 1, 2, … in the order of ``roles``).
    dataset_mask : DatasetMask
        The raster's own mask read with the bands (alpha band, GDAL per-dataset mask, …).
    alpha_index : int, optional
        1-based band of the alpha channel (``dataset_mask`` is ``alpha``); not a role.
    mask_file : str, optional
        The ``.msk`` file holding the GDAL mask, when it is not inside the raster.
    dataset : str
        What GDAL opens when it is not ``path`` (the VRT stacking a product's band files);
        ``path`` then names the product in messages.
    mask_bits : tuple of (int, int)
        Bit tests of a QA mask (Landsat ``QA_PIXEL``/``BQA``): a pixel is invalid where
        ``mask & bits == value`` for any ``(bits, value)``; used instead of ``mask_values``.
    warp : Warp, optional
        Read on another grid through a warped virtual dataset
        (:func:`gis.raster.analysis_grid.on_grid`); the grid facts are then that grid's.
    reader : type of RasterReader, optional
        The reader class :meth:`open` uses (None: :class:`RasterReader`, the plain file);
        :func:`~gis.raster.analysis_grid.on_grid` sets the warped reader and
        :func:`~gis.raster.mosaic.mosaic_source` the mosaic's, so this module needs neither.
    parts : tuple of RasterSource
        The scenes of a mosaic, on this source's grid, first valid pixel in order
        (:mod:`gis.raster.mosaic`).
    acquired : str, optional
        Sensing date (ISO) from the product's metadata.
    product : str
        What the source was read as (``"GeoTIFF"``, ``"Sentinel-2 L2A .SAFE"``, a mosaic …),
        for the run table.
    radiometry : str
        ``reflectance``, ``dn`` (uncalibrated: 8-bit stretched or raw DN) or ``auto`` (decided
        from the data, :func:`gis.zonal.inside.resolve_radiometry`); a hook for product readers
        that know it from metadata.
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
    indexes: tuple[int, ...] = ()
    dataset_mask: DatasetMask = DatasetMask.NONE
    alpha_index: int | None = None
    mask_file: str | None = None
    dataset: str = ""
    mask_bits: tuple[tuple[int, int], ...] = ()
    warp: Warp | None = None
    parts: tuple[RasterSource, ...] = ()
    acquired: str | None = None
    product: str = ""
    reader: type[RasterReader] | None = None
    radiometry: str = "auto"

    @property
    def grid(self) -> Grid:
        """The raster's :class:`Grid`."""
        return Grid(self.crs_wkt, self.transform, self.width, self.height)

    def band_index(self, role: str) -> int:
        """Return the 1-based band index of ``role``; raise naming the roles present."""
        if role not in self.roles:
            raise RasterError(
                f"{self.path} has no {role} band (its bands are {','.join(self.roles)}); "
                "give the roles with --bands or choose another raster",
                zh=f"{self.path} 没有 {role} 波段（其波段为 {','.join(self.roles)}）；"
                "请用 --bands 给出波段角色，或换一景影像",
            )
        k = self.roles.index(role)
        return self.indexes[k] if self.indexes else k + 1

    def has(self, *roles: str) -> bool:
        """Whether every role in ``roles`` is present."""
        return all(r in self.roles for r in roles)

    @property
    def files(self) -> tuple[str, ...]:
        """Every file a reader opens: the raster, its mask raster, its ``.msk`` mask.

        Dask workers must see all of them (:func:`gis.distributed.check_workers`).
        """
        if self.parts:
            return tuple(f for p in self.parts for f in p.files)
        own = (self.dataset or self.path, self.mask_path, self.mask_file)
        return tuple(p for p in own if p)

    @contextlib.contextmanager
    def open(self, *, cachemax_mb: int = 64) -> Iterator[RasterReader]:
        """Open the raster (and its mask) for windowed reads inside a bounded GDAL cache.

        The source's :attr:`reader` opens it: a warped source reads through a ``WarpedVRT`` on
        its analysis grid (:class:`gis.raster.warped.WarpedReader`); a mosaic opens every scene
        and reads them as one (:class:`gis.raster.mosaic.MosaicReader`).
        """
        with contextlib.ExitStack() as stack:
            yield (self.reader or RasterReader).opened(self, stack, cachemax_mb=cachemax_mb)

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


@dataclass(frozen=True)
class Warp:
    """How a source is read on another grid: the target grid and the resampling.

    ``base`` is the source as its file stores it (its own grid, masks and alpha), so a source
    can be put on yet another grid from its file, with one resampling, never two. The warped
    source keeps ``base``'s mask fields; :class:`gis.raster.warped.WarpedReader` reads them.
    """

    grid: Grid
    resampling: str
    mask_resampling: str
    base: RasterSource


def open_source_env(
    source: RasterSource, stack: contextlib.ExitStack, *, cachemax_mb: int, **env: bool
) -> Any:
    """Enter ``source``'s bounded GDAL environment on ``stack``; return its mask raster, if any.

    ``env`` passes further switches of :func:`gis.io.rasters.raster_env` (``warp_by_block``).
    """
    list_dir = source.mask_file is not None
    stack.enter_context(raster_env(cachemax_mb=cachemax_mb, list_dir=list_dir, **env))
    return stack.enter_context(open_raster(source.mask_path)) if source.mask_path else None


ROLE_ZH = {"raster": "影像", "before image": "前期影像", "after image": "后期影像"}
"""The roles an image plays in error messages, in Chinese."""


def require_usable(src: RasterSource, *, role: str = "raster") -> None:
    """Raise :class:`RasterError` when no pixel of ``src`` is usable.

    A pixel is usable where every band read is valid by the source's own rules (nodata, NaN,
    alpha, GDAL mask, mask raster, a product's SCL or QA bits — :meth:`RasterReader.read_array`).
    Reads window by window (a block, or 256 rows of a striped file) and stops at the first
    usable pixel, so a normal image costs one block and memory never grows with the raster.

    Raises
    ------
    RasterError
        When every pixel is nodata, masked or NaN (an empty export, a wrong nodata value).
    """
    with src.open() as reader:
        for window in grid_windows(src.grid, 256, src.block_shape):
            _, invalid = reader.read_array(window, src.roles)
            if not invalid.all():
                return
    raise RasterError(
        f"{role} {src.path} has no usable pixel: every pixel is nodata, masked or NaN; "
        "check the file (gdalinfo -stats) — an empty export or a wrong nodata value is the "
        "usual cause — and pass an image with data",
        zh=f"{ROLE_ZH.get(role, role)} {src.path} 没有可用像元：全部为 nodata、被掩膜或 NaN；"
        "请用 `gdalinfo -stats` "
        "检查文件——常见原因是导出为空或 nodata 值设错——并给出有数据的影像",
    )


class ReaderInUseError(GisError, RuntimeError):
    """One :class:`RasterReader` read from two threads at once (a bug: open one per thread)."""


class RasterReader:
    """An opened :class:`RasterSource`: reads windows by role as reflectance.

    Threads: a reader holds GDAL dataset handles, which two threads must not use at once.
    Open one reader per thread (``with source.open() as reader`` inside the thread's work, as
    the patch strips of :func:`gis.zonal.stats.run_windows`, the bands of the discolored
    passes and the runs of :mod:`gis.zonal.sample` do), or pass a reader from thread to thread
    one read at a time (fire burned reads each date in a worker and waits for it before the
    next window). A read that starts while another thread reads the same reader raises
    :class:`ReaderInUseError` instead of returning wrong pixels or crashing GDAL; ``dataset``
    read directly is the caller's to keep to one thread.
    """

    def __init__(self, source: RasterSource, dataset: Any, mask: Any = None) -> None:
        self.source = source
        self.dataset = dataset
        self.mask = mask
        self._busy = threading.Lock()

    @contextlib.contextmanager
    def one_read(self) -> Iterator[None]:
        """Hold the reader for one read; raise :class:`ReaderInUseError` if a thread has it."""
        if not self._busy.acquire(blocking=False):
            raise ReaderInUseError(
                f"{self.source.path}: one raster reader was read from two threads at once; "
                "open one reader per thread (with source.open() as reader: inside the thread)",
                zh=f"{self.source.path}：同一个影像读取器被两个线程同时读取；"
                "请每个线程各自打开读取器（在线程内 with source.open() as reader:）",
            )
        try:
            yield
        finally:
            self._busy.release()

    @classmethod
    def opened(
        cls, source: RasterSource, stack: contextlib.ExitStack, *, cachemax_mb: int
    ) -> RasterReader:
        """Open ``source``'s file and mask raster on ``stack``; return their reader."""
        mask = open_source_env(source, stack, cachemax_mb=cachemax_mb)
        return cls(source, stack.enter_context(open_raster(source.dataset or source.path)), mask)

    def read_array(
        self, window: Window, roles: Sequence[str], *, halo: int = 0
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """Read ``roles`` in ``window`` grown by ``halo`` pixels on every side.

        Returns
        -------
        values : numpy.ndarray
            float32 reflectance, shape (len(roles), rows, cols); invalid pixels hold NaN.
        invalid : numpy.ndarray
            bool (rows, cols): nodata or NaN in any role read, alpha 0, GDAL mask 0, set in
            the mask raster, or outside the raster.
        """
        src = self.source
        raw, masked, pads = self.read_raw(window, roles, halo=halo)
        return to_reflectance(
            raw, nodata=src.nodata, scale=src.scale, offset=src.offset, invalid=masked, pads=pads
        )

    def read_raw(
        self, window: Window, roles: Sequence[str], *, halo: int = 0
    ) -> tuple[NDArray[Any], NDArray[np.bool_] | None, tuple[int, int, int, int]]:
        """Read what :meth:`read_array` converts: raw bands, mask, pads (top, bottom, left, right).

        ``raw`` holds ``roles`` as the file stores them in ``window`` grown by ``halo`` and
        clipped to the raster; ``mask`` the pixels the raster's masks mark invalid (``None``:
        none); ``pads`` the rows and columns of the grown window outside the raster.
        :func:`gis.raster.kernels.to_reflectance` of them with the source's nodata, scale and
        offset is :meth:`read_array`'s result.
        """
        src = self.source
        win, pads = _clip_window(window, halo, src.width, src.height)
        idx = [src.band_index(r) for r in roles]
        with self.one_read():
            raw, masked = self._read_raw(idx, win)
        return raw, masked, pads

    def _read_raw(
        self, idx: list[int], win: Window
    ) -> tuple[NDArray[Any], NDArray[np.bool_] | None]:
        """Raw bands ``idx`` in ``win`` and the pixels the raster's masks mark invalid.

        The alpha band is read in the same call as the bands (one pass over the blocks of a
        pixel-interleaved RGBA file); a GDAL mask is read only when the file has one.
        """
        src, kind = self.source, self.source.dataset_mask
        alpha = kind is DatasetMask.ALPHA and src.alpha_index is not None
        raw = read_window(self.dataset, [*idx, src.alpha_index] if alpha else idx, win)
        masked: NDArray[np.bool_] | None = None
        if alpha:
            raw, masked = raw[:-1], raw[-1] == 0
        elif kind is DatasetMask.PER_DATASET:
            masked = read_window(self.dataset, idx[0], win, masks=True) == 0
        elif kind is DatasetMask.PER_BAND:
            masked = (read_window(self.dataset, idx, win, masks=True) == 0).any(axis=0)
        if self.mask is not None:
            flagged = mask_flags(read_window(self.mask, 1, win), src)
            masked = flagged if masked is None else masked | flagged
        return raw, masked

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


def mask_flags(values: NDArray[Any], src: RasterSource) -> NDArray[np.bool_]:
    """Return where the mask raster's ``values`` make a pixel invalid (values or QA bits).

    Examples
    --------
    >>> src = RasterSource("a.tif", Sensor.GENERIC, ("R",), 1.0, 0.0, None, mask_bits=((8, 8),))
    >>> mask_flags(np.array([0, 8, 9, 2]), src).tolist()
    [False, True, True, False]
    """
    if not src.mask_bits:
        return np.isin(values, src.mask_values)
    v = values.astype(np.int64)
    out = np.zeros(v.shape, dtype=bool)
    for bits, value in src.mask_bits:
        out |= (v & bits) == value
    return out


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


def file_source(
    path: str | os.PathLike[str],
    *,
    sensor: str | Sensor = "generic",
    bands: str | Sequence[str] | None = None,
    mask: str | os.PathLike[str] | None = None,
    mask_values: Sequence[int] | None = None,
    crs: Any = None,
    findings: Findings | None = None,
) -> RasterSource:
    """Validate one raster file and return its :class:`RasterSource`.

    :func:`gis.raster.raster_source` also takes products, folders and lists of scenes.

    An alpha band (ColorInterp alpha, or the role ``A``/``ALPHA`` in ``bands``) is not a
    spectral band: an RGBA orthomosaic reads with ``sensor="uav-rgb"`` or ``bands="R,G,B"``
    and its pixels of alpha 0 are invalid. A GDAL mask (internal, as in JPEG-compressed
    GeoTIFFs, or a ``.msk`` file) marks invalid pixels too. The finding ``raster_validity``
    says what marks pixels invalid.

    Parameters
    ----------
    path : path-like
        The raster file.
    sensor : str or Sensor
        One of :class:`Sensor`; fixes band order, scale and offset.
    bands : str or sequence of str, optional
        Roles of the bands in file order (``"B,G,R,NIR,SWIR1,SWIR2"``, ``"R,G,B,A"`` for an
        RGBA file, or ``"NDVI"`` for a precomputed NDVI raster). Required for ``generic``;
        overrides the sensor's order. A band the file marks alpha may be left out.
    mask : path-like, optional
        A mask raster on the same grid: Sentinel-2 SCL, or a 0/1 mask where 1 is invalid.
    mask_values : sequence of int, optional
        Invalid mask values; default :data:`SCL_INVALID` for Sentinel-2, else ``(1,)``.
    crs : CRS-like, optional
        CRS of a raster that declares none (never overrides a declared one).
    findings : Findings, optional
        Receives decisions worth telling (validity source, Sentinel-2 offset, alpha doubts).

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
    named = parse_roles(bands) if bands is not None else profile.roles
    if not named:
        raise RasterError(
            f"{p}: sensor 'generic' needs the band roles in file order, e.g. "
            "--bands B,G,R,NIR,SWIR1,SWIR2 (or --bands NDVI for an NDVI raster)",
            zh=f"{p}：--sensor generic 需要按文件顺序给出波段角色，如 --bands B,G,R,NIR,SWIR1,SWIR2"
            "（NDVI 影像用 --bands NDVI）",
        )
    with open_raster(p) as ds:
        facts = _grid_facts(ds, p, crs, findings)
        layout = _band_layout(ds, p, named, profile.sensor, findings)
        _check_bands(ds, p, layout["roles"], layout["indexes"])
        facts.update(layout, **_own_mask(ds, layout["indexes"], layout["alpha_index"]))
        nodata = ds.nodata if ds.nodata is not None else profile.nodata
        scale, offset = _scale_offset(ds, p, profile, layout["indexes"], findings)
    roles = facts.pop("roles")
    src = RasterSource(p, profile.sensor, roles, scale, offset, nodata, **facts)
    if mask is not None:
        default = SCL_INVALID if profile.sensor is Sensor.SENTINEL2_L2A else BINARY_MASK_INVALID
        values = tuple(int(v) for v in (mask_values if mask_values is not None else default))
        _check_mask_grid(os.fspath(mask), src)
        src = src.with_mask(os.fspath(mask), values)
    note_validity(src, findings)
    return src


def note_validity(src: RasterSource, findings: Findings | None) -> None:
    """Add the finding ``raster_validity``: which pixels of ``src`` are read as invalid."""
    if findings is not None:
        findings.add(
            "raster_validity",
            validity_message(src),
            severity="info",
            source=src.path,
            zh=validity_message(src, lang="zh"),
        )


def _band_layout(
    ds: Any, path: str, named: tuple[str, ...], sensor: Sensor, findings: Findings | None
) -> dict[str, Any]:
    """Spectral roles, their file bands and the alpha band, from the roles and ColorInterp.

    Roles naming every band are taken as they are. One band fewer is allowed when the file
    marks exactly one band alpha (an RGBA orthomosaic read as R,G,B): that band is the alpha.
    """
    tagged = [i + 1 for i, ci in enumerate(ds.colorinterp) if ci == ColorInterp.alpha]
    order = list(range(1, ds.count + 1))
    if len(named) != ds.count:
        if ALPHA in named or len(tagged) != 1 or len(named) + 1 != ds.count:
            raise _count_error(path, ds.count, named, sensor, tagged)
        order.remove(tagged[0])
        named, order = (*named, ALPHA), [*order, tagged[0]]
    pairs = [(r, i) for r, i in zip(named, order, strict=True) if r != ALPHA]
    alpha = next((i for r, i in zip(named, order, strict=True) if r == ALPHA), None)
    misread = [(r, i) for r, i in pairs if i in tagged]
    if misread and findings is not None:
        role, band = misread[0]
        findings.add(
            "alpha_band_read_as_spectral",
            f"band {band} of {path} is marked alpha in the file (ColorInterp) but is read as "
            f"{role}; if it is the transparency band, give its role as A (e.g. --bands R,G,B,A)",
            source=path,
            zh=f"{path} 的第 {band} 波段在文件中标为 alpha（ColorInterp），却按 {role} 读取；"
            "如它是透明度波段，请将其角色设为 A（如 --bands R,G,B,A）",
        )
    return {
        "roles": tuple(r for r, _ in pairs),
        "indexes": tuple(i for _, i in pairs),
        "alpha_index": alpha,
    }


_DESCRIBED_ROLES = {
    "blue": "B", "green": "G", "red": "R", "rededge": "RE", "nir": "NIR", "nearinfrared": "NIR",
    "swir1": "SWIR1", "swir2": "SWIR2", "ndvi": "NDVI",
}  # fmt: skip
"""Band descriptions (lower case, without spaces, ``-`` or ``_``) that name a role."""


def _check_bands(ds: Any, path: str, roles: Sequence[str], indexes: Sequence[int]) -> None:
    """Refuse a paletted band, or roles that the file's band descriptions contradict.

    A paletted (colour-table) band holds class codes, not measurements. A file whose bands
    are described ``Red, Green, Blue, NIR`` read as ``B,G,R,NIR`` would silently swap red and
    blue: its descriptions are trusted over the sensor's usual order.
    """
    if any(ds.colorinterp[i - 1] == ColorInterp.palette for i in indexes):
        raise RasterError(
            f"raster {path} is a paletted image (a colour table over class codes), not "
            "measurements; give the multispectral image it was made from",
            zh=f"影像 {path} 是调色板影像（颜色表对应的类别码），不是光谱测量值；"
            "请给出生成它的多光谱原始影像",
        )
    described = [
        _DESCRIBED_ROLES.get(re.sub(r"[\s_-]", "", (ds.descriptions[i - 1] or "").lower()))
        for i in indexes
    ]
    wrong = [(i, r, d) for i, r, d in zip(indexes, roles, described, strict=True) if d and d != r]
    if wrong:
        i, role, _ = wrong[0]
        order = ",".join(d or "?" for d in described)
        raise RasterError(
            f"raster {path}: band {i} is described {ds.descriptions[i - 1]!r} but would be read "
            f"as {role}; its descriptions give the order {order} — pass --bands {order} "
            "(with --sensor generic if the sensor's scale does not apply)",
            zh=f"影像 {path}：第 {i} 波段的描述为 {ds.descriptions[i - 1]!r}，却会按 {role} 读取；"
            f"按波段描述其顺序为 {order}——请用 --bands {order}"
            "（如传感器的比例系数不适用，再加 --sensor generic）",
        )


def _own_mask(ds: Any, indexes: Sequence[int], alpha: int | None) -> dict[str, Any]:
    """Return the raster's own mask (:class:`DatasetMask`) and its ``.msk`` file, if any."""
    if alpha is not None:
        return {"dataset_mask": DatasetMask.ALPHA, "mask_file": None}
    flags = [ds.mask_flag_enums[i - 1] for i in indexes]
    if any(MaskFlags.alpha in f for f in flags):  # an alpha band read as spectral
        kind = DatasetMask.NONE
    elif any(not f for f in flags):  # GDAL per-band mask bands (flags 0)
        kind = DatasetMask.PER_BAND
    elif MaskFlags.per_dataset in flags[0]:
        kind = DatasetMask.PER_DATASET
    else:
        kind = DatasetMask.NONE
    msk = next((f for f in ds.files if str(f).lower().endswith(".msk")), None)
    return {"dataset_mask": kind, "mask_file": msk if kind is not DatasetMask.NONE else None}


_VALIDITY_WORDS = {
    "en": {
        "alpha": "alpha band {i} is 0 (outside the imaged area)",
        "dataset": "the GDAL per-dataset mask {name} is 0",
        "internal": "(internal)",
        "band": "the GDAL mask of any band read is 0",
        "nodata": "any band read equals nodata {v:g}",
        "mask": "the mask {path} is {values}",
        "bits": "any of the bit tests (bits=value)",
        "none": "{path}: no nodata value, alpha band or mask; every pixel is read as valid "
        "(except NaN) — set nodata (gdal_edit.py -a_nodata) if the image has a fill value",
        "some": "{path}: pixels are invalid where {parts}, or NaN",
        "or": ", or ",
    },
    "zh": {
        "alpha": "alpha 波段 {i} 为 0（成像范围之外）",
        "dataset": "GDAL 整体掩膜 {name} 为 0",
        "internal": "（内部）",
        "band": "所读任一波段的 GDAL 掩膜为 0",
        "nodata": "所读任一波段等于 nodata 值 {v:g}",
        "mask": "掩膜 {path} 为 {values}",
        "bits": "任一位检验成立（位=值）",
        "none": "{path}：无 nodata 值、alpha 波段或掩膜；除 NaN 外所有像元都按有效读取——"
        "如影像有填充值，请设置 nodata（gdal_edit.py -a_nodata）",
        "some": "{path}：以下像元无效：{parts}，或为 NaN",
        "or": "，或",
    },
}


def validity_message(src: RasterSource, *, lang: str = "en") -> str:
    """Say in words (``lang``: ``en`` or ``zh``) which pixels of ``src`` are read as invalid.

    Examples
    --------
    >>> src = RasterSource("a.tif", Sensor.UAV_RGB, ("R", "G", "B"), 1.0, 0.0,
    ...     None, dataset_mask=DatasetMask.ALPHA, alpha_index=4)
    >>> validity_message(src)
    'a.tif: pixels are invalid where alpha band 4 is 0 (outside the imaged area), or NaN'
    >>> validity_message(src, lang="zh")
    'a.tif：以下像元无效：alpha 波段 4 为 0（成像范围之外），或为 NaN'
    """
    w = _VALIDITY_WORDS[Lang.get(lang).value]
    mask_name = os.path.basename(src.mask_file) if src.mask_file else w["internal"]
    where = {
        DatasetMask.ALPHA: w["alpha"].format(i=src.alpha_index),
        DatasetMask.PER_DATASET: w["dataset"].format(name=mask_name),
        DatasetMask.PER_BAND: w["band"],
    }
    parts = [where[src.dataset_mask]] if src.dataset_mask in where else []
    if src.nodata is not None:
        parts.append(w["nodata"].format(v=src.nodata))
    if src.mask_path is not None:
        values = ",".join(str(v) for v in src.mask_values)
        if src.mask_bits:
            values = w["bits"] + " " + ", ".join(f"{b:#x}={v:#x}" for b, v in src.mask_bits)
        parts.append(w["mask"].format(path=_mask_label(src.mask_path), values=values))
    if not parts:
        return w["none"].format(path=src.path)
    return w["some"].format(path=src.path, parts=w["or"].join(parts))


def _mask_label(mask_path: str) -> str:
    """Name a mask in words: its path, or the band file a product's mask VRT reads.

    Examples
    --------
    >>> _mask_label('<VRTDataset><SourceFilename relativeToVRT="0">/p/T51_SCL_20m.jp2'
    ...     '</SourceFilename></VRTDataset>')
    'T51_SCL_20m.jp2'
    """
    if not mask_path.startswith("<"):
        return mask_path
    found = re.search(r"<SourceFilename[^>]*>([^<]+)</SourceFilename>", mask_path)
    return found.group(1).rsplit("/", 1)[-1] if found else "the product's mask"


_RASTER_ROLE_ZH = {"raster": "影像"}
"""Chinese names of the raster roles :func:`raster_crs_wkt` names in messages (else as is)."""


def _prj_beside(ds: Any, path: str, findings: Findings | None, role: str) -> str | None:
    """Return the CRS of a ``.prj`` beside a raster that declares none (GDAL does not read it).

    Chinese image deliveries come as ``.tif`` + ``.tfw`` + ``.prj``; the ``.prj`` is used with
    the finding ``crs_from_prj``.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    prj = os.path.splitext(path)[0] + ".prj"
    if ds.crs is not None or not os.path.isfile(prj):
        return None
    with open(prj, encoding="utf-8", errors="replace") as fh:
        wkt = fh.read()
    try:
        crs = CRS.from_user_input(wkt)
    except ProjCRSError:
        return None
    if findings is not None:
        findings.add(
            "crs_from_prj",
            f"{role} {path} declares no CRS; read as {crs_label(crs, 'en')}, from the .prj "
            "beside it",
            severity="info",
            source=path,
            zh=f"{_RASTER_ROLE_ZH.get(role, role)} {path} 未声明坐标系；按其旁边 .prj 文件所写的 "
            f"{crs_label(crs)} 读取",
        )
    return wkt


def raster_crs_wkt(
    ds: Any,
    path: str,
    *,
    crs: Any = None,
    findings: Findings | None = None,
    role: str = "raster",
) -> str:
    """Return the WKT of an open raster's CRS: declared, else ``crs=``, else a ``.prj`` beside it.

    The grid must be georeferenced and its coordinates must fit the CRS
    (:mod:`gis.raster.georeference`). Images and DEMs are read through here, so a ``.prj``
    delivered beside either is read the same way (finding ``crs_from_prj``).

    Parameters
    ----------
    ds : rasterio.DatasetReader
        The open raster.
    path : str
        Its path, named in messages.
    crs : CRS-like, optional
        CRS of a raster that declares none (never overrides a declared one).
    findings : Findings, optional
        Receives ``crs_from_prj``.
    role : str
        What the raster is, as messages name it (``"raster"``, ``"DEM"``).

    Raises
    ------
    CRSError
        No CRS declared, given or beside it (the message names the ``.prj`` path and the
        ``gdal_edit.py`` command); ``crs`` contradicts the declared CRS.
    RasterError
        A grid that is not north-up or whose coordinates do not fit the CRS.
    """
    from pyproj import CRS

    check_georeferenced(ds, path)
    if crs is None:
        crs = _prj_beside(ds, path, findings, role)
    role_zh = _RASTER_ROLE_ZH.get(role, role)
    if ds.crs is None and crs is None:
        prj = os.path.splitext(path)[0] + ".prj"
        raise CRSError(
            f"{role} {path} has no coordinate reference system; put the .prj delivered with it "
            f"beside it as {prj}, or write the CRS into the file with "
            f'gdal_edit.py -a_srs EPSG:… {shell_arg(path)} (in Python: crs="EPSG:…")',
            zh=f"{role_zh} {path} 没有坐标系；请把随{role_zh}交付的 .prj 文件放在它旁边，命名为 "
            f"{prj}，或用 `gdal_edit.py -a_srs EPSG:… {shell_arg(path)}` 把坐标系写入文件"
            '（Python 中用 crs="EPSG:…"）',
        )
    declared = CRS.from_wkt(ds.crs.to_wkt()) if ds.crs is not None else None
    if declared is not None and crs is not None and not declared.equals(CRS.from_user_input(crs)):
        raise CRSError(
            f"{role} {path} declares {crs_label(declared, 'en')} but crs={crs!r} was given; a "
            "declared CRS is never relabelled — drop crs=, or reproject the raster with gdalwarp",
            zh=f"{role_zh} {path} 已声明坐标系 {crs_label(declared)}，却给了 crs={crs!r}；"
            f"已声明的坐标系不会被改标——请去掉 crs=，或用 `gdalwarp` 重投影{role_zh}",
        )
    wkt = declared.to_wkt() if declared is not None else CRS.from_user_input(crs).to_wkt()
    check_coordinates(ds, path, wkt)
    return wkt


def _grid_facts(ds: Any, path: str, crs: Any, findings: Findings | None) -> dict[str, Any]:
    wkt = raster_crs_wkt(ds, path, crs=crs, findings=findings)
    bh, bw = ds.block_shapes[0]
    return {
        "crs_wkt": wkt,
        "transform": ds.transform,
        "width": ds.width,
        "height": ds.height,
        "count": ds.count,
        "block_shape": (int(bh), int(bw)),
    }


def _count_error(
    path: str, count: int, roles: tuple[str, ...], sensor: Sensor, tagged: Sequence[int]
) -> RasterError:
    alpha = f"; band {','.join(map(str, tagged))} is marked alpha" if tagged else ""
    alpha_zh = f"；第 {','.join(map(str, tagged))} 波段标记为 alpha" if tagged else ""
    return RasterError(
        f"raster {path} has {count} band(s) but sensor {sensor.value!r} expects "
        f"{len(roles)} ({','.join(roles)}){alpha}; give the roles of its bands in order with "
        "--bands (e.g. --bands B,G,R,NIR, or R,G,B,A with an alpha band), or choose the right "
        "--sensor",
        zh=f"影像 {path} 有 {count} 个波段，但传感器 {sensor.value!r} 需要 {len(roles)} 个"
        f"（{','.join(roles)}）{alpha_zh}；请用 --bands 按顺序写出各波段的角色（例如 "
        "--bands B,G,R,NIR；带 alpha 波段时用 R,G,B,A），或选对 --sensor",
    )


def _scale_offset(
    ds: Any, path: str, profile: SensorProfile, indexes: Sequence[int], findings: Findings | None
) -> tuple[float, float]:
    """Reflectance = DN * scale + offset: the sensor's; for ``generic``, the file's own.

    A generic raster's bands may carry GDAL's scale/offset (reflectance stored as integers,
    e.g. ``gdal_translate -a_scale 0.0001``); they are applied, with a finding, when the bands
    read agree on them.
    """
    if profile.sensor is not Sensor.GENERIC:
        if holds_reflectance(ds, path, profile, findings):
            return 1.0, 0.0
        return profile.scale, s2_offset(ds, path, profile, indexes, findings)
    pairs = {(ds.scales[i - 1], ds.offsets[i - 1]) for i in indexes}
    if pairs == {(1.0, 0.0)}:
        return profile.scale, profile.offset
    if len(pairs) > 1:
        raise RasterError(
            f"raster {path}: its bands carry different scales/offsets ({sorted(pairs)}); "
            "Linyuan applies one to all bands — rescale the file to one (gdal_translate "
            "-unscale -ot Float32), or give a --sensor whose profile fixes it",
            zh=f"影像 {path} 的各波段比例/偏移不同（{sorted(pairs)}）；林园对所有波段使用同一个——"
            "请先把文件换算为统一值（gdal_translate -unscale -ot Float32），"
            "或用 --sensor 指定传感器",
        )
    ((scale, offset),) = pairs
    if findings is not None:
        findings.add(
            "band_scale_offset",
            f"{path}: reflectance = DN * {scale:g} + {offset:g} (the bands' scale/offset)",
            severity="info",
            source=path,
            zh=f"{path}：反射率 = DN * {scale:g} + {offset:g}（取自波段的比例/偏移元数据）",
        )
    return float(scale), float(offset)


def _check_mask_grid(mask_path: str, src: RasterSource) -> None:
    with open_raster(mask_path) as m:
        same = (m.width, m.height) == (src.width, src.height) and m.transform.almost_equals(
            src.transform, precision=1e-9
        )
    if not same:
        raise RasterError(
            f"mask {mask_path} is not on the grid of {src.path} ({m.width}x{m.height} vs "
            f"{src.width}x{src.height}, or another transform); a 20 m SCL must be resampled to "
            "the 10 m grid first (gdalwarp -r near -tr 10 10 -tap)",
            zh=f"掩膜 {mask_path} 与 {src.path} 不在同一网格（{m.width}x{m.height} 对 "
            f"{src.width}x{src.height}，或地理变换不同）；20 米的 SCL 须先重采样到 10 米网格"
            "（`gdalwarp -r near -tr 10 10 -tap`）",
        )
