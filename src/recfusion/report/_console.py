"""Short console table printed by the CLI at the end of a run."""

from __future__ import annotations

import math

import polars as pl
from rich.table import Table
from rich.text import Text

from recfusion.report._format import number
from recfusion.report._tidy import Benchmark, display_name, label

CONSOLE_METRICS = ("recall", "ndcg", "hit_rate", "coverage")
SHORT_LABELS = {"coverage": "Coverage"}


def results_table(table: pl.DataFrame, k: int = 10) -> Table:
    """Strategies by (recall, ndcg, hit_rate, coverage) at ``k`` over all users.

    Parameters
    ----------
    table : polars.DataFrame
        The tidy benchmark table (see :func:`write_benchmark_csv`).
    k : int, default 10
        Cut-off shown; a metric reported at a single cut-off is shown at that one.

    Returns
    -------
    rich.table.Table
        One row per strategy, best NDCG first; the best value of each column is bold
        green; external baselines are marked ``(ext)``.
    """
    bench = Benchmark.of(table)
    metrics = [name for name in CONSOLE_METRICS if name in bench.metrics]
    rows = {name: [bench.cell(name, metric, k) for metric in metrics] for name in bench.strategies}
    key = metrics.index("ndcg") if "ndcg" in metrics else 0
    order = sorted(bench.strategies, key=lambda name: -_value(rows[name], key))
    columns = range(len(metrics))
    best = [max((_value(rows[name], i) for name in order), default=-math.inf) for i in columns]
    result = Table(title=f"recfusion results at k={k} (all users)", title_justify="left")
    result.add_column("strategy")
    for metric in metrics:
        result.add_column(SHORT_LABELS.get(metric, label(metric)) + f"@{k}", justify="right")
    for name in order:
        texts = [_styled(_value(rows[name], i), best[i]) for i in range(len(metrics))]
        result.add_row(Text(display_name(name)), *texts)
    return result


def _value(cells: list, index: int) -> float:
    """Value of cell ``index`` or -inf when missing, for sorting."""
    if not cells:
        return -math.inf
    cell = cells[index]
    return cell.value if cell is not None and math.isfinite(cell.value) else -math.inf


def _styled(value: float, best: float) -> Text:
    """Formatted value, bold green when it equals the column's best."""
    if not math.isfinite(value):
        return Text("–")
    return Text(number(value), style="bold green" if value == best else "")
