"""The built-in calendar's private iCalendar feed: `GET /calendar/{secret}.ics`.

The secret in the URL is the capability (calendar apps cannot send an Authorization header), so it is 32
random bytes, shown once when created or rotated, and only its SHA-256 is stored: a database leak does not
leak feed URLs. Rotating replaces the secret, which kills the old URL.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CalendarEvent, CalendarFeed
from tools.calendar.providers import BuiltinCalendar

FEED_HISTORY = timedelta(days=90)  # past events older than this are left out of the feed


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def feed_url(public_url: str, secret: str) -> str:
    return f"{public_url.rstrip('/')}/calendar/{secret}.ics"


async def rotate_feed(session: AsyncSession, user_id: str, now: datetime) -> str:
    """Create or replace the user's feed secret; returns the new secret (never stored in clear)."""
    secret = secrets.token_urlsafe(32)
    feed = await session.get(CalendarFeed, user_id)
    if feed is None:
        session.add(CalendarFeed(user_id=user_id, secret_hash=_digest(secret), created_at=now))
    else:
        feed.secret_hash, feed.created_at = _digest(secret), now
    await session.flush()
    return secret


async def revoke_feed(session: AsyncSession, user_id: str) -> bool:
    result = await session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user_id))
    return result.rowcount > 0


async def feed_events(session: AsyncSession, secret: str, now: datetime) -> list[CalendarEvent] | None:
    """The built-in events of the feed's owner, or None when no feed has this secret."""
    owner = await session.scalar(select(CalendarFeed.user_id).where(CalendarFeed.secret_hash == _digest(secret)))
    if owner is None:
        return None
    rows = await session.execute(
        select(CalendarEvent)
        .where(CalendarEvent.user_id == owner, CalendarEvent.provider == BuiltinCalendar.name, CalendarEvent.end_at > now - FEED_HISTORY)
        .order_by(CalendarEvent.start_at)
    )
    return list(rows.scalars())
