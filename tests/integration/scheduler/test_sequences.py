"""Action sequences through the REST API and the worker: confirmed once as a whole, then each step runs
through dispatch as the scheduler at its delay; shown, cancelled and run by hand through /api/sequences,
by their owner only; habit_complete triggers start them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from action_requests import act
from factories import TestUser, new_user, update_user_settings
from scheduling import jobs
from sqlalchemy import select

from db.models import Contact, Habit, PendingAgentAction, Task
from server.context import AppContext

EMAIL_STEP = {"delay_minutes": 0, "tool": "send_email", "args": {"subject": "Day 1", "body": "Warm up today"}}


async def create_sequence(client: httpx.AsyncClient, user: TestUser, **args: Any) -> str:
    """Propose a sequence, confirm it once, return its id."""
    proposed = await client.post("/api/actions", headers=user.headers, json={"tool": "create_action_sequence", "args": args})
    assert proposed.status_code == 200 and proposed.json()["needs_confirmation"], proposed.text
    confirmed = await client.post(
        f"/api/actions/pending/{proposed.json()['pending_action_id']}/confirm", headers=user.headers, json={}
    )
    assert confirmed.status_code == 200 and confirmed.json()["success"], confirmed.text
    return confirmed.json()["data"]["sequence_id"]


async def listed(client: httpx.AsyncClient, user: TestUser) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/sequences", headers=user.headers)
    assert response.status_code == 200, response.text
    return {row["id"]: row for row in response.json()["sequences"]}


async def task_titles(ctx: AppContext, user: TestUser) -> list[str]:
    async with ctx.sessions() as session:
        return list((await session.scalars(select(Task.title).where(Task.user_id == user.id))).all())


async def test_a_sequence_is_confirmed_once_then_its_steps_run_at_their_delays(client, ctx, clock, worker, providers):
    user = await new_user(ctx)
    sequence_id = await create_sequence(
        client, user, name="Kick-off", trigger="time",
        actions=[EMAIL_STEP, {"delay_minutes": 30, "tool": "create_task", "args": {"title": "Log the run"}}],
    )
    await worker.run_due()
    assert len(providers.resend.emails) == 1 and await task_titles(ctx, user) == []
    clock.advance(timedelta(minutes=29))
    assert await worker.run_due() == 0
    clock.advance(timedelta(minutes=1))
    assert await worker.run_due() == 1
    assert await task_titles(ctx, user) == ["Log the run"]
    assert (await listed(client, user))[sequence_id]["status"] == "completed"
    pending = await client.get("/api/actions/pending", headers=user.headers)
    assert pending.json()["pending"] == []  # the steps needed no further confirmation


async def test_a_sequence_is_stored_only_once_confirmed(client, ctx):
    user = await new_user(ctx)
    args = {"name": "Kick-off", "trigger": "manual", "actions": [EMAIL_STEP]}
    proposed = await client.post("/api/actions", headers=user.headers, json={"tool": "create_action_sequence", "args": args})
    assert proposed.json()["needs_confirmation"] is True
    assert await listed(client, user) == {}


async def test_cancelling_a_sequence_stops_its_remaining_steps(client, ctx, clock, worker, providers):
    user = await new_user(ctx)
    later = {**EMAIL_STEP, "delay_minutes": 60, "args": {"subject": "Day 2", "body": "Go again"}}
    sequence_id = await create_sequence(client, user, name="Two days", trigger="time", actions=[EMAIL_STEP, later])
    await worker.run_due()
    cancelled = await client.post(f"/api/sequences/{sequence_id}/cancel", headers=user.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    clock.advance(timedelta(hours=2))
    await worker.run_due()
    assert [email.payload["subject"] for email in providers.resend.emails] == ["Day 1"]
    assert (await listed(client, user))[sequence_id]["status"] == "cancelled"


async def test_another_user_can_neither_see_nor_cancel_nor_run_a_sequence(client, ctx):
    owner, other = await new_user(ctx), await new_user(ctx)
    sequence_id = await create_sequence(client, owner, name="Mine", trigger="manual", actions=[EMAIL_STEP])
    assert await listed(client, other) == {}
    for action in ("cancel", "run"):
        response = await client.post(f"/api/sequences/{sequence_id}/{action}", headers=other.headers)
        assert response.status_code == 404, response.text
    assert (await listed(client, owner))[sequence_id]["status"] == "active"


async def test_a_manual_sequence_runs_when_asked(client, ctx, worker, providers):
    user = await new_user(ctx)
    sequence_id = await create_sequence(client, user, name="On demand", trigger="manual", actions=[EMAIL_STEP])
    await worker.run_due()
    assert providers.resend.emails == []
    started = await client.post(f"/api/sequences/{sequence_id}/run", headers=user.headers)
    assert started.status_code == 200 and started.json()["status"] == "running"
    await worker.run_due()
    assert len(providers.resend.emails) == 1
    assert (await listed(client, user))[sequence_id]["status"] == "active"  # armed again


async def test_completing_the_named_habit_starts_a_habit_complete_sequence(client, ctx, worker, providers):
    user = await new_user(ctx)
    await update_user_settings(ctx, user, auto_approve_medium_risk=True)
    async with ctx.sessions() as session:
        session.add_all([Habit(user_id=user.id, name="Meditate"), Habit(user_id=user.id, name="Read")])
        await session.commit()
    sequence_id = await create_sequence(
        client, user, name="Celebrate", trigger="habit_complete", habit_name="meditate", actions=[EMAIL_STEP]
    )
    other_habit = await act(client, user, "mark_habit_complete", {"habit_name": "Read"})
    assert other_habit.json()["success"] is True
    await worker.run_due()
    assert providers.resend.emails == []
    done = await act(client, user, "mark_habit_complete", {"habit_name": "Meditate"})
    assert done.json()["success"] is True
    assert (await listed(client, user))[sequence_id]["status"] == "running"
    await worker.run_due()
    assert [email.payload["subject"] for email in providers.resend.emails] == ["Day 1"]


async def test_a_critical_step_still_waits_for_a_human(client, ctx, worker, providers):
    user = await new_user(ctx)
    await update_user_settings(ctx, user, allow_external_email=True)
    async with ctx.sessions() as session:
        session.add(Contact(user_id=user.id, name="Sam", email="sam@example.com"))
        await session.commit()
    step = {"tool": "send_email_to_contact", "args": {"to_email": "sam@example.com", "subject": "Hi", "body": "Join me"}}
    await create_sequence(client, user, name="Invite", trigger="time", actions=[step])
    await worker.run_due()
    assert providers.resend.emails == []
    async with ctx.sessions() as session:
        [proposal] = (await session.scalars(select(PendingAgentAction).where(
            PendingAgentAction.user_id == user.id, PendingAgentAction.tool == "send_email_to_contact"
        ))).all()
    assert (proposal.status, proposal.source) == ("pending_confirmation", "scheduler")


async def test_a_step_may_not_start_another_sequence(client, ctx):
    user = await new_user(ctx)
    nested = {"tool": "create_action_sequence", "args": {"name": "x", "trigger": "manual", "actions": [EMAIL_STEP]}}
    response = await client.post(
        "/api/actions", headers=user.headers,
        json={"tool": "create_action_sequence", "args": {"name": "Outer", "trigger": "manual", "actions": [nested]}},
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert await jobs(ctx, user_id=user.id) == []
