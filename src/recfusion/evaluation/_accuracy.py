"""Per-user accuracy metrics at a cut-off k, vectorised over users.

Conventions (shared by every report):

* Relevance is binary: an item is relevant when it is among the user's held-out items.
  Duplicate held-out items count once.
* Metrics never re-sort the lists they are given; a recommended item repeated in a list
  counts only at its first position.
* A short or empty list counts what it has: missing slots are misses (0 when empty).
  Precision divides by k, not by the list length.
* NDCG's ideal list is the user's held-out items cut at k: IDCG = sum over the first
  min(k, n_relevant) positions of 1 / log2(position + 1).
* MAP's average precision divides by min(k, n_relevant).
* Users with no held-out item are excluded by the caller; every function here expects at
  least one relevant item per row.
"""

from __future__ import annotations

import numpy as np

ACCURACY_METRICS = ("recall", "precision", "hit_rate", "ndcg", "mrr", "map")


def relevance(recommended: np.ndarray, truth_indptr: np.ndarray, truth_items: np.ndarray) -> np.ndarray:
    """Boolean (n_users, k) matrix: is slot j of row u a first-time relevant item.

    Parameters
    ----------
    recommended : ndarray of int, shape (n_users, k)
        Item indices, best first; -1 marks an empty slot.
    truth_indptr : ndarray of int64, shape (n_users + 1,)
        CSR row pointer of the held-out items.
    truth_items : ndarray of int
        Held-out item indices of all users, concatenated.
    """
    n_users, k = recommended.shape
    width = np.int64(max(int(recommended.max(initial=0)), int(truth_items.max(initial=0))) + 1)
    truth_rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(truth_indptr))
    truth_keys = np.unique(truth_rows * width + truth_items)
    rec_keys = np.arange(n_users, dtype=np.int64)[:, None] * width + recommended
    hit = np.isin(rec_keys, truth_keys) & (recommended >= 0)
    return hit & _first_occurrence(recommended)


def _first_occurrence(recommended: np.ndarray) -> np.ndarray:
    """True where an item appears in its row for the first time."""
    n_users, k = recommended.shape
    order = np.argsort(recommended, axis=1, kind="stable")
    sorted_items = np.take_along_axis(recommended, order, axis=1)
    repeat_sorted = np.zeros((n_users, k), dtype=bool)
    repeat_sorted[:, 1:] = sorted_items[:, 1:] == sorted_items[:, :-1]
    first = np.ones((n_users, k), dtype=bool)
    np.put_along_axis(first, order, ~repeat_sorted, axis=1)
    return first


def accuracy_per_user(
    recommended: np.ndarray, truth_indptr: np.ndarray, truth_items: np.ndarray, k: int
) -> dict[str, np.ndarray]:
    """Recall, precision, hit rate, NDCG, MRR and MAP at ``k`` for every user.

    Returns a dict of float64 arrays of shape (n_users,), keyed by the names in
    ``ACCURACY_METRICS``. Only the first ``k`` columns of ``recommended`` are used.
    """
    top = recommended[:, :k]
    if top.shape[1] < k:
        pad = np.full((top.shape[0], k - top.shape[1]), -1, dtype=top.dtype)
        top = np.hstack([top, pad])
    hits = relevance(top, truth_indptr, _distinct_truth(truth_indptr, truth_items)[1])
    n_relevant = _distinct_truth(truth_indptr, truth_items)[0]
    positions = np.arange(1, k + 1, dtype=np.float64)
    n_hits = hits.sum(axis=1).astype(np.float64)
    discounts = 1.0 / np.log2(positions + 1.0)
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    first_hit = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    precision_at = np.cumsum(hits, axis=1) / positions
    return {
        "recall": n_hits / n_relevant,
        "precision": n_hits / k,
        "hit_rate": (n_hits > 0).astype(np.float64),
        "ndcg": (hits * discounts).sum(axis=1) / ideal,
        "mrr": np.where(first_hit > 0, 1.0 / np.maximum(first_hit, 1), 0.0),
        "map": (precision_at * hits).sum(axis=1) / np.minimum(n_relevant, k),
    }


def _distinct_truth(truth_indptr: np.ndarray, truth_items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-user count of distinct held-out items, and the CSR items (duplicates kept)."""
    n_users = truth_indptr.shape[0] - 1
    rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(truth_indptr))
    width = np.int64(int(truth_items.max(initial=0)) + 1)
    unique_keys = np.unique(rows * width + truth_items)
    counts = np.bincount(unique_keys // width, minlength=n_users)
    return counts, truth_items


__all__ = ["ACCURACY_METRICS", "accuracy_per_user", "relevance"]
