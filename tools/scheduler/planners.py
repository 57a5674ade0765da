"""Planners turn the users' coaching settings into jobs: each pass plans the next occurrence of every
habit reminder, streak protection, goal check-in and proactive outreach that is turned on.

A planned job carries a dedupe_key naming what it is for and when ("habit_reminder:<habit>:<instant>"),
so passes by any number of workers create each job once. Whether a job still applies (the setting still
on, the habit not done yet) is checked again when it runs. Times are local wall-clock times expanded
by `tools.timespec.next_occurrence`, so they keep their local time across DST changes.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Habit, UserAgentSettings
from policy.quiet_hours import parse_hhmm
from tools.scheduler.queue import insert_jobs, new_job
from tools.services import ToolServices
from tools.timespec import next_occurrence

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Streak protection comes this long before the user's quiet hours start: late in the day, still allowed.
STREAK_LEAD = timedelta(hours=1)
# Rules with an INTERVAL need a fixed anchor (a Monday) so "every other week" does not shift between passes.
EPOCH = date(2026, 1, 5)


def frequency_rule(frequency: str, day_of_week: int) -> str:
    """The RRULE of a settings frequency (daily, weekly, biweekly, monthly) on `day_of_week` (0 = Monday)."""
    day = DAYS[day_of_week]
    return {
        "daily": "FREQ=DAILY",
        "weekly": f"FREQ=WEEKLY;BYDAY={day}",
        "biweekly": f"FREQ=WEEKLY;INTERVAL=2;BYDAY={day}",
        "monthly": f"FREQ=MONTHLY;BYDAY=+1{day}",
    }[frequency]


def next_local(rule: str, wall: time, zone_name: str, now: datetime) -> datetime:
    """The first occurrence after `now` of `rule` at wall-clock `wall` in the zone, as aware UTC."""
    zone = ZoneInfo(zone_name)
    anchor = EPOCH if "INTERVAL" in rule else now.astimezone(zone).date() - timedelta(days=35)
    occurrence = next_occurrence(rule, datetime.combine(anchor, wall, tzinfo=zone), now)
    assert occurrence is not None  # these rules never end
    return occurrence


def _earlier(wall: time, by: timedelta) -> time:
    return (datetime.combine(EPOCH, wall) - by).time()


def _local_date(instant: datetime, zone_name: str, shift: timedelta = timedelta()) -> str:
    return (instant.astimezone(ZoneInfo(zone_name)) + shift).date().isoformat()


def habit_jobs(habit: Habit, settings: UserAgentSettings, now: datetime) -> list[dict[str, Any]]:
    """The next habit reminder (minutes before its time) and streak protection of one habit."""
    zone = settings.timezone
    jobs = []
    if habit.reminder_time:
        before = timedelta(minutes=settings.habit_reminder_minutes_before)
        due = next_local("FREQ=DAILY", _earlier(parse_hhmm(habit.reminder_time), before), zone, now)
        payload = {
            "habit_id": habit.id, "date": _local_date(due, zone, before),
            "reminder_time": habit.reminder_time, "minutes_before": settings.habit_reminder_minutes_before,
        }
        jobs.append(new_job("habit_reminder", habit.user_id, payload, due, f"habit_reminder:{habit.id}:{due.isoformat()}"))
    due = next_local("FREQ=DAILY", _earlier(parse_hhmm(settings.quiet_hours_start), STREAK_LEAD), zone, now)
    payload = {"habit_id": habit.id, "date": _local_date(due, zone)}
    jobs.append(new_job("streak_protection", habit.user_id, payload, due, f"streak_protection:{habit.id}:{due.isoformat()}"))
    return jobs


def goal_checkin_schedule(settings: UserAgentSettings) -> dict[str, Any]:
    """What a goal check-in is planned from. A job planned from another schedule (the user changed it since)
    is skipped when due: the next pass plans the new one."""
    return {
        "frequency": settings.goal_checkin_frequency, "day_of_week": settings.goal_checkin_day_of_week,
        "time": settings.goal_checkin_time, "timezone": settings.timezone,
    }


def outreach_schedule(settings: UserAgentSettings) -> dict[str, Any]:
    """What a proactive outreach is planned from (see `goal_checkin_schedule`)."""
    return {
        "frequency": settings.proactive_outreach_frequency, "day_of_week": settings.proactive_outreach_day_of_week,
        "time": settings.proactive_outreach_time, "timezone": settings.timezone,
    }


def _scheduled_due(schedule: dict[str, Any], now: datetime) -> datetime:
    rule = frequency_rule(schedule["frequency"], schedule["day_of_week"])
    return next_local(rule, parse_hhmm(schedule["time"]), schedule["timezone"], now)


def goal_checkin_job(settings: UserAgentSettings, now: datetime) -> dict[str, Any]:
    schedule = goal_checkin_schedule(settings)
    due = _scheduled_due(schedule, now)
    return new_job(
        "goal_checkin", settings.user_id, {"schedule": schedule}, due, f"goal_checkin:{settings.user_id}:{due.isoformat()}"
    )


def outreach_job(settings: UserAgentSettings, now: datetime) -> dict[str, Any]:
    """The next proactive outreach; its topic rotates through the user's topics day by day."""
    schedule = outreach_schedule(settings)
    due = _scheduled_due(schedule, now)
    topics = settings.proactive_outreach_topics or ["your goals"]
    topic = topics[due.toordinal() % len(topics)]
    payload = {"topic": topic, "schedule": schedule}
    return new_job("proactive_outreach", settings.user_id, payload, due, f"outreach:{settings.user_id}:{due.isoformat()}")


async def _planned(session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    habits = await session.execute(
        select(Habit, UserAgentSettings)
        .join(UserAgentSettings, UserAgentSettings.user_id == Habit.user_id)
        .where(Habit.active, UserAgentSettings.habit_reminders_enabled)
    )
    for habit, settings in habits.all():
        jobs += habit_jobs(habit, settings, now)
    checkins = await session.scalars(select(UserAgentSettings).where(UserAgentSettings.goal_checkin_enabled))
    jobs += [goal_checkin_job(settings, now) for settings in checkins]
    outreach = await session.scalars(select(UserAgentSettings).where(UserAgentSettings.allow_proactive_outreach))
    jobs += [outreach_job(settings, now) for settings in outreach]
    return jobs


async def plan(services: ToolServices) -> int:
    """One planning pass at the services' clock; returns how many jobs it created."""
    async with services.sessions() as session:
        created = await insert_jobs(session, await _planned(session, services.clock()))
        await session.commit()
    return created
