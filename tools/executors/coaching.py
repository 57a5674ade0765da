"""Executors for the user's own coaching data: tasks, habits, goals, reminders, and reading it all back."""

from __future__ import annotations

from typing import Any

from dateutil.rrule import rrulestr
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
from tools.executors.base import Execution
from tools.results import ErrorCode, ToolFailure
from tools.timespec import TimeSpecError, resolve_local_time


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
    previous = goal.progress
    goal.progress = args.progress
    if args.note:
        goal.last_note = args.note
    if args.progress == 100:
        goal.status = "completed"
    await run.session.flush()
    return {"goal_id": goal.id, "goal": goal.title, "progress": args.progress, "previous_progress": previous}


async def schedule_reminder(run: Execution, args: ScheduleReminder) -> dict[str, Any]:
    try:
        due = resolve_local_time(args.remind_at, run.zone, run.now)
    except TimeSpecError as exc:
        raise ToolFailure(ErrorCode.INVALID_ARGUMENT, str(exc)) from None
    if args.recurrence:
        try:
            rrulestr(args.recurrence, dtstart=due.astimezone(run.zone))
        except (ValueError, TypeError) as exc:
            raise ToolFailure(ErrorCode.INVALID_ARGUMENT, f"recurrence is not a valid RRULE: {exc}") from None
    reminder = Reminder(
        user_id=run.user.id,
        message=args.message,
        remind_at=due,
        recurrence=args.recurrence,
        timezone=run.settings.timezone,
        channel=args.channel,
    )
    run.session.add(reminder)
    await run.session.flush()
    run.session.add(
        ScheduledJob(
            kind="reminder", user_id=run.user.id, payload={"reminder_id": reminder.id}, due_at=due, next_attempt_at=due
        )
    )
    local = due.astimezone(run.zone)
    return {
        "reminder_id": reminder.id,
        "remind_at": local.isoformat(timespec="minutes"),
        "read_back": f"{args.channel} reminder on {local:%A %d %B at %H:%M}"
        + (f", repeating ({args.recurrence})" if args.recurrence else ""),
    }


EXECUTORS = {
    "get_user_data": get_user_data,
    "create_task": create_task,
    "mark_habit_complete": mark_habit_complete,
    "update_goal_progress": update_goal_progress,
    "schedule_reminder": schedule_reminder,
}
