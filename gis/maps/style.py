"""How field maps look: colour tables by attribute, labels in Chinese and English, basemaps.

Styling is data, not code: a :class:`LayerStyle` names the attribute whose value picks the
colour (``legality`` for patches, ``status`` for discolored points) and the colour table. The
map's JavaScript applies it per feature, so 50 000 polygons cost one table, not 50 000 style
dictionaries.

Examples
--------
>>> Lang.get("en")
<Lang.EN: 'en'>
>>> style_for("patches_checked").field
'legality'
>>> tianditu("abc").url.endswith("tk=abc")
True
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from gis.enums import Lang  # noqa: F401  (re-exported: the maps take gis.enums.Lang)
from gis.errors import OptionError
from gis.layers import code_meaning


class MapOptionError(OptionError):
    """A map option (language, basemap, tiles, style) is not valid."""


class Geometry(enum.StrEnum):
    """How a layer is drawn: filled polygons, lines, or clustered points."""

    POLYGON = "polygon"
    LINE = "line"
    POINT = "point"


@dataclass(frozen=True)
class LayerStyle:
    """The look of one layer.

    Parameters
    ----------
    label : tuple of str
        Layer name shown in the layer switcher and legend, ``(zh, en)``; empty means the
        layer's own name.
    field : str, optional
        Attribute whose value picks the colour from ``colors``.
    colors : mapping
        Attribute value → ``(css colour, legend label zh, legend label en)``.
    color : str
        Colour of features whose value is not in ``colors`` (and of every feature without
        ``field``).
    id_field : str, optional
        Attribute searched by the map's search box (patch ID, point ID).
    context : bool
        A context layer (subcompartments, districts): thin outlines, no navigation target,
        simplified with shared boundaries kept (coverage simplification), and not used to
        frame the initial view when other layers exist.
    fill_opacity : float
        Fill opacity of polygons, 0-1.
    verify : str, optional
        ``"patch"``, ``"point"`` or ``"hotspot"``: features get a verification form of that
        kind.
    """

    label: tuple[str, str] = ("", "")
    field: str | None = None
    colors: Mapping[str, tuple[str, str, str]] = dataclasses.field(default_factory=dict)
    color: str = "#3388ff"
    id_field: str | None = None
    context: bool = False
    fill_opacity: float = 0.35
    verify: str | None = None


def _coded(kind: str, field: str, colours: Mapping[str, str]) -> dict[str, tuple[str, str, str]]:
    """Return code → (colour, Chinese, English) with the words of the catalog's code list.

    The legend, the KMZ, the tables and the reports all name a status by the catalog's words
    (``layers/catalog.yaml``), so the field map cannot say 待核实 where the table says 未核查.
    """
    out = {}
    for code, css in colours.items():
        zh = code_meaning(kind, field, code, lang="zh") or code
        en = code_meaning(kind, field, code, lang="en") or code
        out[code] = (css, zh, en[:1].upper() + en[1:])
    return out


PATCHES = LayerStyle(
    label=("督查图斑", "Change patches"),
    field="legality",
    colors=_coded(
        "change_patches",
        "legality",
        {
            "suspected_illegal": "#d7191c",
            "needs_field_check": "#fdae61",
            "permitted": "#1a9641",
            "lawful_no_permit": "#66bd63",
            "not_forest_land": "#9e9e9e",
            "no_change": "#bdbdbd",
        },
    ),
    color="#7b3294",
    id_field="patch_id",
    verify="patch",
)

DISCOLORED = LayerStyle(
    label=("变色立木", "Discolored trees"),
    field="status",
    colors=_coded(
        "pest_points",
        "status",
        {
            "unverified": "#e66101",
            "confirmed_dead_pine": "#b2182b",
            "other_cause": "#4393c3",
            "not_found": "#878787",
            "lab_positive": "#67001f",
            "lab_negative": "#1b7837",
        },
    ),
    color="#e66101",
    id_field="point_id",
    verify="point",
)

HOTSPOTS = LayerStyle(
    label=("卫星热点", "Satellite hotspots"),
    field="fire_kind",
    colors={
        "forest_fire": ("#d7191c", "疑似林火", "Suspected forest fire"),
        "grassland_fire": ("#fdae61", "疑似草原火", "Suspected grassland fire"),
        "agricultural_burning": ("#e6c229", "疑似农事用火", "Suspected agricultural burning"),
        "industrial": ("#5e3c99", "工业热源", "Industrial heat source"),
        "other": ("#878787", "其他", "Other"),
    },
    color="#d7191c",
    id_field="hotspot_id",
    verify="hotspot",
)
"""Hotspots of ``linyuan fire hotspots``: coloured by the desk verdict, with the hotspot form."""

DEFAULT_STYLES: Mapping[str, LayerStyle] = MappingProxyType(
    {
        "patches_checked": PATCHES,
        "change_patches": PATCHES,
        "discolored_points": DISCOLORED,
        "hotspots_checked": HOTSPOTS,
        "subcompartments": LayerStyle(
            label=("森林资源小班", "Subcompartments"),
            color="#2b8a3e",
            context=True,
            fill_opacity=0.05,
            id_field="subcompartment_id",
        ),
        "districts": LayerStyle(
            label=("行政区", "Districts"), color="#555555", context=True, fill_opacity=0.0
        ),
        "stand_summary": LayerStyle(
            label=("松林小班变色统计", "Pine stands, discolored counts"),
            color="#9e6a03",
            context=True,
            fill_opacity=0.08,
            id_field="stand_id",
        ),
        "forest_chief_zones": LayerStyle(
            label=("林长责任区", "Forest chief zones"),
            color="#8c510a",
            context=True,
            fill_opacity=0.0,
        ),
    }
)
"""Styles of the layers the checks write, by layer name."""

ID_FIELDS: tuple[str, ...] = ("patch_id", "point_id", "subcompartment_id", "id")
"""Fields searched, in order, when a layer's style names no ``id_field``."""


def colour_table(style: LayerStyle) -> dict[str, str]:
    """Return value → CSS colour of a style (the one colour table of maps, KMZ and checks).

    >>> colour_table(PATCHES)["suspected_illegal"]
    '#d7191c'
    """
    return {value: entry[0] for value, entry in style.colors.items()}


LEGALITY_COLOURS: Mapping[str, str] = MappingProxyType(colour_table(PATCHES))
"""Patch colours by ``legality``: red and orange are the ones to visit."""
STATUS_COLOURS: Mapping[str, str] = MappingProxyType(colour_table(DISCOLORED))
"""Discolored point colours by ``status``: orange and red are still to visit or confirmed."""


def style_for(name: str, styles: Mapping[str, LayerStyle] = DEFAULT_STYLES) -> LayerStyle:
    """Return the style of layer ``name``: from ``styles``, else a plain default."""
    return styles.get(name, LayerStyle())


FIELD_LABELS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "patch_id": ("图斑编号", "Patch ID"),
        "point_id": ("点位编号", "Point ID"),
        "legality": ("合法性", "Legality"),
        "status": ("状态", "Status"),
        "reasons": ("判定依据", "Reasons"),
        "change_type": ("变化类型", "Change type"),
        "is_real_change": ("是否真实变化", "Real change"),
        "verified_cause_code": ("核实变化原因", "Verified cause code"),
        "field_priority": ("核查优先级", "Field priority"),
        "area_ha": ("面积（公顷）", "Area (ha)"),
        "area_mu": ("面积（亩）", "Area (mu)"),
        "confidence": ("置信度", "Confidence"),
        "species": ("树种", "Species"),
        "district": ("区县", "District"),
        "forest_chief": ("林长", "Forest chief"),
        "image_date": ("影像日期", "Image date"),
        "crown_m2": ("冠幅面积（平方米）", "Crown area (m²)"),
        "ndvi": ("NDVI", "NDVI"),
        "grvi": ("GRVI", "GRVI"),
        "stand_id": ("小班号", "Stand"),
        "status_note": ("状态说明", "Status note"),
        "township": ("乡镇", "Township"),
        "hotspot_id": ("热点编号", "Hotspot ID"),
        "fire_kind": ("热点类型", "Hotspot verdict"),
        "detected_bjt": ("监测时间（北京时）", "Detected (Beijing time)"),
        "feedback_hours": ("反馈时限（小时）", "Feedback within (hours)"),
        "event_id": ("火情事件", "Fire event"),
        "forest_share": ("像元内林地比例", "Forest share of pixel"),
    }
)
"""Popup labels of known fields, ``(zh, en)``; other fields show their own name."""

UI_TEXT: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "legend": ("图例", "Legend"),
        "imagery": ("影像", "Imagery"),
        "search": ("搜索编号…", "Search ID…"),
        "not_found": ("未找到", "Not found"),
        "navigate": ("导航到此处", "Navigate here"),
        "locate": ("定位我的位置", "Show my location"),
        "fullscreen": ("全屏", "Full screen"),
        "exit_fullscreen": ("退出全屏", "Exit full screen"),
        "measure": ("测量距离", "Measure distance"),
        "other": ("其他", "Other"),
        "features": ("个要素", "features"),
        "verify": ("核查", "Verify"),
        "is_real_change": ("是否真实变化", "Real change?"),
        "yes": ("是", "Yes"),
        "no": ("否", "No"),
        "verified_cause_code": ("核实变化原因", "Verified cause"),
        "permit_number": ("审批/采伐许可证号", "Permit number"),
        "outcome": ("核查结果", "Outcome"),
        "sample_taken": ("已取样", "Sample taken"),
        "sample_id": ("样品编号", "Sample label"),
        "is_fire": ("是否火情", "Is it a fire?"),
        "fire_type": ("火情类型", "Fire type"),
        "extinguished": ("是否已扑灭", "Extinguished?"),
        "burned_area_est_ha": ("过火面积估计（公顷）", "Estimated burned area (ha)"),
        "missing": ("请填写：", "Please fill in: "),
        "note": ("备注", "Note"),
        "inspector": ("核查人", "Inspector"),
        "photos": ("照片", "Photos"),
        "save": ("保存", "Save"),
        "cancel": ("取消", "Cancel"),
        "saving": ("正在保存…", "Saving…"),
        "save_failed": ("保存失败：", "Could not save:"),
        "records": ("核查记录", "Field records"),
        "export": ("导出 GeoJSON", "Export GeoJSON"),
        "copy": ("复制记录", "Copy records"),
        "copied": ("已复制，可粘贴到微信或邮件", "Copied: paste into a message or e-mail"),
    }
)

POINT_OUTCOMES: tuple[tuple[str, str, str], ...] = tuple(
    (code, zh, en)
    for code, (_, zh, en) in _coded(
        "pest_points",
        "status",
        dict.fromkeys(("confirmed_dead_pine", "other_cause", "not_found"), ""),
    ).items()
)
"""Field outcomes of a discolored point, ``(value, zh, en)``."""
"""Interface text of a map, ``(zh, en)``."""


@dataclass(frozen=True)
class TileSource:
    """An XYZ tile layer under the map (optional; the map works without one).

    Parameters
    ----------
    url : str
        Leaflet URL template with ``{z}``, ``{x}``, ``{y}`` (and ``{s}`` with ``subdomains``).
    attribution : str
        Required credit text, shown as plain text (escaped).
    subdomains : tuple of str
        Values of ``{s}``.
    max_zoom : int
        Highest zoom level the source serves.
    overlays : tuple of str
        Further URL templates drawn on top (e.g. Tianditu's annotation layer).
    """

    url: str
    attribution: str
    subdomains: tuple[str, ...] = ()
    max_zoom: int = 18
    overlays: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.attribution.strip():
            raise MapOptionError(
                f"custom tiles {self.url!r} need an attribution; pass --attribution TEXT "
                "(the tile provider's required credit)",
                zh=f"自定义瓦片 {self.url!r} 需要署名；请用 --attribution TEXT 给出瓦片提供方"
                "要求的版权说明",
            )
        if not all(part in self.url for part in ("{z}", "{x}", "{y}")):
            raise MapOptionError(
                f"tile URL {self.url!r} lacks {{z}}, {{x}} or {{y}}; pass an XYZ template such "
                "as https://tiles.example.org/{z}/{x}/{y}.png",
                zh=f"瓦片 URL {self.url!r} 缺少 {{z}}、{{x}} 或 {{y}}；请给出 XYZ 模板，如 "
                "https://tiles.example.org/{z}/{x}/{y}.png",
            )
        if not self.url.startswith(("https://", "http://")):
            raise MapOptionError(
                f"tile URL {self.url!r} must start with https:// or http://",
                zh=f"瓦片 URL {self.url!r} 须以 https:// 或 http:// 开头",
            )


_TIANDITU = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
    "&TILECOL={{x}}&tk={key}"
)


def tianditu(key: str) -> TileSource:
    """Return 天地图 imagery with labels (Web Mercator, CGCS2000-aligned: no GCJ-02 offset).

    Parameters
    ----------
    key : str
        The user's Tianditu browser key (申请: console.tianditu.gov.cn). Keys may be bound to
        a domain and then fail from ``file://``; the map still works without tiles.
    """
    if not key.strip():
        raise MapOptionError(
            "the Tianditu basemap needs a key; pass --tianditu-key KEY",
            zh="天地图底图需要密钥；请用 --tianditu-key KEY 给出",
        )
    return TileSource(
        url=_TIANDITU.format(layer="img", key=key),
        attribution="天地图 © 国家地理信息公共服务平台",
        subdomains=tuple(str(i) for i in range(8)),
        overlays=(_TIANDITU.format(layer="cia", key=key),),
    )
