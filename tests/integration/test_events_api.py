"""`GET /api/events`: the person's server-sent events, over a real socket (uvicorn), on both backends.

Bearer token or session cookie; 401 without; the person's own events only, ids and tool names but never an
action's text; heartbeats; the subscription ends with the client; on PostgreSQL + Redis an action proposed
through a second server process reaches the first one's stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from action_requests import confirm, propose
from backends import Backend, make_settings
from factories import TestUser, daytime_clock, new_user, session_cookie
from fakes.server import running_server_async
from providers import Providers

from server.app import create_app
from server.config import Settings
from server.context import AppContext
from server.web.cookies import SESSION_COOKIE
from tools.events import EventBus

EVENT_WAIT_S = 10.0


@dataclass
class Served:
    http: httpx.AsyncClient  # real HTTP to the server
    data: AppContext  # a context on the test's loop, for arranging rows
    bus: EventBus  # where the server's subscriptions can be counted from the test's loop


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[Served]:
    """The app behind uvicorn (SSE needs a real socket), its clock pinned to a weekday afternoon."""
    app = create_app(settings)
    async with running_server_async(app) as base_url:
        daytime_clock(app.state.ctx)
        data = AppContext.open(settings)
        daytime_clock(data)
        # In-process subscriptions live in the server's own bus (a plain dict, safe to read from here); Redis
        # counts them for every process, so the test's own client asks it.
        bus = data.services.events if settings.REDIS_URL else app.state.ctx.services.events
        try:
            async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30) as http:
                yield Served(http, data, bus)
        finally:
            await data.close()


@pytest.fixture
def settings(backend: Backend, providers: Providers) -> Settings:
    return make_settings(backend, **providers.settings(), COACH_EVENTS_HEARTBEAT_SECONDS=0.3)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Served]:
    async with served(settings) as running:
        yield running


class EventStream:
    """An open `GET /api/events`: its lines as they come."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()

    async def line(self) -> str:
        return await asyncio.wait_for(anext(self.lines), EVENT_WAIT_S)

    async def next_event(self) -> tuple[str, dict[str, Any]]:
        """The next event's name and data (comments and blank lines skipped)."""
        name = None
        while True:
            line = await self.line()
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: ") and name is not None:
                return name, json.loads(line.removeprefix("data: "))


@asynccontextmanager
async def event_stream(http: httpx.AsyncClient, **request: Any) -> AsyncIterator[EventStream]:
    """The stream, once the server says its subscription holds."""
    async with http.stream("GET", "/api/events", **request) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = EventStream(response)
        while await stream.line() != ": subscribed":
            pass
        yield stream


async def test_a_proposal_reaches_the_stream_of_a_bearer_token(server) -> None:
    http, ctx = server.http, server.data
    user = await new_user(ctx)
    async with event_stream(http, headers=user.headers) as stream:
        action_id = await propose(http, user, args={"message": "Secret plans for 7"})
        assert await stream.next_event() == ("pending_created", {"action_id": action_id, "tool": "send_sms"})


async def test_a_proposal_reaches_the_stream_of_a_signed_in_browser(server) -> None:
    http, ctx = server.http, server.data
    user = await new_user(ctx)
    cookies = {SESSION_COOKIE: await session_cookie(ctx, user)}
    async with event_stream(http, cookies=cookies) as stream:
        action_id = await propose(http, user)
        assert await stream.next_event() == ("pending_created", {"action_id": action_id, "tool": "send_sms"})


async def test_the_stream_needs_a_signed_in_person(server) -> None:
    http = server.http
    response = await http.get("/api/events")
    assert response.status_code == 401
    assert (await http.get("/api/events", headers={"Authorization": "Bearer vc_nope"})).status_code == 401


async def test_a_confirmation_resolves_the_card_and_records_the_outcome(server) -> None:
    http, ctx = server.http, server.data
    user = await new_user(ctx)
    action_id = await propose(http, user)
    async with event_stream(http, headers=user.headers) as stream:
        assert (await confirm(http, user, action_id)).status_code == 200
        assert await stream.next_event() == ("pending_resolved", {"action_id": action_id, "status": "confirmed"})
        assert await stream.next_event() == (
            "action_recorded", {"action_id": action_id, "tool": "send_sms", "status": "executed"}
        )


async def test_another_persons_actions_never_reach_the_stream(server) -> None:
    http, ctx = server.http, server.data
    watcher, other = await new_user(ctx), await new_user(ctx)
    async with event_stream(http, headers=watcher.headers) as stream:
        await propose(http, other, args={"message": "Other person's words"})
        own = await propose(http, watcher)
        assert await stream.next_event() == ("pending_created", {"action_id": own, "tool": "send_sms"})


async def test_an_idle_stream_sends_heartbeats(server) -> None:
    http, ctx = server.http, server.data
    user = await new_user(ctx)
    async with event_stream(http, headers=user.headers) as stream:
        assert [await stream.line() for _ in range(2)] == ["", ": heartbeat"]  # the blank line ends `subscribed`


async def _subscribers_become(bus: EventBus, user: TestUser, count: int) -> None:
    for _ in range(200):
        if await bus.subscribers(user.id) == count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{await bus.subscribers(user.id)} subscribers, expected {count}")


async def test_the_subscription_ends_when_the_client_goes(server) -> None:
    http, ctx = server.http, server.data
    user = await new_user(ctx)
    async with event_stream(http, headers=user.headers):
        await _subscribers_become(server.bus, user, 1)
    await _subscribers_become(server.bus, user, 0)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # events cross processes over Redis
async def test_a_proposal_made_through_another_server_process_reaches_the_stream(server, settings, backend) -> None:
    http, ctx = server.http, server.data
    user = await new_user(ctx)
    async with served(settings) as other, event_stream(http, headers=user.headers) as stream:
        action_id = await propose(other.http, user)
        assert await stream.next_event() == ("pending_created", {"action_id": action_id, "tool": "send_sms"})
