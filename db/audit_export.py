"""A team's audit log for a time range, read in keyset batches for a streamed export: the history steps, then
the execution traces, then the feedback of the actions the team governed, each in (created_at, id) order.

Each batch is read in a short session of its own and handed over as plain dicts, so memory and transaction
length stay flat whatever the range holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ActionTeam, AgentActionFeedback, AgentActionHistory, AgentExecutionTrace

EXPORT_BATCH = 1000
RECORDS: dict[str, Table] = {
    "history": AgentActionHistory.__table__,
    "trace": AgentExecutionTrace.__table__,
    "feedback": AgentActionFeedback.__table__,
}
"""What an export holds, in order: the record kind (each line's `record`) and its table."""


def _batch_query(table: Table, team_id: str, until: datetime, after: tuple[datetime, str], size: int) -> Any:
    created_at, row_id = table.c.created_at, table.c.id
    governed = select(ActionTeam.id).where(ActionTeam.action_id == table.c.action_id, ActionTeam.team_id == team_id)
    return (
        select(table)
        .where(
            tuple_(created_at, row_id) > tuple_(*after),  # a row-value comparison: an index range, not a filter
            created_at < until,
            governed.exists(),
        )
        .order_by(created_at, row_id)
        .limit(size)
    )


async def audit_batches(
    sessions: Callable[[], AsyncSession], team_id: str, since: datetime, until: datetime, size: int = EXPORT_BATCH
) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """(record kind, rows) batches of the team's audit log created in [since, until)."""
    for record, table in RECORDS.items():
        after = (since, "")  # every id sorts after "": the first batch starts at `since` itself
        while True:
            async with sessions() as session:
                rows = [dict(row) for row in (await session.execute(_batch_query(table, team_id, until, after, size))).mappings()]
            if rows:
                yield record, rows
            if len(rows) < size:
                break
            after = (rows[-1]["created_at"], rows[-1]["id"])
