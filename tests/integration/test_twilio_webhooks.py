"""Signed Twilio webhooks: inbound call TwiML, unknown callers, SMS opt-out keywords, status callbacks."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from backends import make_settings
from apps import http_client, running_app
from db.models import CallSession, ConsentRecord
from factories import new_user
from tools.channels.stream_token import verify_stream_token
from twilio_requests import signed_form

AUTH_TOKEN = "twilio-webhook-token"
PUBLIC_URL = "https://coach.example.test"


@pytest.fixture
async def twilio_app(backend):
    settings = make_settings(backend, TWILIO_AUTH_TOKEN=AUTH_TOKEN, PUBLIC_URL=PUBLIC_URL)
    async with running_app(settings) as app, http_client(app) as client:
        yield app, client


def signed(path: str, params: dict[str, str], token: str = AUTH_TOKEN) -> tuple[bytes, dict[str, str]]:
    return signed_form(token, PUBLIC_URL + path, params)


async def post_signed(client, path: str, params: dict[str, str], token: str = AUTH_TOKEN):
    body, headers = signed(path, params, token)
    return await client.post(path, content=body, headers=headers)


async def test_known_caller_gets_a_stream_with_a_signed_token_bound_to_the_call(twilio_app):
    app, client = twilio_app
    user = await new_user(app.state.ctx)
    response = await post_signed(client, "/twilio/voice", {"CallSid": "CA123", "From": user.phone, "To": "+14155550199"})
    assert response.status_code == 200
    xml = response.text
    assert '<Stream url="wss://coach.example.test/twilio/media">' in xml
    token = re.search(r'<Parameter name="token" value="([^"]+)"', xml).group(1)
    grant = verify_stream_token(app.state.ctx.settings.COACH_SECRET_KEY, token)
    assert (grant.user_id, grant.call_sid, grant.purpose) == (user.id, "CA123", "conversation")
    async with app.state.ctx.sessions() as session:
        call = (await session.execute(select(CallSession).where(CallSession.call_sid == "CA123"))).scalar_one()
    assert call.id == grant.call_session_id and call.direction == "inbound"


async def test_unknown_caller_gets_a_polite_message_and_a_hang_up(twilio_app):
    _, client = twilio_app
    response = await post_signed(client, "/twilio/voice", {"CallSid": "CA9", "From": "+14155559876"})
    assert "<Say>" in response.text and "<Hangup" in response.text
    assert "<Stream" not in response.text


async def test_forged_signature_is_403(twilio_app):
    app, client = twilio_app
    user = await new_user(app.state.ctx)
    response = await post_signed(client, "/twilio/voice", {"CallSid": "CA1", "From": user.phone}, token="wrong-token")
    assert response.status_code == 403


async def test_missing_signature_is_403(twilio_app):
    _, client = twilio_app
    response = await client.post("/twilio/voice", data={"CallSid": "CA1", "From": "+14155550100"})
    assert response.status_code == 403


async def test_signature_over_changed_parameters_is_403(twilio_app):
    app, client = twilio_app
    user = await new_user(app.state.ctx)
    body, headers = signed("/twilio/voice", {"CallSid": "CA1", "From": "+14155550100"})
    tampered = body.replace(b"%2B14155550100", user.phone.replace("+", "%2B").encode())
    assert (await client.post("/twilio/voice", content=tampered, headers=headers)).status_code == 403


@pytest.mark.parametrize("keyword", ["STOP", "stop", "Unsubscribe.", "QUIT"])
async def test_stop_keyword_opts_the_number_out_of_sms(twilio_app, keyword):
    app, client = twilio_app
    user = await new_user(app.state.ctx)
    response = await post_signed(client, "/twilio/sms", {"From": user.phone, "Body": keyword, "MessageSid": "SM1"})
    assert response.status_code == 200
    async with app.state.ctx.sessions() as session:
        rows = (await session.execute(select(ConsentRecord).where(ConsentRecord.address == user.phone))).scalars().all()
    assert [(r.channel, r.opted_out, r.source) for r in rows] == [("sms", True, "sms_keyword")]


async def test_start_opts_back_in(twilio_app):
    app, client = twilio_app
    user = await new_user(app.state.ctx)
    await post_signed(client, "/twilio/sms", {"From": user.phone, "Body": "STOP"})
    await post_signed(client, "/twilio/sms", {"From": user.phone, "Body": "START"})
    async with app.state.ctx.sessions() as session:
        rows = (
            await session.execute(
                select(ConsentRecord.opted_out).where(ConsentRecord.address == user.phone).order_by(ConsentRecord.created_at)
            )
        ).scalars().all()
    assert rows == [True, False]


async def test_ordinary_sms_changes_no_consent(twilio_app):
    app, client = twilio_app
    user = await new_user(app.state.ctx)
    await post_signed(client, "/twilio/sms", {"From": user.phone, "Body": "thanks coach!"})
    async with app.state.ctx.sessions() as session:
        rows = (await session.execute(select(ConsentRecord).where(ConsentRecord.address == user.phone))).scalars().all()
    assert rows == []


async def test_status_callback_updates_the_call_record(twilio_app):
    app, client = twilio_app
    user = await new_user(app.state.ctx)
    await post_signed(client, "/twilio/voice", {"CallSid": "CA777", "From": user.phone})
    response = await post_signed(client, "/twilio/status", {"CallSid": "CA777", "CallStatus": "completed"})
    assert response.status_code == 204
    async with app.state.ctx.sessions() as session:
        call = (await session.execute(select(CallSession).where(CallSession.call_sid == "CA777"))).scalar_one()
    assert call.status == "completed"
