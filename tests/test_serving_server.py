"""The real server: uvicorn in a subprocess on a loopback port, spoken to over HTTP.

Includes the crash test: events are posted in a loop, the server is killed with SIGKILL
mid-stream and restarted on the same SQLite file, and every acknowledged event must be
there. Each test starts its own processes and stops them by their pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from test_serving_support import build_recommender, free_port, random_log, toy_log

from recfusion.serving import save_bundle

SUPPORT = Path(__file__).with_name("test_serving_support.py")
STARTUP_SECONDS = 90.0
EMOJI = "ü/ß 🎬"

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def server(model: Path, events: Path, env: dict[str, str] | None = None) -> Iterator[tuple]:
    """Start ``recfusion serve`` (with the test fuser hook) and yield (process, base url)."""
    port = free_port()
    command = [
        sys.executable, str(SUPPORT), "serve", "--model", str(model), "--events", str(events),
        "--host", "127.0.0.1", "--port", str(port), "-q",
    ]
    process = subprocess.Popen(
        command, env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, base)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        if process.stderr is not None:
            process.stderr.close()


def _wait_healthy(process: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
            raise AssertionError(f"server exited with {process.returncode}: {error}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"server at {base} not healthy after {STARTUP_SECONDS} s")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    log = toy_log()
    return save_bundle(tmp_path / "model", build_recommender(log), log)


def test_real_server_serves_reloads_on_sighup_and_stops(model: Path, tmp_path: Path) -> None:
    key = {"X-API-Key": "k3y"}
    with server(model, tmp_path / "events.sqlite3", env={"RECFUSION_API_KEY": "k3y"}) as (
        process, base,
    ):
        with httpx.Client(base_url=base, timeout=10.0) as http:
            assert http.get("/v1/users/u2/recommendations").status_code == 401
            url = f"/v1/users/{quote(EMOJI, safe='')}/recommendations"
            body = http.get(url, params={"k": 2}, headers=key).json()
            # Saw a, b/c -> ü/ß 🎬 (2 users), d"q (1 user).
            assert body["user_id"] == EMOJI
            assert [e["item_id"] for e in body["items"]] == [EMOJI, 'd"q']
            posted = http.post("/v1/events", json={"user_id": EMOJI, "item_id": EMOJI},
                               headers=key)
            assert posted.status_code == 201
            after = http.get(url, params={"k": 2}, headers=key).json()
            assert [e["item_id"] for e in after["items"]] == ['d"q', "e"]
            old = http.get("/readyz").json()["model"]
            log = random_log()
            save_bundle(model, build_recommender(log), log)
            process.send_signal(signal.SIGHUP)
            assert _wait_for_model_change(http, old), "SIGHUP did not reload the bundle"
            metrics = http.get("/metrics", headers=key).text
            assert 'status="401"} 1' in metrics and "recfusion_model_reloads 1" in metrics
        process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal after its graceful shutdown, hence -SIGTERM.
        assert process.wait(30) in (0, -signal.SIGTERM)
    # Closing the last connection checkpoints and removes the WAL file: shutdown ran.
    assert not (tmp_path / "events.sqlite3-wal").exists()


def _wait_for_model_change(http: httpx.Client, old: str) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if http.get("/readyz").json()["model"] != old:
            return True
        time.sleep(0.1)
    return False


class _Poster(threading.Thread):
    """Posts one event per request until the server stops answering; records the acks."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.acknowledged: dict[int, str] = {}

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=5.0) as http:
            for n in range(100_000):
                item = "a" if n % 10 == 0 else f"live-{n}"
                try:
                    response = http.post(
                        "/v1/events", json={"user_id": "crash-user", "item_id": item}
                    )
                except httpx.TransportError:
                    return
                if response.status_code == 201:
                    self.acknowledged[response.json()["event_ids"][0]] = item


def test_acknowledged_events_survive_kill_9(model: Path, tmp_path: Path) -> None:
    database = tmp_path / "events.sqlite3"
    with server(model, database) as (process, base):
        poster = _Poster(base)
        poster.start()
        deadline = time.monotonic() + 60
        while len(poster.acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        poster.join(30)
        process.wait(30)
    acknowledged = dict(poster.acknowledged)
    assert len(acknowledged) >= 40, "too few events were acknowledged before the kill"
    with server(model, database) as (_process, base):
        with httpx.Client(base_url=base, timeout=10.0) as http:
            listed = http.get("/v1/users/crash-user/events", params={"limit": 10_000}).json()
            recs = http.get("/v1/users/crash-user/recommendations", params={"k": 4}).json()
    stored = {e["event_id"]: e["item_id"] for e in listed["events"]}
    missing = {seq: item for seq, item in acknowledged.items() if stored.get(seq) != item}
    assert not missing, f"acknowledged events lost after kill -9: {sorted(missing)[:10]}"
    # The acknowledged event on item "a" is part of the restarted server's history.
    assert "a" not in [e["item_id"] for e in recs["items"]] and recs["fallback"] is None
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] >= len(acknowledged)
