"""Connecting a Google Calendar: OAuth 2.0 authorization code with state and PKCE (S256), and disconnecting.

The state is 32 random bytes, stored with the user it was issued to and the sealed PKCE verifier, valid for
10 minutes and deleted on first use (also when that use fails), so a state can never be replayed. The
callback is a browser redirect without our API token: the state row says whose connection it is, and the
flow is bound to the browser that started it. Starting hands out a random browser nonce (the route puts it
in a cookie) and the state row keeps its SHA-256; the callback connects nothing unless the browser brings
that nonce back. Without it, a consent URL started by one user and completed by another (a link sent to a
victim) would connect the victim's calendar to the first user's account.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OAuthState, UserCalendarConnection
from tools.calendar.providers import google_connection, open_refresh_token, store_grant
from tools.channels.google_calendar import GoogleCalendarClient, GoogleError, pkce_pair
from tools.channels.sealing import SealError, sealer_for
from tools.services import ToolServices

log = logging.getLogger("coach.calendar")

STATE_TTL = timedelta(minutes=10)
VERIFIER = "google.pkce_verifier"  # sealing purpose
CALLBACK_PATH = "/oauth/google/callback"


class OAuthRefused(Exception):
    """A callback that must not connect anything (unknown, reused or expired state, denied consent)."""


class OtherBrowser(OAuthRefused):
    """The callback came to a browser that did not start the flow (no browser nonce, or another one)."""


class GoogleNotConfigured(Exception):
    """GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET are not set."""


class GoogleUnavailable(Exception):
    """Google's token endpoint could not be used (network, 5xx)."""


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    expires_at: datetime
    browser_nonce: str
    """For the starting browser only (an HttpOnly cookie); the callback must bring it back."""


def callback_url(public_url: str) -> str:
    return f"{public_url.rstrip('/')}{CALLBACK_PATH}"


def _browser_digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _client(services: ToolServices) -> GoogleCalendarClient:
    if services.google is None:
        raise GoogleNotConfigured("Google Calendar is not configured (GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET)")
    return services.google


async def begin(session: AsyncSession, services: ToolServices, user_id: str, now: datetime) -> AuthorizationRequest:
    """Store a fresh state for `user_id`, bound to a fresh browser nonce, and return Google's consent URL for it."""
    client = _client(services)
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await session.execute(delete(OAuthState).where(OAuthState.user_id == user_id, OAuthState.expires_at <= now))
    session.add(
        OAuthState(
            state=state, user_id=user_id, provider="google", expires_at=now + STATE_TTL,
            code_verifier_sealed=sealer_for(services.secret_key).seal(user_id, VERIFIER, verifier),
            browser_digest=_browser_digest(nonce),
        )
    )
    url = client.authorization_url(state=state, code_challenge=challenge, redirect_uri=callback_url(services.public_url))
    return AuthorizationRequest(url, now + STATE_TTL, nonce)


async def _take_state(session: AsyncSession, state: str) -> OAuthState:
    """Delete the state row and return it; committed at once, so even a failed callback used it up."""
    row = await session.get(OAuthState, state) if state else None
    if row is None:
        raise OAuthRefused("unknown or already used state")
    taken = await session.execute(delete(OAuthState).where(OAuthState.state == state))
    await session.commit()
    if taken.rowcount != 1:  # a concurrent callback took it first
        raise OAuthRefused("unknown or already used state")
    return row


def _check_browser(row: OAuthState, browser_nonce: str | None) -> None:
    if not browser_nonce or not hmac.compare_digest(row.browser_digest, _browser_digest(browser_nonce)):
        raise OtherBrowser("this browser did not start the connection; start again from the coach in this browser")


async def complete(
    session: AsyncSession, services: ToolServices, *, state: str, code: str | None, error: str | None,
    browser_nonce: str | None, now: datetime,
) -> UserCalendarConnection:
    """Finish the flow: use up the state, check the browser, exchange the code with its verifier, store the
    tokens sealed."""
    client = _client(services)
    row = await _take_state(session, state)
    _check_browser(row, browser_nonce)
    if row.expires_at <= now:
        raise OAuthRefused("the connection attempt expired; start again")
    if error or not code:
        raise OAuthRefused(f"Google did not grant access ({error or 'no code'})")
    sealer = sealer_for(services.secret_key)
    try:
        verifier = sealer.open(row.user_id, VERIFIER, row.code_verifier_sealed)
    except SealError:
        raise OAuthRefused("the connection attempt cannot be verified; start again") from None
    try:
        grant = await client.exchange_code(code=code, code_verifier=verifier, redirect_uri=callback_url(services.public_url))
    except GoogleError as exc:
        if exc.status >= 500:
            raise GoogleUnavailable(f"Google is not available: {exc.reason}") from None
        raise OAuthRefused(f"Google refused the authorization code ({exc.reason})") from None
    connection = await google_connection(session, row.user_id)
    if connection is None:
        connection = UserCalendarConnection(user_id=row.user_id, provider="google", calendar_id="primary")
        session.add(connection)
    previous_refresh = open_refresh_token(connection, sealer) if connection.refresh_token_encrypted else None
    store_grant(connection, sealer, grant.access_token, grant.refresh_token or previous_refresh,
                now + timedelta(seconds=grant.expires_in))
    connection.scopes = grant.scope
    await session.flush()
    log.info("google calendar connected", extra={"user_id": row.user_id})
    return connection


async def disconnect(session: AsyncSession, services: ToolServices, user_id: str) -> bool | None:
    """Revoke the grant at Google and delete the connection. None when there was no connection; otherwise
    whether Google confirmed the revocation (the row is deleted either way: the user asked to disconnect)."""
    connection = await google_connection(session, user_id)
    if connection is None:
        return None
    token = open_refresh_token(connection, sealer_for(services.secret_key))
    revoked = False
    if token is not None and services.google is not None:
        try:
            await services.google.revoke(token)
            revoked = True
        except GoogleError as exc:
            log.warning("google revoke failed; deleting the connection anyway", extra={"status": exc.status})
    await session.delete(connection)
    await session.flush()
    return revoked
