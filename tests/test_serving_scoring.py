"""Scoring helpers, event store and metrics text, without HTTP."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from test_serving_support import build_recommender, install_fuser, toy_log

from recfusion.errors import InputError
from recfusion.serving import Event, EventStore, Metrics, load_bundle, save_bundle
from recfusion.serving import _scoring as scoring


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    install_fuser(monkeypatch)
    log = toy_log()
    return load_bundle(save_bundle(tmp_path / "model", build_recommender(log), log))


def test_live_events_follow_training_rows_in_time_order(bundle) -> None:
    # Training rows of "u2": a@1, ü/ß 🎬@2, d"q@3 (items 0, 2, 3). The events come after
    # them whatever their timestamps; among events, by timestamp then arrival order.
    events = [("e", 50.0, 1.0), ("unknown", 0.0, 1.0), ("b/c", 0.5, 2.0), ("a", 50.0, 1.0)]
    history = scoring.user_history(bundle, "u2", events)
    assert history.items.tolist() == [0, 2, 3, 1, 4, 0]
    assert history.timestamps.tolist() == [1.0, 2.0, 3.0, 0.5, 50.0, 50.0]
    assert history.weights.tolist() == [1.0, 1.0, 1.0, 2.0, 1.0, 1.0]
    assert history.unknown_items == ["unknown"]


def test_unknown_user_without_events_has_an_empty_history(bundle) -> None:
    history = scoring.user_history(bundle, "nobody", ())
    assert history.items.shape == (0,) and history.unknown_items == []
    assert scoring.recommend_history(bundle, history, 2).fallback == "popularity"


def test_popularity_fallback_pads_with_catalogue_order(bundle) -> None:
    # Only a, b/c, ü/ß 🎬, d"q have users (3, 2, 2, 1); e follows with score 0.
    ranked = scoring.popular(bundle, 10)
    assert ranked.item_ids == ["a", "b/c", "ü/ß 🎬", 'd"q', "e"]
    assert ranked.scores == [3.0, 2.0, 2.0, 1.0, 0.0]


def test_cooccurrence_matches_a_dense_cosine(bundle) -> None:
    """Cross-check against cosine similarity of item columns computed densely."""
    matrix = toy_log().binary_matrix().toarray()
    norms = np.linalg.norm(matrix, axis=0)
    for item in range(bundle.n_items):
        ranked = scoring.cooccurrence(bundle, item, 10)
        dense = matrix.T @ matrix[:, item]
        dense[item] = 0
        expected = {
            bundle.item_ids[j]: dense[j] / (norms[item] * norms[j])
            for j in np.flatnonzero(dense)
        }
        assert dict(zip(ranked.item_ids, ranked.scores)) == pytest.approx(expected)


def test_event_store_round_trip_and_settings(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "events.sqlite3"
    store = EventStore(path)
    stored = store.append([Event("ü", "🎬", 1.5, 2.0), Event("ü", "x", 2.5)])
    assert [e.seq for e in stored] == [1, 2]
    assert store.user_events("ü") == (("🎬", 1.5, 2.0), ("x", 2.5, 1.0))
    assert store.ping()
    store.close()
    reopened = EventStore(path)
    assert reopened.count == 2 and reopened.user_events("ü")[0] == ("🎬", 1.5, 2.0)
    assert [e.item_id for e in reopened.stored_events("ü", 1)] == ["x"]
    mode = reopened._connection.execute("PRAGMA journal_mode").fetchone()[0]
    sync = reopened._connection.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)  # 2 = FULL
    reopened.close()


def test_unusable_database_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open SQLite database"):
        EventStore(tmp_path)  # a directory, not a file


def test_failed_append_stores_nothing(tmp_path: Path) -> None:
    """Guards against a half-written batch: one bad row rolls back the whole request."""
    store = EventStore(tmp_path / "events.sqlite3")
    with pytest.raises(sqlite3.Error):
        store.append([Event("u", "a", 1.0), Event("u", None, 2.0)])  # type: ignore[arg-type]
    assert store.count == 0 and store.user_events("u") == ()
    assert store.append([Event("u", "b", 3.0)])[0].item_id == "b"
    store.close()


def test_metrics_text_format() -> None:
    metrics = Metrics()
    metrics.observe('/a"b', "GET", 200, 0.0007)
    metrics.observe('/a"b', "GET", 200, 0.2)
    text = metrics.render()
    # 0.0007 s lands in le=0.001 and above; 0.2 s in le=0.25 and above.
    assert 'recfusion_http_request_duration_seconds_bucket{endpoint="/a\\"b",le="0.0005"} 0' in text
    assert 'recfusion_http_request_duration_seconds_bucket{endpoint="/a\\"b",le="0.001"} 1' in text
    assert 'recfusion_http_request_duration_seconds_bucket{endpoint="/a\\"b",le="0.25"} 2' in text
    sums = [line for line in text.splitlines() if line.startswith(
        'recfusion_http_request_duration_seconds_sum{endpoint="/a\\"b"} ')]
    assert len(sums) == 1 and float(sums[0].split()[-1]) == pytest.approx(0.2007)
    assert text.endswith("\n")
