"""ItemCF strategy: hand-worked answers, plain cosine against implicit, and the public API."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recfusion.config import ItemCFConfig
from recfusion.data import Histories, Interactions
from recfusion.errors import ConfigError, InputError, NotFittedError
from recfusion.recall import STRATEGIES, ItemCF, build_strategy
from recfusion.recall._itemcf_kernel import NeighbourTable

A, B, C, D, E = range(5)
PLAIN = dict(
    forward_weight=1.0, backward_weight=1.0, position_decay=1.0, time_decay=0.0,
    user_damping=False, window=None, max_pairs_window=None, recency_decay=1.0,
    recent_items=10**6,
)


def _sims(model: ItemCF, n_items: int) -> np.ndarray:
    """Dense sim matrix of a fitted model (0 where no neighbour is kept)."""
    dense = np.zeros((n_items, n_items))
    for item in range(n_items):
        ids, sims = model.similar_items(item, n_items)
        dense[item, ids] = sims
    return dense


def test_known_answer_on_three_users(toy_log):
    # The toy log (tests/conftest.py), oldest first:
    #   u1: a@10  b@20  c@30      u2: b@5  c@15  d@25      u3: a@100  d@200  e@300
    # span = 300 - 5 = 295; time_decay = 29.5 ln 2 makes time = 2 ** (-gap / 10):
    #   gap 10 -> 1/2, gap 20 -> 1/4, gap 100 -> 2^-10, gap 200 -> 2^-20.
    # Every user has L = 3, so damp = D = 1 / ln 4. position_decay 0.5: pos(1) = 1, pos(2) = 1/2.
    # forward 1, backward 1/2. Pair weights w = dir * pos * time * D:
    #   u1 a->b 1*1*1/2 = 1/2 D   b->a 1/4 D   a->c 1*1/2*1/4 = 1/8 D   c->a 1/16 D
    #      b->c 1/2 D             c->b 1/4 D
    #   u2 b->c 1/2 D  c->b 1/4 D  b->d 1/8 D  d->b 1/16 D  c->d 1/2 D  d->c 1/4 D
    #   u3 a->d 2^-10 D  d->a 2^-11 D  a->e 1/2 * 2^-20 D = 2^-21 D  e->a 2^-22 D
    #      d->e 2^-10 D  e->d 2^-11 D
    # n_a = n_b = n_c = n_d = 2, n_e = 1: divide by 2 among a..d, by sqrt(2) with e.
    model = ItemCF(
        forward_weight=1.0, backward_weight=0.5, position_decay=0.5,
        time_decay=29.5 * math.log(2), user_damping=True, window=None, neighbours=10,
    ).fit(toy_log)
    d = 1 / math.log(4)
    root2 = math.sqrt(2)
    expected = np.zeros((5, 5))
    expected[A, [B, C, D, E]] = [d / 4, d / 16, d / 2**11, d / 2**21 / root2]
    expected[B, [A, C, D]] = [d / 8, d / 2, d / 16]       # b->c = (1/2 + 1/2) D / 2
    expected[C, [A, B, D]] = [d / 32, d / 4, d / 4]       # c->b = (1/4 + 1/4) D / 2
    expected[D, [A, B, C, E]] = [d / 2**12, d / 32, d / 8, d / 2**10 / root2]
    expected[E, [A, D]] = [d / 2**22 / root2, d / 2**11 / root2]
    np.testing.assert_allclose(_sims(model, 5), expected, rtol=1e-12, atol=0)
    # c's neighbours b and d tie at D/4: the lower index (b) comes first.
    assert model.similar_items(C, 3)[0].tolist() == [B, D, A]
    # Scoring [a, b] (b latest) with recency 0.5: c = sim(b,c) + 0.5 sim(a,c) = D/2 + D/32,
    # d = D/16 + 0.5 * D/2^11, e = 0.5 * D/2^21/sqrt(2); a and b are seen.
    model.config.recency_decay = 0.5
    items, scores = model.recommend(Histories.from_lists([[A, B]]), 5).row(0)
    assert items.tolist() == [C, D, E]
    want = [d / 2 + d / 32, d / 16 + d / 2**12, d / 2**22 / root2]
    np.testing.assert_allclose(scores, want, rtol=1e-6)


def test_dedup_keeps_latest_occurrence_and_damps_by_distinct_length():
    # One user: a@1, b@2, a@3 -> deduplicated b@2, a@3 (L = 2, damp = 1/ln 3).
    # span = 2, time_decay = 2 ln 2 gives time = 2 ** (-gap) = 1/2 for the gap of 1.
    # b->a is forward: 1 * 1 * 1/2 / ln 3; a->b backward: 0.25 * 1/2 / ln 3; n_a = n_b = 1.
    # Keeping the first a instead would swap the two values (fault this test guards).
    log = Interactions.from_arrays(
        np.array(["u"], dtype=object), np.array(["a", "b"], dtype=object),
        users=[0, 0, 0], items=[A, B, A], timestamps=[1.0, 2.0, 3.0],
    )
    model = ItemCF(
        forward_weight=1.0, backward_weight=0.25, position_decay=0.5,
        time_decay=2 * math.log(2), user_damping=True,
    ).fit(log)
    assert model.similar_items(B, 5)[1] == pytest.approx([0.5 / math.log(3)], rel=1e-12)
    assert model.similar_items(A, 5)[1] == pytest.approx([0.125 / math.log(3)], rel=1e-12)


def test_all_factors_off_is_cosine(toy_log):
    # Co-occurrence counts / sqrt(n_i n_j): b,c share u1 and u2 -> 2 / sqrt(2 * 2) = 1;
    # a,b share u1 -> 1/2; a,e share u3 -> 1 / sqrt(2 * 1); b,e share nobody -> 0.
    sims = _sims(ItemCF(**PLAIN).fit(toy_log), 5)
    assert sims[B, C] == sims[C, B] == pytest.approx(1.0)
    assert sims[A, B] == pytest.approx(0.5)
    assert sims[A, E] == pytest.approx(1 / math.sqrt(2))
    assert sims[B, E] == 0.0
    np.testing.assert_allclose(sims, sims.T)


def test_window_drops_far_pairs(toy_log):
    # With window 1, a and c (two apart in u1) are no longer neighbours; a,b still are.
    sims = _sims(ItemCF(**{**PLAIN, "window": 1}).fit(toy_log), 5)
    assert sims[A, C] == 0.0 and sims[A, B] == pytest.approx(0.5)


def _binary_log(seed: int, n_users: int = 60, n_items: int = 40) -> Interactions:
    rng = np.random.default_rng(seed)
    matrix = rng.random((n_users, n_items)) < 0.15
    users, items = np.nonzero(matrix)
    order = rng.permutation(users.shape[0])
    return Interactions.from_arrays(
        np.array([f"u{u}" for u in range(n_users)], dtype=object),
        np.array([f"i{i}" for i in range(n_items)], dtype=object),
        users[order], items[order], rng.uniform(0, 1e6, size=users.shape[0]),
    )


@pytest.mark.filterwarnings("ignore:Method expects CSR input")
def test_plain_mode_matches_implicit_cosine():
    from implicit.nearest_neighbours import CosineRecommender

    log = _binary_log(7)
    n_items = log.n_items
    user_items = sp.csr_matrix(log.binary_matrix(), dtype=np.float64)
    peer = CosineRecommender(K=n_items, num_threads=1)
    peer.fit(user_items, show_progress=False)
    with_self = sp.csr_matrix(peer.similarity).toarray()
    peer_sims = with_self.copy()
    np.fill_diagonal(peer_sims, 0.0)
    model = ItemCF(**PLAIN, neighbours=n_items).fit(log)
    np.testing.assert_allclose(_sims(model, n_items), peer_sims, atol=1e-9)

    users = np.arange(log.n_users)
    peer_items, peer_scores = peer.recommend(users, user_items, N=10)
    ours = model.recommend(log.histories(), 10)
    dense_peer = user_items.toarray() @ with_self
    for user in users:
        items, scores = ours.row(user)
        positive = peer_scores[user] > 0
        np.testing.assert_allclose(scores, peer_scores[user][positive], rtol=1e-5)
        np.testing.assert_allclose(scores, dense_peer[user, items], rtol=1e-5)
        if len(set(np.round(scores, 5))) == len(scores):
            assert items.tolist() == peer_items[user][positive].tolist()


def test_registry_and_config_round_trip(tmp_path, toy_log):
    assert STRATEGIES["itemcf"] is ItemCF
    model = build_strategy("icf", ItemCFConfig(neighbours=3, window=2))
    assert model.name == "icf" and model.params()["neighbours"] == 3
    model.fit(toy_log)
    model.save(tmp_path)
    loaded = ItemCF.load(tmp_path)
    assert loaded.params() == model.params()
    assert np.array_equal(loaded.table_.neighbours, model.table_.neighbours)


def test_fit_from_table_uses_supplied_neighbours():
    table = NeighbourTable.from_triples([0, 0, 1], [1, 2, 2], [0.9, 0.3, 0.5], n_items=3, k=5)
    model = ItemCF(neighbours=1, recency_decay=1.0).fit_from_table(table, 3)
    # neighbours=1 cuts item 0's row to its best entry (1, 0.9).
    assert model.similar_items(0, 5)[0].tolist() == [1]
    items, scores = model.recommend(Histories.from_lists([[0]]), 5).row(0)
    assert items.tolist() == [1] and scores[0] == pytest.approx(0.9)


def test_errors_name_the_problem(toy_log):
    with pytest.raises(ConfigError, match="position_decay"):
        ItemCF(position_decay=0.0)
    with pytest.raises(NotFittedError, match="not fitted"):
        ItemCF().recommend(Histories.from_lists([[0]]), 3)
    model = ItemCF().fit(toy_log)
    with pytest.raises(InputError, match="histories.items"):
        model.recommend(Histories.from_lists([[7]]), 3)
    with pytest.raises(InputError, match="item_index"):
        model.similar_items(5, 3)
    bad = NeighbourTable(np.array([0, 1]), np.array([3], np.int32), np.array([0.5]))
    with pytest.raises(InputError, match="neighbour indices"):
        model.fit_from_table(bad, 1)
    unsorted = NeighbourTable(np.array([0, 2, 2]), np.array([1, 1], np.int32),
                              np.array([0.2, 0.5]))
    with pytest.raises(InputError, match="must not increase"):
        model.fit_from_table(unsorted, 2)
