"""The last step of every fusion: drop seen items and pad each row to exactly k items."""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from recfusion.data._types import Candidates, Histories
from recfusion.errors import InputError
from recfusion.fusion._common import candidates_from_sorted, indptr_from_rows, positions, row_ids

logger = logging.getLogger(__name__)


class Filler(Protocol):
    """What :func:`finalize` needs from a padding source (``Popularity`` satisfies it)."""

    n_items_: int | None

    def recommend(
        self, histories: Histories, n: int, *, exclude_seen: bool = True
    ) -> Candidates: ...


def finalize(
    fused: Candidates,
    histories: Histories,
    filler: Filler,
    k: int,
    exclude_seen: bool = True,
) -> Candidates:
    """Exactly ``k`` distinct items per row: fused order first, then the filler's order.

    Parameters
    ----------
    fused : Candidates
        Merged lists, best first, one row per row of ``histories``.
    histories : Histories
        The query rows (used to remove seen items and by the filler).
    filler : Filler
        A fitted ``Popularity``, or any object with ``n_items_`` and ``recommend(histories,
        n, exclude_seen=...)`` such as :meth:`SegmentPopularity.filler_for`.
    k : int
        List length (> 0).
    exclude_seen : bool
        Remove each row's history items (default True).

    Returns
    -------
    Candidates
        ``k`` distinct items per row, or every eligible catalogue item when fewer than ``k``
        exist. Padding follows the filler's order and then, if the filler runs dry (it only
        knows items with interactions), ascending item index. Fused items keep their
        scores; padded items get ``floor - 1, floor - 2, ...`` where ``floor`` is the row's
        lowest kept fused score (0 for an empty row), so scores stay non-increasing.
    """
    _check(fused, histories, filler, k)
    fused = _useful_prefix(fused, histories, k)
    n_items = int(filler.n_items_)
    seen = _seen_keys(histories, n_items) if exclude_seen else np.zeros(0, dtype=np.int64)
    pad = filler.recommend(histories, k, exclude_seen=exclude_seen)
    rows, items, priority, scores = _merge_sources(fused, pad, seen, n_items)
    rows, items, scores = _first_k(rows, items, priority, scores, k, fused.n_rows)
    counts = np.bincount(rows, minlength=fused.n_rows)
    eligible = n_items - (_distinct_seen(seen, n_items, fused.n_rows) if exclude_seen else 0)
    short = np.flatnonzero(counts < np.minimum(k, eligible))
    if short.shape[0]:
        logger.debug("finalize: %d rows padded from the catalogue order", short.shape[0])
        rows, items, scores = _catalogue_pad(
            (rows, items, scores), counts, short, seen, n_items, k
        )
    return _with_pad_scores(rows, items, scores, fused.n_rows)


def _check(fused: Candidates, histories: Histories, filler: Filler, k: int) -> None:
    """Validate shapes and parameters of :func:`finalize`."""
    if k <= 0:
        raise InputError(f"finalize: parameter 'k' must be > 0; received {k}")
    if fused.n_rows != histories.n_rows:
        raise InputError(
            f"finalize: 'fused' has {fused.n_rows} rows but 'histories' has "
            f"{histories.n_rows}; expected one fused row per query row"
        )
    if getattr(filler, "n_items_", None) is None:
        raise InputError("finalize: parameter 'filler' is not fitted (hint: call fit first)")


def _useful_prefix(fused: Candidates, histories: Histories, k: int) -> Candidates:
    """Each row's first ``k + history length`` items: at most that many are needed."""
    limit = k + histories.lengths()
    keep = positions(fused.indptr) < np.repeat(limit, fused.lengths())
    if keep.all():
        return fused
    rows = row_ids(fused.indptr)[keep]
    return candidates_from_sorted(rows, fused.items[keep], fused.scores[keep], fused.n_rows)


def _seen_keys(histories: Histories, n_items: int) -> np.ndarray:
    """Sorted distinct ``row * n_items + item`` keys of the history items."""
    return np.unique(row_ids(histories.indptr) * n_items + histories.items.astype(np.int64))


def _distinct_seen(seen: np.ndarray, n_items: int, n_rows: int) -> np.ndarray:
    """Number of distinct seen items per row."""
    return np.bincount(seen // n_items, minlength=n_rows)


def _merge_sources(
    fused: Candidates, pad: Candidates, seen: np.ndarray, n_items: int
) -> tuple[np.ndarray, ...]:
    """Fused then padded entries, unseen and first occurrence only, with priorities."""
    offset = int(fused.lengths().max(initial=0))
    rows = np.concatenate([row_ids(fused.indptr), row_ids(pad.indptr)])
    items = np.concatenate([fused.items, pad.items]).astype(np.int64)
    priority = np.concatenate([positions(fused.indptr), offset + positions(pad.indptr)])
    scores = np.concatenate(
        [fused.scores.astype(np.float64), np.full(pad.items.shape[0], np.nan)]
    )
    keys = rows * n_items + items
    keep = ~np.isin(keys, seen)
    order = np.lexsort((priority[keep], keys[keep]))
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = keys[keep][order][1:] != keys[keep][order][:-1]
    chosen = np.flatnonzero(keep)[order[first]]
    return rows[chosen], items[chosen], priority[chosen], scores[chosen]


def _first_k(
    rows: np.ndarray,
    items: np.ndarray,
    priority: np.ndarray,
    scores: np.ndarray,
    k: int,
    n_rows: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order entries by (row, priority) and keep the first ``k`` of each row."""
    order = np.lexsort((priority, rows))
    rows, items, scores = rows[order], items[order], scores[order]
    keep = positions(indptr_from_rows(rows, n_rows)) < k
    return rows[keep], items[keep], scores[keep]


def _catalogue_pad(
    entries: tuple[np.ndarray, np.ndarray, np.ndarray],
    counts: np.ndarray,
    short: np.ndarray,
    seen: np.ndarray,
    n_items: int,
    k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Append unseen, unused items in index order to the ``short`` rows (rare path)."""
    rows, items, scores = entries
    local = np.full(counts.shape[0], -1, dtype=np.int64)
    local[short] = np.arange(short.shape[0])
    taken = np.zeros((short.shape[0], n_items), dtype=bool)
    mine = local[rows] >= 0
    taken[local[rows[mine]], items[mine]] = True
    seen_rows = seen // n_items
    mine = local[seen_rows] >= 0
    taken[local[seen_rows[mine]], seen[mine] % n_items] = True
    # A stable argsort of the flags lists free (False) items first, in index order.
    free_items = np.argsort(taken, axis=1, kind="stable")
    need = np.minimum(k - counts[short], (~taken).sum(axis=1))
    use = np.arange(n_items)[None, :] < need[:, None]
    rows = np.concatenate([rows, np.repeat(short, need)])
    items = np.concatenate([items, free_items[use]])
    scores = np.concatenate([scores, np.full(int(need.sum()), np.nan)])
    final = np.lexsort((np.arange(rows.shape[0]), rows))
    return rows[final], items[final], scores[final]


def _with_pad_scores(
    rows: np.ndarray, items: np.ndarray, scores: np.ndarray, n_rows: int
) -> Candidates:
    """Replace NaN (padded) scores by ``floor - 1, floor - 2, ...`` within each row."""
    indptr = indptr_from_rows(rows, n_rows)
    lengths = np.diff(indptr)
    filled = lengths > 0
    padded = np.isnan(scores)
    floor = np.zeros(0)
    if rows.shape[0]:
        floor = np.minimum.reduceat(np.where(padded, np.inf, scores), indptr[:-1][filled])
    floor = np.where(np.isfinite(floor), floor, 0.0)
    cumulative = np.concatenate(([0], np.cumsum(padded)))
    pad_rank = cumulative[1:] - np.repeat(cumulative[indptr[:-1]], lengths)
    values = np.where(padded, np.repeat(floor, lengths[filled]) - pad_rank, scores)
    return candidates_from_sorted(rows, items, values, n_rows)


__all__ = ["Filler", "finalize"]
