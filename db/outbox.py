"""Repository for the development outbox: the messages channels without credentials stored (COACH_OUTBOX)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OutboxMessage


async def store(
    session: AsyncSession, *, user_id: str, action_id: str | None, channel: str, to_address: str, body: str,
    subject: str | None = None,
) -> OutboxMessage:
    """Add the message to `session`'s transaction: it commits with the action's outcome, or not at all."""
    message = OutboxMessage(
        user_id=user_id, action_id=action_id, channel=channel, to_address=to_address, subject=subject, body=body
    )
    session.add(message)
    await session.flush()
    return message


async def newest_first(
    session: AsyncSession, user_id: str | None, limit: int, before: tuple[datetime, str] | None = None
) -> list[OutboxMessage]:
    """The user's messages (everyone's with None: `coach outbox list`), newest first (ties broken by id), at
    most `limit`; with `before`, only those after that (created_at, id) position in this order."""
    query = select(OutboxMessage)
    if user_id is not None:
        query = query.where(OutboxMessage.user_id == user_id)
    if before is not None:
        created_at, message_id = before
        query = query.where(
            or_(
                OutboxMessage.created_at < created_at,
                and_(OutboxMessage.created_at == created_at, OutboxMessage.id < message_id),
            )
        )
    query = query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())
