"""Nearest-neighbour search over item vectors with FAISS.

:class:`VectorIndex` answers maximum inner product queries. It uses an exact flat index up to
``exact_threshold`` vectors and an HNSW graph above, always wrapped in an ``IndexIDMap`` so
that the ids FAISS returns are item indices and the index file is self-contained.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import faiss
import numpy as np

from recfusion._io import write_with
from recfusion.data._types import INDEX_DTYPE, SCORE_DTYPE
from recfusion.errors import InputError

logger = logging.getLogger(__name__)

#: Upper bound on FAISS threads when the caller does not choose; beyond this small
#: batches of queries gain nothing and a shared machine loses.
DEFAULT_MAX_THREADS = 8


#: Query batches smaller than this are searched on one thread (no OpenMP start-up cost).
SMALL_BATCH = 32


def set_faiss_threads(threads: int | None) -> int:
    """Set FAISS's OpenMP thread count; None means ``min(cpu count, 8)``. Returns it."""
    count = threads if threads else min(os.cpu_count() or 1, DEFAULT_MAX_THREADS)
    faiss.omp_set_num_threads(int(count))
    return int(count)


class VectorIndex:
    """Inner-product index over a subset of item vectors.

    Parameters
    ----------
    exact_threshold : int, default 20000
        Indexes holding at most this many vectors use exact search (``IndexFlatIP``);
        larger ones use ``IndexHNSWFlat`` with the inner-product metric.
    hnsw_m : int, default 32
        Graph degree of HNSW (neighbours per node on upper layers; twice that on layer 0).
    ef_construction : int, default 80
        Candidate list size while building the HNSW graph.
    ef_search : int, default 256
        Candidate list size while searching; FAISS uses ``max(ef_search, k)``.
    threads : int or None, default None
        FAISS OpenMP threads; None means ``min(cpu count, 8)``.

    Notes
    -----
    Vectors are indexed as given: callers who want cosine similarity L2-normalise both the
    item vectors and the queries. The HNSW graph is built with several threads; FAISS gave
    identical graphs with one and two threads in our tests, but does not promise it.
    """

    def __init__(
        self,
        exact_threshold: int = 20000,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 256,
        threads: int | None = None,
    ) -> None:
        self.exact_threshold = exact_threshold
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.threads = threads
        self.index_: faiss.Index | None = None
        self.dim_ = 0

    @property
    def size(self) -> int:
        """Number of indexed vectors (0 before ``build``)."""
        return 0 if self.index_ is None else int(self.index_.ntotal)

    @property
    def is_exact(self) -> bool:
        """True when the index is a flat (exact) index."""
        return self.index_ is None or isinstance(_inner(self.index_), faiss.IndexFlat)

    def build(self, vectors: np.ndarray, valid: np.ndarray | None = None) -> VectorIndex:
        """Index the rows of ``vectors`` where ``valid`` is true.

        Parameters
        ----------
        vectors : ndarray, shape (n_items, dim)
            One row per item index; converted to float32.
        valid : ndarray of bool, shape (n_items,), optional
            Rows to index; default all rows with finite values.
        """
        start = time.perf_counter()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] == 0:
            raise InputError(
                f"VectorIndex.build: vectors must have shape (n_items, dim) with dim >= 1; "
                f"received shape {vectors.shape}"
            )
        if valid is None:
            valid = np.isfinite(vectors).all(axis=1)
        ids = np.flatnonzero(valid).astype(np.int64)
        self.dim_ = int(vectors.shape[1])
        set_faiss_threads(self.threads)
        self.index_ = self._empty_index(ids.shape[0])
        if ids.shape[0]:
            self.index_.add_with_ids(vectors[ids], ids)
        logger.info(
            "built %s index: %d vectors of dim %d in %.2fs",
            "exact" if self.is_exact else "HNSW", ids.shape[0], self.dim_,
            time.perf_counter() - start,
        )
        return self

    def _empty_index(self, count: int) -> faiss.Index:
        """An empty flat or HNSW index, sized by ``count``, wrapped in an id map."""
        if count <= self.exact_threshold:
            inner = faiss.IndexFlatIP(self.dim_)
        else:
            inner = faiss.IndexHNSWFlat(self.dim_, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = self.ef_construction
            inner.hnsw.efSearch = self.ef_search
        # FAISS's Python wrapper keeps ``inner`` alive as long as the id map.
        return faiss.IndexIDMap(inner)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items of each query by inner product, best first.

        Parameters
        ----------
        queries : ndarray, shape (n_queries, dim)
        k : int
            May exceed the index size; the result then has ``size`` columns.

        Returns
        -------
        items : ndarray of int32, shape (n_queries, min(k, size))
            Item indices; never -1 (rows that HNSW leaves short are searched exactly).
        scores : ndarray of float32, same shape
            Inner products, non-increasing along each row.
        """
        self._check_built()
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        width = min(int(k), self.size)
        if width <= 0 or queries.shape[0] == 0:
            return (
                np.zeros((queries.shape[0], 0), dtype=INDEX_DTYPE),
                np.zeros((queries.shape[0], 0), dtype=SCORE_DTYPE),
            )
        self._check_dim(queries)
        # Threads only pay off for batches; a single online query is fastest on one core.
        set_faiss_threads(self.threads if queries.shape[0] >= SMALL_BATCH else 1)
        scores, items = self.index_.search(queries, width)
        short = np.flatnonzero((items < 0).any(axis=1))
        if short.shape[0]:
            logger.debug("HNSW left %d of %d rows short; searching them exactly",
                         short.shape[0], queries.shape[0])
            scores[short], items[short] = self._exact_search(queries[short], width)
        return items.astype(INDEX_DTYPE), scores.astype(SCORE_DTYPE)

    def _exact_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Brute-force search over the stored vectors (fallback for short HNSW rows)."""
        inner = _inner(self.index_)
        stored = inner.reconstruct_n(0, inner.ntotal)
        ids = faiss.vector_to_array(self.index_.id_map)
        scores, positions = faiss.knn(queries, stored, k, metric=faiss.METRIC_INNER_PRODUCT)
        return scores, ids[positions]

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """The indexed (item indices, vectors) as stored, shapes (size,) and (size, dim)."""
        self._check_built()
        inner = _inner(self.index_)
        stored = inner.reconstruct_n(0, inner.ntotal) if inner.ntotal else np.zeros(
            (0, self.dim_), dtype=np.float32
        )
        return faiss.vector_to_array(self.index_.id_map).astype(INDEX_DTYPE), stored

    def save(self, path: Path) -> Path:
        """Write the index as a FAISS index file (atomically); returns ``path``."""
        self._check_built()
        write_with(path, lambda temporary: faiss.write_index(self.index_, str(temporary)))
        return path

    def load(self, path: Path) -> VectorIndex:
        """Read an index file written by :meth:`save` into this object; returns ``self``."""
        if not path.is_file():
            raise InputError(f"VectorIndex.load: index file {path} does not exist")
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexIDMap):
            index = faiss.downcast_index(index)
        if not isinstance(index, faiss.IndexIDMap):
            raise InputError(
                f"VectorIndex.load: {path} holds a {type(index).__name__}; expected an "
                "IndexIDMap written by VectorIndex.save"
            )
        inner = _inner(index)
        if isinstance(inner, faiss.IndexHNSWFlat):
            inner.hnsw.efSearch = self.ef_search
        self.index_, self.dim_ = index, int(index.d)
        return self

    def _check_built(self) -> None:
        if self.index_ is None:
            raise InputError("VectorIndex: the index is empty; call build() or load() first")

    def _check_dim(self, queries: np.ndarray) -> None:
        if queries.ndim != 2 or queries.shape[1] != self.dim_:
            raise InputError(
                f"VectorIndex.search: queries must have shape (n_queries, {self.dim_}); "
                f"received shape {queries.shape}"
            )


def _inner(index: faiss.Index) -> faiss.Index:
    """The index wrapped by an ``IndexIDMap``, as its concrete FAISS class."""
    return faiss.downcast_index(index.index)


__all__ = ["VectorIndex", "set_faiss_threads"]
