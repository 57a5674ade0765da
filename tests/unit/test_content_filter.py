"""policy.content: what the outgoing-text filter catches, what it lets through, and what it says."""

from __future__ import annotations

import re

import pytest
from stdnum import luhn

from policy.content import fields_redactor, redact, scan_outgoing_fields, scan_outgoing_text


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


# --- evasions: the text is normalised before it is read ----------------------------------------

VISA = "4111111111111111"
VISA_13 = "4222222222222"
SSN = "536904399"
IBAN_DE = "DE89370400440532013000"


def grouped(digits: str, separator: str, sizes: tuple[int, ...] = (4, 4, 4, 4)) -> str:
    groups, position = [], 0
    for size in sizes:
        groups.append(digits[position:position + size])
        position += size
    return separator.join(group for group in groups + [digits[position:]] if group)


def in_script(text: str, zero: int) -> str:
    return "".join(chr(zero + int(char)) if char.isdigit() else char for char in text)


@pytest.mark.parametrize(
    "separator",
    [".", "/", "   ", "\t", "\u00a0", "\u202f", "\u200b", "\u00ad", "\u2013", " - ", "_", "\n", " . "],
    ids=["dot", "slash", "spaces", "tab", "nbsp", "narrow-nbsp", "zero-width", "soft-hyphen", "en-dash",
         "spaced-dash", "underscore", "newline", "spaced-dot"],
)
def test_a_card_written_with_any_separator_is_found(separator: str) -> None:
    assert kinds(f"card {grouped(VISA, separator)} thanks") == {"credit_card"}


def test_a_card_with_a_zero_width_character_between_every_digit_is_found() -> None:
    assert kinds("card " + "\u200b".join(VISA)) == {"credit_card"}


@pytest.mark.parametrize(
    "zero",
    [0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0x1D7CE, 0x1D7F6],
    ids=["full-width", "arabic-indic", "extended-arabic-indic", "devanagari", "bengali", "thai", "math-bold",
         "math-monospace"],
)
def test_a_card_in_another_scripts_digits_is_found(zero: int) -> None:
    assert kinds("card " + in_script(grouped(VISA, " "), zero)) == {"credit_card"}


@pytest.mark.parametrize(
    "text",
    [f"+{VISA}", f"0-{grouped(VISA, '-')}", f"+1 {grouped(VISA_13, ' ', (4, 4, 5))}", f"+44 {grouped(VISA, ' ')}"],
)
def test_a_card_after_a_plus_or_a_short_lead_is_found(text: str) -> None:
    assert kinds(text) == {"credit_card"}


@pytest.mark.parametrize("expiry", ["12/27", "09/2028", "0328", "12/27 123", "11.29"])
def test_a_card_followed_by_its_expiry_date_is_found(expiry: str) -> None:
    assert kinds(f"{grouped(VISA, ' ')} {expiry}") == {"credit_card"}


def test_a_card_followed_by_its_expiry_date_is_masked_without_the_date() -> None:
    assert redact(f"{grouped(VISA, ' ')} 12/27") == "#" * 19 + " 12/27"


def test_cards_written_back_to_back_are_each_masked() -> None:
    assert redact(f"{VISA} 5555555555554444") == "#" * 16 + " " + "#" * 16


def test_a_phone_number_after_a_plus_is_not_a_card_even_when_its_digits_pass_luhn() -> None:
    assert luhn.is_valid("4915110000002")
    assert kinds("Call me on +4915110000002") == set()


def test_an_order_number_holding_a_luhn_valid_stretch_is_not_a_card() -> None:
    assert luhn.is_valid("45678901234567")
    assert kinds("Order 112-4567890-1234567 ships today") == set()


def test_a_comma_separated_list_is_not_read_as_one_card_number() -> None:
    assert luhn.is_valid("62657068727587")
    assert kinds("Resting heart rate: 62, 65, 70, 68, 72, 75, 87 bpm") == set()


@pytest.mark.parametrize(
    "text",
    ["536.90.4399", "536/90/4399", "536 \u2013 90 \u2013 4399", "536\t90\t4399", "\uff15\uff13\uff16-\uff19\uff10-\uff14\uff13\uff19\uff19",
     "0-536-90-4399"],
    ids=["dots", "slashes", "spaced-en-dash", "tabs", "full-width", "zero-dash-lead"],
)
def test_an_ssn_written_with_other_separators_or_digits_is_found(text: str) -> None:
    assert kinds(text) == {"us_ssn"}


@pytest.mark.parametrize("text", ["SSN: 536 904 399", "ssn 536\u200b904\u200b399", "soc. sec. 536-904-399"])
def test_a_labelled_ssn_in_any_grouping_is_found(text: str) -> None:
    assert kinds(text) == {"us_ssn"}


@pytest.mark.parametrize("text", ["000-12-3456", "900-12-3456", "536-90-0000", "SSN 078051120"])
def test_ssns_the_ssa_never_issues_pass(text: str) -> None:
    assert "us_ssn" not in kinds(text)


@pytest.mark.parametrize(
    "text",
    [grouped(IBAN_DE, "."), "GB82/WEST/1234/5698/7654/32", "DE 89 3704 0044 0532 0130 00",
     "".join(chr(ord(char) + 0xFEE0) for char in IBAN_DE), "\u200b".join(IBAN_DE), grouped(IBAN_DE, "\u00a0")],
    ids=["dots", "slashes", "country-code-apart", "full-width", "zero-width", "nbsp"],
)
def test_an_iban_written_with_other_separators_or_forms_is_found(text: str) -> None:
    assert kinds(f"Pay to {text} thanks") == {"iban"}


@pytest.mark.parametrize(
    "text",
    [
        "Your code is 482913",
        "Code: 482913",
        "Your verification code for Acme is 482913",
        "Your one-time password is 4829",
        "passcode: 48291",
        "Security code: 4829",
        "2FA: 482913",
        "MFA code 482913",
        "sign-in code 48291337",
        "Use 482913 to sign in",
        "Enter 4829 to verify your account",
        "G-482913 is your Google verification code",
        "The door code is 4829",
        "c\u00f3digo de verificaci\u00f3n: 482913",
        "Verifizierungscode: 482913",
    ],
)
def test_one_time_codes_in_other_phrasings_are_found(text: str) -> None:
    assert kinds(text) == {"secret_code"}


@pytest.mark.parametrize(
    "text",
    ["Your OTP is 482 913", "Your OTP is 48-29-13", "Your OTP is 4 8 2 9 1 3", "Your OTP is \uff14\uff18\uff12\uff19",
     "Your O\u200bTP is 482913", "Your OTP is \u0664\u0668\u0662\u0669"],
    ids=["halves", "dashed", "every-digit-spaced", "full-width", "zero-width-in-keyword", "arabic-indic"],
)
def test_a_code_written_with_separators_or_other_digits_is_found(text: str) -> None:
    assert kinds(text) == {"secret_code"}


@pytest.mark.parametrize(
    "text",
    ["The zip code is 94105", "Promo code: 2026", "Postal code: 10115", "Your booking code is 482913",
     "The verification code arrives within 2 minutes"],
)
def test_codes_that_are_not_credentials_pass(text: str) -> None:
    assert kinds(text) == set()


def test_a_code_after_a_secret_code_keyword_is_masked_without_the_date_after_it() -> None:
    assert redact("OTP 482913 2026-12-07") == "OTP ###### 2026-12-07"


# --- several fields ---------------------------------------------------------------------------


def test_a_card_split_across_two_fields_is_found() -> None:
    verdict = scan_outgoing_fields(["My card 4111 1111", "1111 1111 thanks"])
    assert verdict is not None and verdict.kinds == {"credit_card"}


def test_a_code_keyword_and_its_value_in_two_fields_are_found() -> None:
    verdict = scan_outgoing_fields(["Your verification code", "is 482913"])
    assert verdict is not None and verdict.kinds == {"secret_code"}


def test_an_ssn_is_found_in_its_own_field_even_when_the_next_field_starts_with_digits() -> None:
    verdict = scan_outgoing_fields(["SSN 536-90-4399", "2026 plans"])
    assert verdict is not None and verdict.kinds == {"us_ssn"}


def test_ordinary_fields_read_together_stay_clean() -> None:
    assert scan_outgoing_fields(["Plan for 2026-12-07", "Run 5 km at 07:30, then 10,000 steps."]) is None


# --- redaction keeps the rest of the original text ----------------------------------------------


def test_redact_masks_a_card_hidden_by_zero_width_characters_in_the_original_text() -> None:
    text = "card 4111\u200b1111\u200b1111\u200b1111 ok"
    assert redact(text) == "card " + "#" * 19 + " ok"


def test_redact_masks_a_card_in_full_width_digits() -> None:
    assert redact("card \uff14\uff11\uff11\uff11" + "\uff11" * 12 + " ok") == "card " + "#" * 16 + " ok"


def test_the_fields_redactor_masks_both_halves_of_a_split_card() -> None:
    clean = fields_redactor(["My card 4111 1111", "1111 1111 thanks"])
    assert (clean("My card 4111 1111"), clean("1111 1111 thanks")) == ("My card #########", "######### thanks")
