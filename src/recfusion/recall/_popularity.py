"""Popularity: the most interacted items, optionally recent or time-decayed.

Also the fallback for users with no history and the filler that pads short lists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recfusion.data._types import INDEX_DTYPE, SCORE_DTYPE, Candidates, Histories, Interactions
from recfusion.recall._base import SideInfo, Strategy


class Popularity(Strategy):
    """Items ranked by the number of distinct users who interacted with them.

    Parameters
    ----------
    window : float or None
        Count only interactions within ``window`` time units before the latest timestamp
        of the training log (same unit as the log). None counts all.
    half_life : float or None
        Weight each user's latest interaction with an item by ``0.5 ** (age / half_life)``,
        age measured back from the latest timestamp. None gives every user weight 1.
    """

    kind = "popularity"

    def __init__(
        self,
        name: str | None = None,
        window: float | None = None,
        half_life: float | None = None,
    ) -> None:
        super().__init__(name)
        self.window = window
        self.half_life = half_life
        self.scores_: np.ndarray | None = None
        self.ranking_: np.ndarray | None = None

    def params(self) -> dict[str, Any]:
        return {"window": self.window, "half_life": self.half_life}

    def fit(self, train: Interactions, side: SideInfo | None = None) -> Popularity:
        self.n_items_ = train.n_items
        self._set_scores(self._user_item_scores(train))
        return self

    def fit_from_scores(self, scores: np.ndarray) -> Popularity:
        """Use popularity scores computed elsewhere (for example by the Spark engine)."""
        self.n_items_ = int(scores.shape[0])
        self._set_scores(np.asarray(scores, dtype=np.float64))
        return self

    def _user_item_scores(self, train: Interactions) -> np.ndarray:
        if train.n_interactions == 0:
            return np.zeros(train.n_items, dtype=np.float64)
        latest = train.timestamps.max()
        keep = np.ones(train.n_interactions, dtype=bool)
        if self.window is not None:
            keep = train.timestamps >= latest - self.window
        users, items, times = train.users[keep], train.items[keep], train.timestamps[keep]
        # One vote per (user, item): keep each pair's latest row (rows are time-sorted).
        pair = users.astype(np.int64) * train.n_items + items
        last_rows = pair.shape[0] - 1 - np.unique(pair[::-1], return_index=True)[1]
        kept_items = items[last_rows]
        votes = np.ones(kept_items.shape[0], dtype=np.float64)
        if self.half_life is not None:
            votes = 0.5 ** ((latest - times[last_rows]) / self.half_life)
        return np.bincount(kept_items, weights=votes, minlength=train.n_items)

    def _set_scores(self, scores: np.ndarray) -> None:
        self.scores_ = scores.astype(SCORE_DTYPE)
        # Most popular first; ties by lower item index.
        self.ranking_ = np.lexsort((np.arange(scores.shape[0]), -scores)).astype(INDEX_DTYPE)

    def recommend(
        self, histories: Histories, n: int, *, exclude_seen: bool = True
    ) -> Candidates:
        self.check_fitted()
        ranking = self.ranking_[self.scores_[self.ranking_] > 0]
        n_rows = histories.n_rows
        if not exclude_seen or histories.items.shape[0] == 0:
            take = ranking[: min(n, ranking.shape[0])]
            items = np.tile(take, (n_rows, 1))
            return Candidates.from_dense(items, self.scores_[items])
        items = _first_unseen(ranking, histories, n, self.n_items_)
        scores = np.where(items >= 0, self.scores_[np.maximum(items, 0)], 0.0)
        return Candidates.from_dense(items, scores)

    def _save_arrays(self) -> dict[str, np.ndarray]:
        return {"scores": self.scores_}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self._set_scores(arrays["scores"].astype(np.float64))


def _first_unseen(
    ranking: np.ndarray, histories: Histories, n: int, n_items: int
) -> np.ndarray:
    """The first ``n`` items of ``ranking`` missing from each row's history, (n_rows, n).

    With a row's seen ranking positions sorted as s_0 < s_1 < ..., let t_i = s_i - i; the
    j-th unseen position is j + #{i : t_i <= j}. Memory is O(n_rows * n + history size),
    whatever the history lengths; -1 marks slots past the end of the ranking.
    """
    size = ranking.shape[0]
    position = np.full(n_items, size, dtype=np.int64)
    position[ranking] = np.arange(size)
    rows = np.repeat(np.arange(histories.n_rows, dtype=np.int64), histories.lengths())
    seen = position[histories.items]
    width = np.int64(size + 1)
    keys = np.unique(rows[seen < size] * width + seen[seen < size])
    key_rows = keys // width
    starts = np.searchsorted(key_rows, np.arange(histories.n_rows), side="left")
    rank_in_row = np.arange(keys.shape[0]) - starts[key_rows]
    shifted = key_rows * width + (keys % width - rank_in_row)
    slots = np.arange(n, dtype=np.int64)[None, :]
    row_base = np.arange(histories.n_rows, dtype=np.int64)[:, None] * width
    before = np.searchsorted(shifted, row_base + slots, side="right") - starts[:, None]
    unseen = slots + before
    return np.where(unseen < size, ranking[np.minimum(unseen, size - 1)], -1).astype(INDEX_DTYPE)


__all__ = ["Popularity"]
