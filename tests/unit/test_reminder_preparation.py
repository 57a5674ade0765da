"""prepare_schedule_reminder: a reminder's time pinned down (and read back) before anyone is asked to confirm."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tools.catalogue import ScheduleReminder
from tools.executors.coaching import prepare_schedule_reminder
from tools.results import ErrorCode, ToolFailure

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)  # Tuesday 24 November, 2:00 pm in New York


def reminder(**args: str) -> ScheduleReminder:
    return ScheduleReminder(message="Stretch", **args)


def test_api_phrase_is_pinned_to_its_local_time_and_zone() -> None:
    prepared = prepare_schedule_reminder(reminder(remind_at="in 20 minutes"), NEW_YORK, NOW, "api")
    assert (prepared.args.remind_at, prepared.args.timezone) == ("2026-11-24T14:20-05:00", "America/New_York")


@pytest.mark.parametrize("source", ["voice", "browser", "chat", "scheduler"])
def test_phrase_from_any_other_source_is_refused(source: str) -> None:
    with pytest.raises(ToolFailure) as refused:
        prepare_schedule_reminder(reminder(remind_at="in 20 minutes"), NEW_YORK, NOW, source)
    assert refused.value.code is ErrorCode.INVALID_ARGUMENT


def test_rule_is_pinned_to_its_first_occurrence() -> None:
    args = reminder(remind_at="2026-11-25T09:00", recurrence="freq=weekly;byday=fr")
    prepared = prepare_schedule_reminder(args, NEW_YORK, NOW, "chat")
    assert (prepared.args.remind_at, prepared.args.recurrence) == ("2026-11-27T09:00-05:00", "FREQ=WEEKLY;BYDAY=FR")


def test_preparing_pinned_arguments_again_changes_nothing() -> None:
    once = prepare_schedule_reminder(reminder(remind_at="in 20 minutes"), NEW_YORK, NOW, "api").args
    assert prepare_schedule_reminder(once, NEW_YORK, NOW, "api").args == once


def test_summary_says_channel_time_and_message() -> None:
    prepared = prepare_schedule_reminder(reminder(remind_at="2026-12-01T09:00", channel="call"), NEW_YORK, NOW, "chat")
    assert prepared.summary == 'remind you by a phone call on Tuesday 1 December at 9:00 am: "Stretch"'


def test_another_zone_is_named_in_the_read_back() -> None:
    args = reminder(remind_at="2026-12-01T09:00", timezone="Europe/London")
    prepared = prepare_schedule_reminder(args, NEW_YORK, NOW, "chat")
    assert prepared.summary == 'remind you by text on Tuesday 1 December at 9:00 am, Europe/London time: "Stretch"'


def test_unknown_zone_is_invalid_argument_asking_which_city() -> None:
    with pytest.raises(ToolFailure) as refused:
        prepare_schedule_reminder(reminder(remind_at="2026-12-01T09:00", timezone="Mars/Olympus"), NEW_YORK, NOW, "chat")
    assert (refused.value.code, refused.value.message) == (
        ErrorCode.INVALID_ARGUMENT, "I don't know the time zone 'Mars/Olympus'; which city's time do you mean?",
    )
