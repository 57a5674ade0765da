"""Bearer-token authentication for `/api/*` and team-role checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from db import accounts
from db.accounts import ADMIN_ROLES, Membership
from db.models import User
from server.errors import forbidden, unauthenticated
from tools.execution import Actor


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of an API request."""

    user: User
    memberships: tuple[Membership, ...]

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
