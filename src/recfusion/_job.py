"""The main job: load, split, fit, fuse, evaluate and write every output of a run."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recfusion import _outputs
from recfusion.config import RunConfig
from recfusion.data import Candidates, Histories, Interactions
from recfusion.pipeline import Recommender, evaluated_users, fit_filler, fit_strategies

logger = logging.getLogger(__name__)

OUTPUT_FILES = ["submission.csv", "benchmark_report.csv", "report.html", "run.json"]


@dataclass(eq=False)
class RunResult:
    """What a run produced: the tidy benchmark table and the paths written."""

    table: pl.DataFrame
    files: dict[str, Path]
    timings: dict[str, float] = field(default_factory=dict)


class _Clock:
    """Named phase timings, logged at INFO as each phase ends."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._start = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(now - self._start, 3)
        logger.info("%s done in %.2f s", phase, now - self._start)
        self._start = now


def run_job(config: RunConfig, out_dir: Path, *, force: bool = False) -> RunResult:
    """Run the whole job described by ``config`` and write its outputs into ``out_dir``."""
    from recfusion.data import load_dataset, split_interactions

    _outputs.check_writable(out_dir, OUTPUT_FILES, force)
    clock = _Clock()
    dataset = load_dataset(config.data)
    clock.lap("load")
    split = split_interactions(dataset.interactions, config.split)
    users = evaluated_users(split.train, split.test)
    logger.info(
        "split: %d train rows, %d test rows, %d evaluated users (%d users not evaluated)",
        split.train.n_interactions, split.test.n_interactions, users.shape[0],
        dataset.interactions.n_users - users.shape[0],
    )
    clock.lap("split")
    fusion_state = _tune_fusion(config, split.train, dataset.side)
    clock.lap("tune")
    strategies, fit_seconds = fit_strategies(config, split.train, dataset.side)
    clock.lap("fit")
    recommender = Recommender(
        strategies=strategies,
        filler=fit_filler(split.train),
        fuse=fusion_state.make_fuse(split.train, dataset.side),
        candidates={name: config.fusion.candidates for name in strategies},
        fit_seconds=fit_seconds,
    )
    recommendations = _recommend_all(recommender, split.train.histories(users), config)
    clock.lap("recommend")
    return _evaluate_and_write(
        config, dataset, split, users, recommender, recommendations, out_dir, clock
    )
