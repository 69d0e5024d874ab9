"""Beyond-accuracy metrics against answers worked out by hand (arithmetic in comments)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest

from recfusion.data import Interactions
from recfusion.evaluation import CatalogueStats, coverage, exposure, gini, personalisation
from recfusion.evaluation._beyond import (
    category_matrix,
    head_items,
    intra_list_diversity,
    mean_item_value,
    unit_vectors,
)


def test_coverage_ignores_empty_slots_repeats_and_items_outside_catalogue() -> None:
    # Catalogue of 5; lists hold {0, 1}, {1} + out-of-catalogue 7 and -3, and nothing.
    lists = np.array([[0, 1, 1], [1, 7, -3], [-1, -1, -1]])
    assert coverage(lists, 5) == pytest.approx(2 / 5)
    assert exposure(lists, 5).tolist() == [1, 2, 0, 0, 0]


def test_coverage_of_empty_lists_is_zero() -> None:
    assert coverage(np.full((3, 2), -1), 4) == 0.0


def test_gini_known_answers() -> None:
    assert gini(np.array([2, 2, 2, 2])) == pytest.approx(0.0)  # uniform exposure
    # All exposure on one of n = 4 items: (n - 1) / n = 3 / 4.
    assert gini(np.array([0, 0, 4, 0])) == pytest.approx(3 / 4)
    # Sorted [1, 2, 3], n = 3, total 6: sum (2i - n - 1) e_i = -2*1 + 0*2 + 2*3 = 4 -> 4 / 18.
    assert gini(np.array([3, 1, 2])) == pytest.approx(2 / 9)
    assert math.isnan(gini(np.zeros(3)))  # nothing exposed: undefined


def test_personalisation_known_answers() -> None:
    # {0, 1} vs {1, 2}: cosine = 1 / sqrt(2 * 2) = 1/2 -> personalisation 1/2.
    assert personalisation(np.array([[0, 1], [1, 2]]), 4) == pytest.approx(0.5)
    assert personalisation(np.array([[0, 1], [1, 0]]), 4) == pytest.approx(0.0)  # same sets
    assert personalisation(np.array([[0, 1], [2, 3]]), 4) == pytest.approx(1.0)  # disjoint
    # An empty list has no direction and is left out; one remaining user has no pair.
    assert math.isnan(personalisation(np.array([[0, 1], [-1, -1]]), 4))


def test_personalisation_matches_brute_force_over_all_pairs() -> None:
    # The O(slots) identity must equal the plain mean over every pair of users.
    rng = np.random.default_rng(3)
    lists = rng.integers(-1, 12, size=(30, 4))  # repeats, empty slots, 10 and 11 outside
    sets = [{int(i) for i in row if 0 <= i < 10} for row in lists]
    sets = [s for s in sets if s]
    cosines = [
        len(a & b) / math.sqrt(len(a) * len(b)) for a, b in itertools.combinations(sets, 2)
    ]
    assert personalisation(lists, 10) == pytest.approx(1 - np.mean(cosines), abs=1e-12)


@pytest.fixture
def stats() -> CatalogueStats:
    # U = 4 training users; distinct-user counts per item: 4, 2, 1, 0.
    return CatalogueStats.from_counts(np.array([4, 2, 1, 0]), n_train_users=4)


def test_novelty_is_mean_self_information_with_smoothed_unseen_items(stats) -> None:
    # p = 4/4, 2/4, 1/4 -> 0, 1, 2 bits; unseen item 3: p = 1 / (U + 1) = 1/5 -> log2 5 bits.
    lists = np.array([[1, 2, -1], [3, 9, 3], [-1, -1, -1]])
    got = mean_item_value(lists, stats.self_information)
    assert got[0] == pytest.approx(1.5)  # (1 + 2) / 2; the empty slot is not counted
    assert got[1] == pytest.approx(math.log2(5))  # out-of-catalogue 9 and the repeat ignored
    assert math.isnan(got[2])  # no counted slot: undefined


def test_average_popularity_is_share_of_training_users(stats) -> None:
    # (4/4 + 2/4) / 2 = 0.75
    assert mean_item_value(np.array([[0, 1]]), stats.popularity)[0] == pytest.approx(0.75)


def test_long_tail_head_reaches_twenty_percent_of_interactions(stats) -> None:
    # Counts 4, 2, 1, 0 (total 7): 20% is 1.4, reached by item 0 alone; the tail is 1, 2, 3.
    assert stats.long_tail.tolist() == [False, True, True, True]
    share = mean_item_value(np.array([[0, 1], [2, 3]]), stats.long_tail.astype(float))
    assert share.tolist() == [0.5, 1.0]


def test_head_ties_go_to_lower_index_and_rounding_is_tolerated() -> None:
    # Five items of count 1: 20% of 5 = 1 -> the head is the lowest index only.
    assert head_items(np.ones(5, dtype=np.int64), 0.2).tolist() == [True] + [False] * 4
    # Fault guarded: 0.2 * 15 = 3.0000000000000004 in floating point must still be reached
    # by three items of count 1, not four.
    assert head_items(np.ones(15, dtype=np.int64), 0.2).sum() == 3
    assert not head_items(np.zeros(3, dtype=np.int64), 0.2).any()


def test_catalogue_stats_count_only_users_with_training_rows() -> None:
    # Id space of 3 users, but user 2 has no training row: U = 2.
    train = Interactions.from_arrays(
        np.array(["a", "b", "c"], dtype=object), np.array(["x", "y"], dtype=object),
        users=[0, 0, 1], items=[0, 1, 0],
    )
    stats = CatalogueStats.from_train(train)
    assert stats.popularity.tolist() == [1.0, 0.5]  # x: 2 of 2 users, y: 1 of 2


@pytest.fixture
def genres() -> np.ndarray:
    frame = pl.DataFrame(
        {"item_id": ["0", "1", "2", "3", "4"],
         "genres": [["A", "B"], ["B", "C"], ["A", "B"], [], None]}
    )
    return category_matrix(frame, 5, "genres")


def test_category_matrix_from_list_and_string_columns(genres) -> None:
    assert genres.shape == (5, 3)  # categories A, B, C
    assert genres.sum(axis=1).tolist() == [2, 2, 2, 0, 0]  # empty list and null: none
    plain = pl.DataFrame({"genres": ["A", None, "B"]})
    assert category_matrix(plain, 3, "genres").sum(axis=1).tolist() == [1, 0, 1]
    assert category_matrix(plain, 3, "missing") is None


def test_category_diversity_is_mean_one_minus_jaccard(genres) -> None:
    # Pairs of [0, 1, 2]: J(0,1) = |{B}| / |{A,B,C}| = 1/3 -> 2/3; J(0,2) = 1 -> 0;
    # J(1,2) = 1/3 -> 2/3. Mean over the 3 pairs = 4/9.
    lists = np.array([[0, 1, 2], [0, 0, 1], [0, 3, 4], [1, -1, -1], [-1, -1, -1]])
    got = intra_list_diversity(lists, genres, "category")
    assert got[0] == pytest.approx(4 / 9)
    assert got[1] == pytest.approx(2 / 3)  # the repeated 0 forms no pair with itself
    assert np.isnan(got[2])  # items 3 and 4 have no category: no valid pair
    assert np.isnan(got[3])  # one-item list: no pair
    assert np.isnan(got[4])  # empty list


def test_embedding_diversity_is_mean_one_minus_cosine() -> None:
    vectors = unit_vectors(
        np.array([[1, 0], [0, 1], [1, 1], [0, 0], [np.nan, 1], [-2, 0]], dtype=float)
    )
    lists = np.array([[0, 1, 2], [0, 3, 4], [0, 5, -1], [0, 9, 9]])
    got = intra_list_diversity(lists, vectors, "embedding")
    # cos(0,1) = 0 -> 1; cos(0,2) = cos(1,2) = 1/sqrt 2 -> 1 - 1/sqrt 2 each.
    assert got[0] == pytest.approx((1 + 2 * (1 - 1 / math.sqrt(2))) / 3)
    assert np.isnan(got[1])  # zero vector and NaN vector have no direction: no pair
    assert got[2] == pytest.approx(2.0)  # opposite vectors: 1 - (-1)
    assert np.isnan(got[3])  # 9 is outside the catalogue: one item left
