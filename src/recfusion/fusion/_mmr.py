"""Maximal marginal relevance re-ranking, and the accuracy-versus-diversity curve.

MMR builds each list greedily: the next item maximises
``lam * relevance - (1 - lam) * max similarity to the items already chosen``.
Relevance is the row's score min-max scaled to [0, 1] (all-equal rows get 1), so ``lam``
means the same for every channel: 1 keeps the input order, 0 maximises diversity.
"""

from __future__ import annotations

import numba
import numpy as np
import polars as pl
import scipy.sparse as sp

from recfusion.columns import K
from recfusion.data._types import INDEX_DTYPE, Candidates
from recfusion.errors import InputError
from recfusion.evaluation import accuracy_per_user, intra_list_diversity
from recfusion.fusion._common import candidates_from_sorted, positions, row_ids, take_truth
from recfusion.fusion._features import category_matrix
from recfusion.fusion._normalize import normalize
from recfusion.recall._base import SideInfo


class ItemSimilarity:
    """Pairwise item similarity from embeddings (cosine) or categories (Jaccard).

    Parameters
    ----------
    vectors : ndarray, shape (n_items, dim), optional
        Item embeddings; rows containing NaN or all zeros have similarity 0 to everything.
    categories : scipy.sparse matrix or ndarray, shape (n_items, n_categories), optional
        Binary item-category matrix; items without categories have similarity 0.

    Exactly one of the two must be given.
    """

    def __init__(
        self, vectors: np.ndarray | None = None, categories: sp.spmatrix | np.ndarray | None = None
    ) -> None:
        if (vectors is None) == (categories is None):
            raise InputError(
                "ItemSimilarity: pass exactly one of 'vectors' (cosine) or 'categories' "
                "(Jaccard); received "
                f"{'both' if vectors is not None else 'neither'}"
            )
        if vectors is not None:
            matrix = np.nan_to_num(np.asarray(vectors, dtype=np.float64), nan=0.0)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            self.matrix = (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)
            self.jaccard = False
        else:
            dense = categories.toarray() if sp.issparse(categories) else np.asarray(categories)
            self.matrix = (dense > 0).astype(np.float32)
            self.jaccard = True
        self.sizes = self.matrix.sum(axis=1).astype(np.float32)

    def pairwise(self, items: np.ndarray) -> np.ndarray:
        """Dense (len(items), len(items)) similarity matrix of the given items."""
        rows = self.matrix[items]
        dot = rows @ rows.T
        if not self.jaccard:
            return dot
        union = self.sizes[items][:, None] + self.sizes[items][None, :] - dot
        return np.where(union > 0, dot / np.where(union > 0, union, 1.0), 0.0)


def similarity_from_side(side: SideInfo | None, kind: str = "genres") -> ItemSimilarity:
    """Jaccard of ``side.items["genres"]`` (kind "genres") or cosine of item vectors."""
    if kind == "vectors" and side is not None and side.item_vectors is not None:
        return ItemSimilarity(vectors=side.item_vectors)
    n_items = side.items.height if side is not None and side.items is not None else 0
    categories = category_matrix(side, n_items) if kind == "genres" else None
    if categories is None:
        raise InputError(
            f"item similarity: kind {kind!r} needs "
            f"{'side.item_vectors' if kind == 'vectors' else 'a genres column in side.items'}"
            "; received none (hint: set fusion.mmr_similarity to what the data provides)"
        )
    return ItemSimilarity(categories=categories[0])


@numba.njit(nogil=True, cache=True)
def _mmr_kernel(indptr, items, relevance, matrix, sizes, jaccard, lam, k):  # pragma: no cover
    """Greedy MMR per row; returns the output row pointer and the picked entry indices."""
    n_rows = indptr.shape[0] - 1
    counts = np.minimum(indptr[1:] - indptr[:-1], k)
    out_indptr = np.zeros(n_rows + 1, dtype=np.int64)
    out_indptr[1:] = np.cumsum(counts)
    picked = np.empty(out_indptr[-1], dtype=np.int64)
    for row in range(n_rows):
        start, length = indptr[row], indptr[row + 1] - indptr[row]
        # Before the first pick there is nothing to be similar to: no penalty.
        max_sim = np.zeros(length)
        taken = np.zeros(length, dtype=np.bool_)
        for step in range(counts[row]):
            best, best_value = -1, -np.inf
            for j in range(length):
                value = lam * relevance[start + j] - (1.0 - lam) * max_sim[j]
                if not taken[j] and value > best_value:
                    best, best_value = j, value
            taken[best] = True
            picked[out_indptr[row] + step] = start + best
            chosen = items[start + best]
            for j in range(length):
                if taken[j]:
                    continue
                other = items[start + j]
                dot = 0.0
                for d in range(matrix.shape[1]):
                    dot += matrix[chosen, d] * matrix[other, d]
                if jaccard:
                    union = sizes[chosen] + sizes[other] - dot
                    dot = dot / union if union > 0 else 0.0
                max_sim[j] = dot if step == 0 else max(max_sim[j], dot)
    return out_indptr, picked


def mmr_rerank(
    candidates: Candidates, similarity: ItemSimilarity, lam: float, k: int
) -> Candidates:
    """Re-rank each row by maximal marginal relevance and keep ``k`` items.

    Parameters
    ----------
    candidates : Candidates
        Lists to diversify, best first (for example the fused top 50-100).
    similarity : ItemSimilarity
        Item-item similarity (cosine of vectors or Jaccard of categories).
    lam : float
        Trade-off in [0, 1]: 1 = relevance only (input order kept), 0 = diversity only.
    k : int
        Items kept per row (fewer when a row is shorter).

    Returns
    -------
    Candidates
        The picked items in MMR order; scores are ``row length - position`` (MMR values
        themselves need not decrease along a row when cosine similarities are negative).
        Ties: the earlier input position wins.
    """
    if not 0.0 <= lam <= 1.0:
        raise InputError(f"mmr_rerank: parameter 'lam' must be in [0, 1]; received {lam}")
    if k <= 0:
        raise InputError(f"mmr_rerank: parameter 'k' must be > 0; received {k}")
    relevance = normalize(candidates, "minmax").scores.astype(np.float64)
    indptr, picked = _mmr_kernel(
        candidates.indptr.astype(np.int64),
        candidates.items.astype(np.int64),
        relevance,
        similarity.matrix,
        similarity.sizes,
        similarity.jaccard,
        float(lam),
        int(k),
    )
    lengths = np.diff(indptr)
    scores = np.repeat(lengths, lengths) - positions(indptr)
    return candidates_from_sorted(
        row_ids(indptr), candidates.items[picked].astype(INDEX_DTYPE), scores, candidates.n_rows
    )


def _diversity(recommended: np.ndarray, similarity: ItemSimilarity) -> np.ndarray:
    """Per-row intra-list diversity with the evaluation stage's definition."""
    kind = "category" if similarity.jaccard else "embedding"
    return intra_list_diversity(recommended, similarity.matrix, kind)


def diversity_curve(
    candidates: Candidates,
    truth_indptr: np.ndarray,
    truth_items: np.ndarray,
    similarity: ItemSimilarity,
    lams: list[float] | np.ndarray,
    k: int = 10,
) -> pl.DataFrame:
    """NDCG@k, intra-list diversity and catalogue coverage of MMR for each ``lam``.

    Rows of ``candidates`` align with the truth CSR; rows without a held-out item are
    skipped. Returns columns ``lambda``, ``k``, ``ndcg`` (mean NDCG@k), ``diversity``
    (mean intra-list diversity, ``recfusion.evaluation.intra_list_diversity``: mean
    pairwise 1 - similarity over items that have categories or vectors) and ``coverage``
    (distinct recommended items / catalogue size).
    """
    rows = np.flatnonzero(np.diff(np.asarray(truth_indptr)) > 0)
    subset = candidates.take(rows)
    indptr, items = take_truth(truth_indptr, truth_items, rows)
    records = []
    for lam in lams:
        recommended, _ = mmr_rerank(subset, similarity, float(lam), k).to_dense(k)
        records.append(
            {
                "lambda": float(lam),
                K: k,
                "ndcg": float(accuracy_per_user(recommended, indptr, items, k)["ndcg"].mean()),
                "diversity": float(np.nanmean(_diversity(recommended, similarity))),
                "coverage": np.unique(recommended[recommended >= 0]).shape[0]
                / similarity.matrix.shape[0],
            }
        )
    return pl.DataFrame(records)


__all__ = [
    "ItemSimilarity",
    "diversity_curve",
    "mmr_rerank",
    "similarity_from_side",
]
