"""Test data made through the same repository code the CLI uses."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from db import accounts, web_sessions
from db.models import AgentActionHistory, TeamAISettings, UserAgentSettings
from server.context import AppContext
from server.web.cookies import signed


@dataclass(frozen=True)
class TestUser:
    __test__ = False  # a data holder, not a test class

    id: str
    token: str
    phone: str
    email: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


# A weekday afternoon in every US zone: inside the 08:00-21:00 consent floor and outside default quiet hours.
DAYTIME = datetime(2026, 11, 24, 19, 0, tzinfo=timezone.utc)


def daytime_clock(ctx: AppContext) -> None:
    """Pin the app's clock (the `ToolServices.clock` seam) to `DAYTIME` so tests do not depend on when they run."""
    ctx.services.clock = lambda: DAYTIME


def random_phone() -> str:
    return f"+1415{random.randint(2000000, 9999999)}"


async def new_team(ctx: AppContext, name: str = "Team") -> str:
    async with ctx.sessions() as session:
        team = await accounts.create_team(session, name=name)
        await session.commit()
        return team.id


async def new_user(
    ctx: AppContext,
    *,
    team_id: str | None = None,
    role: str = "member",
    timezone: str = "UTC",
    name: str = "Test User",
) -> TestUser:
    phone = random_phone()
    email = f"user-{random.getrandbits(40):x}@example.com"
    async with ctx.sessions() as session:
        user = await accounts.create_user(session, name=name, phone=phone, email=email, timezone=timezone)
        if team_id:
            await accounts.add_member(session, team_id=team_id, user_id=user.id, role=role)
        token = (await accounts.issue_token(session, user.id)).secret
        await session.commit()
        return TestUser(user.id, token, phone, email)


async def update_user_settings(ctx: AppContext, user: TestUser, **values: Any) -> None:
    async with ctx.sessions() as session:
        row = await session.get(UserAgentSettings, user.id)
        for name, value in values.items():
            setattr(row, name, value)
        await session.commit()


async def update_team_settings(ctx: AppContext, team_id: str, **values: Any) -> None:
    async with ctx.sessions() as session:
        row = await session.get(TeamAISettings, team_id)
        for name, value in values.items():
            setattr(row, name, value)
        await session.commit()


async def history_rows(ctx: AppContext, **where: Any) -> list[AgentActionHistory]:
    async with ctx.sessions() as session:
        query = select(AgentActionHistory).filter_by(**where).order_by(AgentActionHistory.created_at)
        return list((await session.execute(query)).scalars())


async def session_cookie(ctx: AppContext, user: TestUser) -> str:
    """The value of a session cookie for `user`, as after signing in (the sign-in pages have their own tests)."""
    async with ctx.sessions() as session:
        started = await web_sessions.start(
            session, user_id=user.id, signed_in_with="token", user_agent="Playwright", now=ctx.services.clock()
        )
        await session.commit()
    return signed(started.secret, ctx.settings.COACH_SECRET_KEY)
