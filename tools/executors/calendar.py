"""Calendar executors: create an event, free/busy for a day, and the best time for an activity.

All three use the user's calendar as `calendar_for` chooses it (Google when connected, else built-in).
A new event that overlaps anything busy is refused (INVALID_ARGUMENT with the conflicts), never
double-booked: the coach can offer another time. Working hours are checked by the policy before this runs.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from db.models import HabitCompletion
from policy.decision import working_hours_window
from policy.quiet_hours import parse_hhmm, quiet_hours_window
from tools.calendar.providers import Busy, CalendarProvider, NewEvent, calendar_for
from tools.calendar.slots import HISTORY_DAYS, HORIZON, part_of_day_window, rank_slots
from tools.catalogue import CheckCalendarAvailability, CreateCalendarEvent, FindOptimalTime
from tools.executors.base import Execution
from tools.results import ErrorCode, ToolFailure
from tools.timespec import TimeSpecError


async def _calendar(run: Execution) -> CalendarProvider:
    return await calendar_for(run.session, run.services, run.user.id, run.now)


def _local(run: Execution, moment: datetime) -> str:
    return moment.astimezone(run.zone).isoformat(timespec="minutes")


def _interval(run: Execution, start: datetime, end: datetime, title: str | None = None) -> dict[str, Any]:
    interval = {"start": _local(run, start), "end": _local(run, end)}
    return {**interval, "title": title} if title else interval


async def create_calendar_event(run: Execution, args: CreateCalendarEvent) -> dict[str, Any]:
    try:
        start, end = args.window(run.zone, run.now)
    except TimeSpecError as exc:
        raise ToolFailure(ErrorCode.INVALID_ARGUMENT, str(exc)) from None
    calendar = await _calendar(run)
    conflicts = await calendar.busy(start, end)
    if conflicts:
        raise ToolFailure(
            ErrorCode.INVALID_ARGUMENT,
            f"that time clashes with {len(conflicts)} existing event(s); pick another time",
            {"conflicts": [_interval(run, busy.start, busy.end, busy.title) for busy in conflicts]},
        )
    created = await calendar.insert(
        NewEvent(run.action_id, args.title, args.description, args.location, start, end, run.settings.timezone)
    )
    result = {"event_id": created.id, "provider": created.provider, "title": args.title, **_interval(run, start, end)}
    return {**result, "link": created.link} if created.link else result


def _clip(busy: list[Busy], start: datetime, end: datetime) -> list[Busy]:
    return [Busy(max(b.start, start), min(b.end, end), b.title) for b in busy]


def _gaps(busy: list[Busy], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    gaps, cursor = [], start
    for interval in sorted(busy, key=lambda b: b.start):
        if interval.start > cursor:
            gaps.append((cursor, interval.start))
        cursor = max(cursor, interval.end)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


async def check_calendar_availability(run: Execution, args: CheckCalendarAvailability) -> dict[str, Any]:
    start = datetime.combine(args.date, parse_hhmm(args.time_range_start), run.zone)
    end = (
        datetime.combine(args.date, parse_hhmm(args.time_range_end), run.zone)
        if args.time_range_end
        else datetime.combine(args.date + timedelta(days=1), time(0), run.zone)
    )
    calendar = await _calendar(run)
    busy = _clip(await calendar.busy(start, end), start, end)
    return {
        "date": args.date.isoformat(),
        "timezone": run.settings.timezone,
        "provider": calendar.name,
        "range": _interval(run, start, end),
        "is_free": not busy,
        "busy": [_interval(run, b.start, b.end, b.title) for b in busy],
        "free": [_interval(run, gap_start, gap_end) for gap_start, gap_end in _gaps(busy, start, end)],
    }


async def find_optimal_time(run: Execution, args: FindOptimalTime) -> dict[str, Any]:
    """Quiet hours always apply; working hours apply to goal work, and to everything when the user only
    allows calendar events in working hours (a suggested slot must be one the coach may then book)."""
    settings = run.settings
    windows = [quiet_hours_window(settings.timezone, settings.quiet_hours_start, settings.quiet_hours_end)]
    if args.activity_type == "goal_work" or settings.calendar_working_hours_only:
        windows.append(working_hours_window(settings))
    part = part_of_day_window(settings.timezone, args.preferred_time_of_day)
    if part is not None:
        windows.append(part)
    calendar = await _calendar(run)
    slots = rank_slots(
        now=run.now,
        zone=run.zone,
        duration=timedelta(minutes=args.duration_minutes),
        windows=windows,
        busy=await calendar.busy(run.now, run.now + HORIZON),
        completions=await _recent_completions(run),
    )
    return {
        "activity_type": args.activity_type,
        "duration_minutes": args.duration_minutes,
        "provider": calendar.name,
        "slots": [{**_interval(run, s.start, s.end), "history_days": s.history_days, "reason": s.reason} for s in slots],
    }


async def _recent_completions(run: Execution) -> list[datetime]:
    since = run.local_now.date() - timedelta(days=HISTORY_DAYS - 1)  # today and the 13 days before
    rows = await run.session.execute(
        select(HabitCompletion.completed_at).where(
            HabitCompletion.user_id == run.user.id, HabitCompletion.completed_on >= since
        )
    )
    return list(rows.scalars())


EXECUTORS = {
    "create_calendar_event": create_calendar_event,
    "check_calendar_availability": check_calendar_availability,
    "find_optimal_time": find_optimal_time,
}
