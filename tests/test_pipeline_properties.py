"""Property tests of the fused pipeline over random small logs (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recfusion.config import parse_config
from recfusion.data import Interactions
from recfusion.fusion._fuser import ScoreFuser
from recfusion.pipeline import Recommender, fit_filler, fit_strategies
from recfusion.recall import SideInfo

CONFIG = parse_config({
    "data": {"dataset": "movielens-100k"},
    "strategies": {"popularity": {"kind": "popularity"}, "itemcf": {"kind": "itemcf"}},
})

rows = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 9)), min_size=1, max_size=40, unique=True
)


def _log(pairs: list[tuple[int, int]], order: np.ndarray) -> Interactions:
    # Distinct timestamps, so the only tie-breaking rule (input order) never applies.
    stamps = np.arange(len(pairs), dtype=np.float64) * 7.0
    users = np.array([pairs[i][0] for i in order])
    items = np.array([pairs[i][1] for i in order])
    return Interactions.from_arrays(
        np.array([f"u{i}" for i in range(7)], dtype=object),
        np.array([f"i{i}" for i in range(10)], dtype=object),
        users, items, stamps[order],
    )


def _fused_lists(log: Interactions, k: int) -> list[list[int]]:
    strategies, _ = fit_strategies(CONFIG, log, SideInfo())
    model = Recommender(
        strategies=strategies, filler=fit_filler(log), fuser=ScoreFuser(),
        candidates={name: 20 for name in strategies},
    )
    lists = model.recommend(log.histories(), k)
    return [lists.row(r)[0].tolist() for r in range(lists.n_rows)]


@settings(max_examples=40, deadline=None)
@given(pairs=rows, k=st.integers(1, 12), seed=st.integers(0, 1000))
def test_lists_are_distinct_unseen_full_and_independent_of_row_order(pairs, k, seed):
    forward = _log(pairs, np.arange(len(pairs)))
    shuffled = _log(pairs, np.random.default_rng(seed).permutation(len(pairs)))
    first, second = _fused_lists(forward, k), _fused_lists(shuffled, k)
    assert first == second
    for user, items in enumerate(first):
        seen = set(forward.histories().row(user).tolist())
        assert len(items) == len(set(items))
        assert not set(items) & seen
        # Padding reaches every unseen catalogue item when the fused lists run short.
        assert len(items) == min(k, forward.n_items - len(seen))
        assert set(items) <= set(range(forward.n_items))
