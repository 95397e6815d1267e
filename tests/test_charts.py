"""KPI charts: real CJK glyphs from a system or the bundled font; English only without either."""

from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from matplotlib.figure import Figure

from gis import charts
from gis.charts import (
    BUNDLED_FAMILY,
    BUNDLED_FONT,
    FontWarning,
    MissingGlyphError,
    district_bars,
    glyphs_checked,
    png_bytes,
    progress_gauges,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def kpi() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "district": ["南关区", "朝阳区", "全市", "全市", "全市"],
            "indicator": [
                "pocket_parks_new",
                "pocket_parks_new",
                "pocket_parks_new",
                "village_greening_done",
                "park_progress_pct",
            ],
            "item": ["", "", "", "", "咏春公园"],
            "year": 2024,
            "target": [20.0, None, 40.0, 367.0, 100.0],
            "actual": [12.0, 9.0, 21.0, 1373.0, 50.0],
        }
    )


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text"))]


def test_chinese_charts_render_without_missing_glyphs(kpi: pd.DataFrame) -> None:
    assert charts.cjk_font() is not None  # a system CJK font, or the bundled one
    with glyphs_checked(), warnings.catch_warnings():
        warnings.simplefilter("error", FontWarning)
        bars = district_bars(kpi, indicator="pocket_parks_new")
        gauges = progress_gauges(kpi)
        for fig in (bars, gauges):
            assert png_bytes(fig).startswith(b"\x89PNG")
    assert [t.get_text() for t in bars.axes[0].get_xticklabels()] == ["南关区", "朝阳区"]
    assert "新建口袋公园（个） 2024" in texts(bars)
    gauge_text = texts(gauges)
    assert "374.1%" in gauge_text and "50.0%" in gauge_text
    assert "在建公园进度 咏春公园" in [t.get_text() for t in gauges.axes[0].get_yticklabels()]


def test_missing_glyphs_are_detected(kpi: pd.DataFrame) -> None:
    """The guard works: Chinese drawn with DejaVu Sans (no CJK glyphs) fails."""
    fig = Figure()
    fig.text(0.5, 0.5, "公园绿地", fontfamily="DejaVu Sans")
    with glyphs_checked(), pytest.raises(UserWarning, match="missing from"):
        png_bytes(fig)


def test_no_cjk_font_falls_back_to_english(kpi: pd.DataFrame, monkeypatch) -> None:
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    with pytest.warns(FontWarning, match="no CJK font found"):
        fig = district_bars(kpi, indicator="pocket_parks_new")
    with glyphs_checked():
        png_bytes(fig)  # no tofu: every label is ASCII
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["#1", "#2"]
    assert "new pocket parks (items) 2024" in texts(fig)
    with pytest.warns(FontWarning):
        gauges = progress_gauges(kpi)
    assert all(t.get_text().isascii() for t in gauges.axes[0].get_yticklabels())


def test_english_on_request_and_bad_language(kpi: pd.DataFrame) -> None:
    fig = district_bars(kpi, indicator="pocket_parks_new", lang="en")
    assert any(t.startswith("new pocket parks") for t in texts(fig))
    with pytest.raises(ValueError, match="valid values: zh, en"):
        district_bars(kpi, indicator="pocket_parks_new", lang="fr")


@pytest.fixture
def no_system_cjk(monkeypatch: pytest.MonkeyPatch) -> None:
    """matplotlib sees no CJK font on the system, as on a fresh office PC."""
    monkeypatch.setattr(charts, "_installed", lambda: {"DejaVu Sans"})
    monkeypatch.setattr(charts, "_register_system_cjk", lambda: None)
    charts.cjk_font.cache_clear()
    yield
    charts.cjk_font.cache_clear()


def test_bundled_font_draws_chinese_charts_without_a_system_font(kpi, no_system_cjk) -> None:
    assert charts.cjk_font() == BUNDLED_FAMILY
    with glyphs_checked(), warnings.catch_warnings():
        warnings.simplefilter("error", FontWarning)
        bars = district_bars(kpi, indicator="pocket_parks_new")
        assert png_bytes(bars).startswith(b"\x89PNG")
    assert [t.get_text() for t in bars.axes[0].get_xticklabels()] == ["南关区", "朝阳区"]
    title = bars.axes[0].title
    assert title.get_text() == "新建口袋公园（个） 2024"
    found = font_manager.fontManager.findfont(title.get_fontproperties(), fallback_to_default=False)
    assert Path(found) == BUNDLED_FONT


def _font_script():
    """scripts/subset_font.py, which built the font (its GB 2312 list is checked by count)."""
    spec = importlib.util.spec_from_file_location("subset_font", ROOT / "scripts/subset_font.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundled_font_is_static_ofl_and_covers_gb2312() -> None:
    font = TTFont(BUNDLED_FONT)
    cmap = font.getBestCmap()
    assert "fvar" not in font  # static, not a variable font matplotlib draws thin
    assert font["name"].getDebugName(1) == BUNDLED_FAMILY
    assert "Open Font License" in font["name"].getDebugName(13)
    licence = (BUNDLED_FONT.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence and "Adobe" in licence
    gb2312 = _font_script().gb2312()
    assert len(gb2312) == 7445
    assert gb2312 - set(cmap) == set()
    assert set(range(0x20, 0x7F)) - set(cmap) == set()
    assert BUNDLED_FONT.stat().st_size < 2_500_000


def test_every_character_linyuan_writes_is_drawable() -> None:
    """Each non-ASCII character of gis/, layers/ and notebooks/ is in the bundled font or in
    matplotlib's own DejaVu Sans (the fallback family every chart names)."""
    covered = set(TTFont(BUNDLED_FONT).getBestCmap())
    covered |= set(TTFont(font_manager.findfont("DejaVu Sans")).getBestCmap())
    missing: dict[str, str] = {}
    for folder in ("gis", "layers", "notebooks"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".yaml", ".ipynb", ".j2") or "vendor" in path.parts:
                continue
            for ch in set(path.read_text(encoding="utf-8")):
                if ord(ch) > 0x7F and ord(ch) not in covered:
                    missing.setdefault(ch, str(path.relative_to(ROOT)))
    assert missing == {}


def test_missing_glyph_says_which_font_to_install(no_system_cjk) -> None:
    family = charts.cjk_font()
    fig = Figure()
    fig.text(0.5, 0.5, "王堃", fontfamily=[family, "DejaVu Sans"])  # 堃 is not in GB 2312
    with pytest.raises(MissingGlyphError) as err, glyphs_checked():
        png_bytes(fig)
    message = str(err.value)
    assert re.search(r"Glyph 22531 .*missing from font\(s\) .*Noto Sans SC Linyuan", message)
    assert "“堃”（U+5803）" in message
    assert "apt-get install fonts-noto-cjk" in message and "微软雅黑" in message
