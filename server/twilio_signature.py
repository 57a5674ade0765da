"""Authenticating Twilio's requests: X-Twilio-Signature over the public URL Twilio called.

Behind ngrok or a proxy the request URL the app sees is not the one Twilio signed, so the URL is rebuilt
from PUBLIC_URL (and for the media websocket, from its `wss://` form).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import HTTPConnection, Request
from twilio.request_validator import RequestValidator

from server.config import Settings
from server.errors import ApiError


def public_url_of(connection: HTTPConnection, public_base: str) -> str:
    query = connection.url.query
    return public_base.rstrip("/") + connection.url.path + (f"?{query}" if query else "")


def signature_valid(settings: Settings, url: str, params: ImmutableMultiDict[str, str], signature: str | None) -> bool:
    if not settings.COACH_VALIDATE_TWILIO_SIGNATURE:
        return True
    if not settings.TWILIO_AUTH_TOKEN or not signature:
        return False
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature)


async def signed_form(request: Request, settings: Settings) -> ImmutableMultiDict[str, str]:
    """The urlencoded body of a Twilio webhook, or 403 when its signature does not match."""
    params = ImmutableMultiDict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    url = public_url_of(request, settings.PUBLIC_URL)
    if not signature_valid(settings, url, params, request.headers.get("x-twilio-signature")):
        raise ApiError(403, "PERMISSION_DENIED", "invalid Twilio signature")
    return params
