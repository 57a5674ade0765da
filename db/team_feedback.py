"""The feedback given on a team's actions in a time range, as the feedback analytics read it
(`tools.feedback_insights`): decisions (approved, edited, rejected, with their time to decision and the
rejection's reason) and thumbs, each with the tool of its action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ActionTeam, AgentActionFeedback, AgentActionHistory

DECISIONS = ("approved", "edited", "rejected")
THUMBS = ("thumbs_up", "thumbs_down")


@dataclass(frozen=True)
class FeedbackEntry:
    tool: str
    feedback_type: str
    time_to_decision_ms: int | None
    reason_text: str | None
    """What the person said when rejecting (today the cancel reason, kept in `comment`)."""


async def feedback_entries(session: AsyncSession, team_id: str, since: datetime, until: datetime) -> list[FeedbackEntry]:
    """Decisions and thumbs given in [since, until) on actions `team_id` governed."""
    feedback = AgentActionFeedback
    tool_of_action = (
        select(AgentActionHistory.tool).where(AgentActionHistory.action_id == feedback.action_id).limit(1).scalar_subquery()
    )
    governed = select(ActionTeam.id).where(ActionTeam.action_id == feedback.action_id, ActionTeam.team_id == team_id)
    query = select(
        tool_of_action, feedback.feedback_type, feedback.time_to_decision_ms, feedback.comment
    ).where(
        feedback.created_at >= since,
        feedback.created_at < until,
        feedback.feedback_type.in_(DECISIONS + THUMBS),
        governed.exists(),
    )
    return [FeedbackEntry(*row) for row in (await session.execute(query)).all() if row[0] is not None]
