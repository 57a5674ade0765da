"""A phone call end to end: Twilio's webhook and media stream (TwilioMediaCaller) -> the real server ->
the Gemini Live fake through the real google-genai SDK, with SMS through the real twilio SDK to its fake.

Audio is real speech (tests/fixtures) streamed as 20 ms mu-law frames at real-time pace; the caller plays
the server's audio on a playback clock, echoes marks and honours `clear`.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import numpy as np

from audio import coach_turn, silence, speech_8k
from db.models import PendingAgentAction
from factories import new_user
from fakes.gemini_live import LiveConnection
from fakes.twilio_caller import TwilioMediaCaller
from phone import heard_everything, inbound_call_twiml, phone_call, stream_of
from voice.codec import FrameChunker, TwilioOutboundEncoder, Upsampler8kTo16k, ulaw_to_pcm16
from worlds import VoiceWorld


def media_frames_after(caller: TwilioMediaCaller, stream_ms: float) -> int:
    return sum(1 for f in caller.received_frames if f.stream_ms > stream_ms and (f.message or {}).get("event") == "media")


async def propose_sms(model: LiveConnection, call_id: str, message: str) -> str:
    """The model asks to send an SMS; the server answers with a pending action id."""
    await model.send_tool_call(call_id, "send_sms", {"message": message, "confidence": 0.95})
    response = (await model.wait_for_tool_response(call_id))["response"]
    assert response["needs_confirmation"], response
    return response["pending_action_id"]


async def say_and_be_heard(caller: TwilioMediaCaller, model: LiveConnection, pcm8k: bytes) -> None:
    await caller.say(pcm8k + silence(300), wait=True)
    await heard_everything(caller, model)


async def bad_frame_counts(world: VoiceWorld) -> dict[str, float]:
    text = (await world.http.get("/metrics")).text
    return {kind: float(n) for kind, n in re.findall(r'coach_media_bad_frames_total\{kind="(\w+)"\} (\S+)', text)}


# --- answering and audio ------------------------------------------------------------------------


async def test_inbound_call_is_answered_with_a_stream_carrying_the_token(world):
    user = await new_user(world.data)
    stream = stream_of(await inbound_call_twiml(world, user.phone, "CA" + uuid.uuid4().hex))
    assert stream.url == "wss://coach.example.test/twilio/media"
    assert set(stream.parameters) == {"token"} and stream.parameters["token"]


async def test_caller_audio_reaches_the_model_as_16khz_pcm(world):
    user = await new_user(world.data)
    async with phone_call(world, user.phone) as (caller, model):
        await say_and_be_heard(caller, model, speech_8k())
        sent = caller.sent_audio()
        expected = Upsampler8kTo16k().process(ulaw_to_pcm16(sent))
        assert model.audio[: len(expected)] == expected
        assert set(model.audio_mime_types) == {"audio/pcm;rate=16000"}


async def test_model_audio_is_played_to_the_caller_as_8khz_mulaw(world):
    user = await new_user(world.data)
    turn = coach_turn(1.5)
    chunker = FrameChunker()
    expected = b"".join(chunker.push(TwilioOutboundEncoder().encode(turn)) + chunker.flush())
    async with phone_call(world, user.phone) as (caller, model):
        await model.send_audio(turn)
        await model.send_turn_complete()
        await caller.wait_until(lambda: caller.played_ms() >= len(expected) / 8, 5, "the whole turn played")
        assert caller.played_ulaw() == expected
        assert caller.marks_sent_back and not any(m.cleared for m in caller.marks_sent_back)


async def test_each_model_chunk_is_followed_by_a_mark_once_its_frames_are_sent(world):
    user = await new_user(world.data)
    async with phone_call(world, user.phone) as (caller, model):
        for _ in range(3):
            await model.send_audio(coach_turn(0.4), chunk_ms=400)  # one chunk; no turn end (its flush adds one)
        await caller.wait_until(lambda: len(caller.marks_sent_back) >= 3, 5, "three marks played")
        events = [(f.message or {}).get("event") for f in caller.received_frames]
        marks = [i for i, event in enumerate(events) if event == "mark"]
        assert len(marks) == 3
        assert events[marks[-1] - 1] == "media" and events.index("media") < marks[0] < marks[1] < marks[2]
        assert all(event == "media" for event in events[marks[0] + 1 : marks[1]])  # chunk 2 plays between
        assert marks[1] - marks[0] - 1 >= 19  # 400 ms is 20 frames (give or take the resampler's carry)


# --- barge-in -----------------------------------------------------------------------------------


async def test_caller_speaking_over_the_coach_clears_the_rest_of_that_turn(world):
    user = await new_user(world.data)
    async with phone_call(world, user.phone) as (caller, model):
        await model.send_audio(coach_turn(4))
        await caller.wait_for_audio_ms(500, 5)
        speech = speech_8k()
        onset = await caller.say(speech)
        [clear] = await caller.wait_for_clears(1, 4)
        assert onset < clear.stream_ms < onset + len(speech) / 16  # while the caller is still talking
        await model.send_audio(coach_turn(1))  # the model has not noticed yet: more of the same turn
        await model.send_turn_complete()
        await asyncio.sleep(1.0)
        assert media_frames_after(caller, clear.stream_ms) == 0
        assert caller.played_ms() < 4000


async def test_speakerphone_echo_of_the_coach_does_not_barge_in(world):
    user = await new_user(world.data)
    async with phone_call(world, user.phone, echo_gain_db=-10, echo_delay_ms=150, noise_dbfs=-60) as (caller, model):
        await model.send_audio(coach_turn(4))
        await model.send_turn_complete()
        await caller.wait_until(lambda: caller.played_ms() >= 4000, 8, "the whole turn played")
        await asyncio.sleep(0.5)  # the echo tail reaches the server
        assert caller.clears == []


async def test_steady_line_noise_does_not_barge_in(world):
    user = await new_user(world.data)
    async with phone_call(world, user.phone, noise_dbfs=-35) as (caller, model):
        await asyncio.sleep(0.5)
        await model.send_audio(coach_turn(3))
        await model.send_turn_complete()
        await caller.wait_until(lambda: caller.played_ms() >= 3000, 8, "the whole turn played")
        assert caller.clears == []


async def test_a_cough_shorter_than_100ms_does_not_barge_in(world):
    user = await new_user(world.data)
    rng = np.random.default_rng(7)
    envelope = np.exp(-np.arange(640) / 240)  # 80 ms, a sharp attack and a decay
    cough = np.rint(rng.normal(size=640) * envelope * 12000).astype("<i2").tobytes()
    async with phone_call(world, user.phone) as (caller, model):
        await model.send_audio(coach_turn(3))
        await model.send_turn_complete()
        await caller.wait_for_audio_ms(500, 5)
        await caller.say(cough, wait=True)
        await caller.wait_until(lambda: caller.played_ms() >= 3000, 8, "the whole turn played")
        assert caller.clears == []


# --- confirmations ------------------------------------------------------------------------------


async def test_spoken_yes_lets_the_model_confirm_and_sends_exactly_one_sms(world):
    user = await new_user(world.data)
    async with phone_call(world, user.phone) as (caller, model):
        action_id = await propose_sms(model, "call-1", "Run at 7")
        await say_and_be_heard(caller, model, speech_8k())
        await model.send_input_transcription("Yes, send it.")
        await model.send_tool_call("call-2", "confirm_pending_action", {"action_id": action_id})
        confirmed = (await model.wait_for_tool_response("call-2"))["response"]
        assert confirmed["success"] is True, confirmed
        await asyncio.sleep(0.3)
    assert [m.param("Body") for m in world.twilio.messages] == ["Run at 7"]


async def test_model_confirming_without_the_caller_speaking_after_the_proposal_is_refused(world):
    user = await new_user(world.data)
    async with phone_call(world, user.phone) as (caller, model):
        await say_and_be_heard(caller, model, speech_8k())  # speech before the proposal does not count
        action_id = await propose_sms(model, "call-1", "Run at 7")
        await asyncio.sleep(0.5)  # the caller stays silent
        await model.send_tool_call("call-2", "confirm_pending_action", {"action_id": action_id})
        refused = (await model.wait_for_tool_response("call-2"))["response"]
    assert refused["success"] is False and refused["error"]["code"] == "PERMISSION_DENIED", refused
    assert world.twilio.messages == []


async def test_keypad_1_confirms_the_latest_pending_action(world):
    user = await new_user(world.data)
    async with phone_call(world, user.phone) as (caller, model):
        await propose_sms(model, "call-1", "Older")
        await propose_sms(model, "call-2", "Latest")
        await caller.press("1")
        await model.wait_for(lambda c: any("pressed 1" in json.dumps(x) for x in c.client_contents))
    assert [m.param("Body") for m in world.twilio.messages] == ["Latest"]


async def test_keypad_2_cancels_the_latest_pending_action(world):
    user = await new_user(world.data)
    async with phone_call(world, user.phone) as (caller, model):
        action_id = await propose_sms(model, "call-1", "Never mind")
        await caller.press("2")
        await model.wait_for(lambda c: any("pressed 2" in json.dumps(x) for x in c.client_contents))
    assert world.twilio.messages == []
    async with world.data.sessions() as session:
        assert (await session.get(PendingAgentAction, action_id)).status == "cancelled"


# --- the model connection -----------------------------------------------------------------------


async def test_go_away_resumes_with_the_handle_and_loses_no_caller_audio(world):
    user = await new_user(world.data)
    async with phone_call(world, user.phone) as (caller, first):
        handle = await first.send_resumption_update()
        await say_and_be_heard(caller, first, silence(300))
        await first.send_go_away("1s")
        second = await world.gemini.live.wait_for_connection(1)
        assert second.resumption_handle == handle and second.client_contents == []
        await say_and_be_heard(caller, second, speech_8k())
        await second.send_audio(coach_turn(0.5))
        await second.send_turn_complete()
        await caller.wait_until(lambda: caller.played_ms() >= 500, 5, "the resumed model's audio")
        expected = Upsampler8kTo16k().process(ulaw_to_pcm16(caller.sent_audio()))
    await second.wait_closed()  # caller audio goes out in chunks: the last one is sent as the call ends
    received = first.audio + second.audio
    assert received[: len(expected)] == expected


# --- bad frames (streams refused for their token: tests/security/test_route_authentication.py) --


async def test_malformed_and_out_of_order_frames_are_counted_and_the_call_goes_on(world):
    user = await new_user(world.data)
    before = await bad_frame_counts(world)
    async with phone_call(world, user.phone) as (caller, model):
        await say_and_be_heard(caller, model, silence(200))
        stale = {"event": "media", "sequenceNumber": "2", "streamSid": caller.stream_sid,
                 "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": "/w=="}}
        for bad in ("{not json", b"\x00\x01", json.dumps(stale), json.dumps({"event": "media", "media": "x"}),
                    json.dumps({"event": "media", "media": {"payload": 12}}), json.dumps({"event": "hello"})):
            await caller.send_raw(bad)
        await say_and_be_heard(caller, model, speech_8k())
        await model.send_audio(coach_turn(0.5))
        await model.send_turn_complete()
        await caller.wait_until(lambda: caller.played_ms() >= 500, 5, "coach audio after the bad frames")
        expected = Upsampler8kTo16k().process(ulaw_to_pcm16(caller.sent_audio()))
        await caller.wait_until(lambda: len(model.audio) >= len(expected), 5, "the caller's audio at the model")
        assert model.audio[: len(expected)] == expected  # the stale frame was dropped, nothing else was
    after = await bad_frame_counts(world)
    grew = {kind for kind in after if after[kind] > before.get(kind, 0)}
    assert grew == {"not_json", "binary", "out_of_order", "bad_field", "bad_payload", "unknown_event"}
