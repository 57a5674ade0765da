"""The Twilio and Resend fakes over real sockets, and the app settings that point the real SDKs at them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fakes.resend import FakeResend
from fakes.server import running_server
from fakes.twilio_api import FakeTwilioAPI

ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "twilio-actions-token"
TWILIO_NUMBER = "+14155550199"
RESEND_KEY = "re_actions_test_key"
EMAIL_FROM = "Vision Coach <coach@example.com>"


@dataclass(frozen=True)
class Providers:
    twilio: FakeTwilioAPI
    resend: FakeResend
    twilio_url: str
    resend_url: str

    def settings(self) -> dict[str, Any]:
        return {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_PHONE_NUMBER": TWILIO_NUMBER,
            "TWILIO_API_BASE_URL": self.twilio_url,
            "RESEND_API_KEY": RESEND_KEY,
            "RESEND_BASE_URL": self.resend_url,
            "EMAIL_FROM": EMAIL_FROM,
        }


@contextmanager
def running_providers() -> Iterator[Providers]:
    twilio = FakeTwilioAPI(ACCOUNT_SID, AUTH_TOKEN)
    resend = FakeResend(RESEND_KEY)
    with running_server(twilio.app) as twilio_url, running_server(resend.app) as resend_url:
        yield Providers(twilio, resend, twilio_url, resend_url)
