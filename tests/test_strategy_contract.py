"""One conformance suite run on every registered recall strategy.

Each strategy is built from its default config section and checked for the contract in
``recfusion.recall._base``: row count, distinct items, sorted finite scores, no seen items,
determinism, n larger than the catalogue, empty histories, save/load round trip.
"""

from __future__ import annotations

import typing

import numpy as np
import polars as pl
import pytest

from recfusion.config import StrategyConfig
from recfusion.data import Histories, Interactions
from recfusion.recall import STRATEGIES, SideInfo, Strategy, build_strategy

CONFIG_CLASSES = {
    cls.model_fields["kind"].default: cls
    for cls in typing.get_args(typing.get_args(StrategyConfig)[0])
}
GENRES = ["Action", "Comedy", "Drama", "Horror"]


def _random_log(seed: int = 3, n_users: int = 40, n_items: int = 30) -> Interactions:
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(n_users):
        cluster = user % 3
        chosen = rng.choice(np.arange(cluster, n_items, 3), size=rng.integers(3, 9), replace=False)
        users.extend([user] * chosen.shape[0])
        items.extend(chosen.tolist())
    timestamps = rng.uniform(0, 1e6, size=len(users))
    return Interactions.from_arrays(
        np.array([f"user-{u}" for u in range(n_users)], dtype=object),
        np.array([f"item-{i}" for i in range(n_items)], dtype=object),
        users, items, timestamps,
    )


def _side(log: Interactions) -> SideInfo:
    rng = np.random.default_rng(1)
    genres = [[GENRES[i % 4], GENRES[(i // 4) % 4]] for i in range(log.n_items)]
    items = pl.DataFrame({
        "item_id": log.item_ids.tolist(),
        "title": [f"Movie number {i}" for i in range(log.n_items)],
        "year": [1990 + i % 20 for i in range(log.n_items)],
        "genres": genres,
    })
    vectors = rng.normal(size=(log.n_items, 8)).astype(np.float32)
    return SideInfo(items=items, users=None, item_vectors=vectors)


def _strategy(kind: str) -> Strategy:
    if kind not in CONFIG_CLASSES:
        pytest.skip(f"strategy kind {kind!r} has no config section")
    return build_strategy(f"test-{kind}", CONFIG_CLASSES[kind]())


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[Strategy, Interactions]]:
    log = _random_log()
    side = _side(log)
    return {kind: (_strategy(kind).fit(log, side), log) for kind in sorted(STRATEGIES)}


@pytest.fixture(params=sorted(STRATEGIES))
def case(request, fitted):
    return fitted[request.param]


def _check_rows(histories: Histories, cands, n: int, exclude_seen: bool) -> None:
    assert cands.n_rows == histories.n_rows
    for row in range(cands.n_rows):
        items, scores = cands.row(row)
        assert len(items) <= n
        assert len(set(items.tolist())) == len(items), "items in a row must be distinct"
        assert np.all(np.isfinite(scores))
        assert np.all(np.diff(scores) <= 1e-6), "scores must be non-increasing"
        if exclude_seen:
            assert not set(items.tolist()) & set(histories.row(row).tolist())


def test_rows_are_distinct_sorted_and_unseen(case):
    strategy, log = case
    histories = log.histories()
    cands = strategy.recommend(histories, 10)
    _check_rows(histories, cands, 10, exclude_seen=True)
    assert cands.lengths().sum() > 0, "a fitted strategy must recommend something"


def test_deterministic(case):
    strategy, log = case
    first = strategy.recommend(log.histories(), 10)
    second = strategy.recommend(log.histories(), 10)
    assert np.array_equal(first.items, second.items)
    assert np.allclose(first.scores, second.scores)


def test_n_larger_than_catalogue(case):
    strategy, log = case
    histories = log.histories(np.arange(5, dtype=np.int32))
    cands = strategy.recommend(histories, log.n_items * 3)
    _check_rows(histories, cands, log.n_items * 3, exclude_seen=True)


def test_empty_history_rows_are_allowed(case):
    strategy, log = case
    histories = Histories.from_lists([[], [0, 3], []])
    cands = strategy.recommend(histories, 5)
    _check_rows(histories, cands, 5, exclude_seen=True)


def test_save_load_round_trip(case, tmp_path):
    strategy, log = case
    strategy.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pickle"))
    loaded = type(strategy).load(tmp_path)
    before = strategy.recommend(log.histories(), 10)
    after = loaded.recommend(log.histories(), 10)
    assert np.array_equal(before.items, after.items)
    assert np.allclose(before.scores, after.scores, atol=1e-6)


def test_unfitted_strategy_raises_clear_error():
    from recfusion.errors import NotFittedError

    strategy = _strategy("popularity")
    with pytest.raises(NotFittedError, match="not fitted"):
        strategy.recommend(Histories.from_lists([[0]]), 3)
