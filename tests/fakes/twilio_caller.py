"""Fake Twilio Media Streams peer: plays the phone-call side against our `/twilio/media` websocket.

`TwilioMediaCaller` dials our server with the `websockets` asyncio client and behaves like Twilio on a
`<Connect><Stream>` (bidirectional) call, following /work/shared/reference/twilio_media_streams.md:

- sends `connected`, then `start` (sequenceNumber "1"), then one 20 ms `media` frame (160 bytes of
  mu-law) every 20 ms, paced against a monotonic clock so it never drifts. A frame goes out when its
  20 ms have been "captured", at the end of its window, as on a real line. The line never goes quiet:
  with no speech queued it sends mu-law silence (0xFF), or white noise at `noise_dbfs`;
- plays the server's audio on a playback clock: each received `media` payload plays from
  max(arrival, end of queue) at 8000 bytes/s; a `mark` is echoed back when playback reaches the end of
  the audio queued before it; `clear` cuts the audio at "now", drops the rest and echoes every pending
  mark at once; marks still pending when the call ends are never echoed;
- optionally feeds what it plays back into its microphone (speakerphone echo, `echo_gain_db` at
  `echo_delay_ms`), mixed in PCM and then mu-law encoded;
- validates what the server sends and records protocol violations in `.violations` (with the Twilio
  error code it would raise: 31950 binary frame, 31951 bad JSON/event/field/streamSid, 31924 bad
  payload) instead of failing.

Clock: "stream time" is milliseconds since the `start` message was sent (`stream_ms()`). Media
timestamps are the nominal frame times (frame n carries stream time [20*(n-1), 20*n) and has timestamp
20*(n-1)); it is sent at stream time 20*n, or as soon as possible after it if the event loop was blocked
(frames then go out in a burst, as a real network would deliver them, and the schedule is kept).

Everything runs on the test's event loop; use it as `async with TwilioMediaCaller(url, ...) as caller:`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voice.codec import ULAW_FRAME_BYTES, ULAW_SILENCE, pcm16_to_ulaw, ulaw_to_pcm16

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = ULAW_FRAME_BYTES  # mu-law: one byte per sample
FRAME_PCM_BYTES = 2 * FRAME_SAMPLES
DTMF_DIGITS = frozenset("0123456789*#ABCD")
POLL_S = 0.005

# Twilio's error codes for what the server sends wrong [WS, ERR]
ERR_BINARY_FRAME = 31950
ERR_BAD_MESSAGE = 31951
ERR_PROTOCOL = 31924

_ALLOWED_FIELDS: dict[str, tuple[frozenset[str], str | None, frozenset[str]]] = {
    # event -> (top-level keys, nested object key, nested keys)
    "media": (frozenset({"event", "streamSid", "media"}), "media", frozenset({"payload"})),
    "mark": (frozenset({"event", "streamSid", "mark"}), "mark", frozenset({"name"})),
    "clear": (frozenset({"event", "streamSid"}), None, frozenset()),
}


# --------------------------------------------------------------------------- #
# Records
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class SentMessage:
    """A message the caller put on the wire (`message` is None for `send_raw` bytes/unparseable text)."""

    at: float  # time.monotonic() just before sending
    stream_ms: float
    raw: str | bytes
    message: dict[str, Any] | None


@dataclass(frozen=True)
class ReceivedFrame:
    """A websocket message from the server, valid or not (`message` is None when not a JSON object)."""

    at: float  # time.monotonic() on arrival
    stream_ms: float
    raw: str | bytes
    message: dict[str, Any] | None


@dataclass(frozen=True)
class Violation:
    """Something the server sent that real Twilio would reject (`code` is Twilio's error code)."""

    code: int
    reason: str
    stream_ms: float
    raw: str | bytes


@dataclass(frozen=True)
class PlayedChunk:
    """Mu-law audio that has actually been played: `data` started playing at `start_ms` (stream time)."""

    start_ms: float
    data: bytes

    @property
    def end_ms(self) -> float:
        return self.start_ms + len(self.data) * 1000 / SAMPLE_RATE


@dataclass(frozen=True)
class ClearRecord:
    """A `clear` from the server: when it arrived, how much queued audio it dropped, which marks it flushed."""

    at: float  # time.monotonic() on arrival
    stream_ms: float
    dropped_bytes: int
    flushed_marks: tuple[str, ...]


@dataclass(frozen=True)
class MarkEcho:
    """A mark echoed back: `cleared` when a clear flushed it, else it played out at `due_ms`."""

    name: str
    at: float  # time.monotonic() when the echo was sent
    stream_ms: float
    due_ms: float  # end of the audio queued before it (for a flushed mark: the clear time)
    cleared: bool


@dataclass
class _Segment:
    start: int  # playback position in samples since stream start
    data: bytes
    length: int  # bytes kept after clears


@dataclass
class _PendingMark:
    name: str
    due: int  # playback position in samples


@dataclass
class _Speech:
    end_frame: int  # 0-based index of the frame after its last frame
    done: asyncio.Future[None] = field(repr=False)


class CallerNotStarted(RuntimeError):
    pass


# --------------------------------------------------------------------------- #
# The caller
# --------------------------------------------------------------------------- #


class TwilioMediaCaller:
    """Twilio's media-streams side of one phone call, talking to our server's websocket endpoint."""

    def __init__(
        self,
        url: str,
        custom_parameters: Mapping[str, str] | None = None,
        call_sid: str | None = None,
        noise_dbfs: float | None = None,
        echo_gain_db: float | None = None,
        echo_delay_ms: float = 120,
        headers: Mapping[str, str] | None = None,
        *,
        account_sid: str | None = None,
        stream_sid: str | None = None,
        seed: int = 0,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.custom_parameters: dict[str, str] = dict(custom_parameters or {})
        self.account_sid = account_sid or "AC" + uuid.uuid4().hex
        self.call_sid = call_sid or "CA" + uuid.uuid4().hex
        self.stream_sid = stream_sid or "MZ" + uuid.uuid4().hex
        self.noise_dbfs = noise_dbfs
        self.echo_gain_db = echo_gain_db
        self.echo_delay_ms = echo_delay_ms
        self.headers = dict(headers or {})
        self._open_timeout = open_timeout
        self._rng = np.random.default_rng(seed)
        self._echo_delay_samples = round(echo_delay_ms * SAMPLE_RATE / 1000)
        self._echo_gain = None if echo_gain_db is None else 10 ** (echo_gain_db / 20)
        self._noise_rms = None if noise_dbfs is None else 32768.0 * 10 ** (noise_dbfs / 20)  # RMS re full scale

        # public records
        self.sent_messages: list[SentMessage] = []
        self.received_frames: list[ReceivedFrame] = []
        self.violations: list[Violation] = []
        self.clears: list[ClearRecord] = []
        self.marks_sent_back: list[MarkEcho] = []
        self.closed_by_server = False
        self.close_code: int | None = None

        # connection and clock
        self._ws: ClientConnection | None = None
        self._t0: float | None = None
        self._end_pos: int | None = None  # playback position when the call ended
        self._sequence = 0
        self._send_lock = asyncio.Lock()
        self._hanging_up = False
        self._ended = asyncio.Event()
        self._closed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._task_errors: list[BaseException] = []

        # outgoing audio
        self._next_frame = 0  # 0-based index of the next media frame to build
        self._speech = bytearray()  # PCM16 queued by say(), always whole frames
        self._speech_waiters: list[_Speech] = []
        self._sent_ulaw = bytearray()

        # playback
        self._timeline = bytearray()  # mu-law by playback position (0xFF where nothing plays)
        self._queue_end = 0  # playback position where the queued audio ends
        self._segments: list[_Segment] = []
        self._pending_marks: list[_PendingMark] = []
        self._marks_changed = asyncio.Event()
        self._flush_tasks: set[asyncio.Task[None]] = set()
        self._received_audio_bytes = 0

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> TwilioMediaCaller:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.hang_up()
        if self._task_errors and exc_info[0] is None:
            raise RuntimeError("TwilioMediaCaller background task failed") from self._task_errors[0]

    async def connect(self) -> None:
        """Open the websocket, send `connected` and `start`, start streaming (done by `async with`)."""
        if self._ws is not None:
            raise RuntimeError("already connected")
        self._ws = await connect(
            self.url,
            additional_headers=self.headers or None,
            proxy=None,
            compression=None,
            ping_interval=None,
            open_timeout=self._open_timeout,
        )
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"}, numbered=False)
        self._t0 = time.monotonic()
        await self._send(
            {
                "event": "start",
                "streamSid": self.stream_sid,
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": dict(self.custom_parameters),
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
        )
        loop = asyncio.get_running_loop()
        for name, coro in (
            ("sender", self._sender()),
            ("receiver", self._receiver()),
            ("playback", self._playback()),
        ):
            task = loop.create_task(coro, name=f"twilio-caller-{name}")
            task.add_done_callback(self._task_done)
            self._tasks.append(task)

    async def hang_up(self) -> None:
        """Send `stop` (accountSid, callSid) and close the socket; idempotent, no-op if the server closed."""
        if self._ws is None or self._hanging_up:
            await self._await_tasks()
            return
        self._hanging_up = True
        if not self._ended.is_set():
            self._end_call()
            try:
                await self._send(
                    {
                        "event": "stop",
                        "streamSid": self.stream_sid,
                        "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                    }
                )
                await self._ws.close()
            except ConnectionClosed:
                pass
        await self._await_tasks()

    async def wait_closed(self, timeout: float) -> int | None:
        """Wait until the socket is closed by either side; returns the close code (TimeoutError after `timeout`)."""
        await asyncio.wait_for(self._closed.wait(), timeout)
        return self.close_code

    async def _await_tasks(self) -> None:
        for task in self._tasks:
            if not task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(task), 10)
                except (asyncio.TimeoutError, asyncio.CancelledError):
                    task.cancel()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._task_errors.append(task.exception())  # type: ignore[arg-type]

    def _end_call(self) -> None:
        """Stop sending and playing; marks still pending are never echoed."""
        if self._ended.is_set():
            return
        self._end_pos = self._now_pos()
        self._ended.set()
        self._marks_changed.set()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current and task.get_name() != "twilio-caller-receiver":
                task.cancel()
        for waiter in self._speech_waiters:
            if not waiter.done.done():
                waiter.done.set_exception(ConnectionError("call ended before the speech was sent"))
                waiter.done.exception()  # mark retrieved: nobody may be waiting
        self._speech_waiters.clear()

    # ------------------------------------------------------------------ clock

    def stream_ms(self) -> float:
        """Milliseconds since the `start` message was sent (the caller's stream clock)."""
        return self._to_stream_ms(time.monotonic())

    def _to_stream_ms(self, monotonic: float) -> float:
        if self._t0 is None:
            raise CallerNotStarted("the stream has not started")
        return (monotonic - self._t0) * 1000

    def _now_pos(self) -> int:
        """Current playback position in samples since stream start (frozen once the call ended)."""
        if self._end_pos is not None:
            return self._end_pos
        if self._t0 is None:
            return 0
        return int((time.monotonic() - self._t0) * SAMPLE_RATE)

    # ------------------------------------------------------------------ sending

    async def _send(self, message: dict[str, Any], *, numbered: bool = True) -> SentMessage:
        assert self._ws is not None
        async with self._send_lock:
            if numbered:
                self._sequence += 1
                message = {"event": message["event"], "sequenceNumber": str(self._sequence), **message}
            raw = json.dumps(message)
            record = self._record_sent(raw, message)
            await self._ws.send(raw)
            return record

    def _record_sent(self, raw: str | bytes, message: dict[str, Any] | None) -> SentMessage:
        now = time.monotonic()
        stream_ms = self._to_stream_ms(now) if self._t0 is not None else 0.0
        record = SentMessage(now, stream_ms, raw, message)
        self.sent_messages.append(record)
        return record

    async def send_raw(self, data: str | bytes) -> None:
        """Put `data` on the wire as-is (text or binary frame); does not consume a sequence number."""
        if self._ws is None:
            raise CallerNotStarted("not connected")
        async with self._send_lock:
            message = None
            if isinstance(data, str):
                try:
                    parsed = json.loads(data)
                    message = parsed if isinstance(parsed, dict) else None
                except ValueError:
                    pass
            self._record_sent(data, message)
            await self._ws.send(data)

    async def press(self, digit: str) -> None:
        """Send a `dtmf` event for one key (0-9, *, #, A-D)."""
        if len(digit) != 1 or digit not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        await self._send(
            {"event": "dtmf", "streamSid": self.stream_sid, "dtmf": {"track": "inbound_track", "digit": digit}}
        )

    async def say(self, pcm8k: bytes, *, wait: bool = False) -> float:
        """Queue PCM16 8 kHz speech (mixed over noise/echo); returns its onset in stream ms.

        The onset is the media timestamp of the first frame carrying it: right after any speech
        already queued, otherwise the next frame. The speech is padded with silence to whole 20 ms
        frames. With `wait=True`, returns only once its last frame has been sent.
        """
        if self._t0 is None:
            raise CallerNotStarted("not connected")
        if self._ended.is_set():
            raise ConnectionError("the call has ended")
        if len(pcm8k) % 2:
            raise ValueError("PCM16 needs an even number of bytes")
        padded = bytes(pcm8k) + bytes(-len(pcm8k) % FRAME_PCM_BYTES)
        onset_frame = self._next_frame + len(self._speech) // FRAME_PCM_BYTES
        self._speech += padded
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._speech_waiters.append(_Speech(onset_frame + len(padded) // FRAME_PCM_BYTES, done))
        if wait:
            await done
        return float(onset_frame * FRAME_MS)

    async def _sender(self) -> None:
        assert self._t0 is not None
        try:
            while not self._ended.is_set():
                due = self._t0 + (self._next_frame + 1) * FRAME_MS / 1000  # once its 20 ms are captured
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if self._ended.is_set():
                    return
                # build the frame and advance the frame index with no await in between (see say())
                index = self._next_frame
                payload = self._build_frame(index)
                self._next_frame += 1
                message = {
                    "event": "media",
                    "streamSid": self.stream_sid,
                    "media": {
                        "track": "inbound",
                        "chunk": str(index + 1),
                        "timestamp": str(index * FRAME_MS),
                        "payload": base64.b64encode(payload).decode("ascii"),
                    },
                }
                self._sent_ulaw += payload
                await self._send(message)
                self._resolve_speech(index + 1)
        except ConnectionClosed:
            return

    def _resolve_speech(self, frames_sent: int) -> None:
        while self._speech_waiters and self._speech_waiters[0].end_frame <= frames_sent:
            waiter = self._speech_waiters.pop(0)
            if not waiter.done.done():
                waiter.done.set_result(None)

    def _build_frame(self, index: int) -> bytes:
        mix = np.zeros(FRAME_SAMPLES)
        active = False
        if self._speech:
            chunk = bytes(self._speech[:FRAME_PCM_BYTES])
            del self._speech[:FRAME_PCM_BYTES]
            mix += np.frombuffer(chunk, dtype="<i2")
            active = True
        if self._noise_rms is not None:
            mix += self._rng.normal(0.0, self._noise_rms, FRAME_SAMPLES)
            active = True
        if self._echo_gain is not None:
            start = index * FRAME_SAMPLES - self._echo_delay_samples
            echo = self._timeline_slice(start, FRAME_SAMPLES)
            if echo.count(ULAW_SILENCE) != len(echo):
                mix += self._echo_gain * np.frombuffer(ulaw_to_pcm16(echo), dtype="<i2")
                active = True
        if not active:
            return bytes([ULAW_SILENCE]) * ULAW_FRAME_BYTES
        return pcm16_to_ulaw(np.clip(np.rint(mix), -32768, 32767).astype("<i2").tobytes())

    def _timeline_slice(self, start: int, length: int) -> bytes:
        """Mu-law scheduled to play at positions [start, start+length), silence where nothing plays."""
        out = bytearray([ULAW_SILENCE]) * length
        lo, hi = max(start, 0), min(start + length, len(self._timeline))
        if hi > lo:
            out[lo - start : hi - start] = self._timeline[lo:hi]
        return bytes(out)

    def sent_audio(self) -> bytes:
        """Every mu-law byte sent in media frames so far, in order (frame n at offset 160*(n-1))."""
        return bytes(self._sent_ulaw)

    # ------------------------------------------------------------------ receiving

    async def _receiver(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                self._on_message(raw, time.monotonic())
        except ConnectionClosed:
            pass
        finally:
            ws = self._ws
            self.close_code = ws.close_code
            server_first = ws.protocol.close_rcvd_then_sent
            self.closed_by_server = bool(server_first) or (not self._hanging_up and server_first is None)
            self._end_call()
            self._closed.set()
            for task in self._tasks:
                if task is not asyncio.current_task():
                    task.cancel()

    def _on_message(self, raw: str | bytes, at: float) -> None:
        stream_ms = self._to_stream_ms(at)
        message: dict[str, Any] | None = None
        if isinstance(raw, str):
            try:
                parsed = json.loads(raw)
                message = parsed if isinstance(parsed, dict) else None
            except ValueError:
                message = None
        self.received_frames.append(ReceivedFrame(at, stream_ms, raw, message))
        if self._ended.is_set():
            return

        def violation(code: int, reason: str) -> None:
            self.violations.append(Violation(code, reason, stream_ms, raw))

        if isinstance(raw, bytes):
            return violation(ERR_BINARY_FRAME, "binary websocket frame")
        if message is None:
            return violation(ERR_BAD_MESSAGE, "not a JSON object")
        event = message.get("event")
        if event not in _ALLOWED_FIELDS:
            return violation(ERR_BAD_MESSAGE, f"unknown event {event!r}")
        top, nested_key, nested = _ALLOWED_FIELDS[event]
        if set(message) != top:
            return violation(ERR_BAD_MESSAGE, f"{event}: fields {sorted(message)}, expected {sorted(top)}")
        if message["streamSid"] != self.stream_sid:
            return violation(ERR_BAD_MESSAGE, f"{event}: wrong streamSid {message['streamSid']!r}")
        if nested_key is not None:
            body = message[nested_key]
            if not isinstance(body, dict) or set(body) != nested:
                return violation(ERR_BAD_MESSAGE, f"{event}.{nested_key} must be an object with {sorted(nested)}")
        if event == "media":
            payload = message["media"]["payload"]
            if not isinstance(payload, str) or not payload:
                return violation(ERR_PROTOCOL, "media.payload must be a non-empty base64 string")
            try:
                audio = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                return violation(ERR_PROTOCOL, "media.payload is not valid base64")
            if not audio:
                return violation(ERR_PROTOCOL, "media.payload decodes to nothing")
            if audio[:4] == b"RIFF":
                return violation(ERR_PROTOCOL, "media.payload carries a WAV header")
            self._enqueue_audio(audio, at)
        elif event == "mark":
            name = message["mark"]["name"]
            if not isinstance(name, str):
                return violation(ERR_BAD_MESSAGE, "mark.name must be a string")
            self._pending_marks.append(_PendingMark(name, self._queue_end))
            self._marks_changed.set()
        else:
            self._clear(at, stream_ms)

    # ------------------------------------------------------------------ playback

    def _pos_at(self, monotonic: float) -> int:
        assert self._t0 is not None
        return int((monotonic - self._t0) * SAMPLE_RATE)

    def _enqueue_audio(self, audio: bytes, at: float) -> None:
        start = max(self._pos_at(at), self._queue_end)
        end = start + len(audio)
        if len(self._timeline) < end:
            self._timeline += bytes([ULAW_SILENCE]) * (end - len(self._timeline))
        self._timeline[start:end] = audio
        self._segments.append(_Segment(start, audio, len(audio)))
        self._received_audio_bytes += len(audio)
        self._queue_end = end

    def _clear(self, at: float, stream_ms: float) -> None:
        cut = self._pos_at(at)
        dropped = max(self._queue_end - cut, 0)
        for segment in self._segments:
            segment.length = max(0, min(segment.length, cut - segment.start))
        self._segments = [s for s in self._segments if s.length > 0]
        if len(self._timeline) > cut:
            del self._timeline[cut:]
        self._queue_end = min(self._queue_end, cut)
        flushed, self._pending_marks = self._pending_marks, []
        self.clears.append(ClearRecord(at, stream_ms, dropped, tuple(m.name for m in flushed)))
        if flushed:
            task = asyncio.get_running_loop().create_task(self._echo_marks(flushed, cleared=True, due=cut))
            self._flush_tasks.add(task)
            task.add_done_callback(self._flush_tasks.discard)
        self._marks_changed.set()

    async def _echo_marks(self, marks: list[_PendingMark], *, cleared: bool, due: int | None = None) -> None:
        for mark in marks:
            if self._ended.is_set():
                return
            try:
                sent = await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": mark.name}})
            except ConnectionClosed:
                return
            due_pos = mark.due if due is None else due
            self.marks_sent_back.append(
                MarkEcho(mark.name, sent.at, sent.stream_ms, due_pos * 1000 / SAMPLE_RATE, cleared)
            )

    async def _playback(self) -> None:
        """Echo each pending mark once the playback position reaches its due position."""
        assert self._t0 is not None
        try:
            while not self._ended.is_set():
                self._marks_changed.clear()
                now = self._now_pos()
                due = [m for m in self._pending_marks if m.due <= now]
                if due:
                    self._pending_marks = [m for m in self._pending_marks if m.due > now]
                    await self._echo_marks(due, cleared=False)
                    continue
                timeout = None
                if self._pending_marks:
                    next_due = self._t0 + min(m.due for m in self._pending_marks) / SAMPLE_RATE
                    timeout = max(next_due - time.monotonic(), 0)
                try:
                    await asyncio.wait_for(self._marks_changed.wait(), timeout)
                except asyncio.TimeoutError:
                    pass
        except ConnectionClosed:
            return

    # ------------------------------------------------------------------ playback views

    @property
    def played_audio(self) -> list[PlayedChunk]:
        """The server audio played so far, one chunk per received media payload (cut by clears, clipped to now)."""
        now = self._now_pos()
        chunks = []
        for segment in self._segments:
            n = min(segment.length, now - segment.start)
            if n > 0:
                chunks.append(PlayedChunk(segment.start * 1000 / SAMPLE_RATE, segment.data[:n]))
        return chunks

    def played_ulaw(self) -> bytes:
        """All played mu-law concatenated (gaps between chunks are not filled)."""
        return b"".join(chunk.data for chunk in self.played_audio)

    def played_ms(self) -> float:
        """Total milliseconds of server audio played so far."""
        return len(self.played_ulaw()) * 1000 / SAMPLE_RATE

    def queued_ms(self) -> float:
        """Milliseconds of received audio still waiting to play."""
        return max(self._queue_end - self._now_pos(), 0) * 1000 / SAMPLE_RATE

    # ------------------------------------------------------------------ waiting

    async def wait_until(self, predicate: Callable[[], Any], timeout: float, what: str = "condition") -> Any:
        """Poll `predicate` until truthy; returns its value, TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(POLL_S)

    async def wait_for_mark_echo(self, name: str, timeout: float) -> MarkEcho:
        """The echo of mark `name` once sent."""
        return await self.wait_until(
            lambda: next((m for m in self.marks_sent_back if m.name == name), None), timeout, f"mark {name!r} echo"
        )

    async def wait_for_clears(self, count: int, timeout: float) -> list[ClearRecord]:
        """The first `count` clears once that many have arrived."""
        await self.wait_until(lambda: len(self.clears) >= count, timeout, f"{count} clear(s)")
        return self.clears[:count]

    async def wait_for_audio_ms(self, ms: float, timeout: float) -> None:
        """Wait until at least `ms` of server audio has been received (queued or played)."""
        await self.wait_until(lambda: self._received_audio_bytes >= ms * 8, timeout, f"{ms} ms of audio")
