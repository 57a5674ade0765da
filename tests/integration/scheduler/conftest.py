"""The scheduler's tests get a database per module: a worker runs every due job in its database, so the
jobs other suites leave behind (reminders, sequences) must not be there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from backends import Backend
from services import fresh_postgres_backend, sqlite_backend_in


@pytest.fixture(scope="module")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    return sqlite_backend_in(tmp_path_factory.mktemp("scheduler-db"))


@pytest.fixture(scope="module")
def postgres_backend() -> Iterator[Backend]:
    with fresh_postgres_backend() as backend:
        yield backend
