"""Repository for call sessions and their transcript turns."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CallSession, CallTranscriptTurn, utcnow


async def start_call(
    session: AsyncSession, *, user_id: str, direction: str, purpose: str, call_sid: str | None = None
) -> CallSession:
    call = CallSession(user_id=user_id, direction=direction, purpose=purpose, call_sid=call_sid, status="in-progress")
    session.add(call)
    await session.flush()
    return call


async def by_sid(session: AsyncSession, call_sid: str) -> CallSession | None:
    return (await session.execute(select(CallSession).where(CallSession.call_sid == call_sid))).scalar_one_or_none()


async def mark_connected(session: AsyncSession, call_session_id: str, call_sid: str | None) -> None:
    values: dict[str, object] = {"status": "in-progress"}
    if call_sid:
        values["call_sid"] = call_sid
    await session.execute(update(CallSession).where(CallSession.id == call_session_id).values(**values))


async def finish_call(session: AsyncSession, call_session_id: str, status: str, reason: str) -> None:
    await session.execute(
        update(CallSession)
        .where(CallSession.id == call_session_id, CallSession.ended_at.is_(None))
        .values(status=status, end_reason=reason, ended_at=utcnow())
    )


def add_turn(session: AsyncSession, call_session_id: str, seq: int, role: str, text: str) -> None:
    session.add(CallTranscriptTurn(call_session_id=call_session_id, seq=seq, role=role, text=text))
