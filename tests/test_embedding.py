"""Vector strategies: queries, exclusion, similar items, cold-start items, persistence."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recfusion.data import Histories, Interactions
from recfusion.errors import InputError
from recfusion.recall import (
    ALS,
    Item2Vec,
    MetadataVectors,
    SideInfo,
    SuppliedVectors,
    cold_start_items,
    count_cold_start,
)
from recfusion.recall._content import metadata_vectors, tfidf_matrix

SQRT_HALF = np.sqrt(0.5)


def _log(rows: list[tuple[int, int]], n_users: int, n_items: int) -> Interactions:
    users, items = zip(*rows)
    return Interactions.from_arrays(
        np.array([f"u{u}" for u in range(n_users)], dtype=object),
        np.array([f"i{i}" for i in range(n_items)], dtype=object),
        users=list(users), items=list(items),
    )


def _random_log(seed: int = 0, n_users: int = 60, n_items: int = 40) -> Interactions:
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        group = user % 4
        pool = np.arange(group, n_items, 4)
        rows += [(user, int(i)) for i in rng.choice(pool, size=rng.integers(3, 8), replace=False)]
    return _log(rows, n_users, n_items)


def _supplied(vectors: np.ndarray, **params) -> SuppliedVectors:
    """A SuppliedVectors channel fitted on a one-row log over len(vectors) items."""
    log = _log([(0, 0)], 1, vectors.shape[0])
    side = SideInfo(item_vectors=np.asarray(vectors, dtype=np.float32))
    return SuppliedVectors(**params).fit(log, side)


HAND_VECTORS = np.array(
    [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [np.nan, np.nan, np.nan]], dtype=np.float32
)


def test_query_is_recency_weighted_mean_and_ranking_is_cosine():
    strategy = _supplied(HAND_VECTORS, recency_decay=0.5)
    # History [0, 1]: item 1 is newest (weight 1), item 0 one step back (weight 0.5).
    # q = (0.5, 1, 0) / sqrt(1.25) = (0.4472, 0.8944, 0).
    query = strategy.query_vectors(Histories.from_lists([[0, 1]]))
    assert np.allclose(query, [[0.4472, 0.8944, 0.0]], atol=1e-4)
    # Unseen items: 3 = (1,1,0)/sqrt(2) with cos = 1.5 / (sqrt(1.25) sqrt(2)) = 0.9487,
    # 2 with cos 0; item 4 has no vector and is never recommended.
    cands = strategy.recommend(Histories.from_lists([[0, 1]]), 5)
    items, scores = cands.row(0)
    assert items.tolist() == [3, 2]
    assert np.allclose(scores, [0.9487, 0.0], atol=1e-4)


def test_query_uses_last_items_that_have_a_vector():
    strategy = _supplied(HAND_VECTORS, recent_items=1)
    # Item 4 has no vector, so the one recent item used is item 1: q = (0, 1, 0);
    # cos(q, item 3) = 0.7071 beats cos(q, item 2) = 0 (item 0 is seen).
    cands = strategy.recommend(Histories.from_lists([[0, 1, 4]]), 5)
    items, scores = cands.row(0)
    assert items.tolist() == [3, 2]
    assert np.isclose(scores[0], SQRT_HALF, atol=1e-5)
    empty = strategy.recommend(Histories.from_lists([[4], []]), 5)
    assert empty.lengths().tolist() == [0, 0], "rows with no usable vector are empty"


def test_similar_items_exclude_the_item_itself():
    strategy = _supplied(HAND_VECTORS)
    # Item 3 = (1,1,0)/sqrt(2): cos with items 0 and 1 is 0.7071 (tie, lower index first),
    # with item 2 it is 0; item 3 itself (cos 1) must not appear.
    cands = strategy.similar_items(np.array([3, 0, 4]), 3)
    assert cands.row(0)[0].tolist() == [0, 1, 2]
    assert np.allclose(cands.row(0)[1], [SQRT_HALF, SQRT_HALF, 0.0], atol=1e-5)
    assert cands.row(1)[0].tolist() == [3, 1, 2]
    assert cands.lengths()[2] == 0, "an item without a vector has no similar items"


def test_lists_are_full_after_removing_many_seen_items():
    # Guards the "query n + len(history) then filter" rule: the five items nearest to the
    # query are all seen, yet n = 5 unseen items must still come back.
    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((12, 6)).astype(np.float32)
    strategy = _supplied(vectors, recent_items=1)
    order = strategy.similar_items(0, 11).row(0)[0]
    history = [*order[:5].tolist(), 0]
    items, _ = strategy.recommend(Histories.from_lists([history]), 5).row(0)
    assert len(items) == 5 and not set(items.tolist()) & set(history)


def test_row_answer_does_not_depend_on_the_batch():
    strategy = _supplied(np.random.default_rng(1).standard_normal((30, 5)))
    histories = [[1, 2], [3, 4, 5, 6, 7, 8, 9, 10, 11], [12]]
    batch = strategy.recommend(Histories.from_lists(histories), 6)
    for row, history in enumerate(histories):
        alone = strategy.recommend(Histories.from_lists([history]), 6)
        assert np.array_equal(alone.row(0)[0], batch.row(row)[0])


def _movie_side(n_items: int) -> SideInfo:
    genres = [["Horror", "Sci-Fi"], ["Horror", "Sci-Fi"], ["Comedy"], ["Comedy", "Romance"],
              ["Horror", "Sci-Fi"], ["Comedy"]]
    titles = ["Alien (1979)", "Aliens (1986)", "Airplane! (1980)", "Annie Hall (1977)",
              "Alien Covenant (2017)", "Clueless (1995)"]
    return SideInfo(items=pl.DataFrame({
        "item_id": [f"i{i}" for i in range(n_items)], "title": titles[:n_items],
        "genres": genres[:n_items],
    }))


def test_new_item_with_metadata_only_is_retrievable():
    # Items 4 and 5 have no interactions (cold-start); item 4 shares genres with the
    # history items 0 and 1, so metadata recall ranks it first; ALS cannot reach it.
    log = _log([(0, 0), (0, 1), (1, 2), (1, 3), (2, 0), (2, 2)], 3, 6)
    side = _movie_side(6)
    cold = cold_start_items(log)
    assert cold.tolist() == [4, 5]
    metadata = MetadataVectors().fit(log, side)
    cands = metadata.recommend(Histories.from_lists([[0, 1]]), 3)
    assert cands.row(0)[0][0] == 4
    count = count_cold_start(cands, cold)
    assert count.slots >= 1 and count.rows == 1 and count.items >= 1
    als = ALS(factors=4, iterations=3).fit(log)
    assert count_cold_start(als.recommend(log.histories(), 6), cold).slots == 0


def test_item_only_in_the_vector_file_is_recommended(tmp_path):
    from recfusion.data import read_item_vectors

    # The catalogue is a, b, c (only a and b logged); the file adds "new", pointing the
    # same way as a (cos 1), so a history [a] gets "new" first, then b (cos 0.7071) and
    # c (cos 0); c and "new" have no interactions, so both count as cold-start.
    path = tmp_path / "vectors.csv"
    path.write_text("id,x,y\na,1,0\nb,1,1\nc,0,1\nnew,2,0\n", encoding="utf-8")
    logged = np.array(["a", "b", "c"], dtype=object)
    new_ids, matrix = read_item_vectors(path, {item: i for i, item in enumerate(logged)})
    log = Interactions.from_arrays(
        np.array(["u"], dtype=object), np.concatenate([logged, new_ids]), [0, 0], [0, 1]
    )
    strategy = SuppliedVectors().fit(log, SideInfo(item_vectors=matrix))
    cands = strategy.recommend(Histories.from_lists([[0]]), 3)
    assert cands.row(0)[0].tolist() == [3, 1, 2]
    assert np.allclose(cands.row(0)[1], [1.0, SQRT_HALF, 0.0], atol=1e-5)
    assert count_cold_start(cands, cold_start_items(log)) == (2, 2, 1)


def test_metadata_year_comes_from_the_title_and_empty_genres_are_ignored():
    items = pl.DataFrame({
        "item_id": ["a", "b", "c"],
        "title": ["Heat (1995)", "Heat Wave (1995)", "Other (2010)"],
        "genres": [["(no genres listed)"], ["Drama"], ["Drama"]],
    })
    vectors = metadata_vectors(items, weights=(0.0, 0.0, 1.0), year_bucket=5)
    # Year block only: a and b are in bucket 399 (1995 // 5), c in bucket 402.
    assert np.allclose(vectors @ vectors.T, [[1, 1, 0], [1, 1, 0], [0, 0, 1]])
    genres_only = metadata_vectors(items, weights=(1.0, 0.0, 0.0))
    assert np.isnan(genres_only[0]).all(), "no genre at all means no vector"


def test_tfidf_matches_gensim():
    from gensim.corpora import Dictionary
    from gensim.matutils import corpus2dense
    from gensim.models import TfidfModel

    documents = [["star", "wars", "star"], ["star", "trek"], ["wars", "trek", "of"],
                 ["of", "gods"], ["star"]]
    ours = tfidf_matrix(documents, max_terms=100).toarray()
    # gensim keeps every term; ours drops those in fewer than two documents ("gods").
    kept = [[w for w in d if w != "gods"] for d in documents]
    dictionary = Dictionary(kept)
    model = TfidfModel(dictionary=dictionary)  # idf = log2(N / df), rows L2-normalised
    theirs = corpus2dense(model[[dictionary.doc2bow(d) for d in kept]], len(dictionary)).T
    columns = sorted(dictionary.token2id)
    theirs = theirs[:, [dictionary.token2id[w] for w in columns]]
    # gensim counts N over the filtered documents too; with 5 documents both use N = 5.
    assert np.allclose(ours, theirs, atol=1e-6)


def test_als_solve_query_matches_closed_form():
    log = _random_log()
    strategy = ALS(factors=6, iterations=5, alpha=3.0, regularization=0.5, query="solve")
    strategy.fit(log)
    history = [2, 6, 10, 14]
    y = strategy.vectors_.astype(np.float64)
    # x = (Y'Y + lambda I + sum_i (c_i - 1) y_i y_i')^-1 sum_i c_i y_i, c_i = 1 + alpha.
    gram = y.T @ y + 0.5 * np.eye(6)
    gram += 3.0 * y[history].T @ y[history]
    target = (1 + 3.0) * y[history].sum(axis=0)
    expected = np.linalg.solve(gram, target)
    query = strategy.query_vectors(Histories.from_lists([history]))[0]
    assert np.allclose(query, expected / np.linalg.norm(expected), atol=1e-4)


def test_item2vec_is_reproducible_and_skips_unlogged_items():
    base = _random_log()
    extra = np.array(["new-1", "new-2"], dtype=object)
    log = Interactions.from_arrays(
        base.user_ids, np.concatenate([base.item_ids, extra]), base.users, base.items,
        base.timestamps,
    )
    unlogged = cold_start_items(log)
    first = Item2Vec(vector_size=8, epochs=3).fit(log)
    second = Item2Vec(vector_size=8, epochs=3).fit(log)
    assert np.array_equal(first.vectors_, second.vectors_)
    assert unlogged.tolist() == [40, 41] and not first.has_vector[unlogged].any()


def test_item2vec_splits_very_long_histories():
    # Regression: gensim silently ignores words past the 10,000th of a sentence, so a
    # 25,000-item history must reach it as sentences of 10,000, 10,000 and 5,000 items.
    from recfusion.recall._item2vec import _sentences

    log = Interactions.from_arrays(
        np.array(["heavy", "light"], dtype=object), np.array([f"i{i}" for i in range(100)]),
        users=[0] * 25_000 + [1] * 3, items=[i % 100 for i in range(25_000)] + [1, 2, 3],
    )
    sentences = _sentences(log)
    assert [len(s) for s in sentences] == [10_000, 10_000, 5_000, 3]
    assert sentences[1][0] == "0" and sentences[3] == ["1", "2", "3"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ALS(factors=8, iterations=4, query="solve"),
        lambda: ALS(factors=8, iterations=4, exact_threshold=0),
        lambda: Item2Vec(vector_size=8, epochs=3, exact_threshold=0),
    ],
    ids=["als-solve", "als-mean-hnsw", "item2vec-hnsw"],
)
def test_save_load_round_trip_gives_identical_recommendations(make, tmp_path):
    log = _random_log()
    strategy = make().fit(log)
    written = strategy.save(tmp_path)
    assert (tmp_path / "index.faiss") in written
    loaded = type(strategy).load(tmp_path)
    before = strategy.recommend(log.histories(), 7)
    after = loaded.recommend(log.histories(), 7)
    assert np.array_equal(before.indptr, after.indptr)
    assert np.array_equal(before.items, after.items)
    assert np.allclose(before.scores, after.scores, atol=1e-6)
    assert np.array_equal(strategy.similar_items(3, 5).items, loaded.similar_items(3, 5).items)


def test_missing_side_information_is_a_clear_error():
    log = _log([(0, 0), (0, 1)], 1, 3)
    with pytest.raises(InputError, match="no supplied item vectors; set data.item_vectors"):
        SuppliedVectors().fit(log, SideInfo())
    with pytest.raises(InputError, match=r"expected \(3, dim\)"):
        SuppliedVectors().fit(log, SideInfo(item_vectors=np.ones((2, 4), dtype=np.float32)))
    with pytest.raises(InputError, match="SideInfo.items has none; expected 3 rows"):
        MetadataVectors().fit(log, None)
