"""ALS: implicit-feedback matrix factorisation (``implicit``), served from a FAISS index."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from recfusion.data._types import Histories, Interactions
from recfusion.recall._base import SideInfo
from recfusion.recall._embedding import EmbeddingStrategy, l2_normalize

logger = logging.getLogger(__name__)


class ALS(EmbeddingStrategy):
    """Alternating least squares on the user x item matrix (Hu, Koren and Volinsky 2008).

    Item vectors are the ALS item factors. Training uses
    ``implicit.cpu.als.AlternatingLeastSquares`` with confidence ``1 + alpha * weight`` for
    each observed (user, item) pair (repeats sum their weights) and 1 elsewhere.

    Parameters
    ----------
    factors : int, default 64
        Latent dimension.
    regularization : float, default 1.0
        L2 penalty on both factor matrices.
    iterations : int, default 15
        ALS sweeps.
    alpha : float, default 2.0
        Confidence scale of observed pairs.
    seed : int, default 42
        Seed of the factor initialisation.
    query : {"solve", "mean"}, default "mean"
        How a history row becomes a query. ``"solve"`` computes the row's ALS user factor
        in closed form from the item factors (the least-squares step of ALS for one user,
        via implicit's ``recalculate_user``); items are scored by inner product with the
        raw item factors, as ALS is trained. ``"mean"`` uses the recency-weighted mean of
        the row's recent item vectors with cosine similarity, like the other channels.
    **common
        ``recent_items``, ``recency_decay`` and the index settings of
        :class:`~recfusion.recall.EmbeddingStrategy` (``recent_*`` apply to ``"mean"``).

    Notes
    -----
    ALS cannot recommend items without training interactions: their factors are zero and
    they are left out of the index. ``similar_items`` ranks by inner product when
    ``query="solve"``, which favours items with large factors (popular ones).
    """

    kind = "als"

    def __init__(
        self,
        name: str | None = None,
        factors: int = 64,
        regularization: float = 1.0,
        iterations: int = 15,
        alpha: float = 2.0,
        seed: int = 42,
        query: Literal["solve", "mean"] = "mean",
        **common: Any,
    ) -> None:
        super().__init__(name, **common)
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.seed = seed
        self.query = query
        self.cosine_ = query == "mean"
        self.model_: AlternatingLeastSquares | None = None

    def params(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "iterations": self.iterations,
            "alpha": self.alpha,
            "seed": self.seed,
            "query": self.query,
            **self._common_params(),
        }

    def _new_model(self) -> AlternatingLeastSquares:
        # alpha=1 inside implicit: the confidence matrix passed in is already 1 + alpha * w.
        return AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=1.0,
            iterations=self.iterations,
            random_state=self.seed,
            num_threads=self.threads or 0,
        )

    def _confidence(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """``1 + alpha * w`` on the stored entries of a weight matrix."""
        confidence = matrix.astype(np.float32).tocsr(copy=True)
        confidence.sum_duplicates()
        confidence.data = 1.0 + self.alpha * confidence.data
        return confidence

    def _item_vectors(self, train: Interactions, side: SideInfo | None) -> np.ndarray:
        # implicit parallelises itself; a multi-threaded BLAS underneath only contends.
        with threadpool_limits(limits=1, user_api="blas"):
            self.model_ = self._new_model()
            self.model_.fit(self._confidence(train.weighted_matrix()), show_progress=False)
        return np.asarray(self.model_.item_factors, dtype=np.float32)

    def query_vectors(self, histories: Histories) -> np.ndarray:
        """ALS user factors solved for each row (``query="solve"``), else the base query.

        Returns an array of shape (n_rows, factors); empty rows are zero.
        """
        if self.query == "mean":
            return super().query_vectors(histories)
        self.check_fitted()
        rows = np.repeat(np.arange(histories.n_rows), histories.lengths())
        weights = sp.csr_matrix(
            (histories.weights.astype(np.float32), (rows, histories.items)),
            shape=(histories.n_rows, self.n_items_),
        )
        with threadpool_limits(limits=1, user_api="blas"):
            users = self.model_.recalculate_user(
                np.arange(histories.n_rows), self._confidence(weights)
            )
        return l2_normalize(np.asarray(users, dtype=np.float32))

    def _load_extra(self, directory: Path) -> None:
        super()._load_extra(directory)
        with threadpool_limits(limits=1, user_api="blas"):
            self.model_ = self._new_model()
        self.model_.item_factors = self.vectors_


__all__ = ["ALS"]
