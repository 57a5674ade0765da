"""Signed, short-lived tokens that admit one Twilio media stream.

The TwiML `<Stream>` URL may not carry a query string, so the token travels as a `<Parameter>` and comes
back in the stream's `start.customParameters`. It binds the user, the purpose, our call session and Twilio's
call sid; the media socket admits it for that call only, and once (`db.calls.claim_stream`).

An outbound call's sid is unknown until Twilio answers our create(), so its token cannot carry one yet. The
call is placed with an answer URL instead of TwiML (`outbound_answer_url`), holding a grant without a call sid
(which opens no stream). Twilio fetches that URL when the call is answered, signed and with its CallSid; the
webhook binds the sid to the call session and only then answers the TwiML with a stream token bound to it.

HMAC-SHA256 with a key derived from
COACH_SECRET_KEY's first secret; compared in constant time with each listed secret's (`secret_keys`), so a
call set up just before a rotation still streams.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass

from tools.channels.secret_keys import secret_keys


class InvalidStreamToken(Exception):
    pass


@dataclass(frozen=True)
class StreamGrant:
    user_id: str
    call_session_id: str
    purpose: str
    message: str
    call_sid: str | None
    expires_at: int


def public_ws_base(public_url: str) -> str:
    """PUBLIC_URL with the websocket scheme: `wss://` for https (what Twilio requires), `ws://` for local http."""
    scheme, _, rest = public_url.rstrip("/").partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}"


def media_stream_url(public_url: str) -> str:
    """The address Twilio streams the call audio to."""
    return f"{public_ws_base(public_url)}/twilio/media"


def outbound_answer_url(public_url: str, grant: str) -> str:
    """The address Twilio fetches an answered outbound call's TwiML from, with the call's grant."""
    return f"{public_url.rstrip('/')}/twilio/outbound?grant={grant}"


def _signature(secret: str, payload: str) -> str:
    key = hashlib.sha256(b"coach-stream-token:" + secret.encode()).digest()
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_stream_token(
    secret: str,
    *,
    user_id: str,
    call_session_id: str,
    purpose: str,
    message: str = "",
    call_sid: str | None = None,
    ttl_s: int = 300,
    issued_at: float | None = None,
) -> str:
    """A token valid for `ttl_s` from `issued_at` (now by default). The same grant issued at the same time is
    the same token, so a webhook answered again (Twilio retrying) answers exactly as before."""
    issued = issued_at if issued_at is not None else time.time()
    grant = StreamGrant(user_id, call_session_id, purpose, message, call_sid, int(issued) + ttl_s)
    payload = _b64(json.dumps(asdict(grant), separators=(",", ":")).encode())
    return f"{payload}.{_signature(secret_keys(secret)[0], payload)}"


def verify_stream_token(secret: str, token: str | None, now: float | None = None) -> StreamGrant:
    if not token or token.count(".") != 1:
        raise InvalidStreamToken("missing or malformed stream token")
    payload, signature = token.split(".")
    if not any(hmac.compare_digest(signature, _signature(key, payload)) for key in secret_keys(secret)):
        raise InvalidStreamToken("stream token signature does not match")
    try:
        grant = StreamGrant(**json.loads(_unb64(payload)))
    except (ValueError, TypeError) as exc:
        raise InvalidStreamToken(f"stream token payload is unreadable: {exc}") from None
    if grant.expires_at < (now if now is not None else time.time()):
        raise InvalidStreamToken("stream token has expired")
    return grant
