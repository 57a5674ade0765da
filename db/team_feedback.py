"""The feedback given on a team's actions in a time range, as the feedback analytics read it
(`tools.feedback_insights`): decisions (approved, edited, rejected, with their time to decision and the
rejection's reason) and thumbs, each with the tool of its action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ActionTeam, AgentActionFeedback

DECISIONS = ("approved", "edited", "rejected")
THUMBS = ("thumbs_up", "thumbs_down")


@dataclass(frozen=True)
class FeedbackEntry:
    tool: str
    feedback_type: str
    time_to_decision_ms: int | None
    reason_code: str | None
    """A rejection's reason code (tools.pending.REJECTION_REASONS), when the person chose one."""
    reason_text: str | None
    """What the person said when rejecting (the cancel reason's words, kept in `comment`)."""


async def feedback_entries(session: AsyncSession, team_id: str, since: datetime, until: datetime) -> list[FeedbackEntry]:
    """Decisions and thumbs given in [since, until) on actions `team_id` governed."""
    feedback = AgentActionFeedback
    # The team's link of the action scopes the row and names the tool: one probe of its unique index per row.
    link = and_(ActionTeam.action_id == feedback.action_id, ActionTeam.team_id == team_id)
    query = (
        select(ActionTeam.tool, feedback.feedback_type, feedback.time_to_decision_ms, feedback.reason_code, feedback.comment)
        .join(ActionTeam, link)
        .where(
            feedback.created_at >= since,
            feedback.created_at < until,
            feedback.feedback_type.in_(DECISIONS + THUMBS),
        )
    )
    return [FeedbackEntry(*row) for row in (await session.execute(query)).all()]
