"""ItemCF at compiled speed: the item-neighbour table and batch scoring of histories.

Definition of the neighbour table (the Spark engine implements the same one)
----------------------------------------------------------------------------
1. Each user's training rows are taken in time order (``Interactions`` is sorted by
   user, timestamp, input order) and deduplicated keeping each item's LATEST occurrence.
   Positions ``p = 0 .. L-1`` are counted after deduplication; ``x_p`` is the item and
   ``t_p`` the timestamp of the kept row.
2. ``W`` is the effective window: the smaller of ``window`` and ``max_pairs_window``
   (whichever are set); with neither set every pair counts. ``ItemCFConfig`` sets
   ``max_pairs_window = 1000`` by default, a cost cap that only changes users with more
   than 1001 distinct items.
3. For every ordered pair of positions ``p != q`` with ``|q - p| <= W``::

       w    = dir * pos * time * damp
       dir  = forward_weight if q > p else backward_weight
       pos  = position_decay ** (|q - p| - 1)
       time = exp(-time_decay * |t_q - t_p| / span)
       damp = 1 / ln(1 + L) if user_damping else 1
       C[x_p, x_q] += w                                  (float64)

   ``span = max(t) - min(t)`` over all rows of the training log, so the time scale does
   not depend on the timestamp unit; ``time = 1`` when ``span == 0``.
4. ``sim(i, j) = C[i, j] / sqrt(n_i * n_j)`` where ``n_i`` is the number of distinct users
   with item ``i`` in training.
5. Each item keeps its ``neighbours`` best ``j`` by ``sim`` (ties: lower ``j`` first);
   entries with ``sim <= 0`` are dropped. An item is never its own neighbour.

Scoring a history row: deduplicate it the same way (latest occurrence), take its
``recent_items`` most recent items; the m-th most recent (m = 0 for the latest) weighs
``recency_decay ** m``; ``score(j) = sum_m recency_decay ** m * sim(x_m, j)`` over the kept
neighbours. With ``exclude_seen`` every item of the row is left out. The best ``n`` with
``score > 0`` are returned (ties: lower item index first), so a row whose items have no
neighbours comes back empty.

With all factors neutral (weights 1, decays 1 and 0, no damping, no window or cap) ``sim``
is the plain cosine of the binary user x item matrix.

Cost and memory: the work is the number of pairs, ``sum_u L_u * min(L_u, 2 W)``, so a
window (or the default cap) makes it linear in the log size. Rows are built per item: one
thread owns one item at a time, with a dense accumulator over the catalogue, and items go
in blocks whose top lists fit in ``BLOCK_ENTRIES`` slots, so no ``n_items x n_items``
matrix is ever formed. Each item's sums run in a fixed order (users ascending, then
positions), so results are the same bit for bit across runs and thread counts. The loops
themselves are in :mod:`recfusion.recall._itemcf_compiled`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numba
import numpy as np

from recfusion.data._types import INDEX_DTYPE, SCORE_DTYPE, Candidates, Histories, Interactions
from recfusion.errors import InputError
from recfusion.recall._itemcf_compiled import (
    group_rows,
    latest_mask,
    neighbour_block,
    score_block,
)

logger = logging.getLogger(__name__)

#: Output slots (rows x list length) filled per block before compaction; bounds memory.
BLOCK_ENTRIES = 1 << 22
#: Work chunks per thread in a parallel loop (smooths out uneven rows).
CHUNKS_PER_THREAD = 4


@dataclass(frozen=True, eq=False)
class NeighbourTable:
    """Each item's best neighbours in CSR layout, best first.

    Parameters
    ----------
    indptr : ndarray of int64, shape (n_items + 1,)
        Item ``i`` owns entries ``indptr[i]:indptr[i + 1]``.
    neighbours : ndarray of int32, shape (n_entries,)
        Neighbour item indices; never the row's own item.
    similarities : ndarray of float64, shape (n_entries,)
        ``sim(i, j) > 0``, non-increasing within a row (ties by lower neighbour index).
    """

    indptr: np.ndarray
    neighbours: np.ndarray
    similarities: np.ndarray

    @property
    def n_items(self) -> int:
        return int(self.indptr.shape[0] - 1)

    def row(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours and similarities of one item, best first."""
        span = slice(self.indptr[item], self.indptr[item + 1])
        return self.neighbours[span], self.similarities[span]

    def validate(self, n_items: int) -> None:
        """Raise :class:`InputError` unless the arrays form a table over ``n_items`` items."""
        problem = _table_problem(self, n_items)
        if problem:
            raise InputError(
                f"ItemCF neighbour table: {problem}; hint: build it with "
                "NeighbourTable.from_triples or compute_neighbours"
            )

    @classmethod
    def from_triples(
        cls,
        items: np.ndarray,
        neighbours: np.ndarray,
        similarities: np.ndarray,
        n_items: int,
        k: int,
    ) -> NeighbourTable:
        """Build from unordered ``(item, neighbour, sim)`` rows, keeping the best ``k`` per item.

        Rows with ``sim <= 0`` or ``item == neighbour`` are dropped; ties go to the lower
        neighbour index, as in :func:`compute_neighbours`.
        """
        items = np.asarray(items, dtype=np.int64)
        neighbours = np.asarray(neighbours, dtype=np.int64)
        similarities = np.asarray(similarities, dtype=np.float64)
        keep = (similarities > 0) & (items != neighbours)
        items, neighbours, similarities = items[keep], neighbours[keep], similarities[keep]
        order = np.lexsort((neighbours, -similarities, items))
        items, neighbours, similarities = items[order], neighbours[order], similarities[order]
        counts = np.bincount(items, minlength=n_items)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        rank = np.arange(items.shape[0]) - np.repeat(starts, counts)
        top = rank < k
        indptr = np.zeros(n_items + 1, dtype=np.int64)
        np.cumsum(np.minimum(counts, k), out=indptr[1:])
        table = cls(indptr, neighbours[top].astype(INDEX_DTYPE), similarities[top])
        table.validate(n_items)
        return table


#: numba's parallel regions must not be entered from two Python threads at once (the
#: OpenMP and workqueue layers abort); every kernel call takes this lock.
_PARALLEL_LOCK = threading.Lock()
#: Batches with fewer rows than this run on one thread: thread start-up would dominate.
SMALL_BATCH = 64


@contextlib.contextmanager
def _kernel_threads(rows: int) -> Iterator[None]:
    """Hold the kernel lock; one thread for small batches, else the caller's thread count."""
    with _PARALLEL_LOCK:
        previous = numba.get_num_threads()
        numba.set_num_threads(1 if rows < SMALL_BATCH else previous)
        try:
            yield
        finally:
            numba.set_num_threads(previous)


def _table_problem(table: NeighbourTable, n_items: int) -> str:
    """Describe the first inconsistency of a table, or return an empty string."""
    indptr, size = table.indptr, table.neighbours.shape[0]
    if indptr.shape != (n_items + 1,):
        return f"indptr must have shape ({n_items + 1},), received {indptr.shape}"
    if indptr[0] != 0 or indptr[-1] != size or np.any(np.diff(indptr) < 0):
        return "indptr must start at 0, never decrease and end at len(neighbours)"
    if table.similarities.shape != (size,):
        return f"similarities must have shape ({size},), received {table.similarities.shape}"
    if size and (table.neighbours.min() < 0 or table.neighbours.max() >= n_items):
        return f"neighbour indices must lie in [0, {n_items}), received out-of-range values"
    if size and not np.all(np.isfinite(table.similarities) & (table.similarities > 0)):
        return "similarities must be finite and > 0"
    owner = np.repeat(np.arange(n_items), np.diff(indptr))
    if np.any(table.neighbours == owner):
        return "an item is listed as its own neighbour"
    rising = (np.diff(table.similarities) > 0) & (owner[1:] == owner[:-1])
    if np.any(rising):
        return f"similarities must not increase within a row (item {owner[1:][rising][0]})"
    return ""


@dataclass(frozen=True)
class NeighbourParams:
    """Pair weighting of :func:`compute_neighbours`; the defaults give plain cosine.

    Field meanings are those of ``ItemCFConfig`` (see the module docstring).
    """

    forward_weight: float = 1.0
    backward_weight: float = 1.0
    position_decay: float = 1.0
    time_decay: float = 0.0
    user_damping: bool = False
    window: int | None = None
    max_pairs_window: int | None = None
    neighbours: int = 200

    def effective_window(self) -> int | None:
        """The smaller of ``window`` and ``max_pairs_window``; None when neither is set."""
        limits = [w for w in (self.window, self.max_pairs_window) if w is not None]
        return min(limits) if limits else None


def _chunk_bounds(indptr: np.ndarray, n_chunks: int) -> np.ndarray:
    """Split users into ``n_chunks`` contiguous ranges holding about equal rows."""
    targets = np.linspace(0, indptr[-1], n_chunks + 1)
    bounds = np.searchsorted(indptr, targets, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, indptr.shape[0] - 1
    return np.unique(bounds)


def _n_chunks(size: int) -> int:
    return max(1, min(size, numba.get_num_threads() * CHUNKS_PER_THREAD))


@dataclass(frozen=True, eq=False)
class _Deduplicated:
    """Training rows after keeping each user's latest occurrence of every item."""

    user_ptr: np.ndarray
    row_user: np.ndarray
    items: np.ndarray
    times: np.ndarray

    @classmethod
    def of(cls, train: Interactions) -> _Deduplicated:
        bounds = _chunk_bounds(train.user_indptr, _n_chunks(train.n_users))
        with _kernel_threads(train.n_users):
            keep = latest_mask(bounds, train.user_indptr, train.items, train.n_items)
        row_user = train.users[keep]
        user_ptr = np.zeros(train.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_user, minlength=train.n_users), out=user_ptr[1:])
        return cls(user_ptr, row_user, train.items[keep], train.timestamps[keep])


def _pair_counts(data: _Deduplicated, window: int) -> np.ndarray:
    """Pairs each deduplicated row takes part in as the first element, shape (n_rows,)."""
    lengths = np.diff(data.user_ptr)
    position = np.arange(data.items.shape[0]) - data.user_ptr[data.row_user]
    length = lengths[data.row_user]
    return np.minimum(length, position + window + 1) - np.maximum(0, position - window) - 1


def _timing(train: Interactions, params: NeighbourParams) -> np.ndarray:
    """(time_decay, span), with time_decay 0 when the log has no time span."""
    span = float(train.timestamps.max() - train.timestamps.min()) if train.n_interactions else 0.0
    time_decay = params.time_decay if span > 0 else 0.0
    return np.array([time_decay, span if span > 0 else 1.0])


def compute_neighbours(train: Interactions, params: NeighbourParams) -> NeighbourTable:
    """Neighbour table of ``train`` under ``params`` (definition in the module docstring).

    Runs on numba's thread pool (``numba.set_num_threads`` controls it). Working memory
    beyond the log and the result: about ``12 * BLOCK_ENTRIES`` bytes of block output plus
    ``25 * n_items`` bytes per running thread.
    """
    started = time.perf_counter()
    data = _Deduplicated.of(train)
    lengths = np.diff(data.user_ptr)
    longest = int(lengths.max(initial=1))
    window = params.effective_window()
    window = longest if window is None else min(int(window), longest)
    inputs = _BlockInputs.of(data, train, params, window)
    work = np.bincount(data.items, weights=_pair_counts(data, window), minlength=train.n_items)
    k = max(1, min(params.neighbours, train.n_items))
    step = max(1, BLOCK_ENTRIES // k)
    parts = []
    for first in range(0, train.n_items, step):
        order = first + np.argsort(-work[first:first + step], kind="stable")
        with _kernel_threads(order.shape[0]):
            result = neighbour_block(order, first, *inputs.arrays(), work, window, k,
                                     _n_chunks(order.shape[0]))
        parts.append(_compact(*result))
    indptr, neighbours, similarities = _concatenate(parts, train.n_items)
    logger.info(
        "ItemCF neighbours: %d items, %d rows after dedup, %d pairs, %d entries in %.2fs",
        train.n_items, data.items.shape[0], int(work.sum()), neighbours.shape[0],
        time.perf_counter() - started,
    )
    return NeighbourTable(indptr, neighbours, similarities)


@dataclass(frozen=True, eq=False)
class _BlockInputs:
    """Arrays shared by every block of ``neighbour_block``, in its argument order."""

    occ_ptr: np.ndarray
    occ: np.ndarray
    data: _Deduplicated
    user_damp: np.ndarray
    item_users: np.ndarray
    timing: np.ndarray
    dir_pos: np.ndarray

    @classmethod
    def of(cls, data: _Deduplicated, train: Interactions, params: NeighbourParams,
           window: int) -> _BlockInputs:
        lengths = np.diff(data.user_ptr).astype(np.float64)
        damp = np.ones(lengths.shape[0])
        if params.user_damping:
            damp = 1.0 / np.log(1.0 + np.maximum(lengths, 1.0))
        item_users = np.bincount(data.items, minlength=train.n_items).astype(np.int64)
        occ_ptr, occ = group_rows(data.items, train.n_items)
        return cls(occ_ptr, occ, data, damp, item_users, _timing(train, params),
                   _direction_position(params, window))

    def arrays(self) -> tuple[np.ndarray, ...]:
        data = self.data
        return (self.occ_ptr, self.occ, data.row_user, data.user_ptr, self.user_damp,
                data.items, data.times, self.item_users, self.timing, self.dir_pos)


def _direction_position(params: NeighbourParams, window: int) -> np.ndarray:
    """Table (2, window + 1): row 0 backward_weight * pos(gap), row 1 forward_weight * pos."""
    # Python's float power (C pow), so the factors match a plain-Python evaluation.
    decay = float(params.position_decay)
    pos = [decay ** max(gap - 1, 0) for gap in range(window + 1)]
    return np.array([
        [params.backward_weight * value for value in pos],
        [params.forward_weight * value for value in pos],
    ])


def _compact(items: np.ndarray, values: np.ndarray, counts: np.ndarray) -> tuple:
    """Keep the filled slots of (rows, k) outputs: (counts, items, values), row-major."""
    filled = np.arange(items.shape[1])[None, :] < counts[:, None]
    return counts, items[filled], values[filled]


def _concatenate(parts: list[tuple], n_rows: int) -> tuple[np.ndarray, ...]:
    """Join compacted blocks (in row order) into CSR (indptr, items, values)."""
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    if not parts:
        return indptr, np.zeros(0, INDEX_DTYPE), np.zeros(0, np.float64)
    np.cumsum(np.concatenate([part[0] for part in parts]), out=indptr[1:])
    items = np.concatenate([part[1] for part in parts]).astype(INDEX_DTYPE)
    return indptr, items, np.concatenate([part[2] for part in parts])


# ---------------------------------------------------------------- scoring


def score_histories(
    table: NeighbourTable,
    histories: Histories,
    n: int,
    recent_items: int,
    recency_decay: float,
    exclude_seen: bool = True,
) -> Candidates:
    """Top-``n`` ItemCF candidates of every history row (scoring rule in the module docstring).

    Parameters
    ----------
    table : NeighbourTable
        Neighbours over ``table.n_items`` items; history items must be below that.
    histories : Histories
        Query rows, oldest item first.
    n : int
        List length; rows hold fewer items when fewer have a positive score.
    recent_items, recency_decay : int, float
        How many distinct most recent items score, and the weight factor per step back.
    exclude_seen : bool
        Skip every item of the row's own history.
    """
    _check_history_items(histories, table.n_items)
    n = max(0, min(int(n), table.n_items))
    if n == 0 or histories.n_rows == 0:
        return Candidates.empty(histories.n_rows)
    # A row has at most n_items distinct items, so this cap changes nothing but the int size.
    recent = min(int(recent_items), table.n_items)
    step = max(1, BLOCK_ENTRIES // n)
    parts = []
    for first in range(0, histories.n_rows, step):
        rows = np.arange(first, min(first + step, histories.n_rows), dtype=np.int64)
        with _kernel_threads(rows.shape[0]):
            out_items, out_scores, counts = score_block(
                rows, histories.indptr, histories.items, table.indptr, table.neighbours,
                table.similarities, n, recent, float(recency_decay), bool(exclude_seen),
                _n_chunks(rows.shape[0]))
        parts.append(_compact(out_items, out_scores, counts))
    indptr, items, scores = _concatenate(parts, histories.n_rows)
    return Candidates(indptr, items, scores.astype(SCORE_DTYPE))


def _check_history_items(histories: Histories, n_items: int) -> None:
    """Raise InputError when a history holds an item index outside the fitted catalogue."""
    items = histories.items
    if items.shape[0] and (items.min() < 0 or items.max() >= n_items):
        raise InputError(
            f"ItemCF.recommend: histories.items must lie in [0, {n_items}), received values "
            f"from {int(items.min())} to {int(items.max())}; hint: use the item id space "
            "the strategy was fitted on"
        )


__all__ = [
    "BLOCK_ENTRIES",
    "NeighbourParams",
    "NeighbourTable",
    "compute_neighbours",
    "score_histories",
]
