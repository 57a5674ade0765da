"""The Twilio, Resend and Google fakes over real sockets, and the app settings that point the real SDKs at them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from fakes.google import FakeGoogle
from fakes.resend import FakeResend
from fakes.server import running_server
from fakes.twilio_api import FakeTwilioAPI

ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "twilio-actions-token"
TWILIO_NUMBER = "+14155550199"
RESEND_KEY = "re_actions_test_key"
EMAIL_FROM = "Vision Coach <coach@example.com>"
GOOGLE_CLIENT_ID = "coach-test.apps.example.test"
GOOGLE_CLIENT_SECRET = "google-client-secret-for-tests"


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


@dataclass(frozen=True)
class GoogleWorld:
    fake: FakeGoogle
    url: str

    def settings(self) -> dict[str, Any]:
        return {
            "GOOGLE_CLIENT_ID": GOOGLE_CLIENT_ID,
            "GOOGLE_CLIENT_SECRET": GOOGLE_CLIENT_SECRET,
            "GOOGLE_OAUTH_BASE_URL": self.url,
            "GOOGLE_CALENDAR_BASE_URL": self.url,
        }

    @staticmethod
    async def consent(authorization_url: str) -> str:
        """The browser at Google: the fake consents and redirects; returns our callback's path and query."""
        async with httpx.AsyncClient(trust_env=False) as at_google:
            answer = await at_google.get(authorization_url)
        assert answer.status_code == 302, answer.text
        location = urlsplit(answer.headers["location"])
        return f"{location.path}?{location.query}"


@contextmanager
def running_google() -> Iterator[GoogleWorld]:
    fake = FakeGoogle(GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET)
    with running_server(fake.app) as url:
        yield GoogleWorld(fake, url)
