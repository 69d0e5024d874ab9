"""ItemCF: time- and position-aware item-based collaborative filtering.

Two items are neighbours when users interact with both; the pair weight grows when the
items are close in the user's sequence and in time, depends on which came first, and
shrinks for very active users. The exact definition of the neighbour table and of the
scoring rule is the docstring of :mod:`recfusion.recall._itemcf_kernel`; the Spark engine
builds the same table, which :meth:`ItemCF.fit_from_table` accepts.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from pydantic import ValidationError

from recfusion.config import ItemCFConfig
from recfusion.data._types import Candidates, Histories, Interactions
from recfusion.errors import ConfigError, InputError
from recfusion.recall._base import SideInfo, Strategy
from recfusion.recall._itemcf_kernel import (
    NeighbourParams,
    NeighbourTable,
    compute_neighbours,
    score_histories,
)

logger = logging.getLogger(__name__)

_DEFAULTS = ItemCFConfig()


class ItemCF(Strategy):
    """Item-based CF with direction, position, time and activity weighting.

    Parameters
    ----------
    forward_weight, backward_weight : float, default 1.0 and 0.7
        Weight of a pair whose second item came after (forward) or before (backward) the
        first in the user's sequence.
    position_decay : float in (0, 1], default 0.8
        Factor per extra position between the two items (adjacent items weigh 1).
    time_decay : float >= 0, default 1.0
        Pair weight ``exp(-time_decay * gap / span)``, span = time range of the training log.
    user_damping : bool, default True
        Divide each user's pairs by ``ln(1 + distinct items of the user)``.
    window : int or None, default None
        Only pairs at most this many positions apart.
    max_pairs_window : int or None, default 1000
        Cost cap applied like ``window`` (the smaller of the two wins); None disables it.
    neighbours : int, default 200
        Neighbours kept per item.
    recent_items : int, default 20
        Distinct most recent history items used to score a row.
    recency_decay : float in (0, 1], default 0.9
        Weight factor per step back from the latest history item.

    Setting the weights to 1, ``position_decay=1``, ``time_decay=0``,
    ``user_damping=False``, ``recency_decay=1`` and a large ``recent_items`` gives plain
    cosine item-item CF.
    """

    kind = "itemcf"

    def __init__(
        self,
        name: str | None = None,
        forward_weight: float = _DEFAULTS.forward_weight,
        backward_weight: float = _DEFAULTS.backward_weight,
        position_decay: float = _DEFAULTS.position_decay,
        time_decay: float = _DEFAULTS.time_decay,
        user_damping: bool = _DEFAULTS.user_damping,
        window: int | None = _DEFAULTS.window,
        max_pairs_window: int | None = _DEFAULTS.max_pairs_window,
        neighbours: int = _DEFAULTS.neighbours,
        recent_items: int = _DEFAULTS.recent_items,
        recency_decay: float = _DEFAULTS.recency_decay,
    ) -> None:
        super().__init__(name)
        self.config = _validated({
            "forward_weight": forward_weight,
            "backward_weight": backward_weight,
            "position_decay": position_decay,
            "time_decay": time_decay,
            "user_damping": user_damping,
            "window": window,
            "max_pairs_window": max_pairs_window,
            "neighbours": neighbours,
            "recent_items": recent_items,
            "recency_decay": recency_decay,
        })
        self.table_: NeighbourTable | None = None

    def params(self) -> dict[str, Any]:
        return self.config.model_dump(exclude={"kind", "enabled"})

    def neighbour_params(self) -> NeighbourParams:
        """The pair weighting of this strategy, as :func:`compute_neighbours` takes it."""
        config = self.config
        return NeighbourParams(
            forward_weight=config.forward_weight,
            backward_weight=config.backward_weight,
            position_decay=config.position_decay,
            time_decay=config.time_decay,
            user_damping=config.user_damping,
            window=config.window,
            max_pairs_window=config.max_pairs_window,
            neighbours=config.neighbours,
        )

    def fit(self, train: Interactions, side: SideInfo | None = None) -> ItemCF:
        """Build the neighbour table from ``train``; ``side`` is not used."""
        started = time.perf_counter()
        table = compute_neighbours(train, self.neighbour_params())
        self.fit_from_table(table, train.n_items)
        logger.info(
            "ItemCF %r fitted on %d interactions in %.2fs",
            self.name, train.n_interactions, time.perf_counter() - started,
        )
        return self

    def fit_from_table(self, table: NeighbourTable, n_items: int) -> ItemCF:
        """Use a neighbour table built elsewhere (for example by the Spark engine).

        ``table`` must follow the layout of :class:`NeighbourTable` over ``n_items`` items;
        rows longer than ``neighbours`` are cut to their best ``neighbours`` entries.
        """
        table.validate(n_items)
        self.table_ = _truncate(table, self.config.neighbours)
        self.n_items_ = int(n_items)
        return self

    def recommend(
        self, histories: Histories, n: int, *, exclude_seen: bool = True
    ) -> Candidates:
        """Up to ``n`` candidates per history row, best first (rows of unknown items empty)."""
        self.check_fitted()
        return score_histories(
            self.table_, histories, n, self.config.recent_items, self.config.recency_decay,
            exclude_seen=exclude_seen,
        )

    def similar_items(self, item_index: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` nearest neighbours of one item, best first, the item itself excluded.

        Returns
        -------
        items : ndarray of int32, shape (<= n,)
        similarities : ndarray of float64, same shape
        """
        self.check_fitted()
        if not 0 <= int(item_index) < self.n_items_:
            raise InputError(
                f"ItemCF.similar_items: item_index must lie in [0, {self.n_items_}), received "
                f"{item_index}; hint: map the external id through the item lookup first"
            )
        items, sims = self.table_.row(int(item_index))
        return items[: max(0, n)].copy(), sims[: max(0, n)].copy()

    def _save_arrays(self) -> dict[str, np.ndarray]:
        table = self.table_
        return {
            "indptr": table.indptr,
            "neighbours": table.neighbours,
            "similarities": table.similarities,
        }

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        table = NeighbourTable(
            indptr=arrays["indptr"].astype(np.int64),
            neighbours=arrays["neighbours"].astype(np.int32),
            similarities=arrays["similarities"].astype(np.float64),
        )
        table.validate(self.n_items_)
        self.table_ = table


def _validated(values: dict[str, Any]) -> ItemCFConfig:
    """ItemCFConfig from constructor arguments; ConfigError names the bad parameter."""
    try:
        return ItemCFConfig(**values)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}, received {error['input']!r}"
            for error in exc.errors()
        )
        raise ConfigError(
            f"ItemCF parameters: {details}; hint: see ItemCFConfig for the allowed ranges"
        ) from None


def _truncate(table: NeighbourTable, k: int) -> NeighbourTable:
    """Keep at most the first ``k`` entries of every row."""
    counts = np.diff(table.indptr)
    if counts.max(initial=0) <= k:
        return table
    keep_counts = np.minimum(counts, k)
    rank = np.arange(table.neighbours.shape[0]) - np.repeat(table.indptr[:-1], counts)
    keep = rank < np.repeat(keep_counts, counts)
    indptr = np.zeros_like(table.indptr)
    np.cumsum(keep_counts, out=indptr[1:])
    return NeighbourTable(indptr, table.neighbours[keep], table.similarities[keep])


__all__ = ["ItemCF"]
