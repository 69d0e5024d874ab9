"""The evaluation stage: every metric, per segment, with bootstrap intervals and paired tests.

Output is one tidy table (see :data:`TABLE_SCHEMA`) that the report and the pipeline read.
Choices where the specification left room:

* The evaluated users are the given ``users`` with at least one held-out item; every metric,
  beyond-accuracy ones included, is computed over these users only, so every row of one
  segment describes the same population.
* Every metric in the table has a cut-off (the list is cut at k first), so ``k`` is never
  null for metric rows; it is null only for cost rows (:func:`cost_rows`).
* Per-user metrics (accuracy, diversity, novelty, average popularity, long-tail share) get a
  95% percentile bootstrap interval over the segment's users; aggregate metrics (coverage,
  personalisation, Gini) have null ``ci_low``/``ci_high``. Undefined values are null.
* The paired table covers the accuracy metrics (higher is better) on segment ``"all"``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from recfusion.columns import ALL_USERS, CI_HIGH, CI_LOW, K, METRIC, SEGMENT, STRATEGY, VALUE
from recfusion.data._types import Candidates, Interactions
from recfusion.errors import InputError
from recfusion.evaluation import _beyond as beyond
from recfusion.evaluation._accuracy import ACCURACY_METRICS, accuracy_per_user
from recfusion.evaluation._bootstrap import (
    bootstrap_means,
    paired_test,
    percentile_interval,
    segment_rng,
)
from recfusion.evaluation._segments import DEFAULT_THRESHOLDS, build_segments
from recfusion.recall._base import SideInfo

logger = logging.getLogger(__name__)

TABLE_SCHEMA = {
    STRATEGY: pl.String,
    METRIC: pl.String,
    K: pl.Int64,
    VALUE: pl.Float64,
    CI_LOW: pl.Float64,
    CI_HIGH: pl.Float64,
    SEGMENT: pl.String,
}
BEST_STRATEGY = "best_strategy"
MEAN_DIFF = "mean_diff"
P_VALUE = "p_value"
PAIRED_SCHEMA = {
    STRATEGY: pl.String,
    METRIC: pl.String,
    K: pl.Int64,
    BEST_STRATEGY: pl.String,
    MEAN_DIFF: pl.Float64,
    CI_LOW: pl.Float64,
    CI_HIGH: pl.Float64,
    P_VALUE: pl.Float64,
}
COST_METRICS = (
    "fit_seconds",
    "latency_ms_p50",
    "latency_ms_p95",
    "latency_ms_p99",
    "peak_memory_mb",
)

Key = tuple[str, str, int]


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Everything :func:`evaluate` measured.

    Attributes
    ----------
    table : polars.DataFrame
        Tidy rows with the columns of :data:`TABLE_SCHEMA`.
    per_user : dict of (strategy, metric, k) to ndarray of float64, shape (n_evaluated,)
        Per-user values of the per-user metrics, aligned with ``users``; NaN = undefined.
    n_users : dict of str to int
        Evaluated users per segment label (``"all"`` included).
    paired : polars.DataFrame
        Columns of :data:`PAIRED_SCHEMA`: every strategy against the best one per accuracy
        metric and k (the best one's own row has mean_diff 0 and p_value 1).
    users : ndarray of int32, shape (n_evaluated,)
        Indices of the evaluated users.
    segments : dict of str to ndarray of int64
        Row positions into ``users`` (and the ``per_user`` arrays) of each segment.
    """

    table: pl.DataFrame
    per_user: dict[Key, np.ndarray]
    n_users: dict[str, int]
    paired: pl.DataFrame
    users: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    segments: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class _Features:
    """Item-level inputs of the beyond-accuracy metrics."""

    stats: beyond.CatalogueStats
    categories: np.ndarray | None
    vectors: np.ndarray | None


def evaluate(
    recommendations: dict[str, Candidates],
    users: np.ndarray,
    train: Interactions,
    test: Interactions,
    ks: Sequence[int],
    *,
    side: SideInfo | None = None,
    item_vectors: np.ndarray | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    category_column: str = "genres",
    segment_attributes: Sequence[str] | None = None,
    activity_thresholds: tuple[int, int] = DEFAULT_THRESHOLDS,
    head_share: float = 0.2,
) -> EvaluationResult:
    """Score every strategy's lists against the held-out items of ``users``.

    Parameters
    ----------
    recommendations : dict of str to Candidates
        Strategy name to lists, one row per entry of ``users`` (row r is user ``users[r]``),
        best first. Only the first ``max(ks)`` items of a row are read.
    users : ndarray of int, shape (n_rows,)
        Distinct user indices. Users without a held-out item in ``test`` are dropped.
    train, test : Interactions
        Training log (history lengths, popularity) and held-out log, same id spaces.
    ks : sequence of int
        Cut-offs, each >= 1 (duplicates are merged).
    side : SideInfo, optional
        ``side.items[category_column]`` gives categories for category diversity;
        ``side.users`` gives attribute segments; ``side.item_vectors`` is used for embedding
        diversity when ``item_vectors`` is None.
    item_vectors : ndarray, shape (n_items, dim), optional
        Item embeddings for embedding diversity; NaN or zero rows mean "no vector".
    n_bootstrap : int, default 1000
        Bootstrap resamples over users; 0 leaves every interval and p-value null.
    seed : int, default 0
        Seed of the resamples; the same seed gives the same table.
    category_column : str, default "genres"
        Column of ``side.items`` holding each item's categories (list of str).
    segment_attributes : sequence of str, optional
        Columns of ``side.users`` to segment by; None picks every string, categorical or
        boolean column with 2 to 12 distinct values (MovieLens: ``gender``, ``age_band``).
    activity_thresholds : (int, int), default (5, 50)
        Training interactions: cold <= first, heavy > second, light in between.
    head_share : float, default 0.2
        Share of training (user, item) pairs taken by the popular head; the long-tail share
        counts recommended slots outside it.

    Returns
    -------
    EvaluationResult
    """
    started = time.perf_counter()
    ks = _check_inputs(recommendations, users, train, test, ks, n_bootstrap)
    rows, truth_indptr, truth_items = _truth(users, test)
    evaluated = np.asarray(users, dtype=np.int32)[rows]
    logger.info(
        "evaluation: %d strategies, %d of %d users with held-out items, ks=%s",
        len(recommendations), evaluated.shape[0], len(users), ks,
    )
    features = _features(train, side, item_vectors, category_column, head_share)
    lists = {name: cands.take(rows).to_dense(max(ks))[0] for name, cands in recommendations.items()}
    per_user = _per_user(lists, ks, truth_indptr, truth_items, features)
    user_frame = side.users if side is not None else None
    segments = build_segments(
        train.history_lengths()[evaluated], evaluated, user_frame,
        segment_attributes, activity_thresholds,
    )
    table, all_means = _segment_tables(lists, ks, per_user, segments, features, n_bootstrap, seed)
    paired = _paired(list(lists), ks, per_user, all_means)
    logger.info(
        "evaluation done in %.2f s: %d rows, %d segments, %d bootstrap resamples",
        time.perf_counter() - started, table.height, len(segments), n_bootstrap,
    )
    counts = {label: int(members.shape[0]) for label, members in segments.items()}
    return EvaluationResult(table, per_user, counts, paired, evaluated, segments)


def _check_inputs(recommendations, users, train, test, ks, n_bootstrap) -> list[int]:
    """Validate shapes and cut-offs; returns the sorted distinct ks."""
    ks = sorted({int(k) for k in ks})
    if not recommendations:
        raise InputError("evaluate: recommendations is empty; pass at least one strategy")
    if not ks or ks[0] < 1:
        raise InputError(f"evaluate: ks must be a non-empty list of ints >= 1; received {ks}")
    if n_bootstrap < 0:
        raise InputError(f"evaluate: n_bootstrap must be >= 0; received {n_bootstrap}")
    users = np.asarray(users)
    if np.unique(users).shape[0] != users.shape[0]:
        raise InputError("evaluate: users contains repeated user indices; pass each once")
    if users.shape[0] and (users.min() < 0 or users.max() >= test.n_users):
        raise InputError(
            f"evaluate: user indices must lie in [0, {test.n_users}); "
            f"received min {users.min()} max {users.max()}"
        )
    if train.n_items != test.n_items or train.n_users != test.n_users:
        raise InputError(
            "evaluate: train and test must share id spaces; received "
            f"{train.n_users}x{train.n_items} and {test.n_users}x{test.n_items}"
        )
    for name, cands in recommendations.items():
        if cands.n_rows != users.shape[0]:
            raise InputError(
                f"evaluate: recommendations[{name!r}] has {cands.n_rows} rows but "
                f"{users.shape[0]} users were given; hint: one row per entry of users"
            )
    return ks


def _truth(users: np.ndarray, test: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of users with held-out items, and their held-out items in CSR layout."""
    held_out = test.histories(np.asarray(users, dtype=np.int32))
    rows = np.flatnonzero(held_out.lengths() > 0)
    kept = test.histories(np.asarray(users, dtype=np.int32)[rows])
    return rows, kept.indptr, kept.items


def _features(train, side, item_vectors, category_column, head_share) -> _Features:
    """Popularity statistics, category matrix and unit vectors of the catalogue."""
    vectors = item_vectors
    if vectors is None and side is not None:
        vectors = side.item_vectors
    if vectors is not None and np.asarray(vectors).shape[0] != train.n_items:
        raise InputError(
            f"evaluate: item_vectors has {np.asarray(vectors).shape[0]} rows but the "
            f"catalogue has {train.n_items} items; hint: one row per item index"
        )
    items_frame = side.items if side is not None else None
    return _Features(
        stats=beyond.CatalogueStats.from_train(train, head_share),
        categories=beyond.category_matrix(items_frame, train.n_items, category_column),
        vectors=beyond.unit_vectors(vectors),
    )


def _per_user(lists, ks, truth_indptr, truth_items, features: _Features) -> dict[Key, np.ndarray]:
    """Every per-user metric of every strategy and k."""
    result: dict[Key, np.ndarray] = {}
    for name, dense in lists.items():
        for k in ks:
            top = dense[:, :k]
            for metric, values in accuracy_per_user(top, truth_indptr, truth_items, k).items():
                result[(name, metric, k)] = values
            for metric, values in _beyond_per_user(top, features).items():
                result[(name, metric, k)] = values
    return result


def _beyond_per_user(top: np.ndarray, features: _Features) -> dict[str, np.ndarray]:
    """Per-user beyond-accuracy metrics of lists already cut at k."""
    stats = features.stats
    values = {}
    if features.categories is not None:
        values["diversity_category"] = beyond.intra_list_diversity(
            top, features.categories, "category"
        )
    if features.vectors is not None:
        values["diversity_embedding"] = beyond.intra_list_diversity(
            top, features.vectors, "embedding"
        )
    values["novelty"] = beyond.mean_item_value(top, stats.self_information)
    values["avg_popularity"] = beyond.mean_item_value(top, stats.popularity)
    values["long_tail_share"] = beyond.mean_item_value(top, stats.long_tail.astype(np.float64))
    return values


def _aggregates(top: np.ndarray, n_items: int) -> dict[str, float]:
    """Metrics of a whole set of lists (no per-user value, no interval)."""
    return {
        "coverage": beyond.coverage(top, n_items),
        "personalisation": beyond.personalisation(top, n_items),
        "gini": beyond.gini(beyond.exposure(top, n_items)),
    }


def _segment_tables(lists, ks, per_user, segments, features, n_bootstrap, seed):
    """The result table over all segments, and the bootstrap means of segment "all"."""
    keys = list(per_user)
    matrix = np.column_stack([per_user[key] for key in keys]) if keys else np.zeros((0, 0))
    frames, all_means = [], None
    for label, members in segments.items():
        means = bootstrap_means(matrix[members], n_bootstrap, segment_rng(seed, label))
        if label == ALL_USERS:
            all_means = dict(zip(keys, means.T))
        rows = _per_user_rows(keys, matrix[members], means, label)
        rows += _aggregate_rows(lists, ks, members, features.stats.n_items, label)
        frames.append(rows)
    records = [row for rows in frames for row in rows]
    table = pl.DataFrame(records, schema=TABLE_SCHEMA, orient="row")
    return _sorted(table, list(segments), list(lists)), all_means or {}


def _sorted(table: pl.DataFrame, segments: list[str], strategies: list[str]) -> pl.DataFrame:
    """Rows by segment and strategy (input order), metric (declared order), then k."""
    metrics = ACCURACY_METRICS + beyond.BEYOND_METRICS
    keys = {
        "_segment": pl.col(SEGMENT).replace_strict({v: i for i, v in enumerate(segments)}),
        "_strategy": pl.col(STRATEGY).replace_strict({v: i for i, v in enumerate(strategies)}),
        "_metric": pl.col(METRIC).replace_strict({v: i for i, v in enumerate(metrics)}),
    }
    return table.with_columns(**keys).sort([*keys, K]).drop(list(keys))


def _per_user_rows(keys, values, means, label) -> list[tuple]:
    """Table rows of per-user metrics: NaN-skipping mean and percentile interval."""
    if values.shape[0] == 0:
        return []
    finite = np.isfinite(values)
    counts = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        point = np.where(counts > 0, np.where(finite, values, 0.0).sum(axis=0) / counts, np.nan)
    low, high = percentile_interval(means, point)
    return [
        (name, metric, k, _null(point[i]), _null(low[i]), _null(high[i]), label)
        for i, (name, metric, k) in enumerate(keys)
    ]


def _aggregate_rows(lists, ks, members, n_items, label) -> list[tuple]:
    """Table rows of aggregate metrics for the lists of one segment."""
    rows = []
    for name, dense in lists.items():
        for k in ks:
            for metric, value in _aggregates(dense[members, :k], n_items).items():
                rows.append((name, metric, k, _null(value), None, None, label))
    return rows


def _paired(names, ks, per_user, all_means) -> pl.DataFrame:
    """Every strategy against the best one per accuracy metric and k, on segment "all"."""
    records = []
    for metric in ACCURACY_METRICS:
        for k in ks:
            records.extend(_paired_rows(names, metric, k, per_user, all_means))
    return pl.DataFrame(records, schema=PAIRED_SCHEMA, orient="row")


def _paired_rows(names, metric, k, per_user, all_means) -> list[tuple]:
    """Rows of one (metric, k): the best strategy has the highest mean (first on ties)."""
    if not names or per_user[(names[0], metric, k)].shape[0] == 0:
        return []
    points = [float(np.nanmean(per_user[(name, metric, k)])) for name in names]
    best = names[int(np.argmax(points))]
    rows = []
    for name in names:
        observed = float(np.nanmean(per_user[(name, metric, k)] - per_user[(best, metric, k)]))
        low = high = p_value = None
        if (name, metric, k) in all_means and all_means[(name, metric, k)].shape[0] > 0:
            low, high, p_value = paired_test(
                all_means[(name, metric, k)], all_means[(best, metric, k)], observed
            )
        rows.append((name, metric, k, best, observed, _null(low), _null(high), _null(p_value)))
    return rows


def _null(value: float | None) -> float | None:
    """None for missing or non-finite values (stored as null in the table)."""
    if value is None or not np.isfinite(value):
        return None
    return float(value)


def cost_rows(
    strategy: str,
    fit_seconds: float | None,
    latencies_ms: Sequence[float] | np.ndarray,
    peak_memory_mb: float | None,
) -> pl.DataFrame:
    """Cost figures of one strategy as table rows (schema :data:`TABLE_SCHEMA`).

    Parameters
    ----------
    strategy : str
        Name used in the ``strategy`` column.
    fit_seconds : float or None
        Wall-clock training time in seconds.
    latencies_ms : sequence of float
        Per-request latencies in milliseconds; p50/p95/p99 use linear interpolation between
        order statistics and are null when the sequence is empty.
    peak_memory_mb : float or None
        Peak resident memory in MiB.

    Rows have metric in :data:`COST_METRICS`, ``k`` null, null intervals, segment ``"all"``.
    """
    latencies = np.asarray(latencies_ms, dtype=np.float64)
    percentiles = [None, None, None]
    if latencies.shape[0] > 0:
        percentiles = [float(v) for v in np.percentile(latencies, [50, 95, 99])]
    values = [fit_seconds, *percentiles, peak_memory_mb]
    records = [
        (strategy, metric, None, _null(None if value is None else float(value)), None, None,
         ALL_USERS)
        for metric, value in zip(COST_METRICS, values)
    ]
    return pl.DataFrame(records, schema=TABLE_SCHEMA, orient="row")


__all__ = [
    "COST_METRICS",
    "PAIRED_SCHEMA",
    "TABLE_SCHEMA",
    "EvaluationResult",
    "cost_rows",
    "evaluate",
]
