"""Twilio Media Streams (bidirectional `<Connect><Stream>`): the wire format, pacing and marks.

Inbound: JSON text frames `connected`, `start`, `media`, `mark`, `dtmf`, `stop`. Outbound: `media` frames of
20 ms mu-law, a `mark` after each model chunk (echoed back by Twilio once played, so the server knows what the
caller has heard; until the last one is echoed the coach is still `playing`), `clear` on barge-in. Outbound frames are the hot path (50 a second per call): their JSON
comes from a template, not `json.dumps`.
Malformed, unexpected or out-of-order (stale `sequenceNumber`) frames are logged and counted, never fatal:
a bad frame must not drop a call.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter
from starlette.websockets import WebSocket, WebSocketDisconnect

from voice.codec import FrameChunker, TwilioInboundDecoder, TwilioOutboundEncoder, ulaw_to_pcm16
from voice.transports.base import CallEnded, CallerAudio, KeyPress, PlayedAudio, TransportEvent

log = logging.getLogger("coach.twilio.media")
BAD_FRAMES = Counter("coach_media_bad_frames_total", "Malformed or unexpected media-stream frames", ["kind"])
FRAME_S = 0.020
PACING_LEAD_S = 0.040  # how far ahead of real time frames may be handed to Twilio


@dataclass(frozen=True)
class StreamStart:
    stream_sid: str
    call_sid: str
    parameters: dict[str, str]


class StreamRefused(Exception):
    pass


async def read_stream_start(websocket: WebSocket, timeout_s: float = 10.0, max_frames: int = 10) -> StreamStart:
    """Read `connected` and `start`; no audio is accepted before the stream is identified."""

    async def read() -> StreamStart:
        for _ in range(max_frames):
            message = await _receive(websocket)
            if message is not None and message.get("event") == "start":
                start = _body(message, "start") or {}
                parameters = start.get("customParameters")
                return StreamStart(
                    stream_sid=str(message.get("streamSid") or start.get("streamSid") or ""),
                    call_sid=str(start.get("callSid") or ""),
                    parameters={str(k): str(v) for k, v in parameters.items()} if isinstance(parameters, dict) else {},
                )
        raise StreamRefused("no start event")

    try:
        return await asyncio.wait_for(read(), timeout_s)
    except (asyncio.TimeoutError, WebSocketDisconnect) as exc:
        raise StreamRefused(f"stream did not start: {type(exc).__name__}") from None


def _bad_frame(kind: str, event: object = None) -> None:
    BAD_FRAMES.labels(kind).inc()
    log.warning("bad media frame", extra={"kind": kind, "event_name": str(event)[:32]})


async def _receive(websocket: WebSocket) -> dict[str, Any] | None:
    """The next JSON object from Twilio; None (counted and logged) for a frame that is not one."""
    try:
        text = await websocket.receive_text()
    except KeyError:  # a binary frame: starlette's receive_text indexes "text"
        _bad_frame("binary")
        return None
    try:
        message = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        _bad_frame("not_json")
        return None
    if not isinstance(message, dict):
        _bad_frame("not_object")
        return None
    return message


def _body(message: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The event's own object (`media`, `mark`, `dtmf`, `start`); None (counted) when it is not an object."""
    body = message.get(key)
    if isinstance(body, dict):
        return body
    _bad_frame("bad_field", key)
    return None


@dataclass
class _Outbound:
    """Frames waiting to go out, in order, each with whether it ends a model chunk (a mark follows it)."""

    frames: deque[tuple[bytes, bool]] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


def _media_message_parts(stream_sid: str) -> tuple[str, str]:
    """The JSON of an outbound `media` message before and after its base64 payload (which needs no escaping)."""
    placeholder = "<payload>"
    template = json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": placeholder}})
    before, _, after = template.rpartition(placeholder)  # the payload comes last, after any sid
    return before, after


class TwilioMediaTransport:
    def __init__(self, websocket: WebSocket, start: StreamStart) -> None:
        self.websocket = websocket
        self.stream_sid = start.stream_sid
        self.call_sid = start.call_sid
        self.on_played: PlayedAudio | None = None
        self._decoder = TwilioInboundDecoder()
        self._encoder = TwilioOutboundEncoder()
        self._chunker = FrameChunker()
        self._outbound = _Outbound()
        self._marks_outstanding: set[str] = set()
        self._mark_seq = 0
        self._pending_audio = bytearray()  # a partial mu-law frame from Twilio (frames should be 160 bytes)
        self._last_sequence = 1  # `start` is message 1
        self._closed = False
        self._generation = 0  # bumped by clear(): a frame popped before a clear must not go out after it
        self._media_before, self._media_after = _media_message_parts(start.stream_sid)
        self._pacer = asyncio.create_task(self._pace(), name="twilio-pacer")

    # --- inbound -------------------------------------------------------------------------------

    async def next_event(self) -> TransportEvent:
        while True:
            try:
                message = await _receive(self.websocket)
            except (WebSocketDisconnect, RuntimeError):
                return CallEnded("media socket closed")
            event = self._handle(message) if message is not None else None
            if event is not None:
                return event

    def _handle(self, message: dict[str, Any]) -> TransportEvent | None:
        kind = message.get("event")
        if kind == "stop":
            return CallEnded("caller hung up")
        if not self._in_sequence(message):
            return None
        if kind == "media":
            return self._audio(message)
        if kind == "mark":
            mark = _body(message, "mark")
            if mark is not None:
                self._marks_outstanding.discard(str(mark.get("name", "")))
            return None
        if kind == "dtmf":
            dtmf = _body(message, "dtmf")
            digit = str(dtmf.get("digit", "")) if dtmf is not None else ""
            return KeyPress(digit) if digit else None
        if kind not in {"connected", "start"}:
            _bad_frame("unknown_event", kind)
        return None

    def _in_sequence(self, message: dict[str, Any]) -> bool:
        """Twilio numbers its messages 1, 2, 3...; one numbered at or below the last is stale or replayed (dropped)."""
        try:
            number = int(message["sequenceNumber"])
        except (KeyError, TypeError, ValueError):
            return True  # unnumbered: nothing to compare
        if number <= self._last_sequence:
            _bad_frame("out_of_order", message.get("event"))
            return False
        self._last_sequence = number
        return True

    def _audio(self, message: dict[str, Any]) -> CallerAudio | None:
        media = _body(message, "media")
        if media is None or media.get("track", "inbound") not in {"inbound", "inbound_track"}:
            return None
        try:
            payload = base64.b64decode(media.get("payload", ""), validate=True)
        except (binascii.Error, ValueError, TypeError):
            _bad_frame("bad_payload")
            return None
        self._pending_audio.extend(payload)
        if len(self._pending_audio) < 160:
            return None
        frame, self._pending_audio = bytes(self._pending_audio[:160]), self._pending_audio[160:]
        pcm8k, pcm16k = self._decoder.decode(frame)
        return CallerAudio(pcm8k, pcm16k)

    # --- outbound ------------------------------------------------------------------------------

    async def play(self, pcm24k: bytes) -> None:
        frames = self._chunker.push(self._encoder.encode(pcm24k))
        self._enqueue(frames)

    async def end_of_turn(self) -> None:
        self._enqueue(self._chunker.flush())

    def _enqueue(self, frames: list[bytes]) -> None:
        if frames:
            last = len(frames) - 1
            self._outbound.frames.extend((frame, index == last) for index, frame in enumerate(frames))
            self._outbound.ready.set()

    async def clear(self) -> None:
        self._generation += 1
        self._outbound.frames.clear()
        self._chunker.clear()
        self._marks_outstanding.clear()  # Twilio echoes them all back after a clear; none means "played"
        await self._send({"event": "clear", "streamSid": self.stream_sid})

    @property
    def playing(self) -> bool:
        return bool(self._outbound.frames) or bool(self._marks_outstanding)

    async def send_event(self, event: dict[str, Any]) -> None:
        return None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pacer.cancel()
        try:
            await self.websocket.close()
        except (WebSocketDisconnect, RuntimeError):
            pass  # the far end is already gone

    async def _pace(self) -> None:
        """Hand frames to Twilio at real time, at most PACING_LEAD_S ahead; the first frame of a burst goes at once.
        A mark follows the last frame of each model chunk; it counts as outstanding from the moment that frame is
        taken, so `playing` never lapses while the frame waits or is sent."""
        next_due = 0.0
        while True:
            if not self._outbound.frames:
                self._outbound.ready.clear()
                await self._outbound.ready.wait()
                continue
            frame, ends_chunk = self._outbound.frames.popleft()
            mark = self._new_mark() if ends_chunk else None
            generation = self._generation
            now = time.monotonic()
            next_due = max(next_due, now)
            if next_due - now > PACING_LEAD_S:
                await asyncio.sleep(next_due - now - PACING_LEAD_S)
                if generation != self._generation:
                    continue
            await self._send_text(self._media_before + base64.b64encode(frame).decode("ascii") + self._media_after)
            if self.on_played is not None:
                self.on_played(ulaw_to_pcm16(frame))
            next_due += FRAME_S
            if mark is not None and generation == self._generation:
                await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": mark}})

    def _new_mark(self) -> str:
        self._mark_seq += 1
        name = f"c{self._mark_seq}"
        self._marks_outstanding.add(name)
        return name

    async def _send(self, message: dict[str, Any]) -> None:
        await self._send_text(json.dumps(message))

    async def _send_text(self, text: str) -> None:
        if self._closed:
            return
        try:
            await self.websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError):
            self._closed = True
