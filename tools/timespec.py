"""Time as the coach hears it: structured local times and RFC 5545 recurrences, validated with zoneinfo
and dateutil (no hand-written date math).

Recurrences are expanded in the user's local wall-clock time and converted to UTC occurrence by
occurrence, so a daily 07:00 reminder stays at 07:00 local across a DST change.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr


class TimeSpecError(ValueError):
    """A time the coach cannot use; the message is a question the coach can ask back."""


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name` (TimeSpecError for an unknown one)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeSpecError(f"I don't know the time zone {name!r}; which city's time do you mean?") from None


def resolve_local_time(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """A local ISO 8601 datetime in `zone` (an explicit offset is honoured) as aware UTC, in the future.

    Raises TimeSpecError for text that is not a date and time, or a time that has already passed.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TimeSpecError(f"{text!r} is not a date and time; when exactly do you mean?") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    moment = moment.astimezone(timezone.utc)
    if moment <= now:
        raise TimeSpecError("that time has already passed; when do you mean?")
    return moment


def next_occurrence(rrule: str, first_local: datetime, after: datetime) -> datetime | None:
    """The first occurrence of `rrule` strictly after `after` (aware), as aware UTC; None when it has ended.

    `first_local` is the first occurrence, aware in the user's zone (a `ZoneInfo`); the rule is expanded
    on naive local wall-clock times and each occurrence is localised in that zone.
    """
    zone = first_local.tzinfo
    if not isinstance(zone, ZoneInfo):
        raise ValueError("first_local must carry a ZoneInfo time zone")
    rule = rrulestr(rrule, dtstart=first_local.replace(tzinfo=None))
    after_local = after.astimezone(zone).replace(tzinfo=None)
    candidate = rule.after(after_local)
    while candidate is not None:
        occurrence = candidate.replace(tzinfo=zone).astimezone(timezone.utc)
        if occurrence > after:
            return occurrence
        candidate = rule.after(candidate)
    return None
