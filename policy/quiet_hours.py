"""When a user may be contacted: their own quiet hours and the platform's calling-hours floor.

Both are windows of local wall-clock time in some zone. A send is allowed only when `now` lies in
every window that applies, and the next allowed time is the earliest instant at or after `now` when
that holds. Local times are turned into instants with zoneinfo, so a window that opens at 08:00
opens at 08:00 on the wall clock on DST days too.

The floor (47 CFR 64.1200(c)(1): no calls before 08:00 or after 21:00 at the called party's
location; Florida: 20:00) applies to calls and SMS, in the recipient's zone as guessed from the
phone number. The caller decides which channels it applies to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezones

FLOOR_OPENS = time(8, 0)
FLOOR_CLOSES = time(21, 0)
FLORIDA_FLOOR_CLOSES = time(20, 0)

# Every Florida area code (including overlays), checked against phonenumbers' geocoder in the tests.
FLORIDA_AREA_CODES = frozenset(
    "239 305 321 324 352 386 407 448 561 645 656 689 727 728 754 772 786 813 850 863 904 941 954".split()
)
# Florida spans two zones, and phonenumbers' per-exchange zones are not reliable there (it puts
# some 689 Orlando numbers in Chicago), so every Florida number must be inside both windows.
FLORIDA_ZONES = ("America/New_York", "America/Chicago")

# How far ahead to look for a moment that is inside every window before concluding there is none.
_SEARCH_HORIZON = timedelta(days=3)
EVERY_DAY = frozenset(range(7))
"""Weekdays as Python numbers them (0 = Monday ... 6 = Sunday), like `goal_checkin_day_of_week`."""


@dataclass(frozen=True)
class LocalWindow:
    """Allowed wall-clock times [opens, closes) in `zone`; it may wrap midnight (21:00-08:00).

    opens == closes means always open. It opens only on `days` (0 = Monday): a window that wraps
    midnight belongs to the day it opened on.
    """

    zone: str
    opens: time
    closes: time
    days: frozenset[int] = EVERY_DAY

    def contains(self, instant: datetime) -> bool:
        local = instant.astimezone(ZoneInfo(self.zone))
        wall = local.time().replace(tzinfo=None)
        if self.opens == self.closes:
            return self._opens_on(local.date())
        if self.opens < self.closes:
            return self.opens <= wall < self.closes and self._opens_on(local.date())
        if wall >= self.opens:
            return self._opens_on(local.date())
        return wall < self.closes and self._opens_on(local.date() - timedelta(days=1))

    def _opens_on(self, day: date) -> bool:
        return day.weekday() in self.days

    def covers(self, start: datetime, end: datetime) -> bool:
        """Whether all of [start, end) is inside the window: open at `start` and not closing before `end`."""
        if self.opens == self.closes:  # open all day on its days: every day the interval touches must be one
            zone = ZoneInfo(self.zone)
            first, last = start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()
            return all(self._opens_on(first + timedelta(days=n)) for n in range((last - first).days + 1))
        closing = LocalWindow(self.zone, self.closes, self.opens).next_opening(start)  # the complement opens
        return self.contains(start) and end <= closing

    def next_opening(self, instant: datetime) -> datetime:
        """The first instant after `instant` at which the window opens (wall clock reaches `opens` on one
        of its days)."""
        if not self.days:
            raise ValueError("a window open on no day never opens")
        zone = ZoneInfo(self.zone)
        day = instant.astimezone(zone).date()
        for offset in range(8):  # today, or within the coming week
            candidate = day + timedelta(days=offset)
            opening = _first_instant_at_wall_time(candidate, self.opens, zone)
            if opening > instant and self._opens_on(candidate):
                return opening
        raise AssertionError("unreachable: every weekday occurs within eight days")


@dataclass(frozen=True)
class WindowStatus:
    """`allowed` is whether `now` is inside every window. `next_allowed_at` (aware, UTC) equals `now`
    when allowed, and is None when the windows never overlap (then nothing may be sent)."""

    allowed: bool
    next_allowed_at: datetime | None


def parse_hhmm(value: str) -> time:
    """'HH:MM' (00:00-23:59) as a time, or ValueError."""
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f"expected a time as HH:MM, got {value!r}")
    return time(int(value[:2]), int(value[3:]))


def quiet_hours_window(zone: str, quiet_start: str, quiet_end: str) -> LocalWindow:
    """The window outside quiet hours [quiet_start, quiet_end) in the user's zone.

    Quiet hours 21:00-08:00 allow 08:00-21:00; equal start and end mean no quiet hours.
    """
    ZoneInfo(zone)  # unknown zones fail here, not at the first check
    return LocalWindow(zone, opens=parse_hhmm(quiet_end), closes=parse_hhmm(quiet_start))


def quiet_hours_status(zone: str, quiet_start: str, quiet_end: str, now: datetime) -> WindowStatus:
    """Whether `now` is outside the user's quiet hours, and when they end if not."""
    return window_status([quiet_hours_window(zone, quiet_start, quiet_end)], now)


def recipient_zones(e164: str, fallback_zone: str) -> tuple[str, ...]:
    """The zones the number may be in: phonenumbers' zones for a geographic number (plus both
    Florida zones for a Florida number); the user's zone when the number tells nothing."""
    number = _parse(e164)
    if number is None or not phonenumbers.is_number_geographical(number):
        return (fallback_zone,)
    zones = set(phone_timezones.time_zones_for_number(number)) - {phone_timezones.UNKNOWN_TIMEZONE}
    if _is_florida(number):
        zones.update(FLORIDA_ZONES)
    return tuple(sorted(zones)) or (fallback_zone,)


def is_florida_number(e164: str) -> bool:
    number = _parse(e164)
    return number is not None and _is_florida(number)


def _parse(e164: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _is_florida(number: phonenumbers.PhoneNumber) -> bool:
    return number.country_code == 1 and str(number.national_number)[:3] in FLORIDA_AREA_CODES


def consent_floor_windows(e164: str, fallback_zone: str) -> tuple[LocalWindow, ...]:
    """08:00-21:00 (Florida: 08:00-20:00) in every zone the recipient may be in."""
    closes = FLORIDA_FLOOR_CLOSES if is_florida_number(e164) else FLOOR_CLOSES
    return tuple(LocalWindow(zone, FLOOR_OPENS, closes) for zone in recipient_zones(e164, fallback_zone))


def consent_floor_status(e164: str, fallback_zone: str, now: datetime) -> WindowStatus:
    """Whether a call or SMS to `e164` is within the calling-hours floor at `now`."""
    return window_status(consent_floor_windows(e164, fallback_zone), now)


def window_status(windows: Sequence[LocalWindow], now: datetime) -> WindowStatus:
    """Whether `now` is inside every window, and the earliest instant at or after it that is.

    Combine a user's quiet hours with the floor by passing all their windows at once: checking them
    one by one could give a next time that is inside one window but outside another.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    candidate = now
    while candidate - now <= _SEARCH_HORIZON:
        closed = [window for window in windows if not window.contains(candidate)]
        if not closed:
            return WindowStatus(allowed=candidate == now, next_allowed_at=candidate)
        # No window can open for all of them before the latest of the next openings of the closed ones.
        candidate = max(window.next_opening(candidate) for window in closed).astimezone(UTC)
    return WindowStatus(allowed=False, next_allowed_at=None)


def _first_instant_at_wall_time(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first instant whose wall-clock time in `zone` is `wall` or later on `day`.

    Usually `wall` itself. When a DST change skips it (02:30 on a spring-forward night), that is the
    instant the clocks jump, when the wall clock first shows a later time.
    """
    naive = datetime.combine(day, wall)
    before = naive.replace(tzinfo=zone, fold=0)
    if before.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive:
        return before.astimezone(UTC)
    # Skipped. fold=1 reads `wall` with the offset after the jump, an instant before the jump;
    # fold=0 with the offset before it, an instant after. Bisect for the jump.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = before.astimezone(UTC)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)
