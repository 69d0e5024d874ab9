"""Does fusion beat the best single strategy? Paired bootstrap CI on NDCG@10.

Protocol (leave-last-out, no test information used before the final evaluation):

1. Outer split: each user's last new item is the test target; the rest is ``train``.
2. Inner split of ``train`` the same way: ``valid_train`` and one validation target per user.
3. Every strategy in ``recfusion.recall.STRATEGIES`` (default settings) is fitted on
   ``valid_train``; its candidates for the validation users feed weight tuning (Optuna TPE)
   and the LambdaRank model (boosted from the tuned fusion's score), whose features come
   from ``valid_train`` only. Strategies that cannot be fitted on a dataset (for example
   ``content`` without supplied item vectors) are skipped.
4. The strategies are refitted on ``train``; test candidates are fused with the chosen
   settings; every list is finalised (seen items removed, popularity padding to k).
5. NDCG@10 per test user; the gain of each fusion over the best single strategy (the best
   on the TEST set, the hardest bar) gets a 95% paired bootstrap interval over users.

``--cold-start`` adds a separate check: 20% of users are held out entirely and served from
an empty history by global popularity or by popularity within their user segment.

Run from the repository root::

    .venv/bin/python benchmarks/fusion_gain.py --dataset ml-100k --cold-start
    .venv/bin/python benchmarks/fusion_gain.py --dataset ml-latest-small
    .venv/bin/python benchmarks/fusion_gain.py --dataset beauty --ltr-users 4000
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from recfusion.config import ColumnsConfig, DataConfig, SplitConfig
from recfusion.data import Candidates, Histories, Interactions, load_dataset
from recfusion.data import Split, load_movielens_100k, split_interactions
from recfusion.errors import RecfusionError
from recfusion.evaluation import accuracy_per_user
from recfusion.evaluation._bootstrap import bootstrap_means, paired_test
from recfusion.fusion import (
    LearnedFusion,
    SegmentPopularity,
    TuningResult,
    channel_diagnostics,
    finalize,
    rrf_fusion,
    tune_weights,
    weighted_fusion,
)
from recfusion.pipeline import evaluated_users, truth_csr
from recfusion.recall import STRATEGIES, Popularity, SideInfo

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
K = 10


def load(name: str) -> tuple[Interactions, SideInfo]:
    """Interactions and side information of a benchmark dataset (read-only, not copied)."""
    if name == "ml-100k":
        dataset = load_movielens_100k()
        return dataset.interactions, dataset.side
    if name == "ml-latest-small":
        folder = SHARED / "ml-latest-small"
        config = DataConfig(
            interactions=folder / "ratings.csv",
            columns=ColumnsConfig(user="userId", item="movieId", timestamp="timestamp"),
            items=folder / "movies.csv",
            item_id_col="movieId",
        )
        dataset = load_dataset(config)
        return dataset.interactions, dataset.side
    return _sequences(SHARED / "amazon-yelp-sequences" / "Beauty.txt"), SideInfo()


def _sequences(path: Path) -> Interactions:
    """``user item item ...`` lines (oldest first); the line position is the time."""
    users, items = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        users += [fields[0]] * (len(fields) - 1)
        items += fields[1:]
    user_ids, user_codes = np.unique(np.array(users), return_inverse=True)
    item_ids, item_codes = np.unique(np.array(items), return_inverse=True)
    return Interactions.from_arrays(
        user_ids.astype(object), item_ids.astype(object), user_codes, item_codes
    )


def recall_all(
    train: Interactions, side: SideInfo, histories: Histories, budget: int, names: list[str]
) -> tuple[dict[str, Candidates], dict[str, float]]:
    """Fit each named strategy on ``train``; its candidates and fit+recall seconds.

    A strategy that cannot be fitted on this dataset (``content`` needs supplied item
    vectors) is reported and left out.
    """
    channels, seconds = {}, {}
    for name in names:
        started = time.perf_counter()
        try:
            strategy = STRATEGIES[name](name=name).fit(train, side)
        except RecfusionError as exc:
            print(f"skipping {name}: {str(exc).splitlines()[0]}")
            continue
        channels[name] = strategy.recommend(histories, budget)
        seconds[name] = round(time.perf_counter() - started, 2)
    return channels, seconds


def ndcg(fused: Candidates, histories: Histories, filler: Popularity, truth) -> np.ndarray:
    """Per-user NDCG@K of the finalised lists."""
    recommended, _ = finalize(fused, histories, filler, K).to_dense(K)
    return accuracy_per_user(recommended, *truth, K)["ndcg"]


def gain_table(per_user: dict[str, np.ndarray], singles: list[str], n_boot: int, seed: int):
    """Mean NDCG per list, and paired 95% CIs of each fusion minus the best single list."""
    names = list(per_user)
    values = np.column_stack([per_user[n] for n in names])
    means = values.mean(axis=0)
    best = max(singles, key=lambda n: means[names.index(n)])
    resampled = bootstrap_means(values, n_boot, np.random.default_rng(seed))
    rows = []
    for index, name in enumerate(names):
        base = names.index(best)
        observed = means[index] - means[base]
        low, high, p_value = paired_test(resampled[:, index], resampled[:, base], observed)
        rows.append({"list": name, "ndcg@10": means[index], "gain_vs_best": observed,
                     "ci_low": low, "ci_high": high, "p_value": p_value})
    return pl.DataFrame(rows), best


def cold_start(log: Interactions, side: SideInfo, n_boot: int, seed: int) -> None:
    """Global vs segment popularity for users held out entirely (20% of users, seeded)."""
    if side.users is None:
        print("\ncold start: no user attributes in this dataset; skipped")
        return
    rng = np.random.default_rng(seed)
    cold = np.sort(rng.choice(log.n_users, log.n_users // 5, replace=False)).astype(np.int32)
    held = np.isin(log.users, cold)
    train, test = log.select(~held), log.select(held)
    truth = truth_csr(test, cold)
    empty = Histories.from_lists([[] for _ in cold])
    segments = SegmentPopularity().fit(train, side)
    per_user = {}
    for name, filler in (("popularity", Popularity().fit(train)),
                         ("segment_popularity", segments.filler_for(cold))):
        recommended, _ = finalize(Candidates.empty(cold.shape[0]), empty, filler, K).to_dense(K)
        per_user[name] = accuracy_per_user(recommended, *truth, K)["ndcg"]
    table, _ = gain_table(per_user, ["popularity"], n_boot, seed)
    print(f"\ncold start: {cold.shape[0]} held-out users, segments {segments.fitted_columns_}")
    print(table)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["ml-100k", "ml-latest-small", "beauty"],
                        default="ml-100k")
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--ltr-users", type=int, default=0,
                        help="Train the ranker on at most this many validation users (0 = all).")
    parser.add_argument("--strategies", nargs="*", help="Subset of STRATEGIES (default: all).")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cold-start", action="store_true",
                        help="Also compare global and segment popularity for cold users.")
    return parser.parse_args()


@dataclass
class Chosen:
    """Everything chosen on the validation split."""

    names: list[str]
    tuned: TuningResult
    tuned_rrf: TuningResult
    ltr: LearnedFusion
    seconds: dict[str, float]


def validate(inner: Split, side: SideInfo, names: list[str], args) -> Chosen:
    """Channels on validation-train; tune weights (weighted and RRF) and train the ranker."""
    users = evaluated_users(inner.train, inner.test)
    truth = truth_csr(inner.test, users)
    channels, _ = recall_all(inner.train, side, inner.train.histories(users), args.candidates,
                             names)
    started = time.perf_counter()
    tuned = tune_weights(channels, *truth, k=K, n_trials=args.trials, seed=args.seed)
    seconds = {"tune": time.perf_counter() - started}
    tuned_rrf = tune_weights(channels, *truth, k=K, n_trials=args.trials, seed=args.seed,
                             method="rrf", tune_k_rrf=True)
    rows = np.arange(users.shape[0])
    if args.ltr_users and args.ltr_users < rows.shape[0]:
        rows = np.sort(np.random.default_rng(args.seed).choice(rows, args.ltr_users, False))
    started = time.perf_counter()
    ltr = LearnedFusion(base_weights=tuned.weights, base_budgets=tuned.budgets, seed=args.seed)
    ltr.fit({n: c.take(rows) for n, c in channels.items()},
            inner.train.histories(users[rows]), inner.train,
            *truth_csr(inner.test, users[rows]), side)
    seconds["learn"] = time.perf_counter() - started
    return Chosen(sorted(channels), tuned, tuned_rrf, ltr, seconds)


def test_lists(outer: Split, side: SideInfo, chosen: Chosen, args):
    """Refit on train; every single channel and fusion for the test users, and the truth."""
    users = evaluated_users(outer.train, outer.test)
    histories = outer.train.histories(users)
    channels, seconds = recall_all(outer.train, side, histories, args.candidates, chosen.names)
    tuned, tuned_rrf = chosen.tuned, chosen.tuned_rrf
    fused = {
        "fusion_equal": weighted_fusion(channels),
        "fusion_rrf": rrf_fusion(channels),
        "fusion_tuned": weighted_fusion(channels, tuned.weights, budgets=tuned.budgets),
        "fusion_rrf_tuned": rrf_fusion(channels, tuned_rrf.weights, tuned_rrf.k_rrf,
                                       budgets=tuned_rrf.budgets),
        "fusion_learned": chosen.ltr.predict(channels, histories, outer.train, side),
    }
    filler = Popularity(name="filler").fit(outer.train)
    truth = truth_csr(outer.test, users)
    per_user = {n: ndcg(c, histories, filler, truth) for n, c in {**channels, **fused}.items()}
    return channels, fused, per_user, truth, seconds


def show_choices(chosen: Chosen, trials: int) -> None:
    tuned, tuned_rrf = chosen.tuned, chosen.tuned_rrf
    print(f"\ntuned weights {tuned.weights} budgets {tuned.budgets}")
    print(f"validation NDCG@10: equal {tuned.baseline:.4f} -> tuned {tuned.value:.4f} "
          f"({trials} trials, {chosen.seconds['tune']:.2f} s)")
    print(f"tuned RRF: weights {tuned_rrf.weights} k_rrf {tuned_rrf.k_rrf:.1f} "
          f"valid {tuned_rrf.baseline:.4f} -> {tuned_rrf.value:.4f}")
    print(f"learned fusion trained in {chosen.seconds['learn']:.2f} s; importances:")
    print(chosen.ltr.feature_importances().head(8))


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    pl.Config.set_tbl_rows(40)
    pl.Config.set_tbl_cols(12)
    pl.Config.set_float_precision(4)
    clock = time.perf_counter()
    log, side = load(args.dataset)
    outer = split_interactions(log, SplitConfig())
    inner = split_interactions(outer.train, SplitConfig(), validation=True)
    names = sorted(args.strategies or STRATEGIES)
    print(f"{args.dataset}: {log.n_users} users, {log.n_items} items, "
          f"{log.n_interactions} interactions; strategies {names}")

    chosen = validate(inner, side, names, args)
    channels, fused, per_user, truth, seconds = test_lists(outer, side, chosen, args)
    table, best = gain_table(per_user, chosen.names, args.bootstrap, args.seed)
    print(f"\n{truth[0].shape[0] - 1} test users; best single strategy on test: {best}")
    print(table)
    show_choices(chosen, args.trials)
    diagnostics, overlap = channel_diagnostics(channels, fused["fusion_tuned"], *truth, K)
    print("\nchannel diagnostics (fused = tuned weighted):")
    print(diagnostics)
    print(overlap)
    if args.cold_start:
        cold_start(log, side, args.bootstrap, args.seed)
    print(f"\nfit+recall seconds (train): {seconds}; total {time.perf_counter() - clock:.1f} s")


if __name__ == "__main__":
    main()
