"""Twilio webhooks (all signed): inbound calls, answered outbound calls, call status and answering-machine
results, inbound SMS."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.twiml.voice_response import Connect, VoiceResponse

from db import accounts, calls, consent
from db.models import CallSession
from policy.addresses import InvalidAddress, normalize_phone
from policy.consent import classify_inbound_sms
from server.context import app_context
from server.twilio_signature import signed_form
from tools.channels.stream_token import InvalidStreamToken, issue_stream_token, media_stream_url, verify_stream_token
from tools.results import ToolFailure

log = logging.getLogger("coach.twilio")
UNKNOWN_CALLER = "Hello. This number is not registered with Vision Coach, so I can't help you on this line. Goodbye."
VOICEMAIL = "Hello, this is your Vision Coach calling. Please call back when you have a moment. Goodbye."
MACHINE = {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}


def twiml(response: VoiceResponse) -> Response:
    return Response(str(response), media_type="application/xml")


def hang_up(message: str | None = None) -> Response:
    response = VoiceResponse()
    if message:
        response.say(message)
    response.hangup()
    return twiml(response)


def stream_to_coach(public_url: str, token: str) -> Response:
    """TwiML that connects the call to our media socket with its stream token."""
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=media_stream_url(public_url))
    stream.parameter(name="token", value=token)
    response.append(connect)
    return twiml(response)


def _caller(raw: str | None) -> str | None:
    try:
        return normalize_phone(raw or "")
    except InvalidAddress:
        return None


async def inbound_call(request: Request) -> Response:
    ctx = app_context(request)
    form = await signed_form(request, ctx.settings)
    call_sid = form.get("CallSid", "")
    phone = _caller(form.get("From"))
    async with ctx.sessions() as session:
        user = await accounts.user_by_phone(session, phone) if phone else None
        if user is None:
            log.info("call from an unknown number")
            return hang_up(UNKNOWN_CALLER)
        call = await _inbound_call_session(session, user.id, call_sid)
    if call.user_id != user.id:
        log.warning("a call sid already belongs to another caller")
        return hang_up()
    token = issue_stream_token(
        ctx.settings.COACH_SECRET_KEY, user_id=user.id, call_session_id=call.id, purpose="conversation", call_sid=call_sid,
        issued_at=call.started_at.timestamp(),
    )
    return stream_to_coach(ctx.settings.PUBLIC_URL, token)


async def outbound_answered(request: Request) -> Response:
    """An outbound call we placed was answered: Twilio asks for its TwiML (signed, with the CallSid) at the answer
    URL, whose grant names our call session. The sid is bound to that session before any stream token exists, so
    the token is bound to this call as an inbound call's is."""
    ctx = app_context(request)
    form = await signed_form(request, ctx.settings)
    call_sid = form.get("CallSid", "")
    try:
        grant = verify_stream_token(ctx.settings.COACH_SECRET_KEY, request.query_params.get("grant"))
    except InvalidStreamToken as exc:
        log.warning("outbound call answered with an unusable grant", extra={"reason": str(exc)})
        return hang_up()
    async with ctx.sessions() as session:
        bound = bool(call_sid) and await calls.bind_call_sid(session, grant.call_session_id, call_sid)
        await session.commit()
    if not bound:
        log.warning("outbound call answered with another call's grant", extra={"call_session_id": grant.call_session_id})
        return hang_up()
    token = issue_stream_token(
        ctx.settings.COACH_SECRET_KEY, user_id=grant.user_id, call_session_id=grant.call_session_id,
        purpose=grant.purpose, message=grant.message, call_sid=call_sid,
    )
    return stream_to_coach(ctx.settings.PUBLIC_URL, token)


async def _inbound_call_session(session: AsyncSession, user_id: str, call_sid: str) -> CallSession:
    """The call session of Twilio's `call_sid`, started now or by an earlier delivery of the same webhook
    (Twilio retries it; two deliveries may even race, and the unique call sid lets only one insert win)."""
    if call_sid and (earlier := await calls.by_sid(session, call_sid)) is not None:
        return earlier
    call = await calls.start_call(session, user_id=user_id, direction="inbound", purpose="conversation", call_sid=call_sid or None)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        earlier = await calls.by_sid(session, call_sid)
        if earlier is None:
            raise
        return earlier
    return call


async def call_status(request: Request) -> Response:
    """Status callbacks and async answering-machine detection results for calls we placed."""
    ctx = app_context(request)
    form = await signed_form(request, ctx.settings)
    call_sid, answered_by = form.get("CallSid", ""), form.get("AnsweredBy")
    async with ctx.sessions() as session:
        call = await calls.by_sid(session, call_sid)
        if call is None:
            return Response(status_code=204)
        if form.get("CallStatus"):
            call.status = form["CallStatus"]
        if answered_by:
            call.answered_by = answered_by
        await session.commit()
    if answered_by in MACHINE and ctx.services.twilio is not None:
        log.info("voicemail answered; leaving a short message", extra={"answered_by": answered_by})
        try:
            await ctx.services.twilio.say_and_hang_up(call_sid, VOICEMAIL)
        except ToolFailure as failure:
            log.error("could not leave the voicemail message", extra={"reason": failure.message})
    return Response(status_code=204)


async def inbound_sms(request: Request) -> Response:
    """STOP-style keywords opt the number out of SMS (START opts back in), recorded in our consent table."""
    ctx = app_context(request)
    form = await signed_form(request, ctx.settings)
    phone = _caller(form.get("From"))
    verdict = classify_inbound_sms(form.get("Body", ""))
    if phone and verdict is not None:
        async with ctx.sessions() as session:
            user = await accounts.user_by_phone(session, phone)
            await consent.record(
                session, address=phone, channel="sms", opted_out=verdict == "opt_out", source="sms_keyword",
                user_id=user.id if user else None,
            )
            await session.commit()
        log.info("sms consent changed", extra={"verdict": verdict})
    return Response("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response />", media_type="application/xml")


routes = [
    Route("/twilio/voice", inbound_call, methods=["POST"]),
    Route("/twilio/outbound", outbound_answered, methods=["POST"]),
    Route("/twilio/status", call_status, methods=["POST"]),
    Route("/twilio/sms", inbound_sms, methods=["POST"]),
]
