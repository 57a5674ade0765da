"""A scheduled delivery (a reminder, a sequence's step) sends only under the yes the settings require:
it runs unasked when a human confirmed what set it up, and is otherwise proposed like any other action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from action_requests import CONTACT_EMAIL, act, auto_sms_user, confirm, pending_ids, team_needing_admin_for_critical
from factories import TestUser, update_user_settings
from providers import Providers
from sqlalchemy import select

from db.models import PendingAgentAction
from server.context import AppContext
from server.worker import Worker

IN_AN_HOUR = "2026-11-24T20:00"  # the clock starts at 19:00 UTC; the users live in UTC
SMS_REMINDER = {"message": "Stretch", "remind_at": IN_AN_HOUR, "channel": "sms"}
SMS_STEP = {"delay_minutes": 0, "tool": "send_sms", "args": {"message": "Day 1: warm up"}}


async def run_the_next_hour(ctx: AppContext, worker: Worker) -> None:
    ctx.services.clock.advance(timedelta(hours=1, minutes=1))  # type: ignore[attr-defined]
    await worker.run_due()


async def scheduler_proposals(ctx: AppContext, user: TestUser) -> list[PendingAgentAction]:
    async with ctx.sessions() as session:
        query = select(PendingAgentAction).where(
            PendingAgentAction.user_id == user.id, PendingAgentAction.source == "scheduler"
        )
        return list((await session.scalars(query)).all())


async def test_a_confirmed_text_reminder_is_sent_at_its_time_without_asking_again(
    client: httpx.AsyncClient, ctx: AppContext, worker: Worker, providers: Providers
) -> None:
    user = await auto_sms_user(ctx, require_confirmation_sms=True, auto_approve_medium_risk=True)
    proposed = (await act(client, user, "schedule_reminder", SMS_REMINDER)).json()
    assert proposed["needs_confirmation"] and proposed["data"]["reason"] == "CHANNEL_REQUIRES_CONFIRMATION"
    assert (await confirm(client, user, proposed["pending_action_id"])).status_code == 200
    await run_the_next_hour(ctx, worker)
    assert [m.param("Body") for m in providers.twilio.messages] == ["Stretch"]
    assert await scheduler_proposals(ctx, user) == []


async def test_a_reminder_approved_without_a_yes_is_proposed_once_the_settings_ask_for_one(
    client: httpx.AsyncClient, ctx: AppContext, worker: Worker, providers: Providers
) -> None:
    user = await auto_sms_user(ctx, auto_approve_medium_risk=True)
    created = (await act(client, user, "schedule_reminder", SMS_REMINDER)).json()
    assert created["success"] and not created.get("needs_confirmation"), created
    await update_user_settings(ctx, user, require_confirmation_sms=True)
    await run_the_next_hour(ctx, worker)
    assert providers.twilio.messages == []
    [proposal] = await scheduler_proposals(ctx, user)
    assert (proposal.tool, proposal.reason) == ("send_sms", "CHANNEL_REQUIRES_CONFIRMATION")


async def test_a_sequence_confirmed_by_its_owner_runs_its_sending_steps(
    client: httpx.AsyncClient, ctx: AppContext, worker: Worker, providers: Providers
) -> None:
    user = await auto_sms_user(ctx, require_confirmation_sms=True)
    sequence: dict[str, Any] = {"name": "Warm-up", "trigger": "time", "start_at": IN_AN_HOUR, "actions": [SMS_STEP]}
    proposed = (await act(client, user, "create_action_sequence", sequence)).json()
    assert proposed["needs_confirmation"], proposed
    assert (await confirm(client, user, proposed["pending_action_id"])).status_code == 200
    await run_the_next_hour(ctx, worker)
    assert [m.param("Body") for m in providers.twilio.messages] == ["Day 1: warm up"]
    assert await pending_ids(client, user) == []


async def test_a_critical_step_slipped_into_a_sequence_by_an_edit_still_waits_for_the_teams_admin(
    client: httpx.AsyncClient, ctx: AppContext, worker: Worker, providers: Providers
) -> None:
    member, _ = await team_needing_admin_for_critical(ctx)
    sequence: dict[str, Any] = {"name": "Warm-up", "trigger": "time", "start_at": IN_AN_HOUR, "actions": [SMS_STEP]}
    proposed = (await act(client, member, "create_action_sequence", sequence)).json()
    email_step = {"delay_minutes": 0, "tool": "send_email_to_contact", "args": CONTACT_EMAIL}
    edited = {**sequence, "actions": [SMS_STEP, email_step]}
    assert (await confirm(client, member, proposed["pending_action_id"], edited)).status_code == 200
    await run_the_next_hour(ctx, worker)
    await worker.run_due()  # the second step, after the first
    assert providers.resend.emails == []
    [held] = [p for p in await scheduler_proposals(ctx, member) if p.tool == "send_email_to_contact"]
    assert held.requires_admin and held.status == "pending_confirmation"
