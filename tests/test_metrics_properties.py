"""Property tests: bounded metrics stay in their range on random small inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recfusion.data import Candidates, Interactions
from recfusion.evaluation import (
    ACCURACY_METRICS,
    CatalogueStats,
    accuracy_per_user,
    coverage,
    evaluate,
    exposure,
    gini,
    personalisation,
)
from recfusion.evaluation._beyond import intra_list_diversity, mean_item_value, unit_vectors


@st.composite
def cases(draw):
    """Lists with repeats, empty slots and out-of-catalogue items; truths with duplicates."""
    n_items = draw(st.integers(1, 8))
    n_users = draw(st.integers(1, 6))
    width = draw(st.integers(1, 5))
    cells = st.integers(-2, n_items + 1)
    recommended = np.array(
        draw(st.lists(st.lists(cells, min_size=width, max_size=width), min_size=n_users,
                      max_size=n_users))
    )
    truths = draw(
        st.lists(st.lists(st.integers(0, n_items - 1), max_size=6), min_size=n_users,
                 max_size=n_users)
    )
    counts = np.array(draw(st.lists(st.integers(0, 5), min_size=n_items, max_size=n_items)))
    return recommended, truths, counts, draw(st.integers(1, 6))


def _in_unit_interval(value) -> bool:
    value = np.asarray(value, dtype=float)
    finite = value[~np.isnan(value)]
    return bool(((finite >= -1e-12) & (finite <= 1 + 1e-12)).all())


@settings(max_examples=200, deadline=None)
@given(cases())
def test_accuracy_metrics_lie_in_unit_interval(case) -> None:
    recommended, truths, _, k = case
    indptr = np.concatenate(([0], np.cumsum([len(t) for t in truths]))).astype(np.int64)
    items = np.array([i for t in truths for i in t], dtype=np.int64)
    got = accuracy_per_user(recommended, indptr, items, k)
    has_truth = np.array([len(t) > 0 for t in truths])
    for metric in ACCURACY_METRICS:
        assert _in_unit_interval(got[metric]), metric
        assert not np.isnan(got[metric][has_truth]).any(), metric
        assert np.isnan(got[metric][~has_truth]).all(), metric


@settings(max_examples=200, deadline=None)
@given(cases())
def test_beyond_accuracy_metrics_stay_in_range(case) -> None:
    recommended, _, counts, _ = case
    n_items = counts.shape[0]
    stats = CatalogueStats.from_counts(counts, n_train_users=int(counts.max(initial=0)) + 1)
    assert _in_unit_interval(coverage(recommended, n_items))
    assert _in_unit_interval(gini(exposure(recommended, n_items)))
    assert _in_unit_interval(personalisation(recommended, n_items))
    assert _in_unit_interval(mean_item_value(recommended, stats.popularity))
    assert _in_unit_interval(mean_item_value(recommended, stats.long_tail.astype(float)))
    novelty = mean_item_value(recommended, stats.self_information)
    assert (novelty[~np.isnan(novelty)] >= 0).all()  # self-information is never negative
    categories = (np.arange(n_items)[:, None] + np.arange(3)[None, :]) % 4 == 0
    assert _in_unit_interval(intra_list_diversity(recommended, categories, "category"))
    vectors = unit_vectors(np.sin(np.arange(n_items * 3, dtype=float)).reshape(n_items, 3))
    spread = intra_list_diversity(recommended, vectors, "embedding")
    assert _in_unit_interval(spread / 2)  # 1 - cosine lies in [0, 2]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=6, unique=True), st.integers(0, 3))
def test_a_perfect_ranking_scores_one(truth, extra) -> None:
    # The held-out items first (then filler): every metric is 1 when k >= n_relevant.
    k = len(truth) + extra
    filler = [i for i in range(30, 30 + extra)]
    recommended = np.array([truth + filler])
    got = accuracy_per_user(recommended, np.array([0, len(truth)]), np.array(truth), k)
    for metric in ("recall", "hit_rate", "ndcg", "mrr", "map"):
        assert got[metric][0] == 1.0 or abs(got[metric][0] - 1.0) < 1e-12, metric


UNBOUNDED = {"novelty"}  # bits; every other metric row lies in [0, 1] (embedding: [0, 2])


@settings(max_examples=40, deadline=None)
@given(cases(), st.integers(0, 2**31 - 1))
def test_every_table_row_stays_in_range(case, seed) -> None:
    recommended, truths, counts, k = case
    n_users, n_items = recommended.shape[0], counts.shape[0]
    ids = np.array([f"u{u}" for u in range(n_users)], dtype=object)
    item_ids = np.array([f"i{i}" for i in range(n_items)], dtype=object)
    train_pairs = [(u, i) for u in range(n_users) for i in range(n_items) if (u + i) % 3 == 0]
    train = Interactions.from_arrays(ids, item_ids, *zip(*train_pairs))
    test_pairs = [(u, i) for u, t in enumerate(truths) for i in t]
    test = Interactions.from_arrays(
        ids, item_ids, [u for u, _ in test_pairs], [i for _, i in test_pairs]
    )
    # Kept as drawn: repeats and out-of-catalogue items must be ignored, not crash.
    lists = Candidates.from_dense(recommended, np.zeros(recommended.shape))
    vectors = np.cos(np.arange(n_items * 2, dtype=float)).reshape(n_items, 2)
    result = evaluate(
        {"s": lists}, np.arange(n_users), train, test, [k],
        item_vectors=vectors, n_bootstrap=5, seed=seed,
    )
    for row in result.table.iter_rows(named=True):
        scale = 2.0 if row["metric"] == "diversity_embedding" else 1.0
        for column in ("value", "ci_low", "ci_high"):
            if row[column] is not None and row["metric"] not in UNBOUNDED:
                assert -1e-12 <= row[column] / scale <= 1 + 1e-12, (row, column)
