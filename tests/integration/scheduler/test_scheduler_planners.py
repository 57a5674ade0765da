"""Planned coaching: habit reminders, streak protection, goal check-ins, proactive outreach.

Each is planned by a worker's maintenance pass when its setting is on and not when it is off, at the
user's local time, once however many workers plan; when it runs, it reaches the user through dispatch.
The clock is the test's (`Clock`); DAYTIME is Tuesday 24 November 2026, 11:00 in Los Angeles.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from factories import TestUser, new_user, update_user_settings
from scheduling import jobs

from db.models import Goal, Habit, HabitCompletion
from server.context import AppContext
from server.worker import Worker
from tools.dispatch import Actor, dispatch

LA = ZoneInfo("America/Los_Angeles")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LA).astimezone(timezone.utc)


async def add(ctx: AppContext, *rows: Any) -> None:
    async with ctx.sessions() as session:
        session.add_all(rows)
        await session.commit()


async def habit_user(ctx: AppContext, enabled: bool = True, **values: Any) -> tuple[TestUser, Habit]:
    user = await new_user(ctx, timezone="America/Los_Angeles")
    await update_user_settings(
        ctx, user, habit_reminders_enabled=enabled, habit_reminder_minutes_before=15, **values
    )
    habit = Habit(user_id=user.id, name="Meditate", reminder_time="18:00")
    await add(ctx, habit)
    return user, habit


async def test_a_habit_reminder_is_planned_minutes_before_the_habit_and_sent(ctx, clock, worker, providers):
    user, _ = await habit_user(ctx)
    await worker.maintain()
    [planned] = await jobs(ctx, user_id=user.id, kind="habit_reminder")
    assert planned.due_at == local(2026, 11, 24, 17, 45)
    clock.set(planned.due_at)
    await worker.run_due()
    [sms] = providers.twilio.messages
    assert sms.param("To") == user.phone and "Meditate" in sms.param("Body")


async def test_no_habit_reminder_or_streak_protection_is_planned_when_habit_reminders_are_off(ctx, worker):
    user, _ = await habit_user(ctx, enabled=False)
    await worker.maintain()
    assert await jobs(ctx, user_id=user.id) == []


async def test_a_habit_reminder_is_skipped_when_the_habit_is_already_done_today(ctx, clock, worker, providers):
    user, _ = await habit_user(ctx)
    await worker.maintain()
    done = await dispatch(ctx.services, Actor(user.id, "operator"), "mark_habit_complete", {"habit_name": "Meditate"})
    assert done.success
    [planned] = await jobs(ctx, user_id=user.id, kind="habit_reminder")
    clock.set(planned.due_at)
    await worker.run_due()
    assert providers.twilio.messages == []
    [finished] = await jobs(ctx, user_id=user.id, kind="habit_reminder")
    assert finished.status == "done"


async def test_two_workers_planning_at_once_create_each_job_once(ctx, worker):
    user, _ = await habit_user(ctx)
    await update_user_settings(ctx, user, goal_checkin_enabled=True, allow_proactive_outreach=True)
    other = Worker(ctx.services, worker_id="worker-b")
    for _ in range(2):
        await worker.maintain()
        await other.maintain()
    kinds = sorted(row.kind for row in await jobs(ctx, user_id=user.id))
    assert kinds == ["goal_checkin", "habit_reminder", "proactive_outreach", "streak_protection"]


async def test_streak_protection_is_planned_an_hour_before_quiet_hours_and_sent_for_a_streak(ctx, clock, worker, providers):
    user, habit = await habit_user(ctx, quiet_hours_start="21:00")
    await add(ctx, HabitCompletion(habit_id=habit.id, user_id=user.id, completed_on=date(2026, 11, 23)))
    await worker.maintain()
    [planned] = await jobs(ctx, user_id=user.id, kind="streak_protection")
    assert planned.due_at == local(2026, 11, 24, 20, 0)
    clock.set(planned.due_at)
    await worker.run_due()
    [sms] = [message for message in providers.twilio.messages if "streak" in message.param("Body")]
    assert "Meditate" in sms.param("Body")


async def test_streak_protection_sends_nothing_without_a_streak(ctx, clock, worker, providers):
    user, _ = await habit_user(ctx, quiet_hours_start="21:00")
    await worker.maintain()
    [planned] = await jobs(ctx, user_id=user.id, kind="streak_protection")
    clock.set(planned.due_at)
    await worker.run_due()
    assert not [message for message in providers.twilio.messages if "streak" in message.param("Body")]


async def goal_checkin_user(ctx: AppContext) -> TestUser:
    """Weekly goal check-ins by email on Thursdays at 09:30 in Los Angeles, with one active goal."""
    user = await new_user(ctx, timezone="America/Los_Angeles")
    await update_user_settings(
        ctx, user, goal_checkin_enabled=True, goal_checkin_frequency="weekly", goal_checkin_day_of_week=3,
        goal_checkin_time="09:30", goal_checkin_channel="email",
    )
    await add(ctx, Goal(user_id=user.id, title="Run a marathon"))
    return user


async def test_a_goal_checkin_is_planned_on_its_day_and_time_and_sent_on_its_channel(ctx, clock, worker, providers):
    user = await goal_checkin_user(ctx)
    await worker.maintain()
    [planned] = await jobs(ctx, user_id=user.id, kind="goal_checkin")
    assert planned.due_at == local(2026, 11, 26, 9, 30)  # the coming Thursday
    clock.set(planned.due_at)
    await worker.run_due()
    [email] = providers.resend.emails
    assert email.payload["to"] == [user.email] and "Run a marathon" in email.payload["text"]


async def test_no_goal_checkin_is_planned_when_it_is_off(ctx, worker):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    await update_user_settings(ctx, user, goal_checkin_enabled=False, goal_checkin_frequency="daily")
    await worker.maintain()
    assert await jobs(ctx, user_id=user.id) == []


async def test_proactive_outreach_is_planned_with_a_topic_when_allowed(ctx, worker):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    await update_user_settings(
        ctx, user, allow_proactive_outreach=True, proactive_outreach_frequency="weekly",
        proactive_outreach_topics=["sleep"],
    )
    await worker.maintain()
    [planned] = await jobs(ctx, user_id=user.id, kind="proactive_outreach")
    assert planned.due_at == local(2026, 11, 25, 10, 0) and planned.payload["topic"] == "sleep"  # Wednesday 10:00


async def test_proactive_outreach_is_planned_on_its_day_and_time_and_sent_on_its_channel(ctx, clock, worker, providers):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    await update_user_settings(
        ctx, user, allow_proactive_outreach=True, proactive_outreach_frequency="weekly",
        proactive_outreach_topics=["sleep"], proactive_outreach_day_of_week=4, proactive_outreach_time="18:30",
        proactive_outreach_channel="email",
    )
    await worker.maintain()
    [planned] = await jobs(ctx, user_id=user.id, kind="proactive_outreach")
    assert planned.due_at == local(2026, 11, 27, 18, 30)  # the coming Friday
    clock.set(planned.due_at)
    await worker.run_due()
    [email] = providers.resend.emails
    assert email.payload["to"] == [user.email] and "sleep" in email.payload["text"]


async def test_a_goal_checkin_planned_before_its_time_changed_is_skipped_and_the_new_one_sent(ctx, clock, worker, providers):
    user = await goal_checkin_user(ctx)
    await worker.maintain()
    await update_user_settings(ctx, user, goal_checkin_time="11:00")
    await worker.maintain()
    old, new = await jobs(ctx, user_id=user.id, kind="goal_checkin")
    assert (old.due_at, new.due_at) == (local(2026, 11, 26, 9, 30), local(2026, 11, 26, 11, 0))
    clock.set(old.due_at)
    await worker.run_due()
    assert providers.resend.emails == []
    clock.set(new.due_at)
    await worker.run_due()
    assert len(providers.resend.emails) == 1


async def test_no_proactive_outreach_is_planned_when_not_allowed(ctx, worker):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    await update_user_settings(
        ctx, user, allow_proactive_outreach=False, proactive_outreach_frequency="daily",
        proactive_outreach_topics=["sleep"],
    )
    await worker.maintain()
    assert await jobs(ctx, user_id=user.id) == []
