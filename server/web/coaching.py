"""`/habits`, `/goals`, `/tasks`, `/contacts`, `/reminders`: the person's coaching data, as five collections of
the shared list/form pattern (server/web/records.py).

The writes are the JSON routes' (server/routes/coaching.py): the same schemas, the same repositories, and the
same action core where a tool exists for the write: a task, a reminder, a habit done today and a goal's
progress go through `dispatch()` as the person, so policy decides, history records them (and can undo them),
and one that needs a yes waits for it on the home page.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import coaching
from db.models import ActionSequence, Contact, Goal, Habit, Reminder, Task
from server.auth import Principal
from server.context import app_context
from server.errors import ApiError, not_found
from server.routes.coaching import (
    apply_task_update,
    apply_update,
    contacts_json,
    habits_json,
    local_today,
    set_fields,
    through_tool,
    write_contact,
)
from server.routes.sequences import sequence_json
from server.schemas.coaching import (
    ContactCreate,
    ContactUpdate,
    GoalCreate,
    GoalUpdate,
    HabitCreate,
    HabitUpdate,
    ReminderUpdate,
    TaskUpdate,
    goal_json,
    reminder_json,
    task_json,
)
from server.web.pages import page, see_other
from server.web.records import (
    Collection,
    Field,
    FormValues,
    Invalid,
    Outcome,
    PageCall,
    RowAction,
    collection_routes,
    tool_outcome,
    validated,
)
from tools.catalogue import (
    CreateTask,
    MarkHabitComplete,
    ScheduleReminder,
    UpdateGoalProgress,
)
from tools.scheduler import sequences
from tools.scheduler.handlers import delete_reminder

CANCELLABLE_SEQUENCES = ("active", "running")
SEQUENCE_STARTS = {
    "time": "at its time", "habit_complete": "when a habit is done", "goal_progress": "when a goal moves",
    "manual": "when you start it",
}
RECURRENCES = (
    ("", "Once"),
    ("FREQ=DAILY", "Every day"),
    ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "Every weekday"),
    ("FREQ=WEEKLY", "Every week"),
    ("FREQ=MONTHLY", "Every month"),
)


async def _added(session: AsyncSession, row: Any) -> Outcome:
    session.add(row)
    await session.flush()
    return "done"


async def _updated(call: PageCall, row: Any, update: Any) -> None:
    await apply_update(call.session, row, update)


async def _deleted(session: AsyncSession, row: Any) -> None:
    await session.delete(row)
    await session.flush()


# --- habits -----------------------------------------------------------------------------------------

HABIT_FIELDS = (
    Field("name", "Name", maxlength=200),
    Field("description", "Description", control="textarea", maxlength=4000),
    Field("reminder_time", "Daily reminder at", control="time", blank_is_none=True,
          hint="Your local time. Leave it empty for no reminder."),
    Field("active", "Active", control="checkbox", default=True),
)


async def _shown_habits(call: PageCall, habits: list[Habit]) -> list[dict[str, Any]]:
    today = (await local_today(call.request, call.session, call.viewer.user_id)).isoformat()
    shown = await habits_json(call.request, call.session, call.viewer, habits)
    return [{**habit, "done_today": today in habit["recent_completions"]} for habit in shown]


async def _mark_done(call: PageCall, habit: Habit, values: FormValues) -> Outcome:
    result = await through_tool(call.request, call.viewer, "mark_habit_complete", MarkHabitComplete(habit_id=habit.id))
    return tool_outcome(result)


HABITS = Collection(
    name="habits", noun="habit", label_key="name", model=Habit,
    intro="What you mean to do every day. Mark one done today here, or tell the coach.",
    create_schema=HabitCreate, create_fields=HABIT_FIELDS, update_schema=HabitUpdate, edit_fields=HABIT_FIELDS,
    shown=_shown_habits,
    create=lambda call, body: _added(call.session, Habit(user_id=call.viewer.user_id, **body.model_dump())),
    update=_updated, delete=_deleted,
    row_actions=(RowAction("done", _mark_done),),
)


# --- goals ------------------------------------------------------------------------------------------

GOAL_FIELDS = (
    Field("title", "Title", maxlength=300),
    Field("description", "Description", control="textarea", maxlength=4000),
    Field("target_date", "Target date", control="date", blank_is_none=True),
)
PROGRESS_FIELDS = (
    Field("progress", "Progress (%)", control="number", minimum=0, maximum=100),
    Field("note", "Note", maxlength=2000),
)
GOAL_STATUSES = (("active", "Active"), ("completed", "Completed"), ("paused", "Paused"), ("abandoned", "Abandoned"))


async def _shown_goals(call: PageCall, goals: list[Goal]) -> list[dict[str, Any]]:
    return [goal_json(goal) for goal in goals]


async def _update_progress(call: PageCall, goal: Goal, values: FormValues) -> Outcome:
    update = validated(UpdateGoalProgress, values, PROGRESS_FIELDS, goal_id=goal.id)
    return tool_outcome(await through_tool(call.request, call.viewer, "update_goal_progress", update), "progress")


async def _progress_fields(call: PageCall) -> dict[str, Any]:
    return {"progress_fields": PROGRESS_FIELDS}


GOALS = Collection(
    name="goals", noun="goal", label_key="title", model=Goal,
    intro="Where you are heading, and how far along you are. A goal at 100% is completed.",
    create_schema=GoalCreate,
    create_fields=(*GOAL_FIELDS[:2], Field("progress", "Progress (%)", control="number", minimum=0, maximum=100,
                                           default="0"), GOAL_FIELDS[2]),
    update_schema=GoalUpdate,
    edit_fields=(*GOAL_FIELDS, Field("status", "Status", control="select", choices=GOAL_STATUSES)),
    shown=_shown_goals,
    create=lambda call, body: _added(call.session, Goal(user_id=call.viewer.user_id, **body.model_dump())),
    update=_updated, delete=_deleted,
    row_actions=(RowAction("progress", _update_progress, PROGRESS_FIELDS),),
    more=_progress_fields,
)


# --- tasks ------------------------------------------------------------------------------------------

TASK_FIELDS = (
    Field("title", "Title", maxlength=500),
    Field("description", "Description", control="textarea", maxlength=4000),
    Field("due_date", "Due date", control="date", blank_is_none=True),
)


async def _shown_tasks(call: PageCall, tasks: list[Task]) -> list[dict[str, Any]]:
    return [task_json(task) for task in tasks]


async def _create_task(call: PageCall, body: CreateTask) -> Outcome:
    return tool_outcome(await through_tool(call.request, call.viewer, "create_task", body), "title")


async def _update_task(call: PageCall, task: Task, update: TaskUpdate) -> None:
    await apply_task_update(call.session, task, update, app_context(call.request).services.clock())


async def _complete_task(call: PageCall, task: Task, values: FormValues) -> Outcome:
    await _update_task(call, task, TaskUpdate(status="done"))
    return "done"


TASKS = Collection(
    name="tasks", noun="task", label_key="title", model=Task,
    intro="Things to do once. The coach can add them for you too.",
    create_schema=CreateTask, create_fields=TASK_FIELDS, update_schema=TaskUpdate,
    edit_fields=(*TASK_FIELDS, Field("status", "Status", control="select", choices=(("open", "Open"), ("done", "Done")))),
    shown=_shown_tasks, create=_create_task, update=_update_task, delete=_deleted,
    row_actions=(RowAction("complete", _complete_task),),
)


# --- contacts ---------------------------------------------------------------------------------------

CONTACT_FIELDS = (
    Field("name", "Name", maxlength=200),
    Field("email", "Email address", control="email", maxlength=320),
    Field("phone", "Phone number", control="tel", maxlength=40, blank_is_none=True,
          hint="Optional, with the country code, e.g. +14155550100."),
    Field("relationship", "Relationship", maxlength=100, hint="Optional, e.g. coach, sister, manager."),
)


async def _shown_contacts(call: PageCall, contacts: list[Contact]) -> list[dict[str, Any]]:
    return await contacts_json(call.session, contacts)


async def _refuse_second_address(call: PageCall, email: str, contact_id: str | None = None) -> None:
    """A second contact with one address is refused next to the field (the unique index stands behind this)."""
    existing = await coaching.saved_contact(call.session, call.viewer.user_id, email)
    if existing is not None and existing.id != contact_id:
        raise Invalid({"email": f"{email} is already one of your contacts."})


async def _create_contact(call: PageCall, body: ContactCreate) -> Outcome:
    await _refuse_second_address(call, body.email)
    call.session.add(Contact(user_id=call.viewer.user_id, **body.model_dump()))
    await call.session.flush()
    return "done"


async def _update_contact(call: PageCall, contact: Contact, update: ContactUpdate) -> None:
    if update.email is not None:
        await _refuse_second_address(call, update.email, contact.id)
    set_fields(contact, update)
    await write_contact(call.session, contact)


CONTACTS = Collection(
    name="contacts", noun="contact", label_key="name", model=Contact,
    intro="The people the coach may email for you: these contacts are the only recipients "
          "send_email_to_contact may use, and never one who opted out.",
    create_schema=ContactCreate, create_fields=CONTACT_FIELDS, update_schema=ContactUpdate, edit_fields=CONTACT_FIELDS,
    shown=_shown_contacts, create=_create_contact, update=_update_contact, delete=_deleted,
)


# --- reminders and sequences ------------------------------------------------------------------------

REMINDER_CHANNELS = (("sms", "Text message"), ("email", "Email"), ("call", "Phone call"))
REMINDER_FIELDS = (
    Field("message", "Message", maxlength=1000),
    Field("remind_at", "When", control="datetime-local", hint="Your local time (the time zone in Settings)."),
    Field("recurrence", "Repeat", control="select", choices=RECURRENCES, blank_is_none=True),
    Field("channel", "How", control="select", choices=REMINDER_CHANNELS, default="sms"),
)


def _local(moment: datetime, zone: str) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    return f"{aware.astimezone(ZoneInfo(zone)):%a %d %b %Y, %H:%M} ({zone})"


async def _shown_reminders(call: PageCall, reminders: list[Reminder]) -> list[dict[str, Any]]:
    repeats = dict(RECURRENCES)
    return [
        {**reminder_json(row), "when": _local(row.remind_at, row.timezone),
         "repeats": repeats.get(row.recurrence or "", row.recurrence), "how": dict(REMINDER_CHANNELS)[row.channel]}
        for row in reminders
    ]


async def _create_reminder(call: PageCall, body: ScheduleReminder) -> Outcome:
    return tool_outcome(await through_tool(call.request, call.viewer, "schedule_reminder", body), "remind_at")


async def _delete_reminder(session: AsyncSession, reminder: Reminder) -> None:
    await delete_reminder(session, reminder)


async def _sequences(call: PageCall) -> dict[str, Any]:
    rows = await call.session.scalars(
        select(ActionSequence).where(ActionSequence.user_id == call.viewer.user_id)
        .order_by(ActionSequence.created_at.desc(), ActionSequence.id.desc())
    )
    return {"sequences": [
        {**sequence_json(row), "cancellable": row.status in CANCELLABLE_SEQUENCES, "step_count": len(row.steps),
         "starts": SEQUENCE_STARTS.get(row.trigger, row.trigger)}
        for row in rows
    ]}


REMINDERS = Collection(
    name="reminders", noun="reminder", label_key="message", model=Reminder,
    intro="Reminders the coach sends you. A new one is decided by your settings, like any action: "
          "it may wait for your yes on the home page.",
    create_schema=ScheduleReminder, create_fields=REMINDER_FIELDS, update_schema=ReminderUpdate,
    edit_fields=REMINDER_FIELDS[:1],
    shown=_shown_reminders, create=_create_reminder, update=_updated, delete=_delete_reminder, more=_sequences,
)


@page
async def cancel_sequence(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    """Cancel one of the person's sequences for good (the same `sequences.cancel` as the JSON route)."""
    row = await session.get(ActionSequence, request.path_params["sequence_id"])
    if row is None or row.user_id != viewer.user_id:
        raise not_found("No such sequence.")
    if not await sequences.cancel(session, row):
        raise ApiError(409, "INVALID_ARGUMENT", f"This sequence is already {row.status}.")
    return see_other(REMINDERS.path)


COLLECTIONS = (HABITS, GOALS, TASKS, CONTACTS, REMINDERS)
routes = [
    *(route for collection in COLLECTIONS for route in collection_routes(collection)),
    Route("/reminders/sequences/{sequence_id}/cancel", cancel_sequence, methods=["POST"]),
]
