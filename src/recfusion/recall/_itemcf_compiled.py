"""Compiled loops of ItemCF (numba): neighbour rows, history scoring and top-k selection.

Every ``@njit`` function of ItemCF lives in this one module on purpose: numba's on-disk
cache checks only the source file of the function it compiled, so a compiled caller in
another file could keep running a stale copy of an edited callee.

The public entry points, with the definitions they implement, are
:func:`recfusion.recall._itemcf_kernel.compute_neighbours` and
:func:`recfusion.recall._itemcf_kernel.score_histories`.

Accumulators: each work chunk owns a dense ``float64`` array over the catalogue. A row that
expects few additions records which entries it touched and visits only those; a row
expecting more than ``n_items / DENSE_RATIO`` additions skips the bookkeeping and scans the
whole array instead.

Top-k: "better" means a higher score, then a lower item index, a strict order on distinct
items, so ties are settled exactly whatever order candidates arrive in. A sampled bar
discards most candidates with one float comparison each, a quickselect finds the best k of
the rest, and only those k are sorted.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: A row expecting more than n_items / DENSE_RATIO additions scans the whole accumulator.
DENSE_RATIO = 2.0


# ---------------------------------------------------------------- top-k selection


#: Candidates sampled to place the bar of :func:`_prefilter`.
BAR_SAMPLES = 2048


@njit(cache=True, inline="always")
def _better(score_a, item_a, score_b, item_b):
    """True when (score_a, item_a) ranks before (score_b, item_b)."""
    return score_a > score_b or (score_a == score_b and item_a < item_b)


@njit(cache=True, inline="always")
def _swap(items, scores, a, b):
    items[a], items[b] = items[b], items[a]
    scores[a], scores[b] = scores[b], scores[a]


@njit(cache=True)
def _insertion_sort(items, scores, lo, hi):
    """Sort entries lo..hi (inclusive) best first."""
    for start in range(lo + 1, hi + 1):
        item, score = items[start], scores[start]
        pos = start - 1
        while pos >= lo and _better(score, item, scores[pos], items[pos]):
            items[pos + 1], scores[pos + 1] = items[pos], scores[pos]
            pos -= 1
        items[pos + 1], scores[pos + 1] = item, score


@njit(cache=True)
def _partition(items, scores, lo, hi):
    """Hoare partition around the median of three; returns (left end, right start)."""
    mid = (lo + hi) >> 1
    if _better(scores[mid], items[mid], scores[lo], items[lo]):
        _swap(items, scores, mid, lo)
    if _better(scores[hi], items[hi], scores[lo], items[lo]):
        _swap(items, scores, hi, lo)
    if _better(scores[hi], items[hi], scores[mid], items[mid]):
        _swap(items, scores, hi, mid)
    pivot_score, pivot_item = scores[mid], items[mid]
    left, right = lo, hi
    while left <= right:
        while _better(scores[left], items[left], pivot_score, pivot_item):
            left += 1
        while _better(pivot_score, pivot_item, scores[right], items[right]):
            right -= 1
        if left <= right:
            _swap(items, scores, left, right)
            left += 1
            right -= 1
    return right, left


@njit(cache=True)
def _sort_best_first(items, scores, count):
    """In-place quicksort of the first ``count`` entries, best first."""
    stack = np.empty(256, dtype=np.int64)
    stack[0], stack[1], top = 0, count - 1, 2
    while top > 0:
        top -= 2
        lo, hi = stack[top], stack[top + 1]
        while hi - lo > 16:
            left_end, right_start = _partition(items, scores, lo, hi)
            # Push the smaller side and loop on the larger: the stack stays O(log count).
            if left_end - lo < hi - right_start:
                stack[top], stack[top + 1], top = lo, left_end, top + 2
                lo = right_start
            else:
                stack[top], stack[top + 1], top = right_start, hi, top + 2
                hi = left_end
        _insertion_sort(items, scores, lo, hi)


@njit(cache=True)
def _select_best(items, scores, count, k):
    """Move the best ``k`` of the first ``count`` entries to the front, unordered."""
    lo, hi = 0, count - 1
    while hi - lo > 16:
        left_end, right_start = _partition(items, scores, lo, hi)
        if k - 1 <= left_end:
            hi = left_end
        elif k - 1 >= right_start:
            lo = right_start
        else:
            return
    _insertion_sort(items, scores, lo, hi)


@njit(cache=True)
def _prefilter(items, scores, count, k):
    """Move candidates scoring at least a sampled bar to the front; returns how many.

    From an even sample, the bar is the score of the sample entry ranked ``mean + 4 sd + 4``
    where ``mean`` (the Poisson mean) is how many sample entries are expected among the best
    ``k``: the best ``k`` then score at least the bar with probability above 0.999. When at
    least ``k`` candidates reach the bar the best ``k`` all do, and only those at the front
    need searching; otherwise every candidate stays in play.
    """
    samples = min(BAR_SAMPLES, count // 4)
    stride = count // samples
    sample = scores[: stride * samples : stride].copy()
    expected = k * samples / count
    rank = min(samples - 1, int(expected + 4.0 * math.sqrt(expected) + 4.0))
    bar = np.partition(sample, samples - 1 - rank)[samples - 1 - rank]
    kept = 0
    for t in range(count):
        if scores[t] >= bar:
            _swap(items, scores, t, kept)
            kept += 1
    return kept if kept >= k else count


@njit(cache=True)
def _write_top(items, scores, count, out_items, out_scores):
    """Write the best ``len(out_items)`` of the first ``count`` candidates, best first.

    The candidate arrays are reordered in place; returns how many were written.
    """
    k = out_items.shape[0]
    if count > 4 * k:
        count = _prefilter(items, scores, count, k)
    if count > k:
        _select_best(items, scores, count, k)
        count = k
    _sort_best_first(items, scores, count)
    out_items[:count] = items[:count]
    out_scores[:count] = scores[:count]
    return count


# ---------------------------------------------------------------- neighbour table


@njit(parallel=True, cache=True, nogil=True)
def latest_mask(bounds, indptr, items, n_items):
    """Mark each user's last row of every item (rows are time-sorted per user)."""
    keep = np.zeros(items.shape[0], dtype=np.bool_)
    for chunk in prange(bounds.shape[0] - 1):
        owner = np.full(n_items, -1, dtype=np.int64)
        for user in range(bounds[chunk], bounds[chunk + 1]):
            for row in range(indptr[user + 1] - 1, indptr[user] - 1, -1):
                if owner[items[row]] != user:
                    owner[items[row]] = user
                    keep[row] = True
    return keep


@njit(cache=True, nogil=True)
def group_rows(items, n_items):
    """Counting sort: rows of each item in ascending row order, as (indptr, rows)."""
    indptr = np.zeros(n_items + 1, dtype=np.int64)
    for item in items:
        indptr[item + 1] += 1
    for item in range(n_items):
        indptr[item + 1] += indptr[item]
    cursor = indptr[:-1].copy()
    rows = np.empty(items.shape[0], dtype=np.int64)
    for row in range(items.shape[0]):
        rows[cursor[items[row]]] = row
        cursor[items[row]] += 1
    return indptr, rows


@njit(cache=True, inline="always")
def _add(j, weight, acc, touched, flags, n_touched, track):
    """acc[j] += weight; with ``track``, record j the first time it is touched."""
    if track and flags[j] == 0:
        flags[j] = 1
        touched[n_touched] = j
        n_touched += 1
    acc[j] += weight
    return n_touched


@njit(cache=True, inline="always")
def _accumulate(row, lo, hi, items, times, damp, dir_pos, timing, acc, touched, flags,
                n_touched, track):
    """Add the weights of pairs (row, other) for other in lo..hi-1 of the same user.

    ``dir_pos[0, gap]`` is backward_weight * pos(gap), ``dir_pos[1, gap]`` the forward one;
    ``timing`` is (time_decay, span).
    """
    time_decay, span = timing[0], timing[1]
    for other in range(lo, row):
        weight = dir_pos[0, row - other]
        if time_decay > 0.0:
            weight *= math.exp(-time_decay * abs(times[row] - times[other]) / span)
        n_touched = _add(items[other], weight * damp, acc, touched, flags, n_touched, track)
    for other in range(row + 1, hi):
        weight = dir_pos[1, other - row]
        if time_decay > 0.0:
            weight *= math.exp(-time_decay * abs(times[other] - times[row]) / span)
        n_touched = _add(items[other], weight * damp, acc, touched, flags, n_touched, track)
    return n_touched


@njit(cache=True, inline="always")
def _gather(acc, touched, flags, n_touched, track, norm, item_users, found):
    """Move acc[j] / sqrt(norm * item_users[j]) > 0 into (touched, found); clears acc.

    With ``track`` only the touched entries are visited, otherwise the whole accumulator
    (cheaper when most of it was touched). ``item_users`` None means a divisor of 1.
    """
    positive = 0
    size = n_touched if track else acc.shape[0]
    for t in range(size):
        j = touched[t] if track else t
        value = acc[j]
        if value == 0.0 and not track:
            continue
        acc[j] = 0.0
        flags[j] = 0
        if item_users is not None:
            value = value / math.sqrt(norm * float(item_users[j]))
        if value > 0.0:
            touched[positive], found[positive] = j, value
            positive += 1
    return positive


@njit(parallel=True, cache=True, nogil=True)
def neighbour_block(order, first, occ_ptr, occ, row_user, user_ptr, user_damp, items, times,
                    item_users, timing, dir_pos, work, window, k, n_chunks):
    """Top-k neighbours of items ``order`` (output row = item - first), parallel over chunks."""
    n_items = item_users.shape[0]
    size = order.shape[0]
    out_items = np.full((size, k), -1, dtype=np.int32)
    out_sims = np.zeros((size, k), dtype=np.float64)
    counts = np.zeros(size, dtype=np.int64)
    for chunk in prange(n_chunks):
        acc = np.zeros(n_items, dtype=np.float64)
        flags = np.zeros(n_items, dtype=np.uint8)
        touched = np.empty(n_items, dtype=np.int64)
        found = np.empty(n_items, dtype=np.float64)
        for slot in range(chunk, size, n_chunks):
            item = order[slot]
            track = work[item] * DENSE_RATIO < n_items
            n_touched = 0
            for entry in range(occ_ptr[item], occ_ptr[item + 1]):
                row = occ[entry]
                user = row_user[row]
                lo = max(user_ptr[user], row - window)
                hi = min(user_ptr[user + 1], row + window + 1)
                n_touched = _accumulate(row, lo, hi, items, times, user_damp[user], dir_pos,
                                        timing, acc, touched, flags, n_touched, track)
            positive = _gather(acc, touched, flags, n_touched, track, float(item_users[item]),
                               item_users, found)
            out = item - first
            counts[out] = _write_top(touched, found, positive, out_items[out], out_sims[out])
    return out_items, out_sims, counts


# ---------------------------------------------------------------- scoring


@njit(cache=True, inline="always")
def _row_load(start, end, h_items, t_ptr, recent):
    """Estimated accumulator additions of one row: neighbours of its last ``recent`` items."""
    load = 0
    for pos in range(max(start, end - recent), end):
        load += t_ptr[h_items[pos] + 1] - t_ptr[h_items[pos]]
    return load


@njit(cache=True, inline="always")
def _score_row(start, end, h_items, t_ptr, t_items, t_sims, recent, decay, exclude_seen,
               row, used, acc, touched, flags, track):
    """Accumulate the scores of history positions start..end-1 into acc; returns touched count.

    ``used[item] == row`` marks items already scored for this row. Seen items are
    accumulated like any other and zeroed at the end (cheaper than a branch per entry).
    """
    n_touched = 0
    step = 0
    for pos in range(end - 1, start - 1, -1):
        if step >= recent:
            break
        source = h_items[pos]
        if used[source] == row:
            continue
        used[source] = row
        weight = math.pow(decay, step)
        step += 1
        for entry in range(t_ptr[source], t_ptr[source + 1]):
            n_touched = _add(t_items[entry], weight * t_sims[entry], acc, touched, flags,
                             n_touched, track)
    if exclude_seen:
        for pos in range(start, end):
            acc[h_items[pos]] = 0.0
    return n_touched


@njit(parallel=True, cache=True, nogil=True)
def score_block(rows, h_ptr, h_items, t_ptr, t_items, t_sims, n, recent, decay, exclude_seen,
                n_chunks):
    """Top-``n`` scores of history rows ``rows``, parallel over chunks."""
    n_items = t_ptr.shape[0] - 1
    size = rows.shape[0]
    out_items = np.full((size, n), -1, dtype=np.int32)
    out_scores = np.zeros((size, n), dtype=np.float64)
    counts = np.zeros(size, dtype=np.int64)
    for chunk in prange(n_chunks):
        acc = np.zeros(n_items, dtype=np.float64)
        flags = np.zeros(n_items, dtype=np.uint8)
        touched = np.empty(n_items, dtype=np.int64)
        used = np.full(n_items, -1, dtype=np.int64)
        found = np.empty(n_items, dtype=np.float64)
        for slot in range(chunk, size, n_chunks):
            row = rows[slot]
            start, end = h_ptr[row], h_ptr[row + 1]
            track = _row_load(start, end, h_items, t_ptr, recent) * DENSE_RATIO < n_items
            n_touched = _score_row(start, end, h_items, t_ptr, t_items, t_sims, recent, decay,
                                   exclude_seen, row, used, acc, touched, flags, track)
            positive = _gather(acc, touched, flags, n_touched, track, 1.0, None, found)
            counts[slot] = _write_top(touched, found, positive, out_items[slot],
                                      out_scores[slot])
    return out_items, out_scores, counts


__all__ = ["DENSE_RATIO", "group_rows", "latest_mask", "neighbour_block", "score_block"]
