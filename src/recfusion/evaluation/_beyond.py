"""Beyond-accuracy metrics: coverage, diversity, novelty, personalisation, popularity bias.

Every function takes ``recommended``, an int (n_users, k) matrix of item indices, best first,
already cut at k. Conventions shared by all of them:

* A slot counts when it holds a catalogue item (0 <= index < n_items) seen for the first time
  in its row. Empty slots (negative), indices outside the catalogue and repeats are ignored.
* Per-user metrics are NaN for a user with no counted slot (or, for diversity, no counted
  pair); means over users skip NaN.
* Popularity of item i is p_i = c_i / U, with c_i the number of distinct training users who
  interacted with i and U the number of training users with at least one interaction.
* Novelty is the mean self-information -log2(p_i) of a list, in bits. An item no training
  user touched gets the smoothed share 1 / (U + 1), so it is slightly more novel than an item
  seen once.
* The head is the smallest set of most popular items (by c_i, ties by lower index) whose
  counts reach ``head_share`` (default 20%) of all distinct (user, item) training pairs;
  every other catalogue item, unseen ones included, is in the long tail.
* Intra-list diversity is the mean dissimilarity over unordered pairs of counted slots whose
  items both have features: 1 - Jaccard of category sets (range [0, 1]) or 1 - cosine of
  embeddings (range [0, 2]; [0, 1] for non-negative vectors). Items with no category, a NaN
  vector or a zero vector have no features; a list with fewer than two such items is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from recfusion.data._types import Interactions
from recfusion.evaluation._accuracy import first_occurrence

PER_USER_BEYOND = (
    "diversity_category",
    "diversity_embedding",
    "novelty",
    "avg_popularity",
    "long_tail_share",
)
AGGREGATE_METRICS = ("coverage", "personalisation", "gini")
BEYOND_METRICS = AGGREGATE_METRICS + PER_USER_BEYOND

# Upper bound of gathered feature cells per chunk in the diversity kernels.
_CHUNK_CELLS = 4_000_000


@dataclass(frozen=True, eq=False)
class CatalogueStats:
    """Per-item popularity figures derived from the training log, shape (n_items,) each."""

    n_items: int
    popularity: np.ndarray
    self_information: np.ndarray
    long_tail: np.ndarray

    @classmethod
    def from_counts(cls, counts: np.ndarray, n_train_users: int, head_share: float = 0.2):
        """From distinct-user counts per item and the number of active training users."""
        counts = np.asarray(counts, dtype=np.int64)
        users = max(n_train_users, 0)
        share = counts / users if users > 0 else np.zeros(counts.shape[0])
        smoothed = np.where(counts > 0, share, 1.0 / (users + 1))
        return cls(
            n_items=int(counts.shape[0]),
            popularity=share,
            self_information=-np.log2(smoothed),
            long_tail=~head_items(counts, head_share),
        )

    @classmethod
    def from_train(cls, train: Interactions, head_share: float = 0.2) -> CatalogueStats:
        """Statistics of a training log (see the module docstring for the definitions)."""
        n_active = int(train.active_users().shape[0])
        return cls.from_counts(train.item_user_counts(), n_active, head_share)


def head_items(counts: np.ndarray, head_share: float) -> np.ndarray:
    """Boolean (n_items,) mask of the head: top items whose counts reach ``head_share``."""
    head = np.zeros(counts.shape[0], dtype=bool)
    total = float(counts.sum())
    if total <= 0 or head_share <= 0:
        return head
    order = np.lexsort((np.arange(counts.shape[0]), -counts))
    cumulative = np.cumsum(counts[order])
    # Relative tolerance so that 0.2 * 15 = 3.0000000000000004 is reached by a count of 3.
    threshold = head_share * total * (1.0 - 1e-12)
    n_head = min(int(np.searchsorted(cumulative, threshold, side="left")) + 1, counts.shape[0])
    head[order[:n_head]] = True
    return head


def counted_slots(recommended: np.ndarray, n_items: int) -> np.ndarray:
    """Boolean (n_users, k): slot holds a catalogue item seen for the first time in its row."""
    recommended = np.asarray(recommended)
    in_catalogue = (recommended >= 0) & (recommended < n_items)
    return in_catalogue & first_occurrence(recommended)


def exposure(recommended: np.ndarray, n_items: int) -> np.ndarray:
    """Number of counted slots each catalogue item received, int64 shape (n_items,)."""
    slots = counted_slots(recommended, n_items)
    return np.bincount(np.asarray(recommended)[slots], minlength=n_items).astype(np.int64)


def coverage(recommended: np.ndarray, n_items: int) -> float:
    """Share of catalogue items that appear in at least one list; NaN for an empty catalogue."""
    if n_items == 0:
        return float("nan")
    return float(np.count_nonzero(exposure(recommended, n_items)) / n_items)


def gini(exposure_counts: np.ndarray) -> float:
    """Gini index of exposure over the catalogue: 0 uniform, (n-1)/n all on one item.

    NaN when nothing was exposed.
    """
    values = np.sort(np.asarray(exposure_counts, dtype=np.float64))
    n_items, total = values.shape[0], values.sum()
    if n_items == 0 or total <= 0:
        return float("nan")
    ranks = np.arange(1, n_items + 1, dtype=np.float64)
    return float(np.sum((2.0 * ranks - n_items - 1.0) * values) / (n_items * total))


def personalisation(recommended: np.ndarray, n_items: int) -> float:
    """1 - mean cosine similarity between the item sets of every pair of distinct users.

    Exact over all pairs in O(number of slots): with x_u the user's binary item vector scaled
    to unit length and s = sum of x_u over the m users with a non-empty list,
    sum over ordered pairs u != v of x_u . x_v = |s|^2 - m. NaN when m < 2.
    """
    slots = counted_slots(recommended, n_items)
    sizes = slots.sum(axis=1)
    m_users = int(np.count_nonzero(sizes))
    if m_users < 2:
        return float("nan")
    row_weight = np.repeat(1.0 / np.sqrt(np.maximum(sizes, 1)), recommended.shape[1])
    flat = slots.ravel()
    summed = np.bincount(
        np.asarray(recommended).ravel()[flat], weights=row_weight[flat], minlength=n_items
    )
    mean_cosine = (float(summed @ summed) - m_users) / (m_users * (m_users - 1))
    return float(min(max(1.0 - mean_cosine, 0.0), 1.0))


def mean_item_value(recommended: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-user mean of ``values[item]`` over counted slots, shape (n_users,); NaN if none."""
    recommended = np.asarray(recommended)
    slots = counted_slots(recommended, values.shape[0])
    safe = np.where(slots, recommended, 0)
    totals = np.where(slots, values[safe], 0.0).sum(axis=1)
    counts = slots.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


def category_matrix(items: pl.DataFrame | None, n_items: int, column: str) -> np.ndarray | None:
    """Boolean (n_items, n_categories) item-category matrix, or None without the column.

    The column holds a list of strings per item (a plain string is one category); null or
    empty means "no category".
    """
    if items is None or column not in items.columns:
        return None
    series = items.get_column(column)
    frame = pl.DataFrame({"row": np.arange(series.len()), "cat": series})
    if isinstance(series.dtype, pl.List):
        frame = frame.explode("cat")
    frame = frame.with_columns(pl.col("cat").cast(pl.String))
    exploded = frame.drop_nulls("cat").filter((pl.col("row") < n_items) & (pl.col("cat") != ""))
    names, codes = np.unique(exploded.get_column("cat").to_numpy(), return_inverse=True)
    matrix = np.zeros((n_items, names.shape[0]), dtype=bool)
    matrix[exploded.get_column("row").to_numpy(), codes] = True
    return matrix


def unit_vectors(item_vectors: np.ndarray | None) -> np.ndarray | None:
    """Rows scaled to unit length; rows with NaN/inf or zero norm become all-zero."""
    if item_vectors is None:
        return None
    vectors = np.asarray(item_vectors, dtype=np.float64)
    finite = np.isfinite(vectors).all(axis=1)
    vectors = np.where(finite[:, None], vectors, 0.0)
    norms = np.linalg.norm(vectors, axis=1)
    return np.where(norms[:, None] > 0, vectors / np.where(norms > 0, norms, 1.0)[:, None], 0.0)


def intra_list_diversity(
    recommended: np.ndarray, features: np.ndarray, kind: str
) -> np.ndarray:
    """Mean pairwise dissimilarity of each list, shape (n_users,); NaN without a valid pair.

    ``features`` is the boolean category matrix (``kind="category"``, 1 - Jaccard) or the unit
    vectors from :func:`unit_vectors` (``kind="embedding"``, 1 - cosine), one row per item.
    """
    recommended = np.asarray(recommended)
    n_users, width = recommended.shape
    slots = counted_slots(recommended, features.shape[0])
    has_features = np.abs(features).sum(axis=1) > 0
    safe = np.where(slots, recommended, 0)
    slots &= has_features[safe]
    result = np.full(n_users, np.nan)
    step = max(1, _CHUNK_CELLS // max(1, width * max(1, features.shape[1])))
    for start in range(0, n_users, step):
        span = slice(start, start + step)
        result[span] = _chunk_diversity(features[safe[span]], slots[span], kind)
    return result


def _chunk_diversity(gathered: np.ndarray, slots: np.ndarray, kind: str) -> np.ndarray:
    """Diversity of a chunk of lists from gathered (rows, k, d) features and slot masks."""
    data = gathered.astype(np.float64)
    inner = np.einsum("ukd,uld->ukl", data, data)
    if kind == "category":
        sizes = data.sum(axis=2)
        union = sizes[:, :, None] + sizes[:, None, :] - inner
        similarity = inner / np.where(union > 0, union, 1.0)
    else:
        similarity = np.clip(inner, -1.0, 1.0)
    width = slots.shape[1]
    pairs = slots[:, :, None] & slots[:, None, :] & np.triu(np.ones((width, width), bool), 1)
    n_pairs = pairs.sum(axis=(1, 2))
    total = np.where(pairs, 1.0 - similarity, 0.0).sum(axis=(1, 2))
    return np.where(n_pairs > 0, total / np.maximum(n_pairs, 1), np.nan)


__all__ = [
    "AGGREGATE_METRICS",
    "BEYOND_METRICS",
    "PER_USER_BEYOND",
    "CatalogueStats",
    "category_matrix",
    "counted_slots",
    "coverage",
    "exposure",
    "gini",
    "head_items",
    "intra_list_diversity",
    "mean_item_value",
    "personalisation",
    "unit_vectors",
]
