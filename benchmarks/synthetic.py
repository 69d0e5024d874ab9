"""Seeded synthetic interaction logs for speed benchmarks (100k to 20M interactions).

The generator is vectorised numpy (about a second per few million rows) and mimics the
shape of real implicit-feedback logs:

* item popularity follows a Zipf law over a randomly permuted catalogue, so item index
  says nothing about popularity;
* users belong to clusters; a share of each cluster's picks comes from the global
  popularity ranking shifted by a cluster offset, so clusters have their own head items;
* user activity is lognormal (many light users, a long tail of heavy ones);
* each user's timestamps increase from a random start with lognormal gaps (seconds).

Usage: ``generate(1_000_000, seed=0)`` returns an :class:`~recfusion.data.Interactions`
already sorted by (user, timestamp). Run this file to print the shape of a few sizes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from recfusion.data import Interactions

#: Two years in seconds: the span user start times are drawn from.
HORIZON_SECONDS = 2 * 365 * 24 * 3600.0


def catalogue_size(n_interactions: int) -> int:
    """Items for a log of this size: n ** 0.75 (31k items at 1M rows, 300k at 20M)."""
    return max(100, int(n_interactions**0.75))


def _activity(rng: np.random.Generator, n_users: int, n_interactions: int) -> np.ndarray:
    """Lognormal history lengths (>= 1) summing exactly to ``n_interactions``."""
    raw = rng.lognormal(mean=0.0, sigma=1.0, size=n_users)
    spare = n_interactions - n_users
    lengths = 1 + np.floor(raw / raw.sum() * spare).astype(np.int64)
    missing = n_interactions - int(lengths.sum())
    lengths += np.bincount(rng.choice(n_users, size=missing, p=raw / raw.sum()),
                           minlength=n_users)
    return lengths


def _items(rng: np.random.Generator, users: np.ndarray, n_users: int, n_items: int,
           zipf_exponent: float, n_clusters: int, cluster_share: float) -> np.ndarray:
    """Zipf ranks, shifted per cluster for a share of the picks, mapped to item indices."""
    weights = 1.0 / np.arange(1, n_items + 1) ** zipf_exponent
    cdf = np.cumsum(weights / weights.sum())
    ranks = np.minimum(np.searchsorted(cdf, rng.random(users.shape[0])), n_items - 1)
    cluster_of_user = rng.integers(0, n_clusters, size=n_users)
    offsets = rng.integers(0, n_items, size=n_clusters)
    shifted = rng.random(users.shape[0]) < cluster_share
    ranks = np.where(shifted, (ranks + offsets[cluster_of_user[users]]) % n_items, ranks)
    return rng.permutation(n_items)[ranks].astype(np.int32)


def _timestamps(rng: np.random.Generator, lengths: np.ndarray) -> np.ndarray:
    """Per-user increasing times: uniform start plus cumulative lognormal gaps (seconds)."""
    total = int(lengths.sum())
    gaps = rng.lognormal(mean=9.0, sigma=1.5, size=total)
    running = np.cumsum(gaps)
    first = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    base = np.repeat(running[first] - gaps[first], lengths)
    starts = np.repeat(rng.uniform(0, HORIZON_SECONDS, size=lengths.shape[0]), lengths)
    return np.floor(starts + running - base)


def generate(
    n_interactions: int,
    seed: int = 0,
    *,
    mean_activity: float = 40.0,
    n_items: int | None = None,
    zipf_exponent: float = 1.05,
    n_clusters: int = 50,
    cluster_share: float = 0.6,
) -> Interactions:
    """A synthetic log of exactly ``n_interactions`` rows.

    Parameters
    ----------
    n_interactions : int
        Rows to generate (100_000 to 20_000_000 in the benchmarks).
    seed : int
        Seed of the numpy generator; the same arguments give the same log.
    mean_activity : float
        Average history length; ``n_users = n_interactions // mean_activity``.
    n_items : int or None
        Catalogue size; None uses :func:`catalogue_size`.
    zipf_exponent, n_clusters, cluster_share : float, int, float
        Popularity skew, number of user clusters, share of picks from the cluster head.
    """
    rng = np.random.default_rng(seed)
    n_users = max(10, int(n_interactions // mean_activity))
    n_items = n_items or catalogue_size(n_interactions)
    lengths = _activity(rng, n_users, n_interactions)
    users = np.repeat(np.arange(n_users, dtype=np.int32), lengths)
    items = _items(rng, users, n_users, n_items, zipf_exponent, n_clusters, cluster_share)
    # Rows are generated grouped by user with increasing times: already in stored order.
    return Interactions(
        user_ids=np.array([f"u{u}" for u in range(n_users)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(n_items)], dtype=object),
        users=users,
        items=items,
        timestamps=_timestamps(rng, lengths),
        weights=np.ones(n_interactions, dtype=np.float32),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=float, default=[1e5, 1e6])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for size in args.sizes:
        started = time.perf_counter()
        log = generate(int(size), seed=args.seed)
        lengths = log.history_lengths()
        print(
            f"{log.n_interactions:>11,} rows  {log.n_users:>9,} users  {log.n_items:>8,} items"
            f"  median/max history {int(np.median(lengths))}/{lengths.max():,}"
            f"  in {time.perf_counter() - started:.2f}s"
        )


if __name__ == "__main__":
    main()
