"""Popularity: distinct-user counts, windows, decay and seen filtering (known answers)."""

from __future__ import annotations

import numpy as np
import pytest

from recfusion.data import Histories, Interactions
from recfusion.recall import Popularity


@pytest.fixture
def log() -> Interactions:
    # item0: users 0,1,2 (user 0 twice) -> 3 distinct users; item1: users 0,1 -> 2;
    # item2: user 2 at t=100 -> 1; item3: nobody.
    return Interactions.from_arrays(
        np.array(["u0", "u1", "u2"]), np.array(["i0", "i1", "i2", "i3"]),
        users=[0, 0, 0, 1, 1, 2, 2],
        items=[0, 0, 1, 0, 1, 0, 2],
        timestamps=[1, 2, 3, 4, 5, 6, 100],
    )


def test_counts_distinct_users_not_rows(log):
    model = Popularity().fit(log)
    assert model.scores_.tolist() == [3.0, 2.0, 1.0, 0.0]


def test_window_counts_only_recent_interactions(log):
    # latest t = 100, window 95 keeps t >= 5: (u1,i1,5), (u2,i0,6), (u2,i2,100).
    model = Popularity(window=95).fit(log)
    assert model.scores_.tolist() == [1.0, 1.0, 1.0, 0.0]


def test_half_life_decays_each_users_latest_interaction(log):
    # age from t=100 of each (user, item) latest row, weight 0.5 ** (age / 47):
    # i0: u0 t=2 (age 98), u1 t=4 (96), u2 t=6 (94); i1: u0 t=3 (97), u1 t=5 (95); i2: age 0.
    model = Popularity(half_life=47.0).fit(log)
    expected_i0 = 0.5 ** (98 / 47) + 0.5 ** (96 / 47) + 0.5 ** (94 / 47)
    expected_i1 = 0.5 ** (97 / 47) + 0.5 ** (95 / 47)
    assert model.scores_[0] == pytest.approx(expected_i0, rel=1e-6)
    assert model.scores_[1] == pytest.approx(expected_i1, rel=1e-6)
    assert model.scores_[2] == pytest.approx(1.0)


def test_recommend_excludes_seen_and_never_returns_zero_popularity(log):
    model = Popularity().fit(log)
    cands = model.recommend(Histories.from_lists([[0], [], [0, 1, 2]]), n=3)
    assert cands.row(0)[0].tolist() == [1, 2]
    assert cands.row(1)[0].tolist() == [0, 1, 2]
    assert cands.row(2)[0].tolist() == []


def test_recommend_can_include_seen_items_when_asked(log):
    model = Popularity().fit(log)
    cands = model.recommend(Histories.from_lists([[0]]), n=2, exclude_seen=False)
    assert cands.row(0)[0].tolist() == [0, 1]


def test_matches_obvious_loop_on_random_logs_with_repeats():
    # Regression: the vectorised "first n unseen" must equal filtering the ranking by hand,
    # including histories with repeated items and items never interacted with.
    rng = np.random.default_rng(0)
    for _ in range(200):
        n_users, n_items = int(rng.integers(1, 8)), int(rng.integers(1, 12))
        rows = int(rng.integers(1, 40))
        log = Interactions.from_arrays(
            np.arange(n_users).astype(str), np.arange(n_items).astype(str),
            rng.integers(0, n_users, rows), rng.integers(0, n_items, rows),
        )
        model = Popularity().fit(log)
        n = int(rng.integers(1, 8))
        lists = [rng.choice(n_items, size=rng.integers(0, n_items + 1)).tolist() for _ in range(5)]
        cands = model.recommend(Histories.from_lists(lists), n)
        ranking = [i for i in model.ranking_.tolist() if model.scores_[i] > 0]
        for row, history in enumerate(lists):
            expected = [i for i in ranking if i not in set(history)][:n]
            assert cands.row(row)[0].tolist() == expected
