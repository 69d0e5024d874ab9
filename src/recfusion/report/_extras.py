"""Optional inputs of the report: every field may be None and its section is then skipped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from recfusion.errors import InputError

#: Columns a paired comparison table must have. ``mean_diff`` is
#: metric(strategy) - metric(best_strategy), averaged over the same users (so it is <= 0
#: when ``best_strategy`` is the best), as recfusion.evaluation writes it.
PAIRED_COLUMNS = (
    "strategy",
    "metric",
    "k",
    "best_strategy",
    "mean_diff",
    "ci_low",
    "ci_high",
    "p_value",
)


@dataclass(frozen=True)
class RunInfo:
    """What was run: dataset, sizes, configuration, library versions and phase timings.

    Parameters
    ----------
    dataset : str
        Dataset name shown in the report title.
    counts : mapping of str to int
        Sizes such as ``{"users": 943, "items": 1682, "interactions": 100000}``.
    config_toml : str
        The run configuration as TOML text, shown verbatim (escaped).
    versions : mapping of str to str
        Library name to version.
    timings : mapping of str to float
        Phase name to wall-clock seconds.
    """

    dataset: str = "unnamed dataset"
    counts: Mapping[str, int] = field(default_factory=dict)
    config_toml: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportExtras:
    """Optional material for charts and HTML sections; any field may be left as None.

    Parameters
    ----------
    paired : polars.DataFrame, optional
        Paired comparison table with columns :data:`PAIRED_COLUMNS`; ``mean_diff`` is
        metric(strategy) - metric(best_strategy) over the same users, with its 95% CI.
    latency_samples_ms : mapping of str to ndarray, optional
        Strategy name to per-request latencies in milliseconds.
    recommended_popularity : mapping of str to ndarray, optional
        Strategy name to the training interaction counts of every recommended item slot.
    catalogue_popularity : ndarray, optional
        Training interaction count of every catalogue item, shape (n_items,).
    overlap_names, overlap_jaccard : sequence of str and ndarray, optional
        Channel names and the (n, n) Jaccard overlap of their candidate sets.
    channel_diagnostics : polars.DataFrame, optional
        Any per-channel diagnostics table; shown as is.
    fusion_weights : mapping, optional
        Chosen fusion weights, flat (``{"als": 0.4}``) or nested by fusion method.
    pareto_front : polars.DataFrame, optional
        Tuning trials on the Pareto front with an ``accuracy`` and a ``diversity`` column
        (a column whose name contains ``ndcg``/``recall`` or ``diversity``/``coverage`` also
        works).
    mmr_tradeoff : polars.DataFrame, optional
        Columns ``lambda``, ``ndcg``, ``diversity``: one row per MMR lambda tried.
    feature_importances : polars.DataFrame, optional
        Columns ``feature`` and ``importance`` of the learning-to-rank fuser.
    run_info : RunInfo, optional
        Dataset name, sizes, configuration, versions and timings.
    cold_start_recommended : int or mapping of str to int, optional
        Number of cold-start items recommended, overall or per strategy.
    n_evaluated_users : int, optional
        Users with at least one held-out item, over which metrics are averaged.
    segment_sizes : mapping of str to int, optional
        Evaluated users per segment label, shown beside the segments tables.
    """

    paired: pl.DataFrame | None = None
    latency_samples_ms: Mapping[str, np.ndarray] | None = None
    recommended_popularity: Mapping[str, np.ndarray] | None = None
    catalogue_popularity: np.ndarray | None = None
    overlap_names: tuple[str, ...] | list[str] | None = None
    overlap_jaccard: np.ndarray | None = None
    channel_diagnostics: pl.DataFrame | None = None
    fusion_weights: Mapping[str, Any] | None = None
    pareto_front: pl.DataFrame | None = None
    mmr_tradeoff: pl.DataFrame | None = None
    feature_importances: pl.DataFrame | None = None
    run_info: RunInfo | None = None
    cold_start_recommended: int | Mapping[str, int] | None = None
    n_evaluated_users: int | None = None
    segment_sizes: Mapping[str, int] | None = None

    def __post_init__(self) -> None:
        _require_columns("paired", self.paired, PAIRED_COLUMNS)
        _require_columns("mmr_tradeoff", self.mmr_tradeoff, ("lambda", "ndcg", "diversity"))
        _require_columns("feature_importances", self.feature_importances, ("feature", "importance"))
        _check_overlap(self.overlap_names, self.overlap_jaccard)


def _require_columns(name: str, frame: pl.DataFrame | None, columns: tuple[str, ...]) -> None:
    """Raise when an optional table is given without the columns its section reads."""
    if frame is None:
        return
    if not isinstance(frame, pl.DataFrame):
        raise InputError(
            f"ReportExtras: field '{name}' must be a polars DataFrame or None, "
            f"got {type(frame).__name__}"
        )
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(
            f"ReportExtras: table '{name}' lacks column(s) {missing}; expected {list(columns)}, "
            f"got {frame.columns}; hint: rename the columns or leave the field as None"
        )


def _check_overlap(names: tuple[str, ...] | list[str] | None, matrix: np.ndarray | None) -> None:
    """Names and matrix come together, and the matrix is square with one row per name."""
    if names is None and matrix is None:
        return
    if names is None or matrix is None:
        raise InputError(
            "ReportExtras: set both 'overlap_names' and 'overlap_jaccard' or neither; "
            f"got names={'set' if names is not None else None}, "
            f"matrix={'set' if matrix is not None else None}"
        )
    shape = np.shape(matrix)
    if shape != (len(names), len(names)):
        raise InputError(
            f"ReportExtras: 'overlap_jaccard' must have shape ({len(names)}, {len(names)}) "
            f"to match {len(names)} overlap_names, got {shape}"
        )
