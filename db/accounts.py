"""Repository for users, teams, memberships, API tokens and the settings rows."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApiToken, Team, TeamAISettings, TeamMember, User, UserAgentSettings, utcnow

TOKEN_PREFIX = "vc_"
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


async def issue_token(session: AsyncSession, user_id: str, name: str = "default") -> str:
    """Create an API token and return it. Only its hash is stored: this is the one time it is seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user_id, token_hash=hash_token(token), name=name))
    return token


async def user_for_token(session: AsyncSession, token: str) -> User | None:
    row = await session.execute(
        select(User, ApiToken)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    )
    found = row.first()
    if found is None:
        return None
    user, api_token = found
    api_token.last_used_at = utcnow()
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
