"""TwilioMediaCaller against a tiny scripted Starlette websocket peer (not our server).

The peer (`MiniServer`) accepts `/twilio/media`, records every message the caller sends with its
arrival time, waits for `start` and then runs the test's script on the server's own loop/thread.
Times on both sides are `time.monotonic()`, one clock for the whole process.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from fakes.server import running_server_async
from audio import COACH_SPEECH, silence, speech_8k, tone
from fakes.twilio_caller import ERR_BAD_MESSAGE, ERR_BINARY_FRAME, ERR_PROTOCOL, TwilioMediaCaller
from voice.codec import pcm16_to_ulaw, ulaw_to_pcm16
from voice.vad import level_dbfs

FRAME = 160

Script = Callable[["MiniServer", WebSocket, str], Awaitable[None]]


class MiniServer:
    """A scripted stand-in for our server's `/twilio/media` endpoint (one call)."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script
        self.received: list[tuple[float, Any]] = []  # (monotonic, parsed JSON or raw)
        self.sent_at: dict[str, float] = {}  # label -> monotonic time the script sent it
        self.headers: dict[str, str] = {}
        self.disconnected = threading.Event()
        self.app = Starlette(routes=[WebSocketRoute("/twilio/media", self.endpoint)])

    async def endpoint(self, ws: WebSocket) -> None:
        await ws.accept()
        self.headers = dict(ws.headers)
        started = asyncio.Event()
        reader = asyncio.create_task(self._read(ws, started))
        await started.wait()
        stream_sid = self.messages("start")[0]["streamSid"]
        if self.script is not None:
            await self.script(self, ws, stream_sid)
        await reader

    async def _read(self, ws: WebSocket, started: asyncio.Event) -> None:
        try:
            while True:
                event = await ws.receive()
                if event["type"] == "websocket.disconnect":
                    break
                raw = event.get("text") if event.get("text") is not None else event.get("bytes")
                try:
                    item = json.loads(raw) if isinstance(raw, str) else raw
                except ValueError:
                    item = raw
                self.received.append((time.monotonic(), item))
                if isinstance(item, dict) and item.get("event") == "start":
                    started.set()
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            started.set()
            self.disconnected.set()

    def messages(self, event: str | None = None) -> list[dict[str, Any]]:
        return [m for _, m in self.received if isinstance(m, dict) and (event is None or m.get("event") == event)]

    def timed(self, event: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, m in self.received if isinstance(m, dict) and m.get("event") == event]

    # helpers for scripts (run on the server loop)
    async def send_audio(self, ws: WebSocket, stream_sid: str, ulaw: bytes, frame: int = FRAME) -> None:
        for i in range(0, len(ulaw), frame):
            payload = base64.b64encode(ulaw[i : i + frame]).decode()
            await ws.send_text(json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}}))

    async def send_mark(self, ws: WebSocket, stream_sid: str, name: str) -> None:
        await ws.send_text(json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}))
        self.sent_at[name] = time.monotonic()

    async def send_clear(self, ws: WebSocket, stream_sid: str) -> None:
        await ws.send_text(json.dumps({"event": "clear", "streamSid": stream_sid}))
        self.sent_at["clear"] = time.monotonic()


@asynccontextmanager
async def call(script: Script | None = None, **caller_kwargs: Any) -> AsyncIterator[tuple[MiniServer, TwilioMediaCaller]]:
    server = MiniServer(script)
    async with running_server_async(server.app) as base_url:
        url = base_url.replace("http://", "ws://") + "/twilio/media"
        async with TwilioMediaCaller(url, **caller_kwargs) as caller:
            yield server, caller
        await asyncio.to_thread(server.disconnected.wait, 5)


async def until(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.005)
    return value


def coach_ulaw(ms: int) -> bytes:
    """`ms` of the coach fixture as mu-law (non-silent audio to play)."""
    return pcm16_to_ulaw(speech_8k(COACH_SPEECH)[200 * 16 : 200 * 16 + ms * 16])


def inbound_pcm(server: MiniServer) -> bytes:
    """The caller's audio as the server received it, PCM16, positioned by media.timestamp."""
    frames = server.messages("media")
    out = bytearray(2 * 8 * (int(frames[-1]["media"]["timestamp"]) + 20))
    for m in frames:
        pcm = ulaw_to_pcm16(base64.b64decode(m["media"]["payload"]))
        at = 2 * 8 * int(m["media"]["timestamp"])
        out[at : at + len(pcm)] = pcm
    return bytes(out)


# --------------------------------------------------------------------------- #
# What the caller sends
# --------------------------------------------------------------------------- #


async def test_connected_then_start_with_string_numbers_and_custom_parameters() -> None:
    async with call(custom_parameters={"token": "tok-1"}, call_sid="CA123") as (server, caller):
        await until(lambda: server.messages("media"))
    first, second = server.messages()[:2]
    assert first == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    assert second["event"] == "start" and second["sequenceNumber"] == "1"
    start = second["start"]
    assert second["streamSid"] == start["streamSid"] == caller.stream_sid and caller.stream_sid.startswith("MZ")
    assert start["callSid"] == "CA123" and start["accountSid"].startswith("AC")
    assert start["tracks"] == ["inbound"] and start["customParameters"] == {"token": "tok-1"}
    assert start["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}


async def test_extra_headers_are_sent_on_the_handshake() -> None:
    async with call(headers={"X-Twilio-Signature": "c2lnbmF0dXJl"}) as (server, _):
        await until(lambda: server.headers)
    assert server.headers["x-twilio-signature"] == "c2lnbmF0dXJl"


async def test_media_frames_arrive_50_per_second_with_incrementing_numbers() -> None:
    async with call() as (server, _):
        await asyncio.sleep(1.3)
        timed = server.timed("media")
    media = [m for _, m in timed]
    assert 63 <= len(media) <= 67  # 1.3 s at 50/s, first frame at t=0
    seqs = [int(m["sequenceNumber"]) for m in media]
    assert seqs == list(range(2, 2 + len(media)))
    assert [m["media"]["chunk"] for m in media] == [str(i) for i in range(1, len(media) + 1)]
    assert [m["media"]["timestamp"] for m in media] == [str(20 * i) for i in range(len(media))]
    assert all(m["media"]["track"] == "inbound" and isinstance(m["sequenceNumber"], str) for m in media)
    arrivals = np.array([t for t, _ in timed])
    (started, _), = server.timed("start")
    assert 0.015 < arrivals[0] - started < 0.035  # a frame goes out once its 20 ms have been captured
    offsets = arrivals - 0.020 * np.arange(len(arrivals))
    assert np.ptp(offsets) < 0.025  # no drift: every frame near its slot (a drifting clock gains ms per frame)


async def test_frames_catch_up_after_the_event_loop_was_blocked() -> None:
    async with call() as (server, caller):
        await asyncio.sleep(0.2)
        time.sleep(0.15)  # block the caller's loop: 7 frames fall due meanwhile
        await asyncio.sleep(0.25)
        sent_ms = caller.stream_ms()
        count = len(server.messages("media"))
    assert abs(count - (sent_ms // 20 + 1)) <= 2
    timestamps = [int(m["media"]["timestamp"]) for m in server.messages("media")]
    assert timestamps == list(range(0, 20 * len(timestamps), 20))


async def test_idle_line_sends_mulaw_silence() -> None:
    async with call() as (server, _):
        await until(lambda: len(server.messages("media")) >= 10)
    payloads = [base64.b64decode(m["media"]["payload"]) for m in server.messages("media")]
    assert all(p == b"\xff" * FRAME for p in payloads)


async def test_background_noise_has_the_configured_level() -> None:
    async with call(noise_dbfs=-50) as (server, _):
        await until(lambda: len(server.messages("media")) >= 50)
    level = level_dbfs(inbound_pcm(server))
    assert -51.5 < level < -48.5


async def test_say_sends_the_speech_from_the_returned_onset() -> None:
    speech = speech_8k()
    async with call() as (server, caller):
        await asyncio.sleep(0.1)
        onset = await caller.say(speech, wait=True)
        done_ms = caller.stream_ms()
    received = inbound_pcm(server)
    start = int(onset) * 16
    assert received[start : start + len(speech)] == ulaw_to_pcm16(pcm16_to_ulaw(speech))
    assert set(received[start - 320 : start]) == {0}  # silence right before the onset
    assert onset >= 100 and abs(done_ms - (onset + len(speech) / 16)) < 40


async def test_second_say_starts_after_the_first_ends() -> None:
    async with call() as (_, caller):
        first = await caller.say(silence(100) + tone(100))
        second = await caller.say(tone(50))
    assert second == first + 200


async def test_dtmf_message_format() -> None:
    async with call() as (server, caller):
        await caller.press("7")
        await until(lambda: server.messages("dtmf"))
    (dtmf,) = server.messages("dtmf")
    assert dtmf["streamSid"] == caller.stream_sid and dtmf["dtmf"] == {"track": "inbound_track", "digit": "7"}
    seqs = [int(m["sequenceNumber"]) for m in server.messages() if "sequenceNumber" in m]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_hang_up_sends_stop_with_account_and_call_sid_then_closes() -> None:
    async with call(call_sid="CAstop") as (server, caller):
        await asyncio.sleep(0.1)
    assert server.disconnected.is_set()
    last = server.messages()[-1]
    assert last["event"] == "stop" and last["streamSid"] == caller.stream_sid
    assert last["stop"] == {"accountSid": caller.account_sid, "callSid": "CAstop"}
    assert int(last["sequenceNumber"]) == len(server.messages()) - 1  # every message after `connected` numbered
    assert not caller.closed_by_server


async def test_send_raw_puts_text_and_bytes_on_the_wire_unchanged() -> None:
    async with call() as (server, caller):
        await caller.send_raw("{not json")
        await caller.send_raw(b"\x00\x01")
        await until(lambda: b"\x00\x01" in [m for _, m in server.received])
    raws = [m for _, m in server.received]
    assert "{not json" in raws and b"\x00\x01" in raws


# --------------------------------------------------------------------------- #
# Playback clock, marks and clear
# --------------------------------------------------------------------------- #


async def test_mark_is_echoed_when_the_queued_audio_has_played() -> None:
    async def script(srv: MiniServer, ws: WebSocket, sid: str) -> None:
        await asyncio.sleep(0.1)
        await srv.send_audio(ws, sid, coach_ulaw(200))
        await srv.send_mark(ws, sid, "utt-1")

    async with call(script) as (server, caller):
        echo = await caller.wait_for_mark_echo("utt-1", 2)
        await until(lambda: server.messages("mark"))
    (t_echo, msg), = server.timed("mark")
    assert msg == {"event": "mark", "sequenceNumber": msg["sequenceNumber"], "streamSid": caller.stream_sid,
                   "mark": {"name": "utt-1"}}
    assert abs((t_echo - server.sent_at["utt-1"]) - 0.200) < 0.040  # measured on the wire
    assert not echo.cleared and abs(echo.stream_ms - echo.due_ms) < 10
    assert abs(caller.played_ms() - 200) < 1


async def test_clear_cuts_playback_and_echoes_pending_marks_at_once() -> None:
    async def script(srv: MiniServer, ws: WebSocket, sid: str) -> None:
        await srv.send_audio(ws, sid, coach_ulaw(1000))
        await srv.send_mark(ws, sid, "long")
        await asyncio.sleep(0.3)
        await srv.send_clear(ws, sid)

    async with call(script) as (server, caller):
        echo = await caller.wait_for_mark_echo("long", 3)
        await until(lambda: server.messages("mark"))
        await asyncio.sleep(0.2)
        played = caller.played_ms()
    (t_echo, _), = server.timed("mark")
    assert echo.cleared and t_echo - server.sent_at["clear"] < 0.040
    assert t_echo - server.sent_at["long"] < 0.5  # well before the second of audio would have played
    assert abs(played - 300) < 40
    (clear,) = caller.clears
    assert clear.flushed_marks == ("long",) and abs(clear.dropped_bytes / 8 - (1000 - played)) < 5
    assert abs(clear.stream_ms - caller.played_audio[-1].end_ms) < 1


async def test_mark_with_nothing_queued_is_echoed_immediately() -> None:
    async def script(srv: MiniServer, ws: WebSocket, sid: str) -> None:
        await asyncio.sleep(0.1)
        await srv.send_mark(ws, sid, "empty")

    async with call(script) as (server, caller):
        await until(lambda: server.messages("mark"))
    (t_echo, _), = server.timed("mark")
    assert t_echo - server.sent_at["empty"] < 0.030


async def test_audio_after_the_queue_drained_plays_from_its_arrival() -> None:
    async def script(srv: MiniServer, ws: WebSocket, sid: str) -> None:
        await srv.send_audio(ws, sid, coach_ulaw(100))
        await asyncio.sleep(0.3)
        await srv.send_audio(ws, sid, coach_ulaw(100))
        await srv.send_mark(ws, sid, "second")

    async with call(script) as (server, caller):
        await until(lambda: server.messages("mark"))
    (t_echo, _), = server.timed("mark")
    assert abs((t_echo - server.sent_at["second"]) - 0.100) < 0.040  # not 200 ms: the gap was not queued
    chunks = caller.played_audio
    assert chunks[5].start_ms - chunks[4].end_ms > 150  # silence between the two bursts


async def test_marks_pending_at_hang_up_are_never_echoed() -> None:
    async def script(srv: MiniServer, ws: WebSocket, sid: str) -> None:
        await srv.send_audio(ws, sid, coach_ulaw(1000))
        await srv.send_mark(ws, sid, "unfinished")

    async with call(script) as (server, caller):
        await caller.wait_for_audio_ms(1000, 2)
        await asyncio.sleep(0.2)
    assert server.messages("mark") == [] and caller.marks_sent_back == []
    assert server.messages()[-1]["event"] == "stop"
    assert 150 < caller.played_ms() < 300


# --------------------------------------------------------------------------- #
# Echo simulation
# --------------------------------------------------------------------------- #


async def test_played_audio_comes_back_at_the_echo_delay_and_gain() -> None:
    async def script(srv: MiniServer, ws: WebSocket, sid: str) -> None:
        await asyncio.sleep(0.2)
        tone_ulaw = pcm16_to_ulaw(tone(400, hz=1000, dbfs=-12))
        await srv.send_audio(ws, sid, tone_ulaw, frame=len(tone_ulaw))  # one message: no gap if the loop stalls

    async with call(script, echo_gain_db=-10, echo_delay_ms=120) as (server, caller):
        await caller.wait_for_audio_ms(400, 2)
        await asyncio.sleep(0.7)
        (chunk, *_) = caller.played_audio
    received = np.frombuffer(inbound_pcm(server), dtype="<i2").astype(float)
    start = round(chunk.start_ms * 8)
    played = np.frombuffer(ulaw_to_pcm16(caller.played_ulaw()), dtype="<i2").astype(float)
    # lag of best alignment between what was played and what the microphone sent
    lags = range(start + 900, start + 1020)
    best = max(lags, key=lambda lag: float(np.dot(received[lag : lag + 1600], played[:1600])))
    assert best - start == 960  # 120 ms at 8 kHz, to the sample
    echo = received[start + 960 : start + 960 + len(played)]
    gain_db = 20 * np.log10(np.sqrt(np.mean(echo**2)) / np.sqrt(np.mean(played**2)))
    assert abs(gain_db - (-10)) < 0.5
    assert not received[: start + 960].any()  # nothing before the echo arrives


async def test_without_echo_simulation_the_line_stays_silent_during_playback() -> None:
    async def script(srv: MiniServer, ws: WebSocket, sid: str) -> None:
        await srv.send_audio(ws, sid, pcm16_to_ulaw(tone(300, hz=1000, dbfs=-12)))

    async with call(script) as (server, caller):
        await caller.wait_for_audio_ms(300, 2)
        await asyncio.sleep(0.5)
    assert not np.frombuffer(inbound_pcm(server), dtype="<i2").any()


# --------------------------------------------------------------------------- #
# Validation of what the server sends, and the server closing
# --------------------------------------------------------------------------- #


def _bad(sid: str, kind: str) -> str | bytes:
    return {
        "binary": b"\xff" * 160,
        "not_json": "hello",
        "unknown_event": json.dumps({"event": "speak", "streamSid": sid}),
        "wrong_stream_sid": json.dumps({"event": "clear", "streamSid": "MZother"}),
        "extra_field": json.dumps({"event": "clear", "streamSid": sid, "sequenceNumber": "1"}),
        "bad_base64": json.dumps({"event": "media", "streamSid": sid, "media": {"payload": "!!notb64"}}),
        "wav_header": json.dumps(
            {"event": "media", "streamSid": sid, "media": {"payload": base64.b64encode(b"RIFF" + bytes(40)).decode()}}
        ),
    }[kind]


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("binary", ERR_BINARY_FRAME),
        ("not_json", ERR_BAD_MESSAGE),
        ("unknown_event", ERR_BAD_MESSAGE),
        ("wrong_stream_sid", ERR_BAD_MESSAGE),
        ("extra_field", ERR_BAD_MESSAGE),
        ("bad_base64", ERR_PROTOCOL),
        ("wav_header", ERR_PROTOCOL),
    ],
)
async def test_bad_server_message_is_recorded_as_a_violation(kind: str, code: int) -> None:
    async def script(srv: MiniServer, ws: WebSocket, sid: str) -> None:
        bad = _bad(sid, kind)
        await (ws.send_bytes(bad) if isinstance(bad, bytes) else ws.send_text(bad))

    async with call(script) as (_, caller):
        await until(lambda: caller.violations)
        await asyncio.sleep(0.05)
    assert [v.code for v in caller.violations] == [code]
    assert caller.played_audio == [] and caller.clears == []
    assert len(caller.received_frames) == 1


async def test_valid_server_messages_record_no_violation() -> None:
    async def script(srv: MiniServer, ws: WebSocket, sid: str) -> None:
        await srv.send_audio(ws, sid, coach_ulaw(100))
        await srv.send_mark(ws, sid, "m")
        await srv.send_clear(ws, sid)

    async with call(script) as (_, caller):
        await until(lambda: caller.clears)
    assert caller.violations == [] and len(caller.received_frames) == 7


async def test_server_close_is_detected_with_its_code() -> None:
    async def script(srv: MiniServer, ws: WebSocket, sid: str) -> None:
        await asyncio.sleep(0.1)
        await ws.close(code=4001)

    async with call(script) as (server, caller):
        code = await caller.wait_closed(3)
        sent_at_close = len(caller.sent_messages)
        await asyncio.sleep(0.1)
        sent_later = len(caller.sent_messages)
    assert code == 4001 and caller.closed_by_server and caller.close_code == 4001
    assert sent_later == sent_at_close == len(caller.sent_messages)  # stopped streaming, no stop sent
    assert server.messages("stop") == []
