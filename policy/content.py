"""Content filter for outgoing text: card numbers, US SSNs, IBANs and passwords / one-time codes.

Every detector pairs a pattern with a check that real data passes and random digits mostly do not
(Luhn for cards, the SSA's area/group/serial rules for SSNs, mod-97 and the country format for
IBANs, a keyword next to a code-shaped value for secrets), so phone numbers, dates, times and
amounts do not trip it. A finding names only the kind of data: its message never repeats any part
of the text, because findings end up in tool results, logs and traces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from stdnum import iban, luhn
from stdnum.us import ssn

FindingKind = Literal["credit_card", "us_ssn", "iban", "secret_code"]

_MESSAGES: dict[FindingKind, str] = {
    "iban": "the message contains what looks like a bank account number (IBAN)",
    "us_ssn": "the message contains what looks like a US Social Security number",
    "credit_card": "the message contains what looks like a payment card number",
    "secret_code": "the message contains what looks like a password or a one-time code",
}


@dataclass(frozen=True)
class ContentFinding:
    kind: FindingKind
    message: str


@dataclass(frozen=True)
class ContentVerdict:
    """What the filter found: one finding per kind, in the order iban, us_ssn, credit_card, secret_code."""

    findings: tuple[ContentFinding, ...]

    @property
    def kinds(self) -> frozenset[FindingKind]:
        return frozenset(finding.kind for finding in self.findings)

    @property
    def message(self) -> str:
        return "; ".join(finding.message for finding in self.findings)


def scan_outgoing_text(text: str) -> ContentVerdict | None:
    """The findings in `text`, or None when it looks clean.

    Detectors run in order and each one masks what it matched, so an IBAN's digits are not
    reported again as a card number, nor an SSN's digits as a code.
    """
    findings: list[ContentFinding] = []
    for kind, detect in _DETECTORS:
        spans = list(detect(text))
        if spans:
            findings.append(ContentFinding(kind, _MESSAGES[kind]))
            text = _mask(text, spans)
    return ContentVerdict(tuple(findings)) if findings else None


def redact(text: str) -> str:
    """`text` with everything `scan_outgoing_text` would find replaced by '#', for the record of a blocked
    message: the history and traces must not keep the card number the filter stopped."""
    for _, detect in _DETECTORS:
        spans = list(detect(text))
        if spans:
            text = _mask(text, spans)
    return text


Span = tuple[int, int]


def _mask(text: str, spans: list[Span]) -> str:
    for start, end in spans:
        text = text[:start] + "#" * (end - start) + text[end:]
    return text


# --- IBAN -------------------------------------------------------------------------------------

# A country code and check digits, then up to 30 letters/digits in groups separated by single spaces.
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}")
_IBAN_MAX_LENGTH = 34


def _ibans(text: str) -> Iterator[Span]:
    """Each IBAN: the longest run of groups from a country code that passes `stdnum.iban`.

    Trying every group boundary (instead of one greedy match) stops at the IBAN's real end when
    words follow it ("GB82 WEST 1234 5698 7654 32 thanks").
    """
    position = 0
    while match := _IBAN_START.search(text, position):
        end = _longest_valid_iban_end(text, match.start())
        if end is None:
            position = match.end()
            continue
        yield match.start(), end
        position = end


def _longest_valid_iban_end(text: str, start: int) -> int | None:
    compact = ""
    found = None
    index = start
    while index < len(text) and len(compact) < _IBAN_MAX_LENGTH:
        char = text[index]
        if char.isascii() and char.isalnum():
            compact += char
            index += 1
            at_boundary = index == len(text) or not (text[index].isascii() and text[index].isalnum())
            if at_boundary and iban.is_valid(compact):
                found = index
        elif char == " " and compact and index + 1 < len(text) and text[index + 1].isalnum():
            index += 1
        else:
            break
    return found


# --- US SSN -----------------------------------------------------------------------------------

# 123-45-6789 or 123 45 6789 (one separator, used twice), not inside a longer digit run.
_SSN_FORMATTED = re.compile(r"(?<!\d)(?<!\d[ -])(\d{3})([- ])(\d{2})\2(\d{4})(?!\d)(?![ -]\d)")
# Nine bare digits count only right after a label: alone they are far more often something else.
_SSN_LABELLED = re.compile(
    r"\b(?:ssn|ss\s?#|social\s+security(?:\s+(?:number|no\.?|#))?)\s*(?:is|:|#|=|-)?\s*(\d{9})(?!\d)",
    re.IGNORECASE,
)


def _ssns(text: str) -> Iterator[Span]:
    for match in _SSN_FORMATTED.finditer(text):
        if ssn.is_valid(match.group(1) + match.group(3) + match.group(4)):
            yield match.span()
    for match in _SSN_LABELLED.finditer(text):
        if ssn.is_valid(match.group(1)):
            yield match.span(1)


# --- Payment cards ----------------------------------------------------------------------------

# A maximal run of digits with single spaces or dashes between them, not part of a "+44 ..." number.
_DIGIT_RUN = re.compile(r"(?<![\d+])(?<![\d+][ -])\d(?:[ -]?\d)*")


def _cards(text: str) -> Iterator[Span]:
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _has_card_prefix(digits) and luhn.is_valid(digits):
            yield match.span()


def _has_card_prefix(digits: str) -> bool:
    """Whether the number starts like an issued card (Visa, Mastercard, Amex, Discover, Diners, JCB,
    UnionPay, Maestro).

    Luhn alone passes one random number in ten; the prefix rules out phone numbers written with a
    trunk or country code (0..., 1...), most year-first dates (19.., 20..) and order numbers from 7, 8, 9.
    """
    first = digits[0]
    if first in "456":
        return True
    if first == "3":
        return digits[1] not in "123"
    if first == "2":
        return 2221 <= int(digits[:4]) <= 2720
    return False


# --- Passwords and one-time codes -------------------------------------------------------------
# A code counts only next to a word that makes it a credential: a bare "code 123456" is more often a
# promo, booking or zip code than a secret, and a keyword without a value ("we'll text you a code")
# gives nothing away.

_CODE_KEYWORD = (
    r"(?:one[-\s]?time\s+(?:pass)?code|one[-\s]?time\s+password|otp|verification\s+code|"
    r"security\s+code|(?:2fa|two[-\s]factor|login|sign[-\s]?in|auth(?:entication)?|access)\s+code|"
    r"passcode|pin(?:\s+(?:code|number))?)"
)
# The card's own security code is shorter than other codes.
_CARD_SECURITY_CODE = re.compile(
    r"\b(?:cvv2?|cvc2?|csc)\b\s*(?:is\b|:|=|-|#)?\s*:?\s*\d{3,4}(?!\d)", re.IGNORECASE
)
# A code: 4-10 digits (one space or dash allowed inside, "123 456"), or 4-12 letters/digits with a digit.
_CODE_VALUE = r"(?:\d{2,5}[ -]?\d{2,5}|(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{4,12})"
_CODE_AFTER_KEYWORD = re.compile(
    rf"\b{_CODE_KEYWORD}\b\s*(?:is\b|was\b|:|=|-|#)?\s*:?\s*{_CODE_VALUE}(?![\w-])", re.IGNORECASE
)
# The usual SMS form, the code first: "482913 is your Acme verification code".
_CODE_BEFORE_KEYWORD = re.compile(
    rf"(?<![\w-])\d{{4,10}}\s+is\s+your\s+(?:[\w-]+\s+){{0,3}}?{_CODE_KEYWORD}\b", re.IGNORECASE
)
# "password is X", "password for the wifi is X", "pwd: X".
_PASSWORD = re.compile(
    r"\b(?:password|passwd|pwd|passphrase)(?:\s+for\s+(?:[\w.@-]+\s+){1,3}?)?\s*"
    r"(?P<connector>is\s*:?|:|=)\s*(?P<value>\"[^\"]+\"|'[^']+'|\S+)(?P<rest>[^\S\n]*\S?)",
    re.IGNORECASE,
)


def _secret_codes(text: str) -> Iterator[Span]:
    for pattern in (_CODE_AFTER_KEYWORD, _CODE_BEFORE_KEYWORD, _CARD_SECURITY_CODE):
        for match in pattern.finditer(text):
            yield match.span()
    for match in _PASSWORD.finditer(text):
        value = match.group("value")
        as_credential = match.group("connector")[-1] in ":=" and _ends_clause(value, match.group("rest"))
        if as_credential or _looks_like_password(value):
            yield match.span("value")


def _ends_clause(value: str, rest: str) -> bool:
    """Whether the value is the last word of its line or sentence: "pwd: banana", not "password: tap here"."""
    return value[-1] in ".,;!?" or not rest.strip()


def _looks_like_password(value: str) -> bool:
    """Tells "the password is Sunset2024" from "your password is strong": a plain word is prose; a value
    with a digit, a symbol, mixed case or quotes is a password."""
    value = value.rstrip(".,;!?")
    if value[:1] in "\"'":
        return True
    has_digit = any(char.isdigit() for char in value)
    has_symbol = any(not char.isalnum() for char in value)
    mixed_case = any(char.isupper() for char in value[1:]) and any(char.islower() for char in value)
    return has_digit or has_symbol or mixed_case


_DETECTORS: tuple[tuple[FindingKind, Callable[[str], Iterator[Span]]], ...] = (
    ("iban", _ibans),
    ("us_ssn", _ssns),
    ("credit_card", _cards),
    ("secret_code", _secret_codes),
)
