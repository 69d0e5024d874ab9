"""Content channels: supplied item vectors, and vectors built from item metadata.

Both give vectors to items that have no interactions, so they can recommend cold-start
items (new items known only from metadata or from a vector file).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recfusion.data._types import Interactions
from recfusion.errors import InputError
from recfusion.recall._base import SideInfo
from recfusion.recall._embedding import EmbeddingStrategy, l2_normalize

logger = logging.getLogger(__name__)

TITLE = "title"
YEAR = "year"
GENRES = "genres"
#: Genre labels that mean "no genre" in MovieLens files.
NO_GENRE = frozenset({"(no genres listed)", "unknown", ""})
_TRAILING_YEAR = re.compile(r"\((\d{4})\)\s*$")
_WORD = re.compile(r"[^\W_]+")


class SuppliedVectors(EmbeddingStrategy):
    """Nearest neighbours over item vectors supplied in ``SideInfo.item_vectors``.

    The vectors come from a file read by :func:`recfusion.data.read_item_vectors`; items
    whose row is NaN have no vector and are never recommended.

    Parameters
    ----------
    **common
        ``recent_items``, ``recency_decay`` and the index settings of
        :class:`~recfusion.recall.EmbeddingStrategy`.
    """

    kind = "content"

    def params(self) -> dict[str, Any]:
        return self._common_params()

    def _item_vectors(self, train: Interactions, side: SideInfo | None) -> np.ndarray:
        vectors = None if side is None else side.item_vectors
        if vectors is None:
            raise InputError(
                f"strategy {self.name!r} (content): no supplied item vectors; set "
                "data.item_vectors to a vector file (CSV, Parquet or .npy)"
            )
        if vectors.ndim != 2 or vectors.shape[0] != train.n_items:
            raise InputError(
                f"strategy {self.name!r} (content): item_vectors has shape {vectors.shape}; "
                f"expected ({train.n_items}, dim), one row per catalogue item"
            )
        return vectors


class MetadataVectors(EmbeddingStrategy):
    """Item vectors from metadata: genres, title words and release year.

    The vector of an item concatenates three blocks, each L2-normalised and then scaled
    by its weight: a multi-hot of genres, TF-IDF of title words (raw counts times
    ``ln(n_items / document frequency)``), and a one-hot of the year bucket
    ``floor(year / year_bucket)``. The whole vector is L2-normalised again.

    Parameters
    ----------
    genre_weight, title_weight, year_weight : float, defaults 1.0, 0.3, 0.5
        Block weights; 0 drops a block.
    year_bucket : int, default 5
        Years per bucket.
    title_terms : int, default 1000
        Title vocabulary: the most frequent words that occur in at least two titles (a
        word in one title cannot make two items similar).
    **common
        ``recent_items``, ``recency_decay`` and the index settings of
        :class:`~recfusion.recall.EmbeddingStrategy`.

    Notes
    -----
    Reads ``SideInfo.items`` columns ``genres`` (list of strings, or one string split on
    ``|``), ``title`` and ``year``; any may be missing. Without a ``year`` column the year
    is taken from a trailing ``(YYYY)`` in the title, as in MovieLens titles.
    """

    kind = "metadata"

    def __init__(
        self,
        name: str | None = None,
        genre_weight: float = 1.0,
        title_weight: float = 0.3,
        year_weight: float = 0.5,
        year_bucket: int = 5,
        title_terms: int = 1000,
        **common: Any,
    ) -> None:
        super().__init__(name, **common)
        self.genre_weight = genre_weight
        self.title_weight = title_weight
        self.year_weight = year_weight
        self.year_bucket = year_bucket
        self.title_terms = title_terms

    def params(self) -> dict[str, Any]:
        return {
            "genre_weight": self.genre_weight,
            "title_weight": self.title_weight,
            "year_weight": self.year_weight,
            "year_bucket": self.year_bucket,
            "title_terms": self.title_terms,
            **self._common_params(),
        }

    def _item_vectors(self, train: Interactions, side: SideInfo | None) -> np.ndarray:
        items = None if side is None else side.items
        if items is None or items.height != train.n_items:
            received = "none" if items is None else f"{items.height} rows"
            raise InputError(
                f"strategy {self.name!r} (metadata): SideInfo.items has {received}; expected "
                f"{train.n_items} rows, one per catalogue item; set data.items to a metadata "
                "file or disable this strategy"
            )
        return metadata_vectors(
            items,
            weights=(self.genre_weight, self.title_weight, self.year_weight),
            year_bucket=self.year_bucket,
            title_terms=self.title_terms,
        )


def metadata_vectors(
    items: pl.DataFrame,
    weights: tuple[float, float, float] = (1.0, 0.3, 0.5),
    year_bucket: int = 5,
    title_terms: int = 1000,
) -> np.ndarray:
    """Dense metadata vectors, shape (n_items, dim), float32; NaN rows = no metadata.

    ``weights`` scale the genre, title and year blocks (see :class:`MetadataVectors`).
    """
    titles = _column(items, TITLE)
    blocks = [
        genre_matrix(_genre_lists(items)),
        tfidf_matrix([_title_words(t) for t in titles], title_terms),
        year_matrix(_years(items, titles), year_bucket),
    ]
    scaled = [
        sp.csr_matrix(l2_normalize(block.toarray()) * weight)
        for block, weight in zip(blocks, weights)
        if weight > 0 and block.shape[1] > 0
    ]
    if not scaled:
        raise InputError(
            f"metadata vectors: item metadata columns {items.columns} give no features; "
            f"expected at least one of {GENRES!r}, {TITLE!r}, {YEAR!r} with values"
        )
    dense = l2_normalize(sp.hstack(scaled).toarray().astype(np.float32))
    dense[np.abs(dense).sum(axis=1) == 0] = np.nan
    logger.info("metadata vectors: %d items, dim %d", dense.shape[0], dense.shape[1])
    return dense


def genre_matrix(genres: list[list[str]]) -> sp.csr_matrix:
    """Multi-hot (n_items, n_genres) matrix; genre columns in sorted order."""
    vocabulary = sorted({g for row in genres for g in row})
    position = {genre: column for column, genre in enumerate(vocabulary)}
    return _indicator(genres, position)


def tfidf_matrix(documents: list[list[str]], max_terms: int) -> sp.csr_matrix:
    """TF-IDF (n_documents, n_terms): count * ln(n_documents / df), rows L2-normalised.

    Only terms in at least two documents are kept, the ``max_terms`` most frequent of them
    (ties by term).
    """
    frequency: dict[str, int] = {}
    for words in documents:
        for word in set(words):
            frequency[word] = frequency.get(word, 0) + 1
    shared = sorted((-count, word) for word, count in frequency.items() if count >= 2)
    vocabulary = sorted(word for _, word in shared[:max_terms])
    position = {word: column for column, word in enumerate(vocabulary)}
    counts = _indicator(documents, position)
    document_frequency = np.array([frequency[w] for w in vocabulary], dtype=np.float64)
    idf = np.log(len(documents) / document_frequency) if vocabulary else np.zeros(0)
    weighted = sp.csr_matrix(counts.multiply(idf[None, :]))
    return sp.csr_matrix(l2_normalize(weighted.toarray()))


def year_matrix(years: np.ndarray, bucket: int) -> sp.csr_matrix:
    """One-hot (n_items, n_buckets) of ``floor(year / bucket)``; NaN years are all zero."""
    known = np.isfinite(years)
    if not known.any():
        return sp.csr_matrix((years.shape[0], 0), dtype=np.float32)
    buckets = np.floor(years[known] / bucket).astype(np.int64)
    low = int(buckets.min())
    return sp.csr_matrix(
        (np.ones(buckets.shape[0], dtype=np.float32), (np.flatnonzero(known), buckets - low)),
        shape=(years.shape[0], int(buckets.max()) - low + 1),
    )


def _indicator(rows: list[list[str]], position: dict[str, int]) -> sp.csr_matrix:
    """Count matrix of tokens per row, for the tokens in ``position``."""
    row_ids = [r for r, tokens in enumerate(rows) for t in tokens if t in position]
    columns = [position[t] for tokens in rows for t in tokens if t in position]
    return sp.csr_matrix(
        (np.ones(len(columns), dtype=np.float32), (row_ids, columns)),
        shape=(len(rows), len(position)),
    )


def _column(items: pl.DataFrame, name: str) -> list[Any]:
    """Values of a column as a list, or all None when the column is absent."""
    return items[name].to_list() if name in items.columns else [None] * items.height


def _genre_lists(items: pl.DataFrame) -> list[list[str]]:
    """Genres of each item as a list of labels, without 'no genre' markers."""
    lists = []
    for value in _column(items, GENRES):
        labels = value.split("|") if isinstance(value, str) else list(value or [])
        lists.append([g.strip() for g in labels if g is not None and g.strip() not in NO_GENRE])
    return lists


def _title_words(title: str | None) -> list[str]:
    """Lower-case words of a title, without a trailing '(YYYY)'."""
    if not title:
        return []
    return _WORD.findall(_TRAILING_YEAR.sub("", title).lower())


def _years(items: pl.DataFrame, titles: list[Any]) -> np.ndarray:
    """Release years as float64 (NaN unknown), from ``year`` or a trailing '(YYYY)'."""
    if YEAR in items.columns:
        values = items[YEAR].cast(pl.Float64, strict=False).to_numpy()
        return np.asarray(values, dtype=np.float64)
    found = [_TRAILING_YEAR.search(t) if t else None for t in titles]
    return np.array([float(m.group(1)) if m else np.nan for m in found], dtype=np.float64)


__all__ = [
    "MetadataVectors",
    "SuppliedVectors",
    "genre_matrix",
    "metadata_vectors",
    "tfidf_matrix",
    "year_matrix",
]
