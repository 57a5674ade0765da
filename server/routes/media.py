"""`WS /twilio/media`: a Twilio Media Stream becomes a call session, once its stream token checks out.

The token (from the TwiML `<Parameter>`) arrives in the `start` frame; nothing reaches the model before it is
verified, matches the stream's call sid, and has claimed its call session's one stream (a second stream with
the same token is refused, in any server process). A signed handshake (X-Twilio-Signature over the wss:// URL)
is checked when Twilio sends one.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter
from starlette.datastructures import ImmutableMultiDict
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from db import calls
from server.context import AppContext, app_context
from server.twilio_signature import public_url_of, signature_valid
from server.voice_calls import call_info, model_connector
from tools.channels.stream_token import InvalidStreamToken, StreamGrant, public_ws_base, verify_stream_token
from tools.log_context import call_id_var
from voice.session import CallSession
from voice.transports.twilio import StreamRefused, StreamStart, TwilioMediaTransport, read_stream_start

log = logging.getLogger("coach.media")
REFUSED_STREAMS = Counter("coach_media_streams_refused_total", "Media streams refused before the call started", ["reason"])
POLICY_VIOLATION = 1008


async def media_stream(websocket: WebSocket) -> None:
    ctx = app_context(websocket)
    signature = websocket.headers.get("x-twilio-signature")
    if signature is not None:
        url = public_url_of(websocket, public_ws_base(ctx.settings.PUBLIC_URL))
        if not signature_valid(ctx.settings, url, ImmutableMultiDict(), signature):
            REFUSED_STREAMS.labels("signature").inc()
            await websocket.close(code=POLICY_VIOLATION)
            return
    await websocket.accept()
    try:
        start = await read_stream_start(websocket)
        grant, direction = await _admit(ctx, start)
    except (StreamRefused, InvalidStreamToken) as exc:
        REFUSED_STREAMS.labels(type(exc).__name__).inc()
        log.warning("media stream refused", extra={"reason": str(exc)})
        await websocket.close(code=POLICY_VIOLATION)
        return
    call_id_var.set(grant.call_session_id)
    info = await call_info(
        ctx, user_id=grant.user_id, call_session_id=grant.call_session_id,
        direction=direction, purpose=grant.purpose, message=grant.message,
    )
    if info is None:
        await websocket.close(code=POLICY_VIOLATION)
        return
    transport = TwilioMediaTransport(websocket, start)
    twilio = ctx.services.twilio

    async def apologize(text: str) -> None:
        if twilio is not None and start.call_sid:
            await twilio.say_and_hang_up(start.call_sid, text)

    await CallSession(ctx.services, transport, model_connector(ctx), info, apologize=apologize).run()


async def _admit(ctx: AppContext, start: StreamStart) -> tuple[StreamGrant, str]:
    """The stream's grant and its call's direction, once the token is valid, bound to this stream's call, and
    the first to open a stream for its call session."""
    grant = verify_stream_token(ctx.settings.COACH_SECRET_KEY, start.parameters.get("token"))
    if grant.call_sid is None or grant.call_sid != start.call_sid:
        raise InvalidStreamToken("stream token belongs to another call")
    async with ctx.sessions() as session:
        direction = await calls.claim_stream(session, grant.call_session_id, grant.user_id, start.call_sid, ctx.services.clock())
        await session.commit()
    if direction is None:
        raise InvalidStreamToken("stream token was used already, or its call is not this one")
    return grant, direction


routes = [WebSocketRoute("/twilio/media", media_stream)]
