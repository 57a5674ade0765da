"""Repository for users, teams, memberships, API tokens and the settings rows."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApiToken, Team, TeamAISettings, TeamMember, User, UserAgentSettings, utcnow

TOKEN_PREFIX = "vc_"
MAX_LIVE_TOKENS = 20
MAX_TOKEN_LIFETIME = timedelta(days=366)
# last_used_at is written at most this often per token, so authenticating does not write on every request.
LAST_USED_PRECISION = timedelta(minutes=1)
ROLES = ("member", "admin", "owner")
ADMIN_ROLES = frozenset({"admin", "owner"})


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Membership:
    team_id: str
    role: str


async def create_user(
    session: AsyncSession, *, name: str, phone: str | None, email: str | None, timezone: str
) -> User:
    user = User(name=name, phone=phone, email=email)
    session.add(user)
    await session.flush()
    session.add(UserAgentSettings(user_id=user.id, timezone=timezone))
    return user


async def create_team(session: AsyncSession, *, name: str) -> Team:
    team = Team(name=name)
    session.add(team)
    await session.flush()
    session.add(TeamAISettings(team_id=team.id))
    return team


async def add_member(session: AsyncSession, *, team_id: str, user_id: str, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    session.add(TeamMember(team_id=team_id, user_id=user_id, role=role))


class InvalidTokenExpiry(ValueError):
    """An `expires_at` in the past or more than `MAX_TOKEN_LIFETIME` ahead."""


class TooManyTokens(Exception):
    """The user already has `MAX_LIVE_TOKENS` tokens that work: one must be revoked first."""


@dataclass(frozen=True)
class NewToken:
    """A token just created: its row and its secret, which is never seen again (only its hash is stored)."""

    row: ApiToken
    secret: str


def _working_at(now: datetime) -> ColumnElement[bool]:
    """The condition on `ApiToken` rows that still work at `now`: not revoked and not expired."""
    return and_(ApiToken.revoked_at.is_(None), or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))


def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is None:
        return
    if expires_at <= now:
        raise InvalidTokenExpiry("expires_at must be in the future")
    if expires_at > now + MAX_TOKEN_LIFETIME:
        raise InvalidTokenExpiry(f"expires_at may be at most {MAX_TOKEN_LIFETIME.days} days ahead")


async def issue_token(
    session: AsyncSession,
    user_id: str,
    *,
    name: str = "default",
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> NewToken:
    """Create an API token for an existing user (LookupError otherwise).

    The user's row is locked (PostgreSQL) while the live tokens are counted, so concurrent creations
    cannot pass `MAX_LIVE_TOKENS` together.
    """
    now = now or utcnow()
    _check_expiry(expires_at, now)
    locked = await session.execute(select(User.id).where(User.id == user_id).with_for_update())
    if locked.scalar_one_or_none() is None:
        raise LookupError(f"no user with id {user_id}")
    working = select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user_id, _working_at(now))
    if (await session.scalar(working) or 0) >= MAX_LIVE_TOKENS:
        raise TooManyTokens(f"a user may hold at most {MAX_LIVE_TOKENS} working tokens: revoke one first")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user_id, token_hash=hash_token(secret), name=name, created_at=now, expires_at=expires_at)
    session.add(row)
    await session.flush()
    return NewToken(row, secret)


async def list_tokens(session: AsyncSession, user_id: str) -> list[ApiToken]:
    """The user's tokens, newest first, revoked and expired ones included."""
    rows = await session.execute(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at.desc(), ApiToken.id)
    )
    return list(rows.scalars())


async def revoke_token(session: AsyncSession, user_id: str, token_id: str, now: datetime) -> ApiToken | None:
    """Revoke one of the user's tokens (again: unchanged); None when the user holds no token with that id."""
    row = (
        await session.execute(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id))
    ).scalar_one_or_none()
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
    return row


async def user_for_token(session: AsyncSession, token: str, now: datetime) -> User | None:
    """The owner of a token that works at `now`; records its use (at most once per `LAST_USED_PRECISION`)."""
    row = await session.execute(
        select(User, ApiToken)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token), _working_at(now))
    )
    found = row.first()
    if found is None:
        return None
    user, api_token = found
    if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_PRECISION:
        api_token.last_used_at = now
    return user


async def memberships(session: AsyncSession, user_id: str) -> list[Membership]:
    rows = await session.execute(
        select(TeamMember.team_id, TeamMember.role)
        .where(TeamMember.user_id == user_id)
        .order_by(TeamMember.created_at)
    )
    return [Membership(team_id, role) for team_id, role in rows.all()]


async def user_by_phone(session: AsyncSession, phone: str) -> User | None:
    return (await session.execute(select(User).where(User.phone == phone))).scalar_one_or_none()


async def user_settings(session: AsyncSession, user_id: str) -> UserAgentSettings:
    settings = await session.get(UserAgentSettings, user_id)
    if settings is None:
        settings = UserAgentSettings(user_id=user_id)
        session.add(settings)
        await session.flush()
    return settings


async def team_settings(session: AsyncSession, team_id: str) -> TeamAISettings | None:
    return await session.get(TeamAISettings, team_id)


async def named_team_settings(session: AsyncSession, user_id: str) -> list[tuple[str, TeamAISettings]]:
    """The name and settings row of each of the user's teams that has settings, oldest membership first."""
    rows = await session.execute(
        select(Team.name, TeamAISettings)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .join(TeamAISettings, TeamAISettings.team_id == Team.id)
        .where(TeamMember.user_id == user_id)
        .order_by(TeamMember.created_at)
    )
    return [(name, row) for name, row in rows.all()]


@dataclass(frozen=True)
class UserAndTeams:
    """A user, their settings row (None until `user_settings` creates it) and their teams with their role
    in each, oldest membership first, with the settings rows the teams have."""

    user: User
    settings: UserAgentSettings | None
    team_roles: dict[str, str]
    teams: list[TeamAISettings]

    @property
    def team_ids(self) -> list[str]:
        return list(self.team_roles)


async def users_and_teams(session: AsyncSession, user_ids: set[str]) -> dict[str, UserAndTeams | None]:
    """What `get(User)`, `user_settings`, `memberships` and `team_settings` read, for each of `user_ids`, in
    one query; None for an id with no such user."""
    if not user_ids:
        return {}
    rows = (
        await session.execute(
            select(User, UserAgentSettings, TeamMember.team_id, TeamMember.role, TeamAISettings)
            .outerjoin(UserAgentSettings, UserAgentSettings.user_id == User.id)
            .outerjoin(TeamMember, TeamMember.user_id == User.id)
            .outerjoin(TeamAISettings, TeamAISettings.team_id == TeamMember.team_id)
            .where(User.id.in_(user_ids))
            .order_by(TeamMember.created_at)
        )
    ).all()
    by_user: dict[str, list[Any]] = {}
    for row in rows:
        by_user.setdefault(row[0].id, []).append(row)
    return {user_id: _user_and_teams(by_user[user_id]) if user_id in by_user else None for user_id in user_ids}


async def user_and_teams(session: AsyncSession, user_id: str) -> UserAndTeams | None:
    """`users_and_teams` of one user."""
    return (await users_and_teams(session, {user_id}))[user_id]


def _user_and_teams(rows: list[Any]) -> UserAndTeams:
    """One user's rows of the `users_and_teams` query (one per membership, oldest first)."""
    memberships = [(team_id, role, team) for _, _, team_id, role, team in rows if team_id is not None]
    return UserAndTeams(
        rows[0][0], rows[0][1], {team_id: role for team_id, role, _ in memberships},
        [team for _, _, team in memberships if team is not None],
    )
