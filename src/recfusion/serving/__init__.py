"""Serving: model bundles, batch scoring and the HTTP API with live events."""

from recfusion.serving._app import EventIn, SessionRequest, create_app
from recfusion.serving._batch import BatchSummary, read_user_ids, recommend_file, score_users
from recfusion.serving._bundle import FORMAT_VERSION, Bundle, load_bundle, save_bundle
from recfusion.serving._events import Event, EventStore
from recfusion.serving._metrics import Metrics
from recfusion.serving._scoring import (
    COOCCURRENCE,
    POPULARITY,
    History,
    Ranked,
    popular,
    recommend_history,
    session_history,
    similar_items,
    user_history,
)
from recfusion.serving._server import serve
from recfusion.serving._state import (
    API_KEY_ENV,
    MAX_BODY_BYTES,
    MAX_ID_LENGTH,
    MAX_ITEMS,
    MAX_K,
    ServingSettings,
    ServingState,
)
from recfusion.serving._train import train_bundle

__all__ = sorted(
    [
        "API_KEY_ENV",
        "BatchSummary",
        "Bundle",
        "COOCCURRENCE",
        "Event",
        "EventIn",
        "EventStore",
        "FORMAT_VERSION",
        "History",
        "MAX_BODY_BYTES",
        "MAX_ID_LENGTH",
        "MAX_ITEMS",
        "MAX_K",
        "Metrics",
        "POPULARITY",
        "Ranked",
        "ServingSettings",
        "ServingState",
        "SessionRequest",
        "create_app",
        "load_bundle",
        "popular",
        "read_user_ids",
        "recommend_file",
        "recommend_history",
        "save_bundle",
        "score_users",
        "serve",
        "session_history",
        "similar_items",
        "train_bundle",
        "user_history",
    ]
)
