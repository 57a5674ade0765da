"""The REST API's fallback for one-off time phrases ("in 20 minutes", "tomorrow at 5pm"), via dateparser.

Only `POST /api/actions` callers get this (the model always sends structured time, see tools.catalogue).
dateparser has no notion of recurrence and silently drops some times, so a phrase is only accepted when
dateparser reports that it found a time of day (RETURN_TIME_AS_PERIOD gives period "time" or
"part_of_day"); everything else is refused with a question. Measured with dateparser 1.5:

- handled: "in 20 minutes", "in an hour", "in twenty minutes", "tomorrow at 5pm", "tomorrow 17:00",
  "next Tuesday at 9am", "Friday 7am", "December 1 at 9am", "2026-12-01 09:00", "tonight",
  "tomorrow evening" (18:00), "tomorrow morning" (09:00), "noon tomorrow", "6:30" (next 6:30);
- refused here because dateparser gets them wrong: "next Tuesday at 9" and "tomorrow at 9" (the hour is
  dropped or unparsed; "tonight at 8" even comes back as the current time), so a bare hour needs am/pm;
  "Friday", "tomorrow", "next week", "in 3 days" (no time of day);
- not understood: "in half an hour", "remind me in 20 minutes", "half past seven";
- time-only phrases ("9am") mean today even when that has passed, so they are refused as past;
- numeric dates are month first ("1/12 9am" is 12 January).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from dateparser.date import DateDataParser

from tools.timespec import TimeSpecError

RECURRING = re.compile(
    r"\b(every|each|daily|weekly|monthly|yearly|weekdays|weekends|(mon|tues|wednes|thurs|fri|satur|sun)days)\b",
    re.IGNORECASE,
)
BARE_HOUR = re.compile(r"\bat (1[0-2]|[1-9])\b(?!\s*(:|\.\d|[ap]\.?m\b))", re.IGNORECASE)
TIME_OF_DAY_PERIODS = frozenset({"time", "part_of_day"})


def local_iso(phrase: str, zone: ZoneInfo, now: datetime) -> str:
    """The local ISO 8601 datetime (with its offset) a one-off `phrase` means in `zone`, preferring the future.

    An ISO datetime passes through unchanged. The result is not checked against `now` here: the caller
    validates it like any structured time (tools.timespec.time_spec).
    """
    if _is_iso(phrase):
        return phrase
    if RECURRING.search(phrase):
        raise TimeSpecError(
            f"{phrase!r} repeats; give remind_at as the first local time and recurrence as an RRULE, "
            "e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR for every weekday"
        )
    if hour := BARE_HOUR.search(phrase):
        raise TimeSpecError(f"do you mean {hour.group(1)} am or {hour.group(1)} pm?")
    parsed = _parser(zone, now).get_date_data(phrase)
    if parsed.date_obj is None:
        raise TimeSpecError(f"I couldn't read {phrase!r} as a time; when exactly do you mean?")
    if parsed.period not in TIME_OF_DAY_PERIODS:
        raise TimeSpecError(f"at what time {phrase}?")
    return parsed.date_obj.astimezone(zone).isoformat(timespec="minutes")


def _is_iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _parser(zone: ZoneInfo, now: datetime) -> DateDataParser:
    return DateDataParser(
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "future",
            "TIMEZONE": zone.key,
            "TO_TIMEZONE": zone.key,
            "RETURN_AS_TIMEZONE_AWARE": True,
            "RETURN_TIME_AS_PERIOD": True,
            "RELATIVE_BASE": now.astimezone(zone).replace(tzinfo=None),
        },
    )
