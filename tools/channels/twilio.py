"""SMS and outbound calls through Twilio, with retries and error mapping to our error codes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from tools.channels.retry import RetryPolicy, with_retries
from tools.results import ErrorCode, ToolFailure

UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient"
RECIPIENT_ERRORS = {21211, 21214, 21217, 21401, 21407, 21408, 21610, 21612, 21614}


@dataclass(frozen=True)
class PlacedCall:
    sid: str
    status: str


class TwilioChannel:
    def __init__(self, client: Client, from_number: str, retry: RetryPolicy = RetryPolicy()) -> None:
        self.client = client
        self.from_number = from_number
        self.retry = retry

    async def send_sms(self, to: str, body: str, status_callback: str | None = None) -> str:
        """Send an SMS; returns the message sid."""

        def create() -> str:
            kwargs = {"to": to, "from_": self.from_number, "body": body}
            if status_callback:
                kwargs["status_callback"] = status_callback
            return self.client.messages.create(**kwargs).sid

        return await self._call(create, "twilio.messages.create")

    async def place_call(self, to: str, twiml: str, status_callback: str) -> PlacedCall:
        """Dial `to`; `twiml` runs when the call is answered.

        Answering-machine detection runs asynchronously (the conversation starts at once) and reports
        `AnsweredBy` to the same status callback, which replaces a voicemail's stream with a short message.
        """

        def create() -> PlacedCall:
            call = self.client.calls.create(
                to=to,
                from_=self.from_number,
                twiml=twiml,
                status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                machine_detection="Enable",
                async_amd="true",
                async_amd_status_callback=status_callback,
                async_amd_status_callback_method="POST",
            )
            return PlacedCall(call.sid, call.status)

        return await self._call(create, "twilio.calls.create")

    async def hang_up(self, call_sid: str) -> None:
        await self._call(lambda: self.client.calls(call_sid).update(status="completed"), "twilio.calls.update")

    async def say_and_hang_up(self, call_sid: str, text: str) -> None:
        """Replace a live call's TwiML with a spoken message and a hang-up (ends any media stream)."""
        response = VoiceResponse()
        response.say(text)
        response.hangup()
        twiml = str(response)
        await self._call(lambda: self.client.calls(call_sid).update(twiml=twiml), "twilio.calls.update")

    async def _call(self, func, what: str):  # type: ignore[no-untyped-def]
        try:
            return await with_retries(lambda: asyncio.to_thread(func), _status, self.retry, what)
        except TwilioException as exc:
            raise provider_failure(exc) from None


def _status(exc: Exception) -> int | None:
    return getattr(exc, "status", None) if isinstance(exc, TwilioException) else None


def provider_failure(exc: TwilioException) -> ToolFailure:
    """Map a Twilio error to our codes, keeping the provider's own message and code."""
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    message = getattr(exc, "msg", None) or str(exc)
    details = {"provider": "twilio", "provider_status": status, "provider_code": code}
    if code == UNSUBSCRIBED:
        return ToolFailure(ErrorCode.PERMISSION_DENIED, f"the recipient has opted out of messages: {message}", details)
    if code in RECIPIENT_ERRORS:
        return ToolFailure(ErrorCode.INVALID_RECIPIENT, message, details)
    if isinstance(exc, TwilioRestException) and status is not None and 400 <= status < 500 and status != 429:
        return ToolFailure(ErrorCode.INVALID_ARGUMENT, f"Twilio refused the request: {message}", details)
    return ToolFailure(ErrorCode.SERVICE_UNAVAILABLE, f"Twilio is not available: {message}", details)
