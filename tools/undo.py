"""Undo an executed action: the one table of what each tool's action undoes, and the undo itself.

    read: the owner's executed step (404 for anyone else) -> claim: insert the `undone` step (a unique index
    lets one undo of an action exist, so of two concurrent undos one wins) -> undo the effect with the
    executed step's result -> commit the claim, the effect and its trace together (or none of them).

The `undone` step keeps the action's arguments (so the action is still found by what it was about) and its
result names the executed step it undoes (`undoes`) and what was undone. An undo is refused with 409 when the effect has since changed (the task was completed, the reminder was
delivered, the goal moved on, ...) and with 400 when the action cannot be undone at all.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    ActionSequence,
    AgentActionHistory,
    AgentExecutionTrace,
    CalendarEvent,
    Goal,
    HabitCompletion,
    Reminder,
    Task,
)
from tools.calendar.providers import GoogleCalendar, google_connection
from tools.channels.sealing import sealer_for
from tools.execution import Actor
from tools.results import ToolFailure
from tools.scheduler import sequences
from tools.scheduler.handlers import delete_reminder
from tools.services import ToolServices

UNDONE = "undone"


class UndoRefused(Exception):
    """Why an action was not undone, with the HTTP status it answers: 404 (no such action of yours), 409
    (already undone, or its effect has changed since), 400 (this action cannot be undone), 503 (a provider
    is unavailable; nothing changed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class UndoRun:
    """What an undoer is given: the transaction, the services, whose action it is, and now."""

    session: AsyncSession
    services: ToolServices
    user_id: str
    now: datetime


Undoer = Callable[[UndoRun, dict[str, Any]], Awaitable[dict[str, Any]]]


def _changed(what: str) -> UndoRefused:
    return UndoRefused(409, f"{what}, so it cannot be undone")


async def _owned(run: UndoRun, model: type, row_id: Any) -> Any:
    row = await run.session.get(model, row_id) if isinstance(row_id, str) else None
    return row if row is not None and row.user_id == run.user_id else None


async def _delete_task(run: UndoRun, result: dict[str, Any]) -> dict[str, Any]:
    task = await _owned(run, Task, result.get("task_id"))
    if task is None:
        raise _changed("the task was deleted since")
    if task.status != "open":
        raise _changed("the task was completed since")
    await run.session.delete(task)
    return {"deleted_task_id": task.id}


async def _delete_reminder(run: UndoRun, result: dict[str, Any]) -> dict[str, Any]:
    reminder = await _owned(run, Reminder, result.get("reminder_id"))
    if reminder is None:
        raise _changed("the reminder was deleted since")
    if reminder.status != "scheduled":
        raise _changed(f"the reminder is {reminder.status} already")
    cancelled_jobs = await delete_reminder(run.session, reminder)
    return {"deleted_reminder_id": result["reminder_id"], "cancelled_deliveries": cancelled_jobs}


async def _delete_event(run: UndoRun, result: dict[str, Any]) -> dict[str, Any]:
    event_id = result.get("event_id")
    if result.get("provider") == "google":
        return await _delete_google_event(run, str(event_id))
    event = await _owned(run, CalendarEvent, event_id)
    if event is None:
        raise _changed("the event was deleted since")
    await run.session.delete(event)
    return {"deleted_event_id": event_id, "provider": "builtin"}


async def _delete_google_event(run: UndoRun, event_id: str) -> dict[str, Any]:
    connection = await google_connection(run.session, run.user_id)
    if connection is None:
        raise _changed("Google Calendar was disconnected since")
    if run.services.google is None:
        raise UndoRefused(503, "Google Calendar is connected but the server has no Google credentials")
    calendar = GoogleCalendar(run.services.google, run.session, connection, sealer_for(run.services.secret_key), run.now)
    try:
        deleted = await calendar.delete(event_id)
    except ToolFailure as failure:
        raise UndoRefused(503, failure.message) from None
    if not deleted:
        raise _changed("the event was deleted from Google Calendar since")
    return {"deleted_event_id": event_id, "provider": "google"}


async def _remove_completion(run: UndoRun, result: dict[str, Any]) -> dict[str, Any]:
    removed = await run.session.execute(
        delete(HabitCompletion).where(
            HabitCompletion.user_id == run.user_id,
            HabitCompletion.habit_id == result.get("habit_id"),
            HabitCompletion.completed_on == date.fromisoformat(str(result.get("date"))),
        )
    )
    if removed.rowcount == 0:
        raise _changed("the completion was removed since")
    return {"habit_id": result["habit_id"], "date": result["date"], "completion_removed": True}


async def _restore_goal(run: UndoRun, result: dict[str, Any]) -> dict[str, Any]:
    goal = await _owned(run, Goal, result.get("goal_id"))
    if goal is None:
        raise _changed("the goal was deleted since")
    if goal.progress != result.get("progress"):
        raise _changed(f"the goal's progress changed since (it is {goal.progress}% now)")
    goal.progress = result["previous_progress"]
    if "previous_status" in result:  # recorded by updates made since undo exists
        goal.status = result["previous_status"]
        goal.last_note = result["previous_note"]
    return {"goal_id": goal.id, "progress": goal.progress, "restored_from": result["progress"]}


async def _cancel_sequence(run: UndoRun, result: dict[str, Any]) -> dict[str, Any]:
    sequence = await _owned(run, ActionSequence, result.get("sequence_id"))
    if sequence is None:
        raise _changed("the sequence was deleted since")
    if not await sequences.cancel(run.session, sequence):
        raise _changed(f"the sequence is {sequence.status} already")
    return {"cancelled_sequence_id": sequence.id, "steps_already_run": sequence.next_step}


UNDOERS: dict[str, Undoer] = {
    "create_task": _delete_task,
    "schedule_reminder": _delete_reminder,
    "create_calendar_event": _delete_event,
    "mark_habit_complete": _remove_completion,
    "update_goal_progress": _restore_goal,
    "create_action_sequence": _cancel_sequence,
}


def can_undo(step: AgentActionHistory) -> bool:
    """Whether this step is an executed action of a tool that can be undone. (Whether its effect is still
    there is only known when the undo is tried.) A habit already marked done that day added nothing."""
    if step.status != "executed" or step.tool not in UNDOERS or not isinstance(step.result, dict):
        return False
    return not (step.tool == "mark_habit_complete" and step.result.get("already_done"))


async def undo(services: ToolServices, actor: Actor, action_id: str) -> AgentActionHistory:
    """Undo `actor`'s executed action `action_id`; the recorded `undone` step, or UndoRefused."""
    async with services.sessions() as session:
        executed = await _executed_step(session, actor.user_id, action_id)
    async with services.sessions() as session:
        claim = AgentActionHistory(
            user_id=actor.user_id, team_id=executed.team_id, action_id=action_id, tool=executed.tool, status=UNDONE,
            source=actor.source, payload=executed.payload, confidence=executed.confidence,
            risk_level=executed.risk_level,
        )
        session.add(claim)
        try:
            await session.flush()  # the claim first: a concurrent undo waits here, then finds it taken
        except IntegrityError:
            raise UndoRefused(409, "this action was already undone") from None
        started = time.perf_counter()
        run = UndoRun(session, services, actor.user_id, services.clock())
        claim.result = {"undoes": executed.id, **await UNDOERS[executed.tool](run, executed.result or {})}
        session.add(AgentExecutionTrace(
            action_id=action_id, user_id=actor.user_id, trace_type="undo",
            data={"source": actor.source, "result": claim.result},
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        ))
        await session.commit()
    await services.events.publish(
        actor.user_id, {"type": "action_recorded", "action_id": action_id, "tool": claim.tool, "status": UNDONE}
    )
    return claim


async def _executed_step(session: AsyncSession, user_id: str, action_id: str) -> AgentActionHistory:
    found = list(
        (
            await session.scalars(
                select(AgentActionHistory).where(
                    AgentActionHistory.user_id == user_id, AgentActionHistory.action_id == action_id
                )
            )
        ).all()
    )
    if not found:
        raise UndoRefused(404, "no such action")
    if any(step.status == UNDONE for step in found):
        raise UndoRefused(409, "this action was already undone")
    executed = next((step for step in found if step.status == "executed"), None)
    if executed is None:
        raise UndoRefused(400, "only an executed action can be undone; this one did not run")
    if not can_undo(executed):
        raise UndoRefused(400, f"{executed.tool} cannot be undone" + (
            " (the habit was already marked done that day)" if executed.tool in UNDOERS else ""
        ))
    return executed
