"""gis.report data, tables and figures on the demo results, checked against the files directly."""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from report_helpers import demo_results, make_field_store, record

from gis.charts import FontWarning, glyphs_checked
from gis.errors import DataSourceError, NoGeometryError
from gis.findings import Findings
from gis.io import read_layer, read_table
from gis.report import blocks, figures, tables
from gis.report.data import ReportInputError, ResultsKind, load_field_records, load_results
from gis.units import M2_PER_HA, M2_PER_MU


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return demo_results(tmp_path_factory.getbasetemp())


def _read(path: Path, layer: str) -> pd.DataFrame:
    return pyogrio.read_dataframe(path, layer=layer, read_geometry=False)


def test_patch_tables_equal_the_geopackage(demo: dict[str, Path]) -> None:
    data = load_results(demo["patches"], ResultsKind.PATCHES)
    raw = _read(demo["patches"], "patches_checked")
    illegal = raw[raw["legality"] == "suspected_illegal"]
    listed = tables.suspected_illegal(data.main)
    assert len(listed) == len(illegal) > 0
    assert listed["field_priority"].is_monotonic_increasing
    assert listed["area_mu"].sum() == pytest.approx(
        illegal["area_ha"].sum() * M2_PER_HA / M2_PER_MU
    )
    check = tables.self_check(data.main).set_index("legality")
    assert check["count"].sum() == len(raw)
    assert check["area_ha"].sum() == pytest.approx(raw["area_ha"].sum())
    breakdown = tables.legality_breakdown(data.main)
    assert breakdown["count"].sum() == len(raw)
    assert breakdown["area_mu"].sum() == pytest.approx(raw["area_mu"].sum())


def test_verification_rate_counts_features_with_a_record(
    demo: dict[str, Path], tmp_path: Path
) -> None:
    data = load_results(demo["patches"], ResultsKind.PATCHES)
    ids = data.main["patch_id"].tolist()
    store = make_field_store(
        tmp_path / "field.gpkg",
        [record("patches_checked", i, k) for k, i in enumerate(ids[:10] + ids[:3])]
        + [record("discolored_points", "DPX", 99)],
    )
    field = load_field_records(store, layer="patches_checked")
    assert len(field.log) == 13 and len(field.latest) == 10
    rate = tables.verification_rate(data.main, field.latest, id_column="patch_id")
    overall = rate.iloc[0]
    assert (overall["delivered"], overall["verified"]) == (len(ids), 10)
    by_district = rate[rate["level"] == "district"]
    assert by_district["delivered"].sum() == len(ids) and by_district["verified"].sum() == 10


def test_field_agreement_uses_the_latest_field_visit(demo: dict[str, Path], tmp_path: Path) -> None:
    data = load_results(demo["patches"], ResultsKind.PATCHES)
    p = data.main.set_index("patch_id")
    real = p[p["is_real_change"] == 1].index[0]
    store = make_field_store(
        tmp_path / "field.gpkg",
        [
            record("patches_checked", real, 1, is_real_change=False, verified_cause_code=93),
            record(
                "patches_checked",
                real,
                2,
                is_real_change=True,
                verified_cause_code=int(p.loc[real, "verified_cause_code"]),
            ),
        ],
    )
    field = load_field_records(store, layer="patches_checked")
    agreement = tables.field_agreement(data.main, field.field)
    assert agreement[["real_change_agrees", "cause_agrees"]].values.tolist() == [[1.0, 1.0]]


def test_discolored_tables(demo: dict[str, Path]) -> None:
    data = load_results(demo["discolored"], ResultsKind.DISCOLORED)
    stands = data.extra["stand_summary"]
    by_stand = tables.discolored_by_stand(stands)
    assert by_stand["count"].sum() == len(data.main)
    chiefs = tables.discolored_by(data.main, stands, by="forest_chief")
    assert chiefs["count"].sum() == len(data.main)
    assert (chiefs["density_per_ha"] == chiefs["count"] / chiefs["stands_area_ha"]).all()
    districts = tables.discolored_by(data.main, stands, by="district")  # from the stands' 行政区
    assert districts["count"].sum() == len(data.main)


def test_kpi_and_coverage_tables(demo: dict[str, Path]) -> None:
    kpi = load_results(demo["kpi"], ResultsKind.KPI).main
    flags = tables.kpi_flags(kpi)
    assert flags["targets"] == kpi["target"].notna().sum()
    assert flags["met"] + flags["not_met"] + flags["unknown"] == flags["targets"]
    cov = load_results(demo["coverage"], ResultsKind.COVERAGE)
    table = tables.coverage_table(cov.main).set_index("district")
    raw = _read(demo["coverage"], "coverage")
    city = raw[(raw["district"] == "全市") & (raw["measure"] == "service")]["coverage_pct"].iloc[0]
    assert table.loc["全市", "service_share"] == pytest.approx(city / 100)
    under = tables.underserved_table(cov.extra["underserved"], top=5)
    assert under["rank"].tolist() == [1, 2, 3, 4, 5]


def test_a_table_is_told_from_a_layer_by_its_error_class(demo: dict[str, Path]) -> None:
    """read_layer raises NoGeometryError for a table; the report catches it and reads the table."""
    with pytest.raises(
        NoGeometryError, match=r"'kpi' has no geometry \(a table, not a layer\)"
    ) as err:
        read_layer(demo["kpi"], layer="kpi", findings=Findings())
    assert isinstance(err.value, DataSourceError)
    assert "'kpi' 是没有几何的表，不是图层" in err.value.text("zh")
    kpi = load_results(demo["kpi"], ResultsKind.KPI).main
    assert not isinstance(kpi, gpd.GeoDataFrame)
    pd.testing.assert_frame_equal(kpi, read_table(demo["kpi"], layer="kpi"))
    with pytest.raises(DataSourceError, match="has no layer 'kpi'") as other:
        read_layer(demo["coverage"], layer="kpi", findings=Findings())
    assert not isinstance(other.value, NoGeometryError)  # other read errors are not caught


# ----------------------------------------------------------------------------- bad input


def test_results_of_another_check(demo: dict[str, Path]) -> None:
    with pytest.raises(
        ReportInputError, match=r"linyuan greenery kpi.*not those of `linyuan check patches`"
    ):
        load_results(demo["kpi"], ResultsKind.PATCHES)


def test_missing_layer(demo: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "patches.gpkg"
    shutil.copy(demo["patches"], copy)
    with sqlite3.connect(copy) as con:
        con.execute("DROP TABLE run")
        con.execute("DELETE FROM gpkg_contents WHERE table_name = 'run'")
    with pytest.raises(ReportInputError, match=r"lacks layer\(s\) run .*--overwrite"):
        load_results(copy, ResultsKind.PATCHES)


def test_empty_batch_and_unknown_batch(demo: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(
        ReportInputError,
        match="no features of batch '2030年第9期'; batch values present: 2026年第1期",
    ):
        load_results(demo["patches"], ResultsKind.PATCHES, batch="2030年第9期")
    copy = tmp_path / "patches.gpkg"
    shutil.copy(demo["patches"], copy)
    with sqlite3.connect(copy) as con:
        con.execute("DELETE FROM patches_checked")
    for batch in (None, "2026年第1期"):  # an empty layer is nothing to report, not an error
        empty = load_results(copy, ResultsKind.PATCHES, batch=batch)
        assert empty.main.empty and not empty.findings.empty


def test_not_a_field_store(demo: dict[str, Path]) -> None:
    with pytest.raises(ReportInputError, match="is not a field store"):
        load_field_records(demo["kpi"], layer="patches_checked")


# ------------------------------------------------------------------------------- figures


def test_charts_draw_every_chinese_glyph(demo: dict[str, Path]) -> None:
    data = load_results(demo["patches"], ResultsKind.PATCHES)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FontWarning)
        with glyphs_checked():
            fig = figures.category_map(
                data.main,
                column="legality",
                names={"suspected_illegal": "疑似违法"},
                title="图斑分布",
                lang="zh",
            )
            assert figures.png(fig).startswith(b"\x89PNG")


def test_blocks_escape_and_format() -> None:
    t = blocks.table(pd.DataFrame({"名称": ["<b>"], "rate": [0.5]}), percent=("rate",), key="k")
    html = t.html()
    assert "&lt;b&gt;" in html and "50.0%" in html and 'data-key="k"' in html


def test_several_batches_get_a_rate_each_and_a_batch_filter(
    demo: dict[str, Path], tmp_path: Path
) -> None:
    from gis.report import open_patch_report, patch_summary, patch_verification

    copy = tmp_path / "patches.gpkg"
    for layer in ("patches_checked", "findings", "run"):
        frame = pyogrio.read_dataframe(demo["patches"], layer=layer)
        if layer == "patches_checked":
            frame.loc[frame.index % 3 == 0, "batch"] = "2026年第2期"
            second = int((frame.index % 3 == 0).sum())
        pyogrio.write_dataframe(frame, copy, layer=layer, driver="GPKG", append=copy.exists())
    rep = open_patch_report(copy)
    table = next(
        b for b in patch_verification(rep).blocks if b.data.get("key") == "verification_rate"
    )
    batches = {r[1]: r[2] for r in table.data["rows"] if r[0] == "批次"}
    assert batches == {"2026年第1期": str(71 - second), "2026年第2期": str(second)}
    one = open_patch_report(copy, batch="2026年第2期", lang="en")
    figures_block = patch_summary(one).blocks[1]
    assert {i["key"]: i["value"] for i in figures_block.data["items"]}["patches_n"] == str(second)
