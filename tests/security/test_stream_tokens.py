"""Media-stream tokens: a token opens one stream, for its own call.

The coach server runs under uvicorn with the provider fakes (`worlds.voice_world`); streams are opened by
`TwilioMediaCaller` over real websockets, as Twilio opens them. Inbound calls get their TwiML from the signed
voice webhook; outbound calls are placed through the REST API and answered by POSTing the signed answer URL
the call was created with, as Twilio does when the callee picks up.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from backends import Backend
from factories import TestUser, new_user
from phone import StreamInstructions, inbound_call_twiml, media_caller, stream_of
from twilio_requests import signed_form
from worlds import AUTH_TOKEN, VoiceWorld, voice_world

from db.models import CallSession
from tools.channels.stream_token import issue_stream_token, verify_stream_token

POLICY_VIOLATION = 1008


@pytest.fixture
async def world(backend: Backend, tmp_path: Path) -> AsyncIterator[VoiceWorld]:
    async with voice_world(backend, tmp_path) as running:
        yield running


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


async def inbound_stream(world: VoiceWorld, user: TestUser, call_sid: str) -> StreamInstructions:
    return stream_of(await inbound_call_twiml(world, user.phone, call_sid))


async def placed_call_answer_url(world: VoiceWorld, user: TestUser) -> tuple[str, str]:
    """The coach calls `user` (proposed, then confirmed through the API); the call's answer URL and sid."""
    proposal = await world.http.post(
        "/api/actions", headers=user.headers, json={"tool": "make_voice_call", "args": {"call_type": "goal_checkin"}}
    )
    confirmed = await world.http.post(
        f"/api/actions/pending/{proposal.json()['pending_action_id']}/confirm", headers=user.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    [call] = world.twilio.calls
    return call.param("Url"), call.response["sid"]


async def answer(world: VoiceWorld, answer_url: str, call_sid: str) -> str:
    """Twilio fetching an answered outbound call's TwiML: the signed POST to the answer URL."""
    body, headers = signed_form(AUTH_TOKEN, answer_url, {"CallSid": call_sid, "CallStatus": "in-progress"})
    response = await world.http.post(answer_url.removeprefix(world.settings.PUBLIC_URL), content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.text


async def outbound_stream(world: VoiceWorld, user: TestUser) -> tuple[StreamInstructions, str]:
    answer_url, call_sid = await placed_call_answer_url(world, user)
    return stream_of(await answer(world, answer_url, call_sid)), call_sid


async def opens(world: VoiceWorld, stream: StreamInstructions, call_sid: str) -> bool:
    """Whether a stream with these parameters and this call sid reaches the model (else it is closed with 1008)."""
    index = len(world.gemini.live.connections)
    async with media_caller(world, stream, call_sid) as caller:
        closed = asyncio.ensure_future(caller.wait_closed(10))
        reached = asyncio.ensure_future(world.gemini.live.wait_for_connection(index, timeout=10))
        done, _ = await asyncio.wait({closed, reached}, return_when=asyncio.FIRST_COMPLETED)
        for task in (closed, reached):
            task.cancel()
        if reached in done and reached.exception() is None:
            return True
        assert closed in done and closed.result() == POLICY_VIOLATION
        return False


async def test_a_token_opens_one_stream_and_a_second_stream_with_it_is_refused(world):
    user = await new_user(world.data)
    call_sid = new_sid()
    stream = await inbound_stream(world, user, call_sid)
    assert await opens(world, stream, call_sid)
    assert not await opens(world, stream, call_sid)
    assert len(world.gemini.live.connections) == 1


async def test_two_streams_racing_with_one_token_open_one(world):
    user = await new_user(world.data)
    call_sid = new_sid()
    stream = await inbound_stream(world, user, call_sid)
    outcomes = await asyncio.gather(*(opens(world, stream, call_sid) for _ in range(3)))
    assert sorted(outcomes) == [False, False, True]


async def test_an_inbound_calls_token_with_another_call_sid_is_refused(world):
    user = await new_user(world.data)
    stream = await inbound_stream(world, user, new_sid())
    assert not await opens(world, stream, new_sid())
    assert world.gemini.live.connections == []


async def test_an_answered_outbound_call_streams_with_its_own_call_sid(world):
    user = await new_user(world.data)
    stream, call_sid = await outbound_stream(world, user)
    assert await opens(world, stream, call_sid)


async def test_an_outbound_calls_token_with_another_call_sid_is_refused(world):
    user = await new_user(world.data)
    stream, call_sid = await outbound_stream(world, user)
    assert not await opens(world, stream, new_sid())
    assert await opens(world, stream, call_sid)  # the refused attempt did not use up the call's stream


async def test_an_outbound_calls_grant_in_its_answer_url_opens_no_stream(world):
    user = await new_user(world.data)
    answer_url, call_sid = await placed_call_answer_url(world, user)
    grant = answer_url.split("grant=", 1)[1]
    assert not await opens(world, StreamInstructions("wss://coach.example.test/twilio/media", {"token": grant}), call_sid)
    assert world.gemini.live.connections == []


async def test_an_answer_url_fetched_for_another_call_gets_no_stream(world):
    user = await new_user(world.data)
    answer_url, _ = await placed_call_answer_url(world, user)
    twiml = await answer(world, answer_url, new_sid())
    assert "<Hangup" in twiml and "<Stream" not in twiml


@pytest.mark.parametrize("kind", ["expired", "forged"])
async def test_an_expired_or_forged_token_for_a_real_call_is_refused_and_does_not_use_its_stream(world, kind):
    user = await new_user(world.data)
    call_sid = new_sid()
    stream = await inbound_stream(world, user, call_sid)
    real = verify_stream_token(world.settings.COACH_SECRET_KEY, stream.parameters["token"])
    secret = world.settings.COACH_SECRET_KEY if kind == "expired" else "someone-else's-key"
    bad = issue_stream_token(
        secret, user_id=user.id, call_session_id=real.call_session_id, purpose="conversation", call_sid=call_sid,
        ttl_s=-1 if kind == "expired" else 300,
    )
    assert not await opens(world, StreamInstructions(stream.url, {"token": bad}), call_sid)
    async with world.data.sessions() as session:
        assert (await session.get(CallSession, real.call_session_id)).stream_opened_at is None
    assert await opens(world, stream, call_sid)
