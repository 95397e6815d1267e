"""Charts of greening KPIs: a bar per district and progress gauges, with a CJK font.

Chinese labels need a font with CJK glyphs; matplotlib's default (DejaVu Sans) draws tofu
boxes and warns ``Glyph 20844 ... missing from font(s) DejaVu Sans``. :func:`cjk_font` prefers
one installed on the system (Noto CJK, Source Han, WenQuanYi, SimHei, Microsoft YaHei,
PingFang) and otherwise registers the font Linyuan ships, :data:`BUNDLED_FONT` (a GB 2312
subset of Noto Sans CJK SC, SIL OFL 1.1, ``gis/fonts/OFL.txt``; built by
``scripts/subset_font.py``), so Chinese charts need no font installed. Only when that file is
missing too do the charts fall back to English labels with a :class:`FontWarning`.
:func:`glyphs_checked` turns matplotlib's missing-glyph warnings into a
:class:`MissingGlyphError` that says which font to install and how, so a test (or a careful
caller) cannot miss tofu.

Figures are returned, not written: :func:`png_bytes` renders one; the CLI writes the bytes.
The non-interactive Agg canvas is used, so nothing needs a display.

Examples
--------
>>> import pandas as pd
>>> kpi = pd.DataFrame({"district": ["西区", "全市"], "indicator": "pocket_parks_new",
...     "item": "", "actual": [3.0, 3.0], "target": [None, 40.0], "rate": [None, 0.075]})
>>> fig = district_bars(kpi, indicator="pocket_parks_new", lang="en")
>>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
['西区']
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.figure import Figure

from gis.enums import Lang
from gis.errors import GisError
from gis.targets import INDICATORS, unit_label

logger = logging.getLogger(__name__)

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Noto Serif CJK SC",
)
"""Font families tried, in order."""

_CJK_FILE_HINTS = ("cjk", "wqy", "simhei", "msyh", "pingfang", "sourcehan")

BUNDLED_FONT = Path(__file__).with_name("fonts") / "NotoSansSC-Linyuan-Regular.otf"
"""The CJK font Linyuan ships: GB 2312 and common symbols, static Regular, SIL OFL 1.1."""

BUNDLED_FAMILY = "Noto Sans SC Linyuan"
"""Family name of :data:`BUNDLED_FONT` (its own, so it never shadows a system Noto CJK)."""

MISSING_GLYPH = r"(?s)Glyph \d+.*missing from"
"""Regular expression matching matplotlib's missing-glyph warning."""

INSTALL_HINT = (
    "请安装含该字符的中文字体后重试：Windows 自带“微软雅黑”“黑体”（若被精简，"
    "从系统设置 → 字体 → 添加可选功能 → 简体中文补充字体 安装）；Debian/Ubuntu 运行 "
    "`sudo apt-get install fonts-noto-cjk`；其他系统安装 Noto Sans CJK SC（思源黑体）。"
    "装好后删除 matplotlib 字体缓存文件夹 {cache} 中的 fontlist-*.json。"
    " / Install a Chinese font that has it (Windows: Microsoft YaHei or SimHei; "
    "Debian/Ubuntu: `sudo apt-get install fonts-noto-cjk`; elsewhere Noto Sans CJK SC), "
    "then delete fontlist-*.json in matplotlib's cache folder {cache}."
)
"""What a missing-glyph error tells the user to do."""

CITY_NAMES = ("全市",)


class FontWarning(UserWarning):
    """No CJK font was found: charts use English labels."""


class MissingGlyphError(GisError, UserWarning):
    """A chart label has a character no chart font can draw (it would print a tofu box).

    A ``UserWarning`` too, as matplotlib's own missing-glyph warning it replaces.
    """


def _installed() -> set[str]:
    return {f.name for f in font_manager.fontManager.ttflist}


def _register_system_cjk() -> None:
    """Add CJK font files matplotlib's cached font list does not know yet."""
    for path in font_manager.findSystemFonts():
        if any(hint in path.lower() for hint in _CJK_FILE_HINTS):
            with contextlib.suppress(Exception):  # unreadable or unsupported font file
                font_manager.fontManager.addfont(path)


def _register_bundled() -> str | None:
    """Register :data:`BUNDLED_FONT` with matplotlib (this process only); None if absent."""
    if not BUNDLED_FONT.is_file():
        logger.warning(
            "the font Linyuan ships is missing: %s",
            BUNDLED_FONT,
            extra={"zh": "缺少 Linyuan 自带的字体：%s"},
        )
        return None
    font_manager.fontManager.addfont(str(BUNDLED_FONT))
    return BUNDLED_FAMILY


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Return the CJK font family for charts: an installed one first, else the bundled one.

    Returns
    -------
    str or None
        A family of :data:`CJK_FONTS` that matplotlib finds on the system, otherwise
        :data:`BUNDLED_FAMILY` (registered here); None only when the bundled file is missing.
    """
    for refresh in (False, True):
        if refresh:
            _register_system_cjk()
        names = _installed()
        for family in CJK_FONTS:
            if family in names:
                return family
    return _register_bundled()


def chart_language(lang: str | Lang = Lang.ZH) -> tuple[Lang, str | None]:
    """Return the language the chart can be drawn in, and the font family to use.

    Chinese falls back to English with a :class:`FontWarning` when no CJK font exists.
    """
    wanted = Lang.get(lang)
    font = cjk_font()
    if wanted is Lang.ZH and font is None:
        warnings.warn(
            "no CJK font found (looked for " + ", ".join(CJK_FONTS) + f", and {BUNDLED_FONT} "
            "is missing: reinstall linyuan); the chart uses English labels — or install "
            "one, e.g. `apt-get install fonts-noto-cjk`",
            FontWarning,
            stacklevel=2,
        )
        return Lang.EN, None
    return wanted, font


@contextlib.contextmanager
def glyphs_checked() -> Iterator[None]:
    """Turn matplotlib's missing-glyph warnings into :class:`MissingGlyphError` in the block.

    Raises
    ------
    MissingGlyphError
        A label has a character the chart's fonts lack; the message names the character
        and the font to install.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=MISSING_GLYPH, category=UserWarning)
        try:
            yield
        except UserWarning as exc:
            if isinstance(exc, MissingGlyphError) or not re.search(MISSING_GLYPH, str(exc)):
                raise
            message = missing_glyph_message(str(exc))
            raise MissingGlyphError(message, zh=message.partition("\n")[2]) from exc


def missing_glyph_message(warning: str) -> str:
    """Return matplotlib's missing-glyph ``warning`` with the character and what to install.

    Examples
    --------
    >>> msg = missing_glyph_message("Glyph 22531 (x) missing from font(s) DejaVu Sans.")
    >>> msg.splitlines()[0]
    'Glyph 22531 (x) missing from font(s) DejaVu Sans.'
    >>> "（U+5803）" in msg and "apt-get install fonts-noto-cjk" in msg
    True
    """
    found = re.search(r"Glyph (\d+)", warning)
    char = chr(int(found.group(1))) if found else "?"
    where = f"“{char}”（U+{ord(char):04X}）"
    hint = INSTALL_HINT.format(cache=matplotlib.get_cachedir())
    return f"{warning}\n图表字体缺少字符 {where}。{hint}"


def _figure(font: str | None, *, width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    fig.set_facecolor("white")
    return fig


def _names(values: pd.Series, font: str | None) -> list[str]:
    """Tick labels; without a CJK font, names that need one become #1, #2, … (no tofu)."""
    names = [str(v) for v in values]
    if font is not None:
        return names
    return [n if n.isascii() else f"#{k + 1}" for k, n in enumerate(names)]


def _text(font: str | None) -> dict[str, Any]:
    return {} if font is None else {"fontfamily": [font, "DejaVu Sans"]}


def _title(indicator: str, lang: Lang, year: Any = None) -> str:
    spec = INDICATORS[indicator]
    name = getattr(spec, lang.value)
    suffix = "" if year is None or bool(pd.isna(year)) else f" {int(year)}"
    unit = unit_label(spec.unit, lang.value)
    return f"{name}（{unit}）{suffix}" if lang is Lang.ZH else f"{name} ({unit}){suffix}"


def district_bars(
    kpi: pd.DataFrame, *, indicator: str, item: str = "", lang: str | Lang = "zh"
) -> Figure:
    """Return a bar chart of ``indicator`` per district, district targets as markers.

    Parameters
    ----------
    kpi : DataFrame
        The ``kpi`` frame of :func:`gis.checks.greenery.kpi.greenery_kpi`.
    indicator : str
        Indicator code (see :data:`gis.targets.INDICATORS`).
    item : str
        Park category for ``park_count`` / ``park_area_ha``; empty otherwise.
    lang : {"zh", "en"}
        Label language; Chinese falls back to English without a CJK font.
    """
    use, font = chart_language(lang)
    rows = kpi[(kpi["indicator"] == indicator) & (kpi["item"] == item)]
    rows = rows[~rows["district"].isin(CITY_NAMES)]
    fig = _figure(font, width=max(4.0, 0.8 * len(rows) + 2), height=3.6)
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    ax.bar(x, rows["actual"].fillna(0).to_numpy(), color="#4c9a2a", label=_legend("actual", use))
    if rows["target"].notna().any():
        ax.scatter(
            x, rows["target"], marker="_", s=600, color="#c0392b", label=_legend("target", use)
        )
        ax.legend(prop={"family": font} if font else None)
    ax.set_xticks(x, _names(rows["district"], font), **_text(font))
    year = rows["year"].iloc[0] if "year" in rows.columns and len(rows) else None
    ax.set_title(_title(indicator, use, year), **_text(font))
    return fig


def _legend(what: str, lang: Lang) -> str:
    return {"actual": ("完成", "actual"), "target": ("目标", "target")}[what][lang is Lang.EN]


def progress_gauges(
    kpi: pd.DataFrame, *, district: str = "全市", lang: str | Lang = "zh"
) -> Figure:
    """Return horizontal progress gauges (actual / target) of one district's targeted rows.

    Each gauge is a bar from 0 to 100 % of the target (longer when exceeded) with the rate
    written beside it, as the report's "102.6 %" or "374 %".
    """
    use, font = chart_language(lang)
    rows = kpi[(kpi["district"] == district) & kpi["target"].notna() & kpi["actual"].notna()]
    fig = _figure(font, width=7.0, height=0.55 * max(len(rows), 1) + 1.2)
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1]
    rate = (rows["actual"] / rows["target"]).to_numpy(dtype="f8") * 100
    ax.barh(y, np.full(len(rows), 100.0), color="#e6e6e6")
    ax.barh(y, np.minimum(rate, 100), color=np.where(rate >= 100, "#4c9a2a", "#e67e22"))
    for yi, r in zip(y, rate, strict=True):
        ax.text(min(r, 100) + 1, yi, f"{r:.1f}%", va="center", **_text(font))
    labels = [
        _gauge_label(i, it, use) for i, it in zip(rows["indicator"], rows["item"], strict=True)
    ]
    ax.set_yticks(y, _names(pd.Series(labels), font), **_text(font))
    ax.set_xlim(0, 125)
    ax.set_xlabel("%")
    where = district if font is not None or district.isascii() else ""
    title = {Lang.ZH: f"{district} 目标完成进度", Lang.EN: f"Progress against targets {where}"}[use]
    ax.set_title(title, **_text(font))
    return fig


def _gauge_label(indicator: str, item: str, lang: Lang) -> str:
    name = getattr(INDICATORS[indicator], lang.value)
    return f"{name} {item}".strip()


def png_bytes(fig: Figure) -> bytes:
    """Render a figure to PNG bytes (Agg canvas)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
