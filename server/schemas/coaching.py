"""Bodies of the coaching data endpoints (habits, goals, tasks, contacts, reminders), and how rows are shown.

A create names every required field (a task's and a reminder's are the arguments of their tools,
`tools.catalogue.CreateTask` and `ScheduleReminder`, checked before the tool runs); an update (PUT) is
partial, like the settings. Unknown fields are refused, strings are bounded by their columns, and email
addresses and phone numbers are normalised here, so a row is only ever written in the form the senders
look it up by.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from db.models import Contact, Goal, Habit, Reminder, Task
from policy.addresses import InvalidAddress, normalize_email, normalize_phone
from server.schemas.settings import ClockTime, PartialUpdate


def _email(value: str) -> str:
    try:
        return normalize_email(value)
    except InvalidAddress as exc:
        raise ValueError(str(exc)) from None


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_phone(value)
    except InvalidAddress as exc:
        raise ValueError(str(exc)) from None


Email = Annotated[str, Field(max_length=320), AfterValidator(_email)]
Phone = Annotated[str | None, Field(max_length=40), AfterValidator(_phone)]
Progress = Annotated[int, Field(ge=0, le=100, description="percent done")]
TaskStatus = Literal["open", "done"]
GoalStatus = Literal["active", "completed", "paused", "abandoned"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
GoalTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
TaskTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Relationship = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
ReminderMessage = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class Create(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- habits ---------------------------------------------------------------------------------------


class HabitCreate(Create):
    name: Name
    description: Description = ""
    reminder_time: ClockTime | None = Field(default=None, description="HH:MM local time of the daily reminder")
    active: bool = True


class HabitUpdate(PartialUpdate):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"reminder_time"})

    name: Name | None = None
    description: Description | None = None
    reminder_time: ClockTime | None = None
    active: bool | None = None


def habit_json(row: Habit, completions: list[dt.date]) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "description": row.description, "reminder_time": row.reminder_time,
        "active": row.active, "created_at": row.created_at.isoformat(),
        "recent_completions": [day.isoformat() for day in completions],
    }


# --- goals ----------------------------------------------------------------------------------------


class GoalCreate(Create):
    title: GoalTitle
    description: Description = ""
    progress: Progress = 0
    target_date: dt.date | None = None


class GoalUpdate(PartialUpdate):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"target_date"})

    title: GoalTitle | None = None
    description: Description | None = None
    progress: Progress | None = None
    last_note: Description | None = None
    status: GoalStatus | None = None
    target_date: dt.date | None = None


def goal_json(row: Goal) -> dict[str, Any]:
    return {
        "id": row.id, "title": row.title, "description": row.description, "progress": row.progress,
        "last_note": row.last_note, "status": row.status,
        "target_date": row.target_date and row.target_date.isoformat(),
        "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
    }


# --- tasks ----------------------------------------------------------------------------------------


class TaskUpdate(PartialUpdate):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"due_date"})

    title: TaskTitle | None = None
    description: Description | None = None
    due_date: dt.date | None = None
    status: TaskStatus | None = None


def task_json(row: Task) -> dict[str, Any]:
    return {
        "id": row.id, "title": row.title, "description": row.description,
        "due_date": row.due_date and row.due_date.isoformat(), "status": row.status,
        "created_at": row.created_at.isoformat(), "completed_at": row.completed_at and row.completed_at.isoformat(),
    }


# --- contacts -------------------------------------------------------------------------------------


class ContactCreate(Create):
    name: Name
    email: Email
    phone: Phone = None
    relationship: Relationship = ""


class ContactUpdate(PartialUpdate):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"phone"})

    name: Name | None = None
    email: Email | None = None
    phone: Phone = None
    relationship: Relationship | None = None


Consent = Literal["ok", "opted_out"]


def contact_json(row: Contact, consent: Consent) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "email": row.email, "phone": row.phone, "relationship": row.relationship,
        "consent": consent, "created_at": row.created_at.isoformat(),
    }


# --- reminders ------------------------------------------------------------------------------------


class ReminderUpdate(PartialUpdate):
    """Only the words: a new time or channel is a new reminder for policy to decide (delete, then create)."""

    message: ReminderMessage | None = None


def reminder_json(row: Reminder) -> dict[str, Any]:
    return {
        "id": row.id, "message": row.message, "remind_at": row.remind_at.isoformat(), "recurrence": row.recurrence,
        "timezone": row.timezone, "channel": row.channel, "status": row.status,
        "created_at": row.created_at.isoformat(),
    }
