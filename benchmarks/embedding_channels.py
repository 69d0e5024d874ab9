"""Per-channel quality and speed of the vector strategies on MovieLens (leave-last-out).

For every user the last interaction (by time; ties keep file order, for ml-latest-small
sorted by movieId) is the test item. With ``--split valid`` the second-to-last item is the
target and the last is dropped, which is what defaults were tuned on. Recall@10 is the share
of users whose target is in their top 10; NDCG@10 is ``1 / log2(rank + 1)`` for a hit at
1-based ``rank``, else 0 (one relevant item, so the ideal DCG is 1).

Run from the repository root::

    .venv/bin/python benchmarks/embedding_channels.py --dataset ml-100k
    .venv/bin/python benchmarks/embedding_channels.py --dataset ml-latest-small

``--set als.factors=128`` style overrides try other hyper-parameters.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from recfusion.data import Interactions, read_item_vectors
from recfusion.recall import SideInfo
from recfusion.recall._ann import VectorIndex
from recfusion.recall._als import ALS
from recfusion.recall._content import MetadataVectors, SuppliedVectors
from recfusion.recall._embedding import cold_start_items, count_cold_start, l2_normalize
from recfusion.recall._item2vec import Item2Vec
from recfusion.recall._popularity import Popularity

ROOT = Path(__file__).resolve().parents[1]
ML100K = ROOT / ".venv/lib/python3.11/site-packages/recbole/dataset_example/ml-100k"
MLSMALL = ROOT.parent / "shared/data/ml-latest-small"
K = 10

CHANNELS = {
    "popularity": (Popularity, {}),
    "als": (ALS, {}),
    "als_solve": (ALS, {"query": "solve"}),
    "item2vec": (Item2Vec, {}),
    "metadata": (MetadataVectors, {}),
    "content": (SuppliedVectors, {}),
}


def load_ml100k() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Log (user, item, time) in file order and item metadata (item, title, year, genres)."""
    log = pl.read_csv(ML100K / "ml-100k.inter", separator="\t", infer_schema=False)
    log = log.select(
        pl.col("user_id:token").cast(pl.String).alias("user"),
        pl.col("item_id:token").cast(pl.String).alias("item"),
        pl.col("timestamp:float").cast(pl.Float64).alias("time"),
    )
    items = pl.read_csv(
        ML100K / "ml-100k.item", separator="\t", quote_char=None, infer_schema=False
    )
    items = items.select(
        pl.col("item_id:token").cast(pl.String).alias("item"),
        pl.col("movie_title:token_seq").alias("title"),
        pl.col("release_year:token").cast(pl.Int32, strict=False).alias("year"),
        pl.col("class:token_seq").str.split(" ").alias("genres"),
    )
    return log, items


def load_mlsmall() -> tuple[pl.DataFrame, pl.DataFrame]:
    """ml-latest-small ratings sorted by (user, time, movieId), and movies.csv."""
    log = pl.read_csv(MLSMALL / "ratings.csv").sort(["userId", "timestamp", "movieId"])
    log = log.select(
        pl.col("userId").cast(pl.String).alias("user"),
        pl.col("movieId").cast(pl.String).alias("item"),
        pl.col("timestamp").cast(pl.Float64).alias("time"),
    )
    items = pl.read_csv(MLSMALL / "movies.csv").select(
        pl.col("movieId").cast(pl.String).alias("item"),
        pl.col("title"),
        pl.col("genres").str.split("|").alias("genres"),
    )
    return log, items


def build(log: pl.DataFrame, items: pl.DataFrame) -> tuple[Interactions, SideInfo]:
    """Interactions over logged items plus metadata-only items (appended: cold-start)."""
    item_ids = log["item"].unique(maintain_order=True)
    extra = items["item"].filter(~items["item"].is_in(item_ids.implode()))
    item_ids = np.array(pl.concat([item_ids, extra]).to_list(), dtype=object)
    user_ids = np.array(log["user"].unique(maintain_order=True).to_list(), dtype=object)
    item_index = {v: i for i, v in enumerate(item_ids.tolist())}
    user_index = {v: i for i, v in enumerate(user_ids.tolist())}
    train = Interactions.from_arrays(
        user_ids, item_ids,
        users=[user_index[u] for u in log["user"].to_list()],
        items=[item_index[i] for i in log["item"].to_list()],
        timestamps=log["time"].to_numpy(),
    )
    frame = pl.DataFrame({"item": item_ids.tolist()}).join(
        items, on="item", how="left", maintain_order="left"
    ).rename({"item": "item_id"})
    return train, SideInfo(items=frame)


def leave_last_out(log: Interactions, drop: int) -> tuple[Interactions, np.ndarray, np.ndarray]:
    """Drop each user's last ``drop`` rows; the next-to-drop row is the target."""
    ends = log.user_indptr[1:]
    position = np.arange(log.n_interactions) - np.repeat(ends, log.history_lengths())
    users = log.active_users()
    targets = log.items[ends[users] - drop]
    train = log.select(position < -drop)
    return train, users, targets


def metrics(candidates, targets: np.ndarray) -> tuple[float, float]:
    """Recall@K and NDCG@K with one target item per row."""
    items, _ = candidates.to_dense(K)
    hit = items == targets[:, None]
    rank = np.argmax(hit, axis=1) + 1
    found = hit.any(axis=1)
    return float(found.mean()), float(np.where(found, 1 / np.log2(rank + 1), 0).mean())


def run_channel(name, train, side, users, targets, overrides) -> dict:
    """Fit, time and score one channel."""
    cls, params = CHANNELS[name]
    params = {**params, **overrides.get(name, {})}
    strategy = cls(name=name, **params)
    histories = train.histories(users)
    if name == "content":
        side = supplied_side(train, side)
    start = time.perf_counter()
    if isinstance(strategy, Popularity):
        strategy.fit(train, side)
        build_time = 0.0
    else:
        vectors = strategy._item_vectors(train, side)
        middle = time.perf_counter()
        strategy._set_vectors(vectors)
        build_time = time.perf_counter() - middle
    fit_time = time.perf_counter() - start - build_time
    start = time.perf_counter()
    candidates = strategy.recommend(histories, K)
    query_time = time.perf_counter() - start
    recall, ndcg = metrics(candidates, targets)
    cold = count_cold_start(strategy.recommend(histories, 100), cold_start_items(train))
    return {
        "channel": name, "recall@10": recall, "ndcg@10": ndcg, "fit_s": fit_time,
        "index_s": build_time, "query_s": query_time, "cold_items@100": cold.items,
        "params": params,
    }


def supplied_side(train: Interactions, side: SideInfo) -> SideInfo:
    """ALS item factors written as a CSV vector file and read back with the reader."""
    factors = ALS().fit(train).vectors_
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vectors.csv"
        lines = [",".join([str(i), *map(repr, row.tolist())])
                 for i, row in zip(train.item_ids.tolist(), factors)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        start = time.perf_counter()
        new_ids, matrix = read_item_vectors(path, train.item_lookup)
        print(f"# read_item_vectors: {factors.shape} in {time.perf_counter() - start:.3f}s, "
              f"{new_ids.shape[0]} new ids")
    return dataclasses.replace(side, item_vectors=matrix)


def hnsw_check(train: Interactions, users: np.ndarray) -> dict:
    """item2vec vectors: HNSW vs exact top-10 overlap and query time on this catalogue."""
    strategy = Item2Vec().fit(train)
    queries = strategy.query_vectors(train.histories(users))
    valid = strategy.has_vector
    out = {}
    for label, threshold in (("exact", 10**9), ("hnsw", 0)):
        index = VectorIndex(exact_threshold=threshold)
        start = time.perf_counter()
        index.build(l2_normalize(strategy.vectors_), valid)
        built = time.perf_counter() - start
        start = time.perf_counter()
        found, _ = index.search(queries, K)
        out[label] = (found, built, time.perf_counter() - start)
    overlap = np.mean([
        len(set(a) & set(b)) / K for a, b in zip(out["exact"][0], out["hnsw"][0])
    ])
    return {
        "hnsw_recall_vs_exact@10": float(overlap),
        **{f"{label}_build_s": round(v[1], 3) for label, v in out.items()},
        **{f"{label}_query_s": round(v[2], 3) for label, v in out.items()},
    }


def parse_overrides(pairs: list[str]) -> dict[str, dict]:
    overrides: dict[str, dict] = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        channel, param = key.split(".", 1)
        overrides.setdefault(channel, {})[param] = json.loads(value)
    return overrides


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["ml-100k", "ml-latest-small"], default="ml-100k")
    parser.add_argument("--split", choices=["valid", "test"], default="test")
    parser.add_argument("--channels", default=",".join(CHANNELS))
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--hnsw", action="store_true", help="also compare HNSW with exact")
    args = parser.parse_args(argv)
    log, items = load_ml100k() if args.dataset == "ml-100k" else load_mlsmall()
    full, side = build(log, items)
    train, users, targets = leave_last_out(full, 1 if args.split == "test" else 2)
    print(f"# {args.dataset} {args.split}: {train.n_users} users, {train.n_items} items "
          f"({cold_start_items(train).shape[0]} without training rows), "
          f"{train.n_interactions} training rows")
    overrides = parse_overrides(args.overrides)
    print("| channel | Recall@10 | NDCG@10 | fit s | index build s | query s (all users) "
          "| cold items in top-100 |")
    print("|---|---|---|---|---|---|---|")
    for name in args.channels.split(","):
        row = run_channel(name, train, side, users, targets, overrides)
        print(f"| {name} | {row['recall@10']:.4f} | {row['ndcg@10']:.4f} | {row['fit_s']:.2f} "
              f"| {row['index_s']:.3f} | {row['query_s']:.3f} | {row['cold_items@100']} |",
              flush=True)
    if args.hnsw:
        print(hnsw_check(train, users))


if __name__ == "__main__":
    main(sys.argv[1:])
