"""Numba kernels of the per-trial hot path of weight tuning (one pass over the union)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def union_scores_kernel(
    inverse, channel, position, base, weights, budgets, size
):  # pragma: no cover
    """Sum ``weights[c] * base`` per union slot over entries within their channel's budget.

    Entries are added in input order, as ``np.bincount`` would, so sums are reproducible.
    """
    fused = np.zeros(size)
    active = np.zeros(size, dtype=np.bool_)
    for entry in range(inverse.shape[0]):
        source = channel[entry]
        if position[entry] < budgets[source] and weights[source] > 0:
            fused[inverse[entry]] += weights[source] * base[entry]
            active[inverse[entry]] = True
    return fused, active


@numba.njit(nogil=True, cache=True)
def top_k_kernel(indptr, items, fused, active, k):  # pragma: no cover
    """Per row, the ``k`` active slots with the highest score (ties: earlier slot first).

    Slots of a row hold items in ascending order, so ties go to the lower item index.
    Returns an (n_rows, k) item matrix padded with -1.
    """
    n_rows = indptr.shape[0] - 1
    out = np.full((n_rows, k), -1, dtype=np.int32)
    best = np.empty(k)
    for row in range(n_rows):
        count = 0
        for slot in range(indptr[row], indptr[row + 1]):
            if not active[slot]:
                continue
            value = fused[slot]
            if count == k and value <= best[k - 1]:
                continue
            place = min(count, k - 1)
            while place > 0 and best[place - 1] < value:
                best[place] = best[place - 1]
                out[row, place] = out[row, place - 1]
                place -= 1
            best[place] = value
            out[row, place] = items[slot]
            count = min(count + 1, k)
    return out




@numba.njit(nogil=True, cache=True)
def union_kernel(indptrs, offsets, items, n_items):  # pragma: no cover
    """Distinct (row, item) pairs of several channels' CSR lists, items ascending per row.

    ``indptrs`` is (n_channels, n_rows + 1); channel c's entries start at ``offsets[c]`` in
    the concatenated ``items``. Returns the union's row pointer and items, and for every
    input entry the index of its union slot.
    """
    n_channels, n_rows = indptrs.shape[0], indptrs.shape[1] - 1
    scratch = np.full(n_items, -1, dtype=np.int64)
    inverse = np.empty(items.shape[0], dtype=np.int64)
    union_items = np.empty(items.shape[0], dtype=np.int64)
    union_indptr = np.zeros(n_rows + 1, dtype=np.int64)
    count = 0
    for row in range(n_rows):
        start = count
        for source in range(n_channels):
            for entry in range(offsets[source] + indptrs[source, row],
                               offsets[source] + indptrs[source, row + 1]):
                if scratch[items[entry]] == -1:
                    scratch[items[entry]] = 0
                    union_items[count] = items[entry]
                    count += 1
        union_items[start:count].sort()
        for slot in range(start, count):
            scratch[union_items[slot]] = slot
        for source in range(n_channels):
            for entry in range(offsets[source] + indptrs[source, row],
                               offsets[source] + indptrs[source, row + 1]):
                inverse[entry] = scratch[items[entry]]
        for slot in range(start, count):
            scratch[union_items[slot]] = -1
        union_indptr[row + 1] = count
    return union_indptr, union_items[:count], inverse


@numba.njit(nogil=True, cache=True)
def order_rows_kernel(indptr, scores, active, limit):  # pragma: no cover
    """Per row, the first ``limit`` active slots by score descending (ties: slot order).

    Returns the new row pointer and the chosen slot indices.
    """
    n_rows = indptr.shape[0] - 1
    out_indptr = np.zeros(n_rows + 1, dtype=np.int64)
    picked = np.empty(indptr[-1], dtype=np.int64)
    count = 0
    for row in range(n_rows):
        slots = np.arange(indptr[row], indptr[row + 1])
        slots = slots[active[indptr[row]:indptr[row + 1]]]
        order = np.argsort(-scores[slots], kind="mergesort")
        take = min(order.shape[0], limit)
        picked[count:count + take] = slots[order[:take]]
        count += take
        out_indptr[row + 1] = count
    return out_indptr, picked[:count]


__all__ = ["order_rows_kernel", "top_k_kernel", "union_kernel", "union_scores_kernel"]
