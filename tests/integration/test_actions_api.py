"""The action core through the REST API: dispatch, policy, pending actions, providers, history.

Every test runs on both backends (SQLite with in-process limits; PostgreSQL with Redis) and reaches the
real twilio SDK and httpx client of the app, pointed at FakeTwilioAPI and FakeResend over real sockets.
Time is controlled through the services' clock (pinned to a weekday afternoon by `ctx`).
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from action_requests import (
    CONTACT_EMAIL, act, add_contact, auto_sms_user, cancel, confirm, error_code, feedback_rows, pending_ids,
    pending_status, propose, statuses, team_needing_admin_for_critical,
)
from apps import http_client, running_app
from backends import Backend, make_settings
from factories import (
    DAYTIME, TestUser, daytime_clock, history_rows, new_team, new_user, update_team_settings, update_user_settings,
)
from providers import TWILIO_NUMBER, Providers
from sqlalchemy import delete, select

from db.models import AgentExecutionTrace, ConsentRecord, FeatureFlag, Reminder, UserAgentSettings
from server.config import Settings
from server.context import AppContext
from server.routes.actions import HISTORY_COLUMNS

CARD = "4111 1111 1111 1111"


@pytest.fixture
def settings(backend: Backend, providers: Providers) -> Settings:
    """Overrides conftest's `settings`: the `app` and `client` fixtures then talk to the fakes."""
    return make_settings(backend, **providers.settings())


@pytest.fixture
def ctx(app) -> AppContext:
    daytime_clock(app.state.ctx)
    return app.state.ctx


# --- helpers ---------------------------------------------------------------------------------


def advance(ctx: AppContext, by: timedelta) -> None:
    moment = DAYTIME + by
    ctx.services.clock = lambda: moment


# --- auto-executed actions --------------------------------------------------------------------


async def test_create_task_executes_at_once(client, ctx):
    user = await new_user(ctx)
    response = await act(client, user, "create_task", {"title": "Buy running shoes"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and not body.get("needs_confirmation")
    [row] = await history_rows(ctx, user_id=user.id)
    assert (row.tool, row.status, row.payload["title"]) == ("create_task", "executed", "Buy running shoes")


async def test_executed_action_is_traced_with_latency(client, ctx):
    user = await new_user(ctx)
    await act(client, user, "create_task", {"title": "Stretch"})
    [row] = await history_rows(ctx, user_id=user.id)
    async with ctx.sessions() as session:
        traces = (await session.execute(
            select(AgentExecutionTrace).where(AgentExecutionTrace.action_id == row.action_id)
        )).scalars().all()
    ordered = sorted(traces, key=lambda trace: trace.latency_ms)
    assert [trace.trace_type for trace in ordered] == ["tool_call", "decision_point", "tool_result"]
    assert all(trace.latency_ms is not None and trace.latency_ms >= 0 for trace in ordered)
    assert ordered[1].data["outcome"] == "execute"
    assert ordered[2].data["success"] is True


# --- confirmation ------------------------------------------------------------------------------


async def test_send_sms_needs_confirmation_and_is_listed_as_pending(client, ctx, providers):
    user = await new_user(ctx)
    action_id = await propose(client, user)
    assert await pending_ids(client, user) == [action_id]
    assert providers.twilio.requests == []
    assert await statuses(ctx, action_id) == ["proposed"]


async def test_confirmed_sms_is_sent_once_to_the_users_phone(client, ctx, providers):
    user = await new_user(ctx)
    action_id = await propose(client, user, args={"message": "Lace up, it's run time"})
    response = await confirm(client, user, action_id)
    assert response.status_code == 200, response.text
    [sms] = providers.twilio.messages
    assert (sms.param("To"), sms.param("From"), sms.param("Body")) == (user.phone, TWILIO_NUMBER,
                                                                        "Lace up, it's run time")
    assert response.json()["data"]["message_sid"] == sms.response["sid"]
    assert await statuses(ctx, action_id) == ["proposed", "confirmed", "executed"]
    assert await pending_status(ctx, action_id) == "executed"
    assert await pending_ids(client, user) == []


async def test_confirmation_records_approved_feedback_with_time_to_decision(client, ctx):
    user = await new_user(ctx)
    action_id = await propose(client, user)
    advance(ctx, timedelta(seconds=30))
    assert (await confirm(client, user, action_id)).status_code == 200
    [feedback] = await feedback_rows(ctx, action_id)
    assert (feedback.feedback_type, feedback.time_to_decision_ms) == ("approved", 30_000)
    assert feedback.edited_payload is None


async def test_cancel_sends_nothing_and_records_rejected_feedback(client, ctx, providers):
    user = await new_user(ctx)
    action_id = await propose(client, user)
    response = await cancel(client, user, action_id, "changed my mind")
    assert response.status_code == 200 and response.json()["data"]["status"] == "cancelled"
    assert providers.twilio.requests == []
    assert await statuses(ctx, action_id) == ["proposed", "cancelled"]
    [feedback] = await feedback_rows(ctx, action_id)
    assert (feedback.feedback_type, feedback.comment) == ("rejected", "changed my mind")
    assert (await confirm(client, user, action_id)).status_code != 200
    assert providers.twilio.requests == []


async def test_edited_confirmation_sends_the_edited_message(client, ctx, providers):
    user = await new_user(ctx)
    action_id = await propose(client, user, args={"message": "Run at 6"})
    response = await confirm(client, user, action_id, {"message": "Run at 7 instead"})
    assert response.status_code == 200, response.text
    assert [sms.param("Body") for sms in providers.twilio.messages] == ["Run at 7 instead"]
    [executed] = [row for row in await history_rows(ctx, action_id=action_id) if row.status == "executed"]
    assert executed.payload == {"message": "Run at 7 instead"}


async def test_edited_confirmation_records_edited_feedback_with_both_payloads(client, ctx):
    user = await new_user(ctx)
    action_id = await propose(client, user, args={"message": "Run at 6"})
    await confirm(client, user, action_id, {"message": "Run at 7 instead"})
    [feedback] = await feedback_rows(ctx, action_id)
    assert feedback.feedback_type == "edited"
    assert (feedback.original_payload, feedback.edited_payload) == ({"message": "Run at 6"},
                                                                     {"message": "Run at 7 instead"})


async def test_edit_that_changes_the_tool_is_refused(client, ctx, providers):
    user = await new_user(ctx)
    action_id = await propose(client, user)
    response = await confirm(client, user, action_id, {"message": "hi", "tool": "send_email"})
    assert (response.status_code, error_code(response)) == (422, "INVALID_ARGUMENT")
    assert providers.twilio.requests == [] and providers.resend.requests == []
    assert await pending_status(ctx, action_id) == "pending_confirmation"


async def test_edit_with_a_card_number_is_content_blocked_and_nothing_sent(client, ctx, providers):
    user = await new_user(ctx)
    action_id = await propose(client, user)
    response = await confirm(client, user, action_id, {"message": f"my card is {CARD}"})
    assert (response.status_code, error_code(response)) == (422, "CONTENT_BLOCKED")
    assert "4111" not in response.text
    assert providers.twilio.requests == []
    assert await pending_status(ctx, action_id) == "pending_confirmation"


async def test_blocked_card_number_is_not_kept_in_history_or_traces(client, ctx):
    user = await new_user(ctx)
    response = await act(client, user, "send_sms", {"message": f"my card is {CARD}"})
    assert error_code(response) == "CONTENT_BLOCKED"
    [row] = await history_rows(ctx, user_id=user.id)
    async with ctx.sessions() as session:
        traces = (await session.execute(
            select(AgentExecutionTrace).where(AgentExecutionTrace.action_id == row.action_id)
        )).scalars().all()
    assert row.payload["message"].startswith("my card is ") and "4111" not in row.payload["message"]
    assert any(trace.trace_type == "tool_call" for trace in traces)
    assert all("4111" not in repr(trace.data) for trace in traces)
    assert "4111" not in (await client.get("/api/actions/history?format=csv", headers=user.headers)).text


async def test_confirmation_after_five_minutes_is_expired(client, ctx, providers):
    user = await new_user(ctx)
    action_id = await propose(client, user)
    advance(ctx, timedelta(minutes=6))
    response = await confirm(client, user, action_id)
    assert (response.status_code, error_code(response)) == (410, "ACTION_EXPIRED")
    assert providers.twilio.requests == []
    assert await statuses(ctx, action_id) == ["proposed", "expired"]
    assert await pending_ids(client, user) == []


# --- who may see and resolve what ----------------------------------------------------------


async def test_other_user_does_not_see_pending_actions(client, ctx):
    owner, other = await new_user(ctx), await new_user(ctx)
    action_id = await propose(client, owner)
    assert await pending_ids(client, other) == []
    assert await pending_ids(client, owner) == [action_id]


async def test_other_user_cannot_confirm_or_cancel(client, ctx, providers):
    owner, other = await new_user(ctx), await new_user(ctx)
    action_id = await propose(client, owner)
    confirmed = await confirm(client, other, action_id)
    cancelled = await cancel(client, other, action_id)
    assert (confirmed.status_code, cancelled.status_code) == (404, 404)
    assert providers.twilio.requests == []
    assert await pending_status(ctx, action_id) == "pending_confirmation"


async def test_other_user_does_not_see_history(client, ctx):
    owner, other = await new_user(ctx), await new_user(ctx)
    await act(client, owner, "create_task", {"title": "secret plan"})
    theirs = (await client.get("/api/actions/history", headers=other.headers)).json()["history"]
    mine = (await client.get("/api/actions/history", headers=owner.headers)).json()["history"]
    assert theirs == [] and [row["tool"] for row in mine] == ["create_task"]


async def test_member_cannot_approve_critical_action_needing_an_admin(client, ctx, providers):
    member, _ = await team_needing_admin_for_critical(ctx)
    action_id = await propose(client, member, "send_email_to_contact", CONTACT_EMAIL)
    response = await confirm(client, member, action_id)
    assert (response.status_code, error_code(response)) == (403, "PERMISSION_DENIED")
    assert providers.resend.requests == []
    assert await pending_status(ctx, action_id) == "pending_confirmation"


async def test_team_admin_approves_critical_email_sent_with_attribution(client, ctx, providers):
    member, admin = await team_needing_admin_for_critical(ctx)
    action_id = await propose(client, member, "send_email_to_contact", CONTACT_EMAIL)
    assert action_id in await pending_ids(client, admin)
    response = await confirm(client, admin, action_id)
    assert response.status_code == 200, response.text
    [email] = providers.resend.emails
    assert email.payload["to"] == ["mentor@example.org"]
    assert email.payload["reply_to"] == member.email
    assert email.payload["text"].startswith("Ran 5k this week.")
    assert email.payload["text"].endswith("Sent on behalf of Ann Member via Vision Coach")


async def test_team_admin_cannot_rewrite_a_members_critical_email(client, ctx, providers):
    member, admin = await team_needing_admin_for_critical(ctx)
    action_id = await propose(client, member, "send_email_to_contact", CONTACT_EMAIL)
    response = await confirm(client, admin, action_id, {**CONTACT_EMAIL, "body": "Words the member never wrote."})
    assert (response.status_code, error_code(response)) == (403, "PERMISSION_DENIED")
    assert providers.resend.requests == []
    assert await pending_status(ctx, action_id) == "pending_confirmation"


async def test_admin_pending_list_leaves_out_a_members_expired_action(client, ctx):
    member, admin = await team_needing_admin_for_critical(ctx)
    action_id = await propose(client, member, "send_email_to_contact", CONTACT_EMAIL)
    advance(ctx, timedelta(minutes=6))
    assert action_id not in await pending_ids(client, admin)


async def test_email_to_someone_not_a_saved_contact_is_invalid_recipient(client, ctx, providers):
    user = await new_user(ctx)
    await update_user_settings(ctx, user, allow_external_email=True)
    await add_contact(ctx, user, "friend@example.org")
    response = await act(client, user, "send_email_to_contact", {**CONTACT_EMAIL, "to_email": "stranger@example.org"})
    assert (response.status_code, error_code(response)) == (422, "INVALID_RECIPIENT")
    assert await pending_ids(client, user) == []
    assert providers.resend.requests == []


# --- limits (parallel confirms and sends: tests/security/test_races.py) ---------------------------


async def test_rate_limited_attempt_is_recorded_with_what_was_asked(client, ctx):
    user = await auto_sms_user(ctx, max_sms_per_day=0)
    response = await act(client, user, "send_sms", {"message": "one too many"})
    assert error_code(response) == "RATE_LIMITED"
    assert response.json()["error"]["details"]["reason"] == "daily_limit"
    [row] = await history_rows(ctx, user_id=user.id)
    assert (row.status, row.error_code, row.payload) == ("denied", "RATE_LIMITED", {"message": "one too many"})


async def test_burst_limit_refuses_sends_beyond_the_per_minute_limit(client, ctx, providers):
    user = await auto_sms_user(ctx, max_sms_per_day=20)
    ctx.services.burst_per_minute = 5
    responses = await asyncio.gather(*(act(client, user, "send_sms", {"message": f"n{i}"}) for i in range(10)))
    refused = [response.json()["error"] for response in responses if response.status_code == 429]
    assert len(providers.twilio.messages) == 5 and len(refused) == 5
    assert {error["details"]["reason"] for error in refused} == {"burst_limit"}


# --- providers ----------------------------------------------------------------------------------


async def test_twilio_server_errors_are_retried_and_send_once(client, ctx, providers):
    user = await auto_sms_user(ctx)
    providers.twilio.fail_next(2, 500)
    response = await act(client, user, "send_sms", {"message": "third time lucky"})
    assert response.status_code == 200, response.text
    assert [r.method for r in providers.twilio.requests] == ["POST", "GET", "POST", "GET", "POST"]  # a GET: was it sent?
    assert [sms.param("Body") for sms in providers.twilio.messages] == ["third time lucky"]
    assert [row.status for row in await history_rows(ctx, user_id=user.id)] == ["executed"]


async def test_twilio_refusal_fails_with_the_providers_message(client, ctx, providers):
    user = await auto_sms_user(ctx)
    providers.twilio.fail_next(1, 400, code=21617, message="The concatenated message body exceeds the limit")
    response = await act(client, user, "send_sms", {"message": "hello"})
    assert (response.status_code, error_code(response)) == (422, "INVALID_ARGUMENT")
    assert len(providers.twilio.requests) == 1  # a 4xx is not retried
    [row] = await history_rows(ctx, user_id=user.id)
    assert row.status == "failed"
    assert "The concatenated message body exceeds the limit" in row.error_message


async def test_twilio_refusal_does_not_spend_the_quota(client, ctx, providers):
    user = await auto_sms_user(ctx)
    services = ctx.services
    providers.twilio.fail_next(1, 400, code=21617, message="refused")
    await act(client, user, "send_sms", {"message": "hello"})
    assert (await services.quotas.usage(user.id, "sms", "UTC", services.clock())).used == 0
    await act(client, user, "send_sms", {"message": "hello again"})
    assert (await services.quotas.usage(user.id, "sms", "UTC", services.clock())).used == 1


async def test_twilio_unsubscribed_recipient_is_suppressed_for_good(client, ctx, providers):
    user = await auto_sms_user(ctx)
    providers.twilio.fail_next(1, 400, code=21610, message="Attempt to send to unsubscribed recipient")
    first = await act(client, user, "send_sms", {"message": "hello"})
    assert error_code(first) == "PERMISSION_DENIED"
    assert [row.status for row in await history_rows(ctx, user_id=user.id)] == ["failed"]
    async with ctx.sessions() as session:
        [record] = (await session.execute(select(ConsentRecord).where(ConsentRecord.address == user.phone))).scalars()
    assert (record.channel, record.opted_out, record.permanent, record.source) == ("sms", True, True, "twilio_21610")

    second = await act(client, user, "send_sms", {"message": "hello?"})
    assert (second.status_code, error_code(second)) == (403, "PERMISSION_DENIED")
    assert len(providers.twilio.requests) == 1


async def test_email_uses_the_action_id_as_idempotency_key(client, ctx, providers):
    user = await new_user(ctx)
    action_id = await propose(client, user, "send_email", {"subject": "Plan", "body": "Your week"})
    assert (await confirm(client, user, action_id)).status_code == 200
    [email] = providers.resend.emails
    assert email.idempotency_key == action_id
    assert (email.payload["to"], email.payload["subject"], email.payload["text"]) == ([user.email], "Plan", "Your week")


async def test_resend_server_error_is_retried_and_sends_one_email(client, ctx, providers):
    user = await new_user(ctx)
    action_id = await propose(client, user, "send_email", {"subject": "Plan", "body": "Your week"})
    providers.resend.fail_next(1, 500)
    assert (await confirm(client, user, action_id)).status_code == 200
    assert len(providers.resend.requests) == 2
    assert {request.headers["idempotency-key"] for request in providers.resend.requests} == {action_id}
    assert len(providers.resend.emails) == 1


async def test_unreachable_resend_is_service_unavailable_and_recorded_as_failed(backend, providers):
    settings = make_settings(backend, **{**providers.settings(), "RESEND_BASE_URL": "http://127.0.0.1:1"})
    async with running_app(settings) as application, http_client(application) as http:
        ctx = application.state.ctx
        daytime_clock(ctx)
        user = await new_user(ctx)
        action_id = await propose(http, user, "send_email", {"subject": "Plan", "body": "Your week"})
        response = await confirm(http, user, action_id)
        rows = await history_rows(ctx, action_id=action_id)
    assert (response.status_code, error_code(response)) == (503, "SERVICE_UNAVAILABLE")
    assert response.json()["error"]["details"]["provider_error"] == "transport_error"
    assert [row.status for row in rows] == ["proposed", "confirmed", "failed"]


# --- when and whether -------------------------------------------------------------------------


async def test_sms_in_the_users_quiet_hours_is_denied_with_next_allowed_time(client, ctx, providers):
    user = await new_user(ctx, timezone="Asia/Dubai")  # DAYTIME (19:00 UTC) is 23:00 in Dubai
    response = await act(client, user, "send_sms", {"message": "late"})
    assert (response.status_code, error_code(response)) == (409, "QUIET_HOURS")
    assert response.json()["error"]["details"]["next_allowed_at"] == "2026-11-25T04:00:00+00:00"  # 08:00 Dubai
    assert providers.twilio.requests == []
    assert [row.status for row in await history_rows(ctx, user_id=user.id)] == ["denied"]


async def test_unreachable_redis_fails_closed(backend, providers):
    settings = make_settings(backend, REDIS_URL="redis://127.0.0.1:1/0", **providers.settings())
    async with running_app(settings) as application, http_client(application) as http:
        ctx = application.state.ctx
        daytime_clock(ctx)
        user = await auto_sms_user(ctx)
        response = await act(http, user, "send_sms", {"message": "hello"})
    assert (response.status_code, error_code(response)) == (503, "SERVICE_UNAVAILABLE")
    assert providers.twilio.requests == []


@pytest.fixture
async def sms_flag_off(ctx) -> Any:
    """A `tool:send_sms` flag with no rules (off for everyone), removed afterwards: the database is shared."""
    async with ctx.sessions() as session:
        session.add(FeatureFlag(name="tool:send_sms", enabled=False))
        await session.commit()
    yield
    async with ctx.sessions() as session:
        await session.execute(delete(FeatureFlag).where(FeatureFlag.name == "tool:send_sms"))
        await session.commit()


async def test_disabled_tool_flag_refuses_the_tool(client, ctx, providers, sms_flag_off):
    user = await auto_sms_user(ctx)
    response = await act(client, user, "send_sms", {"message": "hello"})
    assert (response.status_code, error_code(response)) == (403, "PERMISSION_DENIED")
    assert providers.twilio.requests == []
    assert (await act(client, user, "create_task", {"title": "still works"})).status_code == 200


# --- history ------------------------------------------------------------------------------------


async def varied_history(client: httpx.AsyncClient, ctx: AppContext) -> TestUser:
    """executed create_task, proposed send_sms, denied send_sms (content)."""
    user = await new_user(ctx)
    await act(client, user, "create_task", {"title": "Plan the marathon"})
    await propose(client, user, args={"message": "Hydrate before the long run"})
    await act(client, user, "send_sms", {"message": f"card {CARD}"})
    return user


async def history(client: httpx.AsyncClient, user: TestUser, **params: str) -> httpx.Response:
    return await client.get("/api/actions/history", headers=user.headers, params=params)


async def test_history_exports_csv_with_a_header(client, ctx):
    user = await varied_history(client, ctx)
    response = await history(client, user, format="csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    rows = list(reader)
    assert reader.fieldnames == HISTORY_COLUMNS
    assert sorted((row["tool"], row["status"]) for row in rows) == [
        ("create_task", "executed"), ("send_sms", "denied"), ("send_sms", "proposed"),
    ]


async def test_history_filters_by_type(client, ctx):
    user = await varied_history(client, ctx)
    rows = (await history(client, user, type="send_sms")).json()["history"]
    assert sorted(row["status"] for row in rows) == ["denied", "proposed"]


async def test_history_filters_by_status(client, ctx):
    user = await varied_history(client, ctx)
    rows = (await history(client, user, status="executed")).json()["history"]
    assert [row["tool"] for row in rows] == ["create_task"]


async def test_history_filters_by_text(client, ctx):
    user = await varied_history(client, ctx)
    rows = (await history(client, user, q="hydrate")).json()["history"]
    assert [(row["tool"], row["status"]) for row in rows] == [("send_sms", "proposed")]


async def test_operator_call_needs_no_confirmation_but_critical_actions_still_do(app):
    from db.models import UserAgentSettings
    from tools.dispatch import Actor, dispatch

    user = await new_user(app.state.ctx)
    await add_contact(app.state.ctx, user, "pat@example.com")
    async with app.state.ctx.sessions() as session:
        (await session.get(UserAgentSettings, user.id)).allow_external_email = True
        await session.commit()
    services = app.state.ctx.services
    critical = await dispatch(services, Actor(user.id, "operator"), "send_email_to_contact",
                              {"to_email": "pat@example.com", "subject": "s", "body": "b"})
    assert critical.needs_confirmation
    created = await dispatch(services, Actor(user.id, "operator"), "create_task", {"title": "from the operator"})
    assert created.success and not created.needs_confirmation


async def test_dispatch_for_an_unknown_user_is_not_found(app):
    from tools.dispatch import Actor, dispatch

    result = await dispatch(app.state.ctx.services, Actor("0" * 32, "api"), "create_task", {"title": "x"})
    assert result.error.code == "NOT_FOUND"


# --- reminders: time in, read-back out ------------------------------------------------------
# DAYTIME is Tuesday 24 November 2026, 2:00 pm in New York.

STRETCH = {"message": "Stretch"}


async def new_yorker(ctx: AppContext, *, auto_approve: bool = False) -> TestUser:
    """A user in New York; `auto_approve`: a text reminder (medium risk, delivered by a high-risk SMS) runs
    without a confirmation (the team allows high-risk auto-approval, the user turned SMS confirmation off)."""
    if not auto_approve:
        return await new_user(ctx, timezone="America/New_York")
    team = await new_team(ctx)
    await update_team_settings(ctx, team, allow_user_auto_approve_high=True)
    user = await new_user(ctx, timezone="America/New_York", team_id=team)
    await update_user_settings(
        ctx, user, auto_approve_medium_risk=True, auto_approve_high_risk=True, require_confirmation_sms=False
    )
    return user


async def reminders_of(ctx: AppContext, user: TestUser) -> list[Reminder]:
    async with ctx.sessions() as session:
        return list((await session.execute(select(Reminder).where(Reminder.user_id == user.id))).scalars())


async def test_reminder_phrase_is_stored_at_the_right_utc_instant(client, ctx):
    user = await new_yorker(ctx, auto_approve=True)
    response = await act(client, user, "schedule_reminder", {**STRETCH, "remind_at": "tomorrow at 5pm"})
    assert response.status_code == 200, response.text
    [reminder] = await reminders_of(ctx, user)
    assert (reminder.remind_at, reminder.timezone) == (datetime(2026, 11, 25, 22, 0, tzinfo=UTC), "America/New_York")


async def test_reminder_phrase_is_read_in_the_zone_given(client, ctx):
    user = await new_yorker(ctx, auto_approve=True)
    args = {**STRETCH, "remind_at": "tomorrow at 5pm", "timezone": "Europe/London"}
    response = await act(client, user, "schedule_reminder", args)
    assert response.json()["data"]["read_back"] == "on Wednesday 25 November at 5:00 pm, Europe/London time"
    [reminder] = await reminders_of(ctx, user)
    assert (reminder.remind_at, reminder.timezone) == (datetime(2026, 11, 25, 17, 0, tzinfo=UTC), "Europe/London")


async def test_reminder_result_reads_back_the_time(client, ctx):
    user = await new_yorker(ctx, auto_approve=True)
    response = await act(client, user, "schedule_reminder", {**STRETCH, "remind_at": "in 20 minutes"})
    assert response.json()["data"]["read_back"] == "on Tuesday 24 November at 2:20 pm"


async def test_repeating_reminder_is_stored_with_its_zone_and_rule(client, ctx):
    user = await new_yorker(ctx, auto_approve=True)
    args = {**STRETCH, "remind_at": "2026-11-25T06:30", "recurrence": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"}
    response = await act(client, user, "schedule_reminder", args)
    assert response.json()["data"]["read_back"] == "every weekday at 6:30 am, starting Wednesday 25 November"
    [reminder] = await reminders_of(ctx, user)
    assert (reminder.remind_at, reminder.timezone, reminder.recurrence) == (
        datetime(2026, 11, 25, 11, 30, tzinfo=UTC), "America/New_York", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    )


async def test_reminder_confirmation_question_reads_back_the_time(client, ctx):
    user = await new_yorker(ctx)
    response = await act(client, user, "schedule_reminder", {**STRETCH, "remind_at": "2026-12-01T09:00"})
    body = response.json()
    assert body["needs_confirmation"] is True
    assert body["message"].endswith(
        'Shall I remind you by text on Tuesday 1 December at 9:00 am: "Stretch"? Please say yes or no.'
    )
    assert await reminders_of(ctx, user) == []


async def test_confirmed_reminder_phrase_keeps_the_time_it_was_proposed_for(client, ctx):
    user = await new_yorker(ctx)
    action_id = await propose(client, user, "schedule_reminder", {**STRETCH, "remind_at": "in 20 minutes"})
    advance(ctx, timedelta(minutes=3))
    assert (await confirm(client, user, action_id)).status_code == 200
    [reminder] = await reminders_of(ctx, user)
    assert reminder.remind_at == datetime(2026, 11, 24, 19, 20, tzinfo=UTC)


async def test_past_reminder_time_is_refused_with_a_question_and_nothing_stored(client, ctx):
    user = await new_yorker(ctx, auto_approve=True)
    response = await act(client, user, "schedule_reminder", {**STRETCH, "remind_at": "2026-11-24T09:00"})
    assert (response.status_code, error_code(response)) == (422, "INVALID_ARGUMENT")
    assert response.json()["error"]["message"] == (
        "Tuesday 24 November at 9:00 am has already passed (it's 2:00 pm there now); when do you mean?"
    )
    assert await reminders_of(ctx, user) == [] and await pending_ids(client, user) == []


async def test_past_reminder_time_is_refused_before_any_confirmation_is_asked(client, ctx):
    user = await new_yorker(ctx)
    response = await act(client, user, "schedule_reminder", {**STRETCH, "remind_at": "2026-11-24T09:00"})
    assert (response.status_code, error_code(response)) == (422, "INVALID_ARGUMENT")
    assert await pending_ids(client, user) == []


async def test_recurrence_phrase_is_refused_asking_for_an_rrule(client, ctx):
    user = await new_yorker(ctx, auto_approve=True)
    response = await act(client, user, "schedule_reminder", {**STRETCH, "remind_at": "every weekday at 6:30"})
    assert (response.status_code, error_code(response)) == (422, "INVALID_ARGUMENT")
    assert "recurrence as an RRULE" in response.json()["error"]["message"]
    assert await reminders_of(ctx, user) == []


async def test_reminder_whose_time_passed_before_confirmation_is_refused(client, ctx):
    user = await new_yorker(ctx)
    action_id = await propose(client, user, "schedule_reminder", {**STRETCH, "remind_at": "in 2 minutes"})
    advance(ctx, timedelta(minutes=4))
    response = await confirm(client, user, action_id)
    assert (response.status_code, error_code(response)) == (422, "INVALID_ARGUMENT")
    assert await reminders_of(ctx, user) == []
