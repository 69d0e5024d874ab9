"""Shared machinery of the vector strategies: item vectors, history queries, FAISS search.

A vector strategy turns each item into a vector (by ALS, item2vec, supplied embeddings or
metadata) and answers a history row with the items nearest to a query vector built from
that history. Subclasses only say how item vectors are made; this module builds the
index, forms queries, removes seen items and saves everything without pickle.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from recfusion.data._types import INDEX_DTYPE, SCORE_DTYPE, Candidates, Histories, Interactions
from recfusion.recall._ann import VectorIndex
from recfusion.recall._base import SideInfo, Strategy

logger = logging.getLogger(__name__)

INDEX_FILE = "index.faiss"


class EmbeddingStrategy(Strategy):
    """Base class of strategies that recommend by nearest item vectors.

    Parameters
    ----------
    recent_items : int, default 20
        The query of a history row uses its last ``recent_items`` items that have a vector.
    recency_decay : float, default 0.8
        The item ``s`` steps back from the newest one weighs ``recency_decay ** s``.
    exact_threshold, hnsw_m, hnsw_ef_construction, hnsw_ef_search, threads
        Index settings, see :class:`~recfusion.recall.VectorIndex`.

    Notes
    -----
    Similarity is cosine: item vectors and queries are L2-normalised (subclasses may keep
    raw item vectors by setting ``cosine_`` to False, making it an inner product). Items
    whose vector is missing (NaN) or zero are not indexed and are never recommended.
    """

    def __init__(
        self,
        name: str | None = None,
        recent_items: int = 20,
        recency_decay: float = 0.8,
        exact_threshold: int = 20000,
        hnsw_m: int = 32,
        hnsw_ef_construction: int = 80,
        hnsw_ef_search: int = 256,
        threads: int | None = None,
    ) -> None:
        super().__init__(name)
        self.recent_items = recent_items
        self.recency_decay = recency_decay
        self.exact_threshold = exact_threshold
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction
        self.hnsw_ef_search = hnsw_ef_search
        self.threads = threads
        self.cosine_ = True
        self.vectors_: np.ndarray | None = None
        self.valid_: np.ndarray | None = None
        self.index_: VectorIndex | None = None

    def _common_params(self) -> dict[str, Any]:
        """Constructor arguments shared by every vector strategy."""
        return {
            "recent_items": self.recent_items,
            "recency_decay": self.recency_decay,
            "exact_threshold": self.exact_threshold,
            "hnsw_m": self.hnsw_m,
            "hnsw_ef_construction": self.hnsw_ef_construction,
            "hnsw_ef_search": self.hnsw_ef_search,
            "threads": self.threads,
        }

    @abstractmethod
    def _item_vectors(self, train: Interactions, side: SideInfo | None) -> np.ndarray:
        """Item vectors, shape (n_items, dim); a row of NaN means the item has none."""

    def fit(self, train: Interactions, side: SideInfo | None = None) -> EmbeddingStrategy:
        start = time.perf_counter()
        vectors = self._item_vectors(train, side)
        logger.info(
            "%s: learned vectors for %d items (dim %d) in %.2fs",
            self.name, vectors.shape[0], vectors.shape[1], time.perf_counter() - start,
        )
        self._set_vectors(vectors)
        return self

    def _new_index(self) -> VectorIndex:
        return VectorIndex(
            exact_threshold=self.exact_threshold,
            hnsw_m=self.hnsw_m,
            ef_construction=self.hnsw_ef_construction,
            ef_search=self.hnsw_ef_search,
            threads=self.threads,
        )

    def _set_vectors(self, vectors: np.ndarray) -> None:
        """Store (normalised) vectors with zeros for missing rows and index the rest."""
        vectors = np.asarray(vectors, dtype=np.float32)
        valid = np.isfinite(vectors).all(axis=1)
        stored = np.where(valid[:, None], vectors, 0.0).astype(np.float32)
        if self.cosine_:
            stored = l2_normalize(stored)
        valid &= np.abs(stored).sum(axis=1) > 0
        self.n_items_ = int(vectors.shape[0])
        self.vectors_, self.valid_ = stored, valid
        self.index_ = self._new_index().build(stored, valid)

    @property
    def has_vector(self) -> np.ndarray:
        """Boolean mask, shape (n_items,): items that are indexed (can be recommended)."""
        self.check_fitted()
        return self.valid_

    def query_vectors(self, histories: Histories) -> np.ndarray:
        """Recency-weighted mean of each row's recent item vectors, L2-normalised.

        Returns an array of shape (n_rows, dim); rows without any usable item are zero.
        """
        self.check_fitted()
        has_vector = self.has_vector[histories.items]
        # Steps back from the newest usable item of the same row (0 = newest).
        usable = np.cumsum(has_vector[::-1])[::-1]
        row_of = np.repeat(np.arange(histories.n_rows), histories.lengths())
        ends = np.append(usable, 0)[histories.indptr[1:]][row_of]
        back = usable - ends - 1
        keep = has_vector & (back < self.recent_items)
        weights = np.power(self.recency_decay, back[keep], dtype=np.float64)
        mixer = sp.csr_matrix(
            (weights.astype(np.float32), (row_of[keep], histories.items[keep])),
            shape=(histories.n_rows, self.n_items_),
        )
        return l2_normalize(np.asarray(mixer @ self.vectors_, dtype=np.float32))

    def recommend(
        self, histories: Histories, n: int, *, exclude_seen: bool = True
    ) -> Candidates:
        queries = self.query_vectors(histories)
        return self._search(queries, histories if exclude_seen else None, n)

    def similar_items(self, items: np.ndarray | int, n: int) -> Candidates:
        """The ``n`` items most similar to each given item, excluding the item itself.

        Parameters
        ----------
        items : int or array of int, shape (n_queries,)
            Item indices. An item without a vector gets an empty row.
        n : int
            Neighbours per item.

        Returns
        -------
        Candidates
            One row per query item, distinct items, best first.
        """
        self.check_fitted()
        items = np.atleast_1d(np.asarray(items, dtype=INDEX_DTYPE))
        queries = self.vectors_[items]
        if not self.cosine_:
            queries = l2_normalize(queries)
        own = Histories.from_lists([[int(item)] for item in items])
        return self._search(queries, own, n)

    def _search(self, queries: np.ndarray, exclude: Histories | None, n: int) -> Candidates:
        """Search every row with a non-zero query, dropping each row's excluded items."""
        n_rows = queries.shape[0]
        if n <= 0 or self.index_.size == 0:
            return Candidates.empty(n_rows)
        lengths = np.zeros(n_rows, dtype=np.int64) if exclude is None else exclude.lengths()
        widths = n + _ceil_power_of_two(lengths)
        live = np.abs(queries).sum(axis=1) > 0
        items = np.full((n_rows, n), -1, dtype=INDEX_DTYPE)
        scores = np.full((n_rows, n), -np.inf, dtype=SCORE_DTYPE)
        for width in np.unique(widths[live]):
            rows = np.flatnonzero(live & (widths == width))
            found, found_scores = self.index_.search(queries[rows], int(width))
            if exclude is not None:
                found = np.where(exclude.contains(rows[:, None], found), -1, found)
            kept, kept_scores = _first_valid(found, found_scores, n)
            items[rows, : kept.shape[1]] = kept
            scores[rows, : kept.shape[1]] = kept_scores
        return _canonical(items, scores)

    def _save_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Nothing by default: vectors come back from the index file."""

    def _save_extra(self, directory: Path) -> list[Path]:
        return [self.index_.save(directory / INDEX_FILE)]

    def _load_extra(self, directory: Path) -> None:
        self.index_ = self._new_index().load(directory / INDEX_FILE)
        ids, stored = self.index_.vectors()
        self.vectors_ = np.zeros((self.n_items_, self.index_.dim_), dtype=np.float32)
        self.vectors_[ids] = stored
        self.valid_ = np.zeros(self.n_items_, dtype=bool)
        self.valid_[ids] = True


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm; zero rows stay zero. Shape is unchanged."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def _ceil_power_of_two(values: np.ndarray) -> np.ndarray:
    """Smallest power of two >= each value (0 stays 0): few distinct search widths.

    A row's search width then depends only on its own history length, so a row gets the
    same answer alone or in any batch.
    """
    out = np.zeros_like(values)
    positive = values > 0
    out[positive] = 2 ** np.ceil(np.log2(values[positive])).astype(np.int64)
    return out


def _first_valid(
    found: np.ndarray, scores: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` non-negative entries of each row, keeping their order."""
    order = np.argsort(found < 0, axis=1, kind="stable")[:, :n]
    kept = np.take_along_axis(found, order, axis=1)
    kept_scores = np.take_along_axis(scores, order, axis=1)
    return kept, np.where(kept >= 0, kept_scores, -np.inf)


def _canonical(items: np.ndarray, scores: np.ndarray) -> Candidates:
    """Rows sorted by score descending, then item index ascending; -1 slots dropped."""
    order = np.lexsort((items, -scores), axis=1)
    items = np.take_along_axis(items, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1)
    items = np.where(np.isfinite(scores), items, -1)
    return Candidates.from_dense(items, np.where(items >= 0, scores, 0.0))


class ColdStartCount(NamedTuple):
    """How cold-start items show up in a set of candidate lists."""

    slots: int
    """List positions holding a cold-start item."""
    items: int
    """Distinct cold-start items recommended at least once."""
    rows: int
    """Rows (users) with at least one cold-start item."""


def cold_start_items(train: Interactions) -> np.ndarray:
    """Indices of catalogue items with no training interaction, ascending (int32).

    These are items known only from metadata or supplied vectors; the metadata and
    supplied-vector channels can recommend them, ALS and item2vec cannot.
    """
    counts = np.bincount(train.items, minlength=train.n_items)
    return np.flatnonzero(counts == 0).astype(INDEX_DTYPE)


def count_cold_start(candidates: Candidates, cold_items: np.ndarray) -> ColdStartCount:
    """Count cold-start items in ``candidates``.

    Parameters
    ----------
    candidates : Candidates
    cold_items : ndarray of int
        Item indices that count as cold-start, for example from :func:`cold_start_items`.
    """
    hit = np.isin(candidates.items, cold_items)
    row_of = np.repeat(np.arange(candidates.n_rows), candidates.lengths())
    return ColdStartCount(
        slots=int(hit.sum()),
        items=int(np.unique(candidates.items[hit]).shape[0]),
        rows=int(np.unique(row_of[hit]).shape[0]),
    )


__all__ = [
    "ColdStartCount",
    "EmbeddingStrategy",
    "cold_start_items",
    "count_cold_start",
    "l2_normalize",
]
