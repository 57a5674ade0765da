"""No secret reaches the logs, whatever its shape and wherever it is in a record (message, arguments, extra
fields, traceback), and whichever logger writes it (uvicorn's access and websocket lines carry the query
string). The output checked is the real output of the real logging configuration."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from server.logs import UVICORN_LOGGERS, configure_logging

API_TOKEN = "vc_" + secrets.token_urlsafe(32)
ODD_TOKEN = "hunter2-correct-horse"  # no shape that gives it away: only where it stands does
TWILIO_AUTH_TOKEN = secrets.token_hex(16)  # 32 hex digits, the shape of our ids: known because configured
GEMINI_API_KEY = "AIza" + secrets.token_urlsafe(26)
SECRETS = (API_TOKEN, ODD_TOKEN, TWILIO_AUTH_TOKEN, GEMINI_API_KEY)
ROOT = Path(__file__).resolve().parents[2]


def assert_no_secret_in(output: str) -> None:
    for secret in SECRETS:
        assert secret not in output


class Logs:
    """The logging configuration `coach` installs, with the Twilio and Gemini credentials configured, and
    what it writes to stderr."""

    def __init__(self, capture: pytest.CaptureFixture[str]) -> None:
        self.capture = capture

    def configure(self) -> None:
        """Called inside the test: the handler keeps the stderr of the moment it is made."""
        configure_logging(secrets=[TWILIO_AUTH_TOKEN, GEMINI_API_KEY])

    def output(self) -> str:
        return self.capture.readouterr().err


@pytest.fixture
def logs(capfd: pytest.CaptureFixture[str]) -> Iterator[Logs]:
    """`Logs`; the loggers it changes are as they were afterwards."""
    loggers = [logging.getLogger(), *map(logging.getLogger, UVICORN_LOGGERS)]
    saved = [(logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    try:
        yield Logs(capfd)
    finally:
        for logger, (handlers, level, propagate) in zip(loggers, saved):
            logger.handlers[:], logger.propagate = handlers, propagate
            logger.setLevel(level)


def log_in_message(log: logging.Logger) -> None:
    log.warning(f"retrying with token={ODD_TOKEN}, key {GEMINI_API_KEY} and {API_TOKEN}")


def log_in_arguments(log: logging.Logger) -> None:
    log.warning("callback %s failed: %s", f"/oauth/callback?state=1&code={ODD_TOKEN}", f"Bearer {API_TOKEN}")


def log_in_extra_fields(log: logging.Logger) -> None:
    log.warning(
        "request out",
        extra={
            "headers": {"Authorization": f"Basic {GEMINI_API_KEY}", "X-Api-Key": ODD_TOKEN},
            "url": f"https://api.example.test/v1?signature={ODD_TOKEN}&alt=json",
            "tried": [API_TOKEN, f"sid:{TWILIO_AUTH_TOKEN}"],
        },
    )


def log_in_traceback(log: logging.Logger) -> None:
    try:
        raise RuntimeError(f"Twilio refused {TWILIO_AUTH_TOKEN} ({API_TOKEN}) password: {ODD_TOKEN}")
    except RuntimeError:
        log.exception("sending failed")


@pytest.mark.parametrize("write", [log_in_message, log_in_arguments, log_in_extra_fields, log_in_traceback])
def test_a_secret_is_in_no_log_line_wherever_it_is_logged(logs, write):
    logs.configure()
    write(logging.getLogger("coach.test"))
    output = logs.output()
    entries = [json.loads(line) for line in output.splitlines()]
    assert [entry["logger"] for entry in entries] == ["coach.test"]
    assert_no_secret_in(output)


def test_ids_stay_readable_in_log_lines(logs):
    logs.configure()
    ids = "user 5f0c1d2e3a4b5c6d7e8f901234567890 call CA5f0c1d2e3a4b5c6d7e8f901234567890"
    logging.getLogger("coach.test").warning(ids)
    assert json.loads(logs.output())["msg"] == ids


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def server_running(server: uvicorn.Server) -> AsyncIterator[None]:
    """`uvicorn.Server.serve()` as a task on the test's loop, for the length of the block."""
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def test_uvicorns_access_line_has_its_query_string_redacted(logs):
    """The access log is off by default (our own request line names the route, not the path); an operator
    who turns it on gets it through the same redaction."""
    logs.configure()
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    app = Starlette(routes=[Route("/hello", lambda request: PlainTextResponse("hi"))])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None))
    async with server_running(server):
        async with httpx.AsyncClient(trust_env=False) as http:
            url = f"http://127.0.0.1:{server.config.port}/hello?token={ODD_TOKEN}&key={GEMINI_API_KEY}"
            assert (await http.get(url)).status_code == 200
    output = logs.output()
    assert "GET /hello?token=[redacted]&key=[redacted]" in output
    assert_no_secret_in(output)


def coach_env() -> dict[str, str]:
    """`coach` on a SQLite file in its working directory, with a Twilio credential configured."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "COACH_SECRET_KEY"}}
    return {**env, "PYTHONPATH": str(ROOT), "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN, "NO_PROXY": "127.0.0.1"}


def wait_until_serving(base_url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, "coach serve exited"
        try:
            if httpx.get(f"{base_url}/healthz", trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError("coach serve did not start")


async def test_coach_serve_logs_no_token_sent_in_a_query_string_or_header(tmp_path):
    env = coach_env()
    created = subprocess.run(
        [sys.executable, "-m", "server.cli", "users", "create", "--name", "Ann", "--email", "ann@example.com"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    token = json.loads(created.stdout)["token"]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--no-worker"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_serving(base_url, server)
        async with httpx.AsyncClient(base_url=base_url, trust_env=False) as http:
            response = await http.get(f"/api/me/settings?token={token}", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(f"ws://127.0.0.1:{port}/ws/voice?token={ODD_TOKEN}", proxy=None)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[1]
    messages = [json.loads(line)["msg"] for line in output.splitlines()]
    assert any('"WebSocket /ws/voice?token=[redacted]"' in message for message in messages)
    assert token not in output
    assert_no_secret_in(output)
