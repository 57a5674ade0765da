"""The real google-genai Live client, over TLS, against FakeGeminiLive (and the text fake on the same URL)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from google import genai
from google.genai import errors, types
from google.genai.live import AsyncSession
from websockets.exceptions import InvalidStatus

from fakes.gemini import GeminiFakes
from fakes.gemini_live import LiveConnection

MODEL = "gemini-3.1-flash-live-preview"
LOOKUP = types.FunctionDeclaration(
    name="lookup_goal",
    description="Find a goal.",
    parameters=types.Schema(type=types.Type.OBJECT, properties={"goal_id": types.Schema(type=types.Type.STRING)}),
)
# 0xFB/0xFF bytes make '-' and '_' appear in URL-safe base64: a plain b64decode would drop them.
URL_SAFE_PITFALL_AUDIO = bytes(range(256)) * 5


def _config(handle: str | None = None) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        session_resumption=types.SessionResumptionConfig(handle=handle),
        context_window_compression=types.ContextWindowCompressionConfig(
            trigger_tokens=25600, sliding_window=types.SlidingWindow(target_tokens=12800)
        ),
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        tools=[types.Tool(function_declarations=[LOOKUP])],
    )


async def _receive_until(
    session: AsyncSession, done: Callable[[types.LiveServerMessage], Any], timeout: float = 5.0
) -> list[types.LiveServerMessage]:
    """Messages up to and including the first for which `done` is truthy (`receive()` stops per turn)."""
    received: list[types.LiveServerMessage] = []
    async with asyncio.timeout(timeout):
        while True:
            async for message in session.receive():
                received.append(message)
                if done(message):
                    return received


async def test_setup_carries_model_resumption_compression_transcription_and_tools(
    gemini: GeminiFakes, genai_client: genai.Client
) -> None:
    async with genai_client.aio.live.connect(model=MODEL, config=_config()):
        conn = await gemini.live.wait_for_connection(0)

    assert conn.version == "v1" and conn.headers["x-goog-api-key"] == gemini.live.api_key
    setup = conn.setup or {}
    assert setup["model"] == f"models/{MODEL}"
    assert setup["generationConfig"]["responseModalities"] == ["AUDIO"]
    assert setup["sessionResumption"] == {} and conn.resumption_handle is None
    assert setup["contextWindowCompression"] == {"trigger_tokens": 25600, "sliding_window": {"target_tokens": 12800}}
    assert "inputAudioTranscription" in setup and "outputAudioTranscription" in setup
    assert setup["tools"][0]["functionDeclarations"][0]["name"] == "lookup_goal"


async def test_client_audio_arrives_intact_despite_url_safe_base64(
    gemini: GeminiFakes, genai_client: genai.Client
) -> None:
    async with genai_client.aio.live.connect(model=MODEL, config=_config()) as session:
        conn = await gemini.live.wait_for_connection(0)
        await session.send_realtime_input(
            audio=types.Blob(data=URL_SAFE_PITFALL_AUDIO, mime_type="audio/pcm;rate=16000")
        )
        await session.send_realtime_input(audio=types.Blob(data=b"\x00\x01", mime_type="audio/pcm;rate=16000"))

        await conn.wait_for_audio_bytes(len(URL_SAFE_PITFALL_AUDIO) + 2)

    assert conn.audio_chunks == [URL_SAFE_PITFALL_AUDIO, b"\x00\x01"]
    assert conn.audio_mime_types == ["audio/pcm;rate=16000"] * 2
    assert "-" in conn.messages[1]["realtime_input"]["audio"]["data"]


async def test_model_audio_reaches_the_sdk_in_chunks(gemini: GeminiFakes, genai_client: genai.Client) -> None:
    pcm = bytes(range(256)) * 15  # 3840 bytes = 80 ms at 24 kHz
    async with genai_client.aio.live.connect(model=MODEL, config=_config()) as session:
        conn = await gemini.live.wait_for_connection(0)
        await conn.send_audio(pcm, chunk_ms=20)
        await conn.send_turn_complete()

        received = await _receive_until(session, lambda m: m.server_content and m.server_content.turn_complete)

    chunks = [m.data for m in received if m.data]
    assert [len(c) for c in chunks] == [960] * 4 and b"".join(chunks) == pcm
    assert received[-1].usage_metadata and received[-1].usage_metadata.total_token_count == 2


async def test_tool_call_reaches_the_sdk_and_tool_response_is_recorded(
    gemini: GeminiFakes, genai_client: genai.Client
) -> None:
    async with genai_client.aio.live.connect(model=MODEL, config=_config()) as session:
        conn = await gemini.live.wait_for_connection(0)
        await conn.send_tool_call("fc-1", "lookup_goal", {"goal_id": "g7"})
        [message] = await _receive_until(session, lambda m: m.tool_call)
        [call] = message.tool_call.function_calls or []
        await session.send_tool_response(
            function_responses=[types.FunctionResponse(id=call.id, name=call.name, response={"title": "Run 5k"})]
        )

        response = await conn.wait_for_tool_response("fc-1")

    assert (call.id, call.name, call.args) == ("fc-1", "lookup_goal", {"goal_id": "g7"})
    assert response == {"id": "fc-1", "name": "lookup_goal", "response": {"title": "Run 5k"}}


async def test_same_tool_call_id_can_be_sent_twice(gemini: GeminiFakes, genai_client: genai.Client) -> None:
    async with genai_client.aio.live.connect(model=MODEL, config=_config()) as session:
        conn = await gemini.live.wait_for_connection(0)
        for _ in range(2):
            await conn.send_tool_call("fc-dup", "lookup_goal", {"goal_id": "g7"})
        await conn.send_turn_complete()

        received = await _receive_until(session, lambda m: m.server_content and m.server_content.turn_complete)

    assert [m.tool_call.function_calls[0].id for m in received if m.tool_call] == ["fc-dup", "fc-dup"]


async def test_cancellation_interruption_and_transcriptions_reach_the_sdk(
    gemini: GeminiFakes, genai_client: genai.Client
) -> None:
    async with genai_client.aio.live.connect(model=MODEL, config=_config()) as session:
        conn = await gemini.live.wait_for_connection(0)
        await conn.send_input_transcription("Stop calling me")
        await conn.send_output_transcription("Okay, I")
        await conn.send_tool_call_cancellation(["fc-1"])
        await conn.send_interrupted()
        await conn.send_generation_complete()
        await conn.send_turn_complete()

        received = await _receive_until(session, lambda m: m.server_content and m.server_content.turn_complete)

    contents = [m.server_content for m in received if m.server_content]
    assert contents[0].input_transcription.text == "Stop calling me"
    assert contents[1].output_transcription.text == "Okay, I"
    assert [m.tool_call_cancellation.ids for m in received if m.tool_call_cancellation] == [["fc-1"]]
    assert any(c.interrupted for c in contents) and any(c.generation_complete for c in contents)


async def test_go_away_and_resumption_update_reach_the_sdk(gemini: GeminiFakes, genai_client: genai.Client) -> None:
    async with genai_client.aio.live.connect(model=MODEL, config=_config()) as session:
        conn = await gemini.live.wait_for_connection(0)
        await conn.send_resumption_update(resumable=False)
        handle = await conn.send_resumption_update()
        await conn.send_go_away("1.5s")

        received = await _receive_until(session, lambda m: m.go_away)

    updates = [m.session_resumption_update for m in received if m.session_resumption_update]
    assert [(u.new_handle, u.resumable) for u in updates] == [(None, False), (handle, True)]
    assert received[-1].go_away.time_left == "1.5s"
    assert handle in gemini.live.issued_handles


async def test_issued_handle_is_accepted_on_reconnect(gemini: GeminiFakes, genai_client: genai.Client) -> None:
    async with genai_client.aio.live.connect(model=MODEL, config=_config()):
        handle = await (await gemini.live.wait_for_connection(0)).send_resumption_update()

    async with genai_client.aio.live.connect(model=MODEL, config=_config(handle)):
        resumed = await gemini.live.wait_for_connection(1)

    assert resumed.resumption_handle == handle
    assert await resumed.wait_closed() == 1000 and resumed.closed_by == "client"


async def test_unknown_handle_closes_setup_with_1008(gemini: GeminiFakes, genai_client: genai.Client) -> None:
    with pytest.raises(errors.APIError) as raised:
        async with genai_client.aio.live.connect(model=MODEL, config=_config("never-issued")):
            pass

    assert raised.value.code == 1008
    assert (await gemini.live.wait_for_connection(0)).close_code == 1008


async def test_model_side_close_surfaces_as_api_error_with_its_code(
    gemini: GeminiFakes, genai_client: genai.Client
) -> None:
    async with genai_client.aio.live.connect(model=MODEL, config=_config()) as session:
        conn = await gemini.live.wait_for_connection(0)
        await conn.close(1011, "Internal error")

        with pytest.raises(errors.APIError) as raised:
            await _receive_until(session, lambda m: False)

    assert raised.value.code == 1011
    assert (conn.close_code, conn.closed_by) == (1011, "server")


async def test_client_close_is_recorded(gemini: GeminiFakes, genai_client: genai.Client) -> None:
    async with genai_client.aio.live.connect(model=MODEL, config=_config()):
        conn = await gemini.live.wait_for_connection(0)

    assert await conn.wait_closed() == 1000 and conn.closed_by == "client"


async def test_reject_all_refuses_the_handshake(gemini: GeminiFakes, genai_client: genai.Client) -> None:
    gemini.live.reject_all = True

    with pytest.raises(InvalidStatus) as raised:
        async with genai_client.aio.live.connect(model=MODEL, config=_config()):
            pass

    assert raised.value.response.status_code == 503
    assert gemini.live.connections == []


async def test_wrong_api_key_closes_with_1008(gemini: GeminiFakes, genai_client: genai.Client) -> None:
    config = _config()
    config.http_options = types.HttpOptions(headers={"x-goog-api-key": "wrong"})

    with pytest.raises(errors.APIError) as raised:
        async with genai_client.aio.live.connect(model=MODEL, config=config):
            pass

    assert raised.value.code == 1008


async def test_signals_text_and_client_content_are_recorded(gemini: GeminiFakes, genai_client: genai.Client) -> None:
    async with genai_client.aio.live.connect(model=MODEL, config=_config()) as session:
        conn = await gemini.live.wait_for_connection(0)
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await session.send_realtime_input(text="hello")
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        await session.send_realtime_input(audio_stream_end=True)
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="Caller said: hi")]), turn_complete=True
        )

        await conn.wait_for(lambda c: c.client_contents)

    assert conn.activity == ["activityStart", "activityEnd", "audioStreamEnd"]
    assert conn.texts == ["hello"]
    assert conn.client_contents == [
        {"turns": [{"parts": [{"text": "Caller said: hi"}], "role": "user"}], "turnComplete": True}
    ]


async def test_on_message_hook_sends_a_tool_call_after_enough_caller_audio(
    gemini: GeminiFakes, genai_client: genai.Client
) -> None:
    async def after_100ms_of_audio(conn: LiveConnection, message: dict[str, Any]) -> None:
        if len(conn.audio) >= 3200 and not conn.tool_responses:
            await conn.send_tool_call("fc-auto", "lookup_goal", {"goal_id": "g1"})

    gemini.live.on_message = after_100ms_of_audio
    async with genai_client.aio.live.connect(model=MODEL, config=_config()) as session:
        for _ in range(5):
            await session.send_realtime_input(audio=types.Blob(data=b"\x00" * 640, mime_type="audio/pcm;rate=16000"))

        [message] = await _receive_until(session, lambda m: m.tool_call)

    assert message.tool_call.function_calls[0].id == "fc-auto"


async def test_text_and_live_share_one_tls_base_url(gemini: GeminiFakes, genai_client: genai.Client) -> None:
    gemini.text.queue_text("over TLS")

    response = await genai_client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")

    assert response.text == "over TLS" and gemini.base_url.startswith("https://127.0.0.1:")
