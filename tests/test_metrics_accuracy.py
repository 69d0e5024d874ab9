"""Accuracy metrics: cross-checked against ranx and against hand-worked answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recfusion.errors import InputError
from recfusion.evaluation import ACCURACY_METRICS, accuracy_per_user

ranx = pytest.importorskip("ranx")

# ranx calls these metrics by the same names as ACCURACY_METRICS ("ndcg@10", "map@10", ...).


def _csr(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(row) for row in rows], out=indptr[1:])
    items = np.array([item for row in rows for item in row], dtype=np.int64)
    return indptr, items


def _random_case(seed: int, k: int) -> tuple[np.ndarray, list[list[int]]]:
    """Random distinct lists (some short or empty) and truths (some with duplicates)."""
    rng = np.random.default_rng(seed)
    n_users, n_items, width = 60, 25, k + 3
    recommended = np.full((n_users, width), -1, dtype=np.int64)
    truths = []
    for user in range(n_users):
        length = int(rng.integers(0, width + 1))
        recommended[user, :length] = rng.permutation(n_items)[:length]
        truth = rng.choice(n_items, size=int(rng.integers(1, 14)), replace=False).tolist()
        if rng.random() < 0.3:
            truth += truth[:2]  # duplicated held-out items must count once
        truths.append(truth)
    return recommended, truths


def _ranx_per_user(recommended, truths, k) -> dict[str, np.ndarray]:
    """ranx scores per user; ranx orders by score, so scores fall strictly with position."""
    qrels = ranx.Qrels(
        {f"u{u}": {f"i{item}": 1 for item in truth} for u, truth in enumerate(truths)}
    )
    run = ranx.Run(
        {
            f"u{u}": {f"i{item}": float(100 - pos) for pos, item in enumerate(row) if item >= 0}
            for u, row in enumerate(recommended)
        }
    )
    ranx.evaluate(qrels, run, [f"{m}@{k}" for m in ACCURACY_METRICS], make_comparable=True)
    users = [f"u{u}" for u in range(len(truths))]
    return {m: np.array([run.scores[f"{m}@{k}"][u] for u in users]) for m in ACCURACY_METRICS}


@pytest.mark.parametrize("k", [1, 3, 5, 10])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_accuracy_metric_matches_ranx(seed: int, k: int) -> None:
    recommended, truths = _random_case(seed, k)
    indptr, items = _csr(truths)
    ours = accuracy_per_user(recommended, indptr, items, k)
    theirs = _ranx_per_user(recommended, truths, k)
    n_relevant = np.array([len(set(truth)) for truth in truths], dtype=np.float64)
    # ranx's AP divides by n_relevant, ours by min(k, n_relevant): rescale ranx's value.
    theirs["map"] = theirs["map"] * n_relevant / np.minimum(k, n_relevant)
    # ranx's NDCG (Jarvelin form, gain = rel) equals ours for binary relevance; its ideal
    # list is the held-out items cut at k, as ours.
    for metric in ACCURACY_METRICS:
        np.testing.assert_allclose(ours[metric], theirs[metric], rtol=0, atol=1e-9, err_msg=metric)


def test_map_equals_ranx_without_rescaling_when_few_relevant_items() -> None:
    # With n_relevant <= k the two AP normalisations are the same number.
    recommended = np.array([[4, 2, 9, 1, 0]])
    indptr, items = _csr([[2, 1]])
    ours = accuracy_per_user(recommended, indptr, items, 5)["map"]
    theirs = _ranx_per_user(recommended, [[2, 1]], 5)["map"]
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_hand_worked_example_with_duplicate_truth_and_empty_slot() -> None:
    # List [3, 1, 7, empty], truth {1, 7, 8} given as [1, 7, 8, 8]; k = 4.
    # Hits at positions 2 and 3; n_relevant = 3 (the duplicate 8 counts once).
    recommended = np.array([[3, 1, 7, -1]])
    indptr, items = _csr([[1, 7, 8, 8]])
    got = accuracy_per_user(recommended, indptr, items, 4)
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # min(k=4, 3) = 3 ideal positions
    expected = {
        "recall": 2 / 3,
        "precision": 2 / 4,  # divides by k, not by the 3 filled slots
        "hit_rate": 1.0,
        "ndcg": dcg / idcg,
        "mrr": 1 / 2,
        "map": (1 / 2 + 2 / 3) / 3,  # precision at hits 2 and 3, over min(4, 3)
    }
    for metric, value in expected.items():
        assert got[metric][0] == pytest.approx(value, abs=1e-12), metric


def test_repeated_recommended_item_counts_once() -> None:
    # Fault guarded: a list repeating a relevant item must not earn it twice.
    # [1, 1, 2] with truth {1}, k = 3: one hit at position 1.
    indptr, items = _csr([[1]])
    got = accuracy_per_user(np.array([[1, 1, 2]]), indptr, items, 3)
    assert got["precision"][0] == pytest.approx(1 / 3)
    assert got["recall"][0] == 1.0
    assert got["ndcg"][0] == pytest.approx(1.0)
    assert got["map"][0] == pytest.approx(1.0)


def test_empty_list_scores_zero_and_user_without_truth_is_nan() -> None:
    recommended = np.array([[-1, -1], [5, 6]])
    indptr, items = _csr([[5], []])
    got = accuracy_per_user(recommended, indptr, items, 2)
    for metric in ACCURACY_METRICS:
        assert got[metric][0] == 0.0, metric
        assert np.isnan(got[metric][1]), metric


def test_k_larger_than_list_width_pads_with_misses() -> None:
    # Width 2, k = 5: hit at position 2; precision 1/5; AP = (1/2) / min(5, 1).
    indptr, items = _csr([[9]])
    got = accuracy_per_user(np.array([[4, 9]]), indptr, items, 5)
    assert got["precision"][0] == pytest.approx(1 / 5)
    assert got["map"][0] == pytest.approx(1 / 2)
    assert got["ndcg"][0] == pytest.approx(1 / math.log2(3))


def test_k_below_one_is_rejected() -> None:
    indptr, items = _csr([[1]])
    with pytest.raises(InputError, match="k must be >= 1"):
        accuracy_per_user(np.array([[1]]), indptr, items, 0)
