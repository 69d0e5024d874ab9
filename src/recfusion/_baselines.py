"""External baselines evaluated beside recfusion: ``implicit``'s ALS and BM25 item-item.

They run on the same split as recfusion's strategies; ALS's regularisation is picked on the
validation split (carved from training), never on the test split. Report rows carry the
prefix ``ext:``.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from implicit.nearest_neighbours import BM25Recommender
from implicit.utils import ParameterWarning
from threadpoolctl import threadpool_limits

from recfusion.config import SplitConfig
from recfusion.data import Candidates, Interactions, split_interactions
from recfusion.evaluation import accuracy_per_user
from recfusion.pipeline import evaluated_users, truth_csr

logger = logging.getLogger(__name__)

ALS_REGULARIZATION = (0.01, 0.1, 1.0, 10.0)
ALS_FACTORS = 64
ALS_ITERATIONS = 15


def _als(train: Interactions, regularization: float, seed: int) -> AlternatingLeastSquares:
    model = AlternatingLeastSquares(
        factors=ALS_FACTORS, regularization=regularization, iterations=ALS_ITERATIONS,
        random_state=seed,
    )
    with threadpool_limits(1, "blas"):
        model.fit(train.binary_matrix(), show_progress=False)
    return model


def _lists(model, train: Interactions, users: np.ndarray, n: int) -> Candidates:
    matrix = train.binary_matrix()[users]
    items, scores = model.recommend(users, matrix, N=n, filter_already_liked_items=True)
    valid = np.isfinite(scores) & (items >= 0) & (scores > -np.inf)
    return Candidates.from_dense(np.where(valid, items, -1), np.where(valid, scores, 0.0))


def _ndcg(lists: Candidates, test: Interactions, users: np.ndarray, k: int) -> float:
    indptr, items = truth_csr(test, users)
    dense, _ = lists.to_dense(k)
    return float(np.mean(accuracy_per_user(dense, indptr, items, k)["ndcg"]))


def pick_als_regularization(train: Interactions, split: SplitConfig, seed: int) -> float:
    """The ALS regularisation with the best validation NDCG@10."""
    validation = split_interactions(train, split, validation=True)
    users = evaluated_users(validation.train, validation.test)
    scores = {}
    for value in ALS_REGULARIZATION:
        model = _als(validation.train, value, seed)
        lists = _lists(model, validation.train, users, 10)
        scores[value] = _ndcg(lists, validation.test, users, 10)
    best = max(scores, key=lambda value: (scores[value], -value))
    logger.info("implicit ALS validation NDCG@10 by regularisation: %s -> %s", scores, best)
    return best


def external_lists(
    train: Interactions, users: np.ndarray, n: int, split: SplitConfig, seed: int
) -> tuple[dict[str, Candidates], dict[str, float]]:
    """Lists of the external baselines for ``users``, and their fit seconds."""
    lists, seconds = {}, {}
    started = time.perf_counter()
    regularization = pick_als_regularization(train, split, seed)
    als = _als(train, regularization, seed)
    seconds["ext:implicit_als"] = time.perf_counter() - started
    lists["ext:implicit_als"] = _lists(als, train, users, n)
    started = time.perf_counter()
    bm25 = BM25Recommender(K=100)
    with warnings.catch_warnings():
        # implicit converts its own BM25-weighted matrix and warns about it.
        warnings.simplefilter("ignore", category=ParameterWarning)
        bm25.fit(train.binary_matrix(), show_progress=False)
    seconds["ext:implicit_bm25"] = time.perf_counter() - started
    lists["ext:implicit_bm25"] = _lists(bm25, train, users, n)
    return lists, seconds


__all__ = ["external_lists", "pick_als_regularization"]
