"""The process-wide resources a running app holds: settings, database, Redis."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as redis_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from db.engine import make_engine, make_session_factory
from server.config import Settings


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: redis_asyncio.Redis | None

    @classmethod
    def open(cls, settings: Settings) -> AppContext:
        engine = make_engine(settings.DATABASE_URL)
        client = redis_asyncio.from_url(settings.REDIS_URL) if settings.REDIS_URL else None
        return cls(settings, engine, make_session_factory(engine), client)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


def app_context(connection: HTTPConnection) -> AppContext:
    return connection.app.state.ctx
