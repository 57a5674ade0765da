"""Shared fixtures: the two backends every integration test runs on, and an HTTP client to the app.

`backend` is parametrised: `sqlite` (embedded default, in-process limits) and `postgres` (PostgreSQL +
Redis). Each run gets its own SQLite file and its own PostgreSQL database, so runs never see each
other's rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import httpx
import pytest
from starlette.applications import Starlette

from server.config import Settings
from apps import http_client, running_app
from backends import Backend, make_settings
from providers import Providers, running_providers
from services import fresh_postgres_backend, sqlite_backend_in


@pytest.fixture(scope="session")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    return sqlite_backend_in(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def postgres_backend() -> Iterator[Backend]:
    with fresh_postgres_backend() as backend:
        yield backend


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue(f"{request.param}_backend")


@pytest.fixture
def providers() -> Iterator[Providers]:
    """The Twilio and Resend fakes over real sockets; a test module points the app at them by overriding
    `settings` with `make_settings(backend, **providers.settings())`."""
    with running_providers() as running:
        yield running


@pytest.fixture
def settings(backend: Backend) -> Settings:
    return make_settings(backend)


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP clients follow proxy variables; the local fakes must be reached directly."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    async with running_app(settings) as application:
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as http:
        yield http
