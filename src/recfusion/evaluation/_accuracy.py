"""Per-user accuracy metrics at a cut-off k, vectorised over users.

Conventions (shared by every report):

* Relevance is binary: an item is relevant when it is among the user's held-out items.
  Duplicate held-out items count once.
* Metrics never re-sort the lists they are given; a recommended item repeated in a list
  counts only at its first position.
* A short or empty list counts what it has: missing slots (item index < 0) are misses, so an
  empty list scores 0 everywhere. Precision divides by k, not by the list length.
* NDCG's ideal list is the user's held-out items cut at k: IDCG = sum over the first
  min(k, n_relevant) positions of 1 / log2(position + 1).
* MAP's average precision divides by min(k, n_relevant) (ranx divides by n_relevant; the
  two agree whenever n_relevant <= k).
* Users with no held-out item are excluded by the caller; should one reach these functions,
  its row is NaN for every metric rather than a silent number.
"""

from __future__ import annotations

import numpy as np

from recfusion.errors import InputError

ACCURACY_METRICS = ("recall", "precision", "hit_rate", "ndcg", "mrr", "map")


def relevance(
    recommended: np.ndarray, truth_indptr: np.ndarray, truth_items: np.ndarray
) -> np.ndarray:
    """Boolean (n_users, k) matrix: is slot j of row u a first-time relevant item.

    Parameters
    ----------
    recommended : ndarray of int, shape (n_users, k)
        Item indices, best first; a negative index marks an empty slot.
    truth_indptr : ndarray of int64, shape (n_users + 1,)
        CSR row pointer of the held-out items.
    truth_items : ndarray of int
        Held-out item indices of all users, concatenated (duplicates allowed).
    """
    recommended = np.asarray(recommended, dtype=np.int64)
    n_users = recommended.shape[0]
    truth_items = np.asarray(truth_items, dtype=np.int64)
    width = np.int64(max(int(recommended.max(initial=0)), int(truth_items.max(initial=0))) + 1)
    truth_rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(truth_indptr))
    truth_keys = np.unique(truth_rows * width + truth_items)
    rec_keys = np.arange(n_users, dtype=np.int64)[:, None] * width + recommended
    hit = np.isin(rec_keys, truth_keys) & (recommended >= 0)
    return hit & first_occurrence(recommended)


def first_occurrence(recommended: np.ndarray) -> np.ndarray:
    """True where an item appears in its row for the first time (shape of ``recommended``)."""
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

    Parameters
    ----------
    recommended : ndarray of int, shape (n_users, width)
        Item indices, best first; negative marks an empty slot. Only the first ``k`` columns
        are used; a narrower matrix is padded with empty slots.
    truth_indptr, truth_items : ndarray
        Held-out items in CSR layout (see :func:`relevance`).
    k : int
        Cut-off, at least 1.

    Returns
    -------
    dict of str to ndarray of float64, shape (n_users,)
        Keyed by the names in ``ACCURACY_METRICS``; every value lies in [0, 1], and rows of
        users with no held-out item are NaN.
    """
    if k < 1:
        raise InputError(f"accuracy_per_user: k must be >= 1; received {k}")
    top = _cut(np.asarray(recommended), k)
    hits = relevance(top, truth_indptr, truth_items)
    n_relevant = _distinct_counts(truth_indptr, truth_items).astype(np.float64)
    # Users without a held-out item get NaN: divide by NaN instead of by zero.
    n_relevant[n_relevant == 0] = np.nan
    positions = np.arange(1, k + 1, dtype=np.float64)
    discounts = 1.0 / np.log2(positions + 1.0)
    cut_relevant = np.minimum(n_relevant, k)
    ideal_index = np.nan_to_num(cut_relevant, nan=1.0).astype(np.int64) - 1
    ideal = np.where(np.isnan(cut_relevant), np.nan, np.cumsum(discounts)[ideal_index])
    n_hits = hits.sum(axis=1).astype(np.float64)
    first_hit = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1.0, np.inf)
    precision_at = np.cumsum(hits, axis=1) / positions
    defined = np.where(np.isnan(n_relevant), np.nan, 1.0)
    return {
        "recall": n_hits / n_relevant,
        "precision": n_hits / k * defined,
        "hit_rate": (n_hits > 0) * defined,
        "ndcg": (hits * discounts).sum(axis=1) / ideal,
        "mrr": 1.0 / first_hit * defined,
        "map": (precision_at * hits).sum(axis=1) / cut_relevant,
    }


def _cut(recommended: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` columns, padded with -1 when the matrix is narrower."""
    top = recommended[:, :k]
    if top.shape[1] < k:
        pad = np.full((top.shape[0], k - top.shape[1]), -1, dtype=top.dtype)
        top = np.hstack([top, pad])
    return top


def _distinct_counts(truth_indptr: np.ndarray, truth_items: np.ndarray) -> np.ndarray:
    """Number of distinct held-out items of every user, shape (n_users,)."""
    n_users = truth_indptr.shape[0] - 1
    rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(truth_indptr))
    width = np.int64(int(np.max(truth_items, initial=0)) + 1)
    unique_keys = np.unique(rows * width + np.asarray(truth_items, dtype=np.int64))
    return np.bincount(unique_keys // width, minlength=n_users)


__all__ = ["ACCURACY_METRICS", "accuracy_per_user", "first_occurrence", "relevance"]
