"""Spark engine: neighbour tables and popularity equal independent implementations.

One local SparkSession (2 cores, 2 shuffle partitions) serves the whole module. Neighbour
tables are checked against a slow pure-Python transcription of the definition (written
here, independent of both engines) and against the local numba engine on MovieLens-100K;
popularity against ``recall.Popularity`` and hand-worked numbers.
"""

from __future__ import annotations

import math
import os
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'recfusion[spark]'")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip(
        "no Java runtime (java on PATH or JAVA_HOME): Spark needs Java 17+",
        allow_module_level=True,
    )

from recfusion.config import ColumnsConfig, ItemCFConfig  # noqa: E402
from recfusion.data import Interactions  # noqa: E402
from recfusion.errors import ConfigError, InputError  # noqa: E402
from recfusion.recall import Popularity  # noqa: E402
from recfusion.recall._itemcf_kernel import (  # noqa: E402
    NeighbourParams,
    NeighbourTable,
    compute_neighbours,
)
from recfusion.spark import (  # noqa: E402
    get_spark,
    interactions_to_spark,
    read_parquet_log,
    spark_neighbours,
    spark_popularity,
)
from recfusion.spark import job  # noqa: E402

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
]

ML100K = (
    Path(__file__).resolve().parents[1]
    / ".venv/lib/python3.11/site-packages/recbole/dataset_example/ml-100k/ml-100k.inter"
)
TOL = 1e-9
FULL = pytest.mark.skipif(
    os.environ.get("RECFUSION_SPARK_QUICK") == "1",
    reason="RECFUSION_SPARK_QUICK=1 skips the all-pairs MovieLens comparison (about 30 s)",
)


@pytest.fixture(scope="module")
def spark():
    session = get_spark("recfusion-tests", "local[2]", {"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


def tie_log() -> Interactions:
    """10 users (one without rows), 8 items (one never used), repeats and equal timestamps."""
    rng = np.random.default_rng(7)
    users = rng.integers(0, 9, 70)
    items = rng.integers(0, 7, 70)
    times = rng.integers(0, 4, 70).astype(np.float64)
    return Interactions.from_arrays(
        np.array([f"u{u}" for u in range(10)], dtype=object),
        np.array([f"i{i}" for i in range(8)], dtype=object),
        users,
        items,
        times,
    )


def reference_neighbours(train: Interactions, params: NeighbourParams) -> NeighbourTable:
    """The definition transcribed literally, in plain Python loops."""
    times = train.timestamps.tolist()
    span = max(times) - min(times) if times else 0.0
    window = params.effective_window()
    pair_sum: dict[tuple[int, int], float] = defaultdict(float)
    users_of: dict[int, int] = defaultdict(int)
    for user in range(train.n_users):
        rows = range(train.user_indptr[user], train.user_indptr[user + 1])
        latest = {int(train.items[row]): row for row in rows}  # later rows overwrite
        kept = sorted(latest.values())
        xs = [int(train.items[row]) for row in kept]
        ts = [float(train.timestamps[row]) for row in kept]
        if not xs:
            continue
        for x in xs:
            users_of[x] += 1
        damp = 1.0 / math.log(1 + len(xs)) if params.user_damping else 1.0
        for p in range(len(xs)):
            for q in range(len(xs)):
                if p == q or (window is not None and abs(q - p) > window):
                    continue
                direction = params.forward_weight if q > p else params.backward_weight
                position = params.position_decay ** (abs(q - p) - 1)
                decay = math.exp(-params.time_decay * abs(ts[q] - ts[p]) / span) if span else 1.0
                pair_sum[(xs[p], xs[q])] += direction * position * decay * damp
    rows_of: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for (i, j), total in pair_sum.items():
        sim = total / math.sqrt(users_of[i] * users_of[j])
        if sim > 0:
            rows_of[i].append((-sim, j))
    indptr, neighbours, sims = [0], [], []
    for i in range(train.n_items):
        best = sorted(rows_of[i])[: params.neighbours]
        neighbours += [j for _, j in best]
        sims += [-s for s, _ in best]
        indptr.append(len(neighbours))
    return NeighbourTable(
        np.array(indptr, dtype=np.int64),
        np.array(neighbours, dtype=np.int32),
        np.array(sims, dtype=np.float64),
    )


def assert_same_table(expected: NeighbourTable, actual: NeighbourTable, k: int) -> int:
    """Equal rows; neighbour order may differ only inside runs of sims within TOL.

    Such runs are ties in exact arithmetic that float summation order split by an ulp.
    At the row's cut (a full row of ``k``) the last run may hold other tied items.
    Returns the number of entries placed differently inside such runs.
    """
    np.testing.assert_array_equal(actual.indptr, expected.indptr)
    np.testing.assert_allclose(actual.similarities, expected.similarities, rtol=0, atol=TOL)
    moved = 0
    for item in range(expected.n_items):
        want, sims = expected.row(item)
        got, _ = actual.row(item)
        if np.array_equal(want, got):
            continue
        cuts = np.flatnonzero(np.diff(sims) < -TOL) + 1
        for start, end in zip(np.r_[0, cuts], np.r_[cuts, len(want)]):
            at_cut = end == len(want) == k
            same = set(want[start:end]) == set(got[start:end])
            assert same or at_cut, f"item {item}: neighbours differ outside a near tie"
        moved += int(np.sum(want != got))
    return moved


def plain(**changes) -> NeighbourParams:
    return NeighbourParams(**changes)


def from_config(config: ItemCFConfig) -> NeighbourParams:
    fields = NeighbourParams.__dataclass_fields__
    return NeighbourParams(**{k: v for k, v in config.model_dump().items() if k in fields})


# ---------------------------------------------------------------- session


def test_local_session_stays_on_loopback(spark):
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.driver.host") == "127.0.0.1"
    assert conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert conf.get("spark.ui.enabled") == "false"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"


# ---------------------------------------------------------------- neighbours


def test_hand_worked_table_dedup_and_input_order(spark):
    # u0 rows: a@1, b@2, a@3 -> keep each item's LATEST row: b@2, a@3, positions b=0, a=1.
    # u1 rows: c@5, a@5, b@5 (one timestamp) -> input order decides: c=0, a=1, b=2.
    # forward 1, backward 0.5, position_decay 0.5, no time decay, no damping:
    #   u0: C[b,a] += 1            C[a,b] += 0.5
    #   u1: C[c,a] += 1            C[a,c] += 0.5           (gap 1)
    #       C[c,b] += 1 * 0.5      C[b,c] += 0.5 * 0.5     (gap 2)
    #       C[a,b] += 1            C[b,a] += 0.5           (gap 1)
    # n_a = n_b = 2, n_c = 1:
    #   a: b 1.5/2 = 0.75,  c 0.5/sqrt(2)  = 0.35355
    #   b: a 1.5/2 = 0.75,  c 0.25/sqrt(2) = 0.17678
    #   c: a 1/sqrt(2) = 0.70711,  b 0.5/sqrt(2) = 0.35355
    train = Interactions.from_arrays(
        np.array(["u0", "u1"], dtype=object),
        np.array(["a", "b", "c"], dtype=object),
        users=[0, 0, 0, 1, 1, 1],
        items=[0, 1, 0, 2, 0, 1],
        timestamps=[1, 2, 3, 5, 5, 5],
    )
    params = plain(backward_weight=0.5, position_decay=0.5)
    table = spark_neighbours(interactions_to_spark(spark, train), 3, params)
    root = math.sqrt(2)
    np.testing.assert_array_equal(table.indptr, [0, 2, 4, 6])
    np.testing.assert_array_equal(table.neighbours, [1, 2, 0, 2, 0, 1])
    np.testing.assert_allclose(
        table.similarities, [0.75, 0.5 / root, 0.75, 0.25 / root, 1 / root, 0.5 / root]
    )


CASES = {
    "config_defaults_all_pairs": from_config(ItemCFConfig()),
    "window_1": plain(window=1),
    "window_2_all_factors": from_config(ItemCFConfig(window=2, neighbours=3)),
    "top_1_cut_inside_ties": plain(neighbours=1),
    "forward_only_max_pairs_window": plain(
        window=3, max_pairs_window=2, backward_weight=0.0, position_decay=0.5
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_reference_on_log_with_ties(spark, name):
    params = CASES[name]
    train = tie_log()
    frame = interactions_to_spark(spark, train)
    expected = reference_neighbours(train, params)
    assert expected.neighbours.size > 0
    assert_same_table(expected, spark_neighbours(frame, train.n_items, params), params.neighbours)


def test_plain_cosine_ties_go_to_lower_index(spark):
    # Integer pair counts are exact, so equal sims are exact ties: order must be strict.
    train = tie_log()
    table = spark_neighbours(interactions_to_spark(spark, train), train.n_items, plain())
    expected = reference_neighbours(train, plain())
    tied = np.diff(expected.similarities) == 0
    assert tied.any(), "the toy log must contain ties for this test to mean anything"
    np.testing.assert_array_equal(table.neighbours, expected.neighbours)


def test_zero_span_means_no_time_decay(spark):
    # All rows share one timestamp: span = 0, so time = 1 whatever time_decay is.
    train = Interactions.from_arrays(
        np.array(["u0", "u1"], dtype=object),
        np.array(["a", "b", "c"], dtype=object),
        users=[0, 0, 0, 1, 1],
        items=[0, 1, 2, 1, 2],
        timestamps=[7.0] * 5,
    )
    frame = interactions_to_spark(spark, train)
    decayed = spark_neighbours(frame, 3, plain(time_decay=5.0))
    assert_same_table(reference_neighbours(train, plain()), decayed, 200)


def test_empty_log_gives_empty_table_and_zero_popularity(spark):
    train = Interactions.from_arrays(
        np.array(["u0"], dtype=object), np.array(["a", "b"], dtype=object), [], [], []
    )
    frame = interactions_to_spark(spark, train)
    table = spark_neighbours(frame, 2, plain())
    np.testing.assert_array_equal(table.indptr, [0, 0, 0])
    np.testing.assert_array_equal(spark_popularity(frame, 2, window=5.0, half_life=2.0), [0, 0])


def test_bad_window_is_a_config_error(spark):
    frame = interactions_to_spark(spark, tie_log())
    with pytest.raises(ConfigError, match="window"):
        spark_neighbours(frame, 8, plain(window=0))


# ---------------------------------------------------------------- MovieLens-100K


def movielens_100k() -> Interactions:
    if not ML100K.is_file():
        pytest.skip(f"MovieLens-100K not found at {ML100K} (the recbole wheel ships it)")
    raw = pl.read_csv(ML100K, separator="\t", schema_overrides={"user_id:token": pl.Utf8,
                                                                "item_id:token": pl.Utf8})
    user_ids, users = np.unique(raw["user_id:token"].to_numpy(), return_inverse=True)
    item_ids, items = np.unique(raw["item_id:token"].to_numpy(), return_inverse=True)
    return Interactions.from_arrays(
        user_ids.astype(object), item_ids.astype(object), users, items,
        raw["timestamp:float"].to_numpy(),
    )


@pytest.fixture(scope="module")
def ml100k_frame(spark):
    train = movielens_100k()
    frame = interactions_to_spark(spark, train).cache()
    frame.count()
    yield train, frame
    frame.unpersist()


@pytest.mark.slow
@pytest.mark.parametrize(
    "params, exact",
    [
        (from_config(ItemCFConfig(window=50)), False),
        (plain(window=10, neighbours=50), True),
        pytest.param(from_config(ItemCFConfig()), False, marks=FULL),
    ],
    ids=["config_defaults_window_50", "plain_cosine_window_10", "config_defaults_all_pairs"],
)
def test_equals_local_engine_on_movielens(ml100k_frame, params, exact):
    # The two cases that always run cost about 15 s of Spark CPU; all pairs (10M position
    # pairs) costs about 30 s more, so it runs only on request.
    train, frame = ml100k_frame
    local = compute_neighbours(train, params)
    remote = spark_neighbours(frame, train.n_items, params)
    moved = assert_same_table(local, remote, params.neighbours)
    if exact:
        # Plain cosine sums integers: ties are exact in both engines, so the order must be too.
        assert moved == 0


# ---------------------------------------------------------------- popularity


def test_popularity_hand_worked(spark, toy_log):
    # toy_log: u1 a@10 b@20 c@30; u2 b@5 c@15 d@25; u3 a@100 d@200 e@300 (latest 300).
    frame = interactions_to_spark(spark, toy_log)
    # All rows: a {u1,u3}, b {u1,u2}, c {u1,u2}, d {u2,u3}, e {u3}.
    np.testing.assert_array_equal(spark_popularity(frame, 5), [2, 2, 2, 2, 1])
    # window 100 keeps t >= 200: d@200 (u3) and e@300 (u3).
    np.testing.assert_array_equal(spark_popularity(frame, 5, window=100.0), [0, 0, 0, 1, 1])
    # half-life 100: a = 0.5**(290/100) + 0.5**(200/100); e = 0.5**0 = 1.
    scores = spark_popularity(frame, 5, half_life=100.0)
    assert scores[0] == pytest.approx(0.5**2.9 + 0.25, abs=1e-12)
    assert scores[4] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("window, half_life", [(None, None), (2.0, 1.5)])
def test_popularity_equals_local_strategy(spark, window, half_life):
    # tie_log repeats (user, item) pairs: each pair votes once, aged by its latest row.
    train = tie_log()
    frame = interactions_to_spark(spark, train)
    expected = Popularity(window=window, half_life=half_life).fit(train).scores_
    scores = spark_popularity(frame, train.n_items, window, half_life)
    np.testing.assert_allclose(scores, expected, rtol=1e-6)


# ---------------------------------------------------------------- Parquet and the job


def write_parts(directory: Path, train: Interactions, with_time: bool = True) -> None:
    """The log with string ids under custom column names, split over two files in order."""
    directory.mkdir(parents=True)
    columns = {
        "who": train.user_ids[train.users].astype(str),
        "what": train.item_ids[train.items].astype(str),
    }
    if with_time:
        columns["when"] = train.timestamps.astype(np.int64)
    table = pa.table(columns)
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), directory / "part-0.parquet")
    pq.write_table(table.slice(half), directory / "part-1.parquet")


def test_read_parquet_log_without_time_uses_row_order(spark, tmp_path):
    train = tie_log()
    write_parts(tmp_path / "log", train, with_time=False)
    frame = read_parquet_log(spark, str(tmp_path / "log"), ColumnsConfig(user="who", item="what"))
    rows = frame.toArrow().sort_by("timestamp")
    assert rows.column("timestamp").to_pylist() == list(range(train.n_interactions))
    assert rows.column("item_id").to_pylist() == list(train.item_ids[train.items])


def test_read_parquet_log_errors_name_the_column(spark, tmp_path):
    train = tie_log()
    write_parts(tmp_path / "log", train)
    with pytest.raises(InputError, match="'missing'"):
        read_parquet_log(spark, str(tmp_path / "log"), ColumnsConfig(user="missing", item="what"))
    pq.write_table(pa.table({"who": ["u0"], "what": pa.array([None], pa.string())}),
                   tmp_path / "null.parquet")
    with pytest.raises(InputError, match="null"):
        read_parquet_log(spark, str(tmp_path / "null.parquet"),
                         ColumnsConfig(user="who", item="what"))


def test_job_writes_reference_table_and_popularity(spark, tmp_path):
    train = tie_log()
    write_parts(tmp_path / "log", train)
    argv = [
        "--input", str(tmp_path / "log"), "--out", str(tmp_path / "nb"),
        "--user-col", "who", "--item-col", "what", "--time-col", "when",
        "--window", "2", "--neighbours", "3", "--popularity-out", str(tmp_path / "pop"),
    ]
    assert job.main(argv) == 0
    assert not spark.sparkContext._jsc.sc().isStopped(), "the job must not stop a shared session"
    out = pl.read_parquet(tmp_path / "nb" / "*.parquet").sort(["item_id", "rank"])
    # Ids i0..i7 sort like their indices, so string ties match index ties.
    index = {name: k for k, name in enumerate(train.item_ids)}
    items = np.array([index[v] for v in out["item_id"]])
    got = NeighbourTable(
        np.searchsorted(items, np.arange(train.n_items + 1)).astype(np.int64),
        np.array([index[v] for v in out["neighbour_id"]], dtype=np.int32),
        out["similarity"].to_numpy(),
    )
    params = from_config(ItemCFConfig(window=2, neighbours=3))
    assert_same_table(reference_neighbours(train, params), got, 3)
    popularity = pl.read_parquet(tmp_path / "pop" / "*.parquet")
    expected = Popularity().fit(train).scores_
    for item_id, score in popularity.iter_rows():
        assert score == expected[index[item_id]]


def test_job_rejects_bad_options(tmp_path, capsys):
    argv = ["--input", str(tmp_path), "--out", str(tmp_path / "o"), "--position-decay", "2"]
    assert job.main(argv) == 2
    assert "position_decay" in capsys.readouterr().err
