"""Fake Google OAuth 2.0 and Calendar v3 on one base URL (GOOGLE_OAUTH_BASE_URL = GOOGLE_CALENDAR_BASE_URL).

OAuth: `GET /o/oauth2/v2/auth` plays a user who consents at once and redirects to `redirect_uri` with a
code and the state; `POST /token` checks the client credentials, and for `authorization_code` the code
(single use, bound to client, redirect_uri and the PKCE S256 challenge) and `code_verifier`; for
`refresh_token` the refresh token; `POST /revoke` revokes a refresh token with its access tokens, or one
access token. Errors use Google's OAuth shape `{"error", "error_description"}`.

Calendar: `POST /calendar/v3/calendars/{calendarId}/events` (events.insert: a client-chosen id must be
base32hex, 5-1024 characters; a duplicate id answers 409 "duplicate") and `POST /calendar/v3/freeBusy`.
Both need a live bearer access token, else 401 in Google's API error shape. Tests can expire access
tokens (`expire_access_tokens`), add busy time that is not an event (`add_busy`), and make the next insert
store the event but answer 503 (`lose_next_insert_answer`), as when a response is lost on the way back.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

ACCESS_TTL_S = 3599
_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    scope: str


@dataclass
class _Access:
    refresh_token: str | None
    live: bool = True


@dataclass(frozen=True)
class TokenRequest:
    grant_type: str
    form: dict[str, str]
    status: int


@dataclass(frozen=True)
class ApiCall:
    path: str
    token: str
    status: int


@dataclass
class _State:
    codes: dict[str, _Code] = field(default_factory=dict)
    access: dict[str, _Access] = field(default_factory=dict)
    refresh: dict[str, bool] = field(default_factory=dict)  # token -> still valid
    scopes: dict[str, str] = field(default_factory=dict)  # refresh token -> granted scope
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> body, calendar "primary"
    busy: list[tuple[datetime, datetime]] = field(default_factory=list)
    token_requests: list[TokenRequest] = field(default_factory=list)
    api_calls: list[ApiCall] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    lose_next_insert: bool = False


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _api_error(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": status, "message": message, "errors": [{"domain": "global", "reason": reason, "message": message}]}},
        status_code=status,
    )


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (python-multipart is not a dependency)."""
    return dict(parse_qsl((await request.body()).decode()))


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _parse_time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("RFC 3339 times need an offset")
    return moment


class FakeGoogle:
    """One Google account with one calendar ("primary") and one OAuth client."""

    def __init__(self, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self._lock = threading.Lock()
        self._state = _State()
        self.app = Starlette(
            routes=[
                Route("/o/oauth2/v2/auth", self._authorize, methods=["GET"]),
                Route("/token", self._token, methods=["POST"]),
                Route("/revoke", self._revoke, methods=["POST"]),
                Route("/calendar/v3/calendars/{calendar_id}/events", self._insert, methods=["POST"]),
                Route("/calendar/v3/calendars/{calendar_id}/events/{event_id}", self._delete, methods=["DELETE"]),
                Route("/calendar/v3/freeBusy", self._free_busy, methods=["POST"]),
            ]
        )

    # --- what tests look at and arrange ---------------------------------------------------------

    @property
    def events(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self._state.events)

    @property
    def token_requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._state.token_requests)

    @property
    def api_calls(self) -> list[ApiCall]:
        with self._lock:
            return list(self._state.api_calls)

    @property
    def revoked(self) -> list[str]:
        with self._lock:
            return list(self._state.revoked)

    @property
    def issued_tokens(self) -> list[str]:
        """Every access and refresh token handed out."""
        with self._lock:
            return [*self._state.access, *self._state.refresh]

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers 401 from now on (refresh tokens stay valid)."""
        with self._lock:
            for access in self._state.access.values():
                access.live = False

    def add_busy(self, start: datetime, end: datetime) -> None:
        with self._lock:
            self._state.busy.append((start, end))

    def lose_next_insert_answer(self) -> None:
        with self._lock:
            self._state.lose_next_insert = True

    # --- OAuth ----------------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        params = request.query_params
        if params.get("client_id") != self.client_id:
            return _oauth_error(400, "invalid_client", "The OAuth client was not found.")
        if params.get("response_type") != "code" or not params.get("redirect_uri"):
            return _oauth_error(400, "invalid_request", "response_type=code and redirect_uri are required.")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._state.codes[code] = _Code(
                params["client_id"], params["redirect_uri"], params.get("code_challenge", ""),
                params.get("code_challenge_method", "plain"), params.get("scope", ""),
            )
        query = {"code": code, "scope": params.get("scope", "")}
        if "state" in params:
            query["state"] = params["state"]
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(query)}", status_code=302)

    async def _token(self, request: Request) -> JSONResponse:
        form = await _form(request)
        response = self._grant(form)
        with self._lock:
            self._state.token_requests.append(TokenRequest(form.get("grant_type", ""), form, response.status_code))
        return response

    def _grant(self, form: dict[str, str]) -> JSONResponse:
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _oauth_error(401, "invalid_client", "Unauthorized")
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                return self._exchange_locked(form)
            if grant_type == "refresh_token":
                refresh = form.get("refresh_token", "")
                if not self._state.refresh.get(refresh):
                    return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
                return JSONResponse(self._issue_locked(refresh, self._state.scopes[refresh]))
        return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange_locked(self, form: dict[str, str]) -> JSONResponse:
        code = self._state.codes.pop(form.get("code", ""), None)  # single use, also when the rest fails
        if code is None:
            return _oauth_error(400, "invalid_grant", "Malformed auth code.")
        if code.client_id != form["client_id"] or code.redirect_uri != form.get("redirect_uri"):
            return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier", "")
        if code.method != "S256" or not verifier or _s256(verifier) != code.challenge:
            return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
        refresh = secrets.token_urlsafe(32)
        self._state.refresh[refresh] = True
        self._state.scopes[refresh] = code.scope
        return JSONResponse({**self._issue_locked(refresh, code.scope), "refresh_token": refresh})

    def _issue_locked(self, refresh: str, scope: str) -> dict[str, Any]:
        access = "ya29." + secrets.token_urlsafe(32)
        self._state.access[access] = _Access(refresh)
        return {"access_token": access, "expires_in": ACCESS_TTL_S, "scope": scope, "token_type": "Bearer"}

    async def _revoke(self, request: Request) -> JSONResponse:
        token = (await _form(request)).get("token") or request.query_params.get("token", "")
        with self._lock:
            if self._state.refresh.get(token):
                self._state.refresh[token] = False
                for access in self._state.access.values():
                    if access.refresh_token == token:
                        access.live = False
            elif token in self._state.access and self._state.access[token].live:
                self._state.access[token].live = False
            else:
                return _oauth_error(400, "invalid_token", "Token expired or revoked")
            self._state.revoked.append(token)
        return JSONResponse({})

    # --- Calendar -------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> tuple[str, JSONResponse | None]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            access = self._state.access.get(token) if scheme == "Bearer" else None
            live = access is not None and access.live
        if not live:
            return token, _api_error(401, "authError", "Request had invalid authentication credentials.")
        return token, None

    def _record(self, request: Request, token: str, response: Response) -> Response:
        with self._lock:
            self._state.api_calls.append(ApiCall(request.url.path, token, response.status_code))
        return response

    async def _insert(self, request: Request) -> Response:
        token, refused = self._authorized(request)
        if refused:
            return self._record(request, token, refused)
        return self._record(request, token, self._insert_event(request.path_params["calendar_id"], await request.json()))

    def _insert_event(self, calendar_id: str, body: dict[str, Any]) -> JSONResponse:
        if calendar_id != "primary":
            return _api_error(404, "notFound", "Not Found")
        try:
            start, end = _parse_time(body["start"]["dateTime"]), _parse_time(body["end"]["dateTime"])
        except (KeyError, TypeError, ValueError):
            return _api_error(400, "required", "Missing or invalid start/end time.")
        if end <= start:
            return _api_error(400, "timeRangeEmpty", "The specified time range is empty.")
        event_id = body.get("id") or secrets.token_hex(13)
        if not _EVENT_ID.match(event_id):
            return _api_error(400, "invalid", "Invalid resource id value.")
        with self._lock:
            if event_id in self._state.events:
                return _api_error(409, "duplicate", "The requested identifier already exists.")
            stored = {**body, "id": event_id, "status": "confirmed", "htmlLink": f"https://calendar.example.test/event?eid={event_id}"}
            self._state.events[event_id] = stored
            if self._state.lose_next_insert:
                self._state.lose_next_insert = False
                return _api_error(503, "backendError", "Backend Error")
        return JSONResponse(stored)

    async def _delete(self, request: Request) -> Response:
        """`events.delete`: 204; an event deleted before is 410 Gone, one never created 404 (as Google answers)."""
        token, refused = self._authorized(request)
        if refused:
            return self._record(request, token, refused)
        event_id = request.path_params["event_id"]
        with self._lock:
            stored = self._state.events.get(event_id)
            if stored is not None and stored["status"] != "cancelled":
                self._state.events[event_id] = {**stored, "status": "cancelled"}
                answer: Response = Response(status_code=204)
            elif stored is not None:
                answer = _api_error(410, "deleted", "Resource has been deleted")
            else:
                answer = _api_error(404, "notFound", "Not Found")
        return self._record(request, token, answer)

    async def _free_busy(self, request: Request) -> Response:
        token, refused = self._authorized(request)
        if refused:
            return self._record(request, token, refused)
        body = await request.json()
        try:
            time_min, time_max = _parse_time(body["timeMin"]), _parse_time(body["timeMax"])
        except (KeyError, ValueError):
            return self._record(request, token, _api_error(400, "badRequest", "Bad Request"))
        calendars: dict[str, Any] = {}
        for item in body.get("items", []):
            if item.get("id") != "primary":
                calendars[item.get("id")] = {"busy": [], "errors": [{"domain": "global", "reason": "notFound"}]}
                continue
            with self._lock:
                intervals = [
                    (_parse_time(e["start"]["dateTime"]), _parse_time(e["end"]["dateTime"]))
                    for e in self._state.events.values()
                ] + list(self._state.busy)
            busy = sorted((max(s, time_min), min(e, time_max)) for s, e in intervals if s < time_max and e > time_min)
            calendars["primary"] = {"busy": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in busy]}
        answer = {"kind": "calendar#freeBusy", "timeMin": body["timeMin"], "timeMax": body["timeMax"], "calendars": calendars}
        return self._record(request, token, JSONResponse(answer))
