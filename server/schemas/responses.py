"""The shapes of the API's answers, for the OpenAPI document (`server/openapi.py`) and the API reference page.

The handlers build their JSON from rows (`habit_json`, `settings_json`, ...); these models describe what they
write, field for field. They are checked against the real answers: the schemathesis run of
tests/integration/test_openapi_fuzz.py validates every answer it gets against the document. An answer that
is a plain dump of a table's columns (settings, the admin views) gets a model made from those columns, so a
new column shows in the document without anyone writing it twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model
from sqlalchemy.orm import DeclarativeBase

from db.models import (
    AgentActionFeedback,
    AgentActionHistory,
    AgentExecutionTrace,
    TeamAISettings,
    UserAgentSettings,
)
from server.schemas.coaching import Consent, GoalStatus, TaskStatus
from server.schemas.tokens import TokenInfo
from tools.results import ErrorCode

# --- the error shape (DESIGN.md section 5) ---------------------------------------------------------

API_ERROR_CODES = [code.value for code in ErrorCode] + ["UNAUTHENTICATED", "INTERNAL"]


class ErrorDetail(BaseModel):
    code: str = Field(description="one of: " + ", ".join(API_ERROR_CODES))
    message: str = Field(description="for people: what went wrong")
    recoverable: bool = Field(description="whether the same request may succeed later or with other values")
    details: dict[str, Any] | None = Field(
        default=None, description='more about it; a refused field is listed in `fields`: [{"field", "message"}]',
    )


class ErrorAnswer(BaseModel):
    """Every refusal of the API that is not a tool's own result."""

    error: ErrorDetail


# --- tables dumped column by column ----------------------------------------------------------------


def columns_model(name: str, table: type[DeclarativeBase], *, leave_out: Iterable[str] = ()) -> type[BaseModel]:
    """A model with one field per column of `table` (times as ISO 8601 text, JSON columns as any JSON)."""
    fields: dict[str, Any] = {}
    for column in table.__table__.columns:
        if column.key in leave_out:
            continue
        kind = _python_type(column.type)
        fields[column.key] = (kind | None, ...) if column.nullable else (kind, ...)
    return create_model(name, __doc__=f"A row of {table.__tablename__}, column by column.", **fields)


def _python_type(column_type: Any) -> Any:
    try:
        return getattr(column_type, "impl_instance", column_type).python_type  # a TypeDecorator: what it stores
    except NotImplementedError:  # JSON: whatever JSON the row holds
        return Any


_NOT_SETTINGS = ("user_id", "team_id", "updated_at")  # as server.routes.settings leaves them out
UserSettings = columns_model("UserSettings", UserAgentSettings, leave_out=_NOT_SETTINGS)
TeamSettings = columns_model("TeamSettings", TeamAISettings, leave_out=_NOT_SETTINGS)
ActivityRow = columns_model("ActivityRow", AgentActionHistory)
TraceRow = columns_model("TraceRow", AgentExecutionTrace)
FeedbackRow = columns_model("FeedbackRow", AgentActionFeedback)


class TeamActivity(BaseModel):
    activity: list[ActivityRow]  # type: ignore[valid-type]


class TeamTraces(BaseModel):
    traces: list[TraceRow]  # type: ignore[valid-type]


class TeamFeedback(BaseModel):
    feedback: list[FeedbackRow]  # type: ignore[valid-type]


# --- tokens ----------------------------------------------------------------------------------------


class TokenList(BaseModel):
    tokens: list[TokenInfo]


# --- actions ---------------------------------------------------------------------------------------


class PendingAction(BaseModel):
    id: str
    user_id: str
    tool: str
    args: dict[str, Any] = Field(description="the tool's arguments, as it would run")
    risk_level: str
    reason: str = Field(description="why it waits for a yes")
    confidence: float | None
    requires_admin: bool
    source: str = Field(description="voice, chat, api or scheduler")
    prompt: str = Field(description="the question put to the person")
    status: str
    created_at: dt.datetime
    expires_at: dt.datetime


class PendingList(BaseModel):
    pending: list[PendingAction]


class HistoryEntry(BaseModel):
    id: str
    action_id: str
    tool: str
    status: str
    source: str
    risk_level: str
    confidence: float | None
    error_code: str | None
    error_message: str | None
    payload: dict[str, Any]
    result: dict[str, Any] | None
    created_at: dt.datetime


class HistoryList(BaseModel):
    history: list[HistoryEntry]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class FeedbackRecorded(BaseModel):
    id: str
    action_id: str
    feedback_type: str
    tags: list[str]


class ChatReply(BaseModel):
    response: str = Field(description="the coach's words")
    actions_taken: list[dict[str, Any]]
    pending_actions: list[dict[str, Any]] = Field(description="actions waiting for the person's yes")


# --- coaching data ---------------------------------------------------------------------------------


class HabitView(BaseModel):
    id: str
    name: str
    description: str
    reminder_time: str | None = Field(description="HH:MM local time of the daily reminder")
    active: bool
    created_at: dt.datetime
    recent_completions: list[dt.date] = Field(description="the days it was done in the last 30 days")


class GoalView(BaseModel):
    id: str
    title: str
    description: str
    progress: int = Field(ge=0, le=100, description="percent done")
    last_note: str
    status: GoalStatus
    target_date: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime


class TaskView(BaseModel):
    id: str
    title: str
    description: str
    due_date: dt.date | None
    status: TaskStatus
    created_at: dt.datetime
    completed_at: dt.datetime | None


class ContactView(BaseModel):
    id: str
    name: str
    email: str | None
    phone: str | None
    relationship: str
    consent: Consent = Field(description="whether the address has opted out of our email")
    created_at: dt.datetime


class ReminderView(BaseModel):
    id: str
    message: str
    remind_at: dt.datetime
    recurrence: str | None = Field(description="RFC 5545 RRULE")
    timezone: str
    channel: str
    status: str
    created_at: dt.datetime


class HabitList(BaseModel):
    habits: list[HabitView]


class GoalList(BaseModel):
    goals: list[GoalView]


class TaskList(BaseModel):
    tasks: list[TaskView]


class ContactList(BaseModel):
    contacts: list[ContactView]


class ReminderList(BaseModel):
    reminders: list[ReminderView]


class SequenceView(BaseModel):
    id: str
    name: str
    trigger: str = Field(description="time, habit_complete, goal_progress or manual")
    trigger_config: dict[str, Any]
    steps: list[Any]
    status: str
    next_step: int
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class SequenceList(BaseModel):
    sequences: list[SequenceView]


# --- outbox and calendar ---------------------------------------------------------------------------


class OutboxMessage(BaseModel):
    id: str
    action_id: str | None
    channel: str
    to: str
    subject: str | None
    body: str
    sent: Literal[False] = Field(description="always false: the outbox holds what was not sent")
    created_at: dt.datetime


class OutboxPage(BaseModel):
    messages: list[OutboxMessage]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class CalendarStatus(BaseModel):
    provider: Literal["builtin", "google"]
    google_configured: bool
    google_connected: bool
    calendar_id: str | None
    feed: bool = Field(description="whether an ICS feed exists (its URL is shown only when created)")


class GoogleAuthorization(BaseModel):
    authorization_url: str = Field(description="send the browser here")
    expires_at: dt.datetime


class GoogleDisconnected(BaseModel):
    disconnected: Literal[True]
    revoked: bool = Field(description="whether Google confirmed the revocation")


class FeedCreated(BaseModel):
    url: str = Field(description="the feed's secret URL: shown in this answer only")



# --- team conversations and model usage (server/routes/usage.py) -----------------------------------


class _TokenFigures(BaseModel):
    turns: int
    input_tokens: int
    output_tokens: int
    thoughts_tokens: int
    cost_usd: float = Field(description="estimated, from COACH_MODEL_PRICES; priced models only")
    unpriced_models: list[str] = Field(default_factory=list, description="models with no configured price")


class TeamSessionSummary(_TokenFigures):
    id: str
    kind: Literal["call", "browser", "chat", "scheduler"]
    user_id: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    duration_s: float | None
    tool_calls: int
    errors: int = Field(description="failed tool calls, plus one if the conversation itself failed")
    error: str | None


class TeamSessions(BaseModel):
    sessions: list[TeamSessionSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class TeamSessionSteps(BaseModel):
    session: TeamSessionSummary
    steps: list[dict[str, Any]] = Field(
        description="in time order: model turns (`type` model_turn: model, tokens by modality as reported, "
                    "latency, cost) and tool calls (`type` tool_call: decision, outcome, latency)"
    )


class UsageGroup(BaseModel):
    key: str
    turns: int
    input_tokens: int
    output_tokens: int
    thoughts_tokens: int
    cost_usd: float
    unpriced_models: list[str]
    models: list[dict[str, Any]]


class TeamUsage(BaseModel):
    group_by: Literal["day", "user", "model"]
    since: dt.datetime
    until: dt.datetime
    groups: list[UsageGroup]
    total: _TokenFigures


# --- team analytics (server/routes/team_analytics.py) ----------------------------------------------


class ActionFigures(BaseModel):
    """Counts of actions (db.team_activity defines each figure)."""

    requested: int
    executed: int
    auto_approved: int
    confirmed: int
    rejected: int
    expired: int
    failed: int
    denied: int
    pending: int
    denied_by_code: dict[str, int] = Field(description="`denied` by the code of the denial that ended the action")


class TeamSummary(ActionFigures):
    rates: dict[str, float | None] = Field(description="each figure over `requested`; `auto_approved_of_executed`")
    by_tool: dict[str, ActionFigures]
    by_user: dict[str, ActionFigures]
    since: dt.datetime
    until: dt.datetime


class ToolApproval(BaseModel):
    decisions: int
    approved: int
    edited: int
    rejected: int
    approval_rate: float | None


class Thumbs(BaseModel):
    up: int
    down: int
    up_ratio: float | None


class DecisionTime(BaseModel):
    count: int
    p50: int | None
    p90: int | None


class RejectionReason(BaseModel):
    reason: str
    count: int
    share: float
    tools: dict[str, int]
    suggestion: str | None = Field(description="what to change, when the reason is common enough (tools.feedback_insights)")


class TeamFeedbackSummary(BaseModel):
    approval_by_tool: dict[str, ToolApproval]
    thumbs: Thumbs
    time_to_decision_ms: DecisionTime
    rejection_reasons: list[RejectionReason] = Field(description="most given first")
    since: dt.datetime
    until: dt.datetime


# --- feature flags (server/routes/flags.py) --------------------------------------------------------


class TeamFlag(BaseModel):
    name: str
    description: str
    on_for_everyone: bool
    on_for_this_team: bool
    rollout_percentage: int
    members_on: list[str] = Field(description="ids of the team's members the flag is on for")
    members_on_count: int
    members_count: int


class TeamFlags(BaseModel):
    flags: list[TeamFlag]
