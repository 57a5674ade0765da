"""Time as the coach hears it: structured local times and RFC 5545 recurrences, validated with zoneinfo
and dateutil (no hand-written date math).

Recurrences are expanded in the user's local wall-clock time and converted to UTC occurrence by
occurrence, so a daily 07:00 reminder stays at 07:00 local across a DST change.

Policies (each refusal is a TimeSpecError whose message is a question the coach can ask back):
- a local time that does not exist (the clocks go forward) is refused, offering the time after the gap;
- a local time that happens twice (the clocks go back) means the first of the two, and the read-back says
  so, unless an explicit UTC offset picks the second;
- later occurrences of a rule are never refused: one in a gap goes off just after it (a daily
  02:30 fires at 03:30 that night), one that happens twice goes off the first time;
- a rule repeats at most hourly, and its first reminder is at most two years ahead;
- a rule is anchored at its first occurrence (the first one at or after `remind_at`), which is what is
  stored as the reminder's time: COUNT then counts the reminders the user will actually get.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rrulestr
from dateutil.tz import datetime_ambiguous, datetime_exists

from tools import timewords

MAX_AHEAD = relativedelta(years=2)
MIN_SPACING = timedelta(hours=1)
SPACING_SAMPLE = 24  # occurrences looked at to enforce MIN_SPACING
TOO_FREQUENT = frozenset({"SECONDLY", "MINUTELY"})
RULE_EXAMPLE = "FREQ=WEEKLY;BYDAY=MO,TH, with UNTIL in local time such as UNTIL=20261231T235959"


class TimeSpecError(ValueError):
    """A time the coach cannot use; the message is a question the coach can ask back."""


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name` (TimeSpecError for an unknown one)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeSpecError(f"I don't know the time zone {name!r}; which city's time do you mean?") from None


@dataclass(frozen=True)
class TimeSpec:
    """A validated reminder time: the first occurrence and, for a repeating reminder, its rule."""

    first: datetime  # aware UTC
    zone: ZoneInfo
    rrule: str | None = None  # canonical RRULE body, expanded on local wall-clock times from `local`
    first_of_two: bool = False  # `local` happens twice that night (the clocks go back); this is the earlier one

    @property
    def local(self) -> datetime:
        return self.first.astimezone(self.zone)

    def read_back(self, now: datetime) -> str:
        """The sentence the coach says before saving: 'every weekday at 6:30 am, starting Monday 30 November'."""
        local, this_year = self.local, now.astimezone(self.zone).year
        at = timewords.clock(local)
        if self.first_of_two:
            at += f" (the first {at}, before the clocks go back)"
        starting = timewords.day(local, this_year)
        if self.rrule is None:
            return f"on {starting} at {at}"
        parts = timewords.rule_parts(self.rrule)
        pattern = timewords.rule_pattern(parts, local)
        if pattern is None:
            return f"repeating by the rule {self.rrule}, starting {starting} at {at}"
        return f"{pattern} at {at}, starting {starting}{self._ending(parts, this_year)}"

    def _ending(self, parts: dict[str, str], this_year: int) -> str:
        if "COUNT" in parts:
            return ", once" if parts["COUNT"] == "1" else f", {parts['COUNT']} times"
        if "UNTIL" not in parts:
            return ""
        # Said as the day of the last reminder: UNTIL=20261231 (midnight) already excludes 31 December's.
        start = self.local.replace(tzinfo=None)
        until = datetime.strptime(parts["UNTIL"], "%Y%m%dT%H%M%S")
        last = _local_rule(self.rrule, start).before(until, inc=True) if until <= start + MAX_AHEAD else until
        return f", until {timewords.day(last, this_year)}"


def time_spec(remind_at: str, zone: ZoneInfo, recurrence: str | None, now: datetime) -> TimeSpec:
    """Validate a reminder time: `remind_at` a local ISO 8601 datetime in `zone` (an explicit offset is
    honoured), `recurrence` an optional RRULE body. Raises TimeSpecError with a question to ask back."""
    start = _wall_time(remind_at, zone)
    horizon = (now.astimezone(zone) + MAX_AHEAD).replace(tzinfo=None)
    if start > horizon:
        raise TimeSpecError(
            f"{_day(start, now, zone)} is more than two years away; reminders go up to "
            f"{_day(horizon, now, zone)}. When do you mean?"
        )
    rule = _parsed_rule(recurrence, start) if recurrence else None
    first = _first_occurrence(rule, start, horizon, now, zone) if rule else start
    moment = _existing(first, zone).astimezone(timezone.utc)
    if moment <= now:
        raise TimeSpecError(
            f"{_day(first, now, zone)} at {timewords.clock(first)} has already passed "
            f"(it's {timewords.clock(now.astimezone(zone))} there now); when do you mean?"
        )
    canonical = str(rule).splitlines()[-1].removeprefix("RRULE:") if rule else None
    return TimeSpec(moment, zone, canonical, datetime_ambiguous(first, zone) and first.fold == 0)


def resolve_local_time(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """A local ISO 8601 datetime in `zone` (an explicit offset is honoured) as aware UTC, in the future.

    Raises TimeSpecError for text that is not a date and time, a local time that does not exist, or a time
    that has already passed.
    """
    moment = _existing(_wall_time(text, zone), zone).astimezone(timezone.utc)
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
    rule = _local_rule(rrule, first_local.replace(tzinfo=None))
    after_local = after.astimezone(zone).replace(tzinfo=None)
    candidate = rule.after(after_local)
    while candidate is not None:
        occurrence = candidate.replace(tzinfo=zone).astimezone(timezone.utc)
        if occurrence > after:
            return occurrence
        candidate = rule.after(candidate)
    return None


def _local_rule(text: str, start: datetime) -> rrule:
    """`text` expanded from the naive local wall-clock time `start`."""
    return rrulestr(text, dtstart=start)


def _wall_time(text: str, zone: ZoneInfo) -> datetime:
    """The naive local wall-clock time `text` names in `zone`; an explicit offset is converted (and keeps
    the fold it implies, so '01:30-05:00' on a fall-back night stays the second 01:30)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TimeSpecError(f"{text!r} is not a date and time; when exactly do you mean?") from None
    if _is_date_only(text):
        raise TimeSpecError(f"at what time on {moment:%A} {moment.day} {moment:%B}?")
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone).replace(tzinfo=None)
    return moment


def _is_date_only(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _existing(local: datetime, zone: ZoneInfo) -> datetime:
    """`local` (naive) made aware in `zone`; refused when the clocks skip it."""
    if not datetime_exists(local, zone):
        after_gap = local.replace(tzinfo=zone).astimezone(timezone.utc).astimezone(zone)
        raise TimeSpecError(
            f"{timewords.clock(local)} doesn't exist on {local:%A} {local.day} {local:%B} in {zone.key}: "
            f"the clocks go forward that night. Shall I make it {timewords.clock(after_gap)}?"
        )
    return local.replace(tzinfo=zone)


def _parsed_rule(recurrence: str, start: datetime) -> rrule:
    body = recurrence.strip().removeprefix("RRULE:").removeprefix("rrule:")
    if ":" in body or "\n" in body:
        raise TimeSpecError(
            f"the recurrence must be a single RRULE such as {RULE_EXAMPLE}; how often should it repeat?"
        )
    try:
        rule = _local_rule(body, start)
    except (ValueError, TypeError) as exc:
        raise TimeSpecError(
            f"the recurrence {recurrence!r} is not a valid RRULE ({exc}); give one such as {RULE_EXAMPLE}. "
            "How often should it repeat?"
        ) from None
    if timewords.rule_parts(body).get("FREQ") in TOO_FREQUENT:
        raise _too_frequent()
    return rule


def _too_frequent() -> TimeSpecError:
    return TimeSpecError("reminders repeat at most once an hour (they are not alarms); how often do you want it?")


def _first_occurrence(rule: rrule, start: datetime, horizon: datetime, now: datetime, zone: ZoneInfo) -> datetime:
    """The rule's first occurrence at or after `start`, checked for spacing.

    The search runs on a copy of the rule cut off at `horizon`, so a rule that never matches (e.g. 30
    February) costs two years of expansion, not eight thousand.
    """
    bounded = rule.replace(count=None, until=horizon)
    first = bounded.after(start, inc=True)
    if first is None or rule.after(start, inc=True) != first:
        raise TimeSpecError(
            f"that repeating reminder would never go off between {_day(start, now, zone)} and "
            f"{_day(horizon, now, zone)} (check its end date or count); when should it start, and how often?"
        )
    sample = list(bounded.xafter(first, count=SPACING_SAMPLE, inc=True))
    if any(later - earlier < MIN_SPACING for earlier, later in pairwise(sample)):
        raise _too_frequent()
    return first


def _day(local: datetime, now: datetime, zone: ZoneInfo) -> str:
    return timewords.day(local, now.astimezone(zone).year)
