"""The real services the suite runs against, and the rule for when one is missing.

Outside CI a missing PostgreSQL or Redis skips the tests that need it; with CI=true it fails them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest
import redis
from backends import Backend

from db.migrate import upgrade

POSTGRES_ADMIN_DSN = os.environ.get("COACH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("COACH_TEST_REDIS", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(service: str, error: BaseException) -> None:
    message = f"{service} is not reachable: {type(error).__name__}: {error}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: a missing service is a failure)")
    pytest.skip(message)


def create_postgres_database() -> str:
    """Create a fresh, uniquely named database; return its SQLAlchemy asyncpg URL."""
    name = f"coach_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    host_part = POSTGRES_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{host_part}/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]

    async def drop() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


def check_redis() -> str:
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return REDIS_TEST_URL


def sqlite_backend_in(directory: Path) -> Backend:
    """The embedded backend on a new, migrated SQLite file in `directory`."""
    url = f"sqlite+aiosqlite:///{directory / 'coach.db'}"
    upgrade(url)
    return Backend("sqlite", url, None)


@contextmanager
def fresh_postgres_backend() -> Iterator[Backend]:
    """PostgreSQL + Redis on a new, migrated database, dropped afterwards (skip or fail when unreachable)."""
    try:
        url = create_postgres_database()
        redis_url = check_redis()
    except Exception as exc:  # connection refused, timeout, auth: all mean "not available"
        unavailable("PostgreSQL/Redis", exc)
    try:
        upgrade(url)
        yield Backend("postgres", url, redis_url)
    finally:
        drop_postgres_database(url)
