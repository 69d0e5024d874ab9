"""HTTP API through FastAPI's TestClient: every endpoint and every error path.

Expected lists are worked out from the toy log of ``test_serving_support``: distinct users
per item are a=3, b/c=2, ü/ß 🎬=2, d"q=1, e=0 (ties by item index), the only channel is
popularity, and finalize pads with e (score floor - 1) when popularity runs dry.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from test_serving_support import build_recommender, install_fuser, random_log, toy_log

from recfusion.serving import ServingSettings, ServingState, create_app, save_bundle
from recfusion.serving import _scoring

EMOJI = "ü/ß 🎬"


def _path(value: str) -> str:
    """URL-encode an id for a path segment (slashes included)."""
    return quote(value, safe="")


def _ids(response) -> list[str]:
    return [entry["item_id"] for entry in response.json()["items"]]


def _error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    return body["error"]["message"]


@pytest.fixture(autouse=True)
def _fuser(monkeypatch: pytest.MonkeyPatch) -> None:
    install_fuser(monkeypatch)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    log = toy_log()
    return save_bundle(tmp_path_factory.mktemp("saved") / "model", build_recommender(log), log)


@pytest.fixture
def model(saved_model: Path, tmp_path: Path) -> Path:
    """A private copy of the toy bundle (tests may replace or damage it)."""
    return Path(shutil.copytree(saved_model, tmp_path / "model"))


def _client(model: Path, **settings) -> TestClient:
    state = ServingState(ServingSettings(model=model, **settings))
    return TestClient(create_app(state))


@pytest.fixture
def client(model: Path):
    with _client(model) as test_client:
        yield test_client


# ---- recommendations for users ----------------------------------------------------------


def test_known_user_gets_fused_unseen_items(client: TestClient) -> None:
    response = client.get(f"/v1/users/{_path(EMOJI)}/recommendations", params={"k": 3})
    body = response.json()
    assert response.status_code == 200
    assert (body["user_id"], body["known_user"], body["fallback"], body["k"]) == (
        EMOJI, True, None, 3
    )
    # Saw a, b/c -> ü/ß 🎬 (2 users), d"q (1), then e padded with score 1 - 1 = 0.
    assert body["items"] == [
        {"item_id": EMOJI, "score": 2.0}, {"item_id": 'd"q', "score": 1.0},
        {"item_id": "e", "score": 0.0},
    ]
    assert response.headers["content-type"] == "application/json"
    assert EMOJI.encode("utf-8") in response.content


def test_unknown_user_gets_flagged_popularity(client: TestClient) -> None:
    response = client.get("/v1/users/nobody/recommendations", params={"k": 2})
    body = response.json()
    assert response.status_code == 200
    assert body["fallback"] == "popularity" and body["known_user"] is False
    assert _ids(response) == ["a", "b/c"]


def test_default_k_and_catalogue_bound(client: TestClient) -> None:
    # k defaults to 10 but only 5 items exist: the popularity list holds all five.
    assert _ids(client.get("/v1/users/x/recommendations")) == ["a", "b/c", EMOJI, 'd"q', "e"]
    assert len(client.get("/v1/users/x/recommendations?k=1000").json()["items"]) == 5


@pytest.mark.parametrize("k", ["0", "1001", "-3", "abc", "2.5"])
def test_invalid_k_is_422_with_error_body(client: TestClient, k: str) -> None:
    message = _error(client.get(f"/v1/users/u2/recommendations?k={k}"), 422, "invalid_request")
    assert "query.k" in message


def test_empty_and_overlong_user_ids_are_refused(client: TestClient) -> None:
    _error(client.get("/v1/users//recommendations"), 422, "invalid_request")
    _error(client.get(f"/v1/users/{'x' * 1025}/recommendations"), 422, "invalid_request")


# ---- session recommendations ------------------------------------------------------------


def test_session_ignores_and_lists_unknown_items(client: TestClient) -> None:
    response = client.post("/v1/recommendations", json={"items": ["a", "zz", "a", "zz"], "k": 3})
    body = response.json()
    assert response.status_code == 200
    assert body["unknown_items"] == ["zz"] and body["fallback"] is None
    # Seen a -> b/c, ü/ß 🎬 (2 users each, index order), d"q.
    assert _ids(response) == ["b/c", EMOJI, 'd"q']


def test_session_without_known_items_falls_back(client: TestClient) -> None:
    body = client.post("/v1/recommendations", json={"items": ["zz"]}).json()
    assert body["fallback"] == "popularity" and body["unknown_items"] == ["zz"]


@pytest.mark.parametrize(
    "payload",
    [
        {"items": "a"},
        {"items": [1, 2]},
        {"items": [""]},
        {"items": ["a"], "k": 0},
        {"items": ["a"], "k": 1001},
        {"items": ["a"], "extra": True},
        {"k": 3},
        {"items": ["a"] * 1001},
    ],
)
def test_session_validation_errors(client: TestClient, payload: dict) -> None:
    _error(client.post("/v1/recommendations", json=payload), 422, "invalid_request")


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/v1/recommendations", content=b'{"items": [', headers={"content-type": "application/json"}
    )
    _error(response, 422, "invalid_request")


# ---- similar items ----------------------------------------------------------------------


def test_similar_items_from_cooccurrence(client: TestClient) -> None:
    response = client.get("/v1/items/a/similar", params={"k": 5})
    body = response.json()
    assert body["source"] == "cooccurrence"
    # Users of a: all 3. Cosine c(a, j) / sqrt(3 * n_j): b/c 2/sqrt(6), ü/ß 🎬 2/sqrt(6),
    # d"q 1/sqrt(3); e never co-occurs and is left out.
    assert _ids(response) == ["b/c", EMOJI, 'd"q']
    scores = [entry["score"] for entry in body["items"]]
    assert scores == pytest.approx([2 / 6**0.5, 2 / 6**0.5, 1 / 3**0.5], rel=1e-6)


def test_similar_items_of_an_encoded_id_and_unknown_item(client: TestClient) -> None:
    response = client.get(f"/v1/items/{_path(EMOJI)}/similar?k=1")
    # ü/ß 🎬 has users u2, u,3 (n=2): a co-occurs twice -> 2/sqrt(2*3) beats b/c 1/sqrt(4).
    assert response.json()["item_id"] == EMOJI and _ids(response) == ["a"]
    message = _error(client.get("/v1/items/nope/similar"), 404, "unknown_item")
    assert "nope" in message
    _error(client.get("/v1/items/a/similar?k=0"), 422, "invalid_request")


def test_similar_items_prefers_a_channel_that_offers_them(model: Path) -> None:
    state = ServingState(ServingSettings(model=model))
    channel = state.bundle.recommender.strategies["popularity"]
    channel.similar_items = lambda item, n: ([4, item, 3], [0.9, 0.8, 0.7])  # type: ignore
    ranked = _scoring.similar_items(state.bundle, 0, 5)
    # The item itself (index 0) is dropped; order and scores come from the channel.
    assert (ranked.item_ids, ranked.scores, ranked.source) == (
        ["e", 'd"q'], [0.9, 0.7], "popularity"
    )
    state.close()


# ---- live events ------------------------------------------------------------------------


def test_event_is_reflected_at_once(client: TestClient) -> None:
    response = client.post("/v1/events", json={"user_id": EMOJI, "item_id": EMOJI})
    body = response.json()
    assert response.status_code == 201
    assert body["accepted"] == 1 and len(body["event_ids"]) == 1 and body["unknown_items"] == []
    # History is now a, b/c, ü/ß 🎬 -> d"q, then e.
    assert _ids(client.get(f"/v1/users/{_path(EMOJI)}/recommendations?k=3")) == ['d"q', "e"]


def test_new_user_becomes_known_and_unknown_items_are_stored(client: TestClient) -> None:
    events = [
        {"user_id": "newbie", "item_id": "a", "timestamp": 10.0},
        {"user_id": "newbie", "item_id": "brand-new", "weight": 2.5},
    ]
    body = client.post("/v1/events", json=events).json()
    assert body["accepted"] == 2 and body["new_users"] == ["newbie"]
    assert body["unknown_items"] == ["brand-new"] and "cannot be recommended" in body["note"]
    recs = client.get("/v1/users/newbie/recommendations?k=2").json()
    assert recs["known_user"] is True and recs["fallback"] is None
    assert [e["item_id"] for e in recs["items"]] == ["b/c", EMOJI]
    stored = client.get("/v1/users/newbie/events").json()["events"]
    assert [(e["item_id"], e["weight"]) for e in stored] == [("a", 1.0), ("brand-new", 2.5)]
    assert stored[0]["timestamp"] == 10.0 and stored[0]["event_id"] == body["event_ids"][0]


def test_user_with_only_unknown_items_still_gets_popularity(client: TestClient) -> None:
    client.post("/v1/events", json={"user_id": "z", "item_id": "unheard-of"})
    body = client.get("/v1/users/z/recommendations?k=1").json()
    assert body["known_user"] is True and body["fallback"] == "popularity"


@pytest.mark.parametrize(
    "payload",
    [
        {"user_id": "u", "item_id": "a", "weight": 0},
        {"user_id": "u", "item_id": "a", "weight": -1},
        {"user_id": "u", "item_id": "a", "timestamp": "yesterday"},
        b'{"user_id": "u", "item_id": "a", "timestamp": Infinity}',
        b'{"user_id": "u", "item_id": "a", "weight": NaN}',
        {"user_id": "u", "item_id": ""},
        {"user_id": 7, "item_id": "a"},
        {"user_id": "u"},
        b'{"user_id": "u", "item_id": "\\ud800"}',
        {"user_id": "u", "item_id": "a", "colour": "red"},
        [],
        [{"user_id": "u", "item_id": "a"}] * 1001,
    ],
)
def test_invalid_events_are_refused_and_not_stored(client: TestClient, payload) -> None:
    if isinstance(payload, bytes):
        headers = {"content-type": "application/json"}
        response = client.post("/v1/events", content=payload, headers=headers)
    else:
        response = client.post("/v1/events", json=payload)
    _error(response, 422, "invalid_request")
    assert client.get("/readyz").json()["events"] == 0


def test_events_listing_validates_limit(client: TestClient) -> None:
    _error(client.get("/v1/users/u/events?limit=0"), 422, "invalid_request")
    assert client.get("/v1/users/u/events").json() == {"user_id": "u", "events": []}


# ---- health, readiness, metrics ---------------------------------------------------------


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and len(ready["model"]) == 16


def test_readiness_fails_when_the_event_store_is_gone(client: TestClient) -> None:
    client.app.state.serving.events.close()
    _error(client.get("/readyz"), 503, "not_ready")


def test_metrics_count_requests_by_endpoint_and_status(client: TestClient) -> None:
    client.get("/v1/users/u2/recommendations")
    client.get("/v1/users/u2/recommendations")
    client.get("/v1/users/u2/recommendations?k=0")
    client.get("/no/such/route")
    text = client.get("/metrics").text
    route = 'endpoint="/v1/users/{user_id:path}/recommendations"'
    assert f'recfusion_http_requests_total{{{route},method="GET",status="200"}} 2' in text
    assert f'recfusion_http_requests_total{{{route},method="GET",status="422"}} 1' in text
    assert 'endpoint="unmatched",method="GET",status="404"} 1' in text
    assert f"recfusion_http_request_duration_seconds_count{{{route}}} 3" in text
    assert f'recfusion_http_request_duration_seconds_bucket{{{route},le="+Inf"}} 3' in text
    assert "# TYPE recfusion_http_request_duration_seconds histogram" in text
    assert 'recfusion_model_info{bundle_id="' in text


# ---- generic HTTP errors, API key, body limit -------------------------------------------


def test_unknown_route_and_wrong_method_use_the_error_body(client: TestClient) -> None:
    _error(client.get("/v2/anything"), 404, "not_found")
    _error(client.delete("/v1/events"), 405, "method_not_allowed")


def test_internal_errors_use_the_error_body(model: Path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(_scoring, "similar_items", broken)
    state = ServingState(ServingSettings(model=model))
    with TestClient(create_app(state), raise_server_exceptions=False) as test_client:
        _error(test_client.get("/v1/items/a/similar"), 500, "internal_error")
        text = test_client.get("/metrics").text
    assert 'endpoint="/v1/items/{item_id:path}/similar",method="GET",status="500"} 1' in text


def test_api_key_is_required_except_for_health(model: Path) -> None:
    with _client(model, api_key="s3cret") as test_client:
        _error(test_client.get("/v1/users/u2/recommendations"), 401, "unauthorized")
        wrong = {"X-API-Key": "guess"}
        _error(test_client.get("/metrics", headers=wrong), 401, "unauthorized")
        _error(test_client.post("/admin/reload", headers=wrong), 401, "unauthorized")
        ok = test_client.get("/v1/users/u2/recommendations", headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 200
        assert test_client.get("/healthz").status_code == 200
        assert test_client.get("/readyz").status_code == 200


def test_api_key_comes_from_the_environment(model: Path, monkeypatch) -> None:
    monkeypatch.setenv("RECFUSION_API_KEY", "from-env")
    assert ServingSettings.from_env(model).api_key == "from-env"
    monkeypatch.setenv("RECFUSION_API_KEY", "")
    assert ServingSettings.from_env(model).api_key is None


def test_oversized_bodies_get_413(model: Path) -> None:
    with _client(model, max_body_bytes=200) as test_client:
        big = {"items": ["a"] * 100}
        _error(test_client.post("/v1/recommendations", json=big), 413, "payload_too_large")

        def chunks():
            yield b'{"items": ['
            for _ in range(100):
                yield b'"a",'
            yield b'"a"]}'

        # Streamed without Content-Length: the limit still applies to the bytes read.
        streamed = test_client.post(
            "/v1/recommendations", content=chunks(), headers={"content-type": "application/json"}
        )
        _error(streamed, 413, "payload_too_large")
        small = test_client.post("/v1/recommendations", json={"items": ["a"], "k": 1})
        assert small.status_code == 200


# ---- reload -------------------------------------------------------------------------------


def test_reload_swaps_the_bundle(client: TestClient, model: Path) -> None:
    old = client.get("/readyz").json()["model"]
    log = random_log()
    save_bundle(model, build_recommender(log), log)
    body = client.post("/admin/reload").json()
    assert body["previous"] == old and body["model"] != old
    assert client.get("/v1/users/user-0/recommendations").json()["known_user"] is True


def test_failed_reload_keeps_serving_the_old_bundle(client: TestClient, model: Path) -> None:
    old = client.get("/readyz").json()["model"]
    (model / "history" / "items.npy").write_bytes(b"garbage")
    message = _error(client.post("/admin/reload"), 409, "bundle_invalid")
    assert "history/items.npy" in message and "still serving the previous bundle" in message
    assert client.get("/v1/users/u2/recommendations").json()["model"] == old


def test_request_in_flight_finishes_on_the_bundle_it_started_with(
    model: Path, monkeypatch
) -> None:
    """Guards against a handler reading the bundle reference twice (a mixed answer).

    The bundle is swapped from another thread, as SIGHUP does, while a request is inside
    scoring (recommendation handlers run on the event loop, so an HTTP reload would only
    start after the request).
    """
    started, release = threading.Event(), threading.Event()
    original = _scoring.recommend_history

    def slow(bundle, history, k, user_index=None):
        started.set()
        assert release.wait(10)
        return original(bundle, history, k, user_index)

    state = ServingState(ServingSettings(model=model))
    with TestClient(create_app(state)) as client:
        monkeypatch.setattr(_scoring, "recommend_history", slow)
        old = client.get("/readyz").json()["model"]
        result: dict = {}
        worker = threading.Thread(
            target=lambda: result.update(client.get("/v1/users/u2/recommendations?k=2").json())
        )
        worker.start()
        assert started.wait(10)
        log = random_log()
        save_bundle(model, build_recommender(log), log)
        state.reload()
        release.set()
        worker.join(10)
        # The old toy model: u2 saw a, ü/ß 🎬, d"q -> b/c, e; the new model has no user u2.
        new = client.get("/readyz").json()["model"]
        assert result["model"] == old != new
        assert [e["item_id"] for e in result["items"]] == ["b/c", "e"]
        monkeypatch.setattr(_scoring, "recommend_history", original)
        after = client.get("/v1/users/u2/recommendations").json()
        assert after["model"] == new and after["fallback"] == "popularity"
