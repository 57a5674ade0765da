"""The tool catalogue: one argument model per tool. The model is the single source of truth for both
validation in dispatch and the Gemini function declaration the voice session and text chat send."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from google.genai import types
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.timespec import resolve_local_time

ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", max_length=5, description="HH:MM in the user's time zone")]
CallType = Literal["habit_reminder", "goal_checkin", "accountability", "celebration", "custom"]
ReminderChannel = Literal["sms", "email", "call"]


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class GetUserData(ToolArgs):
    """The caller's habits (and whether each is done today), active goals, open tasks, pending and recent actions."""


class CreateTask(ToolArgs):
    """Add a task to the user's task list."""

    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=4000)
    due_date: dt.date | None = Field(default=None, description="YYYY-MM-DD in the user's time zone")


class ScheduleReminder(ToolArgs):
    """Schedule a one-off or repeating reminder. Turn what the user said into structured time yourself, from
    their current local time and weekday in your context: remind_at is the first reminder's local date and
    time, recurrence an RFC 5545 RRULE when it repeats. Say the result's read_back to the user."""

    message: str = Field(min_length=1, max_length=1000, description="what to remind the user of")
    remind_at: str = Field(
        max_length=64,
        description=(
            "the first reminder as a local ISO 8601 datetime WITHOUT offset, YYYY-MM-DDTHH:MM, in the future. "
            "Examples when it is Tuesday 2026-11-24 14:00: 'in 20 minutes' -> 2026-11-24T14:20; "
            "'next Tuesday at 9' -> 2026-12-01T09:00 (ask am or pm when unclear); 'tomorrow evening' -> "
            "2026-11-25T18:00; 'every morning at 7' -> 2026-11-25T07:00 (the first one still to come)"
        )
    )
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone of remind_at, e.g. Europe/London; only when the user names another "
        "place's time, otherwise leave it out and the user's own time zone is used",
    )
    recurrence: str | None = Field(
        default=None,
        max_length=500,
        description=(
            "only for a repeating reminder: an RFC 5545 RRULE without DTSTART; the time of day comes from "
            "remind_at. 'every morning at 7' -> FREQ=DAILY; 'every weekday at 6:30' -> "
            "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR; 'on Fridays' -> FREQ=WEEKLY;BYDAY=FR; 'every other Monday and "
            "Thursday, 10 times' -> FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=10; 'first Monday of the month' "
            "-> FREQ=MONTHLY;BYDAY=1MO; 'until Christmas' adds UNTIL=20261225T235959 (local time, no Z). "
            "At most hourly. Leave it out for a one-off"
        ),
    )
    channel: ReminderChannel = Field(default="sms", description="how to remind: sms, email or call")


class MarkHabitComplete(ToolArgs):
    """Record that the user did a habit today. Give habit_id or habit_name."""

    habit_id: str | None = Field(default=None, max_length=64)
    habit_name: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def one_reference(self) -> MarkHabitComplete:
        if not (self.habit_id or self.habit_name):
            raise ValueError("give habit_id or habit_name")
        return self


class UpdateGoalProgress(ToolArgs):
    """Set a goal's progress (0-100) with an optional note. Give goal_id or goal_name."""

    goal_id: str | None = Field(default=None, max_length=64)
    goal_name: str | None = Field(default=None, max_length=300)
    progress: int = Field(ge=0, le=100)
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def one_reference(self) -> UpdateGoalProgress:
        if not (self.goal_id or self.goal_name):
            raise ValueError("give goal_id or goal_name")
        return self


class CreateCalendarEvent(ToolArgs):
    """Add an event to the user's calendar (Google when connected, else built-in); start_time is local ISO 8601."""

    title: str = Field(min_length=1, max_length=500)
    start_time: str = Field(max_length=64, description="local ISO 8601 datetime, e.g. 2026-12-01T10:00")
    duration_minutes: int = Field(default=60, ge=5, le=1440)
    description: str = Field(default="", max_length=4000)
    location: str = Field(default="", max_length=500)

    def window(self, zone: ZoneInfo, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as aware UTC; TimeSpecError for a start that is not a time or already past."""
        start = resolve_local_time(self.start_time, zone, now)
        return start, start + dt.timedelta(minutes=self.duration_minutes)


class CheckCalendarAvailability(ToolArgs):
    """Busy and free times in the user's calendar on one date, optionally only between two times that day."""

    date: dt.date = Field(description="YYYY-MM-DD in the user's time zone")
    time_range_start: ClockTime = "00:00"
    time_range_end: ClockTime | None = Field(default=None, description="HH:MM; the end of the day when left out")

    @model_validator(mode="after")
    def ordered(self) -> CheckCalendarAvailability:
        if self.time_range_end is not None and self.time_range_end <= self.time_range_start:
            raise ValueError("time_range_end must be after time_range_start")
        return self


class FindOptimalTime(ToolArgs):
    """Suggest the best free times in the next days for an activity, from the user's habits and calendar."""

    activity_type: Literal["habit", "goal_work", "reflection", "exercise"]
    duration_minutes: int = Field(default=30, ge=5, le=480)
    preferred_time_of_day: Literal["morning", "afternoon", "evening", "any"] = "any"


class SendSms(ToolArgs):
    """Send an SMS to the user themself (never to anyone else)."""

    message: str = Field(min_length=1, max_length=1600)


class SendEmail(ToolArgs):
    """Send an email to the user themself."""

    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20000)


class MakeVoiceCall(ToolArgs):
    """Have the coach phone the user later in a separate call (not the current one)."""

    call_type: CallType
    message: str = Field(default="", max_length=1000, description="what the call is about; required for custom")

    @model_validator(mode="after")
    def custom_needs_message(self) -> MakeVoiceCall:
        if self.call_type == "custom" and not self.message:
            raise ValueError("a custom call needs a message")
        return self


class SendEmailToContact(ToolArgs):
    """Email one of the user's saved contacts on the user's behalf (always needs the user's approval)."""

    to_email: str = Field(min_length=3, max_length=320)
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20000)
    from_name: str | None = Field(default=None, max_length=100)


class SequenceStep(ToolArgs):
    """One step of an action sequence: wait `delay_minutes` after the previous step (or the start), then run."""

    delay_minutes: int = Field(default=0, ge=0, le=60 * 24 * 30)
    tool: str = Field(min_length=1, max_length=64)
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def runnable_step(self) -> SequenceStep:
        if self.tool in NOT_IN_SEQUENCES or self.tool not in TOOL_ARGS:
            raise ValueError(f"{self.tool!r} cannot be a step of a sequence")
        TOOL_ARGS[self.tool].model_validate(self.args)
        return self


class CreateActionSequence(ToolArgs):
    """Create a multi-step workflow: a trigger, then actions run one after another with delays.

    trigger: time (at start_at, local ISO datetime; now if omitted), habit_complete (when the user completes
    habit_name, or any habit), goal_progress (when goal_name, or any goal, gets progress), manual (run on request).
    """

    name: str = Field(min_length=1, max_length=200)
    trigger: Literal["time", "habit_complete", "goal_progress", "manual"]
    actions: list[SequenceStep] = Field(min_length=1, max_length=20)
    start_at: str | None = Field(default=None, max_length=64, description="time trigger: local ISO 8601 datetime")
    habit_name: str | None = Field(default=None, max_length=200, description="habit_complete trigger: which habit")
    goal_name: str | None = Field(default=None, max_length=300, description="goal_progress trigger: which goal")

    @model_validator(mode="after")
    def options_match_trigger(self) -> CreateActionSequence:
        for option, trigger in (("start_at", "time"), ("habit_name", "habit_complete"), ("goal_name", "goal_progress")):
            if getattr(self, option) is not None and self.trigger != trigger:
                raise ValueError(f"{option} only goes with the {trigger} trigger")
        return self


class PendingActionRef(ToolArgs):
    """Resolve a proposed action by its id, only after the user clearly said so."""

    action_id: str = Field(min_length=1, max_length=64)


class RecordOptOut(ToolArgs):
    """Record that the user does not want calls (or texts, or emails) from the coach any more."""

    channel: Literal["call", "sms", "email", "all"] = "call"


TOOL_ARGS: dict[str, type[ToolArgs]] = {
    "get_user_data": GetUserData,
    "create_task": CreateTask,
    "schedule_reminder": ScheduleReminder,
    "mark_habit_complete": MarkHabitComplete,
    "update_goal_progress": UpdateGoalProgress,
    "create_calendar_event": CreateCalendarEvent,
    "check_calendar_availability": CheckCalendarAvailability,
    "find_optimal_time": FindOptimalTime,
    "send_sms": SendSms,
    "send_email": SendEmail,
    "make_voice_call": MakeVoiceCall,
    "send_email_to_contact": SendEmailToContact,
    "record_opt_out": RecordOptOut,
    "create_action_sequence": CreateActionSequence,
    "confirm_pending_action": PendingActionRef,
    "cancel_pending_action": PendingActionRef,
}
PENDING_TOOLS = frozenset({"confirm_pending_action", "cancel_pending_action"})
# A step may not start another sequence or resolve a pending action (that is a human's decision).
NOT_IN_SEQUENCES = PENDING_TOOLS | {"create_action_sequence"}

_DESCRIPTIONS = {
    "confirm_pending_action": "Confirm a proposed action after the user clearly said yes to it. Never on your own.",
    "cancel_pending_action": "Cancel a proposed action when the user says no or changes their mind.",
}
_CONFIDENCE = {
    "type": "number",
    "minimum": 0,
    "maximum": 1,
    "description": "how sure you are that the user asked for exactly this (0..1)",
}


def json_schema(model: type[ToolArgs]) -> dict[str, Any]:
    schema = _strip_titles(model.model_json_schema())
    schema.pop("description", None)
    schema.setdefault("properties", {})["confidence"] = _CONFIDENCE
    return schema


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _strip_titles(value) for key, value in node.items() if key != "title"}
    if isinstance(node, list):
        return [_strip_titles(item) for item in node]
    return node


def function_declarations(tool_names: list[str]) -> list[types.FunctionDeclaration]:
    """Gemini declarations for `tool_names` (the caller drops tools behind a disabled flag)."""
    return [
        types.FunctionDeclaration(
            name=name,
            description=_DESCRIPTIONS.get(name) or (TOOL_ARGS[name].__doc__ or "").strip(),
            parameters_json_schema=json_schema(TOOL_ARGS[name]),
        )
        for name in tool_names
    ]
