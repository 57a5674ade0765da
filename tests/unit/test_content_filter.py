"""policy.content: what the outgoing-text filter catches, what it lets through, and what it says."""

from __future__ import annotations

import re

import pytest
from stdnum import luhn

from policy.content import scan_outgoing_text


def kinds(text: str) -> set[str]:
    verdict = scan_outgoing_text(text)
    return set() if verdict is None else set(verdict.kinds)


@pytest.mark.parametrize(
    "text",
    [
        "Your card 4111 1111 1111 1111 is on file",
        "4111-1111-1111-1111",
        "card:4111111111111111.",
        "Mastercard 5555 5555 5555 4444",
        "Mastercard 2-series 2223 0031 2200 3222",
        "Amex 3782 822463 10005",
        "Discover 6011 1111 1111 1117",
    ],
)
def test_luhn_valid_card_numbers_are_found(text: str) -> None:
    assert kinds(text) == {"credit_card"}


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # fails Luhn
        "Call me at +1 415-555-0100 or (415) 555-0101",
        "Ring +44 20 7946 0958 16 after lunch",  # Luhn-valid, but after a country code
        "International: 0044 2079 4609 5816",  # Luhn-valid, but no card issuer starts with 0
        "We met 2026-05-13 and again 2026-05-14",
        "Reminder at 10:30 on 13/05/2026",
        "Your order total is $1,234,567.89",
        "Order number 7992 7398 713",  # Luhn-valid but 11 digits
        "Ticket 8000 0000 0000 0003",  # Luhn-valid, but no card issuer starts with 8
        "Range 2026 0513 2026 0515",  # Luhn-valid, starts like a year (outside Mastercard 2221-2720)
    ],
)
def test_numbers_that_are_not_cards_pass(text: str) -> None:
    assert "credit_card" not in kinds(text)


def test_luhn_valid_digit_runs_in_the_negative_cases_are_really_luhn_valid() -> None:
    # keeps the cases above honest: they must be rejected for their prefix, not for their checksum
    for digits in ("44207946095816", "0044207946095816", "8000000000000003", "2026051320260515"):
        assert luhn.is_valid(digits)


@pytest.mark.parametrize(
    "text",
    ["SSN 536-90-4399", "it is 536 90 4399", "ssn: 536904399", "Social security number is 536904399"],
)
def test_us_ssns_are_found(text: str) -> None:
    assert kinds(text) == {"us_ssn"}


@pytest.mark.parametrize(
    "text",
    [
        "536904399",  # nine bare digits without a label
        "666-12-3456",  # area 666 is never issued
        "536-00-4399",  # group 00 is never issued
        "536-90 4399",  # mixed separators
        "zip 94105-1234",
        "call 415-555-0100",
    ],
)
def test_non_ssns_pass(text: str) -> None:
    assert "us_ssn" not in kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "Pay to GB82 WEST 1234 5698 7654 32 thanks",
        "IBAN DE89370400440532013000",
        "iban: de89 3704 0044 0532 0130 00",
    ],
)
def test_ibans_are_found(text: str) -> None:
    assert kinds(text) == {"iban"}


def test_iban_with_a_wrong_check_digit_passes() -> None:
    assert kinds("GB83 WEST 1234 5698 7654 32") == set()


def test_iban_digits_are_not_reported_again_as_a_card() -> None:
    # the digits after "DE89" are a Luhn-valid 18-digit run starting with 37 (an Amex prefix)
    assert kinds("DE89 3704 0044 0532 0130 00") == {"iban"}


@pytest.mark.parametrize(
    "text",
    [
        "the wifi password is Sunset2024",
        "Your password is: banana",
        "pwd: banana",
        "password = hunter2",
        'The password for the router is "open sesame"',
        "Your OTP: 123 456",
        "verification code 482913",
        "Your one-time code is 4829",
        "482913 is your Acme verification code",
        "PIN 1234",
        "your pin is 1234.",
        "CVV 123",
        "2FA code: A1B2C3",
    ],
)
def test_passwords_and_codes_are_found(text: str) -> None:
    assert kinds(text) == {"secret_code"}


@pytest.mark.parametrize(
    "text",
    [
        "Your password is strong",
        "Reset your password: tap the link we sent",
        "I will text you a one-time code when you log in",
        "Ask your bank for an OTP",
        "Your booking confirmation code is ABC123",
        "Your verification code expires in 10 minutes",
        "Pin your goals to the fridge",
    ],
)
def test_prose_about_passwords_and_codes_passes(text: str) -> None:
    assert kinds(text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "Great job on your run today! Next check-in Tuesday 2026-05-19 at 9:00, call +1 415 555 0100.",
        "You walked 12,345 steps, 4.2 km, and spent $25.00 on healthy food.",
        "",
    ],
)
def test_ordinary_coaching_messages_are_clean(text: str) -> None:
    assert scan_outgoing_text(text) is None


def test_several_kinds_are_reported_once_each_in_a_fixed_order() -> None:
    verdict = scan_outgoing_text("OTP 998877, card 4111111111111111, card 5555555555554444, SSN 536-90-4399")
    assert verdict is not None
    assert [finding.kind for finding in verdict.findings] == ["us_ssn", "credit_card", "secret_code"]


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1111",
        "SSN 536-90-4399",
        "IBAN GB82 WEST 1234 5698 7654 32",
        "the password is Sunset2024",
        "verification code 482913",
    ],
)
def test_messages_never_repeat_any_part_of_the_secret(text: str) -> None:
    verdict = scan_outgoing_text(text)
    assert verdict is not None
    said = verdict.message + " ".join(finding.message for finding in verdict.findings)
    assert not re.search(r"\d", said)
    for token in re.findall(r"[A-Za-z0-9]{4,}", text):
        if any(char.isdigit() for char in token) or token == "WEST":
            assert token not in said
