"""Learned fusion: a LightGBM LambdaRank model re-ranks the union of channel candidates.

Leakage rule: the model is trained on validation rows whose channels were fitted on the
validation-train log and whose features come from that same log; test predictions use
channels and features from the full training log.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import polars as pl

from recfusion import _io
from recfusion.data._types import Candidates, Histories, Interactions
from recfusion.errors import InputError, NotFittedError
from recfusion.fusion._common import candidates_slice, check_channels, history_slice
from recfusion.fusion._common import indptr_from_rows, truth_keys
from recfusion.fusion._features import ItemStats, PairFeatures, category_bits
from recfusion.fusion._features import category_matrix, pair_features
from recfusion.fusion._merge import FusionPlan, ordered_union
from recfusion.recall._base import SideInfo

logger = logging.getLogger(__name__)

#: Query rows whose features are built at once (bounds memory on large test sets).
CHUNK_ROWS = 2048


class LearnedFusion:
    """A LightGBM LambdaRank model over candidate-pair features.

    Trained with LightGBM's native ``lightgbm.train(objective="lambdarank")``, the model
    ``LGBMRanker`` wraps, so scikit-learn is not needed.

    Features of a (row, item) pair, for every channel ``c`` in sorted order:
    ``c_score`` (per-row min-max score, -1 when ``c`` did not return the item), ``c_rank``
    (0-based position, 1e6 when missing) and ``c_raw`` (raw score, NaN = LightGBM missing);
    then ``n_channels`` (channels returning the item), ``item_popularity`` (log1p of
    distinct users in the feature log), ``item_age`` (time since the item's first
    interaction / log time span; -1 for items absent from the log), ``user_activity``
    (history length), ``recency_gap`` ((item's last interaction - user's last interaction)
    / log time span) and, when ``side.items`` has a category column, ``genre_affinity``
    (share of the user's history items sharing a category with the item).

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, feature_fraction, lambda_l2
        LightGBM settings (boosting rounds, shrinkage, leaves per tree,
        ``min_data_in_leaf``, share of features per tree, L2 penalty). The defaults are
        deliberately conservative: a validation split has one target per user, so a few
        hundred to a few thousand ranking groups.
    base_weights, base_budgets : dict, optional
        When given (typically :func:`tune_weights` output), boosting starts from
        ``base_scale *`` the weighted-fusion score with these weights and budgets
        (LightGBM ``init_score``), and predictions add it back: the trees learn a
        correction of the tuned fusion rather than a ranking from scratch.
    base_normalization : str
        Normalisation of the base fusion (default ``"minmax"``).
    base_scale : float
        Multiplier of the base score (default 1.0).
    early_stopping_share : float
        Share of training rows held out to pick the number of rounds by NDCG@10 (patience
        20 rounds); 0 (default) trains all ``n_estimators`` rounds on every row.
    seed : int
        LightGBM seed (also draws the early-stopping rows). Training is deterministic:
        ``deterministic=True``, ``num_threads=1`` and ``force_row_wise=True`` are set.
    category_column : str
        Column of ``side.items`` holding item categories (default ``"genres"``).
    """

    def __init__(
        self,
        n_estimators: int = 100,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 100,
        feature_fraction: float = 0.8,
        lambda_l2: float = 10.0,
        base_weights: Mapping[str, float] | None = None,
        base_budgets: Mapping[str, int] | None = None,
        base_normalization: str = "minmax",
        base_scale: float = 1.0,
        early_stopping_share: float = 0.0,
        seed: int = 42,
        category_column: str = "genres",
    ) -> None:
        self.params: dict[str, Any] = {
            "n_estimators": n_estimators,
            "learning_rate": learning_rate,
            "num_leaves": num_leaves,
            "min_child_samples": min_child_samples,
            "feature_fraction": feature_fraction,
            "lambda_l2": lambda_l2,
        }
        self.base: dict[str, Any] = {
            "weights": dict(base_weights) if base_weights is not None else None,
            "budgets": dict(base_budgets or {}),
            "normalization": base_normalization,
            "scale": float(base_scale),
        }
        if not 0.0 <= early_stopping_share < 1.0:
            raise InputError(
                "LearnedFusion: parameter 'early_stopping_share' must be in [0, 1); "
                f"received {early_stopping_share}"
            )
        self.early_stopping_share = early_stopping_share
        self.seed = seed
        self.category_column = category_column
        self.booster_: lightgbm.Booster | None = None
        self.feature_names_: list[str] | None = None
        self.channel_names_: list[str] | None = None

    def _lgbm_params(self) -> dict[str, Any]:
        """LightGBM parameters of a deterministic LambdaRank run."""
        return {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [10],
            "learning_rate": self.params["learning_rate"],
            "num_leaves": self.params["num_leaves"],
            "min_data_in_leaf": self.params["min_child_samples"],
            "feature_fraction": self.params["feature_fraction"],
            "lambda_l2": self.params["lambda_l2"],
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "verbose": -1,
        }

    def _dataset(self, pairs: PairFeatures, labels, base, mask, reference=None):
        """A LightGBM ranking dataset of the masked pairs (rows are contiguous groups)."""
        groups = np.bincount(pairs.rows[mask])
        # Default column names: channel names need not be valid LightGBM feature names.
        return lightgbm.Dataset(
            pairs.matrix[mask],
            label=labels[mask].astype(np.int32),
            group=groups[groups > 0],
            init_score=None if base is None else base[mask],
            reference=reference,
        )

    def _train(self, pairs: PairFeatures, labels: np.ndarray, base: np.ndarray | None) -> None:
        """Fit the booster, holding out rows for early stopping when asked."""
        held = np.zeros(labels.shape[0], dtype=bool)
        callbacks, valid_sets = [], []
        if self.early_stopping_share > 0:
            rows = np.unique(pairs.rows)
            count = int(round(rows.shape[0] * self.early_stopping_share))
            chosen = np.random.default_rng(self.seed).choice(rows, count, replace=False)
            held = np.isin(pairs.rows, chosen)
        train = self._dataset(pairs, labels, base, ~held)
        if held.any():
            valid_sets = [self._dataset(pairs, labels, base, held, reference=train)]
            callbacks = [lightgbm.early_stopping(20, verbose=False)]
        self.booster_ = lightgbm.train(
            self._lgbm_params(), train, num_boost_round=self.params["n_estimators"],
            valid_sets=valid_sets or None, callbacks=callbacks or None,
        )

    def features(
        self,
        channels: Mapping[str, Candidates],
        histories: Histories,
        feature_log: Interactions,
        side: SideInfo | None = None,
    ) -> PairFeatures:
        """The feature matrix of the union of ``channels`` (one row per candidate pair)."""
        blocks = list(self._chunks(channels, histories, feature_log, side))
        return _concat([block[1] for block in blocks], [block[0] for block in blocks])

    def _chunks(
        self,
        channels: Mapping[str, Candidates],
        histories: Histories,
        feature_log: Interactions,
        side: SideInfo | None,
    ) -> Iterator[tuple[int, PairFeatures, np.ndarray | None]]:
        """(first row, features, base scores) per block of rows, bounding memory."""
        names = check_channels(channels, "LearnedFusion")
        if histories.n_rows != channels[names[0]].n_rows:
            raise InputError(
                f"LearnedFusion: 'histories' has {histories.n_rows} rows but channels have "
                f"{channels[names[0]].n_rows}; expected the same query rows"
            )
        stats, bits = ItemStats.from_log(feature_log), self._bits(side, feature_log)
        for start in range(0, max(histories.n_rows, 1), CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, histories.n_rows)
            part = {name: candidates_slice(channels[name], start, stop) for name in names}
            pairs = pair_features(part, history_slice(histories, start, stop), stats, bits)
            yield start, pairs, self._base_scores(part)

    def _bits(self, side: SideInfo | None, feature_log: Interactions) -> np.ndarray | None:
        """Category bit masks of the items, cached for the last ``side`` object seen."""
        cached = getattr(self, "_bits_cache", None)
        if cached is not None and cached[0] is side and cached[1] == feature_log.n_items:
            return cached[2]
        categories = category_matrix(side, feature_log.n_items, self.category_column)
        bits = None if categories is None else category_bits(categories[0])
        self._bits_cache = (side, feature_log.n_items, bits)
        return bits

    def _base_scores(self, channels: Mapping[str, Candidates]) -> np.ndarray | None:
        """Scaled base-fusion score of every union pair (same order as the features)."""
        if self.base["weights"] is None:
            return None
        plan = FusionPlan.build(channels, normalization=self.base["normalization"])
        fused, _ = plan.union_scores(
            plan.weight_array(self.base["weights"]), plan.budget_array(self.base["budgets"])
        )
        return self.base["scale"] * fused

    def fit(
        self,
        channels: Mapping[str, Candidates],
        histories: Histories,
        feature_log: Interactions,
        truth_indptr: np.ndarray,
        truth_items: np.ndarray,
        side: SideInfo | None = None,
    ) -> LearnedFusion:
        """Train on validation rows; ``truth`` holds each row's validation targets (CSR).

        Rows without a target among their candidates carry no ranking signal and are
        dropped. ``feature_log`` must not contain the targets (use validation-train).
        """
        started = time.perf_counter()
        width = int(feature_log.n_items)
        targets = truth_keys(truth_indptr, truth_items, width)
        kept: list[tuple[int, PairFeatures, np.ndarray, np.ndarray | None]] = []
        for start, pairs, base in self._chunks(channels, histories, feature_log, side):
            labels = np.isin((start + pairs.rows) * width + pairs.items, targets)
            useful = np.bincount(pairs.rows, weights=labels)[pairs.rows] > 0
            kept.append((start, _select(pairs, useful), labels[useful],
                         None if base is None else base[useful]))
        pairs = _concat([k[1] for k in kept], [k[0] for k in kept])
        if pairs.rows.shape[0] == 0:
            raise InputError(
                "LearnedFusion.fit: no validation target is among the candidates; expected "
                "at least one row with a hit (hint: raise the candidate budget)"
            )
        labels = np.concatenate([k[2] for k in kept])
        base = None if kept[0][3] is None else np.concatenate([k[3] for k in kept])
        self.feature_names_, self.channel_names_ = pairs.names, sorted(channels)
        self._train(pairs, labels, base)
        logger.info(
            "trained learned fusion on %d pairs of %d rows (%d positives, %d rounds) in %.2f s",
            pairs.rows.shape[0], np.unique(pairs.rows).shape[0], int(labels.sum()),
            self.booster_.current_iteration(), time.perf_counter() - started,
        )
        return self

    def _check_fitted(self) -> None:
        """Raise NotFittedError before fit."""
        if self.booster_ is None:
            raise NotFittedError("LearnedFusion is not fitted: call fit() first")

    def _check_ready(self, channels: Mapping[str, Candidates]) -> None:
        """Raise unless fitted on the same channel names."""
        self._check_fitted()
        if sorted(channels) != self.channel_names_:
            raise InputError(
                f"LearnedFusion.predict: channels {sorted(channels)} differ from the "
                f"channels it was trained on {self.channel_names_}"
            )

    def predict(
        self,
        channels: Mapping[str, Candidates],
        histories: Histories,
        feature_log: Interactions,
        side: SideInfo | None = None,
    ) -> Candidates:
        """Every candidate of every row re-ranked by the model, best first.

        ``feature_log`` is the log the test-time channels were fitted on (full train).
        Scores are the model's raw outputs (plus the base score when one is set).
        Ties: lower item index first.
        """
        self._check_ready(channels)
        rows, items, scores = [], [], []
        for start, pairs, base in self._chunks(channels, histories, feature_log, side):
            if pairs.names != self.feature_names_:
                raise InputError(
                    f"LearnedFusion.predict: features {pairs.names} differ from the trained "
                    f"features {self.feature_names_} (hint: pass the same kind of side info)"
                )
            predicted = _predict(self.booster_, pairs.matrix)
            scores.append(predicted if base is None else predicted + base)
            rows.append(start + pairs.rows)
            items.append(pairs.items)
        # Pairs come in union order (row, then item ascending), as ordered_union expects.
        indptr = indptr_from_rows(np.concatenate(rows), histories.n_rows)
        return ordered_union(indptr, np.concatenate(items), np.concatenate(scores))

    def as_fuse(
        self, feature_log: Interactions, side: SideInfo | None = None
    ) -> Callable[[dict[str, Candidates], Histories], Candidates]:
        """A pipeline ``fuse(channels, histories)`` bound to the test-time feature log."""

        def fuse(channels: dict[str, Candidates], histories: Histories) -> Candidates:
            return self.predict(channels, histories, feature_log, side)

        return fuse

    def feature_importances(self) -> pl.DataFrame:
        """Per feature: ``importance`` (total gain of its splits) and ``split`` (count).

        Sorted by importance, descending (ties by name).
        """
        self._check_fitted()
        booster = self.booster_
        return pl.DataFrame(
            {
                "feature": self.feature_names_,
                "importance": booster.feature_importance("gain").astype(np.float64),
                "split": booster.feature_importance("split").astype(np.int64),
            }
        ).sort(["importance", "feature"], descending=[True, False])

    def save(self, directory: Path) -> list[Path]:
        """Write the booster (LightGBM text format) and settings (JSON); never pickle."""
        self._check_fitted()
        model_path, meta_path = directory / "ranker.txt", directory / "ranker.json"
        meta = {
            "params": self.params,
            "base": self.base,
            "early_stopping_share": self.early_stopping_share,
            "seed": self.seed,
            "category_column": self.category_column,
            "feature_names": self.feature_names_,
            "channel_names": self.channel_names_,
        }
        _io.write_text(model_path, self.booster_.model_to_string())
        _io.write_text(meta_path, json.dumps(meta, indent=2, sort_keys=True))
        return [model_path, meta_path]

    @classmethod
    def load(cls, directory: Path) -> LearnedFusion:
        """Rebuild a fitted model from :meth:`save` output."""
        meta = json.loads((directory / "ranker.json").read_text(encoding="utf-8"))
        base = meta["base"]
        model = cls(
            **meta["params"],
            base_weights=base["weights"],
            base_budgets=base["budgets"],
            base_normalization=base["normalization"],
            base_scale=base["scale"],
            early_stopping_share=meta["early_stopping_share"],
            seed=meta["seed"],
            category_column=meta["category_column"],
        )
        text = (directory / "ranker.txt").read_text(encoding="utf-8")
        model.booster_ = lightgbm.Booster(model_str=text)
        model.feature_names_ = meta["feature_names"]
        model.channel_names_ = meta["channel_names"]
        return model


#: Feature rows from which prediction uses every core; below, one thread (online calls).
PARALLEL_PREDICT_ROWS = 20_000


def _predict(booster: lightgbm.Booster, matrix: np.ndarray) -> np.ndarray:
    """Model scores of each feature row; tree sums do not depend on the thread count."""
    if matrix.shape[0] == 0:
        return np.zeros(0)
    threads = (os.cpu_count() or 1) if matrix.shape[0] >= PARALLEL_PREDICT_ROWS else 1
    return booster.predict(matrix, num_threads=threads)


def _select(pairs: PairFeatures, mask: np.ndarray) -> PairFeatures:
    """The pairs where ``mask`` is true."""
    return PairFeatures(pairs.rows[mask], pairs.items[mask], pairs.matrix[mask], pairs.names)


def _concat(parts: list[PairFeatures], starts: list[int]) -> PairFeatures:
    """Stack row blocks, shifting each block's rows by its first row."""
    return PairFeatures(
        rows=np.concatenate([start + p.rows for p, start in zip(parts, starts)]),
        items=np.concatenate([p.items for p in parts]),
        matrix=np.concatenate([p.matrix for p in parts]),
        names=parts[0].names,
    )


__all__ = ["LearnedFusion"]
