"""Signing in and out (DESIGN.md section 9): a one-time code sent by SMS or email through our own channels (the
development outbox shows it), or an API token; the session cookie; sign-out.

The sign-in forms are protected against login CSRF by a double submit: `GET /signin` sets a random nonce in
an HttpOnly cookie and puts its HMAC in the form; a POST without the pair is refused. Whether an identifier
belongs to anyone is never said: the code step reads the same either way.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import accounts, outbox, signin_codes, web_sessions
from db.models import User
from policy.addresses import InvalidAddress, normalize_email, normalize_phone
from server.auth import CSRF_FIELD, csrf_matches, signed_in
from server.context import AppContext, app_context
from server.errors import ApiError
from server.web.cookies import clear_session_cookie, set_session_cookie, signed
from server.web.pages import see_other
from server.web.rendering import render
from tools.channels.secret_keys import secret_keys
from tools.results import ToolFailure

log = logging.getLogger("coach.signin")
SIGNIN_COOKIE = "coach_signin"
FIELD_MAX = 320
CODE_MESSAGE = "Your Vision Coach sign-in code is {code}. It works once, for 10 minutes. Nobody from us will ask for it."


class CodeNotSent(Exception):
    """No channel could carry the code; the message says why, for people."""


def _signing_key(ctx: AppContext) -> str:
    return secret_keys(ctx.settings.COACH_SECRET_KEY)[0]


def _form_token(ctx: AppContext, nonce: str) -> str:
    return hmac.new(_signing_key(ctx).encode(), b"signin:" + nonce.encode(), hashlib.sha256).hexdigest()


def _secure(ctx: AppContext) -> bool:
    return ctx.settings.PUBLIC_URL.startswith("https://")


def _next_path(raw: object) -> str:
    """Where to go after signing in: a path on this site only (never `//host` or a scheme)."""
    path = raw if isinstance(raw, str) else ""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 200:
        return "/"
    return path


def _signin_page(request: Request, context: dict[str, object], status_code: int = 200) -> Response:
    """A sign-in step, with a fresh login-CSRF nonce in the cookie and its HMAC in the forms."""
    ctx = app_context(request)
    nonce = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
    context = {"form_token": _form_token(ctx, nonce), "next": _next_path(request.query_params.get("next")), **context}
    response = render(request, "signin.html", context, status_code=status_code)
    response.set_cookie(SIGNIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="lax", secure=_secure(ctx), path="/signin")
    return response


async def _form_fields(request: Request) -> dict[str, str] | None:
    """The form's fields, when its login-CSRF token matches the cookie; None otherwise."""
    form = await request.form()
    fields = {key: value[:FIELD_MAX] for key, value in form.items() if isinstance(value, str)}
    nonce = request.cookies.get(SIGNIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(fields.get(CSRF_FIELD, ""), _form_token(app_context(request), nonce)):
        return None
    return fields


async def _user_for_identifier(session: AsyncSession, identifier: str) -> tuple[User | None, str]:
    """The user an identifier names and the channel that reaches them (sms or email); InvalidAddress if it
    is neither a phone number nor an email address."""
    if "@" in identifier:
        email = normalize_email(identifier)
        user = (await session.execute(select(User).where(func.lower(User.email) == email.lower()))).scalar_one_or_none()
        return user, "email"
    return await accounts.user_by_phone(session, normalize_phone(identifier)), "sms"


def _goes_to_outbox(ctx: AppContext, channel: str) -> bool:
    """Whether a code by `channel` is stored in the development outbox rather than sent: the channel has no
    credentials and COACH_OUTBOX is on. The code step says so, for anyone (it depends on the server, not on
    whose identifier was typed, so it tells nothing about who has an account)."""
    services = ctx.services
    real = services.twilio if channel == "sms" else services.email
    return real is None and channel in services.outbox


async def _deliver(ctx: AppContext, session: AsyncSession, user: User, channel: str, code_id: str, code: str) -> None:
    """Send the code through our own channel, or the development outbox; CodeNotSent when neither is there."""
    text = CODE_MESSAGE.format(code=code)
    services = ctx.services
    address = user.phone if channel == "sms" else user.email
    assert address is not None
    try:
        if _goes_to_outbox(ctx, channel):
            await outbox.store(session, user_id=user.id, action_id=None, channel=channel, to_address=address,
                               body=text, subject="Your sign-in code" if channel == "email" else None)
        elif channel == "sms" and services.twilio is not None:
            await services.twilio.send_sms(address, text)
        elif channel == "email" and services.email is not None:
            await services.email.send(to=address, subject="Your sign-in code", text=text, idempotency_key=code_id)
        else:
            raise CodeNotSent(f"Sign-in by {'SMS' if channel == 'sms' else 'email'} is not available on this server. "
                              "Sign in with an API token instead.")
    except ToolFailure as failure:
        log.warning("sign-in code not sent", extra={"user_id": user.id, "channel": channel, "error": failure.code.value})
        raise CodeNotSent("We could not send the code just now. Try again in a minute.") from None


async def signin_form(request: Request) -> Response:
    ctx = app_context(request)
    async with ctx.sessions() as session:
        if await signed_in(session, request, ctx.settings.COACH_SECRET_KEY, ctx.services.clock()) is not None:
            return see_other(_next_path(request.query_params.get("next")))
    return _signin_page(request, {"step": "identifier"})


async def request_code(request: Request) -> Response:
    fields = await _form_fields(request)
    if fields is None:
        return _signin_page(request, {"step": "identifier", "error": "This form has expired. Try again."}, 403)
    identifier = fields.get("identifier", "").strip()
    ctx = app_context(request)
    now = ctx.services.clock()
    async with ctx.sessions() as session:
        try:
            user, channel = await _user_for_identifier(session, identifier)
            if user is not None:
                row, code = await signin_codes.issue(
                    session, user_id=user.id, channel=channel, secret_key=_signing_key(ctx), now=now
                )
                await _deliver(ctx, session, user, channel, row.id, code)
                await session.commit()
        except InvalidAddress:
            error = "Enter the phone number (with country code, e.g. +14155550100) or the email address we have for you."
            return _signin_page(request, {"step": "identifier", "identifier": identifier, "error": error}, 400)
        except (signin_codes.TooManyCodes, CodeNotSent) as refused:
            message = str(refused) if isinstance(refused, CodeNotSent) else "Too many codes were sent. Wait 15 minutes."
            return _signin_page(request, {"step": "identifier", "identifier": identifier, "error": message}, 429 if isinstance(refused, signin_codes.TooManyCodes) else 503)
    return _signin_page(request, {"step": "code", "identifier": identifier, "channel": channel,
                                  "to_outbox": _goes_to_outbox(ctx, channel), "next": _next_path(fields.get("next"))})


async def redeem_code(request: Request) -> Response:
    fields = await _form_fields(request)
    if fields is None:
        return _signin_page(request, {"step": "identifier", "error": "This form has expired. Try again."}, 403)
    identifier, code = fields.get("identifier", "").strip(), fields.get("code", "").strip().replace(" ", "")
    ctx = app_context(request)
    now = ctx.services.clock()
    async with ctx.sessions() as session:
        try:
            user, channel = await _user_for_identifier(session, identifier)
        except InvalidAddress:
            user, channel = None, "sms"
        redeemed = None
        if user is not None and code.isdigit():
            redeemed = await signin_codes.redeem(session, user_id=user.id, code=code, secret_key=_signing_key(ctx), now=now)
        if user is None or redeemed is None:
            await session.commit()  # the wrong guess counts
            error = "That code is not right, or it has expired. Check the latest message, or ask for a new code."
            return _signin_page(request, {"step": "code", "identifier": identifier, "channel": channel, "error": error}, 400)
        return await _start_session(request, session, user.id, redeemed.channel, fields.get("next"))


async def token_signin(request: Request) -> Response:
    fields = await _form_fields(request)
    if fields is None:
        return _signin_page(request, {"step": "identifier", "error": "This form has expired. Try again."}, 403)
    ctx = app_context(request)
    async with ctx.sessions() as session:
        user = await accounts.user_for_token(session, fields.get("token", "").strip(), ctx.services.clock())
        if user is None:
            await session.commit()
            return _signin_page(request, {"step": "identifier", "token_error": "That API token does not work: it is wrong, revoked or expired."}, 400)
        return await _start_session(request, session, user.id, "token", fields.get("next"))


async def _start_session(request: Request, session: AsyncSession, user_id: str, signed_in_with: str, next_path: object) -> Response:
    ctx = app_context(request)
    started = await web_sessions.start(
        session, user_id=user_id, signed_in_with=signed_in_with, user_agent=request.headers.get("user-agent", ""),
        now=ctx.services.clock(),
    )
    await session.commit()
    log.info("signed in", extra={"user_id": user_id, "web_session_id": started.row.id, "with": signed_in_with})
    response = see_other(_next_path(next_path))
    set_session_cookie(response, signed(started.secret, ctx.settings.COACH_SECRET_KEY), secure=_secure(ctx))
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


async def signout(request: Request) -> Response:
    ctx = app_context(request)
    async with ctx.sessions() as session:
        viewer = await signed_in(session, request, ctx.settings.COACH_SECRET_KEY, ctx.services.clock())
        if viewer is not None and viewer.web_session is not None:
            form = await request.form()
            presented = form.get(CSRF_FIELD)
            if not csrf_matches(viewer, presented if isinstance(presented, str) else None):
                raise ApiError(403, "PERMISSION_DENIED", "missing or wrong CSRF token")
            await web_sessions.revoke(session, viewer.user_id, viewer.web_session.id, ctx.services.clock())
            await session.commit()
    response = see_other("/signin")
    clear_session_cookie(response, secure=_secure(ctx))
    return response


routes = [
    Route("/signin", signin_form, methods=["GET"]),
    Route("/signin", request_code, methods=["POST"]),
    Route("/signin/code", redeem_code, methods=["POST"]),
    Route("/signin/token", token_signin, methods=["POST"]),
    Route("/signout", signout, methods=["POST"]),
]
