"""Gain of each fusion method over the best single channel, with a paired bootstrap CI."""

from __future__ import annotations

import numpy as np
import polars as pl

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

    The best single channel is the one of ``singles`` with the highest mean. The interval
    is the 2.5-97.5 percentile of the mean per-user difference over ``n_bootstrap``
    resamples of users (the same resamples for every method); the p-value is two-sided,
    from the resampled differences shifted to mean zero.
    """
    singles = [name for name in singles if (name, metric, k) in per_user]
    if not singles:
        return pl.DataFrame(schema=GAIN_SCHEMA)
    means = {name: float(np.nanmean(per_user[(name, metric, k)])) for name in singles}
    best = max(singles, key=lambda name: (means[name], name))
    base = per_user[(best, metric, k)]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, base.shape[0], size=(n_bootstrap, base.shape[0]))
    rows = []
    for method in methods:
        if (method, metric, k) not in per_user:
            continue
        diff = np.nan_to_num(per_user[(method, metric, k)] - base)
        observed = float(diff.mean())
        resampled = diff[draws].mean(axis=1)
        low, high = np.quantile(resampled, [0.025, 0.975])
        extreme = np.count_nonzero(np.abs(resampled - observed) >= abs(observed))
        rows.append((
            method, best, metric, k, float(np.nanmean(per_user[(method, metric, k)])),
            means[best], observed, float(low), float(high),
            min(1.0, (1.0 + extreme) / (n_bootstrap + 1.0)),
        ))
    return pl.DataFrame(rows, schema=GAIN_SCHEMA, orient="row")


__all__ = ["GAIN_SCHEMA", "fusion_gains"]
