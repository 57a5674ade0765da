"""Fake Twilio REST API (2010-04-01): create and list messages, create, list and update calls.

Point the production client at it with `tools.channels.twilio_client.build_twilio_client(sid, token,
base_url)`. Answers use Twilio's resource JSON and its legacy error JSON
`{"code", "message", "more_info", "status"}`, which twilio-python raises as `TwilioRestException`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_VERSION = "2010-04-01"

FailingKind = Literal["create", "list"]
"""The requests an injected failure can hit: creates (POST Messages.json / Calls.json) or lists (GET)."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received, with the answer the fake gave."""

    method: str
    path: str
    form: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    response: dict[str, Any]
    created: bool
    """Whether the request created its resource (also when its answer was "lost", see `lose_next_answers`)."""

    def param(self, name: str) -> str | None:
        """First value of a form field (Twilio names: `To`, `Body`, `StatusCallbackEvent`...)."""
        values = self.form.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class _Failure:
    status: int
    code: int
    message: str
    after_create: bool = False
    hang_s: float = 0.0


@dataclass
class _State:
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[FailingKind, deque[_Failure]] = field(default_factory=lambda: {"create": deque(), "list": deque()})


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
        status_code=status,
    )


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


class FakeTwilioAPI:
    """Twilio REST fake checking HTTP Basic auth (account SID + auth token) and recording requests."""

    def __init__(self, account_sid: str, auth_token: str, delay_s: float = 0.0) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.delay_s = delay_s
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        """Twilio's clock, for `date_created` and the like: a test may share its own clock with the fake."""
        self._lock = threading.Lock()
        self._state = _State()
        prefix = f"/{API_VERSION}/Accounts/{{account}}"
        self.routes = [
            Route(f"{prefix}/Messages.json", self._create_message, methods=["POST"]),
            Route(f"{prefix}/Messages.json", self._list_messages, methods=["GET"]),
            Route(f"{prefix}/Calls.json", self._create_call, methods=["POST"]),
            Route(f"{prefix}/Calls.json", self._list_calls, methods=["GET"]),
            Route(f"{prefix}/Calls/{{call_sid}}.json", self._update_call, methods=["POST"]),
        ]
        self.app = Starlette(routes=self.routes)

    def fail_next(
        self, n: int, status: int, code: int | None = None, message: str = "Injected failure",
        *, kind: FailingKind = "create",
    ) -> None:
        """Answer the next `n` requests of `kind` (creates or lists, of messages or calls) with this error instead.

        `code` defaults to Twilio's generic code for the status (20429, 20500, 20503...).
        """
        failure = _Failure(status, code if code is not None else 20000 + status, message)
        with self._lock:
            self._state.failures[kind].extend([failure] * n)

    def lose_next_answers(self, n: int, status: int = 500, hang_s: float = 0.0) -> None:
        """The next `n` creates do create their message or call, then wait `hang_s` (longer than the client's
        timeout: no answer at all) and answer `status`, as if the answer was lost on the way back (Twilio takes
        no idempotency key: a blind retry would send twice)."""
        failure = _Failure(status, 20000 + status, "Injected failure after the resource was created", True, hang_s)
        with self._lock:
            self._state.failures["create"].extend([failure] * n)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, including rejected ones, in arrival order."""
        with self._lock:
            return list(self._state.requests)

    @property
    def messages(self) -> list[RecordedRequest]:
        """Message creates that created a message."""
        return self._created("/Messages.json")

    @property
    def calls(self) -> list[RecordedRequest]:
        """Call creates that created a call."""
        return self._created("/Calls.json")

    @property
    def call_updates(self) -> list[RecordedRequest]:
        """Successful call updates (`POST .../Calls/{CallSid}.json`)."""
        return [r for r in self.requests if "/Calls/" in r.path and r.status < 300]

    def _created(self, suffix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith(suffix) and r.created]

    async def _handle(
        self, request: Request, action: Callable[[dict[str, list[str]]], JSONResponse],
        kind: FailingKind | Literal["update"],
    ) -> JSONResponse:
        """Common path: delay, auth, injected failure (creates and lists), record; `action(form)` answers."""
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        form = parse_qs((await request.body()).decode(), keep_blank_values=True)
        hang_s = 0.0
        if not self._authorized(request):
            response, created = twilio_error(401, 20003, "Authenticate"), False
        elif request.path_params["account"] != self.account_sid:
            response = twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")
            created = False
        elif kind != "update" and (failure := self._take_failure(kind)):
            created = failure.after_create and action(form).status_code < 300
            response, hang_s = twilio_error(failure.status, failure.code, failure.message), failure.hang_s
        else:
            response = action(form)
            created = kind == "create" and response.status_code < 300
        self._record(request, form, response, created)
        if hang_s:
            await asyncio.sleep(hang_s)  # recorded first: the test sees the create while the answer is "lost"
        return response

    def _authorized(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return (user, password) == (self.account_sid, self.auth_token)

    def _record(self, request: Request, form: dict[str, list[str]], response: JSONResponse, created: bool) -> None:
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            form=form,
            headers=dict(request.headers),
            status=response.status_code,
            response=json.loads(bytes(response.body)),
            created=created,
        )
        with self._lock:
            self._state.requests.append(recorded)

    def _take_failure(self, kind: FailingKind) -> _Failure | None:
        with self._lock:
            failures = self._state.failures[kind]
            return failures.popleft() if failures else None

    async def _create_message(self, request: Request) -> JSONResponse:
        return await self._handle(request, self._message_created, kind="create")

    async def _create_call(self, request: Request) -> JSONResponse:
        return await self._handle(request, self._call_created, kind="create")

    async def _list_messages(self, request: Request) -> JSONResponse:
        messages = self._state.messages
        return await self._handle(request, lambda _: self._listed(request, "messages", messages), kind="list")

    async def _list_calls(self, request: Request) -> JSONResponse:
        return await self._handle(request, lambda _: self._listed(request, "calls", self._state.calls), kind="list")

    def _listed(self, request: Request, key: str, resources: dict[str, dict[str, Any]]) -> JSONResponse:
        """One page, newest first, filtered by the `To` and `From` query parameters as Twilio does."""
        query = request.query_params
        page_size = int(query.get("PageSize", "50"))
        with self._lock:
            matching = [
                dict(resource)
                for resource in reversed(resources.values())
                if all(query.get(name) in (None, resource[name.lower()]) for name in ("To", "From"))
            ][:page_size]
        uri = f"{request.url.path}?{request.url.query}"
        return JSONResponse({
            key: matching, "end": max(0, len(matching) - 1), "first_page_uri": uri, "next_page_uri": None,
            "page": 0, "page_size": page_size, "previous_page_uri": None, "start": 0, "uri": uri,
        })

    async def _update_call(self, request: Request) -> JSONResponse:
        call_sid = request.path_params["call_sid"]
        return await self._handle(request, lambda form: self._call_updated(call_sid, form), kind="update")

    def _message_created(self, form: dict[str, list[str]]) -> JSONResponse:
        first = {name: values[0] for name, values in form.items()}
        if "To" not in first:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if "From" not in first and "MessagingServiceSid" not in first:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not first.get("Body") and "MediaUrl" not in first and "ContentSid" not in first:
            return twilio_error(400, 21602, "Message body is required.")
        sid = _sid("SM")
        now = _rfc2822(self.clock())
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        resource = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": first.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": first.get("From"),
            "messaging_service_sid": first.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if "From" in first else "accepted",
            "subresource_uris": {"media": f"{base}/Media.json"},
            "to": first["To"],
            "uri": f"{base}.json",
        }
        with self._lock:
            self._state.messages[sid] = resource
        return JSONResponse(resource, status_code=201)

    def _call_created(self, form: dict[str, list[str]]) -> JSONResponse:
        first = {name: values[0] for name, values in form.items()}
        if "To" not in first:
            return twilio_error(400, 21201, "No 'To' number is specified")
        if "From" not in first:
            return twilio_error(400, 21213, "No 'From' number is specified")
        if not ({"Url", "Twiml", "ApplicationSid"} & first.keys()):
            return twilio_error(400, 21200, "Either Url, Twiml or ApplicationSid is required")
        sid = _sid("CA")
        now = _rfc2822(self.clock())
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}"
        resource = {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": first["From"],
            "from_formatted": first["From"],
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": _sid("PN"),
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {
                "notifications": f"{base}/Notifications.json",
                "recordings": f"{base}/Recordings.json",
            },
            "to": first["To"],
            "to_formatted": first["To"],
            "trunk_sid": None,
            "uri": f"{base}.json",
        }
        with self._lock:
            self._state.calls[sid] = resource
        return JSONResponse(resource, status_code=201)

    def _call_updated(self, call_sid: str, form: dict[str, list[str]]) -> JSONResponse:
        with self._lock:
            resource = self._state.calls.get(call_sid)
            if resource is None:
                return twilio_error(404, 20404, f"The requested resource Calls/{call_sid}.json was not found")
            status = form.get("Status", [None])[0]
            if status in ("completed", "canceled"):
                resource["status"] = status
                resource["end_time"] = _rfc2822(self.clock())
            resource["date_updated"] = _rfc2822(self.clock())
            return JSONResponse(dict(resource))
