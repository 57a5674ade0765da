"""Attacks on the confirmation rules: an action that sends later (a reminder, a sequence's steps) asks as
strictly as the send itself; a member cannot escape the team's minimum confidence; a call that gives no
confidence is not taken as sure."""

from __future__ import annotations

from typing import Any

import httpx
from action_requests import act, auto_sms_user
from factories import new_team, new_user, update_team_settings, update_user_settings

from db import accounts

SMS_STEP = {"delay_minutes": 0, "tool": "send_sms", "args": {"message": "Day 1"}}


def asks(response: httpx.Response, reason: str) -> bool:
    body = response.json()
    return response.status_code == 200 and body.get("needs_confirmation") is True and body["data"]["reason"] == reason


async def test_a_text_reminder_asks_when_texts_need_a_yes_even_if_reminders_are_auto_approved(client, ctx):
    user = await new_user(ctx)  # no team: the platform allows medium risk to be auto-approved
    await update_user_settings(ctx, user, auto_approve_medium_risk=True, require_confirmation_sms=True)
    reminder = {"message": "Stretch", "remind_at": "2026-12-24T10:00", "channel": "sms"}
    assert asks(await act(client, user, "schedule_reminder", reminder), "CHANNEL_REQUIRES_CONFIRMATION")


async def test_a_reminder_by_call_asks_as_a_call_does(client, ctx):
    user = await auto_sms_user(ctx, auto_approve_medium_risk=True, require_confirmation_voice=True)
    reminder = {"message": "Stretch", "remind_at": "2026-12-24T10:00", "channel": "call"}
    assert asks(await act(client, user, "schedule_reminder", reminder), "CHANNEL_REQUIRES_CONFIRMATION")


async def test_a_sequence_that_texts_asks_when_the_team_requires_confirmation(client, ctx):
    user = await auto_sms_user(ctx)
    async with ctx.sessions() as session:
        [membership] = await accounts.memberships(session, user.id)
    await update_team_settings(ctx, membership.team_id, require_confirmation=True)
    sequence: dict[str, Any] = {"name": "Warm-up", "trigger": "manual", "actions": [SMS_STEP]}
    assert asks(await act(client, user, "create_action_sequence", sequence), "CHANNEL_REQUIRES_CONFIRMATION")
    assert asks(await act(client, user, "send_sms", {"message": "Day 1"}), "CHANNEL_REQUIRES_CONFIRMATION")


async def test_a_member_who_switched_the_confidence_check_off_still_meets_the_teams_minimum(client, ctx):
    team = await new_team(ctx)
    await update_team_settings(ctx, team, min_confidence_threshold=0.8)
    user = await new_user(ctx, team_id=team)
    await update_user_settings(ctx, user, require_high_confidence=False)
    assert asks(await act(client, user, "create_task", {"title": "Stretch"}, confidence=0.7), "LOW_CONFIDENCE")


async def test_a_call_without_a_confidence_is_not_taken_as_sure(client, ctx):
    user = await auto_sms_user(ctx)
    assert asks(await act(client, user, "send_sms", {"message": "Hi"}, confidence=None), "LOW_CONFIDENCE")
