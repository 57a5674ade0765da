"""Time as the coach hears it: structured local times and RFC 5545 recurrences, validated with zoneinfo
and dateutil (no hand-written date math).

Recurrences are expanded in the user's local wall-clock time and converted to UTC occurrence by
occurrence, so a daily 07:00 reminder stays at 07:00 local across a DST change.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr


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
