"""Actions arranged in the database step by step at chosen times, written by `tools.audit` as dispatch writes
them (history row, traces, team links and their roll-up) with only the times changed: for the team
analytics, export and retention suites, which need histories no clock of the app can make."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from db.models import AgentActionFeedback, new_id
from server.context import AppContext
from tools.audit import ActionRecord

Step = str | tuple[str, str]  # a status, or (status "denied" or "failed", its error code)


async def seed_action(
    ctx: AppContext, user_id: str, team_ids: list[str], tool: str, steps: list[Step], at: datetime,
    *, feedback: Sequence[dict[str, Any]] = (), action_id: str | None = None,
) -> str:
    """One action of `user_id` governed by `team_ids`, requested at `at`, its steps a minute apart, a trace
    per step, and `feedback` rows (column values) given a minute after its last step; returns its id.
    `action_id`: try an action again, as a retried job's dispatch does (its first step links the teams again)."""
    record = ActionRecord(action_id or new_id(), user_id, None, tool, "api", "low", None, governing_team_ids=tuple(team_ids))
    async with ctx.sessions() as session:
        for index, step in enumerate(steps):
            status, code = (step, None) if isinstance(step, str) else step
            when = at + timedelta(minutes=index)
            record.trace("decision_point", step=status)
            rows = record.rows(status, {}, error_code=code)
            rows.history["created_at"] = when
            for row in rows.traces:
                row["created_at"] = when
            for row in rows.teams:
                row["requested_at"] = when
            await rows.insert(session)
        given = at + timedelta(minutes=len(steps))
        session.add_all(
            AgentActionFeedback(user_id=user_id, action_id=record.action_id, created_at=given, **row) for row in feedback
        )
        await session.commit()
    return record.action_id
