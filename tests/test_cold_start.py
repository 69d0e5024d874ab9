"""Cold-start users: segment popularity through the fitted Recommender and its bundle."""

from __future__ import annotations

import numpy as np
import polars as pl

from recfusion.config import parse_config
from recfusion.data import Interactions
from recfusion.pipeline import Recommender, fit_recommender
from recfusion.recall import SideInfo


def _log_and_side() -> tuple[Interactions, SideInfo]:
    # Women (u0-u5) all watched item a (and one of x/y/z so that every user has two
    # items); men (u6-u11) all watched item b. u12 (F) and u13 (M) have no history.
    users, items = [], []
    for user in range(12):
        users += [user, user]
        items += [0 if user < 6 else 1, 2 + user % 3]
    user_ids = np.array([f"u{i}" for i in range(14)], dtype=object)
    item_ids = np.array(["a", "b", "x", "y", "z"], dtype=object)
    log = Interactions.from_arrays(user_ids, item_ids, users, items)
    genders = ["F"] * 6 + ["M"] * 6 + ["F", "M"]
    side = SideInfo(users=pl.DataFrame({"user_id": user_ids.tolist(), "gender": genders}))
    return log, side


def test_segment_popularity_serves_users_without_history(tmp_path):
    log, side = _log_and_side()
    config = parse_config({
        "data": {"dataset": "movielens-100k"},
        "strategies": {"popularity": {"kind": "popularity"}, "itemcf": {"kind": "itemcf"}},
        "fusion": {"tune_trials": 0, "pareto_trials": 0, "compare_methods": False},
    })
    model = fit_recommender(config, log, side)
    assert model.segment is not None
    lists = model.cold_start(np.array([12, 13]), 1)
    # Within the F segment item a (6 of 6 women) leads; within M, item b does.
    assert lists.row(0)[0].tolist() == [0]
    assert lists.row(1)[0].tolist() == [1]
    # Unknown users (-1) fall back to global popularity (a and b tie at 6: lower index).
    assert model.cold_start(np.array([-1]), 1).row(0)[0].tolist() == [0]
    model.save(tmp_path)
    loaded = Recommender.load(tmp_path, log, side)
    assert loaded.cold_start(np.array([13]), 1).row(0)[0].tolist() == [1]
