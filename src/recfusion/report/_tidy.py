"""The benchmark table as the report sees it: validation, metric catalogue, lookups.

Every report output (CSV, console table, charts, HTML) reads the tidy table through
:class:`Benchmark`, so the rules for "which k", "which strategy is best" and "how is an
external baseline labelled" live in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import polars as pl

from recfusion.columns import ALL_USERS, CI_HIGH, CI_LOW, K, METRIC, SEGMENT, STRATEGY, VALUE
from recfusion.errors import InputError
from recfusion.evaluation._evaluate import TABLE_SCHEMA

ACCURACY = ("recall", "precision", "hit_rate", "ndcg", "mrr", "map")
BEYOND_ACCURACY = (
    "coverage",
    "diversity_category",
    "diversity_embedding",
    "novelty",
    "personalization",
    "personalisation",
    "avg_popularity",
    "gini",
    "long_tail_share",
)
COST = ("fit_seconds", "latency_ms_p50", "latency_ms_p95", "latency_ms_p99", "peak_memory_mb")

#: Human label of each known metric; units in parentheses.
LABELS = {
    "recall": "Recall",
    "precision": "Precision",
    "hit_rate": "Hit rate",
    "ndcg": "NDCG",
    "mrr": "MRR",
    "map": "MAP",
    "coverage": "Catalogue coverage",
    "diversity_category": "Diversity (category)",
    "diversity_embedding": "Diversity (embedding)",
    "novelty": "Novelty",
    "personalization": "Personalization",
    "personalisation": "Personalisation",
    "avg_popularity": "Avg popularity (share of users)",
    "gini": "Gini of exposure",
    "long_tail_share": "Long-tail share",
    "fit_seconds": "Fit time (s)",
    "latency_ms_p50": "Latency p50 (ms)",
    "latency_ms_p95": "Latency p95 (ms)",
    "latency_ms_p99": "Latency p99 (ms)",
    "peak_memory_mb": "Peak memory (MB)",
}

#: +1 higher is better, -1 lower is better, 0 descriptive (never highlighted).
DIRECTION = {name: 1 for name in ACCURACY} | {name: -1 for name in COST}
DIRECTION |= {name: 1 for name in BEYOND_ACCURACY} | {"gini": -1, "avg_popularity": 0}

EXTERNAL_PREFIX = "ext:"
REQUIRED = (STRATEGY, METRIC, VALUE)
#: The evaluation stage's tidy table layout, shared rather than restated.
SCHEMA = TABLE_SCHEMA


@dataclass(frozen=True)
class Cell:
    """One value of the table with its 95% interval (bounds are NaN when absent)."""

    value: float
    low: float = math.nan
    high: float = math.nan

    @property
    def has_ci(self) -> bool:
        """True when both interval bounds are finite numbers."""
        return math.isfinite(self.low) and math.isfinite(self.high)


def label(metric: str, k: int | None = None) -> str:
    """Display label such as ``NDCG@10``; unknown metrics keep their name."""
    base = LABELS.get(metric, metric)
    return base if k is None else f"{base}@{k}"


def is_external(strategy: str) -> bool:
    """True for external baselines, whose names start with ``ext:``."""
    return strategy.startswith(EXTERNAL_PREFIX)


def is_fused(strategy: str) -> bool:
    """True for the output of a fusion method (``fused`` or ``fused_<method>``)."""
    return strategy.startswith("fused")


def display_name(strategy: str) -> str:
    """Name for charts: an external baseline reads ``implicit_als (ext)``."""
    if is_external(strategy):
        return f"{strategy[len(EXTERNAL_PREFIX):]} (ext)"
    return strategy


def normalise(table: pl.DataFrame) -> pl.DataFrame:
    """Check the tidy benchmark table and return it with canonical columns and types.

    ``k``, ``ci_low``, ``ci_high`` default to null and ``segment`` to ``"all"`` when the
    column is absent; a k of 0 is read as "no cut-off" (null).
    """
    if not isinstance(table, pl.DataFrame):
        raise InputError(
            f"report: parameter 'table' must be a polars DataFrame, got {type(table).__name__}; "
            "hint: pass the tidy table built by recfusion.evaluation"
        )
    missing = [name for name in REQUIRED if name not in table.columns]
    if missing:
        raise InputError(
            f"report: benchmark table lacks column(s) {missing}; expected at least "
            f"{list(REQUIRED)}, got {table.columns}; hint: build it with recfusion.evaluation"
        )
    defaults = {K: None, CI_LOW: None, CI_HIGH: None, SEGMENT: ALL_USERS}
    filled = table.with_columns(
        [pl.lit(value).alias(name) for name, value in defaults.items() if name not in table.columns]
    )
    try:
        typed = filled.select([pl.col(name).cast(dtype) for name, dtype in SCHEMA.items()])
    except pl.exceptions.PolarsError as error:
        raise InputError(
            f"report: benchmark table has a column of the wrong type ({error}); expected "
            f"{ {name: str(dtype) for name, dtype in SCHEMA.items()} }, got {dict(table.schema)}"
        ) from error
    typed = typed.with_columns(pl.when(pl.col(K) == 0).then(None).otherwise(pl.col(K)).alias(K))
    _check_keys(typed)
    return typed


def _check_keys(table: pl.DataFrame) -> None:
    """Reject null names and repeated (segment, strategy, metric, k) keys."""
    for name in (STRATEGY, METRIC, SEGMENT):
        if table[name].null_count():
            raise InputError(
                f"report: column '{name}' of the benchmark table has "
                f"{table[name].null_count()} null value(s); expected a name in every row"
            )
    keys = [SEGMENT, STRATEGY, METRIC, K]
    repeated = table.group_by(keys).len().filter(pl.col("len") > 1).sort(keys, nulls_last=False)
    if repeated.height:
        first = repeated.row(0, named=True)
        raise InputError(
            f"report: benchmark table repeats the key (segment, strategy, metric, k) = "
            f"({first[SEGMENT]!r}, {first[STRATEGY]!r}, {first[METRIC]!r}, {first[K]}) "
            f"{first['len']} times; expected each key once; hint: aggregate before reporting"
        )


@dataclass(frozen=True)
class Benchmark:
    """Read-only view of a normalised benchmark table with fast cell lookups."""

    table: pl.DataFrame
    strategies: tuple[str, ...]
    segments: tuple[str, ...]
    metrics: tuple[str, ...]
    cells: dict[tuple[str, str, str, int | None], Cell] = field(repr=False)

    @classmethod
    def of(cls, table: pl.DataFrame) -> Benchmark:
        """Validate ``table`` (see :func:`normalise`) and index its cells."""
        tidy = normalise(table)
        cells = {
            (row[SEGMENT], row[STRATEGY], row[METRIC], row[K]): Cell(
                _number(row[VALUE]), _number(row[CI_LOW]), _number(row[CI_HIGH])
            )
            for row in tidy.iter_rows(named=True)
        }
        return cls(
            table=tidy,
            strategies=_strategy_order(tidy[STRATEGY].unique(maintain_order=True).to_list()),
            segments=tuple(tidy[SEGMENT].unique(maintain_order=True).to_list()),
            metrics=tuple(tidy[METRIC].unique(maintain_order=True).to_list()),
            cells=cells,
        )

    def ks(self, metric: str, segment: str = ALL_USERS) -> list[int | None]:
        """Sorted cut-offs present for ``metric`` in ``segment`` (None = no cut-off)."""
        found = {key[3] for key in self.cells if key[0] == segment and key[2] == metric}
        return sorted(found, key=lambda k: -1 if k is None else k)

    def cell(
        self, strategy: str, metric: str, k: int | None, segment: str = ALL_USERS
    ) -> Cell | None:
        """The cell at ``k``; a metric reported at a single cut-off answers for any k."""
        exact = self.cells.get((segment, strategy, metric, k))
        if exact is not None:
            return exact
        available = self.ks(metric, segment)
        if len(available) == 1:
            return self.cells.get((segment, strategy, metric, available[0]))
        return None

    def main_metric(self) -> tuple[str, int | None]:
        """The headline metric: NDCG@10 when present, else the first accuracy metric."""
        present = [name for name in ACCURACY if name in self.metrics]
        if not present:
            return "ndcg", None
        metric = "ndcg" if "ndcg" in present else present[0]
        return metric, self.main_k(metric)

    def main_k(self, metric: str = "ndcg") -> int | None:
        """10 when reported for ``metric``, else the middle of its cut-offs."""
        available = [k for k in self.ks(metric) if k is not None]
        if not available:
            return None
        return 10 if 10 in available else available[len(available) // 2]

    def best(self, metric: str, k: int | None, candidates: list[str]) -> str | None:
        """Strategy of ``candidates`` with the best value of metric@k over all users."""
        sign = DIRECTION.get(metric, 1) or 1
        scored = [
            (sign * cell.value, name)
            for name in candidates
            if (cell := self.cell(name, metric, k)) is not None and math.isfinite(cell.value)
        ]
        if not scored:
            return None
        top = max(score for score, _ in scored)
        return next(name for score, name in scored if score == top)


def _strategy_order(names: list[str]) -> tuple[str, ...]:
    """Single channels first, then fusion outputs, then external baselines."""
    rank = {name: (2 if is_external(name) else 1 if is_fused(name) else 0) for name in names}
    return tuple(sorted(names, key=lambda name: rank[name]))


def _number(value: float | None) -> float:
    """A float, NaN standing for a missing value."""
    return math.nan if value is None else float(value)


def metric_group(metric: str) -> str:
    """``accuracy``, ``cost`` or ``beyond`` (unknown metrics count as beyond-accuracy)."""
    if metric in ACCURACY:
        return "accuracy"
    return "cost" if metric in COST else "beyond"
