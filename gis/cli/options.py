"""Options shared by the ``linyuan`` commands (the model is rasterio's ``rio/options.py``).

Use them as decorators; each passes one keyword argument to the command:

==================  =============================  ==========================================
decorator           option                          argument (type)
==================  =============================  ==========================================
``overwrite_opt``   ``--overwrite``                 ``overwrite`` (bool)
``json_opt``        ``--json``                      ``as_json`` (bool)
``out_opt``         ``--out FILE``                  ``out`` (pathlib.Path or None)
``out_required_opt`` ``--out FILE`` (required)      ``out`` (pathlib.Path)
``crs_opt``         ``--crs EPSG:4530|4530|gcj02``  ``crs`` (pyproj.CRS, ``"gcj02"`` or None)
``working_crs_opt`` ``--working-crs EPSG|auto``     ``working_crs`` (pyproj.CRS or ``"auto"``)
``encoding_opt``    ``--encoding GBK``              ``encoding`` (str or None)
``layer_opt``       ``--layer NAME``                ``layer`` (str or None)
``engine_opt``      ``--engine pyogrio|fiona``      ``engine`` (str, default ``pyogrio``)
``kind_opt``        ``--kind KIND``                 ``kind`` (str or None; catalog kinds)
``lang_opt``        ``--lang zh|en``                ``lang`` (str, default ``zh``)
``workers_opt``     ``--workers N``                 ``workers`` (int or None; local Dask)
``scheduler_opt``   ``--scheduler tcp://HOST:PORT`` ``scheduler`` (str or None; Dask cluster)
==================  =============================  ==========================================

``image_pair_options()`` gives a before/after pair's ``--sensor``/``--bands`` and their
``--before-…``/``--after-…`` variants (``radiometry=True`` adds ``--radiometry`` and its
variants); wrap the run in ``conflicts_are_usage()``.

Raster arguments use :class:`RasterPathType`: a path, or a GDAL virtual path (``/vsis3/…``,
``/vsicurl/https://…``, ``/vsizip/…``) kept as the exact string.

``kind_option(required=True)`` and ``out_option(required=True, help=...)`` build variants.
Parsing errors are click usage errors (exit 2) that list the valid values.

Examples
--------
>>> CRSParamType().convert("EPSG:4530", None, None).to_epsg()
4530
>>> CRSParamType().convert("GCJ-02", None, None)
'gcj02'
"""

from __future__ import annotations

import codecs
import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError

from gis.cli.logs import lang_callback
from gis.cli.usage import ZhBadParameter, ZhUsageError
from gis.errors import ConflictingOptionsError
from gis.resources import resource_path
from gis.sensors import RADIOMETRIES, Sensor

GCJ02 = "gcj02"
"""The value ``--crs`` passes for AMap/Gaode/DataV lon/lat sources (as :data:`gis.io.GCJ02`)."""

F = TypeVar("F", bound=Callable[..., Any])


class CRSParamType(click.ParamType):
    """A CRS given as ``EPSG:4551``, ``4551``, any pyproj input, or ``gcj02``.

    Returns a :class:`pyproj.CRS`, or the string ``"gcj02"`` for GCJ-02 (火星坐标) lon/lat.
    """

    name = "crs"

    def __init__(self, *, allow_auto: bool = False) -> None:
        self.allow_auto = allow_auto

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse the value; fail with a usage error naming accepted forms."""
        if isinstance(value, CRS) or value is None:
            return value
        text = str(value).strip()
        key = text.lower().replace("-", "").replace("_", "")
        if key == GCJ02 and not self.allow_auto:
            return GCJ02
        if key == "auto" and self.allow_auto:
            return "auto"
        try:
            return CRS.from_epsg(int(text)) if text.isdigit() else CRS.from_user_input(text)
        except (PyprojCRSError, ValueError):
            extra = "auto" if self.allow_auto else "gcj02 (AMap/Gaode/DataV lon/lat)"
            zh_extra = "auto" if self.allow_auto else "gcj02（高德/DataV 经纬度）"
            raise ZhBadParameter(
                f"{text!r} is not a CRS; give an EPSG code such as EPSG:4551, 4530 or 4490, "
                f"or {extra}",
                ctx,
                param,
                zh=f"{text!r} 不是坐标系；请给出 EPSG 代码，如 EPSG:4551、4530 或 4490，"
                f"或 {zh_extra}",
            ) from None


class RasterPathType(click.ParamType):
    """A raster file (:class:`pathlib.Path`) or a GDAL ``/vsi…`` path kept verbatim (a str).

    ``pathlib`` would fold the ``//`` of ``/vsicurl/https://host/a.tif``; GDAL needs it.

    Examples
    --------
    >>> RasterPathType().convert("/vsicurl/https://h/a.tif", None, None)
    '/vsicurl/https://h/a.tif'
    """

    name = "raster"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Return the ``/vsi`` string as given, any other value as a Path."""
        if value is None or isinstance(value, Path):
            return value
        text = str(value)
        return text if text.startswith("/vsi") else Path(text)


class EncodingParamType(click.ParamType):
    """A text encoding Python knows (``GBK``, ``GB18030``, ``UTF-8``, ``cp936`` …)."""

    name = "encoding"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Return the encoding as given once Python knows it; fail otherwise."""
        if value is None:
            return None
        text = str(value).strip()
        try:
            codecs.lookup(text)
        except LookupError:
            raise ZhBadParameter(
                f"unknown encoding {text!r}; Chinese files are usually GBK (cp936), GB18030 "
                "or UTF-8",
                ctx,
                param,
                zh=f"未知编码 {text!r}；中文文件通常是 GBK（cp936）、GB18030 或 UTF-8",
            ) from None
        return text


@functools.cache
def catalog_kinds() -> tuple[str, ...]:
    """Return the layer kinds of the shipped catalog (``layers/catalog.yaml``), in its order.

    Read with PyYAML alone: :func:`gis.layers.catalog` validates the whole catalog and brings
    pandas with it, and ``--help`` needs only the names (``tests/test_cli_startup.py``
    checks that both agree).
    """
    text = resource_path("layers/catalog.yaml").read_text(encoding="utf-8")
    return tuple(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["kinds"])


class KindParamType(click.ParamType):
    """A layer kind of the catalog (``layers/catalog.yaml``); read when first used."""

    name = "kind"

    def _kinds(self) -> list[str]:
        return list(catalog_kinds())

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        """Show the kinds in ``--help``."""
        return "[" + "|".join(self._kinds()) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Return the kind; fail with the list of kinds."""
        if value is None:
            return None
        kinds = self._kinds()
        if value not in kinds:
            raise ZhBadParameter(
                f"unknown layer kind {value!r}; valid kinds: {', '.join(kinds)}",
                ctx,
                param,
                zh=f"未知图层类型 {value!r}；可用类型：{'、'.join(kinds)}",
            )
        return value


def out_option(*, required: bool = False, help: str | None = None) -> Callable[[F], F]:
    """Return an ``--out FILE`` option (a :class:`pathlib.Path`)."""
    return click.option(
        "--out",
        "out",
        type=click.Path(dir_okay=False, path_type=Path),
        required=required,
        help=help or "Output file; the format follows the suffix.",
    )


SENSORS = tuple(s.value for s in Sensor)
RADIOMETRY_CHOICES = ("auto", *RADIOMETRIES)
"""The ``--sensor`` choices: one list for every command."""


def sensor_option(
    help: str = "Sensor profile (band order, scale, offset).",
    *,
    name: str = "--sensor",
    default: str | None = "generic",
) -> Callable[[F], F]:
    """Return a ``--sensor NAME`` option (choices :data:`SENSORS`, default ``generic``).

    ``name`` and ``default`` make the per-date options of a pair (``--after-sensor``, no
    default: the shared ``--sensor`` applies).
    """
    return click.option(
        name,
        type=click.Choice(SENSORS),
        default=default,
        show_default=default is not None,
        help=help,
    )


def image_pair_options(*, radiometry: bool = False) -> Callable[[F], F]:
    """Return the options naming how a before/after pair is read, for both dates or for one.

    ``--sensor`` and ``--bands`` (and with ``radiometry`` ``--radiometry``) apply to both
    dates; ``--before-…`` and ``--after-…`` to one date, when the dates come from different
    products (a Sentinel-2 before, a GF-2 after). The command merges them with
    :func:`gis.raster.image_specs`, which refuses a key given both ways
    (:func:`conflicts_are_usage` makes that a usage error, exit 2). Each passes its keyword
    (``sensor``, ``before_sensor``, ``after_bands`` …; ``None`` when not given).
    """
    decorators = [
        sensor_option(
            "两期影像的传感器（波段顺序、比例系数、偏移）；默认 generic。"
            " Sensor profile of both images (band order, scale, offset); default generic.",
            default=None,
        ),
        click.option(
            "--bands",
            help="两期影像按文件顺序的波段角色，如 B,G,R,NIR,SWIR1,SWIR2（A 为 alpha 波段）。"
            " Band roles in file order, e.g. B,G,R,NIR,SWIR1,SWIR2 (A = alpha band).",
        ),
    ]
    for role, zh in (("before", "前期"), ("after", "后期")):
        decorators += [
            sensor_option(
                f"{zh}影像的传感器（两期不同时用，如前期 sentinel2-l2a、后期 gf2；不能与 --sensor"
                f" 同时给）。 Sensor of the {role} image only (not with --sensor).",
                name=f"--{role}-sensor",
                default=None,
            ),
            click.option(
                f"--{role}-bands",
                help=f"{zh}影像按文件顺序的波段角色，如 B,G,R,NIR,SWIR1,SWIR2（不能与 --bands 同时"
                "给）。"
                f" Band roles of the {role} image only (not with --bands).",
            ),
        ]
    if radiometry:
        choice = click.Choice(RADIOMETRY_CHOICES)
        decorators.append(
            click.option(
                "--radiometry",
                type=choice,
                help="两期影像的辐射定标：reflectance，或 8 位拉伸/原始 DN 影像用 dn（只用相对"
                "证据）；auto（默认）按数据类型和取值判断。 reflectance, or dn for 8-bit "
                "stretched / raw DN imagery (relative evidence only); auto (the default) "
                "decides from data type and values. Applies to both images.",
            )
        )
        for role, zh in (("before", "前期"), ("after", "后期")):
            decorators.append(
                click.option(
                    f"--{role}-radiometry",
                    type=choice,
                    help=f"{zh}影像的辐射定标（reflectance、dn 或 auto；不能与 --radiometry 同时"
                    f"给）。 Radiometry of the {role} image only (not with --radiometry).",
                )
            )

    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


@contextlib.contextmanager
def conflicts_are_usage() -> Iterator[None]:
    """Turn an option given both for both dates and for one into a usage error (exit 2).

    ``--bands`` with ``--after-bands`` (:class:`~gis.errors.ConflictingOptionsError`); the
    message is Chinese by default, as every usage error.
    """
    try:
        yield
    except ConflictingOptionsError as exc:
        raise ZhUsageError(str(exc), click.get_current_context(), zh=exc.text("zh")) from exc


def kind_option(*, required: bool = False) -> Callable[[F], F]:
    """Return a ``--kind KIND`` option whose choices are the catalog's layer kinds."""
    return click.option(
        "--kind",
        "kind",
        type=KindParamType(),
        required=required,
        help="Layer kind of the catalog (layers/catalog.yaml).",
    )


overwrite_opt = click.option(
    "--overwrite", is_flag=True, default=False, help="Replace outputs that already exist."
)
json_opt = click.option(
    "--json", "as_json", is_flag=True, default=False, help="Print JSON for machines."
)
out_opt = out_option()
out_required_opt = out_option(required=True)
crs_opt = click.option(
    "--crs",
    type=CRSParamType(),
    default=None,
    help="CRS of an input that declares none: EPSG:4530, 4490, … or gcj02 for AMap/Gaode/DataV "
    "lon/lat (converted on read). Never replaces a declared CRS.",
)
working_crs_opt = click.option(
    "--working-crs",
    "working_crs",
    type=CRSParamType(allow_auto=True),
    default="EPSG:4551",
    show_default=True,
    help="Metric CRS to work in; 'auto' picks the CGCS2000 3° Gauss-Krüger zone of the data.",
)
encoding_opt = click.option(
    "--encoding",
    type=EncodingParamType(),
    default=None,
    help="Attribute encoding (GBK, UTF-8 …); wins over detection.",
)
engine_opt = click.option(
    "--engine",
    type=click.Choice(["pyogrio", "fiona"]),
    default="pyogrio",
    show_default=True,
    help="Vector reading engine (fiona does not read KML/KMZ or write Chinese field names).",
)
layer_opt = click.option(
    "--layer", default=None, help="Layer name in a GeoPackage, FileGDB or zip with several."
)
kind_opt = kind_option()
lang_opt = click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default="zh",
    show_default=True,
    help="Language of messages and headers: zh (中文) or en.",
    callback=lang_callback,
)


def _scheduler_address(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    text = value.strip()
    if "://" not in text:
        text = f"tcp://{text}"
    if not text.startswith(("tcp://", "tls://", "inproc://", "ucx://")) or ":" not in text[6:]:
        raise ZhBadParameter(
            f"{value!r}: give the scheduler as tcp://HOST:PORT",
            zh=f"{value!r}：调度器请写成 tcp://HOST:PORT（主机:端口）",
        )
    return text


workers_opt = click.option(
    "--workers",
    type=click.IntRange(1),
    default=None,
    help="Run on a local Dask cluster of N worker processes (one thread each); results are "
    "identical to the one-process run.",
)
scheduler_opt = click.option(
    "--scheduler",
    default=None,
    callback=_scheduler_address,
    metavar="tcp://HOST:PORT",
    help="Run on an existing Dask cluster (its workers need linyuan and the rasters' paths).",
)
