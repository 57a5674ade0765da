"""Authentication for `/api/*` and the pages: a bearer API token or a browser session cookie (with its CSRF
token on every state-changing request); team-role checks."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection, Request

from db import accounts, web_sessions
from db.accounts import ADMIN_ROLES, Membership
from db.models import User, WebSession
from server.errors import forbidden, unauthenticated
from server.web.cookies import session_secret
from tools.execution import Actor


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of an API request."""

    user: User
    memberships: tuple[Membership, ...]
    web_session: WebSession | None = None
    """The browser session the caller signed in with; None for a bearer token."""

    @property
    def user_id(self) -> str:
        return self.user.id

    @property
    def team_ids(self) -> tuple[str, ...]:
        return tuple(m.team_id for m in self.memberships)

    @property
    def primary_team_id(self) -> str | None:
        return self.memberships[0].team_id if self.memberships else None

    def role_in(self, team_id: str) -> str | None:
        return next((m.role for m in self.memberships if m.team_id == team_id), None)

    def actor(self, source: str = "api") -> Actor:
        """The principal as the action core sees it."""
        return Actor(self.user_id, source, {m.team_id: m.role for m in self.memberships})

    def require_team_admin(self, team_id: str) -> None:
        role = self.role_in(team_id)
        if role is None:
            raise forbidden("you are not a member of this team")
        if role not in ADMIN_ROLES:
            raise forbidden("only team admins and owners may do this")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate_token(session: AsyncSession, token: str | None, now: datetime) -> Principal:
    """The owner of `token` if it works at `now` (not revoked, not expired); 401 otherwise."""
    if not token:
        raise unauthenticated()
    user = await accounts.user_for_token(session, token, now)
    if user is None:
        raise unauthenticated()
    return Principal(user, tuple(await accounts.memberships(session, user.id)))


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


async def signed_in(session: AsyncSession, connection: HTTPConnection, secret_key: str, now: datetime) -> Principal | None:
    """The person whose working session cookie `connection` carries, or None."""
    secret = session_secret(connection, secret_key)
    if secret is None:
        return None
    found = await web_sessions.find(session, secret, now)
    if found is None:
        return None
    user, web_session = found
    return Principal(user, tuple(await accounts.memberships(session, user.id)), web_session)


def csrf_matches(principal: Principal, presented: str | None) -> bool:
    """Whether `presented` is the CSRF token of the principal's session (a bearer caller needs none)."""
    if principal.web_session is None:
        return True
    return bool(presented) and hmac.compare_digest(str(presented), principal.web_session.csrf_token)


async def authenticate_request(session: AsyncSession, request: Request, secret_key: str, now: datetime) -> Principal:
    """The caller of an API request: a bearer token, else the session cookie, whose state-changing requests
    must carry the session's CSRF token in `X-CSRF-Token`; 401 / 403 otherwise."""
    token = bearer_token(request)
    if token is not None:
        return await authenticate_token(session, token, now)
    principal = await signed_in(session, request, secret_key, now)
    if principal is None:
        raise unauthenticated("sign in, or send an API token as Authorization: Bearer")
    if request.method not in SAFE_METHODS and not csrf_matches(principal, request.headers.get(CSRF_HEADER)):
        raise forbidden("missing or wrong CSRF token (send the page's token as X-CSRF-Token)")
    return principal
