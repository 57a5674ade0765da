"""Outbound coaching calls: dialling through the Twilio fake, quiet hours, voicemail, `coach call`."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from apps import http_client, running_app
from backends import make_settings
from db.models import CallSession
from factories import daytime_clock, new_user
from fakes.server import running_server
from fakes.twilio_api import FakeTwilioAPI
from tools.channels.stream_token import verify_stream_token
from twilio_requests import signed_form

ACCOUNT_SID = "AC" + "3" * 32
AUTH_TOKEN = "twilio-token"
PUBLIC_URL = "https://coach.example.test"


@pytest.fixture
async def dialler(backend):
    fake = FakeTwilioAPI(ACCOUNT_SID, AUTH_TOKEN)
    with running_server(fake.app) as url:
        settings = make_settings(
            backend, TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_PHONE_NUMBER="+14155550199", TWILIO_API_BASE_URL=url, PUBLIC_URL=PUBLIC_URL,
        )
        async with running_app(settings) as app, http_client(app) as client:
            daytime_clock(app.state.ctx)
            yield app, client, fake


async def confirm_call(client, user, call_type="goal_checkin", message=""):
    proposal = (
        await client.post(
            "/api/actions", headers=user.headers,
            json={"tool": "make_voice_call", "args": {"call_type": call_type, "message": message}},
        )
    ).json()
    assert proposal.get("needs_confirmation"), proposal
    return await client.post(f"/api/actions/pending/{proposal['pending_action_id']}/confirm", headers=user.headers)


async def answer(client, call) -> str:
    """Twilio, once the callee picks up: POST the call's answer URL (signed, with its CallSid); the TwiML."""
    url = call.param("Url")
    body, headers = signed_form(AUTH_TOKEN, url, {"CallSid": call.response["sid"], "CallStatus": "in-progress"})
    response = await client.post(url.removeprefix(PUBLIC_URL), content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.text


async def test_confirmed_call_dials_the_user_with_an_answer_url(dialler):
    app, client, fake = dialler
    user = await new_user(app.state.ctx)
    response = await confirm_call(client, user, "accountability", "check on the 5k plan")
    assert response.status_code == 200, response.text
    [call] = fake.calls
    assert call.param("To") == user.phone
    assert call.param("MachineDetection") == "Enable"
    assert call.param("Url").startswith(f"{PUBLIC_URL}/twilio/outbound?grant=") and call.param("Method") == "POST"
    assert call.param("Twiml") is None


async def test_the_answered_call_streams_with_a_token_bound_to_its_call_and_carrying_the_purpose(dialler):
    app, client, fake = dialler
    user = await new_user(app.state.ctx)
    await confirm_call(client, user, "accountability", "check on the 5k plan")
    [call] = fake.calls
    twiml = await answer(client, call)
    assert 'url="wss://coach.example.test/twilio/media"' in twiml
    token = re.search(r'name="token" value="([^"]+)"', twiml).group(1)
    grant = verify_stream_token(app.state.ctx.settings.COACH_SECRET_KEY, token)
    assert (grant.user_id, grant.purpose, grant.message) == (user.id, "accountability", "check on the 5k plan")
    assert grant.call_sid == call.response["sid"]
    async with app.state.ctx.sessions() as session:
        record = await session.get(CallSession, grant.call_session_id)
    assert record.call_sid == call.response["sid"] and record.direction == "outbound"


async def test_call_in_quiet_hours_is_not_dialled(dialler):
    app, client, fake = dialler
    user = await new_user(app.state.ctx, timezone="America/Los_Angeles")
    app.state.ctx.services.clock = lambda: datetime(2026, 11, 25, 6, 30, tzinfo=timezone.utc)  # 22:30 in LA
    response = await client.post(
        "/api/actions", headers=user.headers, json={"tool": "make_voice_call", "args": {"call_type": "goal_checkin"}}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["error"]["code"] == "QUIET_HOURS" and body["error"]["details"]["next_allowed_at"]
    assert fake.calls == []


async def test_voicemail_gets_a_short_message_without_personal_details(dialler):
    app, client, fake = dialler
    user = await new_user(app.state.ctx, name="Ann Example")
    await confirm_call(client, user, "custom", "your divorce lawyer meeting")
    sid = fake.calls[0].response["sid"]
    params = {"CallSid": sid, "AnsweredBy": "machine_end_beep", "CallStatus": "in-progress"}
    body, headers = signed_form(AUTH_TOKEN, PUBLIC_URL + "/twilio/status", params)
    response = await client.post("/twilio/status", content=body, headers=headers)
    assert response.status_code == 204
    [update] = fake.call_updates
    twiml = update.param("Twiml")
    assert "<Say>" in twiml and "<Hangup" in twiml
    assert "Ann" not in twiml and "divorce" not in twiml
    async with app.state.ctx.sessions() as session:
        record = (await session.execute(select(CallSession).where(CallSession.call_sid == sid))).scalar_one()
    assert record.answered_by == "machine_end_beep"


async def test_opted_out_user_is_not_dialled(dialler):
    app, client, fake = dialler
    user = await new_user(app.state.ctx)
    await client.post("/api/actions", headers=user.headers, json={"tool": "record_opt_out", "args": {"channel": "call"}})
    response = await client.post(
        "/api/actions", headers=user.headers, json={"tool": "make_voice_call", "args": {"call_type": "celebration"}}
    )
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"
    assert fake.calls == []
