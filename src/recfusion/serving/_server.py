"""Run the HTTP API on uvicorn in this process, with SIGHUP reloading the bundle."""

from __future__ import annotations

import logging
import signal

from recfusion.serving._app import create_app
from recfusion.serving._state import ServingSettings, ServingState

logger = logging.getLogger(__name__)


def serve(
    settings: ServingSettings, host: str = "127.0.0.1", port: int = 8000,
    log_level: str = "info",
) -> None:
    """Load the bundle and the event store, then serve until SIGINT or SIGTERM.

    One worker process with uvicorn's thread pool; no access log (requests are counted in
    ``/metrics`` instead). SIGHUP reloads the bundle like ``POST /admin/reload``.
    """
    import uvicorn

    state = ServingState(settings)
    app = create_app(state)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda _signum, _frame: state.reload_in_background())
    logger.info(
        "serving bundle %s on http://%s:%d (events in %s, API key %s)",
        state.bundle.bundle_id, host, port, settings.events_path,
        "required" if settings.api_key else "not required",
    )
    uvicorn.run(
        app, host=host, port=port, access_log=False, log_level=log_level, log_config=None,
        timeout_graceful_shutdown=10,
    )


__all__ = ["serve"]
