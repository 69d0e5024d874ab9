"""Row-layout helpers shared by the fusion modules (all vectorised, no loop per row)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from recfusion.data._types import INDEX_DTYPE, SCORE_DTYPE, Candidates, Histories
from recfusion.errors import InputError


def row_ids(indptr: np.ndarray) -> np.ndarray:
    """Row index of every CSR entry, shape (indptr[-1],), int64."""
    n_rows = indptr.shape[0] - 1
    return np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(indptr))


def positions(indptr: np.ndarray) -> np.ndarray:
    """0-based position of every CSR entry inside its row, int64."""
    total = int(indptr[-1])
    return np.arange(total, dtype=np.int64) - np.repeat(indptr[:-1], np.diff(indptr))


def indptr_from_rows(rows: np.ndarray, n_rows: int) -> np.ndarray:
    """CSR row pointer for entries whose (sorted) row indices are ``rows``."""
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr


def candidates_from_sorted(
    rows: np.ndarray, items: np.ndarray, scores: np.ndarray, n_rows: int
) -> Candidates:
    """Build Candidates from entries already ordered by (row, best first)."""
    return Candidates(
        indptr=indptr_from_rows(rows, n_rows),
        items=np.ascontiguousarray(items, dtype=INDEX_DTYPE),
        scores=np.ascontiguousarray(scores, dtype=SCORE_DTYPE),
    )


def check_channels(channels: Mapping[str, Candidates], component: str) -> list[str]:
    """Channel names in sorted order; all channels must have the same number of rows."""
    if not channels:
        raise InputError(
            f"{component}: parameter 'channels' is empty; expected at least one channel's "
            "Candidates (hint: enable a strategy in the config)"
        )
    names = sorted(channels)
    counts = {name: channels[name].n_rows for name in names}
    if len(set(counts.values())) != 1:
        raise InputError(
            f"{component}: channels must have one row per query row each; received row "
            f"counts {counts} (hint: call every strategy with the same Histories)"
        )
    return names


def resolve_weights(
    names: list[str], weights: Mapping[str, float] | None, component: str
) -> np.ndarray:
    """Weight per channel in ``names`` order; channels not listed get 1.0."""
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise InputError(
            f"{component}: parameter 'weights' names unknown channels {unknown}; "
            f"expected a subset of {names}"
        )
    values = np.array([float(weights.get(name, 1.0)) for name in names], dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise InputError(
            f"{component}: parameter 'weights' must be finite and >= 0; received "
            f"{dict(zip(names, values.tolist()))}"
        )
    return values


def truth_keys(truth_indptr: np.ndarray, truth_items: np.ndarray, width: int) -> np.ndarray:
    """Sorted distinct int64 keys ``row * width + item`` of the held-out items."""
    rows = row_ids(np.asarray(truth_indptr, dtype=np.int64))
    return np.unique(rows * np.int64(width) + np.asarray(truth_items, dtype=np.int64))


def take_truth(
    truth_indptr: np.ndarray, truth_items: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The held-out CSR restricted to ``rows``, in that order."""
    truth_indptr = np.asarray(truth_indptr, dtype=np.int64)
    starts = truth_indptr[rows]
    lengths = truth_indptr[np.asarray(rows) + 1] - starts
    indptr = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    offsets = np.arange(indptr[-1], dtype=np.int64) - np.repeat(indptr[:-1], lengths)
    return indptr, np.asarray(truth_items)[np.repeat(starts, lengths) + offsets]


def history_slice(histories: Histories, start: int, stop: int) -> Histories:
    """Rows ``start:stop`` of ``histories`` as a new Histories."""
    first, last = histories.indptr[start], histories.indptr[stop]
    return Histories(
        indptr=histories.indptr[start : stop + 1] - first,
        items=histories.items[first:last],
        timestamps=histories.timestamps[first:last],
        weights=histories.weights[first:last],
    )


def candidates_slice(candidates: Candidates, start: int, stop: int) -> Candidates:
    """Rows ``start:stop`` of ``candidates`` as a new Candidates."""
    first, last = candidates.indptr[start], candidates.indptr[stop]
    return Candidates(
        indptr=candidates.indptr[start : stop + 1] - first,
        items=candidates.items[first:last],
        scores=candidates.scores[first:last],
    )


__all__ = [
    "candidates_from_sorted",
    "candidates_slice",
    "check_channels",
    "history_slice",
    "indptr_from_rows",
    "positions",
    "resolve_weights",
    "row_ids",
    "take_truth",
    "truth_keys",
]
