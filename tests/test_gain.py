"""Fusion gain over the best single channel: known answers and interval sanity."""

from __future__ import annotations

import numpy as np
import pytest

from recfusion.evaluation._gain import fusion_gains


def test_gain_is_difference_to_best_single_channel():
    # Channel a averages 0.25, b averages 0.5 -> b is the best single channel.
    # fused - b per user = [0.5, 0, 0.5, 0] -> observed gain 0.25.
    per_user = {
        ("a", "ndcg", 10): np.array([0.0, 0.5, 0.0, 0.5]),
        ("b", "ndcg", 10): np.array([0.5, 0.5, 0.5, 0.5]),
        ("fused", "ndcg", 10): np.array([1.0, 0.5, 1.0, 0.5]),
    }
    table = fusion_gains(per_user, ["fused"], ["a", "b"], n_bootstrap=200, seed=1)
    row = table.row(0, named=True)
    assert row["best_single"] == "b"
    assert row["gain"] == pytest.approx(0.25)
    assert row["value"] == pytest.approx(0.75)
    assert 0.0 <= row["ci_low"] <= 0.25 <= row["ci_high"] <= 0.5


def test_method_equal_to_best_has_zero_gain_and_p_one():
    values = np.array([0.1, 0.4, 0.3])
    per_user = {("x", "ndcg", 10): values, ("fused", "ndcg", 10): values.copy()}
    row = fusion_gains(per_user, ["fused"], ["x"], n_bootstrap=50).row(0, named=True)
    assert row["gain"] == 0.0 and row["ci_low"] == 0.0 and row["ci_high"] == 0.0
    assert row["p_value"] == 1.0
