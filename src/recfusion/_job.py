"""The main job: load, split, fit, fuse, evaluate and write every output of a run."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recfusion import _io, _outputs
from recfusion._fusion_setup import FusionSetup, tune_on_validation
from recfusion._measure import latencies_ms
from recfusion.config import RunConfig
from recfusion.data import Candidates, Dataset, Histories, Split
from recfusion.pipeline import Recommender, evaluated_users, fit_filler, fit_strategies, truth_csr

logger = logging.getLogger(__name__)

OUTPUT_FILES = [
    "submission.csv", "benchmark_report.csv", "fusion_gain.csv", "report.html", "run.json",
]
MMR_CURVE = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0)


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


@dataclass(eq=False)
class _Fitted:
    """The test-time pipeline and what it cost."""

    recommender: Recommender
    setup: FusionSetup
    fusers: dict[str, Any]
    memory_mb: dict[str, float]


@dataclass(eq=False)
class _Lists:
    """Every evaluated list by report name, rows aligned with the evaluated users."""

    lists: dict[str, Candidates]
    channels: dict[str, Candidates]
    fit_seconds: dict[str, float] = field(default_factory=dict)
    latency_ms: dict[str, np.ndarray] = field(default_factory=dict)
    mmr_curve: pl.DataFrame | None = None


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
        "split: %d train rows, %d test rows; %d users evaluated, %d not (no held-out item "
        "or no training history)",
        split.train.n_interactions, split.test.n_interactions, users.shape[0],
        dataset.interactions.n_users - users.shape[0],
    )
    clock.lap("split")
    fitted = _fit(config, dataset, split, clock)
    histories = split.train.histories(users)
    lists = _recommend_all(config, fitted, histories, split, users, dataset)
    clock.lap("recommend")
    return _evaluate_and_write(config, dataset, split, users, fitted, lists, out_dir, clock)


def _fit(config: RunConfig, dataset: Dataset, split: Split, clock: _Clock) -> _Fitted:
    """Fit the test-time channels in a worker thread while fusion tunes on validation.

    The two fits are independent (different training logs), and the heavy parts (numba,
    implicit, gensim, FAISS) release the GIL, so on two cores they overlap. Fit seconds and
    peak memory are therefore measured while the other fit runs.
    """
    memory: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fit") as pool:
        future = pool.submit(fit_strategies, config, split.train, dataset.side, memory)
        setup = tune_on_validation(config, split.train, dataset.side)
        strategies, seconds = future.result()
    clock.lap("fit channels and tune fusion on validation")
    names = list(strategies)
    fusers = setup.fusers(names, split.train, dataset.side)
    recommender = Recommender(
        strategies=strategies,
        filler=fit_filler(split.train),
        fuser=fusers[setup.chosen()],
        candidates=setup.budgets(names),
        fit_seconds=seconds,
    )
    return _Fitted(recommender=recommender, setup=setup, fusers=fusers, memory_mb=memory)


def _recommend_all(
    config: RunConfig, fitted: _Fitted, histories: Histories, split: Split,
    users: np.ndarray, dataset: Dataset,
) -> _Lists:
    """Channel lists, each fusion method's finalized lists, MMR, and external baselines."""
    from recfusion.fusion import finalize

    depth = max([*config.evaluation.ks, config.evaluation.k])
    recommender = fitted.recommender
    channels = recommender.channel_candidates(histories)
    result = _Lists(
        lists={name: cands.truncate(depth) for name, cands in channels.items()},
        channels=channels,
        fit_seconds=dict(recommender.fit_seconds),
    )
    # The fused pipeline costs every channel's fit plus what fusion learned on validation.
    result.fit_seconds["fused"] = sum(recommender.fit_seconds.values()) + sum(
        fitted.setup.seconds.values()
    )
    chosen = fitted.setup.chosen()
    methods = fitted.fusers if config.fusion.compare_methods else {chosen: fitted.fusers[chosen]}
    merged = {}
    for name, fuser in methods.items():
        merged[name] = fuser(channels, histories)
        report_name = "fused" if name == chosen else f"fused_{name}"
        result.lists[report_name] = finalize(merged[name], histories, recommender.filler, depth)
    base = fitted.setup.base_method()
    if fitted.setup.similarity is not None and base in merged:
        truth = truth_csr(split.test, users)
        result.mmr_curve = _mmr_curve(config, merged[base], truth, fitted.setup.similarity)
    if config.evaluation.external_baselines:
        from recfusion._baselines import external_lists

        external, seconds = external_lists(split.train, users, depth, config.split, config.seed)
        result.lists.update(external)
        result.fit_seconds.update(seconds)
    _time_latency(config, recommender, histories, result)
    return result


def _mmr_curve(
    config: RunConfig, fused: Candidates, truth: tuple[np.ndarray, np.ndarray], similarity: Any
) -> pl.DataFrame:
    """Accuracy and diversity of MMR over the base fusion for a grid of trade-offs.

    Descriptive only (computed on the test users): the trade-off actually submitted was
    picked on the validation split.
    """
    from recfusion.fusion import diversity_curve

    pool = fused.truncate(config.fusion.mmr_candidates)
    return diversity_curve(pool, truth[0], truth[1], similarity, list(MMR_CURVE))


def _time_latency(
    config: RunConfig, recommender: Recommender, histories: Histories, result: _Lists
) -> None:
    """Per-user latency of every channel and of the whole fused pipeline, one call each."""
    count = min(config.evaluation.latency_users, histories.n_rows)
    rows = np.linspace(0, histories.n_rows - 1, num=count).astype(np.int64) if count else []
    singles = [_one_row(histories, int(row)) for row in rows]
    k = config.evaluation.k
    if singles:
        recommender.recommend(singles[0], k)  # warm-up: compiled kernels, lazy caches
    for name, strategy in recommender.strategies.items():
        budget = recommender.candidates[name]
        result.latency_ms[name] = latencies_ms(
            lambda i, s=strategy, b=budget: s.recommend(singles[i], b), len(singles)
        )
    result.latency_ms["fused"] = latencies_ms(
        lambda i: recommender.recommend(singles[i], k), len(singles)
    )


def _one_row(histories: Histories, row: int) -> Histories:
    span = slice(histories.indptr[row], histories.indptr[row + 1])
    return Histories(
        indptr=np.array([0, span.stop - span.start], dtype=np.int64),
        items=histories.items[span],
        timestamps=histories.timestamps[span],
        weights=histories.weights[span],
    )


def _evaluate_and_write(
    config: RunConfig, dataset: Dataset, split: Split, users: np.ndarray, fitted: _Fitted,
    lists: _Lists, out_dir: Path, clock: _Clock,
) -> RunResult:
    from recfusion.evaluation import cost_rows, evaluate
    from recfusion.report import write_report

    evaluation = evaluate(
        lists.lists, users, split.train, split.test, config.evaluation.ks,
        side=dataset.side, item_vectors=dataset.side.item_vectors,
        n_bootstrap=config.evaluation.n_bootstrap, seed=config.seed,
    )
    costs = [
        cost_rows(name, lists.fit_seconds.get(name), lists.latency_ms.get(name, np.zeros(0)),
                  fitted.memory_mb.get(name))
        for name in lists.lists
    ]
    table = pl.concat([evaluation.table, *costs], how="vertical_relaxed")
    clock.lap("evaluate")
    extras = _extras(config, dataset, split, users, fitted, lists, evaluation, clock)
    files = write_report(out_dir, table, extras)
    files["gain"] = out_dir / "fusion_gain.csv"
    _io.write_text(files["gain"], _gains(config, evaluation, lists).write_csv(float_precision=6))
    _warn_short_lists(lists.lists["fused"], config.evaluation.k)
    submission = _outputs.submission_text(
        split.train.user_ids, users, lists.lists["fused"], split.train.item_ids,
        config.evaluation.k,
    )
    _outputs.write_submission(out_dir / "submission.csv", submission)
    files["submission"] = out_dir / "submission.csv"
    clock.lap("write outputs")
    files["run"] = out_dir / "run.json"
    payload = _run_payload(config, dataset, split, users, fitted, clock)
    _outputs.write_run_json(files["run"], payload)
    return RunResult(table=table, files=files, timings=clock.seconds)


def _warn_short_lists(fused: Candidates, k: int) -> None:
    """Lists are shorter than k only when fewer than k eligible items exist: say so."""
    short = fused.truncate(k).lengths() < k
    if short.any():
        logger.warning(
            "%d of %d submitted lists hold fewer than k=%d items: those users have fewer "
            "than %d items they have not interacted with (shortest list: %d); the remaining "
            "cells of submission.csv are empty", int(short.sum()), short.shape[0], k, k,
            int(fused.truncate(k).lengths().min()),
        )


def _gains(config: RunConfig, evaluation: Any, lists: _Lists) -> pl.DataFrame:
    """NDCG@10 gain of every fusion method over the best single channel, logged."""
    from recfusion.evaluation._gain import fusion_gains

    methods = [name for name in lists.lists if name.startswith("fused")]
    gains = fusion_gains(
        evaluation.per_user, methods, list(lists.channels), metric="ndcg", k=10,
        n_bootstrap=max(config.evaluation.n_bootstrap, 1), seed=config.seed,
    )
    for row in gains.iter_rows(named=True):
        logger.info(
            "%s NDCG@10 %.4f vs best single channel %s %.4f: gain %+.4f, 95%% CI "
            "[%+.4f, %+.4f], p=%.3f", row["method"], row["value"], row["best_single"],
            row["best_single_value"], row["gain"], row["ci_low"], row["ci_high"],
            row["p_value"],
        )
    return gains


def _extras(
    config: RunConfig, dataset: Dataset, split: Split, users: np.ndarray, fitted: _Fitted,
    lists: _Lists, evaluation: Any, clock: _Clock,
) -> Any:
    from recfusion.fusion import channel_diagnostics
    from recfusion.report import ReportExtras, RunInfo

    indptr, items = truth_csr(split.test, users)
    diagnostics, overlap = channel_diagnostics(
        lists.channels, lists.lists["fused"], indptr, items, k=10
    )
    popularity = split.train.item_user_counts()
    setup = fitted.setup
    learned = setup.learned.feature_importances() if setup.learned is not None else None
    return ReportExtras(
        paired=evaluation.paired,
        latency_samples_ms=lists.latency_ms,
        recommended_popularity={
            name: _shown_popularity(c, popularity, config.evaluation.k)
            for name, c in lists.lists.items()
        },
        catalogue_popularity=popularity,
        overlap_names=[n for n in overlap.columns if n != "strategy"],
        overlap_jaccard=overlap.drop("strategy").to_numpy() if "strategy" in overlap.columns
        else overlap.to_numpy(),
        channel_diagnostics=diagnostics,
        fusion_weights=setup.weights_table(),
        pareto_front=setup.pareto.front if setup.pareto is not None else None,
        mmr_tradeoff=_mmr_table(lists.mmr_curve),
        feature_importances=learned,
        run_info=RunInfo(
            dataset=dataset.name,
            counts={
                "users": dataset.interactions.n_users,
                "items": dataset.interactions.n_items,
                "interactions": dataset.interactions.n_interactions,
                "train interactions": split.train.n_interactions,
                "test interactions": split.test.n_interactions,
            },
            config_toml=config.to_toml(),
            versions=_outputs.library_versions(),
            timings=dict(clock.seconds),
        ),
        cold_start_recommended=_cold_recommended(lists.lists, popularity, config.evaluation.k),
        n_evaluated_users=int(evaluation.n_users["all"]),
        segment_sizes=dict(evaluation.n_users),
    )


def _shown_popularity(cands: Candidates, popularity: np.ndarray, k: int) -> np.ndarray:
    """Training popularity of every recommended slot in the top ``k``."""
    top = cands.to_dense(k)[0].ravel()
    return popularity[top[top >= 0]]


def _mmr_table(curve: pl.DataFrame | None) -> pl.DataFrame | None:
    if curve is None:
        return None
    return curve.select("lambda", "ndcg", "diversity")


def _cold_recommended(
    lists: dict[str, Candidates], popularity: np.ndarray, k: int
) -> dict[str, int]:
    """Distinct items with no training interaction that appear in each strategy's top k."""
    counts = {}
    for name, cands in lists.items():
        top = cands.to_dense(k)[0]
        shown = np.unique(top[top >= 0])
        counts[name] = int((popularity[shown] == 0).sum())
    return counts


def _run_payload(
    config: RunConfig, dataset: Dataset, split: Split, users: np.ndarray, fitted: _Fitted,
    clock: _Clock,
) -> dict[str, Any]:
    setup = fitted.setup
    return {
        "config": config.model_dump(mode="json"),
        "dataset": {
            "name": dataset.name,
            "fingerprint": dataset.fingerprint,
            "load": dataset.stats.to_dict(),
            "train_interactions": split.train.n_interactions,
            "test_interactions": split.test.n_interactions,
            "evaluated_users": int(users.shape[0]),
        },
        "fusion": {
            "submitted_method": setup.chosen(),
            "mmr_lambda": setup.mmr_lambda,
            "mmr_validation_curve": (
                setup.mmr_curve.to_dicts() if setup.mmr_curve is not None else None
            ),
            "weights": setup.weights_table(),
            "budgets": setup.tuning.budgets if setup.tuning is not None else None,
            "seconds": setup.seconds,
        },
        "fit_seconds": fitted.recommender.fit_seconds,
        "peak_memory_mb": fitted.memory_mb,
        "timings": clock.seconds,
        "versions": _outputs.library_versions(),
    }
