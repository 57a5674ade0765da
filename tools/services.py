"""The resources dispatch and the executors use, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import redis.asyncio as redis_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.group_commit import GroupCommit
from policy.quotas import DEFAULT_BURST_PER_MINUTE, MemoryQuotaStore, QuotaStore, RedisQuotaStore
from tools.channels.google_calendar import GoogleCalendarClient
from tools.channels.outbox import outbox_channels
from tools.channels.resend import ResendChannel
from tools.channels.retry import RetryPolicy
from tools.channels.twilio import TwilioChannel
from tools.channels.twilio_client import build_twilio_client
from tools.events import EventBus, InProcessEventBus, RedisEventBus


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ToolServices:
    sessions: async_sessionmaker[AsyncSession]
    secret_key: str
    public_url: str
    quotas: QuotaStore
    events: EventBus
    twilio: TwilioChannel | None = None
    email: ResendChannel | None = None
    google: GoogleCalendarClient | None = None
    outbox: frozenset[str] = frozenset()
    """The channels (sms, call, email) that deliver to the development outbox: COACH_OUTBOX, no credentials."""
    clock: Callable[[], datetime] = field(default=utc_now)
    # Per user and channel, how many sends may start within a minute, on top of the daily limits of the
    # effective settings: a brake on a runaway loop, not a product limit, so it is process configuration.
    burst_per_minute: int = DEFAULT_BURST_PER_MINUTE
    writes: GroupCommit = field(init=False)
    """Where actions record their outcomes when nothing else is written with them."""

    def __post_init__(self) -> None:
        self.writes = GroupCommit(self.sessions)

    async def close(self) -> None:
        if self.email is not None:
            await self.email.close()
        if self.google is not None:
            await self.google.close()


def build_services(
    *,
    sessions: async_sessionmaker[AsyncSession],
    redis: redis_asyncio.Redis | None,
    secret_key: str,
    public_url: str,
    twilio_account_sid: str | None = None,
    twilio_auth_token: str | None = None,
    twilio_phone_number: str | None = None,
    twilio_api_base_url: str | None = None,
    resend_api_key: str | None = None,
    resend_base_url: str = "https://api.resend.com",
    email_from: str | None = None,
    google_client_id: str | None = None,
    google_client_secret: str | None = None,
    google_oauth_base_url: str | None = None,
    google_calendar_base_url: str | None = None,
    retry: RetryPolicy = RetryPolicy(),
    burst_per_minute: int = DEFAULT_BURST_PER_MINUTE,
    outbox: bool = False,
) -> ToolServices:
    """Channels whose credentials are missing stay None; their tools answer SERVICE_UNAVAILABLE, or with
    `outbox` (COACH_OUTBOX) deliver to the development outbox."""
    twilio = None
    if twilio_account_sid and twilio_auth_token and twilio_phone_number:
        client = build_twilio_client(twilio_account_sid, twilio_auth_token, twilio_api_base_url)
        twilio = TwilioChannel(client, twilio_phone_number, retry)
    email = ResendChannel(resend_api_key, resend_base_url, email_from, retry) if resend_api_key and email_from else None
    google = (
        GoogleCalendarClient(google_client_id, google_client_secret, google_oauth_base_url, google_calendar_base_url, retry)
        if google_client_id and google_client_secret
        else None
    )
    return ToolServices(
        sessions=sessions,
        secret_key=secret_key,
        public_url=public_url,
        quotas=RedisQuotaStore(redis, "coach") if redis is not None else MemoryQuotaStore(),
        events=RedisEventBus(redis) if redis is not None else InProcessEventBus(),
        twilio=twilio,
        email=email,
        google=google,
        outbox=outbox_channels(enabled=outbox, twilio_configured=twilio is not None, email_configured=email is not None),
        burst_per_minute=burst_per_minute,
    )
