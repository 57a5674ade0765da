"""One handler per job kind: check that the job still applies, then reach the user through `dispatch()`.

A handler's `run` never writes the job; it returns an Outcome, and hands dispatch the runner's
`on_finish`, which finishes the job in the transaction that records the action. `settle`, when a kind has
one, runs in the transaction that finishes the job (only once the job is over: done, failed or
cancelled), so what follows a job — a recurring reminder's next occurrence, a sequence's next step — is
written exactly when the job's result is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import accounts
from policy.risk import DELIVERY_TOOLS
from db.models import ActionSequence, Goal, Habit, HabitCompletion, Reminder, ScheduledJob, UserAgentSettings
from tools.dispatch import Actor, OnFinish, dispatch
from tools.reads import Reads
from tools.scheduler import retention, sequences
from tools.scheduler.outcomes import Outcome, from_result
from tools.scheduler.planners import goal_checkin_schedule, outreach_schedule
from tools.scheduler.preload import JobReads
from tools.scheduler.queue import insert_jobs, job_action_id, new_job
from tools.services import ToolServices
from tools.timespec import next_occurrence


Settle = Callable[[AsyncSession, list[tuple[ScheduledJob, Outcome]], datetime], Awaitable[None]]
"""What follows jobs of a kind that are over (done, failed or cancelled), for all those finishing in one
transaction."""


@dataclass(frozen=True)
class JobKind:
    run: Callable[[ToolServices, ScheduledJob, OnFinish, JobReads], Awaitable[Outcome]]
    settle: Settle | None = None


def outreach(channel: str, text: str, *, subject: str, call_type: str) -> tuple[str, dict[str, Any]]:
    """The tool and arguments that bring `text` to the user on `channel` (sms, email or call)."""
    tool = DELIVERY_TOOLS[channel]
    if tool == "send_email":
        return tool, {"subject": subject, "body": text}
    if tool == "make_voice_call":
        return tool, {"call_type": call_type, "message": text}
    return tool, {"message": text}


def acting_for(user_id: str, team_roles: Iterable[tuple[str, str]]) -> Actor:
    """The scheduler acting for `user_id`, with their (team, role) pairs, oldest membership first (for the
    history rows)."""
    return Actor(user_id, "scheduler", dict(team_roles))


async def scheduler_actor(reads: Reads, user_id: str) -> Actor:
    found = await reads.user_and_teams(user_id)
    return acting_for(user_id, found.team_roles.items() if found else ())


async def deliver(
    services: ToolServices,
    job: ScheduledJob,
    actor: Actor,
    tool: str,
    args: dict[str, Any],
    on_finish: OnFinish,
    reads: JobReads,
    approved_by: str | None,
) -> Outcome:
    """Run `tool` as the scheduler, with the job's action id as the idempotency key, reading where the
    handler read (`reads`, whose session dispatch closes). A job claimed before (a crash, a lost lease, a
    failure) may have sent before its outcome was recorded: dispatch is told since when (the job's due
    time), so a channel without an idempotency key looks before it sends. `approved_by`: the human yes
    that covers the delivery (see `dispatch`); without one, it is proposed when the settings want a yes."""
    result = await dispatch(
        services, actor, tool, args, action_id=job_action_id(job.id), on_finish=on_finish,
        attempted_since=job.due_at if job.attempts > 1 else None, reads=reads, approved_by=approved_by,
    )
    return from_result(result)


# --- reminders the user asked for ---------------------------------------------------------------


async def run_reminder(services: ToolServices, job: ScheduledJob, on_finish: OnFinish, reads: JobReads) -> Outcome:
    reminder = await reads.reminder(str(job.payload["reminder_id"]))
    if reminder is None or reminder.status == "cancelled":
        return Outcome("skipped")
    actor = await scheduler_actor(reads, reminder.user_id)
    tool, args = outreach(reminder.channel, reminder.message, subject="Reminder", call_type="custom")
    return await deliver(services, job, actor, tool, args, on_finish, reads, reminder.approved_by)


_REMINDERS = Reminder.__table__
_SETTLE_ONE_OFFS = (
    update(_REMINDERS)
    .where(
        _REMINDERS.c.id.in_(bindparam("reminder_ids", expanding=True)),
        _REMINDERS.c.status != "cancelled",
        _REMINDERS.c.recurrence.is_(None),
    )
    .values(status=bindparam("new_status"))
    .returning(_REMINDERS.c.id)
)


async def settle_reminders(session: AsyncSession, finished: list[tuple[ScheduledJob, Outcome]], now: datetime) -> None:
    """One-off reminders get their status, in one UPDATE per status (a statement built once); each recurring
    one is read, and gets its next occurrence."""
    by_status: dict[str, list[tuple[ScheduledJob, str]]] = {}
    for job, outcome in finished:
        status = "sent" if outcome.succeeded else outcome.status
        by_status.setdefault(status, []).append((job, job.payload["reminder_id"]))
    for status, reminders in by_status.items():
        ids = [reminder_id for _, reminder_id in reminders]
        one_offs = set((await session.scalars(_SETTLE_ONE_OFFS, {"reminder_ids": ids, "new_status": status})).all())
        for job, reminder_id in reminders:
            if reminder_id not in one_offs:
                await _settle_recurring(session, job, reminder_id, status)


async def _settle_recurring(session: AsyncSession, job: ScheduledJob, reminder_id: str, status: str) -> None:
    """A recurring reminder's next occurrence (wall-clock time kept across DST), or its status once the
    series has ended. A cancelled reminder stays cancelled."""
    not_cancelled = (Reminder.id == reminder_id, Reminder.status != "cancelled")
    reminder = await session.scalar(select(Reminder).where(*not_cancelled, Reminder.recurrence.is_not(None)))
    if reminder is None:
        return
    following = next_occurrence(reminder.recurrence, reminder.remind_at.astimezone(ZoneInfo(reminder.timezone)), job.due_at)
    if following is None:
        reminder.status = status
        return
    await insert_jobs(
        session,
        [new_job("reminder", reminder.user_id, {"reminder_id": reminder.id}, following,
                 dedupe_key=f"reminder:{reminder.id}:{following.isoformat()}")],
    )



async def delete_reminder(session: AsyncSession, reminder: Reminder) -> int:
    """Delete `reminder` and cancel its jobs still waiting (how many). A job already running when this
    commits reads the reminder as gone and skips; a recurring one's settle then plans no next occurrence."""
    cancelled = await session.execute(
        update(ScheduledJob)
        .where(
            ScheduledJob.kind == "reminder",
            ScheduledJob.status == "pending",
            ScheduledJob.payload["reminder_id"].as_string() == reminder.id,
        )
        .values(status="cancelled", last_error="the reminder was deleted")
        .execution_options(synchronize_session=False)
    )
    await session.delete(reminder)
    await session.flush()
    return cancelled.rowcount or 0

# --- planned coaching: habit reminders, streak protection, goal check-ins, proactive outreach ---------


async def _done_on(session: AsyncSession, habit_id: str, day: date) -> bool:
    found = await session.scalar(
        select(HabitCompletion.id).where(HabitCompletion.habit_id == habit_id, HabitCompletion.completed_on == day)
    )
    return found is not None


async def _habit_and_settings(session: AsyncSession, job: ScheduledJob) -> tuple[Habit, UserAgentSettings] | None:
    """The job's habit and its owner's settings, if habit reminders still apply to it."""
    habit = await session.get(Habit, job.payload["habit_id"])
    if habit is None or not habit.active:
        return None
    settings = await accounts.user_settings(session, habit.user_id)
    return (habit, settings) if settings.habit_reminders_enabled else None


async def _about_habit(
    services: ToolServices,
    reads: JobReads,
    job: ScheduledJob,
    on_finish: OnFinish,
    habit: Habit,
    settings: UserAgentSettings,
    text: str,
    subject: str,
) -> Outcome:
    """Bring `text` about `habit` to its owner on their habit-reminder channel."""
    actor = await scheduler_actor(reads, habit.user_id)
    tool, args = outreach(settings.habit_reminder_channel, text, subject=subject, call_type="habit_reminder")
    return await deliver(services, job, actor, tool, args, on_finish, reads, "settings:habit_reminders_enabled")


async def run_habit_reminder(services: ToolServices, job: ScheduledJob, on_finish: OnFinish, reads: JobReads) -> Outcome:
    day = date.fromisoformat(job.payload["date"])
    session = reads.session()
    found = await _habit_and_settings(session, job)
    if found is None:
        return Outcome("skipped")
    habit, settings = found
    planned_for = (job.payload["reminder_time"], job.payload["minutes_before"])
    if planned_for != (habit.reminder_time, settings.habit_reminder_minutes_before):
        return Outcome("skipped")  # the time changed since this was planned; the planner plans the new one
    if await _done_on(session, habit.id, day):
        return Outcome("skipped")
    text = f"Reminder: {habit.name} at {habit.reminder_time}."
    return await _about_habit(services, reads, job, on_finish, habit, settings, text, f"Reminder: {habit.name}")


async def run_streak_protection(services: ToolServices, job: ScheduledJob, on_finish: OnFinish, reads: JobReads) -> Outcome:
    """Only for a streak worth protecting: done yesterday, not yet today."""
    day = date.fromisoformat(job.payload["date"])
    session = reads.session()
    found = await _habit_and_settings(session, job)
    if found is None:
        return Outcome("skipped")
    habit, settings = found
    if await _done_on(session, habit.id, day) or not await _done_on(session, habit.id, day - timedelta(days=1)):
        return Outcome("skipped")
    text = f"Keep your streak going: {habit.name} isn't done yet today. There's still time!"
    return await _about_habit(services, reads, job, on_finish, habit, settings, text, f"Your {habit.name} streak")


async def run_goal_checkin(services: ToolServices, job: ScheduledJob, on_finish: OnFinish, reads: JobReads) -> Outcome:
    assert job.user_id is not None
    session = reads.session()
    settings = await accounts.user_settings(session, job.user_id)
    goals = (
        await session.scalars(select(Goal.title).where(Goal.user_id == job.user_id, Goal.status == "active"))
    ).all()
    if not settings.goal_checkin_enabled or not goals or not _still_scheduled(job, goal_checkin_schedule(settings)):
        return Outcome("skipped")
    actor = await scheduler_actor(reads, job.user_id)
    text = f"Goal check-in: how are these going? {', '.join(goals)}."
    tool, args = outreach(settings.goal_checkin_channel, text, subject="Your goal check-in", call_type="goal_checkin")
    return await deliver(services, job, actor, tool, args, on_finish, reads, "settings:goal_checkin_enabled")


async def run_proactive_outreach(services: ToolServices, job: ScheduledJob, on_finish: OnFinish, reads: JobReads) -> Outcome:
    assert job.user_id is not None
    session = reads.session()
    settings = await accounts.user_settings(session, job.user_id)
    if not settings.allow_proactive_outreach or not _still_scheduled(job, outreach_schedule(settings)):
        return Outcome("skipped")
    actor = await scheduler_actor(reads, job.user_id)
    text = f"Your coach here, checking in about {job.payload['topic']}. Reply any time."
    tool, args = outreach(settings.proactive_outreach_channel, text, subject="Checking in", call_type="custom")
    return await deliver(services, job, actor, tool, args, on_finish, reads, "settings:allow_proactive_outreach")


def _still_scheduled(job: ScheduledJob, schedule: dict[str, Any]) -> bool:
    """Whether the job was planned from the schedule the settings hold now (jobs planned before schedules
    were recorded in the payload count as current)."""
    return job.payload.get("schedule", schedule) == schedule


# --- action sequences --------------------------------------------------------------------------


async def run_sequence_step(services: ToolServices, job: ScheduledJob, on_finish: OnFinish, reads: JobReads) -> Outcome:
    index = int(job.payload["step"])
    session = reads.session()
    sequence = await session.get(ActionSequence, job.payload["sequence_id"])
    if sequence is None or sequence.status == "cancelled":
        return Outcome("cancelled", error="the sequence was cancelled")
    if sequence.status != "running" or sequence.next_step != index:
        return Outcome("skipped")
    actor = await scheduler_actor(reads, sequence.user_id)
    step = sequence.steps[index]
    return await deliver(
        services, job, actor, step["tool"], step.get("args") or {}, on_finish, reads, sequence.approved_by
    )


async def settle_sequence_steps(session: AsyncSession, finished: list[tuple[ScheduledJob, Outcome]], now: datetime) -> None:
    for job, outcome in finished:
        await sequences.advance(session, job.payload["sequence_id"], int(job.payload["step"]), outcome, now)


KINDS: dict[str, JobKind] = {
    "reminder": JobKind(run_reminder, settle_reminders),
    "habit_reminder": JobKind(run_habit_reminder),
    "streak_protection": JobKind(run_streak_protection),
    "goal_checkin": JobKind(run_goal_checkin),
    "proactive_outreach": JobKind(run_proactive_outreach),
    sequences.STEP_KIND: JobKind(run_sequence_step, settle_sequence_steps),
    retention.KIND: JobKind(retention.run_purge),
}
