"""Vectorised percentile bootstrap over users, and the paired bootstrap test.

One resample draws n_users users with replacement. It is stored as a row of integer weights
(how often each user was drawn), so the resampled mean of every metric column at once is one
matrix product: weights (n_bootstrap, n_users) @ values (n_users, n_columns). Every column
shares the same resamples, which is what makes the paired test paired.
"""

from __future__ import annotations

import zlib

import numpy as np

# Upper bound of weight cells generated at once (rows of resamples x users).
_CHUNK_CELLS = 4_000_000
# Relative distance below which a point estimate outside its interval is rounding noise.
_ROUNDING = 1e-12


def segment_rng(seed: int, label: str) -> np.random.Generator:
    """Generator for one segment: stable per (seed, label), independent across labels."""
    return np.random.default_rng([int(seed), zlib.crc32(label.encode("utf-8"))])


def bootstrap_means(
    values: np.ndarray, n_bootstrap: int, rng: np.random.Generator
) -> np.ndarray:
    """Resampled means of every column, shape (n_bootstrap, n_columns).

    Parameters
    ----------
    values : ndarray of float, shape (n_users, n_columns)
        Per-user values; NaN marks "undefined for this user" and is skipped in each mean.
    n_bootstrap : int
        Number of resamples.
    rng : numpy Generator
        Source of the resamples (the same generator state gives the same result).

    A resample whose drawn users are all NaN for a column gives NaN in that column.
    """
    n_users, n_columns = values.shape
    means = np.full((n_bootstrap, n_columns), np.nan)
    if n_users == 0 or n_bootstrap == 0:
        return means
    finite = np.isfinite(values)
    filled = np.where(finite, values, 0.0)
    # Only columns with an undefined value need their own count of drawn users.
    gaps = np.flatnonzero(~finite.all(axis=0))
    step = max(1, _CHUNK_CELLS // n_users)
    for start in range(0, n_bootstrap, step):
        rows = min(step, n_bootstrap - start)
        weights = _resample_weights(rows, n_users, rng)
        sums = weights @ filled
        counts = np.full((rows, n_columns), float(n_users))
        counts[:, gaps] = weights @ finite[:, gaps].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[start : start + rows] = np.where(counts > 0, sums / counts, np.nan)
    return means


def _resample_weights(rows: int, n_users: int, rng: np.random.Generator) -> np.ndarray:
    """(rows, n_users) float matrix of draw counts; each row sums to n_users."""
    picks = rng.integers(0, n_users, size=(rows, n_users))
    keys = (np.arange(rows, dtype=np.int64)[:, None] * n_users + picks).ravel()
    counts = np.bincount(keys, minlength=rows * n_users)
    return counts.reshape(rows, n_users).astype(np.float64)


def percentile_interval(
    means: np.ndarray, point: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each column of ``means`` (NaN-skipping), shapes (n_columns,).

    An end that misses ``point`` only by floating-point rounding is moved onto it; columns
    without a finite resample give NaN.
    """
    tail = (1.0 - level) / 2.0
    low, high = _column_quantiles(means, [tail, 1.0 - tail])
    slack = _ROUNDING * np.maximum(1.0, np.abs(point))
    low = np.where((low > point) & (low - point <= slack), point, low)
    high = np.where((high < point) & (point - high <= slack), point, high)
    return low, high


def _column_quantiles(values: np.ndarray, levels: list[float]) -> list[np.ndarray]:
    """NaN-skipping linear-interpolation quantiles of every column (numpy's default rule).

    ``np.nanquantile`` loops over columns in Python; sorting once puts NaN last, so each
    column's finite values are its first ``count`` rows.
    """
    if values.shape[0] == 0:
        return [np.full(values.shape[1], np.nan) for _ in levels]
    ordered = np.sort(values, axis=0)
    count = np.isfinite(values).sum(axis=0)
    last = np.maximum(count - 1, 0)
    columns = np.arange(values.shape[1])
    result = []
    for level in levels:
        position = level * last
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, last)
        lower, upper = ordered[below, columns], ordered[above, columns]
        quantile = lower + (upper - lower) * (position - below)
        result.append(np.where(count > 0, quantile, np.nan))
    return result


def paired_test(
    means_a: np.ndarray, means_b: np.ndarray, observed: float, level: float = 0.95
) -> tuple[float, float, float]:
    """CI and two-sided p-value of mean(a - b) from means of the SAME resamples.

    ``observed`` is mean(a - b) on the full sample. The p-value comes from the resampled
    differences shifted to mean zero (the null hypothesis):
    p = (1 + #{|diff* - observed| >= |observed|}) / (n_bootstrap + 1), so a strategy compared
    with itself gets p = 1 and an interval of [0, 0].
    """
    diffs = means_a - means_b
    diffs = diffs[np.isfinite(diffs)]
    if diffs.shape[0] == 0:
        return float("nan"), float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(diffs, [tail, 1.0 - tail])
    extreme = np.count_nonzero(np.abs(diffs - observed) >= abs(observed))
    p_value = (1.0 + extreme) / (diffs.shape[0] + 1.0)
    return float(low), float(high), float(min(p_value, 1.0))


__all__ = ["bootstrap_means", "paired_test", "percentile_interval", "segment_rng"]
