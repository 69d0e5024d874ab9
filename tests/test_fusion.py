"""Known-answer tests of normalisation, weighted and RRF fusion, finalize and cold start."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recfusion.data import Candidates, Histories, Interactions
from recfusion.errors import InputError
from recfusion.fusion import (
    AGE_BANDS,
    SegmentPopularity,
    channel_diagnostics,
    finalize,
    normalize,
    overlap_matrix,
    rrf_fusion,
    weighted_fusion,
)
from recfusion.recall import Popularity, SideInfo


def cands(rows: list[list[tuple[int, float]]]) -> Candidates:
    """Candidates from per-row lists of (item, score), already best first."""
    width = max([len(r) for r in rows] + [1])
    items = np.full((len(rows), width), -1)
    scores = np.zeros((len(rows), width))
    for r, row in enumerate(rows):
        for j, (item, score) in enumerate(row):
            items[r, j], scores[r, j] = item, score
    return Candidates.from_dense(items, scores)


def as_lists(candidates: Candidates) -> list[list[int]]:
    return [candidates.row(r)[0].tolist() for r in range(candidates.n_rows)]


# --- normalize ---------------------------------------------------------------------------


def test_minmax_known_answer_constant_single_and_empty_rows():
    c = cands([[(1, 4.0), (2, 2.0), (3, 1.0)], [(4, 5.0), (5, 5.0)], [(6, -3.0)], []])
    out = normalize(c, "minmax")
    # Row 0: (s - 1) / (4 - 1) -> 1, 1/3, 0. Rows 1-2 are constant -> 1.0. Row 3 stays empty.
    np.testing.assert_allclose(out.row(0)[1], [1.0, 1 / 3, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(out.row(1)[1], [1.0, 1.0])
    np.testing.assert_array_equal(out.row(2)[1], [1.0])
    assert out.lengths().tolist() == [3, 2, 1, 0]
    assert not np.isnan(out.scores).any()


def test_rank_and_reciprocal_share_ranks_for_ties():
    c = cands([[(1, 4.0), (2, 2.0), (3, 2.0), (4, 1.0)], [(5, 7.0), (6, 7.0)]])
    # Competition ranks row 0: 0, 1, 1, 3 (n = 4) -> 1 - r/n = 1, .75, .75, .25.
    np.testing.assert_allclose(normalize(c, "rank").row(0)[1], [1.0, 0.75, 0.75, 0.25])
    # Reciprocal 1 / (r + 1): 1, 1/2, 1/2, 1/4; an all-equal row is all rank 0 -> 1.0.
    np.testing.assert_allclose(normalize(c, "reciprocal").row(0)[1], [1.0, 0.5, 0.5, 0.25])
    np.testing.assert_array_equal(normalize(c, "rank").row(1)[1], [1.0, 1.0])


def test_zscore_known_answer_and_constant_row():
    c = cands([[(1, 3.0), (2, 1.0)], [(3, 2.0), (4, 2.0), (5, 2.0)]])
    out = normalize(c, "zscore")
    # Row 0: mean 2, population std 1 -> +1, -1. Constant row -> 0.0 (documented).
    np.testing.assert_allclose(out.row(0)[1], [1.0, -1.0])
    np.testing.assert_array_equal(out.row(1)[1], [0.0, 0.0, 0.0])


def test_normalize_rejects_unknown_method_with_helpful_message():
    with pytest.raises(InputError, match="normalize: parameter 'method'.*'minmax'"):
        normalize(cands([[(1, 1.0)]]), "softmax")


# --- weighted fusion and RRF -------------------------------------------------------------


def test_weighted_fusion_missing_item_contributes_zero():
    a = cands([[(10, 4.0), (11, 2.0), (12, 0.0)]])  # minmax: 1, .5, 0
    b = cands([[(11, 9.0), (13, 3.0)]])  # minmax: 1, 0
    fused = weighted_fusion({"a": a, "b": b}, {"a": 1.0, "b": 2.0})
    # 10: 1*1 + (b missing) 0 = 1; 11: 1*.5 + 2*1 = 2.5; 12: 0; 13: 2*0 = 0.
    # 12 and 13 tie at 0 -> lower item index first.
    assert as_lists(fused) == [[11, 10, 12, 13]]
    np.testing.assert_allclose(fused.row(0)[1], [2.5, 1.0, 0.0, 0.0])


def test_weighted_fusion_constant_scores_count_as_one():
    a = cands([[(3, 7.0), (1, 7.0)]])  # all equal -> 1, 1
    b = cands([[(1, 5.0), (2, 1.0)]])  # 1, 0
    fused = weighted_fusion({"a": a, "b": b})
    # 1: 1 + 1 = 2; 3: 1; 2: 0.
    assert as_lists(fused) == [[1, 3, 2]]
    np.testing.assert_allclose(fused.row(0)[1], [2.0, 1.0, 0.0])


def test_rrf_known_answer_with_and_without_weights():
    a = cands([[(1, 0.9), (2, 0.5), (3, 0.1)]])
    b = cands([[(3, 8.0), (1, 2.0)]])
    plain = rrf_fusion({"a": a, "b": b}, k_rrf=60)
    # 1: 1/61 + 1/62 = .032522; 3: 1/63 + 1/61 = .032266; 2: 1/62 = .016129.
    assert as_lists(plain) == [[1, 3, 2]]
    np.testing.assert_allclose(plain.row(0)[1], [1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62],
                               rtol=1e-6)
    weighted = rrf_fusion({"a": a, "b": b}, {"b": 3.0}, k_rrf=60)
    # 1: 1/61 + 3/62 = .064780; 3: 1/63 + 3/61 = .065054 -> 3 overtakes 1.
    assert as_lists(weighted) == [[3, 1, 2]]


def test_zero_weight_drops_channel_and_budget_truncates():
    a = cands([[(1, 3.0), (2, 2.0), (3, 1.0)]])
    b = cands([[(9, 1.0)]])
    assert as_lists(weighted_fusion({"a": a, "b": b}, {"b": 0.0})) == [[1, 2, 3]]
    # Budget 1 for a keeps only its first item; b's single item (minmax 1.0) ties with it.
    assert as_lists(weighted_fusion({"a": a, "b": b}, budgets={"a": 1})) == [[1, 9]]
    assert as_lists(weighted_fusion({"a": a, "b": b}, n=2)) == [[1, 9]]


def test_fusion_does_not_depend_on_channel_order():
    """Guards against float sums that change with the mapping's insertion order."""
    rng = np.random.default_rng(0)
    chans = {
        name: Candidates.from_dense(
            np.stack([rng.permutation(30)[:12] for _ in range(20)]),
            np.sort(rng.random((20, 12)), axis=1)[:, ::-1],
        )
        for name in ("x", "y", "z")
    }
    weights = {"x": 0.3, "y": 0.7, "z": 0.1}
    forward = weighted_fusion(chans, weights)
    backward = weighted_fusion(dict(reversed(list(chans.items()))), weights)
    np.testing.assert_array_equal(forward.items, backward.items)
    np.testing.assert_array_equal(forward.scores, backward.scores)


def test_empty_rows_stay_empty():
    a = cands([[(1, 1.0)], []])
    b = cands([[], []])
    assert as_lists(rrf_fusion({"a": a, "b": b})) == [[1], []]
    assert as_lists(weighted_fusion({"a": a, "b": b}, normalization="zscore")) == [[1], []]


def test_weight_errors_name_the_parameter():
    a = cands([[(1, 1.0)]])
    with pytest.raises(InputError, match="unknown channels \\['c'\\]"):
        weighted_fusion({"a": a}, {"c": 1.0})
    with pytest.raises(InputError, match="finite and >= 0"):
        weighted_fusion({"a": a}, {"a": -1.0})
    with pytest.raises(InputError, match="row counts"):
        weighted_fusion({"a": a, "b": cands([[], []])})


# --- finalize ----------------------------------------------------------------------------


@pytest.fixture
def six_item_popularity() -> Popularity:
    """Six items; only items 0-3 have interactions (0 by two users, 1-3 by one each)."""
    log = Interactions.from_arrays(
        np.array(["u0", "u1", "u2"], dtype=object),
        np.array(list("abcdef"), dtype=object),
        users=[0, 0, 1, 1, 2],
        items=[0, 1, 0, 2, 3],
    )
    return Popularity().fit(log)


def test_finalize_removes_seen_and_pads_with_popularity(six_item_popularity):
    histories = Histories.from_lists([[0, 1], [], [0, 2, 3]])
    fused = cands([[(2, 0.9), (0, 0.8)], [], [(5, 0.5)]])
    out = finalize(fused, histories, six_item_popularity, 2)
    # Row 0: fused 2 kept, 0 is seen; popularity order 0,1,2,3 minus seen/used -> 3.
    # Row 1 (cold): popularity 0, 1. Row 2: fused 5, then popularity 1.
    assert as_lists(out) == [[2, 3], [0, 1], [5, 1]]
    # Padded scores continue below the row's lowest fused score: 0.9 - 1.
    np.testing.assert_allclose(out.row(0)[1], [0.9, -0.1], rtol=1e-6)


def test_finalize_k_larger_than_eligible_items(six_item_popularity):
    histories = Histories.from_lists([[0, 1], [], [0, 2, 3]])
    fused = cands([[(2, 0.9)], [], [(5, 0.5)]])
    out = finalize(fused, histories, six_item_popularity, 10)
    # Eligible: 6 - 2 = 4, 6, 6 - 3 = 3; items 4, 5 come from the catalogue order.
    assert as_lists(out) == [[2, 3, 4, 5], [0, 1, 2, 3, 4, 5], [5, 1, 4]]


def test_finalize_without_seen_exclusion(six_item_popularity):
    histories = Histories.from_lists([[0, 1]])
    out = finalize(cands([[(0, 1.0)]]), histories, six_item_popularity, 3, exclude_seen=False)
    assert as_lists(out) == [[0, 1, 2]]


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.lists(st.integers(0, 7), max_size=6),
            st.lists(st.integers(0, 7), max_size=6, unique=True),
        ),
        min_size=1,
        max_size=6,
    ),
    k=st.integers(1, 9),
)
def test_finalize_property_exactly_k_distinct_unseen(data, k):
    log = Interactions.from_arrays(
        np.array(["a", "b"], dtype=object),
        np.array([str(i) for i in range(8)], dtype=object),
        users=[0, 0, 1],
        items=[3, 5, 3],
    )
    popularity = Popularity().fit(log)
    histories = Histories.from_lists([h for h, _ in data])
    fused = cands([[(item, -float(j)) for j, item in enumerate(f)] for _, f in data])
    out = finalize(fused, histories, popularity, k)
    for r, (history, fused_items) in enumerate(data):
        row = out.row(r)[0].tolist()
        eligible = 8 - len(set(history))
        assert len(row) == len(set(row)) == min(k, eligible)
        assert not set(row) & set(history)
        kept = [i for i in fused_items if i not in history][:k]
        assert row[: len(kept)] == kept
        assert np.all(np.diff(out.row(r)[1]) <= 0)


# --- cold start --------------------------------------------------------------------------


def test_segment_popularity_known_answer():
    # u0, u1 are F and watched item 0 (u1 also item 2); u2, u3 are M and watched item 1.
    log = Interactions.from_arrays(
        np.array(["u0", "u1", "u2", "u3", "u4"], dtype=object),
        np.array(["i0", "i1", "i2"], dtype=object),
        users=[0, 1, 1, 2, 3],
        items=[0, 0, 2, 1, 1],
    )
    users = pl.DataFrame({"user_id": ["u0", "u1", "u2", "u3", "u4"],
                          "gender": ["F", "F", "M", "M", "F"]})
    model = SegmentPopularity(columns=["gender"], shrinkage=2.0).fit(log, SideInfo(users=users))
    # Active users 4; global shares: i0 2/4, i1 2/4, i2 1/4.
    # F segment (u0, u1, u4: size 3): i0 (2 + 2*.5) / 5 = .6, i1 (0 + 1) / 5 = .2,
    # i2 (1 + .5) / 5 = .3. So a cold F user gets i0, i2, i1.
    np.testing.assert_allclose(model.scores(np.array([4]))[0], [0.6, 0.2, 0.3])
    cold = Histories.from_lists([[], []])
    out = model.recommend(cold, 3, users=np.array([4, 2]))
    # M segment (size 2): i0 (0 + 1) / 4 = .25, i1 (2 + 1) / 4 = .75, i2 (.5) / 4 = .125.
    assert as_lists(out) == [[0, 2, 1], [1, 0, 2]]
    filled = finalize(Candidates.empty(2), cold, model.filler_for(np.array([4, 2])), 2)
    assert as_lists(filled) == [[0, 2], [1, 0]]


def test_segment_popularity_age_bands_and_round_trip(tmp_path):
    log = Interactions.from_arrays(
        np.array(["a", "b", "c"], dtype=object), np.array(["x", "y"], dtype=object),
        users=[0, 1, 2], items=[0, 1, 1],
    )
    users = pl.DataFrame({"user_id": ["a", "b", "c"], "age": ["17", "30", None]})
    model = SegmentPopularity(numeric_bands={"age": AGE_BANDS}, shrinkage=0.0)
    model.fit(log, SideInfo(users=users))
    # Age 17 -> band 0 (under 18) watched x; 30 -> band 2 (25-34) watched y; null -> global
    # shares (x 1/3, y 2/3).
    assert model.codes_[:, 0].tolist() == [0, 2, -1]
    np.testing.assert_allclose(model.scores(np.array([0, 1, 2])),
                               [[1.0, 0.0], [0.0, 1.0], [1 / 3, 2 / 3]])
    model.save(tmp_path)
    loaded = SegmentPopularity.load(tmp_path)
    np.testing.assert_array_equal(loaded.scores(np.array([0, 1, 2])),
                                  model.scores(np.array([0, 1, 2])))


def test_segment_popularity_rejects_misaligned_users():
    log = Interactions.from_arrays(np.array(["a", "b"], dtype=object),
                                   np.array(["x"], dtype=object), users=[0, 1], items=[0, 0])
    with pytest.raises(InputError, match="side.users has 1 rows but the log has 2 users"):
        SegmentPopularity().fit(log, SideInfo(users=pl.DataFrame({"user_id": ["a"],
                                                                  "age": [3]})))


# --- diagnostics -------------------------------------------------------------------------


def test_channel_diagnostics_known_answer():
    a = cands([[(1, 2.0), (2, 1.0)], [(3, 1.0)]])
    b = cands([[(2, 5.0), (4, 1.0)], [(5, 1.0)]])
    fused = cands([[(2, 2.0), (1, 1.0)], [(3, 1.0), (5, 0.5)]])
    truth_indptr, truth_items = np.array([0, 1, 2]), np.array([2, 5])
    table, overlap = channel_diagnostics({"a": a, "b": b}, fused, truth_indptr, truth_items, 2)
    rows = {r["strategy"]: r for r in table.to_dicts()}
    # a finds item 2 in row 0 only: hit rate 1/2. b finds 2 and 5: hit rate 1.
    assert rows["a"]["hit_rate"] == 0.5 and rows["b"]["hit_rate"] == 1.0
    # NDCG@2: a row 0 hit at position 2 -> (1/log2 3) / 1 = .6309; row 1 -> 0; mean .3155.
    # b: both rows hit: row 0 at position 1 -> 1, row 1 at 1 -> 1.
    assert rows["a"]["ndcg"] == pytest.approx(0.5 / np.log2(3))
    assert rows["b"]["ndcg"] == pytest.approx(1.0)
    # Fused: row 0 hit at 1 (1.0), row 1 hit at 2 (.6309) -> gain = .8155 - 1.
    assert rows["fusion"]["gain"] == pytest.approx((1 + 1 / np.log2(3)) / 2 - 1)
    # Fused slots: 2 (a, b), 1 (a), 3 (a), 5 (b): a in 3/4, b in 2/4; a alone 2/4, b alone 1/4.
    assert (rows["a"]["share"], rows["a"]["exclusive_share"]) == (0.75, 0.5)
    assert (rows["b"]["share"], rows["b"]["exclusive_share"]) == (0.5, 0.25)
    # Jaccard row 0: {1,2} vs {2,4} = 1/3; row 1: {3} vs {5} = 0 -> mean 1/6.
    assert overlap.filter(pl.col("strategy") == "a")["b"][0] == pytest.approx(1 / 6)
    assert overlap_matrix({"a": a, "b": b})["a"].to_list() == [1.0, pytest.approx(1 / 6)]


# --- saveable fusers ---------------------------------------------------------------------


def test_score_and_mmr_fusers_round_trip(tmp_path):
    from recfusion.fusion import MMRFuser, ScoreFuser, load_fuser, similarity_from_side

    a = cands([[(0, 3.0), (1, 2.0), (2, 1.0)]])
    b = cands([[(1, 5.0), (3, 1.0)]])
    histories = Histories.from_lists([[]])
    side = SideInfo(items=pl.DataFrame({"item_id": list("wxyz"),
                                        "genres": [["a"], ["a"], ["b"], None]}))
    score = ScoreFuser("weighted", "minmax", {"a": 1.0, "b": 0.25})
    mmr = MMRFuser(score, similarity_from_side(side, "genres"), lam=0.5, pool=3)
    for name, fuser in (("score", score), ("mmr", mmr)):
        fuser.save(tmp_path / name)
        loaded = load_fuser(tmp_path / name, side=side)
        expected = fuser({"a": a, "b": b}, histories)
        got = loaded({"a": a, "b": b}, histories)
        np.testing.assert_array_equal(got.items, expected.items)
        np.testing.assert_allclose(got.scores, expected.scores)
    # Weighted: 0 -> 1, 1 -> .5 + .25*1 = .75, 2 -> 0, 3 -> 0; the pool of 3 is [0, 1, 2]
    # with relevance 1, .75, 0. MMR (lam .5): pick 0 (.5); then item 1: .375 - .5*J(1,0)=1
    # -> -.125 and item 2: 0 - .5*J(2,0)=0 -> 0, so 2 comes before 1.
    assert as_lists(mmr({"a": a, "b": b}, histories)) == [[0, 2, 1]]


def test_similarity_from_side_names_what_is_missing():
    from recfusion.fusion import similarity_from_side

    with pytest.raises(InputError, match="needs side.item_vectors"):
        similarity_from_side(SideInfo(), "vectors")
