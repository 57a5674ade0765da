"""Actions arranged directly in the database, step by step at chosen times, as `tools.audit` writes them:
for the team analytics, export and retention suites, which need histories no clock of the app can make."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from db.models import ActionTeam, AgentActionFeedback, AgentActionHistory, AgentExecutionTrace, new_id
from server.context import AppContext

Step = str | tuple[str, str]  # a status, or (status "denied" or "failed", its error code)


async def seed_action(
    ctx: AppContext, user_id: str, team_ids: list[str], tool: str, steps: list[Step], at: datetime,
    *, feedback: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> str:
    """One action of `user_id` governed by `team_ids`, requested at `at`, its steps a minute apart, a trace
    per step, and `feedback` rows (column values) given a minute after its last step; returns its id."""
    action_id = new_id()
    async with ctx.sessions() as session:
        session.add_all(ActionTeam(action_id=action_id, team_id=team, requested_at=at) for team in team_ids)
        for index, step in enumerate(steps):
            status, code = (step, None) if isinstance(step, str) else step
            when = at + timedelta(minutes=index)
            session.add(AgentActionHistory(
                user_id=user_id, action_id=action_id, tool=tool, status=status, risk_level="low", payload={},
                error_code=code, created_at=when,
            ))
            session.add(AgentExecutionTrace(
                action_id=action_id, user_id=user_id, trace_type="decision_point", data={"step": status}, created_at=when,
            ))
        given = at + timedelta(minutes=len(steps))
        session.add_all(AgentActionFeedback(user_id=user_id, action_id=action_id, created_at=given, **row) for row in feedback)
        await session.commit()
    return action_id
