"""Retention: the purge of action records (history steps, execution traces, feedback) older than their
period, in small batches.

Which period applies: an action is kept for the SHORTEST retention period among the teams that governed
it (`action_teams`): when a person is in several teams, the strictest team's choice wins, for everyone (the
privacy choice: keeping it for the other team would keep it from the person who asked it gone). A team
may shorten the platform's period (`PLATFORM_RETENTION_DAYS`) down to `MIN_RETENTION_DAYS`, never lengthen
it, as a team only ever restricts what its members have.

Two passes, both in transactions of at most `batch` actions or rows, so a concurrent action write (an
INSERT of new rows, which these DELETEs of old rows never lock) waits for nothing but I/O:
1. per team: its actions requested before now - retention_days go whole (every step, trace, feedback and
   team link of the action, whenever written);
2. platform: any history, trace or feedback row older than the platform period goes (the actions no
   team governed, traces not tied to an action).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ActionTeam, AgentActionFeedback, AgentActionHistory, AgentExecutionTrace, Team, TeamAISettings

PLATFORM_RETENTION_DAYS = 400
MIN_RETENTION_DAYS = 90
PURGE_BATCH = 500

# Deleted in this order: feedback points at history rows. Team links go with their team's pass (every team
# has one); the platform pass reads the other three by age.
_ROWS_BY_AGE: tuple[Table, ...] = (
    AgentActionFeedback.__table__, AgentExecutionTrace.__table__, AgentActionHistory.__table__
)
_RECORDS: tuple[Table, ...] = (*_ROWS_BY_AGE, ActionTeam.__table__)
Batch = Callable[[AsyncSession, "Purged"], Awaitable[bool]]


@dataclass
class Purged:
    """How many rows a purge deleted, by table, and in how many transactions."""

    rows: dict[str, int] = field(default_factory=lambda: {table.name: 0 for table in _RECORDS})
    transactions: int = 0

    def count(self, table: Table, deleted: int) -> None:
        self.rows[table.name] += max(deleted, 0)


async def _purge_team_batch(session: AsyncSession, purged: Purged, *, team_id: str, cutoff: datetime, batch: int) -> bool:
    """Delete up to `batch` of the team's actions requested before `cutoff`, whole; False when none was left."""
    action_ids = list(
        await session.scalars(
            select(ActionTeam.action_id)
            .where(ActionTeam.team_id == team_id, ActionTeam.requested_at < cutoff)
            .limit(batch)
        )
    )
    if not action_ids:
        return False
    for table in _RECORDS:
        result = await session.execute(delete(table).where(table.c.action_id.in_(action_ids)))
        purged.count(table, result.rowcount)
    return True


async def _purge_rows_batch(session: AsyncSession, purged: Purged, *, table: Table, cutoff: datetime, batch: int) -> bool:
    """Delete up to `batch` rows of `table` created before `cutoff`; False when none was left."""
    oldest = select(table.c.id).where(table.c.created_at < cutoff).limit(batch)
    result = await session.execute(delete(table).where(table.c.id.in_(oldest.scalar_subquery())))
    purged.count(table, result.rowcount)
    return bool(result.rowcount)


async def _in_batches(
    sessions: Callable[[], AsyncSession], purged: Purged, step: Batch, after_batch: Callable[[], Awaitable[None]] | None
) -> None:
    """Run `step` (one batch) in a transaction of its own until it reports nothing left."""
    while True:
        async with sessions() as session:
            more = await step(session, purged)
            await session.commit()
        purged.transactions += 1
        if after_batch is not None:
            await after_batch()
        if not more:
            return


async def team_periods(session: AsyncSession) -> dict[str, int]:
    """Every team's retention period in days (a team without a settings row keeps the platform's)."""
    rows = await session.execute(
        select(Team.id, TeamAISettings.retention_days).outerjoin(TeamAISettings, TeamAISettings.team_id == Team.id)
    )
    return {team_id: min(days or PLATFORM_RETENTION_DAYS, PLATFORM_RETENTION_DAYS) for team_id, days in rows.all()}


async def purge(
    sessions: Callable[[], AsyncSession], now: datetime, batch: int = PURGE_BATCH,
    after_batch: Callable[[], Awaitable[None]] | None = None,
) -> Purged:
    """Purge everything past its retention period as of `now` (see the module's docstring); `after_batch`
    runs after each transaction (the scheduler renews its lease there)."""
    purged = Purged()
    async with sessions() as session:
        periods = await team_periods(session)
    for team_id, days in periods.items():
        team_batch = partial(_purge_team_batch, team_id=team_id, cutoff=now - timedelta(days=days), batch=batch)
        await _in_batches(sessions, purged, team_batch, after_batch)
    platform_cutoff = now - timedelta(days=PLATFORM_RETENTION_DAYS)
    for table in _ROWS_BY_AGE:
        rows_batch = partial(_purge_rows_batch, table=table, cutoff=platform_cutoff, batch=batch)
        await _in_batches(sessions, purged, rows_batch, after_batch)
    return purged
