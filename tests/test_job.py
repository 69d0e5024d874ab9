"""The main job end to end on a small log: outputs, reruns, overwrite protection, kills."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recfusion._job import run_job
from recfusion.config import parse_config
from recfusion.errors import InputError

COST_METRICS = ("fit_seconds", "latency_ms_p50", "latency_ms_p95", "latency_ms_p99",
                "peak_memory_mb")


def _write_log(path: Path, n_users: int = 60, n_items: int = 40, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["visitor", "article", "ts"])
        for user in range(n_users):
            count = int(rng.integers(3, 12))
            items = rng.choice(n_items, size=count, replace=False)
            times = np.sort(rng.integers(1_600_000_000, 1_700_000_000, size=count))
            for item, stamp in zip(items, times):
                # Ids with leading zeros and non-ASCII text must survive unchanged.
                writer.writerow([f"0{user}-ü", f"art-{item:03d}", int(stamp)])


def _config(log: Path, **fusion):
    return parse_config({
        "data": {"interactions": str(log),
                 "columns": {"user": "visitor", "item": "article", "timestamp": "ts"}},
        "strategies": {"popularity": {"kind": "popularity"}, "itemcf": {"kind": "itemcf"}},
        "fusion": {"tune_trials": 4, "pareto_trials": 0, **fusion},
        "evaluation": {"n_bootstrap": 20, "latency_users": 5, "external_baselines": False},
    })


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("job")
    log = folder / "clicks.csv"
    _write_log(log)
    result = run_job(_config(log), folder / "out")
    return log, folder / "out", result


def test_outputs_exist_and_submission_is_valid(small_run):
    log, out, _ = small_run
    for name in ("submission.csv", "benchmark_report.csv", "report.html", "run.json"):
        assert (out / name).is_file(), name
    assert len(list((out / "charts").glob("*.png"))) >= 6
    submission = pl.read_csv(out / "submission.csv", infer_schema=False)
    assert submission.columns == ["user_id", "item_1", "item_2", "item_3", "item_4", "item_5"]
    seen = pl.read_csv(log, infer_schema=False).group_by("visitor").agg(pl.col("article"))
    seen_by_user = dict(zip(seen["visitor"], seen["article"]))
    for row in submission.iter_rows():
        user, items = row[0], list(row[1:])
        assert user in seen_by_user, f"user id {user!r} was not kept exactly as written"
        assert len(set(items)) == 5 and all(items)
        # The held-out item is the only unseen-in-training item allowed from the log.
        assert len(set(items) & set(seen_by_user[user])) <= 1


def test_report_has_strategies_and_fusion(small_run):
    _, out, result = small_run
    strategies = set(result.table["strategy"].to_list())
    assert {"popularity", "itemcf", "fused"} <= strategies
    assert {"recall", "ndcg", "mrr", "hit_rate", "precision", "map", "coverage"} <= set(
        result.table["metric"].to_list()
    )


def test_existing_outputs_are_not_overwritten_without_force(small_run, tmp_path):
    log, out, _ = small_run
    with pytest.raises(InputError, match="--force"):
        run_job(_config(log), out)


def _stable_rows(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if not any(f",{m}," in line for m in COST_METRICS)]


def test_rerun_gives_identical_submission_and_report(small_run, tmp_path):
    log, out, _ = small_run
    run_job(_config(log), tmp_path / "again")
    again = tmp_path / "again"
    assert (again / "submission.csv").read_bytes() == (out / "submission.csv").read_bytes()
    # Measured costs (seconds, milliseconds, memory) differ between runs by nature.
    assert _stable_rows(again / "benchmark_report.csv") == _stable_rows(
        out / "benchmark_report.csv"
    )


def test_killed_rerun_leaves_previous_outputs_intact(small_run, tmp_path):
    log, out, _ = small_run
    target = tmp_path / "kept"
    target.mkdir()
    before = {}
    for name in ("submission.csv", "benchmark_report.csv", "report.html", "run.json"):
        (target / name).write_bytes((out / name).read_bytes())
        before[name] = (out / name).read_bytes()
    config_path = tmp_path / "run.toml"
    config_path.write_text(_config(log).to_toml(), encoding="utf-8")
    command = [sys.executable, "-m", "recfusion", "run", "--config", str(config_path),
               "--out", str(target), "--force", "--quiet"]
    for delay in (1.0, 2.5, 4.0):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        for name, old in before.items():
            now = (target / name).read_bytes()
            # Either the old file or a complete new one: never a truncated mix.
            assert now == old or _complete(name, now), name
    leftovers = [p.name for p in target.iterdir() if p.name.endswith(".tmp")]
    assert all(name.startswith(".") for name in leftovers)
    assert os.path.exists(target / "submission.csv")


def _complete(name: str, data: bytes) -> bool:
    text = data.decode("utf-8")
    if name.endswith(".csv"):
        return text.endswith("\n") and text.count("\n") > 1
    if name.endswith(".html"):
        return text.rstrip().endswith("</html>")
    return text.rstrip().endswith("}")


@pytest.mark.spark
def test_spark_engine_gives_the_same_itemcf_results(small_run, tmp_path):
    import shutil

    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("the Spark engine needs a Java runtime (java not found)")
    log, _, local = small_run
    config = _config(log)
    config.engine = "spark"
    spark = run_job(config, tmp_path / "spark")
    keep = (pl.col("strategy").is_in(["itemcf", "popularity"])) & ~pl.col("metric").is_in(
        list(COST_METRICS)
    )
    left = local.table.filter(keep).sort(["segment", "strategy", "metric", "k"])
    right = spark.table.filter(keep).sort(["segment", "strategy", "metric", "k"])
    assert left.select("strategy", "metric", "k").equals(right.select("strategy", "metric", "k"))
    assert np.allclose(left["value"].to_numpy(), right["value"].to_numpy(), atol=1e-9,
                       equal_nan=True)
