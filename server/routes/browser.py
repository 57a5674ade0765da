"""The browser client: its page (`GET /` -> `/web/`, static files from `web/`) and `WS /ws/voice?token=API_TOKEN`,
on the same call session core as the phone."""

from __future__ import annotations

from starlette.routing import Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from db import calls
from server.auth import authenticate_token
from server.context import app_context
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
        try:
            principal = await authenticate_token(session, websocket.query_params.get("token"), ctx.services.clock())
        except ApiError:
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


routes = [
    WebSocketRoute("/ws/voice", browser_voice),
    Mount("/web", StaticFiles(directory=WEB_DIRECTORY, html=True), name="web"),
]
