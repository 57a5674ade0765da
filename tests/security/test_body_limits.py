"""Every request body is bounded before it is read: a Content-Length over the route family's bound is
answered 413 without reading a byte, a chunked body is refused with 413 as soon as it crosses the bound, and
the connection is closed rather than drained. Checked on every POST/PUT entry point family, and on the real
server: ten concurrent anonymous 100 MB bodies do not grow it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from backends import Backend
from factories import new_user
from scheduling import REPO

from server.config import Settings

CHUNK = 64 * 1024
TWILIO_AUTH_TOKEN = "twilio-webhook-token"
# (method, path, the setting that bounds it)
ENTRY_POINTS = [
    ("POST", "/twilio/sms", "COACH_MAX_TWILIO_BODY_BYTES"),
    ("POST", "/twilio/voice", "COACH_MAX_TWILIO_BODY_BYTES"),
    ("POST", "/twilio/status", "COACH_MAX_TWILIO_BODY_BYTES"),
    ("POST", "/api/actions", "COACH_MAX_API_BODY_BYTES"),
    ("POST", "/api/chat", "COACH_MAX_API_BODY_BYTES"),
    ("PUT", "/api/me/settings", "COACH_MAX_API_BODY_BYTES"),
]
# Routes that do not exist (yet): the bound comes before routing, so a route added later is covered at once.
FUTURE_ENTRY_POINTS = [("POST", "/api/tokens", "COACH_MAX_API_BODY_BYTES"), ("POST", "/signin", "COACH_MAX_BODY_BYTES")]


@dataclass
class CountedBody:
    """A request body streamed in chunks, counting how much of it the server asked for."""

    size: int
    sent: int = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        while self.sent < self.size:
            chunk = b"x" * min(CHUNK, self.size - self.sent)
            self.sent += len(chunk)
            yield chunk


def assert_413(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert response.json()["error"]["details"]["limit_bytes"] == limit
    assert response.headers["connection"] == "close"


@pytest.mark.parametrize(("method", "path", "setting"), ENTRY_POINTS + FUTURE_ENTRY_POINTS)
async def test_a_content_length_over_the_bound_is_refused_with_413_without_reading_the_body(client, app, settings, method, path, setting):
    user = await new_user(app.state.ctx)
    limit = getattr(settings, setting)
    body = CountedBody(limit + 1)
    headers = {**user.headers, "Content-Length": str(limit + 1), "Content-Type": "application/json"}
    response = await client.request(method, path, content=body.chunks(), headers=headers)
    assert_413(response, limit)
    assert body.sent == 0


@pytest.mark.parametrize(("method", "path", "setting"), ENTRY_POINTS)
async def test_a_chunked_body_over_the_bound_is_refused_with_413_once_it_crosses_the_bound(client, app, settings, method, path, setting):
    user = await new_user(app.state.ctx)
    limit = getattr(settings, setting)
    body = CountedBody(100 * limit)
    response = await client.request(method, path, content=body.chunks(), headers={**user.headers, "Content-Type": "application/json"})
    assert_413(response, limit)
    assert body.sent <= limit + CHUNK


async def test_a_chunked_body_within_the_bound_reaches_the_route(client, app):
    user = await new_user(app.state.ctx)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"tool": "create_task", '
        yield b'"args": {"title": "Stretch"}}'

    response = await client.post("/api/actions", content=chunks(), headers={**user.headers, "Content-Type": "application/json"})
    assert response.status_code == 200, response.text


# --- the real server --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def memory_bytes(pid: int, field: str) -> int:
    """VmRSS (resident now) or VmHWM (the resident peak so far) of process `pid`."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field}")


@dataclass(frozen=True)
class Served:
    pid: int
    base_url: str


@pytest.fixture
def served(sqlite_backend: Backend, tmp_path: Path) -> Iterator[Served]:
    """`coach serve` of this checkout in a process of its own, on a free port."""
    port = free_port()
    env = {
        **os.environ, "PYTHONPATH": str(REPO), "DATABASE_URL": sqlite_backend.database_url,
        "COACH_SECRET_KEY": "test-secret-key-not-for-production", "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--no-worker"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield Served(process.pid, base_url)
    finally:
        process.terminate()
        process.wait(30)


async def post_anonymous_body(http: httpx.AsyncClient, body: CountedBody, declare_length: bool) -> int | str:
    """The answer's status, or how the connection ended when the server closed it mid-upload."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if declare_length:
        headers["Content-Length"] = str(body.size)
    try:
        return (await http.post("/twilio/sms", content=body.chunks(), headers=headers)).status_code
    except httpx.TransportError as exc:
        return type(exc).__name__


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
async def test_ten_concurrent_anonymous_100_mb_bodies_do_not_grow_the_server(served, declare_length):
    async with httpx.AsyncClient(base_url=served.base_url, timeout=60) as http:
        await http.get("/healthz")  # warm: the first request's imports and allocations are not the bodies'
        Path(f"/proc/{served.pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        before = memory_bytes(served.pid, "VmHWM")
        bodies = [CountedBody(100 * 1024 * 1024) for _ in range(10)]
        outcomes = await asyncio.gather(*(post_anonymous_body(http, body, declare_length) for body in bodies))
        await asyncio.sleep(0.5)
        growth = memory_bytes(served.pid, "VmHWM") - before  # the peak, not what is left once freed
    print(f"peak RSS growth during ten 100 MB bodies ({'declared' if declare_length else 'chunked'}): {growth / 1e6:.2f} MB; outcomes {outcomes}")
    assert all(outcome in (413, "WriteError", "RemoteProtocolError", "ReadError") for outcome in outcomes), outcomes
    assert max(body.sent for body in bodies) < 20 * 1024 * 1024, "the server went on reading the body"
    assert growth < 20 * 1024 * 1024


async def test_a_websocket_message_over_the_bound_closes_the_socket_with_1009(served):
    limit = Settings.model_fields["COACH_MAX_WS_MESSAGE_BYTES"].default
    url = served.base_url.replace("http://", "ws://") + "/twilio/media"
    async with websockets.connect(url, proxy=None, max_size=None) as socket:
        await socket.send("x" * (limit + 1))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
