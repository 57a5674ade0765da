"""tools.timephrase: the REST API's dateparser fallback, and the phrases it refuses (measured, see the module)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tools.timephrase import local_iso
from tools.timespec import TimeSpecError

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)  # Tuesday 24 November, 2:00 pm in New York


@pytest.mark.parametrize(
    ("phrase", "local"),
    [
        ("in 20 minutes", "2026-11-24T14:20-05:00"),
        ("in an hour", "2026-11-24T15:00-05:00"),
        ("in twenty minutes", "2026-11-24T14:20-05:00"),
        ("tomorrow at 5pm", "2026-11-25T17:00-05:00"),
        ("tomorrow 17:00", "2026-11-25T17:00-05:00"),
        ("next Tuesday at 9am", "2026-12-01T09:00-05:00"),
        ("next Tuesday at 9:00", "2026-12-01T09:00-05:00"),
        ("Friday 7am", "2026-11-27T07:00-05:00"),
        ("December 1 at 9am", "2026-12-01T09:00-05:00"),
        ("tonight", "2026-11-24T20:00-05:00"),
        ("tomorrow evening", "2026-11-25T18:00-05:00"),
        ("tomorrow morning", "2026-11-25T09:00-05:00"),
        ("noon tomorrow", "2026-11-25T12:00-05:00"),
        ("6:30", "2026-11-25T06:30-05:00"),
        ("2026-12-01T09:00", "2026-12-01T09:00"),
    ],
)
def test_handled_phrase(phrase: str, local: str) -> None:
    assert local_iso(phrase, NEW_YORK, NOW) == local


@pytest.mark.parametrize(
    ("phrase", "question"),
    [
        pytest.param("next Tuesday at 9", "do you mean 9 am or 9 pm?", id="bare-hour-dateparser-cannot-read"),
        pytest.param("tonight at 8", "do you mean 8 am or 8 pm?", id="bare-hour-dateparser-drops"),
        pytest.param("Friday", "at what time Friday?", id="day-without-time"),
        pytest.param("next week", "at what time next week?", id="week-without-time"),
        pytest.param("in half an hour", "I couldn't read 'in half an hour' as a time; when exactly do you mean?",
                     id="not-understood"),
    ],
)
def test_refused_phrase_asks_back(phrase: str, question: str) -> None:
    with pytest.raises(TimeSpecError) as refused:
        local_iso(phrase, NEW_YORK, NOW)
    assert str(refused.value) == question


@pytest.mark.parametrize("phrase", ["every morning at 7", "every weekday at 6:30", "on Fridays", "daily at 8am"])
def test_recurrence_phrase_asks_for_an_rrule(phrase: str) -> None:
    with pytest.raises(TimeSpecError, match="recurrence as an RRULE"):
        local_iso(phrase, NEW_YORK, NOW)

