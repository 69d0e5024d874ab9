"""Score-level fusion: weighted sum of normalised scores and reciprocal rank fusion.

Both are computed by :class:`FusionPlan`, which lays out the union of all channels'
candidates once; re-merging with other weights or candidate budgets is then one compiled
pass over the entries, which is what makes weight tuning cheap.

Tie-breaking, everywhere in this module: higher fused score first, then lower item index.
Fused scores are rounded to 10 decimals first, so that sums which are equal in exact
arithmetic but were added in another order still tie.
Channels are always combined in sorted-name order so that float sums do not depend on the
order of the ``channels`` mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from recfusion.data._types import INDEX_DTYPE, SCORE_DTYPE, Candidates
from recfusion.errors import InputError
from recfusion.fusion._common import check_channels, positions, resolve_weights
from recfusion.fusion._kernels import (
    order_rows_kernel,
    top_k_kernel,
    union_kernel,
    union_scores_kernel,
)
from recfusion.fusion._normalize import Normalization, normalized_scores

Method = Literal["weighted", "rrf"]

#: Fused scores are rounded to this many decimals before ordering (see union_scores).
ROUND_DECIMALS = 10


@dataclass(frozen=True, eq=False)
class FusionPlan:
    """The union of every channel's candidates, laid out once for repeated merging.

    Attributes
    ----------
    names : list of str
        Channel names, sorted; weight and budget arrays follow this order.
    method : {"weighted", "rrf"}
        Weighted sum of normalised scores, or reciprocal rank fusion.
    union_indptr, union_items : ndarray
        CSR layout of the distinct (row, item) pairs, items ascending within a row.
    inverse, channel, position, value : ndarray, shape (n_entries,)
        For every channel entry: its slot in the union, its channel index, its 0-based
        position in the channel's row, and its normalised score.
    max_lengths : ndarray of int64, shape (n_channels,)
        Longest row of each channel (the largest useful candidate budget).
    """

    names: list[str]
    method: Method
    k_rrf: float
    union_indptr: np.ndarray
    union_items: np.ndarray
    inverse: np.ndarray
    channel: np.ndarray
    position: np.ndarray
    value: np.ndarray
    max_lengths: np.ndarray

    @classmethod
    def build(
        cls,
        channels: Mapping[str, Candidates],
        *,
        method: Method = "weighted",
        normalization: Normalization = "minmax",
        k_rrf: float = 60.0,
    ) -> FusionPlan:
        """Normalise each channel and index the union of their (row, item) pairs."""
        names = check_channels(channels, "fusion")
        if method not in ("weighted", "rrf"):
            raise InputError(
                f"fusion: parameter 'method' must be 'weighted' or 'rrf'; received {method!r}"
            )
        if k_rrf < 0:
            raise InputError(f"fusion: parameter 'k_rrf' must be >= 0; received {k_rrf}")
        parts = [_entries(channels[name], index, normalization) for index, name in enumerate(names)]
        items, channel, position, value = (np.concatenate(p) for p in zip(*parts))
        lengths = np.array([channels[name].items.shape[0] for name in names], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        indptrs = np.stack([channels[name].indptr.astype(np.int64) for name in names])
        indptr, union_items, inverse = union_kernel(
            indptrs, offsets, items, int(items.max(initial=-1)) + 1
        )
        return cls(
            names=names,
            method=method,
            k_rrf=float(k_rrf),
            union_indptr=indptr,
            union_items=union_items.astype(INDEX_DTYPE),
            inverse=inverse,
            channel=channel,
            position=position,
            value=value,
            max_lengths=np.array([channels[n].lengths().max(initial=0) for n in names]),
        )

    @property
    def n_rows(self) -> int:
        return int(self.union_indptr.shape[0] - 1)

    def weight_array(self, weights: Mapping[str, float] | None) -> np.ndarray:
        """Weights in channel order; channels not listed get 1.0."""
        return resolve_weights(self.names, weights, "fusion")

    def budget_array(self, budgets: Mapping[str, int] | None) -> np.ndarray:
        """Candidate budget per channel in channel order; channels not listed keep all."""
        budgets = dict(budgets or {})
        return np.array([int(budgets.get(n, m)) for n, m in zip(self.names, self.max_lengths)])

    def union_scores(
        self, weights: np.ndarray, budgets: np.ndarray, k_rrf: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fused score of every union slot, and whether any channel contributed to it."""
        if self.method == "rrf":
            base = 1.0 / ((self.k_rrf if k_rrf is None else k_rrf) + self.position + 1.0)
        else:
            base = self.value
        fused, active = union_scores_kernel(
            self.inverse, self.channel, self.position, base,
            np.asarray(weights, dtype=np.float64), np.asarray(budgets, dtype=np.int64),
            self.union_items.shape[0],
        )
        # Sums that are equal in exact arithmetic can differ in the last bits depending on
        # the order of addition; rounding makes them tie, so the item index decides.
        return np.round(fused, ROUND_DECIMALS), active

    def fuse(
        self,
        weights: Mapping[str, float] | None = None,
        budgets: Mapping[str, int] | None = None,
        n: int | None = None,
    ) -> Candidates:
        """Merged lists, best first, at most ``n`` items per row (all when None)."""
        fused, active = self.union_scores(self.weight_array(weights), self.budget_array(budgets))
        return ordered_union(self.union_indptr, self.union_items, fused, active, n)

    def top_k(
        self, weights: np.ndarray, budgets: np.ndarray, k: int, k_rrf: float | None = None
    ) -> np.ndarray:
        """Dense (n_rows, k) item matrix of the fused top-k, -1 padded (same order as fuse)."""
        fused, active = self.union_scores(weights, budgets, k_rrf)
        return top_k_kernel(self.union_indptr, self.union_items, fused, active, k)


def ordered_union(
    indptr: np.ndarray,
    items: np.ndarray,
    scores: np.ndarray,
    active: np.ndarray | None = None,
    n: int | None = None,
) -> Candidates:
    """Candidates from union slots (items ascending per row): score descending, then item.

    ``active`` masks the slots to keep (default all); ``n`` caps each row (default none).
    """
    if active is None:
        active = np.ones(scores.shape[0], dtype=bool)
    limit = int(indptr[-1]) if n is None else int(n)
    out_indptr, picked = order_rows_kernel(indptr, scores, active, limit)
    return Candidates(
        indptr=out_indptr,
        items=np.ascontiguousarray(items[picked], dtype=INDEX_DTYPE),
        scores=np.ascontiguousarray(scores[picked], dtype=SCORE_DTYPE),
    )


def _entries(candidates: Candidates, index: int, normalization: Normalization) -> tuple:
    """(items, channel, position, value) arrays of one channel's entries."""
    count = candidates.items.shape[0]
    return (
        candidates.items.astype(np.int64),
        np.full(count, index, dtype=np.int64),
        positions(candidates.indptr),
        normalized_scores(candidates, normalization),
    )


def weighted_fusion(
    channels: Mapping[str, Candidates],
    weights: Mapping[str, float] | None = None,
    normalization: Normalization = "minmax",
    *,
    budgets: Mapping[str, int] | None = None,
    n: int | None = None,
) -> Candidates:
    """Weighted sum of per-row normalised channel scores.

    Parameters
    ----------
    channels : dict of str to Candidates
        Each channel's lists, one row per query row (same rows for all), best first.
    weights : dict of str to float, optional
        Weight per channel (>= 0); channels not listed get 1.0; weight 0 drops a channel.
    normalization : str
        See :func:`recfusion.fusion.normalize`; default ``"minmax"``.
    budgets : dict of str to int, optional
        Use only the first ``budgets[name]`` candidates of a channel (default: all).
    n : int, optional
        Keep the best ``n`` per row (default: the whole union).

    Returns
    -------
    Candidates
        Fused score = sum over channels of ``weight * normalised score``; a channel that did
        not return an item contributes 0 for it. Ties: lower item index first.
    """
    plan = FusionPlan.build(channels, method="weighted", normalization=normalization)
    return plan.fuse(weights, budgets, n)


def rrf_fusion(
    channels: Mapping[str, Candidates],
    weights: Mapping[str, float] | None = None,
    k_rrf: float = 60.0,
    *,
    budgets: Mapping[str, int] | None = None,
    n: int | None = None,
) -> Candidates:
    """Reciprocal rank fusion: score = sum over channels of ``weight / (k_rrf + rank)``.

    ``rank`` is the 1-based position of the item in the channel's row (scores are ignored);
    a channel that did not return the item contributes 0. Other parameters and the
    tie-breaking are as in :func:`weighted_fusion`.
    """
    plan = FusionPlan.build(channels, method="rrf", k_rrf=k_rrf)
    return plan.fuse(weights, budgets, n)


__all__ = ["FusionPlan", "Method", "ordered_union", "rrf_fusion", "weighted_fusion"]
