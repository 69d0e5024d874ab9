"""Features of (query row, candidate item) pairs for learned fusion, and item categories.

Every statistic is computed from the ``feature_log`` the caller passes: for the model
trained on the validation split that is the validation-train log, so no validation target
leaks into a feature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numba
import numpy as np
import polars as pl
import scipy.sparse as sp

from recfusion.data._types import Candidates, Histories, Interactions
from recfusion.fusion._common import row_ids
from recfusion.fusion._merge import FusionPlan
from recfusion.recall._base import SideInfo

#: Rank given to an item a channel did not return (larger than any real position).
MISSING_RANK = 1_000_000.0
#: Normalised score given to an item a channel did not return (real ones are in [0, 1]).
MISSING_SCORE = -1.0
#: Item age given to an item with no interaction in the feature log.
MISSING_AGE = -1.0


def category_matrix(
    side: SideInfo | None, n_items: int, column: str = "genres"
) -> tuple[sp.csr_matrix, list[str]] | None:
    """Items x categories binary CSR matrix from ``side.items[column]``, or None if absent.

    The column may hold lists of strings or ``|``-separated strings; nulls mean no
    category. Categories are sorted by name.
    """
    if side is None or side.items is None or column not in side.items.columns:
        return None
    values = side.items.get_column(column)
    if values.dtype == pl.Utf8:
        values = values.str.split("|")
    exploded = pl.DataFrame({"item": np.arange(values.len()), "category": values}).explode(
        "category"
    ).drop_nulls()
    exploded = exploded.filter(pl.col("category").str.len_chars() > 0)
    names = sorted(exploded.get_column("category").unique().to_list())
    code = {name: index for index, name in enumerate(names)}
    columns = np.array([code[c] for c in exploded.get_column("category").to_list()])
    matrix = sp.csr_matrix(
        (np.ones(columns.shape[0], dtype=np.float32), (exploded["item"].to_numpy(), columns)),
        shape=(n_items, len(names)),
    )
    matrix.data[:] = 1.0
    return matrix, names


def category_bits(matrix: sp.csr_matrix) -> np.ndarray:
    """One uint64 bit mask per item; beyond 63 categories the rarest share bit 63."""
    frequency = np.asarray(matrix.sum(axis=0)).ravel()
    order = np.lexsort((np.arange(frequency.shape[0]), -frequency))
    bit_of = np.empty(frequency.shape[0], dtype=np.uint64)
    bit_of[order] = np.minimum(np.arange(frequency.shape[0]), 63).astype(np.uint64)
    coo = matrix.tocoo()
    bits = np.zeros(matrix.shape[0], dtype=np.uint64)
    np.bitwise_or.at(bits, coo.row, np.left_shift(np.uint64(1), bit_of[coo.col]))
    return bits


@numba.njit(nogil=True, cache=True)
def _affinity_kernel(rows, items, hist_indptr, hist_items, bits):  # pragma: no cover
    """Share of each row's history items that share a category bit with the item."""
    out = np.zeros(rows.shape[0], dtype=np.float32)
    for pair in range(rows.shape[0]):
        start, end = hist_indptr[rows[pair]], hist_indptr[rows[pair] + 1]
        target = bits[items[pair]]
        if end == start or target == 0:
            continue
        hits = 0
        for index in range(start, end):
            if bits[hist_items[index]] & target:
                hits += 1
        out[pair] = hits / (end - start)
    return out


def genre_affinity(
    rows: np.ndarray, items: np.ndarray, histories: Histories, bits: np.ndarray
) -> np.ndarray:
    """Per pair: share of the row's history items sharing at least one category with it."""
    return _affinity_kernel(
        rows.astype(np.int64),
        items.astype(np.int64),
        histories.indptr.astype(np.int64),
        histories.items.astype(np.int64),
        bits,
    )


@dataclass(frozen=True, eq=False)
class ItemStats:
    """Per-item statistics of a feature log (times in the log's unit)."""

    log_popularity: np.ndarray
    first_seen: np.ndarray
    last_seen: np.ndarray
    now: float
    span: float

    @classmethod
    def from_log(cls, log: Interactions) -> ItemStats:
        """Distinct-user counts and first/last interaction time of every item."""
        first = np.full(log.n_items, np.inf)
        last = np.full(log.n_items, -np.inf)
        np.minimum.at(first, log.items, log.timestamps)
        np.maximum.at(last, log.items, log.timestamps)
        times = log.timestamps
        now = float(times.max()) if times.shape[0] else 0.0
        span = float(times.max() - times.min()) if times.shape[0] else 0.0
        return cls(
            log_popularity=np.log1p(log.item_user_counts()).astype(np.float32),
            first_seen=first,
            last_seen=last,
            now=now,
            span=span if span > 0 else 1.0,
        )


@dataclass(frozen=True, eq=False)
class PairFeatures:
    """Feature matrix of the union of candidates, one row per (query row, item) pair."""

    rows: np.ndarray
    items: np.ndarray
    matrix: np.ndarray
    names: list[str]


def pair_features(
    channels: Mapping[str, Candidates],
    histories: Histories,
    stats: ItemStats,
    bits: np.ndarray | None,
) -> PairFeatures:
    """Build the learned-fusion features of every candidate pair (see ``LearnedFusion``).

    ``stats`` summarises the feature log (:meth:`ItemStats.from_log`); ``bits`` are the
    item category masks (:func:`category_bits`) or None when there are no categories.
    """
    plan = FusionPlan.build(channels, normalization="minmax")
    rows, items = row_ids(plan.union_indptr), plan.union_items.astype(np.int64)
    columns, names = _channel_columns(plan, channels)
    lengths = histories.lengths()
    user_last = _last_times(histories)
    first, last = stats.first_seen[items], stats.last_seen[items]
    known = np.isfinite(first)
    columns += [
        np.bincount(plan.inverse, minlength=rows.shape[0]).astype(np.float32),
        stats.log_popularity[items],
        np.where(known, (stats.now - first) / stats.span, MISSING_AGE),
        lengths[rows].astype(np.float32),
        np.where(known, (last - user_last[rows]) / stats.span, np.nan),
    ]
    names += ["n_channels", "item_popularity", "item_age", "user_activity", "recency_gap"]
    if bits is not None:
        columns.append(genre_affinity(rows, items, histories, bits))
        names.append("genre_affinity")
    matrix = np.column_stack(columns).astype(np.float32)
    return PairFeatures(rows=rows, items=items, matrix=matrix, names=names)


def _channel_columns(
    plan: FusionPlan, channels: Mapping[str, Candidates]
) -> tuple[list[np.ndarray], list[str]]:
    """Normalised score, 0-based rank and raw score of each channel (sentinels if absent)."""
    size = plan.union_items.shape[0]
    raw = np.concatenate([channels[name].scores for name in plan.names]).astype(np.float64)
    columns: list[np.ndarray] = []
    names: list[str] = []
    for index, name in enumerate(plan.names):
        mine = plan.channel == index
        slots = plan.inverse[mine]
        for suffix, values, missing in (
            ("score", plan.value[mine], MISSING_SCORE),
            ("rank", plan.position[mine], MISSING_RANK),
            ("raw", raw[mine], np.nan),
        ):
            column = np.full(size, missing, dtype=np.float64)
            column[slots] = values
            columns.append(column)
            names.append(f"{name}_{suffix}")
    return columns, names


def _last_times(histories: Histories) -> np.ndarray:
    """Timestamp of each row's latest history item; NaN for an empty row."""
    lengths = histories.lengths()
    last = np.full(lengths.shape[0], np.nan)
    filled = lengths > 0
    last[filled] = histories.timestamps[histories.indptr[1:][filled] - 1]
    return last


__all__ = [
    "ItemStats",
    "MISSING_AGE",
    "MISSING_RANK",
    "MISSING_SCORE",
    "PairFeatures",
    "category_bits",
    "category_matrix",
    "genre_affinity",
    "pair_features",
]
