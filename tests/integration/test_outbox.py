"""The development outbox (DESIGN section 9): with COACH_OUTBOX=true, a channel without credentials stores its
messages instead of failing; with credentials, or without COACH_OUTBOX, channels are what they always were.

Both backends (SQLite; PostgreSQL + Redis). The real channels are the real twilio SDK and aiohttp client
pointed at FakeTwilioAPI and FakeResend over real sockets (tests/providers.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from action_requests import add_contact, confirm, error_code, propose
from apps import http_client, running_app
from backends import Backend, make_settings
from factories import DAYTIME, TestUser, daytime_clock, history_rows, new_user, update_user_settings
from providers import Providers
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from db import outbox
from db.models import CallSession, OutboxMessage, new_id
from server.context import AppContext

SMS = {"message": "Time for your run"}


@asynccontextmanager
async def coach(backend: Backend, **settings: Any) -> AsyncIterator[tuple[AppContext, httpx.AsyncClient]]:
    """The app with these settings (beyond the backend's), its clock on a weekday afternoon."""
    async with running_app(make_settings(backend, **settings)) as application, http_client(application) as http:
        daytime_clock(application.state.ctx)
        yield application.state.ctx, http


@pytest.fixture
async def outbox_app(backend) -> AsyncIterator[tuple[AppContext, httpx.AsyncClient]]:
    """COACH_OUTBOX=true and no Twilio or Resend credentials: SMS, calls and email go to the outbox."""
    async with coach(backend, COACH_OUTBOX=True) as running:
        yield running


async def confirmed(client: httpx.AsyncClient, user: TestUser, tool: str, args: dict[str, Any]) -> httpx.Response:
    """Propose `tool` and confirm it, as the person does; the confirmation's answer."""
    return await confirm(client, user, await propose(client, user, tool, args))


async def outbox_rows(ctx: AppContext, **where: Any) -> list[OutboxMessage]:
    async with ctx.sessions() as session:
        return list((await session.scalars(select(OutboxMessage).filter_by(**where))).all())


async def listed(client: httpx.AsyncClient, user: TestUser, query: str = "") -> httpx.Response:
    return await client.get(f"/api/outbox{query}", headers=user.headers)


# --- delivery to the outbox ---------------------------------------------------------------------


async def test_a_confirmed_sms_without_twilio_credentials_is_stored_in_the_outbox_once(outbox_app):
    ctx, client = outbox_app
    user = await new_user(ctx)
    response = await confirmed(client, user, "send_sms", SMS)
    assert response.status_code == 200, response.text
    [row] = await outbox_rows(ctx, user_id=user.id)
    assert (row.channel, row.to_address, row.body, row.subject) == ("sms", user.phone, SMS["message"], None)
    assert response.json()["data"]["delivery"] == "outbox"


async def test_confirming_the_same_sms_twice_stores_it_once(outbox_app):
    ctx, client = outbox_app
    user = await new_user(ctx)
    action_id = await propose(client, user, "send_sms", SMS)
    first, again = await confirm(client, user, action_id), await confirm(client, user, action_id)
    assert first.status_code == 200 and again.status_code != 200
    assert len(await outbox_rows(ctx, user_id=user.id)) == 1


async def test_the_database_refuses_a_second_outbox_message_for_the_same_action(outbox_app):
    ctx, _ = outbox_app
    user = await new_user(ctx)
    action_id = new_id()
    async with ctx.sessions() as session:
        await outbox.store(session, user_id=user.id, action_id=action_id, channel="sms", to_address=user.phone, body="a")
        with pytest.raises(IntegrityError):
            await outbox.store(session, user_id=user.id, action_id=action_id, channel="sms", to_address=user.phone, body="b")


async def test_the_history_of_an_sms_stored_in_the_outbox_says_delivered_to_outbox(outbox_app):
    ctx, client = outbox_app
    user = await new_user(ctx)
    response = await confirmed(client, user, "send_sms", SMS)
    [executed] = [row for row in await history_rows(ctx, user_id=user.id) if row.status == "executed"]
    assert executed.result["delivery"] == "outbox" and executed.result["outcome"] == "delivered to outbox"
    assert response.json()["message"] == "send_sms delivered to outbox"


async def test_an_sms_stored_in_the_outbox_is_listed_at_api_outbox_as_not_sent(outbox_app):
    ctx, client = outbox_app
    user = await new_user(ctx)
    stored_id = (await confirmed(client, user, "send_sms", SMS)).json()["data"]["message_sid"]
    response = await listed(client, user)
    assert response.status_code == 200, response.text
    [message] = response.json()["messages"]
    assert (message["id"], message["channel"], message["to"], message["body"], message["sent"]) == (
        stored_id, "sms", user.phone, SMS["message"], False
    )


async def test_an_email_without_resend_credentials_is_stored_in_the_outbox_with_its_subject(outbox_app):
    ctx, client = outbox_app
    user = await new_user(ctx)
    response = await confirmed(client, user, "send_email", {"subject": "Your week", "body": "Three runs."})
    assert response.status_code == 200, response.text
    [row] = await outbox_rows(ctx, user_id=user.id)
    assert (row.channel, row.to_address, row.subject, row.body) == ("email", user.email, "Your week", "Three runs.")


async def test_an_email_to_a_contact_without_resend_credentials_is_stored_in_the_outbox(outbox_app):
    ctx, client = outbox_app
    user = await new_user(ctx)
    await update_user_settings(ctx, user, allow_external_email=True)
    await add_contact(ctx, user, "mentor@example.org")
    args = {"to_email": "mentor@example.org", "subject": "My progress", "body": "Ran 5k."}
    response = await confirmed(client, user, "send_email_to_contact", args)
    assert response.status_code == 200, response.text
    [row] = await outbox_rows(ctx, user_id=user.id)
    assert (row.channel, row.to_address, row.subject) == ("email", "mentor@example.org", "My progress")
    assert row.body.startswith("Ran 5k.") and "Sent on behalf of" in row.body


async def test_a_call_without_twilio_credentials_is_stored_in_the_outbox_and_no_call_is_started(outbox_app):
    ctx, client = outbox_app
    user = await new_user(ctx)
    response = await confirmed(client, user, "make_voice_call", {"call_type": "custom", "message": "Talk about sleep"})
    assert response.status_code == 200, response.text
    [row] = await outbox_rows(ctx, user_id=user.id)
    assert (row.channel, row.to_address, row.body) == ("call", user.phone, "Talk about sleep")
    async with ctx.sessions() as session:
        assert await session.scalar(select(func.count()).where(CallSession.user_id == user.id)) == 0


# --- who sees it ---------------------------------------------------------------------------------


async def test_another_user_does_not_see_the_outbox_messages_of_someone_else(outbox_app):
    ctx, client = outbox_app
    owner, other = await new_user(ctx), await new_user(ctx)
    await confirmed(client, owner, "send_sms", SMS)
    response = await listed(client, other)
    assert (response.status_code, response.json()) == (200, {"messages": [], "next_cursor": None})


# --- real channels ---------------------------------------------------------------------------------


async def test_with_credentials_set_the_real_channels_are_used_and_the_outbox_stays_empty(backend, providers: Providers):
    async with coach(backend, COACH_OUTBOX=True, **providers.settings()) as (ctx, client):
        user = await new_user(ctx)
        sms = await confirmed(client, user, "send_sms", SMS)
        email = await confirmed(client, user, "send_email", {"subject": "Your week", "body": "Three runs."})
        assert await outbox_rows(ctx, user_id=user.id) == []
    assert (sms.status_code, email.status_code) == (200, 200)
    assert [sms.param("Body") for sms in providers.twilio.messages] == [SMS["message"]] and len(providers.resend.emails) == 1


async def test_without_coach_outbox_a_missing_twilio_credential_is_service_unavailable(backend):
    async with coach(backend) as (ctx, client):
        user = await new_user(ctx)
        response = await confirmed(client, user, "send_sms", SMS)
        assert await outbox_rows(ctx, user_id=user.id) == []
    assert (response.status_code, error_code(response)) == (503, "SERVICE_UNAVAILABLE")


async def test_the_startup_log_names_the_channels_that_go_to_the_outbox(backend, providers: Providers, caplog):
    caplog.set_level(logging.INFO, logger="coach.app")
    twilio_only = {k: v for k, v in providers.settings().items() if not k.startswith(("RESEND", "EMAIL"))}
    async with coach(backend, COACH_OUTBOX=True, **twilio_only):
        pass
    [announced] = [r for r in caplog.records if r.name == "coach.app" and hasattr(r, "outbox_channels")]
    assert announced.outbox_channels == ["email"]


# --- paging ----------------------------------------------------------------------------------------


async def test_the_outbox_pages_newest_first_with_a_cursor(outbox_app):
    ctx, client = outbox_app
    user = await new_user(ctx)
    for n in range(3):
        await confirmed(client, user, "send_sms", {"message": f"message {n}"})
    first = (await listed(client, user, "?limit=2")).json()
    second = (await listed(client, user, f"?limit=2&cursor={first['next_cursor']}")).json()
    bodies = [m["body"] for m in first["messages"] + second["messages"]]
    assert bodies == ["message 2", "message 1", "message 0"] and second["next_cursor"] is None


async def test_messages_stored_at_the_same_moment_are_each_listed_once_across_pages(outbox_app):
    ctx, client = outbox_app
    user = await new_user(ctx)
    async with ctx.sessions() as session:
        session.add_all(
            OutboxMessage(user_id=user.id, action_id=new_id(), channel="sms", to_address=user.phone, body=f"m{n}",
                          created_at=DAYTIME)
            for n in range(3)
        )
        await session.commit()
    seen, cursor = [], ""
    for _ in range(3):
        page = (await listed(client, user, f"?limit=1{cursor}")).json()
        seen += [m["body"] for m in page["messages"]]
        cursor = f"&cursor={page['next_cursor']}"
    assert sorted(seen) == ["m0", "m1", "m2"] and page["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "501", "-1", "2.5", "ten", "\u0663", "", "9" * 40])
async def test_a_limit_that_is_not_1_to_500_in_ascii_digits_is_400(outbox_app, limit):
    ctx, client = outbox_app
    user = await new_user(ctx)
    response = await client.get("/api/outbox", params={"limit": limit}, headers=user.headers)
    assert (response.status_code, error_code(response)) == (400, "INVALID_ARGUMENT")


@pytest.mark.parametrize("cursor", ["not-a-cursor", "W10", "WyIyMDI2LTExLTI0VDE5OjAwOjAwIiwgIngiXQ", "x" * 500])
async def test_a_cursor_this_server_did_not_give_is_400(outbox_app, cursor):
    ctx, client = outbox_app
    user = await new_user(ctx)
    response = await client.get("/api/outbox", params={"cursor": cursor}, headers=user.headers)
    assert (response.status_code, error_code(response)) == (400, "INVALID_ARGUMENT")
