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
