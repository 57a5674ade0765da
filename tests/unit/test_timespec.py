"""tools.timespec: structured reminder times, what the coach reads back, what it asks back, and DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tools.timespec import TimeSpecError, next_occurrence, resolve_local_time, time_spec, zone_named

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)  # Tuesday 24 November, 2:00 pm in New York


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- what is read back ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remind_at", "rrule", "read_back"),
    [
        pytest.param("2026-12-01T09:00", None, "on Tuesday 1 December at 9:00 am", id="next-tuesday-at-9"),
        pytest.param("2026-11-24T14:20", None, "on Tuesday 24 November at 2:20 pm", id="in-20-minutes"),
        pytest.param("2026-11-25T18:00", None, "on Wednesday 25 November at 6:00 pm", id="tomorrow-evening"),
        pytest.param("2027-01-04T12:00", None, "on Monday 4 January 2027 at 12:00 pm", id="next-year-says-the-year"),
        pytest.param("2026-11-25T07:00", "FREQ=DAILY", "every day at 7:00 am, starting Wednesday 25 November",
                     id="every-morning-at-7"),
        pytest.param("2026-11-25T06:30", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
                     "every weekday at 6:30 am, starting Wednesday 25 November", id="every-weekday-at-6-30"),
        pytest.param("2026-11-25T09:00", "FREQ=WEEKLY;BYDAY=FR", "every Friday at 9:00 am, starting Friday 27 November",
                     id="on-fridays-starts-on-the-first-friday"),
        pytest.param("2026-11-25T10:00", "FREQ=WEEKLY;BYDAY=SA,SU",
                     "every weekend day at 10:00 am, starting Saturday 28 November", id="weekends"),
        pytest.param("2026-11-25T19:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=10",
                     "every 2 weeks on Monday and Thursday at 7:00 pm, starting Thursday 26 November, 10 times",
                     id="every-2-weeks-10-times"),
        pytest.param("2026-11-30T08:00", "FREQ=WEEKLY", "every Monday at 8:00 am, starting Monday 30 November",
                     id="weekly-on-the-start-day"),
        pytest.param("2026-11-25T07:00", "FREQ=DAILY;INTERVAL=3", "every 3 days at 7:00 am, starting Wednesday 25 November",
                     id="every-3-days"),
        pytest.param("2026-11-25T07:00", "FREQ=DAILY;UNTIL=20261231T235959",
                     "every day at 7:00 am, starting Wednesday 25 November, until Thursday 31 December",
                     id="until-end-of-day"),
        pytest.param("2026-11-25T07:00", "FREQ=DAILY;UNTIL=20261231",
                     "every day at 7:00 am, starting Wednesday 25 November, until Wednesday 30 December",
                     id="until-a-bare-date-ends-the-day-before"),
        pytest.param("2026-11-25T07:00", "FREQ=MONTHLY;BYDAY=1MO",
                     "every month on the first Monday at 7:00 am, starting Monday 7 December", id="first-monday"),
        pytest.param("2026-11-25T07:00", "FREQ=MONTHLY;BYMONTHDAY=1,15,-1",
                     "every month on the 1st, 15th and last day at 7:00 am, starting Monday 30 November",
                     id="month-days"),
        pytest.param("2026-11-25T07:00", "FREQ=YEARLY", "every year on 25 November at 7:00 am, starting Wednesday 25 November",
                     id="yearly"),
        pytest.param("2026-11-25T07:00", "RRULE:FREQ=DAILY;COUNT=1",
                     "every day at 7:00 am, starting Wednesday 25 November, once", id="rrule-prefix-and-count-1"),
        pytest.param("2026-11-25T07:00", "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1",
                     "repeating by the rule FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO, starting Monday 30 November at 7:00 am",
                     id="exotic-rule-states-its-first-occurrence"),
    ],
)
def test_read_back(remind_at: str, rrule: str | None, read_back: str) -> None:
    assert time_spec(remind_at, NEW_YORK, rrule, NOW).read_back(NOW) == read_back


def test_first_occurrence_is_stored_in_utc() -> None:
    spec = time_spec("2026-12-01T09:00", NEW_YORK, None, NOW)
    assert (spec.first, spec.zone, spec.rrule) == (utc(2026, 12, 1, 14, 0), NEW_YORK, None)


def test_rule_is_stored_canonical() -> None:
    assert time_spec("2026-11-25T07:00", NEW_YORK, "rrule:freq=weekly;byday=mo,fr", NOW).rrule == "FREQ=WEEKLY;BYDAY=MO,FR"


def test_explicit_offset_is_honoured() -> None:
    assert time_spec("2026-12-01T09:00+00:00", NEW_YORK, None, NOW).local == datetime(2026, 12, 1, 4, 0, tzinfo=NEW_YORK)


def test_anchoring_at_the_first_occurrence_keeps_the_series() -> None:
    """The stored first occurrence becomes the rule's start; the series must be the one the user asked for."""
    spec = time_spec("2026-11-25T19:00", NEW_YORK, "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", NOW)
    second = next_occurrence(spec.rrule, spec.local, spec.first)
    third = next_occurrence(spec.rrule, spec.local, second)
    assert [moment.astimezone(NEW_YORK).date().isoformat() for moment in (spec.first, second, third)] == [
        "2026-11-26", "2026-12-07", "2026-12-10",
    ]


# --- what is asked back --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remind_at", "rrule", "question"),
    [
        pytest.param("next Tuesday at 9", None, "'next Tuesday at 9' is not a date and time; when exactly do you mean?",
                     id="not-a-datetime"),
        pytest.param("2026-12-01", None, "at what time on Tuesday 1 December?", id="date-without-time"),
        pytest.param("2026-11-24T09:00", None,
                     "Tuesday 24 November at 9:00 am has already passed (it's 2:00 pm there now); when do you mean?",
                     id="past"),
        pytest.param("2026-11-24T14:00", None,
                     "Tuesday 24 November at 2:00 pm has already passed (it's 2:00 pm there now); when do you mean?",
                     id="now-is-not-the-future"),
        pytest.param("2029-01-01T09:00", None,
                     "Monday 1 January 2029 is more than two years away; reminders go up to Friday 24 November 2028. "
                     "When do you mean?", id="too-far-ahead"),
        pytest.param("2027-03-14T02:30", None,
                     "2:30 am doesn't exist on Sunday 14 March in America/New_York: the clocks go forward that night. "
                     "Shall I make it 3:30 am?", id="dst-gap"),
        pytest.param("2027-03-14T02:30", "FREQ=DAILY",
                     "2:30 am doesn't exist on Sunday 14 March in America/New_York: the clocks go forward that night. "
                     "Shall I make it 3:30 am?", id="dst-gap-on-the-first-occurrence"),
        pytest.param("2026-12-01T09:00", "FREQ=MINUTELY;INTERVAL=15",
                     "reminders repeat at most once an hour (they are not alarms); how often do you want it?",
                     id="minutely"),
        pytest.param("2026-12-01T09:00", "FREQ=DAILY;BYMINUTE=0,30",
                     "reminders repeat at most once an hour (they are not alarms); how often do you want it?",
                     id="twice-an-hour-inside-a-daily-rule"),
        pytest.param("2026-12-01T09:00", "FREQ=DAILY;UNTIL=20251231T235959",
                     "that repeating reminder would never go off between Tuesday 1 December and Friday 24 November 2028 "
                     "(check its end date or count); when should it start, and how often?", id="until-in-the-past"),
        pytest.param("2026-12-01T09:00", "FREQ=DAILY;COUNT=0",
                     "that repeating reminder would never go off between Tuesday 1 December and Friday 24 November 2028 "
                     "(check its end date or count); when should it start, and how often?", id="count-exhausted"),
        pytest.param("2026-12-01T09:00", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
                     "that repeating reminder would never go off between Tuesday 1 December and Friday 24 November 2028 "
                     "(check its end date or count); when should it start, and how often?", id="impossible-date"),
        pytest.param("2026-11-24T09:00", "FREQ=DAILY;COUNT=3",
                     "Tuesday 24 November at 9:00 am has already passed (it's 2:00 pm there now); when do you mean?",
                     id="rule-starting-in-the-past"),
    ],
)
def test_question(remind_at: str, rrule: str | None, question: str) -> None:
    with pytest.raises(TimeSpecError) as refused:
        time_spec(remind_at, NEW_YORK, rrule, NOW)
    assert str(refused.value) == question


@pytest.mark.parametrize(
    "rrule",
    [
        pytest.param("FREQ=FORTNIGHTLY", id="unknown-frequency"),
        pytest.param("FREQ=WEEKLY;BYDAY=XX", id="unknown-day"),
        pytest.param("FREQ=DAILY;UNTIL=20261231T235959Z", id="until-in-utc"),
    ],
)
def test_invalid_rrule_asks_for_a_valid_one(rrule: str) -> None:
    with pytest.raises(TimeSpecError, match=r"is not a valid RRULE .* How often should it repeat\?$"):
        time_spec("2026-12-01T09:00", NEW_YORK, rrule, NOW)


def test_rule_with_its_own_dtstart_is_refused() -> None:
    with pytest.raises(TimeSpecError, match="must be a single RRULE"):
        time_spec("2026-12-01T09:00", NEW_YORK, "DTSTART:20260101T000000\nRRULE:FREQ=DAILY", NOW)


def test_unknown_zone_asks_which_city() -> None:
    with pytest.raises(TimeSpecError, match="I don't know the time zone 'Mars/Olympus'; which city's time do you mean?"):
        zone_named("Mars/Olympus")


def test_hourly_is_the_most_frequent_rule_allowed() -> None:
    assert time_spec("2026-12-01T09:00", NEW_YORK, "FREQ=HOURLY;COUNT=3", NOW).rrule == "FREQ=HOURLY;COUNT=3"


# --- DST: ambiguous and repeating times ------------------------------------------------------

FALL_BACK_EVE = utc(2026, 10, 31, 12, 0)  # Saturday before America/New_York's 2026-11-01 fall-back


def test_ambiguous_time_is_the_first_of_the_two() -> None:
    spec = time_spec("2026-11-01T01:30", NEW_YORK, None, FALL_BACK_EVE)
    assert spec.first == utc(2026, 11, 1, 5, 30)  # 01:30 EDT


def test_ambiguous_time_is_read_back_as_the_first() -> None:
    spec = time_spec("2026-11-01T01:30", NEW_YORK, None, FALL_BACK_EVE)
    assert spec.read_back(FALL_BACK_EVE) == "on Sunday 1 November at 1:30 am (the first 1:30 am, before the clocks go back)"


def test_explicit_offset_picks_the_second_ambiguous_time_without_a_note() -> None:
    spec = time_spec("2026-11-01T01:30-05:00", NEW_YORK, None, FALL_BACK_EVE)
    assert spec.first == utc(2026, 11, 1, 6, 30)
    assert spec.read_back(FALL_BACK_EVE) == "on Sunday 1 November at 1:30 am"


def occurrences(remind_at: str, zone: ZoneInfo, now: datetime, count: int) -> list[datetime]:
    """The first `count` occurrences of a daily rule starting at `remind_at`, as aware UTC."""
    spec = time_spec(remind_at, zone, "FREQ=DAILY", now)
    found = [spec.first]
    while len(found) < count:
        found.append(next_occurrence(spec.rrule, spec.local, found[-1]))
    return found


@pytest.mark.parametrize(
    ("zone", "remind_at", "now", "utc_hours"),
    [
        pytest.param(NEW_YORK, "2026-10-31T07:00", utc(2026, 10, 30), [11, 12, 12], id="new-york-fall-back-2026-11-01"),
        pytest.param(NEW_YORK, "2027-03-13T07:00", utc(2027, 3, 12), [12, 11, 11], id="new-york-spring-forward-2027-03-14"),
        pytest.param(LONDON, "2026-10-24T07:00", utc(2026, 10, 23), [6, 7, 7], id="london-fall-back-2026-10-25"),
        pytest.param(LONDON, "2027-03-27T07:00", utc(2027, 3, 26), [7, 6, 6], id="london-spring-forward-2027-03-28"),
    ],
)
def test_daily_reminder_stays_at_7_local_across_dst(zone: ZoneInfo, remind_at: str, now: datetime,
                                                      utc_hours: list[int]) -> None:
    found = occurrences(remind_at, zone, now, 3)
    assert [moment.astimezone(zone).hour for moment in found] == [7, 7, 7]
    assert [moment.hour for moment in found] == utc_hours


def test_daily_reminder_in_the_gap_fires_after_the_gap_that_night() -> None:
    """A repeating 02:30 is allowed; on the spring-forward night it goes off at 03:30, then 02:30 again."""
    found = occurrences("2027-03-13T02:30", NEW_YORK, utc(2027, 3, 12), 3)
    assert [f"{moment.astimezone(NEW_YORK):%H:%M}" for moment in found] == ["02:30", "03:30", "02:30"]


# --- resolve_local_time (calendar events) ----------------------------------------------------


def test_resolve_local_time_returns_utc() -> None:
    assert resolve_local_time("2026-12-01T09:00", NEW_YORK, NOW) == utc(2026, 12, 1, 14, 0)


def test_resolve_local_time_refuses_a_past_time() -> None:
    with pytest.raises(TimeSpecError, match="already passed"):
        resolve_local_time("2026-11-24T09:00", NEW_YORK, NOW)


def test_resolve_local_time_refuses_a_time_in_the_dst_gap() -> None:
    with pytest.raises(TimeSpecError, match="clocks go forward"):
        resolve_local_time("2027-03-14T02:30", NEW_YORK, NOW)
