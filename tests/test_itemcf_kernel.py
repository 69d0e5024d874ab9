"""The compiled ItemCF kernels against a slow, obvious pure-Python reference.

The reference follows the definition in ``recfusion.recall._itemcf_kernel`` line by line
(dictionaries, nested loops over every ordered pair); the kernels must give the same
similarities to 1e-12 and the same neighbour order, with every option toggled.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from recfusion.data import Histories, Interactions
from recfusion.recall._itemcf_kernel import (
    NeighbourParams,
    NeighbourTable,
    compute_neighbours,
    score_histories,
)


def reference_sequences(log: Interactions) -> list[list[tuple[int, float]]]:
    """Each user's (item, timestamp) list, deduplicated keeping the latest occurrence."""
    sequences = []
    for user in range(log.n_users):
        rows = range(log.user_indptr[user], log.user_indptr[user + 1])
        events = [(int(log.items[r]), float(log.timestamps[r])) for r in rows]
        latest = {item: position for position, (item, _) in enumerate(events)}
        sequences.append([events[position] for position in sorted(latest.values())])
    return sequences


def reference_similarities(log: Interactions, params: NeighbourParams) -> dict:
    """sim(i, j) for every pair with a co-occurrence, straight from the definition."""
    span = float(log.timestamps.max() - log.timestamps.min())
    window = params.effective_window()
    counts: dict[tuple[int, int], float] = defaultdict(float)
    users_of: dict[int, set[int]] = defaultdict(set)
    for user, sequence in enumerate(reference_sequences(log)):
        length = len(sequence)
        damp = 1.0 / math.log(1 + length) if params.user_damping else 1.0
        for item, _ in sequence:
            users_of[item].add(user)
        for p in range(length):
            for q in range(length):
                if p == q or (window is not None and abs(q - p) > window):
                    continue
                direction = params.forward_weight if q > p else params.backward_weight
                position = params.position_decay ** (abs(q - p) - 1)
                gap = abs(sequence[q][1] - sequence[p][1])
                timing = math.exp(-params.time_decay * gap / span) if span > 0 else 1.0
                counts[sequence[p][0], sequence[q][0]] += direction * position * timing * damp
    return {
        (i, j): value / math.sqrt(len(users_of[i]) * len(users_of[j]))
        for (i, j), value in counts.items()
    }


def reference_rows(sims: dict, n_items: int, k: int) -> list[list[tuple[int, float]]]:
    """Best k (neighbour, sim) per item, sim > 0, ties by lower neighbour index."""
    rows: list[list[tuple[int, float]]] = [[] for _ in range(n_items)]
    for (i, j), value in sims.items():
        if value > 0:
            rows[i].append((j, value))
    return [sorted(row, key=lambda pair: (-pair[1], pair[0]))[:k] for row in rows]


def reference_scores(rows, history: list[int], n: int, recent: int, decay: float,
                     exclude_seen: bool) -> list[tuple[int, float]]:
    """Top-n (item, score) of one history row under the scoring rule."""
    latest = {item: position for position, item in enumerate(history)}
    newest_first = sorted(latest, key=lambda item: -latest[item])[:recent]
    scores: dict[int, float] = defaultdict(float)
    for step, source in enumerate(newest_first):
        for neighbour, sim in rows[source]:
            if not (exclude_seen and neighbour in latest):
                scores[neighbour] += decay ** step * sim
    ranked = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
    return [pair for pair in ranked if pair[1] > 0][:n]


def random_log(seed: int, n_users: int = 30, n_items: int = 25) -> Interactions:
    """Random log with repeated items per user and tied timestamps."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 16, size=n_users)
    users = np.repeat(np.arange(n_users), lengths)
    popularity = rng.zipf(1.6, size=n_items).astype(float)
    items = rng.choice(n_items, size=users.shape[0], p=popularity / popularity.sum())
    timestamps = rng.integers(0, 40, size=users.shape[0]).astype(float) * 3600.0
    return Interactions.from_arrays(
        np.array([f"u{u}" for u in range(n_users)], dtype=object),
        np.array([f"i{i}" for i in range(n_items)], dtype=object),
        users, items, timestamps,
    )


def assert_rows_match(table: NeighbourTable, expected: list, tolerance: float = 1e-12) -> None:
    """Same similarities position by position; same ids except inside exact-tie groups."""
    assert table.n_items == len(expected)
    for item, row in enumerate(expected):
        ids, sims = table.row(item)
        want_ids = np.array([j for j, _ in row], dtype=np.int64)
        want_sims = np.array([s for _, s in row])
        assert ids.shape == want_ids.shape, f"item {item}: row length differs"
        np.testing.assert_allclose(sims, want_sims, rtol=0, atol=tolerance)
        for position, want in enumerate(want_ids):
            near = np.abs(want_sims - want_sims[position]) <= tolerance
            if near.sum() == 1:
                assert ids[position] == want, f"item {item}, position {position}"


OPTIONS = {
    "plain": NeighbourParams(),
    "direction": NeighbourParams(forward_weight=1.0, backward_weight=0.3),
    "no_backward": NeighbourParams(backward_weight=0.0),
    "position": NeighbourParams(position_decay=0.6),
    "time": NeighbourParams(time_decay=2.5),
    "damping": NeighbourParams(user_damping=True),
    "window": NeighbourParams(window=2),
    "max_pairs_window": NeighbourParams(max_pairs_window=3, window=5),
    "truncated": NeighbourParams(neighbours=3),
    "everything": NeighbourParams(0.9, 0.4, 0.7, 1.5, True, 4, None, 5),
}


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("seed", [0, 1])
def test_kernel_equals_reference(option, seed):
    log = random_log(seed)
    params = OPTIONS[option]
    table = compute_neighbours(log, params)
    expected = reference_rows(reference_similarities(log, params), log.n_items, params.neighbours)
    assert_rows_match(table, expected)


def test_rows_are_sorted_and_exclude_self():
    table = compute_neighbours(random_log(5), OPTIONS["everything"])
    for item in range(table.n_items):
        ids, sims = table.row(item)
        assert item not in ids.tolist()
        order = np.lexsort((ids, -sims))
        assert np.array_equal(order, np.arange(ids.shape[0])), f"item {item} is not sorted"


def test_small_blocks_give_the_same_table(monkeypatch):
    # Guards the block loop: items split over many blocks must land in the right rows.
    log = random_log(2)
    whole = compute_neighbours(log, OPTIONS["everything"])
    monkeypatch.setattr("recfusion.recall._itemcf_kernel.BLOCK_ENTRIES", 7)
    split = compute_neighbours(log, OPTIONS["everything"])
    assert np.array_equal(whole.indptr, split.indptr)
    assert np.array_equal(whole.neighbours, split.neighbours)
    assert np.array_equal(whole.similarities, split.similarities)


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_scorer_equals_reference(exclude_seen):
    log = random_log(3)
    params = OPTIONS["everything"]
    table = compute_neighbours(log, params)
    rows = reference_rows(reference_similarities(log, params), log.n_items, params.neighbours)
    rng = np.random.default_rng(9)
    lists = [rng.integers(0, log.n_items, size=rng.integers(0, 9)).tolist() for _ in range(40)]
    candidates = score_histories(table, Histories.from_lists(lists), 6, 3, 0.7, exclude_seen)
    for index, history in enumerate(lists):
        want = reference_scores(rows, history, 6, 3, 0.7, exclude_seen)
        items, scores = candidates.row(index)
        np.testing.assert_allclose(scores, [s for _, s in want], rtol=1e-6)
        tied = len({round(s, 6) for _, s in want}) < len(want)
        if not tied:
            assert items.tolist() == [i for i, _ in want], f"row {index}: {history}"


def test_scorer_blocks_and_empty_inputs(monkeypatch):
    log = random_log(4)
    table = compute_neighbours(log, NeighbourParams())
    histories = log.histories()
    whole = score_histories(table, histories, 5, 10, 0.9)
    monkeypatch.setattr("recfusion.recall._itemcf_kernel.BLOCK_ENTRIES", 11)
    split = score_histories(table, histories, 5, 10, 0.9)
    assert np.array_equal(whole.indptr, split.indptr)
    assert np.array_equal(whole.items, split.items)
    assert score_histories(table, Histories.from_lists([]), 5, 10, 0.9).n_rows == 0
    assert score_histories(table, histories, 0, 10, 0.9).lengths().sum() == 0


def test_from_triples_sorts_truncates_and_drops():
    table = NeighbourTable.from_triples(
        items=[0, 0, 0, 0, 1, 2, 2],
        neighbours=[1, 2, 0, 3, 0, 1, 3],
        similarities=[0.5, 0.5, 0.9, 0.7, 0.0, 0.2, 0.4],
        n_items=4,
        k=2,
    )
    # Item 0: the self pair (0, 0) is dropped; 3 (0.7) first, then the 0.5 tie goes to 1.
    assert table.row(0)[0].tolist() == [3, 1]
    # Item 1: its only entry has sim 0 and is dropped.
    assert table.row(1)[0].tolist() == []
    assert table.row(2)[0].tolist() == [3, 1]
    assert table.indptr.tolist() == [0, 2, 2, 4, 4]


def test_empty_log_gives_empty_table():
    log = random_log(0).select(np.zeros(random_log(0).n_interactions, dtype=bool))
    table = compute_neighbours(log, OPTIONS["everything"])
    assert table.indptr.tolist() == [0] * (log.n_items + 1)


@pytest.mark.parametrize("seed", range(4))
def test_top_k_selection_matches_lexsort(seed):
    # Guards the compiled selection (sampled bar, quickselect, sort) against a plain sort:
    # heavy ties and counts well above k exercise the bar and the tie rule (lower item first).
    from recfusion.recall._itemcf_compiled import _write_top

    rng = np.random.default_rng(seed)
    for count, k in [(1, 1), (5, 10), (50, 3), (700, 20), (5000, 200), (20000, 7)]:
        items = rng.permutation(count * 3)[:count].astype(np.int64)
        scores = rng.integers(1, 40, size=count) / 7.0
        order = np.lexsort((items, -scores))[:k]
        out_items = np.empty(k, dtype=np.int32)
        out_scores = np.empty(k)
        filled = _write_top(items.copy(), scores.copy(), count, out_items, out_scores)
        assert filled == min(k, count)
        assert out_items[:filled].tolist() == items[order].tolist()
        assert np.array_equal(out_scores[:filled], scores[order])
