"""Async engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def make_engine(url: str, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """An engine for `url`. SQLite gets foreign keys, WAL and a busy timeout so concurrent writers wait.

    `pool_size` connections stay open on PostgreSQL (20 more may open under load and close again); a
    process that keeps N tasks on the database, like a scheduler worker, wants at least N.
    `pre_ping`: test each connection taken from the pool with a round trip, so a connection that a
    database restart closed is replaced before it fails a request. Without it, the first statement on a
    closed connection fails, and that failure invalidates the whole pool.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, json_serializer=json_text)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=20, pool_pre_ping=pre_ping, json_serializer=json_text
    )


def json_text(value: Any) -> str:
    """JSON columns as stored: non-ASCII text as itself (UTF-8), not as escapes of up to 12 bytes a
    character, so what a payload costs to store is its UTF-8 size (`tools.payloads.stored_bytes`)."""
    return json.dumps(value, ensure_ascii=False)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
