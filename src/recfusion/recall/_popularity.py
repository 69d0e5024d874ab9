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
        # Take enough of the global ranking to survive removing each row's history.
        depth = min(ranking.shape[0], n + int(histories.lengths().max(initial=0)))
        head = np.tile(ranking[:depth], (n_rows, 1))
        is_seen = histories.contains(np.arange(n_rows)[:, None], head)
        head = np.where(is_seen, -1, head)
        # Stable compaction: keep the first n unseen per row.
        order = np.argsort(is_seen, axis=1, kind="stable")[:, :n]
        items = np.take_along_axis(head, order, axis=1)
        scores = np.where(items >= 0, self.scores_[np.maximum(items, 0)], 0.0)
        return Candidates.from_dense(items, scores)

    def _save_arrays(self) -> dict[str, np.ndarray]:
        return {"scores": self.scores_}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self._set_scores(arrays["scores"].astype(np.float64))


__all__ = ["Popularity"]
