"""The browser client: its files (`/web/`, also embedded in the home page) and `WS /ws/voice`, on the same call
session core as the phone.

The socket is opened with an API token (`?token=`), or, from the home page, with the session cookie. A
browser sends cookies with a websocket handshake to any site's page that opens one and the same-origin policy
does not apply to websockets, so the cookie counts only when the handshake's `Origin` is this server's own
(cross-site websocket hijacking); a token in the URL is not something another site's page has."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from starlette.routing import Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from db import calls
from server.auth import Principal, authenticate_token, signed_in
from server.context import AppContext, app_context
from server.errors import ApiError
from server.voice_calls import call_info, model_connector
from server.web.rendering import WEB_DIRECTORY
from tools.log_context import call_id_var
from voice.session import CallSession
from voice.transports.browser import BrowserTransport

POLICY_VIOLATION = 1008


async def browser_voice(websocket: WebSocket) -> None:
    ctx = app_context(websocket)
    async with ctx.sessions() as session:
        principal = await _caller(session, websocket, ctx)
        if principal is None:
            await session.commit()
            await websocket.close(code=POLICY_VIOLATION)  # before accept: the handshake is refused with 403
            return
        call = await calls.start_call(session, user_id=principal.user_id, direction="browser", purpose="conversation")
        await session.commit()
    await websocket.accept()
    call_id_var.set(call.id)
    info = await call_info(ctx, user_id=principal.user_id, call_session_id=call.id, direction="browser", purpose="conversation")
    assert info is not None
    await websocket.send_json({"type": "state", "state": "connected", "call_id": call.id})
    await CallSession(ctx.services, BrowserTransport(websocket), model_connector(ctx), info).run()


async def _caller(session: AsyncSession, websocket: WebSocket, ctx: AppContext) -> Principal | None:
    """The person opening the socket: the token's owner, or, without a token, the signed-in person of a page
    of this very server."""
    now = ctx.services.clock()
    token = websocket.query_params.get("token")
    if token is not None:
        try:
            return await authenticate_token(session, token, now)
        except ApiError:
            return None
    if not from_own_origin(websocket, ctx.settings.PUBLIC_URL):
        return None
    return await signed_in(session, websocket, ctx.settings.COACH_SECRET_KEY, now)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def from_own_origin(connection: HTTPConnection, public_url: str) -> bool:
    """Whether the handshake comes from a page of this server: its `Origin` is `PUBLIC_URL`'s origin, or the
    host the request was sent to (a developer at http://127.0.0.1:8000). Another site's page cannot forge
    `Origin`, and a page of a host that merely resolves here does not hold this server's cookie."""
    origin = connection.headers.get("origin", "").lower()
    if not origin or origin == "null":
        return False
    host = connection.headers.get("host", "").lower()
    return origin == _origin(public_url) or (bool(host) and urlsplit(origin).netloc == host)


routes = [
    WebSocketRoute("/ws/voice", browser_voice),
    Mount("/web", StaticFiles(directory=WEB_DIRECTORY, html=True), name="web"),
]
