"""The development outbox: with COACH_OUTBOX, a channel without credentials stores its messages instead of
sending them (`GET /api/outbox` lists them). Never used for a channel whose credentials are set.

`OutboxChannel` answers what the real channels answer (TwilioChannel's `send_sms`, ResendChannel's `send`),
so an executor uses either the same way. It is made per action: it writes in the executor's session, so the
stored message commits with the action's history, or neither does. A call is stored as its message: no
call is placed and no media flows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db import outbox

DELIVERED = "delivered to outbox"
OUTBOX_CHANNELS = ("sms", "call", "email")


class OutboxChannel:
    def __init__(self, session: AsyncSession, user_id: str, action_id: str) -> None:
        self._session = session
        self._user_id = user_id
        self._action_id = action_id

    async def send_sms(
        self, to: str, body: str, status_callback: str | None = None, *, attempted_since: datetime | None = None
    ) -> str:
        """Store the SMS; returns the outbox message's id."""
        return await self._store("sms", to, body)

    async def send(self, *, to: str, subject: str, text: str, idempotency_key: str, reply_to: str | None = None) -> str:
        """Store the email; returns the outbox message's id."""
        return await self._store("email", to, text, subject)

    async def record_call(self, to: str, message: str) -> str:
        """Store the call (to whom, about what); returns the outbox message's id."""
        return await self._store("call", to, message)

    async def _store(self, channel: str, to: str, body: str, subject: str | None = None) -> str:
        message = await outbox.store(
            self._session, user_id=self._user_id, action_id=self._action_id, channel=channel, to_address=to,
            body=body, subject=subject,
        )
        return message.id


def outbox_channels(*, enabled: bool, twilio_configured: bool, email_configured: bool) -> frozenset[str]:
    """The channels that deliver to the outbox: with the outbox enabled, those whose credentials are unset."""
    if not enabled:
        return frozenset()
    unset = {"sms": not twilio_configured, "call": not twilio_configured, "email": not email_configured}
    return frozenset(channel for channel in OUTBOX_CHANNELS if unset[channel])
