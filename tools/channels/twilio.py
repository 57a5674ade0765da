"""SMS and outbound calls through Twilio, with retries and error mapping to our error codes.

Twilio's REST API takes no idempotency key, so a create whose answer was lost (a 5xx, a timeout, a dropped
connection) may still have sent the SMS or dialled the call. Before retrying a create, the channel lists the
recipient's newest messages or calls from our number and adopts one created since the first attempt (same
body for an SMS) instead of creating it again. A caller that knows an earlier attempt of the same action may
have got through (a scheduled job run again after a crash) passes `attempted_since`: the look-up then comes
before the first create too.

The look-up is a safe request, so it is retried on its own with the same backoff (a 5xx, 429 or no answer).
A look-up that still fails leaves the earlier create's outcome unknown: the action then fails with
SERVICE_UNAVAILABLE and nothing is created again. An SMS or call that did get through is then recorded as
failed, which is the lesser harm than sending it twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import requests

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.response import Response
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from tools.channels.retry import RetryPolicy, with_retries
from tools.results import ErrorCode, ToolFailure

UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient"
RECIPIENT_ERRORS = {21211, 21214, 21217, 21401, 21407, 21408, 21610, 21612, 21614}
CLOCK_SKEW = timedelta(seconds=5)
"""How far Twilio's `date_created` may lag our clock (it also has whole-second resolution)."""
RECENT_LOOKUP = 20
"""Newest resources of a recipient looked at when checking whether a lost create went through."""
NETWORK_FAILURE_STATUS = 503
"""A request that got no HTTP answer (timeout, dropped connection) is treated as a 503: retryable, outcome unknown."""

T = TypeVar("T")


@dataclass(frozen=True)
class PlacedCall:
    sid: str
    status: str


class TwilioChannel:
    def __init__(self, client: Client, from_number: str, retry: RetryPolicy = RetryPolicy()) -> None:
        self.client = client
        self.from_number = from_number
        self.retry = retry

    async def send_sms(
        self, to: str, body: str, status_callback: str | None = None, *, attempted_since: datetime | None = None
    ) -> str:
        """Send an SMS; returns the message sid (of the one already sent, if an earlier attempt got through)."""

        def create() -> str:
            kwargs = {"to": to, "from_": self.from_number, "body": body}
            if status_callback:
                kwargs["status_callback"] = status_callback
            return self.client.messages.create(**kwargs).sid

        def created_since(since: datetime) -> str | None:
            for message in self.client.messages.list(to=to, from_=self.from_number, limit=RECENT_LOOKUP):
                if message.body == body and _created_since(message.date_created, since):
                    return message.sid
            return None

        return await self._create(create, created_since, "twilio.messages.create", attempted_since)

    async def place_call(
        self, to: str, answer_url: str, status_callback: str, *, attempted_since: datetime | None = None
    ) -> PlacedCall:
        """Dial `to`; when the call is answered Twilio POSTs to `answer_url` (signed, with the CallSid) for its TwiML.

        Answering-machine detection runs asynchronously (the conversation starts at once) and reports
        `AnsweredBy` to the same status callback, which replaces a voicemail's stream with a short message.
        """

        def create() -> PlacedCall:
            call = self.client.calls.create(
                to=to,
                from_=self.from_number,
                url=answer_url,
                method="POST",
                status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                machine_detection="Enable",
                async_amd="true",
                async_amd_status_callback=status_callback,
                async_amd_status_callback_method="POST",
            )
            return PlacedCall(call.sid, call.status)

        def created_since(since: datetime) -> PlacedCall | None:
            for call in self.client.calls.list(to=to, from_=self.from_number, limit=RECENT_LOOKUP):
                if _created_since(call.date_created, since):
                    return PlacedCall(call.sid, call.status)
            return None

        return await self._create(create, created_since, "twilio.calls.create", attempted_since)

    async def hang_up(self, call_sid: str) -> None:
        await self._call(lambda: self.client.calls(call_sid).update(status="completed"), "twilio.calls.update")

    async def say_and_hang_up(self, call_sid: str, text: str) -> None:
        """Replace a live call's TwiML with a spoken message and a hang-up (ends any media stream)."""
        response = VoiceResponse()
        response.say(text)
        response.hangup()
        twiml = str(response)
        await self._call(lambda: self.client.calls(call_sid).update(twiml=twiml), "twilio.calls.update")

    async def _create(
        self, create: Callable[[], T], created_since: Callable[[datetime], T | None], what: str,
        attempted_since: datetime | None,
    ) -> T:
        """`create()` with retries, where every retry (and, with `attempted_since`, the first attempt too) first
        asks `created_since(earliest attempt)` whether an earlier attempt went through after all and, if so,
        returns that resource instead of creating another."""
        since = (attempted_since or datetime.now(UTC)) - CLOCK_SKEW
        look_first = attempted_since is not None
        attempts = 0

        async def attempt() -> T:
            nonlocal attempts
            attempts += 1
            if attempts > 1 or look_first:
                if (created := await self._look_up(created_since, since, what)) is not None:
                    return created
            return await asyncio.to_thread(create)

        return await self._retried(attempt, what)

    async def _look_up(self, created_since: Callable[[datetime], T | None], since: datetime, what: str) -> T | None:
        """`created_since(since)` with its own retries. When it still fails, a ToolFailure that the create's
        retries do not repeat: whether the earlier create went through is unknown, so it is not made again."""
        try:
            return await with_retries(
                lambda: asyncio.to_thread(created_since, since), _status, self.retry, f"{what} look-up"
            )
        except (TwilioException, requests.RequestException) as exc:
            failure = _as_failure(exc)
            raise ToolFailure(
                ErrorCode.SERVICE_UNAVAILABLE,
                f"{failure.message}; an earlier attempt may have got through, so it was not repeated",
                failure.details,
            ) from None

    async def _call(self, func: Callable[[], T], what: str) -> T:
        return await self._retried(lambda: asyncio.to_thread(func), what)

    async def _retried(self, attempt: Callable[[], Awaitable[T]], what: str) -> T:
        """`attempt()` with retries; Twilio's errors and no answer at all become ToolFailures."""
        try:
            return await with_retries(attempt, _status, self.retry, what)
        except (TwilioException, requests.RequestException) as exc:
            raise _as_failure(exc) from None


def _as_failure(exc: TwilioException | requests.RequestException) -> ToolFailure:
    if isinstance(exc, TwilioException):
        return provider_failure(exc)
    return ToolFailure(
        ErrorCode.SERVICE_UNAVAILABLE,
        f"Twilio did not answer: {type(exc).__name__}",
        {"provider": "twilio", "provider_status": None, "provider_code": None},
    )


def _status(exc: Exception) -> int | None:
    if isinstance(exc, requests.RequestException):
        return NETWORK_FAILURE_STATUS
    if isinstance(exc, TwilioRestException):
        return exc.status
    if isinstance(exc, TwilioException):  # a list's page error: TwilioException("Unable to fetch page", response)
        return next((arg.status_code for arg in exc.args if isinstance(arg, Response)), None)
    return None


def _created_since(date_created: datetime | None, since: datetime) -> bool:
    return date_created is not None and date_created >= since


def provider_failure(exc: TwilioException) -> ToolFailure:
    """Map a Twilio error to our codes, keeping the provider's own message and code."""
    status = _status(exc)
    code = getattr(exc, "code", None)
    message = getattr(exc, "msg", None) or (str(exc.args[0]) if exc.args else type(exc).__name__)
    details = {"provider": "twilio", "provider_status": status, "provider_code": code}
    if code == UNSUBSCRIBED:
        return ToolFailure(ErrorCode.PERMISSION_DENIED, f"the recipient has opted out of messages: {message}", details)
    if code in RECIPIENT_ERRORS:
        return ToolFailure(ErrorCode.INVALID_RECIPIENT, message, details)
    if isinstance(exc, TwilioRestException) and status is not None and 400 <= status < 500 and status != 429:
        return ToolFailure(ErrorCode.INVALID_ARGUMENT, f"Twilio refused the request: {message}", details)
    return ToolFailure(ErrorCode.SERVICE_UNAVAILABLE, f"Twilio is not available: {message}", details)
