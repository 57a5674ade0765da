"""Google OAuth 2.0 and Calendar v3 over plain async httpx, with typed (pydantic) requests and answers.

Only what the coach needs: the authorization URL (state + PKCE S256), code exchange, refresh, revoke,
`events.insert` and `freeBusy.query`. Retries (429/5xx) are ours. `events.insert` takes a client-chosen
event id, so a retry after a lost answer meets 409 "duplicate" and is reported as the insert it was.
With GOOGLE_OAUTH_BASE_URL set, all three OAuth endpoints live under it (`/o/oauth2/v2/auth`, `/token`,
`/revoke`); GOOGLE_CALENDAR_BASE_URL is the API root that `/calendar/v3/...` is appended to.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, ConfigDict

from tools.channels.retry import RetryPolicy, with_retries

GOOGLE_AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_ORIGIN = "https://oauth2.googleapis.com"
GOOGLE_CALENDAR_ORIGIN = "https://www.googleapis.com"
SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
)


class GoogleError(Exception):
    """A failed Google call: HTTP status (503 for transport errors) and Google's error reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TokenGrant(_Model):
    access_token: str
    expires_in: int = 3600
    refresh_token: str | None = None
    scope: str = ""
    token_type: str = "Bearer"


class EventTime(_Model):
    dateTime: datetime
    timeZone: str | None = None


class EventInsert(_Model):
    id: str
    summary: str
    description: str = ""
    location: str = ""
    start: EventTime
    end: EventTime


class Event(_Model):
    id: str
    status: str = "confirmed"
    htmlLink: str | None = None


class BusyPeriod(_Model):
    start: datetime
    end: datetime


class _CalendarBusy(_Model):
    busy: list[BusyPeriod] = []
    errors: list[dict[str, str]] = []


class FreeBusyAnswer(_Model):
    calendars: dict[str, _CalendarBusy] = {}


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier (RFC 7636: 43-128 unreserved characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    return verifier, pkce_challenge(verifier)


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def event_id_for(action_id: str) -> str:
    """Google's event id for an action: base32hex (lowercase a-v, 0-9), as `events.insert` requires."""
    return base64.b32hexencode(action_id.encode()).decode().rstrip("=").lower()


class GoogleCalendarClient:
    """One process-wide client; access tokens are passed per call (they belong to a user's connection)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        oauth_base_url: str | None = None,
        calendar_base_url: str | None = None,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 15.0,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        oauth_base = oauth_base_url.rstrip("/") if oauth_base_url else None
        self.auth_url = f"{oauth_base}/o/oauth2/v2/auth" if oauth_base else GOOGLE_AUTH_URL
        token_origin = oauth_base or GOOGLE_TOKEN_ORIGIN
        self._token_url = f"{token_origin}/token"
        self._revoke_url = f"{token_origin}/revoke"
        self._api = f"{(calendar_base_url or GOOGLE_CALENDAR_ORIGIN).rstrip('/')}/calendar/v3"
        self.retry = retry
        self.http = httpx.AsyncClient(timeout=timeout, trust_env=False)

    def authorization_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        query = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(SCOPES),
            "access_type": "offline",  # a refresh token
            "prompt": "consent",  # ... every time, also on a reconnect
            "include_granted_scopes": "true",
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.auth_url}?{urlencode(query)}"

    async def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenGrant:
        form = {"grant_type": "authorization_code", "code": code, "code_verifier": code_verifier, "redirect_uri": redirect_uri}
        return TokenGrant.model_validate(await self._token_call(form, "oauth.token"))

    async def refresh(self, refresh_token: str) -> TokenGrant:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return TokenGrant.model_validate(await self._token_call(form, "oauth.refresh"))

    async def revoke(self, token: str) -> None:
        """Revoke a token (a refresh token revokes the whole grant). An already invalid token is not an error."""

        async def attempt() -> None:
            response = await self._send("POST", self._revoke_url, data={"token": token})
            if response.status_code >= 400 and _reason(response) != "invalid_token":
                raise _error(response)

        await with_retries(attempt, _status, self.retry, "oauth.revoke")

    async def insert_event(self, access_token: str, calendar_id: str, event: EventInsert) -> Event:
        """`events.insert`; a 409 for our own id means an earlier attempt already created it."""
        url = f"{self._api}/calendars/{quote(calendar_id, safe='')}/events"
        body = event.model_dump(mode="json", exclude_none=True)

        async def attempt() -> Event:
            response = await self._send("POST", url, json=body, headers=_bearer(access_token))
            if response.status_code == 409:
                return Event(id=event.id)
            if response.status_code >= 400:
                raise _error(response)
            return Event.model_validate(response.json())

        return await with_retries(attempt, _status, self.retry, "calendar.events.insert")

    async def delete_event(self, access_token: str, calendar_id: str, event_id: str) -> None:
        """`events.delete`. A GoogleError 404 or 410 means the event is not there (any more)."""
        url = f"{self._api}/calendars/{quote(calendar_id, safe='')}/events/{quote(event_id, safe='')}"

        async def attempt() -> None:
            response = await self._send("DELETE", url, headers=_bearer(access_token))
            if response.status_code >= 400:
                raise _error(response)

        await with_retries(attempt, _status, self.retry, "calendar.events.delete")

    async def free_busy(self, access_token: str, calendar_id: str, start: datetime, end: datetime) -> list[BusyPeriod]:
        body = {"timeMin": start.isoformat(), "timeMax": end.isoformat(), "items": [{"id": calendar_id}]}

        async def attempt() -> list[BusyPeriod]:
            response = await self._send("POST", f"{self._api}/freeBusy", json=body, headers=_bearer(access_token))
            if response.status_code >= 400:
                raise _error(response)
            answer = FreeBusyAnswer.model_validate(response.json()).calendars.get(calendar_id)
            if answer is None or answer.errors:
                reason = answer.errors[0].get("reason", "unknown") if answer else "missing"
                raise GoogleError(502, reason, f"free/busy for {calendar_id!r} is not available")
            return answer.busy

        return await with_retries(attempt, _status, self.retry, "calendar.freebusy")

    async def close(self) -> None:
        await self.http.aclose()

    async def _token_call(self, form: dict[str, str], what: str) -> dict[str, object]:
        form = {**form, "client_id": self.client_id, "client_secret": self._client_secret}

        async def attempt() -> dict[str, object]:
            response = await self._send("POST", self._token_url, data=form)
            if response.status_code >= 400:
                raise _error(response)
            return response.json()

        return await with_retries(attempt, _status, self.retry, what)

    async def _send(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        try:
            return await self.http.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            raise GoogleError(503, "transport_error", f"could not reach Google: {type(exc).__name__}") from None


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _status(exc: Exception) -> int | None:
    return exc.status if isinstance(exc, GoogleError) else None


def _reason(response: httpx.Response) -> str:
    """OAuth errors are `{"error": "invalid_grant"}`; API errors `{"error": {"errors": [{"reason": ...}]}}`."""
    try:
        payload = response.json()
    except ValueError:
        return "error"
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        details = error.get("errors") or [{}]
        return str(details[0].get("reason") or error.get("status") or "error")
    return "error"


def _error(response: httpx.Response) -> GoogleError:
    try:
        payload = response.json()
        error = payload.get("error")
        message = payload.get("error_description") or (error.get("message") if isinstance(error, dict) else error)
    except (ValueError, AttributeError):
        message = response.text[:200]
    return GoogleError(response.status_code, _reason(response), str(message or "error"))
