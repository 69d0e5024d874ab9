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


__all__ = ["top_k_kernel", "union_scores_kernel"]
