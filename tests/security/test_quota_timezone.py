"""A time-zone change does not grant a second day's worth of a daily limit.

Limits are counted per local day of the user's zone. Before, each local date had its own count, so a user who
had spent the day's SMS could set a zone where it is already the next day (or still the previous one) and send
the limit again. The count now carries on across a zone change until a day begins, in the zone then in force,
after the counted day ended. Every test runs on both backends, through the REST API (the zone is changed with
PUT /api/me/settings), with the app's clock pinned.

Honolulu (UTC-10) and Kiritimati (UTC+14) show the same time of day on different dates: at 19:00 UTC it is
09:00 on the 24th in one and 09:00 on the 25th in the other, both outside quiet hours.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from action_requests import act, auto_sms_user
from factories import DAYTIME, TestUser

from server.context import AppContext

HONOLULU = "Pacific/Honolulu"
KIRITIMATI = "Pacific/Kiritimati"
LIMIT = 2
ZONE_CHANGES = pytest.mark.parametrize(
    ("first_zone", "second_zone"),
    [(HONOLULU, KIRITIMATI), (KIRITIMATI, HONOLULU)],
    ids=["to_a_zone_already_in_the_next_day", "to_a_zone_still_in_the_previous_day"],
)


async def send_sms(client: httpx.AsyncClient, user: TestUser) -> httpx.Response:
    return await act(client, user, "send_sms", {"message": "Time for your run"})


async def user_who_spent_the_days_sms(client: httpx.AsyncClient, ctx: AppContext, zone: str) -> TestUser:
    user = await auto_sms_user(ctx, timezone=zone, max_sms_per_day=LIMIT)
    for _ in range(LIMIT):
        assert (await send_sms(client, user)).status_code == 200
    return user


async def change_zone(client: httpx.AsyncClient, user: TestUser, zone: str) -> None:
    response = await client.put("/api/me/settings", headers=user.headers, json={"timezone": zone})
    assert response.status_code == 200, response.text


@ZONE_CHANGES
async def test_a_zone_change_the_same_day_is_still_rate_limited(client, ctx, providers, first_zone, second_zone):
    user = await user_who_spent_the_days_sms(client, ctx, first_zone)
    await change_zone(client, user, second_zone)

    response = await send_sms(client, user)

    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]["reason"]) == ("RATE_LIMITED", "daily_limit")
    assert error["details"]["retry_at"] == "2026-11-25T10:00:00+00:00"  # midnight in both zones
    assert len(providers.twilio.messages) == LIMIT


@ZONE_CHANGES
async def test_after_a_zone_change_the_count_starts_again_a_day_later(client, ctx, providers, first_zone, second_zone):
    user = await user_who_spent_the_days_sms(client, ctx, first_zone)
    await change_zone(client, user, second_zone)
    ctx.services.clock = lambda: DAYTIME + timedelta(days=1)

    assert [(await send_sms(client, user)).status_code for _ in range(LIMIT + 1)] == [200] * LIMIT + [429]
    assert len(providers.twilio.messages) == 2 * LIMIT
