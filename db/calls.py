"""Repository for call sessions and their transcript turns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CallSession, CallTranscriptTurn, utcnow


async def start_call(
    session: AsyncSession, *, user_id: str, direction: str, purpose: str, call_sid: str | None = None,
    status: str = "in-progress",
) -> CallSession:
    call = CallSession(user_id=user_id, direction=direction, purpose=purpose, call_sid=call_sid, status=status)
    session.add(call)
    await session.flush()
    return call


async def by_sid(session: AsyncSession, call_sid: str) -> CallSession | None:
    return (await session.execute(select(CallSession).where(CallSession.call_sid == call_sid))).scalar_one_or_none()


async def bind_call_sid(session: AsyncSession, call_session_id: str, call_sid: str) -> bool:
    """Store Twilio's sid on an outbound call session, once. Our create() learns it from Twilio's answer and
    Twilio's answer webhook brings it signed; whichever comes first stores it, the other must agree."""
    bound = await session.execute(
        update(CallSession)
        .where(
            CallSession.id == call_session_id, CallSession.direction == "outbound",
            or_(CallSession.call_sid.is_(None), CallSession.call_sid == call_sid),
        )
        .values(call_sid=call_sid)
    )
    return bound.rowcount == 1


async def claim_stream(
    session: AsyncSession, call_session_id: str, user_id: str, call_sid: str, now: datetime
) -> str | None:
    """Mark the call session's one media stream as opened; its direction, or None when the session is not this
    user's call with this sid, has ended, or has opened its stream already. One compare-and-set statement, so
    two streams racing with one token (in one process or several) open one."""
    return await session.scalar(
        update(CallSession)
        .where(
            CallSession.id == call_session_id, CallSession.user_id == user_id, CallSession.call_sid == call_sid,
            CallSession.stream_opened_at.is_(None), CallSession.ended_at.is_(None),
        )
        .values(stream_opened_at=now, status="in-progress")
        .returning(CallSession.direction)
    )


async def finish_call(session: AsyncSession, call_session_id: str, status: str, reason: str) -> None:
    await session.execute(
        update(CallSession)
        .where(CallSession.id == call_session_id, CallSession.ended_at.is_(None))
        .values(status=status, end_reason=reason, ended_at=utcnow())
    )


def add_turn(session: AsyncSession, call_session_id: str, seq: int, role: str, text: str) -> None:
    session.add(CallTranscriptTurn(call_session_id=call_session_id, seq=seq, role=role, text=text))
