"""The process-wide resources a running app holds: settings, database, Redis."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis.asyncio as redis_asyncio
from google import genai
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from db.engine import make_engine, make_session_factory
from server.config import Settings
from tools.channels.gemini_client import build_genai_client
from tools.services import ToolServices, build_services

log = logging.getLogger("coach.app")


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: redis_asyncio.Redis | None
    services: ToolServices
    genai: genai.Client | None

    @classmethod
    def open(cls, settings: Settings, pool_size: int = 10, pre_ping: bool = True) -> AppContext:
        engine = make_engine(settings.DATABASE_URL, pool_size, pre_ping)
        client = redis_asyncio.from_url(settings.REDIS_URL) if settings.REDIS_URL else None
        sessions = make_session_factory(engine)
        services = build_services(
            sessions=sessions,
            redis=client,
            secret_key=settings.COACH_SECRET_KEY,
            public_url=settings.PUBLIC_URL,
            twilio_account_sid=settings.TWILIO_ACCOUNT_SID,
            twilio_auth_token=settings.TWILIO_AUTH_TOKEN,
            twilio_phone_number=settings.TWILIO_PHONE_NUMBER,
            twilio_api_base_url=settings.TWILIO_API_BASE_URL,
            resend_api_key=settings.RESEND_API_KEY,
            resend_base_url=settings.RESEND_BASE_URL,
            email_from=settings.EMAIL_FROM,
            google_client_id=settings.GOOGLE_CLIENT_ID,
            google_client_secret=settings.GOOGLE_CLIENT_SECRET,
            google_oauth_base_url=settings.GOOGLE_OAUTH_BASE_URL,
            google_calendar_base_url=settings.GOOGLE_CALENDAR_BASE_URL,
            outbox=settings.COACH_OUTBOX,
        )
        if settings.COACH_OUTBOX:
            _announce_outbox(services)
        gemini = (
            build_genai_client(settings.GEMINI_API_KEY, settings.GEMINI_BASE_URL, settings.GEMINI_CA_FILE)
            if settings.GEMINI_API_KEY
            else None
        )
        return cls(settings, engine, sessions, client, services, gemini)

    async def close(self) -> None:
        await self.services.close()
        if self.genai is not None:
            await self.genai.aio.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


def _announce_outbox(services: ToolServices) -> None:
    """Say at start which channels go to the development outbox (COACH_OUTBOX): their messages are not sent."""
    log.warning(
        "development outbox: these channels store their messages instead of sending them",
        extra={"outbox_channels": sorted(services.outbox)},
    )


def app_context(connection: HTTPConnection) -> AppContext:
    return connection.app.state.ctx
