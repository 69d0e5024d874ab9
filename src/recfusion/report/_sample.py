"""A synthetic benchmark of the report's input shape, for previews and tests.

The numbers are made up (seeded), shaped like a MovieLens-100K run; nothing here is a
measurement.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from recfusion.columns import ALL_USERS, CI_HIGH, CI_LOW, K, METRIC, SEGMENT, STRATEGY, VALUE
from recfusion.report._extras import ReportExtras, RunInfo

STRATEGIES = {
    "popularity": 0.055,
    "itemcf": 0.085,
    "als": 0.095,
    "item2vec": 0.080,
    "fused_weighted": 0.104,
    "fused_rrf": 0.101,
    "fused_ltr": 0.110,
    "fused_mmr": 0.097,
    "ext:implicit_als": 0.093,
    "ext:implicit_bm25": 0.088,
}
CHANNELS = ("popularity", "itemcf", "als", "item2vec")
SEGMENTS = ("activity=light", "activity=medium", "activity=heavy", "gender=F", "gender=M",
            "age_band=18-24", "age_band=25-34", "age_band=35-44")  # fmt: skip
KS = (5, 10, 20)
SCALE = {"recall": 1.6, "precision": 0.55, "hit_rate": 4.0, "ndcg": 1.0, "mrr": 1.1, "map": 0.6}


def sample_table(seed: int = 0) -> pl.DataFrame:
    """Tidy benchmark table with accuracy, beyond-accuracy, cost and segment rows."""
    rng = np.random.default_rng(seed)
    rows: list[tuple] = []
    for index, (name, quality) in enumerate(STRATEGIES.items()):
        rows += _accuracy_rows(rng, name, quality, ALL_USERS, 0.006)
        for segment_index, segment in enumerate(SEGMENTS):
            shift = 0.7 + 0.12 * segment_index
            rows += _accuracy_rows(rng, name, quality * shift, segment, 0.015, ("ndcg", "recall"))
        rows += _beyond_rows(rng, name, index)
        rows += _cost_rows(rng, name, index)
    return pl.DataFrame(
        rows, schema=[STRATEGY, METRIC, K, VALUE, CI_LOW, CI_HIGH, SEGMENT], orient="row"
    )


def _accuracy_rows(
    rng: np.random.Generator, name: str, quality: float, segment: str, spread: float,
    metrics: tuple[str, ...] = tuple(SCALE),
) -> list[tuple]:
    """Accuracy rows at every k with a symmetric-ish CI of width about 2 * spread."""
    rows = []
    for metric in metrics:
        for k in KS:
            growth = (k / 10) ** (0.5 if metric in ("recall", "hit_rate", "ndcg") else -0.3)
            value = min(0.99, SCALE[metric] * quality * growth * rng.uniform(0.97, 1.03))
            low = value - spread * rng.uniform(0.8, 1.2)
            high = value + spread * rng.uniform(0.8, 1.2)
            rows.append((name, metric, k, value, max(low, 0.0), high, segment))
    return rows


def _beyond_rows(rng: np.random.Generator, name: str, index: int) -> list[tuple]:
    """Coverage per k and single-cut-off beyond-accuracy metrics."""
    popular = name == "popularity"
    rows = [
        (name, "coverage", k, 0.02 if popular else 0.15 + 0.03 * index + 0.01 * k, None, None,
         ALL_USERS)
        for k in KS
    ]  # fmt: skip
    singles = {
        "diversity_category": 0.55 + 0.02 * index,
        "diversity_embedding": 0.40 + 0.025 * index,
        "novelty": 8.5 if popular else 9.5 + 0.2 * index,
        "personalization": 0.05 if popular else 0.80 + 0.01 * index,
        "avg_popularity": 420.0 if popular else 250.0 - 10 * index,
        "gini": 0.99 if popular else 0.90 - 0.01 * index,
        "long_tail_share": 0.0 if popular else 0.05 + 0.01 * index,
    }
    return rows + [
        (name, metric, 10, value * rng.uniform(0.98, 1.02), None, None, ALL_USERS)
        for metric, value in singles.items()
    ]


def _cost_rows(rng: np.random.Generator, name: str, index: int) -> list[tuple]:
    """Fit time, latency percentiles and memory; k is null for cost rows."""
    p50 = 0.3 + 0.8 * index * rng.uniform(0.9, 1.1)
    values = {
        "fit_seconds": 0.05 if name == "popularity" else 1.5 * (index + 1),
        "latency_ms_p50": p50,
        "latency_ms_p95": p50 * 2.5,
        "latency_ms_p99": p50 * 4.0,
        "peak_memory_mb": 60.0 + 15 * index,
    }
    return [(name, metric, None, value, None, None, ALL_USERS) for metric, value in values.items()]


def sample_extras(seed: int = 0) -> ReportExtras:
    """Every optional extra filled with plausible synthetic values."""
    rng = np.random.default_rng(seed)
    catalogue = np.round(rng.lognormal(2.5, 1.4, size=1682)).astype(np.int64)
    names = list(STRATEGIES)
    bias = {name: 6.0 if name == "popularity" else 3.0 - 0.2 * i for i, name in enumerate(names)}
    recommended = {
        name: np.quantile(catalogue, rng.beta(bias[name], 1.0, size=9430), method="inverted_cdf")
        for name in names
    }
    overlap = rng.uniform(0.02, 0.4, size=(4, 4))
    overlap = np.round((overlap + overlap.T) / 2, 3)
    np.fill_diagonal(overlap, 1.0)
    return ReportExtras(
        paired=_paired(rng),
        latency_samples_ms={name: rng.lognormal(np.log(0.4 + 0.7 * i), 0.5, size=300)
                            for i, name in enumerate(names)},  # fmt: skip
        recommended_popularity=recommended,
        catalogue_popularity=catalogue,
        overlap_names=CHANNELS,
        overlap_jaccard=overlap,
        channel_diagnostics=pl.DataFrame({
            "channel": list(CHANNELS),
            "candidates_per_user": [200, 200, 200, 200],
            "candidate_recall@200": [0.31, 0.42, 0.47, 0.39],
            "unique_items": [220, 1240, 980, 1405],
        }),  # fmt: skip
        fusion_weights={"weighted": {"popularity": 0.1, "itemcf": 0.3, "als": 0.4,
                                     "item2vec": 0.2}, "rrf": {"k": 60}},  # fmt: skip
        pareto_front=pl.DataFrame({"trial": [3, 8, 11, 17, 21],
                                   "accuracy": [0.110, 0.108, 0.103, 0.097, 0.090],
                                   "diversity": [0.52, 0.58, 0.63, 0.69, 0.74]}),  # fmt: skip
        mmr_tradeoff=pl.DataFrame({"lambda": [1.0, 0.9, 0.8, 0.7, 0.5, 0.3],
                                   "ndcg": [0.110, 0.109, 0.106, 0.101, 0.092, 0.080],
                                   "diversity": [0.55, 0.59, 0.63, 0.67, 0.72, 0.78]}),  # fmt: skip
        feature_importances=pl.DataFrame({
            "feature": ["als_score", "itemcf_score", "item2vec_score", "popularity",
                        "als_rank", "itemcf_rank", "n_channels", "user_activity"],
            "importance": [412.0, 288.5, 190.2, 160.0, 95.1, 80.7, 44.0, 12.3],
        }),  # fmt: skip
        run_info=RunInfo(
            dataset="movielens-100k (synthetic numbers)",
            counts={"users": 943, "items": 1682, "interactions": 100000, "test interactions": 943},
            config_toml='[data]\ndataset = "movielens-100k"\n\n[evaluation]\nks = [5, 10, 20]\n',
            versions={"recfusion": "0.1.0", "numpy": "2.4", "polars": "2.1"},
            timings={"load": 0.8, "fit": 42.5, "recall": 6.1, "fuse": 3.3, "evaluate": 9.7},
        ),
        cold_start_recommended=12,
        n_evaluated_users=943,
        segment_sizes={ALL_USERS: 943} | {name: 60 + 25 * i for i, name in enumerate(SEGMENTS)},
    )


def _paired(rng: np.random.Generator) -> pl.DataFrame:
    """fused_ltr against every other strategy on NDCG@10 and Recall@10."""
    rows = []
    for metric in ("ndcg", "recall"):
        for name, quality in STRATEGIES.items():
            diff = (quality - STRATEGIES["fused_ltr"]) * SCALE[metric]
            half = 0.004 * rng.uniform(0.8, 1.2)
            half = 0.0 if name == "fused_ltr" else half
            p_value = float(min(1.0, np.exp(-abs(diff) / 0.003)))
            rows.append((name, metric, 10, "fused_ltr", diff, diff - half, diff + half, p_value))
    columns = ["strategy", "metric", "k", "best_strategy", "mean_diff", "ci_low", "ci_high",
               "p_value"]  # fmt: skip
    return pl.DataFrame(rows, schema=columns, orient="row")
