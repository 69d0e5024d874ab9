"""Report stage: benchmark CSV, console table, headline, charts and the HTML page."""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from rich.console import Console

from recfusion.columns import CI_HIGH, CI_LOW, K, METRIC, SEGMENT, STRATEGY, VALUE
from recfusion.errors import InputError
from recfusion.report import (
    ReportExtras,
    RunInfo,
    results_table,
    write_benchmark_csv,
    write_charts,
    write_html,
    write_report,
)
from recfusion.report._csv import benchmark_csv_text
from recfusion.report._sample import sample_extras, sample_table
from recfusion.report._summary import headline
from recfusion.report._tidy import Benchmark

COLUMNS = [STRATEGY, METRIC, K, VALUE, CI_LOW, CI_HIGH, SEGMENT]
SECTION_IDS = ("summary", "accuracy", "beyond", "segments", "cost", "paired", "diagnostics",
               "conventions", "run")  # fmt: skip


def frame(rows: list[tuple]) -> pl.DataFrame:
    """Tidy table from (strategy, metric, k, value, ci_low, ci_high, segment) tuples."""
    return pl.DataFrame(rows, schema=COLUMNS, orient="row")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The full synthetic report (every extra set), written once for the module."""
    out = tmp_path_factory.mktemp("report")
    return write_report(out, sample_table(), sample_extras())


# --- benchmark_report.csv ------------------------------------------------------------------------


def test_csv_layout_known_answer(tmp_path: Path) -> None:
    # Rows arrive shuffled; expected order is segment "all" first, then segment name,
    # strategy, metric, k with the no-cut-off row (k null or 0) first.
    # 1/3 keeps 10 significant digits: 0.3333333333; 0.1 + 0.2 = 0.30000000000000004 is
    # written as 0.3, so last-bit noise of a summation never reaches the file.
    table = frame([
        ("b", "ndcg", 10, 0.1 + 0.2, 0.25, 0.35, "gender=F"),
        ("b", "ndcg", 10, 1 / 3, None, None, "all"),
        ("a", "recall", 5, 0.5, 0.4, 0.6, "all"),
        ("a", "fit_seconds", 0, 12.0, None, None, "all"),
        ("a, quoted", "ndcg", 5, -0.0, None, None, "all"),
    ])  # fmt: skip
    path = tmp_path / "out" / "benchmark_report.csv"
    write_benchmark_csv(table, path)
    assert path.read_text(encoding="utf-8") == (
        "strategy,metric,k,value,ci_low,ci_high,segment\n"
        "a,fit_seconds,,12,,,all\n"
        "a,recall,5,0.5,0.4,0.6,all\n"
        '"a, quoted",ndcg,5,0,,,all\n'
        "b,ndcg,10,0.3333333333,,,all\n"
        "b,ndcg,10,0.3,0.25,0.35,gender=F\n"
    )


def test_csv_rerun_and_row_order_give_identical_bytes(tmp_path: Path) -> None:
    table = sample_table()
    shuffled = table.sample(fraction=1.0, shuffle=True, seed=7)
    write_benchmark_csv(table, tmp_path / "first.csv")
    write_benchmark_csv(shuffled, tmp_path / "second.csv")
    first = (tmp_path / "first.csv").read_bytes()
    assert first == (tmp_path / "second.csv").read_bytes()
    rows = list(csv.reader(io.StringIO(first.decode("utf-8"))))
    assert rows[0] == COLUMNS
    assert len(rows) == table.height + 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.csv", "second.csv"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1,
                max_size=12))  # fmt: skip
def test_csv_values_round_trip_to_ten_significant_digits(values: list[float]) -> None:
    table = frame([(f"s{i}", "ndcg", 10, v, None, None, "all") for i, v in enumerate(values)])
    text = benchmark_csv_text(table)
    back = {row["strategy"]: float(row["value"]) for row in csv.DictReader(io.StringIO(text))}
    for i, value in enumerate(values):
        assert math.isclose(back[f"s{i}"], value, rel_tol=1e-9, abs_tol=0.0)


def test_csv_rejects_repeated_key_and_missing_column(tmp_path: Path) -> None:
    repeated = frame([("a", "ndcg", 10, 0.1, None, None, "all")] * 2)
    with pytest.raises(InputError, match=r"repeats the key .*'a', 'ndcg', 10"):
        write_benchmark_csv(repeated, tmp_path / "x.csv")
    with pytest.raises(InputError, match=r"lacks column\(s\) \['value'\]"):
        write_benchmark_csv(pl.DataFrame({STRATEGY: ["a"], METRIC: ["ndcg"]}), tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


# --- headline and console -------------------------------------------------------------------


def small_table() -> pl.DataFrame:
    """NDCG@10: fused 0.12 > als 0.10 > itemcf 0.08; external baseline 0.13."""
    return frame([
        ("als", "ndcg", 10, 0.10, 0.09, 0.11, "all"),
        ("itemcf", "ndcg", 10, 0.08, 0.07, 0.09, "all"),
        ("fused", "ndcg", 10, 0.12, 0.11, 0.13, "all"),
        ("ext:x", "ndcg", 10, 0.13, 0.12, 0.14, "all"),
        ("als", "recall", 10, 0.20, None, None, "all"),
        ("fused", "recall", 10, 0.25, None, None, "all"),
        ("als", "coverage", 10, 0.30, None, None, "all"),
        ("fused", "coverage", 10, 0.50, None, None, "all"),
    ])  # fmt: skip


def test_headline_known_answer() -> None:
    # The paired row holds metric(strategy) - metric(best_strategy) = als - fused = -0.02 with
    # CI [-0.03, -0.01]; the gain of fused over als is therefore +0.02, CI [+0.01, +0.03].
    paired = pl.DataFrame(
        [("als", "ndcg", 10, "fused", -0.02, -0.03, -0.01, 0.004)],
        schema=["strategy", "metric", "k", "best_strategy", "mean_diff", "ci_low", "ci_high",
                "p_value"], orient="row",
    )  # fmt: skip
    found = headline(Benchmark.of(small_table()), paired)
    assert (found.metric, found.k, found.best, found.single) == ("ndcg", 10, "fused", "als")
    assert found.gain == pytest.approx(0.02)
    assert (found.gain_low, found.gain_high, found.p_value) == pytest.approx((0.01, 0.03, 0.004))
    assert found.relative_gain == pytest.approx(0.2)  # 0.02 / 0.10
    # The external baseline (0.13) is not a recfusion strategy: 0.12 - 0.13 = -0.01, unpaired.
    assert found.external == "ext:x"
    assert found.external_gain == pytest.approx(-0.01)
    assert math.isnan(found.external_low)
    assert "fused has the best NDCG@10" in found.sentence()
    assert "+0.0200 (+20.0%)" in found.sentence()


def test_results_table_orders_by_ndcg_and_prints_names_literally() -> None:
    table = small_table().with_columns(pl.col(STRATEGY).replace("itemcf", "[bold]x"))
    console = Console(record=True, width=120)
    console.print(results_table(table, k=10))
    text = console.export_text()
    lines = [line for line in text.splitlines() if line.startswith("│")]
    order = [line.split("│")[1].strip() for line in lines]
    assert order == ["x (ext)", "fused", "als", "[bold]x"]  # by NDCG@10: .13, .12, .10, .08
    assert "Coverage@10" in text and "NDCG@10" in text
    assert "0.5000" in text  # coverage of fused


# --- charts -----------------------------------------------------------------------------------


def test_full_report_writes_every_chart_as_a_real_png(report: dict[str, Path]) -> None:
    charts = sorted(path for key, path in report.items() if key.startswith("chart:"))
    assert len(charts) == 13
    for path in charts:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert b"Matplotlib" not in data  # no Software tag: reruns stay byte-identical
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L"))
        assert min(pixels.shape) >= 300
        # A drawn chart has many grey levels and a good share of non-white pixels.
        assert len(np.unique(pixels)) > 20
        assert (pixels < 200).mean() > 0.01


def test_charts_rerun_are_byte_identical(tmp_path: Path, report: dict[str, Path]) -> None:
    again = write_charts(sample_table(), sample_extras(), tmp_path)
    before = {path.name: path.read_bytes() for path in report["charts"].iterdir()}
    assert {path.name: path.read_bytes() for path in again} == before


def test_table_alone_gives_six_charts_and_bad_extras_fail(tmp_path: Path) -> None:
    written = write_charts(sample_table(), None, tmp_path)
    assert [path.stem for path in written] == [
        "bars_ndcg_at_10", "bars_recall_at_10", "metric_vs_k", "accuracy_vs_beyond",
        "segments_ndcg_at_10", "cost",
    ]  # fmt: skip
    with pytest.raises(InputError, match=r"'overlap_jaccard' must have shape \(2, 2\)"):
        ReportExtras(overlap_names=["a", "b"], overlap_jaccard=np.eye(3))
    with pytest.raises(InputError, match=r"'mmr_tradeoff' lacks column\(s\) \['diversity'\]"):
        ReportExtras(mmr_tradeoff=pl.DataFrame({"lambda": [0.5], "ndcg": [0.1]}))


# --- HTML -------------------------------------------------------------------------------------


def test_html_is_self_contained_and_shows_every_table(report: dict[str, Path]) -> None:
    page = report["html"].read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') == 13
    # Base64 payloads may spell "http" by chance; the rest of the page must not link out.
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:", page).lower()
    for forbidden in ("http", "<script", "<link", "@import", "url(", "//"):
        assert forbidden not in text
    assert set(re.findall(r'href="([^"]*)"', text)) <= {f"#{s}" for s in SECTION_IDS}
    assert set(re.findall(r'src="([^"]*)"', text)) == {"data:"}
    for caption in ("Accuracy metrics, all users", "Beyond-accuracy metrics", "Cost per strategy",
                    "NDCG@10 by user segment", "Paired bootstrap tests",
                    "Recall channel diagnostics", "Fusion weights chosen",
                    "Learning-to-rank feature importances", "Data sizes"):  # fmt: skip
        assert f"<caption>{caption}" in page
    assert page.count('<tr><th scope="row" class="name">fused_ltr') == 3  # 3 metric tables
    assert '<span class="badge ext">external</span>' in page
    assert "fused_ltr has the best NDCG@10 among recfusion strategies" in page


def test_html_escapes_names_and_highlights_the_best(tmp_path: Path) -> None:
    evil = '<b>evil</b> & "q" $x$'
    table = small_table().with_columns(pl.col(STRATEGY).replace("itemcf", evil))
    table = pl.concat([table, frame([("als", "ndcg", 10, 0.05, None, None, "gender=<F>"),
                                     (evil, "ndcg", 10, 0.07, None, None, "gender=<F>")])])
    extras = ReportExtras(
        feature_importances=pl.DataFrame({"feature": ["<i>f</i>"], "importance": [1.0]}),
        run_info=RunInfo(dataset="<script>alert(1)</script>", config_toml='x = "</pre>"'),
    )
    charts = write_charts(table, extras, tmp_path / "charts")  # "$x$" must not break mathtext
    write_html(table, extras, charts, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<b>evil" not in page and "<script>" not in page and "<i>f</i>" not in page
    assert "&lt;b&gt;evil&lt;/b&gt; &amp; &quot;q&quot; $x$" in page
    assert "gender=&lt;F&gt;" in page and "x = &quot;&lt;/pre&gt;&quot;" in page
    # The best NDCG@10 is the external baseline (0.13); the best recall is fused (0.25).
    best = re.findall(r'<td class="num best[^"]*"[^>]*>([0-9.]+)', page)
    assert {"0.1300", "0.2500", "0.5000"} <= set(best)
    assert "0.1000" not in best


def test_write_report_replaces_stale_charts(tmp_path: Path) -> None:
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "old_chart.png").write_bytes(b"stale")
    paths = write_report(tmp_path, small_table(), None)
    assert {"csv", "html", "charts"} <= set(paths)
    assert not (tmp_path / "charts" / "old_chart.png").exists()
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == sorted(
        f"{key.split(':', 1)[1]}.png" for key in paths if key.startswith("chart:")
    )


def test_degenerate_inputs_give_a_report_not_a_crash(tmp_path: Path) -> None:
    # Regression: a segment chart with no finite "all" value divided by zero strategies.
    table = frame([
        ("als", "ndcg", 10, float("nan"), None, None, "all"),
        ("x", "ndcg", 10, None, None, None, "all"),
        ("x", "ndcg", 10, 0.2, None, None, "gender=F"),
    ])  # fmt: skip
    extras = ReportExtras(latency_samples_ms={"x": np.array([])}, fusion_weights={"rrf": "on"},
                          recommended_popularity={"x": np.array([np.nan])})  # fmt: skip
    paths = write_report(tmp_path / "odd", table, extras)
    assert [key for key in paths if key.startswith("chart:")] == ["chart:segments_ndcg_at_10"]
    assert "No recfusion strategy has a value for NDCG@10" in paths["html"].read_text("utf-8")
    empty = frame([]).cast({K: pl.Int64, VALUE: pl.Float64, CI_LOW: pl.Float64,
                            CI_HIGH: pl.Float64})  # fmt: skip
    paths = write_report(tmp_path / "empty", empty, None)
    assert paths["csv"].read_text("utf-8") == ",".join(COLUMNS) + "\n"
