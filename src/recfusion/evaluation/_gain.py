"""Gain of each fusion method over the best single channel, with a paired bootstrap CI."""

from __future__ import annotations

import numpy as np
import polars as pl

from recfusion.columns import ALL_USERS
from recfusion.evaluation._bootstrap import bootstrap_means, paired_test, segment_rng

GAIN_SCHEMA = {
    "method": pl.String,
    "best_single": pl.String,
    "metric": pl.String,
    "k": pl.Int64,
    "value": pl.Float64,
    "best_single_value": pl.Float64,
    "gain": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
}


def fusion_gains(
    per_user: dict[tuple[str, str, int], np.ndarray],
    methods: list[str],
    singles: list[str],
    metric: str = "ndcg",
    k: int = 10,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """``metric@k`` of each method minus the best single channel's, over the same users.

    The best single channel is the one of ``singles`` with the highest mean. Resamples
    of users are drawn exactly as :func:`recfusion.evaluation.evaluate` draws them for
    segment "all" with the same seed, so the interval and p-value equal that of the
    evaluation's paired test for the same pair (see ``paired_test``).
    """
    singles = [name for name in singles if (name, metric, k) in per_user]
    methods = [name for name in methods if (name, metric, k) in per_user]
    if not singles or not methods:
        return pl.DataFrame(schema=GAIN_SCHEMA)
    means = {name: float(np.nanmean(per_user[(name, metric, k)])) for name in singles}
    best = max(singles, key=lambda name: (means[name], name))
    columns = np.column_stack([per_user[(name, metric, k)] for name in [*methods, best]])
    resampled = bootstrap_means(columns, n_bootstrap, segment_rng(seed, ALL_USERS))
    rows = []
    for index, method in enumerate(methods):
        observed = float(np.nanmean(columns[:, index] - columns[:, -1]))
        low, high, p_value = paired_test(resampled[:, index], resampled[:, -1], observed)
        rows.append((
            method, best, metric, k, float(np.nanmean(columns[:, index])), means[best],
            observed, low, high, p_value,
        ))
    return pl.DataFrame(rows, schema=GAIN_SCHEMA, orient="row")


__all__ = ["GAIN_SCHEMA", "fusion_gains"]
