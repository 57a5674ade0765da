"""The person's own coaching data: `GET|POST /api/{habits,goals,tasks,contacts,reminders}` and
`GET|PUT|DELETE` on `/{id}` of each.

Every route is scoped to the signed-in person: another user's id answers 404, like an unknown one, so ids
cannot be probed. Creating a task or a reminder goes through `tools.dispatch()` (a tool exists for it), so
policy decides and history records it; every other write is a plain write of the person's own rows.
Lists are newest first, `limit` rows at most.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from db import accounts, coaching, consent
from db.coaching import Owned
from db.models import ConsentRecord, Contact, Goal, Habit, Reminder, Task
from server.api import authenticated
from server.paging import query_limit
from server.auth import Principal
from server.context import app_context
from server.errors import ApiError, not_found
from server.routes.actions import tool_response
from server.schemas import parse_body
from server.schemas.coaching import (
    Consent, ContactCreate, ContactUpdate, GoalCreate, GoalUpdate, HabitCreate, HabitUpdate, ReminderUpdate,
    TaskUpdate, contact_json, goal_json, habit_json, reminder_json, task_json,
)
from server.schemas.settings import PartialUpdate
from tools.catalogue import CreateTask, ScheduleReminder
from tools.dispatch import dispatch
from tools.results import AgentToolResult
from tools.scheduler.handlers import delete_reminder

LIST_LIMIT, MAX_LIST_LIMIT = 100, 500
RECENT_COMPLETION_DAYS = 30


async def _owned(request: Request, session: AsyncSession, principal: Principal, model: type[Owned]) -> Owned:
    kind = _singular(model)
    row = await coaching.owned(session, model, principal.user_id, request.path_params[f"{kind}_id"])
    if row is None:
        raise not_found(f"no such {kind}")
    return row


def _singular(model: type[Owned]) -> str:
    return model.__tablename__.removesuffix("s")


async def _newest(request: Request, session: AsyncSession, principal: Principal, model: type[Owned]) -> list[Owned]:
    limit = query_limit(request, default=LIST_LIMIT, maximum=MAX_LIST_LIMIT)
    return list(await coaching.newest(session, model, principal.user_id, limit))


def set_fields(row: Any, update: PartialUpdate) -> None:
    for key, value in update.changes().items():
        setattr(row, key, value)


async def apply_update(session: AsyncSession, row: Any, update: PartialUpdate) -> None:
    set_fields(row, update)
    await session.flush()


async def _deleted(session: AsyncSession, row: Any) -> Response:
    await session.delete(row)
    await session.flush()
    return Response(status_code=204)


# --- writes through a tool ------------------------------------------------------------------------


async def through_tool(request: Request, principal: Principal, tool: str, body: BaseModel) -> AgentToolResult:
    """Run `tool` with `body` as the person, through policy and history. Confidence 1.0: the person typed
    exactly this request themself, so nobody's reading of what they meant is in question."""
    args = body.model_dump(mode="json", exclude_unset=True)
    return await dispatch(app_context(request).services, principal.actor("api"), tool, args, confidence=1.0)


def _not_created(result: AgentToolResult) -> Response | None:
    """202 with the pending action when policy wants a yes first; the tool's error when it was refused."""
    if result.needs_confirmation:
        return JSONResponse(result.to_json(), status_code=202)
    if not result.success:
        return tool_response(result)
    return None


# --- habits ---------------------------------------------------------------------------------------


async def habits_json(request: Request, session: AsyncSession, principal: Principal, habits: list[Habit]) -> list[dict[str, Any]]:
    """Habits with the days they were done in the last RECENT_COMPLETION_DAYS of the person's calendar."""
    today = await local_today(request, session, principal.user_id)
    since = today - timedelta(days=RECENT_COMPLETION_DAYS - 1)
    done = await coaching.completions_since(session, [habit.id for habit in habits], since)
    return [habit_json(habit, done[habit.id]) for habit in habits]


async def local_today(request: Request, session: AsyncSession, user_id: str) -> date:
    """Today's date in the person's own time zone."""
    settings = await accounts.user_settings(session, user_id)
    return app_context(request).services.clock().astimezone(ZoneInfo(settings.timezone)).date()


@authenticated
async def list_habits(request: Request, session: AsyncSession, principal: Principal) -> Response:
    habits = await _newest(request, session, principal, Habit)
    return JSONResponse({"habits": await habits_json(request, session, principal, habits)})


@authenticated
async def create_habit(request: Request, session: AsyncSession, principal: Principal) -> Response:
    body = await parse_body(request, HabitCreate)
    habit = Habit(user_id=principal.user_id, **body.model_dump())
    session.add(habit)
    await session.flush()
    [shown] = await habits_json(request, session, principal, [habit])
    return JSONResponse(shown, status_code=201)


@authenticated
async def get_habit(request: Request, session: AsyncSession, principal: Principal) -> Response:
    habit = await _owned(request, session, principal, Habit)
    [shown] = await habits_json(request, session, principal, [habit])
    return JSONResponse(shown)


@authenticated
async def update_habit(request: Request, session: AsyncSession, principal: Principal) -> Response:
    habit = await _owned(request, session, principal, Habit)
    await apply_update(session, habit, await parse_body(request, HabitUpdate))
    [shown] = await habits_json(request, session, principal, [habit])
    return JSONResponse(shown)


@authenticated
async def delete_habit(request: Request, session: AsyncSession, principal: Principal) -> Response:
    """Its completions go with it (ON DELETE CASCADE); its planned reminder jobs find it gone and skip."""
    return await _deleted(session, await _owned(request, session, principal, Habit))


# --- goals ----------------------------------------------------------------------------------------


@authenticated
async def list_goals(request: Request, session: AsyncSession, principal: Principal) -> Response:
    return JSONResponse({"goals": [goal_json(goal) for goal in await _newest(request, session, principal, Goal)]})


@authenticated
async def create_goal(request: Request, session: AsyncSession, principal: Principal) -> Response:
    body = await parse_body(request, GoalCreate)
    goal = Goal(user_id=principal.user_id, **body.model_dump())
    session.add(goal)
    await session.flush()
    return JSONResponse(goal_json(goal), status_code=201)


@authenticated
async def get_goal(request: Request, session: AsyncSession, principal: Principal) -> Response:
    return JSONResponse(goal_json(await _owned(request, session, principal, Goal)))


@authenticated
async def update_goal(request: Request, session: AsyncSession, principal: Principal) -> Response:
    goal = await _owned(request, session, principal, Goal)
    await apply_update(session, goal, await parse_body(request, GoalUpdate))
    await session.refresh(goal)  # updated_at, which the flush set (the column's onupdate)
    return JSONResponse(goal_json(goal))


@authenticated
async def delete_goal(request: Request, session: AsyncSession, principal: Principal) -> Response:
    return await _deleted(session, await _owned(request, session, principal, Goal))


# --- tasks ----------------------------------------------------------------------------------------


@authenticated
async def list_tasks(request: Request, session: AsyncSession, principal: Principal) -> Response:
    return JSONResponse({"tasks": [task_json(task) for task in await _newest(request, session, principal, Task)]})


@authenticated
async def create_task(request: Request, session: AsyncSession, principal: Principal) -> Response:
    result = await through_tool(request, principal, "create_task", await parse_body(request, CreateTask))
    if (refused := _not_created(result)) is not None:
        return refused
    task = await coaching.owned(session, Task, principal.user_id, result.data["task_id"])
    return JSONResponse(task_json(task), status_code=201)


@authenticated
async def get_task(request: Request, session: AsyncSession, principal: Principal) -> Response:
    return JSONResponse(task_json(await _owned(request, session, principal, Task)))


@authenticated
async def update_task(request: Request, session: AsyncSession, principal: Principal) -> Response:
    task = await _owned(request, session, principal, Task)
    await apply_task_update(session, task, await parse_body(request, TaskUpdate), app_context(request).services.clock())
    return JSONResponse(task_json(task))


async def apply_task_update(session: AsyncSession, task: Task, update: TaskUpdate, now: datetime) -> None:
    """Change the task; a change of status stamps (done) or clears (open) its completion time."""
    if "status" in update.changes() and update.status != task.status:
        task.completed_at = now if update.status == "done" else None
    await apply_update(session, task, update)


@authenticated
async def delete_task(request: Request, session: AsyncSession, principal: Principal) -> Response:
    return await _deleted(session, await _owned(request, session, principal, Task))


# --- contacts -------------------------------------------------------------------------------------


async def contacts_json(session: AsyncSession, contacts: list[Contact]) -> list[dict[str, Any]]:
    """Contacts with the consent of their email address: the newest consent record decides."""
    newest = await consent.latest_by_address(session, {contact.email for contact in contacts if contact.email})
    return [contact_json(contact, _consent(newest.get((contact.email, "email")))) for contact in contacts]


def _consent(record: ConsentRecord | None) -> Consent:
    return "opted_out" if record is not None and record.opted_out else "ok"


async def write_contact(session: AsyncSession, contact: Contact) -> dict[str, Any]:
    """Write the contact, and show it. The unique index on (user_id, lower(email)) refuses a second contact
    with one address, even from two requests at once: 409, and nothing is written."""
    email = contact.email  # read before the flush: a refused flush leaves the row unreadable
    try:
        await session.flush()
    except IntegrityError:
        raise ApiError(409, "INVALID_ARGUMENT", f"{email} is already one of your contacts") from None
    [shown] = await contacts_json(session, [contact])
    return shown


@authenticated
async def list_contacts(request: Request, session: AsyncSession, principal: Principal) -> Response:
    contacts = await _newest(request, session, principal, Contact)
    return JSONResponse({"contacts": await contacts_json(session, contacts)})


@authenticated
async def create_contact(request: Request, session: AsyncSession, principal: Principal) -> Response:
    body = await parse_body(request, ContactCreate)
    contact = Contact(user_id=principal.user_id, **body.model_dump())
    session.add(contact)
    return JSONResponse(await write_contact(session, contact), status_code=201)


@authenticated
async def get_contact(request: Request, session: AsyncSession, principal: Principal) -> Response:
    [shown] = await contacts_json(session, [await _owned(request, session, principal, Contact)])
    return JSONResponse(shown)


@authenticated
async def update_contact(request: Request, session: AsyncSession, principal: Principal) -> Response:
    contact = await _owned(request, session, principal, Contact)
    set_fields(contact, await parse_body(request, ContactUpdate))
    return JSONResponse(await write_contact(session, contact))


@authenticated
async def delete_contact(request: Request, session: AsyncSession, principal: Principal) -> Response:
    return await _deleted(session, await _owned(request, session, principal, Contact))


# --- reminders ------------------------------------------------------------------------------------


@authenticated
async def list_reminders(request: Request, session: AsyncSession, principal: Principal) -> Response:
    reminders = await _newest(request, session, principal, Reminder)
    return JSONResponse({"reminders": [reminder_json(reminder) for reminder in reminders]})


@authenticated
async def create_reminder(request: Request, session: AsyncSession, principal: Principal) -> Response:
    body = await parse_body(request, ScheduleReminder)
    result = await through_tool(request, principal, "schedule_reminder", body)
    if (refused := _not_created(result)) is not None:
        return refused
    reminder = await coaching.owned(session, Reminder, principal.user_id, result.data["reminder_id"])
    return JSONResponse(reminder_json(reminder), status_code=201)


@authenticated
async def get_reminder(request: Request, session: AsyncSession, principal: Principal) -> Response:
    return JSONResponse(reminder_json(await _owned(request, session, principal, Reminder)))


@authenticated
async def update_reminder(request: Request, session: AsyncSession, principal: Principal) -> Response:
    reminder = await _owned(request, session, principal, Reminder)
    await apply_update(session, reminder, await parse_body(request, ReminderUpdate))
    return JSONResponse(reminder_json(reminder))


@authenticated
async def delete_reminder_route(request: Request, session: AsyncSession, principal: Principal) -> Response:
    await delete_reminder(session, await _owned(request, session, principal, Reminder))
    return Response(status_code=204)


Handler = Callable[[Request], Awaitable[Response]]


def _kind(model: type[Owned], list_: Handler, create: Handler, get: Handler, update: Handler, delete: Handler) -> list[Route]:
    """`/api/<table>` and `/api/<table>/{<singular>_id}` (the name `_owned` reads the id by)."""
    path = f"/api/{model.__tablename__}"
    one = f"{path}/{{{_singular(model)}_id}}"
    return [
        Route(path, list_, methods=["GET"]),
        Route(path, create, methods=["POST"]),
        Route(one, get, methods=["GET"]),
        Route(one, update, methods=["PUT"]),
        Route(one, delete, methods=["DELETE"]),
    ]


routes = [
    *_kind(Habit, list_habits, create_habit, get_habit, update_habit, delete_habit),
    *_kind(Goal, list_goals, create_goal, get_goal, update_goal, delete_goal),
    *_kind(Task, list_tasks, create_task, get_task, update_task, delete_task),
    *_kind(Contact, list_contacts, create_contact, get_contact, update_contact, delete_contact),
    *_kind(Reminder, list_reminders, create_reminder, get_reminder, update_reminder, delete_reminder_route),
]
