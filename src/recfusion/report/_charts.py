"""Write every chart the inputs allow as a deterministic PNG and describe each for the page."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from matplotlib.figure import Figure

from recfusion import _io
from recfusion.report import _charts_core as core
from recfusion.report import _charts_extra as extra
from recfusion.report._extras import ReportExtras
from recfusion.report._plot import colours, plotting_style, png_bytes
from recfusion.report._tidy import Benchmark

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChartInfo:
    """Where a chart goes in the HTML page and the sentence printed under it."""

    section: str
    caption: str


#: Chart file stem prefix -> (HTML section, caption). First matching prefix wins.
CHART_INFO = (
    ("bars_", "accuracy", "Mean over evaluated users; whiskers are 95% bootstrap confidence "
     "intervals; hatched bars are external baselines."),
    ("metric_vs_k", "accuracy", "How each accuracy metric grows with the list length k; "
     "shaded bands are 95% bootstrap confidence intervals."),
    ("accuracy_vs_beyond", "beyond", "Upper-right is better on both axes; strategies that "
     "gain accuracy by recommending the same popular items sit upper-left."),
    ("popularity_bias", "beyond", "Cumulative share of recommended slots (coloured) and of "
     "catalogue items (dotted) at or below a popularity; curves to the right of the "
     "catalogue favour popular items."),
    ("segments_", "segments", "The same metric computed within each user segment; "
     "small segments have wide intervals."),
    ("cost", "cost", "Fit time, per-request latency percentiles and peak memory; lower is "
     "better."),
    ("latency_distribution", "cost", "Distribution of single-request latency measured "
     "while scoring the test users."),
    ("channel_overlap", "diagnostics", "Jaccard overlap of the candidate sets the recall "
     "channels return; low overlap means the channels bring complementary items to fusion."),
    ("fusion_weights", "diagnostics", "Weights the fusion step settled on."),
    ("mmr_tradeoff", "diagnostics", "Each point is one MMR λ; moving along the curve trades "
     "accuracy for intra-list diversity."),
    ("pareto_front", "diagnostics", "Tuning trials no other trial beats on both accuracy "
     "and diversity."),
    ("ltr_importance", "diagnostics", "Which features the learning-to-rank fuser relies "
     "on most."),
)  # fmt: skip


def describe(path: Path) -> ChartInfo:
    """Section and caption of a chart written by :func:`write_charts`, from its file name."""
    stem = Path(path).stem
    for prefix, section, caption in CHART_INFO:
        if stem.startswith(prefix):
            return ChartInfo(section, caption)
    return ChartInfo("diagnostics", "")


def write_charts(table: pl.DataFrame, extras: ReportExtras | None, directory: Path) -> list[Path]:
    """Draw every chart the inputs allow and write each as a PNG in ``directory``.

    Parameters
    ----------
    table : polars.DataFrame
        The tidy benchmark table (see :func:`write_benchmark_csv`).
    extras : ReportExtras or None
        Optional material; a chart whose input is absent is skipped.
    directory : Path
        Created when missing. Files are written atomically, one per chart.

    Returns
    -------
    list of Path
        Written files in reading order. The table alone yields up to six charts (NDCG and
        recall bars, metric vs k, accuracy vs beyond-accuracy, segments, cost); extras add
        popularity bias, latency, channel overlap, fusion weights, MMR, Pareto and LTR
        importances. Same inputs give byte-identical files (no dates or versions stored).
    """
    started = time.perf_counter()
    bench = Benchmark.of(table)
    extras = extras or ReportExtras()
    directory = Path(directory)
    written: list[Path] = []
    with plotting_style():
        for stem, build in _plan(bench, extras):
            figure = build()
            if figure is None:
                logger.debug("report: chart %s skipped (input absent)", stem)
                continue
            path = directory / f"{stem}.png"
            _io.write_bytes(path, png_bytes(figure))
            written.append(path)
    logger.info(
        "report: wrote %d charts to %s in %.2f s",
        len(written),
        directory,
        time.perf_counter() - started,
    )
    return written


def _plan(bench: Benchmark, extras: ReportExtras) -> list[tuple[str, Callable[[], Figure | None]]]:
    """(file stem, builder) of every chart, in reading order."""
    palette = colours(bench.strategies)
    metric, k = bench.main_metric()
    suffix = "" if k is None else f"_at_{k}"
    plan: list[tuple[str, Callable[[], Figure | None]]] = [
        (f"bars_{metric}{suffix}", lambda: core.metric_bars(bench, metric, k, palette)),
    ]
    if metric != "recall":
        recall_k = bench.main_k("recall")
        recall_suffix = "" if recall_k is None else f"_at_{recall_k}"
        plan.append((f"bars_recall{recall_suffix}",
                     lambda: core.metric_bars(bench, "recall", recall_k, palette)))  # fmt: skip
    plan += [
        ("metric_vs_k", lambda: core.metric_vs_k(bench, palette)),
        ("accuracy_vs_beyond", lambda: core.tradeoff(bench, palette)),
        ("popularity_bias", lambda: extra.popularity_bias(extras, palette)),
        (f"segments_{metric}{suffix}", lambda: core.segments(bench, metric, k, palette)),
        ("cost", lambda: core.cost(bench, palette)),
        ("latency_distribution", lambda: extra.latency_distribution(extras, palette)),
        ("channel_overlap", lambda: extra.channel_overlap(extras)),
        ("fusion_weights", lambda: extra.fusion_weights(extras)),
        ("mmr_tradeoff", lambda: extra.mmr_tradeoff(extras)),
        ("pareto_front", lambda: extra.pareto_front(extras)),
        ("ltr_importance", lambda: extra.ltr_importance(extras)),
    ]
    return plan
