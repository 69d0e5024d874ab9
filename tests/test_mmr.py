"""Known-answer tests of MMR re-ranking and the diversity metrics used by its curve."""

from __future__ import annotations

import numpy as np
import pytest

from recfusion.data import Candidates
from recfusion.errors import InputError
from recfusion.fusion import ItemSimilarity, diversity_curve, mmr_rerank

# Items 0 and 1 share category "a"; item 2 is "b"; item 3 is "a" and "b".
CATEGORIES = np.array([[1, 0], [1, 0], [0, 1], [1, 1]])


def one_row(items: list[int], scores: list[float]) -> Candidates:
    return Candidates.from_dense(np.array([items]), np.array([scores]))


def test_mmr_known_answer_with_categories():
    row = one_row([0, 1, 2], [3.0, 2.0, 1.0])  # relevance (minmax) 1, .5, 0
    similarity = ItemSimilarity(categories=CATEGORIES)
    out = mmr_rerank(row, similarity, lam=0.5, k=3)
    # Step 1: .5*1 = .5, .5*.5 = .25, 0 -> pick 0.
    # Step 2: item 1: .25 - .5*J(1,0)=1 -> -.25; item 2: 0 - .5*0 = 0 -> pick 2.
    # Step 3: item 1: .25 - .5*max(1, 0) = -.25.
    assert out.row(0)[0].tolist() == [0, 2, 1]
    np.testing.assert_array_equal(out.row(0)[1], [3, 2, 1])  # row length - position


def test_mmr_lambda_one_keeps_order_and_vectors_match_categories():
    row = one_row([0, 1, 2], [3.0, 2.0, 1.0])
    vectors = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert mmr_rerank(row, ItemSimilarity(vectors=vectors), 1.0, 3).row(0)[0].tolist() == [0, 1, 2]
    # Cosine(0, 1) = 1 and cosine(0, 2) = 0, as Jaccard above, so the same order follows.
    assert mmr_rerank(row, ItemSimilarity(vectors=vectors), 0.5, 2).row(0)[0].tolist() == [0, 2]


def test_mmr_jaccard_partial_overlap():
    row = one_row([0, 3, 2], [1.0, 1.0, 1.0])  # all relevance 1
    out = mmr_rerank(row, ItemSimilarity(categories=CATEGORIES), 0.0, 3)
    # lam 0: step 1 all 0 -> first position (item 0). J(3,0) = 1/2, J(2,0) = 0 -> pick 2.
    # Step 3: item 3: -max(1/2, J(3,2) = 1/2) = -.5.
    assert out.row(0)[0].tolist() == [0, 2, 3]


def test_mmr_handles_short_and_empty_rows_and_bad_lambda():
    c = Candidates.from_dense(np.array([[1, -1], [-1, -1]]), np.array([[1.0, 0], [0, 0]]))
    out = mmr_rerank(c, ItemSimilarity(categories=CATEGORIES), 0.3, 5)
    assert out.lengths().tolist() == [1, 0]
    with pytest.raises(InputError, match="'lam' must be in \\[0, 1\\]"):
        mmr_rerank(c, ItemSimilarity(categories=CATEGORIES), 1.5, 5)
    with pytest.raises(InputError, match="exactly one of"):
        ItemSimilarity()


def naive_mmr(items, scores, unit, lam, k):
    """Plain-Python MMR with cosine similarity, written independently of the kernel."""
    low, high = min(scores), max(scores)
    relevance = [(s - low) / (high - low) if high > low else 1.0 for s in scores]
    chosen: list[int] = []
    while len(chosen) < min(k, len(items)):
        def value(j):
            penalty = max((float(unit[items[j]] @ unit[items[c]]) for c in chosen), default=0.0)
            return lam * relevance[j] - (1 - lam) * penalty
        rest = [j for j in range(len(items)) if j not in chosen]
        chosen.append(max(rest, key=lambda j: (value(j), -j)))
    return [items[j] for j in chosen]


def test_mmr_kernel_matches_naive_implementation():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(40, 5))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    items = np.stack([rng.permutation(40)[:12] for _ in range(25)])
    scores = np.sort(rng.random((25, 12)), axis=1)[:, ::-1]
    candidates = Candidates.from_dense(items, scores)
    similarity = ItemSimilarity(vectors=vectors)
    for lam in (0.0, 0.3, 0.7, 1.0):
        out = mmr_rerank(candidates, similarity, lam, 6)
        for r in range(25):
            expected = naive_mmr(items[r].tolist(), scores[r].tolist(), unit, lam, 6)
            assert out.row(r)[0].tolist() == expected


def test_diversity_curve_trades_accuracy_for_diversity():
    # Row relevance favours two items of category a; the truth is the top item.
    row = one_row([0, 1, 2], [3.0, 2.0, 1.0])
    curve = diversity_curve(row, np.array([0, 1]), np.array([0]),
                            ItemSimilarity(categories=CATEGORIES), [1.0, 0.2], k=2)
    # lam 1 -> [0, 1], ILD = 1 - J(0,1) = 0; lam .2 -> [0, 2], ILD = 1. NDCG stays 1.
    assert curve["diversity"].to_list() == [0.0, 1.0]
    assert curve["ndcg"].to_list() == [1.0, 1.0]
    assert curve["coverage"].to_list() == [0.5, 0.5]
