"""Learned fusion: hand-checked features, a clearly predictive feature, determinism."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recfusion.data import Candidates, Interactions
from recfusion.errors import InputError, NotFittedError
from recfusion.fusion import LearnedFusion
from recfusion.recall import SideInfo


def test_pair_features_known_answer():
    # Feature log: u0 saw 0 (t=10), 1 (t=20); u1 saw 1 (t=30), 2 (t=40). now 40, span 30.
    log = Interactions.from_arrays(
        np.array(["u0", "u1"], dtype=object), np.array(["i0", "i1", "i2", "i3"], dtype=object),
        users=[0, 0, 1, 1], items=[0, 1, 1, 2], timestamps=[10.0, 20.0, 30.0, 40.0],
    )
    genres = [["Comedy"], ["Drama", "Comedy"], ["Drama"], ["Horror"]]
    side = SideInfo(items=pl.DataFrame({"item_id": ["i0", "i1", "i2", "i3"], "genres": genres}))
    histories = log.histories(np.array([0]))
    channels = {
        "a": Candidates.from_dense(np.array([[2, 3]]), np.array([[5.0, 1.0]])),
        "b": Candidates.from_dense(np.array([[3]]), np.array([[2.0]])),
    }
    pairs = LearnedFusion().features(channels, histories, log, side)
    table = dict(zip(pairs.names, pairs.matrix.T))
    assert pairs.items.tolist() == [2, 3]
    expected = {
        "a_score": [1.0, 0.0], "a_rank": [0, 1], "a_raw": [5.0, 1.0],
        # b did not return item 2: score sentinel -1, rank sentinel 1e6, raw NaN.
        # b's single item is a constant row -> min-max 1.0.
        "b_score": [-1.0, 1.0], "b_rank": [1e6, 0], "b_raw": [np.nan, 2.0],
        "n_channels": [1, 2],
        # Distinct users: item 2 -> 1, item 3 -> 0; log1p of those.
        "item_popularity": [np.log(2.0), 0.0],
        # Item 2 first seen at 40 -> (40 - 40) / 30 = 0; item 3 never seen -> -1.
        "item_age": [0.0, -1.0],
        "user_activity": [2, 2],
        # Item 2 last seen 40, user's last event 20: (40 - 20) / 30; item 3 unknown -> NaN.
        "recency_gap": [2 / 3, np.nan],
        # History {0: Comedy, 1: Drama+Comedy}: item 2 (Drama) shares with 1 of 2;
        # item 3 (Horror) with none.
        "genre_affinity": [0.5, 0.0],
    }
    assert pairs.names == list(expected)
    for name, values in expected.items():
        np.testing.assert_allclose(table[name], values, rtol=1e-6, err_msg=name)


def synthetic(seed: int, n_rows: int = 150, n_items: int = 60):
    """Each row's target is the only item both channels return; positions are random."""
    rng = np.random.default_rng(seed)
    a_items, b_items, targets = [], [], []
    for _ in range(n_rows):
        picked = rng.choice(n_items, 9, replace=False)
        target = picked[0]
        a_items.append(rng.permutation(np.r_[target, picked[1:5]]))
        b_items.append(rng.permutation(np.r_[target, picked[5:9]]))
        targets.append(target)
    scores = np.tile(np.linspace(1.0, 0.2, 5), (n_rows, 1))
    channels = {
        "a": Candidates.from_dense(np.array(a_items), scores),
        "b": Candidates.from_dense(np.array(b_items), scores),
    }
    users = rng.integers(0, n_rows, 600)
    log = Interactions.from_arrays(
        np.array([f"u{i}" for i in range(n_rows)], dtype=object),
        np.array([f"i{i}" for i in range(n_items)], dtype=object),
        users=users, items=rng.integers(0, n_items, 600), timestamps=rng.random(600) * 100,
    )
    histories = log.histories()
    return channels, histories, log, np.arange(n_rows + 1), np.array(targets)


def test_ltr_learns_the_predictive_feature_and_ranks_targets_first():
    channels, histories, log, indptr, targets = synthetic(seed=0)
    model = LearnedFusion(n_estimators=30, num_leaves=7, min_child_samples=5)
    model.fit(channels, histories, log, indptr, targets)
    importances = model.feature_importances()
    assert importances["feature"][0] == "n_channels"
    # New rows (another seed): the target must come first in every row.
    test_channels, test_histories, test_log, _, test_targets = synthetic(seed=1)
    ranked = model.predict(test_channels, test_histories, test_log)
    top, _ = ranked.to_dense(1)
    assert np.mean(top[:, 0] == test_targets) == 1.0
    assert ranked.lengths().tolist() == [9] * len(test_targets)


def test_ltr_is_deterministic():
    channels, histories, log, indptr, targets = synthetic(seed=2, n_rows=60)
    runs = [
        LearnedFusion(n_estimators=10, num_leaves=7, min_child_samples=5)
        .fit(channels, histories, log, indptr, targets)
        .predict(channels, histories, log)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].items, runs[1].items)
    np.testing.assert_array_equal(runs[0].scores, runs[1].scores)


def test_ltr_errors():
    channels, histories, log, indptr, targets = synthetic(seed=3, n_rows=20)
    with pytest.raises(NotFittedError, match="not fitted"):
        LearnedFusion().predict(channels, histories, log)
    with pytest.raises(InputError, match="no validation target is among the candidates"):
        LearnedFusion().fit(channels, histories, log, np.zeros(21, dtype=np.int64), np.zeros(0))
    model = LearnedFusion(n_estimators=5, min_child_samples=2).fit(
        channels, histories, log, indptr, targets
    )
    with pytest.raises(InputError, match="differ from the channels it was trained on"):
        model.predict({"a": channels["a"]}, histories, log)


def test_ltr_save_and_load_round_trip(tmp_path):
    channels, histories, log, indptr, targets = synthetic(seed=4, n_rows=40)
    model = LearnedFusion(n_estimators=8, num_leaves=5, min_child_samples=3)
    model.fit(channels, histories, log, indptr, targets)
    model.save(tmp_path)
    loaded = LearnedFusion.load(tmp_path)
    before = model.predict(channels, histories, log)
    after = loaded.predict(channels, histories, log)
    np.testing.assert_array_equal(before.items, after.items)
    np.testing.assert_allclose(before.scores, after.scores)


def test_base_fusion_is_kept_when_trees_cannot_split():
    """With a base, the model only corrects the weighted fusion: no split, same ranking."""
    from recfusion.fusion import weighted_fusion

    channels, histories, log, indptr, targets = synthetic(seed=5, n_rows=30)
    weights = {"a": 0.7, "b": 0.2}
    # min_child_samples above the number of pairs forbids every split, so each tree is a
    # constant and prediction = base score + constant: the order of weighted_fusion.
    model = LearnedFusion(n_estimators=3, min_child_samples=10_000, base_weights=weights)
    ranked = model.fit(channels, histories, log, indptr, targets).predict(channels, histories, log)
    expected = weighted_fusion(channels, weights)
    np.testing.assert_array_equal(ranked.items, expected.items)
    np.testing.assert_array_equal(ranked.indptr, expected.indptr)


def test_early_stopping_is_deterministic_and_stops():
    channels, histories, log, indptr, targets = synthetic(seed=6, n_rows=80)
    runs = [
        LearnedFusion(n_estimators=200, num_leaves=7, min_child_samples=5,
                      early_stopping_share=0.25, seed=3)
        .fit(channels, histories, log, indptr, targets)
        for _ in range(2)
    ]
    # The held-out rows are already ranked perfectly after a few rounds, so patience
    # (20 rounds without gain) ends training long before 200 rounds.
    assert runs[0].booster_.current_iteration() < 200
    first, second = (m.predict(channels, histories, log) for m in runs)
    np.testing.assert_array_equal(first.scores, second.scores)


def test_learned_fuser_round_trip(tmp_path):
    from recfusion.fusion import LearnedFuser, load_fuser

    channels, histories, log, indptr, targets = synthetic(seed=7, n_rows=30)
    model = LearnedFusion(n_estimators=5, min_child_samples=3, base_weights={"a": 1.0})
    fuser = LearnedFuser(model.fit(channels, histories, log, indptr, targets), log)
    fuser.save(tmp_path)
    loaded = load_fuser(tmp_path, feature_log=log)
    np.testing.assert_array_equal(
        loaded(channels, histories).items, fuser(channels, histories).items
    )
