"""Times and RFC 5545 rules as a coach says them aloud: "every weekday at 6:30 am", "Tuesday 1 December".

Pure formatting: the dates come from zoneinfo and dateutil (tools.timespec); nothing here does date math.
`rule_pattern` covers the common rules and returns None for the rest, so the caller can fall back to a
generic sentence instead of saying something wrong.
"""

from __future__ import annotations

from datetime import datetime

DAY_NAMES = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday",
             "SA": "Saturday", "SU": "Sunday"}
DAY_CODES = list(DAY_NAMES)
WEEKDAYS = frozenset(DAY_CODES[:5])
WEEKEND = frozenset(DAY_CODES[5:])
EVERY_DAY = frozenset(DAY_CODES)
ORDINAL_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
DESCRIBED_PARTS = frozenset({"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "COUNT", "UNTIL", "WKST"})


def clock(moment: datetime) -> str:
    """'6:30 am', '12:00 pm'."""
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'am' if moment.hour < 12 else 'pm'}"


def day(moment: datetime, this_year: int) -> str:
    """'Tuesday 1 December', with the year only when it is not `this_year`."""
    year = f" {moment.year}" if moment.year != this_year else ""
    return f"{moment:%A} {moment.day} {moment:%B}{year}"


def and_list(items: list[str]) -> str:
    """'Monday', 'Monday and Thursday', 'Monday, Wednesday and Friday'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def rule_parts(rrule: str) -> dict[str, str]:
    """The NAME=VALUE parts of an RRULE body already validated by dateutil."""
    return dict(part.split("=", 1) for part in rrule.upper().split(";") if part)


def rule_pattern(parts: dict[str, str], first: datetime) -> str | None:
    """How often a rule repeats ('every weekday', 'every 2 weeks on Monday and Thursday'), without the time
    of day; None for a rule this module does not describe. `first` is the first occurrence, local."""
    if not set(parts) <= DESCRIBED_PARTS:
        return None
    interval = int(parts.get("INTERVAL", "1"))
    days = parts["BYDAY"].split(",") if "BYDAY" in parts else []
    month_days = [int(value) for value in parts["BYMONTHDAY"].split(",")] if "BYMONTHDAY" in parts else []
    frequency = parts["FREQ"]
    if frequency in ("DAILY", "WEEKLY") and not month_days:
        return _daily_or_weekly(frequency, interval, days, first)
    if frequency == "MONTHLY" and not (days and month_days):
        on = _month_days(month_days or [first.day]) if not days else _nth_weekdays(days)
        return on and f"{_every(interval, 'month')} on {on}"
    if frequency == "YEARLY" and not (days or month_days):
        return f"{_every(interval, 'year')} on {first.day} {first:%B}"
    return None


def _every(interval: int, unit: str) -> str:
    return f"every {unit}" if interval == 1 else f"every {interval} {unit}s"


def _daily_or_weekly(frequency: str, interval: int, days: list[str], first: datetime) -> str | None:
    if frequency == "DAILY" and not days:
        return _every(interval, "day")
    if frequency == "DAILY" and interval > 1:
        return None  # "every other day, but only on Mondays" is not worth a sentence of its own
    days = days or [DAY_CODES[first.weekday()]]
    if any(code not in DAY_NAMES for code in days):
        return None  # ordinals ("1MO") only mean something in monthly and yearly rules
    chosen = frozenset(days)
    names = and_list([DAY_NAMES[code] for code in DAY_CODES if code in chosen])
    if interval == 1:
        return "every " + {EVERY_DAY: "day", WEEKDAYS: "weekday", WEEKEND: "weekend day"}.get(chosen, names)
    return f"{_every(interval, 'week')} on " + {WEEKDAYS: "weekdays", WEEKEND: "weekends"}.get(chosen, names)


def _month_days(numbers: list[int]) -> str | None:
    if any(number < -1 or number == 0 for number in numbers):
        return None
    ordered = sorted(numbers, key=_last_at_the_end)
    return "the " + and_list(["last day" if number == -1 else _ordinal_number(number) for number in ordered])


def _last_at_the_end(number: int) -> int:
    return number if number > 0 else 32


def _ordinal_number(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _nth_weekdays(days: list[str]) -> str | None:
    """'the first Monday and the last Friday' for BYDAY=+1MO,-1FR; None for plain or unusual entries."""
    described = []
    for entry in days:
        number, code = entry[:-2], entry[-2:]
        if not number or int(number) not in ORDINAL_WORDS:
            return None
        described.append(f"the {ORDINAL_WORDS[int(number)]} {DAY_NAMES[code]}")
    return and_list(described)
