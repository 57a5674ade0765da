"""One calendar interface, two implementations: the user's Google Calendar (when connected) and the
built-in calendar (rows in `calendar_events`). `calendar_for` chooses per user.

The Google implementation owns the connection's tokens: it refreshes the access token shortly before it
expires and once more when Google answers 401, and writes the new tokens back (sealed) in the executor's
transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CalendarEvent, UserCalendarConnection
from tools.channels.google_calendar import EventInsert, EventTime, GoogleCalendarClient, GoogleError, event_id_for
from tools.channels.sealing import SealError, TokenSealer, sealer_for
from tools.results import ErrorCode, ToolFailure
from tools.services import ToolServices

T = TypeVar("T")
log = logging.getLogger("coach.calendar")

ACCESS_TOKEN = "google.access_token"  # sealing purposes
REFRESH_TOKEN = "google.refresh_token"
REFRESH_MARGIN = timedelta(minutes=2)  # refresh this long before Google's expiry


@dataclass(frozen=True)
class Busy:
    start: datetime
    end: datetime
    title: str | None = None  # the built-in calendar knows it; Google's free/busy does not say


@dataclass(frozen=True)
class NewEvent:
    action_id: str
    title: str
    description: str
    location: str
    start: datetime
    end: datetime
    timezone: str


@dataclass(frozen=True)
class CreatedEvent:
    id: str
    provider: str
    link: str | None = None


class CalendarProvider(Protocol):
    name: str

    async def busy(self, start: datetime, end: datetime) -> list[Busy]:
        """Busy intervals overlapping [start, end), as aware UTC, in start order."""
        ...

    async def insert(self, event: NewEvent) -> CreatedEvent: ...


class BuiltinCalendar:
    name = "builtin"

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self.session = session
        self.user_id = user_id

    async def busy(self, start: datetime, end: datetime) -> list[Busy]:
        rows = await self.session.execute(
            select(CalendarEvent)
            .where(
                CalendarEvent.user_id == self.user_id,
                CalendarEvent.provider == self.name,
                CalendarEvent.start_at < end,
                CalendarEvent.end_at > start,
            )
            .order_by(CalendarEvent.start_at)
        )
        return [Busy(row.start_at, row.end_at, row.title) for row in rows.scalars()]

    async def upcoming(self, now: datetime, limit: int) -> list[CalendarEvent]:
        """The next `limit` events not yet over, soonest first (the calendar page lists them)."""
        rows = await self.session.execute(
            select(CalendarEvent)
            .where(CalendarEvent.user_id == self.user_id, CalendarEvent.provider == self.name, CalendarEvent.end_at > now)
            .order_by(CalendarEvent.start_at)
            .limit(limit)
        )
        return list(rows.scalars())

    async def insert(self, event: NewEvent) -> CreatedEvent:
        row = CalendarEvent(
            user_id=self.user_id, provider=self.name, title=event.title, description=event.description,
            location=event.location, start_at=event.start, end_at=event.end, timezone=event.timezone,
        )
        self.session.add(row)
        await self.session.flush()
        return CreatedEvent(row.id, self.name)


class GoogleCalendar:
    name = "google"

    def __init__(
        self,
        client: GoogleCalendarClient,
        session: AsyncSession,
        connection: UserCalendarConnection,
        sealer: TokenSealer,
        now: datetime,
    ) -> None:
        self.client = client
        self.session = session
        self.connection = connection
        self.sealer = sealer
        self.now = now

    async def busy(self, start: datetime, end: datetime) -> list[Busy]:
        calendar_id = self.connection.calendar_id
        periods = await self._authorized(lambda token: self.client.free_busy(token, calendar_id, start, end))
        return [Busy(period.start.astimezone(UTC), period.end.astimezone(UTC)) for period in periods]

    async def insert(self, event: NewEvent) -> CreatedEvent:
        body = EventInsert(
            id=event_id_for(event.action_id),
            summary=event.title,
            description=event.description,
            location=event.location,
            start=EventTime(dateTime=event.start, timeZone=event.timezone),
            end=EventTime(dateTime=event.end, timeZone=event.timezone),
        )
        calendar_id = self.connection.calendar_id
        created = await self._authorized(lambda token: self.client.insert_event(token, calendar_id, body))
        return CreatedEvent(created.id, self.name, created.htmlLink)

    async def delete(self, event_id: str) -> bool:
        """Delete one of the connection's events; False when Google no longer has it (deleted there)."""
        calendar_id = self.connection.calendar_id
        try:
            await self._authorized(lambda token: self.client.delete_event(token, calendar_id, event_id))
        except ToolFailure as failure:
            if (failure.details or {}).get("provider_status") in (404, 410):
                return False
            raise
        return True

    async def _authorized(self, call: Callable[[str], Awaitable[T]]) -> T:
        """Run `call` with a valid access token: refreshed first when about to expire, and again on a 401."""
        expires_at = self.connection.token_expires_at
        if expires_at is not None and expires_at - REFRESH_MARGIN <= self.now:
            token = await self._refresh()
        else:
            token = self._open(ACCESS_TOKEN, self.connection.access_token_encrypted)
        try:
            return await call(token)
        except GoogleError as exc:
            if exc.status != 401:
                raise google_failure(exc) from None
        log.info("google access token refused; refreshing")
        token = await self._refresh()
        try:
            return await call(token)
        except GoogleError as exc:
            raise google_failure(exc) from None

    async def _refresh(self) -> str:
        if self.connection.refresh_token_encrypted is None:
            raise _reconnect("Google gave no refresh token")
        refresh_token = self._open(REFRESH_TOKEN, self.connection.refresh_token_encrypted)
        try:
            grant = await self.client.refresh(refresh_token)
        except GoogleError as exc:
            if exc.status in (400, 401):  # invalid_grant: access revoked at Google, or the token expired
                raise _reconnect("Google no longer accepts the connection") from None
            raise google_failure(exc) from None
        store_grant(self.connection, self.sealer, grant.access_token, grant.refresh_token or refresh_token,
                    self.now + timedelta(seconds=grant.expires_in))
        await self.session.flush()
        return grant.access_token

    def _open(self, purpose: str, sealed: str) -> str:
        try:
            return self.sealer.open(self.connection.user_id, purpose, sealed)
        except SealError:
            raise _reconnect("the stored Google tokens cannot be read") from None


def store_grant(
    connection: UserCalendarConnection, sealer: TokenSealer, access: str, refresh: str | None, expires_at: datetime
) -> None:
    """Seal a grant's tokens into the connection row, bound to its user (both re-sealed with the current key)."""
    connection.access_token_encrypted = sealer.seal(connection.user_id, ACCESS_TOKEN, access)
    connection.refresh_token_encrypted = sealer.seal(connection.user_id, REFRESH_TOKEN, refresh) if refresh else None
    connection.token_expires_at = expires_at


def open_refresh_token(connection: UserCalendarConnection, sealer: TokenSealer) -> str | None:
    """The token that revokes the whole grant (refresh token, else the access token); None if unreadable."""
    sealed, purpose = (
        (connection.refresh_token_encrypted, REFRESH_TOKEN)
        if connection.refresh_token_encrypted
        else (connection.access_token_encrypted, ACCESS_TOKEN)
    )
    try:
        return sealer.open(connection.user_id, purpose, sealed)
    except SealError:
        return None


def _reconnect(why: str) -> ToolFailure:
    return ToolFailure(
        ErrorCode.SERVICE_UNAVAILABLE, f"{why}; please reconnect Google Calendar", {"provider": "google", "reconnect": True}
    )


def google_failure(exc: GoogleError) -> ToolFailure:
    details = {"provider": "google", "provider_status": exc.status, "provider_error": exc.reason}
    if 400 <= exc.status < 500 and exc.status not in (401, 429):
        return ToolFailure(ErrorCode.INVALID_ARGUMENT, f"Google Calendar refused the request: {exc.message}", details)
    return ToolFailure(ErrorCode.SERVICE_UNAVAILABLE, f"Google Calendar is not available: {exc.message}", details)


async def google_connection(session: AsyncSession, user_id: str) -> UserCalendarConnection | None:
    return await session.scalar(
        select(UserCalendarConnection).where(
            UserCalendarConnection.user_id == user_id, UserCalendarConnection.provider == "google"
        )
    )


async def calendar_for(session: AsyncSession, services: ToolServices, user_id: str, now: datetime) -> CalendarProvider:
    """The user's connected Google Calendar, else the built-in calendar."""
    connection = await google_connection(session, user_id)
    if connection is None:
        return BuiltinCalendar(session, user_id)
    if services.google is None:
        raise ToolFailure(
            ErrorCode.SERVICE_UNAVAILABLE, "Google Calendar is connected but the server has no Google credentials"
        )
    return GoogleCalendar(services.google, session, connection, sealer_for(services.secret_key), now)
