"""Repository for browser sessions (`web_sessions`): sign in, find by cookie secret, list, revoke.

Only the SHA-256 of a session's secret is stored, as for API tokens, so a copy of the database signs nobody in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts import LAST_USED_PRECISION, hash_token
from db.models import User, WebSession

SESSION_LIFETIME = timedelta(days=30)
USER_AGENT_MAX = 200


@dataclass(frozen=True)
class NewWebSession:
    row: WebSession
    secret: str  # goes into the cookie; never stored


async def start(
    session: AsyncSession, *, user_id: str, signed_in_with: str, user_agent: str, now: datetime
) -> NewWebSession:
    secret = secrets.token_urlsafe(32)
    row = WebSession(
        user_id=user_id, secret_hash=hash_token(secret), csrf_token=secrets.token_urlsafe(32),
        signed_in_with=signed_in_with, user_agent=user_agent[:USER_AGENT_MAX], created_at=now, last_seen_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    session.add(row)
    await session.flush()
    return NewWebSession(row, secret)


async def find(session: AsyncSession, secret: str, now: datetime) -> tuple[User, WebSession] | None:
    """The user and session of a cookie secret that works at `now`; records that it was seen (at most once a
    minute, so reading a page does not write on every request)."""
    found = (
        await session.execute(
            select(User, WebSession)
            .join(WebSession, WebSession.user_id == User.id)
            .where(WebSession.secret_hash == hash_token(secret), WebSession.revoked_at.is_(None), WebSession.expires_at > now)
        )
    ).first()
    if found is None:
        return None
    user, web_session = found
    if now - web_session.last_seen_at >= LAST_USED_PRECISION:
        web_session.last_seen_at = now
    return user, web_session


async def list_for_user(session: AsyncSession, user_id: str, now: datetime) -> list[WebSession]:
    """The user's working sessions, most recently seen first."""
    rows = await session.execute(
        select(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None), WebSession.expires_at > now)
        .order_by(WebSession.last_seen_at.desc(), WebSession.id)
    )
    return list(rows.scalars())


async def revoke(session: AsyncSession, user_id: str, session_id: str, now: datetime) -> bool:
    """End one of the user's sessions; False when the user holds no working session with that id."""
    result = await session.execute(
        update(WebSession)
        .where(WebSession.id == session_id, WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1
