"""Fake Gemini Live API (BidiGenerateContent over TLS websockets), scriptable from async tests.

Serve `FakeGeminiLive(...).app` (or `.routes` combined with the text fake) with
`running_server(app, certfile, keyfile)` from `fakes.server`, using `fakes.tls.make_tls_files`:
the SDK always dials `wss://`. Each accepted websocket becomes a `LiveConnection` that records what
the client sent and has async `send_*` methods to play the model's side.

Threading: the fake runs on the server's own event loop (its own thread). `send_*`/`close` hop to
that loop when called from a test's loop; `wait_*` poll the recorded state, so they work from any loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

Message = dict[str, Any]
MessageHook = Callable[["LiveConnection", Message], Awaitable[None]]

LIVE_PATH = "/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"
API_VERSIONS = frozenset({"v1", "v1beta", "v1alpha"})
OUTPUT_MIME = "audio/pcm;rate=24000"
OUTPUT_BYTES_PER_MS = 24000 * 2 // 1000
POLL_S = 0.005
CLOSE_POLICY = 1008  # the service's close code for a bad key or an unknown resumption handle (assumed)
CLOSE_INVALID_PAYLOAD = 1007


def camel(snake_name: str) -> str:
    head, *rest = snake_name.split("_")
    return head + "".join(word.title() for word in rest)


def field(message: Message, snake_name: str) -> Any:
    """`message[snake_name]` or its camelCase twin: the SDK mixes both casings."""
    return message[snake_name] if snake_name in message else message.get(camel(snake_name))


def b64decode_any(data: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not (the SDK sends URL-safe audio)."""
    normalized = data.replace("-", "+").replace("_", "/")
    return base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)


async def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something other than None/False; `TimeoutError` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(POLL_S)


def live_usage(prompt: dict[str, int], response: dict[str, int], thoughts: int | None = None) -> Message:
    """A Live `usageMetadata` for one turn: counts per modality (`{"AUDIO": 120, "TEXT": 30}`) with their totals,
    in the service's field names (the Live API names the output `response`, not `candidates`)."""
    usage: Message = {
        "promptTokenCount": sum(prompt.values()),
        "responseTokenCount": sum(response.values()),
        "totalTokenCount": sum(prompt.values()) + sum(response.values()) + (thoughts or 0),
        "promptTokensDetails": [{"modality": m, "tokenCount": n} for m, n in prompt.items()],
        "responseTokensDetails": [{"modality": m, "tokenCount": n} for m, n in response.items()],
    }
    if thoughts is not None:
        usage["thoughtsTokenCount"] = thoughts
    return usage


class LiveConnection:
    """One client websocket: what it sent (read-only views) and the model's side (`send_*`)."""

    def __init__(
        self, index: int, websocket: WebSocket, binary_frames: bool, issue_handle: Callable[[str], None]
    ) -> None:
        self.index = index
        self.version: str = websocket.path_params["version"]
        self.headers: dict[str, str] = dict(websocket.headers)
        self._ws = websocket
        self._loop = asyncio.get_running_loop()
        self._binary_frames = binary_frames
        self._issue_handle = issue_handle
        self._lock = threading.Lock()
        self._send_lock = asyncio.Lock()
        self._messages: list[Message] = []
        self._audio_chunks: list[bytes] = []
        self._audio_mime_types: list[str] = []
        self._tool_responses: list[Message] = []
        self._client_contents: list[Message] = []
        self._activity: list[str] = []
        self._texts: list[str] = []
        self.setup: Message | None = None
        self.resumption_handle: str | None = None  # handle presented in setup, if any
        self.closed = False
        self.close_code: int | None = None
        self.closed_by: str | None = None  # "client" or "server"

    # ---- what the client sent -------------------------------------------------------------
    @property
    def messages(self) -> list[Message]:
        """Every decoded client message, setup included."""
        with self._lock:
            return list(self._messages)

    @property
    def audio(self) -> bytes:
        """All audio bytes received, decoded and joined."""
        with self._lock:
            return b"".join(self._audio_chunks)

    @property
    def audio_chunks(self) -> list[bytes]:
        with self._lock:
            return list(self._audio_chunks)

    @property
    def audio_mime_types(self) -> list[str]:
        with self._lock:
            return list(self._audio_mime_types)

    @property
    def tool_responses(self) -> list[Message]:
        """Each `functionResponses` entry received (`{"id", "name", "response"}`)."""
        with self._lock:
            return list(self._tool_responses)

    @property
    def client_contents(self) -> list[Message]:
        with self._lock:
            return list(self._client_contents)

    @property
    def activity(self) -> list[str]:
        """`activityStart`, `activityEnd` and `audioStreamEnd` signals, in order."""
        with self._lock:
            return list(self._activity)

    @property
    def texts(self) -> list[str]:
        """`realtimeInput.text` values."""
        with self._lock:
            return list(self._texts)

    # ---- waiting ----------------------------------------------------------------------------
    async def wait_for(self, predicate: Callable[[LiveConnection], Any], timeout: float = 5.0) -> Any:
        """Wait until `predicate(self)` is truthy (not None/False) and return its value."""
        return await wait_until(lambda: predicate(self), timeout, "a condition on the live connection")

    async def wait_for_tool_response(self, call_id: str, timeout: float = 5.0) -> Message:
        def found() -> Message | None:
            return next((r for r in self.tool_responses if r.get("id") == call_id), None)

        return await wait_until(found, timeout, f"a tool response for {call_id!r}")

    async def wait_for_audio_bytes(self, n: int, timeout: float = 5.0) -> int:
        """Wait until at least `n` audio bytes have arrived; returns the total so far."""

        def total() -> int | None:
            received = len(self.audio)
            return received if received >= n else None

        return await wait_until(total, timeout, f"{n} audio bytes")

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        """Wait until the websocket is closed (by either side); returns the close code."""
        await wait_until(lambda: self.closed, timeout, "the live connection to close")
        return self.close_code

    # ---- the model's side ---------------------------------------------------------------------
    async def send_raw(self, message: Message) -> None:
        """Send any server message (binary frame by default, like the real service)."""
        await self._on_loop(self._send, message)

    async def send_audio(self, pcm24k: bytes, chunk_ms: int = 40) -> None:
        """Model audio as `serverContent.modelTurn` inline data, one message per `chunk_ms` of 24 kHz PCM."""
        step = OUTPUT_BYTES_PER_MS * chunk_ms
        for start in range(0, len(pcm24k), step):
            data = base64.b64encode(pcm24k[start : start + step]).decode()
            part = {"inlineData": {"mimeType": OUTPUT_MIME, "data": data}}
            await self.send_raw({"serverContent": {"modelTurn": {"parts": [part]}}})

    async def send_output_transcription(self, text: str) -> None:
        await self.send_raw({"serverContent": {"outputTranscription": {"text": text}}})

    async def send_input_transcription(self, text: str) -> None:
        await self.send_raw({"serverContent": {"inputTranscription": {"text": text}}})

    async def send_tool_call(self, call_id: str, name: str, args: Message) -> None:
        await self.send_raw({"toolCall": {"functionCalls": [{"id": call_id, "name": name, "args": args}]}})

    async def send_tool_call_cancellation(self, ids: list[str]) -> None:
        await self.send_raw({"toolCallCancellation": {"ids": ids}})

    async def send_interrupted(self) -> None:
        await self.send_raw({"serverContent": {"interrupted": True}})

    async def send_generation_complete(self) -> None:
        await self.send_raw({"serverContent": {"generationComplete": True}})

    async def send_turn_complete(self, usage: Message | None = None) -> None:
        """End the model's turn with the turn's `usageMetadata` (`live_usage(...)`; a minimal one by default),
        on the `turnComplete` message as the service reports it."""
        usage = usage or {"promptTokenCount": 1, "responseTokenCount": 1, "totalTokenCount": 2}
        await self.send_raw({"serverContent": {"turnComplete": True}, "usageMetadata": usage})

    async def send_resumption_update(self, handle: str | None = None, resumable: bool = True) -> str:
        """Send `sessionResumptionUpdate`; a resumable update issues `handle` (generated if None).

        The fake accepts issued handles in later setups. Non-resumable updates carry no handle,
        as the service sends while the model is generating or running a tool.
        """
        if not resumable:
            await self.send_raw({"sessionResumptionUpdate": {"resumable": False}})
            return ""
        new_handle = handle or f"handle-{uuid.uuid4().hex}"
        self._issue_handle(new_handle)
        await self.send_raw({"sessionResumptionUpdate": {"newHandle": new_handle, "resumable": True}})
        return new_handle

    async def send_go_away(self, time_left: str = "1.5s") -> None:
        await self.send_raw({"goAway": {"timeLeft": time_left}})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the model's side (1011 or 1000 to simulate a dropped or expired session)."""
        await self._on_loop(self._close, code, reason)

    # ---- internals (run on the server loop) ---------------------------------------------------
    async def _on_loop(self, func: Callable[..., Awaitable[None]], *args: Any) -> None:
        if asyncio.get_running_loop() is self._loop:
            await func(*args)
        else:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(func(*args), self._loop))

    async def _send(self, message: Message) -> None:
        if self.closed:
            raise ConnectionError(f"live connection {self.index} is closed ({self.close_code})")
        payload = json.dumps(message)
        async with self._send_lock:
            if self._binary_frames:
                await self._ws.send_bytes(payload.encode())
            else:
                await self._ws.send_text(payload)

    async def _close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self._mark_closed(code, "server")
        async with self._send_lock:
            await self._ws.close(code, reason)

    def _mark_closed(self, code: int | None, by: str) -> None:
        if not self.closed:
            self.closed, self.close_code, self.closed_by = True, code, by

    async def _next(self) -> Message | None:
        """Receive and record the next client message; None once closed (garbage closes with 1007)."""
        if self.closed:
            return None
        frame = await self._ws.receive()
        if frame["type"] == "websocket.disconnect":
            self._mark_closed(frame.get("code"), "client")
            return None
        raw = frame.get("text") if frame.get("text") is not None else frame.get("bytes")
        try:
            message = json.loads(raw)
            self._record(message)
        except (TypeError, ValueError, AttributeError):  # binascii.Error is a ValueError
            await self._close(CLOSE_INVALID_PAYLOAD, "Invalid JSON payload received.")
            return None
        return message

    def _record(self, message: Message) -> None:
        with self._lock:
            self._messages.append(message)
            setup = field(message, "setup")
            if setup is not None:
                self.setup = setup
                self.resumption_handle = field(field(setup, "session_resumption") or {}, "handle")
            realtime = field(message, "realtime_input")
            if realtime is not None:
                self._record_realtime(realtime)
            tool_response = field(message, "tool_response")
            if tool_response is not None:
                self._tool_responses.extend(field(tool_response, "function_responses") or [])
            client_content = field(message, "client_content")
            if client_content is not None:
                self._client_contents.append(client_content)

    def _record_realtime(self, realtime: Message) -> None:
        blobs = [field(realtime, "audio"), *(field(realtime, "media_chunks") or [])]
        for blob in blobs:
            mime_type = field(blob, "mime_type") if blob else None
            if mime_type and mime_type.startswith("audio/"):
                self._audio_chunks.append(b64decode_any(field(blob, "data") or ""))
                self._audio_mime_types.append(mime_type)
        for signal in ("activity_start", "activity_end", "audio_stream_end"):
            if field(realtime, signal) not in (None, False):
                self._activity.append(camel(signal))
        text = field(realtime, "text")
        if text is not None:
            self._texts.append(text)


class FakeGeminiLive:
    """BidiGenerateContent fake: checks `x-goog-api-key`, expects `setup` first, validates handles.

    `reject_all` (settable at any time) refuses every handshake with HTTP 503, like an unreachable
    model. `on_message(conn, message)` is awaited on the server loop after each client message is
    recorded (setup included, after `setupComplete`); it may call `conn.send_*`, but must not wait for
    later client messages, because the connection reads no further until it returns.
    """

    def __init__(
        self,
        api_key: str,
        reject_all: bool = False,
        on_message: MessageHook | None = None,
        binary_frames: bool = True,
    ) -> None:
        self.api_key = api_key
        self.reject_all = reject_all
        self.on_message = on_message
        self.binary_frames = binary_frames
        self._lock = threading.Lock()
        self._connections: list[LiveConnection] = []
        self._handles: set[str] = set()
        self.routes = [WebSocketRoute(LIVE_PATH, self._endpoint)]
        self.app = Starlette(routes=self.routes)

    @property
    def connections(self) -> list[LiveConnection]:
        """Accepted connections in arrival order (rejected handshakes never appear)."""
        with self._lock:
            return list(self._connections)

    @property
    def issued_handles(self) -> set[str]:
        with self._lock:
            return set(self._handles)

    def register_handle(self, handle: str) -> None:
        """Accept `handle` in a later setup, as if a previous session had issued it."""
        with self._lock:
            self._handles.add(handle)

    async def wait_for_connection(self, index: int = 0, timeout: float = 5.0) -> LiveConnection:
        """The `index`-th connection, once its setup arrived (or it was closed before that)."""

        def ready() -> LiveConnection | None:
            connections = self.connections
            if len(connections) <= index:
                return None
            conn = connections[index]
            return conn if conn.setup is not None or conn.closed else None

        return await wait_until(ready, timeout, f"live connection #{index}")

    async def _endpoint(self, websocket: WebSocket) -> None:
        if self.reject_all:
            await websocket.send_denial_response(_google_error(503, "The service is currently unavailable."))
            return
        if websocket.path_params["version"] not in API_VERSIONS:
            await websocket.send_denial_response(_google_error(404, "Not found."))
            return
        await websocket.accept()
        with self._lock:
            conn = LiveConnection(len(self._connections), websocket, self.binary_frames, self.register_handle)
            self._connections.append(conn)
        try:
            await self._serve(conn)
        finally:
            conn._mark_closed(None, "server")

    async def _serve(self, conn: LiveConnection) -> None:
        message = await conn._next()
        if message is None:
            return
        # Checked after the first message: the SDK sends setup before reading, so closing earlier
        # races its send (ConnectionClosedError instead of APIError). Where the real service checks
        # the key, and its close code, are assumptions.
        if conn.headers.get("x-goog-api-key") != self.api_key:
            await conn.close(CLOSE_POLICY, "API key not valid. Please pass a valid API key.")
            return
        if conn.setup is None:
            await conn.close(CLOSE_INVALID_PAYLOAD, "The first message must be `setup`.")
            return
        if conn.resumption_handle and conn.resumption_handle not in self.issued_handles:
            await conn.close(CLOSE_POLICY, "Invalid session resumption handle.")
            return
        await conn.send_raw({"setupComplete": {}})
        while message is not None:
            if self.on_message:
                await self.on_message(conn, message)
            message = await conn._next()


def _google_error(status: int, message: str) -> JSONResponse:
    names = {404: "NOT_FOUND", 503: "UNAVAILABLE"}
    return JSONResponse({"error": {"code": status, "message": message, "status": names[status]}}, status_code=status)
