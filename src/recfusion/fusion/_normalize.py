"""Per-row score normalisation of channel candidates, so that channels can be summed.

Raw scores of different strategies live on unrelated scales (co-occurrence sums, dot
products, user counts); each method below maps one row of one channel to a common range.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from recfusion.data._types import SCORE_DTYPE, Candidates
from recfusion.errors import InputError
from recfusion.fusion._common import positions, row_ids

Normalization = Literal["minmax", "rank", "reciprocal", "zscore", "none"]
NORMALIZATIONS: tuple[str, ...] = ("minmax", "rank", "reciprocal", "zscore", "none")


def normalize(candidates: Candidates, method: Normalization = "minmax") -> Candidates:
    """Rescale the scores of every row independently; items and order are unchanged.

    Parameters
    ----------
    candidates : Candidates
        One channel's lists, best first (scores non-increasing within a row).
    method : {"minmax", "rank", "reciprocal", "zscore", "none"}
        * ``"minmax"``: ``(s - min) / (max - min)`` in [0, 1]; a row whose scores are all
          equal (including a one-item row) gets 1.0 everywhere.
        * ``"rank"``: ``1 - r / n`` where ``r`` is the 0-based competition rank (equal
          scores share the best rank of their group) and ``n`` the row length; the best item
          gets 1.0, the last distinct score ``1 / n``; an all-equal row gets 1.0.
        * ``"reciprocal"``: ``1 / (r + 1)`` with the same competition rank ``r``.
        * ``"zscore"``: ``(s - mean) / std`` (population std); an all-equal row gets 0.0.
          Below-average items become negative, i.e. worse than an item the channel did not
          return (which contributes 0 in a weighted sum).
        * ``"none"``: scores as given.

    Returns
    -------
    Candidates
        Same ``indptr`` and ``items``; float32 scores. Empty rows stay empty; no NaN is
        produced from finite input.
    """
    return Candidates(
        indptr=candidates.indptr,
        items=candidates.items,
        scores=np.ascontiguousarray(normalized_scores(candidates, method), dtype=SCORE_DTYPE),
    )


def normalized_scores(candidates: Candidates, method: Normalization) -> np.ndarray:
    """The float64 scores :func:`normalize` would return (before the float32 cast)."""
    if method not in NORMALIZATIONS:
        raise InputError(
            f"normalize: parameter 'method' must be one of {list(NORMALIZATIONS)}; "
            f"received {method!r}"
        )
    scores = np.asarray(candidates.scores, dtype=np.float64)
    if method == "none" or scores.shape[0] == 0:
        new = scores
    elif method == "minmax":
        new = _minmax(scores, candidates.indptr)
    elif method == "zscore":
        new = _zscore(scores, candidates.indptr)
    else:
        rank = competition_rank(scores, candidates.indptr)
        if method == "rank":
            lengths = np.repeat(np.diff(candidates.indptr), np.diff(candidates.indptr))
            new = 1.0 - rank / lengths
        else:
            new = 1.0 / (rank + 1.0)
    return new


def _row_extreme(scores: np.ndarray, indptr: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """``ufunc.reduceat`` per row, broadcast back to the entries (rows must be non-empty)."""
    lengths = np.diff(indptr)
    starts = indptr[:-1][lengths > 0]
    per_row = ufunc.reduceat(scores, starts)
    return np.repeat(per_row, lengths[lengths > 0])


def _minmax(scores: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Min-max scaling per row; constant rows map to 1.0."""
    low = _row_extreme(scores, indptr, np.minimum)
    span = _row_extreme(scores, indptr, np.maximum) - low
    safe = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (scores - low) / safe, 1.0)


def _zscore(scores: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Standard score per row; constant rows map to 0.0."""
    rows = row_ids(indptr)
    lengths = np.diff(indptr).astype(np.float64)
    count = np.maximum(lengths, 1.0)
    mean = np.bincount(rows, weights=scores, minlength=lengths.shape[0]) / count
    centred = scores - mean[rows]
    var = np.bincount(rows, weights=centred**2, minlength=lengths.shape[0]) / count
    std = np.sqrt(var)[rows]
    # A relative threshold treats float round-off on equal scores as constant.
    constant = std <= 1e-12 * np.maximum(np.abs(mean[rows]), 1.0)
    return np.where(constant, 0.0, centred / np.where(constant, 1.0, std))


def competition_rank(scores: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """0-based rank of each entry in its row, equal scores sharing their group's first rank.

    Rows must be sorted best first (the Candidates contract).
    """
    total = scores.shape[0]
    pos = positions(indptr)
    index = np.arange(total, dtype=np.int64)
    starts_group = np.ones(total, dtype=bool)
    starts_group[1:] = scores[1:] != scores[:-1]
    starts_group |= pos == 0
    group_start = np.maximum.accumulate(np.where(starts_group, index, 0))
    return (group_start - np.repeat(indptr[:-1], np.diff(indptr))).astype(np.float64)


__all__ = [
    "NORMALIZATIONS",
    "Normalization",
    "competition_rank",
    "normalize",
    "normalized_scores",
]
