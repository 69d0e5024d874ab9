"""Core containers shared by every stage: interactions, query histories and candidates.

All three hold integer indices into fixed id spaces (``user_ids`` and ``item_ids``, arrays of
opaque strings). Splits and strategies never renumber, so an index means the same user or
item everywhere in one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

INDEX_DTYPE = np.int32
SCORE_DTYPE = np.float32


def _as_index(values: np.ndarray | list[int]) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=INDEX_DTYPE)


def lookup_table(ids: np.ndarray) -> dict[str, int]:
    """Map each external id to its index; ``ids`` must be distinct strings."""
    return {str(value): index for index, value in enumerate(ids.tolist())}


@dataclass(frozen=True, eq=False)
class Interactions:
    """An interaction log over fixed user and item id spaces.

    Rows are kept sorted by (user, timestamp, input order): each user's rows form one
    contiguous block, oldest first, and equal timestamps keep the order they were read in.

    Parameters
    ----------
    user_ids, item_ids : ndarray of str, shapes (n_users,) and (n_items,)
        External ids by index. ``item_ids`` is the catalogue: it may hold items that have
        no interaction (for example items known only from metadata).
    users, items : ndarray of int32, shape (n_interactions,)
        Indices into ``user_ids`` and ``item_ids``.
    timestamps : ndarray of float64, shape (n_interactions,)
        Event times in the unit of the source (seconds for MovieLens); only order and
        relative gaps are used.
    weights : ndarray of float32, shape (n_interactions,)
        Interaction strength; 1.0 when the source has none.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    users: np.ndarray
    items: np.ndarray
    timestamps: np.ndarray
    weights: np.ndarray

    @classmethod
    def from_arrays(
        cls,
        user_ids: np.ndarray,
        item_ids: np.ndarray,
        users: np.ndarray,
        items: np.ndarray,
        timestamps: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ) -> Interactions:
        """Build a log from rows in input order; sorts stably by (user, timestamp).

        Without timestamps, the input position is the time: a user's later row is a later
        event.
        """
        users = _as_index(users)
        items = _as_index(items)
        count = users.shape[0]
        if timestamps is None:
            timestamps = np.arange(count, dtype=np.float64)
        timestamps = np.ascontiguousarray(timestamps, dtype=np.float64)
        if weights is None:
            weights = np.ones(count, dtype=SCORE_DTYPE)
        weights = np.ascontiguousarray(weights, dtype=SCORE_DTYPE)
        # lexsort is stable: the last key is primary, ties keep input order.
        order = np.lexsort((timestamps, users))
        return cls(
            user_ids=np.asarray(user_ids, dtype=object),
            item_ids=np.asarray(item_ids, dtype=object),
            users=users[order],
            items=items[order],
            timestamps=timestamps[order],
            weights=weights[order],
        )

    @property
    def n_users(self) -> int:
        return int(self.user_ids.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.item_ids.shape[0])

    @property
    def n_interactions(self) -> int:
        return int(self.users.shape[0])

    @cached_property
    def user_indptr(self) -> np.ndarray:
        """CSR row pointer over users, shape (n_users + 1,).

        User u owns rows ``indptr[u]:indptr[u + 1]``.
        """
        counts = np.bincount(self.users, minlength=self.n_users)
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return indptr

    @cached_property
    def user_lookup(self) -> dict[str, int]:
        return lookup_table(self.user_ids)

    @cached_property
    def item_lookup(self) -> dict[str, int]:
        return lookup_table(self.item_ids)

    def history_lengths(self) -> np.ndarray:
        """Number of interactions of every user, shape (n_users,)."""
        return np.diff(self.user_indptr)

    def active_users(self) -> np.ndarray:
        """Indices of users with at least one interaction, ascending."""
        return np.flatnonzero(self.history_lengths() > 0).astype(INDEX_DTYPE)

    def select(self, mask: np.ndarray) -> Interactions:
        """Rows where ``mask`` is true, over the same id spaces (order is preserved)."""
        return Interactions(
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            users=self.users[mask],
            items=self.items[mask],
            timestamps=self.timestamps[mask],
            weights=self.weights[mask],
        )

    def histories(self, users: np.ndarray | None = None) -> Histories:
        """Time-ordered histories of ``users`` (all users when None), as query rows."""
        if users is None:
            users = np.arange(self.n_users, dtype=INDEX_DTYPE)
        users = _as_index(users)
        starts = self.user_indptr[users]
        ends = self.user_indptr[users + 1]
        lengths = ends - starts
        indptr = np.zeros(users.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        rows = _ranges(starts, lengths)
        return Histories(
            indptr=indptr,
            items=self.items[rows],
            timestamps=self.timestamps[rows],
            weights=self.weights[rows],
        )

    def item_user_counts(self) -> np.ndarray:
        """Distinct users per item, shape (n_items,), int64."""
        return np.asarray((self.binary_matrix() > 0).sum(axis=0)).ravel().astype(np.int64)

    def binary_matrix(self) -> sp.csr_matrix:
        """User x item CSR matrix with 1.0 where a user interacted with an item."""
        matrix = sp.csr_matrix(
            (np.ones(self.n_interactions, dtype=np.float32), (self.users, self.items)),
            shape=(self.n_users, self.n_items),
        )
        matrix.data[:] = 1.0
        return matrix

    def weighted_matrix(self) -> sp.csr_matrix:
        """User x item CSR matrix summing the weights of repeated (user, item) rows."""
        return sp.csr_matrix(
            (self.weights.astype(np.float32), (self.users, self.items)),
            shape=(self.n_users, self.n_items),
        )


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate ``range(s, s + n)`` for each pair, without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.arange(total, dtype=np.int64) + offsets


@dataclass(frozen=True, eq=False)
class Histories:
    """Query rows for strategies: one time-ordered item history per row (CSR layout).

    Row r holds ``items[indptr[r]:indptr[r+1]]``, oldest first, with matching
    ``timestamps`` and ``weights``. A row may be empty (a cold-start user).
    """

    indptr: np.ndarray
    items: np.ndarray
    timestamps: np.ndarray
    weights: np.ndarray

    @classmethod
    def from_lists(
        cls,
        item_lists: list[list[int]],
        timestamp_lists: list[list[float]] | None = None,
    ) -> Histories:
        """Build from Python lists of item indices (timestamps default to positions)."""
        lengths = np.array([len(row) for row in item_lists], dtype=np.int64)
        indptr = np.zeros(len(item_lists) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        items = np.fromiter((i for row in item_lists for i in row), dtype=INDEX_DTYPE)
        if timestamp_lists is None:
            timestamps = np.concatenate(
                [np.arange(n, dtype=np.float64) for n in lengths] or [np.zeros(0)]
            )
        else:
            timestamps = np.fromiter(
                (t for row in timestamp_lists for t in row), dtype=np.float64
            )
        weights = np.ones(items.shape[0], dtype=SCORE_DTYPE)
        return cls(indptr=indptr, items=items, timestamps=timestamps, weights=weights)

    @property
    def n_rows(self) -> int:
        return int(self.indptr.shape[0] - 1)

    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def row(self, index: int) -> np.ndarray:
        return self.items[self.indptr[index] : self.indptr[index + 1]]

    @cached_property
    def _sorted_keys(self) -> np.ndarray:
        """Sorted ``row << 31 | item`` keys of every history entry (for :meth:`contains`)."""
        rows = np.repeat(np.arange(self.n_rows, dtype=np.int64), self.lengths())
        return np.unique((rows << 31) | self.items.astype(np.int64))

    def contains(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Whether ``items[...]`` is in the history of ``rows[...]`` (same shapes).

        Negative items (empty slots) are never contained. Cheap for a single row, so the
        online path needs no sparse matrix.
        """
        keys = self._sorted_keys
        if keys.shape[0] == 0:
            return np.zeros(np.shape(items), dtype=bool)
        query = (np.asarray(rows, dtype=np.int64) << 31) | np.maximum(items, 0).astype(np.int64)
        found = keys[np.minimum(np.searchsorted(keys, query), keys.shape[0] - 1)] == query
        return found & (np.asarray(items) >= 0)

    def as_matrix(self, n_items: int) -> sp.csr_matrix:
        """Row x item binary CSR matrix of the histories (repeats collapse to 1)."""
        rows = np.repeat(np.arange(self.n_rows), self.lengths())
        matrix = sp.csr_matrix(
            (np.ones(rows.shape[0], dtype=np.float32), (rows, self.items)),
            shape=(self.n_rows, n_items),
        )
        matrix.data[:] = 1.0
        return matrix


@dataclass(frozen=True, eq=False)
class Candidates:
    """Scored candidate lists, one per query row, best first (CSR layout).

    Row r holds ``items[indptr[r]:indptr[r+1]]`` with ``scores`` in non-increasing order.
    Items in a row are distinct. Scores are only comparable within one row of one strategy.
    """

    indptr: np.ndarray
    items: np.ndarray
    scores: np.ndarray

    @classmethod
    def from_dense(cls, items: np.ndarray, scores: np.ndarray) -> Candidates:
        """From (n_rows, n) arrays where item index -1 marks an empty slot."""
        valid = items >= 0
        indptr = np.zeros(items.shape[0] + 1, dtype=np.int64)
        np.cumsum(valid.sum(axis=1), out=indptr[1:])
        return cls(
            indptr=indptr,
            items=_as_index(items[valid]),
            scores=np.ascontiguousarray(scores[valid], dtype=SCORE_DTYPE),
        )

    @classmethod
    def empty(cls, n_rows: int) -> Candidates:
        return cls(
            indptr=np.zeros(n_rows + 1, dtype=np.int64),
            items=np.zeros(0, dtype=INDEX_DTYPE),
            scores=np.zeros(0, dtype=SCORE_DTYPE),
        )

    @property
    def n_rows(self) -> int:
        return int(self.indptr.shape[0] - 1)

    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def row(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        span = slice(self.indptr[index], self.indptr[index + 1])
        return self.items[span], self.scores[span]

    def to_dense(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` as (n_rows, k) arrays; missing slots hold item -1 and score NaN."""
        items = np.full((self.n_rows, k), -1, dtype=INDEX_DTYPE)
        scores = np.full((self.n_rows, k), np.nan, dtype=SCORE_DTYPE)
        lengths = np.minimum(self.lengths(), k)
        rows = np.repeat(np.arange(self.n_rows), lengths)
        cols = _ranges(np.zeros(self.n_rows, dtype=np.int64), lengths)
        source = np.repeat(self.indptr[:-1], lengths) + cols
        items[rows, cols] = self.items[source]
        scores[rows, cols] = self.scores[source]
        return items, scores

    def truncate(self, k: int) -> Candidates:
        items, scores = self.to_dense(k)
        return Candidates.from_dense(items, scores)

    def take(self, rows: np.ndarray) -> Candidates:
        """A new Candidates with only the given rows, in the given order."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        indptr = np.zeros(rows.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        source = _ranges(starts, lengths)
        return Candidates(indptr=indptr, items=self.items[source], scores=self.scores[source])


__all__ = ["Candidates", "Histories", "Interactions", "lookup_table"]
