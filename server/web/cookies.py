"""The session cookie: a random secret, signed with the server's key, HttpOnly, SameSite=Lax, Secure on https.

The signature lets a forged or garbled cookie be refused without a database read; the secret itself is what
finds the session (its SHA-256 is stored), so revoking a session ends the cookie at once.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import HTTPConnection
from starlette.responses import Response

from tools.channels.secret_keys import secret_keys

SESSION_COOKIE = "coach_session"
COOKIE_MAX_AGE = 30 * 24 * 3600


def _signature(key: str, secret: str) -> str:
    return hmac.new(key.encode(), b"session:" + secret.encode(), hashlib.sha256).hexdigest()


def signed(secret: str, configured_keys: str) -> str:
    return f"{secret}.{_signature(secret_keys(configured_keys)[0], secret)}"


def session_secret(connection: HTTPConnection, configured_keys: str) -> str | None:
    """The session secret the request's cookie carries, if its signature holds under any of the keys."""
    value = connection.cookies.get(SESSION_COOKIE, "")
    secret, _, signature = value.rpartition(".")
    if not secret or len(value) > 200:
        return None
    if any(hmac.compare_digest(signature, _signature(key, secret)) for key in secret_keys(configured_keys)):
        return secret
    return None


def set_session_cookie(response: Response, value: str, *, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE, value, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax", secure=secure, path="/"
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=secure, path="/")
