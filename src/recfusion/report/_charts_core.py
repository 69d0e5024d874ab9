"""Charts drawn from the benchmark table alone: bars, curves over k, trade-offs, segments, cost."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from recfusion.columns import ALL_USERS
from recfusion.report._format import number
from recfusion.report._plot import (
    EXTERNAL_HATCH,
    chart_name,
    external_legend_patch,
    line_style,
    new_figure,
    safe,
)
from recfusion.report._tidy import (
    ACCURACY,
    Benchmark,
    Cell,
    is_external,
    is_fused,
    label,
)

SCALE_NOTE = "mean over users, 0–1, higher is better"
TRADEOFF_AXES = (
    "coverage",
    "diversity_category",
    "diversity_embedding",
    "novelty",
    "long_tail_share",
    "personalization",
    "personalisation",
)
PERCENTILE_COLOURS = {"latency_ms_p50": "#9ecae1", "latency_ms_p95": "#4292c6"}
PERCENTILE_COLOURS |= {"latency_ms_p99": "#08306b"}
SEGMENT_LIMIT = 6


def metric_bars(bench: Benchmark, metric: str, k: int | None, palette: dict) -> Figure | None:
    """Horizontal bars of metric@k per strategy with 95% CI whiskers, best at the top."""
    rows = _finite_cells(bench, bench.strategies, metric, k)
    if not rows:
        return None
    rows.sort(key=lambda row: (row[1].value, row[0]))
    names = [name for name, _ in rows]
    figure = new_figure(7.5, 1.5 + 0.34 * len(rows))
    axes = figure.add_subplot()
    positions = np.arange(len(rows))
    bars = axes.barh(
        positions,
        [cell.value for _, cell in rows],
        xerr=_error_bars([cell for _, cell in rows]),
        color=[palette[name] for name in names],
        edgecolor="#333333",
        linewidth=0.6,
        capsize=3,
        error_kw={"elinewidth": 1.0, "ecolor": "#222222"},
    )
    _hatch_externals(bars, names)
    _label_bar_ends(axes, rows)
    axes.set_yticks(positions, [chart_name(name) for name in names])
    axes.set_xlabel(f"{label(metric, k)} ({SCALE_NOTE})")
    axes.set_title(f"{label(metric, k)} per strategy, all users (whiskers: 95% bootstrap CI)")
    axes.grid(axis="y", visible=False)
    if any(is_external(name) for name in names):
        axes.legend(handles=[external_legend_patch()], loc="lower right")
    return figure


def _finite_cells(
    bench: Benchmark, names: tuple[str, ...] | list[str], metric: str, k: int | None,
    segment: str = ALL_USERS,
) -> list[tuple[str, Cell]]:
    """(strategy, cell) pairs with a finite value, in the order of ``names``."""
    found = [(name, bench.cell(name, metric, k, segment)) for name in names]
    return [(name, cell) for name, cell in found if cell is not None and math.isfinite(cell.value)]


def _error_bars(cells: list[Cell]) -> np.ndarray:
    """(2, n) distances from each value to its CI bounds; 0 where the CI is absent."""
    below = [max(cell.value - cell.low, 0.0) if cell.has_ci else 0.0 for cell in cells]
    above = [max(cell.high - cell.value, 0.0) if cell.has_ci else 0.0 for cell in cells]
    return np.array([below, above])


def _hatch_externals(bars: list, names: list[str]) -> None:
    """Hatch the bars of external baselines so they stand apart from recfusion's own."""
    for bar, name in zip(bars, names):
        if is_external(name):
            bar.set_hatch(EXTERNAL_HATCH)


def _label_bar_ends(axes: Axes, rows: list[tuple[str, Cell]]) -> None:
    """Write each value just right of its whisker and leave room for the text."""
    ends = [cell.high if cell.has_ci else cell.value for _, cell in rows]
    span = max(max(ends), 1e-12)
    for position, ((_, cell), end) in enumerate(zip(rows, ends)):
        axes.text(end + 0.01 * span, position, number(cell.value), va="center", fontsize=8)
    axes.set_xlim(0, span * 1.2)


def metric_vs_k(bench: Benchmark, palette: dict) -> Figure | None:
    """One panel per accuracy metric: value against the cut-off k, a line per strategy."""
    metrics = [name for name in ACCURACY if len(_cutoffs(bench, name)) > 1]
    if not metrics:
        return None
    columns = min(3, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    figure = new_figure(3.6 * columns + 2.4, 3.0 * rows + 0.6)
    panels = figure.subplots(rows, columns, squeeze=False).ravel()
    for axes, metric in zip(panels, metrics):
        _draw_k_curves(axes, bench, metric, palette)
    for axes in panels[len(metrics):]:
        axes.set_visible(False)
    handles, labels = panels[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right upper", title="strategy")
    figure.suptitle("Accuracy vs cut-off k, all users (bands: 95% bootstrap CI)", weight="bold")
    return figure


def _cutoffs(bench: Benchmark, metric: str) -> list[int]:
    """Cut-offs of ``metric`` over all users, without the no-cut-off entry."""
    return [k for k in bench.ks(metric) if k is not None]


def _draw_k_curves(axes: Axes, bench: Benchmark, metric: str, palette: dict) -> None:
    """Lines of metric@k for every strategy with shaded CI bands."""
    ks = _cutoffs(bench, metric)
    for name in bench.strategies:
        points = [(k, bench.cells.get((ALL_USERS, name, metric, k))) for k in ks]
        points = [(k, cell) for k, cell in points if cell is not None]
        if not points:
            continue
        xs = [k for k, _ in points]
        colour = palette[name]
        axes.plot(xs, [c.value for _, c in points], color=colour, markersize=4,
                  label=chart_name(name), **line_style(name))  # fmt: skip
        if all(cell.has_ci for _, cell in points):
            lows, highs = [c.low for _, c in points], [c.high for _, c in points]
            axes.fill_between(xs, lows, highs, color=colour, alpha=0.12, linewidth=0)
    axes.set_xticks(ks)
    axes.set_xlabel("cut-off k (items in the list)")
    axes.set_ylabel(label(metric))
    axes.set_title(f"{label(metric)}@k")


def tradeoff(bench: Benchmark, palette: dict) -> Figure | None:
    """Scatter of the main accuracy metric against up to four beyond-accuracy metrics."""
    metric, k = bench.main_metric()
    others = [name for name in TRADEOFF_AXES if name in bench.metrics][:4]
    if not others or metric not in bench.metrics:
        return None
    columns = 2 if len(others) == 4 else len(others)
    rows = math.ceil(len(others) / columns)
    figure = new_figure(4.6 * columns + 0.4, 3.8 * rows + 0.5)
    panels = figure.subplots(rows, columns, squeeze=False).ravel()
    for axes, other in zip(panels, others):
        _draw_tradeoff(axes, bench, (metric, k), other, palette)
    figure.suptitle(
        f"Accuracy ({label(metric, k)}) vs beyond-accuracy, all users "
        "(squares: external baselines; whiskers: 95% CI)",
        weight="bold",
    )
    return figure


def _draw_tradeoff(
    axes: Axes, bench: Benchmark, main: tuple[str, int | None], other: str, palette: dict
) -> None:
    """One accuracy-vs-other scatter with a labelled point per strategy."""
    metric, k = main
    for name in bench.strategies:
        accuracy, beyond = bench.cell(name, metric, k), bench.cell(name, other, k)
        if accuracy is None or beyond is None:
            continue
        error = _error_bars([accuracy])
        axes.errorbar(beyond.value, accuracy.value, yerr=error if accuracy.has_ci else None,
                      fmt="s" if is_external(name) else "o", color=palette[name],
                      markersize=7, capsize=2, elinewidth=0.8)  # fmt: skip
        axes.annotate(chart_name(name), (beyond.value, accuracy.value), fontsize=7,
                      xytext=(5, 4), textcoords="offset points")  # fmt: skip
    other_ks = [value for value in bench.ks(other) if value is not None]
    shown_k = k if k in other_ks else (other_ks[0] if len(other_ks) == 1 else None)
    axes.set_xlabel(f"{label(other, shown_k)} (higher = more {_more_of(other)})")
    axes.set_ylabel(f"{label(metric, k)} (higher is better)")
    axes.set_title(f"{label(metric, k)} vs {label(other)}")
    axes.margins(x=0.18, y=0.12)


def _more_of(metric: str) -> str:
    """What a higher value of a beyond-accuracy metric means, for axis labels."""
    meaning = {"coverage": "of the catalogue recommended", "novelty": "unfamiliar items"}
    meaning |= {"long_tail_share": "long-tail items", "personalization": "distinct lists"}
    meaning["personalisation"] = meaning["personalization"]
    return meaning.get(metric, "varied lists")


def segments(bench: Benchmark, metric: str, k: int | None, palette: dict) -> Figure | None:
    """Grouped bars of metric@k per user segment, one panel per segment attribute."""
    groups = _segment_groups([name for name in bench.segments if name != ALL_USERS])
    if not groups or metric not in bench.metrics:
        return None
    segment_names = [name for values in groups.values() for name in values]
    shown = _segment_strategies(bench, metric, k) or [
        name for name in bench.strategies
        if any(bench.cell(name, metric, k, segment) for segment in segment_names)
    ][:SEGMENT_LIMIT]  # fmt: skip
    if not shown:
        return None
    n_values = sum(len(values) for values in groups.values())
    width = min(16.0, max(7.5, 2.5 + 0.16 * n_values * len(shown)))
    figure = new_figure(width, 4.6)
    ratios = [len(values) + 0.4 for values in groups.values()]
    panels = figure.subplots(1, len(groups), sharey=True, width_ratios=ratios, squeeze=False)[0]
    for axes, (attribute, values) in zip(panels, groups.items()):
        _draw_segment_panel(axes, bench, (metric, k), (attribute, values), shown, palette)
    panels[0].set_ylabel(f"{label(metric, k)} ({SCALE_NOTE})")
    handles, labels = panels[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=min(len(shown), 6))
    figure.suptitle(
        f"{label(metric, k)} by user segment (showing {len(shown)} of "
        f"{len(bench.strategies)} strategies; whiskers: 95% CI)",
        weight="bold",
    )
    return figure


def _segment_groups(names: list[str]) -> dict[str, list[str]]:
    """Segment labels ``attribute=value`` grouped by attribute, in order of appearance."""
    groups: dict[str, list[str]] = {}
    for name in names:
        attribute = name.split("=", 1)[0] if "=" in name else "segment"
        groups.setdefault(attribute, []).append(name)
    return groups


def _segment_strategies(bench: Benchmark, metric: str, k: int | None) -> list[str]:
    """At most six strategies: the best overall, single, fused and external, then the next best."""
    names = list(bench.strategies)
    own = [name for name in names if not is_external(name)]
    picks = [
        bench.best(metric, k, own),
        bench.best(metric, k, [name for name in own if not is_fused(name)]),
        bench.best(metric, k, [name for name in own if is_fused(name)]),
        bench.best(metric, k, [name for name in names if is_external(name)]),
        "popularity" if "popularity" in names else None,
    ]
    ranked = [name for name, _ in sorted(_finite_cells(bench, names, metric, k),
                                         key=lambda row: (-row[1].value, row[0]))]  # fmt: skip
    chosen: list[str] = []
    for name in [*picks, *ranked]:
        if name is not None and name not in chosen and len(chosen) < SEGMENT_LIMIT:
            chosen.append(name)
    return [name for name in names if name in chosen]


def _draw_segment_panel(
    axes: Axes,
    bench: Benchmark,
    main: tuple[str, int | None],
    group: tuple[str, list[str]],
    shown: list[str],
    palette: dict,
) -> None:
    """Bars of one segment attribute: a group per value, a bar per strategy."""
    metric, k = main
    attribute, values = group
    width = 0.8 / len(shown)
    for index, name in enumerate(shown):
        cells = [bench.cell(name, metric, k, segment) for segment in values]
        present = [(i, cell) for i, cell in enumerate(cells) if cell is not None]
        if not present:
            continue
        xs = [i - 0.4 + width * (index + 0.5) for i, _ in present]
        bars = axes.bar(xs, [cell.value for _, cell in present], width=width * 0.95,
                        yerr=_error_bars([cell for _, cell in present]), capsize=1.5,
                        color=palette[name], label=chart_name(name),
                        error_kw={"elinewidth": 0.7})  # fmt: skip
        _hatch_externals(bars, [name] * len(present))
    axes.set_xticks(range(len(values)), [safe(value.split("=", 1)[-1]) for value in values])
    axes.set_xlabel(safe(attribute))
    axes.grid(axis="x", visible=False)


def cost(bench: Benchmark, palette: dict) -> Figure | None:
    """Latency percentiles, fit time and peak memory per strategy, where reported."""
    latency = [name for name in PERCENTILE_COLOURS if name in bench.metrics]
    panels = [("latency", latency)] if latency else []
    single = [name for name in ("fit_seconds", "peak_memory_mb") if name in bench.metrics]
    panels += [(name, [name]) for name in single]
    if not panels:
        return None
    names = [name for name in bench.strategies
             if any(bench.cell(name, m, None) for _, ms in panels for m in ms)]  # fmt: skip
    figure = new_figure(3.9 * len(panels) + 1.6, 1.8 + 0.36 * len(names))
    axes_list = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for axes, (title, metrics) in zip(axes_list, panels):
        _draw_cost_panel(axes, bench, names, metrics, palette)
        axes.set_title("Latency per request" if title == "latency" else label(title))
    axes_list[0].set_yticks(np.arange(len(names)), [chart_name(name) for name in names])
    figure.suptitle("Cost per strategy (lower is better)", weight="bold")
    return figure


def _draw_cost_panel(
    axes: Axes, bench: Benchmark, names: list[str], metrics: list[str], palette: dict
) -> None:
    """Horizontal bars of one or more cost metrics, log-scaled when values span decades."""
    height = 0.8 / len(metrics)
    values_seen: list[float] = []
    for index, metric in enumerate(metrics):
        cells = [bench.cell(name, metric, None) for name in names]
        values = [cell.value if cell is not None else math.nan for cell in cells]
        values_seen += [value for value in values if math.isfinite(value)]
        offset = -0.4 + height * (index + 0.5)
        colours = [PERCENTILE_COLOURS.get(metric) or palette[name] for name in names]
        bars = axes.barh(np.arange(len(names)) + offset, values, height=height * 0.95,
                         color=colours, label=metric.rsplit("_", 1)[-1],
                         edgecolor="#333333", linewidth=0.5)  # fmt: skip
        _hatch_externals(bars, names)
    positive = [value for value in values_seen if value > 0]
    wide = positive and len(positive) == len(values_seen) and max(positive) > 30 * min(positive)
    if wide:
        axes.set_xscale("log")
    axes.set_xlabel(f"{_cost_unit(metrics[0])}{', log scale' if wide else ''}")
    if len(metrics) > 1:
        axes.legend(loc="lower right", title="percentile")
    axes.grid(axis="y", visible=False)


def _cost_unit(metric: str) -> str:
    """Axis label with unit of a cost metric."""
    if metric.startswith("latency_ms"):
        return "milliseconds per request"
    return "seconds" if metric == "fit_seconds" else "megabytes"
