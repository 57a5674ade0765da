"""Executors that reach people: SMS, email, calls, email to a contact, and recording an opt-out."""

from __future__ import annotations

import logging
from typing import Any

from db import calls, consent
from db.coaching import saved_contact
from policy.addresses import InvalidAddress, normalize_email
from tools.catalogue import MakeVoiceCall, RecordOptOut, SendEmail, SendEmailToContact, SendSms
from tools.channels.outbox import DELIVERED, OutboxChannel
from tools.channels.resend import ResendChannel
from tools.channels.stream_token import issue_stream_token, outbound_answer_url
from tools.channels.twilio import UNSUBSCRIBED, TwilioChannel
from tools.executors.base import Execution
from tools.results import ErrorCode, ToolFailure

log = logging.getLogger("coach.calls")
ATTRIBUTION = "Sent on behalf of {name} via Vision Coach"


def _twilio(run: Execution, channel: str) -> TwilioChannel | OutboxChannel:
    """Twilio, or the development outbox when `channel` (sms or call) delivers there."""
    if run.services.twilio is not None:
        return run.services.twilio
    if channel in run.services.outbox:
        return _outbox(run)
    raise ToolFailure(ErrorCode.SERVICE_UNAVAILABLE, "SMS and calls are not configured (no Twilio credentials)")


def _email(run: Execution) -> ResendChannel | OutboxChannel:
    """Resend, or the development outbox when email delivers there."""
    if run.services.email is not None:
        return run.services.email
    if "email" in run.services.outbox:
        return _outbox(run)
    raise ToolFailure(ErrorCode.SERVICE_UNAVAILABLE, "email is not configured (no Resend key or sender)")


def _outbox(run: Execution) -> OutboxChannel:
    return OutboxChannel(run.session, run.user.id, run.action_id)


def _delivered(channel: object, data: dict[str, Any]) -> dict[str, Any]:
    """`data`, saying so when the message went to the development outbox rather than to anyone."""
    if isinstance(channel, OutboxChannel):
        return {**data, "delivery": "outbox", "outcome": DELIVERED}
    return data


def _user_phone(run: Execution) -> str:
    if not run.user.phone:
        raise ToolFailure(ErrorCode.INVALID_RECIPIENT, "the user has no phone number on file")
    return run.user.phone


async def _suppress_if_unsubscribed(run: Execution, failure: ToolFailure, phone: str, channel: str) -> None:
    """Twilio 21610 means the number unsubscribed at the carrier: suppress it for good."""
    if failure.details and failure.details.get("provider_code") == UNSUBSCRIBED:
        await consent.record(
            run.session, address=phone, channel=channel, opted_out=True, permanent=True,
            source="twilio_21610", user_id=run.user.id,
        )


async def send_sms(run: Execution, args: SendSms) -> dict[str, Any]:
    phone = _user_phone(run)
    channel = _twilio(run, "sms")
    try:
        sid = await channel.send_sms(phone, args.message, attempted_since=run.attempted_since)
    except ToolFailure as failure:
        await _suppress_if_unsubscribed(run, failure, phone, "sms")
        raise
    return _delivered(channel, {"message_sid": sid, "to": phone})


async def send_email(run: Execution, args: SendEmail) -> dict[str, Any]:
    if not run.user.email:
        raise ToolFailure(ErrorCode.INVALID_RECIPIENT, "the user has no email address on file")
    channel = _email(run)
    email_id = await channel.send(to=run.user.email, subject=args.subject, text=args.body, idempotency_key=run.action_id)
    return _delivered(channel, {"email_id": email_id, "to": run.user.email})


async def send_email_to_contact(run: Execution, args: SendEmailToContact) -> dict[str, Any]:
    try:
        address = normalize_email(args.to_email)
    except InvalidAddress as exc:
        raise ToolFailure(ErrorCode.INVALID_RECIPIENT, str(exc)) from None
    contact = await saved_contact(run.session, run.user.id, address)
    if contact is None:
        raise ToolFailure(ErrorCode.INVALID_RECIPIENT, f"{address} is not one of the user's saved contacts")
    body = f"{args.body}\n\n--\n{ATTRIBUTION.format(name=args.from_name or run.user.name)}"
    channel = _email(run)
    email_id = await channel.send(
        to=address, subject=args.subject, text=body, idempotency_key=run.action_id, reply_to=run.user.email
    )
    return _delivered(channel, {"email_id": email_id, "to": address, "contact": contact.name})


async def make_voice_call(run: Execution, args: MakeVoiceCall) -> dict[str, Any]:
    phone = _user_phone(run)
    twilio = _twilio(run, "call")
    if isinstance(twilio, OutboxChannel):
        message_id = await twilio.record_call(phone, args.message or f"a {args.call_type} call")
        return _delivered(twilio, {"outbox_message_id": message_id, "to": phone, "call_type": args.call_type})
    call_id = await _new_outbound_call(run, args.call_type)
    grant = issue_stream_token(
        run.services.secret_key, user_id=run.user.id, call_session_id=call_id, purpose=args.call_type,
        message=args.message, ttl_s=600,
    )
    try:
        placed = await twilio.place_call(
            phone, outbound_answer_url(run.services.public_url, grant),
            f"{run.services.public_url.rstrip('/')}/twilio/status", attempted_since=run.attempted_since,
        )
    except ToolFailure as failure:
        await calls.finish_call(run.session, call_id, "failed", failure.message)
        await _suppress_if_unsubscribed(run, failure, phone, "call")
        raise
    if not await calls.bind_call_sid(run.session, call_id, placed.sid):
        log.error("the answered call's sid differs from the placed one", extra={"call_session_id": call_id})
    return {"call_sid": placed.sid, "call_session_id": call_id, "to": phone, "call_type": args.call_type}


async def _new_outbound_call(run: Execution, purpose: str) -> str:
    """The call session, committed before dialling: Twilio's answer webhook may come before this action's
    transaction commits, and must find the session to bind the call sid to."""
    async with run.services.sessions() as session:
        call = await calls.start_call(session, user_id=run.user.id, direction="outbound", purpose=purpose, status="initiated")
        await session.commit()
    return call.id


async def record_opt_out(run: Execution, args: RecordOptOut) -> dict[str, Any]:
    channels = ("call", "sms", "email") if args.channel == "all" else (args.channel,)
    recorded = []
    for channel in channels:
        address = run.user.email if channel == "email" else run.user.phone
        if address:
            await consent.record(
                run.session, address=address, channel=channel, opted_out=True, source="voice_request",
                user_id=run.user.id,
            )
            recorded.append(channel)
    return {"opted_out": recorded}


EXECUTORS = {
    "send_sms": send_sms,
    "send_email": send_email,
    "send_email_to_contact": send_email_to_contact,
    "make_voice_call": make_voice_call,
    "record_opt_out": record_opt_out,
}
