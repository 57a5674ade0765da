"""The data model (SQLAlchemy 2.0 typed declarative). One class per table of DESIGN section 2.

Identifiers are random UUID strings so ids never leak row counts and work on SQLite and PostgreSQL alike.
Times are stored as timezone-aware UTC.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AwareDateTime(TypeDecorator[datetime]):
    """DateTime that always hands back aware UTC datetimes (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: AwareDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def id_column() -> Mapped[str]:
    return mapped_column(String(32), primary_key=True, default=new_id)


def created_column() -> Mapped[datetime]:
    return mapped_column(default=utcnow)


def user_fk(nullable: bool = False) -> Mapped[Any]:
    return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=nullable)


# --- people and teams -------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    created_at: Mapped[datetime] = created_column()


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16), default="member")  # member | admin | owner
    created_at: Mapped[datetime] = created_column()


class ApiToken(Base):
    """Per-user API token. Only the SHA-256 of the token is stored; the token is shown once. A token works
    until it is revoked or `expires_at` (none: no expiry) has passed."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="default")
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    """A browser's signed-in session. The cookie carries a secret whose SHA-256 is stored, so a session can be
    listed and revoked; `csrf_token` is what every state-changing form and cookie-authenticated request of
    this session must carry."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    signed_in_with: Mapped[str] = mapped_column(String(8))  # sms | email | token
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = created_column()
    last_seen_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class SigninCode(Base):
    """A one-time sign-in code sent by SMS or email. Only a keyed hash of the code is stored; a code works
    once, until `expires_at`, and is spent after too many wrong attempts."""

    __tablename__ = "signin_codes"
    __table_args__ = (Index("ix_signin_codes_user_created", "user_id", "created_at"),)

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # sms | email
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


# --- settings -------------------------------------------------------------------------------


class UserAgentSettings(Base):
    """A user's agent settings. Defaults are the plan's platform defaults."""

    __tablename__ = "user_agent_settings"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    agent_actions_enabled: Mapped[bool] = mapped_column(default=True)
    allow_send_email: Mapped[bool] = mapped_column(default=True)
    allow_send_sms: Mapped[bool] = mapped_column(default=True)
    allow_voice_calls: Mapped[bool] = mapped_column(default=True)
    allow_create_tasks: Mapped[bool] = mapped_column(default=True)
    allow_schedule_reminders: Mapped[bool] = mapped_column(default=True)
    allow_calendar_events: Mapped[bool] = mapped_column(default=True)
    allow_external_email: Mapped[bool] = mapped_column(default=False)
    require_confirmation_email: Mapped[bool] = mapped_column(default=True)
    require_confirmation_sms: Mapped[bool] = mapped_column(default=True)
    require_confirmation_voice: Mapped[bool] = mapped_column(default=True)
    require_confirmation_calendar: Mapped[bool] = mapped_column(default=False)
    require_high_confidence: Mapped[bool] = mapped_column(default=True)
    confidence_threshold: Mapped[float] = mapped_column(Float, default=0.7)
    auto_approve_low_risk: Mapped[bool] = mapped_column(default=True)
    auto_approve_medium_risk: Mapped[bool] = mapped_column(default=False)
    auto_approve_high_risk: Mapped[bool] = mapped_column(default=False)
    habit_reminders_enabled: Mapped[bool] = mapped_column(default=False)
    habit_reminder_channel: Mapped[str] = mapped_column(String(8), default="sms")
    habit_reminder_minutes_before: Mapped[int] = mapped_column(default=15)
    goal_checkin_enabled: Mapped[bool] = mapped_column(default=False)
    goal_checkin_frequency: Mapped[str] = mapped_column(String(16), default="weekly")
    goal_checkin_day_of_week: Mapped[int] = mapped_column(default=0)  # 0 = Monday
    goal_checkin_time: Mapped[str] = mapped_column(String(5), default="09:00")
    goal_checkin_channel: Mapped[str] = mapped_column(String(8), default="call")
    allow_proactive_outreach: Mapped[bool] = mapped_column(default=False)
    proactive_outreach_frequency: Mapped[str] = mapped_column(String(16), default="weekly")
    proactive_outreach_topics: Mapped[list[Any]] = mapped_column(default=list)
    proactive_outreach_day_of_week: Mapped[int] = mapped_column(default=2)  # 0 = Monday; weekly and less often
    proactive_outreach_time: Mapped[str] = mapped_column(String(5), default="10:00")
    proactive_outreach_channel: Mapped[str] = mapped_column(String(8), default="sms")
    calendar_working_hours_only: Mapped[bool] = mapped_column(default=True)
    working_hours_start: Mapped[str] = mapped_column(String(5), default="09:00")
    working_hours_end: Mapped[str] = mapped_column(String(5), default="17:00")
    working_days: Mapped[list[Any]] = mapped_column(default=lambda: list(range(7)))  # 0 = Monday
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    quiet_hours_start: Mapped[str] = mapped_column(String(5), default="21:00")
    quiet_hours_end: Mapped[str] = mapped_column(String(5), default="08:00")
    max_emails_per_day: Mapped[int] = mapped_column(default=10)
    max_sms_per_day: Mapped[int] = mapped_column(default=20)
    max_calls_per_day: Mapped[int] = mapped_column(default=5)
    max_external_emails_per_day: Mapped[int] = mapped_column(default=5)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TeamAISettings(Base):
    """A team's policy. A team can only restrict what its members may enable."""

    __tablename__ = "team_ai_settings"

    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    agent_actions_enabled: Mapped[bool] = mapped_column(default=True)
    allow_send_email: Mapped[bool] = mapped_column(default=True)
    allow_send_sms: Mapped[bool] = mapped_column(default=True)
    allow_voice_calls: Mapped[bool] = mapped_column(default=True)
    allow_create_tasks: Mapped[bool] = mapped_column(default=True)
    allow_schedule_reminders: Mapped[bool] = mapped_column(default=True)
    allow_calendar_events: Mapped[bool] = mapped_column(default=True)
    allow_external_email: Mapped[bool] = mapped_column(default=True)
    require_confirmation: Mapped[bool] = mapped_column(default=False)
    min_confidence_threshold: Mapped[float] = mapped_column(Float, default=0.5)
    allow_user_auto_approve_low: Mapped[bool] = mapped_column(default=True)
    allow_user_auto_approve_medium: Mapped[bool] = mapped_column(default=True)
    allow_user_auto_approve_high: Mapped[bool] = mapped_column(default=False)
    require_admin_approval_critical: Mapped[bool] = mapped_column(default=False)
    blocked_topics: Mapped[list[Any]] = mapped_column(default=list)
    crisis_keywords: Mapped[list[Any]] = mapped_column(default=list)
    crisis_escalation_email: Mapped[str | None] = mapped_column(String(320))
    coach_name: Mapped[str] = mapped_column(String(100), default="Vision Coach")
    coach_tone: Mapped[str] = mapped_column(String(100), default="warm and encouraging")
    custom_instructions: Mapped[str] = mapped_column(Text, default="")
    max_emails_per_day: Mapped[int] = mapped_column(default=10)
    max_sms_per_day: Mapped[int] = mapped_column(default=20)
    max_calls_per_day: Mapped[int] = mapped_column(default=5)
    max_external_emails_per_day: Mapped[int] = mapped_column(default=5)
    retention_days: Mapped[int] = mapped_column(default=400)
    """How long the team's actions are kept (history, traces, feedback; see `db.retention`): 90 to 400 days."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FeatureFlag(Base):
    __tablename__ = "feature_flags"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=False)
    team_ids: Mapped[list[Any]] = mapped_column(default=list)
    user_ids: Mapped[list[Any]] = mapped_column(default=list)
    rollout_percentage: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_column()


# --- coaching content -------------------------------------------------------------------------


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    created_at: Mapped[datetime] = created_column()
    completed_at: Mapped[datetime | None]


class Habit(Base):
    __tablename__ = "habits"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    reminder_time: Mapped[str | None] = mapped_column(String(5))  # "HH:MM" local
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_column()


class HabitCompletion(Base):
    __tablename__ = "habit_completions"
    __table_args__ = (UniqueConstraint("habit_id", "completed_on"),)

    id: Mapped[str] = id_column()
    habit_id: Mapped[str] = mapped_column(ForeignKey("habits.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = user_fk()
    completed_on: Mapped[date] = mapped_column(Date)  # the user's local date
    completed_at: Mapped[datetime] = created_column()


class Goal(Base):
    __tablename__ = "goals"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[int] = mapped_column(default=0)
    last_note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    target_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    relationship: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = created_column()


# One contact per address and person, compared without case as `send_email_to_contact` finds them.
Index("uq_contacts_user_id_email", Contact.user_id, func.lower(Contact.email), unique=True)


class Reminder(Base):
    __tablename__ = "reminders"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    message: Mapped[str] = mapped_column(Text)
    remind_at: Mapped[datetime]
    recurrence: Mapped[str | None] = mapped_column(String(500))  # RFC 5545 RRULE
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    approved_by: Mapped[str | None] = mapped_column(String(32))
    """The action whose recorded human yes set this up, so its deliveries run without asking again; None
    when policy approved it without one, and each delivery is then decided as it comes."""
    created_at: Mapped[datetime] = created_column()


class ScheduledJob(Base):
    """A durable job for the scheduler worker."""

    __tablename__ = "scheduled_jobs"
    __table_args__ = (Index("ix_scheduled_jobs_status_due", "status", "next_attempt_at"),)

    id: Mapped[str] = id_column()
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = user_fk(nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    due_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_at: Mapped[datetime | None]
    # Set by planners of recurring work ("habit H on date D"), so two planners never create one job twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ActionSequence(Base):
    """A multi-step workflow: a trigger, then steps (delay + tool + arguments) run by the scheduler."""

    __tablename__ = "action_sequences"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(16))  # time | habit_complete | goal_progress | manual
    trigger_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    steps: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | running | completed | cancelled | failed
    next_step: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(String(32))  # as Reminder.approved_by, for its steps
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- actions ----------------------------------------------------------------------------------


class PendingAgentAction(Base):
    """An action waiting for a human decision.

    Status: pending_confirmation -> confirmed -> executing -> executed | failed, or -> cancelled | expired.
    The approval is bound to the owner and `args_digest`; transitions are compare-and-set updates.
    """

    __tablename__ = "pending_agent_actions"
    __table_args__ = (Index("ix_pending_agent_actions_user_status", "user_id", "status"),)

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    tool: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    args_digest: Mapped[str] = mapped_column(String(64))
    risk_level: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))  # why confirmation is needed
    confidence: Mapped[float | None] = mapped_column(Float)
    requires_admin: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(16), default="api")  # voice | chat | api | scheduler
    call_session_id: Mapped[str | None] = mapped_column(String(32))
    prompt: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(24), default="pending_confirmation")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(32))


class PendingApproval(Base):
    """A team whose admins must approve a pending action (a critical one, for each of the member's teams
    that asks for it). The action runs once every such team has approved; one rejection cancels it."""

    __tablename__ = "pending_approvals"
    __table_args__ = (Index("ix_pending_approvals_team_open", "team_id", "approved_at"),)

    action_id: Mapped[str] = mapped_column(ForeignKey("pending_agent_actions.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    approved_by: Mapped[str | None] = mapped_column(String(32))
    approved_at: Mapped[datetime | None]


ACTION_STEP_BITS = {
    "proposed": 1, "confirmed": 2, "executed": 4, "failed": 8, "denied": 16, "cancelled": 32, "expired": 64, "undone": 128,
}
"""The bit of each history step status in `ActionTeam.steps` (a status not here sets no bit)."""


class ActionTeam(Base):
    """A team whose policy governed an action (every team of the user when it was requested): a team's
    admin views show the actions their team governed, and no others.

    It is also the team's roll-up of the action, kept by every step's write (`tools.audit`): who, which
    tool, when it was requested, which kinds of step it has had (`steps`, bits of `ACTION_STEP_BITS`) and
    the code of its last denial. The team summary counts actions from these rows alone."""

    __tablename__ = "action_teams"
    __table_args__ = (
        Index("ix_action_teams_team_action", "team_id", "action_id"),
        # One row per action and team: a retried action's first step updates the row its first try wrote.
        Index("uq_action_teams_action_team", "action_id", "team_id", unique=True),
        # A team's actions requested in a time range: the summary's and the retention purge's starting set.
        Index("ix_action_teams_team_requested", "team_id", "requested_at"),
    )

    id: Mapped[str] = id_column()
    action_id: Mapped[str] = mapped_column(String(32), index=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    requested_at: Mapped[datetime] = created_column()
    """When the action was requested: written with its first step, so the time of that step."""
    user_id: Mapped[str] = mapped_column(String(32), default="")
    tool: Mapped[str] = mapped_column(String(64), default="")
    steps: Mapped[int] = mapped_column(default=0)
    denied_code: Mapped[str | None] = mapped_column(String(32))


class AgentActionHistory(Base):
    """One row per step of an action's life: proposed, confirmed, cancelled, expired, executed, failed, denied,
    undone (its own step, `result.undoes` naming the executed step, `source` where it was undone)."""

    __tablename__ = "agent_action_history"
    __table_args__ = (
        # A time range of every person's steps, in keyset order: the team export and the retention purge.
        Index("ix_agent_action_history_created", "created_at", "id"),
        # A person's history newest first, ties by id: the keyset order of every history page and export, so
        # a page reads its rows in index order and stops at the LIMIT (with (user_id, created_at) alone,
        # PostgreSQL sorted all of a person's rows for each page: ~0.8 s at 100,000 actions).
        Index("ix_agent_action_history_user_created_id", "user_id", "created_at", "id"),
        # An action is undone at most once: of two concurrent undos, the second insert of its `undone` step fails.
        Index(
            "uq_agent_action_history_undone", "action_id", unique=True,
            sqlite_where=text("status = 'undone'"), postgresql_where=text("status = 'undone'"),
        ),
    )

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    action_id: Mapped[str] = mapped_column(String(32), index=True)
    tool: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16), default="api")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float)
    risk_level: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()


class AgentExecutionTrace(Base):
    __tablename__ = "agent_execution_traces"
    __table_args__ = (Index("ix_agent_execution_traces_created", "created_at", "id"),)  # as history's

    id: Mapped[str] = id_column()
    action_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = user_fk()
    trace_type: Mapped[str] = mapped_column(String(24))  # tool_call | decision_point | tool_result
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = created_column()


class AgentActionFeedback(Base):
    __tablename__ = "agent_action_feedback"
    __table_args__ = (Index("ix_agent_action_feedback_created", "created_at", "id"),)  # as history's

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    action_id: Mapped[str] = mapped_column(String(32), index=True)
    # Indexed: deleting a history row (the retention purge) looks up the feedback that points at it.
    history_id: Mapped[str | None] = mapped_column(
        ForeignKey("agent_action_history.id", ondelete="SET NULL"), index=True
    )
    feedback_type: Mapped[str] = mapped_column(String(16))  # approved | rejected | edited | rating
    original_payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    edited_payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rating: Mapped[int | None]
    tags: Mapped[list[Any]] = mapped_column(default=list)  # reason tags of a thumbs up or down (FEEDBACK_TAGS)
    comment: Mapped[str | None] = mapped_column(Text)
    # A rejection's reason (tools.pending.REJECTION_REASONS); the person's own words are the comment.
    reason_code: Mapped[str | None] = mapped_column(String(32), index=True)
    time_to_decision_ms: Mapped[int | None]
    created_at: Mapped[datetime] = created_column()


class ConsentRecord(Base):
    """An opt-out (or opt-back-in) of one address on one channel. The newest row wins."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_address_channel", "address", "channel"),)

    id: Mapped[str] = id_column()
    user_id: Mapped[str | None] = user_fk(nullable=True)
    address: Mapped[str] = mapped_column(String(320))  # E.164 number or email address
    channel: Mapped[str] = mapped_column(String(8))  # sms | call | email
    opted_out: Mapped[bool] = mapped_column(Boolean)
    permanent: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(32))  # sms_keyword | twilio_21610 | voice_request | api
    created_at: Mapped[datetime] = created_column()


# --- calendar -------------------------------------------------------------------------------


class UserCalendarConnection(Base):
    """OAuth tokens of a connected calendar, sealed with a key derived from COACH_SECRET_KEY."""

    __tablename__ = "user_calendar_connections"
    __table_args__ = (UniqueConstraint("user_id", "provider"),)

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    provider: Mapped[str] = mapped_column(String(16), default="google")
    calendar_id: Mapped[str] = mapped_column(String(320), default="primary")
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None]
    scopes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OAuthState(Base):
    """One authorization-code flow in progress: the state we sent and the sealed PKCE verifier."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = user_fk()
    provider: Mapped[str] = mapped_column(String(16), default="google")
    code_verifier_sealed: Mapped[str] = mapped_column(Text)
    browser_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 (hex) of the starting browser's cookie
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_column()


class CalendarFeed(Base):
    """A user's private iCalendar feed; only the SHA-256 of the URL's secret is stored."""

    __tablename__ = "calendar_feeds"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_column()


class CalendarEvent(Base):
    __tablename__ = "calendar_events"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    provider: Mapped[str] = mapped_column(String(16), default="builtin")
    external_id: Mapped[str | None] = mapped_column(String(1024))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(500), default="")
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = created_column()


# --- calls ----------------------------------------------------------------------------------


class CallSession(Base):
    __tablename__ = "call_sessions"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(16))  # inbound | outbound | browser
    purpose: Mapped[str] = mapped_column(String(32), default="conversation")
    status: Mapped[str] = mapped_column(String(24), default="initiated")
    answered_by: Mapped[str | None] = mapped_column(String(32))
    end_reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = created_column()
    stream_opened_at: Mapped[datetime | None]  # set once, by the one media stream its token admitted
    ended_at: Mapped[datetime | None]


class CallTranscriptTurn(Base):
    __tablename__ = "call_transcript_turns"

    id: Mapped[str] = id_column()
    call_session_id: Mapped[str] = mapped_column(
        ForeignKey("call_sessions.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int]
    role: Mapped[str] = mapped_column(String(8))  # caller | coach
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()


# --- conversations and model usage ---------------------------------------------------------


class Conversation(Base):
    """One conversation with the model: a call (its id is the call session's), a browser session, a chat
    exchange (one `POST /api/chat`) or a scheduler run. `error` says why it failed, if it did."""

    __tablename__ = "conversations"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_fk()
    kind: Mapped[str] = mapped_column(String(16))  # call | browser | chat | scheduler
    started_at: Mapped[datetime] = created_column()
    ended_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class ConversationTeam(Base):
    """A team whose member held the conversation (every team of the user when it started), with the start
    time copied so that a team's conversation list is one index range."""

    __tablename__ = "conversation_teams"
    __table_args__ = (Index("ix_conversation_teams_team_started", "team_id", "started_at", "conversation_id"),)

    conversation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    started_at: Mapped[datetime]


class ConversationAction(Base):
    """The conversation an action was requested in (written with the action's first history row)."""

    __tablename__ = "conversation_actions"

    action_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(32), index=True)


MODALITIES = ("text", "audio", "image", "video", "document")
"""The modalities Gemini reports token counts for (`MediaModality`, lower-cased)."""


class ModelTurn(Base):
    """One model turn's token usage, exactly as the model reported it. A per-modality column is NULL when the
    model reported no count for that modality: counts are never derived (no subtraction from totals)."""

    __tablename__ = "model_turns"
    __table_args__ = (
        Index("ix_model_turns_conversation_started", "conversation_id", "started_at"),
        Index("ix_model_turns_user_started", "user_id", "started_at"),
    )

    id: Mapped[str] = id_column()
    conversation_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(100))
    input_tokens: Mapped[int] = mapped_column(default=0)
    output_tokens: Mapped[int] = mapped_column(default=0)
    thoughts_tokens: Mapped[int | None]
    cached_tokens: Mapped[int | None]
    input_text_tokens: Mapped[int | None]
    input_audio_tokens: Mapped[int | None]
    input_image_tokens: Mapped[int | None]
    input_video_tokens: Mapped[int | None]
    input_document_tokens: Mapped[int | None]
    output_text_tokens: Mapped[int | None]
    output_audio_tokens: Mapped[int | None]
    output_image_tokens: Mapped[int | None]
    output_video_tokens: Mapped[int | None]
    output_document_tokens: Mapped[int | None]
    reported: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the usage metadata as received
    latency_ms: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime]


# --- development outbox ---------------------------------------------------------------------


class OutboxMessage(Base):
    """A message a channel without credentials stored instead of sending (COACH_OUTBOX, development only):
    never sent. One per action: an action delivers one message."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_user_created", "user_id", "created_at"),)

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    action_id: Mapped[str | None] = mapped_column(String(32), unique=True)  # None: a sign-in code
    channel: Mapped[str] = mapped_column(String(8))  # sms | call | email
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()
