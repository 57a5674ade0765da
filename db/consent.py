"""Repository for opt-outs: the newest record for an address and channel decides."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ConsentRecord


async def latest(session: AsyncSession, address: str, channel: str) -> ConsentRecord | None:
    return (
        await session.execute(
            select(ConsentRecord)
            .where(ConsentRecord.address == address, ConsentRecord.channel == channel)
            .order_by(ConsentRecord.created_at.desc(), ConsentRecord.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def latest_by_address(session: AsyncSession, addresses: set[str]) -> dict[tuple[str, str], ConsentRecord]:
    """The newest record per (address, channel) of `addresses`, in one query."""
    if not addresses:
        return {}
    rows = (
        await session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.address.in_(addresses))
            .order_by(ConsentRecord.created_at.desc(), ConsentRecord.id.desc())
        )
    ).all()
    newest: dict[tuple[str, str], ConsentRecord] = {}
    for record in rows:
        newest.setdefault((record.address, record.channel), record)
    return newest


def opt_out_reason(record: ConsentRecord | None, channel: str) -> str | None:
    """Why sending on `channel` is not allowed when `record` is the address's newest for it, or None."""
    if record is None or not record.opted_out:
        return None
    how = "permanently (the carrier reported an unsubscribed number)" if record.permanent else f"via {record.source}"
    return f"the recipient opted out of {channel} {how}"


async def record(
    session: AsyncSession,
    *,
    address: str,
    channel: str,
    opted_out: bool,
    source: str,
    user_id: str | None = None,
    permanent: bool = False,
) -> None:
    """Add a consent record. An opt-in never lifts a permanent (carrier) suppression."""
    if not opted_out:
        current = await latest(session, address, channel)
        if current is not None and current.permanent and current.opted_out and source != "sms_keyword":
            return
    session.add(
        ConsentRecord(
            user_id=user_id, address=address, channel=channel, opted_out=opted_out, permanent=permanent, source=source
        )
    )
