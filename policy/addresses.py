"""Validation and normalisation of phone numbers, email addresses and time zones."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from email_validator import EmailNotValidError, validate_email


class InvalidAddress(ValueError):
    """An address that cannot be used; the message says why, for people."""


def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """The E.164 form of `raw` (e.g. '+14155550100'), or InvalidAddress."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidAddress(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidAddress("not a valid phone number; use the international form, e.g. +14155550100")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """The normalised form of an email address (syntax only, no DNS lookups), or InvalidAddress."""
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None


def validate_timezone(name: str) -> str:
    """`name` if it is an IANA zone such as 'Europe/Berlin', else InvalidAddress."""
    if name not in _zones():
        raise InvalidAddress(f"unknown time zone {name!r}; use an IANA name such as 'America/New_York'")
    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError:
        raise InvalidAddress(f"unknown time zone {name!r}") from None
    return name


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES
