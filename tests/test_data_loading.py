"""Loading datasets: MovieLens-100K from the recbole wheel, user files, side info, stats."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.metadata
import json
import logging
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recfusion.config import ColumnsConfig, DataConfig
from recfusion.data import (
    load_dataset,
    load_movielens_100k,
    movielens_100k_files,
    set_progress,
)
from recfusion.data import _readers
from recfusion.errors import InputError, MissingDependencyError

CORPUS = Path(__file__).resolve().parent / "data" / "bad"


@pytest.fixture(scope="module")
def movielens():
    return load_movielens_100k()


def test_movielens_100k_sizes_match_the_published_counts(movielens) -> None:
    # GroupLens documents ml-100k as 100,000 ratings by 943 users on 1,682 movies.
    log = movielens.interactions
    assert (log.n_interactions, log.n_users, log.n_items) == (100_000, 943, 1_682)
    assert movielens.name == "movielens-100k"
    assert movielens.stats.rows_read == movielens.stats.rows_kept == 100_000
    assert (log.weights == 1.0).all(), "ratings are implicit interactions of weight 1"
    assert "recbole" not in sys.modules, "the wheel's files are read without importing it"


def test_movielens_100k_item_metadata(movielens) -> None:
    items = movielens.side.items
    log = movielens.interactions
    assert items["item_id"].to_list() == log.item_ids.tolist(), "row i describes item i"
    toy_story = items.row(log.item_lookup["1"], named=True)
    assert toy_story["title"] == "Toy Story"
    assert toy_story["year"] == 1995
    assert toy_story["genres"] == ["Animation", "Children's", "Comedy"]
    # Item 267 has "unkonwn" as its release year in the source: the year is null.
    assert items.row(log.item_lookup["267"], named=True)["year"] is None
    assert items["genres"].dtype == pl.List(pl.String)


def test_movielens_100k_user_attributes(movielens) -> None:
    users = movielens.side.users
    log = movielens.interactions
    assert users["user_id"].to_list() == log.user_ids.tolist()
    # First data line of ml-100k.user: "1  24  M  technician  85711"; 24 is in band 18-24.
    first = users.row(log.user_lookup["1"], named=True)
    assert first == {
        "user_id": "1",
        "age": 24,
        "age_band": "18-24",
        "gender": "M",
        "occupation": "technician",
        "zip_code": "85711",
    }
    bands = set(users["age_band"].to_list())
    assert bands <= {"<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+"}
    assert users.filter(pl.col("age") == 17)["age_band"].unique().to_list() == ["<18"]
    assert users.filter(pl.col("age") == 56)["age_band"].unique().to_list() == ["56+"]


def test_movielens_100k_fingerprint_is_the_documented_sha256(movielens) -> None:
    files = movielens_100k_files()
    digests = [hashlib.sha256(files[k].read_bytes()).hexdigest() for k in ("inter", "item", "user")]
    expected = hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()
    assert movielens.fingerprint == expected


def test_builtin_through_the_config(movielens) -> None:
    dataset = load_dataset(DataConfig(dataset="movielens-100k"))
    assert dataset.fingerprint == movielens.fingerprint
    np.testing.assert_array_equal(dataset.interactions.items, movielens.interactions.items)


def test_missing_recbole_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", absent)
    with pytest.raises(MissingDependencyError) as caught:
        load_movielens_100k()
    assert "pip install --no-deps recbole==1.2.1" in str(caught.value)
    assert "make install" in str(caught.value)


def test_single_file_fingerprint_is_its_sha256(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user,item\nu1,i1\n", encoding="utf-8")
    columns = ColumnsConfig(user="user", item="item")
    dataset = load_dataset(DataConfig(interactions=path, columns=columns))
    assert dataset.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()
    assert dataset.side.items is None and dataset.side.users is None


def test_stats_are_json_ready_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    config = DataConfig(
        interactions=CORPUS / "weights_zero_negative.csv",
        columns=ColumnsConfig(user="user", item="item", timestamp="ts", weight="w"),
    )
    with caplog.at_level(logging.INFO, logger="recfusion.data"):
        dataset = load_dataset(config)
    stats = json.loads(json.dumps(dataset.stats.to_dict()))
    assert stats["rows_read"] == 4 and stats["rows_kept"] == 2
    assert stats["dropped"]["zero_weight"] == 1 and stats["dropped"]["negative_weight"] == 1
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "4 rows read, 2 kept" in logged
    assert "1 zero_weight, 1 negative_weight" in logged


def test_list_column_is_split_and_aligned_with_cold_items() -> None:
    config = DataConfig(
        interactions=CORPUS / "items_cold.log.csv",
        columns=ColumnsConfig(user="user", item="item", timestamp="ts"),
        items=CORPUS / "items_cold.items.csv",
        item_id_col="item",
    )
    items = load_dataset(config).side.items
    # Index order i1, i2 (logged), then i3 (metadata only). i1's genres cell is empty.
    assert items["genres"].to_list() == [None, ["Drama", "Comedy"], ["Horror", "Sci-Fi"]]


def test_parquet_user_files_keep_string_ids_and_list_columns(tmp_path: Path) -> None:
    log = tmp_path / "log.parquet"
    pl.DataFrame({"u": ["007", "7"], "i": ["a", "b"], "t": [2, 1]}).write_parquet(log)
    meta = tmp_path / "items.parquet"
    pl.DataFrame({"i": ["b", "a"], "genres": [["x"], ["y", "z"]]}).write_parquet(meta)
    config = DataConfig(
        interactions=log,
        columns=ColumnsConfig(user="u", item="i", timestamp="t"),
        items=meta,
        item_id_col="i",
    )
    dataset = load_dataset(config)
    assert dataset.interactions.user_ids.tolist() == ["007", "7"]
    assert dataset.side.items["genres"].to_list() == [["y", "z"], ["x"]]


def test_progress_status_can_be_shown_and_switched_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user,item\nu1,i1\n", encoding="utf-8")
    entered: list[str] = []

    class FakeStatus:
        def __init__(self, text: str) -> None:
            entered.append(text)

        def __enter__(self) -> None:
            return None

        def __exit__(self, *args: object) -> None:
            return None

    monkeypatch.setattr(_readers, "PROGRESS_MIN_BYTES", 0)
    monkeypatch.setattr("rich.console.Console.status", lambda self, text: FakeStatus(text))
    config = DataConfig(interactions=path, columns=ColumnsConfig(user="user", item="item"))
    try:
        set_progress(True)
        load_dataset(config)
        assert entered and "log.csv" in entered[0]
        set_progress(False)
        load_dataset(config)
        assert len(entered) == 1, "no status once switched off"
    finally:
        set_progress(True)


def test_items_file_mismatching_the_log_extension_uses_its_own_layout(tmp_path: Path) -> None:
    log = tmp_path / "log.dat"
    log.write_text("user::item\nu1::i1\n", encoding="utf-8")
    items = tmp_path / "items.csv"
    items.write_text("item,genres\ni1,A|B\n", encoding="utf-8")
    config = DataConfig(
        interactions=log,
        delimiter="::",
        columns=ColumnsConfig(user="user", item="item"),
        items=items,
        item_id_col="item",
    )
    assert load_dataset(config).side.items["genres"].to_list() == [["A", "B"]]


def test_unreadable_parquet_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    config = DataConfig(interactions=path, columns=ColumnsConfig(user="u", item="i"))
    with pytest.raises(InputError, match="broken.parquet.*not readable Parquet"):
        load_dataset(config)


@pytest.mark.shared_data
def test_ml_latest_small_through_load_dataset(shared_data: Path) -> None:
    folder = shared_data / "ml-latest-small"
    config = DataConfig(
        interactions=folder / "ratings.csv",
        columns=ColumnsConfig(user="userId", item="movieId", timestamp="timestamp"),
        items=folder / "movies.csv",
        item_id_col="movieId",
    )
    dataset = load_dataset(config)
    log = dataset.interactions
    # Independent count with the csv module.
    with open(folder / "ratings.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert log.n_interactions == len(rows) == 100_836
    assert log.n_users == len({row["userId"] for row in rows}) == 610
    rated = {row["movieId"] for row in rows}
    assert len(rated) == 9_724
    # 9,742 movies in movies.csv, 18 of them never rated: cold-start items after the rated.
    assert log.n_items == 9_742 and dataset.stats.cold_items == 18
    assert set(log.item_ids[: len(rated)].tolist()) == rated
    toy_story = dataset.side.items.row(log.item_lookup["1"], named=True)
    assert toy_story["genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert toy_story["title"] == "Toy Story (1995)"
    # DATASET.md: 1996-03-29 18:36:55 to 2018-09-24 14:27:30 UTC.
    first = dt.datetime(1996, 3, 29, 18, 36, 55, tzinfo=dt.timezone.utc).timestamp()
    last = dt.datetime(2018, 9, 24, 14, 27, 30, tzinfo=dt.timezone.utc).timestamp()
    assert (log.timestamps.min(), log.timestamps.max()) == (first, last)


def test_item_vectors_join_the_catalogue_and_the_fingerprint(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("user,item\nu1,a\nu1,b\n", encoding="utf-8")
    vectors = tmp_path / "vectors.csv"
    # b has a vector, a has none, c is known only from the vector file (cold-start item).
    vectors.write_text("item_id,x,y\nb,1,2\nc,3,4\n", encoding="utf-8")
    config = DataConfig(
        interactions=log, columns=ColumnsConfig(user="user", item="item"), item_vectors=vectors
    )
    dataset = load_dataset(config)
    assert dataset.interactions.item_ids.tolist() == ["a", "b", "c"]
    assert dataset.stats.cold_items == 1
    matrix = dataset.side.item_vectors
    assert matrix.shape == (3, 2) and np.isnan(matrix[0]).all()
    np.testing.assert_array_equal(matrix[1:], [[1.0, 2.0], [3.0, 4.0]])
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (log, vectors)]
    assert dataset.fingerprint == hashlib.sha256("\n".join(digests).encode()).hexdigest()
