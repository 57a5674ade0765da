"""Ranking free slots for `find_optimal_time`: free, allowed (quiet hours, working hours, part of the day),
and at an hour of the day when the user has been getting their habits done.

History is counted per local hour of day: for a slot starting at 10:30, the days of the last two weeks on
which a habit completion was recorded between 10:00 and 10:59. More such days rank higher; ties go to the
sooner slot. Chosen slots never overlap each other or anything busy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from policy.quiet_hours import LocalWindow
from tools.calendar.providers import Busy

HISTORY_DAYS = 14
HORIZON = timedelta(days=7)
STEP = timedelta(minutes=30)
MAX_SLOTS = 5
PARTS_OF_DAY = {"morning": (time(5), time(12)), "afternoon": (time(12), time(17)), "evening": (time(17), time(22))}


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    history_days: int
    reason: str


def part_of_day_window(zone: str, part: str) -> LocalWindow | None:
    """The window for morning/afternoon/evening; None for "any"."""
    bounds = PARTS_OF_DAY.get(part)
    return LocalWindow(zone, *bounds) if bounds else None


def days_by_hour(completions: Iterable[datetime], zone: ZoneInfo) -> dict[int, set[date]]:
    """For each local hour of day, the local dates on which something was completed in that hour."""
    hours: dict[int, set[date]] = {}
    for moment in completions:
        local = moment.astimezone(zone)
        hours.setdefault(local.hour, set()).add(local.date())
    return hours


def _first_start(now: datetime, zone: ZoneInfo) -> datetime:
    """The next :00 or :30 of the local wall clock after `now`."""
    local = now.astimezone(zone).replace(second=0, microsecond=0)
    local += timedelta(minutes=30 - local.minute % 30)
    return local.astimezone(UTC)


def _overlaps(start: datetime, end: datetime, intervals: Iterable[Busy | Slot]) -> bool:
    return any(item.start < end and start < item.end for item in intervals)


def _reason(days: int) -> str:
    if days == 0:
        return f"free; no habits completed at this hour in the last {HISTORY_DAYS} days"
    return f"free, and you completed habits at this time on {days} of the last {HISTORY_DAYS} days"


def rank_slots(
    *,
    now: datetime,
    zone: ZoneInfo,
    duration: timedelta,
    windows: Sequence[LocalWindow],
    busy: Sequence[Busy],
    completions: Iterable[datetime],
) -> list[Slot]:
    """Up to MAX_SLOTS non-overlapping free slots in the next 7 days, best first."""
    history = days_by_hour(completions, zone)
    candidates = []
    start = _first_start(now, zone)
    while start + duration <= now + HORIZON:
        end = start + duration
        if all(window.covers(start, end) for window in windows) and not _overlaps(start, end, busy):
            days = len(history.get(start.astimezone(zone).hour, ()))
            candidates.append(Slot(start, end, days, _reason(days)))
        start += STEP
    candidates.sort(key=lambda slot: (-slot.history_days, slot.start))
    chosen: list[Slot] = []
    for slot in candidates:
        if not _overlaps(slot.start, slot.end, chosen):
            chosen.append(slot)
        if len(chosen) == MAX_SLOTS:
            break
    return chosen
