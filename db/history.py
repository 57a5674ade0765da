"""Repository for a person's action history: the filtered query (every step, or each action's newest step),
keyset pages newest first, batches for a streamed export, one action's steps and traces, and feedback.

History is always read for one owner: every query here starts from `user_id`, so a forged cursor or an
action id of another person finds nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, cast, delete, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import AgentActionFeedback, AgentActionHistory, AgentExecutionTrace

Position = tuple[datetime, str]  # (created_at, id) of a row, as `server.paging` encodes it
THUMBS = ("thumbs_up", "thumbs_down")
EXPORT_BATCH = 1000


@dataclass(frozen=True)
class HistoryFilter:
    """What a history listing is narrowed to; None (or empty) means no restriction."""

    tool: str | None = None
    status: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    latest_only: bool = False
    """Each action's newest step only (its current state: executed, undone, ...), as the history page shows."""


def filtered(user_id: str, narrowed: HistoryFilter) -> Select[tuple[AgentActionHistory]]:
    """The owner's history rows that pass `narrowed`, unordered."""
    row = AgentActionHistory
    query = select(row).where(row.user_id == user_id)
    if narrowed.tool:
        query = query.where(row.tool == narrowed.tool)
    if narrowed.status:
        query = query.where(row.status == narrowed.status)
    if narrowed.source:
        query = query.where(row.source == narrowed.source)
    if narrowed.since is not None:
        query = query.where(row.created_at >= narrowed.since)
    if narrowed.until is not None:
        query = query.where(row.created_at < narrowed.until)
    if narrowed.text:
        query = query.where(cast(row.payload, String).ilike(f"%{_escape_like(narrowed.text)}%", escape="\\"))
    if narrowed.latest_only:
        query = query.where(row.id == _newest_step_id(row))
    return query


def _newest_step_id(row: type[AgentActionHistory]) -> Any:
    """The id of the newest step of `row`'s action. A correlated scalar subquery, not NOT EXISTS: PostgreSQL
    turns NOT EXISTS into an anti-join over every row of the person before the LIMIT applies (a second and
    more at 100,000 actions), while this runs as a small index probe (action_id) per row read, newest first,
    and stops at the page's end."""
    step = aliased(AgentActionHistory)
    return (
        select(step.id)
        .where(step.action_id == row.action_id)
        .order_by(step.created_at.desc(), step.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _escape_like(text: str) -> str:
    """`text` matched literally: `%` and `_` typed into the search box are not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def newest_first(query: Select[tuple[AgentActionHistory]], limit: int, before: Position | None) -> Select[Any]:
    """`query` in (created_at, id) descending order from just after `before`, at most `limit` rows."""
    row = AgentActionHistory
    if before is not None:
        query = query.where(tuple_(row.created_at, row.id) < tuple_(*before))
    return query.order_by(row.created_at.desc(), row.id.desc()).limit(limit)


async def page(
    session: AsyncSession, user_id: str, narrowed: HistoryFilter, limit: int, before: Position | None = None
) -> tuple[list[AgentActionHistory], Position | None]:
    """One page of rows and the position the next page starts after (None at the end)."""
    await _without_jit(session)
    rows = list((await session.scalars(newest_first(filtered(user_id, narrowed), limit + 1, before))).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, (rows[-1].created_at, rows[-1].id)


async def _without_jit(session: AsyncSession) -> None:
    """PostgreSQL costs the newest-step subquery as if it ran for every row of the person (it stops at the
    LIMIT), so the estimate passes `jit_above_cost` and JIT compilation adds ~100 ms to a 2 ms page. Off for
    this transaction only."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))


async def batches(
    sessions: Callable[[], AsyncSession], user_id: str, narrowed: HistoryFilter, size: int = EXPORT_BATCH
) -> AsyncIterator[list[AgentActionHistory]]:
    """Every row that passes `narrowed`, newest first, `size` at a time, each batch read in a short session
    of its own (keyset, not offset): memory and transaction length stay flat whatever the count."""
    before: Position | None = None
    while True:
        async with sessions() as session:
            rows, before = await page(session, user_id, narrowed, size, before)
            session.expunge_all()
        if rows:
            yield rows
        if before is None:
            return


async def steps(session: AsyncSession, user_id: str, action_id: str) -> list[AgentActionHistory]:
    """The owner's steps of one action, oldest first (empty when it is not theirs or does not exist)."""
    query = (
        select(AgentActionHistory)
        .where(AgentActionHistory.user_id == user_id, AgentActionHistory.action_id == action_id)
        .order_by(AgentActionHistory.created_at, AgentActionHistory.id)
    )
    return list((await session.scalars(query)).all())


async def traces(session: AsyncSession, user_id: str, action_id: str) -> list[AgentExecutionTrace]:
    """The owner's trace steps of one action, in the order they happened."""
    query = (
        select(AgentExecutionTrace)
        .where(AgentExecutionTrace.user_id == user_id, AgentExecutionTrace.action_id == action_id)
        .order_by(AgentExecutionTrace.created_at, AgentExecutionTrace.latency_ms)
    )
    return list((await session.scalars(query)).all())


async def thumbs(session: AsyncSession, user_id: str, history_ids: Sequence[str]) -> dict[str, AgentActionFeedback]:
    """The person's current thumbs (up or down) on each of these history rows, in one query."""
    if not history_ids:
        return {}
    rows = await session.scalars(
        select(AgentActionFeedback).where(
            AgentActionFeedback.user_id == user_id,
            AgentActionFeedback.history_id.in_(history_ids),
            AgentActionFeedback.feedback_type.in_(THUMBS),
        )
    )
    return {row.history_id: row for row in rows if row.history_id is not None}


async def add_feedback(
    session: AsyncSession, entry: AgentActionFeedback
) -> AgentActionFeedback:
    """Record `entry`. Thumbs replace the person's earlier thumbs on the same row (one opinion per row, which
    they may change); ratings and comments add up."""
    if entry.feedback_type in THUMBS:
        await session.execute(
            delete(AgentActionFeedback).where(
                AgentActionFeedback.user_id == entry.user_id,
                AgentActionFeedback.history_id == entry.history_id,
                AgentActionFeedback.feedback_type.in_(THUMBS),
            )
        )
    session.add(entry)
    await session.flush()
    return entry


async def decisions(session: AsyncSession, user_id: str, action_ids: Sequence[str]) -> dict[str, AgentExecutionTrace]:
    """Each action's policy decision (its `decision_point` trace), in one query."""
    if not action_ids:
        return {}
    rows = await session.scalars(
        select(AgentExecutionTrace).where(
            AgentExecutionTrace.user_id == user_id,
            AgentExecutionTrace.action_id.in_(action_ids),
            AgentExecutionTrace.trace_type == "decision_point",
        )
    )
    return {row.action_id: row for row in rows}
