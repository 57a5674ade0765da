"""Fake Resend API: `POST /emails` with Bearer auth, field validation and `Idempotency-Key`.

Errors use Resend's shape `{"statusCode", "name", "message"}` and its names and statuses
(resend.com/docs/api-reference/errors): 401 `missing_api_key`, 403 `invalid_api_key`,
422 `missing_required_field` / `validation_error`, 400 `invalid_idempotency_key`,
409 `invalid_idempotent_request`, 429 `rate_limit_exceeded`, 500 `application_error`.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

IDEMPOTENCY_TTL_S = 24 * 3600
MAX_RECIPIENTS = 50
_ADDRESS = re.compile(r"^(?:[^<>]*<\s*)?[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+(?:\s*>)?$")
_ERROR_NAMES = {429: "rate_limit_exceeded", 500: "application_error", 503: "application_error"}


@dataclass(frozen=True)
class SentEmail:
    id: str
    payload: dict[str, Any]
    headers: dict[str, str]
    idempotency_key: str | None


@dataclass(frozen=True)
class ResendRequest:
    """One `POST /emails` as received, with the answer the fake gave."""

    headers: dict[str, str]
    body: bytes
    status: int
    response: dict[str, Any]


@dataclass(frozen=True)
class _Stored:
    payload: dict[str, Any]
    response: dict[str, Any]
    at: float


@dataclass
class _State:
    emails: list[SentEmail] = field(default_factory=list)
    requests: list[ResendRequest] = field(default_factory=list)
    idempotency: dict[str, _Stored] = field(default_factory=dict)
    failures: deque[int] = field(default_factory=deque)


def resend_error(status: int, name: str, message: str) -> JSONResponse:
    return JSONResponse({"statusCode": status, "name": name, "message": message}, status_code=status)


class FakeResend:
    """Resend fake; `clock` (seconds) lets a test move past the 24 h idempotency window."""

    def __init__(self, api_key: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.api_key = api_key
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _State()
        self.routes = [Route("/emails", self._send, methods=["POST"])]
        self.app = Starlette(routes=self.routes)

    @property
    def emails(self) -> list[SentEmail]:
        """Emails actually sent (idempotent replays are not sent again)."""
        with self._lock:
            return list(self._state.emails)

    @property
    def requests(self) -> list[ResendRequest]:
        with self._lock:
            return list(self._state.requests)

    def fail_next(self, n: int, status: int) -> None:
        """Answer the next `n` authorized sends with this error (429 carries `retry-after: 1`)."""
        with self._lock:
            self._state.failures.extend([status] * n)

    async def _send(self, request: Request) -> JSONResponse:
        body = await request.body()
        response = self._answer(request, body)
        with self._lock:
            self._state.requests.append(
                ResendRequest(dict(request.headers), body, response.status_code, json.loads(bytes(response.body)))
            )
        return response

    def _answer(self, request: Request, body: bytes) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return resend_error(401, "missing_api_key", "Missing API key in the authorization header.")
        if auth.removeprefix("Bearer ").strip() != self.api_key:
            return resend_error(403, "invalid_api_key", "API key is invalid.")
        failure = self._take_failure()
        if failure:
            return failure
        try:
            payload = json.loads(body)
        except ValueError:
            return resend_error(400, "validation_error", "Invalid JSON body.")
        invalid = (
            _validate(payload)
            if isinstance(payload, dict)
            else resend_error(422, "validation_error", "The request body must be a JSON object.")
        )
        if invalid:
            return invalid
        key = request.headers.get("idempotency-key")
        if key is None:
            with self._lock:
                return self._deliver_locked(payload, request, None)
        if not 1 <= len(key) <= 256:
            return resend_error(400, "invalid_idempotency_key", "The key must be between 1-256 chars.")
        return self._deliver_once(payload, request, key)

    def _take_failure(self) -> JSONResponse | None:
        with self._lock:
            status = self._state.failures.popleft() if self._state.failures else None
        if status is None:
            return None
        response = resend_error(status, _ERROR_NAMES.get(status, "application_error"), f"Injected {status}.")
        if status == 429:
            response.headers["retry-after"] = "1"
        return response

    def _deliver_once(self, payload: dict[str, Any], request: Request, key: str) -> JSONResponse:
        with self._lock:
            stored = self._state.idempotency.get(key)
            if stored and self._clock() - stored.at > IDEMPOTENCY_TTL_S:
                stored = None
            if stored and stored.payload != payload:
                return resend_error(
                    409, "invalid_idempotent_request", "Same idempotency key used with a different request payload."
                )
            if stored:
                return JSONResponse(stored.response)
            response = self._deliver_locked(payload, request, key)
            self._state.idempotency[key] = _Stored(payload, json.loads(bytes(response.body)), self._clock())
            return response

    def _deliver_locked(self, payload: dict[str, Any], request: Request, key: str | None) -> JSONResponse:
        email_id = str(uuid.uuid4())
        self._state.emails.append(SentEmail(email_id, payload, dict(request.headers), key))
        return JSONResponse({"id": email_id})


def _validate(payload: dict[str, Any]) -> JSONResponse | None:
    for name in ("from", "to", "subject"):
        if not payload.get(name):
            return resend_error(422, "missing_required_field", f"Missing `{name}` field.")
    if not any(payload.get(name) for name in ("html", "text", "react", "template")):
        return resend_error(422, "missing_required_field", "Missing `html` or `text` field.")
    recipients = payload["to"] if isinstance(payload["to"], list) else [payload["to"]]
    if len(recipients) > MAX_RECIPIENTS:
        return resend_error(422, "validation_error", f"Too many recipients in `to`: at most {MAX_RECIPIENTS}.")
    for name, addresses in (("from", [payload["from"]]), ("to", recipients)):
        if not all(isinstance(a, str) and _ADDRESS.match(a) for a in addresses):
            return resend_error(
                422,
                "validation_error",
                f"Invalid `{name}` field. The email address needs to follow the `email@example.com` or "
                "`Name <email@example.com>` format.",
            )
    return None
