"""Pure ASGI middleware for every HTTP request (so streaming stays intact): request ids, access logs and
HTTP metrics; and the bound on request bodies, enforced before a body is read."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import ApiError, error_response
from server.logs import request_id_var
from server.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = logging.getLogger("coach.http")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
            log.info(
                "request",
                extra={"method": scope["method"], "route": route, "status": status, "ms": round(elapsed * 1000, 2)},
            )
            request_id_var.reset(token)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")[:64]
            return text if text.replace("-", "").isalnum() else None
    return None


def _route_template(scope: Scope) -> str:
    """The route's path template (bounded label cardinality), never the raw path."""
    app = scope.get("app")
    for route in getattr(getattr(app, "router", None), "routes", []):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return getattr(route, "path", "unmatched")
    return "unmatched"


class BodyTooLarge(ApiError):
    """A request body over its route family's bound: 413 with the API's error shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, "PAYLOAD_TOO_LARGE", f"request body is larger than {limit} bytes", details={"limit_bytes": limit})


class BodyLimitMiddleware:
    """Bound every request body before any of it is read, for every route, present and future.

    A Content-Length over the bound is answered 413 at once and the app never runs. A body without one
    (chunked) is counted as the app receives it; the chunk that crosses the bound raises `BodyTooLarge`
    instead of being handed over, which the app's ApiError handler answers with 413. Either way the
    response closes the connection, so the server stops receiving the rest.
    `limits` maps a path prefix to its bound (the first prefix that matches wins); `default` covers the rest.
    """

    def __init__(self, app: ASGIApp, limits: dict[str, int], default: int) -> None:
        self.app = app
        self.limits = limits
        self.default = default

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.limits.items() if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is None:
            await _refuse(scope, receive, send, error_response(400, "INVALID_ARGUMENT", "Content-Length is not a number"))
            return
        if declared > limit:
            await _refuse(scope, receive, send, BodyTooLarge(limit).to_response())
            return
        received = 0
        refused = False

        async def bounded_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise BodyTooLarge(limit)
            return message

        async def send_closing(message: Message) -> None:
            if refused and message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"connection", b"close"))
            await send(message)

        await self.app(scope, bounded_receive, send_closing)


def _content_length(scope: Scope) -> int | None:
    """The declared body size (0 when there is none); None when a Content-Length is not a number."""
    declared = 0
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            if not value.isdigit():
                return None
            declared = max(declared, int(value))
    return declared


async def _refuse(scope: Scope, receive: Receive, send: Send, response: Response) -> None:
    """Answer without reading the body, and close the connection rather than read what is still coming."""
    response.headers["connection"] = "close"
    await response(scope, receive, send)


class NoNulInUrlMiddleware:
    """Refuse (400) a URL whose path or query carries a NUL character: no route has a use for one, and
    PostgreSQL refuses it in text, so a route that looked it up would fail with a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and ("\x00" in scope["path"] or b"%00" in scope["query_string"]):
            if scope["type"] == "http":
                await error_response(400, "INVALID_ARGUMENT", "the URL contains a NUL character")(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "media-src 'self' blob:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeadersMiddleware:
    """Every HTTP response says: only this site's own scripts, styles and connections (no inline script, so an
    injected `<script>` cannot run), never in a frame, no MIME sniffing, no referrer to other sites."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).extend(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
