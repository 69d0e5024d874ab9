"""The evaluation stage: table contract, segments, bootstrap, paired test, cost rows."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from recfusion.columns import ALL_USERS, CI_HIGH, CI_LOW, K, METRIC, SEGMENT, STRATEGY, VALUE
from recfusion.data import Candidates, Interactions
from recfusion.errors import InputError
from recfusion.evaluation import (
    ACCURACY_METRICS,
    PAIRED_SCHEMA,
    TABLE_SCHEMA,
    cost_rows,
    evaluate,
)
from recfusion.evaluation._bootstrap import bootstrap_means, percentile_interval
from recfusion.evaluation._segments import attribute_segments
from recfusion.recall import SideInfo


def _log(n_users: int, n_items: int, users: list[int], items: list[int]) -> Interactions:
    return Interactions.from_arrays(
        np.array([f"u{u}" for u in range(n_users)], dtype=object),
        np.array([f"i{i}" for i in range(n_items)], dtype=object),
        users=users,
        items=items,
    )


def _lists(rows: list[list[int]]) -> Candidates:
    width = max(len(row) for row in rows)
    items = np.full((len(rows), width), -1)
    for r, row in enumerate(rows):
        items[r, : len(row)] = row
    return Candidates.from_dense(items, -np.tile(np.arange(width, dtype=float), (len(rows), 1)))


@pytest.fixture
def toy():
    # 3 users, 4 items. Train: u0 [0], u1 [0, 1], u2 nothing. Test: u0 [1], u1 [2];
    # u2 has no held-out item and must be left out of every figure.
    train = _log(3, 4, [0, 1, 1], [0, 0, 1])
    test = _log(3, 4, [0, 1], [1, 2])
    recs = {"a": _lists([[1, 2], [3, 2], [0, 1]])}
    side = SideInfo(users=pl.DataFrame({"user_id": ["u0", "u1", "u2"], "gender": ["F", None, "M"]}))
    return recs, train, test, side


def _value(result, metric: str, k: int, segment: str = ALL_USERS, strategy: str = "a"):
    rows = result.table.filter(
        (pl.col(STRATEGY) == strategy) & (pl.col(METRIC) == metric)
        & (pl.col(K) == k) & (pl.col(SEGMENT) == segment)
    )
    assert rows.height == 1, (metric, k, segment)
    return rows.row(0, named=True)


def test_toy_table_values_worked_by_hand(toy) -> None:
    recs, train, test, side = toy
    result = evaluate(recs, np.array([0, 1, 2]), train, test, [2], side=side, n_bootstrap=50)
    assert result.n_users == {"all": 2, "activity=cold": 2, "gender=F": 1}
    assert result.users.tolist() == [0, 1]
    # u0: [1, 2] vs {1}: hit at 1 -> recall 1, ndcg 1. u1: [3, 2] vs {2}: hit at 2 ->
    # recall 1, ndcg (1 / log2 3) / 1. Means over the 2 evaluated users:
    assert _value(result, "recall", 2)[VALUE] == pytest.approx(1.0)
    assert _value(result, "ndcg", 2)[VALUE] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert _value(result, "mrr", 2)[VALUE] == pytest.approx(0.75)  # (1 + 1/2) / 2
    # Coverage: u2's [0, 1] is not evaluated, so only items {1, 2, 3} of 4 are covered.
    assert _value(result, "coverage", 2)[VALUE] == pytest.approx(3 / 4)
    assert _value(result, "coverage", 2)[CI_LOW] is None  # aggregate: no interval
    # gender=F is u0 alone (u1's gender is null, u2 is not evaluated): ndcg 1.
    assert _value(result, "ndcg", 2, "gender=F")[VALUE] == pytest.approx(1.0)


def test_table_schema_and_order(toy) -> None:
    recs, train, test, side = toy
    result = evaluate(recs, np.array([0, 1, 2]), train, test, [2, 1], side=side, n_bootstrap=20)
    assert dict(result.table.schema) == TABLE_SCHEMA
    assert list(result.table.columns) == [STRATEGY, METRIC, K, VALUE, CI_LOW, CI_HIGH, SEGMENT]
    assert result.table.get_column(K).null_count() == 0  # every metric row has a cut-off
    assert result.table.get_column(SEGMENT)[0] == ALL_USERS
    assert dict(result.paired.schema) == PAIRED_SCHEMA
    # No categories or vectors given: those diversity rows are absent, not null rows.
    assert "diversity_category" not in result.table.get_column(METRIC).to_list()


def _synthetic(seed: int = 0, n_users: int = 240, n_items: int = 90):
    """Random log with cold, light and heavy users; three strategies of differing quality."""
    rng = np.random.default_rng(seed)
    lengths = rng.choice([2, 20, 70], size=n_users)
    users, items, truth = [], [], []
    for user, length in enumerate(lengths):
        picked = rng.permutation(n_items)[: length + 3]
        users += [user] * length
        items += picked[:length].tolist()
        truth.append(picked[length:].tolist() if user % 10 else [])  # every 10th: no truth
    train = _log(n_users, n_items, users, items)
    test_users = [u for u, t in enumerate(truth) for _ in t]
    test = _log(n_users, n_items, test_users, [i for t in truth for i in t])
    perfect = [t + [i for i in range(n_items) if i not in t][:7] for t in truth]
    noisy = [rng.permutation(n_items)[:10].tolist() for _ in truth]
    half = [p if u % 2 else n for u, (p, n) in enumerate(zip(perfect, noisy))]
    recs = {"noisy": _lists(noisy), "perfect": _lists(perfect), "half": _lists(half)}
    return recs, np.arange(n_users), train, test


@pytest.fixture(scope="module")
def synthetic_result():
    recs, users, train, test = _synthetic()
    return evaluate(recs, users, train, test, [5, 10], n_bootstrap=300, seed=7)


def test_bootstrap_interval_contains_the_point_estimate(synthetic_result) -> None:
    with_ci = synthetic_result.table.filter(pl.col(CI_LOW).is_not_null())
    assert with_ci.height > 0
    assert (with_ci[CI_LOW] <= with_ci[VALUE]).all()
    assert (with_ci[VALUE] <= with_ci[CI_HIGH]).all()


def test_constant_metric_interval_is_the_point() -> None:
    # Fault guarded: rounding in the resampled means must not leave a constant metric
    # outside its own interval. With 100 users all at 0.1 the raw 2.5% quantile of the
    # resampled means lands 2.8e-17 above the mean 0.1; the interval must still hold it.
    values = np.full((100, 1), 0.1)
    means = bootstrap_means(values, 200, np.random.default_rng(0))
    point = values.mean(axis=0)
    low, high = percentile_interval(means, point)
    assert low[0] <= point[0] <= high[0]
    assert high[0] - low[0] < 1e-15


def test_same_seed_same_table_other_seed_other_intervals() -> None:
    recs, users, train, test = _synthetic(seed=1, n_users=120)
    first = evaluate(recs, users, train, test, [5], n_bootstrap=100, seed=3)
    again = evaluate(recs, users, train, test, [5], n_bootstrap=100, seed=3)
    other = evaluate(recs, users, train, test, [5], n_bootstrap=100, seed=4)
    assert first.table.equals(again.table)
    assert first.paired.equals(again.paired)
    assert not first.table[CI_LOW].equals(other.table[CI_LOW])
    assert first.table[VALUE].equals(other.table[VALUE])  # points do not depend on the seed


def test_paired_test_of_a_strategy_against_itself_is_zero() -> None:
    recs, users, train, test = _synthetic(seed=3, n_users=100)
    twins = {"one": recs["noisy"], "two": recs["noisy"]}
    result = evaluate(twins, users, train, test, [5], n_bootstrap=200)
    for row in result.paired.iter_rows(named=True):
        assert row["best_strategy"] == "one"  # tie: the first strategy given is best
        assert row["mean_diff"] == 0.0 and row[CI_LOW] == 0.0 and row[CI_HIGH] == 0.0
        assert row["p_value"] == 1.0


def test_paired_test_finds_the_perfect_strategy_best(synthetic_result) -> None:
    paired = synthetic_result.paired.filter((pl.col(METRIC) == "recall") & (pl.col(K) == 10))
    assert set(paired["best_strategy"]) == {"perfect"}
    noisy = paired.filter(pl.col(STRATEGY) == "noisy").row(0, named=True)
    assert noisy["mean_diff"] < 0 and noisy[CI_HIGH] < 0 and noisy["p_value"] < 0.01
    assert paired.height == 3  # every strategy, the best one included


def test_per_user_arrays_average_to_the_table(synthetic_result) -> None:
    result = synthetic_result
    assert result.n_users[ALL_USERS] == 216  # 240 users minus every 10th (no truth)
    for metric in ACCURACY_METRICS:
        values = result.per_user[("half", metric, 10)]
        assert values.shape == (216,)
        assert _value(result, metric, 10, strategy="half")[VALUE] == pytest.approx(values.mean())


def test_activity_segments_follow_training_length(synthetic_result) -> None:
    result = synthetic_result
    # History lengths are 2 (cold, <= 5), 20 (light, 6-50) or 70 (heavy, > 50).
    labels = {"activity=cold", "activity=light", "activity=heavy"}
    assert labels <= set(result.segments)
    assert sum(result.n_users[label] for label in labels) == result.n_users[ALL_USERS]
    recall = result.per_user[("perfect", "recall", 5)]
    cold = result.segments["activity=cold"]
    assert _value(result, "recall", 5, "activity=cold", "perfect")[VALUE] == pytest.approx(
        recall[cold].mean()
    )


def test_bootstrap_weights_equal_explicit_resampling() -> None:
    # The weight-matrix shortcut must give exactly the means of explicit index resamples,
    # NaN (undefined) values skipped.
    values = np.array([[0.0, 1.0], [1.0, np.nan], [0.5, 0.25], [1.0, 0.0]])
    got = bootstrap_means(values, 50, np.random.default_rng(11))
    picks = np.random.default_rng(11).integers(0, 4, size=(50, 4))
    expected = np.nanmean(values[picks], axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_without_bootstrap_intervals_are_null(toy) -> None:
    recs, train, test, side = toy
    result = evaluate(recs, np.array([0, 1, 2]), train, test, [2], n_bootstrap=0)
    assert result.table[CI_LOW].null_count() == result.table.height
    assert result.paired["p_value"].null_count() == result.paired.height


def test_unknown_segment_attribute_and_bad_inputs_are_reported(toy) -> None:
    recs, train, test, side = toy
    users = np.array([0, 1, 2])
    with pytest.raises(InputError, match="no column 'age_band'"):
        evaluate(recs, users, train, test, [2], side=side, segment_attributes=["age_band"])
    with pytest.raises(InputError, match=r"recommendations\['a'\] has 3 rows but 2 users"):
        evaluate(recs, np.array([0, 1]), train, test, [2])
    with pytest.raises(InputError, match="repeated user"):
        evaluate(recs, np.array([0, 0, 1]), train, test, [2])
    with pytest.raises(InputError, match="ks must be"):
        evaluate(recs, users, train, test, [0])
    with pytest.raises(InputError, match="item_vectors has 2 rows"):
        evaluate(recs, users, train, test, [2], item_vectors=np.ones((2, 3)))


def test_cost_rows_percentiles_and_shape(toy) -> None:
    latencies = np.arange(1, 101, dtype=float)  # 1..100 ms
    rows = cost_rows("a", 12.5, latencies, 300.0)
    assert dict(rows.schema) == TABLE_SCHEMA
    got = dict(zip(rows[METRIC], rows[VALUE]))
    # Linear interpolation: p50 at rank 49.5 -> 50.5; p95 at 94.05 -> 95.05; p99 -> 99.01.
    assert got == pytest.approx(
        {"fit_seconds": 12.5, "latency_ms_p50": 50.5, "latency_ms_p95": 95.05,
         "latency_ms_p99": 99.01, "peak_memory_mb": 300.0}
    )
    assert rows[K].null_count() == 5 and set(rows[SEGMENT]) == {ALL_USERS}
    empty = cost_rows("a", None, [], None)
    assert empty[VALUE].null_count() == 5
    recs, train, test, _ = toy
    table = evaluate(recs, np.array([0, 1, 2]), train, test, [2], n_bootstrap=0).table
    assert pl.concat([table, rows]).height == table.height + 5  # same schema: stacks


def test_attribute_segments_pick_categorical_columns_in_readable_order() -> None:
    frame = pl.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "age_band": ["25-34", "<18", "56+", "18-24"],  # must read in age order
            "age": [30, 15, 60, 20],  # integer: not picked automatically
            "zip_code": ["1", "2", "3", "4"],  # 4 levels > max_levels=3: not picked
            "tier": pl.Series(["hi", "lo", None, "lo"], dtype=pl.Enum(["lo", "hi"])),
        }
    )
    got = attribute_segments(frame, np.array([0, 1, 2, 3]), max_levels=3)
    assert list(got) == ["tier=lo", "tier=hi"]  # age_band has 4 levels too
    got = attribute_segments(frame, np.array([0, 1, 2, 3]), columns=["age_band", "tier"])
    assert list(got) == [
        "age_band=<18", "age_band=18-24", "age_band=25-34", "age_band=56+",
        "tier=lo", "tier=hi",  # the Enum's declared order; user c (null tier) is in neither
    ]
    assert got["tier=lo"].tolist() == [1, 3]


def test_interval_quantiles_equal_numpy_nanquantile() -> None:
    # The vectorised quantile must reproduce np.nanquantile (linear rule), NaN skipped,
    # including an all-NaN column and a column with a single finite value.
    rng = np.random.default_rng(0)
    means = rng.random((37, 20))
    means[rng.random(means.shape) < 0.3] = np.nan
    means[:, 3] = np.nan
    means[:36, 4] = np.nan
    low, high = percentile_interval(means, np.full(20, -1.0))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanquantile(means, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(low, expected[0], equal_nan=True, atol=1e-15)
    np.testing.assert_allclose(high, expected[1], equal_nan=True, atol=1e-15)
