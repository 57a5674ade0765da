"""Requests as Twilio signs them (X-Twilio-Signature), for webhook and media-stream tests."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator


def signature(auth_token: str, url: str, params: Mapping[str, str] | None = None) -> str:
    """What Twilio puts in X-Twilio-Signature for a request to `url` with these POST parameters."""
    return RequestValidator(auth_token).compute_signature(url, dict(params or {}))


def signed_form(auth_token: str, url: str, params: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """An urlencoded webhook body and its headers, signed over `url` (the public URL Twilio calls)."""
    return urlencode(params).encode(), {
        "X-Twilio-Signature": signature(auth_token, url, params),
        "Content-Type": "application/x-www-form-urlencoded",
    }
