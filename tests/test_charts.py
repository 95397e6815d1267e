"""KPI charts: real CJK glyphs when a CJK font exists, English fallback with a warning otherwise."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from matplotlib.figure import Figure

from gis import charts
from gis.charts import FontWarning, district_bars, glyphs_checked, png_bytes, progress_gauges


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
    if charts.cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
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
    assert "new pocket parks (count) 2024" in texts(fig)
    with pytest.warns(FontWarning):
        gauges = progress_gauges(kpi)
    assert all(t.get_text().isascii() for t in gauges.axes[0].get_yticklabels())


def test_english_on_request_and_bad_language(kpi: pd.DataFrame) -> None:
    fig = district_bars(kpi, indicator="pocket_parks_new", lang="en")
    assert any(t.startswith("new pocket parks") for t in texts(fig))
    with pytest.raises(ValueError, match="valid values: zh, en"):
        district_bars(kpi, indicator="pocket_parks_new", lang="fr")
