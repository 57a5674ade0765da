"""The attacker with parallel requests: a pending action runs at most once however many confirmations race
for it (on one server or several), and a daily quota holds exactly under a burst of parallel sends.

Both backends: SQLite with in-process quotas, PostgreSQL with Redis quotas. Several servers share a quota
only through Redis (in-process quotas are per process, as DESIGN.md section 2 says), so that race runs on
PostgreSQL + Redis alone. SMS go through the real twilio SDK to FakeTwilioAPI, where each send is counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack

import httpx
import pytest
from action_requests import act, auto_sms_user, cancel, confirm, error_code, pending_status, propose, statuses
from apps import http_client, running_app
from factories import daytime_clock, history_rows, new_user

from server.config import Settings

DAILY_LIMIT = 20


@pytest.fixture
async def servers(settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Clients of two more servers on the same database (and, on PostgreSQL, the same Redis)."""
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            application = await stack.enter_async_context(running_app(settings))
            daytime_clock(application.state.ctx)
            application.state.ctx.services.burst_per_minute = 100  # these races are about the daily limit
            clients.append(await stack.enter_async_context(http_client(application)))
        yield clients


async def codes(requests: list[Awaitable[httpx.Response]]) -> list[int]:
    """The status codes of `requests` sent all at once."""
    return [response.status_code for response in await asyncio.gather(*requests)]


# --- confirmation is exactly-once -------------------------------------------------------------------


async def test_twenty_parallel_confirms_send_the_sms_once(client, ctx, providers):
    user = await new_user(ctx)
    action_id = await propose(client, user)
    responses = await asyncio.gather(*(confirm(client, user, action_id) for _ in range(20)))
    assert [response.status_code for response in responses].count(200) == 1
    assert {error_code(response) for response in responses if response.status_code != 200} == {"INVALID_ARGUMENT"}
    assert len(providers.twilio.messages) == 1
    assert sorted(await statuses(ctx, action_id)) == ["confirmed", "executed", "proposed"]
    assert await pending_status(ctx, action_id) == "executed"


async def test_parallel_confirms_and_cancels_have_one_winner_and_a_consistent_outcome(client, ctx, providers):
    user = await new_user(ctx)
    action_id = await propose(client, user)
    racing = [confirm(client, user, action_id) if i % 2 else cancel(client, user, action_id) for i in range(20)]
    assert (await codes(racing)).count(200) == 1
    outcome = await pending_status(ctx, action_id)
    assert (outcome, len(providers.twilio.messages)) in {("executed", 1), ("cancelled", 0)}
    recorded = [status for status in await statuses(ctx, action_id) if status in {"confirmed", "cancelled"}]
    assert recorded == (["confirmed"] if outcome == "executed" else ["cancelled"])


async def test_confirms_racing_over_the_rest_api_and_the_confirm_tool_send_once(client, ctx, providers):
    user = await new_user(ctx)
    action_id = await propose(client, user)
    by_tool = [act(client, user, "confirm_pending_action", {"action_id": action_id}) for _ in range(10)]
    by_route = [confirm(client, user, action_id) for _ in range(10)]
    assert (await codes(by_tool + by_route)).count(200) == 1
    assert len(providers.twilio.messages) == 1
    assert (await statuses(ctx, action_id)).count("executed") == 1


async def test_confirms_racing_through_two_servers_send_once(ctx, servers, providers):
    user = await new_user(ctx)
    first, second = servers
    action_id = await propose(first, user)
    assert (await codes([confirm(server, user, action_id) for server in (first, second) * 10])).count(200) == 1
    assert len(providers.twilio.messages) == 1
    assert (await statuses(ctx, action_id)).count("executed") == 1


# --- quotas are exact -------------------------------------------------------------------------------


async def test_fifty_parallel_sends_against_a_daily_limit_execute_exactly_the_limit(client, ctx, providers):
    user = await auto_sms_user(ctx, max_sms_per_day=DAILY_LIMIT)
    ctx.services.burst_per_minute = 100  # the per-minute burst limit has its own test
    responses = await asyncio.gather(*(act(client, user, "send_sms", {"message": f"n{i}"}) for i in range(50)))
    answered = [(response.status_code, error_code(response)) for response in responses]
    assert (answered.count((200, None)), answered.count((429, "RATE_LIMITED"))) == (DAILY_LIMIT, 50 - DAILY_LIMIT)
    assert len(providers.twilio.messages) == DAILY_LIMIT
    rows = await history_rows(ctx, user_id=user.id)
    assert sorted((row.status, row.error_code) for row in rows) == (
        [("denied", "RATE_LIMITED")] * (50 - DAILY_LIMIT) + [("executed", None)] * DAILY_LIMIT
    )
    assert (await ctx.services.quotas.usage(user.id, "sms", "UTC", ctx.services.clock())).used == DAILY_LIMIT


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_parallel_sends_through_two_servers_share_one_daily_limit(ctx, servers, providers):
    user = await auto_sms_user(ctx, max_sms_per_day=DAILY_LIMIT)
    answered = await codes([act(server, user, "send_sms", {"message": "go"}) for server in servers * 25])
    assert (answered.count(200), answered.count(429)) == (DAILY_LIMIT, 50 - DAILY_LIMIT)
    assert len(providers.twilio.messages) == DAILY_LIMIT
