"""Repository for feature flags (`feature_flags`): operators manage them (`coach flags`), team admins read
which apply to their team (`GET /api/admin/teams/{team_id}/flags`). Who is in is decided by
`policy.flags.flag_enabled`, never here."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import FeatureFlag, TeamMember

NAME_MAX = 100


class FlagProblem(ValueError):
    """A flag change that cannot be made; the message says why, for operators."""


async def all_flags(session: AsyncSession) -> list[FeatureFlag]:
    return list((await session.scalars(select(FeatureFlag).order_by(FeatureFlag.name))).all())


async def named(session: AsyncSession, name: str) -> FeatureFlag:
    flag = (await session.scalars(select(FeatureFlag).where(FeatureFlag.name == name))).first()
    if flag is None:
        raise FlagProblem(f"no flag named {name!r}")
    return flag


async def create(session: AsyncSession, name: str, description: str = "") -> FeatureFlag:
    """A new flag, off for everyone."""
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise FlagProblem(f"a flag's name is 1 to {NAME_MAX} printable characters")
    if (await session.scalars(select(FeatureFlag.id).where(FeatureFlag.name == name))).first() is not None:
        raise FlagProblem(f"a flag named {name!r} exists already")
    flag = FeatureFlag(name=name, description=description, enabled=False, team_ids=[], user_ids=[], rollout_percentage=0)
    session.add(flag)
    await session.flush()
    return flag


def change(
    flag: FeatureFlag, *, enabled: bool | None = None, add_teams: Iterable[str] = (), remove_teams: Iterable[str] = (),
    add_users: Iterable[str] = (), remove_users: Iterable[str] = (), rollout_percentage: int | None = None,
) -> None:
    """Change the flag's targeting; what is not given stays as it is."""
    if rollout_percentage is not None and not 0 <= rollout_percentage <= 100:
        raise FlagProblem("the rollout percentage is 0 to 100")
    if enabled is not None:
        flag.enabled = enabled
    flag.team_ids = _changed(flag.team_ids, add_teams, remove_teams)
    flag.user_ids = _changed(flag.user_ids, add_users, remove_users)
    if rollout_percentage is not None:
        flag.rollout_percentage = rollout_percentage


def _changed(current: list[str], added: Iterable[str], removed: Iterable[str]) -> list[str]:
    gone = set(removed)
    return sorted({*current, *added} - gone)


async def teams_of_members(session: AsyncSession, team_id: str) -> dict[str, list[str]]:
    """Each member of the team with all of their teams (a flag is judged with every team of the person)."""
    members = select(TeamMember.user_id).where(TeamMember.team_id == team_id)
    rows = await session.execute(
        select(TeamMember.user_id, TeamMember.team_id).where(TeamMember.user_id.in_(members)).order_by(TeamMember.user_id)
    )
    teams: dict[str, list[str]] = {}
    for user_id, member_team in rows:
        teams.setdefault(user_id, []).append(member_team)
    return teams
