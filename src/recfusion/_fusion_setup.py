"""Fusion chosen on the validation split: tuned weights, learned ranking, MMR settings.

The validation split is carved from training exactly as the test split is carved from the
whole log, so nothing here ever sees a test interaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from recfusion.config import RunConfig
from recfusion.data import Candidates, Histories, Interactions, split_interactions
from recfusion.fusion import (
    ItemSimilarity,
    LearnedFusion,
    ParetoResult,
    TuningResult,
    catalogue_coverage,
    category_matrix,
    tune_pareto,
    tune_weights,
)
from recfusion.fusion import diversity_curve
from recfusion.fusion._fuser import LearnedFuser, MMRFuser, ScoreFuser
from recfusion.pipeline import evaluated_users, fit_strategies, truth_csr
from recfusion.errors import InputError
from recfusion.recall import SideInfo

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class FusionSetup:
    """Everything fusion learned on validation, ready to build test-time fusers."""

    config: RunConfig
    tuning: TuningResult | None = None
    pareto: ParetoResult | None = None
    learned: LearnedFusion | None = None
    similarity: ItemSimilarity | None = None
    mmr_lambda: float = 1.0
    mmr_curve: pl.DataFrame | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def budgets(self, names: list[str]) -> dict[str, int]:
        fusion = self.config.fusion
        return {name: fusion.budgets.get(name, fusion.candidates) for name in names}

    def fusers(self, names: list[str], feature_log: Interactions, side: SideInfo) -> dict:
        """Test-time fusers by report name: fixed weights, RRF, tuned and learned."""
        fusion = self.config.fusion
        fusers: dict[str, object] = {
            "weighted": ScoreFuser("weighted", fusion.normalization, dict(fusion.weights)),
            "rrf": ScoreFuser("rrf", weights=dict(fusion.weights), k_rrf=fusion.k_rrf),
        }
        if self.tuning is not None:
            fusers["tuned"] = ScoreFuser(
                "weighted", fusion.normalization, self.tuning.weights, self.tuning.budgets
            )
        if self.learned is not None:
            fusers["learned"] = LearnedFuser(self.learned, feature_log, side)
        if self.similarity is not None and self.mmr_lambda < 1.0:
            fusers["mmr"] = MMRFuser(
                fusers[self.base_method()], self.similarity, self.mmr_lambda,
                fusion.mmr_candidates, fusion.mmr_similarity,
            )
        return fusers

    def base_method(self) -> str:
        """The fusion method before diversity re-ranking."""
        method = self.config.fusion.method
        if method == "weighted" and self.tuning is not None:
            return "tuned"
        return method

    def chosen(self) -> str:
        """Report name of the fuser used for the submission and the served model."""
        diversify = self.similarity is not None and self.mmr_lambda < 1.0
        return "mmr" if diversify else self.base_method()

    def weights_table(self) -> dict[str, dict[str, float]]:
        table = {"weighted": {n: float(w) for n, w in self.config.fusion.weights.items()}}
        if self.tuning is not None:
            table["tuned"] = dict(self.tuning.weights)
        return table


@dataclass(frozen=True, eq=False)
class _Validation:
    """Channel candidates of the validation users and what scoring them needs."""

    channels: dict[str, Candidates]
    histories: Histories
    feature_log: Interactions
    indptr: np.ndarray
    items: np.ndarray
    side: SideInfo


def tune_on_validation(config: RunConfig, train: Interactions, side: SideInfo) -> FusionSetup:
    """Fit every channel on validation-train, then tune weights and train learned fusion."""
    setup = FusionSetup(config=config)
    fusion = config.fusion
    if fusion.tune_trials == 0 and fusion.method != "learned" and not fusion.compare_methods:
        return setup
    started = time.perf_counter()
    try:
        split = split_interactions(train, config.split, validation=True)
    except InputError as exc:
        raise InputError(
            f"validation split (carved from the training part to tune fusion): {exc}. Hint: "
            "the log is too small to tune on; set fusion.tune_trials = 0, "
            "fusion.pareto_trials = 0 and fusion.compare_methods = false"
        ) from None
    users = evaluated_users(split.train, split.test)
    strategies, _ = fit_strategies(config, split.train, side)
    histories = split.train.histories(users)
    channels = {
        name: strategy.recommend(histories, setup.budgets(list(strategies))[name])
        for name, strategy in strategies.items()
    }
    indptr, items = truth_csr(split.test, users)
    validation = _Validation(channels, histories, split.train, indptr, items, side)
    setup.seconds["validation_fit"] = time.perf_counter() - started
    if fusion.tune_trials > 0:
        _tune(setup, validation)
    if fusion.method == "learned" or fusion.compare_methods:
        _learn(setup, validation)
    setup.similarity = item_similarity(config, side, train.n_items)
    if setup.similarity is not None:
        _pick_mmr(setup, validation)
    return setup


def _tune(setup: FusionSetup, validation: _Validation) -> None:
    fusion, seed = setup.config.fusion, setup.config.seed
    started = time.perf_counter()
    channels, indptr, items = validation.channels, validation.indptr, validation.items
    setup.tuning = tune_weights(
        channels, indptr, items, k=fusion.tune_k, metric=fusion.tune_metric,
        n_trials=fusion.tune_trials, seed=seed, normalization=fusion.normalization,
        tune_budgets=fusion.tune_budgets,
    )
    setup.seconds["tune"] = time.perf_counter() - started
    logger.info("tuned weights: %s", {n: round(w, 3) for n, w in setup.tuning.weights.items()})
    if fusion.pareto_trials > 0:
        started = time.perf_counter()
        setup.pareto = tune_pareto(
            channels, indptr, items, catalogue_coverage(validation.feature_log.n_items),
            k=fusion.tune_k,
            metric=fusion.tune_metric, n_trials=fusion.pareto_trials, seed=seed,
            normalization=fusion.normalization, tune_budgets=fusion.tune_budgets,
        )
        setup.seconds["pareto"] = time.perf_counter() - started


def _learn(setup: FusionSetup, validation: _Validation) -> None:
    fusion = setup.config.fusion
    started = time.perf_counter()
    tuned = setup.tuning
    model = LearnedFusion(
        n_estimators=fusion.ltr_trees,
        learning_rate=fusion.ltr_learning_rate,
        num_leaves=fusion.ltr_leaves,
        base_weights=tuned.weights if tuned is not None else None,
        base_budgets=tuned.budgets if tuned is not None else None,
        base_normalization=fusion.normalization,
        seed=setup.config.seed,
    )
    setup.learned = model.fit(
        validation.channels, validation.histories, validation.feature_log,
        validation.indptr, validation.items, validation.side,
    )
    setup.seconds["learn"] = time.perf_counter() - started


#: MMR trade-offs tried on validation; 1.0 means no re-ranking.
MMR_GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _pick_mmr(setup: FusionSetup, validation: _Validation) -> None:
    """Choose the MMR trade-off of the submitted fusion on validation (or take the config's)."""
    fusion = setup.config.fusion
    if fusion.mmr_lambda is not None:
        setup.mmr_lambda = fusion.mmr_lambda
        return
    started = time.perf_counter()
    names = list(validation.channels)
    base = setup.fusers(names, validation.feature_log, validation.side)[setup.base_method()]
    pool = base(validation.channels, validation.histories).truncate(fusion.mmr_candidates)
    curve = diversity_curve(
        pool, validation.indptr, validation.items, setup.similarity, list(MMR_GRID),
        k=fusion.tune_k,
    )
    best = curve.sort(["ndcg", "lambda"], descending=[True, True]).row(0, named=True)
    setup.mmr_lambda, setup.mmr_curve = float(best["lambda"]), curve
    setup.seconds["mmr"] = time.perf_counter() - started
    logger.info(
        "MMR on validation: lambda %.2f (NDCG@%d %.4f; without re-ranking %.4f)",
        setup.mmr_lambda, fusion.tune_k, best["ndcg"],
        curve.filter(pl.col("lambda") == 1.0)["ndcg"][0],
    )


def item_similarity(config: RunConfig, side: SideInfo, n_items: int) -> ItemSimilarity | None:
    """Item similarity for MMR and diversity: categories, or supplied vectors."""
    if config.fusion.mmr_similarity == "vectors" and side.item_vectors is not None:
        return ItemSimilarity(vectors=side.item_vectors)
    categories = category_matrix(side, n_items)
    return None if categories is None else ItemSimilarity(categories=categories[0])


__all__ = ["FusionSetup", "item_similarity", "tune_on_validation"]
