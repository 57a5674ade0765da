"""Requests to the action API as a client makes them, and the rows they leave: shared by the suites that
drive actions over REST (tests/integration, tests/security)."""

from __future__ import annotations

from typing import Any

import httpx
from factories import TestUser, history_rows, new_team, new_user, update_team_settings, update_user_settings
from sqlalchemy import select

from db.models import AgentActionFeedback, Contact, PendingAgentAction
from server.context import AppContext


# A confidence above every threshold: the model (or person) is sure this is what the user asked for.
SURE = 0.9


async def act(client: httpx.AsyncClient, user: TestUser, tool: str, args: dict[str, Any] | None = None,
              confidence: float | None = SURE) -> httpx.Response:
    """POST /api/actions as `user`; `confidence=None` leaves the confidence out (unknown)."""
    body: dict[str, Any] = {"tool": tool, "args": args or {}}
    if confidence is not None:
        body["confidence"] = confidence
    return await client.post("/api/actions", headers=user.headers, json=body)


async def propose(client: httpx.AsyncClient, user: TestUser, tool: str = "send_sms",
                  args: dict[str, Any] | None = None) -> str:
    response = await act(client, user, tool, args or {"message": "Time for your run"})
    body = response.json()
    assert response.status_code == 200 and body.get("needs_confirmation") is True, body
    return body["pending_action_id"]


async def confirm(client: httpx.AsyncClient, user: TestUser, action_id: str,
                  args: dict[str, Any] | None = None) -> httpx.Response:
    body = {} if args is None else {"args": args}
    return await client.post(f"/api/actions/pending/{action_id}/confirm", headers=user.headers, json=body)


async def cancel(client: httpx.AsyncClient, user: TestUser, action_id: str, reason: str = "") -> httpx.Response:
    return await client.post(f"/api/actions/pending/{action_id}/cancel", headers=user.headers, json={"reason": reason})


async def pending_ids(client: httpx.AsyncClient, user: TestUser) -> list[str]:
    response = await client.get("/api/actions/pending", headers=user.headers)
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["pending"]]


async def statuses(ctx: AppContext, action_id: str) -> list[str]:
    return [row.status for row in await history_rows(ctx, action_id=action_id)]


async def feedback_rows(ctx: AppContext, action_id: str) -> list[AgentActionFeedback]:
    async with ctx.sessions() as session:
        query = select(AgentActionFeedback).where(AgentActionFeedback.action_id == action_id)
        return list((await session.execute(query)).scalars())


async def pending_status(ctx: AppContext, action_id: str) -> str:
    async with ctx.sessions() as session:
        return (await session.get(PendingAgentAction, action_id)).status


async def auto_sms_user(ctx: AppContext, **user_values: Any) -> TestUser:
    """A user whose SMS run without confirmation: high risk auto-approved by the user, allowed by the team."""
    team = await new_team(ctx)
    await update_team_settings(ctx, team, allow_user_auto_approve_high=True)
    user = await new_user(ctx, team_id=team)
    await update_user_settings(ctx, user, require_confirmation_sms=False, auto_approve_high_risk=True, **user_values)
    return user


def error_code(response: httpx.Response) -> str | None:
    return (response.json().get("error") or {}).get("code")


async def add_contact(ctx: AppContext, user: TestUser, email: str, name: str = "Pat Mentor") -> None:
    async with ctx.sessions() as session:
        session.add(Contact(user_id=user.id, name=name, email=email))
        await session.commit()


async def team_needing_admin_for_critical(ctx: AppContext) -> tuple[TestUser, TestUser]:
    """(member, admin) of a team with require_admin_approval_critical; the member may email contacts."""
    team = await new_team(ctx)
    await update_team_settings(ctx, team, require_admin_approval_critical=True)
    member = await new_user(ctx, team_id=team, name="Ann Member")
    admin = await new_user(ctx, team_id=team, role="admin", name="Ada Admin")
    await update_user_settings(ctx, member, allow_external_email=True)
    await add_contact(ctx, member, "mentor@example.org")
    return member, admin


CONTACT_EMAIL = {"to_email": "mentor@example.org", "subject": "My progress", "body": "Ran 5k this week."}
