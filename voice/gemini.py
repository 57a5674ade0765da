"""The Gemini Live bridge: one logical model session per call, across any number of websocket connections.

What it adds to `client.aio.live.connect`:
- session resumption: the latest *resumable* handle is kept; on `goAway` a new connection is opened with it
  before the old one ends, and a dropped socket is reconnected the same way — the conversation is never
  re-sent as new content;
- caller audio (and tool responses) sent while no connection is ready are buffered and flushed, in order,
  once the new connection is up, so no caller audio is lost;
- caller audio goes to the model in chunks of `audio_chunk_ms`, not per 20 ms frame: each message costs the
  SDK a pydantic model, JSON and base64 (the largest share of a call's CPU), and barge-in is decided locally,
  so a larger chunk only delays what the model hears;
- context-window compression so a call may outlive the 15-minute audio-session limit;
- a model that cannot be reached at all surfaces as `ModelGone`, once, with the reason;
- token usage once per model turn (`ModelUsage`, after its `TurnComplete`). Live reports `usageMetadata` on
  server messages, for the turn so far; a turn may carry it on more than one message (the same report
  repeated, or a later one that supersedes it). The latest report of a turn is its usage, so a repeat is
  counted once and nothing is summed within a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google import genai
from google.genai import types
from prometheus_client import Counter

log = logging.getLogger("coach.gemini")
RECONNECTS = Counter("coach_model_reconnects_total", "Gemini Live reconnections", ["cause"])
RECONNECT_DELAYS_S = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
MAX_BUFFERED_AUDIO_BYTES = 16_000 * 2 * 60  # one minute of 16 kHz PCM16; older audio is dropped (and counted)
PCM16K_BYTES_PER_MS = 32
AUDIO_CHUNK_MS = 100
"""Default caller-audio chunk. The model hears each sample up to this much later than with per-frame sends
(80 ms more than 20 ms frames); its own end-of-speech detection waits far longer than that, and barge-in does
not wait for the model at all."""


@dataclass(frozen=True)
class ModelAudio:
    pcm24k: bytes


@dataclass(frozen=True)
class Transcript:
    role: str  # caller | coach
    text: str


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class ToolCallsCancelled:
    ids: tuple[str, ...]


@dataclass(frozen=True)
class Interrupted:
    pass


@dataclass(frozen=True)
class TurnComplete:
    pass


@dataclass(frozen=True)
class ModelGone:
    reason: str


@dataclass(frozen=True)
class ModelUsage:
    """The usage the model reported for one turn, and when the turn's first and last messages arrived."""

    usage: types.UsageMetadata
    started_ns: int
    ended_ns: int


ModelEvent = (
    ModelAudio | Transcript | ToolCall | ToolCallsCancelled | Interrupted | TurnComplete | ModelUsage | ModelGone
)
ConfigFor = Callable[[str | None], types.LiveConnectConfig]  # resumption handle -> connect config


def live_config(
    system_instruction: str, declarations: list[types.FunctionDeclaration], handle: str | None
) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        system_instruction=system_instruction,
        tools=[types.Tool(function_declarations=declarations)],
        session_resumption=types.SessionResumptionConfig(handle=handle),
        context_window_compression=types.ContextWindowCompressionConfig(
            trigger_tokens=25_600, sliding_window=types.SlidingWindow(target_tokens=12_800)
        ),
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )


class LiveBridge:
    def __init__(
        self, client: genai.Client | None, model: str, config_for: ConfigFor, *, audio_chunk_ms: int = AUDIO_CHUNK_MS
    ) -> None:
        """`audio_chunk_ms`: caller audio is sent once this much has gathered, or this long after the first
        unsent byte arrived (a caller who stops sending is not kept waiting)."""
        if audio_chunk_ms <= 0:
            raise ValueError("audio_chunk_ms must be positive")
        self.client = client
        self.model = model
        self.config_for = config_for
        self._audio_chunk_s = audio_chunk_ms / 1000
        self._audio_chunk_bytes = audio_chunk_ms * PCM16K_BYTES_PER_MS
        self._unsent_audio = bytearray()
        self._audio_deadline: asyncio.TimerHandle | None = None
        self._late_flush: asyncio.Task[None] | None = None
        self.events: asyncio.Queue[ModelEvent] = asyncio.Queue()
        self.handle: str | None = None
        self.dropped_audio_bytes = 0
        self._session: Any = None
        self._exit: contextlib.AsyncExitStack | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._backlog: deque[tuple[str, Any]] = deque()
        self._backlog_audio_bytes = 0
        self._send_lock = asyncio.Lock()
        self._closed = False
        self._turn_started_ns: int | None = None
        self._turn_usage: types.UsageMetadata | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect; raises `ModelUnreachable` when no connection can be made."""
        if self.client is None:
            raise ModelUnreachable("no model configured (GEMINI_API_KEY is unset)")
        await self._connect_with_retries("start")

    async def close(self) -> None:
        """End the session; caller audio still being gathered into a chunk is sent first, so none is lost."""
        await self._send_unsent_audio()
        self._closed = True
        self._cancel_audio_deadline()
        for task in (self._reconnecting, self._receiver, self._late_flush):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        await self._drop_connection()

    async def _connect_with_retries(self, cause: str) -> None:
        last_error: Exception | None = None
        for delay in RECONNECT_DELAYS_S:
            if self._closed:
                return
            await asyncio.sleep(delay)
            try:
                await self._connect()
                if cause != "start":
                    RECONNECTS.labels(cause).inc()
                    log.info("model reconnected", extra={"cause": cause, "resumed": self.handle is not None})
                return
            except Exception as exc:  # any failure to connect is retried, then reported
                last_error = exc
                log.warning("model connection failed", extra={"cause": cause, "error": type(exc).__name__})
        raise ModelUnreachable(f"{type(last_error).__name__}: {last_error}")

    async def _connect(self) -> None:
        assert self.client is not None
        stack = contextlib.AsyncExitStack()
        session = await stack.enter_async_context(
            self.client.aio.live.connect(model=self.model, config=self.config_for(self.handle))
        )
        old_stack = self._exit
        async with self._send_lock:
            self._session, self._exit = session, stack
            await self._flush_backlog()
        self._receiver = asyncio.create_task(self._receive(session), name="gemini-receive")
        if old_stack is not None:
            with contextlib.suppress(Exception):
                await old_stack.aclose()

    async def _drop_connection(self) -> None:
        stack, self._session, self._exit = self._exit, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()

    def _reconnect(self, cause: str) -> None:
        """Start one reconnection (goAway or a dropped socket); sends go to the backlog meanwhile."""
        if self._closed or (self._reconnecting is not None and not self._reconnecting.done()):
            return
        self._session = None
        self._reconnecting = asyncio.create_task(self._reconnect_task(cause), name="gemini-reconnect")

    async def _reconnect_task(self, cause: str) -> None:
        try:
            await self._connect_with_retries(cause)
        except ModelUnreachable as exc:
            await self.events.put(ModelGone(f"model unreachable after {cause}: {exc}"))

    # --- sending -------------------------------------------------------------------------------

    async def send_audio(self, pcm16k: bytes) -> None:
        """Caller audio (PCM16 16 kHz), gathered into chunks of `audio_chunk_ms`."""
        if not self._unsent_audio:
            self._audio_deadline = asyncio.get_running_loop().call_later(self._audio_chunk_s, self._flush_late_audio)
        self._unsent_audio += pcm16k
        if len(self._unsent_audio) >= self._audio_chunk_bytes:
            await self._send_unsent_audio()

    async def send_tool_responses(self, responses: list[types.FunctionResponse]) -> None:
        await self._send_unsent_audio()
        await self._send("tool", responses)

    async def send_text(self, text: str) -> None:
        """A user-role text turn (call opening, DTMF results, crisis guidance) that asks the model to speak."""
        await self._send_unsent_audio()
        await self._send("text", text)

    async def _send_unsent_audio(self) -> None:
        """Send the gathered caller audio (taken at once, so concurrent callers keep the order)."""
        self._cancel_audio_deadline()
        if self._unsent_audio:
            chunk = bytes(self._unsent_audio)
            self._unsent_audio.clear()
            await self._send("audio", chunk)

    def _flush_late_audio(self) -> None:
        self._audio_deadline = None
        self._late_flush = asyncio.create_task(self._send_unsent_audio(), name="gemini-audio-flush")

    def _cancel_audio_deadline(self) -> None:
        if self._audio_deadline is not None:
            self._audio_deadline.cancel()
            self._audio_deadline = None

    async def _send(self, kind: str, payload: Any) -> None:
        async with self._send_lock:
            if self._session is None:
                self._buffer(kind, payload)
                return
            try:
                await self._deliver(self._session, kind, payload)
            except Exception as exc:
                log.warning("send to model failed; buffering and reconnecting", extra={"error": type(exc).__name__})
                self._buffer(kind, payload)
                self._reconnect("send_failed")

    async def _deliver(self, session: Any, kind: str, payload: Any) -> None:
        if kind == "audio":
            await session.send_realtime_input(audio=types.Blob(data=payload, mime_type="audio/pcm;rate=16000"))
        elif kind == "tool":
            await session.send_tool_response(function_responses=payload)
        else:
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text=payload)]), turn_complete=True
            )

    def _buffer(self, kind: str, payload: Any) -> None:
        self._backlog.append((kind, payload))
        if kind == "audio":
            self._backlog_audio_bytes += len(payload)
            while self._backlog_audio_bytes > MAX_BUFFERED_AUDIO_BYTES:
                dropped = next(item for item in self._backlog if item[0] == "audio")
                self._backlog.remove(dropped)
                self._backlog_audio_bytes -= len(dropped[1])
                self.dropped_audio_bytes += len(dropped[1])

    async def _flush_backlog(self) -> None:
        """Called with the send lock held, right after a new connection is installed."""
        while self._backlog:
            kind, payload = self._backlog[0]
            await self._deliver(self._session, kind, payload)
            self._backlog.popleft()
            if kind == "audio":
                self._backlog_audio_bytes -= len(payload)

    # --- receiving -----------------------------------------------------------------------------

    async def _receive(self, session: Any) -> None:
        try:
            while not self._closed:
                async for message in session.receive():
                    if await self._dispatch(message):
                        return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket dropped (APIError carries the close code) or a bad frame
            if self._closed or session is not self._session:
                return
            log.warning("model connection lost", extra={"error": type(exc).__name__, "detail": str(exc)[:200]})
            self._reconnect("dropped")

    async def _dispatch(self, message: types.LiveServerMessage) -> bool:
        """Turn one server message into events; True when this connection is being replaced (goAway)."""
        update = message.session_resumption_update
        if update is not None and update.resumable and update.new_handle:
            self.handle = update.new_handle
        content = message.server_content
        if (content is not None or message.tool_call is not None) and self._turn_started_ns is None:
            self._turn_started_ns = time.time_ns()
        if message.usage_metadata is not None:
            self._turn_usage = message.usage_metadata  # the turn's latest report supersedes any earlier one
        if content is not None:
            await self._content_events(content)
            if content.turn_complete and (usage := self.take_turn_usage()) is not None:
                await self.events.put(usage)
        if message.tool_call is not None:
            for call in message.tool_call.function_calls or []:
                await self.events.put(ToolCall(call.id or "", call.name or "", dict(call.args or {})))
        if message.tool_call_cancellation is not None:
            await self.events.put(ToolCallsCancelled(tuple(message.tool_call_cancellation.ids or ())))
        if message.go_away is not None:
            log.info("model goAway", extra={"time_left": message.go_away.time_left})
            self._reconnect("go_away")
            return True
        return False

    def take_turn_usage(self) -> ModelUsage | None:
        """The current turn's usage, if the model reported any, and start a new turn. The session takes the
        usage of a turn cut short by the end of the call this way."""
        usage, started = self._turn_usage, self._turn_started_ns
        self._turn_usage = self._turn_started_ns = None
        if usage is None:
            return None
        ended = time.time_ns()
        return ModelUsage(usage, started or ended, ended)

    async def _content_events(self, content: types.LiveServerContent) -> None:
        if content.model_turn is not None:
            for part in content.model_turn.parts or []:
                if part.inline_data is not None and part.inline_data.data:
                    await self.events.put(ModelAudio(part.inline_data.data))
        if content.input_transcription is not None and content.input_transcription.text:
            await self.events.put(Transcript("caller", content.input_transcription.text))
        if content.output_transcription is not None and content.output_transcription.text:
            await self.events.put(Transcript("coach", content.output_transcription.text))
        if content.interrupted:
            await self.events.put(Interrupted())
        if content.turn_complete:
            await self.events.put(TurnComplete())


class ModelUnreachable(Exception):
    pass
