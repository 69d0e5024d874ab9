"""Scoring against one bundle snapshot: user histories, sessions, fallback, similar items.

Every function takes the :class:`Bundle` it should use as an argument, so a caller that
reads its bundle reference once per request can never mix two models in one answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from recfusion.data import Candidates, Histories
from recfusion.data._types import INDEX_DTYPE, SCORE_DTYPE
from recfusion.recall import top_n_dense
from recfusion.serving._bundle import Bundle

#: Value of ``fallback`` when a list comes from plain popularity (no usable history).
POPULARITY = "popularity"
#: Value of ``source`` of similar items computed from training co-occurrence.
COOCCURRENCE = "cooccurrence"

#: One live event as the scorer needs it: (item id, timestamp, weight).
EventTuple = tuple[str, float, float]

_EMPTY = Histories(
    indptr=np.zeros(2, dtype=np.int64),
    items=np.zeros(0, dtype=INDEX_DTYPE),
    timestamps=np.zeros(0, dtype=np.float64),
    weights=np.zeros(0, dtype=SCORE_DTYPE),
)


@dataclass(frozen=True)
class Ranked:
    """A ranked list of item ids, best first, with one score per item.

    ``fallback`` is ``"popularity"`` when the list is plain popularity because no usable
    history existed; ``source`` names where similar items came from.
    """

    item_ids: list[str]
    scores: list[float]
    fallback: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class History:
    """One query history as arrays (oldest first) plus what could not be used."""

    items: np.ndarray
    timestamps: np.ndarray
    weights: np.ndarray
    unknown_items: list[str]


def _ranked(bundle: Bundle, items: np.ndarray, scores: np.ndarray, **extra: str) -> Ranked:
    return Ranked(bundle.item_ids[items].tolist(), scores.tolist(), **extra)


def as_histories(history: History) -> Histories:
    """A one-row :class:`Histories` holding ``history``."""
    return Histories(
        indptr=np.array([0, history.items.shape[0]], dtype=np.int64),
        items=np.ascontiguousarray(history.items, dtype=INDEX_DTYPE),
        timestamps=np.ascontiguousarray(history.timestamps, dtype=np.float64),
        weights=np.ascontiguousarray(history.weights, dtype=SCORE_DTYPE),
    )


def popular(bundle: Bundle, k: int, user_index: int | None = None) -> Ranked:
    """The popularity fallback: the ``k`` most popular items of the bundle.

    A user the bundle knows (by attributes) but with no history gets the popularity of
    their segment when the bundle was trained with ``fusion.cold_start = "segment"``.
    When fewer than ``k`` items have any interaction, the rest follow in catalogue order
    with score 0, so the list holds ``min(k, n_items)`` distinct items.
    """
    users = None if user_index is None else np.array([user_index])
    items, scores = bundle.recommender.cold_start(users, k).row(0)
    missing = min(k, bundle.n_items) - items.shape[0]
    if missing > 0:
        rest = np.setdiff1d(np.arange(bundle.n_items), items)[:missing]
        items = np.concatenate([items, rest])
        scores = np.concatenate([scores, np.zeros(rest.shape[0], dtype=scores.dtype)])
    return _ranked(bundle, items, scores, fallback=POPULARITY)


def recommend_history(
    bundle: Bundle, history: History, k: int, user_index: int | None = None
) -> Ranked:
    """Fused top-``k`` for one history; popularity (flagged) when it holds no known item."""
    if history.items.shape[0] == 0:
        return popular(bundle, k, user_index)
    items, scores = bundle.recommender.recommend(as_histories(history), k).row(0)
    return _ranked(bundle, items, scores)


def user_history(bundle: Bundle, user_id: str, events: Sequence[EventTuple]) -> History:
    """Training history of ``user_id`` followed by its live events.

    Live events come after every training row (they happened after the bundle was
    trained, and the log's time unit need not match the server's clock); among themselves
    they are ordered by timestamp, ties in arrival order. Events on items the bundle does
    not know are left out (listed in ``unknown_items``).
    """
    index = bundle.user_lookup.get(user_id)
    if index is None:
        base = (_EMPTY.items, _EMPTY.timestamps, _EMPTY.weights)
    else:
        base = bundle.user_history(index)
    if not events:
        return History(*base, unknown_items=[])
    live, unknown = resolve_items(bundle, [event[0] for event in events])
    known = sorted(
        (event[1], position, item, event[2])
        for position, (event, item) in enumerate(zip(events, live.tolist()))
        if item >= 0
    )
    return History(
        items=np.concatenate([base[0], np.array([e[2] for e in known], dtype=INDEX_DTYPE)]),
        timestamps=np.concatenate([base[1], np.array([e[0] for e in known], dtype=np.float64)]),
        weights=np.concatenate([base[2], np.array([e[3] for e in known], dtype=SCORE_DTYPE)]),
        unknown_items=unknown,
    )


def session_history(bundle: Bundle, item_ids: Sequence[str]) -> History:
    """A history from a list of recent item ids (oldest first); unknown ids are dropped."""
    items, unknown = resolve_items(bundle, item_ids)
    items = items[items >= 0]
    return History(
        items=items,
        timestamps=np.arange(items.shape[0], dtype=np.float64),
        weights=np.ones(items.shape[0], dtype=SCORE_DTYPE),
        unknown_items=unknown,
    )


def resolve_items(bundle: Bundle, item_ids: Iterable[str]) -> tuple[np.ndarray, list[str]]:
    """Item indices (-1 for unknown ids) and the distinct unknown ids in first-seen order."""
    lookup = bundle.item_lookup
    ids = list(item_ids)
    indices = np.fromiter((lookup.get(item, -1) for item in ids), dtype=INDEX_DTYPE, count=len(ids))
    unknown = dict.fromkeys(item for item, index in zip(ids, indices) if index < 0)
    return indices, list(unknown)


def similar_items(bundle: Bundle, item: int, k: int) -> Ranked:
    """Up to ``k`` items similar to item index ``item``, the item itself excluded.

    Uses the first channel (in config order) that offers ``similar_items(item_index, n)``
    and returns a non-empty row; otherwise cosine co-occurrence over the training matrix.
    """
    for name, strategy in bundle.recommender.strategies.items():
        method = getattr(strategy, "similar_items", None)
        if not callable(method):
            continue
        items, scores = _as_pair(method(item, k))
        keep = (items >= 0) & (items != item) & np.isfinite(scores)
        if keep.any():
            return _ranked(bundle, items[keep][:k], scores[keep][:k], source=name)
    return cooccurrence(bundle, item, k)


def _as_pair(result: Candidates | tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, ...]:
    """(items, scores) from either a one-row Candidates or an (items, scores) pair."""
    if isinstance(result, Candidates):
        if result.n_rows == 0:
            return np.zeros(0, dtype=INDEX_DTYPE), np.zeros(0, dtype=np.float64)
        result = result.row(0)
    items, scores = result
    return np.asarray(items, dtype=np.int64), np.asarray(scores, dtype=np.float64)


def cooccurrence(bundle: Bundle, item: int, k: int) -> Ranked:
    """Items ranked by cosine co-occurrence with ``item`` in the training histories.

    Score of item j: ``c(i, j) / sqrt(n_i * n_j)`` where ``c`` counts users who have both
    and ``n`` counts users per item. Items never co-occurring are left out.
    """
    users = bundle.item_user_matrix[:, item].indices
    if users.shape[0] == 0:
        return Ranked([], [], source=COOCCURRENCE)
    counts = np.asarray(bundle.user_item_matrix[users].sum(axis=0), dtype=np.float64).ravel()
    sizes = np.diff(bundle.item_user_matrix.indptr).astype(np.float64)
    counts[item] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        sims = counts / np.sqrt(sizes[item] * sizes)
    sims[counts == 0] = -np.inf
    items, scores = top_n_dense(sims[None, :], k).row(0)
    return _ranked(bundle, items, scores, source=COOCCURRENCE)


def history_rows(history: Histories, rows: np.ndarray) -> Histories:
    """The given rows of ``history`` (an index array), in the given order."""
    starts = history.indptr[rows]
    lengths = history.indptr[rows + 1] - starts
    indptr = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    source = np.arange(int(indptr[-1]), dtype=np.int64) + np.repeat(starts - indptr[:-1], lengths)
    return Histories(
        indptr=indptr,
        items=history.items[source],
        timestamps=history.timestamps[source],
        weights=history.weights[source],
    )


__all__ = [
    "COOCCURRENCE",
    "POPULARITY",
    "History",
    "Ranked",
    "as_histories",
    "cooccurrence",
    "history_rows",
    "popular",
    "recommend_history",
    "resolve_items",
    "session_history",
    "similar_items",
    "user_history",
]
