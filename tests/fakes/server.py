"""Serve an ASGI app with uvicorn on 127.0.0.1 in a background thread, over real sockets.

The server gets its own thread and event loop, so a fake keeps answering while a test blocks
(for example inside a synchronous SDK call). Use `running_server` from sync code or fixtures and
`running_server_async` from async tests: its start and stop do not block the test's event loop,
which matters when that loop still holds client websockets the shutdown waits for.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class BackgroundServer:
    """One uvicorn server bound to a free port on 127.0.0.1; `start()` returns once it accepts."""

    def __init__(self, app: ASGIApp, certfile: str | Path | None = None, keyfile: str | Path | None = None) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((HOST, 0))
        self.port: int = self._sock.getsockname()[1]
        scheme = "https" if certfile else "http"
        self.base_url = f"{scheme}://{HOST}:{self.port}"
        config = uvicorn.Config(
            app,
            loop="asyncio",
            ws="websockets-sansio",  # the legacy websockets implementation warns on websockets >= 14
            log_level="warning",
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"test server on port {self.port} failed to start")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"test server on port {self.port} did not start in {START_TIMEOUT_S}s")
            time.sleep(0.01)
        with socket.create_connection((HOST, self.port), timeout=START_TIMEOUT_S):
            pass

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(STOP_TIMEOUT_S)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(STOP_TIMEOUT_S)
        self._sock.close()


@contextmanager
def running_server(
    app: ASGIApp, certfile: str | Path | None = None, keyfile: str | Path | None = None
) -> Iterator[str]:
    """Serve `app` for the duration of the block; yields the base URL (`http(s)://127.0.0.1:PORT`)."""
    server = BackgroundServer(app, certfile, keyfile)
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


@asynccontextmanager
async def running_server_async(
    app: ASGIApp, certfile: str | Path | None = None, keyfile: str | Path | None = None
) -> AsyncIterator[str]:
    """`running_server` for async tests: start and stop run in a worker thread."""
    server = BackgroundServer(app, certfile, keyfile)
    await asyncio.to_thread(server.start)
    try:
        yield server.base_url
    finally:
        await asyncio.to_thread(server.stop)


def combined_app(*route_lists: Sequence[BaseRoute]) -> Starlette:
    """One app from several fakes' `routes`, e.g. Gemini text and Live behind one TLS base URL."""
    return Starlette(routes=[route for routes in route_lists for route in routes])
