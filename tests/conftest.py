"""Shared fixtures: small hand-made logs and the real datasets in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recfusion.data import Interactions

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """Path of ../shared/data; skips the test when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (../shared/data is absent)")
    return SHARED_DATA


@pytest.fixture
def toy_log() -> Interactions:
    """Three users, five items; timestamps in seconds, rows deliberately unsorted."""
    rows = [
        ("u1", "a", 10.0),
        ("u1", "b", 20.0),
        ("u1", "c", 30.0),
        ("u2", "b", 5.0),
        ("u2", "c", 15.0),
        ("u2", "d", 25.0),
        ("u3", "a", 100.0),
        ("u3", "d", 200.0),
        ("u3", "e", 300.0),
    ]
    user_ids = np.array(["u1", "u2", "u3"], dtype=object)
    item_ids = np.array(["a", "b", "c", "d", "e"], dtype=object)
    user_index = {u: i for i, u in enumerate(user_ids)}
    item_index = {v: i for i, v in enumerate(item_ids)}
    order = [8, 0, 3, 6, 1, 4, 7, 2, 5]
    return Interactions.from_arrays(
        user_ids,
        item_ids,
        users=[user_index[rows[r][0]] for r in order],
        items=[item_index[rows[r][1]] for r in order],
        timestamps=[rows[r][2] for r in order],
    )
