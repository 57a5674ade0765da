"""A lost SMS create is never sent twice, and a look-up that fails once does not fail the action.

Twilio takes no idempotency key: before creating again after a 5xx, the channel lists the recipient's newest
messages to see whether the first create went through. That look-up is a safe request, so a 5xx on it is
retried with the same backoff; only a look-up that never answers ends the action (unsent rather than sent
twice). Every test runs on both backends, through the actions API, against FakeTwilioAPI over a real socket.
"""

from __future__ import annotations

from typing import Any

import httpx
from action_requests import act, auto_sms_user
from factories import TestUser, history_rows
from providers import Providers

from server.context import AppContext


async def send_sms(client: httpx.AsyncClient, user: TestUser, message: str) -> httpx.Response:
    return await act(client, user, "send_sms", {"message": message})


def exchanges(providers: Providers) -> list[tuple[str, int]]:
    return [(request.method, request.status) for request in providers.twilio.requests]


async def statuses(ctx: AppContext, user: TestUser) -> list[str]:
    return [row.status for row in await history_rows(ctx, user_id=user.id)]


async def test_a_lookup_that_fails_once_is_retried_and_the_unsent_sms_is_sent_once(client, ctx, providers):
    user = await auto_sms_user(ctx)
    providers.twilio.fail_next(1, 500)  # the create: nothing sent
    providers.twilio.fail_next(1, 503, kind="list")  # the look-up: was it sent?

    response = await send_sms(client, user, "Time for your run")

    assert response.status_code == 200, response.text
    assert exchanges(providers) == [("POST", 500), ("GET", 503), ("GET", 200), ("POST", 201)]
    assert [sms.param("Body") for sms in providers.twilio.messages] == ["Time for your run"]
    assert await statuses(ctx, user) == ["executed"]


async def test_a_sent_sms_whose_answer_was_lost_is_adopted_after_a_failed_lookup(client, ctx, providers):
    user = await auto_sms_user(ctx)
    providers.twilio.lose_next_answers(1, status=502)  # the create sends, its answer is a 502
    providers.twilio.fail_next(1, 500, kind="list")

    response = await send_sms(client, user, "Drink some water")

    assert response.status_code == 200, response.text
    assert exchanges(providers) == [("POST", 502), ("GET", 500), ("GET", 200)]
    assert len(providers.twilio.messages) == 1
    [adopted] = providers.twilio.requests[-1].response["messages"]
    assert response.json()["data"]["message_sid"] == adopted["sid"]
    assert await statuses(ctx, user) == ["executed"]


async def test_a_lookup_that_keeps_failing_fails_the_action_without_sending_again(client, ctx, providers):
    user = await auto_sms_user(ctx)
    providers.twilio.lose_next_answers(1, status=500)
    providers.twilio.fail_next(100, 503, kind="list")

    response = await send_sms(client, user, "Stretch")

    body: dict[str, Any] = response.json()
    assert (response.status_code, body["error"]["code"]) == (503, "SERVICE_UNAVAILABLE"), body
    assert "may have got through, so it was not repeated" in body["error"]["message"]
    assert [method for method, _ in exchanges(providers)] == ["POST"] + ["GET"] * 4  # one look-up, retried
    assert len(providers.twilio.messages) == 1
    assert await statuses(ctx, user) == ["failed"]
