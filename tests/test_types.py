"""Core containers: sorting, histories and candidate layouts."""

from __future__ import annotations

import numpy as np

from recfusion.data import Candidates, Histories, Interactions


def test_rows_sorted_by_user_then_time_ties_keep_input_order():
    # Rows (in input order): u0 item0 t=5, u0 item1 t=5, u0 item2 t=1.
    # Sorted: t=1 first, then the two t=5 rows in input order (item0 before item1).
    log = Interactions.from_arrays(
        np.array(["u0"]), np.array(["i0", "i1", "i2"]), [0, 0, 0], [0, 1, 2], [5.0, 5.0, 1.0]
    )
    assert log.items.tolist() == [2, 0, 1]
    assert log.timestamps.tolist() == [1.0, 5.0, 5.0]


def test_missing_timestamps_use_input_order(toy_log):
    log = Interactions.from_arrays(np.array(["a", "b"]), np.array(["x", "y", "z"]),
                                   [1, 0, 1, 0], [2, 1, 0, 0])
    assert log.histories().row(0).tolist() == [1, 0]
    assert log.histories().row(1).tolist() == [2, 0]


def test_histories_follow_requested_user_order(toy_log):
    histories = toy_log.histories(np.array([2, 0], dtype=np.int32))
    # u3 saw a, d, e (indices 0, 3, 4); u1 saw a, b, c.
    assert histories.row(0).tolist() == [0, 3, 4]
    assert histories.row(1).tolist() == [0, 1, 2]
    assert histories.timestamps[:3].tolist() == [100.0, 200.0, 300.0]


def test_item_user_counts_count_distinct_users():
    log = Interactions.from_arrays(np.array(["a", "b"]), np.array(["x", "y"]),
                                   [0, 0, 1], [0, 0, 0])
    assert log.item_user_counts().tolist() == [2, 0]


def test_candidates_dense_round_trip_pads_with_minus_one():
    cands = Candidates.from_dense(np.array([[3, 1, -1], [-1, -1, -1]]),
                                  np.array([[0.9, 0.5, 0.0], [0.0, 0.0, 0.0]]))
    assert cands.lengths().tolist() == [2, 0]
    items, scores = cands.to_dense(4)
    assert items.tolist() == [[3, 1, -1, -1], [-1, -1, -1, -1]]
    assert np.isnan(scores[1]).all()
    assert cands.take(np.array([1, 0])).lengths().tolist() == [0, 2]


def test_histories_from_lists_default_positions():
    histories = Histories.from_lists([[4, 2], [], [1]])
    assert histories.lengths().tolist() == [2, 0, 1]
    assert histories.timestamps.tolist() == [0.0, 1.0, 0.0]
    assert histories.as_matrix(5).toarray()[0].tolist() == [0, 0, 1, 0, 1]
