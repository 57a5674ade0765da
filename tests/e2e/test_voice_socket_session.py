"""`WS /ws/voice` opened by the home page with the session cookie instead of a token: only from a page of this
server (the handshake's `Origin`), so another site's page cannot open a call in the person's name with the
cookie the browser sends along (cross-site websocket hijacking)."""

from __future__ import annotations

import json

import pytest
import websockets
from factories import new_user, session_cookie
from worlds import VoiceWorld

from server.web.cookies import SESSION_COOKIE


async def _open(world: VoiceWorld, *, origin: str | None, cookie: str | None) -> websockets.ClientConnection:
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {}
    return await websockets.connect(f"{world.ws_base}/ws/voice", origin=origin, additional_headers=headers, proxy=None)


async def _refused(world: VoiceWorld, *, origin: str | None, cookie: str | None) -> int:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await _open(world, origin=origin, cookie=cookie)
    return refused.value.response.status_code


async def _first_event(socket: websockets.ClientConnection) -> dict:
    try:
        return json.loads(await socket.recv())
    finally:
        await socket.close()


async def test_the_home_page_opens_a_call_with_the_session_cookie(world: VoiceWorld) -> None:
    user = await new_user(world.data)
    socket = await _open(world, origin=world.base_url, cookie=await session_cookie(world.data, user))
    assert (await _first_event(socket))["state"] == "connected"


async def test_a_page_at_the_public_url_opens_a_call_with_the_session_cookie(world: VoiceWorld) -> None:
    user = await new_user(world.data)
    socket = await _open(world, origin=world.settings.PUBLIC_URL, cookie=await session_cookie(world.data, user))
    assert (await _first_event(socket))["state"] == "connected"


async def test_another_sites_page_cannot_open_a_call_with_the_cookie(world: VoiceWorld) -> None:
    user = await new_user(world.data)
    cookie = await session_cookie(world.data, user)
    assert await _refused(world, origin="https://evil.example", cookie=cookie) == 403
    assert await _refused(world, origin="http://127.0.0.1.evil.example", cookie=cookie) == 403
    assert world.gemini.live.connections == []


async def test_a_handshake_without_an_origin_cannot_use_the_cookie(world: VoiceWorld) -> None:
    user = await new_user(world.data)
    assert await _refused(world, origin=None, cookie=await session_cookie(world.data, user)) == 403


async def test_a_handshake_without_cookie_or_token_is_refused(world: VoiceWorld) -> None:
    assert await _refused(world, origin=world.base_url, cookie=None) == 403
    assert await _refused(world, origin=world.base_url, cookie="forged.cookie") == 403
