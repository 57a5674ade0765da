"""`WS /ws/voice`: a browser conversation through the real server, Gemini Live fake and Twilio fake."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from sqlalchemy import select

from db.models import AgentActionHistory, CallTranscriptTurn
from factories import new_user
from audio import chunks, silence, speech_16k, tone
from worlds import ended_call


class Browser:
    """The page's side of the socket: sends PCM16 16 kHz, collects audio bytes and JSON events."""

    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self.audio = bytearray()
        self.events: list[dict] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.socket:
                if isinstance(message, bytes):
                    self.audio.extend(message)
                else:
                    self.events.append(json.loads(message))
        except websockets.ConnectionClosed:
            pass

    async def speak(self, pcm16k: bytes) -> None:
        for frame in chunks(pcm16k, 640):
            await self.socket.send(frame)
            await asyncio.sleep(0.002)

    async def wait_event(self, kind: str, timeout: float = 5.0, **match: object) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for event in self.events:
                if event.get("type") == kind and all(event.get(k) == v for k, v in match.items()):
                    return event
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no {kind} event; got {[e.get('type') for e in self.events]}")


async def open_browser(world, token: str) -> Browser:
    socket = await websockets.connect(f"{world.ws_base}/ws/voice?token={token}", proxy=None)
    return Browser(socket)


async def test_bad_token_is_refused_at_the_handshake(world):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{world.ws_base}/ws/voice?token=vc_nope", proxy=None)
    assert refused.value.response.status_code == 403
    assert world.gemini.live.connections == []


async def test_conversation_carries_audio_both_ways_and_opens_with_a_greeting(world):
    user = await new_user(world.data, name="Ann")
    browser = await open_browser(world, user.token)
    connection = await world.gemini.live.wait_for_connection(0)
    await connection.wait_for(lambda c: c.client_contents or None)
    assert "browser" in json.dumps(connection.client_contents[0])
    assert "Ann" in json.dumps(connection.setup)
    await browser.speak(silence(400, 16000))
    await connection.wait_for_audio_bytes(400 * 32)
    await connection.send_audio(tone(200, 24000))
    await connection.send_turn_complete()
    deadline = asyncio.get_running_loop().time() + 5
    while len(browser.audio) < 200 * 48 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert len(browser.audio) == 200 * 48
    await browser.socket.close()


async def test_tool_call_needs_a_spoken_yes_before_the_model_may_confirm(world):
    user = await new_user(world.data)
    browser = await open_browser(world, user.token)
    connection = await world.gemini.live.wait_for_connection(0)
    await connection.send_tool_call("call-1", "send_sms", {"message": "Run at 7", "confidence": 0.95})
    proposal = await connection.wait_for_tool_response("call-1")
    action_id = proposal["response"]["pending_action_id"]
    await browser.wait_event("tool_result")

    await connection.send_tool_call("call-2", "confirm_pending_action", {"action_id": action_id})
    refused = (await connection.wait_for_tool_response("call-2"))["response"]
    assert refused["success"] is False and refused["error"]["code"] == "PERMISSION_DENIED"
    assert world.twilio.messages == []

    await browser.speak(silence(300, 16000) + speech_16k() + silence(300, 16000))
    await connection.wait_for_audio_bytes(len(speech_16k()))
    await connection.send_tool_call("call-3", "confirm_pending_action", {"action_id": action_id})
    accepted = (await connection.wait_for_tool_response("call-3"))["response"]
    assert accepted["success"] is True, accepted
    assert [m.param("Body") for m in world.twilio.messages] == ["Run at 7"]
    # the page settles the pending action the spoken yes answered by its id
    await browser.wait_event("tool_result", tool="confirm_pending_action", args={"action_id": action_id}, result=accepted)
    await browser.socket.close()


async def test_the_same_tool_call_id_runs_once(world):
    user = await new_user(world.data)
    browser = await open_browser(world, user.token)
    connection = await world.gemini.live.wait_for_connection(0)
    await connection.send_tool_call("dup", "create_task", {"title": "Stretch", "confidence": 0.9})
    await connection.send_tool_call("dup", "create_task", {"title": "Stretch", "confidence": 0.9})
    await connection.wait_for_tool_response("dup")
    await asyncio.sleep(0.3)
    await browser.socket.close()
    async with world.data.sessions() as session:
        rows = (await session.execute(select(AgentActionHistory).where(AgentActionHistory.user_id == user.id))).scalars().all()
    assert [(r.tool, r.status) for r in rows] == [("create_task", "executed")]


async def test_transcripts_are_stored_as_turns_of_the_call(world):
    user = await new_user(world.data)
    browser = await open_browser(world, user.token)
    connection = await world.gemini.live.wait_for_connection(0)
    await connection.send_input_transcription("How am I doing")
    await connection.send_input_transcription(" this week?")
    await connection.send_output_transcription("You ran three times!")
    await connection.send_turn_complete()
    await browser.wait_event("transcript", role="coach")
    await browser.socket.close()
    call = await ended_call(world, user.id)
    async with world.data.sessions() as session:
        turns = (
            await session.execute(select(CallTranscriptTurn).where(CallTranscriptTurn.call_session_id == call.id).order_by(CallTranscriptTurn.seq))
        ).scalars().all()
    assert [(t.role, t.text) for t in turns] == [("caller", "How am I doing this week?"), ("coach", "You ran three times!")]
    assert call.status == "completed"


async def test_unreachable_model_tells_the_page_and_records_why(world):
    world.gemini.live.reject_all = True
    user = await new_user(world.data)
    browser = await open_browser(world, user.token)
    error = await browser.wait_event("error", timeout=20)
    assert "technical problem" in error["message"]
    call = await ended_call(world, user.id)
    assert call.status == "failed" and "model unreachable" in call.end_reason


async def test_go_away_resumes_with_the_latest_handle_and_loses_no_caller_audio(world):
    user = await new_user(world.data)
    browser = await open_browser(world, user.token)
    first = await world.gemini.live.wait_for_connection(0)
    handle = await first.send_resumption_update()
    await browser.speak(silence(200, 16000))
    await first.wait_for_audio_bytes(200 * 32)
    sent_before = len(first.audio)
    await first.send_go_away("1s")
    await browser.speak(silence(600, 16000))
    second = await world.gemini.live.wait_for_connection(1)
    assert second.resumption_handle == handle
    await second.wait_for_audio_bytes(200 * 32 + 600 * 32 - sent_before, timeout=5)
    assert sent_before + len(second.audio) >= (200 + 600) * 32
    assert second.client_contents == []  # resumed, not re-sent as new content
    await second.send_audio(tone(100, 24000))
    await second.send_turn_complete()
    await asyncio.sleep(0.3)
    assert len(browser.audio) >= 100 * 48
    await browser.socket.close()


async def test_dropped_model_socket_reconnects_and_the_call_continues(world):
    user = await new_user(world.data)
    browser = await open_browser(world, user.token)
    first = await world.gemini.live.wait_for_connection(0)
    handle = await first.send_resumption_update()
    await first.close(code=1011, reason="internal error")
    second = await world.gemini.live.wait_for_connection(1, timeout=10)
    assert second.resumption_handle == handle
    await browser.speak(silence(200, 16000))
    await second.wait_for_audio_bytes(200 * 32)
    await second.send_tool_call("after", "create_task", {"title": "still here"})
    response = await second.wait_for_tool_response("after")
    assert response["response"]["success"] is True
    await browser.socket.close()


async def test_non_resumable_updates_do_not_replace_the_handle(world):
    user = await new_user(world.data)
    browser = await open_browser(world, user.token)
    first = await world.gemini.live.wait_for_connection(0)
    handle = await first.send_resumption_update()
    await first.send_resumption_update(resumable=False)
    await first.close(code=1011)
    second = await world.gemini.live.wait_for_connection(1, timeout=10)
    assert second.resumption_handle == handle
    await browser.socket.close()


async def test_setup_enables_resumption_compression_and_transcription(world):
    user = await new_user(world.data)
    browser = await open_browser(world, user.token)
    connection = await world.gemini.live.wait_for_connection(0)
    setup = json.dumps(connection.setup)
    for key in ("sessionResumption", "contextWindowCompression", "inputAudioTranscription", "outputAudioTranscription"):
        assert key in setup or key.replace("A", "_a") in setup, key
    assert "end_call" in setup and "send_sms" in setup
    await browser.socket.close()
