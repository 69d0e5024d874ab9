"""item2vec: word2vec skip-gram over each user's time-ordered item sequence (gensim)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from gensim.models import Word2Vec

from recfusion.data._types import Interactions
from recfusion.recall._base import SideInfo
from recfusion.recall._embedding import EmbeddingStrategy

logger = logging.getLogger(__name__)

#: gensim's limit on words per sentence (``gensim.models.word2vec.MAX_WORDS_IN_BATCH``).
MAX_SENTENCE = 10_000


class Item2Vec(EmbeddingStrategy):
    """Item vectors from word2vec trained on user histories as sentences (Barkan 2016).

    Each user's training items, oldest first, form one sentence whose words are item
    indices; items that co-occur within ``window`` positions get close vectors.

    Parameters
    ----------
    vector_size : int, default 64
        Vector dimension.
    window : int, default 50
        Maximum distance between a centre item and a context item in a sequence. Wide
        windows (a history read almost as a set) scored best on MovieLens-100K;
        ml-latest-small, with longer histories, preferred about 20.
    epochs : int, default 10
        Passes over the sequences.
    negative : int, default 5
        Negative samples per positive pair.
    sample : float, default 1e-4
        Down-sampling threshold of very frequent items (0 disables it).
    ns_exponent : float, default -0.5
        Negative items are drawn with probability proportional to frequency to this
        power; lower values draw rare items more often.
    skip_gram : bool, default True
        Skip-gram (True) or CBOW (False).
    workers : int, default 1
        gensim worker threads. Only ``workers=1`` is reproducible run to run: with more,
        thread scheduling changes the order of updates.
    seed : int, default 42
        Seed of the vector initialisation and of sampling.
    **common
        ``recent_items``, ``recency_decay`` and the index settings of
        :class:`~recfusion.recall.EmbeddingStrategy`.

    Notes
    -----
    Every item with at least one training interaction gets a vector (``min_count=1``);
    items without any cannot be recommended. gensim ignores words past the 10,000th of a
    sentence, so longer histories are cut into consecutive 10,000-item sentences (pairs
    across a cut are lost).
    """

    kind = "item2vec"

    def __init__(
        self,
        name: str | None = None,
        vector_size: int = 64,
        window: int = 50,
        epochs: int = 10,
        negative: int = 5,
        sample: float = 1e-4,
        ns_exponent: float = -0.5,
        skip_gram: bool = True,
        workers: int = 1,
        seed: int = 42,
        **common: Any,
    ) -> None:
        super().__init__(name, **common)
        self.vector_size = vector_size
        self.window = window
        self.epochs = epochs
        self.negative = negative
        self.sample = sample
        self.ns_exponent = ns_exponent
        self.skip_gram = skip_gram
        self.workers = workers
        self.seed = seed

    def params(self) -> dict[str, Any]:
        return {
            "vector_size": self.vector_size,
            "window": self.window,
            "epochs": self.epochs,
            "negative": self.negative,
            "sample": self.sample,
            "ns_exponent": self.ns_exponent,
            "skip_gram": self.skip_gram,
            "workers": self.workers,
            "seed": self.seed,
            **self._common_params(),
        }

    def _item_vectors(self, train: Interactions, side: SideInfo | None) -> np.ndarray:
        vectors = np.full((train.n_items, self.vector_size), np.nan, dtype=np.float32)
        sentences = _sentences(train)
        if not sentences:
            return vectors
        model = Word2Vec(
            sentences=sentences,
            vector_size=self.vector_size,
            window=self.window,
            epochs=self.epochs,
            negative=self.negative,
            sample=self.sample,
            ns_exponent=self.ns_exponent,
            sg=int(self.skip_gram),
            min_count=1,
            workers=self.workers,
            seed=self.seed,
        )
        words = np.array([int(word) for word in model.wv.index_to_key], dtype=np.int64)
        vectors[words] = model.wv.vectors
        return vectors


def _sentences(train: Interactions) -> list[list[str]]:
    """Item-index tokens of each user, oldest first, in pieces of at most 10,000."""
    tokens = train.items.astype(str)
    sequences = np.split(tokens, train.user_indptr[1:-1])
    return [
        sequence[start : start + MAX_SENTENCE].tolist()
        for sequence in sequences
        for start in range(0, sequence.shape[0], MAX_SENTENCE)
    ]


__all__ = ["Item2Vec"]
