"""Request bodies for the settings endpoints. PUT accepts a partial object; unknown fields are refused."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from db.retention import MIN_RETENTION_DAYS, PLATFORM_RETENTION_DAYS
from policy.addresses import InvalidAddress, normalize_email, validate_timezone

ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, 24-hour")]
Channel = Literal["sms", "email", "call"]
DailyLimit = Annotated[int, Field(ge=0, le=1000)]
Threshold = Annotated[float, Field(ge=0.5, le=0.95)]


def _timezone(value: str) -> str:
    try:
        return validate_timezone(value)
    except InvalidAddress as exc:
        raise ValueError(str(exc)) from None


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_email(value)
    except InvalidAddress as exc:
        raise ValueError(str(exc)) from None


TimeZoneName = Annotated[str, AfterValidator(_timezone)]


def _distinct_days(days: list[int]) -> list[int]:
    if len(set(days)) != len(days):
        raise ValueError("each day at most once")
    return sorted(days)


WorkingDays = Annotated[
    list[Annotated[int, Field(ge=0, le=6)]], Field(min_length=1, description="0 = Monday ... 6 = Sunday"),
    AfterValidator(_distinct_days),
]


class PartialUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nullable_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        """`null` is not "unchanged": only fields whose column may be empty accept it."""
        if value is None and info.field_name not in cls.nullable_fields:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent."""
        return self.model_dump(exclude_unset=True)


class PermissionsAndLimits(PartialUpdate):
    """Fields users and teams both have: the master toggle, per-action permissions, daily limits."""

    agent_actions_enabled: bool | None = None
    allow_send_email: bool | None = None
    allow_send_sms: bool | None = None
    allow_voice_calls: bool | None = None
    allow_create_tasks: bool | None = None
    allow_schedule_reminders: bool | None = None
    allow_calendar_events: bool | None = None
    allow_external_email: bool | None = None
    max_emails_per_day: DailyLimit | None = None
    max_sms_per_day: DailyLimit | None = None
    max_calls_per_day: DailyLimit | None = None
    max_external_emails_per_day: DailyLimit | None = None


class UserSettingsUpdate(PermissionsAndLimits):
    require_confirmation_email: bool | None = None
    require_confirmation_sms: bool | None = None
    require_confirmation_voice: bool | None = None
    require_confirmation_calendar: bool | None = None
    require_high_confidence: bool | None = None
    confidence_threshold: Threshold | None = None
    auto_approve_low_risk: bool | None = None
    auto_approve_medium_risk: bool | None = None
    auto_approve_high_risk: bool | None = None
    habit_reminders_enabled: bool | None = None
    habit_reminder_channel: Channel | None = None
    habit_reminder_minutes_before: Annotated[int, Field(ge=0, le=1440)] | None = None
    goal_checkin_enabled: bool | None = None
    goal_checkin_frequency: Literal["daily", "weekly", "biweekly", "monthly"] | None = None
    goal_checkin_day_of_week: Annotated[int, Field(ge=0, le=6)] | None = None
    goal_checkin_time: ClockTime | None = None
    goal_checkin_channel: Channel | None = None
    allow_proactive_outreach: bool | None = None
    proactive_outreach_frequency: Literal["daily", "weekly", "biweekly", "monthly"] | None = None
    proactive_outreach_topics: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = None
    proactive_outreach_day_of_week: Annotated[int, Field(ge=0, le=6)] | None = None
    proactive_outreach_time: ClockTime | None = None
    proactive_outreach_channel: Channel | None = None
    calendar_working_hours_only: bool | None = None
    working_hours_start: ClockTime | None = None
    working_hours_end: ClockTime | None = None
    working_days: WorkingDays | None = None
    timezone: TimeZoneName | None = None
    quiet_hours_start: ClockTime | None = None
    quiet_hours_end: ClockTime | None = None


class TeamSettingsUpdate(PermissionsAndLimits):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"crisis_escalation_email"})

    require_confirmation: bool | None = None
    min_confidence_threshold: Threshold | None = None
    allow_user_auto_approve_low: bool | None = None
    allow_user_auto_approve_medium: bool | None = None
    allow_user_auto_approve_high: bool | None = None
    require_admin_approval_critical: bool | None = None
    blocked_topics: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = None
    crisis_keywords: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = None
    crisis_escalation_email: Annotated[str | None, AfterValidator(_email)] = None
    coach_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    coach_tone: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    custom_instructions: Annotated[str, Field(max_length=4000)] | None = None
    retention_days: Annotated[
        int, Field(ge=MIN_RETENTION_DAYS, le=PLATFORM_RETENTION_DAYS, description="days the team's action records are kept")
    ] | None = None
