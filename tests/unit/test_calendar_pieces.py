"""Pure pieces of the calendar work: sealing with key versions, Google event ids, whole-interval window
checks (working hours), the RFC 5545 writer checked against the `icalendar` parser, slot ranking."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import icalendar
import pytest

from policy.quiet_hours import LocalWindow
from tools.calendar.ics import fold, render_calendar
from tools.calendar.providers import Busy
from tools.calendar.slots import rank_slots
from tools.channels.google_calendar import event_id_for
from tools.channels.sealing import SealError, TokenSealer

SECRET = "unit-test-secret"


def test_a_value_sealed_under_an_older_key_version_still_opens_after_rotation():
    old = TokenSealer(SECRET, versions=(1,))
    rotated = TokenSealer(SECRET, versions=(2, 1))
    sealed = old.seal("user-a", "google.refresh_token", "1//refresh")
    assert rotated.open("user-a", "google.refresh_token", sealed) == "1//refresh"
    with pytest.raises(SealError):
        old.open("user-a", "google.refresh_token", rotated.seal("user-a", "google.refresh_token", "new"))


def test_a_sealed_value_does_not_open_for_another_user_purpose_or_secret():
    sealer = TokenSealer(SECRET)
    sealed = sealer.seal("user-a", "google.access_token", "ya29.token")
    for user, purpose, other in [("user-b", "google.access_token", sealer), ("user-a", "google.pkce_verifier", sealer),
                                 ("user-a", "google.access_token", TokenSealer("another-secret"))]:
        with pytest.raises(SealError):
            other.open(user, purpose, sealed)


def test_google_event_ids_are_base32hex_and_stable():
    action_id = "0f" * 16
    event_id = event_id_for(action_id)
    assert re.fullmatch(r"[a-v0-9]{5,1024}", event_id) and event_id == event_id_for(action_id)
    assert event_id != event_id_for("1f" * 16)


BERLIN = "Europe/Berlin"
NINE_TO_FIVE = LocalWindow(BERLIN, time(9), time(17))


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=ZoneInfo(BERLIN))


@pytest.mark.parametrize(
    ("start", "end", "inside"),
    [
        (berlin(25, 9), berlin(25, 17), True),
        (berlin(25, 16, 30), berlin(25, 17, 30), False),  # runs past closing
        (berlin(25, 8, 30), berlin(25, 9, 30), False),  # starts before opening
        (berlin(25, 10), berlin(26, 10), False),  # spans the night
        (berlin(29, 9), berlin(29, 17), True),  # DST change day (29 March 2026)
    ],
)
def test_a_window_covers_an_interval_only_when_all_of_it_is_inside(start, end, inside):
    assert NINE_TO_FIVE.covers(start, end) is inside


def test_a_window_across_midnight_covers_a_night_shift():
    night = LocalWindow(BERLIN, time(22), time(6))
    assert night.covers(berlin(25, 23), berlin(26, 5))
    assert not night.covers(berlin(25, 23), berlin(26, 7))


def event(**values):
    base = {"id": "e1", "title": "Plan", "description": "", "location": "",
            "start_at": datetime(2026, 12, 1, 9, tzinfo=UTC), "end_at": datetime(2026, 12, 1, 10, tzinfo=UTC),
            "created_at": datetime(2026, 11, 24, 19, tzinfo=UTC)}
    return SimpleNamespace(**{**base, **values})


def test_ics_text_is_escaped_and_parses_back_to_the_same_values():
    title = 'Call Ana, then; plan\\review "Q1"'
    description = "Line one\nLine two, with commas; and semicolons"
    text = render_calendar([event(title=title, description=description, location="Caf\u00e9 \u00c0, Berlin")])
    [parsed] = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert (str(parsed["SUMMARY"]), str(parsed["DESCRIPTION"]), str(parsed["LOCATION"])) == (
        title, description, "Caf\u00e9 \u00c0, Berlin")
    assert "\nLine two" not in text.replace("\r\n", "")


def test_ics_lines_fold_at_75_octets_without_splitting_characters():
    line = "SUMMARY:" + "\u00e9\u20ac" * 60
    folded = fold(line)
    parts = folded.encode().split(b"\r\n")
    assert all(len(part) <= 75 for part in parts)
    assert all(part.decode() for part in parts)  # every part is valid UTF-8 on its own
    assert folded.replace("\r\n ", "") == line


def test_ranking_puts_history_first_and_skips_busy_time():
    zone = ZoneInfo("UTC")
    now = datetime(2026, 11, 24, 19, tzinfo=UTC)
    completions = [datetime(2026, 11, 24 - days, 10, 15, tzinfo=UTC) for days in range(1, 6)]
    busy = [Busy(datetime(2026, 11, 25, 10, 30, tzinfo=UTC), datetime(2026, 11, 25, 11, tzinfo=UTC))]
    slots = rank_slots(now=now, zone=zone, duration=timedelta(minutes=30),
                       windows=[LocalWindow("UTC", time(8), time(12))], busy=busy, completions=completions)
    assert [(s.start.day, s.start.hour, s.start.minute, s.history_days) for s in slots[:3]] == [
        (25, 10, 0, 5), (26, 10, 0, 5), (26, 10, 30, 5)]
    assert all(not (s.start < b.end and b.start < s.end) for s in slots for b in busy)
