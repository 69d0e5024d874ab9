"""The fitted multi-strategy pipeline: channels, fusion and the popularity fallback.

:class:`Recommender` is the one object that offline evaluation, batch scoring and the HTTP
server all use, so what is served is exactly what was evaluated.
"""

from __future__ import annotations

import logging
import time
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from recfusion._measure import peak_memory
from recfusion.config import RunConfig
from recfusion.data import Candidates, Histories, Interactions
from recfusion.fusion._coldstart import SegmentPopularity
from recfusion.recall import Popularity, SideInfo, Strategy, build_strategy

logger = logging.getLogger(__name__)



class Fuser(Protocol):
    """Merges channel candidates for a batch of rows into one scored list per row.

    Implementations live in :mod:`recfusion.fusion`; each saves its fitted state as JSON
    and arrays (no pickle) and is rebuilt by :func:`recfusion.fusion.load_fuser`.
    """

    def __call__(self, channels: dict[str, Candidates], histories: Histories) -> Candidates:
        """Fused, scored candidates per row (seen filtering and padding come later)."""

    def save(self, directory: Path) -> list[Path]:
        """Write fitted state into ``directory``; returns the files written."""


@dataclass(eq=False)
class Recommender:
    """Fitted channels plus the fusion that merges them into one top-k per query row.

    Parameters
    ----------
    strategies : dict of str to Strategy
        Fitted recall channels by name, in config order.
    filler : Popularity
        Fitted popularity used for padding short lists and for empty histories.
    fuser : Fuser
        Merges channel candidates; see :mod:`recfusion.fusion`.
    candidates : dict of str to int
        Candidate budget per channel.
    """

    strategies: dict[str, Strategy]
    filler: Popularity
    fuser: Fuser
    candidates: dict[str, int]
    fit_seconds: dict[str, float] = field(default_factory=dict)
    segment: SegmentPopularity | None = None

    def channel_candidates(self, histories: Histories) -> dict[str, Candidates]:
        """Each channel's candidates for ``histories``, seen items excluded."""
        return {
            name: strategy.recommend(histories, self.candidates[name])
            for name, strategy in self.strategies.items()
        }

    def recommend(self, histories: Histories, k: int) -> Candidates:
        """Fused top-``k`` per row: distinct, unseen, padded with popularity to exactly k."""
        from recfusion.fusion import finalize

        fused = self.fuser(self.channel_candidates(histories), histories)
        return finalize(fused, histories, self.filler, k)


    def cold_start(self, users: np.ndarray | None, k: int) -> Candidates:
        """Lists for users with no history: segment popularity when fitted, else global.

        ``users`` are user indices (None or -1 for users unknown to the model).
        """
        if users is None or self.segment is None or np.any(np.asarray(users) < 0):
            rows = 1 if users is None else len(users)
            return self.filler.recommend(Histories.from_lists([[]] * rows), k)
        empty = Histories.from_lists([[]] * len(users))
        return self.segment.recommend(empty, k, users=np.asarray(users))

    def save(self, directory: Path) -> list[Path]:
        """Write channels, filler and fuser into sub-folders of ``directory``."""
        written: list[Path] = []
        if self.segment is not None:
            written += self.segment.save(directory / "segment")
        for name, strategy in self.strategies.items():
            written += strategy.save(directory / "strategies" / name)
        written += self.filler.save(directory / "filler")
        written += self.fuser.save(directory / "fuser")
        layout = {
            "strategies": [[name, s.kind] for name, s in self.strategies.items()],
            "candidates": self.candidates,
        }
        path = directory / "recommender.json"
        path.write_text(json.dumps(layout, indent=2, sort_keys=True), encoding="utf-8")
        return [*written, path]

    @classmethod
    def load(
        cls, directory: Path, feature_log: Interactions | None = None, side: SideInfo | None = None
    ) -> Recommender:
        """Rebuild a saved recommender (arrays, JSON and index files only).

        Learned fusion computes features from ``feature_log`` (the training log) and
        ``side``; score fusion needs neither.
        """
        from recfusion.fusion import load_fuser
        from recfusion.recall import STRATEGIES

        layout = json.loads((directory / "recommender.json").read_text(encoding="utf-8"))
        strategies = {
            name: STRATEGIES[kind].load(directory / "strategies" / name)
            for name, kind in layout["strategies"]
        }
        filler = Popularity.load(directory / "filler")
        segment_dir = directory / "segment"
        segment = SegmentPopularity.load(segment_dir) if segment_dir.is_dir() else None
        return cls(
            strategies=strategies,
            filler=filler,  # type: ignore[arg-type]
            fuser=load_fuser(directory / "fuser", feature_log, side),
            candidates={name: int(n) for name, n in layout["candidates"].items()},
            segment=segment,
        )


def fit_strategies(
    config: RunConfig, train: Interactions, side: SideInfo, memory: dict[str, float] | None = None
) -> tuple[dict[str, Strategy], dict[str, float]]:
    """Build and fit every enabled strategy of ``config``; returns them and fit seconds.

    When ``memory`` is given it receives each fit's peak extra resident memory in MiB.
    """
    strategies: dict[str, Strategy] = {}
    seconds: dict[str, float] = {}
    engine = _SparkEngine(train) if config.engine == "spark" else None
    for name, section in config.strategies.items():
        if not section.enabled:
            continue
        strategy = build_strategy(name, section)
        started = time.perf_counter()
        with peak_memory() as peak:
            if engine is None or not engine.fit(strategy):
                strategy.fit(train, side)
        seconds[name] = time.perf_counter() - started
        if memory is not None:
            memory[name] = peak.extra_mb
        strategies[name] = strategy
        logger.info("fitted %s (%s) in %.2f s", name, strategy.kind, seconds[name])
    return strategies, seconds


class _SparkEngine:
    """Computes popularity and ItemCF neighbour tables with PySpark DataFrames."""

    def __init__(self, train: Interactions) -> None:
        from recfusion.spark import get_spark, interactions_to_spark

        self.train = train
        self.frame = interactions_to_spark(get_spark(), train)

    def fit(self, strategy: Strategy) -> bool:
        """Fit ``strategy`` on Spark when it is one Spark computes; False otherwise."""
        from recfusion.recall import ItemCF
        from recfusion.spark import spark_neighbours, spark_popularity

        if isinstance(strategy, ItemCF):
            table = spark_neighbours(self.frame, self.train.n_items, strategy.neighbour_params())
            strategy.fit_from_table(table, self.train.n_items)
            return True
        if isinstance(strategy, Popularity):
            scores = spark_popularity(
                self.frame, self.train.n_items, strategy.window, strategy.half_life
            )
            strategy.fit_from_scores(scores)
            return True
        return False


def fit_recommender(config: RunConfig, interactions: Interactions, side: SideInfo) -> Recommender:
    """Tune fusion on a validation split of ``interactions``, then fit on all of them.

    This is what ``recfusion train`` saves and ``recfusion serve`` serves.
    """
    from recfusion._fusion_setup import tune_on_validation

    setup = tune_on_validation(config, interactions, side)
    strategies, seconds = fit_strategies(config, interactions, side)
    names = list(strategies)
    fusers = setup.fusers(names, interactions, side)
    segment = None
    if config.fusion.cold_start == "segment" and side.users is not None:
        segment = SegmentPopularity().fit(interactions, side)
    return Recommender(
        strategies=strategies,
        filler=fit_filler(interactions),
        fuser=fusers[setup.chosen()],
        candidates=setup.budgets(names),
        fit_seconds=seconds,
        segment=segment,
    )


def fit_filler(train: Interactions) -> Popularity:
    """Plain distinct-user popularity used to pad lists and serve empty histories."""
    return Popularity(name="filler").fit(train)


def truth_csr(test: Interactions, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Held-out items of ``users`` as CSR (indptr, items), row r for users[r]."""
    held = test.histories(users)
    return held.indptr, held.items


def evaluated_users(train: Interactions, test: Interactions) -> np.ndarray:
    """Users with at least one held-out item and one training interaction, ascending."""
    has_test = test.history_lengths() > 0
    has_train = train.history_lengths() > 0
    return np.flatnonzero(has_test & has_train).astype(np.int32)


__all__ = [
    "Fuser",
    "Recommender",
    "evaluated_users",
    "fit_filler",
    "fit_recommender",
    "fit_strategies",
    "truth_csr",
]
