"""Every file of tests/data/bad/ is loaded and meets the outcome written in cases.toml.

Rejected files must raise InputError whose message holds every listed fragment (file,
line, column, value, expectation, fix); awkward but valid files must load with the
documented counts, ids (exactly as written) and event order.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recfusion.config import ColumnsConfig, DataConfig
from recfusion.data import Dataset, load_dataset
from recfusion.errors import InputError

CORPUS = Path(__file__).resolve().parent / "data" / "bad"
CASES: list[dict[str, Any]] = tomllib.loads((CORPUS / "cases.toml").read_text("utf-8"))["case"]
DEFAULT_COLUMNS = {"user": "user", "item": "item"}


def _config(case: dict[str, Any]) -> DataConfig:
    options = dict(case.get("options", {}))
    for key in ("items", "users"):
        if key in options:
            options[key] = CORPUS / options[key]
    columns = ColumnsConfig(**{**DEFAULT_COLUMNS, **case.get("columns", {})})
    return DataConfig(interactions=CORPUS / case["file"], columns=columns, **options)


def test_corpus_is_large_and_every_file_is_listed() -> None:
    listed = {case["file"] for case in CASES}
    listed |= {case.get("options", {}).get(key) for case in CASES for key in ("items", "users")}
    on_disk = {p.name for p in CORPUS.iterdir() if p.name not in {"cases.toml", "_make_corpus.py"}}
    assert len(CASES) >= 40
    assert on_disk <= listed, f"files without a case: {sorted(on_disk - listed)}"
    assert all(("error" in case) != ("expect" in case) for case in CASES)


@pytest.mark.parametrize("case", [c for c in CASES if "error" in c], ids=lambda c: c["file"])
def test_rejected_input_names_the_problem(case: dict[str, Any]) -> None:
    with pytest.raises(InputError) as caught:
        load_dataset(_config(case))
    message = str(caught.value)
    missing = [fragment for fragment in case["error"] if fragment not in message]
    assert not missing, f"message lacks {missing}: {message}"


@pytest.mark.parametrize("case", [c for c in CASES if "expect" in c], ids=lambda c: c["file"])
def test_awkward_input_loads_as_documented(case: dict[str, Any]) -> None:
    dataset = load_dataset(_config(case))
    expect = dict(case["expect"])
    _check_counts(dataset, expect)
    _check_ids_and_order(dataset, expect)
    _check_side(dataset, expect)


def _check_counts(dataset: Dataset, expect: dict[str, Any]) -> None:
    stats = dataset.stats.to_dict()
    assert stats["rows_read"] == stats["rows_kept"] + sum(stats["dropped"].values())
    for key in ("rows_read", "rows_kept", "n_users", "n_items", "cold_items", "cold_users"):
        if key in expect:
            assert stats[key] == expect[key], key
    for key in ("duplicate_metadata", "time_source"):
        if key in expect:
            assert stats[key] == expect[key], key
    for reason, count in stats["dropped"].items():
        assert count == expect.get("dropped", {}).get(reason, 0), reason


def _check_ids_and_order(dataset: Dataset, expect: dict[str, Any]) -> None:
    log = dataset.interactions
    if "user_ids" in expect:
        assert log.user_ids.tolist() == expect["user_ids"]
    if "item_ids" in expect:
        assert log.item_ids.tolist() == expect["item_ids"]
    for user, items in expect.get("histories", {}).items():
        row = log.histories(np.array([log.user_lookup[user]])).row(0)
        assert [log.item_ids[i] for i in row] == items
    if "timestamps" in expect:
        np.testing.assert_array_equal(log.timestamps, expect["timestamps"])
    if "weights" in expect:
        np.testing.assert_array_equal(log.weights, np.float32(expect["weights"]))


def _check_side(dataset: Dataset, expect: dict[str, Any]) -> None:
    for side_name in ("items", "users"):
        frame = getattr(dataset.side, side_name)
        for column, values in expect.get(side_name, {}).items():
            assert frame is not None and frame[column].to_list() == values


def test_glued_header_is_not_offered_as_a_column_name() -> None:
    """Regression: a wrong delimiter once produced the hint "set data.columns.user = 'a;b'"."""
    case = next(c for c in CASES if c["file"] == "wrong_delimiter.csv")
    with pytest.raises(InputError) as caught:
        load_dataset(_config(case))
    assert "data.columns.user" not in str(caught.value)
