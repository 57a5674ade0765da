"""Test data made through the same repository code the CLI uses."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from db import accounts
from db.models import AgentActionHistory, TeamAISettings, UserAgentSettings
from server.context import AppContext


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


# A confidence above every threshold: the model (or person) is sure this is what the user asked for.
SURE = 0.9


async def act(
    client: httpx.AsyncClient, user: TestUser, tool: str, args: dict[str, Any] | None = None,
    confidence: float | None = SURE,
) -> httpx.Response:
    """POST /api/actions as `user`; `confidence=None` leaves the confidence out (unknown)."""
    body: dict[str, Any] = {"tool": tool, "args": args or {}}
    if confidence is not None:
        body["confidence"] = confidence
    return await client.post("/api/actions", headers=user.headers, json=body)


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
        token = await accounts.issue_token(session, user.id)
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


async def auto_sms_user(ctx: AppContext, **user_values: Any) -> TestUser:
    """A user whose SMS run without confirmation: high risk auto-approved by the user, allowed by the team."""
    team = await new_team(ctx)
    await update_team_settings(ctx, team, allow_user_auto_approve_high=True)
    user = await new_user(ctx, team_id=team)
    await update_user_settings(ctx, user, require_confirmation_sms=False, auto_approve_high_risk=True, **user_values)
    return user


async def history_rows(ctx: AppContext, **where: Any) -> list[AgentActionHistory]:
    async with ctx.sessions() as session:
        query = select(AgentActionHistory).filter_by(**where).order_by(AgentActionHistory.created_at)
        return list((await session.execute(query)).scalars())
