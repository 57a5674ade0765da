"""Executors for the user's own coaching data: tasks, habits, goals, reminders, and reading it all back."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from db.models import (
    AgentActionHistory,
    Goal,
    Habit,
    HabitCompletion,
    PendingAgentAction,
    Reminder,
    ScheduledJob,
    Task,
)
from tools.catalogue import CreateTask, GetUserData, MarkHabitComplete, ScheduleReminder, UpdateGoalProgress
from tools.executors.base import Execution, Prepared
from tools.results import ErrorCode, ToolFailure
from tools.timephrase import local_iso
from tools.timespec import TimeSpec, TimeSpecError, time_spec, zone_named


async def get_user_data(run: Execution, args: GetUserData) -> dict[str, Any]:
    session, user_id = run.session, run.user.id
    today = run.local_now.date()
    habits = (await session.execute(select(Habit).where(Habit.user_id == user_id, Habit.active))).scalars().all()
    done = set(
        (
            await session.execute(
                select(HabitCompletion.habit_id).where(
                    HabitCompletion.user_id == user_id, HabitCompletion.completed_on == today
                )
            )
        ).scalars()
    )
    goals = (await session.execute(select(Goal).where(Goal.user_id == user_id, Goal.status == "active"))).scalars()
    tasks = (
        await session.execute(select(Task).where(Task.user_id == user_id, Task.status == "open").limit(20))
    ).scalars()
    pending = (
        await session.execute(
            select(PendingAgentAction).where(
                PendingAgentAction.user_id == user_id, PendingAgentAction.status == "pending_confirmation"
            )
        )
    ).scalars()
    recent = (
        await session.execute(
            select(AgentActionHistory)
            .where(AgentActionHistory.user_id == user_id)
            .order_by(AgentActionHistory.created_at.desc())
            .limit(10)
        )
    ).scalars()
    return {
        "name": run.user.name,
        "local_time": run.local_now.isoformat(timespec="minutes"),
        "weekday": f"{run.local_now:%A}",
        "timezone": run.settings.timezone,
        "habits": [{"id": h.id, "name": h.name, "done_today": h.id in done, "time": h.reminder_time} for h in habits],
        "goals": [{"id": g.id, "title": g.title, "progress": g.progress} for g in goals],
        "open_tasks": [{"id": t.id, "title": t.title, "due_date": t.due_date and t.due_date.isoformat()} for t in tasks],
        "pending_actions": [{"id": p.id, "tool": p.tool, "args": p.args} for p in pending],
        "recent_actions": [{"tool": h.tool, "status": h.status, "at": h.created_at.isoformat()} for h in recent],
    }


async def create_task(run: Execution, args: CreateTask) -> dict[str, Any]:
    task = Task(user_id=run.user.id, title=args.title, description=args.description, due_date=args.due_date)
    run.session.add(task)
    await run.session.flush()
    return {"task_id": task.id, "title": task.title}


async def _find_owned(run: Execution, model: type, ref_id: str | None, name_column: Any, name: str | None) -> Any:
    """A habit or goal of this user by id or (case-insensitive) name; NOT_FOUND otherwise."""
    query = select(model).where(model.user_id == run.user.id)
    query = query.where(model.id == ref_id) if ref_id else query.where(func.lower(name_column) == name.lower())
    found = (await run.session.execute(query.limit(2))).scalars().all()
    label = model.__tablename__.rstrip("s")
    if not found:
        raise ToolFailure(ErrorCode.NOT_FOUND, f"no {label} called {ref_id or name!r}")
    if len(found) > 1:
        raise ToolFailure(ErrorCode.INVALID_ARGUMENT, f"more than one {label} is called {name!r}; use its id")
    return found[0]


async def mark_habit_complete(run: Execution, args: MarkHabitComplete) -> dict[str, Any]:
    habit = await _find_owned(run, Habit, args.habit_id, Habit.name, args.habit_name)
    today = run.local_now.date()
    already = await run.session.scalar(
        select(HabitCompletion.id).where(HabitCompletion.habit_id == habit.id, HabitCompletion.completed_on == today)
    )
    if already is None:
        run.session.add(HabitCompletion(habit_id=habit.id, user_id=run.user.id, completed_on=today))
        await run.session.flush()
    return {"habit_id": habit.id, "habit": habit.name, "date": today.isoformat(), "already_done": already is not None}


async def update_goal_progress(run: Execution, args: UpdateGoalProgress) -> dict[str, Any]:
    goal = await _find_owned(run, Goal, args.goal_id, Goal.title, args.goal_name)
    previous = {"previous_progress": goal.progress, "previous_status": goal.status, "previous_note": goal.last_note}
    goal.progress = args.progress
    if args.note:
        goal.last_note = args.note
    if args.progress == 100:
        goal.status = "completed"
    await run.session.flush()
    # What the goal was before, so the update can be undone (tools.undo).
    return {"goal_id": goal.id, "goal": goal.title, "progress": args.progress, **previous}


REMINDER_CHANNEL_WORDS = {"sms": "text", "email": "email", "call": "a phone call"}


def _reminder_time(args: ScheduleReminder, home: ZoneInfo, now: datetime, *, phrase_allowed: bool = False) -> TimeSpec:
    """The validated time of a reminder (INVALID_ARGUMENT with a question otherwise); `phrase_allowed` lets
    remind_at be a one-off phrase such as "in 20 minutes"."""
    try:
        zone = zone_named(args.timezone) if args.timezone else home
        remind_at = local_iso(args.remind_at, zone, now) if phrase_allowed else args.remind_at
        return time_spec(remind_at, zone, args.recurrence, now)
    except TimeSpecError as exc:
        raise ToolFailure(ErrorCode.INVALID_ARGUMENT, str(exc)) from None


def _read_back(spec: TimeSpec, home: ZoneInfo, now: datetime) -> str:
    return spec.read_back(now) + ("" if spec.zone == home else f", {spec.zone.key} time")


def prepare_schedule_reminder(args: ScheduleReminder, home: ZoneInfo, now: datetime, source: str) -> Prepared:
    """Validate the time before anyone is asked to confirm it, and pin it down: the first occurrence with its
    offset, the zone and the canonical rule. Only REST API callers may give remind_at as a phrase; the model
    always sends structured time."""
    spec = _reminder_time(args, home, now, phrase_allowed=source == "api")
    pinned = args.model_copy(update={
        "remind_at": spec.local.isoformat(timespec="minutes"), "timezone": spec.zone.key, "recurrence": spec.rrule,
    })
    how = REMINDER_CHANNEL_WORDS[args.channel]
    return Prepared(pinned, f'remind you by {how} {_read_back(spec, home, now)}: "{args.message}"')


async def schedule_reminder(run: Execution, args: ScheduleReminder) -> dict[str, Any]:
    spec = _reminder_time(args, run.zone, run.now)
    reminder = Reminder(
        user_id=run.user.id,
        message=args.message,
        remind_at=spec.first,
        recurrence=spec.rrule,
        timezone=spec.zone.key,
        channel=args.channel,
        approved_by=run.approved_by,
    )
    run.session.add(reminder)
    await run.session.flush()
    run.session.add(
        ScheduledJob(
            kind="reminder", user_id=run.user.id, payload={"reminder_id": reminder.id},
            due_at=spec.first, next_attempt_at=spec.first,
        )
    )
    return {
        "reminder_id": reminder.id,
        "remind_at": spec.local.isoformat(timespec="minutes"),
        "timezone": spec.zone.key,
        "recurrence": spec.rrule,
        "read_back": _read_back(spec, run.zone, run.now),
    }


EXECUTORS = {
    "get_user_data": get_user_data,
    "create_task": create_task,
    "mark_habit_complete": mark_habit_complete,
    "update_goal_progress": update_goal_progress,
    "schedule_reminder": schedule_reminder,
}
PREPARERS = {"schedule_reminder": prepare_schedule_reminder}
