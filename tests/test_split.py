"""Leave-last-out and time splits: hand-worked answers and properties over random logs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recfusion.config import SplitConfig
from recfusion.data import Interactions, leave_last_out, split_interactions, time_split
from recfusion.errors import InputError


def _log(rows: list[tuple[str, str, float]]) -> Interactions:
    """Interactions from (user, item, timestamp) rows in input order; ids in first-seen order."""
    user_ids = list(dict.fromkeys(r[0] for r in rows))
    item_ids = list(dict.fromkeys(r[1] for r in rows))
    return Interactions.from_arrays(
        np.array(user_ids, dtype=object),
        np.array(item_ids, dtype=object),
        users=[user_ids.index(r[0]) for r in rows],
        items=[item_ids.index(r[1]) for r in rows],
        timestamps=[r[2] for r in rows],
    )


def _triples(log: Interactions) -> list[tuple[str, str, float]]:
    return [
        (log.user_ids[u], log.item_ids[i], float(t))
        for u, i, t in zip(log.users, log.items, log.timestamps)
    ]


def test_leave_last_out_worked_by_hand() -> None:
    log = _log(
        [
            ("u1", "a", 1.0),
            ("u1", "b", 3.0),
            ("u1", "c", 3.0),  # ties with b at t=3; read later, so c is the last event
            ("u2", "x", 5.0),  # u2's only interaction: stays in train, not evaluated
            ("u3", "p", 1.0),
            ("u3", "q", 2.0),
            ("u3", "p", 3.0),  # re-visit of p: the latest NEW item is q, this row is dropped
            ("u4", "d", 2.0),
            ("u4", "d", 1.0),  # u4 only ever saw d: nothing new after the first event
            ("u5", "f", 7.0),
            ("u5", "e", 7.0),  # tie again: e read after f, so e is the target
        ]
    )
    split = leave_last_out(log)
    assert _triples(split.test) == [("u1", "c", 3.0), ("u3", "q", 2.0), ("u5", "e", 7.0)]
    assert _triples(split.train) == [
        ("u1", "a", 1.0),
        ("u1", "b", 3.0),
        ("u2", "x", 5.0),
        ("u3", "p", 1.0),
        ("u4", "d", 1.0),
        ("u4", "d", 2.0),
        ("u5", "f", 7.0),
    ]
    assert split.dropped == 1  # u3's p at t=3
    assert split.train.user_ids is log.user_ids, "same id spaces, no renumbering"


def test_single_interaction_user_is_not_evaluated(toy_log: Interactions) -> None:
    rows = _triples(toy_log) + [("u4", "a", 1.0)]
    split = leave_last_out(_log(rows))
    tested = {split.test.user_ids[u] for u in split.test.users}
    assert tested == {"u1", "u2", "u3"}
    assert ("u4", "a", 1.0) in _triples(split.train)


def test_leave_last_out_needs_an_evaluable_user() -> None:
    with pytest.raises(InputError, match="leave_last_out"):
        leave_last_out(_log([("u1", "a", 1.0), ("u2", "a", 2.0)]))


TIME_ROWS = [
    ("u1", "a", 1.0),
    ("u1", "b", 2.0),
    ("u2", "c", 3.0),
    ("u2", "d", 4.0),
    ("u1", "c", 5.0),
    ("u3", "e", 6.0),
    ("u2", "a", 7.0),
    ("u1", "a", 8.0),
    ("u4", "b", 9.0),
    ("u4", "b", 10.0),
]


def test_time_split_with_quantile_cutoff_worked_by_hand() -> None:
    # 10 events, test_fraction 0.3 -> 3 test events -> cutoff = sorted[10 - 3] = 8.
    split = time_split(_log(TIME_ROWS), test_fraction=0.3)
    assert split.cutoff == 8.0
    assert split.train.n_interactions == 7
    # t=8 (u1, a) is already in train: removed; t=10 repeats (u4, b) within test: removed.
    # u4 has no training row: a cold-start user, still tested.
    assert _triples(split.test) == [("u4", "b", 9.0)]
    assert split.dropped == 2


def test_time_split_with_explicit_cutoff() -> None:
    split = time_split(_log(TIME_ROWS), cutoff=5.0)
    assert sorted(_triples(split.test)) == [
        ("u1", "c", 5.0),
        ("u2", "a", 7.0),
        ("u3", "e", 6.0),
        ("u4", "b", 9.0),
    ]
    assert split.train.n_interactions == 4 and split.dropped == 2


def test_time_split_ties_at_the_cutoff_all_go_to_test() -> None:
    # 4 events, fraction 0.25 -> 1 test event -> cutoff = sorted[3] = 2, shared by 3 events.
    log = _log([("u1", "a", 1.0), ("u1", "b", 2.0), ("u2", "a", 2.0), ("u3", "c", 2.0)])
    split = time_split(log, test_fraction=0.25)
    assert split.cutoff == 2.0 and split.test.n_interactions == 3


def test_time_split_rejects_an_empty_side() -> None:
    with pytest.raises(InputError, match="no training or no test"):
        time_split(_log(TIME_ROWS), cutoff=100.0)


def test_validation_split_ignores_the_explicit_cutoff() -> None:
    config = SplitConfig(method="time", cutoff=8.0, test_fraction=0.3)
    split = split_interactions(_log(TIME_ROWS), config)
    # Train holds t=1..7; a second cut at 8 would leave no validation events.
    inner = split_interactions(split.train, config, validation=True)
    # 7 events, fraction 0.3 -> round(2.1) = 2 -> cutoff = sorted[5] = 6.
    assert inner.cutoff == 6.0
    assert split_interactions(split.train, SplitConfig()).test.n_interactions >= 1


@st.composite
def random_logs(draw: st.DrawFn) -> list[tuple[str, str, float]]:
    size = draw(st.integers(min_value=1, max_value=30))
    users = st.sampled_from(["u0", "u1", "u2", "u3"])
    items = st.sampled_from(["a", "b", "c", "d", "e"])
    times = st.integers(min_value=0, max_value=6).map(float)  # few values: many ties
    return draw(st.lists(st.tuples(users, items, times), min_size=size, max_size=size))


def _reference_leave_last_out(rows: list[tuple[str, str, float]]) -> tuple[set, set]:
    """Plain-Python version of the documented rule, for cross-checking."""
    train: set = set()
    test: set = set()
    for user in {r[0] for r in rows}:
        # Stable sort by time keeps input order on ties; tag rows with their position.
        own = sorted((r[2], pos, r) for pos, r in enumerate(rows) if r[0] == user)
        seen: set[str] = set()
        new_positions = []
        for index, (_, pos, row) in enumerate(own):
            if row[1] not in seen:
                new_positions.append(index)
            seen.add(row[1])
        target = new_positions[-1]
        if target == 0:
            train |= {(pos, row) for _, pos, row in own}
            continue
        train |= {(pos, row) for _, pos, row in own[:target]}
        test.add((own[target][1], own[target][2]))
    return {r for _, r in train}, {r for _, r in test}


def _check_order_and_pairs(split) -> None:
    train, test = _triples(split.train), _triples(split.test)
    for user in {row[0] for row in test}:
        train_times = [t for u, _, t in train if u == user]
        test_times = [t for u, _, t in test if u == user]
        assert not train_times or max(train_times) <= min(test_times)
    assert not {(u, i) for u, i, _ in train} & {(u, i) for u, i, _ in test}


@settings(max_examples=150, deadline=None)
@given(random_logs())
def test_leave_last_out_properties(rows: list[tuple[str, str, float]]) -> None:
    log = _log(rows)
    evaluable = any(
        len({i for u, i, _ in rows if u == user}) >= 2 for user in {r[0] for r in rows}
    )
    if not evaluable:
        with pytest.raises(InputError):
            leave_last_out(log)
        return
    split = leave_last_out(log)
    _check_order_and_pairs(split)
    assert split.train.n_interactions + split.test.n_interactions + split.dropped == len(rows)
    assert np.all(split.test.history_lengths() <= 1)
    train, test = _reference_leave_last_out(rows)
    assert set(_triples(split.test)) == test
    assert set(_triples(split.train)) == train


@settings(max_examples=150, deadline=None)
@given(random_logs(), st.sampled_from([0.1, 0.3, 0.5]))
def test_time_split_properties(rows: list[tuple[str, str, float]], fraction: float) -> None:
    log = _log(rows)
    # Reference cutoff: n_test = max(1, round-half-up(n * fraction)), cutoff = sorted[n - n_test].
    n_test = max(1, int(len(rows) * fraction + 0.5))
    cutoff = sorted(r[2] for r in rows)[len(rows) - n_test]
    train_pairs = {(u, i) for u, i, t in rows if t < cutoff}
    new_pairs = {(u, i) for u, i, t in rows if t >= cutoff} - train_pairs
    if not train_pairs or not new_pairs:
        with pytest.raises(InputError):
            time_split(log, test_fraction=fraction)
        return
    split = time_split(log, test_fraction=fraction)
    assert split.cutoff == cutoff
    assert {(u, i) for u, i, _ in _triples(split.test)} == new_pairs
    _check_order_and_pairs(split)
    assert (split.train.timestamps < split.cutoff).all()
    assert (split.test.timestamps >= split.cutoff).all()
    pairs = [(u, i) for u, i, _ in _triples(split.test)]
    assert len(pairs) == len(set(pairs)), "a pair appears once in test"
    assert split.train.n_interactions + split.test.n_interactions + split.dropped == len(rows)
