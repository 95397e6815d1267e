"""Sensors, their band order and DN-to-reflectance conversion; band roles; radiometries.

Plain Python (no rasterio): the command line builds its choices from here at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gis.enums import ParamEnum
from gis.errors import RasterError

ROLES = ("B", "G", "R", "RE", "NIR", "SWIR1", "SWIR2")
"""Spectral band roles, in wavelength order."""

RADIOMETRIES = ("reflectance", "dn")
"""What pixel values are: surface reflectance, or 8-bit stretched / raw digital numbers."""

INDEX_ROLES = ("NDVI",)
"""Roles of precomputed index bands a generic raster may carry (used as they are, scale 1)."""

ALPHA = "ALPHA"
"""Role of an alpha band (``--bands R,G,B,A`` or ``R,G,B,ALPHA``): not spectral; 0 marks a pixel
outside the imaged area (UAV orthomosaics from DJI Terra, Pix4D, Metashape)."""

ROLE_ALIASES = {"A": ALPHA}
"""Other spellings of roles accepted by :func:`parse_roles`."""

SCL_INVALID = (0, 1, 3, 8, 9, 10)
"""Sentinel-2 scene classes that are not clear land: no data, saturated, cloud shadow, cloud
medium/high probability, thin cirrus."""

BINARY_MASK_INVALID = (1,)
"""Default invalid value of a 0/1 mask raster (1 = cloud or otherwise unusable, as s2cloudless)."""


class Sensor(ParamEnum):
    """Sensors Linyuan knows the band order, scale and offset of."""

    SENTINEL2_L2A = "sentinel2-l2a"
    LANDSAT8_L2 = "landsat8-l2"
    GF1 = "gf1"
    GF2 = "gf2"
    UAV_RGB = "uav-rgb"
    UAV_MS = "uav-ms"
    GENERIC = "generic"
    SENTINEL2_L1C = "sentinel2-l1c"
    LANDSAT8_L1 = "landsat8-l1"

    @classmethod
    def valid_label(cls) -> str:
        """Words before the list of valid values."""
        return "valid sensors"

    @classmethod
    def normalize(cls, value: object) -> str:
        """Sensor names are matched trimmed and case-insensitively."""
        return str(value).strip().lower()

    @classmethod
    def error(cls, message: str, zh: str) -> Exception:
        """Exception raised for an unknown sensor, with the way out."""
        return RasterError(
            f"{message} (use --sensor generic --bands B,G,R,NIR,… for others)",
            zh=f"{zh}（其他传感器请用 --sensor generic --bands B,G,R,NIR,…）",
        )


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
    Sensor.SENTINEL2_L1C: SensorProfile(Sensor.SENTINEL2_L1C, ROLES, 1e-4, -0.1, 0, 10.0),
    Sensor.LANDSAT8_L1: SensorProfile(
        Sensor.LANDSAT8_L1, ("B", "G", "R", "NIR", "SWIR1", "SWIR2"), 2e-5, -0.1, 0, 30.0
    ),
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

    ``A`` is read as :data:`ALPHA`, the role of an alpha band (at most one, never alone).

    Examples
    --------
    >>> parse_roles(["r", " nir "])
    ('R', 'NIR')
    >>> parse_roles("R,G,B,a")
    ('R', 'G', 'B', 'ALPHA')
    """
    items = bands.split(",") if isinstance(bands, str) else list(bands)
    roles = tuple(_role(b) for b in items if str(b).strip())
    valid = (*ROLES, *INDEX_ROLES, ALPHA)
    unknown = [r for r in roles if r not in valid]
    if unknown or not roles:
        raise RasterError(
            f"unknown band role(s) {unknown or bands!r}; valid roles: {', '.join(valid)} "
            "(e.g. --bands B,G,R,NIR,SWIR1,SWIR2, or R,G,B,A for an RGBA orthomosaic)",
            zh=f"未知的波段角色 {unknown or bands!r}；有效角色：{'、'.join(valid)}"
            "（例如 --bands B,G,R,NIR,SWIR1,SWIR2；RGBA 正射影像用 R,G,B,A）",
        )
    if len(set(roles)) != len(roles):
        raise RasterError(
            f"band roles {','.join(roles)} name a role twice; give each once",
            zh=f"波段角色 {','.join(roles)} 中有角色重复；每个角色只能给一次",
        )
    if roles == (ALPHA,):
        raise RasterError(
            f"band roles {bands!r} name only an alpha band; name the spectral bands too "
            "(e.g. --bands R,G,B,A)",
            zh=f"波段角色 {bands!r} 只指定了 alpha 波段；"
            "请同时写出光谱波段（例如 --bands R,G,B,A）",
        )
    return roles


def _role(item: object) -> str:
    name = str(item).strip().upper()
    return ROLE_ALIASES.get(name, name)
