"""Twilio Media Streams (bidirectional `<Connect><Stream>`): the wire format, pacing and marks.

Inbound: JSON text frames `connected`, `start`, `media`, `mark`, `dtmf`, `stop`. Outbound: `media` frames of
20 ms mu-law, a `mark` after each model chunk (echoed back by Twilio once played), `clear` on barge-in.
Malformed or unexpected frames are logged and counted, never fatal: a bad frame must not drop a call.
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
            message = _parse(await websocket.receive_text())
            if message is None:
                continue
            if message.get("event") == "start":
                start = message.get("start") or {}
                return StreamStart(
                    stream_sid=str(message.get("streamSid") or start.get("streamSid") or ""),
                    call_sid=str(start.get("callSid") or ""),
                    parameters={str(k): str(v) for k, v in (start.get("customParameters") or {}).items()},
                )
        raise StreamRefused("no start event")

    try:
        return await asyncio.wait_for(read(), timeout_s)
    except (asyncio.TimeoutError, WebSocketDisconnect) as exc:
        raise StreamRefused(f"stream did not start: {type(exc).__name__}") from None


def _parse(text: str) -> dict[str, Any] | None:
    try:
        message = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        BAD_FRAMES.labels("not_json").inc()
        log.warning("media frame is not JSON")
        return None
    if not isinstance(message, dict):
        BAD_FRAMES.labels("not_object").inc()
        return None
    return message


@dataclass
class _Mark:
    name: str


@dataclass
class _Outbound:
    """Frames and marks waiting to go out, in order."""

    items: deque[bytes | _Mark] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


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
        self._closed = False
        self._generation = 0  # bumped by clear(): a frame popped before a clear must not go out after it
        self._pacer = asyncio.create_task(self._pace(), name="twilio-pacer")

    # --- inbound -------------------------------------------------------------------------------

    async def next_event(self) -> TransportEvent:
        while True:
            try:
                text = await self.websocket.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return CallEnded("media socket closed")
            except KeyError:  # a binary frame: starlette's receive_text indexes "text"
                BAD_FRAMES.labels("binary").inc()
                continue
            event = self._handle(text)
            if event is not None:
                return event

    def _handle(self, text: str) -> TransportEvent | None:
        message = _parse(text)
        if message is None:
            return None
        kind = message.get("event")
        if kind == "media":
            return self._audio(message)
        if kind == "mark":
            name = str((message.get("mark") or {}).get("name", ""))
            self._marks_outstanding.discard(name)
            return None
        if kind == "dtmf":
            digit = str((message.get("dtmf") or {}).get("digit", ""))
            return KeyPress(digit) if digit else None
        if kind == "stop":
            return CallEnded("caller hung up")
        if kind not in {"connected", "start"}:
            BAD_FRAMES.labels("unknown_event").inc()
            log.warning("unknown media event", extra={"event_name": str(kind)[:32]})
        return None

    def _audio(self, message: dict[str, Any]) -> CallerAudio | None:
        media = message.get("media") or {}
        if media.get("track", "inbound") not in {"inbound", "inbound_track"}:
            return None
        try:
            payload = base64.b64decode(media.get("payload", ""), validate=True)
        except (binascii.Error, ValueError):
            BAD_FRAMES.labels("bad_payload").inc()
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
        if not frames:
            return
        self._mark_seq += 1
        self._outbound.items.extend(frames)
        self._outbound.items.append(_Mark(f"c{self._mark_seq}"))
        self._outbound.ready.set()

    async def clear(self) -> None:
        self._generation += 1
        self._outbound.items.clear()
        self._chunker.clear()
        self._marks_outstanding.clear()  # Twilio echoes them all back after a clear; none means "played"
        await self._send({"event": "clear", "streamSid": self.stream_sid})

    @property
    def playing(self) -> bool:
        return bool(self._outbound.items) or bool(self._marks_outstanding)

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
        """Hand frames to Twilio at real time, at most PACING_LEAD_S ahead; the first frame of a burst goes at once."""
        next_due = 0.0
        while True:
            if not self._outbound.items:
                self._outbound.ready.clear()
                await self._outbound.ready.wait()
                continue
            item = self._outbound.items.popleft()
            generation = self._generation
            if isinstance(item, _Mark):
                self._marks_outstanding.add(item.name)
                await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": item.name}})
                continue
            now = time.monotonic()
            next_due = max(next_due, now)
            if next_due - now > PACING_LEAD_S:
                await asyncio.sleep(next_due - now - PACING_LEAD_S)
                if generation != self._generation:
                    continue
            payload = base64.b64encode(item).decode()
            await self._send({"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}})
            if self.on_played is not None:
                self.on_played(ulaw_to_pcm16(item))
            next_due += FRAME_S

    async def _send(self, message: dict[str, Any]) -> None:
        if self._closed:
            return
        try:
            await self.websocket.send_text(json.dumps(message))
        except (WebSocketDisconnect, RuntimeError):
            self._closed = True
