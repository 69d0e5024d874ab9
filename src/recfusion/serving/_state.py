"""Settings and the mutable state of one server process: the current bundle and the events."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from recfusion.serving._bundle import Bundle, load_bundle
from recfusion.serving._events import EventStore
from recfusion.serving._metrics import Metrics

logger = logging.getLogger(__name__)

#: Environment variable holding the API key; when set, requests need header ``X-API-Key``.
API_KEY_ENV = "RECFUSION_API_KEY"
#: Largest ``k`` accepted by the recommendation and similar-items endpoints.
MAX_K = 1000
#: Most item ids in one session request and most events in one ``POST /v1/events``.
MAX_ITEMS = 1000
#: Longest accepted user or item id, in characters.
MAX_ID_LENGTH = 1024
#: Default request body limit in bytes (1 MiB); larger bodies get 413.
MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class ServingSettings:
    """How a server is set up.

    Parameters
    ----------
    model : Path
        Bundle directory; ``POST /admin/reload`` and SIGHUP reload from the same path.
    events : Path or None
        SQLite event database; None means ``events.sqlite3`` beside the bundle directory
        (outside it, because a new bundle replaces the whole directory).
    api_key : str or None
        Required value of header ``X-API-Key`` (health endpoints exempt); None disables.
    max_body_bytes : int
        Request bodies above this size are refused with 413 (default 1 MiB).
    """

    model: Path
    events: Path | None = None
    api_key: str | None = field(default=None, repr=False)
    max_body_bytes: int = MAX_BODY_BYTES

    @classmethod
    def from_env(cls, model: Path, events: Path | None = None, **extra: int) -> ServingSettings:
        """Settings with the API key taken from ``RECFUSION_API_KEY`` (empty means none)."""
        key = os.environ.get(API_KEY_ENV) or None
        return cls(model=Path(model), events=events, api_key=key, **extra)

    @property
    def events_path(self) -> Path:
        if self.events is not None:
            return Path(self.events)
        model = Path(self.model).resolve()
        return model.parent / "events.sqlite3"


class ServingState:
    """The current bundle (swapped whole on reload), the event store and the metrics.

    Handlers read :attr:`bundle` exactly once per request and use only that object, so a
    reload never mixes two models in one answer; requests already running finish on the
    bundle they started with.
    """

    def __init__(self, settings: ServingSettings) -> None:
        self.settings = settings
        self.bundle: Bundle = load_bundle(Path(settings.model))
        self.events = EventStore(settings.events_path)
        self.metrics = Metrics()
        self.reloads = 0
        self.loaded_at = time.time()
        self._reload_lock = threading.Lock()
        self._register_gauges()

    def reload(self) -> tuple[str, str, float]:
        """Load the bundle again from ``settings.model`` and swap it in.

        Returns (previous bundle id, new bundle id, seconds). On any error the current
        bundle stays in service and the error propagates.
        """
        with self._reload_lock:
            started = time.perf_counter()
            previous = self.bundle.bundle_id
            fresh = load_bundle(Path(self.settings.model))
            self.bundle = fresh
            self.reloads += 1
            self.loaded_at = time.time()
            seconds = time.perf_counter() - started
        logger.info("reloaded bundle %s -> %s in %.2f s", previous, fresh.bundle_id, seconds)
        return previous, fresh.bundle_id, seconds

    def reload_in_background(self) -> threading.Thread:
        """Start a reload on a daemon thread (used by the SIGHUP handler); errors are logged."""
        thread = threading.Thread(target=self._reload_logged, name="recfusion-reload", daemon=True)
        thread.start()
        return thread

    def _reload_logged(self) -> None:
        try:
            self.reload()
        except Exception:
            logger.exception("reload of %s failed; keeping the current bundle",
                             self.settings.model)

    def _register_gauges(self) -> None:
        self.metrics.gauge(
            "recfusion_model_info", "The bundle in service (value 1).",
            lambda: [({"bundle_id": self.bundle.bundle_id}, 1.0)],
        )
        self.metrics.gauge(
            "recfusion_model_reloads", "Successful bundle reloads since start.",
            lambda: [({}, float(self.reloads))],
        )
        self.metrics.gauge(
            "recfusion_events_stored", "Events in the event store.",
            lambda: [({}, float(self.events.count))],
        )

    def close(self) -> None:
        self.events.close()


__all__ = [
    "API_KEY_ENV",
    "MAX_BODY_BYTES",
    "MAX_ID_LENGTH",
    "MAX_ITEMS",
    "MAX_K",
    "ServingSettings",
    "ServingState",
]
