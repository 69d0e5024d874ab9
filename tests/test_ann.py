"""VectorIndex: exact and HNSW inner-product search over item vectors (FAISS)."""

from __future__ import annotations

import numpy as np
import pytest

from recfusion.errors import InputError
from recfusion.recall import VectorIndex
from recfusion.recall._embedding import l2_normalize


def _unit_rows(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    return l2_normalize(rng.standard_normal((rows, dim)).astype(np.float32))


def test_cosine_ordering_on_hand_made_vectors():
    # Unit vectors a = (1, 0), b = (1, 1)/sqrt(2), c = (0, 1); query q = (1, 0.2)/|.|.
    # cos(q, a) = 1/sqrt(1.04) = 0.9806; cos(q, b) = 1.2/(sqrt(2)*sqrt(1.04)) = 0.8321;
    # cos(q, c) = 0.2/sqrt(1.04) = 0.1961, so the order is a, b, c.
    vectors = l2_normalize(np.array([[1, 0], [1, 1], [0, 1]], dtype=np.float32))
    index = VectorIndex().build(vectors)
    query = l2_normalize(np.array([[1, 0.2]], dtype=np.float32))
    items, scores = index.search(query, 3)
    assert items.tolist() == [[0, 1, 2]]
    assert np.allclose(scores, [[0.9806, 0.8321, 0.1961]], atol=1e-4)


def test_ids_are_item_indices_and_masked_rows_are_skipped():
    vectors = np.eye(4, dtype=np.float32)
    index = VectorIndex().build(vectors, valid=np.array([True, False, True, True]))
    items, _ = index.search(vectors, 10)
    assert index.size == 3
    assert items.shape == (4, 3), "k larger than the index returns every indexed item"
    assert 1 not in items
    assert items[:, 0].tolist()[::2] == [0, 2], "each indexed item is its own best match"


@pytest.mark.parametrize("threshold", [10**6, 0], ids=["exact", "hnsw"])
def test_k_larger_than_index_never_returns_minus_one(threshold):
    # Regression: HNSW returns -1 padding when its graph walk finds fewer than k items
    # (a sparse graph, M=4, makes this certain); that padding must never reach a list.
    rng = np.random.default_rng(5)
    vectors = _unit_rows(rng, 300, 16)
    index = VectorIndex(exact_threshold=threshold, hnsw_m=4, ef_search=8).build(vectors)
    assert index.is_exact == (threshold > 0)
    items, scores = index.search(vectors[:20], 1000)
    assert items.shape == (20, 300)
    assert (items >= 0).all()
    assert all(len(set(row)) == 300 for row in items.tolist())
    assert (np.diff(scores, axis=1) <= 1e-6).all()


@pytest.mark.slow
def test_hnsw_recall_against_exact_on_50k_random_vectors():
    # 50,000 x 64 Gaussian vectors are a hard case for HNSW (no low-dimensional structure);
    # with the default M=32, efConstruction=80, efSearch=256 the top-10 overlap is ~0.98.
    rng = np.random.default_rng(2024)
    vectors = _unit_rows(rng, 50_000, 64)
    queries = _unit_rows(rng, 200, 64)
    exact = VectorIndex(exact_threshold=10**6).build(vectors)
    approximate = VectorIndex(exact_threshold=20_000).build(vectors)
    assert exact.is_exact and not approximate.is_exact
    truth, _ = exact.search(queries, 10)
    found, _ = approximate.search(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth.tolist(), found.tolist())])
    assert recall >= 0.95


@pytest.mark.parametrize("threshold", [10**6, 0], ids=["exact", "hnsw"])
def test_save_load_round_trip(tmp_path, threshold):
    rng = np.random.default_rng(9)
    vectors = _unit_rows(rng, 400, 12)
    valid = rng.random(400) > 0.2
    index = VectorIndex(exact_threshold=threshold).build(vectors, valid)
    path = index.save(tmp_path / "items.faiss")
    loaded = VectorIndex(exact_threshold=threshold).load(path)
    assert loaded.size == index.size and loaded.is_exact == index.is_exact
    before = index.search(vectors[:30], 15)
    after = loaded.search(vectors[:30], 15)
    assert np.array_equal(before[0], after[0])
    assert np.array_equal(before[1], after[1])
    ids, stored = loaded.vectors()
    assert np.array_equal(ids, np.flatnonzero(valid))
    assert np.allclose(stored, vectors[valid])


def test_empty_index_and_empty_queries():
    index = VectorIndex().build(np.ones((3, 4), dtype=np.float32), valid=np.zeros(3, bool))
    items, scores = index.search(np.ones((2, 4), dtype=np.float32), 5)
    assert items.shape == (2, 0) and scores.shape == (2, 0)
    built = VectorIndex().build(np.eye(3, dtype=np.float32))
    items, _ = built.search(np.zeros((0, 3), dtype=np.float32), 5)
    assert items.shape == (0, 0)


def test_errors_name_the_problem(tmp_path):
    index = VectorIndex().build(np.eye(3, dtype=np.float32))
    with pytest.raises(InputError, match=r"queries must have shape \(n_queries, 3\)"):
        index.search(np.ones((1, 4), dtype=np.float32), 2)
    with pytest.raises(InputError, match="does not exist"):
        VectorIndex().load(tmp_path / "missing.faiss")
    with pytest.raises(InputError, match="call build"):
        VectorIndex().search(np.ones((1, 3), dtype=np.float32), 1)
    with pytest.raises(InputError, match=r"shape \(n_items, dim\)"):
        VectorIndex().build(np.ones(5, dtype=np.float32))
