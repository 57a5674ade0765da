"""What a call session sees of a transport: caller events in, coach audio out. No wire details."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class CallerAudio:
    """20 ms of caller audio: PCM16 8 kHz for voice-activity detection, PCM16 16 kHz for the model."""

    pcm8k: bytes
    pcm16k: bytes


@dataclass(frozen=True)
class KeyPress:
    digit: str


@dataclass(frozen=True)
class CallEnded:
    reason: str


TransportEvent = CallerAudio | KeyPress | CallEnded
PlayedAudio = Callable[[bytes], None]  # PCM16 8 kHz of coach audio as it goes out (the echo reference)


class CallTransport(Protocol):
    on_played: PlayedAudio | None

    async def next_event(self) -> TransportEvent:
        """The next caller event; `CallEnded` once the far end is gone."""
        ...

    async def play(self, pcm24k: bytes) -> None:
        """Queue model audio (PCM16 24 kHz) for the caller."""
        ...

    async def end_of_turn(self) -> None:
        """The model's turn is over: play out whatever partial frame is left."""
        ...

    async def clear(self) -> None:
        """Stop playback at once and drop everything queued (barge-in)."""
        ...

    @property
    def playing(self) -> bool:
        """Whether coach audio is queued or not yet confirmed played."""
        ...

    async def send_event(self, event: dict[str, Any]) -> None:
        """An application event for clients that show them (the browser); ignored on the phone."""
        ...

    async def close(self) -> None:
        """End the media connection (on the phone this ends the call)."""
        ...
