"""Learned fusion: a LightGBM LambdaRank model re-ranks the union of channel candidates.

Leakage rule: the model is trained on validation rows whose channels were fitted on the
validation-train log and whose features come from that same log; test predictions use
channels and features from the full training log.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import polars as pl

from recfusion import _io
from recfusion.data._types import Candidates, Histories, Interactions
from recfusion.errors import InputError, NotFittedError
from recfusion.fusion._common import check_channels, rank_within_rows, truth_keys
from recfusion.fusion._features import PairFeatures, category_bits, category_matrix
from recfusion.fusion._features import pair_features
from recfusion.recall._base import SideInfo

logger = logging.getLogger(__name__)


class LearnedFusion:
    """A LightGBM LambdaRank model over candidate-pair features.

    It is trained with LightGBM's native ``lightgbm.train(objective="lambdarank")``, the
    model ``LGBMRanker`` wraps, so that scikit-learn is not needed.

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
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM settings
        (boosting rounds, shrinkage, leaves per tree, ``min_data_in_leaf``).
    seed : int
        LightGBM seed. Training is deterministic: ``deterministic=True``, ``num_threads=1``
        and ``force_row_wise=True`` are always set.
    category_column : str
        Column of ``side.items`` holding item categories (default ``"genres"``).
    """

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        seed: int = 42,
        category_column: str = "genres",
    ) -> None:
        self.params: dict[str, Any] = {
            "n_estimators": n_estimators,
            "learning_rate": learning_rate,
            "num_leaves": num_leaves,
            "min_child_samples": min_child_samples,
        }
        self.seed = seed
        self.category_column = category_column
        self.booster_: lightgbm.Booster | None = None
        self.feature_names_: list[str] | None = None
        self.channel_names_: list[str] | None = None

    def _train(self, matrix: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> None:
        """Fit a deterministic LambdaRank booster (LightGBM's native API)."""
        params = {
            "objective": "lambdarank",
            "learning_rate": self.params["learning_rate"],
            "num_leaves": self.params["num_leaves"],
            "min_data_in_leaf": self.params["min_child_samples"],
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "verbose": -1,
        }
        # Default column names: channel names need not be valid LightGBM feature names.
        dataset = lightgbm.Dataset(matrix, label=labels, group=groups)
        self.booster_ = lightgbm.train(
            params, dataset, num_boost_round=self.params["n_estimators"]
        )

    def features(
        self,
        channels: Mapping[str, Candidates],
        histories: Histories,
        feature_log: Interactions,
        side: SideInfo | None = None,
    ) -> PairFeatures:
        """The feature matrix of the union of ``channels`` (one row per candidate pair)."""
        names = check_channels(channels, "LearnedFusion")
        if histories.n_rows != channels[names[0]].n_rows:
            raise InputError(
                f"LearnedFusion: 'histories' has {histories.n_rows} rows but channels have "
                f"{channels[names[0]].n_rows}; expected the same query rows"
            )
        return pair_features(channels, histories, feature_log, self._bits(side, feature_log))

    def _bits(self, side: SideInfo | None, feature_log: Interactions) -> np.ndarray | None:
        """Category bit masks of the items, cached for the last ``side`` object seen."""
        cached = getattr(self, "_bits_cache", None)
        if cached is not None and cached[0] is side and cached[1] == feature_log.n_items:
            return cached[2]
        categories = category_matrix(side, feature_log.n_items, self.category_column)
        bits = None if categories is None else category_bits(categories[0])
        self._bits_cache = (side, feature_log.n_items, bits)
        return bits

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
        pairs = self.features(channels, histories, feature_log, side)
        width = int(feature_log.n_items)
        keys = pairs.rows * width + pairs.items
        labels = np.isin(keys, truth_keys(truth_indptr, truth_items, width))
        useful = np.bincount(pairs.rows, weights=labels, minlength=histories.n_rows) > 0
        keep = useful[pairs.rows]
        if not keep.any():
            raise InputError(
                "LearnedFusion.fit: no validation target is among the candidates; expected "
                "at least one row with a hit (hint: raise the candidate budget)"
            )
        groups = np.bincount(pairs.rows[keep], minlength=histories.n_rows)
        self.feature_names_ = pairs.names
        self._train(pairs.matrix[keep], labels[keep].astype(np.int32), groups[groups > 0])
        self.channel_names_ = sorted(channels)
        logger.info(
            "trained learned fusion on %d pairs of %d rows (%d positives) in %.2f s",
            int(keep.sum()), int((groups > 0).sum()), int(labels.sum()),
            time.perf_counter() - started,
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
        Ties: lower item index first. Scores are the model's raw outputs.
        """
        self._check_ready(channels)
        pairs = self.features(channels, histories, feature_log, side)
        if pairs.names != self.feature_names_:
            raise InputError(
                f"LearnedFusion.predict: features {pairs.names} differ from the trained "
                f"features {self.feature_names_} (hint: pass the same kind of side info)"
            )
        predicted = self.booster_.predict(pairs.matrix) if pairs.rows.shape[0] else np.zeros(0)
        return rank_within_rows(pairs.rows, pairs.items, predicted, histories.n_rows)

    def as_fuse(
        self, feature_log: Interactions, side: SideInfo | None = None
    ) -> Callable[[dict[str, Candidates], Histories], Candidates]:
        """A pipeline ``fuse(channels, histories)`` bound to the test-time feature log."""

        def fuse(channels: dict[str, Candidates], histories: Histories) -> Candidates:
            return self.predict(channels, histories, feature_log, side)

        return fuse

    def feature_importances(self) -> pl.DataFrame:
        """``feature``, ``gain`` and ``split`` per feature, by gain descending."""
        self._check_fitted()
        booster = self.booster_
        return pl.DataFrame(
            {
                "feature": self.feature_names_,
                "gain": booster.feature_importance(importance_type="gain").astype(np.float64),
                "split": booster.feature_importance(importance_type="split").astype(np.int64),
            }
        ).sort(["gain", "feature"], descending=[True, False])

    def save(self, directory: Path) -> list[Path]:
        """Write the booster (LightGBM text format) and settings (JSON); never pickle."""
        self._check_fitted()
        model_path, meta_path = directory / "ranker.txt", directory / "ranker.json"
        meta = {
            "params": self.params,
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
        model = cls(seed=meta["seed"], category_column=meta["category_column"], **meta["params"])
        text = (directory / "ranker.txt").read_text(encoding="utf-8")
        model.booster_ = lightgbm.Booster(model_str=text)
        model.feature_names_ = meta["feature_names"]
        model.channel_names_ = meta["channel_names"]
        return model


__all__ = ["LearnedFusion"]
