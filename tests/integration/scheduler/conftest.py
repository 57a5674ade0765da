"""The scheduler's tests: a database per module (a worker runs every due job in its database, so the jobs
other suites leave behind must not be there), the provider fakes, a clock the test moves, one worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from backends import Backend, make_settings
from factories import DAYTIME
from providers import Providers
from scheduling import Clock
from services import fresh_postgres_backend, sqlite_backend_in

from server.config import Settings
from server.context import AppContext
from server.worker import Worker


@pytest.fixture(scope="module")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    return sqlite_backend_in(tmp_path_factory.mktemp("scheduler-db"))


@pytest.fixture(scope="module")
def postgres_backend() -> Iterator[Backend]:
    with fresh_postgres_backend() as backend:
        yield backend


@pytest.fixture
def settings(backend: Backend, providers: Providers) -> Settings:
    return make_settings(backend, **providers.settings())


@pytest.fixture
def clock(app) -> Clock:
    clock = Clock(DAYTIME)
    app.state.ctx.services.clock = clock
    return clock


@pytest.fixture
def ctx(app, clock: Clock) -> AppContext:
    return app.state.ctx


@pytest.fixture
def worker(ctx: AppContext) -> Worker:
    return Worker(ctx.services, worker_id="worker-a")
