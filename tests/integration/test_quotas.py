"""policy.quotas: daily quotas per local day and per-minute bursts, two-phase, on both stores.

Every behaviour runs against MemoryQuotaStore and RedisQuotaStore (the real Redis at
COACH_TEST_REDIS, default 127.0.0.1:6379, keys under a random prefix that is deleted afterwards).
Without Redis the Redis cases skip, or fail when CI=true.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from services import REDIS_TEST_URL, unavailable

from policy.quotas import (
    DAY_MEMORY,
    MemoryQuotaStore,
    QuotaBackendUnavailable,
    QuotaExceeded,
    QuotaStore,
    RedisQuotaStore,
    Reservation,
    next_local_midnight,
)

TTL = timedelta(minutes=10)
LA = "America/Los_Angeles"
AUCKLAND = "Pacific/Auckland"
PITCAIRN = "Pacific/Pitcairn"  # UTC-8 all year: an hour behind Los Angeles in summer
HONOLULU = "Pacific/Honolulu"  # UTC-10
NOON_LA = datetime(2026, 5, 13, 12, 0, tzinfo=ZoneInfo(LA))

StoreFactory = Callable[[], QuotaStore]


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[redis.asyncio.Redis, str]]:
    client = redis.asyncio.Redis.from_url(REDIS_TEST_URL, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:  # refused, timeout, auth: all mean "not available"
        await client.aclose()
        unavailable("Redis", exc)
    prefix = f"test-quotas-{uuid.uuid4().hex}"
    yield client, prefix
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def new_store(request: pytest.FixtureRequest) -> StoreFactory:
    """Makes stores that share state, as two processes sharing one backend would (memory: one store)."""
    if request.param == "memory":
        store = MemoryQuotaStore(reservation_ttl=TTL)
        return lambda: store
    client, prefix = request.getfixturevalue("redis_prefix")
    return lambda: RedisQuotaStore(client, prefix, reservation_ttl=TTL)


@pytest.fixture
def store(new_store: StoreFactory) -> QuotaStore:
    return new_store()


async def reserve(
    store: QuotaStore,
    now: datetime = NOON_LA,
    *,
    user: str = "u1",
    limit: int = 3,
    zone: str = LA,
    burst_limit: int = 100,
) -> Reservation | QuotaExceeded:
    return await store.reserve(user, "sms", limit, zone, now, burst_limit=burst_limit)


async def granted(store: QuotaStore, now: datetime = NOON_LA, **kwargs: Any) -> Reservation:
    outcome = await reserve(store, now, **kwargs)
    assert isinstance(outcome, Reservation), outcome
    return outcome


async def test_fifty_concurrent_reserves_against_a_limit_of_twenty_grant_exactly_twenty(
    store: QuotaStore,
) -> None:
    outcomes = await asyncio.gather(*(reserve(store, limit=20) for _ in range(50)))
    assert sum(isinstance(outcome, Reservation) for outcome in outcomes) == 20
    assert (await store.usage("u1", "sms", LA, NOON_LA)).pending == 20


async def test_two_stores_on_one_backend_share_the_limit(new_store: StoreFactory) -> None:
    first, second = new_store(), new_store()
    outcomes = await asyncio.gather(*(reserve(s, limit=10) for s in [first, second] * 15))
    assert sum(isinstance(outcome, Reservation) for outcome in outcomes) == 10


async def test_reservations_up_to_the_limit_are_granted_then_refused_until_local_midnight(
    store: QuotaStore,
) -> None:
    for _ in range(3):
        await granted(store)
    refused = await reserve(store)
    assert isinstance(refused, QuotaExceeded)
    assert refused.reason == "daily_limit"
    assert refused.limit == 3
    assert refused.retry_at == datetime(2026, 5, 14, 7, 0, tzinfo=UTC)  # midnight PDT


async def test_release_gives_the_slot_back(store: QuotaStore) -> None:
    reservation = await granted(store, limit=1)
    await store.release(reservation)
    await granted(store, limit=1)


async def test_commit_keeps_the_slot(store: QuotaStore) -> None:
    reservation = await granted(store, limit=1)
    await store.commit(reservation)
    assert isinstance(await reserve(store, NOON_LA + timedelta(hours=1), limit=1), QuotaExceeded)


async def test_release_after_commit_keeps_the_slot(store: QuotaStore) -> None:
    reservation = await granted(store, limit=1)
    await store.commit(reservation)
    await store.release(reservation)
    assert isinstance(await reserve(store, limit=1), QuotaExceeded)


async def test_commit_twice_counts_once(store: QuotaStore) -> None:
    reservation = await granted(store, limit=2)
    await store.commit(reservation)
    await store.commit(reservation)
    assert (await store.usage("u1", "sms", LA, NOON_LA)).committed == 1


async def test_expired_reservation_returns_its_slot(store: QuotaStore) -> None:
    await granted(store, limit=1)
    assert isinstance(await reserve(store, NOON_LA + TTL - timedelta(seconds=1), limit=1), QuotaExceeded)
    await granted(store, NOON_LA + TTL, limit=1)


async def test_reservation_lifetime_is_elapsed_time_across_a_dst_change(store: QuotaStore) -> None:
    # 01:55 PDT on 2026-11-01; ten minutes later the wall clock shows 01:05 PST
    before_change = datetime(2026, 11, 1, 1, 55, tzinfo=ZoneInfo(LA))
    await granted(store, before_change, limit=1)
    await granted(store, before_change.astimezone(UTC) + TTL, limit=1)


async def test_commit_after_expiry_still_counts(store: QuotaStore) -> None:
    reservation = await granted(store, limit=1)
    later = NOON_LA + TTL + timedelta(minutes=5)
    await store.commit(reservation)  # the send took longer than the reservation lived
    assert isinstance(await reserve(store, later, limit=1), QuotaExceeded)


async def test_one_minute_before_and_after_local_midnight_are_different_days(store: QuotaStore) -> None:
    before = datetime(2026, 5, 13, 23, 59, tzinfo=ZoneInfo(LA))
    await store.commit(await granted(store, before, limit=1))
    assert isinstance(await reserve(store, before + timedelta(seconds=30), limit=1), QuotaExceeded)
    await granted(store, before + timedelta(minutes=2), limit=1)


async def test_the_day_is_the_users_local_day(store: QuotaStore) -> None:
    # 11:00 UTC is 04:00 in Los Angeles and 23:00 in Auckland (NZST); 13:00 UTC is 06:00 and 01:00
    first, second = datetime(2026, 5, 13, 11, 0, tzinfo=UTC), datetime(2026, 5, 13, 13, 0, tzinfo=UTC)
    for user, zone in [("la", LA), ("akl", AUCKLAND)]:
        await store.commit(await granted(store, first, user=user, zone=zone, limit=1))
    la_again = await reserve(store, second, user="la", zone=LA, limit=1)
    assert isinstance(la_again, QuotaExceeded)
    assert la_again.retry_at == datetime(2026, 5, 14, 7, 0, tzinfo=UTC)
    await granted(store, second, user="akl", zone=AUCKLAND, limit=1)


async def test_a_commit_from_a_day_that_is_over_does_not_count_in_the_next(store: QuotaStore) -> None:
    before = datetime(2026, 5, 13, 23, 59, tzinfo=ZoneInfo(LA))
    yesterdays = await granted(store, before, limit=1)
    await granted(store, before + timedelta(minutes=2), limit=1)
    await store.commit(yesterdays)  # the send took past midnight
    usage = await store.usage("u1", "sms", LA, before + timedelta(minutes=3))
    assert (usage.committed, usage.pending) == (0, 1)


async def test_a_zone_where_the_day_is_about_to_end_does_not_start_a_new_count(store: QuotaStore) -> None:
    # Midnight in Los Angeles (07:00 UTC) is 23:00 in Pitcairn: that day began while the counted one ran
    await store.commit(await granted(store, NOON_LA, limit=1))
    la_midnight = datetime(2026, 5, 14, 7, 0, tzinfo=UTC)
    refused = await reserve(store, la_midnight, zone=PITCAIRN, limit=1)
    assert isinstance(refused, QuotaExceeded)
    assert refused.retry_at == datetime(2026, 5, 14, 8, 0, tzinfo=UTC)  # midnight in Pitcairn
    await granted(store, refused.retry_at, zone=PITCAIRN, limit=1)


async def test_a_send_counted_under_another_zone_holds_the_count_until_that_zones_midnight(
    store: QuotaStore,
) -> None:
    await store.commit(await granted(store, NOON_LA, limit=2))
    # 08:00 UTC on the 14th is 01:00 in Los Angeles but 22:00 on the 13th in Honolulu: the same count
    honolulu_evening = datetime(2026, 5, 14, 8, 0, tzinfo=UTC)
    await store.commit(await granted(store, honolulu_evening, zone=HONOLULU, limit=2))
    back_in_la = await reserve(store, honolulu_evening + timedelta(minutes=5), zone=LA, limit=2)
    assert isinstance(back_in_la, QuotaExceeded)
    # the count lasts until midnight in Honolulu (10:00 UTC); the first Los Angeles day after it begins on the 15th
    assert back_in_la.retry_at == datetime(2026, 5, 15, 7, 0, tzinfo=UTC)


async def test_users_and_channels_have_separate_quotas(store: QuotaStore) -> None:
    await store.commit(await granted(store, limit=1))
    await granted(store, user="u2", limit=1)
    assert isinstance(await store.reserve("u1", "call", 1, LA, NOON_LA), Reservation)


async def test_burst_limit_refuses_the_sixth_in_a_minute_until_the_first_is_a_minute_old(
    store: QuotaStore,
) -> None:
    for second in range(5):
        await granted(store, NOON_LA + timedelta(seconds=second), limit=100, burst_limit=5)
    refused = await reserve(store, NOON_LA + timedelta(seconds=30), limit=100, burst_limit=5)
    assert isinstance(refused, QuotaExceeded)
    assert refused.reason == "burst_limit"
    assert refused.retry_at == NOON_LA + timedelta(minutes=1)
    await granted(store, refused.retry_at, limit=100, burst_limit=5)


async def test_default_burst_limit_is_five_a_minute(store: QuotaStore) -> None:
    outcomes = [await store.reserve("u1", "email", 100, LA, NOON_LA) for _ in range(6)]
    assert [isinstance(outcome, Reservation) for outcome in outcomes] == [True] * 5 + [False]


async def test_release_gives_the_burst_slot_back(store: QuotaStore) -> None:
    reservation = await granted(store, limit=100, burst_limit=1)
    await store.release(reservation)
    await granted(store, limit=100, burst_limit=1)


async def test_refusal_by_the_burst_limit_takes_no_daily_slot(store: QuotaStore) -> None:
    await granted(store, limit=2, burst_limit=1)
    assert isinstance(await reserve(store, limit=2, burst_limit=1), QuotaExceeded)
    assert (await store.usage("u1", "sms", LA, NOON_LA)).used == 1


async def test_usage_reports_committed_and_live_pending_for_the_local_day(store: QuotaStore) -> None:
    await store.commit(await granted(store))
    await granted(store)
    usage = await store.usage("u1", "sms", LA, NOON_LA)
    assert (usage.local_date.isoformat(), usage.committed, usage.pending) == ("2026-05-13", 1, 1)
    assert (await store.usage("u1", "sms", LA, NOON_LA + TTL)).pending == 0


@pytest.mark.parametrize(("limit", "burst_limit"), [(-1, 5), (5, 0)])
async def test_negative_limits_are_rejected(store: QuotaStore, limit: int, burst_limit: int) -> None:
    with pytest.raises(ValueError):
        await reserve(store, limit=limit, burst_limit=burst_limit)


async def test_unknown_channel_is_rejected(store: QuotaStore) -> None:
    with pytest.raises(ValueError, match="channel"):
        await store.reserve("u1", "fax", 1, LA, NOON_LA)  # type: ignore[arg-type]


async def test_naive_now_is_rejected(store: QuotaStore) -> None:
    with pytest.raises(ValueError, match="aware"):
        await reserve(store, datetime(2026, 5, 13, 12, 0))


async def test_redis_day_keys_expire_a_while_after_the_users_midnight(
    redis_prefix: tuple[redis.asyncio.Redis, str],
) -> None:
    client, prefix = redis_prefix
    store = RedisQuotaStore(client, prefix, reservation_ttl=TTL)
    await granted(store)
    day_keys = [key async for key in client.scan_iter(match=f"{prefix}:quota*")]
    expected = next_local_midnight(LA, NOON_LA.date()) + DAY_MEMORY - NOON_LA
    assert len(day_keys) == 2
    for key in day_keys:
        assert abs(await client.pttl(key) - expected.total_seconds() * 1000) < 5_000


async def test_unreachable_redis_raises_backend_unavailable() -> None:
    # no retries: redis-py's default (3 retries with backoff) takes ~4 s per call to give up
    client = redis.asyncio.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    store = RedisQuotaStore(client, "unreachable")
    try:
        with pytest.raises(QuotaBackendUnavailable):
            await reserve(store)
        reservation = await granted(MemoryQuotaStore())
        with pytest.raises(QuotaBackendUnavailable):
            await store.commit(reservation)
        with pytest.raises(QuotaBackendUnavailable):
            await store.release(reservation)
        with pytest.raises(QuotaBackendUnavailable):
            await store.usage("u1", "sms", LA, NOON_LA)
    finally:
        await client.aclose()


def test_next_local_midnight_is_the_jump_where_dst_skips_midnight() -> None:
    # Santiago, 2026-09-06: clocks go from 23:59:59 -04 straight to 01:00 -03, at 04:00 UTC
    assert next_local_midnight("America/Santiago", date(2026, 9, 5)) == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)


async def test_redis_that_does_not_answer_raises_backend_unavailable_within_the_timeout() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # holds the connection open until the client goes away
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = redis.asyncio.Redis(host="127.0.0.1", port=port)
    store = RedisQuotaStore(client, "silent", timeout=0.2)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(QuotaBackendUnavailable):
            await reserve(store)
        assert asyncio.get_running_loop().time() - started < 2
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
