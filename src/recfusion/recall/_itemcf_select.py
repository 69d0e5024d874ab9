"""Compiled top-k selection shared by the ItemCF kernels.

Candidates are (item, score) pairs held in two parallel arrays. "Better" means a higher
score, then a lower item index: a strict order on distinct items, so ties are settled
exactly and the result does not depend on the order candidates arrive in.

:func:`write_top` costs about one float comparison per candidate when candidates are
many (a sampled bar discards most of them), an expected O(count) quickselect on the rest,
and a sort of the best k only.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Candidates sampled to place the bar of :func:`_prefilter`.
BAR_SAMPLES = 512


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

    The bar is the score about ``3 k`` candidates should reach, read from an even sample.
    When fewer than ``k`` reach it (unlikely), every candidate is kept: the best ``k`` then
    certainly scored at least the bar, so nothing they need is lost either way.
    """
    stride = count // BAR_SAMPLES
    sample = scores[: stride * BAR_SAMPLES : stride].copy()
    rank = min(BAR_SAMPLES - 1, (3 * k * BAR_SAMPLES) // count)
    bar = np.partition(sample, BAR_SAMPLES - 1 - rank)[BAR_SAMPLES - 1 - rank]
    kept = 0
    for t in range(count):
        if scores[t] >= bar:
            _swap(items, scores, t, kept)
            kept += 1
    return kept if kept >= k else count


@njit(cache=True)
def write_top(items, scores, count, out_items, out_scores):
    """Write the best ``len(out_items)`` of the first ``count`` candidates, best first.

    The candidate arrays are reordered in place; returns how many were written.
    """
    k = out_items.shape[0]
    if count > 8 * k and count >= 2 * BAR_SAMPLES:
        count = _prefilter(items, scores, count, k)
    if count > k:
        _select_best(items, scores, count, k)
        count = k
    _sort_best_first(items, scores, count)
    out_items[:count] = items[:count]
    out_scores[:count] = scores[:count]
    return count


__all__ = ["write_top"]
