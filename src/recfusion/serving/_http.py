"""HTTP plumbing: JSON error bodies, and one ASGI middleware for auth, body limit and metrics."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.routing import Match

from recfusion.serving._metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths that never need the API key (liveness and readiness probes).
PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ApiError(Exception):
    """An error answered as ``{"error": {"code": ..., "message": ...}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The JSON error envelope of every non-2xx answer."""
    return {"error": {"code": code, "message": message}}


class ServingMiddleware:
    """Checks the API key and the body size, then times and counts every request.

    Parameters
    ----------
    app : ASGI app
        The wrapped application.
    metrics : Metrics
        Receives (endpoint template, method, status, seconds) of every HTTP request.
    api_key : str or None
        Required ``X-API-Key`` value except on :data:`PUBLIC_PATHS`; None disables.
    max_body_bytes : int
        Larger bodies (by ``Content-Length`` or as streamed) get 413 before the app runs.
    routes : callable returning the app's routes
        Used to name the endpoint of requests refused before routing.
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        api_key: str | None,
        max_body_bytes: int,
        routes: Callable[[], list[Any]],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.api_key = api_key.encode("utf-8") if api_key else None
        self.max_body_bytes = max_body_bytes
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self._handle(scope, receive, send_and_record)
        finally:
            self.metrics.observe(
                self._endpoint(scope), scope["method"], status[0], time.perf_counter() - started
            )

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._authorised(scope):
            await send_json(send, 401, error_body(
                "unauthorized", "missing or wrong X-API-Key header (the server requires a key)"
            ))
            return
        if scope["method"] in _BODY_METHODS:
            body = await self._read_body(scope, receive)
            if body is None:
                await send_json(send, 413, error_body(
                    "payload_too_large",
                    f"request body exceeds the limit of {self.max_body_bytes} bytes",
                ))
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        if self.api_key is None or scope["path"] in PUBLIC_PATHS:
            return True
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                return hmac.compare_digest(value, self.api_key)
        return False

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it is known to exceed the limit."""
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                if int(value) > self.max_body_bytes:
                    return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _endpoint(self, scope: Scope) -> str:
        """The route template that served (or would have served) the request."""
        route = scope.get("route")
        if route is not None:
            return str(getattr(route, "path", "unmatched"))
        for candidate in self.routes():
            match, _ = candidate.matches(scope)
            if match == Match.FULL:
                return str(candidate.path)
        return "unmatched"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that yields ``body`` once, then defers to ``receive``."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_json(send: Send, status: int, content: dict[str, Any]) -> None:
    """Send a complete JSON response through a raw ASGI ``send``."""
    payload = json.dumps(content, ensure_ascii=False).encode("utf-8")
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode("ascii")),
        ],
    })
    await send({"type": "http.response.body", "body": payload})


__all__ = ["ApiError", "PUBLIC_PATHS", "ServingMiddleware", "error_body", "send_json"]
