"""policy.quiet_hours: user quiet hours and the 08:00-21:00 calling floor, in local time, across DST."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import pytest
from phonenumbers import geocoder

from policy.quiet_hours import (
    FLORIDA_AREA_CODES,
    LocalWindow,
    consent_floor_status,
    parse_hhmm,
    quiet_hours_status,
    quiet_hours_window,
    recipient_zones,
    window_status,
)

NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def new_york(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("local_time", "quiet"),
    [
        (new_york(2026, 5, 13, 20, 59), False),
        (new_york(2026, 5, 13, 21, 0), True),
        (new_york(2026, 5, 13, 23, 30), True),
        (new_york(2026, 5, 14, 0, 0), True),
        (new_york(2026, 5, 14, 7, 59), True),
        (new_york(2026, 5, 14, 8, 0), False),
    ],
)
def test_quiet_hours_that_wrap_midnight_cover_the_night(local_time: datetime, quiet: bool) -> None:
    status = quiet_hours_status("America/New_York", "21:00", "08:00", local_time.astimezone(UTC))
    assert status.allowed is not quiet


@pytest.mark.parametrize(
    ("local_time", "quiet"),
    [
        (new_york(2026, 5, 13, 12, 59), False),
        (new_york(2026, 5, 13, 13, 0), True),
        (new_york(2026, 5, 13, 13, 59), True),
        (new_york(2026, 5, 13, 14, 0), False),
    ],
)
def test_quiet_hours_within_one_day(local_time: datetime, quiet: bool) -> None:
    assert quiet_hours_status("America/New_York", "13:00", "14:00", local_time).allowed is not quiet


def test_equal_start_and_end_mean_no_quiet_hours() -> None:
    status = quiet_hours_status("America/New_York", "22:00", "22:00", new_york(2026, 5, 13, 22, 0))
    assert status.allowed


def test_when_allowed_the_next_allowed_time_is_now() -> None:
    now = utc(2026, 5, 13, 16, 0)
    assert quiet_hours_status("America/New_York", "21:00", "08:00", now).next_allowed_at == now


def test_late_evening_resumes_at_the_next_local_morning() -> None:
    status = quiet_hours_status("America/New_York", "21:00", "08:00", new_york(2026, 5, 13, 22, 0))
    assert status.next_allowed_at == new_york(2026, 5, 14, 8, 0)


def test_early_morning_resumes_the_same_local_morning() -> None:
    status = quiet_hours_status("America/New_York", "21:00", "08:00", new_york(2026, 5, 14, 6, 0))
    assert status.next_allowed_at == new_york(2026, 5, 14, 8, 0)


def test_next_allowed_time_is_returned_in_utc() -> None:
    status = quiet_hours_status("Asia/Tokyo", "21:00", "08:00", utc(2026, 5, 13, 13, 0))  # 22:00 JST
    assert status.next_allowed_at == utc(2026, 5, 13, 23, 0)
    assert status.next_allowed_at.tzinfo is UTC


def test_spring_forward_morning_resumes_at_8_on_the_new_offset() -> None:
    # 2026-03-08: clocks go 02:00 EST -> 03:00 EDT; 08:00 that morning is 12:00 UTC, not 13:00
    status = quiet_hours_status("America/New_York", "21:00", "08:00", utc(2026, 3, 8, 5, 0))
    assert status.next_allowed_at == utc(2026, 3, 8, 12, 0)


def test_fall_back_morning_resumes_at_8_on_the_new_offset() -> None:
    # 2026-11-01: clocks go 02:00 EDT -> 01:00 EST; 08:00 that morning is 13:00 UTC, not 12:00
    status = quiet_hours_status("America/New_York", "21:00", "08:00", utc(2026, 11, 1, 4, 30))
    assert status.next_allowed_at == utc(2026, 11, 1, 13, 0)


def test_quiet_hours_ending_in_the_skipped_hour_end_when_the_clocks_jump() -> None:
    # 02:30 does not exist on 2026-03-08; the first later wall time is 03:00 EDT = 07:00 UTC
    status = quiet_hours_status("America/New_York", "22:00", "02:30", utc(2026, 3, 8, 5, 0))
    assert status.next_allowed_at == utc(2026, 3, 8, 7, 0)
    assert quiet_hours_status("America/New_York", "22:00", "02:30", utc(2026, 3, 8, 7, 0)).allowed
    assert not quiet_hours_status("America/New_York", "22:00", "02:30", utc(2026, 3, 8, 6, 59)).allowed


def test_the_repeated_hour_on_fall_back_is_judged_by_the_wall_clock() -> None:
    # quiet 01:00-01:30: the wall clock shows 01:15 twice on 2026-11-01 (05:15 and 06:15 UTC)
    assert not quiet_hours_status("America/New_York", "01:00", "01:30", utc(2026, 11, 1, 5, 15)).allowed
    assert not quiet_hours_status("America/New_York", "01:00", "01:30", utc(2026, 11, 1, 6, 15)).allowed


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        quiet_hours_status("America/New_York", "21:00", "08:00", datetime(2026, 5, 13, 12, 0))


@pytest.mark.parametrize("value", ["8:00", "24:00", "12:60", "noon", "12:00:00", ""])
def test_malformed_times_are_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_hhmm(value)


def test_unknown_zone_is_rejected() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        quiet_hours_window("Mars/Olympus_Mons", "21:00", "08:00")


# --- the calling-hours floor -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "allowed"),
    [
        (utc(2026, 5, 13, 11, 59), False),  # 07:59 EDT
        (utc(2026, 5, 13, 12, 0), True),  # 08:00 EDT
        (utc(2026, 5, 14, 0, 59), True),  # 20:59 EDT
        (utc(2026, 5, 14, 1, 0), False),  # 21:00 EDT
    ],
)
def test_floor_is_8_to_21_in_the_recipients_zone(now: datetime, allowed: bool) -> None:
    # a New York number for a user whose own zone is Berlin: the recipient's zone decides
    assert consent_floor_status("+12125550100", "Europe/Berlin", now).allowed is allowed


def test_floor_for_florida_numbers_closes_at_20() -> None:
    at_2030_eastern = utc(2026, 5, 14, 0, 30)
    assert consent_floor_status("+12125550100", "America/New_York", at_2030_eastern).allowed
    assert not consent_floor_status("+13055550100", "America/New_York", at_2030_eastern).allowed


def test_floor_for_florida_numbers_holds_in_both_florida_zones() -> None:
    # 08:30 Eastern is 07:30 Central: a Florida number may be in the panhandle
    status = consent_floor_status("+13055550100", "America/New_York", utc(2026, 5, 13, 12, 30))
    assert not status.allowed
    assert status.next_allowed_at == utc(2026, 5, 13, 13, 0)  # 08:00 Central


def test_florida_area_codes_are_all_florida_numbers() -> None:
    for area_code in sorted(FLORIDA_AREA_CODES):
        number = phonenumbers.parse(f"+1{area_code}2345678")
        description = geocoder.description_for_number(number, "en")
        assert description == "Florida" or description.endswith(", FL"), area_code


def test_a_number_in_several_zones_must_be_inside_the_window_in_each() -> None:
    windows = [
        LocalWindow("America/New_York", time(8), time(21)),
        LocalWindow("America/Los_Angeles", time(8), time(21)),
    ]
    at_0830_eastern = utc(2026, 5, 13, 12, 30)  # 05:30 Pacific
    status = window_status(windows, at_0830_eastern)
    assert not status.allowed
    assert status.next_allowed_at == utc(2026, 5, 13, 15, 0)  # 08:00 Pacific


def test_windows_that_never_overlap_have_no_next_time() -> None:
    windows = [LocalWindow("UTC", time(8), time(9)), LocalWindow("UTC", time(10), time(11))]
    status = window_status(windows, utc(2026, 5, 13, 8, 30))
    assert not status.allowed
    assert status.next_allowed_at is None


def test_quiet_hours_and_floor_combined_give_a_time_inside_both() -> None:
    # user quiet hours 22:00-09:00 Pacific, recipient in New York (floor 08:00-21:00 Eastern)
    windows = [quiet_hours_window("America/Los_Angeles", "22:00", "09:00")]
    windows += [LocalWindow("America/New_York", time(8), time(21))]
    status = window_status(windows, utc(2026, 5, 13, 14, 0))  # 07:00 Pacific, 10:00 Eastern
    assert status.next_allowed_at == utc(2026, 5, 13, 16, 0)  # 09:00 Pacific
    late = window_status(windows, utc(2026, 5, 14, 1, 30))  # 18:30 Pacific, 21:30 Eastern
    assert late.next_allowed_at == utc(2026, 5, 14, 16, 0)  # next day 09:00 Pacific


@pytest.mark.parametrize(
    ("number", "zones"),
    [
        ("+14155550100", ("America/Los_Angeles",)),
        ("+442071234567", ("Europe/London",)),
        ("+18005550100", ("Asia/Tokyo",)),  # toll-free: no place, the user's zone
        ("+15555550100", ("Asia/Tokyo",)),  # not a valid number
        ("not a number", ("Asia/Tokyo",)),
    ],
)
def test_recipient_zone_comes_from_the_number_or_falls_back_to_the_users(
    number: str, zones: tuple[str, ...]
) -> None:
    assert recipient_zones(number, "Asia/Tokyo") == zones


def test_floor_for_an_unplaceable_number_uses_the_users_zone() -> None:
    at_0700_tokyo = utc(2026, 5, 13, 22, 0)
    status = consent_floor_status("+18005550100", "Asia/Tokyo", at_0700_tokyo)
    assert status.next_allowed_at == utc(2026, 5, 13, 23, 0)


# --- windows open on some days only (working days) ------------------------------------------------

WEEKDAYS = frozenset(range(5))  # Monday to Friday


def test_a_window_with_days_is_closed_on_its_days_off():
    window = LocalWindow("UTC", time(9), time(17), WEEKDAYS)
    assert window.contains(utc(2026, 11, 27, 10))  # Friday
    assert not window.contains(utc(2026, 11, 28, 10))  # Saturday


def test_a_window_wrapping_midnight_belongs_to_the_day_it_opened():
    window = LocalWindow("UTC", time(22), time(2), frozenset({4}))  # Friday nights only
    assert window.contains(utc(2026, 11, 28, 1))  # early Saturday: Friday's window
    assert not window.contains(utc(2026, 11, 29, 1))  # early Sunday: Saturday's, which never opens


def test_next_opening_skips_days_off():
    window = LocalWindow("UTC", time(9), time(17), WEEKDAYS)
    assert window.next_opening(utc(2026, 11, 27, 18)) == utc(2026, 11, 30, 9)  # Friday evening -> Monday


def test_covers_refuses_an_interval_on_a_day_off():
    window = LocalWindow("UTC", time(9), time(17), WEEKDAYS)
    assert window.covers(utc(2026, 11, 27, 10), utc(2026, 11, 27, 11))
    assert not window.covers(utc(2026, 11, 28, 10), utc(2026, 11, 28, 11))


def test_an_all_day_window_covers_only_intervals_within_its_days():
    window = LocalWindow("UTC", time(0), time(0), WEEKDAYS)
    assert window.covers(utc(2026, 11, 26, 22), utc(2026, 11, 27, 2))  # Thursday night into Friday
    assert not window.covers(utc(2026, 11, 27, 22), utc(2026, 11, 28, 2))  # Friday night into Saturday
