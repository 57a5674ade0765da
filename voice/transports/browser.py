"""The browser client's websocket: binary PCM16 16 kHz in, binary PCM16 24 kHz out, JSON events both ways.

The browser plays audio itself, so there are no marks: playback is tracked with a clock (24 kHz PCM16 is
48,000 bytes a second), and a barge-in sends a `{"type": "clear"}` event telling the page to stop playing.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect

from voice.codec import Downsampler24kTo8k
from voice.transports.base import CallEnded, CallerAudio, KeyPress, PlayedAudio, TransportEvent

log = logging.getLogger("coach.browser")
FRAME_BYTES_16K = 640  # 20 ms of PCM16 at 16 kHz
BYTES_PER_SECOND_24K = 48_000


def halve_rate(pcm16k: bytes) -> bytes:
    """16 kHz -> 8 kHz by averaging sample pairs: good enough for voice-activity detection only."""
    samples = np.frombuffer(pcm16k, dtype="<i2").astype(np.int32)
    return ((samples[0::2] + samples[1::2]) // 2).astype("<i2").tobytes()


class BrowserTransport:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.on_played: PlayedAudio | None = None
        self._inbound = bytearray()
        self._echo_reference = Downsampler24kTo8k()
        self._playback_ends = 0.0
        self._closed = False

    async def next_event(self) -> TransportEvent:
        while True:
            if len(self._inbound) >= FRAME_BYTES_16K:
                frame = bytes(self._inbound[:FRAME_BYTES_16K])
                del self._inbound[:FRAME_BYTES_16K]
                return CallerAudio(halve_rate(frame), frame)
            try:
                message = await self.websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return CallEnded("browser disconnected")
            if message["type"] == "websocket.disconnect":
                return CallEnded("browser disconnected")
            if message.get("bytes"):
                self._inbound.extend(message["bytes"])
            elif message.get("text"):
                event = self._control(message["text"])
                if event is not None:
                    return event

    def _control(self, text: str) -> TransportEvent | None:
        try:
            event = json.loads(text)
        except json.JSONDecodeError:
            log.warning("browser sent a text frame that is not JSON")
            return None
        if not isinstance(event, dict):
            return None
        if event.get("type") == "hangup":
            return CallEnded("browser hung up")
        if event.get("type") == "dtmf" and str(event.get("digit", "")) in set("0123456789*#"):
            return KeyPress(str(event["digit"]))
        return None

    async def play(self, pcm24k: bytes) -> None:
        now = time.monotonic()
        self._playback_ends = max(self._playback_ends, now) + len(pcm24k) / BYTES_PER_SECOND_24K
        if self.on_played is not None:
            self.on_played(self._echo_reference.process(pcm24k))
        await self._send_bytes(pcm24k)

    async def end_of_turn(self) -> None:
        return None

    async def clear(self) -> None:
        self._playback_ends = 0.0
        await self.send_event({"type": "clear"})

    @property
    def playing(self) -> bool:
        return time.monotonic() < self._playback_ends

    async def send_event(self, event: dict[str, Any]) -> None:
        if self._closed:
            return
        try:
            await self.websocket.send_text(json.dumps(event, default=str))
        except (WebSocketDisconnect, RuntimeError):
            self._closed = True

    async def _send_bytes(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            await self.websocket.send_bytes(data)
        except (WebSocketDisconnect, RuntimeError):
            self._closed = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self.websocket.close()
        except (WebSocketDisconnect, RuntimeError):
            pass  # the far end is already gone
