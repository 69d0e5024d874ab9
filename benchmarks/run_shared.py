"""Run the main job on the real datasets in ../shared/data and print the fusion gain.

For each dataset: every strategy, every fusion method and the external baselines on the
same leave-last-out split, then the NDCG@10 gain of each fusion method over the best single
channel with its paired-bootstrap 95% interval.

    .venv/bin/python benchmarks/run_shared.py [--datasets ml-latest-small beauty] [--out DIR]

Amazon Beauty ships as one line of item ids per user (oldest first); it is converted to a
CSV log with the position as the timestamp before the run.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import polars as pl

from recfusion._job import run_job
from recfusion.config import parse_config

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _beauty_csv(folder: Path) -> Path:
    target = folder / "beauty.csv"
    with (SHARED / "amazon-yelp-sequences" / "Beauty.txt").open(encoding="utf-8") as source, \
            target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["user", "item", "position"])
        for line in source:
            user, *items = line.split()
            for position, item in enumerate(items):
                writer.writerow([user, item, position])
    return target


def _config(name: str, folder: Path) -> dict:
    if name == "movielens-100k":
        return {"data": {"dataset": "movielens-100k"}}
    if name == "ml-latest-small":
        base = SHARED / "ml-latest-small"
        return {"data": {
            "interactions": str(base / "ratings.csv"), "items": str(base / "movies.csv"),
            "item_id_col": "movieId",
            "columns": {"user": "userId", "item": "movieId", "timestamp": "timestamp"},
        }}
    if name == "beauty":
        return {"data": {
            "interactions": str(_beauty_csv(folder)),
            "columns": {"user": "user", "item": "item", "timestamp": "position"},
        }}
    raise SystemExit(f"unknown dataset {name!r}")


def _ndcg_table(table: pl.DataFrame) -> pl.DataFrame:
    return table.filter(
        (pl.col("metric") == "ndcg") & (pl.col("k") == 10) & (pl.col("segment") == "all")
    ).select("strategy", "value", "ci_low", "ci_high").sort("value", descending=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+",
                        default=["movielens-100k", "ml-latest-small", "beauty"])
    parser.add_argument("--out", type=Path, default=Path("runs/shared"))
    args = parser.parse_args()
    for name in args.datasets:
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        config = parse_config(_config(name, folder))
        started = time.perf_counter()
        result = run_job(config, folder, force=True)
        seconds = time.perf_counter() - started
        print(f"\n== {name}: {seconds:.1f} s, outputs in {folder}")
        with pl.Config(tbl_rows=40, float_precision=4, tbl_width_chars=140):
            print(_ndcg_table(result.table))
            print(pl.read_csv(folder / "fusion_gain.csv"))


if __name__ == "__main__":
    main()
